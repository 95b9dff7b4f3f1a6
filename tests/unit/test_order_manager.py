"""OrderManager against an in-memory venue: keep vs replace, never cross, risk, ids, orphans,
unknown outcomes. (The same manager runs against the simulator in tests/scenarios.)"""

from __future__ import annotations

import asyncio
import re
from decimal import Decimal

import msgspec
import pytest

from liquidity_bot.config import RiskConfig
from liquidity_bot.domain.book import OrderBook
from liquidity_bot.domain.events import CancelAck, Fill
from liquidity_bot.domain.instrument import Instrument
from liquidity_bot.domain.order import OrderState, Side
from liquidity_bot.engine.budget import OrderBudget
from liquidity_bot.engine.order_manager import (
    MAX_CLIENT_ID_LEN,
    Balances,
    ClientIds,
    OrderManager,
    Tolerance,
)
from liquidity_bot.engine.planner import PlanRules
from liquidity_bot.engine.risk import RiskGate
from liquidity_bot.strategies.base import DesiredQuote, QuoteSet
from liquidity_bot.testing import FakeVenue
from liquidity_bot.venues.errors import UnknownOutcome
from liquidity_bot.venues.port import OrderSnapshot, OrderStatus

D = Decimal
SYMBOL = "XRPUSDT"
INSTRUMENT = Instrument(
    symbol=SYMBOL, base="XRP", quote="USDT", tick=D("0.0001"), step=D("0.1"),
    price_scale=4, volume_scale=1, min_price=D("0.0001"), max_price=None, min_qty=D("0.1"),
    max_qty=None, min_val=D("1"),
)


def _with_status(snap: OrderSnapshot, status: str) -> OrderSnapshot:
    return FakeVenue.with_status(snap, OrderStatus(status))


RISK = RiskConfig(
    max_order_notional=D("500"), max_open_notional_per_side=D("1000"),
    max_base_inventory=D("100000"), daily_loss_limit=D("1000"),
)


def manager(venue: FakeVenue, *, risk: RiskConfig = RISK, budget: OrderBudget | None = None,
            tolerance: Tolerance = Tolerance(price_ticks=1),
            rules: PlanRules | None = None) -> OrderManager:
    balances = Balances()
    balances.set("XRP", D("10000"), D(0))
    balances.set("USDT", D("10000"), D(0))
    gate = RiskGate(SYMBOL, risk, {"k": [SYMBOL]})
    gate.on_mid(1, D("0.5"))
    om = OrderManager(
        venue, INSTRUMENT, budget=budget or OrderBudget(clock=lambda: BUDGET_CLOCK[0]),
        risk=gate, writer=None,
        balances=balances, key_label="k", client_ids=ClientIds("lb"), tolerance=tolerance,
        recv_window_ms=0,
        rules=None if rules is None else _with_tolerance(rules, tolerance),
    )
    book = OrderBook(SYMBOL)
    book.apply_snapshot(((D("0.4995"), D("100")),), ((D("0.5005"), D("100")),), 1)
    om.book = book
    return om


def _with_tolerance(rules: PlanRules, tolerance: Tolerance) -> PlanRules:
    from dataclasses import replace

    return replace(rules, tolerance=tolerance)


def q(side: Side, price: str, qty: str = "100", level: int = 0, prio: int | None = None,
      critical: bool = True) -> DesiredQuote:
    return DesiredQuote(side=side, price=D(price), qty=D(qty), level=level,
                        priority=level if prio is None else prio, obligation_critical=critical)


def qs(*quotes: DesiredQuote) -> QuoteSet:
    return QuoteSet(symbol=SYMBOL, now_ms=1,
                    bids=tuple(x for x in quotes if x.side is Side.BUY),
                    asks=tuple(x for x in quotes if x.side is Side.SELL))


LADDER = (q(Side.BUY, "0.4990", level=0), q(Side.BUY, "0.4980", level=1),
          q(Side.SELL, "0.5010", level=0), q(Side.SELL, "0.5020", level=1))
INNER = {(Side.BUY, D("0.4990")), (Side.SELL, D("0.5010"))}


BUDGET_CLOCK = [0.0]  # the default budget's clock: ``age`` moves it on


