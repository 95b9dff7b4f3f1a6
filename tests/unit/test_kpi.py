"""KPI arithmetic on hand-made books and quote sequences: spreads, depth bands, uptime, breaches."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal as D

import pytest

from liquidity_bot.domain.book import OrderBook
from liquidity_bot.reporting.kpi import (
    Cause,
    KpiSampler,
    OurQuote,
    Rule,
    breach_from_audit,
    breaches_from_segments,
    compute_uptime,
    measure,
    quotes_from_orders,
    rules_of_sample,
)


@dataclass(frozen=True)
class Obl:
    max_spread_pct: D = D("1")
    min_depth_2pct_quote: D = D("100")
    min_rest_s: float | None = None


def book(bid: str = "99", ask: str = "101", ts: int = 0) -> OrderBook:
    b = OrderBook("XRPUSDT")
    b.apply_snapshot([(D(bid), D("1000"))], [(D(ask), D("1000"))], ts)
    return b


def good_quotes() -> list[OurQuote]:
    # mid 100: our bid 99.6 and ask 100.4 (0.8 % spread), 2 x 100 quote per side within 2 %
    return [
        OurQuote("BUY", D("99.6"), D("1"), 0),
        OurQuote("BUY", D("99"), D("1"), 0),
        OurQuote("SELL", D("100.4"), D("1"), 0),
        OurQuote("SELL", D("101"), D("1"), 0),
    ]


def test_spreads_in_bps_and_pct():
    r = measure("XRPUSDT", book("99", "101"), good_quotes(), Obl(), 1000)
    assert r.mid == D("100")
    assert r.spread_bps == D("200")
    assert r.spread_pct == D("2")
    assert (r.our_bid, r.our_ask) == (D("99.6"), D("100.4"))
    assert r.our_spread_bps == D("80")
    assert r.our_spread_pct == D("0.8")
    assert r.met and r.broken == ()


def test_depth_bands_edges_are_inclusive():
    # mid 100: band edges at 99.5/100.5, 99/101, 98/102, 95/105
    quotes = [
        OurQuote("BUY", D("99.5"), D("2"), 0),  # exactly on the 0.5 % edge
        OurQuote("BUY", D("98.99"), D("1"), 0),  # just outside 1 %
        OurQuote("BUY", D("98"), D("1"), 0),  # exactly on the 2 % edge
        OurQuote("BUY", D("94.99"), D("10"), 0),  # outside every band
        OurQuote("SELL", D("100.5"), D("1"), 0),
        OurQuote("SELL", D("101.01"), D("1"), 0),
        OurQuote("SELL", D("105"), D("1"), 0),  # exactly on the 5 % edge
        OurQuote("SELL", D("105.01"), D("1"), 0),
    ]
    r = measure("XRPUSDT", book("99", "101"), quotes, Obl(min_depth_2pct_quote=D(0)), 0)
    assert r.band(D("0.5")).bid == D("199.0")
    assert r.band(1).bid == D("199.0")
    assert r.band(2).bid == D("199.0") + D("98.99") + D("98")
    assert r.band(5).bid == D("199.0") + D("98.99") + D("98")
    assert r.band(D("0.5")).ask == D("100.5")
    assert r.band(1).ask == D("100.5")
    assert r.band(2).ask == D("100.5") + D("101.01")
    assert r.band(5).ask == D("100.5") + D("101.01") + D("105")
    assert all(isinstance(b.bid, D) and isinstance(b.ask, D) for b in r.depth)


@pytest.mark.parametrize(
    ("quotes", "rules"),
    [
        ([OurQuote("BUY", D("99.6"), D("2"), 0)], {Rule.TWO_SIDED, Rule.MIN_DEPTH_ASK}),
        (
            [OurQuote("BUY", D("99"), D("2"), 0), OurQuote("SELL", D("101.5"), D("2"), 0)],
            {Rule.MAX_SPREAD},
        ),
        (
            [OurQuote("BUY", D("99.6"), D("1"), 0), OurQuote("SELL", D("100.4"), D("2"), 0)],
            {Rule.MIN_DEPTH_BID},
        ),
        ([], {Rule.TWO_SIDED, Rule.MIN_DEPTH_BID, Rule.MIN_DEPTH_ASK}),
    ],
)
def test_each_rule(quotes, rules):
    r = measure("XRPUSDT", book(), quotes, Obl(), 0)
    assert set(r.broken) == rules
    assert not r.met


def test_spread_exactly_at_the_limit_is_met():
    quotes = [OurQuote("BUY", D("99.5"), D("2"), 0), OurQuote("SELL", D("100.5"), D("2"), 0)]
    assert measure("X", book(), quotes, Obl(), 0).met


def test_no_market_breaks_and_stores_zero_depth():
    empty = OrderBook("X")
    r = measure("X", empty, good_quotes(), Obl(), 5)
    assert r.broken == (Rule.NO_MARKET,)
    row = r.to_store()
    assert row.mid is None and row.bid_depth_quote == 0 and not row.obligations_met


def test_min_rest_time_counts_only_rested_orders():
    quotes = [
        OurQuote("BUY", D("99.6"), D("2"), since_ms=0),
        OurQuote("SELL", D("100.4"), D("2"), since_ms=9_500),  # rested 0.5 s at t = 10 s
    ]
    obl = Obl(min_rest_s=1.0)
    r = measure("X", book(), quotes, obl, 10_000)
    assert r.our_ask is None and set(r.broken) == {Rule.TWO_SIDED, Rule.MIN_DEPTH_ASK}
    assert measure("X", book(), quotes, obl, 10_500).met  # exactly 1 s: counts


def test_quotes_from_domain_orders():
    from liquidity_bot.domain.order import Order, Side

    o = Order(client_order_id="lb1", symbol="X", side=Side.BUY, price=D("99"), qty=D("3"))
    (q,) = quotes_from_orders([o], lambda _o: 42)
    assert q == OurQuote("BUY", D("99"), D("3"), 42)


# --- uptime ------------------------------------------------------------------------------------


def test_uptime_time_weighted_with_breach():
    # samples every 1 s; met except between 3 s and 5 s
    pts = [
        (t * 1000, t not in (3, 4), () if t not in (3, 4) else ("max_spread",)) for t in range(10)
    ]
    up = compute_uptime(pts, 1000, end_ms=10_000)
    assert up.total_ms == 10_000 and up.met_ms == 8_000 and up.gap_ms == 0
    assert up.pct == D(80)
    (b,) = breaches_from_segments("X", up.segments)
    assert (b.start_ms, b.end_ms, b.rules) == (3000, 5000, ("max_spread",))


def test_gap_longer_than_two_intervals_counts_as_not_met():
    # met samples at 0, 1, 2 s, then nothing until 10 s, then met again to 12 s
    pts = [
        (0, True, ()),
        (1000, True, ()),
        (2000, True, ()),
        (10_000, True, ()),
        (11_000, True, ()),
    ]
    up = compute_uptime(pts, 1000, end_ms=12_000)
    # 0-3 s vouched (the last sample before the gap vouches one interval), 3-10 s gap
    assert up.met_ms == 5_000 and up.gap_ms == 7_000
    assert up.pct == D(5_000) * 100 / D(12_000)
    (b,) = breaches_from_segments("X", up.segments)
    assert (b.start_ms, b.end_ms, b.rules) == (3000, 10_000, ("sampling_gap",))


def test_jitter_within_two_intervals_is_not_a_gap():
    pts = [(0, True, ()), (2000, True, ()), (3900, True, ())]  # 2.0 s and 1.9 s apart
    up = compute_uptime(pts, 1000, end_ms=4000)
    assert up.met_ms == 4000 and up.gap_ms == 0 and up.pct == D(100)


def test_time_before_the_first_sample_is_a_gap():
    up = compute_uptime([(5000, True, ())], 1000, start_ms=0, end_ms=6000)
    assert up.gap_ms == 5000 and up.met_ms == 1000


def test_no_samples_at_all_is_all_gap():
    up = compute_uptime([], 1000, start_ms=0, end_ms=60_000)
    assert up.pct == D(0) and up.gap_ms == 60_000


# --- the live sampler --------------------------------------------------------------------------


class FakeStore:
    def __init__(self):
        self.samples, self.events = [], []

    def add_kpi_sample(self, s):
        self.samples.append(s)

    def add_audit_event(self, ev):
        self.events.append(ev)


def test_sampler_matches_compute_uptime_and_records_breaches_with_causes():
    store = FakeStore()
    s = KpiSampler("XRPUSDT", Obl(), interval_s=1.0, store=store)
    good = good_quotes()
    one_sided = [q for q in good if q.is_bid]
    plan = [  # (t seconds, quotes, causes)
        (0, good, ()),
        (1, good, ()),
        (2, one_sided, (Cause.BUDGET,)),
        (3, one_sided, (Cause.RISK,)),
        (4, good, ()),
        (5, good, ()),
        # gap: nothing from 5 to 9 s
        (9, good, ()),
        (10, good, ()),
    ]
    for t, quotes, causes in plan:
        assert s.due(t * 1000)
        s.sample(book(ts=t * 1000), quotes, t * 1000, causes)
    assert not s.due(10_500)
    assert s.maybe_sample(book(), good, 10_500) is None

    pts = [(r.ts_ms, r.obligations_met, rules_of_sample(r, Obl())) for r in store.samples]
    up = compute_uptime(pts, 1000, end_ms=10_000)
    assert s.total_ms == up.total_ms == 10_000
    assert s.met_ms == up.met_ms == 5_000  # 0-2, 4-6 s met; 2-4 breach; 6-9 gap; 9-10 met
    assert s.gap_ms == up.gap_ms == 3_000
    assert s.uptime_pct == D(50)

    assert len(s.breaches) == 2
    first, second = s.breaches
    assert (first.start_ms, first.end_ms) == (2000, 4000)
    assert set(first.rules) == {"two_sided", "min_depth_ask"}
    assert first.causes == ("budget", "risk_refusal")
    assert (second.start_ms, second.end_ms, second.rules) == (6000, 9000, ("sampling_gap",))
    assert second.causes == ("no_samples",)
    assert [breach_from_audit(e) for e in store.events] == s.breaches
    assert len(store.samples) == 8
    assert all(isinstance(r.bid_depth_quote, D) for r in store.samples)


def test_sampler_close_records_an_open_breach_and_no_market_hints_stale():
    store = FakeStore()
    s = KpiSampler("X", Obl(), store=store)
    s.sample(OrderBook("X"), good_quotes(), 0)
    assert s.open_breach is not None and s.open_breach.end_ms is None
    s.close(3000)
    (b,) = s.breaches
    assert b.rules == ("no_market",) and b.causes == ("stale_data",) and b.end_ms == 3000


def test_sampler_submits_through_the_writer_when_given():
    store, jobs = FakeStore(), []
    s = KpiSampler("X", Obl(), store=store, submit=jobs.append)
    s.sample(book(), good_quotes(), 0)
    assert store.samples == [] and len(jobs) == 1
    jobs[0]()
    assert len(store.samples) == 1 and store.samples[0].obligations_met


@pytest.mark.parametrize("quotes", [good_quotes(), good_quotes()[:1], [], good_quotes()[2:]])
@pytest.mark.parametrize("bid_ask", [("99", "101"), ("99.9", "100.1"), ("90", "110")])
def test_the_obligation_band_alone_reads_as_all_bands(quotes, bid_ask):
    """The runner's sample measures only the obligation band (and the whole book's depth only
    when the sample is stored): what it reads is what measuring every band gives."""
    b = book(*bid_ask)
    full = measure("XRPUSDT", b, quotes, Obl(), 1000)
    alone = measure("XRPUSDT", b, quotes, Obl(), 1000, (D(2),), market_depth=False)
    assert alone.band(D(2)) == full.band(D(2))
    assert (alone.met, alone.broken, alone.two_sided, alone.our_spread_pct, alone.mid) == (
        full.met, full.broken, full.two_sided, full.our_spread_pct, full.mid)
    assert alone.market_depth is None and full.market_depth is not None
    stored = measure("XRPUSDT", b, quotes, Obl(), 1000, (D(2),))
    assert stored.to_store() == full.to_store()
