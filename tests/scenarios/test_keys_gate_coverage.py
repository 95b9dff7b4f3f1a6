"""``--no-reverify`` against the simulator: a recorded verification is trusted only when it
covers every check the current policy demands (issue 19, defect 1)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from liquidity_bot.app import open_sessions
from liquidity_bot.config import parse_config
from liquidity_bot.keys.gate import require_tradeable
from liquidity_bot.keys.home import KeysHome
from liquidity_bot.keys.hygiene import add_key, mutate
from liquidity_bot.keys.vault import Verification
from liquidity_bot.venues.bitrue.urls import BitrueUrls

from .conftest import FAST_KDF, PASSPHRASE, admin, keyed_config, keyed_market


@pytest.fixture
def home(tmp_path: Path) -> Path:
    h = tmp_path / "home"
    h.mkdir(mode=0o700)
    return h


async def _dangerous_key(sim, home: Path) -> int:
    """A Withdraw + Futures key with no IP restriction, stored under the label 'lb'."""
    acct = await admin(sim, "POST", "/sim/admin/accounts",
                       {"balances": {"USDT": "10000", "XRP": "20000"}})
    key = await admin(sim, "POST", "/sim/admin/keys", {
        "account_id": acct["account_id"], "label": "lb",
        "permissions": ["read", "trade", "withdraw", "futures"], "ip_allowlist": [],
    })
    add_key(KeysHome(home), passphrase=PASSPHRASE, exchange="bitrue", label="lb",
            api_key=key["api_key"], secret=key["secret"], kdf=FAST_KDF)
    return int(acct["account_id"])


async def _no_reverify(sim, home: Path) -> dict[str, str]:
    cfg = parse_config(keyed_config(sim.base_url, keyed_market("XRPUSDT", "lb", "lbg")),
                       home=home)
    sessions, refused = await open_sessions(cfg, home=KeysHome(home), passphrase=PASSPHRASE,
                                            canary_source="127.0.0.2", reverify=False)
    assert sessions == [], "nothing may trade"
    return refused


async def test_a_tampered_pass_with_no_checks_does_not_trade(sim_quiet, home):
    account = await _dangerous_key(sim_quiet, home)

    def forge(v):
        rec = v.find_active("lb")
        v.update(rec.id, last_verification=Verification(
            checked_at=datetime.now(UTC).isoformat(timespec="seconds"), verdict="pass",
            checks=()))

    mutate(KeysHome(home), forge)
    refused = await _no_reverify(sim_quiet, home)
    assert "withdraw_disabled was not checked" in refused["lb"]
    ledger = await admin(sim_quiet, "GET", f"/sim/admin/ledger?account_id={account}")
    assert ledger["orders"] == []


async def test_a_pass_under_a_deleted_lax_policy_does_not_trade(sim_quiet, home):
    account = await _dangerous_key(sim_quiet, home)
    lax = home / "policy.toml"
    lax.write_text('forbidden_permissions = []\nrequire_ip_restriction = false\n')
    vk = await require_tradeable("lb", home=KeysHome(home), passphrase=PASSPHRASE,
                                 urls=BitrueUrls.single(sim_quiet.base_url),
                                 canary_source="127.0.0.2")
    assert vk.report.verdict == "pass"  # the lax policy asked for little
    lax.unlink()  # back to the guide's defaults
    refused = await _no_reverify(sim_quiet, home)
    assert "ip_restricted was not checked" in refused["lb"]
    ledger = await admin(sim_quiet, "GET", f"/sim/admin/ledger?account_id={account}")
    assert ledger["orders"] == []
