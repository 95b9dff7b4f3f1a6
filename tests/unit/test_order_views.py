"""The order manager's kept views against a computation from scratch, over random sequences of
order events (property tests).

``OrderManager`` keeps its views of our orders (live, resting, may be on the book, the
planner's live view, the risk gate's exposure) per ``version`` and hands them out again until
an order changes. Here every view read after every step of a random history (new orders,
acknowledgements, partial and full fills, cancel requests and their answers, rejects, expiries,
time passing) must equal what the code before the kept views computed, written out below
from the tracked orders alone. The kept views are read as they are in production
(``verify_views`` off: the suite-wide check would compare them itself).
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st
from test_order_manager import INSTRUMENT, RISK, SYMBOL  # (tests/unit is on sys.path)

from liquidity_bot.domain.events import CancelAck, CancelReject, Expired, Fill, OrderAck, Reject
from liquidity_bot.domain.order import OrderEvent, OrderState, Side
from liquidity_bot.engine.budget import OrderBudget
from liquidity_bot.engine.order_manager import SETTLE_MS, Balances, ClientIds, OrderManager
from liquidity_bot.engine.planner import LiveOrder, PlanRules
from liquidity_bot.engine.risk import AccountState, RiskGate
from liquidity_bot.strategies.base import DesiredQuote
from liquidity_bot.testing import FakeVenue

D = Decimal
ZERO = D(0)
_CANCELLABLE = (OrderState.NEW, OrderState.PARTIALLY_FILLED)


class StepClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.ms = 1_700_000_000_000

    def time(self) -> float:
        return self.ms / 1000

    def monotonic(self) -> float:
        return self.ms / 1000

    def now_ms(self) -> int:
        return self.ms


def _manager(clock: StepClock, min_rest_ms: int) -> OrderManager:
    balances = Balances()
    balances.set("XRP", D("10000"), D("5"))
    balances.set("USDT", D("10000"), D(0))
    om = OrderManager(
        FakeVenue(), INSTRUMENT, budget=OrderBudget(), risk=RiskGate(SYMBOL, RISK, {"k": [SYMBOL]}),
        writer=None, balances=balances, key_label="k", client_ids=ClientIds("lb", clock),
        rules=PlanRules(min_rest_ms=min_rest_ms), clock=clock,
    )
    om.verify_views = False  # read the kept views as production does
    return om


# --- the views from scratch (the code before the kept views, over the tracked orders) --------
def _unfinished(om: OrderManager) -> list:
    return [t for t in om.orders.values() if not t.order.is_terminal]


def _live_view(om: OrderManager) -> list[LiveOrder]:
    born = om.time.now_ms() - max(om.rules.min_rest_ms, SETTLE_MS)
    out = []
    for t in _unfinished(om):
        o = t.order
        if not o.may_be_live or o.state is OrderState.PENDING_CANCEL:
            continue
        out.append(LiveOrder(o.client_order_id, o.side, o.price, o.remaining_qty,
                             cancellable=o.state in _CANCELLABLE,
                             young=t.created_ms > born or o.state not in _CANCELLABLE))
    return out


def _account(om: OrderManager, excluding: object = None) -> AccountState:
    """The risk gate's view, summed side by side over the orders that may be live."""
    inst = om.instrument
    live = [t for t in _unfinished(om) if t.order.may_be_live]
    counted = [t.order for t in live if t is not excluding]
    freed = [t.order for t in live if t is excluding]

    def total(side: Side, value, only_pending: bool = False) -> Decimal:  # type: ignore[no-untyped-def]
        return sum((value(o) for o in counted if o.side is side and (
            not only_pending or o.state in (OrderState.PENDING_NEW, OrderState.UNKNOWN))), ZERO)

    notional, qty = (lambda o: o.remaining_qty * o.price), (lambda o: o.remaining_qty)
    freed_quote = sum((notional(o) for o in freed if o.side is Side.BUY), ZERO)
    freed_base = sum((qty(o) for o in freed if o.side is Side.SELL), ZERO)
    free = om.balances.free
    return AccountState(
        base_free=free.get(inst.base, ZERO) - total(Side.SELL, qty, True) + freed_base,
        quote_free=free.get(inst.quote, ZERO) - total(Side.BUY, notional, True) + freed_quote,
        base_total=om.balances.total(inst.base),
        open_buy_notional=total(Side.BUY, notional), open_sell_notional=total(Side.SELL, notional),
        open_buy_qty=total(Side.BUY, qty), open_sell_qty=total(Side.SELL, qty))


