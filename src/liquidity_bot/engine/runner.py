"""Wiring: one process, several markets, possibly several client keys (one venue per key).

``Engine.run`` starts every key's venue, every market's order manager and loop, and the event
pumps (book, order and balance streams of each venue, dispatched by symbol), then waits for the
stop signal (SIGINT, SIGTERM, a duration, or ``stop()``). On the way out it cancels all of our
orders, waits for in-flight ones to settle, and flushes the store. A market that fails to start
or keeps failing is reported and left alone; the others keep quoting.

``KeySession`` is what a key brings: its label, the venue built for it (after the keys gate
passed), and its order budget.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from liquidity_bot.config import BotConfig, MarketConfig
from liquidity_bot.domain.events import BookUpdate
from liquidity_bot.engine.budget import OrderBudget
from liquidity_bot.engine.market_runner import MarketRunner
from liquidity_bot.engine.order_manager import Balances, ClientIds, OrderManager, Tolerance
from liquidity_bot.engine.persistence import StoreWriter
from liquidity_bot.engine.risk import RiskGate, allow_list_from_markets
from liquidity_bot.store import Store
from liquidity_bot.venues.port import Venue

log = logging.getLogger(__name__)


def build_strategy(market: MarketConfig, instrument: Any) -> Any:
    if market.strategy == "ladder":
        from liquidity_bot.strategies.ladder import LadderStrategy

        assert market.ladder is not None
        return LadderStrategy(instrument, market.ladder, market.obligations)
    from liquidity_bot.strategies.avellaneda import AvellanedaStrategy

    assert market.avellaneda is not None
    return AvellanedaStrategy(instrument, market.avellaneda, market.obligations)


def tolerance_of(market: MarketConfig) -> Tolerance:
    om = market.order_manager
    return Tolerance(
        price_ticks=om.effective_price_tolerance_ticks,
        price_pct=om.price_tolerance_pct,
        size_pct=om.size_tolerance_pct,
    )


@dataclass
class KeySession:
    """One client key: its venue and the budget its markets share."""

    label: str
    venue: Venue
    markets: list[MarketConfig]
    budget: OrderBudget = field(default_factory=OrderBudget)
    balances: Balances = field(default_factory=Balances)
    runners: dict[str, MarketRunner] = field(default_factory=dict)
    venue_factory: Callable[[], Venue] | None = None  # a fresh venue to retry a failed start
    failed: dict[str, str] = field(default_factory=dict)
    started: bool = False


class Engine:
    """The running bot (see the module docstring)."""

    def __init__(
        self,
        sessions: Iterable[KeySession],
        *,
        all_markets: Iterable[MarketConfig],
        store: Store | None,
        recv_window_ms: int = 5000,
        stale_after_s: float = 5.0,
        kpi_interval_s: float = 1.0,
        on_tick: Callable[[Engine], None] | None = None,
    ) -> None:
        self.sessions = list(sessions)
        self.all_markets = list(all_markets)
        self.store = store
        self.writer = StoreWriter(store) if store is not None else None
        self.recv_window_ms = recv_window_ms
        self.stale_after_s = stale_after_s
        self.kpi_interval_s = kpi_interval_s
        self.on_tick = on_tick
        self.stop_event = asyncio.Event()
        self._tasks: list[asyncio.Task[Any]] = []
        self.started_mono = time.monotonic()
        self.cancelled_at_shutdown = 0
        self.shutdown_deadline_s = 30.0
        self.start_retry_s = 60.0
        self.left_open: dict[str, int] = {}
        self._crashed = False

    # --- views ---------------------------------------------------------------------------------
    @property
    def runners(self) -> list[MarketRunner]:
        return [r for s in self.sessions for r in s.runners.values()]

    def runner(self, symbol: str) -> MarketRunner:
        for r in self.runners:
            if r.symbol == symbol.upper():
                return r
        raise KeyError(symbol)

    def stop(self) -> None:
        self.stop_event.set()

    # --- start ---------------------------------------------------------------------------------
    async def start(self) -> None:
        """Start venues, adopt orphans, start loops and pumps. Failures stay per key/market."""
        allowed = allow_list_from_markets(self.all_markets)
        stored_open = self.store.orders(open_only=True) if self.store is not None else []
        for s in self.sessions:
            instruments = await self._start_venue(s)
            if instruments is None:
                continue
            s.started = True
            for m in s.markets:
                s.budget.register(m.symbol, m.order_manager.order_budget_share)
            for m in s.markets:
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
                    om = OrderManager(
                        s.venue,
                        inst,
                        budget=s.budget,
                        risk=risk,
                        writer=self.writer,
                        balances=s.balances,
                        key_label=s.label,
                        client_ids=ClientIds(m.client_id_prefix),
                        tolerance=tolerance_of(m),
                        recv_window_ms=self.recv_window_ms,
                        on_change=lambda box=runner_box: box[0].wake() if box else None,
                    )
                    runner = MarketRunner(
                        m, inst, build_strategy(m, inst), om, risk,
                        stale_after_s=self.stale_after_s, kpi_interval_s=self.kpi_interval_s,
                    )
                    runner_box.append(runner)
                    await self._retrying(
                        f"{m.symbol}: start-up reconciliation",
                        lambda om=om, sym=m.symbol: om.start(
                            [r for r in stored_open if r.symbol == sym]
                        ),
                    )
                    s.runners[m.symbol] = runner
                except Exception as exc:
                    log.exception("%s: market did not start; the others go on", m.symbol)
                    s.failed[m.symbol] = f"{type(exc).__name__}: {exc}"
            loop = asyncio.get_running_loop()
            self._tasks += [
                loop.create_task(self._pump_books(s), name=f"books-{s.label}"),
                loop.create_task(self._pump_orders(s), name=f"orders-{s.label}"),
                loop.create_task(self._pump_balances(s), name=f"balances-{s.label}"),
                loop.create_task(self._refresh_balances(s), name=f"balance-poll-{s.label}"),
            ]
            for r in s.runners.values():
                await _seed_book(s.venue, r)
                self._tasks.append(loop.create_task(r.run(self.stop_event), name=f"mkt-{r.symbol}"))

    async def _retrying(self, what: str, attempt: Callable[[], Any]) -> Any:
        """Run ``attempt`` until it succeeds; transient exchange errors are retried with backoff
        until ``start_retry_s`` has passed (a 429 burst or a 5xx at start must not leave a
        market idle with orders of ours resting)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.start_retry_s
        delay = 0.5
        while True:
            try:
                return await attempt()
            except Exception as exc:
                if _permanent(exc) or loop.time() > deadline or self.stop_event.is_set():
                    raise
                wait = max(delay, float(getattr(exc, "retry_after_s", None) or 0))
                log.warning("%s failed (%s); retrying in %.1f s", what, type(exc).__name__, wait)
                await asyncio.sleep(wait)
                delay = min(delay * 2, 10.0)

    async def _start_venue(self, s: KeySession) -> dict[str, Any] | None:
        """Start the key's venue (a fresh one per attempt when a factory is known)."""
        first = [True]

        async def attempt() -> dict[str, Any]:
            if not first[0] and s.venue_factory is not None:
                with contextlib.suppress(Exception):
                    await s.venue.stop()
                s.venue = s.venue_factory()
            first[0] = False
            await s.venue.start()
            instruments = await s.venue.instruments()
            for asset, bal in (await s.venue.balances()).items():
                s.balances.set(asset, bal.free, bal.locked)
            return instruments

        try:
            if s.venue_factory is None:
                return await attempt()
            return await self._retrying(f"key {s.label!r}: venue start", attempt)
        except Exception as exc:
            log.error("key %r: venue did not start (%s); its markets stay idle", s.label, exc)
            with contextlib.suppress(Exception):
                await s.venue.stop()
            for m in s.markets:
                s.failed[m.symbol] = f"venue did not start: {exc}"
            return None

    async def _pump_books(self, s: KeySession) -> None:
        async for update in s.venue.book_events():
            runner = s.runners.get(update.symbol)
            if runner is not None:
                runner.on_book(update)

    async def _pump_orders(self, s: KeySession) -> None:
        async for msg in s.venue.order_events():
            runner = s.runners.get(msg.symbol)
            if runner is None:
                continue
            try:
                runner.om.on_message(msg)
            except Exception:
                runner.errors += 1
                log.exception("%s: order message %s failed", msg.symbol, type(msg).__name__)

    async def _pump_balances(self, s: KeySession) -> None:
        async for change in s.venue.balance_events():
            s.balances.set(change.asset, change.free, change.locked)

    async def _refresh_balances(self, s: KeySession, every_s: float = 15.0) -> None:
        """A slow full refresh (weight 5): the stream may miss an asset."""
        while True:
            await asyncio.sleep(every_s)
            try:
                for asset, bal in (await s.venue.balances()).items():
                    s.balances.set(asset, bal.free, bal.locked)
            except Exception as exc:
                log.info("key %r: balance refresh failed (%s)", s.label, type(exc).__name__)

    # --- run and stop --------------------------------------------------------------------------
    async def run(self, duration_s: float | None = None, *, handle_signals: bool = True) -> None:
        """Start, run until stopped (signal, duration or ``stop()``), then shut down cleanly."""
        loop = asyncio.get_running_loop()
        installed: list[int] = []
        if handle_signals:
            for sig in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                    loop.add_signal_handler(sig, self.stop)
                    installed.append(sig)
        try:
            await self.start()
            deadline = None if duration_s is None else loop.time() + duration_s
            while not self.stop_event.is_set():
                timeout = 0.25 if deadline is None else min(0.25, deadline - loop.time())
                if timeout <= 0:
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stop_event.wait(), timeout)
                if self.on_tick is not None:
                    self.on_tick(self)
        finally:
            if not self._crashed:
                await self.shutdown()
            for sig in installed:
                loop.remove_signal_handler(sig)

    async def shutdown(self, *, cancel_orders: bool = True) -> None:
        """Stop loops, cancel all of our orders (unless simulating a crash), close everything."""
        self.stop_event.set()
        loops = [t for t in self._tasks if t.get_name().startswith("mkt-")]
        pumps = [t for t in self._tasks if t not in loops]
        for task in loops:
            task.cancel()
        await asyncio.gather(*loops, return_exceptions=True)
        if cancel_orders:

            async def close_market(r: MarketRunner) -> None:
                try:
                    self.cancelled_at_shutdown += await r.om.cancel_all("shutdown")
                    await r.om.settle_in_flight()
                    left = await r.om.sweep(self.shutdown_deadline_s)
                    if left:
                        log.error(
                            "%s: %d orders of ours are still open on the exchange after %.0f s "
                            "of trying; the next start adopts them, or cancel them by hand",
                            r.symbol, left, self.shutdown_deadline_s,
                        )
                    self.left_open[r.symbol] = left
                    await r.om.catch_up_fills()
                except Exception:
                    log.exception("%s: cancelling at shutdown failed", r.symbol)

            await asyncio.gather(*(close_market(r) for r in self.runners))
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
        if self.writer is not None:
            if cancel_orders:
                await self.writer.flush_async()
                self.writer.close()
            else:
                self.writer.close(discard=True)

    async def crash(self) -> None:
        """Stop without any cleanup (orders stay on the exchange, queued writes are lost):
        what ``kill -9`` does, for restart tests."""
        self._crashed = True
        await self.shutdown(cancel_orders=False)