def age(om: OrderManager, seconds: float = 10.0) -> None:
    """As if every order had rested ``seconds`` longer (the planner waits for young orders)
    and the budget had refilled for as long."""
    for t in om.orders.values():
        t.created_ms -= int(seconds * 1000)
    om.version += 1  # changed behind the manager's back: its kept views must be recomputed
    BUDGET_CLOCK[0] += seconds


def prices(om: OrderManager) -> set[tuple[Side, D]]:
    return {(o.side, o.price) for o in om.resting() if o.state is not OrderState.PENDING_CANCEL}


def test_client_ids_are_unique_short_alphanumeric_and_prefix_exact():
    ids = ClientIds("lbav")
    made = {ids.new() for _ in range(5000)}
    assert len(made) == 5000
    assert all(re.fullmatch(r"[A-Za-z0-9]{1,32}", c) for c in made)
    assert all(len(c) <= MAX_CLIENT_ID_LEN for c in made)
    assert all(ids.is_ours(c) for c in made)
    short = ClientIds("lb")
    assert not any(short.is_ours(c) for c in made), "prefix lb must not claim lbav's orders"
    assert not short.is_ours("lbmanual") and not short.is_ours(None) and not short.is_ours("")
    with pytest.raises(ValueError):
        ClientIds("has-dash")


async def test_places_each_sides_inner_quote_then_keeps_it():
    """Without obligations the inner quote of each side is restored at once; the outer
    levels are decoration, added one at a time once the newest order has settled."""
    venue = FakeVenue()
    om = manager(venue)
    await om.sync(qs(*LADDER))
    assert venue.places() == 2 and venue.cancels() == 0
    assert prices(om) == INNER
    await om.sync(qs(*LADDER))
    await om.sync(qs(q(Side.BUY, "0.4991"), *LADDER[1:]))  # one tick: within tolerance
    assert venue.places() == 2 and venue.cancels() == 0, "queue position is kept"
    for _ in range(3):  # settled: the decoration follows, only while the budget is plentiful
        age(om)
        await om.sync(qs(*LADDER))
    assert venue.places() == 4 and prices(om) == {(x.side, x.price) for x in LADDER}


async def test_replaces_only_what_moved_beyond_tolerance_new_order_first():
    venue = FakeVenue()
    om = manager(venue)
    core = (LADDER[0], LADDER[2])
    await om.sync(qs(*core))
    moved = (q(Side.BUY, "0.4985", level=0), LADDER[2])
    await om.sync(qs(*moved))
    assert venue.places() == 2, "young orders are not chased: the last change settles first"
    age(om)
    await om.sync(qs(*moved))
    assert venue.places() == 3 and venue.cancels() == 0, "the new order goes out alone"
    await om.sync(qs(*moved))
    assert venue.cancels() == 0, "the old one stays until the new one has settled"
    age(om)
    await om.sync(qs(*moved))
    assert venue.places() == 3 and venue.cancels() == 1
    assert prices(om) == {(x.side, x.price) for x in moved}


async def test_a_partial_fill_that_breaks_the_depth_is_topped_up_not_replaced():
    venue = FakeVenue()
    om = manager(venue, rules=PlanRules(min_depth_quote=D("40"), inner_cover=D("1.25"),
                                        backup_cover=D("1.25")))
    await om.sync(qs(LADDER[0], LADDER[2]))
    bid = next(o for o in om.resting() if o.side is Side.BUY)
    assert bid.qty == D("100"), "too little size for a backup: one order carries the depth"
    om.on_message(Fill(ts_ms=2, symbol=SYMBOL, client_order_id=bid.client_order_id,
                       exchange_order_id=bid.exchange_order_id, trade_id="t1", side=Side.BUY,
                       price=D("0.4990"), qty=D("50")))
    assert bid.state is OrderState.PARTIALLY_FILLED and om.base_traded == D("50")
    om.on_message(Fill(ts_ms=2, symbol=SYMBOL, client_order_id=bid.client_order_id,
                       exchange_order_id=bid.exchange_order_id, trade_id="t1", side=Side.BUY,
                       price=D("0.4990"), qty=D("50")))
    assert om.base_traded == D("50"), "a repeated trade id counts once"
    venue.requests.clear()
    age(om)  # a fill on an order placed moments ago waits for it to settle
    await om.sync(qs(LADDER[0], LADDER[2]))
    kinds = [kind for kind, _ in venue.requests]
    assert "cancel" not in kinds and kinds.count("place") >= 1
    new = [o for o in om.resting() if o.side is Side.BUY and o is not bid]
    assert new and new[0].price == D("0.4990"), "one new order at the inner price"
    assert bid.state is OrderState.PARTIALLY_FILLED, "the partly filled order keeps its place"


