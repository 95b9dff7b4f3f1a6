"""Safety against the simulator: unknown outcomes, the order budget, the kill switch, and the
client's own orders."""

from __future__ import annotations

import time
from decimal import Decimal

from liquidity_bot.engine.budget import OrderBudget

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


async def test_unknown_outcome_is_reconciled_without_a_duplicate(sim_quiet, store):
    account, key, secret = await new_key(sim_quiet)
    # Every order request is executed, but the answer is a 5xx: the outcome is unknown.
    await admin(sim_quiet, "POST", "/sim/admin/faults", {
        "unknown_outcome": {"probability": 1.0, "accepted_probability": 1.0,
                            "methods": ["POST"], "paths": ["/api/v1/order"]},
    })
    engine = make_engine(sim_quiet, key, secret, store=store, levels=2)
    async with rest(sim_quiet, key, secret) as client, running(engine):
        om = engine.runners[0].om
        await wait_for(lambda: two_sided(engine) and len(om.resting()) == 2,
                       "both quotes known to rest, via status queries")
        assert om.stats.unknown_outcomes >= 2
        assert om.stats.placed == 0, "no place() call got an answer"
        # Settled by the status query or by the user stream's "created" push, whichever came
        # first; nothing was re-sent in between.
        assert om.stats.resolved_by_query + om.stats.unknown_outcomes >= 2
        on_exchange = await our_open_orders(client)
        assert sorted(o.clientOrderId for o in on_exchange) == sorted(
            o.client_order_id for o in om.resting()
        )
        await admin(sim_quiet, "POST", "/sim/admin/faults", {})
    ledger = await admin(sim_quiet, "GET", f"/sim/admin/ledger?account_id={account}")
    cids = [o["clientOrderId"] for o in ledger["orders"]]
    assert len(cids) == len(set(cids)), "no client id reached the exchange twice"
    created = [t for t in om.orders.values()]
    # Each order the manager created exists exactly once on the exchange, none more.
    assert sorted(cids) == sorted(t.order.client_order_id for t in created)
    assert all(o["status"] != "NEW" for o in ledger["orders"]), "all cancelled at shutdown"
    by_order: dict[str, list[str]] = {}
    for e in store.order_events():
        by_order.setdefault(e.client_order_id, []).append(e.event)
    for cid, events in by_order.items():
        assert events.count("SUBMIT") == 1, (cid, events)
        assert "TIMEOUT" in events, (cid, events)
        settled = events.index("TIMEOUT") + 1
        assert {"ACK", "RECONCILE_NEW"} & set(events[settled:]), (cid, events)


async def test_order_budget_is_never_exceeded(sim_calm):
    account, key, secret = await new_key(sim_calm)
    # 18 requests a minute for quoting; the headroom (to 24) is for cancelling at the end.
    budget = OrderBudget(limit=24, headroom=Decimal("0.25"), reserve_share=Decimal("0.3"))
    # Zero price tolerance: every move of the market wants a replacement.
    engine = make_engine(sim_calm, key, secret, levels=3, spread="0.1", ticks=0, budget=budget)
    async with running(engine):
        om = engine.runners[0].om
        await wait_for(lambda: om.stats.budget_skipped > 0,
                       "the budget binds (actions wait)", timeout=30)
        assert budget.used() <= budget.target
    assert budget.capacity == 18 and budget.target == 18
    assert budget.max_in_any_window() <= budget.hard_limit
    # The exchange agrees: its per-user order window never held more, and never said 429.
    assert sim_calm.rate_limiter.counters["429"] == 0
    assert sim_calm.rate_limiter.used("orders_user_seconds", account) <= budget.hard_limit


async def test_scarce_budget_goes_to_restoring_both_sides_first(sim_quiet):
    _, key, secret = await new_key(sim_quiet)
    # Room for 4 requests (and 4 more of headroom, for the cancels at the end).
    budget = OrderBudget(limit=8, headroom=Decimal("0.5"), reserve_share=Decimal("0.5"))
    engine = make_engine(sim_quiet, key, secret, levels=3, size="200", budget=budget)
    async with running(engine):
        om = engine.runners[0].om
        runner = engine.runners[0]
        await wait_for(lambda: two_sided(engine), "two-sided quotes")
        inner = {(q.side, q.level) for q in runner.last_quotes.quotes if q.level == 0}
        assert len(inner) == 2
        resting = om.resting()
        assert {o.side for o in resting} == {q[0] for q in inner}, "both sides restored first"
        assert om.stats.spent.get("RESTORE", 0) >= 2
        await wait_for(lambda: om.stats.budget_skipped > 0, "the rest waits for the budget")
        assert budget.used() <= budget.target == 4


async def test_kill_switch_cancels_everything(sim_calm):
    _, key, secret = await new_key(sim_calm)
    engine = make_engine(sim_calm, key, secret, levels=2, loss_limit="50", on_loss="stop")
    async with rest(sim_calm, key, secret) as client, running(engine):
        runner = engine.runners[0]
        await wait_for(lambda: two_sided(engine), "two-sided quotes")
        assert await our_open_orders(client)
        # The gate marks a crash of the mid after we bought 20000 XRP: they lose far more
        # than the 50 USDT limit against holding.
        mid = runner.book.mid
        now = int(time.time() * 1000)
        runner.risk.on_fill(now, "BUY", mid, Decimal("20000"))
        runner.risk.on_mid(now, mid / 2)
        assert runner.risk.killed
        await wait_for(lambda: runner.status == "killed" and not runner.om.resting(),
                       "everything cancelled by the kill switch")

        async def none_open() -> bool:
            return await our_open_orders(client) == []

        await wait_for_async(none_open, "no order of ours left on the exchange")
        placed = runner.om.stats.placed
        passes = runner.obligation.samples
        await wait_for(lambda: runner.obligation.samples >= passes + 5, "more passes")
        assert runner.om.stats.placed == placed, "nothing is placed while killed"


async def test_clients_own_orders_are_never_touched(sim_quiet, store):
    account, key, secret = await new_key(sim_quiet)
    async with rest(sim_quiet, key, secret) as client:
        # The client's manual orders on the same account: no prefix, and a look-alike prefix.
        manual = await client.place_order(SYMBOL, "BUY", Decimal("100"), Decimal("0.4500"),
                                          order_type="LIMIT", client_order_id="manual1")
        lookalike = await client.place_order(SYMBOL, "SELL", Decimal("100"), Decimal("0.5500"),
                                             order_type="LIMIT", client_order_id=PREFIX + "x")
        for _ in range(2):  # two runs: start-up orphan scan, quoting, shutdown cancel-all
            engine = make_engine(sim_quiet, key, secret, store=store, levels=2)
            async with running(engine):
                await wait_for(lambda engine=engine: two_sided(engine), "two-sided quotes")
        still = {o.clientOrderId: o for o in await client.open_orders(SYMBOL)}
        assert set(still) == {"manual1", PREFIX + "x"}
        assert still["manual1"].orderId == manual.orderId
        assert still[PREFIX + "x"].orderId == lookalike.orderId
    assert store.order("manual1") is None and store.order(PREFIX + "x") is None
