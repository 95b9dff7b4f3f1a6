"""The audit key profile against simulator keys over loopback: a read-only key passes, a key that
can trade is refused with the check that failed, and an audit key never trades.

The audit key's allow list is 127.0.0.2 (the token project's machine); 127.0.0.3 is the canary.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from liquidity_bot.cli import app as root_app
from liquidity_bot.keys.gate import KeyRefused, require_audit_key, require_tradeable
from liquidity_bot.keys.home import KeysHome
from liquidity_bot.keys.hygiene import add_key
from liquidity_bot.keys.policy import DEFAULT_POLICY, PolicyError, policy_from_mapping
from liquidity_bot.keys.profiles import AUDIT, policy_for_profile
from liquidity_bot.keys.vault import KdfParams, Vault
from liquidity_bot.keys.verify import probe_key
from liquidity_bot.venues.bitrue.urls import BitrueUrls

AUDITOR = "127.0.0.2"
CANARY = "127.0.0.3"
FAST = KdfParams(memory_kib=64, iterations=1, lanes=1)
PASSPHRASE = "audit test passphrase"
AUDIT_POLICY = policy_for_profile(AUDIT, DEFAULT_POLICY)


async def _probe(sim, key, secret):
    return await probe_key(
        label="Audit",
        exchange="bitrue",
        api_key=key,
        secret=secret,
        urls=BitrueUrls.single(sim.base_url),
        policy=AUDIT_POLICY,
        canary_source=CANARY,
        client_factory=_from(AUDITOR),
    )


def _from(source: str):
    """The verification's main client sends from ``source`` (the auditor's allowed address);
    the canary keeps its own ``source_address``."""
    from liquidity_bot.keys.probers.bitrue import default_client_factory

    def factory(urls, key, secret, **kw):
        kw.setdefault("source_address", source)
        return default_client_factory(urls, key, secret, **kw)

    return factory


def test_audit_policy_is_the_bots_with_trade_flipped() -> None:
    assert AUDIT_POLICY.demanded_checks() == (
        "authenticates",
        "can_read",
        "trade_disabled",
        "withdraw_disabled",
        "futures_disabled",
        "transfer_disabled",  # the guide's policy forbids transfers too (issue 18)
        "ip_restricted",
        "clock_skew",
    )
    lenient = policy_from_mapping({"require_ip_restriction": False, "accept_unknown": ["futures_disabled"]})
    flipped = policy_for_profile(AUDIT, lenient)
    assert flipped.require_ip_restriction and flipped.accepts_unknown("futures_disabled")
    with pytest.raises(PolicyError, match="trade_disabled"):
        policy_from_mapping({"accept_unknown": ["trade_disabled"]})


async def test_read_only_restricted_key_passes_the_audit_profile(sim, make_key) -> None:
    acct, key, secret = await make_key(sim, permissions=("read",), ip_allowlist=(AUDITOR,))
    report = await _probe(sim, key, secret)
    assert report.verdict == "pass", report.to_json()
    trade = report.check("trade_disabled")
    assert trade.status == "pass" and "cannot trade" in trade.detail
    assert "can_trade" not in {c.name for c in report.checks}


async def test_audit_key_that_can_trade_fails_trade_disabled(sim, make_key) -> None:
    _, key, secret = await make_key(sim, permissions=("read", "trade"), ip_allowlist=(AUDITOR,))
    report = await _probe(sim, key, secret)
    assert report.verdict == "fail"
    failed = report.with_status("fail")
    assert [c.name for c in failed] == ["trade_disabled"]
    assert "may trade" in failed[0].detail and "untick 'Trade'" in failed[0].detail


async def test_gate_refuses_a_trading_key_for_the_audit_and_an_audit_key_for_trading(
    sim, make_key, tmp_path
) -> None:
    urls = BitrueUrls.single(sim.base_url)
    home = KeysHome(tmp_path / "home")
    _, tkey, tsecret = await make_key(sim, permissions=("read", "trade"), ip_allowlist=(AUDITOR,))
    add_key(home, passphrase=PASSPHRASE, exchange="bitrue", label="Tradeable", api_key=tkey,
            secret=tsecret, kdf=FAST, profile=AUDIT)
    with pytest.raises(KeyRefused, match="trade_disabled failed") as refused:
        await require_audit_key("Tradeable", home=home, passphrase=PASSPHRASE, urls=urls,
                                canary_source=CANARY, client_factory=_from(AUDITOR))
    assert tsecret not in str(refused.value)
    _, rkey, rsecret = await make_key(sim, permissions=("read",), ip_allowlist=(AUDITOR,))
    add_key(home, passphrase=PASSPHRASE, exchange="bitrue", label="Audit", api_key=rkey,
            secret=rsecret, kdf=FAST, profile=AUDIT)
    vk = await require_audit_key("Audit", home=home, passphrase=PASSPHRASE, urls=urls,
                                 canary_source=CANARY, client_factory=_from(AUDITOR))
    assert vk.report.verdict == "pass"
    assert Vault.open(home.vault).find_active("Audit").profile == AUDIT
    # an audit key never trades, whatever its permissions on the exchange
    with pytest.raises(KeyRefused, match="audit key"):
        await require_tradeable("Audit", home=home, passphrase=PASSPHRASE, urls=urls,
                                canary_source=CANARY)


def _cli(home: Path, args: list[str], stdin: str | None = None):
    env = {"LIQUIDITY_BOT_PASSPHRASE": PASSPHRASE}
    return CliRunner().invoke(root_app, ["--home", str(home), "keys", *args], input=stdin, env=env)


async def test_cli_add_profile_audit_refuses_a_trading_key_naming_the_check(
    sim, make_key, tmp_path
) -> None:
    # the CLI verifies from this machine's default address: allow it for this test
    _, key, secret = await make_key(sim, permissions=("read", "trade"), ip_allowlist=("127.0.0.1",))
    home = tmp_path / "home"
    res = await asyncio.to_thread(
        _cli, home,
        ["add", "--profile", "audit", "--label", "Audit", "--api-key", key,
         "--base-url", sim.base_url, "--canary-source", CANARY],
        secret + "\n",
    )
    assert res.exit_code == 1, res.output
    assert "trade_disabled" in res.output and "untick 'Trade'" in res.output
    assert "may not be used for the audit" in res.output
    assert secret not in res.output
    # the same key verified again is judged under its stored profile (audit), as JSON
    res2 = await asyncio.to_thread(
        _cli, home, ["verify", "Audit", "--base-url", sim.base_url, "--canary-source", CANARY,
                     "--json"]
    )
    checks = {c["name"]: c["status"] for c in json.loads(res2.stdout)["checks"]}
    assert checks["trade_disabled"] == "fail" and "can_trade" not in checks


def test_onboard_prints_the_audit_guide(tmp_path) -> None:
    res = _cli(tmp_path / "home", ["onboard", "--profile", "audit", "--print-guide"])
    assert res.exit_code == 0, res.output
    assert "read-only" in res.stdout and "tick **Read** only" in res.stdout
    assert "**Trade**, **Withdrawal** and **Futures** **unticked**" in res.stdout
    assert '"Obligation Audit"' in res.stdout
    bot = _cli(tmp_path / "home", ["onboard", "--print-guide"])
    assert "**Read** and **Trade**" in bot.stdout
    bad = _cli(tmp_path / "home", ["onboard", "--profile", "auditor", "--print-guide"])
    assert bad.exit_code == 3 and "unknown key profile" in bad.output


def test_keys_list_marks_an_audit_key(tmp_path) -> None:
    home = KeysHome(tmp_path / "home")
    add_key(home, passphrase=PASSPHRASE, exchange="bitrue", label="Audit", api_key="A" * 64,
            secret="s" * 64, kdf=FAST, profile=AUDIT)
    add_key(home, passphrase=PASSPHRASE, exchange="bitrue", label="LB", api_key="B" * 64,
            secret="t" * 64, kdf=FAST)
    res = _cli(home.root, ["list", "--json"])
    assert {r["label"]: r["profile"] for r in json.loads(res.stdout)} == {"Audit": "audit",
                                                                          "LB": "bot"}
    assert "[audit]" in _cli(home.root, ["list"]).stdout


async def test_rotating_an_audit_key_judges_the_replacement_as_an_audit_key(
    sim, make_key, tmp_path
) -> None:
    from liquidity_bot.keys.gate import rotate_key

    urls = BitrueUrls.single(sim.base_url)
    home = KeysHome(tmp_path / "home")
    acct, key, secret = await make_key(sim, permissions=("read",), ip_allowlist=(AUDITOR,))
    add_key(home, passphrase=PASSPHRASE, exchange="bitrue", label="Audit", api_key=key,
            secret=secret, kdf=FAST, profile=AUDIT)
    # a replacement that could trade is not switched to
    _, tkey, tsecret = await make_key(sim, permissions=("read", "trade"), ip_allowlist=(AUDITOR,),
                                      account_id=acct)
    refused = await rotate_key(home, passphrase=PASSPHRASE, label="Audit", new_api_key=tkey,
                               new_secret=tsecret, policy=DEFAULT_POLICY, urls=urls,
                               canary_source=CANARY, client_factory=_from(AUDITOR), kdf=FAST)
    assert not refused.switched and refused.report.check("trade_disabled").status == "fail"
    _, rkey, rsecret = await make_key(sim, permissions=("read",), ip_allowlist=(AUDITOR,),
                                      account_id=acct)
    done = await rotate_key(home, passphrase=PASSPHRASE, label="Audit", new_api_key=rkey,
                            new_secret=rsecret, policy=DEFAULT_POLICY, urls=urls,
                            canary_source=CANARY, client_factory=_from(AUDITOR), kdf=FAST)
    assert done.switched
    active = Vault.open(home.vault).find_active("Audit")
    assert active.api_key == rkey and active.profile == AUDIT