async def test_never_crosses_the_opposite_best_price():
    venue = FakeVenue()
    om = manager(venue)
    # The book moved: best ask 0.5005, best bid 0.4995. Desired prices that would take.
    await om.sync(qs(q(Side.BUY, "0.5010"), q(Side.SELL, "0.4990")))
    prices = {o.side: o.price for o in om.resting()}
    assert prices[Side.BUY] == D("0.5004") and prices[Side.SELL] == D("0.4996")
    assert om.stats.crossing_fixed == 2


async def test_every_order_goes_through_the_risk_gate():
    venue = FakeVenue()
    small = RiskConfig(max_order_notional=D("40"), max_open_notional_per_side=D("1000"),
                       max_base_inventory=D("100000"), daily_loss_limit=D("1000"))
    om = manager(venue, risk=small)
    await om.sync(qs(*LADDER))  # 100 x 0.5 = 50 > 40 per order
    assert venue.places() == 0 and om.stats.rejected_by_risk == 2
    assert om.risk.counts() == {"MAX_ORDER_NOTIONAL": 2}
    assert om.budget.used() == 0, "a refused order is not charged to the budget"


async def test_a_replacement_waits_whole_when_the_budget_has_one_request_left():
    """An order is never cancelled for the budget's sake without its replacement going out:
    with one request left, a level that should move is kept where it is."""
    venue = FakeVenue()
    now = [0.0]
    b = OrderBudget(limit=100, headroom=D(0), reserve_share=D(0), clock=lambda: now[0])
    om = manager(venue, budget=b, rules=PlanRules(max_spread_pct=D("1"),
                                                  min_depth_quote=D("20")))
    await om.sync(qs(LADDER[0], LADDER[2]))
    assert INNER <= prices(om)
    before = prices(om)
    age(om)
    # spend the bucket down to a single request
    while b.allowance(SYMBOL).restore > 1:
        assert b.spend(SYMBOL, 1)
    venue.requests.clear()
    far = (q(Side.BUY, "0.4940"), q(Side.SELL, "0.5060"))  # our spread must move inward
    await om.sync(qs(*far))
    assert ("cancel" not in [kind for kind, _ in venue.requests]), "nothing pulled"
    assert before <= prices(om), "the stale level is kept rather than pulled"
    assert len(venue.requests) <= 1, "never more than the one request left"
    assert om.stats.budget_skipped >= 1


async def test_orphans_with_our_prefix_are_adopted_others_never_touched():
    venue = FakeVenue()
    ours = ClientIds("lb").new()
    venue.rest(ours, Side.BUY, "0.4990", "100")
    venue.rest("manual1", Side.BUY, "0.4000", "100")
    venue.rest("lbmanual", Side.SELL, "0.6000", "100")
    om = manager(venue)
    await om.start()
    assert set(om.orders) == {ours} and om.stats.adopted == 1
    await om.sync(qs(*LADDER))
    assert venue.places() == 1, "the adopted order counts as the inner bid"
    await om.cancel_all("test")
    assert venue.book["manual1"].status == "NEW" and venue.book["lbmanual"].status == "NEW"
    assert venue.book[ours].status == "CANCELED"
    assert all(cid != "manual1" and cid != "lbmanual" for _, cid in venue.requests)
    om.on_message(CancelAck(ts_ms=3, symbol=SYMBOL, client_order_id="manual1"))
    assert "manual1" not in om.orders


