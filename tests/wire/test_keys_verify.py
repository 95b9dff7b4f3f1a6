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


async def test_read_trade_allowlisted_key_passes(sim, make_key) -> None:
    _, key, secret = await make_key(sim, permissions=("read", "trade"), ip_allowlist=("127.0.0.1",))
    report, st = await _probe(sim, key, secret)
    assert report.verdict == "pass", report.to_json()
    assert set(st.values()) == {"pass"}
    assert [c.name for c in report.checks] == [
        "authenticates", "can_read", "can_trade", "withdraw_disabled", "futures_disabled",
        "ip_restricted", "clock_skew",
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
    assert st["ip_restricted"] == "unknown" and "--canary-source" in report.check("ip_restricted").detail
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
    assert all(st[n] == "unknown" for n in ("can_read", "can_trade", "withdraw_disabled", "futures_disabled"))


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


async def test_gate_refuses_fail_and_unknown_accepts_policy_unknown(sim, make_key, tmp_path) -> None:
    home = KeysHome(tmp_path)
    _, key, secret = await make_key(sim, permissions=("read", "trade"))
    add_key(home, passphrase=PASSPHRASE, exchange="bitrue", label="LB", api_key=key, secret=secret, kdf=FAST)
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
    vk = await require_tradeable("LB", home=home, passphrase=PASSPHRASE, urls=urls, canary_source=CANARY)
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
        _cli, home, ["add", "--label", "LB", "--api-key", key, *base, "--canary-source", CANARY,
                     "--json"], secret + "\n",
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout[res.stdout.index("{"):])
    assert out["verdict"] == "pass" and out["label"] == "LB"
    res2 = await asyncio.to_thread(_cli, home, ["verify", "LB", *base, "--json"])
    assert res2.exit_code == 2, res2.output  # no canary: unknown
    j = json.loads(res2.stdout)
    assert j["verdict"] == "unknown" and set(j) == {"label", "exchange", "verdict", "checked_at", "checks"}
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
        _cli, home, ["add", "--label", "LB", "--api-key", old_key, "--market", "XRPUSDT", *base],
        old_secret + "\n",
    )
    assert res.exit_code == 0, res.output
    # a replacement that may withdraw is refused: nothing switches
    _, bad_key, bad_secret = await make_key(sim, permissions=("read", "trade", "withdraw"), account_id=acct)
    res = await asyncio.to_thread(_cli, home, ["rotate", "LB", "--api-key", bad_key, *base], bad_secret + "\n")
    assert res.exit_code == 1, res.output
    assert "nothing was switched" in res.output
    assert Vault.open(home / "vault.json").find_active("LB").api_key == old_key
    # a good replacement becomes active; the old key is marked for deletion with a reminder
    _, new_key, new_secret = await make_key(sim, permissions=("read", "trade"), account_id=acct)
    res = await asyncio.to_thread(_cli, home, ["rotate", "LB", "--api-key", new_key, *base], new_secret + "\n")
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
    args = ["onboard", "--exchange", "bitrue", "--label", "Liquidity Bot", "--api-key", key,
            "--base-url", sim.base_url, "--canary-source", CANARY]
    # secret, then Enter (verify again: still failing), then q
    res = await asyncio.to_thread(_cli, home, args, secret + "\n\nq\n")
    assert res.exit_code == 1, res.output
    assert "API Management" in res.output  # the guide was shown
    assert res.output.count("Change these settings") == 2
    assert "tick 'Trade'" in res.output
    assert secret not in res.output
    events = [e["event"] for e in AuditLog(home / "audit.jsonl").entries()]
    assert events == ["added", "verified", "verified"]


async def test_onboard_passes_first_time(sim, make_key, tmp_path) -> None:
    import asyncio

    home = tmp_path / "home"
    _, key, secret = await make_key(sim, permissions=("read", "trade"))
    args = ["onboard", "--label", "Liquidity Bot", "--base-url", sim.base_url, "--canary-source", CANARY]
    res = await asyncio.to_thread(_cli, home, args, key + "\n" + secret + "\n")
    assert res.exit_code == 0, res.output
    assert "may trade" in res.output and secret not in res.output
