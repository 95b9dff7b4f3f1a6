"""`shape_even` (the ladder's common case shaped in one function) gives exactly what shaping the
plan in full (`shape_plan`, the definition) gives, down to every quote's fields and each
Decimal's exponent (repr), whenever it answers; when it cannot it answers None and the full
shaping runs. Random instruments (grids, filters, minimums), books, inventories (balances that
run short), last prices, ladders (levels, spreads, skew, ceilings) and obligations."""

from __future__ import annotations

from decimal import Decimal as D

from hypothesis import given, settings
from hypothesis import strategies as st
from test_strategy_speed_equivalence import instruments

from liquidity_bot.config import LadderParams, ObligationsConfig
from liquidity_bot.domain.instrument import Instrument
from liquidity_bot.strategies.base import Inventory, MarketEstimates, MarketSnapshot, TopOfBook
from liquidity_bot.strategies.ladder import LadderStrategy, level_plan
from liquidity_bot.strategies.shaping import centre, shape_even, shape_plan

OBLIGATIONS = st.sampled_from([
    None,
    ObligationsConfig(max_spread_pct=D("1"), min_depth_2pct_quote=D("20")),
    ObligationsConfig(max_spread_pct=D("1"), min_depth_2pct_quote=D("20")),
    ObligationsConfig(max_spread_pct=D("1"), min_depth_2pct_quote=D("20")),
    ObligationsConfig(max_spread_pct=D("1"), min_depth_2pct_quote=D("300")),
    ObligationsConfig(max_spread_pct=D("0.2"), min_depth_2pct_quote=D("5000")),
    ObligationsConfig(max_spread_pct=D("3"), min_depth_2pct_quote=D("0")),
])
LADDERS = st.builds(
    lambda levels, size, spread, spacing, skew, target, floor, ceiling: LadderParams(
        level_size_quote=D(size), levels=levels, base_spread_pct=D(spread),
        level_spacing_pct=D(spacing), skew_strength=D(skew), target_base_qty=target,
        vol_spread_mult=D("1"), price_ceiling=ceiling, price_floor=floor),
    st.integers(min_value=1, max_value=5),
    st.sampled_from(["20", "300", "0.5"]),
    st.sampled_from(["0", "0.05", "0.1", "0.1", "0.6", "2"]),
    st.sampled_from(["0", "0.05", "0.013"]),
    st.sampled_from(["0", "1", "3"]),
    st.sampled_from([None, D("1000"), D("12000"), D("50000")]),
    st.sampled_from([None] * 7 + [D("0.5")]),
    st.sampled_from([None] * 7 + [D("0.5")]),
)


@st.composite
def snapshots(draw: st.DrawFn, inst: Instrument) -> MarketSnapshot:
    tick = inst.tick
    mid_ticks = draw(st.sampled_from([5000, 5000, 123457, 123457, 4, 1, 20]))
    bid = mid_ticks - draw(st.integers(min_value=1, max_value=40))
    ask = mid_ticks + draw(st.integers(min_value=-1, max_value=40))
    one_sided = draw(st.sampled_from([None] * 10 + ["bid", "ask"]))
    top = TopOfBook(bid=None if one_sided == "bid" or bid <= 0 else bid * tick, bid_qty=D("5"),
                    ask=None if one_sided == "ask" else ask * tick, ask_qty=D("5"))
    inventory = Inventory(
        base=draw(st.sampled_from([D(0), D("12000"), D("3.3"), D("2000000"), D("2000000")])),
        quote=draw(st.sampled_from([D(0), D("6000"), D("1.5"), D("1000000"), D("1000000")])))
    last = draw(st.sampled_from([None, mid_ticks * tick, D("0.3") * mid_ticks * tick, D(0)]))
    sigma = draw(st.sampled_from([0.0, 0.02, 0.3]))
    return MarketSnapshot(book=top, inventory=inventory, now_ms=draw(st.integers(0, 10**6)),
                          estimates=MarketEstimates(sigma_pct=sigma, a=1.0, kappa=1.5),
                          last_price=last, reference_price=D(mid_ticks) * tick)


@st.composite
def plain_instruments(draw: st.DrawFn) -> Instrument:
    """Instruments like the ones traded (what ``instruments`` varies wildly)."""
    tick = draw(st.sampled_from([D("0.0001"), D("0.01"), D("0.00000001"), D("0.5")]))
    step = draw(st.sampled_from([D("0.1"), D("1"), D("0.001")]))
    return Instrument(symbol="XRPUSDT", base="XRP", quote="USDT", tick=tick, step=step,
                      price_scale=None, volume_scale=None, min_price=tick, max_price=None,
                      min_qty=step, max_qty=draw(st.sampled_from([None, step * 1000])),
                      min_val=draw(st.sampled_from([D(0), D(1), D("5.5")])))


def same(a: object, b: object) -> bool:
    return a == b and repr(a) == repr(b)


