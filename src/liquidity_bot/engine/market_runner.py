"""One market's loop: book -> strategy -> order manager, isolated from the other markets.

A depth frame that finds the loop idle runs the pass at once, inside the frame's own handling
(``engine.eager``: no event-loop turn between the book and its first order request, and no
acknowledgement or fill queued in front of it); anything else (a frame arriving while a pass
runs, an acknowledgement, a fill) wakes the loop, which runs the next pass. A timer wakes it
too, so a silent feed is noticed. Passes never overlap. Each pass, in order of precedence:
1. the risk gate's kill switch is latched: cancel everything and stop quoting;
2. market data is stale (no book for ``stale_after_s``) or the book is crossed: pull quotes;
3. otherwise: ask the strategy for the desired quotes and let the order manager reconcile.
An exception in a pass is logged and counted; the loop backs off and goes on, and nothing it
raises reaches the other markets.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import ClassVar

from liquidity_bot.config import MarketConfig
from liquidity_bot.domain.book import BookSide, OrderBook
from liquidity_bot.domain.events import BookUpdate, Fill
from liquidity_bot.domain.instrument import Instrument
from liquidity_bot.domain.market_id import DEFAULT_EXCHANGE, market_name
from liquidity_bot.domain.order import Order, Side
from liquidity_bot.engine.clock import Clock
from liquidity_bot.engine.eager import run_now, start_now
from liquidity_bot.engine.order_manager import OrderManager, QuietMark
from liquidity_bot.engine.risk import RiskGate
from liquidity_bot.engine.runtime import collect_if_due
from liquidity_bot.reporting.kpi import (
    GAP_INTERVALS,
    OBLIGATION_BAND_PCT,
    RISK_AUDIT_CATEGORY,
    OurQuote,
    measure,
    quotes_from_orders,
)
from liquidity_bot.reporting.markouts import MarkoutTracker
from liquidity_bot.store import AuditEvent
from liquidity_bot.strategies.base import Inventory, MarketSnapshot, QuoteSet, TopOfBook
from liquidity_bot.strategies.estimators import MarketEstimator

log = logging.getLogger(__name__)

ZERO = Decimal(0)
_BUY = Side.BUY  # a module global is cheaper to look up than an Enum member
_SAMPLE_BANDS = (OBLIGATION_BAND_PCT,)  # the band the obligations and the store read


_Own = dict[Decimal, Decimal]  # our resting quantity per price, on one side


def own_levels(ours: Iterable[Order]) -> tuple[_Own, _Own]:
    """Our resting quantity per price on each side (bids, asks) of ``ours``."""
    own_bids: _Own = {}
    own_asks: _Own = {}
    for o in ours:
        own = own_bids if o.side is _BUY else own_asks
        price = o.price
        own[price] = own.get(price, ZERO) + o.remaining_qty
    return own_bids, own_asks


def market_top(book: OrderBook, ours: Iterable[Order],
               own: tuple[_Own, _Own] | None = None) -> TopOfBook:
    """Best bid and ask of everyone but us (``ours``: our orders that may be on the book;
    ``own``: their ``own_levels`` when known): quoting around our own quotes would chase
    itself."""
    own_bids, own_asks = own_levels(ours) if own is None else own
    # (the lazy sides: only the levels looked at are converted to Decimal)
    bid, bid_qty = _first_of_others(book.bid_side, own_bids or None)
    ask, ask_qty = _first_of_others(book.ask_side, own_asks or None)
    return TopOfBook(bid=bid, bid_qty=bid_qty, ask=ask, ask_qty=ask_qty)


def _first_of_others(
    side: BookSide, own: dict[Decimal, Decimal] | None
) -> tuple[Decimal, Decimal] | tuple[None, None]:
    """The best level of ``side`` with quantity left once ours (``own``) is taken out."""
    best = side.best
    if best is None:
        return None, None
    price, qty = best
    if own is not None and price in own:
        qty = qty - own[price]
    if qty > 0:  # most often: the best level is someone else's
        return price, qty
    for price, qty in side:
        rest = qty - own[price] if own is not None and price in own else qty
        if rest > 0:
            return price, rest
    return None, None


# A best level the others' top was looked for in: (price, our quantity there or None)
_PathStep = tuple[Decimal, Decimal | None]


def _side_path(side: BookSide, own: dict[Decimal, Decimal]) -> tuple[_PathStep, ...] | None:
    """The levels ``_first_of_others`` reads of ``side`` to find the others' best: each level
    all ours (its quantity at most ours), then the first with some of the others'. None when
    there is none, or it lies deeper than ``_QUIET_DEPTH`` levels (not worth checking)."""
    path = []
    for price, qty in side:
        mine = own.get(price)
        path.append((price, mine))
        if mine is None or qty > mine:
            return tuple(path)
        if len(path) >= _QUIET_DEPTH:
            return None
    return None


def _same_path(side: BookSide, path: tuple[_PathStep, ...]) -> bool:
    """``side`` gives ``_first_of_others`` the same answer (price) along ``path``, with our
    quantities unchanged: the same prices, the levels that were all ours still are, and the
    last still has some of the others' (``_side_path`` of the last pass)."""
    last = len(path) - 1
    for i, (price, mine) in enumerate(path):
        if i == 0:
            level = side.best
            if level is None:
                return False
        elif i < len(side):
            level = side[i]
        else:
            return False
        if level[0] != price:
            return False
        if i == last:
            return mine is None or level[1] > mine
        if level[1] > mine:  # type: ignore[operator]
            return False
    return False


