"""The cold pass's shortcuts give the old path's answers: client ids written out in one
function (``ClientIds.new``), the planner's live orders and targets converted to ticks and lots
through the scale's memo first (``_Live``, ``_converted``), and an order registered by its
SUBMIT transition without ``Order.apply``'s checks, the ladder's level plans made as tuples."""

from __future__ import annotations

import random
from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liquidity_bot.domain.order import Side
from liquidity_bot.domain.ticks import CEIL, FLOOR, TickError, TickScale
from liquidity_bot.engine.order_manager import ClientIds, _base36
from liquidity_bot.engine.planner import LiveOrder, _converted, _Live
from liquidity_bot.strategies.base import DesiredQuote


class _Clock:
    def __init__(self, ms: int) -> None:
        self.ms = ms

    def now_ms(self) -> int:
        return self.ms

    def monotonic(self) -> float:
        return self.ms / 1000


def _old_new(ids: ClientIds) -> str:
    """``ClientIds.new`` as it was written before (three ``_base36`` calls)."""
    ids._counter = (ids._counter + 1) % 36**4
    return (ids.prefix + _base36(ids.clock.now_ms(), 8) + _base36(ids._counter, 4)
            + _base36(ids._random.randrange(36**4), 4))


@settings(max_examples=300, deadline=None)
@given(ms=st.integers(min_value=0, max_value=2**63), seed=st.integers(min_value=0),
       counter=st.integers(min_value=0, max_value=36**4 - 1), calls=st.integers(1, 4))
def test_client_ids_equal_the_three_part_formula(ms: int, seed: int, counter: int,
                                                 calls: int) -> None:
    new, old = ClientIds("lb", _Clock(ms)), ClientIds("lb", _Clock(ms))  # type: ignore[arg-type]
    for ids in (new, old):
        ids._random = random.Random(seed)
        ids._counter = counter
    for _ in range(calls):
        got, want = new.new(), _old_new(old)
        assert got == want
        assert len(got) == 2 + 16 and new.is_ours(got)


grids = st.sampled_from([D("0.0001"), D("0.01"), D("1"), D("0.5"), D("25")])
amounts = st.integers(min_value=1, max_value=10**7).flatmap(
    lambda n: st.sampled_from([D(n).scaleb(-4), D(n).scaleb(-2), D(n), D(n).scaleb(-5)]))


def _old_live(o: LiveOrder, scale: TickScale, is_bid: bool) -> tuple[int, int]:
    """``_Live``'s ticks and units as computed before (conversions, no memo read)."""
    try:
        ticks, lots = scale.ticks(o.price), scale.lots(o.qty)
    except TickError:
        ticks = scale.ticks(o.price, FLOOR if is_bid else CEIL)
        lots = scale.lots(o.qty, FLOOR)
    return ticks, ticks * lots


@settings(max_examples=300, deadline=None)
@given(tick=grids, step=grids, price=amounts, qty=amounts, is_bid=st.booleans(),
       warm=st.booleans())
def test_live_orders_convert_as_before(tick: D, step: D, price: D, qty: D, is_bid: bool,
                                       warm: bool) -> None:
    scale = TickScale(tick, step)
    o = LiveOrder("c1", Side.BUY if is_bid else Side.SELL, price, qty, cancellable=True,
                  young=False)
    if warm:  # the memo holds them (or the off-grid conversion raised)
        for convert, value in ((scale.ticks, price), (scale.lots, qty)):
            try:
                convert(value)
            except TickError:
                pass
    live = _Live(o, scale, is_bid)
    assert (live.ticks, live.units) == _old_live(o, scale, is_bid)
    assert (live.cid, live.cancellable, live.young, live.in_band, live.exposed) == (
        "c1", True, False, False, False)


@settings(max_examples=300, deadline=None)
@given(tick=grids, step=grids, levels=st.lists(st.tuples(amounts, amounts), max_size=4),
       warm=st.booleans())
def test_targets_convert_as_before(tick: D, step: D, levels: list[tuple[D, D]],
                                   warm: bool) -> None:
    scale = TickScale(tick, step)
    quotes = [DesiredQuote(Side.BUY, p, q, i, i, False) for i, (p, q) in enumerate(levels)]
    for qty in (False, True):
        convert = scale.lots if qty else scale.ticks
        values = [q.qty if qty else q.price for q in quotes]
        try:
            want = [convert(v) for v in values]
        except TickError:
            want = None
        if not warm:
            scale = TickScale(tick, step)  # a cold memo
        if want is None:
            with pytest.raises(TickError):
                _converted(quotes, scale, qty=qty)
        else:
            assert _converted(quotes, scale, qty=qty) == want
