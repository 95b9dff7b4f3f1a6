"""Shaping a side (`_prices`, `_shape_side`) gives exactly what it gave before its integer
conversions were written out (`reference_shaping`, the code before, verbatim): same ticks, same
quotes down to each Decimal's exponent, same warnings, or the same error."""

from __future__ import annotations

from decimal import Decimal as D

from hypothesis import given, settings
from hypothesis import strategies as st
from reference_shaping import reference_prices, reference_shape_side
from test_strategy_speed_equivalence import instruments, outcome

from liquidity_bot.config import ObligationsConfig
from liquidity_bot.domain.order import Side
from liquidity_bot.strategies.base import Inventory, TopOfBook
from liquidity_bot.strategies.shaping import (
    LevelPlan,
    ShapingContext,
    _prices,
    _shape_side,
    _Side,
)

factors = st.sampled_from(["0.9", "0.97", "0.995", "0.999", "0.9999", "1", "1.0001", "1.001",
                           "1.005", "1.03", "1.1"]).map(D)
sizes = st.sampled_from([D(0), D("0.5"), D(50), D("300"), D("300"), D("5000")])


@st.composite
def cases(draw: st.DrawFn) -> tuple[_Side, list[LevelPlan], D | None]:
    inst = draw(instruments())
    mid = draw(st.sampled_from([D("0.5"), D("0.51235"), D("3.3"), D("27000.5"), D("0.00031")]))
    side = draw(st.sampled_from([Side.BUY, Side.SELL]))
    sign = -1 if side is Side.BUY else 1
    levels = draw(st.integers(min_value=1, max_value=4))
    plans = []
    for i in range(levels):
        away = draw(factors)
        price = mid * (1 + sign * (away - 1)) if draw(st.booleans()) else mid * away
        plans.append(LevelPlan(side, i, price, draw(sizes)))
    obligations = draw(st.sampled_from([
        None,
        ObligationsConfig(max_spread_pct=D("1"), min_depth_2pct_quote=D("300")),
        ObligationsConfig(max_spread_pct=D("0.1"), min_depth_2pct_quote=D("0")),
        ObligationsConfig(max_spread_pct=D("4"), min_depth_2pct_quote=D("20000")),
    ]))
    top = TopOfBook(
        bid=draw(st.sampled_from([None, mid * draw(factors)])), bid_qty=D(1),
        ask=draw(st.sampled_from([None, mid * draw(factors)])), ask_qty=D(1))
    ctx = ShapingContext(
        instrument=inst, top=top, mid=mid,
        inventory=Inventory(base=draw(st.sampled_from([D(0), D("3.7"), D("1000"), D("1E+6")])),
                            quote=draw(st.sampled_from([D(0), D("2.5"), D("700"), D("1E+6")]))),
        obligations=obligations,
        last_price=draw(st.sampled_from([None, mid, mid * D("0.7"), mid * D("1.3")])),
        bid_ceiling=draw(st.sampled_from([None, None, mid * D("0.99")])),
        ask_floor=draw(st.sampled_from([None, None, mid * D("1.01")])),
    )
    band = mid * ctx.band_pct / 100
    half_spread = None if obligations is None else mid * obligations.max_spread_pct / 200
    return _Side(side, ctx, band), plans, half_spread


@settings(max_examples=800, deadline=None)
@given(case=cases())
def test_a_side_is_shaped_as_before(case):
    s, plans, half_spread = case
    new_notes: list[str] = []
    old_notes: list[str] = []
    new = outcome(lambda: _prices(s, plans, half_spread, new_notes))
    old = outcome(lambda: reference_prices(s, plans, half_spread, old_notes))
    assert new == old and new_notes == old_notes
    if new.startswith("["):
        ticks = reference_prices(s, plans, half_spread, [])
        new = outcome(lambda: _shape_side(s, plans, list(ticks), new_notes))
        old = outcome(lambda: reference_shape_side(s, plans, list(ticks), old_notes))
        assert new == old and new_notes == old_notes
