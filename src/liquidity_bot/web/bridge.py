"""Feeds a running ``Engine`` into the KPI samplers, the dashboard state and the metrics.

The engine calls ``Engine.on_tick(engine)`` about every 250 ms; ``EngineBridge.on_tick`` reads
what it needs from the engine's public objects (each market runner's book, order manager and
risk gate; each key session's order budget and venue) and never changes them. This keeps the
engine free of any dashboard code: wiring is ``Engine(..., on_tick=bridge.on_tick)`` (chain it
with another view with ``bridge.chain(view.update)``).

``serve_engine`` does all of it for ``run`` and ``demo``: state, metrics, bridge (the one source
of stored KPI samples and breaches: build the engine with ``store_kpis=False``), the server.

Breach causes are inferred per tick from what the engine exposes: stale or crossed book ->
``stale_data``; kill switch or new risk refusals -> ``risk_refusal`` (``balance`` when the
refusal was for balance or inventory); new budget skips -> ``budget``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from liquidity_bot.domain.market_id import DEFAULT_EXCHANGE, market_name
from liquidity_bot.domain.order import Side
from liquidity_bot.reporting.kpi import Breach, Cause, KpiSampler, OurQuote, measure
from liquidity_bot.reporting.pnl import Inventory, pnl_from_fills
from liquidity_bot.web.dashboard import DashboardState
from liquidity_bot.web.metrics import BotMetrics

log = logging.getLogger(__name__)

_BALANCE_REASONS = frozenset({"INSUFFICIENT_BALANCE", "INVENTORY_BOUND"})


def key_rows_from_home(home: Any) -> Callable[[], list[dict[str, Any]]]:
    """Key status rows (label, verdict, age, review due) from a keys home (a directory or a
    ``KeysHome``); no passphrase needed.

    Vault metadata only: secrets stay sealed, and ``DashboardState.set_keys`` keeps only
    non-secret fields anyway.
    """

    def rows() -> list[dict[str, Any]]:
        from liquidity_bot.keys.home import KeysHome
        from liquidity_bot.keys.hygiene import list_rows
        from liquidity_bot.keys.policy import load_policy
        from liquidity_bot.keys.vault import Vault

        keys_home = home if isinstance(home, KeysHome) else KeysHome(Path(home))
        if not keys_home.vault.exists():
            return []
        return [
            r.to_json()
            for r in list_rows(Vault.open(keys_home.vault), load_policy(keys_home.policy))
        ]

    return rows


def live_quotes(manager: Any) -> list[OurQuote]:
    """Our open orders of one order manager, with the time each was created."""
    out = []
    for tracked in list(getattr(manager, "orders", {}).values()):
        order = tracked.order
        if not order.is_open:
            continue
        side = order.side.value if hasattr(order.side, "value") else str(order.side)
        out.append(
            OurQuote(str(side).upper(), order.price, order.remaining_qty, tracked.created_ms)
        )
    return out


class EngineBridge:
    """See the module docstring. One per engine."""

    def __init__(
        self,
        state: DashboardState,
        metrics: BotMetrics | None = None,
        *,
        kpi_interval_s: float = 1.0,
        store: Any = None,
        submit: Callable[[Callable[[], None]], None] | None = None,
        store_samples: bool = False,
        use_engine_store: bool = True,
        key_rows: Callable[[], Sequence[dict[str, Any]]] | None = None,
        key_rows_every_s: float = 60.0,
        pnl_every_s: float = 5.0,
    ) -> None:
        self.state = state
        self.metrics = metrics
        self.kpi_interval_s = kpi_interval_s
        self.store = store
        self.submit = submit
        self.store_samples = store_samples
        self.use_engine_store = use_engine_store
        self.samplers: dict[str, KpiSampler] = {}
        self.key_rows = key_rows
        self.key_rows_every_s = key_rows_every_s
        self._keys_at = 0.0
        self._seen: dict[tuple[str, str], int] = {}
        self._chained: list[Callable[[Any], None]] = []
        self.pnl_every_s = pnl_every_s
        self._pnl_at: dict[str, float] = {}
        self._start_inventory: dict[str, Inventory] = {}
        self._start_ms = int(time.time() * 1000)
        self._status: dict[str, str] = {}
        self._budget_skips: dict[str, int] = {}
        self._budget_event_at: dict[str, float] = {}

    def chain(self, fn: Callable[[Any], None]) -> EngineBridge:
        """Also call ``fn(engine)`` on every tick (e.g. the terminal view's ``update``)."""
        self._chained.append(fn)
        return self

    def sampler(self, symbol: str, obligations: Any, *, name: str | None = None,
                exchange: str = DEFAULT_EXCHANGE) -> KpiSampler:
        """The sampler of the market shown as ``name`` (``symbol`` on Bitrue,
        ``exchange:SYMBOL`` elsewhere: a market is (exchange, symbol))."""
        name = name or symbol
        s = self.samplers.get(name)
        if s is None:
            s = self.samplers[name] = KpiSampler(
                symbol,
                obligations,
                exchange=exchange,
                interval_s=self.kpi_interval_s,
                store=self.store,
                submit=self.submit,
                store_samples=self.store_samples,
                on_breach=lambda breach, name=name: self._on_breach(breach, name),
            )
            self.state.update_market(name, obligations=obligations, exchange=exchange)
        return s

    def _on_breach(self, breach: Breach, market: str | None = None) -> None:
        self.state.add_breach(breach, market)
        if self.metrics is not None:
            self.metrics.observe_breach(breach)

    def _grew(self, key: tuple[str, str], value: int) -> int:
        """How much a cumulative counter grew since the last tick (0 the first time)."""
        before = self._seen.get(key, value)
        self._seen[key] = value
        return max(0, value - before)

    def causes(self, runner: Any) -> list[str]:
        symbol = runner.symbol
        out: list[str] = []
        if getattr(runner, "stale", False) or runner.book.is_crossed:
            out.append(str(Cause.STALE))
        risk = runner.risk
        if getattr(risk, "killed", False):
            out.append(str(Cause.RISK))
        counts = risk.counts() if hasattr(risk, "counts") else {}
        for reason, n in counts.items():
            if self._grew((symbol, f"risk:{reason}"), n):
                cause = Cause.BALANCE if str(reason) in _BALANCE_REASONS else Cause.RISK
                if str(cause) not in out:
                    out.append(str(cause))
        skipped = getattr(runner.om.stats, "budget_skipped", 0)
        if self._grew((symbol, "budget"), skipped):
            out.append(str(Cause.BUDGET))
        return out

    def on_tick(self, engine: Any) -> None:
        try:
            self._tick(engine)
        except Exception:  # the view must never stop the engine
            log.exception("dashboard bridge: tick failed")
            if self.metrics is not None:
                self.metrics.error("dashboard_bridge")
        for fn in self._chained:
            fn(engine)

    def _tick(self, engine: Any) -> None:
        now_ms = int(time.time() * 1000)
        if self.store is None and self.use_engine_store and getattr(engine, "store", None):
            # breaches (with causes) go to the engine's store, through its writer thread
            self.store = engine.store
            writer = getattr(engine, "writer", None)
            self.submit = writer.submit if writer is not None else None
        for session in engine.sessions:
            budget = session.budget
            self.state.set_budget(session.label, budget.used(), budget.capacity)
            if self.metrics is not None:
                self.metrics.set_budget(session.label, budget.used(), budget.capacity)
            rest = getattr(session.venue, "rest", None)
            if rest is not None and hasattr(rest, "headroom"):
                headroom = rest.headroom()
                self.state.set_rate_limits(headroom)
                if self.metrics is not None:
                    self.metrics.set_headroom(headroom)
            for symbol, runner in session.runners.items():  # by name: exchange:SYMBOL
                self._market(getattr(runner, "name", symbol), runner, session, now_ms)
            markets = getattr(session, "markets", None) or ()
            exchange = markets[0].exchange if markets else DEFAULT_EXCHANGE
            for symbol, why in session.failed.items():
                self.state.update_market(market_name(exchange, symbol), status=f"failed: {why}",
                                         exchange=exchange)
        if self.key_rows is not None and time.monotonic() - self._keys_at > self.key_rows_every_s:
            self._keys_at = time.monotonic()
            self.state.set_keys(self.key_rows())

    def _market(self, symbol: str, runner: Any, session: Any, now_ms: int) -> None:
        """One market's view; ``symbol`` is its name (``exchange:SYMBOL`` off Bitrue)."""
        exchange = getattr(runner.config, "exchange", DEFAULT_EXCHANGE)
        sampler = self.sampler(runner.symbol, runner.config.obligations, name=symbol,
                               exchange=exchange)
        quotes = live_quotes(runner.om)
        reading = sampler.maybe_sample(runner.book, quotes, now_ms, self.causes(runner))
        # the view shows the book and quotes of this tick, measured now (cheap), even between
        # samples; only the sampler's readings count for uptime and the store
        shown = reading or measure(runner.symbol, runner.book, quotes, sampler.obligations,
                                   now_ms)
        self.state.update_market(
            symbol,
            book=runner.book,
            quotes=quotes,
            reading=shown,
            uptime_pct=sampler.uptime_pct,
            status=getattr(runner, "status", None),
        )
        self._events(symbol, runner)
        mid = runner.book.mid
        inst = runner.instrument
        base = session.balances.total(inst.base)
        quote = session.balances.total(inst.quote)
        start = self._start_inventory.setdefault(symbol, Inventory(base, quote))
        pnl = runner.om.pnl(mid)
        view = {
            "inventory_base": str(base),
            "inventory_quote": str(quote),
            "inventory_value": None if mid is None else str(base * mid + quote),
            "hold_value": None if mid is None else str(start.value(mid)),
            "vs_hold": None if mid is None else str(base * mid + quote - start.value(mid)),
            "total": None if pnl is None else str(pnl),
        }
        view.update(self._avg_cost(symbol, mid, runner.symbol, exchange))
        self.state.update_pnl(symbol, view)
        tracker = getattr(runner, "markouts", None)
        estimator = getattr(runner, "estimator", None)
        estimates = None if estimator is None else estimates_view(estimator.estimates(now_ms))
        self.state.update_analytics(
            symbol, None if tracker is None else tracker.markouts.to_json(), estimates)
        if self.metrics is not None:
            if reading is not None:
                self.metrics.observe_kpi(reading, sampler.uptime_pct)
            self.metrics.sync_order_stats(symbol, runner.om.stats)
            self.metrics.set_pnl(symbol, pnl, base)
            if tracker is not None:
                self.metrics.set_markouts(symbol, tracker.markouts)
            if estimates is not None:
                self.metrics.set_estimates(symbol, estimates)
            new_errors = self._grew((symbol, "errors"), getattr(runner, "errors", 0))
            if new_errors:
                self.metrics.errors.labels("market_loop").inc(new_errors)

    def _avg_cost(self, symbol: str, mid: Decimal | None, traded: str | None = None,
                  exchange: str | None = None) -> dict[str, Any]:
        """Realized/unrealized PnL and fees from the stored fills of this run (every few s);
        ``symbol`` is the market's name, ``traded`` its symbol on ``exchange``."""
        if self.store is None or mid is None:
            return {}
        now = time.monotonic()
        if now - self._pnl_at.get(symbol, float("-inf")) < self.pnl_every_s:
            cached = self.state.market(symbol).pnl
            return {k: cached.get(k) for k in ("realized", "unrealized", "fees_quote")}
        self._pnl_at[symbol] = now
        try:
            traded = traded or symbol
            summary, _ = pnl_from_fills(traded, self.store.fills(
                traded, since=self._start_ms, exchange=exchange), mid)
        except Exception:  # a busy database must not break the view
            log.debug("dashboard bridge: fills not readable now", exc_info=True)
            return {}
        return {
            "realized": str(summary.realized),
            "unrealized": None if summary.unrealized is None else str(summary.unrealized),
            "fees_quote": str(summary.fees_quote),
        }

    def _events(self, symbol: str, runner: Any) -> None:
        status = str(getattr(runner, "status", ""))
        before = self._status.get(symbol)
        self._status[symbol] = status
        if before is not None and status != before:
            level = "info" if status == "quoting" else "warning"
            self.state.add_event("status", f"{symbol}: {before} -> {status}", level=level)
        stats = runner.om.stats
        fills = self._grew((symbol, "fills-ev"), getattr(stats, "fills", 0))
        if fills:
            self.state.add_event("fill", f"{symbol}: {fills} new fill(s)")
        refused = self._grew((symbol, "risk-ev"), getattr(stats, "rejected_by_risk", 0))
        if refused:
            self.state.add_event(
                "risk", f"{symbol}: risk gate refused {refused} order(s)", level="warning"
            )
        self._budget_skips[symbol] = self._budget_skips.get(symbol, 0) + self._grew(
            (symbol, "budget-ev"), getattr(stats, "budget_skipped", 0)
        )
        now = time.monotonic()
        if self._budget_skips[symbol] and now - self._budget_event_at.get(symbol, -1e9) >= 10:
            # one line per 10 s at most: a saturated budget would otherwise flood the list
            self.state.add_event(
                "budget",
                f"{symbol}: {self._budget_skips[symbol]} order(s) deferred: order budget full",
                level="warning",
            )
            self._budget_skips[symbol] = 0
            self._budget_event_at[symbol] = now

    def close(self, now_ms: int | None = None) -> None:
        """End of run: close open breaches so they are recorded."""
        now = now_ms if now_ms is not None else int(time.time() * 1000)
        for s in self.samplers.values():
            s.close(now)


def estimates_view(est: Any) -> dict[str, Any]:
    """`MarketEstimates` for the dashboard and /metrics: volatility, and per side the arrival
    rate, its decay and the trades in the window; `warm` False while the defaults are used."""
    a_bid, kappa_bid = est.side(Side.BUY)
    a_ask, kappa_ask = est.side(Side.SELL)
    return {
        "sigma_pct": est.sigma_pct, "sigma_warm": est.sigma_warm,
        "a_bid": a_bid, "kappa_bid": kappa_bid, "trades_bid": est.bid_trades,
        "a_ask": a_ask, "kappa_ask": kappa_ask, "trades_ask": est.ask_trades,
        "intensity_warm": est.intensity_warm,
    }


def uptime_of(bridge: EngineBridge, symbol: str) -> Decimal | None:
    s = bridge.samplers.get(symbol)
    return None if s is None else s.uptime_pct


async def serve_engine(
    engine: Any,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    token: str | None = None,
    home: Path | None = None,
    key_rows_home: Any = None,
    kpi_interval_s: float = 1.0,
    title: str = "liquidity-bot",
    max_sse_clients: int | None = None,
) -> tuple[EngineBridge, Any]:
    """Dashboard + ``/metrics`` for a running engine; returns the bridge and the server.

    The bridge stores KPI samples and breaches in the engine's store (build the engine with
    ``store_kpis=False`` so there is one sampler), and is installed as ``engine.on_tick``
    (chain a terminal view with ``bridge.chain(view.update)``). Key status rows come from
    ``key_rows_home`` (a ``KeysHome``) or ``home``'s vault metadata (every 60 s, and at once).
    """
    from liquidity_bot.web.dashboard import start_dashboard

    state = DashboardState(title=title)
    metrics = BotMetrics()
    bridge = EngineBridge(
        state,
        metrics,
        kpi_interval_s=kpi_interval_s,
        store_samples=True,
        key_rows=None if (key_rows_home or home) is None
        else key_rows_from_home(key_rows_home or home),
    )
    engine.on_tick = bridge.on_tick
    extra = {} if max_sse_clients is None else {"max_sse_clients": max_sse_clients}
    server = await start_dashboard(state, host, port, token, metrics=metrics, **extra)
    return bridge, server
