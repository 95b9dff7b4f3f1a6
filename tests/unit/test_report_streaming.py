"""The report streams its samples: figures equal a direct computation, plots stay bounded.

On SQLite always, on PostgreSQL too when LIQUIDITY_BOT_TEST_PG_URL is set (as the store tests).
The store-level reads and the cross-backend comparison are in test_report_streaming_store.py.
"""

from __future__ import annotations

import io
import os
import statistics
from collections import Counter
from decimal import Decimal as D
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liquidity_bot.reporting import plots
from liquidity_bot.reporting.kpi import GAP_INTERVALS, Segment, UptimeBuilder, compute_uptime
from liquidity_bot.reporting.report import (
    build_report,
    interval_from_spacings,
    render,
    render_csv,
    write,
)
from liquidity_bot.reporting.sample_session import SampleObligations
from liquidity_bot.store import KpiSample, Store, schema

PG_URL = os.environ.get("LIQUIDITY_BOT_TEST_PG_URL")
T0 = 1_795_000_000_000
OBL = SampleObligations(max_spread_pct=D("1"), min_depth_2pct_quote=D("300"))
N = 50_000
GAP = range(20_000, 20_030)  # sample indexes never written: a 30 s sampling gap
SPIKE = 31_337  # the one sample whose spread is far above every other

BACKENDS = [
    "sqlite",
    pytest.param(
        "postgresql",
        marks=pytest.mark.skipif(
            not PG_URL, reason="set LIQUIDITY_BOT_TEST_PG_URL to run against PostgreSQL"
        ),
    ),
]


def open_store(backend: str, folder: Path) -> Store:
    if backend == "sqlite":
        s = Store(f"sqlite:///{folder / 'report.db'}")
    else:
        s = Store(PG_URL)
        schema.metadata.drop_all(s.engine)
    s.create_schema()
    return s


def close_store(s: Store) -> None:
    if s.dialect == "postgresql":
        schema.metadata.drop_all(s.engine)
    s.close()


def synthetic(i: int) -> KpiSample:
    """Sample ``i`` (one per second): breaches of every kind, missing values, one spike."""
    ts = T0 + i * 1000
    if i % 997 == 5:  # no market: nothing measured
        return KpiSample("XRPUSDT", ts, D(0), D(0), False, False)
    two_sided = i % 613 >= 4
    ours = None if not two_sided else D("0.5") + D(i % 41) / 100
    if i == SPIKE:
        ours = D("9.75")
    bid = D(280 + (i * 7) % 90)
    ask = D(290 + (i * 11) % 85)
    met = (
        two_sided
        and ours is not None
        and ours <= OBL.max_spread_pct
        and min(bid, ask) >= OBL.min_depth_2pct_quote
    )
    return KpiSample(
        "XRPUSDT",
        ts,
        bid,
        ask,
        two_sided,
        met,
        mid=D("0.5") + D(i % 300) / 10_000,
        best_bid=D("0.4990"),
        best_ask=D("0.5010"),
        spread_pct=None if i % 50 == 0 else D("0.4") + D(i % 7) / 100,
        our_spread_pct=ours,
    )


@pytest.fixture(scope="module", params=BACKENDS)
def big(request, tmp_path_factory):
    """50k samples, written once per backend for the tests that only read them."""
    store = open_store(request.param, tmp_path_factory.mktemp("big"))
    rows = [synthetic(i) for i in range(N) if i not in GAP]
    # two samples at the same instant, straddling a 1000-row page of the keyset reads
    rows.insert(1000, synthetic(999))
    for k in range(0, len(rows), 10_000):
        store.add_kpi_sample(rows[k : k + 10_000])
    yield store
    close_store(store)


def mean(values):
    return sum(values, D(0)) / len(values) if values else None


def reference_uptime(samples, interval, end):
    """Met time, gap time and breach intervals, walked directly over the sample list."""
    limit = GAP_INTERVALS * interval
    met_ms = gap_ms = 0
    unmet: list[tuple[int, int]] = []
    for k, s in enumerate(samples):
        nxt = samples[k + 1].ts_ms if k + 1 < len(samples) else end
        dt = nxt - s.ts_ms
        if dt <= 0:
            continue
        held = interval if dt > limit else dt
        if s.obligations_met:
            met_ms += held
        else:
            unmet.append((s.ts_ms, s.ts_ms + held))
        if dt > limit:
            gap_ms += dt - held
            unmet.append((s.ts_ms + held, nxt))
    breaches: list[list[int]] = []
    for a, b in unmet:
        if breaches and breaches[-1][1] == a:
            breaches[-1][1] = b
        else:
            breaches.append([a, b])
    return met_ms, gap_ms, [tuple(b) for b in breaches]


