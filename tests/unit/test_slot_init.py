"""``slot_init``: the cheaper ``__init__`` builds the very instances the dataclass's own would."""

from __future__ import annotations

import dataclasses
import inspect
from decimal import Decimal

import pytest

from liquidity_bot.domain.order import Side
from liquidity_bot.domain.slot_init import slot_init
from liquidity_bot.engine.planner import Action, Allowance, LiveOrder, Purpose
from liquidity_bot.reporting.kpi import BandDepth, OurQuote
from liquidity_bot.strategies.base import DesiredQuote, Inventory, MarketSnapshot, TopOfBook


def _twin(cls: type) -> type:
    """``cls`` as ``dataclass`` makes it, without ``slot_init`` (a fresh class, same fields)."""
    spec = [(f.name, f.type, f) for f in dataclasses.fields(cls)]
    return dataclasses.make_dataclass(
        cls.__name__, [(n, t, dataclasses.field(default=f.default)) if f.default is not
                       dataclasses.MISSING else (n, t) for n, t, f in spec],
        frozen=True, slots=True)


QUOTE = DesiredQuote(Side.BUY, Decimal("0.5"), Decimal("100"), 1, 0, True)

CASES = [
    (DesiredQuote, (Side.SELL, Decimal("0.51"), Decimal("7"), 3, 2, False), {}),
    (TopOfBook, (Decimal("1"), Decimal("2"), Decimal("1.1"), Decimal("3")), {}),
    (Inventory, (), {"base": Decimal("5"), "quote": Decimal("6")}),
    (MarketSnapshot, (None, Inventory(Decimal(1), Decimal(2)), 7), {"last_price": Decimal("1")}),
    (LiveOrder, ("c1", Side.BUY, Decimal("0.5"), Decimal("9")), {"young": True}),
    (Action, (Purpose.RESCUE,), {"place": QUOTE, "why": "x"}),
    (Allowance, (3, 2, 1), {}),
    (OurQuote, ("BUY", Decimal("1"), Decimal("2")), {"since_ms": 4}),
    (BandDepth, (), {"pct": Decimal(2), "bid": Decimal(1), "ask": Decimal(3)}),
]


@pytest.mark.parametrize(("cls", "args", "kwargs"), CASES, ids=[c[0].__name__ for c in CASES])
def test_instances_are_what_the_dataclass_makes(cls, args, kwargs) -> None:
    twin = _twin(cls)
    ours, theirs = cls(*args, **kwargs), twin(*args, **kwargs)
    names = [f.name for f in dataclasses.fields(cls)]
    assert [getattr(ours, n) for n in names] == [getattr(theirs, n) for n in names]
    assert ours == cls(*args, **kwargs) and hash(ours) == hash(cls(*args, **kwargs))
    assert repr(ours).split("(", 1)[1] == repr(theirs).split("(", 1)[1]
    assert inspect.signature(cls.__init__) == inspect.signature(twin.__init__)
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(ours, names[0], None)
    assert dataclasses.replace(ours, **{names[-1]: getattr(ours, names[-1])}) == ours
    with pytest.raises(TypeError):  # a missing argument is refused as before
        cls()


def test_refuses_what_it_cannot_keep_equal() -> None:
    @dataclasses.dataclass(frozen=True)
    class NoSlots:
        a: int

    @dataclasses.dataclass(frozen=True, slots=True)
    class Factory:
        a: list = dataclasses.field(default_factory=list)

    @dataclasses.dataclass(slots=True)
    class Mutable:
        a: int

    for cls in (NoSlots, Factory, Mutable):
        with pytest.raises(TypeError):
            slot_init(cls)
