"""Wiring: one process, several markets, possibly several client keys (one venue per key).

``Engine.run`` starts every key's venue, every market's order manager and loop, and the event
pumps (book, order and balance streams of each venue, dispatched by symbol), then waits for the
stop signal (SIGINT, SIGTERM, SIGHUP, SIGQUIT, a duration, or ``stop()``). On the way out it
cancels all of our orders, waits for in-flight ones to settle, and flushes the store; what could
not be cancelled is listed in ``left_open_orders`` (the ``run`` command then exits non-zero). A market that fails to start
or keeps failing is reported and left alone; the others keep quoting.

``KeySession`` is what a key brings: its label, the venue built for it (after the keys gate
passed), and its order budget. A session with a ``KeyWatch`` is re-checked every
``key_check_s`` while running: a rotated key is switched to by cancel-and-requote (the
session's loops stop, its orders are cancelled with the old key, a venue is built with the new
key, orphans of ours are adopted, quoting resumes); a key that no longer passes stops its
markets and has their orders cancelled (a key disabled on the exchange cannot cancel: the
engine then says how many orders are left and what to do). Other keys' markets go on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, cast

from liquidity_bot.config import MarketConfig
from liquidity_bot.domain.events import BookUpdate, Fill
from liquidity_bot.domain.market_id import DEFAULT_EXCHANGE, market_name
from liquidity_bot.engine.budget import OrderBudget
from liquidity_bot.engine.clock import LIVE, Clock
from liquidity_bot.engine.market_runner import MarketRunner
from liquidity_bot.engine.order_manager import Balances, ClientIds, OrderManager, Tolerance
from liquidity_bot.engine.persistence import StoreWriter, writer_for
from liquidity_bot.engine.planner import PlanRules
from liquidity_bot.engine.risk import RiskGate, allow_list_from_markets
from liquidity_bot.engine.runtime import collect_before_start, collect_if_due, latency_mode
from liquidity_bot.store import Store
from liquidity_bot.venues.errors import Banned, VenueError, is_permanent, retry_after_s
from liquidity_bot.venues.port import BookListener, PacedByAddress, Venue

log = logging.getLogger(__name__)

# Quotes are pulled when a market's book has not changed for this long. Depth is pushed on
# change only, so a quiet market (a thin pair) can go many seconds without a push while the feed
# is alive; Bitrue pings every 15 s and the stream replaces a connection silent for 30 s, so
# 30 s without a book is a dead or stalled feed, not a quiet market. (It was 5 s: a thin market
# had its quotes pulled and re-placed dozens of times an hour, breaking the obligations.)
STALE_BOOK_S = 30.0
# Every signal that asks the process to end: each one cancels our orders first. SIGHUP comes
# with a closed terminal or a dropped SSH session, SIGQUIT from Ctrl-\\ (handled, it no longer
# dumps core, which would write the passphrase and secrets to disk).
STOP_SIGNALS: tuple[signal.Signals, ...] = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT")
    if hasattr(signal, name)
)


@dataclass(frozen=True)
class LeftOpen:
    """One order of ours the exchange may still hold after shutdown: what an operator needs to
    find and cancel it by hand."""

    key_label: str
    symbol: str
    client_order_id: str
    side: str
    price: Decimal
    qty: Decimal

    def as_dict(self) -> dict[str, str]:
        return {"key": self.key_label, "symbol": self.symbol,
                "client_order_id": self.client_order_id, "side": self.side,
                "price": f"{self.price:f}", "qty": f"{self.qty:f}"}


def build_strategy(market: MarketConfig, instrument: Any) -> Any:
    from liquidity_bot.strategies import make_strategy

    return make_strategy(market, instrument)


def tolerance_of(market: MarketConfig) -> Tolerance:
    om = market.order_manager
    return Tolerance(
        price_ticks=om.effective_price_tolerance_ticks,
        price_pct=om.price_tolerance_pct,
        size_pct=om.size_tolerance_pct,
    )


def plan_rules_of(market: MarketConfig) -> PlanRules:
    """What the planner plans against: the market's obligations, order limit and tolerance."""
    return PlanRules(
        max_spread_pct=market.obligations.max_spread_pct,
        min_depth_quote=market.obligations.min_depth_2pct_quote,
        max_order_notional=market.risk.max_order_notional,
        tolerance=tolerance_of(market),
        min_rest_ms=int((market.obligations.min_rest_s or 0) * 1000),
    )