def test_streamed_report_equals_a_direct_computation(big: Store):
    rep = build_report(big, obligations={"XRPUSDT": OBL})  # interval inferred by the database
    (r,) = rep.symbols
    samples = big.kpi_samples("XRPUSDT")  # the whole list, for the direct computation only
    assert r.sample_count == len(samples) == N - len(GAP) + 1
    assert r.interval_ms == int(
        statistics.median(
            d for a, b in zip(samples, samples[1:], strict=False) if (d := b.ts_ms - a.ts_ms) > 0
        )
    )
    assert r.interval_ms == 1000
    end = samples[-1].ts_ms + 1000
    assert (r.start_ms, r.end_ms) == (T0, end)

    ours = [s.our_spread_pct for s in samples if s.our_spread_pct is not None]
    measured = [s for s in samples if s.mid is not None]
    assert r.avg_spread_pct == mean(ours)
    assert r.max_spread_seen_pct == max(ours) == D("9.75")
    assert r.avg_market_spread_pct == mean([s.spread_pct for s in samples if s.spread_pct])
    assert r.avg_depth_2pct_bid == mean([s.bid_depth_quote for s in measured])
    assert r.avg_depth_2pct_ask == mean([s.ask_depth_quote for s in measured])
    assert r.min_depth_2pct_bid == min(s.bid_depth_quote for s in measured)
    assert r.min_depth_2pct_ask == min(s.ask_depth_quote for s in measured)
    assert r.two_sided_pct == D(sum(s.two_sided for s in samples)) * 100 / len(samples)
    assert all(isinstance(v, D) for v in (r.avg_spread_pct, r.avg_depth_2pct_bid))

    met_ms, gap_ms, breaches = reference_uptime(samples, 1000, end)
    assert (r.uptime.met_ms, r.uptime.gap_ms) == (met_ms, gap_ms)
    assert r.uptime.gap_ms == 30_000  # the gap's 30 missing samples; the one before it vouches
    assert r.uptime.pct == D(met_ms) * 100 / (end - T0)
    assert [(b.start_ms, b.end_ms) for b in r.breaches] == breaches
    assert len(breaches) > 500
    last_mid = next(s.mid for s in reversed(samples) if s.mid is not None)
    assert r.pnl.mid == last_mid


def test_plot_series_have_a_bounded_number_of_points_and_keep_spikes(big: Store):
    (r,) = build_report(big, obligations={"XRPUSDT": OBL}, interval_ms=1000).symbols
    assert set(r.plot.series) == set(plots.PLOTTED)
    for name, points in r.plot.series.items():
        assert 0 < len(points) <= plots.MAX_SERIES_POINTS, name
        assert [t for t, _ in points] == sorted(t for t, _ in points), name
    # the lone spike survives downsampling (min/max per bucket, never a mean)
    assert (T0 + SPIKE * 1000, D("9.75")) in r.plot.series["our_spread_pct"]
    # holes (samples without a value) stay visible
    assert any(v is None for _, v in r.plot.series["our_spread_pct"])
    assert len(r.plot.mids) <= plots.MAX_POINTS + 2
    page = render(build_report(big, obligations={"XRPUSDT": OBL}), "html")
    assert page.count("<svg") == 7
    assert len(page) < 1_000_000  # bounded by the plot points, not by the 50k samples


def test_csv_streams_every_sample_of_the_period_exactly(big: Store):
    rep = build_report(big, from_ms=T0 + 10_000_000, to_ms=T0 + 30_000_000)
    buf = io.StringIO()
    write(rep, "csv", buf)
    text = buf.getvalue()
    assert text == render_csv(rep)
    lines = text.splitlines()
    expected = big.kpi_samples("XRPUSDT", T0 + 10_000_000, T0 + 30_000_000)
    assert len(lines) == 1 + len(expected) == 1 + rep.symbols[0].sample_count
    assert lines[1].split(",")[1] == str(expected[0].ts_ms)
    assert lines[-1].split(",")[1] == str(expected[-1].ts_ms)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=-5, max_value=4000), max_size=60))
def test_interval_from_spacings_is_the_exact_median(spacings):
    positive = [d for d in spacings if d > 0]
    hist = sorted(Counter(positive).items())
    expected = int(statistics.median(positive)) if positive else 1000
    assert interval_from_spacings(hist) == expected


