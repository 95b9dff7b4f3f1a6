"""The keys gate while the engine runs: periodic re-verification, refusal and rotation.

Two client keys quote one market each (alpha: XRPUSDT, beta: NOVAUSDT) through
``open_sessions`` (the real gate, ``KeyWatch``) with a policy whose verifications go stale in
1.8 s, and the engine re-checks every 0.5 s.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest

from liquidity_bot.app import open_sessions
from liquidity_bot.config import parse_config
from liquidity_bot.engine.runner import Engine, KeySession
from liquidity_bot.keys.audit import store_mirror
from liquidity_bot.keys.gate import rotate_key
from liquidity_bot.keys.home import KeysHome
from liquidity_bot.keys.hygiene import add_key, remove_key
from liquidity_bot.keys.policy import load_policy
from liquidity_bot.store import Store
from liquidity_bot.venues.bitrue.urls import BitrueUrls

from .conftest import (
    FAST_KDF,
    PASSPHRASE,
    admin,
    keyed_config,
    keyed_market,
    new_key,
    rest,
    running,
    wait_for,
)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    h = tmp_path / "home"
    h.mkdir(mode=0o700)
    # verifications older than 1.8 s are stale: the engine re-verifies every few checks (a
    # verification costs request weight: much more often and the exchange rate-limits us)
    (h / "policy.toml").write_text("max_verification_age_hours = 0.0005\n")
    return h


async def _two_keys(sim: Any, home: Path) -> dict[str, Any]:
    acct_a, key_a, secret_a = await new_key(sim, label="alpha")
    acct_b = (await admin(sim, "POST", "/sim/admin/accounts",
                          {"balances": {"USDT": "10000", "NOVA": "100000"}}))["account_id"]
    b = await admin(sim, "POST", "/sim/admin/keys", {
        "account_id": acct_b, "label": "beta", "permissions": ["read", "trade"],
        "ip_allowlist": ["127.0.0.1"],
    })
    for label, key, secret in (("alpha", key_a, secret_a), ("beta", b["api_key"], b["secret"])):
        add_key(KeysHome(home), passphrase=PASSPHRASE, exchange="bitrue", label=label,
                api_key=key, secret=secret, kdf=FAST_KDF)
    return {"alpha": (acct_a, key_a, secret_a), "beta": (acct_b, b["api_key"], b["secret"])}


async def _engine(sim: Any, home: Path, extra: str = "") -> tuple[Engine, Store]:
    cfg = parse_config(keyed_config(sim.base_url, keyed_market("XRPUSDT", "alpha", "lba"),
                                    keyed_market("NOVAUSDT", "beta", "lbb"),
                                    kpi_interval_s=0.2) + extra, home=home)
    store = Store(cfg.store.url)
    store.create_schema()
    sessions, refused = await open_sessions(
        cfg, home=KeysHome(home, audit_mirror=store_mirror(store)), passphrase=PASSPHRASE,
        canary_source="127.0.0.2",
    )
    assert not refused and len(sessions) == 2
    engine = Engine(sessions, all_markets=cfg.markets, store=store, kpi_interval_s=0.2,
                    key_check_s=0.5, stale_after_s=60.0)
    return engine, store


def _verified(store: Store, label: str) -> int:
    return sum(1 for e in store.audit_events("keys") if e.action == "verified" and e.actor == label)


def _session(engine: Engine, label: str) -> KeySession:
    return next(s for s in engine.sessions if s.label == label)


def _two_sided(session: KeySession) -> bool:
    return all({o.side.value for o in r.om.resting()} == {"BUY", "SELL"}
               for r in session.runners.values()) and bool(session.runners)


async def _open_on_sim(sim: Any, account: int, prefix: str) -> list[dict[str, Any]]:
    ledger = await admin(sim, "GET", f"/sim/admin/ledger?account_id={account}")
    return [o for o in ledger["orders"] if o["status"] in ("NEW", "PARTIALLY_FILLED")
            and str(o.get("clientOrderId") or o.get("client_order_id") or "").startswith(prefix)]


async def test_a_key_disabled_mid_run_is_refused_and_the_other_key_keeps_quoting(
    sim_quiet, home, caplog
):
    keys = await _two_keys(sim_quiet, home)
    engine, store = await _engine(sim_quiet, home)
    caplog.set_level(logging.ERROR, logger="liquidity_bot.engine.runner")
    async with running(engine):
        alpha, beta = _session(engine, "alpha"), _session(engine, "beta")
        await wait_for(lambda: _two_sided(alpha) and _two_sided(beta), "both keys quote")
        acct_a, key_a, _ = keys["alpha"]
        await admin(sim_quiet, "POST", f"/sim/admin/keys/{key_a}/disable")
        await wait_for(lambda: alpha.refused is not None and not alpha.loop_tasks,
                       "the re-verification refuses alpha and stops its market")
        assert "authenticates" in alpha.refused
        runner_a = alpha.runners["XRPUSDT"]
        assert runner_a.status == "key refused"
        placed_a = runner_a.om.stats.placed
        # Bitrue (and the simulator) keep a disabled key's orders and refuse its cancels: the
        # engine tried, counts what is left, and says what to do.
        left = await _open_on_sim(sim_quiet, acct_a, "lba")
        assert engine.left_open["XRPUSDT"] == len(left)
        assert len(left) == 0 or "could not cancel them" in caplog.text
        # beta goes on: it keeps re-verifying (passing) and keeps quoting.
        runner_b = beta.runners["NOVAUSDT"]
        verified_before = _verified(store, "beta")
        placed_b = runner_b.om.stats.placed
        # cancel one of beta's orders behind its back: a live market loop replaces it
        victim = runner_b.om.resting()[0]
        _, key_b, secret_b = keys["beta"]
        async with rest(sim_quiet, key_b, secret_b) as client:
            await client.cancel_order("NOVAUSDT", client_order_id=victim.client_order_id)
        await wait_for(lambda: runner_b.om.stats.placed > placed_b and _two_sided(beta),
                       "beta replaces its cancelled order after alpha was refused")
        await wait_for(lambda: _verified(store, "beta") > verified_before,
                       "beta is re-verified while running (and it lands in the store)")
        assert beta.refused is None and runner_b.status == "quoting"
        assert runner_a.om.stats.placed == placed_a, "no order after the refusal"
    assert engine.left_open.get("NOVAUSDT", 0) == 0


async def test_a_key_removed_from_the_vault_mid_run_has_its_orders_cancelled(sim_quiet, home):
    keys = await _two_keys(sim_quiet, home)
    engine, _store = await _engine(sim_quiet, home)
    async with running(engine):
        alpha, beta = _session(engine, "alpha"), _session(engine, "beta")
        await wait_for(lambda: _two_sided(alpha) and _two_sided(beta), "both keys quote")
        acct_a = keys["alpha"][0]
        assert await _open_on_sim(sim_quiet, acct_a, "lba")
        await asyncio.to_thread(remove_key, KeysHome(home), "alpha")
        await wait_for(lambda: alpha.refused is not None and not alpha.loop_tasks,
                       "the watch notices the key is gone")
        assert "removed from the vault" in alpha.refused
        assert await _open_on_sim(sim_quiet, acct_a, "lba") == [], "its orders were cancelled"
        assert engine.left_open["XRPUSDT"] == 0
        await wait_for(lambda: _two_sided(beta), "beta still quotes")
        assert beta.refused is None


async def test_a_rotation_is_picked_up_while_running(sim_quiet, home):
    keys = await _two_keys(sim_quiet, home)
    engine, store = await _engine(sim_quiet, home)
    async with running(engine):
        alpha, beta = _session(engine, "alpha"), _session(engine, "beta")
        await wait_for(lambda: _two_sided(alpha) and _two_sided(beta), "both keys quote")
        acct_a, old_key, _ = keys["alpha"]
        new = await admin(sim_quiet, "POST", "/sim/admin/keys", {
            "account_id": acct_a, "label": "alpha", "permissions": ["read", "trade"],
            "ip_allowlist": ["127.0.0.1"],
        })
        result = await rotate_key(
            KeysHome(home), passphrase=PASSPHRASE, label="alpha", new_api_key=new["api_key"],
            new_secret=new["secret"], policy=load_policy(home / "policy.toml"),
            urls=BitrueUrls.single(sim_quiet.base_url), canary_source="127.0.0.2",
            kdf=FAST_KDF,
        )
        assert result.switched
        await wait_for(lambda: alpha.switches == 1, "the engine switches to the new key")
        assert alpha.venue.rest.api_key == new["api_key"]
        await wait_for(lambda: _two_sided(alpha), "alpha quotes again with the new key")
        # The old key can be deleted on the exchange now: nothing of ours depends on it.
        await admin(sim_quiet, "DELETE", f"/sim/admin/keys/{old_key}")
        om = alpha.runners["XRPUSDT"].om
        placed = om.stats.placed
        async with rest(sim_quiet, new["api_key"], new["secret"]) as client:
            await client.cancel_order("XRPUSDT", client_order_id=om.resting()[0].client_order_id)
        await wait_for(lambda: om.stats.placed > placed or alpha.refused is not None,
                       "alpha re-places a cancelled order after the old key is gone")
        assert alpha.refused is None and beta.refused is None
        open_now = await _open_on_sim(sim_quiet, acct_a, "lba")
        assert {o["side"] for o in open_now} == {"BUY", "SELL"}
    assert engine.left_open.get("XRPUSDT", 0) == 0
    gate = [e for e in store.audit_events("keys") if e.action == "gate" and e.actor == "alpha"]
    assert gate[-1].detail["record_id"] == result.new.id, "the gate accepted the new key"


async def test_a_deleted_vault_stops_quoting_after_the_grace(sim_quiet, home, caplog):
    """The vault is gone (or the passphrase no longer opens it): the keys cannot be re-checked,
    so after [keys] reverify_grace_s they are refused and their orders cancelled."""
    keys = await _two_keys(sim_quiet, home)
    engine, _store = await _engine(sim_quiet, home, "[keys]\nreverify_grace_s = 1\n")
    caplog.set_level(logging.ERROR, logger="liquidity_bot.engine.runner")
    async with running(engine):
        alpha, beta = _session(engine, "alpha"), _session(engine, "beta")
        await wait_for(lambda: _two_sided(alpha) and _two_sided(beta), "both keys quote")
        assert await _open_on_sim(sim_quiet, keys["alpha"][0], "lba")
        (home / "vault.json").unlink()
        await wait_for(lambda: alpha.refused is not None and beta.refused is not None
                       and not alpha.loop_tasks and not beta.loop_tasks,
                       "both keys are refused once they could not be re-checked for 1 s")
        for s in (alpha, beta):
            assert "could not be re-checked" in (s.refused or "")
            assert "VaultNotFound" in (s.refused or "")
        assert await _open_on_sim(sim_quiet, keys["alpha"][0], "lba") == []
        assert await _open_on_sim(sim_quiet, keys["beta"][0], "lbb") == []
        assert "refused while running: stopping its markets" in caplog.text
    assert engine.left_open.get("XRPUSDT", 0) == 0 and engine.left_open.get("NOVAUSDT", 0) == 0