async def test_unknown_outcome_is_queried_not_resent():
    venue = FakeVenue()
    venue.lose_answers = 2
    om = manager(venue)
    await om.sync(qs(*LADDER))
    assert om.stats.unknown_outcomes == 2
    for _ in range(50):
        if len(om.resting()) == 2:
            break
        await asyncio.sleep(0.01)
    assert len(om.resting()) == 2 and om.stats.resolved_by_query == 2
    await om.sync(qs(*LADDER))
    assert venue.places() == 2, "no order was placed again"
    assert ("query", om.resting()[0].client_order_id) in venue.requests


async def test_trades_reported_after_a_look_up_said_filled_count_without_a_warning(caplog):
    """An in-doubt order looked up as FILLED before the stream's trade report arrived: the
    trade is counted and stored, with no error and no second look-up."""

    class FilledMeanwhile(FakeVenue):
        async def query(self, symbol, *, client_order_id=None, exchange_order_id=None):
            snap = self.book[client_order_id]
            self.book[client_order_id] = msgspec.structs.replace(
                snap, status=OrderStatus.FILLED, filled_qty=snap.qty, filled_quote=snap.qty * snap.price)
            return await super().query(symbol, client_order_id=client_order_id)

    venue = FilledMeanwhile()
    venue.lose_answers = 1
    om = manager(venue)
    await om.sync(qs(LADDER[0]))
    cid = next(iter(om.orders))
    snap = venue.book[cid]
    for _ in range(50):
        if om.orders[cid].order.state is OrderState.FILLED:
            break
        await asyncio.sleep(0.01)
    order = om.orders[cid].order
    assert order.state is OrderState.FILLED and order.filled_qty == 0
    queries, errors = venue.requests.count(("query", cid)), om.stats.errors
    om.on_message(Fill(ts_ms=3, symbol=SYMBOL, client_order_id=cid,
                       exchange_order_id=snap.exchange_order_id, trade_id="t9", side=snap.side,
                       price=snap.price, qty=snap.qty))
    assert order.state is OrderState.FILLED and order.filled_qty == snap.qty
    assert om.stats.fills == 1 and om.stats.errors == errors
    assert "did not fit" not in caplog.text
    await asyncio.sleep(0.05)
    assert venue.requests.count(("query", cid)) == queries, "no second look-up"


async def test_unknown_outcome_that_never_arrived_is_rejected_after_recv_window():
    venue = FakeVenue()
    om = manager(venue)

    async def lost(*args, **kwargs):
        venue.requests.append(("place", kwargs.get("client_order_id") or args[4]))
        raise UnknownOutcome("no answer")

    venue.place = lost  # type: ignore[method-assign]
    await om.sync(qs(LADDER[0]))
    (t,) = om.orders.values()
    for _ in range(100):
        if t.order.state is OrderState.REJECTED:
            break
        await asyncio.sleep(0.02)
    assert t.order.state is OrderState.REJECTED


async def test_cancel_reject_is_settled_by_a_status_query():
    venue = FakeVenue()
    om = manager(venue)
    await om.sync(qs(LADDER[0]))
    (order,) = om.resting()
    # The order filled on the exchange before our cancel arrived.
    venue.book[order.client_order_id] = _with_status(venue.book[order.client_order_id], "FILLED")
    await om.cancel_all("test")
    for _ in range(100):
        if order.state is OrderState.FILLED:
            break
        await asyncio.sleep(0.01)
    assert order.state is OrderState.FILLED


