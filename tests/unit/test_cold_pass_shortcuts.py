"""The cold pass's shortcuts give the old path's answers: client ids written out in one
function (``ClientIds.new``), the planner's live orders and targets converted to ticks and lots
through the scale's memo first (``_Live``, ``_converted``), and an order registered by its
SUBMIT transition without ``Order.apply``'s checks."""

from __future__ import annotations

import random
from decimal import Decimal as D

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from liquidity_bot.domain.order import Order, OrderEvent, OrderState, Side
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


def test_submit_by_its_transition_is_apply() -> None:
    a = Order(client_order_id="x1", symbol="XRPUSDT", side=Side.BUY, price=D("1"), qty=D("2"))
    b = Order(client_order_id="x1", symbol="XRPUSDT", side=Side.BUY, price=D("1"), qty=D("2"))
    a.apply(OrderEvent.SUBMIT)
    b.state = b._target(OrderEvent.SUBMIT)
    assert a.state is b.state is OrderState.PENDING_NEW


decimals = st.sampled_from(["0", "0.00", "-0.05", "0.1", "0.10", "0.25", "1.5", "-0.3333",
                            "0.05000"]).map(D)


@settings(max_examples=300, deadline=None)
@given(levels=st.integers(1, 4), spacing=st.sampled_from(["0.05", "0.1", "0.100", "1"]),
       steps=st.lists(st.tuples(decimals, decimals), min_size=1, max_size=5),
       prec=st.sampled_from([None, 12]))
@example(levels=2, spacing="0.1", steps=[(D("0"), D("0.1")), (D("0"), D("0.10"))], prec=None)
@example(levels=1, spacing="1", steps=[(D("0"), D("100")), (D("0"), D("100.0"))], prec=None)
@example(levels=1, spacing="1", steps=[(D("100"), D("0")), (D("100.0"), D("0"))], prec=None)
@example(levels=1, spacing="0.1", steps=[(D("0.1"), D("0.3")), (D("0.10"), D("0.3"))], prec=None)
@example(levels=1, spacing="0.1", steps=[(D("0"), D("0.3")), (D("0"), D("0.3"))], prec=1)
def test_ladder_factors_equal_the_formula_written_the_same_way(
        levels: int, spacing: str, steps: list[tuple[D, D]], prec: int | None) -> None:
    """``LadderStrategy._factors`` gives, value and representation, what computing them now
    gives: also after a shift or half-spread equal in value but written otherwise, and under
    another Decimal precision."""
    from decimal import localcontext

    from liquidity_bot.config import LadderParams
    from liquidity_bot.domain.instrument import Instrument
    from liquidity_bot.strategies.ladder import LadderStrategy

    tick = D("0.0001")
    inst = Instrument(symbol="XRPUSDT", base="XRP", quote="USDT", tick=tick, step=D("0.1"),
                      price_scale=None, volume_scale=None, min_price=tick, max_price=None,
                      min_qty=D("0.1"), max_qty=None, min_val=D("1"))
    p = LadderParams(level_size_quote=D("50"), levels=levels, level_spacing_pct=D(spacing))
    ladder = LadderStrategy(inst, p)
    with localcontext() as ctx:  # one context object, its precision changed in place
        for n, (shift, half) in enumerate(steps):
            ctx.prec = prec if prec is not None and n % 2 else 28
            want = tuple((1 + (shift - (half + p.level_spacing_pct * i)) / 100,
                          1 + (shift + (half + p.level_spacing_pct * i)) / 100)
                         for i in range(levels))
            got = ladder._factors(shift, half)
            assert [tuple(map(str, f)) for f in got] == [tuple(map(str, f)) for f in want]
