"""The planner's integer edges and limits answer exactly as the Decimal definitions they replace.

Inside ``plan`` prices are ticks, quantities lots and notionals notional units; every Decimal
threshold (band edge, exposure edge, backup reach, spread limit, minimum depth, order cap,
exchange minimum) becomes an int once, rounded so that the int comparison gives the Decimal
comparison's answer. Each is checked here against the Decimal expression the planner used
before, over many grids, mids and rules.
"""

from __future__ import annotations

from decimal import Decimal as D

from hypothesis import given, settings
from hypothesis import strategies as st

from liquidity_bot.domain.instrument import Instrument
from liquidity_bot.domain.ticks import TickScale
from liquidity_bot.engine.planner import PlanRules, Tolerance, _Limits, _Mid
from liquidity_bot.strategies.shaping import ceil_qty, exchange_minimum

HUNDRED = D(100)
grids = st.sampled_from(["0.00000001", "0.0001", "0.01", "0.05", "0.25", "1", "10"]).map(D)
shares = st.sampled_from(["0.5", "0.7", "0.75", "0.85", "0.95", "1", "1.2", "2.5", "0.333"]).map(D)


@st.composite
def cases(draw: st.DrawFn) -> tuple[TickScale, D, int]:
    tick = draw(grids)
    scale = TickScale(tick, D("0.001"))
    # mids as the book gives them: a tick or half a tick, or any reference price
    centre = draw(st.integers(1, 10**9))
    mid = draw(st.sampled_from([centre * tick, (2 * centre + 1) * tick / 2,
                                centre * tick + D("0.0000000003")]))
    return scale, mid, draw(st.integers(1, 10**9))


def _ticks_where(scale: TickScale, around: int, holds) -> list[int]:  # noqa: ANN001
    """The answers of a Decimal comparison for prices a few ticks around ``around``."""
    return [holds(scale.price(t)) for t in range(around - 3, around + 4)]


@settings(max_examples=300, deadline=None)
@given(cases(), shares, shares, st.booleans())
def test_band_edges(case, pct, margin, is_bid):
    scale, mid, _ = case
    band = mid * pct / HUNDRED * margin
    edge = _Mid(mid, scale).band_edge((pct / HUNDRED * margin).as_integer_ratio(), is_bid)
    if is_bid:
        assert _ticks_where(scale, edge, lambda p: p >= mid - band) == [False] * 3 + [True] * 4
    else:
        assert _ticks_where(scale, edge, lambda p: p <= mid + band) == [True] * 4 + [False] * 3


@settings(max_examples=300, deadline=None)
@given(cases(), shares, shares, st.booleans())
def test_reach_edges(case, spread, reach_share, is_bid):
    scale, mid, other = case
    other_price = scale.price(other)
    reach = mid * spread / HUNDRED * reach_share - abs(other_price - mid)
    edge = _Mid(mid, scale).reach_edge((spread / HUNDRED * reach_share).as_integer_ratio(),
                                       other, is_bid)
    if is_bid:
        assert _ticks_where(scale, edge, lambda p: p >= mid - reach) == [False] * 3 + [True] * 4
    else:
        assert _ticks_where(scale, edge, lambda p: p <= mid + reach) == [True] * 4 + [False] * 3


@settings(max_examples=300, deadline=None)
@given(cases(), shares, st.booleans())
def test_exposure_edges(case, exposure, is_bid):
    scale, mid, inner = case
    reach = abs(mid - scale.price(inner)) * exposure
    edge = _Mid(mid, scale).exposure_edge(exposure.as_integer_ratio(), inner, is_bid)
    if is_bid:  # exposed: above the edge
        assert _ticks_where(scale, edge, lambda p: p > mid - reach) == [False] * 4 + [True] * 3
    else:  # exposed: below the edge
        assert _ticks_where(scale, edge, lambda p: p < mid + reach) == [True] * 3 + [False] * 4


@settings(max_examples=300, deadline=None)
@given(cases(), shares, st.integers(0, 10**6))
def test_spread_limits(case, share, gap):
    scale, mid, _ = case
    limit = _Mid(mid, scale).whole_ticks((share / HUNDRED).as_integer_ratio())
    assert (gap > limit) == (scale.price(gap) > mid * share / HUNDRED)


@settings(max_examples=300, deadline=None)
@given(grids, grids, st.integers(1, 10**8), st.integers(0, 10**8),
       st.sampled_from([None, D("500"), D("0.3"), D("12345.678")]),
       st.sampled_from([D(0), D("300"), D("0.07")]),
       st.sampled_from([D(0), D(1), D("5.5")]), st.sampled_from([D(0), D("0.3"), D(2)]))
def test_limits_in_lots_and_units(tick, step, ticks, lots, cap, need, min_val, min_qty):
    inst = Instrument(symbol="XUSDT", base="X", quote="USDT", tick=tick, step=step,
                      price_scale=None, volume_scale=None, min_price=D(0), max_price=None,
                      min_qty=min_qty, max_qty=None, min_val=min_val)
    rules = PlanRules(max_spread_pct=D(1), min_depth_quote=need, max_order_notional=cap)
    lim = _Limits(rules, inst)
    price, qty = ticks * tick, lots * step
    # the order cap (planner's _cap before: round_qty(max / price) beyond it)
    capped = qty if cap is None or price * qty <= cap else inst.round_qty(cap / price)
    assert lim.cap(lots, ticks) * step == capped
    assert lim.minimum(ticks) * step == exchange_minimum(inst, price)
    units = ticks * lots
    assert (units >= lim.need) == (price * qty >= need)
    assert (units >= lim.dust) == (price * qty >= need / 4)
    assert -(-lim.inner // ticks) * step == ceil_qty(inst, need * rules.inner_cover / price)


@given(st.integers(0, 10**6), st.integers(1, 10**7), st.sampled_from([None, 0, 1, 3]),
       st.sampled_from([None, D("0.25"), D("0.1"), D(1)]), grids)
def test_tolerance_in_ticks(gap, wanted, ticks, pct, tick):
    tol = Tolerance(price_ticks=ticks, price_pct=pct)
    price = wanted * tick
    assert tol.price_ok_ticks(gap, wanted) == tol.price_ok(price + gap * tick, price, tick)
