"""Integer ticks and lots (domain.ticks): exact round trips, rounding at the filters, no float."""

from __future__ import annotations

import math
from decimal import Decimal, localcontext
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from liquidity_bot.domain.instrument import Instrument, ceil_to, floor_to
from liquidity_bot.domain.order import Side
from liquidity_bot.domain.ticks import CEIL, FLOOR, TickError, TickScale

# grids as exchanges send them: 1, 5, 25 or 2 units of some power of ten, ten up to 1e-10
grids = st.builds(lambda unit, exp: Decimal(unit).scaleb(exp),
                  st.sampled_from([1, 2, 5, 25]), st.integers(-10, 1))
amounts = st.decimals(min_value=Decimal("-1e9"), max_value=Decimal("1e9"), places=12,
                      allow_nan=False, allow_infinity=False)
ints = st.integers(-10**15, 10**15)


def _inst(tick: Decimal, step: Decimal) -> Instrument:
    return Instrument(symbol="XUSDT", base="X", quote="USDT", tick=tick, step=step,
                      price_scale=None, volume_scale=None, min_price=Decimal(0), max_price=None,
                      min_qty=Decimal(0), max_qty=None, min_val=Decimal(0))


@given(grids, grids, ints)
def test_ticks_and_lots_round_trip(tick: Decimal, step: Decimal, n: int) -> None:
    scale = TickScale(tick, step)
    assert scale.ticks(scale.price(n)) == n
    assert scale.lots(scale.qty(n)) == n
    assert scale.price(n) == n * tick and scale.qty(n) == n * step


@given(grids, grids, ints)
def test_wire_text_equals_the_decimal_formatting(tick: Decimal, step: Decimal, n: int) -> None:
    """Integer formatting gives the same text as ``format(Decimal, "f")`` (the encoder's)."""
    scale = TickScale(tick, step)
    assert scale.price_text(n) == format(n * tick, "f")
    assert scale.qty_text(n) == format(n * step, "f")
    assert Decimal(scale.price_text(n)) == scale.price(n)


@given(grids, grids, amounts)
def test_rounding_matches_the_instrument(tick: Decimal, step: Decimal, value: Decimal) -> None:
    """Bids round down, asks up, quantities down: as ``Instrument`` and floor_to / ceil_to."""
    scale, inst = TickScale(tick, step), _inst(tick, step)
    assert scale.price(scale.ticks(value, FLOOR)) == inst.round_price(value, Side.BUY)
    assert scale.price(scale.ticks(value, CEIL)) == inst.round_price(value, Side.SELL)
    assert scale.qty(scale.lots(value, FLOOR)) == inst.round_qty(value) == floor_to(value, step)
    assert scale.qty(scale.lots(value, CEIL)) == ceil_to(value, step)


@given(grids, grids, amounts)
def test_off_grid_is_refused_without_a_rounding(tick: Decimal, step: Decimal,
                                                value: Decimal) -> None:
    scale = TickScale(tick, step)
    if value % tick:
        with pytest.raises(TickError, match="not a multiple"):
            scale.ticks(value)
    else:
        assert scale.ticks(value) * tick == value
    if value % step:
        with pytest.raises(TickError, match="round it first"):
            scale.lots(value)
    else:
        assert scale.lots(value) * step == value


@given(grids, grids, ints, ints, amounts)
def test_notional_units_compare_exactly(tick: Decimal, step: Decimal, t: int, lots: int,
                                        amount: Decimal) -> None:
    """``ticks * lots`` against a Decimal threshold in notional units: the same answer as
    ``price * qty`` against the threshold, in both directions."""
    scale = TickScale(tick, step)
    with localcontext() as ctx:
        ctx.prec = 100  # the Decimal side exact too (the default 28 digits would round)
        exact = scale.price(t) * scale.qty(lots)
        assert scale.notional(t * lots) == exact
    units = t * lots
    assert (units >= scale.notional_units(amount, CEIL)) == (exact >= amount)
    assert (units <= scale.notional_units(amount, FLOOR)) == (exact <= amount)


@pytest.mark.parametrize("bad", [0.1, 1.0, float("nan")])
def test_a_float_is_refused_everywhere(bad: float) -> None:
    scale = TickScale(Decimal("0.01"), Decimal("0.1"))
    assert scale.ticks(Decimal(1)) == 100 and scale.lots(Decimal(1)) == 10  # remembered: 1.0
    # equals Decimal(1) as a dict key, and must still be refused
    for call in (scale.ticks, scale.lots, lambda v: scale.notional_units(v, FLOOR),
                 lambda v: scale.ticks(v, CEIL)):
        with pytest.raises(TypeError, match="float"):
            call(bad)
    for call in (scale.price, scale.qty):
        with pytest.raises(TypeError, match="int"):
            call(bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="float"):
        TickScale(bad, Decimal(1))  # type: ignore[arg-type]


def test_bad_grids_and_values_say_what_is_wrong() -> None:
    with pytest.raises(TickError, match="positive"):
        TickScale(Decimal(0), Decimal(1))
    with pytest.raises(TickError, match="finite"):
        TickScale(Decimal("0.01"), Decimal(1)).ticks(Decimal("NaN"))
    with pytest.raises(TypeError, match="str"):
        TickScale(Decimal("0.01"), Decimal(1)).ticks("1.00")  # type: ignore[arg-type]


def test_examples() -> None:
    scale = TickScale(Decimal("0.05"), Decimal("0.001"))
    assert scale.ticks(Decimal("12.35")) == 247
    assert scale.ticks(Decimal("12.36"), FLOOR) == 247
    assert scale.ticks(Decimal("12.36"), CEIL) == 248
    assert scale.price_text(247) == "12.35"
    assert scale.qty_text(1500) == "1.500"
    assert scale.notional_units(Decimal("10"), CEIL) == 200_000  # 10 / (0.05 x 0.001)


# 28 significant digits over many magnitudes: quotients too long for Decimal's divmod included
long_numbers = st.builds(
    lambda digits, exponent, negative: Decimal(f"{'-' if negative else ''}{digits}E{exponent}"),
    st.integers(min_value=0, max_value=10**28 - 1), st.integers(-40, 10), st.booleans())


@given(grids, grids, long_numbers)
def test_conversions_are_exact_at_any_length(tick: Decimal, step: Decimal,
                                             value: Decimal) -> None:
    """Floor and ceil by exact fractions, whichever path (Decimal divmod or int ratios) runs."""
    scale = TickScale(tick, step)
    exact = Fraction(value) / Fraction(tick)
    assert scale.ticks(value, FLOOR) == math.floor(exact)
    assert scale.ticks(value, CEIL) == math.ceil(exact)
    per_lot = Fraction(value) / Fraction(step)
    assert scale.lots(value, FLOOR) == math.floor(per_lot)
    units = Fraction(value) / (Fraction(tick) * Fraction(step))
    assert scale.notional_units(value, CEIL) == math.ceil(units)
    if exact.denominator == 1:
        assert scale.ticks(value) == exact
    else:
        with pytest.raises(TickError):
            scale.ticks(value)


def test_not_finite_values_are_refused() -> None:
    scale = TickScale(Decimal("0.01"), Decimal(1))
    for bad in (Decimal("Infinity"), Decimal("-Infinity"), Decimal("NaN"), Decimal("sNaN")):
        with pytest.raises(TickError, match="finite"):
            scale.ticks(bad, FLOOR)
