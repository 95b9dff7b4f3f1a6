"""The simulator's aggregated levels and depth, as the plain definitions give them: best first,
at most ``limit`` (``None`` or <= 0: all), the Decimals of ``depth`` kept per ticks and lots."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from bitrue_sim.core.book import Book


def _plain(keys: list[int], totals: dict[int, int], sign: int, limit: int | None):
    n = len(keys) if not limit or limit <= 0 else min(limit, len(keys))
    return [(keys[-i] * sign, totals[keys[-i] * sign]) for i in range(1, n + 1)]


class _Level:
    def __init__(self, total: int) -> None:
        self.total = total


@settings(max_examples=300, deadline=None)
@given(
    bids=st.dictionaries(st.integers(1, 500), st.integers(1, 10**6), max_size=40),
    asks=st.dictionaries(st.integers(501, 1000), st.integers(1, 10**6), max_size=40),
    limit=st.one_of(st.none(), st.integers(-2, 45)),
)
def test_levels_are_best_first_and_limited(bids, asks, limit) -> None:
    book = Book()
    book.bids = {t: _Level(q) for t, q in bids.items()}
    book.asks = {t: _Level(q) for t, q in asks.items()}
    book.bid_keys = sorted(bids)
    book.ask_keys = sorted(-t for t in asks)
    assert book.levels(True, limit) == _plain(book.bid_keys, bids, 1, limit)
    assert book.levels(False, limit) == _plain(book.ask_keys, asks, -1, limit)


def test_depth_gives_the_same_decimals_as_converting_each_time() -> None:
    """Kept Decimals and a side's last answer given again equal converting each time."""
    from bitrue_sim.core.exchange import _KEEP_DECIMALS
    from bitrue_sim.virtual import VirtualVenue

    sim = VirtualVenue(scenario="volatile", seed=3, symbols=["XRPUSDT"])
    ex = sim.exchange
    m = ex._market("XRPUSDT")
    # every 100 ms (one side often unchanged: the last answer's side is given again), with
    # the limit changing now and then
    for i in range(6000):
        sim.run_until(sim.now_ms() + 100)
        limit = 5 if i % 7 == 0 else 20
        bids, asks = ex.depth("XRPUSDT", limit)
        want_b = [(Decimal(t) * m.tick, Decimal(q) * m.step)
                  for t, q in m.book.levels(True, limit)]
        want_a = [(Decimal(t) * m.tick, Decimal(q) * m.step)
                  for t, q in m.book.levels(False, limit)]
        assert [tuple(map(str, lv)) for lv in bids] == [tuple(map(str, lv)) for lv in want_b]
        assert [tuple(map(str, lv)) for lv in asks] == [tuple(map(str, lv)) for lv in want_a]
        assert len(m.qty_of) <= _KEEP_DECIMALS + 40
