"""Prometheus metrics of the bot, served at ``/metrics`` by the dashboard.

One ``BotMetrics`` per process with its own ``CollectorRegistry`` (not the library's global one,
so tests and several engines in one process do not collide). The runner feeds it: KPI readings
(``observe_kpi``), the order manager's cumulative counters (``sync_order_stats``: deltas become
counter increments), rate-limit headroom per policy, errors by type, and latencies.
Prometheus values are floats by nature; the conversion happens here, at the very edge, and
nothing read back from a metric is ever used for money.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from liquidity_bot.reporting.kpi import Breach, KpiReading
from liquidity_bot.reporting.markouts import Markouts

# Outcome label -> attribute of engine.order_manager.Stats (cumulative counters).
ORDER_OUTCOMES: dict[str, str] = {
    "placed": "placed",
    "cancelled": "cancelled",
    "kept": "kept",
    "rejected_by_risk": "rejected_by_risk",
    "rejected_by_exchange": "rejected_by_exchange",
    "budget_skipped": "budget_skipped",
    "unknown_outcome": "unknown_outcomes",
    "resolved_by_query": "resolved_by_query",
    "filled": "fills",
}
# estimates_view key -> (name, side) labels of lb_strategy_estimate
ESTIMATE_LABELS = (
    ("sigma_pct", "sigma_pct", "both"),
    ("a_bid", "a", "bid"), ("kappa_bid", "kappa", "bid"), ("trades_bid", "trades", "bid"),
    ("a_ask", "a", "ask"), ("kappa_ask", "kappa", "ask"), ("trades_ask", "trades", "ask"),
)
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


def _f(value: Decimal | int | None) -> float:
    return float("nan") if value is None else float(value)


class BotMetrics:
    """The bot's metrics (see the module docstring)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.uptime = Gauge(
            "lb_obligation_uptime_ratio",
            "Time-weighted share of time both sides met the obligations (0-1).",
            ["symbol"],
            registry=r,
        )
        self.met = Gauge(
            "lb_obligation_met",
            "1 when the latest sample met every obligation.",
            ["symbol"],
            registry=r,
        )
        self.breaches = Counter(
            "lb_obligation_breaches",
            "Obligation breaches closed.",
            ["symbol", "rule"],
            registry=r,
        )
        self.spread = Gauge(
            "lb_spread_bps",
            "Spread relative to mid in basis points; who=market|ours.",
            ["symbol", "who"],
            registry=r,
        )
        self.depth = Gauge(
            "lb_depth_quote",
            "Our resting size within +-band % of mid, quote currency.",
            ["symbol", "side", "band_pct"],
            registry=r,
        )
        self.mid = Gauge("lb_mid_price", "Mid price of the book.", ["symbol"], registry=r)
        self.market_depth = Gauge(
            "lb_market_depth_2pct_quote",
            "The whole book's size within +-2 % of mid (everyone, us included), quote currency.",
            ["symbol", "side"],
            registry=r,
        )
        self.markout = Gauge(
            "lb_markout_bps",
            "Value-weighted markout of our fills: mid horizon_s after each fill against its "
            "price, basis points, positive in our favour (side BUY, SELL or ALL).",
            ["symbol", "side", "horizon_s"],
            registry=r,
        )
        self.estimate = Gauge(
            "lb_strategy_estimate",
            "The strategy's online estimates: sigma_pct (per sqrt s), and per side (bid, ask) the "
            "arrival rate a (per s), its decay kappa (per percent) and the trades behind them.",
            ["symbol", "name", "side"],
            registry=r,
        )
        self.orders = Counter(
            "lb_orders", "Order actions by outcome.", ["symbol", "outcome"], registry=r
        )
        self.errors = Counter("lb_errors", "Errors by type.", ["type"], registry=r)
        self.headroom = Gauge(
            "lb_ratelimit_headroom",
            "Requests left in the current window, per policy.",
            ["policy"],
            registry=r,
        )
        self.rate_used = Gauge(
            "lb_ratelimit_used",
            "Requests used in the current window, per policy.",
            ["policy"],
            registry=r,
        )
        self.rate_limit = Gauge(
            "lb_ratelimit_limit", "Window limit, per policy.", ["policy"], registry=r
        )
        self.budget_used = Gauge(
            "lb_order_budget_used",
            "Order-endpoint requests in the last 60 s, per key.",
            ["key"],
            registry=r,
        )
        self.budget_capacity = Gauge(
            "lb_order_budget_capacity",
            "Order-endpoint requests allowed per 60 s, per key.",
            ["key"],
            registry=r,
        )
        self.latency = Histogram(
            "lb_latency_seconds",
            "Latencies by stage (tick_to_order, rest_request, order_ack, ...).",
            ["stage"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.pnl = Gauge(
            "lb_pnl_quote", "Total PnL marked at mid, quote currency.", ["symbol"], registry=r
        )
        self.inventory = Gauge("lb_inventory_base", "Base asset held.", ["symbol"], registry=r)
        # what the alert monitor watches (liquidity_bot.alerts), for examples/prometheus rules
        self.breach_age = Gauge(
            "lb_obligation_breach_seconds",
            "How long the current obligation breach has lasted (0: none).",
            ["symbol"],
            registry=r,
        )
        self.open_orders = Gauge(
            "lb_open_orders", "Our resting orders, per side.", ["symbol", "side"], registry=r
        )
        self.kill_switch = Gauge(
            "lb_kill_switch", "1 while the risk gate's kill switch is latched.", ["symbol"],
            registry=r,
        )
        self.data_age = Gauge(
            "lb_market_data_age_seconds", "Seconds since the last book update.", ["symbol"],
            registry=r,
        )
        self.rate_limited_answers = Counter(
            "lb_rate_limited", "429 answers from the exchange, per key.", ["key"], registry=r
        )
        self.ban_remaining = Gauge(
            "lb_ip_ban_remaining_seconds", "Seconds left of an IP ban (0: none).", ["key"],
            registry=r,
        )
        self.key_refused = Gauge(
            "lb_key_refused", "1 when the keys gate refused the key while running.", ["key"],
            registry=r,
        )
        self.key_findings = Gauge(
            "lb_key_finding",
            "1 per open `keys review` finding (review_overdue, unused, not_passing...).",
            ["key", "kind"],
            registry=r,
        )
        self.alerts_sent = Counter(
            "lb_alerts",
            "Alert messages by channel and result (sent, retried, failed, dropped).",
            ["channel", "result"],
            registry=r,
        )
        self.alerts_active = Gauge(
            "lb_alerts_firing", "Alert conditions present and not resolved.", registry=r
        )
        self._seen_stats: dict[tuple[str, str], int] = {}
        self._seen_latencies: dict[str, int] = {}

    # --- feeding -------------------------------------------------------------------------------
    def observe_kpi(self, reading: KpiReading, uptime_pct: Decimal | None = None) -> None:
        s = reading.symbol
        self.met.labels(s).set(1 if reading.met else 0)
        if uptime_pct is not None:
            self.uptime.labels(s).set(_f(uptime_pct / 100))
        self.spread.labels(s, "market").set(_f(reading.spread_bps))
        self.spread.labels(s, "ours").set(_f(reading.our_spread_bps))
        if reading.mid is not None:
            self.mid.labels(s).set(_f(reading.mid))
        for band in reading.depth:
            self.depth.labels(s, "bid", str(band.pct)).set(_f(band.bid))
            self.depth.labels(s, "ask", str(band.pct)).set(_f(band.ask))
        if reading.market_depth is not None:
            self.market_depth.labels(s, "bid").set(_f(reading.market_depth.bid))
            self.market_depth.labels(s, "ask").set(_f(reading.market_depth.ask))

    def set_markouts(self, symbol: str, markouts: Markouts) -> None:
        for side, horizon, bps, _ in markouts.rows():
            if bps is not None:
                self.markout.labels(symbol, side, str(horizon)).set(_f(bps))

    def set_estimates(self, symbol: str, estimates: Mapping[str, Any]) -> None:
        """From `web.bridge.estimates_view` (the warm flags are left out)."""
        for key, name, side in ESTIMATE_LABELS:
            value = estimates.get(key)
            if value is not None:
                self.estimate.labels(symbol, name, side).set(float(value))

    def observe_breach(self, breach: Breach) -> None:
        for rule in breach.rules or ("unknown",):
            self.breaches.labels(breach.symbol, rule).inc()

    def order(self, symbol: str, outcome: str, n: int = 1) -> None:
        self.orders.labels(symbol, outcome).inc(n)

    def sync_order_stats(self, symbol: str, stats: Any) -> None:
        """Turn an order manager's cumulative ``Stats`` into counter increments (call often)."""
        for outcome, attr in ORDER_OUTCOMES.items():
            value = getattr(stats, attr, None)
            if not isinstance(value, int):
                continue
            key = (symbol, outcome)
            delta = value - self._seen_stats.get(key, 0)
            if delta > 0:
                self.orders.labels(symbol, outcome).inc(delta)
            self._seen_stats[key] = value
        latencies = getattr(stats, "latencies_ns", None)
        if isinstance(latencies, list):
            # ``total`` counts every sample ever taken (the list keeps the latest only): the
            # new ones are the last ``total - seen`` of the list, however it was trimmed.
            total = getattr(latencies, "total", len(latencies))
            seen = self._seen_latencies.get(symbol, 0)
            if total < seen:  # a new order manager (a restarted market): start over
                seen = 0
            new = min(total - seen, len(latencies))
            for ns in latencies[len(latencies) - new:]:
                self.latency.labels("tick_to_order").observe(ns / 1e9)
            self._seen_latencies[symbol] = total

    def error(self, kind: str) -> None:
        self.errors.labels(kind).inc()

    def observe_latency(self, stage: str, seconds: float) -> None:
        self.latency.labels(stage).observe(seconds)

    def set_headroom(self, headroom: Mapping[str, tuple[int, int]]) -> None:
        """From ``RateGovernor.headroom()``: ``{policy: (used, limit)}``."""
        for policy, (used, limit) in headroom.items():
            self.rate_used.labels(policy).set(used)
            self.rate_limit.labels(policy).set(limit)
            self.headroom.labels(policy).set(max(0, limit - used))

    def set_budget(self, key: str, used: int, capacity: int) -> None:
        self.budget_used.labels(key).set(used)
        self.budget_capacity.labels(key).set(capacity)

    def set_pnl(self, symbol: str, pnl: Decimal | None, inventory_base: Decimal | None) -> None:
        if pnl is not None:
            self.pnl.labels(symbol).set(_f(pnl))
        if inventory_base is not None:
            self.inventory.labels(symbol).set(_f(inventory_base))

    # --- alert conditions (set by liquidity_bot.alerts.monitor) --------------------------------
    def set_breach_age(self, symbol: str, seconds: float) -> None:
        self.breach_age.labels(symbol).set(max(0.0, seconds))

    def set_open_orders(self, symbol: str, bids: int, asks: int) -> None:
        self.open_orders.labels(symbol, "bid").set(bids)
        self.open_orders.labels(symbol, "ask").set(asks)

    def set_kill_switch(self, symbol: str, killed: bool) -> None:
        self.kill_switch.labels(symbol).set(1 if killed else 0)

    def set_data_age(self, symbol: str, seconds: float | None) -> None:
        self.data_age.labels(symbol).set(float("nan") if seconds is None else seconds)

    def rate_limited(self, key: str, n: int = 1) -> None:
        self.rate_limited_answers.labels(key).inc(n)

    def set_ban(self, key: str, remaining_s: float) -> None:
        self.ban_remaining.labels(key).set(remaining_s)

    def set_key_refused(self, key: str, refused: bool) -> None:
        self.key_refused.labels(key).set(1 if refused else 0)

    def set_key_findings(self, findings: list[tuple[str, str]]) -> None:
        """The whole set of open findings (those gone are removed)."""
        self.key_findings.clear()
        for key, kind in findings:
            self.key_findings.labels(key, kind).set(1)

    def alert_result(self, channel: str, result: str) -> None:
        self.alerts_sent.labels(channel, result).inc()

    def alerts_firing(self, n: int) -> None:
        self.alerts_active.set(n)

    # --- exposition ----------------------------------------------------------------------------
    def render(self) -> tuple[bytes, str]:
        """The text exposition format and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