@dataclass(frozen=True)
class EngineParts:
    """The parts the engine builds per market, replaceable as a whole (the backtest gives
    seeded client ids, a batched store writer, or the baseline order manager; a test the way
    passes ran before)."""

    client_ids: Callable[[str, Clock], ClientIds] = ClientIds
    writer: Callable[[Store, Clock], StoreWriter] = StoreWriter
    order_manager: Callable[..., OrderManager] = OrderManager
    market_runner: Callable[..., MarketRunner] = MarketRunner


@dataclass
class KeySession:
    """One client key: its venue and the budget its markets share."""

    label: str
    venue: Venue
    markets: list[MarketConfig]
    # None: built from the venue's order limit (``OrderBudget.for_limit``)
    budget: OrderBudget = None  # type: ignore[assignment]
    balances: Balances = field(default_factory=Balances)
    runners: dict[str, MarketRunner] = field(default_factory=dict)
    venue_factory: Callable[[], Venue] | None = None  # a fresh venue (e.g. after a rotation)
    failed: dict[str, str] = field(default_factory=dict)
    started: bool = False
    watch: Any = None  # liquidity_bot.keys.gate.KeyWatch: re-checked while running
    venue_for: Callable[[Any], Venue] | None = None  # a verified key (rotated in) -> venue
    refused: str | None = None  # why the keys gate stopped this key while running
    switches: int = 0  # key rotations picked up while running
    reverify_unsure: int = 0  # inconclusive re-verifications in a row (read by the alerts)
    loop_tasks: list[asyncio.Task[Any]] = field(default_factory=list)
    pump_tasks: list[asyncio.Task[Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.budget is None:
            self.budget = OrderBudget.for_limit(self.venue.order_rate_limit)


class Engine:
    """The running bot (see the module docstring)."""

    def __init__(
        self,
        sessions: Iterable[KeySession],
        *,
        all_markets: Iterable[MarketConfig],
        store: Store | None,
        recv_window_ms: int = 5000,
        stale_after_s: float = STALE_BOOK_S,
        kpi_interval_s: float = 1.0,
        on_tick: Callable[[Engine], None] | None = None,
        key_check_s: float = 60.0,
        reverify_after_s: float | None = None,
        store_kpis: bool = True,
        balance_snapshot_s: float = 60.0,
        order_target: int | None = None,
        clock: Clock = LIVE,
        parts: EngineParts | None = None,
    ) -> None:
        self.clock = clock
        self.parts = parts if parts is not None else EngineParts()
        self.sessions = list(sessions)
        self.order_target = order_target  # requests per window quoting aims under (per key)
        self.all_markets = list(all_markets)
        self.store = store
        self.writer = self.parts.writer(store, clock) if store is not None else None
        self.recv_window_ms = recv_window_ms
        self.stale_after_s = stale_after_s
        self.kpi_interval_s = kpi_interval_s
        self.on_tick = on_tick
        # how often ``run`` wakes to call ``on_tick`` and check its deadline (a backtest, with
        # nothing to draw, wakes less: each wake-up is a loop turn of simulated time)
        self.tick_s = 0.25
        self.stop_event = asyncio.Event()
        self._stop_waiters: list[asyncio.Future[None]] = []  # ``_until_stopped``'s, for ``stop``
        self._tasks: list[asyncio.Task[Any]] = []
        self.started_mono = clock.monotonic()
        self.cancelled_at_shutdown = 0
        # how long shutdown keeps trying to cancel (and to read the last fills) through
        # exchange faults: an order endpoint outage lasts up to half a minute in the soak
        self.shutdown_deadline_s = 60.0
        self.start_retry_s = 60.0
        self.left_open: dict[str, int] = {}
        self.left_open_orders: dict[str, list[LeftOpen]] = {}  # by symbol, after a cancel pass
        self.unchecked: dict[str, str] = {}  # key label -> why its orders were never checked
        self.stopped_by: str | None = None  # the signal's name that stopped the engine
        # True: ``run`` ends without shutting down (``liquidity_bot.testing.crash``: kill -9)
        self.crashed = False
        self.key_check_s = key_check_s
        self.key_unknown_grace = 3  # inconclusive re-verifications tolerated in a row
        # re-verify a key whose verification is older than this ([keys] reverify_after_s), even
        # when the policy's max_verification_age_hours would still accept it
        self.reverify_after_s = reverify_after_s
        self.store_kpis = store_kpis  # False when another sampler (the dashboard bridge) stores
        self.balance_snapshot_s = balance_snapshot_s
        # called at shutdown before the store's last flush (e.g. the dashboard bridge closing
        # its open breaches, so they are stored)
        self.before_flush: list[Callable[[], None]] = []

    # --- views ---------------------------------------------------------------------------------
    @property
    def runners(self) -> list[MarketRunner]:
        return [r for s in self.sessions for r in s.runners.values()]

    def runner(self, symbol: str, exchange: str | None = None) -> MarketRunner:
        """The market of ``symbol`` (on ``exchange``; the first listed when none is named)."""
        for r in self.runners:
            if r.symbol == symbol.upper() and exchange in (None, r.exchange):
                return r
        raise KeyError(symbol)

    def stop(self) -> None:
        self.stop_event.set()
        waiters, self._stop_waiters = self._stop_waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def _until_stopped(self, timeout: float) -> None:
        """Wait ``timeout`` s, or less if ``stop()`` comes first: one timer and one future,
        not the task and cancellation ``asyncio.wait_for(stop_event.wait())`` costs per wait
        (the run's tick waits thousands of times an hour of a backtest). ``stop_event`` set
        by anything but ``stop()`` is seen when the wait ends."""
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        self._stop_waiters.append(waiter)
        timer = loop.call_later(timeout, _release, waiter)
        try:
            await waiter
        finally:
            timer.cancel()
            with contextlib.suppress(ValueError):  # (``stop`` took it already)
                self._stop_waiters.remove(waiter)

    def _on_signal(self, sig: signal.Signals) -> None:
        if self.stopped_by is None:
            self.stopped_by = sig.name
            log.warning("%s received: cancelling our orders, then exiting", sig.name)
        else:
            log.warning("%s received: already stopping (cancelling our orders)", sig.name)
        self.stop()

    def left_open_list(self) -> list[LeftOpen]:
        """Every order of ours still open after the last cancel pass, all markets."""
        return [o for orders in self.left_open_orders.values() for o in orders]

    # --- start ---------------------------------------------------------------------------------
    async def start(self) -> None:
        """Start venues, adopt orphans, start loops and pumps. Failures stay per key/market."""
        allowed = allow_list_from_markets(self.all_markets)
        stored_open = self.store.orders(open_only=True) if self.store is not None else []
        self._count_earlier_requests()
        for s in self.sessions:
            instruments = await self._start_venue(s)
            if instruments is None:
                continue
            s.started = True
            if self.order_target is not None:
                s.budget.set_target(self.order_target)
            refused = s.venue.refused_symbols
            for m in s.markets:
                if m.symbol not in refused:
                    s.budget.register(m.symbol, m.order_manager.order_budget_share)
            for m in s.markets:
                if m.symbol in refused:
                    s.failed[m.symbol] = refused[m.symbol]
                    log.error("%s: market refused (%s); the others go on", m.symbol,
                              refused[m.symbol])
                    continue
                try:
                    inst = instruments[m.symbol]
                    risk = RiskGate(
                        m.symbol,
                        m.risk,
                        allowed,
                        initial_base=s.balances.total(inst.base),
                        initial_quote=s.balances.total(inst.quote),
                    )
                    runner_box: list[MarketRunner] = []
                    om = self.parts.order_manager(
                        s.venue,
                        inst,
                        budget=s.budget,
                        risk=risk,
                        writer=writer_for(self.writer, m.exchange),
                        balances=s.balances,
                        key_label=s.label,
                        client_ids=self.parts.client_ids(m.client_id_prefix, self.clock),
                        tolerance=tolerance_of(m),
                        rules=plan_rules_of(m),
                        recv_window_ms=self.recv_window_ms,
                        on_change=lambda box=runner_box: box[0].wake() if box else None,
                        clock=self.clock,
                    )
                    runner = self.parts.market_runner(
                        m, inst, build_strategy(m, inst), om, risk,
                        stale_after_s=self.stale_after_s, kpi_interval_s=self.kpi_interval_s,
                        store_kpis=self.store_kpis, estimator=build_estimator(m),
                    )
                    runner_box.append(runner)
                    await self._retrying(
                        f"{m.symbol}: start-up reconciliation",
                        lambda om=om, sym=m.symbol, ex=m.exchange: om.start(
                            [r for r in stored_open if (r.exchange, r.symbol) == (ex, sym)]
                        ),
                    )
                    s.runners[m.symbol] = runner
                except Exception as exc:
                    log.exception("%s: market did not start; the others go on", m.symbol)
                    s.failed[m.symbol] = f"{type(exc).__name__}: {exc}"
            await self._spawn(s)
            self._snapshot_balances(s)
            if s.watch is not None:
                self._tasks.append(asyncio.get_running_loop().create_task(
                    self._watch_key(s), name=f"keys-{s.label}"))

    def _count_earlier_requests(self) -> None:
        """Order requests of an earlier process (the one before a restart or a crash) still
        count in the exchange's per-IP window: charge them to this address's governor, so a
        restart cannot add up past the limit (the soak's restarts earned an IP ban so). Keys
        sending from another address now are left out of an address's count."""
        if self.store is None:
            return
        now_ms = self.clock.time() * 1000
        run = object()  # venues sharing an address charge it once
        where: dict[str, tuple[str, str | None]] = {}  # key label -> (exchange, address)
        for s in self.sessions:
            if s.venue.capabilities.earlier_requests:
                exchange = s.markets[0].exchange if s.markets else DEFAULT_EXCHANGE
                where[s.label] = (exchange, pacing_address(s.venue))
        for s in self.sessions:
            if s.label not in where:
                continue
            exchange, address = where[s.label]
            elsewhere = [label for label, (ex, addr) in where.items()
                         if ex == exchange and addr != address]
            try:  # only what went to this exchange from this address counts in its window
                sent = self.store.order_requests_since(int(now_ms - 62_000), exchange,
                                                       not_of_keys=elsewhere)
            except Exception:
                log.exception("reading recent order requests from the store failed")
                return
            if not sent:
                continue
            ages_s = [(now_ms - ts) / 1000 for ts in sent]
            n = cast(PacedByAddress, s.venue).note_earlier_order_requests(ages_s, run)
            if not n:
                continue
            log.info("%d order requests of the previous run still count in the exchange's "
                     "window from %s; paced accordingly", n, address or "this address")

    async def _spawn(self, s: KeySession) -> None:
        """The key's event pumps and its markets' loops (again after a key switch)."""
        loop = asyncio.get_running_loop()
        s.pump_tasks = [
            loop.create_task(self._pump_books(s), name=f"books-{s.label}"),
            loop.create_task(self._pump_orders(s), name=f"orders-{s.label}"),
            loop.create_task(self._pump_balances(s), name=f"balances-{s.label}"),
            loop.create_task(self._refresh_balances(s), name=f"balance-poll-{s.label}"),
        ]
        s.loop_tasks = []
        for r in s.runners.values():
            await _seed_book(s.venue, r)
            s.loop_tasks.append(loop.create_task(r.run(self.stop_event), name=f"mkt-{r.symbol}"))
        self._tasks += s.pump_tasks + s.loop_tasks

    async def _retrying(self, what: str, attempt: Callable[[], Any]) -> Any:
        """Run ``attempt`` until it succeeds; transient exchange errors are retried with backoff
        until ``start_retry_s`` has passed (a 429 burst or a 5xx at start must not leave a
        market idle with orders of ours resting). A wait the exchange asks for (Retry-After,
        an IP ban's end) is honoured in full and extends the deadline by as much."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.start_retry_s
        delay = 0.5
        while True:
            try:
                return await attempt()
            except Exception as exc:
                if _permanent(exc) or self.stop_event.is_set():
                    raise
                asked = _asked_wait_s(exc, self.clock.time())
                if loop.time() > deadline and asked == 0:
                    raise
                wait = max(delay, asked)
                deadline = max(deadline, loop.time() + asked + delay)
                log.warning("%s failed (%s); retrying in %.1f s", what, type(exc).__name__, wait)
                await self._until_stopped(wait)  # a stop ends the wait at once
                delay = min(delay * 2, 10.0)

    async def _start_venue(self, s: KeySession) -> dict[str, Any] | None:
        """Start the key's venue (``BitrueVenue.start`` is retryable: the same venue again)."""

        async def attempt() -> dict[str, Any]:
            await s.venue.start()
            instruments = await s.venue.instruments()
            for asset, bal in (await s.venue.balances()).items():
                s.balances.set(asset, bal.free, bal.locked)
            return instruments

        try:
            return await self._retrying(f"key {s.label!r}: venue start", attempt)
        except Exception as exc:
            log.error("key %r: venue did not start (%s); its markets stay idle", s.label, exc)
            with contextlib.suppress(Exception):
                await s.venue.stop()
            for m in s.markets:
                s.failed[m.symbol] = f"venue did not start: {exc}"
            if not _permanent(exc):
                # an outage or a stop cut the start short: orders of ours an earlier run left
                # on this account were never looked at, so nobody can say none is open
                self.unchecked[s.label] = (
                    f"key {s.label!r}: the venue did not start ({type(exc).__name__}), so "
                    f"orders of ours on {', '.join(m.symbol for m in s.markets)} were not "
                    "checked and may still be open")
            return None

    # --- keys gate while running ---------------------------------------------------------------
    async def _watch_key(self, s: KeySession) -> None:
        """Every ``key_check_s``: re-verify when due (policy age or ``reverify_after_s``), switch
        on rotation, stop on refusal."""
        from liquidity_bot.keys.gate import KeyRefused

        unsure = 0
        while s.refused is None:
            await asyncio.sleep(self.key_check_s)
            try:
                force = (self.reverify_after_s is not None
                         and s.watch.current.age().total_seconds() > self.reverify_after_s)
                res = await s.watch.refresh(force=force)
            except KeyRefused as exc:
                verdict = getattr(exc.report, "verdict", None)
                if verdict == "unknown" and unsure < self.key_unknown_grace:
                    # nothing failed, something could not be checked (a 429, a timeout): the
                    # key keeps trading on its last verification for a few more checks
                    unsure += 1
                    s.reverify_unsure = unsure
                    log.warning("key %r: re-verification inconclusive (%d/%d); trying again",
                                s.label, unsure, self.key_unknown_grace)
                    continue
                await self.stop_key(s, str(exc))
                return
            except Exception as exc:  # the exchange or the vault is unreachable: try later
                log.warning("key %r: re-check failed (%s); trying again in %.0f s",
                            s.label, type(exc).__name__, self.key_check_s)
                continue
            unsure = s.reverify_unsure = 0
            if res.switched:
                await self.switch_key(s, res.key)

    async def _cancel_market(self, r: MarketRunner, reason: str, deadline_s: float) -> int:
        """Cancel every order of one market, settle those in flight, sweep what the exchange
        still lists; records ``left_open`` and returns how many cancels were requested."""
        try:
            cancelled = await r.om.cancel_all(reason)
            await r.om.settle_in_flight(timeout_s=min(5.0, deadline_s))
            swept = await r.om.sweep(deadline_s)
        except Exception:
            log.exception("%s: cancelling (%s) failed", r.symbol, reason)
            self._note_left_open(r, len(r.om.live()))
            return 0
        # a sweep that could not ask the exchange knows nothing: count what we track
        left = max(swept, len(r.om.live())) if swept else 0
        self._note_left_open(r, left)
        if left:
            log.error("%s: %d orders of ours are still open on the exchange after %.0f s of "
                      "trying (%s); the next start adopts them, or cancel them by hand "
                      "(liquidity-bot cancel-all --config ...): %s",
                      r.symbol, left, deadline_s, reason,
                      "; ".join(f"{o.client_order_id} {o.side} {o.qty:f} @ {o.price:f}"
                                for o in self.left_open_orders[r.name]) or "ids unknown")
        return cancelled

    def _note_left_open(self, r: MarketRunner, left: int) -> None:
        """Record how many orders of ``r`` are left and which (those the order manager still
        holds as possibly live: the sweep adopts every one of ours the exchange lists)."""
        self.left_open[r.name] = left
        label = next((s.label for s in self.sessions if r in s.runners.values()), "")
        self.left_open_orders[r.name] = [] if not left else [
            LeftOpen(label, r.symbol, t.order.client_order_id, t.order.side.value,
                     t.order.price, t.order.remaining_qty)
            for t in r.om.live()
        ]

    async def _halt_session(self, s: KeySession, reason: str, sweep_s: float) -> None:
        """Stop the key's loops, cancel its orders, stop its pumps and venue."""
        for task in s.loop_tasks:
            task.cancel()
        await asyncio.gather(*s.loop_tasks, return_exceptions=True)

        await asyncio.gather(*(self._cancel_market(r, reason, sweep_s)
                               for r in s.runners.values()))
        for task in s.pump_tasks:
            task.cancel()
        await asyncio.gather(*s.pump_tasks, return_exceptions=True)
        done = set(s.loop_tasks + s.pump_tasks)
        self._tasks = [t for t in self._tasks if t not in done]
        s.loop_tasks, s.pump_tasks = [], []
        for r in s.runners.values():
            await r.om.close()  # its pending order look-ups would use the venue stopped below
        with contextlib.suppress(Exception):
            await s.venue.stop()
        s.started = False

    async def stop_key(self, s: KeySession, why: str) -> None:
        """The keys gate refused the key while running: stop its markets, cancel their orders."""
        first = why.splitlines()[0] if why else "refused"
        log.error("key %r refused while running: stopping its markets and cancelling their "
                  "orders\n%s", s.label, why)
        s.refused = why
        for r in s.runners.values():
            r.status = "key refused"
            s.failed[r.symbol] = f"key refused while running: {first}"
        await self._halt_session(s, "key refused", sweep_s=2.0)
        for r in s.runners.values():
            left = self.left_open.get(r.name, 0)
            if left:
                log.error(
                    "%s: %d orders of ours are still open: the refused key could not cancel them "
                    "(a disabled or deleted key cannot). Cancel them on the exchange's page, or "
                    "fix the key and start again: the next start adopts them.", r.symbol, left,
                )

    async def switch_key(self, s: KeySession, key: Any) -> None:
        """A rotated key: cancel-and-requote with a venue built for the new key."""
        if s.venue_for is None:
            await self.stop_key(s, "the key was rotated but this engine cannot rebuild its venue")
            return
        log.warning("key %r rotated while running: cancelling its orders with the old key and "
                    "re-quoting with the new one", s.label)
        for r in s.runners.values():
            r.status = "switching key"
        await self._halt_session(s, "key rotated", sweep_s=10.0)
        s.venue = s.venue_for(key)
        if await self._start_venue(s) is None:
            s.refused = "the rotated key's venue did not start"
            return
        s.started = True
        s.switches += 1
        for r in s.runners.values():
            r.om.venue = s.venue
            try:
                await r.om.start()  # adopts whatever of ours the old key could not cancel
            except Exception:
                log.exception("%s: reconciliation after the key switch failed", r.symbol)
        await self._spawn(s)

    # --- balances ------------------------------------------------------------------------------
    def _snapshot_balances(self, s: KeySession) -> None:
        """Store the key's balances (the report's "against holding" starts from the first)."""
        if self.writer is None:
            return
        from liquidity_bot.store import BalanceSnapshot

        ts = self.clock.now_ms()
        exchange = s.markets[0].exchange if s.markets else DEFAULT_EXCHANGE
        rows = [BalanceSnapshot(ts_ms=ts, asset=a, free=f, locked=lk, key_label=s.label,
                                exchange=exchange)
                for a, (f, lk) in s.balances.items()]
        store = self.writer.store
        self.writer.submit(lambda: store.add_balance_snapshot(rows))

    async def _pump_books(self, s: KeySession) -> None:
        def route(update: BookUpdate) -> None:
            runner = s.runners.get(update.symbol)
            if runner is not None:
                runner.on_book(update)

        if s.venue.capabilities.listen_books:
            # Called as each frame is handled: the market loop wakes one loop turn sooner.
            with cast(BookListener, s.venue).listen_books(route):
                await asyncio.Future()  # until this pump is cancelled
        async for update in s.venue.book_events():
            route(update)

    async def _pump_orders(self, s: KeySession) -> None:
        async for msg in s.venue.order_events():
            runner = s.runners.get(msg.symbol)
            if runner is None:
                continue
            try:
                runner.om.on_message(msg)
                if isinstance(msg, Fill):
                    runner.on_own_fill(msg)
            except Exception:
                runner.errors += 1
                log.exception("%s: order message %s failed", msg.symbol, type(msg).__name__)

    async def _pump_balances(self, s: KeySession) -> None:
        async for change in s.venue.balance_events():
            s.balances.set(change.asset, change.free, change.locked)

    async def _refresh_balances(self, s: KeySession, every_s: float = 15.0) -> None:
        """A slow full refresh (weight 5): the stream may miss an asset. Snapshots stored every
        ``balance_snapshot_s``."""
        loop = asyncio.get_running_loop()
        next_snapshot = loop.time() + self.balance_snapshot_s
        while True:
            await asyncio.sleep(min(every_s, self.balance_snapshot_s))
            try:
                for asset, bal in (await s.venue.balances()).items():
                    s.balances.set(asset, bal.free, bal.locked)
            except Exception as exc:
                log.info("key %r: balance refresh failed (%s)", s.label, type(exc).__name__)
                continue
            if loop.time() >= next_snapshot:
                next_snapshot = loop.time() + self.balance_snapshot_s
                self._snapshot_balances(s)

    # --- run and stop --------------------------------------------------------------------------
    async def run(self, duration_s: float | None = None, *, handle_signals: bool = True) -> None:
        """Start, run until stopped (signal, duration or ``stop()``), then shut down cleanly."""
        loop = asyncio.get_running_loop()
        installed: list[int] = []
        if handle_signals:
            for sig in STOP_SIGNALS:
                with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                    loop.add_signal_handler(sig, self._on_signal, sig)
                    installed.append(sig)
        settings = contextlib.ExitStack()
        collect_before_start()
        try:
            await self.start()
            settings.enter_context(latency_mode())  # after start-up: see engine.runtime
            deadline = None if duration_s is None else loop.time() + duration_s
            while not self.stop_event.is_set():
                tick = self.tick_s
                timeout = tick if deadline is None else min(tick, deadline - loop.time())
                if timeout <= 0:
                    break
                await self._until_stopped(timeout)
                collect_if_due()
                if self.on_tick is not None:
                    try:
                        self.on_tick(self)
                    except OSError as exc:
                        # the terminal went away (SIGHUP's usual company): keep trading and
                        # shut down cleanly, without a view
                        log.warning("terminal view stopped (%s); the engine goes on", exc)
                        self.on_tick = None
        finally:
            settings.close()
            if not self.crashed:
                await self.shutdown()
            for sig in installed:
                loop.remove_signal_handler(sig)

    async def shutdown(self, *, cancel_orders: bool = True) -> None:
        """Stop loops, cancel all of our orders (unless simulating a crash), close everything."""
        self.stop()
        loops = [t for t in self._tasks if t.get_name().startswith("mkt-")]
        pumps = [t for t in self._tasks if t not in loops]
        for task in loops:
            task.cancel()
        await asyncio.gather(*loops, return_exceptions=True)
        if cancel_orders:

            async def close_market(r: MarketRunner) -> None:
                self.cancelled_at_shutdown += await self._cancel_market(
                    r, "shutdown", self.shutdown_deadline_s)
                try:  # even when cancelling failed: every fill the exchange lists is stored
                    await r.om.catch_up_fills(self.shutdown_deadline_s)
                except Exception:
                    log.exception("%s: storing the last fills at shutdown failed", r.symbol)

            live = [r for s in self.sessions if s.refused is None for r in s.runners.values()]
            await asyncio.gather(*(close_market(r) for r in live))
            for s in self.sessions:
                if s.started and s.refused is None:
                    self._snapshot_balances(s)
        for task in pumps:  # kept running until now: cancel answers arrive through them
            task.cancel()
        await asyncio.gather(*pumps, return_exceptions=True)
        self._tasks = []
        for r in self.runners:
            await r.om.close()
        for s in self.sessions:
            if s.started:
                with contextlib.suppress(Exception):
                    await s.venue.stop()
        if cancel_orders:
            for fn in self.before_flush:
                try:
                    fn()
                except Exception:
                    log.exception("shutdown hook failed")
        if self.writer is not None:
            if cancel_orders:
                await self.writer.flush_async()
                self.writer.close()
            else:
                self.writer.close(discard=True)


async def _seed_book(venue: Venue, runner: MarketRunner) -> None:
    """A first book from the venue when it has one (a stream may push only on change)."""
    try:
        update = await venue.initial_book(runner.symbol)
    except Exception as exc:
        log.info("%s: no book to start from (%s)", runner.symbol, type(exc).__name__)
        return
    if update is not None:
        runner.on_book(update)


def _release(waiter: asyncio.Future[None]) -> None:
    """A timed wait is over (``Engine._until_stopped``), unless it ended otherwise."""
    if not waiter.done():
        waiter.set_result(None)


def _asked_wait_s(exc: BaseException, now_s: float) -> float:
    """How long the exchange told us to wait: a 429's Retry-After or a ban's remaining time."""
    asked = retry_after_s(exc)
    until_ms = exc.until_ms if isinstance(exc, Banned) else None
    if until_ms:
        asked = max(asked, until_ms / 1000 - now_s + 0.5)
    return max(0.0, asked)


def _permanent(exc: BaseException) -> bool:
    """Errors that retrying cannot fix (a refused key, a bad request, a bug). A venue turns
    its transport's failures into ``VenueError``s; what else escapes it is a bug."""
    if is_permanent(exc):
        return True
    return not isinstance(exc, (VenueError, OSError, TimeoutError))


def group_by_key(markets: Iterable[MarketConfig]) -> dict[str, list[MarketConfig]]:
    out: dict[str, list[MarketConfig]] = {}
    for m in markets:
        out.setdefault(m.key_label, []).append(m)
    return out


def build_estimator(market: MarketConfig) -> Any:
    from liquidity_bot.strategies import make_estimator

    return make_estimator(market)


def share_ip_order_limit(sessions: list[KeySession]) -> None:
    """An order limit may be per user and also per IP (Bitrue's is): keys of one exchange that
    send from one source address each plan with an equal share of the limit (an adapter with
    a per-address governor enforces the sum; Bitrue's does); a key on an address of its own
    keeps the whole limit."""
    by_address: dict[tuple[str, str | None], list[KeySession]] = {}
    for s in sessions:
        exchange = s.markets[0].exchange if s.markets else ""
        by_address.setdefault((exchange, pacing_address(s.venue)), []).append(s)
    for group in by_address.values():  # other exchanges and addresses do not share a limit
        if len(group) > 1:
            for s in group:
                s.budget = OrderBudget.for_limit(s.venue.order_rate_limit, shared_by=len(group))


def pacing_address(venue: Venue) -> str | None:
    """The source address whose per-IP limits ``venue`` counts in (None: the process's
    default address, as for every venue that does not say)."""
    if not venue.capabilities.earlier_requests:
        return None
    return cast(PacedByAddress, venue).source_address


def summary(engine: Engine) -> dict[str, Any]:
    """Plain numbers for the end-of-run summary (Decimals as strings)."""
    out: dict[str, Any] = {"markets": {}}
    for r in engine.runners:
        om = r.om
        mid = r.book.mid
        pnl = om.pnl(mid)
        out["markets"][r.name] = {
            "exchange": r.exchange,
            "orders_sent": om.stats.placed + om.stats.rejected_by_exchange
            + om.stats.unknown_outcomes,
            "orders_placed": om.stats.placed,
            "cancel_requests": om.stats.cancel_requests,
            "cancelled": om.stats.cancelled,
            "fills": om.stats.fills,
            "base_traded": str(om.base_traded),
            "quote_traded": str(om.quote_traded),
            "pnl_quote": None if pnl is None else str(pnl.quantize(Decimal("0.0001"))),
            "obligation_uptime": r.obligation.uptime,
            "requests_by_purpose": dict(om.stats.spent),
            "quote_pulls": r.pulls,
            "risk_refusals": r.risk.counts(),
            "loss_limit": r.risk.loss_limit_state,
            "errors": r.errors,
            "open_after_shutdown": engine.left_open.get(
                r.name, len([o for o in om.orders.values() if o.order.is_open])
            ),
        }
    for s in engine.sessions:
        for r in s.runners.values():
            inst = r.instrument
            out["markets"][r.name]["inventory"] = {
                inst.base: f"{s.balances.total(inst.base).normalize():f}",
                inst.quote: f"{s.balances.total(inst.quote).normalize():f}",
            }
        out.setdefault("budgets", {})[s.label] = {
            "capacity_per_window": s.budget.capacity,
            "target_per_window": s.budget.target,
            "max_in_any_window": s.budget.max_in_any_window(),
            "requests_by_purpose": dict(s.budget.spent_by_purpose),
        }
        out.setdefault("keys", {})[s.label] = {
            "refused_while_running": s.refused,
            "switched": s.switches,
        }
        exchange = s.markets[0].exchange if s.markets else DEFAULT_EXCHANGE
        for sym, why in s.failed.items():
            out["markets"].setdefault(market_name(exchange, sym), {})["failed"] = why
    out["left_open"] = [o.as_dict() for o in engine.left_open_list()]
    if engine.unchecked:
        out["unchecked"] = list(engine.unchecked.values())
    if engine.stopped_by is not None:
        out["stopped_by"] = engine.stopped_by
    return out