async def _seed_book(venue: Venue, runner: MarketRunner) -> None:
    """A first book from REST when the adapter offers one (Bitrue pushes only on change)."""
    rest = getattr(venue, "rest", None)
    if rest is None or not hasattr(rest, "depth"):
        return
    try:
        depth = await rest.depth(runner.symbol, 100)
    except Exception as exc:
        log.info("%s: no REST book to start from (%s)", runner.symbol, type(exc).__name__)
        return
    runner.on_book(
        BookUpdate(
            ts_ms=rest.clock.now_ms(),
            symbol=runner.symbol,
            bids=tuple((lv.price, lv.qty) for lv in depth.bids),
            asks=tuple((lv.price, lv.qty) for lv in depth.asks),
        )
    )


def _permanent(exc: BaseException) -> bool:
    """Errors that retrying cannot fix (a refused key, a bad request, a bug)."""
    from liquidity_bot.venues.bitrue.errors import (
        AuthenticationError,
        BadRequest,
        BitrueError,
        PermissionDenied,
    )

    if isinstance(exc, (AuthenticationError, PermissionDenied, BadRequest)):
        return True
    if isinstance(exc, (BitrueError, OSError, TimeoutError)):
        return False
    return type(exc).__module__.split(".")[0] != "aiohttp"