async def test_in_doubt_orders_back_off_per_order_across_look_up_tasks(monkeypatch):
    """The order endpoint is down: an in-doubt order is asked about once per back-off step,
    however often settling code asks for a look-up (the soak saw 823 queries for 4 orders)."""
    from liquidity_bot.engine import order_manager as om_module
    from liquidity_bot.venues.bitrue.errors import ExchangeUnavailable, RateLimited

    monkeypatch.setattr(om_module, "QUERY_BACKOFF_MIN_S", 60.0)  # far beyond this test
    monkeypatch.setattr(om_module, "QUERY_BACKOFF_MAX_S", 600.0)
    venue = FakeVenue()
    venue.lose_answers = 1
    down: list[Exception] = [ExchangeUnavailable("GET order: HTTP 503")]
    real_query = venue.query

    async def query(symbol, **kw):
        if down:
            venue.requests.append(("query", kw.get("client_order_id")))
            raise down[0]
        return await real_query(symbol, **kw)

    venue.query = query  # type: ignore[method-assign]
    om = manager(venue)
    await om.sync(qs(LADDER[0]))
    (t,) = om.orders.values()
    for _ in range(100):
        if om.stats.status_queries:
            break
        await asyncio.sleep(0.01)
    loop = asyncio.get_running_loop()
    assert t.order.state is OrderState.UNKNOWN and t.next_query_at >= loop.time() + 59
    for _ in range(20):  # what settle_in_flight and sweep do, over and over
        await om.close()
        om._resolve_later(t)
        await asyncio.sleep(0)
    assert om.stats.status_queries == 1, "the back-off belongs to the order, not to a task"
    # Each failure doubles the wait; a Retry-After longer than that is honoured.
    down[0] = RateLimited("GET order: 429", policy="general", retry_after_s=5000)
    await om.close()
    t.next_query_at = 0.0  # as if the minute had passed
    om._resolve_later(t)
    for _ in range(100):
        if om.stats.status_queries == 2:
            break
        await asyncio.sleep(0.01)
    assert t.query_backoff_s == 120.0 and t.next_query_at >= loop.time() + 4990
    # The endpoint is back: the next look-up settles it, and the back-off starts over.
    down.clear()
    await om.close()
    t.next_query_at = 0.0
    om._resolve_later(t)
    for _ in range(100):
        if t.order.state is OrderState.NEW:
            break
        await asyncio.sleep(0.01)
    assert t.order.state is OrderState.NEW and t.query_backoff_s == 0.0
    assert venue.places() == 1
    await om.close()


async def test_finished_orders_are_pruned_after_the_grace_period():
    """Memory stays flat over a long run: finished orders leave ``orders`` after the grace
    period (the last few stay in ``recent``); live ones and late fills are unaffected."""
    venue = FakeVenue()
    om = manager(venue)
    now = [1000.0]
    om.clock = lambda: now[0]
    await om.sync(qs(*LADDER))
    first = {o.client_order_id for o in om.resting()}
    await om.cancel_all("test")  # both finish (CANCELED)
    assert len(om.orders) == 2 and om.stats.cancelled == 2
    now[0] += om.finished_grace_s - 1
    await om.sync(qs(*LADDER))  # re-quotes two new orders; the old ones are still in grace
    assert len(om.orders) == 4 and om.stats.pruned == 0
    now[0] += 2
    await om.sync(qs(*LADDER))
    assert om.stats.pruned == 2 and first.isdisjoint(om.orders)
    assert {o.client_order_id for o in om.recent} == first
    assert len(om.resting()) == 2 and venue.places() == 4  # the live ones were kept
    # A fill reported late for a pruned order (by exchange id only) is still ours and counted.
    gone = om.recent[0]
    late = Fill(ts_ms=2, symbol=SYMBOL, trade_id="999", client_order_id="",
                exchange_order_id=gone.exchange_order_id, side=gone.side, price=gone.price,
                qty=D("1"), fee=D(0), fee_asset="USDT", is_maker=True)
    om.on_fill(late)
    assert om.stats.fills == 1 and om.base_traded != 0


def test_latency_log_keeps_the_latest_samples_and_counts_all():
    from liquidity_bot.engine.order_manager import LatencyLog

    log = LatencyLog(maxlen=8)
    for ns in range(100):
        log.append(ns)
    assert isinstance(log, list) and len(log) <= 8 and log.total == 100
    assert log[-1] == 99 and log == list(range(100 - len(log), 100))


