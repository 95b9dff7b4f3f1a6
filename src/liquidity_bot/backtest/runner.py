"""Backtest: the live engine (strategies, order manager, risk gate, store) on simulated time.

``run_backtest`` builds the simulator's virtual-time market for the config's symbols, gives the
engine a ``BacktestVenue`` on one funded account, and runs ``Engine.run`` for the requested
simulated duration on a ``VirtualEventLoop``. Everything the live bot writes (orders, events,
fills, KPI samples) goes to the store, so the report is the same one a live run produces.

Deterministic for a seed: the market is seeded, time is virtual, and client order ids come
from a seeded generator instead of the wall clock.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from pathlib import Path
from typing import Any

from bitrue_sim.virtual import HISTORY_LIMIT, VirtualVenue
from liquidity_bot.app import build_engine
from liquidity_bot.backtest.baseline import RefreshEveryOrderManager, baseline_budget
from liquidity_bot.backtest.clock import VirtualClock, VirtualEventLoop
from liquidity_bot.backtest.venue import BacktestMarket, BacktestVenue
from liquidity_bot.config import BotConfig, MarketConfig
from liquidity_bot.engine.budget import OrderBudget
from liquidity_bot.engine.clock import LIVE, Clock
from liquidity_bot.engine.order_manager import ClientIds, OrderManager
from liquidity_bot.engine.persistence import StoreWriter
from liquidity_bot.engine.runner import Engine, EngineParts, KeySession, group_by_key, summary
from liquidity_bot.store import KpiSample, Store

log = logging.getLogger(__name__)

HOUR_S = 3600.0
MANAGERS = ("ours", "baseline")
# The engine's housekeeping wake-up (``Engine.tick_s``) in simulated seconds: nothing is drawn,
# and the RSS samples are hours apart (the end of the run stays exact: see ``Engine.run``)
TICK_S = 5.0
_BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"


class SeededClientIds(ClientIds):
    """Client ids of the live format (``<prefix><16 chars>``) from a counter and a seeded RNG."""

    def __init__(self, prefix: str, seed: int = 0, clock: Clock = LIVE) -> None:
        super().__init__(prefix, clock)
        self._rng = random.Random(f"{seed}:{prefix}")
        self._n = 0

    def new(self) -> str:
        self._n += 1
        n, chars = self._n, []
        for _ in range(12):
            n, r = divmod(n, 36)
            chars.append(_BASE36[r])
        tail = "".join(self._rng.choice(_BASE36) for _ in range(4))
        return self.prefix + "".join(reversed(chars)) + tail


class BatchedStoreWriter(StoreWriter):
    """The engine's store writer for backtests: same records, written in the loop's thread in
    batches of one transaction each (no writer thread competing for the interpreter, and no
    commit per record: a simulated day writes hundreds of thousands of rows)."""

    def __init__(self, store: Store, clock: Clock = LIVE, batch: int = 5000) -> None:  # noqa: D107
        self.store = store
        self.clock = clock
        self.batch = batch
        self._pending: list[Callable[[], Any]] = []
        self._records = 0  # records pending (a run of KPI samples is one call of many)
        self._kpis: list[KpiSample] | None = None  # the run of samples last in ``_pending``
        self.fills_inserted = 0
        self.fills_duplicate = 0
        self.errors = 0

    def submit(self, fn: Callable[[], Any]) -> None:
        self._pending.append(fn)
        self._kpis = None
        self._added()

    def kpi_sample(self, sample: KpiSample) -> None:
        """Samples submitted one after another are inserted together (one statement, many
        rows), in their place among the other writes."""
        if self._kpis is None:
            run: list[KpiSample] = []
            store = self.store
            self._pending.append(lambda: store.add_kpi_sample(run))
            self._kpis = run
        self._kpis.append(sample)
        self._added()

    def _added(self) -> None:
        self._records += 1
        if self._records >= self.batch:
            self._drain()

    def _drain(self) -> None:
        pending, self._pending = self._pending, []
        self._kpis = None
        self._records = 0
        if not pending:
            return
        with self.store.transaction():
            for fn in pending:
                fn()

    def flush(self, timeout_s: float = 10.0) -> bool:
        self._drain()
        return True

    async def flush_async(self, timeout_s: float = 10.0) -> bool:
        return self.flush(timeout_s)

    def close(self, *, discard: bool = False) -> None:
        if discard:
            self._pending, self._kpis = [], None
        self._drain()


@dataclass(frozen=True)
class MarketResult:
    """One market's figures at the end of a backtest."""

    symbol: str
    uptime: float | None
    orders_placed: int
    cancel_requests: int
    fills: int
    pnl_quote: str | None
    errors: int
    open_after_shutdown: int
    budget_skipped: int
    requests_by_purpose: tuple[tuple[str, int], ...] = ()
    """Order requests by the planner's purpose (RESTORE, RESCUE, IMPROVE), sorted."""
    passes: int = field(default=0, compare=False)
    """Quoting passes run (how the work was done, not what it decided: not compared)."""
    plans_reused: int = field(default=0, compare=False)
    """Passes that reused the last pass's plan, their planner inputs unchanged."""
    quiet_passes: int = field(default=0, compare=False)
    """Passes counted without running: every input was the last one's, which changed nothing
    (``MarketRunner.skip_quiet``)."""


