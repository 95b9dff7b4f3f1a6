"""Restart: the engine dies without cleanup mid-run, fills happen while it is down, and a new
engine takes over: no orphaned and no duplicate orders, every exchange fill stored once."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from liquidity_bot.testing import crash

from .conftest import (
    PREFIX,
    SYMBOL,
    admin,
    make_engine,
    new_key,
    our_open_orders,
    rest,
    running,
    two_sided,
    wait_for,
    wait_for_async,
)

LEVELS = 2


async def test_restart_after_a_crash_leaves_no_orphans_duplicates_or_lost_fills(sim_quiet, store):
    account, key, secret = await new_key(sim_quiet)
    _, tkey, tsecret = await new_key(sim_quiet, {"XRP": "100000", "USDT": "100000"},
                                     label="taker")
    async with rest(sim_quiet, key, secret) as client, rest(sim_quiet, tkey, tsecret) as taker:
        # --- run 1: quote, get filled, then die without cleanup ---------------------------------
        first = make_engine(sim_quiet, key, secret, store=store, levels=LEVELS, spread="0.06")
        task = asyncio.get_running_loop().create_task(first.run(handle_signals=False))
        await wait_for(lambda: bool(first.runners) and two_sided(first), "run 1 quotes")
        om1 = first.runners[0].om
        bid = max((o for o in om1.resting() if o.side.value == "BUY"), key=lambda o: o.price)
        await taker.place_order(SYMBOL, "SELL", Decimal("20"), bid.price, order_type="LIMIT")
        await wait_for(lambda: om1.stats.fills >= 1, "run 1 sees its fill")
        await crash(first)
        await asyncio.wait_for(task, 10)
        left = await our_open_orders(client)
        assert left, "the crash left our orders on the exchange"

        # --- while nobody watches: more of our orders trade ------------------------------------
        ask = min((o for o in left if o.side == "SELL"), key=lambda o: o.price)
        await taker.place_order(SYMBOL, "BUY", Decimal("30"), ask.price, order_type="LIMIT")

        # --- run 2: adopt, settle, catch up ------------------------------------------------------
        second = make_engine(sim_quiet, key, secret, store=store, levels=LEVELS, spread="0.06")
        async with running(second):
            om2 = second.runners[0].om
            assert om2.stats.adopted >= len(left) - 1, "our orphans were adopted, not re-placed"
            await wait_for(lambda: two_sided(second), "run 2 quotes")

            async def exactly_one_ladder() -> bool:
                orders = await our_open_orders(client)
                tracked = {o.client_order_id for o in om2.resting()}
                per_side = [sum(1 for o in orders if o.side == s) for s in ("BUY", "SELL")]
                return per_side == [LEVELS, LEVELS] and {o.clientOrderId for o in orders} <= tracked

            await wait_for_async(exactly_one_ladder, "one ladder on the exchange, all ours tracked")
            # Not one of run 1's orders is left behind untracked.
            tracked_all = set(om2.orders)
            for o in await our_open_orders(client):
                assert o.clientOrderId in tracked_all
    # --- the store against the exchange's ledger -------------------------------------------------
    ledger = await admin(sim_quiet, "GET", f"/sim/admin/ledger?account_id={account}")
    exchange_fills = sorted(str(f["id"]) for f in ledger["fills"])
    stored = [f.trade_id for f in store.fills(SYMBOL)]
    assert len(exchange_fills) >= 2
    assert sorted(stored) == exchange_fills, "every exchange fill is stored, exactly once"
    assert all(o["status"] in ("FILLED", "CANCELED") for o in ledger["orders"])
    assert all(o["clientOrderId"].startswith(PREFIX) for o in ledger["orders"])
    assert store.orders(open_only=True) == [], "no order left open in the store"
