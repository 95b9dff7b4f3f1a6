"""The order manager of one market: make the live orders look like the desired quotes, cheaply.

Bitrue lets a user send 100 order requests a minute (cancels count), so the manager
- keeps a live order whose price and remaining size are within tolerance of a desired quote
  (queue position has value), and replaces as few orders as possible;
- spends the key's ``OrderBudget`` by priority: obligation-critical levels first;
- never sends a bid at or above the best ask (or an ask at or below the best bid): Bitrue has
  no post-only order, so a crossing quote would take liquidity;
- runs every new order through the risk gate and tags it with the market's client-id prefix;
- never touches an order without that prefix (the client's own orders on the same account);
- settles an ``UnknownOutcome`` by querying the client order id before acting on it again;
- at start adopts its own orphans (they are matched against the quotes like any live order)
  and settles orders the store still thinks are open;
- starts a pass's requests without waiting for their answers (the market loop answers the next
  book at once); an order still on the wire cannot be cancelled yet, so at most one stale
  generation of orders stands beside the desired one, and its answer wakes the loop to cancel it;
- persists every order, order event and fill (fills once per trade id).
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
import secrets
import time
from collections import deque
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any, ClassVar, NamedTuple

import msgspec

from liquidity_bot.domain.book import OrderBook
from liquidity_bot.domain.events import (
    CancelAck,
    CancelReject,
    Expired,
    Fill,
    OrderAck,
    OrderMessage,
    Reject,
)
from liquidity_bot.domain.instrument import Instrument
from liquidity_bot.domain.order import (
    MAYBE_LIVE_STATES,
    OPEN_STATES,
    TERMINAL_STATES,
    InvalidFill,
    InvalidTransition,
    Order,
    OrderEvent,
    OrderState,
    Side,
)
from liquidity_bot.engine.budget import OrderBudget
from liquidity_bot.engine.clock import LIVE, Clock
from liquidity_bot.engine.eager import run_now, start_now
from liquidity_bot.engine.persistence import StoreWriter
from liquidity_bot.engine.planner import LiveOrder, Plan, PlanRules, Purpose, Tolerance, plan
from liquidity_bot.engine.risk import AccountState, RiskGate
from liquidity_bot.store import OrderEventRecord
from liquidity_bot.strategies.base import DesiredQuote, QuoteSet
from liquidity_bot.venues.errors import UnknownOutcome, VenueError, retry_after_s
from liquidity_bot.venues.port import OrderSnapshot, OrderStatus, Venue

log = logging.getLogger(__name__)

ZERO = Decimal(0)
HUNDRED = Decimal(100)
QUERY_BACKOFF_MIN_S = 0.25  # first wait after a failed look-up of an in-doubt order
QUERY_BACKOFF_MAX_S = 8.0
# A finished order stays in ``orders`` this long (late reports, e.g. a fill pushed after the
# cancel ack, still find it), then only in ``recent`` (the last RECENT_FINISHED, for views).
FINISHED_GRACE_S = 120.0
# A new order is "young" this long at least (longer with the obligations' min_rest_s): the planner
# waits for it before it improves or trims the same side again, one change at a time.
SETTLE_MS = 3000
RECENT_FINISHED = 200

# Bitrue documents newClientOrderId as a unique id without a length; Hummingbot's Bitrue
# connector caps it at 32 characters and the simulator accepts 1-64 of [A-Za-z0-9._:/-]. We use
# letters and digits only and at most 8 + 16 = 24 characters, which every reading allows.
SUFFIX_LEN = 16
MAX_CLIENT_ID_LEN = 32
_BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"


_BASE36_PAIRS = tuple(a + b for a in _BASE36 for b in _BASE36)  # 0..1295 -> two digits


def _base36(n: int, width: int) -> str:
    """``n`` in ``width`` base-36 digits (``width`` even; higher digits of ``n`` are dropped),
    two digits per table look-up: an id is made on the tick-to-order path."""
    pairs = []
    for _ in range(width // 2):
        n, r = divmod(n, 1296)
        pairs.append(_BASE36_PAIRS[r])
    return "".join(reversed(pairs))


class ClientIds:
    """Client order ids ``<prefix><16 chars>``: time, counter and randomness, unique across runs.

    The suffix has a fixed length, so prefix ``lb`` does not claim the orders of prefix ``lbav``.
    The random part comes from a generator seeded once from the OS: it only has to differ
    between runs that share a millisecond and a counter value, and ``os.urandom`` (a system
    call, about 15 us on these machines) per order was a visible part of tick-to-order.
    """

    def __init__(self, prefix: str, clock: Clock = LIVE) -> None:
        self.clock = clock
        if not re.fullmatch(r"[A-Za-z0-9]{1,8}", prefix):
            raise ValueError(f"client id prefix {prefix!r} must be 1-8 letters or digits")
        self.prefix = prefix
        self._pattern = re.compile(re.escape(prefix) + f"[0-9a-z]{{{SUFFIX_LEN}}}")
        self._random = random.Random(secrets.randbits(128))
        self._counter = self._random.randrange(36**3)

    def new(self) -> str:
        self._counter = (self._counter + 1) % 36**4
        return (
            self.prefix
            + _base36(self.clock.now_ms(), 8)
            + _base36(self._counter, 4)
            + _base36(self._random.randrange(36**4), 4)
        )

    def is_ours(self, client_order_id: str | None) -> bool:
        return bool(client_order_id) and self._pattern.fullmatch(client_order_id) is not None


class Balances:
    """Latest free/locked amount per asset of one account (shared by the key's markets)."""

    def __init__(self) -> None:
        self.free: dict[str, Decimal] = {}
        self.locked: dict[str, Decimal] = {}

    def set(self, asset: str, free: Decimal, locked: Decimal) -> None:
        self.free[asset.upper()] = free
        self.locked[asset.upper()] = locked

    def items(self) -> list[tuple[str, tuple[Decimal, Decimal]]]:
        """(asset, (free, locked)) for every asset seen."""
        return [(a, (f, self.locked.get(a, ZERO))) for a, f in sorted(self.free.items())]

    def total(self, asset: str) -> Decimal:
        asset = asset.upper()
        return self.free.get(asset, ZERO) + self.locked.get(asset, ZERO)


@dataclass(eq=False)
class Tracked:
    """An order of ours and what the manager knows about why it exists."""

    order: Order
    created_ms: int
    priority: int = 10_000
    critical: bool = False
    sent_ms: int | None = None  # wall time of the last create/cancel request
    resolving: bool = False
    adopted: bool = False
    # In-doubt look-ups back off per order, across look-up tasks and re-adoptions: an order
    # endpoint that is down must not be asked about the same order several times a second.
    query_backoff_s: float = 0.0
    next_query_at: float = 0.0  # event-loop time before which this order is not queried
    submit_saved: bool = True  # False while a new order's SUBMIT is not handed to the store


class LatencyLog(list):  # type: ignore[type-arg]
    """Tick-to-order latencies (ns): a list of the latest ``maxlen`` at most, and ``total``.

    A long run must not keep every sample. When full, the oldest half is dropped at once (an
    index-based reader sees the list shrink and starts over); ``total`` counts every sample
    ever appended, so a reader can also tell how many are new."""

    def __init__(self, maxlen: int = 4096) -> None:
        super().__init__()
        self.maxlen = maxlen
        self.total = 0

    def append(self, ns: int) -> None:  # type: ignore[override]
        if len(self) >= self.maxlen:
            del self[: self.maxlen // 2]
        super().append(ns)
        self.total += 1


@dataclass
class Stats:
    placed: int = 0
    cancelled: int = 0
    cancel_requests: int = 0
    kept: int = 0
    rejected_by_risk: int = 0
    rejected_by_exchange: int = 0
    budget_skipped: int = 0
    unknown_outcomes: int = 0
    resolved_by_query: int = 0
    adopted: int = 0
    crossing_fixed: int = 0
    fills: int = 0
    errors: int = 0
    status_queries: int = 0  # look-ups of in-doubt orders (each is a GET /order)
    deferred: int = 0  # quotes left for a later pass: the side had orders still on the wire
    latencies_ns: LatencyLog = field(default_factory=LatencyLog)
    latency_trigger_ns: int | None = None  # the book receipt the latest sample was taken from
    pruned: int = 0  # finished orders dropped from memory (they are in the store)
    spent: dict[str, int] = field(default_factory=dict)  # requests by planner purpose
    plans_reused: int = 0  # passes whose planner inputs equalled the last one's (not re-planned)


_CANCELLABLE = (OrderState.NEW, OrderState.PARTIALLY_FILLED)  # acknowledged, still open
_PURPOSE_NAMES = {p: p.name for p in Purpose}  # (an enum's ``name`` is a slow property)
# what the exchange's answer to a look-up means for our order (UNKNOWN: nothing, logged)
_RECONCILE = {
    OrderStatus.NEW: OrderEvent.RECONCILE_NEW,
    OrderStatus.PARTIALLY_FILLED: OrderEvent.RECONCILE_PARTIALLY_FILLED,
    OrderStatus.FILLED: OrderEvent.RECONCILE_FILLED,
    OrderStatus.CANCELED: OrderEvent.RECONCILE_CANCELED,
    OrderStatus.PENDING_CANCEL: OrderEvent.RECONCILE_NEW,
    OrderStatus.REJECTED: OrderEvent.RECONCILE_REJECTED,
    OrderStatus.EXPIRED: OrderEvent.RECONCILE_EXPIRED,
}

__all__ = ["Balances", "ClientIds", "OrderManager", "Stats", "Tolerance", "Tracked"]


class QuietMark(NamedTuple):
    """What a pass whose plan had no action read in planning (``OrderManager.quiet_mark``):
    a later pass that reads the same plans the same, and is counted instead."""

    version: int  # of our orders
    rules: Any  # the ``QuotingRules`` object
    bid: Decimal  # the best prices the safe quotes were made against
    ask: Decimal
    since_ms: int  # the clock span in which the live view (and recent sends) stay the same
    until_ms: int
    crossing_fixed: int  # what the pass added to these counters
    waiting: int
    budget: tuple[int, float | None, int | None]  # ``OrderBudget.quiet_mark``
    plan: Any  # the plan's answer (``_last_plan[1]``)


class OrderManager:
    """Reconciles one market's desired quotes with its live orders (see the module docstring)."""

    # A pass whose planner inputs equal the last pass's reuses its plan (``_plan``); False
    # plans every pass (tests compare the two over whole backtests)
    reuse_plans: ClassVar[bool] = True

    def __init__(
        self,
        venue: Venue,
        instrument: Instrument,
        *,
        budget: OrderBudget,
        risk: RiskGate,
        writer: StoreWriter | None,
        balances: Balances,
        key_label: str,
        client_ids: ClientIds,
        tolerance: Tolerance = Tolerance(),
        recv_window_ms: int = 5000,
        on_change: Callable[[], None] | None = None,
        rules: PlanRules | None = None,
        clock: Clock = LIVE,
    ) -> None:
        self.venue = venue
        self.time = clock
        self.instrument = instrument
        self.symbol = instrument.symbol
        self.budget = budget
        self.risk = risk
        self.writer = writer
        self.balances = balances
        self.key_label = key_label
        self.ids = client_ids
        self.tolerance = tolerance
        # what the planner plans against (obligations, limits); ``minimal`` is switched on by
        # the market loop while the loss limit holds
        self.rules = rules if rules is not None else PlanRules(tolerance=tolerance)
        self.recv_window_ms = recv_window_ms
        self.on_change = on_change
        self.orders: dict[str, Tracked] = {}
        # The orders of ``orders`` not final yet: each pass reads these only, so its cost does
        # not grow with the finished orders kept for late reports (see ``_unfinished``).
        self._active: dict[str, Tracked] = {}
        # the views of our orders, kept per ``version`` (see "views" below)
        self.version = 0
        self._unfinished_at = -1
        self._unfinished_list: list[Tracked] = []
        self._maybe_live: list[Tracked] = []
        self._maybe_orders: list[Order] = []
        self._resting: list[Order] = []
        self._exposure: tuple[Decimal, ...] | None = None
        # the planner's live view: (version, rest_ms, from_ms, until_ms, view)
        self._live_view: tuple[int, int, int, int, list[LiveOrder]] | None = None
        # the last pass's safe quotes: (quotes, best bid, best ask, answer, crossings fixed)
        self._last_safe: tuple[QuoteSet, object, object, QuoteSet, int] | None = None
        self.stats = Stats()
        # when each new order of the last moments was sent, per side (``_recent_sends``)
        self._sends: dict[Side, deque[int]] = {Side.BUY: deque(), Side.SELL: deque()}
        self._recent: dict[Side, int] = {Side.BUY: 0, Side.SELL: 0}  # (do not change it)
        # the last pass's planner inputs and answer (``_plan``)
        self._last_plan: tuple[tuple[object, ...], Plan] | None = None
        # ``quiet_again``: a quiet mark whose plan the budget still allows, since when
        self._budget_again: tuple[QuietMark, tuple[int, float | None, int | None]] | None = None
        self.quiet_reused = True  # the last pass ``quiet_again`` counted reused the plan
        self.passes_planned = 0  # ``_start_pass`` calls (a pass the lock turned away: none)
        self.book: OrderBook | None = None
        # Our trading, for inventory and PnL read-outs (fills of our orders only).
        self.base_traded = ZERO
        self.quote_traded = ZERO
        self._resolve_tasks: set[asyncio.Task[None]] = set()
        self._send_tasks: set[asyncio.Task[None]] = set()  # requests on the wire
        # A venue whose requests bind nothing to the running task: the first request of a
        # pass is written before its task is made (``eager.run_now``), not after
        self._task_free = bool(getattr(getattr(venue, "capabilities", None),
                                       "task_free_requests", False))
        self._lock = asyncio.Lock()
        # Finished orders, oldest first: (monotonic time it was seen finished, client id).
        # ``prune_finished`` drops them from ``orders`` after FINISHED_GRACE_S so that memory
        # and each reconciliation pass stay flat over a long run; ``recent`` keeps the last few.
        self._finished: deque[tuple[float, str]] = deque()
        self._finished_ids: set[str] = set()
        self.recent: deque[Order] = deque(maxlen=RECENT_FINISHED)
        self.finished_grace_s = FINISHED_GRACE_S
        # monotonic seconds for the finished orders' grace period (a test may replace it)
        self.clock: Callable[[], float] = clock.monotonic

    # --- views ---------------------------------------------------------------------------------
    # Every pass reads the same few views of our orders (live, resting, the planner's live
    # view, the exposure for the risk gate). They change only when an order does, and every
    # change of an order goes through this class (``_track``, ``_apply``, ``_on_ack``,
    # ``on_fill``, ``sweep``), which bumps ``version``: a view is computed once per version and
    # handed out again until the next change. ``verify_views`` (tests) recomputes each view
    # from scratch on every read and raises if the kept one differs.
    verify_views: ClassVar[bool] = False

    def _track(self, t: Tracked) -> None:
        self.orders[t.order.client_order_id] = t
        self._active[t.order.client_order_id] = t
        self.version += 1

    def _unfinished(self) -> list[Tracked]:
        """Orders not in a final state (a list kept per ``version``: do not change it). A final
        state never changes again, so a finished order leaves the index for good the first
        time it is seen here."""
        if self._unfinished_at == self.version:
            if self.verify_views:
                self._verify("_unfinished", self._unfinished_list,
                             [t for t in self._active.values() if not t.order.is_terminal])
            return self._unfinished_list
        active = self._active
        # this version's orders and the views of them, in one loop (no comprehensions: each
        # is a function call, and this runs in the first pass after any change of an order)
        out: list[Tracked] = []
        maybe: list[Tracked] = []
        maybe_orders: list[Order] = []
        resting: list[Order] = []
        done = []
        for cid, t in active.items():
            order = t.order
            state = order.state
            if state in TERMINAL_STATES:  # (``is_terminal``, without the property call)
                done.append(cid)
                continue
            out.append(t)
            if state in MAYBE_LIVE_STATES:
                maybe.append(t)
                maybe_orders.append(order)
            if state in OPEN_STATES:
                resting.append(order)
        for cid in done:
            del active[cid]
        self._unfinished_list, self._unfinished_at = out, self.version
        self._maybe_live, self._maybe_orders, self._resting = maybe, maybe_orders, resting
        self._exposure = None
        return out

    def _verify(self, what: str, kept: object, fresh: object) -> None:
        if kept != fresh:
            raise AssertionError(f"{self.symbol}: the kept view {what} differs from a fresh "
                                 f"one: {kept!r} != {fresh!r}")

    def live(self) -> list[Tracked]:
        """Orders that are or may be on the book."""
        self._unfinished()
        if self.verify_views:
            self._verify("live", self._maybe_live,
                         [t for t in self._unfinished() if t.order.may_be_live])
        return list(self._maybe_live)

    def maybe_on_book(self) -> list[Order]:
        """Orders that may show in the exchange's book (a push can beat the REST answer);
        shared per ``version``: do not change it."""
        self._unfinished()
        if self.verify_views:
            self._verify("maybe_on_book", self._maybe_orders,
                         [t.order for t in self._unfinished() if t.order.may_be_live])
        return self._maybe_orders

    def resting(self, side: Side | None = None) -> list[Order]:
        """Orders acknowledged and resting (``side``: of that side only)."""
        self._unfinished()
        resting = self._resting
        if self.verify_views:
            self._verify("resting", resting,
                         [t.order for t in self._unfinished() if t.order.is_open])
        if side is None:
            return list(resting)
        return [o for o in resting if o.side is side]

    def resting_view(self) -> list[Order]:
        """``resting()`` without the copy: the list kept for this ``version`` (do not change
        it; the market loop reads it every pass)."""
        self._unfinished()
        return self._resting

    def pnl(self, mid: Decimal | None) -> Decimal | None:
        """Our trades marked at ``mid``: cash flow plus the traded base valued at mid, net of fees."""
        if mid is None:
            return None
        return self.quote_traded + self.base_traded * mid

    # --- persistence helpers -------------------------------------------------------------------
    def _save(self, t: Tracked, event: str, *, status: str | None = None, **detail: object) -> None:
        """Hand the order's record and one event (``status``: the order's state by default)
        to the store writer."""
        if not t.submit_saved:  # a send that ended before its pass recorded the SUBMIT
            self._save_submit(t)
        if t.order.is_terminal:
            self._note_finished(t)
        if self.writer is None:
            return
        self.writer.order(t.order, created_ms=t.created_ms, key_label=self.key_label)
        self.writer.event(t.order.client_order_id, event, status or t.order.state.value,
                          **detail)

    # --- memory: finished orders ---------------------------------------------------------------
    def _note_finished(self, t: Tracked) -> None:
        cid = t.order.client_order_id
        if cid not in self._finished_ids:
            self._finished_ids.add(cid)
            self._finished.append((self.clock(), cid))

    def prune_finished(self) -> int:
        """Forget orders that finished more than ``finished_grace_s`` ago and are settled (no
        look-up running). Their records went to the store writer when they finished (the
        writer keeps its own copies), and a fill reported later is still stored and counted
        (``on_fill`` does not need the order). Returns how many were dropped."""
        horizon = self.clock() - self.finished_grace_s
        dropped = 0
        finished = self._finished
        while finished and finished[0][0] <= horizon:
            _, cid = finished.popleft()
            self._finished_ids.discard(cid)
            t = self.orders.get(cid)
            if t is None:
                continue
            if not t.order.is_terminal:  # re-opened by a reconciliation: not finished after all
                continue
            if t.resolving:  # settle first; look again after another grace period
                self._note_finished(t)
                continue
            del self.orders[cid]
            self.recent.append(t.order)
            dropped += 1
        self.stats.pruned += dropped
        return dropped

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change()

    # --- start-up ------------------------------------------------------------------------------
    async def start(self, stored_open: Iterable[object] = ()) -> None:
        """Adopt our orphans on the exchange, settle stored open orders, catch up on fills."""
        on_exchange = await self.venue.open_orders(self.symbol)
        seen: set[str] = set()
        for snap in on_exchange:
            if not self.ids.is_ours(snap.client_order_id):
                continue  # the client's own order (or another market's): never touched
            assert snap.client_order_id is not None
            seen.add(snap.client_order_id)
            self._adopt(snap)
        for rec in stored_open:
            cid = getattr(rec, "client_order_id", None)
            if cid is None or cid in seen or not self.ids.is_ours(cid):
                continue
            if getattr(rec, "symbol", self.symbol) != self.symbol:
                continue
            snap = await self.venue.query(self.symbol, client_order_id=cid)
            if self.writer is not None:
                status = "REJECTED" if snap is None else str(snap.status)
                self.writer.submit(_settle_stored(self.writer, rec, status, snap,
                                                  self.time.now_ms()))
            if snap is not None and snap.is_open:
                self._adopt(snap)
        for fill in await self.venue.fills_since(self.symbol, None):
            if self.ids.is_ours(fill.client_order_id) and self.writer is not None:
                self.writer.fill(fill)  # the store keeps each trade id once

    def _adopt(self, snap: OrderSnapshot) -> None:
        assert snap.client_order_id is not None
        order = Order(
            client_order_id=snap.client_order_id,
            symbol=self.symbol,
            side=snap.side,
            price=snap.price,
            qty=snap.qty,
        )
        order.apply(OrderEvent.SUBMIT)
        order.set_exchange_order_id(snap.exchange_order_id)
        order.apply(OrderEvent.RECONCILE_NEW)
        if snap.filled_qty > 0:
            # Earlier fills are history (stored from the trade list); keep the remaining right.
            avg = snap.filled_quote / snap.filled_qty
            order.apply_fill(f"adopted-{snap.exchange_order_id}", snap.filled_qty, avg)
        t = Tracked(order=order, created_ms=snap.ts_ms or self.time.now_ms(), adopted=True)
        self._track(t)
        self.stats.adopted += 1
        self._save(t, "ADOPTED")
        log.info("%s: adopted our open order %s from an earlier run", self.symbol, order.client_order_id)

    # --- the reconciliation --------------------------------------------------------------------
    async def sync(
        self, quotes: QuoteSet, *, trigger_ns: int | None = None, wait: bool = True
    ) -> None:
        """One pass: keep what fits, cancel what does not, place what is missing.

        ``wait=False`` returns once the requests are started: the market loop answers the
        next book at once instead of one round trip later (answers wake it through
        ``on_change``; ``_plan`` bounds what may pile up meanwhile). ``trigger_ns`` is when
        the book this pass answers arrived (``perf_counter_ns``): the first order it sends
        records the tick-to-order latency.
        """
        lock = self._lock
        if lock.locked():
            return  # a pass is running; the next trigger will see the newest book
        if not wait and not getattr(lock, "_waiters", None):
            # Nothing in here waits, so nothing else runs meanwhile: holding the lock (two
            # coroutines a pass) would exclude no one. With a waiter queued (a ``cancel_all``
            # woken, not yet running) the pass takes its turn behind it, as below.
            self._start_pass(quotes, trigger_ns)
            return
        async with lock:
            tasks = self._start_pass(quotes, trigger_ns)
            if wait and tasks:
                await asyncio.gather(*tasks)

    def _start_pass(self, quotes: QuoteSet, trigger_ns: int | None) -> list[asyncio.Task[None]]:
        """Plan for ``quotes`` and start the plan's requests (``sync`` without the lock)."""
        if self._finished:
            self.prune_finished()
        self.passes_planned += 1
        return self._execute(self._plan(quotes), trigger_ns)

    # --- quiet passes (``MarketRunner``: a pass whose every input is the last one's) ----------
    def quiet_mark(self) -> QuietMark | None:
        """Right after a pass (``_start_pass``) whose plan had no action: what its planning
        read, and until when the clock leaves that unchanged; None if it acted (or plans are
        not reused). ``quiet_again`` compares a later pass with it."""
        last, safe, kept = self._last_plan, self._last_safe, self._live_view
        if (last is None or last[1].actions or safe is None or kept is None
                or not self.reuse_plans or kept[0] != self.version):
            return None
        rest_ms = max(self.rules.min_rest_ms, SETTLE_MS)
        until = kept[3]  # the live view holds until then
        for sends in self._sends.values():  # ``_recent_sends`` changes when one gets old
            if sends and sends[0] + rest_ms < until:
                until = sends[0] + rest_ms
        return QuietMark(self.version, self.rules, safe[1], safe[2], kept[2], until, safe[4],
                         len(last[1].waiting), self.budget.quiet_mark(self.symbol), last[1])

    def quiet_again(self, mark: QuietMark, bid_px: Decimal, ask_px: Decimal) -> bool:
        """Count a pass for the same quotes (by value) as the pass of ``mark`` when everything
        its planning reads is as it was then (our orders, the rules, the best prices, the
        allowance, the clock within the live view's span): what ``sync`` would do then (plan again from
        the same inputs: no action) in counters. False, nothing done: run ``sync``."""
        lock = self._lock
        if (mark.version != self.version or mark.rules is not self.rules or mark.bid != bid_px
                or mark.ask != ask_px or lock.locked() or getattr(lock, "_waiters", None)):
            return False
        now = self.time.now_ms()
        if not mark.since_ms <= now < mark.until_ms:
            return False
        budget = self.budget
        reused = True
        if not budget.still(mark.budget):
            # the budget moved (a token came, a send expired): planning again reuses the
            # plan when it allows what the plan was given (then known until it moves again);
            # a plan that wants nothing is made again, the same, under any allowance
            again = self._budget_again
            if again is None or again[0] is not mark or not budget.still(again[1]):
                last = self._last_plan
                if last is None or last[1] is not mark.plan:
                    return False
                allowance = budget.allowance(self.symbol)
                if allowance != last[0][1]:
                    if mark.plan.actions or mark.plan.waiting:
                        return False
                    # (``_plan``'s inputs with this allowance: not a reused plan)
                    self._last_plan = ((last[0][0], allowance, *last[0][2:]), mark.plan)
                    reused = False
                self._budget_again = (mark, budget.quiet_mark(self.symbol))
        if self._finished:
            self.prune_finished()
        self.passes_planned += 1
        self.quiet_reused = reused
        stats = self.stats
        stats.plans_reused += reused
        stats.crossing_fixed += mark.crossing_fixed
        stats.budget_skipped += mark.waiting
        return True

    def _safe_price(self, quote: DesiredQuote) -> DesiredQuote | None:
        """Never cross the opposite best price (no post-only order on Bitrue)."""
        book = self.book
        if book is None:
            return quote
        return self._uncrossed(quote, book.best_bid, book.best_ask)

    def _uncrossed(self, quote: DesiredQuote, bid: tuple[Decimal, Decimal] | None,
                   ask: tuple[Decimal, Decimal] | None) -> DesiredQuote | None:
        """``quote`` moved off the opposite best price (``bid``, ``ask``: the book's)."""
        price = quote.price
        if quote.side is Side.BUY:
            if ask is not None and price >= ask[0]:
                price = ask[0] - self.instrument.tick
        elif bid is not None and price <= bid[0]:
            price = bid[0] + self.instrument.tick
        if price <= 0:
            return None
        if price != quote.price:
            self.stats.crossing_fixed += 1
            return DesiredQuote(
                side=quote.side,
                price=price,
                qty=quote.qty,
                priority=quote.priority,
                level=quote.level,
                obligation_critical=quote.obligation_critical,
            )
        return quote

    def _safe_quotes(self, quotes: QuoteSet) -> QuoteSet:
        """``quotes`` with every price moved off the opposite best price (``_uncrossed``).
        The same quote set against the same best prices gives the last pass's answer (and
        counts its fixes again, as working it out anew would)."""
        book = self.book
        if book is None:
            return quotes
        bid, ask = book.best_bid, book.best_ask
        bid_px = None if bid is None else bid[0]
        ask_px = None if ask is None else ask[0]
        last = self._last_safe
        if (last is not None and last[0] is quotes and last[1] == bid_px
                and last[2] == ask_px):
            self.stats.crossing_fixed += last[4]
            return last[3]
        before = self.stats.crossing_fixed
        # most often nothing crosses: then the answer is the quote set itself (no objects)
        clear = True
        for q in quotes.bids:
            if q.price <= 0 or (ask_px is not None and q.price >= ask_px):
                clear = False
                break
        if clear:
            for q in quotes.asks:
                if q.price <= 0 or (bid_px is not None and q.price <= bid_px):
                    clear = False
                    break
        if clear:
            answer = quotes
        else:
            sides = []
            for side in (quotes.bids, quotes.asks):
                safe = [s for s in (self._uncrossed(q, bid, ask) for q in side) if s is not None]
                sides.append(tuple(safe))
            if sides[0] == quotes.bids and sides[1] == quotes.asks:
                answer = quotes
            else:
                answer = replace(quotes, bids=sides[0], asks=sides[1])
        self._last_safe = (quotes, bid_px, ask_px, answer, self.stats.crossing_fixed - before)
        return answer

    def live_view(self) -> list[LiveOrder]:
        """Our orders that are or may be on the book, as the planner sees them (an order being
        cancelled is already gone for planning). Shared while nothing changes (do not change
        it): the same orders (``version``) give the same view until the clock makes one of
        them old enough to stop being young."""
        # younger than this: not counted by the obligations yet (min_rest_s), or too new to
        # judge; the planner changes nothing else on the side until it has settled
        rest_ms = max(self.rules.min_rest_ms, SETTLE_MS)
        now = self.time.now_ms()
        kept = self._live_view
        if (kept is not None and kept[0] == self.version and kept[1] == rest_ms
                and kept[2] <= now < kept[3]):
            if self.verify_views:
                self._verify("live_view", kept[4], self._fresh_live_view(now, rest_ms))
            return kept[4]
        view, until = self._fresh_live_view(now, rest_ms, with_until=True)
        self._live_view = (self.version, rest_ms, now, until, view)
        return view

    def _fresh_live_view(self, now: int, rest_ms: int, with_until: bool = False):  # type: ignore[no-untyped-def]
        """``live_view`` from scratch at ``now``; ``with_until``: also the first time (ms) an
        order of it stops being young by age (the view holds until then)."""
        out = []
        born = now - rest_ms
        until = 1 << 62
        for t in self._unfinished():
            o = t.order
            state = o.state
            if state not in MAYBE_LIVE_STATES or state is OrderState.PENDING_CANCEL:
                continue
            created = t.created_ms
            if created > born and created + rest_ms < until:
                until = created + rest_ms
            out.append(LiveOrder(o.client_order_id, o.side, o.price, o.qty - o.filled_qty,
                                 cancellable=state in _CANCELLABLE,
                                 young=created > born or state not in _CANCELLABLE))
        return (out, until) if with_until else out

    def _plan(self, quotes: QuoteSet) -> Plan:
        """The planner's answer for these quotes, the live orders and the budget now."""
        safe = self._safe_quotes(quotes)
        mid = self.book.mid if self.book is not None else None  # (kept per book snapshot)
        if mid is None:
            mid = quotes.mid
        live = self.live_view()
        self.budget.set_open(self.symbol, len(live))
        allowance = self.budget.allowance(self.symbol)
        recent = self._recent_sends()
        # ``plan`` is a pure function of these (of the quote set it reads the bids and asks
        # only) and of the instrument: a pass that sees what the last one saw (most often:
        # nothing to do, or the budget spent) gets the last answer, not a new plan
        # (mid first: a new quote set mostly comes with a new mid, which ends the comparison
        # before the quotes' own, one dataclass ``__eq__`` per quote, are compared)
        inputs = (mid, allowance, recent, live, self.rules, safe.bids, safe.asks)  # (``quiet_again`` swaps [1])
        last = self._last_plan
        if last is not None and self.reuse_plans and last[0] == inputs:
            self.stats.plans_reused += 1
            return last[1]
        answer = plan(safe, live, mid, self.rules, allowance, self.instrument, recent)
        self._last_plan = (inputs, answer)
        return answer

    def _recent_sends(self) -> dict[Side, int]:
        """New orders sent per side within the settle time, whatever became of them."""
        horizon = self.time.now_ms() - max(self.rules.min_rest_ms, SETTLE_MS)
        buys, sells = self._sends[Side.BUY], self._sends[Side.SELL]
        while buys and buys[0] <= horizon:
            buys.popleft()
        while sells and sells[0] <= horizon:
            sells.popleft()
        last = self._recent
        if last[Side.BUY] != len(buys) or last[Side.SELL] != len(sells):
            # a new dict: the last one may be held as an input of the last plan
            last = self._recent = {Side.BUY: len(buys), Side.SELL: len(sells)}
        return last

    def _execute(self, plan: Plan, trigger_ns: int | None) -> list[asyncio.Task[None]]:
        """Carry out the plan's actions in order: each passes the risk gate, then is charged
        to the budget, then goes out (not waiting for answers). A replacement goes whole or
        not at all, its new order first: no level is ever left empty by the budget. The risk
        gate counted the order being cancelled as exposure when it checked the new one, so
        the overlap never exceeds a limit."""
        tasks = []
        orders = self.orders
        stats = self.stats
        for action in plan.actions:
            q = action.place
            t = None if action.cancel is None else orders.get(action.cancel)
            if t is not None and t.order.state not in _CANCELLABLE:
                t = None  # settled meanwhile (a fill, a cancel): nothing to cancel
            # A replacement whose new order fits the limits only once the old one is gone
            # goes out in sequence: cancel, then place on the cancel's answer.
            in_turn = False
            if q is not None:
                if t is not None and not self.risk.evaluate(
                        q.side, q.price, q.qty, self._account(q.side), key_label=self.key_label,
                        symbol=self.symbol).allowed:
                    if not self._risk_allows(q, excluding=t):
                        continue  # refused either way: the order it would replace stays
                    in_turn = True
                elif t is None and not self._risk_allows(q):
                    continue
            cost = (q is not None) + (t is not None)
            if not cost:
                continue
            purpose = _PURPOSE_NAMES[action.purpose]
            if not self.budget.spend(self.symbol, cost, purpose):
                stats.budget_skipped += 1
                continue
            if in_turn:
                assert q is not None and t is not None
                self._request_cancel(t)
                tasks.append(self._start(self._replace_in_turn(t, q)))
            else:
                if q is not None:
                    new = self._register(q)
                    # The first order answers the book: it is signed and written now (its task
                    # starts at once, not a loop turn later), before the rest are prepared and
                    # before its own store records and the read-outs are made.
                    if trigger_ns is None:
                        tasks.append(self._start(self._send_place(new, None)))
                    else:
                        task = self._start_first(self._send_place(new, trigger_ns))
                        if task is not None:
                            tasks.append(task)
                        trigger_ns = None
                    self._save_submit(new)
                if t is not None:
                    self._request_cancel(t)
                    tasks.append(self._start(self._send_cancel(t)))
            stats.spent[purpose] = stats.spent.get(purpose, 0) + cost
        stats.budget_skipped += len(plan.waiting)
        return tasks

    async def _replace_in_turn(self, old: Tracked, q: DesiredQuote) -> None:
        """Cancel ``old``, then place ``q`` once the cancel is answered (both were charged)."""
        await self._send_cancel(old)
        if old.order.is_open or not self._risk_allows(q):
            self.budget.refund(self.symbol)  # the place does not go: its request is given back
            return
        new = self._register(q)
        self._save_submit(new)
        await self._send_place(new, None)

    def _start(self, job: Coroutine[Any, Any, None], *, now: bool = False) -> asyncio.Task[None]:
        """A task for one request; ``now``: its first step (up to the wait for the answer)
        runs before this returns (see ``engine.eager``)."""
        task = start_now(job) if now else asyncio.get_running_loop().create_task(job)
        self._send_tasks.add(task)
        task.add_done_callback(self._sent)
        return task

    def _start_first(self, job: Coroutine[Any, Any, None]) -> asyncio.Task[None] | None:
        """``_start(job, now=True)``, but on a task-free venue the task is made only after
        the first step, and only if the request is still on its way (None: it is over)."""
        if not self._task_free:
            return self._start(job, now=True)
        task = run_now(job)
        if task is not None:
            self._send_tasks.add(task)
            task.add_done_callback(self._sent)
        return task

    def _sent(self, task: asyncio.Task[None]) -> None:
        """A request finished: surface a failure nobody awaits (the order itself is already
        marked unknown and being looked up)."""
        self._send_tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            self.stats.errors += 1
            log.error("%s: an order request failed: %s: %s", self.symbol,
                      type(exc).__name__, exc)

    # --- placing -------------------------------------------------------------------------------
    def _account(self, side: Side, excluding: Tracked | None = None) -> AccountState:
        """Balances and open exposure now (``excluding``: as if that order were gone). The
        exposure of all our orders is kept per ``version``; the balances are read now."""
        inst = self.instrument
        if excluding is None:
            self._unfinished()
            exposure = self._exposure
            if exposure is None or self.verify_views:
                fresh = self._open_exposure(None)
                if exposure is not None:
                    self._verify("exposure", exposure, fresh)
                exposure = self._exposure = fresh
        else:
            exposure = self._open_exposure(excluding)
        (open_buy_n, open_sell_n, open_buy_q, open_sell_q, pending_quote, pending_base,
         freed_quote, freed_base) = exposure
        free = self.balances.free
        return AccountState(
            base_free=free.get(inst.base, ZERO) - pending_base + freed_base,
            quote_free=free.get(inst.quote, ZERO) - pending_quote + freed_quote,
            base_total=self.balances.total(inst.base),
            open_buy_notional=open_buy_n,
            open_sell_notional=open_sell_n,
            open_buy_qty=open_buy_q,
            open_sell_qty=open_sell_q,
        )

    def _open_exposure(self, excluding: Tracked | None) -> tuple[Decimal, ...]:
        """Open notional and quantity per side, what is in flight per side, and what
        ``excluding`` would free (``_account``'s sums)."""
        open_buy_n = open_sell_n = open_buy_q = open_sell_q = ZERO
        pending_quote = pending_base = ZERO
        freed_quote = freed_base = ZERO
        for t in self._unfinished():
            o = t.order
            if not o.may_be_live:
                continue
            if t is excluding:
                if o.side is Side.BUY:
                    freed_quote = o.remaining_qty * o.price
                else:
                    freed_base = o.remaining_qty
                continue
            rem = o.remaining_qty
            if o.side is Side.BUY:
                open_buy_n += rem * o.price
                open_buy_q += rem
                if o.state in (OrderState.PENDING_NEW, OrderState.UNKNOWN):
                    pending_quote += rem * o.price
            else:
                open_sell_n += rem * o.price
                open_sell_q += rem
                if o.state in (OrderState.PENDING_NEW, OrderState.UNKNOWN):
                    pending_base += rem
        return (open_buy_n, open_sell_n, open_buy_q, open_sell_q, pending_quote, pending_base,
                freed_quote, freed_base)

    def _risk_allows(self, q: DesiredQuote, excluding: Tracked | None = None) -> bool:
        decision = self.risk.check(
            q.side, q.price, q.qty, self._account(q.side, excluding), key_label=self.key_label,
            symbol=self.symbol,
        )
        if not decision.allowed:
            self.stats.rejected_by_risk += 1
        return decision.allowed

    def _register(self, q: DesiredQuote) -> Tracked:
        """Track a new order for ``q`` (``_send_place`` sends it)."""
        order = Order(
            client_order_id=self.ids.new(),
            symbol=self.symbol,
            side=q.side,
            price=q.price,
            qty=q.qty,
        )
        t = Tracked(order=order, created_ms=self.time.now_ms(), priority=q.priority,
                    critical=q.obligation_critical, submit_saved=False)
        order.apply(OrderEvent.SUBMIT)
        t.sent_ms = t.created_ms
        self._track(t)
        self._sends[q.side].append(t.created_ms)
        return t

    def _place(self, q: DesiredQuote) -> Tracked | None:
        """Risk-check and register the order now (``_send_place`` sends it); None: refused."""
        return self._register(q) if self._risk_allows(q) else None

    def _save_submit(self, t: Tracked) -> None:
        """The new order's SUBMIT records, once (before any later record of the order)."""
        if t.submit_saved:
            return
        t.submit_saved = True
        order = t.order
        self._save(t, "SUBMIT", status=OrderState.PENDING_NEW.value, price=order.price,
                   qty=order.qty, side=order.side.value)

    async def _send_place(self, t: Tracked, trigger_ns: int | None) -> None:
        order = t.order
        if trigger_ns is not None:
            self.stats.latencies_ns.append(time.perf_counter_ns() - trigger_ns)
            self.stats.latency_trigger_ns = trigger_ns
        try:
            ack = await self.venue.place(
                self.symbol, order.side, order.qty, order.price, order.client_order_id
            )
        except UnknownOutcome:
            self.stats.unknown_outcomes += 1
            self._unsure(t)
            return
        except VenueError as exc:
            # A refusal with an answer (a rule, a rate limit, anything else): not placed.
            self.stats.rejected_by_exchange += 1
            self._apply(t, OrderEvent.REJECT)
            self._save(t, "REJECT", code=exc.code, reason=type(exc).__name__)
            return
        except Exception:
            # No answer we understand (a bug, a dropped session): treat as unknown and ask.
            self.stats.unknown_outcomes += 1
            self._unsure(t)
            raise
        self.stats.placed += 1
        self._on_ack(t, ack)

    def _on_ack(self, t: Tracked, ack: OrderAck) -> None:
        self.version += 1
        try:
            if ack.exchange_order_id:
                t.order.ack(ack.exchange_order_id)
            else:
                t.order.ack()
        except (InvalidTransition, ValueError) as exc:
            log.warning("%s: ack of %s did not fit: %s", self.symbol, t.order.client_order_id, exc)
            self._resolve_later(t)
            return
        self._save(t, "ACK", exchange_order_id=ack.exchange_order_id)
        self._changed()

    # --- cancelling ----------------------------------------------------------------------------
    async def _cancel(self, t: Tracked) -> None:
        """Cancel ``t`` now if it is still open (and not already being cancelled)."""
        if not t.order.is_open or t.order.state is OrderState.PENDING_CANCEL:
            return
        self._request_cancel(t)
        await self._send_cancel(t)

    def _request_cancel(self, t: Tracked) -> None:
        """Mark the cancel as sent, before its request goes: a fill or a second pass meanwhile
        sees an order being cancelled, not one to cancel again."""
        self._apply(t, OrderEvent.CANCEL_REQUEST)
        t.sent_ms = self.time.now_ms()
        self.stats.cancel_requests += 1
        self._save(t, "CANCEL_REQUEST")

    async def _send_cancel(self, t: Tracked) -> None:
        order = t.order
        try:
            answer = await self.venue.cancel(self.symbol, client_order_id=order.client_order_id)
        except UnknownOutcome:
            self.stats.unknown_outcomes += 1
            self._unsure(t)
            return
        except VenueError as exc:
            log.warning("%s: cancel of %s failed: %s", self.symbol, order.client_order_id, exc)
            self._unsure(t)
            return
        self.on_message(answer)

    def _unsure(self, t: Tracked) -> None:
        """A request without a trustworthy answer: unknown until the exchange is asked.

        Unless a report that arrived meanwhile (a fill, a cancel ack) already settled it.
        """
        if t.order.state in (OrderState.PENDING_CANCEL, OrderState.PENDING_NEW):
            self._apply(t, OrderEvent.TIMEOUT)
            self._save(t, "TIMEOUT")
            self._resolve_later(t)

    async def cancel_all(self, reason: str) -> int:
        """Cancel every order of ours (EMERGENCY budget: waits, never skips); returns how many."""
        async with self._lock:
            targets = [t for t in self._unfinished() if t.order.is_open
                       and t.order.state is not OrderState.PENDING_CANCEL]
            if targets:
                log.info("%s: cancelling %d orders (%s)", self.symbol, len(targets), reason)

            async def one(t: Tracked) -> None:
                await self.budget.spend_when_possible(self.symbol)
                if not t.order.is_open or t.order.state is OrderState.PENDING_CANCEL:
                    self.budget.refund(self.symbol)  # settled while waiting: nothing sent
                    return
                await self._cancel(t)

            await asyncio.gather(*(one(t) for t in targets))
            return len(targets)

    async def settle_in_flight(self, timeout_s: float = 5.0) -> None:
        """Wait for in-flight and unknown orders to settle (they may be live: then cancel them)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while loop.time() < deadline:
            pending = [t for t in self._unfinished() if t.order.state in (
                OrderState.PENDING_NEW, OrderState.UNKNOWN, OrderState.PENDING_CANCEL)]
            if not pending:
                return
            for t in pending:
                if t.order.state is not OrderState.PENDING_NEW:
                    self._resolve_later(t)
            await asyncio.sleep(0.05)
            if any(t.order.is_open and t.order.state is not OrderState.PENDING_CANCEL
                   for t in self._unfinished()):
                await self.cancel_all("settling in-flight orders")

    async def sweep(self, deadline_s: float = 30.0) -> int:
        """Shutdown's last word: cancel whatever of ours the exchange still lists as open.

        Catches what local state cannot know (a create whose answer was lost, a cancel that a
        5xx swallowed). Retries through errors until the exchange lists nothing of ours or the
        deadline passes; returns how many were still open at the end (0 is the goal).
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + deadline_s
        delay = 0.1
        left: list[OrderSnapshot] = []
        while True:
            try:
                left = [s for s in await self.venue.open_orders(self.symbol)
                        if self.ids.is_ours(s.client_order_id)]
            except VenueError as exc:
                log.warning("%s: open-orders check failed (%s); retrying", self.symbol,
                            type(exc).__name__)
                left = [s for s in left]  # unknown: keep the last answer
                if loop.time() > deadline:
                    return max(1, len(left))
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
                continue
            if not left or loop.time() > deadline:
                return len(left)
            for snap in left:
                assert snap.client_order_id is not None
                t = self.orders.get(snap.client_order_id)
                if t is not None and t.order.state in (OrderState.UNKNOWN,
                                                       OrderState.PENDING_NEW):
                    # in doubt, and the exchange just said it rests: that settles it in
                    # place (keeps its history and its look-up back-off; no re-adoption)
                    self._apply_snapshot(t, snap)
                elif t is None or not t.order.is_open:
                    if t is not None:
                        del self.orders[snap.client_order_id]
                        self._active.pop(snap.client_order_id, None)
                        self.version += 1
                    self._adopt(snap)
                    t = self.orders[snap.client_order_id]
                if t.order.state is OrderState.PENDING_CANCEL:
                    self._apply(t, OrderEvent.RECONCILE_NEW)  # still open: cancel again
            await self.cancel_all("sweep at shutdown")
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)

    async def catch_up_fills(self, deadline_s: float = 30.0) -> int:
        """Store our fills the exchange lists that the streams may not have delivered yet.

        Retried through exchange errors (with back-off, at least the Retry-After) until
        ``deadline_s``: at shutdown this read is the last chance to store a fill."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + deadline_s
        delay = 0.25
        while True:
            try:
                fills = await self.venue.fills_since(self.symbol, None)
                break
            except VenueError as exc:
                if loop.time() + delay > deadline:
                    log.error("%s: the final trade-list read failed until the deadline (%s); "
                              "the next start stores the fills it missed", self.symbol,
                              type(exc).__name__)
                    return 0
                wait = max(delay, retry_after_s(exc))
                log.warning("%s: final trade-list read failed (%s); retrying in %.1f s",
                            self.symbol, type(exc).__name__, wait)
                await asyncio.sleep(wait)
                delay = min(delay * 2, 4.0)
        ours = [f for f in map(self._attributed, fills) if self.ids.is_ours(f.client_order_id)]
        if self.writer is not None:
            for fill in ours:
                self.writer.fill(fill)
        return len(ours)

    # --- unknown outcomes ----------------------------------------------------------------------
    def _resolve_later(self, t: Tracked) -> None:
        if t.resolving:
            return
        t.resolving = True
        task = asyncio.get_running_loop().create_task(self._resolve(t))
        self._resolve_tasks.add(task)
        task.add_done_callback(self._resolve_tasks.discard)

    async def _resolve(self, t: Tracked) -> None:
        """Ask the exchange about the client order id until the answer is conclusive.

        Failed look-ups back off per order (``query_backoff_s``, doubling up to
        ``QUERY_BACKOFF_MAX_S``, at least the server's Retry-After), and the back-off survives
        this task: a new look-up of the same order waits for ``next_query_at`` too."""
        cid = t.order.client_order_id
        loop = asyncio.get_running_loop()
        try:
            while t.order.state in (OrderState.UNKNOWN, OrderState.PENDING_CANCEL,
                                    OrderState.PENDING_NEW):
                wait = t.next_query_at - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                    continue  # the state may have settled (a push) while waiting
                try:
                    self.stats.status_queries += 1
                    snap = await self.venue.query(self.symbol, client_order_id=cid)
                except VenueError as exc:
                    t.query_backoff_s = min(
                        max(QUERY_BACKOFF_MIN_S, t.query_backoff_s * 2), QUERY_BACKOFF_MAX_S)
                    retry_after = retry_after_s(exc)
                    delay = max(t.query_backoff_s, retry_after)
                    t.next_query_at = loop.time() + delay
                    log.info("%s: status query of %s failed (%s); next in %.1f s", self.symbol,
                             cid, type(exc).__name__, delay)
                    continue
                t.query_backoff_s = 0.0
                if snap is None:
                    # "Never heard of it" is final only once the request can no longer arrive.
                    if t.order.state is OrderState.PENDING_CANCEL:
                        log.warning("%s: %s is unknown to the exchange", self.symbol, cid)
                        break
                    age = self.time.now_ms() - (t.sent_ms or 0)
                    if age > self.recv_window_ms + 1000:
                        self._apply(t, OrderEvent.RECONCILE_NOT_FOUND)
                        self._save(t, "RECONCILE_NOT_FOUND")
                        break
                    await asyncio.sleep(max(0.05, (self.recv_window_ms + 1000 - age) / 1000))
                    continue
                self._apply_snapshot(t, snap)
                self.stats.resolved_by_query += 1
                break
        finally:
            t.resolving = False
            self._changed()

    def _apply_snapshot(self, t: Tracked, snap: OrderSnapshot) -> None:
        event = _RECONCILE.get(snap.status)
        if event is None:
            log.warning("%s: unknown order status %r for %s", self.symbol, snap.status,
                        t.order.client_order_id)
            return
        if event is OrderEvent.RECONCILE_NEW and snap.filled_qty > 0:
            event = OrderEvent.RECONCILE_PARTIALLY_FILLED
        try:
            t.order.set_exchange_order_id(snap.exchange_order_id)
        except ValueError as exc:
            log.error("%s", exc)
        self._apply(t, event)
        self._save(t, event.value, exchange_status=str(snap.status), filled=snap.filled_qty)

    # --- events from the venue -----------------------------------------------------------------
    def _apply(self, t: Tracked, event: OrderEvent) -> None:
        self.version += 1  # (views of our orders recompute)
        try:
            t.order.apply(event)
        except InvalidTransition as exc:
            self.stats.errors += 1
            log.warning("%s: %s", self.symbol, exc)
            if t.order.state is not OrderState.UNKNOWN and not t.order.is_terminal:
                self._resolve_later(t)

    def on_message(self, msg: OrderMessage) -> None:
        """Apply one order message from the venue (stream, REST answer or fallback poll)."""
        if isinstance(msg, Fill):
            self.on_fill(msg)
            return
        t = self.orders.get(msg.client_order_id)
        if t is None:
            return  # not ours, or finished before this run: nothing rests on it
        if isinstance(msg, OrderAck):
            if t.order.state is OrderState.PENDING_NEW or t.order.state is OrderState.UNKNOWN:
                self._on_ack(t, msg)
            elif msg.exchange_order_id and t.order.exchange_order_id is None:
                t.order.set_exchange_order_id(msg.exchange_order_id)
            return
        if isinstance(msg, CancelAck):
            was_final = t.order.is_terminal
            self._apply(t, OrderEvent.CANCEL_ACK)
            if t.order.state is OrderState.CANCELED and not was_final:
                self.stats.cancelled += 1
            self._save(t, "CANCEL_ACK")
        elif isinstance(msg, CancelReject):
            if t.order.state in (OrderState.FILLED, OrderState.CANCELED, OrderState.EXPIRED):
                return
            self._apply(t, OrderEvent.CANCEL_REJECT)
            self._save(t, "CANCEL_REJECT", code=msg.code, reason=msg.reason)
            if t.order.state is OrderState.UNKNOWN:
                self._resolve_later(t)
        elif isinstance(msg, Reject):
            self.stats.rejected_by_exchange += 1
            self._apply(t, OrderEvent.REJECT)
            self._save(t, "REJECT", code=msg.code, reason=msg.reason)
        elif isinstance(msg, Expired):
            self._apply(t, OrderEvent.EXPIRE)
            self._save(t, "EXPIRE")
        self._changed()

    def _attributed(self, fill: Fill) -> Fill:
        """A fill whose client id the venue could not learn, named from our exchange ids."""
        if fill.client_order_id or fill.exchange_order_id is None:
            return fill
        for t in self.orders.values():
            if t.order.exchange_order_id == fill.exchange_order_id:
                return msgspec.structs.replace(fill, client_order_id=t.order.client_order_id)
        for order in self.recent:  # finished and pruned, but a late report may still come
            if order.exchange_order_id == fill.exchange_order_id:
                return msgspec.structs.replace(fill, client_order_id=order.client_order_id)
        return fill

    def on_fill(self, fill: Fill) -> None:
        fill = self._attributed(fill)
        if not self.ids.is_ours(fill.client_order_id):
            return  # a fill of the client's own order: not ours to count
        t = self.orders.get(fill.client_order_id)
        if t is not None:
            self.version += 1
            try:
                if not t.order.apply_fill(fill.trade_id, fill.qty, fill.price, fill.ts_ms):
                    return  # seen already
            except (InvalidTransition, InvalidFill) as exc:
                self.stats.errors += 1
                log.warning("%s: fill %s did not fit: %s", self.symbol, fill.trade_id, exc)
                self._resolve_later(t)
            else:
                self._save(t, "FILL", trade_id=fill.trade_id, qty=fill.qty, price=fill.price)
        self.stats.fills += 1
        sign = 1 if fill.side is Side.BUY else -1
        self.base_traded += sign * fill.qty
        self.quote_traded -= sign * fill.qty * fill.price
        fee_quote = ZERO
        if fill.fee and fill.fee_asset:
            if fill.fee_asset.upper() == self.instrument.quote:
                fee_quote = fill.fee
                self.quote_traded -= fill.fee
            elif fill.fee_asset.upper() == self.instrument.base:
                self.base_traded -= fill.fee
        self.risk.on_fill(fill.ts_ms, fill.side, fill.price, fill.qty, fee_quote)
        if self.writer is not None:
            self.writer.fill(fill)
        self._changed()

    async def close(self, timeout_s: float = 5.0) -> None:
        """Let requests on the wire finish (cutting one off leaves its outcome unknown), then
        stop the look-ups."""
        if self._send_tasks:
            await asyncio.wait(list(self._send_tasks), timeout=timeout_s)
        for task in list(self._send_tasks):
            task.cancel()
        for task in list(self._resolve_tasks):
            task.cancel()
        for task in list(self._resolve_tasks):
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass


def _settle_stored(writer: StoreWriter, rec: object, status: str, snap: OrderSnapshot | None,
                   at_ms: int):
    """A store write that records the exchange's final word on an order from an earlier run."""
    def write() -> None:
        updated = replace(
            rec,  # type: ignore[type-var]
            status=status,
            updated_ms=at_ms,
            filled_qty=snap.filled_qty if snap is not None else rec.filled_qty,  # type: ignore[attr-defined]
        )
        writer.store.upsert_order(updated)
        writer.store.record_order_event(
            OrderEventRecord(
                client_order_id=rec.client_order_id,  # type: ignore[attr-defined]
                event="RECONCILED_AT_START",
                ts_ms=at_ms,
                status=status,
            )
        )

    return write
