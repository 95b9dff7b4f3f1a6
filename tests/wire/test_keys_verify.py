"""Key verification against simulator keys over loopback: one test per kind of key.

The canary source 127.0.0.2 is a loopback address of this machine that is not on the keys'
allow list (127.0.0.1), so a request from it proves whether the key is IP-restricted.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import aiohttp
import pytest
from typer.testing import CliRunner

from bitrue_sim.server.runner import SimServer
from liquidity_bot.cli import app as root_app
from liquidity_bot.keys.audit import AuditLog
from liquidity_bot.keys.gate import KeyRefused, require_tradeable
from liquidity_bot.keys.home import KeysHome
from liquidity_bot.keys.hygiene import add_key, mark_used
from liquidity_bot.keys.policy import DEFAULT_POLICY, Policy
from liquidity_bot.keys.vault import KdfParams, Vault
from liquidity_bot.keys.verify import probe_key
from liquidity_bot.venues.bitrue.urls import BitrueUrls

CANARY = "127.0.0.2"
FAST = KdfParams(memory_kib=64, iterations=1, lanes=1)
PASSPHRASE = "wire test passphrase"


async def _admin(sim: SimServer, method: str, path: str, body: object | None = None) -> None:
    headers = {"X-Sim-Admin": sim.admin_token or ""}
    async with aiohttp.ClientSession() as s:
        async with s.request(method, sim.base_url + path, json=body, headers=headers) as r:
            assert r.status == 200, await r.text()


async def _probe(sim, api_key, secret, *, canary=CANARY, policy: Policy = DEFAULT_POLICY):
    report = await probe_key(
        label="Liquidity Bot",
        exchange="bitrue",
        api_key=api_key,
        secret=secret,
        urls=BitrueUrls.single(sim.base_url),
        policy=policy,
        canary_source=canary,
    )
    statuses = {c.name: c.status for c in report.checks}
    text = json.dumps(report.to_json())
    assert secret not in text
    return report, statuses


async def _admin_json(sim: SimServer, path: str) -> dict:
    headers = {"X-Sim-Admin": sim.admin_token or ""}
    async with aiohttp.ClientSession() as s:
        async with s.get(sim.base_url + path, headers=headers) as r:
            assert r.status == 200, await r.text()
            return await r.json()


async def test_read_trade_allowlisted_key_passes(sim, make_key) -> None:
    acct, key, secret = await make_key(
        sim, permissions=("read", "trade"), ip_allowlist=("127.0.0.1",)
    )
    balances = await _admin_json(sim, f"/sim/admin/balances?account_id={acct}")
    report, st = await _probe(sim, key, secret)
    # no side effects: nothing was placed, filled, withdrawn or moved
    ledger = await _admin_json(sim, f"/sim/admin/ledger?account_id={acct}")
    assert ledger["orders"] == [] and ledger["fills"] == []
    assert await _admin_json(sim, f"/sim/admin/balances?account_id={acct}") == balances
    # well within the rate limits: no 429/418, a handful of weight out of 1200 per minute
    assert sim.rate_limiter.counters == {"429": 0, "418": 0, "bans": 0}
    used = sim.rate_limiter.used("general", "127.0.0.1") + sim.rate_limiter.used("general", CANARY)
    assert 0 < used <= 40, used
    assert report.verdict == "pass", report.to_json()
    assert set(st.values()) == {"pass"}
    assert [c.name for c in report.checks] == [
        "authenticates",
        "can_read",
        "can_trade",
        "withdraw_disabled",
        "futures_disabled",
        "ip_restricted",
        "clock_skew",
    ]


async def test_withdraw_permission_fails(sim, make_key) -> None:
    _, key, secret = await make_key(sim, permissions=("read", "trade", "withdraw"))
    report, st = await _probe(sim, key, secret)
    assert report.verdict == "fail"
    assert st["withdraw_disabled"] == "fail"
    assert "Withdrawal" in report.check("withdraw_disabled").detail
    assert st["can_read"] == st["can_trade"] == st["ip_restricted"] == "pass"


async def test_futures_permission_fails(sim, make_key) -> None:
    _, key, secret = await make_key(sim, permissions=("read", "trade", "futures"))
    report, st = await _probe(sim, key, secret)
    assert report.verdict == "fail"
    assert st["futures_disabled"] == "fail"
    assert "Futures" in report.check("futures_disabled").detail
    assert st["withdraw_disabled"] == "pass"


async def test_read_only_key_fails_trade(sim, make_key) -> None:
    _, key, secret = await make_key(sim, permissions=("read",))
    report, st = await _probe(sim, key, secret)
    assert report.verdict == "fail"
    assert st["can_trade"] == "fail" and st["can_read"] == "pass"
    assert "tick 'Trade'" in report.check("can_trade").detail


async def test_trade_without_read_fails_read(sim, make_key) -> None:
    _, key, secret = await make_key(sim, permissions=("trade",))
    report, st = await _probe(sim, key, secret)
    assert report.verdict == "fail"
    assert st["authenticates"] == "pass"
    assert st["can_read"] == "fail" and st["can_trade"] == "pass"
    assert "tick 'Read'" in report.check("can_read").detail


async def test_unrestricted_key_fails_with_canary(sim, make_key) -> None:
    _, key, secret = await make_key(sim, permissions=("read", "trade"), ip_allowlist=())
    report, st = await _probe(sim, key, secret)
    assert report.verdict == "fail"
    assert st["ip_restricted"] == "fail"
    assert CANARY in report.check("ip_restricted").detail
    assert "trusted IPs" in report.check("ip_restricted").detail


async def test_without_canary_ip_restriction_is_unknown(sim, make_key) -> None:
    _, key, secret = await make_key(sim, permissions=("read", "trade"))
    report, st = await _probe(sim, key, secret, canary=None)
    assert report.verdict == "unknown"
    assert (
        st["ip_restricted"] == "unknown"
        and "--canary-source" in report.check("ip_restricted").detail
    )
    assert [s for n, s in st.items() if n != "ip_restricted"] == ["pass"] * 6


async def test_allowlist_excluding_us_fails_with_ip_message(sim, make_key) -> None:
    _, key, secret = await make_key(sim, permissions=("read", "trade"), ip_allowlist=("10.9.8.7",))
    report, st = await _probe(sim, key, secret)
    assert report.verdict == "fail"
    assert st["can_read"] == "fail"
    detail = report.check("can_read").detail
    assert "allow list" in detail and "this machine" in detail
    # refused for the address before the signature could be judged (Bitrue's order is unknown)
    assert st["authenticates"] == "unknown"
    assert st["ip_restricted"] == "pass"
    assert "pass" not in (st["can_trade"], st["withdraw_disabled"], st["futures_disabled"])


@pytest.mark.parametrize("how", ["disable", "delete"])
async def test_disabled_or_deleted_key_fails_authentication(sim, make_key, how) -> None:
    _, key, secret = await make_key(sim, permissions=("read", "trade"))
    if how == "disable":
        await _admin(sim, "POST", f"/sim/admin/keys/{key}/disable")
    else:
        await _admin(sim, "DELETE", f"/sim/admin/keys/{key}")
    report, st = await _probe(sim, key, secret)
    assert report.verdict == "fail"
    assert st["authenticates"] == "fail"
    assert "disabled or deleted" in report.check("authenticates").detail
    assert all(
        st[n] == "unknown"
        for n in ("can_read", "can_trade", "withdraw_disabled", "futures_disabled")
    )


async def test_wrong_secret_fails_authentication(sim, make_key) -> None:
    _, key, secret = await make_key(sim, permissions=("read", "trade"))
    wrong = secret[:-4] + ("AAAA" if secret[-4:] != "AAAA" else "BBBB")
    report, st = await _probe(sim, key, wrong)
    assert report.verdict == "fail"
    assert st["authenticates"] == "fail"
    assert wrong not in json.dumps(report.to_json())


async def test_skewed_clock_fails(sim, make_key) -> None:
    """The exchange's clock runs 5 s ahead of ours: clock_skew fails, the rest still passes
    (the client measures the offset first, so the probes are signed with corrected time)."""
    _, key, secret = await make_key(sim, permissions=("read", "trade"))
    await _admin(sim, "POST", "/sim/admin/faults", {"clock_skew": {"skew_ms": 5000}})
    report, st = await _probe(sim, key, secret)
    assert report.verdict == "fail"
    assert st["clock_skew"] == "fail"
    assert "NTP" in report.check("clock_skew").detail
    assert [s for n, s in st.items() if n != "clock_skew"] == ["pass"] * 6


async def test_gate_refuses_fail_and_unknown_accepts_policy_unknown(
    sim, make_key, tmp_path
) -> None:
    home = KeysHome(tmp_path)
    _, key, secret = await make_key(sim, permissions=("read", "trade"))
    add_key(
        home,
        passphrase=PASSPHRASE,
        exchange="bitrue",
        label="LB",
        api_key=key,
        secret=secret,
        kdf=FAST,
    )
    urls = BitrueUrls.single(sim.base_url)
    # no canary -> ip_restricted unknown -> refused by the default policy
    with pytest.raises(KeyRefused, match="ip_restricted is unknown"):
        await require_tradeable("LB", home=home, passphrase=PASSPHRASE, urls=urls)
    # the same unknown accepted by the policy -> tradeable, and the acceptance is audited
    lenient = Policy(accept_unknown=("ip_restricted",))
    vk = await require_tradeable("LB", home=home, passphrase=PASSPHRASE, urls=urls, policy=lenient)
    assert vk.accepted_unknown == ("ip_restricted",)
    assert vk.secret.reveal() == secret and secret not in repr(vk)
    assert not vk.is_stale()
    gates = [e for e in AuditLog(home.audit).entries() if e["event"] == "gate"]
    assert [g["outcome"] for g in gates] == ["refused", "accepted"]
    assert gates[-1]["accepted_unknown"] == ["ip_restricted"]
    # with a canary it passes outright
    vk = await require_tradeable(
        "LB", home=home, passphrase=PASSPHRASE, urls=urls, canary_source=CANARY
    )
    assert vk.report.verdict == "pass" and vk.accepted_unknown == ()
    # recorded in the vault's metadata
    rec = Vault.open(home.vault).find_active("LB")
    assert rec.last_verification is not None and rec.last_verification.verdict == "pass"
    mark_used(home, "LB")
    # a key that fails is refused even when a lenient policy accepts unknowns
    await _admin(sim, "POST", f"/sim/admin/keys/{key}/disable")
    with pytest.raises(KeyRefused, match="authenticates failed"):
        await require_tradeable("LB", home=home, passphrase=PASSPHRASE, urls=urls, policy=lenient)
    audit_text = home.audit.read_text()
    assert secret not in audit_text
    events = [e["event"] for e in AuditLog(home.audit).entries()]
    assert events.count("verified") == 4 and "used" in events and "added" in events


def _cli(home: Path, args: list[str], stdin: str | None = None):
    env = {"LIQUIDITY_BOT_PASSPHRASE": PASSPHRASE}
    # DEBUG logging on: whatever the connector logs is part of the output checked for secrets
    argv = ["--home", str(home), "--log-level", "DEBUG", "keys", *args]
    return CliRunner().invoke(root_app, argv, input=stdin, env=env)


async def test_cli_add_verify_json_and_secret_never_leaks(sim, make_key, tmp_path, caplog) -> None:
    """End to end through the CLI; the canary secret appears nowhere but sealed in the vault."""
    import logging

    caplog.set_level(logging.DEBUG)
    _, key, secret = await make_key(sim, permissions=("read", "trade"))
    home = tmp_path / "home"
    base = ["--base-url", sim.base_url]
    # CliRunner runs the command synchronously; the command runs its own event loop, so call it
    # from a worker thread to keep this test's loop (which serves the simulator) running.
    import asyncio

    res = await asyncio.to_thread(
        _cli,
        home,
        ["add", "--label", "LB", "--api-key", key, *base, "--canary-source", CANARY, "--json"],
        secret + "\n",
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout[res.stdout.index("{") :])
    assert out["verdict"] == "pass" and out["label"] == "LB"
    res2 = await asyncio.to_thread(_cli, home, ["verify", "LB", *base, "--json"])
    assert res2.exit_code == 2, res2.output  # no canary: unknown
    j = json.loads(res2.stdout)
    assert j["verdict"] == "unknown" and set(j) == {
        "label",
        "exchange",
        "verdict",
        "checked_at",
        "checks",
    }
    res3 = await asyncio.to_thread(_cli, home, ["verify", "LB", *base, "--canary-source", CANARY])
    assert res3.exit_code == 0 and "verdict" in res3.output
    res4 = await asyncio.to_thread(_cli, home, ["list", "--json"])
    assert json.loads(res4.stdout)[0]["last_verdict"] == "pass"
    await _admin(sim, "POST", f"/sim/admin/keys/{key}/disable")
    res5 = await asyncio.to_thread(_cli, home, ["verify", "LB", *base, "--canary-source", CANARY])
    assert res5.exit_code == 1
    for r in (res, res2, res3, res4, res5):
        assert secret not in r.output and secret not in (r.stderr or "")
    assert "clock synced" in caplog.text  # the connector's log records were captured...
    assert secret not in caplog.text  # ...and none carries the secret
    for path in home.rglob("*"):
        if path.is_file() and path.name != "vault.json":
            assert secret.encode() not in path.read_bytes(), path
    assert secret.encode() not in (home / "vault.json").read_bytes()  # sealed, not in clear
    assert os.stat(home / "vault.json").st_mode & 0o077 == 0


async def test_rotate_switches_only_to_a_passing_key(sim, make_key, tmp_path) -> None:
    import asyncio

    home = tmp_path / "home"
    acct, old_key, old_secret = await make_key(sim, permissions=("read", "trade"))
    base = ["--base-url", sim.base_url, "--canary-source", CANARY]
    res = await asyncio.to_thread(
        _cli,
        home,
        ["add", "--label", "LB", "--api-key", old_key, "--market", "XRPUSDT", *base],
        old_secret + "\n",
    )
    assert res.exit_code == 0, res.output
    # a replacement that may withdraw is refused: nothing switches
    _, bad_key, bad_secret = await make_key(
        sim, permissions=("read", "trade", "withdraw"), account_id=acct
    )
    res = await asyncio.to_thread(
        _cli, home, ["rotate", "LB", "--api-key", bad_key, *base], bad_secret + "\n"
    )
    assert res.exit_code == 1, res.output
    assert "nothing was switched" in res.output
    assert Vault.open(home / "vault.json").find_active("LB").api_key == old_key
    # a good replacement becomes active; the old key is marked for deletion with a reminder
    _, new_key, new_secret = await make_key(sim, permissions=("read", "trade"), account_id=acct)
    res = await asyncio.to_thread(
        _cli, home, ["rotate", "LB", "--api-key", new_key, *base], new_secret + "\n"
    )
    assert res.exit_code == 0, res.output
    assert "DELETE IT on Bitrue" in res.output
    vault = Vault.open(home / "vault.json")
    active = vault.find_active("LB")
    assert active.api_key == new_key and active.markets == ("XRPUSDT",)
    old = next(r for r in vault.records() if r.api_key == old_key)
    assert old.status == "pending_delete" and old.replaced_by == active.id
    review = await asyncio.to_thread(_cli, home, ["review", "--json"])
    assert "pending_delete" in {f["kind"] for f in json.loads(review.stdout)}
    events = [e["event"] for e in AuditLog(home / "audit.jsonl").entries()]
    assert events.count("rotated") == 1
    text = "".join(r.output for r in (res, review)) + (home / "audit.jsonl").read_text()
    for s in (old_secret, bad_secret, new_secret):
        assert s not in text


async def test_onboard_reverifies_until_user_stops(sim, make_key, tmp_path) -> None:
    import asyncio

    home = tmp_path / "home"
    _, key, secret = await make_key(sim, permissions=("read",))  # Trade not ticked
    args = [
        "onboard",
        "--exchange",
        "bitrue",
        "--label",
        "Liquidity Bot",
        "--api-key",
        key,
        "--base-url",
        sim.base_url,
        "--canary-source",
        CANARY,
    ]
    # secret, then Enter (verify again: still failing), then q
    res = await asyncio.to_thread(_cli, home, args, secret + "\n\nq\n")
    assert res.exit_code == 1, res.output
    assert "API Management" in res.output  # the guide was shown
    assert res.output.count("What to do:") == 2
    assert "tick 'Trade'" in res.output
    assert secret not in res.output
    events = [e["event"] for e in AuditLog(home / "audit.jsonl").entries()]
    assert events == ["added", "verified", "verified"]


async def test_onboard_passes_first_time(sim, make_key, tmp_path) -> None:
    import asyncio

    home = tmp_path / "home"
    _, key, secret = await make_key(sim, permissions=("read", "trade"))
    args = [
        "onboard",
        "--label",
        "Liquidity Bot",
        "--base-url",
        sim.base_url,
        "--canary-source",
        CANARY,
    ]
    res = await asyncio.to_thread(_cli, home, args, key + "\n" + secret + "\n")
    assert res.exit_code == 0, res.output
    assert "may trade" in res.output and secret not in res.output


async def test_canary_secret_never_in_database_audit_or_logs(
    sim, make_key, tmp_path, caplog
) -> None:
    """Every key event of a running bot (gate at start, use, re-verification while running,
    rotation picked up by the watch, refusal, removal) mirrored into the engine's database: the
    secrets appear in no table, no raw database byte, no audit line and no log record."""
    import logging

    from liquidity_bot.keys.audit import store_mirror
    from liquidity_bot.keys.gate import KeyWatch, rotate_key
    from liquidity_bot.keys.hygiene import remove_key
    from liquidity_bot.store import Store

    caplog.set_level(logging.DEBUG)
    db = tmp_path / "bot.db"
    store = Store(f"sqlite:///{db}")
    store.create_schema()
    home = KeysHome(tmp_path / "home", audit_mirror=store_mirror(store))
    urls = BitrueUrls.single(sim.base_url)
    acct, key, secret = await make_key(sim, permissions=("read", "trade"))
    add_key(
        home,
        passphrase=PASSPHRASE,
        exchange="bitrue",
        label="LB",
        api_key=key,
        secret=secret,
        markets=("XRPUSDT",),
        kdf=FAST,
    )
    watch = await KeyWatch.start(
        "LB", home=home, passphrase=PASSPHRASE, urls=urls, canary_source=CANARY
    )
    mark_used(home, "LB")
    assert (await watch.refresh(force=True)).reverified
    _, new_key, new_secret = await make_key(sim, permissions=("read", "trade"), account_id=acct)
    rotated = await rotate_key(
        home,
        passphrase=PASSPHRASE,
        label="LB",
        new_api_key=new_key,
        new_secret=new_secret,
        policy=DEFAULT_POLICY,
        urls=urls,
        canary_source=CANARY,
        kdf=FAST,
    )
    assert rotated.switched
    refresh = await watch.refresh()
    assert refresh.switched and refresh.key.api_key == new_key
    await _admin(sim, "POST", f"/sim/admin/keys/{new_key}/disable")
    with pytest.raises(KeyRefused):
        await watch.refresh(force=True)
    remove_key(home, "LB", rotated.old.id if rotated.old else None)
    actions = [e.action for e in store.audit_events("keys")]
    assert actions == [
        "added",
        "verified",
        "gate",
        "used",
        "verified",
        "gate",
        "added",
        "verified",
        "rotated",
        "verified",
        "gate",
        "used",
        "verified",
        "gate",
        "removed",
    ]
    store.close()
    dumps = "".join(
        Store(f"sqlite:///{db}").export_json(kind)
        for kind in ("orders", "order_events", "fills", "balances", "kpi", "audit")
    )
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("bot.db*"))
    audit = home.audit.read_text()
    for s in (secret, new_secret):
        assert s not in dumps and s.encode() not in raw
        assert s not in audit and s not in caplog.text
    for k in (key, new_key):  # only a short hint of the API key itself
        assert k not in dumps and k not in audit


class _Session:
    """A `liquidity-bot` process talked to through real pipes, as a person at a terminal would."""

    def __init__(self, proc):
        self.proc = proc
        self.seen = ""

    async def expect(self, marker: str, count: int = 1) -> str:
        """Read until ``marker`` was printed ``count`` times (the timeout only turns a hang into
        a failure with the output so far)."""
        import asyncio

        async def read() -> None:
            while self.seen.count(marker) < count:
                chunk = await self.proc.stdout.read(4096)
                if not chunk:
                    raise AssertionError(f"exited before {marker!r}:\n{self.seen}")
                self.seen += chunk.decode()

        try:
            await asyncio.wait_for(read(), 60)
        except TimeoutError:
            raise AssertionError(f"never printed {marker!r}:\n{self.seen}") from None
        return self.seen

    async def send(self, text: str) -> None:
        self.proc.stdin.write(text.encode())
        await self.proc.stdin.drain()


async def test_onboard_interactive_fix_on_the_exchange_and_reenter_key(sim, make_key, tmp_path):
    """The full onboarding conversation through stdin/stdout pipes of a real process: a
    mistyped secret (fix: enter the key again), then a key that is disabled on the exchange
    (fix it there, press Enter), then it passes."""
    import asyncio
    import sys

    _, key, secret = await make_key(sim, permissions=("read", "trade"))
    await _admin(sim, "POST", f"/sim/admin/keys/{key}/disable")
    wrong = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    home = tmp_path / "home"
    script = Path(sys.executable).with_name("liquidity-bot")
    exe = (
        [str(script)]
        if script.exists()
        else [sys.executable, "-c", "from liquidity_bot.cli import main; main()"]
    )
    env = {**os.environ, "LIQUIDITY_BOT_PASSPHRASE": PASSPHRASE, "COLUMNS": "200", "NO_COLOR": "1"}
    env.pop("PYTHONUNBUFFERED", None)  # the program itself must flush before it waits for input
    proc = await asyncio.create_subprocess_exec(
        *exe,
        "--home",
        str(home),
        "keys",
        "onboard",
        "--exchange",
        "bitrue",
        "--label",
        "Liquidity Bot",
        "--base-url",
        sim.base_url,
        "--canary-source",
        CANARY,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=env,
    )
    s = _Session(proc)
    try:
        await s.expect("API key (not the secret)")
        assert "Create the Bitrue API key" in s.seen and "Withdrawal" in s.seen
        await s.send(key + "\n" + wrong + "\n")
        await s.expect("Press Enter to verify again")
        assert "authenticates" in s.seen and "copied" in s.seen
        await s.send("k\n")
        await s.expect("API key (not the secret)", count=2)
        await s.send(key + "\n" + secret + "\n")
        await s.expect("Press Enter to verify again", count=2)
        assert "replaced the stored key" in s.seen
        await _admin(sim, "POST", f"/sim/admin/keys/{key}/enable")  # the client fixes it
        await s.send("\n")
        await s.expect("may trade")
        assert await asyncio.wait_for(proc.wait(), 60) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    rest = (await proc.stdout.read()).decode()
    text = s.seen + rest
    assert secret not in text and wrong not in text
    events = [e["event"] for e in AuditLog(home / "audit.jsonl").entries()]
    assert events == ["added", "verified", "removed", "added", "verified", "verified"]
    verdicts = [
        e["verdict"] for e in AuditLog(home / "audit.jsonl").entries() if e["event"] == "verified"
    ]
    assert verdicts == ["fail", "fail", "pass"]
    vault = Vault.open(home / "vault.json").unlock(PASSPHRASE)
    assert vault.reveal(vault.find_active("Liquidity Bot").id) == secret


async def test_an_exchange_error_echoing_the_key_header_keeps_the_key_out_of_the_audit(
    tmp_path: Path,
):
    """Some gateways echo request headers in their error text: the full API key must not reach
    the audit log, the vault's metadata or the report (only its short hint)."""
    from aiohttp import web

    api_key = "EchoedKey" + "e" * 55
    secret = "EchoCanarySecret" + "s" * 48

    async def time(_: web.Request) -> web.Response:
        import time as _t

        return web.json_response({"serverTime": int(_t.time() * 1000)})

    async def echo(request: web.Request) -> web.Response:
        sent = request.headers.get("X-MBX-APIKEY", "")
        return web.json_response(
            {"code": -2015, "msg": f"Invalid API-key, IP, or permissions for action. "
                                   f"X-MBX-APIKEY={sent} key {sent}"}, status=401)

    app = web.Application()
    app.router.add_get("/api/v1/time", time)
    app.router.add_route("*", "/{tail:.*}", echo)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        home = KeysHome(tmp_path)
        rec = add_key(home, passphrase=PASSPHRASE, exchange="bitrue", label="LB",
                      api_key=api_key, secret=secret, kdf=FAST)
        with pytest.raises(KeyRefused) as info:
            await require_tradeable("LB", home=home, passphrase=PASSPHRASE,
                                    urls=BitrueUrls.single(f"http://127.0.0.1:{port}"),
                                    canary_source=CANARY)
    finally:
        await runner.cleanup()
    details = json.dumps(info.value.report.to_json(), ensure_ascii=False)
    assert rec.api_key_hint in details, details  # the echo is there, as the hint
    assert api_key not in details and api_key not in str(info.value)
    assert api_key not in home.audit.read_text()
    assert api_key not in json.dumps(Vault.open(home.vault).to_doc()["records"][0]["last_verification"])