def batch_uptime(points, interval_ms, start_ms=None, end_ms=None):
    """The batch algorithm the report used before it streamed (reference for the builder)."""
    gap_rules = ("sampling_gap",)
    first = points[0][0]
    start = first if start_ms is None else min(start_ms, first)
    end = points[-1][0] + interval_ms if end_ms is None else end_ms
    limit = GAP_INTERVALS * interval_ms
    raw = [Segment(start, first, False, gap_rules)] if first - start > 0 else []
    for i, (ts, met, rules) in enumerate(points):
        if ts >= end:
            break
        nxt = min(points[i + 1][0] if i + 1 < len(points) else end, end)
        if nxt <= ts:
            continue
        rules = () if met else tuple(rules)
        if nxt - ts > limit:
            raw += [Segment(ts, ts + interval_ms, met, rules)]
            raw += [Segment(ts + interval_ms, nxt, False, gap_rules)]
        else:
            raw.append(Segment(ts, nxt, met, rules))
    merged: list[Segment] = []
    for seg in raw:
        m = merged[-1] if merged else None
        if m and (m.met, m.rules, m.end_ms) == (seg.met, seg.rules, seg.start_ms):
            merged[-1] = Segment(m.start_ms, seg.end_ms, seg.met, seg.rules)
        else:
            merged.append(seg)
    return start, end, tuple(merged)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 40), st.booleans(), st.sampled_from([(), ("a",), ("b",)])),
        min_size=1,
        max_size=40,
    ),
    st.integers(1, 5),
    st.one_of(st.none(), st.integers(-10, 60)),
    st.one_of(st.none(), st.integers(-10, 200)),
)
def test_uptime_builder_equals_the_batch_algorithm(steps, interval, start_ms, end_ms):
    points, t = [], 0
    for dt, met, rules in steps:
        t += dt
        points.append((t, met, rules))
    up = compute_uptime(points, interval, start_ms, end_ms)
    start, end, segments = batch_uptime(points, interval, start_ms, end_ms)
    assert (up.start_ms, up.end_ms, up.segments) == (start, end, segments)
    assert up.met_ms == sum(s.duration_ms for s in segments if s.met)
    builder = UptimeBuilder(interval, start_ms, end_ms)
    for p in points:
        builder.add(*p)
    assert builder.finish() == up


def batch_downsample(points, t0, t1, n):
    """The list-based downsampling the report used before it streamed (reference)."""
    if len(points) <= 2 * n:
        return list(points)
    width = max(1, (t1 - t0) // n + 1)
    buckets: dict[int, list] = {}
    for p in points:
        buckets.setdefault((p[0] - t0) // width, []).append(p)
    out = []
    for key in sorted(buckets):
        group = buckets[key]
        values = [p for p in group if p[1] is not None]
        if len(values) < len(group):
            out.append((group[0][0], None))
        if values:
            lo = min(values, key=lambda p: p[1])
            hi = max(values, key=lambda p: p[1])
            out.extend(sorted({lo, hi}, key=lambda p: p[0]))
    return out


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.one_of(st.none(), st.integers(-50, 50)), max_size=300),
    st.integers(1, 30),
)
def test_streaming_downsampler_equals_the_list_version(values, n):
    points = [(1000 + 7 * k, None if v is None else D(v) / 4) for k, v in enumerate(values)]
    t1 = points[-1][0] + 7 if points else 1000
    assert plots.downsample(points, 1000, t1, n) == batch_downsample(points, 1000, t1, n)
    assert len(plots.downsample(points, 1000, t1, n)) <= 3 * n or len(points) <= 2 * n


def test_uptime_strip_joins_segments_finer_than_a_pixel_and_keeps_breaches():
    # one day in 10 s segments (8640, more than the strip's 1024 pixels), alternately met and
    # a sampling gap, with one breach of 1 ms in the middle
    segs = [
        Segment(k * 10_000, (k + 1) * 10_000, k % 2 == 0, () if k % 2 == 0 else ("sampling_gap",))
        for k in range(8640)
    ]
    segs[4001] = Segment(40_010_000, 40_010_001, False, ("max_spread",))
    svg = plots.uptime_strip(segs, 0, 86_400_000)
    drawn = svg.count("<title>")
    assert drawn <= 1024
    assert svg.count("<title>max_spread</title>") == 1  # the breach is still drawn, in red
    assert f'fill="{plots.RED}"><title>max_spread</title>' in svg
    few = plots.uptime_strip(segs[:10], 0, 100_000)
    assert few.count("<title>") == 10  # fewer segments than pixels: drawn as they are


@settings(max_examples=500, deadline=None)
@given(
    st.one_of(
        st.decimals(allow_nan=False, allow_infinity=False),
        st.decimals(allow_nan=False, allow_infinity=False, places=4),
        st.integers(-(10**20), 10**20).map(D),
    ),
    st.sampled_from(["f", "", "e"]),
)
def test_stored_text_reads_back_exactly_as_canonical_decimal(value, fmt):
    """The fast path for SQLite text returns the very Decimal the general path returns."""
    from liquidity_bot.store.schema import ExactDecimal, canonical_decimal

    text = format(value, fmt) if fmt else str(value)
    got = ExactDecimal().process_result_value(text, None)  # type: ignore[arg-type]
    want = canonical_decimal(D(text))
    assert got == want and got.as_tuple() == want.as_tuple(), text