TAKEN = {"even": 0, "full": 0}


@settings(max_examples=1500, deadline=None)
@given(data=st.data(), inst=st.one_of(instruments(), plain_instruments()), params=LADDERS, obligations=OBLIGATIONS,
       band=st.sampled_from([D(2), D("0.5")]))
def test_shaped_in_one_function_equals_shaped_in_full(data, inst, params, obligations, band):
    check(data.draw(snapshots(inst)), inst, params, obligations, band)


@settings(max_examples=500, deadline=None)
@given(mid=st.integers(min_value=2000, max_value=200000), spread=st.integers(1, 60),
       base=st.integers(0, 4 * 10**6), quote=st.integers(0, 2 * 10**6),
       last=st.sampled_from([None, 1, 0.9, 1.3]), levels=st.integers(1, 4),
       skew=st.sampled_from(["0", "1", "2"]), inst=plain_instruments())
def test_near_the_production_shape_too(mid, spread, base, quote, last, levels, skew, inst):
    """Books, inventories and last prices around ``bench_engine``'s configuration."""
    tick = inst.tick
    bid, ask = (mid - spread // 2) * tick, (mid + spread - spread // 2) * tick
    snapshot = MarketSnapshot(
        book=TopOfBook(bid=bid, bid_qty=D(5), ask=ask, ask_qty=D(5)),
        inventory=Inventory(base=D(base) / 10, quote=D(quote) / 100), now_ms=7,
        last_price=None if last is None else (bid + ask) / 2 * D(str(last)))
    params = LadderParams(level_size_quote=D("20"), levels=levels, base_spread_pct=D("0.1"),
                          level_spacing_pct=D("0.05"), min_spread_pct=D("0.02"),
                          skew_strength=D(skew))
    check(snapshot, inst, params,
          ObligationsConfig(max_spread_pct=D("1"), min_depth_2pct_quote=D("20")), D(2))


def check(snapshot, inst, params, obligations, band):  # noqa: ANN001, ANN201
    ladder = LadderStrategy(inst, params, obligations, band_pct=band)
    top = snapshot.book
    mid, _ = centre(top, snapshot.reference_price)
    if mid is None:
        return
    vol_floor, half = ladder._half_spread(snapshot.estimates)
    levels = ladder._plan(snapshot, mid, vol_floor, half)
    try:
        full = repr(shape_plan(level_plan(*levels), snapshot, inst, top, mid,
                               obligations=obligations, band_pct=band,
                               bid_ceiling=params.price_ceiling, ask_floor=params.price_floor))
    except Exception as exc:  # noqa: BLE001 (beyond the context's digits: both must fail)
        full = f"{type(exc).__name__}: {exc}"
    try:
        even = shape_even(*levels[:4], snapshot, inst, top, mid, obligations, band, levels[4],
                          params.price_ceiling, params.price_floor)
    except Exception as exc:  # noqa: BLE001
        even = f"{type(exc).__name__}: {exc}"
        assert even == full
        return
    if even is None:
        TAKEN["full"] += 1
        return
    TAKEN["even"] += 1
    assert repr(even) == full
    # and the strategy's own answer is the same either way
    assert same(ladder.quote(snapshot), even)


def test_the_common_case_is_shaped_in_one_function():
    """The production shape (bench_engine's ladder and obligations, a two-sided book, ample
    balances) takes the one-function path, and both paths were exercised above."""
    inst = Instrument(symbol="XRPUSDT", base="XRP", quote="USDT", tick=D("0.0001"),
                      step=D("0.1"), price_scale=None, volume_scale=None, min_price=D("0.0001"),
                      max_price=None, min_qty=D("0.1"), max_qty=None, min_val=D("1"))
    params = LadderParams(level_size_quote=D("20"), levels=3, base_spread_pct=D("0.1"),
                          level_spacing_pct=D("0.05"), min_spread_pct=D("0.02"))
    obligations = ObligationsConfig(max_spread_pct=D("1"), min_depth_2pct_quote=D("20"))
    top = TopOfBook(bid=D("0.4990"), bid_qty=D("5"), ask=D("0.5010"), ask_qty=D("5"))
    snapshot = MarketSnapshot(book=top, inventory=Inventory(base=D("2000000"),
                                                            quote=D("1000000")),
                              now_ms=1, last_price=D("0.5"))
    ladder = LadderStrategy(inst, params, obligations)
    mid = top.mid
    vol_floor, half = ladder._half_spread(None)
    levels = ladder._plan(snapshot, mid, vol_floor, half)
    even = shape_even(*levels[:4], snapshot, inst, top, mid, obligations, D(2), levels[4])
    assert even is not None and len(even.bids) == len(even.asks) == 3
    assert same(even, shape_plan(level_plan(*levels), snapshot, inst, top, mid,
                                 obligations=obligations, band_pct=D(2)))
    assert TAKEN["even"] > 20 and TAKEN["full"] > 20, TAKEN