def group_by_key(markets: Iterable[MarketConfig]) -> dict[str, list[MarketConfig]]:
    out: dict[str, list[MarketConfig]] = {}
    for m in markets:
        out.setdefault(m.key_label, []).append(m)
    return out


def urls_of(config: BotConfig) -> Any:
    from liquidity_bot.venues.bitrue.urls import BitrueUrls

    b = config.bitrue
    return BitrueUrls(
        spot=b.spot_url,
        listen_key=b.listen_key_url,
        futures=b.futures_url,
        ws_market=b.market_ws_url,
        ws_user=b.user_ws_url,
    )


def bitrue_venue(config: BotConfig, api_key: str, secret: str, symbols: Iterable[str]) -> Venue:
    from liquidity_bot.venues.bitrue.venue import BitrueVenue

    b = config.bitrue
    return BitrueVenue(
        urls_of(config),
        api_key,
        secret,
        list(symbols),
        source_address=b.source_address,
        recv_window=b.recv_window,
    )


async def open_sessions(
    config: BotConfig,
    *,
    home: Any,
    passphrase: str,
    canary_source: str | None = None,
    reverify: bool = True,
    report: Callable[[str], None] = lambda _m: None,
) -> tuple[list[KeySession], dict[str, str]]:
    """Pass each key through the keys gate, mark it used, build its venue.

    Returns the sessions and, per refused key label, why it was refused (its markets do not run).
    """
    from liquidity_bot.keys.gate import KeyRefused, require_tradeable
    from liquidity_bot.keys.hygiene import mark_used
    from liquidity_bot.keys.policy import load_policy
    from liquidity_bot.keys.vault import VaultError

    policy = load_policy(config.keys.policy_path or home.policy)
    sessions: list[KeySession] = []
    refused: dict[str, str] = {}
    for label, markets in group_by_key(config.markets).items():
        try:
            key = await require_tradeable(
                label,
                home=home,
                passphrase=passphrase,
                policy=policy,
                urls=urls_of(config),
                canary_source=canary_source,
                reverify=reverify,
            )
        except (KeyRefused, VaultError) as exc:
            refused[label] = str(exc)
            report(f"key {label!r} refused: {exc}")
            continue
        mark_used(home, label)
        report(f"key {label!r} passed the gate (verdict {key.report.verdict})")
        symbols = [m.symbol for m in markets]

        def factory(key: Any = key, symbols: list[str] = symbols) -> Venue:
            return bitrue_venue(config, key.api_key, key.secret.reveal(), symbols)

        sessions.append(
            KeySession(label=label, venue=factory(), markets=markets, venue_factory=factory)
        )
    return sessions, refused


def summary(engine: Engine) -> dict[str, Any]:
    """Plain numbers for the end-of-run summary (Decimals as strings)."""
    out: dict[str, Any] = {"markets": {}}
    for r in engine.runners:
        om = r.om
        mid = r.book.mid
        pnl = om.pnl(mid)
        out["markets"][r.symbol] = {
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
            "errors": r.errors,
            "open_after_shutdown": engine.left_open.get(
                r.symbol, len([o for o in om.orders.values() if o.order.is_open])
            ),
        }
    for s in engine.sessions:
        for r in s.runners.values():
            inst = r.instrument
            out["markets"][r.symbol]["inventory"] = {
                inst.base: f"{s.balances.total(inst.base).normalize():f}",
                inst.quote: f"{s.balances.total(inst.quote).normalize():f}",
            }
        out.setdefault("budgets", {})[s.label] = {
            "capacity_per_window": s.budget.capacity,
            "max_in_any_window": s.budget.max_in_any_window(),
        }
        for sym, why in s.failed.items():
            out["markets"].setdefault(sym, {})["failed"] = why
    return out
