"""Prometheus metrics: cumulative stats become counter increments; readings become gauges."""

from __future__ import annotations

from decimal import Decimal as D

from prometheus_client.parser import text_string_to_metric_families

from liquidity_bot.domain.book import OrderBook
from liquidity_bot.reporting.kpi import Breach, OurQuote, measure
from liquidity_bot.web.metrics import BotMetrics


class Obl:
    max_spread_pct = D("1")
    min_depth_2pct_quote = D("100")
    min_rest_s = None


def values(m: BotMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    body, ctype = m.render()
    assert ctype.startswith("text/plain")
    out = {}
    for fam in text_string_to_metric_families(body.decode()):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


class Stats:
    placed = 0
    cancelled = 0
    rejected_by_risk = 0
    fills = 0
    latencies_ns: list[int] = []


def test_order_stats_deltas_and_latency_histogram():
    m, st = BotMetrics(), Stats()
    st.placed, st.cancelled, st.latencies_ns = 3, 1, [1_000_000]
    m.sync_order_stats("X", st)
    m.sync_order_stats("X", st)  # nothing new: nothing counted twice
    st.placed, st.latencies_ns = 5, [1_000_000, 30_000_000]
    m.sync_order_stats("X", st)
    v = values(m)
    assert v[("lb_orders_total", (("outcome", "placed"), ("symbol", "X")))] == 5
    assert v[("lb_orders_total", (("outcome", "cancelled"), ("symbol", "X")))] == 1
    assert v[("lb_latency_seconds_count", (("stage", "tick_to_order"),))] == 2
    assert v[("lb_latency_seconds_bucket", (("le", "0.001"), ("stage", "tick_to_order")))] == 1


def test_latency_samples_are_counted_once_when_the_log_trims_itself():
    from liquidity_bot.engine.order_manager import LatencyLog

    m, st = BotMetrics(), Stats()
    st.latencies_ns = LatencyLog(maxlen=4)
    for ns in (1, 2, 3):
        st.latencies_ns.append(ns * 1_000_000)
    m.sync_order_stats("X", st)
    for ns in (4, 5, 6):  # the log drops its oldest half on the way: only 3 samples are new
        st.latencies_ns.append(ns * 1_000_000)
    m.sync_order_stats("X", st)
    v = values(m)
    assert v[("lb_latency_seconds_count", (("stage", "tick_to_order"),))] == 6
    assert abs(v[("lb_latency_seconds_sum", (("stage", "tick_to_order"),))] - 0.021) < 1e-9


def test_kpi_gauges_headroom_errors_and_registries_are_separate():
    book = OrderBook("X")
    book.apply_snapshot([(D("99"), D("5"))], [(D("101"), D("5"))], 0)
    quotes = [OurQuote("BUY", D("99.5"), D("2")), OurQuote("SELL", D("100.5"), D("0.5"))]
    reading = measure("X", book, quotes, Obl(), 0)
    m = BotMetrics()
    m.observe_kpi(reading, D("97.5"))
    m.observe_breach(Breach("X", 0, 10, ("min_depth_ask", "two_sided")))
    m.set_headroom({"ORDERS": (90, 100), "WEIGHT": (1300, 1200)})
    m.set_budget("client-a", 12, 90)
    m.error("IpBanned")
    m.set_pnl("X", D("-1.5"), D("1000"))
    v = values(m)
    assert v[("lb_obligation_met", (("symbol", "X"),))] == 0
    assert v[("lb_obligation_uptime_ratio", (("symbol", "X"),))] == 0.975
    assert v[("lb_spread_bps", (("symbol", "X"), ("who", "ours")))] == 100
    assert v[("lb_spread_bps", (("symbol", "X"), ("who", "market")))] == 200
    assert v[("lb_depth_quote", (("band_pct", "0.5"), ("side", "bid"), ("symbol", "X")))] == 199
    assert v[("lb_depth_quote", (("band_pct", "2"), ("side", "ask"), ("symbol", "X")))] == 50.25
    assert v[("lb_obligation_breaches_total", (("rule", "two_sided"), ("symbol", "X")))] == 1
    assert v[("lb_ratelimit_headroom", (("policy", "ORDERS"),))] == 10
    assert v[("lb_ratelimit_headroom", (("policy", "WEIGHT"),))] == 0  # never negative
    assert v[("lb_order_budget_capacity", (("key", "client-a"),))] == 90
    assert v[("lb_errors_total", (("type", "IpBanned"),))] == 1
    assert v[("lb_pnl_quote", (("symbol", "X"),))] == -1.5
    assert ("lb_obligation_met", (("symbol", "X"),)) not in values(BotMetrics())


def test_markouts_estimates_and_the_whole_books_depth():
    from liquidity_bot.reporting.markouts import Markouts

    m = BotMetrics()
    book = OrderBook("XRPUSDT")
    book.apply_snapshot([[D("0.499"), D("1000")], [D("0.40"), D("9")]],
                        [[D("0.501"), D("500")]], ts_ms=1)
    m.observe_kpi(measure("XRPUSDT", book, [], Obl(), 1))
    mk = Markouts()
    mk.add("BUY", D("100"), 5, D("10"))
    mk.add("SELL", D("300"), 5, D("-2"))
    m.set_markouts("XRPUSDT", mk)
    m.set_estimates("XRPUSDT", {"sigma_pct": 0.02, "a_bid": 0.5, "kappa_bid": 3.0,
                                "trades_bid": 40, "a_ask": 0.25, "kappa_ask": 2.0,
                                "trades_ask": 31, "sigma_warm": True})
    got = values(m)
    depth = ("lb_market_depth_2pct_quote", (("side", "bid"), ("symbol", "XRPUSDT")))
    assert got[depth] == 499.0  # 0.40 is outside the band
    key = ("lb_markout_bps", (("horizon_s", "5"), ("side", "ALL"), ("symbol", "XRPUSDT")))
    assert got[key] == 1.0  # (100 x 10 - 300 x 2) / 400
    est = ("lb_strategy_estimate", (("name", "kappa"), ("side", "ask"), ("symbol", "XRPUSDT")))
    assert got[est] == 2.0