# --- passes that do not wait for their answers (the market loop's way) -------------------------
class SlowVenue(FakeVenue):
    """Placements stay on the wire until ``release`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()

    async def place(self, symbol, side, qty, price, client_order_id, *, order_type="LIMIT"):
        self.requests.append(("sent", client_order_id))
        await self.release.wait()
        self.requests.remove(("sent", client_order_id))
        return await super().place(symbol, side, qty, price, client_order_id)


async def _settle(om: OrderManager) -> None:
    while om._send_tasks:
        await asyncio.sleep(0)


async def test_a_pass_returns_before_the_answers_and_the_next_keeps_what_is_on_the_wire():
    venue = SlowVenue()
    om = manager(venue)
    await om.sync(qs(*LADDER), wait=False)
    assert len(om.live()) == 2
    assert all(t.order.state is OrderState.PENDING_NEW for t in om.live())
    await asyncio.sleep(0)
    assert sum(kind == "sent" for kind, _ in venue.requests) == 2  # both on the wire
    await om.sync(qs(*LADDER), wait=False)  # same quotes: the in-flight orders are kept
    assert len(om.live()) == 2
    venue.release.set()
    await _settle(om)
    assert venue.places() == 2 and venue.cancels() == 0
    assert all(t.order.state is OrderState.NEW for t in om.live())


async def test_orders_on_the_wire_are_waited_for_before_the_side_moves():
    venue = SlowVenue()
    om = manager(venue, tolerance=Tolerance(price_ticks=0))
    first = (q(Side.BUY, "0.4990"), q(Side.SELL, "0.5010"))
    second = (q(Side.BUY, "0.4989"), q(Side.SELL, "0.5011"))
    third = (q(Side.BUY, "0.4988"), q(Side.SELL, "0.5012"))
    await om.sync(qs(*first), wait=False)
    await om.sync(qs(*second), wait=False)  # the first are on the wire: nothing piles up
    await om.sync(qs(*third), wait=False)
    assert len(om.live()) == 2
    venue.release.set()
    await _settle(om)
    for _ in range(4):  # answered and settled: each side follows, new order first
        age(om)
        await om.sync(qs(*third), wait=True)
    assert prices(om) == {(x.side, x.price) for x in third}
    assert venue.places() == 4 and venue.cancels() == 2


async def test_new_orders_are_sent_before_the_cancels_of_the_orders_they_replace():
    venue = FakeVenue()
    om = manager(venue, tolerance=Tolerance(price_ticks=0))
    await om.sync(qs(q(Side.BUY, "0.4990")))
    age(om)
    venue.requests.clear()
    await om.sync(qs(q(Side.BUY, "0.4985")))
    age(om)
    await om.sync(qs(q(Side.BUY, "0.4985")))
    assert [kind for kind, _ in venue.requests] == ["place", "cancel"]


async def test_the_first_order_of_a_pass_records_the_latency_from_its_book():
    import time

    venue = FakeVenue()
    om = manager(venue)
    trigger = time.perf_counter_ns()
    await om.sync(qs(*LADDER), trigger_ns=trigger)
    assert om.stats.latencies_ns.total == 1  # one sample per pass, not per order
    assert 0 < om.stats.latencies_ns[-1] < 10**10
    await om.sync(qs(*LADDER))  # nothing to send, and no book: no sample
    assert om.stats.latencies_ns.total == 1


async def test_an_unexpected_failure_on_the_wire_is_counted_and_the_order_looked_up():
    class Broken(FakeVenue):
        async def place(self, *args, **kwargs):  # noqa: ANN002, ANN003
            raise ConnectionResetError("peer went away")

    venue = Broken()
    om = manager(venue)
    await om.sync(qs(LADDER[0]), wait=False)
    await _settle(om)
    assert om.stats.errors == 1 and om.stats.unknown_outcomes == 1
    (t,) = om.orders.values()
    assert t.order.state in (OrderState.UNKNOWN, OrderState.REJECTED)
    await om.close()


async def test_close_lets_requests_on_the_wire_finish():
    venue = SlowVenue()
    om = manager(venue)
    await om.sync(qs(LADDER[0]), wait=False)
    await asyncio.sleep(0)
    asyncio.get_running_loop().call_later(0.05, venue.release.set)
    await om.close()
    (t,) = om.orders.values()
    assert t.order.state is OrderState.NEW  # answered, not cut off into an unknown outcome


async def test_finished_orders_leave_the_pass_index_but_stay_findable():
    venue = FakeVenue()
    om = manager(venue, tolerance=Tolerance(price_ticks=0))
    await om.sync(qs(q(Side.BUY, "0.4990")))
    age(om)
    await om.sync(qs(q(Side.BUY, "0.4985")))
    age(om)
    await om.sync(qs(q(Side.BUY, "0.4985")))
    assert len(om.orders) == 2  # the cancelled one is kept for late reports
    assert len(om._unfinished()) == 1
    assert [o.price for o in om.resting()] == [D("0.4985")]
