"""The quiet pass's book check (``market_runner._side_path`` / ``_same_path``): when a side
passes it, ``_first_of_others`` (what the strategy reads as the others' best) gives the same
price as on the side the path was taken from, and the best price is the same."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from liquidity_bot.domain.book import BookSide
from liquidity_bot.engine.market_runner import _first_of_others, _same_path, _side_path

PRICES = [Decimal(p) / 100 for p in range(100, 110)]
side_levels = st.lists(
    st.tuples(st.sampled_from(PRICES), st.integers(1, 6).map(Decimal)), max_size=6
).map(lambda levels: tuple(sorted(dict(levels).items(), reverse=True)))
owns = st.dictionaries(st.sampled_from(PRICES), st.integers(1, 6).map(Decimal), max_size=4)


@settings(max_examples=500, deadline=None)
@given(first=side_levels, second=side_levels, own=owns)
def test_a_side_on_the_path_gives_the_same_top(first, second, own) -> None:
    a = BookSide.of_levels(first, bids=True)
    b = BookSide.of_levels(second, bids=True)
    path = _side_path(a, own)
    if path is None:
        return
    assert path[-1][0] == _first_of_others(a, own)[0]
    assert path[0][0] == a.best[0]
    if _same_path(b, path):
        assert _first_of_others(b, own)[0] == _first_of_others(a, own)[0]
        assert b.best[0] == a.best[0]


@settings(max_examples=200, deadline=None)
@given(levels=side_levels, own=owns)
def test_a_side_is_on_its_own_path(levels, own) -> None:
    side = BookSide.of_levels(levels, bids=True)
    path = _side_path(side, own)
    if path is not None:
        assert _same_path(BookSide.of_levels(levels, bids=True), path)