@dataclass(frozen=True)
class BacktestResult:
    """What a backtest measured (order requests are counted where the exchange sees them)."""

    scenario: str
    seed: int
    hours: float
    manager: str
    wall_s: float
    markets: tuple[MarketResult, ...]
    order_requests: int
    max_order_requests_per_window: int
    rate_limited: int
    book_pushes: int
    loop_steps: int
    store_url: str | None
    report_path: str | None
    rss_samples: tuple[tuple[float, int], ...] = field(default=(), compare=False)
    """(simulated hours, resident set size in bytes) about every ``sample_every_s``."""
    pruned_orders: int = 0
    summary: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def order_requests_per_minute(self) -> float:
        return self.order_requests / (self.hours * 60) if self.hours > 0 else 0.0

    def fingerprint(self) -> tuple[Any, ...]:
        """Everything that must repeat for the same seed (not the wall time)."""
        return (self.scenario, self.seed, self.hours, self.manager, self.markets,
                self.order_requests, self.max_order_requests_per_window, self.rate_limited,
                self.book_pushes)


def default_funding(sim: VirtualVenue, markets: list[MarketConfig]) -> dict[str, Decimal]:
    """Enough of both assets for each market to quote its full size twice over on each side:
    2 x ``max_open_notional_per_side`` in quote, and the same value in base at the opening
    price (within the market's inventory bounds)."""
    out: dict[str, Decimal] = {}
    for m in markets:
        spec = sim.exchange.markets[m.symbol]
        price = sim.exchange.last_price(m.symbol) or spec.initial_price
        quote = 2 * m.risk.max_open_notional_per_side
        base = quote / price
        middle = (m.risk.min_base_inventory + m.risk.max_base_inventory) / 2
        base = min(base, middle).quantize(spec.step_size, rounding=ROUND_DOWN)
        out[spec.base_asset] = out.get(spec.base_asset, Decimal(0)) + base
        out[spec.quote_asset] = out.get(spec.quote_asset, Decimal(0)) + quote
    return out


def run_backtest(
    config: BotConfig,
    *,
    scenario: str = "volatile",
    hours: float = 24.0,
    seed: int = 0,
    store_url: str | None = None,
    manager: str = "ours",
    latency_ms: int = 40,
    funding: dict[str, Decimal] | None = None,
    report_path: Path | None = None,
    report_format: str = "html",
    sample_every_s: float = 3600.0,
    prune_finished: bool = True,
    on_sample: Callable[[float, int], None] | None = None,
    sim_history_limit: int | None = HISTORY_LIMIT,
) -> BacktestResult:
    """Run ``config``'s markets on ``scenario`` for ``hours`` of simulated time (see module doc).

    ``store_url`` None keeps no store (fastest; no report). ``manager`` "baseline" swaps the
    order manager for the timer-refresh baseline (benchmarks only). ``on_sample(hours, rss)``
    is called after each RSS sample, inside the run (a memory benchmark's probe).
    ``sim_history_limit`` is how many orders and fills per symbol the simulator keeps for our
    accounts (None: all, as the live exchange; the engine reads only recent history)."""
    if manager not in MANAGERS:
        raise ValueError(f"manager must be one of {MANAGERS}, got {manager!r}")
    if hours <= 0:
        raise ValueError("hours must be > 0")
    symbols = [m.symbol for m in config.markets]
    if not symbols:
        raise ValueError("the config has no [[markets]]: nothing to backtest")
    started = time.perf_counter()
    sim = VirtualVenue(scenario=scenario, seed=seed, symbols=symbols)
    missing = [s for s in symbols if s not in sim.exchange.markets]
    if missing:
        raise ValueError(f"the simulator does not list {missing}; it lists "
                         f"{sorted(sim.exchange.markets)}")
    market = BacktestMarket(sim, symbols)
    loop = VirtualEventLoop(market)
    store = None
    if store_url is not None:
        store = Store(store_url)
        store.create_schema()
    clock = VirtualClock(loop)
    parts = EngineParts(
        client_ids=lambda prefix, clock: SeededClientIds(prefix, seed, clock),
        writer=BatchedStoreWriter,
        order_manager=RefreshEveryOrderManager if manager == "baseline" else OrderManager,
    )
    venues: list[BacktestVenue] = []
    try:  # the engine is given its clock and parts: nothing is patched
        sessions = []
        for label, key_markets in group_by_key(config.markets).items():
            # One simulated account per key, as live: its markets share its order budget.
            account = sim.create_account(
                funding or default_funding(sim, key_markets), history_limit=sim_history_limit
            )
            venue = BacktestVenue(market, account, latency_ms=latency_ms)
            venues.append(venue)
            budget = (baseline_budget(loop.time) if manager == "baseline"
                      else OrderBudget.for_limit(venue.order_rate_limit, clock=loop.time))
            sessions.append(KeySession(label=label, venue=venue, markets=list(key_markets),
                                       budget=budget))
        housekeeping = _Housekeeping(
            loop, sample_every_s, prune=prune_finished, on_sample=on_sample
        )
        engine = build_engine(config, sessions, store=store, on_tick=housekeeping,
                              order_target=None if manager == "baseline"
                              else config.order_target_per_minute,
                              clock=clock, parts=parts)
        engine.tick_s = TICK_S
        asyncio.set_event_loop(loop)
        loop.run_until_complete(engine.run(duration_s=hours * HOUR_S, handle_signals=False))
        result_summary = summary(engine)
        markets = tuple(_market_result(r) for r in engine.runners)
    finally:
        asyncio.set_event_loop(None)
        loop.close()
    written = None
    if store is not None:
        try:
            if report_path is not None:
                written = str(write_report(store, config, report_path, report_format))
        finally:
            store.close()
    return BacktestResult(
        scenario=scenario,
        seed=seed,
        hours=hours,
        manager=manager,
        wall_s=time.perf_counter() - started,
        markets=markets,
        order_requests=sum(v.order_requests for v in venues),
        max_order_requests_per_window=max(v.max_order_requests_in_window() for v in venues),
        rate_limited=sum(v.rate_limited for v in venues),
        book_pushes=market.pushes,
        loop_steps=loop.steps,
        rss_samples=tuple(housekeeping.rss),
        pruned_orders=housekeeping.pruned,
        store_url=store_url,
        report_path=written,
        summary=result_summary,
    )