_QUIET_DEPTH = 4


@dataclass
class ObligationStatus:
    """The latest sample of our own quotes against the obligations, plus the running uptime.

    Uptime is time-weighted by the report's rules (``kpi.compute_uptime``): each sample holds
    until the next, a pause longer than ``GAP_INTERVALS`` intervals counts one interval for the
    sample and the rest as not met, and the time from the start of the run to the first sample
    is not met. So the terminal view, the backtest table and the report show one uptime."""

    two_sided: bool = False
    spread_pct: Decimal | None = None
    bid_depth: Decimal = ZERO
    ask_depth: Decimal = ZERO
    met: bool = False
    samples: int = 0
    met_samples: int = 0
    met_ms: int = 0
    total_ms: int = 0
    interval_ms: int = 1000
    start_ms: int | None = None  # when the run started: sampling counts from there
    _last: tuple[int, bool] | None = None

    def add(self, ts_ms: int, met: bool) -> None:
        """One sample at ``ts_ms``: the previous one vouches for the time up to it."""
        self.samples += 1
        self.met_samples += int(met)
        last = self._last
        if last is None:
            if self.start_ms is not None and ts_ms > self.start_ms:
                self.total_ms += ts_ms - self.start_ms  # before the first sample: not met
        else:
            dt = ts_ms - last[0]
            if dt > 0:
                self.total_ms += dt
                if last[1]:
                    self.met_ms += dt if dt <= GAP_INTERVALS * self.interval_ms else \
                        self.interval_ms
        self._last = (ts_ms, met)

    @property
    def uptime(self) -> float | None:
        """Share of the run so far with the obligations met (a read-out: float is fine)."""
        return None if self.total_ms <= 0 else self.met_ms / self.total_ms


