"""Gate, hygiene and audit without the network: a scripted client stands in for Bitrue's answers
that the simulator does not produce (-1025, rate limits)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest

from liquidity_bot.keys.audit import AuditLog
from liquidity_bot.keys.gate import KeyRefused, KeyStale, require_tradeable
from liquidity_bot.keys.home import KeysHome
from liquidity_bot.keys.hygiene import add_key, mark_used, review
from liquidity_bot.keys.policy import DEFAULT_POLICY, Policy
from liquidity_bot.keys.vault import KdfParams, Vault, Verification
from liquidity_bot.keys.verify import probe_key
from liquidity_bot.venues.bitrue import errors as E

FAST = KdfParams(memory_kib=64, iterations=1, lanes=1)
PP = "gate passphrase"
KEY = "A" * 64
SECRET = "CanarySecret" + "q" * 52


class ScriptedClient:
    """Answers like Bitrue for a read+trade key, except where ``overrides`` says otherwise."""

    calls: list[str]

    def __init__(self, overrides: dict, source_address: str | None = None):
        self.overrides = overrides
        self.source = source_address
        self.clock_offset_ms = overrides.get("offset", 3)
        self.calls = []

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        return None

    async def _answer(self, name, default):
        self.calls.append(name)
        key = f"{name}@canary" if self.source else name
        got = self.overrides.get(key, default)
        if isinstance(got, BaseException):
            raise got
        return got

    async def sync_clock(self):
        return await self._answer("sync_clock", 3)

    async def account(self):
        if self.source:
            return await self._answer("account", E.IpNotAllowed("ip", code=-1022, http_status=401))
        return await self._answer("account", SimpleNamespace(balances=[]))

    async def exchange_info(self):
        return await self._answer(
            "exchange_info",
            SimpleNamespace(symbols=[SimpleNamespace(symbol="XRPUSDT", status="TRADING")]),
        )

    async def cancel_order(self, symbol, *, client_order_id=None, order_id=None):
        assert order_id is None and client_order_id.startswith("lbprobe")
        return await self._answer(
            "cancel_order", E.OrderNotFound("nf", code=-2013, http_status=200)
        )

    async def withdraw_history(self, coin=None):
        return await self._answer(
            "withdraw_history", E.PermissionDenied("np", code=966001, http_status=401)
        )

    async def futures_account(self):
        return await self._answer(
            "futures_account", E.PermissionDenied("np", code=-2015, http_status=401)
        )


def factory(overrides: dict, log: list | None = None):
    def make(urls, api_key, secret, **kw):
        c = ScriptedClient(overrides, kw.get("source_address"))
        if log is not None:
            log.append(c)
        return c

    return make


async def _probe(overrides: dict, policy: Policy = DEFAULT_POLICY, log: list | None = None):
    return await probe_key(
        label="L",
        exchange="bitrue",
        api_key=KEY,
        secret=SECRET,
        urls=None,
        policy=policy,
        canary_source="127.0.0.2",
        client_factory=factory(overrides, log),
    )


async def test_scripted_default_passes() -> None:
    assert (await _probe({})).verdict == "pass"


async def test_futures_not_activated_is_unknown_and_can_be_accepted() -> None:
    ov = {"futures_account": E.PermissionDenied("x", code=-1025, http_status=401)}
    r = await _probe(ov)
    assert r.verdict == "unknown" and r.check("futures_disabled").status == "unknown"
    assert "accept_unknown" in r.check("futures_disabled").detail


async def test_rate_limit_halts_remaining_probes() -> None:
    log: list = []
    ov = {"cancel_order": E.RateLimited("429", policy="ORDERS", http_status=429)}
    r = await _probe(ov, log=log)
    assert r.verdict == "unknown"
    assert (
        r.check("can_trade").status == "unknown" and "rate-limited" in r.check("can_trade").detail
    )
    assert r.check("withdraw_disabled").status == "unknown"
    main = log[0]
    assert "withdraw_history" not in main.calls and "futures_account" not in main.calls
    assert len(log) == 1  # no canary request either


async def test_unexpected_successful_cancel_is_not_a_pass() -> None:
    r = await _probe({"cancel_order": SimpleNamespace(status="CANCELED")})
    assert r.check("can_trade").status == "unknown"


async def test_canary_answer_not_ip_refusal_is_unknown() -> None:
    r = await _probe({"account@canary": E.ExchangeUnavailable("no route")})
    assert r.check("ip_restricted").status == "unknown"
    assert "127.0.0.2" in r.check("ip_restricted").detail


async def test_canary_cannot_be_a_trusted_ip() -> None:
    with pytest.raises(ValueError, match="NOT on the allow list"):
        await _probe({}, policy=Policy(trusted_egress_ips=("127.0.0.2",)))


def _home(tmp_path: Path) -> KeysHome:
    home = KeysHome(tmp_path)
    add_key(
        home, passphrase=PP, exchange="bitrue", label="LB", api_key=KEY, secret=SECRET, kdf=FAST
    )
    return home


async def test_gate_reverifies_and_refuses_fail(tmp_path: Path) -> None:
    home = _home(tmp_path)
    bad = factory({"withdraw_history": []})  # withdraw history readable -> may withdraw
    with pytest.raises(KeyRefused, match="withdraw_disabled failed") as info:
        await require_tradeable(
            "LB", home=home, passphrase=PP, canary_source="127.0.0.2", client_factory=bad
        )
    assert info.value.report is not None and info.value.report.verdict == "fail"
    vk = await require_tradeable(
        "LB", home=home, passphrase=PP, canary_source="127.0.0.2", client_factory=factory({})
    )
    assert vk.report.verdict == "pass"


async def test_gate_without_reverify_tells_stale(tmp_path: Path) -> None:
    home = _home(tmp_path)
    with pytest.raises(KeyStale, match="never verified"):
        await require_tradeable("LB", home=home, passphrase=PP, reverify=False)
    vk = await require_tradeable(
        "LB", home=home, passphrase=PP, canary_source="127.0.0.2", client_factory=factory({})
    )
    later = datetime.now(UTC) + timedelta(hours=25)
    assert vk.is_stale(later) and not vk.is_stale()
    again = await require_tradeable("LB", home=home, passphrase=PP, reverify=False)
    assert again.report.verdict == "pass"
    with pytest.raises(KeyStale, match="25.0 h old"):
        await require_tradeable("LB", home=home, passphrase=PP, reverify=False, now=later)
    # a recorded failure is refused too
    v = Vault.open(home.vault)
    rec = v.find_active("LB")
    v.update(
        rec.id,
        last_verification=Verification(
            checked_at=datetime.now(UTC).isoformat(),
            verdict="fail",
            checks=({"name": "can_trade", "status": "fail", "detail": "x"},),
        ),
    )
    v.save()
    with pytest.raises(KeyRefused, match="can_trade failed"):
        await require_tradeable("LB", home=home, passphrase=PP, reverify=False)
    text = home.audit.read_text()
    assert SECRET not in text and KEY not in text


def test_mark_used_and_unused_review(tmp_path: Path) -> None:
    home = _home(tmp_path)
    now = datetime.now(UTC)
    v = Vault.open(home.vault)
    assert "unused" in {f.kind for f in review(v, DEFAULT_POLICY, now + timedelta(days=31))}
    mark_used(home, "LB")
    v = Vault.open(home.vault)
    assert v.find_active("LB").last_used_at is not None
    assert "unused" not in {f.kind for f in review(v, DEFAULT_POLICY, now + timedelta(days=29))}
    assert [e["event"] for e in AuditLog(home.audit).entries()] == ["added", "used"]


def test_audit_refuses_secret_fields(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    for field in ("secret", "signature", "listen_key", "passphrase"):
        with pytest.raises(ValueError):
            log.append("used", **{field: "x"})
    with pytest.raises(ValueError):
        log.append("withdrawn")
    log.append("used", label="L")
    assert (tmp_path / "audit.jsonl").stat().st_mode & 0o777 == 0o600


# ------------------------------------------------------------------ running re-verification


async def test_watch_reverifies_only_when_stale_or_rotated(tmp_path: Path) -> None:
    from liquidity_bot.keys.gate import KeyWatch, rotate_key

    home = _home(tmp_path)
    answers: dict = {}
    made: list = []
    watch = await KeyWatch.start(
        "LB",
        home=home,
        passphrase=PP,
        canary_source="127.0.0.2",
        client_factory=factory(answers, made),
    )
    probes_at_start = len(made)
    assert probes_at_start == 2  # main client + canary
    fresh = await watch.refresh()
    assert not fresh.reverified and not fresh.switched and len(made) == probes_at_start
    # 25 h later the verification is stale (policy default 24 h): probed again, same key
    later = datetime.now(UTC) + timedelta(hours=25)
    stale = await watch.refresh(now=later)
    assert stale.reverified and not stale.switched and len(made) == 2 * probes_at_start
    assert stale.key.record_id == fresh.key.record_id
    # a day after the start the watch records that the key is in use (for `keys review`)
    assert Vault.open(home.vault).find_active("LB").last_used_at is not None
    # `keys rotate` in another process: the next refresh switches to the new key
    new_key, new_secret = "B" * 64, "NewCanary" + "w" * 55
    result = await rotate_key(
        home,
        passphrase=PP,
        label="LB",
        new_api_key=new_key,
        new_secret=new_secret,
        policy=DEFAULT_POLICY,
        urls=None,
        canary_source="127.0.0.2",
        client_factory=factory({}),
        kdf=FAST,
    )
    assert result.switched
    rotated = await watch.refresh()
    assert rotated.switched and rotated.reverified
    assert rotated.key.api_key == new_key and rotated.key.secret.reveal() == new_secret
    assert watch.current is rotated.key
    assert Vault.open(home.vault).find_active("LB").last_used_at is not None  # the new key
    assert not (await watch.refresh()).reverified
    # the key loses a permission on the exchange: the next (forced or stale) refresh refuses it
    answers["withdraw_history"] = []
    with pytest.raises(KeyRefused, match="withdraw_disabled failed"):
        await watch.refresh(force=True)
    gates = [e for e in AuditLog(home.audit).entries() if e["event"] == "gate"]
    assert [g["outcome"] for g in gates] == ["accepted"] * 3 + ["refused"]
    text = home.audit.read_text()
    for s in (SECRET, new_secret, KEY, new_key):
        assert s not in text


async def test_watch_accepts_unknown_only_by_policy_and_refuses_removed_key(tmp_path: Path) -> None:
    from liquidity_bot.keys.gate import KeyWatch
    from liquidity_bot.keys.hygiene import remove_key

    home = _home(tmp_path)
    not_activated = {"futures_account": E.PermissionDenied("x", code=-1025, http_status=401)}
    with pytest.raises(KeyRefused, match="futures_disabled is unknown"):
        await KeyWatch.start(
            "LB",
            home=home,
            passphrase=PP,
            canary_source="127.0.0.2",
            client_factory=factory(not_activated),
        )
    lenient = Policy(accept_unknown=("futures_disabled",))
    watch = await KeyWatch.start(
        "LB",
        home=home,
        passphrase=PP,
        policy=lenient,
        canary_source="127.0.0.2",
        client_factory=factory(not_activated),
    )
    assert watch.current.accepted_unknown == ("futures_disabled",)
    gates = [e for e in AuditLog(home.audit).entries() if e["event"] == "gate"]
    assert gates[-1]["outcome"] == "accepted" and gates[-1]["accepted_unknown"] == [
        "futures_disabled"
    ]
    remove_key(home, "LB")
    with pytest.raises(KeyRefused, match="removed from the vault"):
        await watch.refresh()
    assert [e["event"] for e in AuditLog(home.audit).entries()][-1] == "gate"


def test_audit_mirror_copies_entries_and_never_breaks_the_file(tmp_path: Path) -> None:
    from liquidity_bot.keys.audit import store_mirror
    from liquidity_bot.logs import register_secret
    from liquidity_bot.store import Store

    store = Store(f"sqlite:///{tmp_path / 'bot.db'}")
    store.create_schema()
    home = KeysHome(tmp_path / "home", audit_mirror=store_mirror(store))
    add_key(
        home, passphrase=PP, exchange="bitrue", label="LB", api_key=KEY, secret=SECRET, kdf=FAST
    )
    mark_used(home, "LB")
    rows = store.audit_events("keys")
    assert [(r.action, r.actor) for r in rows] == [("added", "LB"), ("used", "LB")]
    assert rows[0].detail is not None and rows[0].detail["api_key_hint"] == "AAAA…AAAA"
    # a registered secret that reaches an audit field anyway is masked in file and database
    register_secret("LeakedValue" + "z" * 20)
    home.audit_log().append("used", label="LB", note="oops LeakedValue" + "z" * 20)
    assert "LeakedValue" not in home.audit.read_text()
    assert "LeakedValue" not in store.export_json("audit")

    def broken(entry: dict) -> None:
        raise RuntimeError("database is down")

    AuditLog(home.audit, mirror=broken).append("used", label="LB")
    assert [e["event"] for e in AuditLog(home.audit).entries()][-1] == "used"
    store.close()


async def test_canary_inside_a_trusted_network_or_not_an_address_is_refused() -> None:
    with pytest.raises(ValueError, match="inside the trusted egress IPs"):
        await _probe({}, policy=Policy(trusted_egress_ips=("127.0.0.0/30",)))
    with pytest.raises(ValueError, match="not an IP address"):
        await probe_key(
            label="L",
            exchange="bitrue",
            api_key=KEY,
            secret=SECRET,
            urls=None,
            policy=DEFAULT_POLICY,
            canary_source="localhost",
            client_factory=factory({}),
        )
    assert (await _probe({}, policy=Policy(trusted_egress_ips=("127.0.0.1/32",)))).verdict == "pass"


def test_review_names_an_interrupted_rotation(tmp_path: Path) -> None:
    home = _home(tmp_path)
    add_key(
        home,
        passphrase=PP,
        exchange="bitrue",
        label="LB",
        api_key="C" * 64,
        secret="Candidate" + "c" * 55,
        kdf=FAST,
        status="candidate",
    )
    findings = review(Vault.open(home.vault), DEFAULT_POLICY)
    unfinished = [f for f in findings if f.kind == "unfinished_rotation"]
    assert len(unfinished) == 1 and "keys remove 'LB' --id" in unfinished[0].action
    assert Vault.open(home.vault).find_active("LB").api_key == KEY  # still the old key


# ------------------------------------------------------------------ the gate judges the policy


def _report(checks: list[tuple[str, str]], *, checked_at: datetime | None = None):
    from liquidity_bot.keys.verify import Check, VerificationReport

    return VerificationReport(
        label="LB",
        exchange="bitrue",
        verdict="pass",
        checked_at=(checked_at or datetime.now(UTC)).isoformat(timespec="seconds"),
        checks=tuple(Check(n, s, "d") for n, s in checks),
    )


def test_judge_refuses_an_empty_or_incomplete_list_of_checks() -> None:
    from liquidity_bot.keys.gate import judge

    empty = judge(_report([]), DEFAULT_POLICY)
    assert not empty.allowed
    assert any("ip_restricted" in r and "not checked" in r for r in empty.reasons)
    all_pass = [(n, "pass") for n in DEFAULT_POLICY.demanded_checks()]
    assert judge(_report(all_pass), DEFAULT_POLICY).allowed
    without_ip = [c for c in all_pass if c[0] != "ip_restricted"]
    verdict = judge(_report(without_ip), DEFAULT_POLICY)
    assert not verdict.allowed and verdict.reasons == (
        "ip_restricted was not checked (the policy demands it)",
    )
    # a status that is not one of pass/fail/unknown is not a pass either
    odd = [(n, "PASS" if n == "can_trade" else "pass") for n in DEFAULT_POLICY.demanded_checks()]
    assert not judge(_report(odd), DEFAULT_POLICY).allowed


def test_judge_refuses_a_future_dated_or_stale_verification() -> None:
    from liquidity_bot.keys.gate import judge

    all_pass = [(n, "pass") for n in DEFAULT_POLICY.demanded_checks()]
    future = judge(_report(all_pass, checked_at=datetime.now(UTC) + timedelta(days=30)),
                   DEFAULT_POLICY)
    assert not future.allowed and "in the future" in future.reasons[0]
    stale = judge(_report(all_pass, checked_at=datetime.now(UTC) - timedelta(hours=25)),
                  DEFAULT_POLICY)
    assert not stale.allowed and "old" in stale.reasons[0]


def _tamper(home: KeysHome, **verification) -> None:
    v = Vault.open(home.vault)
    rec = v.find_active("LB")
    v.update(rec.id, last_verification=Verification(**verification))
    v.save()


async def test_no_reverify_refuses_a_pass_with_no_checks(tmp_path: Path) -> None:
    home = _home(tmp_path)
    _tamper(home, checked_at=datetime.now(UTC).isoformat(), verdict="pass", checks=())
    with pytest.raises(KeyRefused, match="not checked"):
        await require_tradeable("LB", home=home, passphrase=PP, reverify=False)
    gates = [e for e in AuditLog(home.audit).entries() if e["event"] == "gate"]
    assert gates[-1]["outcome"] == "refused"


async def test_no_reverify_refuses_a_future_checked_at(tmp_path: Path) -> None:
    home = _home(tmp_path)
    await require_tradeable(
        "LB", home=home, passphrase=PP, canary_source="127.0.0.2", client_factory=factory({})
    )
    rec = Vault.open(home.vault).find_active("LB")
    assert rec.last_verification is not None
    future = (datetime.now(UTC) + timedelta(days=365)).isoformat(timespec="seconds")
    _tamper(home, checked_at=future, verdict="pass", checks=rec.last_verification.checks,
            policy=rec.last_verification.policy)
    with pytest.raises(KeyStale, match="in the future"):
        await require_tradeable("LB", home=home, passphrase=PP, reverify=False)


async def test_no_reverify_refuses_a_verification_under_a_laxer_policy(tmp_path: Path) -> None:
    """Verified under a lax policy.toml that was then deleted: the default policy demands more."""
    home = _home(tmp_path)
    lax = Policy(forbidden_permissions=(), require_ip_restriction=False, max_clock_skew_ms=60_000)
    # a key that may withdraw and trade futures, not IP-restricted, clock 30 s off
    loose = factory({"withdraw_history": [], "futures_account": SimpleNamespace(),
                     "account@canary": SimpleNamespace(balances=[]), "offset": 30_000})
    vk = await require_tradeable("LB", home=home, passphrase=PP, policy=lax,
                                 canary_source="127.0.0.2", client_factory=loose)
    assert vk.report.verdict == "pass"
    with pytest.raises(KeyRefused):
        await require_tradeable("LB", home=home, passphrase=PP, reverify=False)
    # only the skew limit was laxer: every check is there, but the pass does not cover 1000 ms
    skewed = factory({"offset": 30_000})
    await require_tradeable("LB", home=home, passphrase=PP, canary_source="127.0.0.2",
                            policy=Policy(max_clock_skew_ms=60_000), client_factory=skewed)
    with pytest.raises(KeyStale, match="different policy"):
        await require_tradeable("LB", home=home, passphrase=PP, reverify=False)
    # a verification under a stricter policy covers the default one
    await require_tradeable("LB", home=home, passphrase=PP, canary_source="127.0.0.2",
                            policy=Policy(max_clock_skew_ms=500), client_factory=factory({}))
    ok = await require_tradeable("LB", home=home, passphrase=PP, reverify=False)
    assert ok.report.verdict == "pass"


def test_a_verified_key_dated_in_the_future_is_stale() -> None:
    from liquidity_bot.keys.gate import Secret, VerifiedKey

    vk = VerifiedKey(
        record_id="r", label="LB", exchange="bitrue", api_key=KEY, secret=Secret(SECRET),
        report=_report([], checked_at=datetime.now(UTC) + timedelta(days=1)),
        accepted_unknown=(), max_age=timedelta(hours=24),
    )
    assert vk.is_stale()


# ------------------------------------------------------------------ a key that cannot be checked


async def test_watch_refuses_a_key_it_cannot_recheck_after_the_grace(tmp_path: Path) -> None:
    """A deleted vault (or a wrong passphrase) is retried for the grace, then refused."""
    from liquidity_bot.keys.gate import KeyUnverifiable, KeyWatch
    from liquidity_bot.keys.vault import VaultNotFound, WrongPassphrase

    home = _home(tmp_path)
    watch = await KeyWatch.start("LB", home=home, passphrase=PP, canary_source="127.0.0.2",
                                 client_factory=factory({}), unverifiable_grace_s=60)
    saved = home.vault.read_bytes()
    home.vault.unlink()
    t0 = datetime.now(UTC)
    with pytest.raises(VaultNotFound):
        await watch.refresh(now=t0)
    with pytest.raises(VaultNotFound):
        await watch.refresh(now=t0 + timedelta(seconds=59))
    with pytest.raises(KeyUnverifiable, match="could not be re-checked for 61 s"):
        await watch.refresh(now=t0 + timedelta(seconds=61))
    # a success in between starts the count anew
    home.vault.write_bytes(saved)
    home.vault.chmod(0o600)
    assert not (await watch.refresh(now=t0 + timedelta(seconds=62))).reverified
    assert watch.failing_since is None
    # the passphrase no longer opens the vault (changed under the running bot)
    wrong = KeyWatch(watch.current, home=home, passphrase="not the passphrase", policy=None,
                     canary_source="127.0.0.2", client_factory=factory({}),
                     unverifiable_grace_s=60)
    with pytest.raises(WrongPassphrase):
        await wrong.refresh(now=t0, force=True)
    with pytest.raises(KeyUnverifiable, match="WrongPassphrase"):
        await wrong.refresh(now=t0 + timedelta(seconds=120), force=True)
    gates = [e for e in AuditLog(home.audit).entries() if e["event"] == "gate"]
    assert gates[-1]["outcome"] == "refused" and "re-checked" in gates[-1]["reason"]


async def test_a_rotation_whose_verification_breaks_leaves_no_candidate(tmp_path: Path) -> None:
    from liquidity_bot.keys.gate import rotate_key

    home = _home(tmp_path)

    def unreachable(*_a, **_kw):
        raise RuntimeError("cannot build a client")

    with pytest.raises(RuntimeError):
        await rotate_key(home, passphrase=PP, label="LB", new_api_key="B" * 64,
                         new_secret="NewCanary" + "w" * 55, policy=DEFAULT_POLICY, urls=None,
                         canary_source="127.0.0.2", client_factory=unreachable, kdf=FAST)
    with pytest.raises(ValueError, match="not an IP address"):
        await rotate_key(home, passphrase=PP, label="LB", new_api_key="B" * 64,
                         new_secret="NewCanary" + "w" * 55, policy=DEFAULT_POLICY, urls=None,
                         canary_source="nowhere", client_factory=factory({}), kdf=FAST)
    assert [r.api_key for r in Vault.open(home.vault).records()] == [KEY]
