"""The engine quoting through the ccxt venue against the simulator, on the Bitrue dialect
(ccxt's ``bitrue``) and on the Binance dialect (ccxt's ``binance``): quotes within obligations,
a stop cancels everything, and a restart after a crash adopts the orphans and stores every
exchange fill once."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest

from bitrue_sim.server.runner import SimServer
from liquidity_bot.config import parse_config
from liquidity_bot.engine.budget import OrderBudget
from liquidity_bot.engine.runner import Engine, KeySession
from liquidity_bot.store import Store
from liquidity_bot.testing import crash
from liquidity_bot.venues.ccxt.venue import CcxtVenue

from .conftest import CONFIG, PREFIX, SYMBOL, admin, new_key, running, two_sided, wait_for

pytest.importorskip("ccxt.pro")

DIALECTS = {"bitrue": "bitrue", "binance": "binance"}


@pytest.fixture(params=sorted(DIALECTS))
async def dsim(request):
    async with SimServer(port=0, seed=1, dialect=request.param) as server:
        server.exchange_id = DIALECTS[request.param]
        yield server


def ccxt_engine(sim: SimServer, key: str, secret: str, store: Store, *,
                spread: str = "0.3", levels: int = 2) -> Engine:
    cfg = parse_config(CONFIG.format(
        base_url=sim.base_url, levels=levels, spread=spread, size="50", ticks=2,
        loss_limit="100000", on_loss="minimum", recv_window=5000, prefix=PREFIX,
    ))

    def factory() -> Any:
        return CcxtVenue(sim.exchange_id, key, secret, [SYMBOL], http_base=sim.base_url,
                         ws_base=sim.ws_url, poll_interval_s=1.0)

    venue = factory()
    session = KeySession("scenario", venue, list(cfg.markets), venue_factory=factory,
                         budget=OrderBudget.for_limit(venue.order_rate_limit))
    return Engine([session], all_markets=cfg.markets, store=store, recv_window_ms=5000,
                  stale_after_s=60.0, kpi_interval_s=0.2)


def ours(sim: SimServer, account: int) -> list:
    return [o for o in sim.exchange.open_orders(account, SYMBOL)
            if o.client_order_id.startswith(PREFIX)]


async def test_ccxt_quotes_within_obligations_and_stop_cancels_all(dsim, store):
    account, key, secret = await new_key(dsim)
    engine = ccxt_engine(dsim, key, secret, store)
    async with running(engine):
        runner = engine.runners[0]
        await wait_for(lambda: runner.obligation.met, "obligations met from our own quotes")
        orders = ours(dsim, account)
        bids = [o for o in orders if o.side == "BUY"]
        asks = [o for o in orders if o.side == "SELL"]
        assert bids and asks
        mid = runner.book.mid
        spread_pct = (min(o.price for o in asks) - max(o.price for o in bids)) / mid * 100
        assert spread_pct <= runner.config.obligations.max_spread_pct
        stored = {o.client_order_id for o in store.orders()}
        assert {o.client_order_id for o in orders} <= stored
    assert ours(dsim, account) == [], "stopping cancels every order of ours"


async def test_ccxt_restart_adopts_orphans_and_stores_each_fill_once(dsim, store):
    account, key, secret = await new_key(dsim)
    taker, _, _ = await new_key(dsim, {"XRP": "100000", "USDT": "100000"}, label="taker")
    first = ccxt_engine(dsim, key, secret, store, spread="0.06")
    task = asyncio.get_running_loop().create_task(first.run(handle_signals=False))
    await wait_for(lambda: bool(first.runners) and two_sided(first), "run 1 quotes")
    om1 = first.runners[0].om
    bid = max((o for o in om1.resting() if o.side.value == "BUY"), key=lambda o: o.price)
    dsim.exchange.place_order(taker, SYMBOL, "SELL", "LIMIT", Decimal("20"), bid.price)
    await wait_for(lambda: om1.stats.fills >= 1, "run 1 sees its fill")
    await crash(first)
    await asyncio.wait_for(task, 10)
    left = ours(dsim, account)
    assert left, "the crash left our orders on the exchange"
    ask = min((o for o in left if o.side == "SELL"), key=lambda o: o.price)
    dsim.exchange.place_order(taker, SYMBOL, "BUY", "LIMIT", Decimal("30"), ask.price)

    second = ccxt_engine(dsim, key, secret, store, spread="0.06")
    async with running(second):
        om2 = second.runners[0].om
        assert om2.stats.adopted >= len(left) - 1, "our orphans were adopted, not re-placed"
        await wait_for(lambda: two_sided(second), "run 2 quotes")
        await wait_for(lambda: all(o.client_order_id in om2.orders for o in ours(dsim, account)),
                       "every order of ours on the exchange is tracked")
    ledger = await admin(dsim, "GET", f"/sim/admin/ledger?account_id={account}")
    exchange_fills = sorted(str(f["id"]) for f in ledger["fills"])
    stored = sorted(f.trade_id for f in store.fills(SYMBOL))
    assert len(exchange_fills) >= 2
    assert stored == exchange_fills, "every exchange fill is stored, exactly once"
    assert ours(dsim, account) == []
    assert store.orders(open_only=True) == []