class MarketRunner:
    """Runs one market of one key (see the module docstring)."""

    # How passes run. A pass answers a book in the book's own call (``eager``) and does not
    # wait for its requests' answers. ``liquidity_bot.testing.runners`` holds the design before
    # (passes in the loop, each waiting for its answers), for tests and bench_engine's
    # side-by-side comparison.
    eager: ClassVar[bool] = True
    wait_for_answers: ClassVar[bool] = False
    # Quiet passes (``_quiet_again``): a pass whose every input is the last pass's, which
    # changed nothing, is counted instead of run. ``verify_quiet`` (tests) runs it anyway and
    # raises if it did anything but what counting it does.
    skip_quiet: ClassVar[bool] = True
    verify_quiet: ClassVar[bool] = False

    def __init__(
        self,
        config: MarketConfig,
        instrument: Instrument,
        strategy: object,
        manager: OrderManager,
        risk: RiskGate,
        *,
        stale_after_s: float = 5.0,
        kpi_interval_s: float = 1.0,
        store_kpis: bool = True,
        estimator: MarketEstimator | None = None,
        clock: Clock | None = None,
    ) -> None:
        # the manager's clock unless told otherwise: one market, one notion of now
        self.clock = clock if clock is not None else manager.time
        self.config = config
        self.symbol = config.symbol
        # a market is (exchange, symbol): the same token may be quoted on several exchanges
        self.exchange: str = getattr(config, "exchange", DEFAULT_EXCHANGE)
        self.name = market_name(self.exchange, self.symbol)
        self.instrument = instrument
        self.strategy = strategy
        self.om = manager
        self.risk = risk
        self.book = OrderBook(self.symbol)
        manager.book = self.book
        self.stale_after_s = stale_after_s
        self.kpi_interval_s = kpi_interval_s
        self.store_kpis = store_kpis
        self.estimator = estimator  # online estimates (volatility; per-side arrivals for GLFT)
        self.markouts = MarkoutTracker()  # our fills against the mid 0, 1, 5 and 60 s later
        self.refresh_s = config.order_manager.refresh_interval_ms / 1000
        self.last_book_mono: float | None = None
        self.last_book_ns: int | None = None
        self.status = "starting"
        self.errors = 0
        self.last_error: str | None = None
        # the latest quote set the strategy gave (a quiet pass, counted without asking it,
        # keeps it: the same quotes, stamped at the pass that asked)
        self.last_quotes: QuoteSet | None = None
        self.obligation = ObligationStatus(interval_ms=int(kpi_interval_s * 1000))
        self.started_mono: float | None = None
        self.first_two_sided_s: float | None = None
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()  # ``run``'s
        self._timer: asyncio.TimerHandle | None = None  # ``run``'s refresh timer
        self._next_kpi = 0.0
        self._sampled_orders: list[tuple[str, Decimal]] = []
        self._sampled_version = -1  # the order manager's ``version`` the sample test last saw
        # ``measure``'s view of our resting orders, by their (client id, remaining quantity)
        self._kpi_quotes: tuple[list[tuple[str, Decimal]], list[OurQuote]] | None = None
        self._reacted_book_ns: int | None = None  # the book the latest quoting pass answered
        self._waiting = False  # the loop waits for a wake-up: a book may run a pass itself
        self._in_pass = False  # a pass is running (the loop's or a book's)
        self._eager_pass: asyncio.Task[None] | None = None  # a book's pass, still running
        self._pass_name = f"pass-{self.symbol}"
        capabilities = getattr(manager.venue, "capabilities", None)
        self._start_pass = run_now if getattr(capabilities, "task_free_requests", False) \
            else start_now
        self._backoff = 0.1
        self.pulls = 0
        self.passes = 0  # quoting passes run (the strategy and planner asked, or reused)
        self._last_inventory: tuple[tuple[Decimal | None, ...], Inventory] | None = None
        # the last snapshot's ``own_levels`` and the list of our orders they were made of
        self._own: tuple[list[Order], tuple[_Own, _Own]] | None = None
        self._assets = (instrument.base.upper(), instrument.quote.upper())  # balances' keys
        # what the last pass read, when it changed nothing (``_quiet_again``)
        self._quiet: tuple[object, ...] | None = None
        self.quiet_passes = 0  # passes counted without running (a read-out)
        self._verifying: tuple[object, ...] | None = None  # ``verify_quiet``: the pass to check
        # A strategy that says what its answer depends on (``quiet_key``: the ladder) and an
        # estimator whose estimates do not depend on the clock (none, or volatility only)
        self._can_be_quiet = hasattr(strategy, "quiet_key") and (
            estimator is None or not getattr(estimator, "arrivals", True))

    @property
    def quotes_reused(self) -> int:
        """Passes whose quotes the strategy gave again (nothing it reads had changed)."""
        return getattr(self.strategy, "reused", 0)

    # --- feeding -------------------------------------------------------------------------------
    def on_book(self, update: BookUpdate) -> None:
        """Apply a book and answer it: what the pass reads first (the risk gate's reference
        and loss mark, the estimates), then the pass, then what only later reads need (the
        markouts: nothing in the pass's first step reads or feeds them)."""
        book = self.book
        if not book.apply(update):
            return
        self.last_book_mono = self.clock.monotonic()
        self.last_book_ns = update.recv_ns or time.perf_counter_ns()
        ts_ms = update.ts_ms
        mid = book.mid
        if mid is not None:
            self.risk.on_mid(ts_ms, mid)
        if self.estimator is not None:
            self._feed_estimator(ts_ms, mid)
        if self.eager and self._waiting and not self._in_pass:
            if self._quiet is None or not self._quiet_pass():
                self._pass_now()
        else:
            self._wake.set()
        if mid is not None:
            self.markouts.on_mid(ts_ms, mid)

    def _quiet_pass(self) -> bool:
        """The pass a book (or the loop) would start, when it is quiet (``_quiet_again``):
        counted here, without a coroutine or a context of its own. ``step``'s own checks come first; False
        (nothing done): run the pass. An error is handled as ``_pass`` handles one."""
        self._in_pass = True
        try:
            risk = self.risk
            if risk.killed or self.stale or self.book.is_crossed:
                return False
            minimal = risk.loss_limited
            if minimal != self.om.rules.minimal:
                return False
            self.status = "quoting (minimum)" if minimal else "quoting"
            quiet = self._quiet
            assert quiet is not None
            if self._quiet_again(quiet):
                self._backoff = 0.1
                return True
            self._quiet = None
            return False
        except Exception as exc:  # (as ``_pass``; the next pass waits for no backoff here)
            self._quiet = None
            self.errors += 1
            self.last_error = f"{type(exc).__name__}: {exc}"
            log.exception("%s: quoting pass failed", self.symbol)
            return True
        finally:
            self._in_pass = False

    def _pass_now(self) -> None:
        """Run a pass in this call (up to its first wait); if it waits, a task of its own
        continues it and the loop waits for it before running another. With a venue whose
        requests bind nothing to the running task, the task is made after the first step
        (its first request is on its way before), else first."""
        task = self._start_pass(self._pass(), name=self._pass_name)
        if self._in_pass:  # not finished in this call
            self._eager_pass = task

    def _feed_estimator(self, ts_ms: int, mid: Decimal | None) -> None:
        """Book snapshot plus our own resting quantity per price (so our cancels are not read
        as trades); a volatility-only estimator (the ladder's) is fed the book's mid alone."""
        assert self.estimator is not None
        if not getattr(self.estimator, "arrivals", True):  # volatility only: mids, not ours
            if mid is not None:  # (``on_book`` reads the same mid off the book)
                self.estimator.on_mid(ts_ms, mid)
            return
        own: dict[Side, dict[Decimal, Decimal]] = {Side.BUY: {}, Side.SELL: {}}
        for o in self.om.maybe_on_book():
            side = own[o.side]
            side[o.price] = side.get(o.price, ZERO) + o.remaining_qty
        self.estimator.on_book(ts_ms, self.book, own[Side.BUY], own[Side.SELL])

    def on_own_fill(self, fill: Fill) -> None:
        """One of our fills (from the venue's order events): an arrival on its side for the
        intensity estimate, and a fill to mark out."""
        if not self.om.ids.is_ours(fill.client_order_id):
            return
        self.markouts.on_fill(fill.side, fill.price, fill.qty, fill.ts_ms)
        mid = self.book.mid
        if mid is not None and self.estimator is not None:
            self.estimator.on_own_fill(fill.ts_ms, fill.price, mid, fill.side)

    def wake(self) -> None:
        self._wake.set()

    @property
    def stale(self) -> bool:
        return (
            self.last_book_mono is None
            or self.clock.monotonic() - self.last_book_mono > self.stale_after_s
        )

    # --- the loop ------------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        self.started_mono = self.clock.monotonic()
        if self.obligation.start_ms is None:  # uptime counts from the start, not the first book
            self.obligation.start_ms = self.clock.now_ms()
        loop = asyncio.get_running_loop()
        self._stop = stop
        try:
            while not stop.is_set():
                # A timer that sets the event, rather than ``wait_for``: no extra task and loop
                # hop between a wake-up and the pass that answers it.
                self._timer = loop.call_later(self.refresh_s, self._refresh)
                self._waiting = True
                try:
                    await self._wake.wait()
                finally:
                    self._waiting = False
                    if self._timer is not None:
                        self._timer.cancel()
                if self._eager_pass is not None:  # a book ran a pass meanwhile: let it end
                    await asyncio.wait([self._eager_pass])
                self._wake.clear()
                if stop.is_set():
                    break
                if self._quiet is None or not self._quiet_pass():
                    await self._pass()
        finally:
            self._waiting = False
            if self._eager_pass is not None:
                self._eager_pass.cancel()
                await asyncio.wait([self._eager_pass])

    def _refresh(self) -> None:
        """The refresh timer: wakes the loop's task. On a loop that can tell that the task
        would run next with nothing in between (``runs_next``: the backtest's virtual loop),
        a quiet pass is counted here instead, as a book's is in ``on_book`` (no wake-up, no
        loop turn), and the timer set again; the check then reads what the task would."""
        loop = asyncio.get_running_loop()
        runs_next = getattr(loop, "runs_next", None)
        if (runs_next is not None and self._quiet is not None and not self.verify_quiet
                and self._waiting and not self._in_pass and self._eager_pass is None
                and not self._wake.is_set() and not self._stop.is_set() and runs_next()
                and self._quiet_pass()):
            self._timer = loop.call_later(self.refresh_s, self._refresh)
            return
        self._wake.set()

    async def _pass(self) -> None:
        """One pass; an exception is logged and counted, and the market backs off (isolation:
        the other markets go on)."""
        self._in_pass = True
        try:
            await self.step()
            self._backoff = 0.1
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.errors += 1
            self.last_error = f"{type(exc).__name__}: {exc}"
            log.exception(
                "%s: quoting pass failed; retrying in %.1f s", self.symbol, self._backoff
            )
            await asyncio.sleep(self._backoff)
            self._backoff = min(self._backoff * 2, 5.0)
        finally:
            self._in_pass = False
            self._eager_pass = None

    async def step(self) -> None:
        killed, stale, crossed = self.risk.killed, self.stale, self.book.is_crossed
        if killed or stale or crossed:
            self._sample()
        if killed:
            if self.status != "killed":
                log.error("%s: kill switch latched: cancelling everything", self.symbol)
                self._record_risk("kill_switch", self.risk.kill_reason or "")
            self.status = "killed"
            await self.om.cancel_all("kill switch")
            return
        if stale or crossed:
            why = "stale market data" if stale else "crossed book"
            if self.status != "pulled":
                log.warning("%s: %s: pulling quotes", self.symbol, why)
                self.pulls += 1
            self.status = "pulled"
            await self.om.cancel_all(why)
            return
        minimal = self.risk.loss_limited  # loss limit hit: the minimum obligation only
        if minimal != self.om.rules.minimal:
            self.om.rules = replace(self.om.rules, minimal=minimal)
            if minimal:
                self._record_risk("loss_limit_minimum", self.risk.loss_limit_state or "")
        self.status = "quoting (minimum)" if minimal else "quoting"
        quiet = self._quiet
        if quiet is not None:
            if self._quiet_again(quiet):
                return
            self._quiet = None
        # The strategies remember their last answer under what they read of the snapshot
        # (``strategies.shaping.QuoteMemo``): a pass that changed none of it (an
        # acknowledgement, a book that moved below the top or only in size) costs no plan.
        self.passes += 1
        snapshot = self._snapshot(self.book)
        quotes = self.last_quotes = self.strategy.quote(snapshot)  # type: ignore[attr-defined]
        # Tick-to-order latency is measured for passes that answer a new book only (not for
        # passes woken by an acknowledgement, a fill or the timer).
        fresh = self.last_book_ns != self._reacted_book_ns
        self._reacted_book_ns = self.last_book_ns
        # Not waiting for the answers: the next book is answered at once, even while this
        # pass's requests are on the wire (their answers wake the loop).
        om = self.om
        planned = om.passes_planned
        await om.sync(
            quotes, trigger_ns=self.last_book_ns if fresh else None, wait=self.wait_for_answers
        )
        if self._verifying is not None:
            self._check_verified()
        if self._can_be_quiet and om.passes_planned == planned + 1 and self.skip_quiet:
            self._quiet = self._quiet_mark(snapshot, quotes)
        self._sample()  # after the requests are on their way: a due sample never delays them
        collect_if_due()  # the same for garbage collection (see engine.runtime)

    # --- quiet passes --------------------------------------------------------------------------
    def _quiet_mark(self, snapshot: MarketSnapshot, quotes: QuoteSet) -> tuple[object, ...] | None:
        """After a pass: what it read, if it changed nothing and a later pass can tell cheaply
        that it reads the same (else None). The strategy read the others' best prices (both
        sides: ``market_top``, which passes over the best levels that are all ours), the
        inventory and what its ``quiet_key`` says; the order manager the book's best prices."""
        om = self.om
        om_mark = om.quiet_mark()
        if om_mark is None:
            return None
        top = snapshot.book
        ours = om.maybe_on_book()
        kept = self._own  # the snapshot's, while our orders are the same list
        own_bids, own_asks = kept[1] if kept is not None and kept[0] is ours else \
            own_levels(ours)
        book = self.book
        bids = _side_path(book.bid_side, own_bids)
        asks = _side_path(book.ask_side, own_asks)
        if (bids is None or asks is None or top.bid != bids[-1][0]  # type: ignore[attr-defined]
                or top.ask != asks[-1][0]):  # type: ignore[attr-defined]
            return None
        strategy = self.strategy
        key = strategy.quiet_key(snapshot.estimates)  # type: ignore[attr-defined]
        cap = getattr(strategy, "quiet_sigma_cap", None)
        sigma_cap = -math.inf if cap is None or self.estimator is None else cap(key)
        return (om_mark, bids, asks, snapshot.inventory, key, sigma_cap, quotes.bids,
                quotes.asks)

    def _quiet_again(self, quiet: tuple[object, ...]) -> bool:
        """Count this pass instead of running it, when everything it would read is what the
        last pass read and that pass changed nothing (``_quiet_mark``): the strategy would give
        the same quotes again, the order manager the same plan without an action. What
        running it does is then only counting (``OrderManager.quiet_again``) and the sample.
        False: run it."""
        om_mark, bid_path, ask_path, inventory, key, sigma_cap, bids, asks = quiet
        book = self.book
        if not (_same_path(book.bid_side, bid_path)  # type: ignore[arg-type]
                and _same_path(book.ask_side, ask_path)):  # type: ignore[arg-type]
            return False
        if self._inventory() is not inventory:
            return False
        estimator = self.estimator
        strategy = self.strategy
        # a sigma under the strategy's cap gives its key again (``quiet_sigma_cap``); past
        # it (or with no cap) the key is worked out
        if estimator is None or not estimator.volatility.sigma_pct <= sigma_cap:  # type: ignore[operator]
            estimates = None if estimator is None else estimator.volatility_estimates()
            if strategy.quiet_key(estimates) != key:  # type: ignore[attr-defined]
                return False
        om = self.om
        if self.verify_quiet:
            if estimator is not None and strategy.quiet_key(  # type: ignore[attr-defined]
                    estimator.volatility_estimates()) != key:
                raise AssertionError(f"{self.symbol}: sigma under the quiet cap changed the "
                                     f"strategy's key")
            return self._verify_quiet(om_mark, bids, asks)
        if not om.quiet_again(om_mark, bid_path[0][0], ask_path[0][0]):  # type: ignore[index]
            return False
        self.passes += 1
        self.quiet_passes += 1
        strategy.quiet_again()  # type: ignore[attr-defined]
        self._reacted_book_ns = self.last_book_ns
        self._sample()
        collect_if_due()
        return True

    def _verify_quiet(self, om_mark: QuietMark, bids: object, asks: object) -> bool:
        """``verify_quiet``: run the pass the quiet check would count, and raise unless it did
        exactly what counting it does. False (the pass ran)."""
        om = self.om
        stats = om.stats
        before = (stats.plans_reused, stats.crossing_fixed, stats.budget_skipped,
                  self.quotes_reused, om.passes_planned)
        bid, ask = self.book.best_bid, self.book.best_ask
        assert bid is not None and ask is not None
        last_plan = om._last_plan
        counted = om.quiet_again(om_mark, bid[0], ask[0])  # (undone below)
        reused = om.quiet_reused
        if counted:
            stats.plans_reused -= reused
            stats.crossing_fixed -= om_mark.crossing_fixed
            stats.budget_skipped -= om_mark.waiting
            om.passes_planned -= 1
            om._last_plan = last_plan
        self._quiet = None
        self._verifying = (counted, before, om_mark, bids, asks, reused)
        return False

    def _check_verified(self) -> None:
        """After the pass ``_verify_quiet`` let run: it matched what counting it does."""
        counted, before, om_mark, bids, asks, reused = self._verifying
        self._verifying = None
        if not counted:
            return
        om = self.om
        stats = om.stats
        quotes = self.last_quotes
        last = om._last_plan
        after = (stats.plans_reused, stats.crossing_fixed, stats.budget_skipped,
                 self.quotes_reused, om.passes_planned)
        want = (before[0] + reused, before[1] + om_mark.crossing_fixed,
                before[2] + om_mark.waiting, before[3] + 1, before[4] + 1)
        # (a plan made again, not reused, for a new allowance: an equal one)
        if (after != want or quotes is None or quotes.bids != bids or quotes.asks != asks
                or last is None or (last[1] is not om_mark.plan if reused
                                    else last[1] != om_mark.plan)):
            raise AssertionError(
                f"{self.symbol}: a pass counted as quiet did more: counters {after} != {want}, "
                f"quotes equal: {quotes is not None and quotes.bids == bids and quotes.asks == asks}")

    def _snapshot(self, book: OrderBook) -> MarketSnapshot:
        """The strategy's inputs now, around ``book``."""
        now = self.clock.now_ms()
        estimator = self.estimator
        if estimator is None:
            estimates = None
        elif getattr(estimator, "arrivals", True):
            estimates = estimator.estimates(now)
        else:  # a volatility-only estimator (the ladder's): no intensity fit, sigma alone
            estimates = estimator.volatility_estimates()
        ours = self.om.maybe_on_book()  # (a list kept per version of our orders)
        own = own_levels(ours)
        self._own = (ours, own)
        return MarketSnapshot(
            book=market_top(book, ours, own),
            inventory=self._inventory(),
            now_ms=now,
            reference_price=self.risk.reference_price,
            estimates=estimates,
        )

    def _inventory(self) -> Inventory:
        """Base and quote, free + locked; the last pass's object while the balances are the
        same objects (a balance event replaces them)."""
        balances = self.om.balances
        free, locked = balances.free, balances.locked
        base, quote = self._assets
        parts = (free.get(base), locked.get(base), free.get(quote), locked.get(quote))
        last = self._last_inventory
        if last is not None:
            seen = last[0]
            if (parts[0] is seen[0] and parts[1] is seen[1] and parts[2] is seen[2]
                    and parts[3] is seen[3]):
                return last[1]
        inventory = Inventory(base=balances.total(base), quote=balances.total(quote))
        self._last_inventory = (parts, inventory)
        return inventory

    def _record_risk(self, action: str, message: str) -> None:
        """An audit event the report lists: what a risk limit did to this market's quoting."""
        writer = self.om.writer
        if writer is None:
            return
        event = AuditEvent(ts_ms=self.clock.now_ms(), category=RISK_AUDIT_CATEGORY,
                           action=action, message=message, detail={"symbol": self.symbol})
        writer.submit(lambda: writer.store.add_audit_event(event))

    # --- obligations ---------------------------------------------------------------------------
    def _sample(self) -> None:
        """Our quotes against the obligations, by the report's own rules (``kpi.measure``:
        an order counts once it has rested ``min_rest_s``), every ``kpi_interval_s`` and at
        once when our resting orders changed (an acknowledgement, a fill, a cancel): a breach
        our own orders cause or end is timed to the pass, not rounded to the interval."""
        now = self.clock.monotonic()
        om = self.om
        if now < self._next_kpi and om.version == self._sampled_version:
            return  # not due, and no order of ours changed since the last sample
        resting = om.resting_view()
        ours = [(o.client_order_id, o.remaining_qty) for o in resting]
        self._sampled_version = om.version
        if now < self._next_kpi and ours == self._sampled_orders:
            return
        self._next_kpi = now + self.kpi_interval_s
        self._sampled_orders = ours
        now_ms = self.clock.now_ms()
        kept = self._kpi_quotes
        if kept is not None and kept[0] == ours:
            quotes = kept[1]  # the same orders with the same quantities: the same quotes
        else:
            orders = om.orders
            quotes = quotes_from_orders(resting, lambda o: orders[o.client_order_id].created_ms)
            self._kpi_quotes = (ours, quotes)
        # the obligation band alone (what the runner reads), the whole book's depth only for
        # a sample that is stored
        writer = self.om.writer
        stored = writer is not None and self.store_kpis
        reading = measure(self.symbol, self.book, quotes, self.config.obligations, now_ms,
                          _SAMPLE_BANDS, market_depth=stored)
        band = reading.band(OBLIGATION_BAND_PCT)
        ob = self.obligation
        ob.two_sided = reading.two_sided
        ob.spread_pct = reading.our_spread_pct
        ob.bid_depth, ob.ask_depth = band.bid, band.ask
        ob.met = reading.met
        if ob.two_sided and self.first_two_sided_s is None and self.started_mono is not None:
            self.first_two_sided_s = now - self.started_mono
        ob.add(now_ms, ob.met)
        if stored and reading.mid is not None:
            sample = reading.to_store()
            if self.exchange != DEFAULT_EXCHANGE:
                sample = replace(sample, exchange=self.exchange)
            writer.kpi_sample(sample)