def _check(om: OrderManager) -> None:
    """Every kept view equals the fresh one (read twice: the second read is the kept one)."""
    for _ in range(2):
        assert om.live_view() == _live_view(om)
        assert om.resting() == [t.order for t in _unfinished(om) if t.order.is_open]
        for side in Side:
            assert om.resting(side) == [t.order for t in _unfinished(om)
                                        if t.order.is_open and t.order.side is side]
        assert om.maybe_on_book() == [t.order for t in _unfinished(om) if t.order.may_be_live]
        assert om.live() == [t for t in _unfinished(om) if t.order.may_be_live]
        assert om._unfinished() == _unfinished(om)
        for side in Side:
            assert om._account(side) == _account(om)
        for t in _unfinished(om):
            assert om._account(t.order.side, t) == _account(om, t)


# --- random histories ------------------------------------------------------------------------
STEPS = st.lists(
    st.tuples(
        st.sampled_from(["new", "ack", "part", "fill", "cancel", "cancel_ack", "cancel_reject",
                         "reject", "expire", "timeout", "time", "balance", "prune"]),
        st.integers(0, 1_000_000),
    ),
    min_size=1, max_size=60,
)


@settings(max_examples=150, deadline=None)
@given(steps=STEPS, min_rest_ms=st.sampled_from([0, 2000, 5000]))
def test_kept_views_equal_fresh_ones_over_random_order_histories(steps, min_rest_ms) -> None:
    async def run() -> None:
        clock = StepClock()
        om = _manager(clock, min_rest_ms)
        om.finished_grace_s = 1.0
        trades = 0
        _check(om)
        for kind, n in steps:
            orders = list(om.orders.values())
            t = orders[n % len(orders)] if orders else None
            cid = t.order.client_order_id if t is not None else ""
            if kind == "new" or t is None:
                side = Side.BUY if n % 2 else Side.SELL
                price = D("0.5") + (D(n % 40) - 20) * INSTRUMENT.tick
                om._register(DesiredQuote(side, price, D(10 + n % 50), 1, n % 3, True))
            elif kind == "ack":
                om.on_message(OrderAck(ts_ms=clock.ms, symbol=SYMBOL, client_order_id=cid,
                                       exchange_order_id=f"x{cid}"))
            elif kind in ("part", "fill"):
                left = t.order.remaining_qty
                if left <= 0:
                    continue
                qty = left if kind == "fill" or left <= 1 else D(1 + n % int(left))
                trades += 1
                om.on_fill(Fill(ts_ms=clock.ms, symbol=SYMBOL, client_order_id=cid,
                                exchange_order_id=None, trade_id=f"t{trades}",
                                side=t.order.side, price=t.order.price, qty=min(qty, left)))
            elif kind == "cancel":
                if t.order.state in _CANCELLABLE:
                    om._request_cancel(t)
            elif kind == "cancel_ack":
                om.on_message(CancelAck(ts_ms=clock.ms, symbol=SYMBOL, client_order_id=cid))
            elif kind == "cancel_reject":
                om.on_message(CancelReject(ts_ms=clock.ms, symbol=SYMBOL, client_order_id=cid,
                                           code=-2013, reason="not found"))
            elif kind == "reject":
                om.on_message(Reject(ts_ms=clock.ms, symbol=SYMBOL, client_order_id=cid,
                                     code=-1, reason="no"))
            elif kind == "expire":
                om.on_message(Expired(ts_ms=clock.ms, symbol=SYMBOL, client_order_id=cid))
            elif kind == "timeout":
                om._apply(t, OrderEvent.TIMEOUT)
            elif kind == "time":
                clock.ms += n % 7000
            elif kind == "balance":
                om.balances.set("XRP", D(n % 1000), D(n % 7))
            elif kind == "prune":
                clock.ms += 2000
                om.prune_finished()
            _check(om)
        await om.close()

    asyncio.run(run())
