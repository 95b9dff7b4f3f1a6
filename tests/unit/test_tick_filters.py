"""The exchange filters on ticks and lots (domain.tick_filters) answer as ``Instrument.check``."""

from __future__ import annotations

from decimal import Decimal as D

from hypothesis import given, settings
from hypothesis import strategies as st

from liquidity_bot.config import ObligationsConfig
from liquidity_bot.domain.instrument import Instrument
from liquidity_bot.domain.order import Side
from liquidity_bot.domain.tick_filters import TickFilters, tick_scale
from liquidity_bot.strategies.base import Inventory, TopOfBook
from liquidity_bot.strategies.shaping import ShapingContext, _exchange_minimum, _Side

grids = st.sampled_from(["0.00000001", "0.0001", "0.05", "0.1", "0.25", "1", "10", "0.00025",
                         "0.10"]).map(D)


@st.composite
def instruments(draw: st.DrawFn) -> Instrument:
    tick, step = draw(grids), draw(grids)
    band = draw(st.booleans())
    return Instrument(
        symbol="XRPUSDT", base="XRP", quote="USDT", tick=tick, step=step, price_scale=None,
        volume_scale=None,
        min_price=draw(st.sampled_from([D(0), tick, tick * 100, D("0.333")])),
        max_price=draw(st.sampled_from([None, D("0.6"), D("1000"), D("0.6001")])),
        min_qty=draw(st.sampled_from([D(0), step, step * 3, D("0.3")])),
        max_qty=draw(st.sampled_from([None, step * 50, D("7.77")])),
        min_val=draw(st.sampled_from([D(0), D(1), D("5.5"), D("0.0003")])),
        bid_multiplier_up=D("1.3") if band else None,
        bid_multiplier_down=D("0.9") if band else None,
        ask_multiplier_up=D("1.1") if band else None,
        ask_multiplier_down=D("0.7") if band else None,
        status=draw(st.sampled_from(["TRADING", "TRADING", "HALT"])),
    )  # fmt: skip


last_prices = st.sampled_from([None, D(0), D("0.25"), D("0.5"), D("0.7"), D(3), D("101.37")])


@settings(max_examples=600, deadline=None)
@given(inst=instruments(), side=st.sampled_from([Side.BUY, Side.SELL]),
       ticks=st.integers(-5, 10**7), lots=st.integers(-5, 10**7), last=last_prices)
def test_passes_exactly_when_the_decimal_check_finds_nothing(inst, side, ticks, lots, last):
    scale = tick_scale(inst.tick, inst.step)
    price, qty = scale.price(ticks), scale.qty(lots)
    expected = inst.check(side, price, qty, last) == []
    assert TickFilters(inst, side, last).passes(ticks, lots) == expected


@settings(max_examples=400, deadline=None)
@given(inst=instruments(), ticks=st.integers(1, 10**7), last=last_prices, is_bid=st.booleans())
def test_side_minimum_in_lots_is_the_exchange_minimum(inst, ticks, last, is_bid):
    ctx = ShapingContext(
        instrument=inst, top=TopOfBook(None, None, None, None), mid=D("0.5"),
        inventory=Inventory(base=D(0), quote=D(0)),
        obligations=ObligationsConfig(max_spread_pct=D(1), min_depth_2pct_quote=D(20)),
        last_price=last,
    )
    side = _Side(Side.BUY if is_bid else Side.SELL, ctx, D("0.01"))
    price = ticks * inst.tick
    assert side.minimum_lots(ticks) * inst.step == _exchange_minimum(inst, price, last)