def rss_bytes() -> int:
    """Current resident set size of this process (Linux /proc; peak RSS elsewhere)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class _Housekeeping:
    """Engine tick hook: samples RSS every ``sample_every_s`` of simulated time.

    The order manager drops its finished orders itself (``OrderManager.prune_finished``);
    ``prune=False`` turns that off, to measure what memory does without it."""

    def __init__(
        self,
        loop: VirtualEventLoop,
        sample_every_s: float,
        prune: bool = True,
        on_sample: Callable[[float, int], None] | None = None,
    ) -> None:
        self.loop = loop
        self.on_sample = on_sample
        self.prune = prune
        self.sample_every_s = sample_every_s
        self._next_sample = 0.0
        self.pruned = 0
        self.rss: list[tuple[float, int]] = []

    def __call__(self, engine: Engine) -> None:
        now = self.loop.time()
        if not self.prune:
            for r in engine.runners:
                r.om.finished_grace_s = float("inf")
        self.pruned = sum(r.om.stats.pruned for r in engine.runners)
        if now >= self._next_sample:
            self._next_sample = now + self.sample_every_s
            sample = (round(now / HOUR_S, 3), rss_bytes())
            self.rss.append(sample)
            if self.on_sample is not None:
                self.on_sample(*sample)


def _market_result(r: Any) -> MarketResult:
    om = r.om
    mid = r.book.mid
    pnl = om.pnl(mid)
    return MarketResult(
        symbol=r.symbol,
        uptime=r.obligation.uptime,
        orders_placed=om.stats.placed,
        cancel_requests=om.stats.cancel_requests,
        fills=om.stats.fills,
        pnl_quote=None if pnl is None else str(pnl.quantize(Decimal("0.0001"))),
        errors=r.errors,
        open_after_shutdown=len([t for t in om.orders.values() if t.order.is_open]),
        budget_skipped=om.stats.budget_skipped,
        requests_by_purpose=tuple(sorted(om.stats.spent.items())),
        passes=r.passes,
        plans_reused=om.stats.plans_reused,
        quiet_passes=r.quiet_passes,
    )


def write_report(store: Store, config: BotConfig, path: Path, fmt: str = "html") -> Path:
    """The client report of everything in ``store``, as a live run's ``liquidity-bot report``."""
    from liquidity_bot.reporting.report import build_report, render

    rep = build_report(
        store,
        obligations={m.symbol: m.obligations for m in config.markets},
        interval_ms=int(config.kpi_interval_s * 1000),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(render(rep, fmt), encoding="utf-8")
    tmp.replace(path)
    return path
