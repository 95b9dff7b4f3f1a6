"""The hot-path shortcuts of quoting give exactly what the plain definitions give.

`quote` runs on every book, so rounding, the exchange checks and the exchange
minimum have cheaper forms. Each is compared here with the straightforward one,
on values that hit the edges (off-grid, negative, ties, violations of every rule), down to the
Decimal exponent (repr).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from decimal import Decimal as D
from decimal import InvalidOperation

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liquidity_bot.config import ObligationsConfig
from liquidity_bot.domain.instrument import Instrument, ceil_to, floor_to
from liquidity_bot.domain.order import Side
from liquidity_bot.domain.tick_filters import tick_filters
from liquidity_bot.strategies.base import Inventory, TopOfBook
from liquidity_bot.strategies.shaping import ShapingContext, _exchange_minimum, _Side

GRIDS = ["0.00000001", "0.0001", "0.001", "0.05", "0.1", "0.25", "1", "10", "0.00025", "0.10"]

grids = st.sampled_from(GRIDS).map(D)
# numbers with up to 28 significant digits, over several magnitudes, both signs, zero included
numbers = st.builds(
    lambda digits, exponent, negative: D(f"{'-' if negative else ''}{digits}E{exponent}"),
    st.integers(min_value=0, max_value=10**28 - 1),
    st.integers(min_value=-32, max_value=-18),
    st.booleans(),
)
prices = st.one_of(
    numbers,
    st.decimals(min_value=D("-1"), max_value=D("100000"), places=6, allow_nan=False),
)
sides = st.sampled_from([Side.BUY, Side.SELL, "BUY", "sell", " Buy ", "SELL"])
# the last trade price, relative to the order's price: inside and outside the percent band
last_factors = st.sampled_from([None, None, D(0), D("0.3"), D("0.6"), D("0.9"), D(1), D(2)])


@st.composite
def instruments(draw: st.DrawFn) -> Instrument:
    tick, step = draw(grids), draw(grids)
    band = draw(st.booleans())
    return Instrument(
        symbol="XRPUSDT",
        base="XRP",
        quote="USDT",
        tick=tick,
        step=step,
        price_scale=None,
        volume_scale=None,
        min_price=draw(st.sampled_from([D(0), tick, tick * 100])),
        max_price=draw(st.sampled_from([None, None, D("0.6"), D("1000")])),
        min_qty=draw(st.sampled_from([D(0), step, step * 3, D("0.3")])),
        max_qty=draw(st.sampled_from([None, None, step * 50, D("999999999999999")])),
        min_val=draw(st.sampled_from([D(0), D(1), D("5.5"), D("0.001")])),
        bid_multiplier_up=D("1.3") if band else None,
        bid_multiplier_down=D("0.99") if band else None,
        ask_multiplier_up=D("1.01") if band else None,
        ask_multiplier_down=D("0.7") if band else None,
        status=draw(st.sampled_from(["TRADING"] * 5 + ["HALT"])),
    )


def outcome(compute: Callable[[], object]) -> str:
    """repr of the result, or the exception (beyond 28 digits both forms must fail alike)."""
    try:
        return repr(compute())
    except InvalidOperation as exc:
        return f"{type(exc).__name__}: {exc}"


@settings(max_examples=400, deadline=None)
@given(value=prices, tick=grids, side=sides)
def test_round_price_is_floor_for_bids_and_ceil_for_asks(value, tick, side):
    inst = Instrument(
        symbol="X", base="X", quote="Y", tick=tick, step=D(1), price_scale=None,
        volume_scale=None, min_price=D(0), max_price=None, min_qty=D(0), max_qty=None,
        min_val=D(0),
    )  # fmt: skip
    rounding = floor_to if Side.parse(side) is Side.BUY else ceil_to
    assert outcome(lambda: inst.round_price(value, side)) == outcome(lambda: rounding(value, tick))


@settings(max_examples=400, deadline=None)
@given(value=prices, step=grids)
def test_round_qty_is_floor(value, step):
    inst = Instrument(
        symbol="X", base="X", quote="Y", tick=D(1), step=step, price_scale=None,
        volume_scale=None, min_price=D(0), max_price=None, min_qty=D(0), max_qty=None,
        min_val=D(0),
    )  # fmt: skip
    assert outcome(lambda: inst.round_qty(value)) == outcome(lambda: floor_to(value, step))


def test_round_price_still_parses_and_refuses_unknown_sides():
    inst = Instrument(
        symbol="X", base="X", quote="Y", tick=D("0.01"), step=D(1), price_scale=None,
        volume_scale=None, min_price=D(0), max_price=None, min_qty=D(0), max_qty=None,
        min_val=D(0),
    )  # fmt: skip
    assert inst.round_price(D("1.234"), "buy") == D("1.23")
    assert inst.round_price(D("1.234"), " Sell ") == D("1.24")
    with pytest.raises(ValueError, match="unknown order side"):
        inst.round_price(D("1.234"), "up")
    with pytest.raises(ValueError, match="unknown order side"):  # an exchange's numeric side
        inst.round_price(D("1.234"), 2)
    with pytest.raises(ValueError, match="unknown order side"):
        inst.check("up", D("1.23"), D(1))


@settings(max_examples=600, deadline=None)
@given(
    inst=instruments(),
    side=sides,
    ticks=st.one_of(st.integers(min_value=-2, max_value=10**6), prices),
    steps=st.one_of(st.integers(min_value=-2, max_value=10**5), prices),
    last_factor=last_factors,
)
def test_check_fast_path_agrees_with_the_full_check(inst, side, ticks, steps, last_factor):
    """`check` answers the common no-violation case early; with a symbol given it always runs
    every rule (the symbol matches, so it adds none): both must agree, messages included."""
    # mostly on the grid (a whole number of ticks and steps), else every order is off it
    price = inst.tick * ticks if isinstance(ticks, int) else ticks
    qty = inst.step * steps if isinstance(steps, int) else steps
    last = None if last_factor is None else price * last_factor
    fast = outcome(lambda: inst.check(side, price, qty, last))
    full = outcome(lambda: inst.check(side, price, qty, last, symbol="XRPUSDT"))
    assert fast == full


def test_check_fast_path_agrees_with_the_full_check_on_every_edge():
    """Every rule on its own: each threshold crossed while the others hold, and both sides."""
    filters = itertools.product(
        ["TRADING", "HALT"],  # status
        [D(0), D("0.01")],  # min_price
        [None, D(1)],  # max_price
        [D(0), D("0.3")],  # min_qty
        [None, D(5)],  # max_qty
        [D(0), D(1)],  # min_val
        [False, True],  # percent-price band
    )
    order_prices = [D("-0.01"), D(0), D("0.005"), D("0.01"), D("0.5"), D("0.505"), D(1), D("1.01")]
    order_qtys = [D(-1), D(0), D("0.1"), D("0.3"), D("0.35"), D(2), D(5), D("5.1"), D(10)]
    for status, min_price, max_price, min_qty, max_qty, min_val, band in filters:
        inst = Instrument(
            symbol="XRPUSDT", base="XRP", quote="USDT", tick=D("0.01"), step=D("0.1"),
            price_scale=None, volume_scale=None, min_price=min_price, max_price=max_price,
            min_qty=min_qty, max_qty=max_qty, min_val=min_val,
            bid_multiplier_up=D("1.3") if band else None,
            bid_multiplier_down=D("0.9") if band else None,
            ask_multiplier_up=D("1.1") if band else None,
            ask_multiplier_down=D("0.7") if band else None,
            status=status,
        )  # fmt: skip
        cases = itertools.product(
            [Side.BUY, Side.SELL], order_prices, order_qtys, [None, D("0.25"), D("0.5"), D(2)]
        )
        for side, price, qty, last in cases:
            full = inst.check(side, price, qty, last, symbol="XRPUSDT")
            assert inst.check(side, price, qty, last) == full, (inst, side, price, qty, last)
            if inst.is_on_tick(price) and inst.is_on_step(qty):  # the integer filters too
                ticks, lots = int(price / inst.tick), int(qty / inst.step)
                assert tick_filters(inst, side, last).passes(ticks, lots) == (full == [])


@settings(max_examples=400, deadline=None)
@given(
    inst=instruments(),
    price=prices,
    last_factor=last_factors,
    is_bid=st.booleans(),
)
def test_side_minimum_is_the_exchange_minimum(inst, price, last_factor, is_bid):
    last = None if last_factor is None else price * last_factor
    ctx = ShapingContext(
        instrument=inst,
        top=TopOfBook(None, None, None, None),
        mid=D("0.5"),
        inventory=Inventory(base=D(0), quote=D(0)),
        obligations=ObligationsConfig(max_spread_pct=D(1), min_depth_2pct_quote=D(20)),
        last_price=last,
    )
    side = _Side(Side.BUY if is_bid else Side.SELL, ctx, D("0.01"))
    expected = outcome(lambda: _exchange_minimum(inst, price, last))
    assert outcome(lambda: side.minimum(price)) == expected
