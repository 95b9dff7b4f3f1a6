"""The token project's audit beside the bot: the bot quotes on the simulator with its key
(allow list 127.0.0.1), the audit samples with a read-only key of the same account from another
loopback address (127.0.0.2), and the two reports agree.

Tolerance: over the same window, the two uptimes differ by at most ``TOLERANCE_PCT`` percentage
points. The bot samples its own book every 0.2 s, the audit the exchange every 0.25 s (at 2
request weight a sample), so a change is seen up to one interval apart on either side.
"""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bitrue_sim.server.runner import SimServer
from liquidity_bot.obligation_audit.compare import compare_reports
from liquidity_bot.obligation_audit.config import AuditConfig, AuditMarket
from liquidity_bot.obligation_audit.report import audit_json
from liquidity_bot.obligation_audit.sampler import ObligationAudit
from liquidity_bot.reporting.report import build_report
from liquidity_bot.store import Store
from liquidity_bot.venues.bitrue.rest import BitrueRestClient
from liquidity_bot.venues.bitrue.urls import BitrueUrls

from .conftest import PREFIX, SYMBOL, admin, make_engine, new_key, running, two_sided, wait_for

AUDITOR = "127.0.0.2"
TOLERANCE_PCT = Decimal(3)
RUN_S = 16.0
AUDIT_INTERVAL_S = 0.25
BOT_INTERVAL_MS = 200  # make_engine's kpi_interval_s


async def audit_key(sim: SimServer, account_id: int) -> tuple[str, str]:
    created = await admin(sim, "POST", "/sim/admin/keys", {
        "account_id": account_id, "label": "audit", "permissions": ["read"],
        "ip_allowlist": [AUDITOR],
    })
    return created["api_key"], created["secret"]


def _store(path: Path) -> Store:
    s = Store(f"sqlite:///{path}")
    s.create_schema()
    return s


async def bot_and_audit(tmp: Path, seed: int, *, stop_bot_at: float | None = None) -> dict[str, Any]:
    """Run the bot and the audit side by side for ``RUN_S`` seconds (the bot stopped after
    ``stop_bot_at`` seconds if given); returns both JSON reports over the same window."""
    async with SimServer(port=0, seed=seed, scenario="volatile") as sim:
        account, key, secret = await new_key(sim)
        akey, asecret = await audit_key(sim, account)
        bot_store, audit_store = _store(tmp / "bot.db"), _store(tmp / "audit.db")
        engine = make_engine(sim, key, secret, store=bot_store)
        client = BitrueRestClient(
            BitrueUrls.single(sim.base_url), akey, asecret, source_address=AUDITOR
        )
        async with client, running(engine) as task:
            obligations = engine.runners[0].config.obligations
            cfg = AuditConfig(
                markets=(AuditMarket(symbol=SYMBOL, obligations=obligations,
                                     client_id_prefix=PREFIX),),
                interval_s=AUDIT_INTERVAL_S,
                history_interval_s=2.0,
            )
            await wait_for(lambda: two_sided(engine), "the bot quotes both sides")
            audit = ObligationAudit(cfg, client, audit_store)
            audit_task = asyncio.get_running_loop().create_task(audit.run())
            await wait_for(lambda: audit.samples >= 4, "the audit samples")
            from_ms = client.clock.now_ms()
            if stop_bot_at is not None:
                await asyncio.sleep(stop_bot_at)
                engine.stop()
                await asyncio.wait_for(task, 30)
                await asyncio.sleep(RUN_S - stop_bot_at)
            else:
                await asyncio.sleep(RUN_S)
            to_ms = client.clock.now_ms()
            audit.stop()
            await audit_task
        ob = {SYMBOL: obligations}
        ours = build_report(bot_store, from_ms=from_ms, to_ms=to_ms, obligations=ob,
                            interval_ms=BOT_INTERVAL_MS)
        theirs = build_report(audit_store, from_ms=from_ms, to_ms=to_ms, obligations=ob,
                              interval_ms=int(AUDIT_INTERVAL_S * 1000))
        result = {
            "ours": json.loads(json.dumps(ours.to_json())),
            "theirs": json.loads(json.dumps(audit_json(theirs, audit_store))),
            "weight": sim.rate_limiter.used("general", AUDITOR),
            "bot_orders": len(bot_store.orders(symbol=SYMBOL)),
        }
        bot_store.close()
        audit_store.close()
        return result


def _uptime(doc: dict[str, Any]) -> Decimal:
    return Decimal(doc["symbols"][SYMBOL]["uptime_pct"])


@pytest.mark.parametrize("seed", [3, 7, 11])
async def test_audit_uptime_agrees_with_the_bots(tmp_path, seed) -> None:
    got = await bot_and_audit(tmp_path, seed)
    ours, theirs = _uptime(got["ours"]), _uptime(got["theirs"])
    print(f"seed {seed}: uptime bot {ours:.2f} % audit {theirs:.2f} %; weight {got['weight']}")
    assert abs(ours - theirs) <= TOLERANCE_PCT, (ours, theirs)
    entry = got["theirs"]["symbols"][SYMBOL]
    assert entry["samples"] >= RUN_S / AUDIT_INTERVAL_S * 0.8  # a sample every interval
    assert entry["audit"]["orders_seen_resting"] > 0
    # the exchange's record of the bot's orders, per minute, matches the bot's own
    placed = sum(f["placed"] for f in entry["orders_per_minute"])
    bot_placed = sum(f["placed"] for f in got["ours"]["symbols"][SYMBOL]["orders_per_minute"])
    assert placed == bot_placed > 0, (placed, bot_placed)
    comparison = compare_reports(got["ours"], got["theirs"])
    assert comparison.worst_difference() <= TOLERANCE_PCT
    assert all(d.reason for d in comparison.disagreements)


async def test_bot_stopped_halfway_shows_the_breach_in_both(tmp_path) -> None:
    got = await bot_and_audit(tmp_path, 5, stop_bot_at=RUN_S / 2)
    ours, theirs = _uptime(got["ours"]), _uptime(got["theirs"])
    print(f"stopped halfway: uptime bot {ours:.2f} % audit {theirs:.2f} %")
    assert ours <= 55 and theirs <= 55, (ours, theirs)
    assert abs(ours - theirs) <= TOLERANCE_PCT, (ours, theirs)
    half = Decimal(RUN_S) / 2 * 1000
    for doc in (got["ours"], got["theirs"]):
        breaches = doc["symbols"][SYMBOL]["breaches"]
        longest = max(b["end_ms"] - b["start_ms"] for b in breaches)
        assert longest >= half * Decimal("0.9"), breaches
    # the bot's report sees a sampling gap (it stopped), the audit sees no two-sided quotes
    assert any("sampling_gap" in b["rules"] for b in got["ours"]["symbols"][SYMBOL]["breaches"])
    assert any("two_sided" in b["rules"] for b in got["theirs"]["symbols"][SYMBOL]["breaches"])