async def test_cli_probes_go_from_the_key_source_address(sim, make_key, tmp_path) -> None:
    """A key allowed only the address the bot sends it from (``key_source_addresses``) fails
    from the default address and passes when the probes go from ``--source-address``."""
    import asyncio

    _, key, secret = await make_key(sim, permissions=("read", "trade"), ip_allowlist=("127.0.0.3",))
    home = tmp_path / "home"
    base = ["--base-url", sim.base_url, "--canary-source", CANARY]
    res = await asyncio.to_thread(
        _cli, home, ["add", "--label", "LB", "--api-key", key, *base, "--json"], secret + "\n"
    )
    assert res.exit_code == 1, res.output  # stored, but refused from 127.0.0.1
    checks = {c["name"]: c for c in json.loads(res.stdout[res.stdout.index("{") :])["checks"]}
    assert checks["can_read"]["status"] == "fail", checks
    res = await asyncio.to_thread(
        _cli, home, ["verify", "LB", *base, "--source-address", "127.0.0.3", "--json"]
    )
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["verdict"] == "pass"
    assert sim.rate_limiter.used("general", "127.0.0.3") > 0
    _, new_key, new_secret = await make_key(
        sim, permissions=("read", "trade"), ip_allowlist=("127.0.0.3",)
    )
    res = await asyncio.to_thread(
        _cli, home, ["rotate", "LB", "--api-key", new_key, *base, "--source-address", "127.0.0.3"],
        new_secret + "\n",
    )
    assert res.exit_code == 0, res.output
    assert Vault.open(home / "vault.json").find_active("LB").api_key == new_key
    for r in (res,):
        assert secret not in r.output and new_secret not in r.output


def test_cli_source_address_is_checked_before_anything_is_stored(tmp_path: Path) -> None:
    home = tmp_path / "home"
    cases = (
        (["--source-address", "localhost"], "is not an IP address"),
        (["--source-address", "127.0.0.2", "--canary-source", "127.0.0.2"], "both 127.0.0.2"),
    )
    for extra, message in cases:
        res = _cli(home, ["add", "--label", "LB", "--api-key", "k" * 64, "--base-url",
                          "http://127.0.0.1:9", *extra], "s" * 64 + "\n")
        assert res.exit_code != 0, res.output
        assert message in res.output, res.output
        assert not (home / "vault.json").exists()
