"""The integer order book alone: price-time priority, lazy cancels, caps, aggregation."""

from __future__ import annotations

from dataclasses import dataclass

from bitrue_sim.core.book import Book


@dataclass(eq=False)
class Entry:
    name: str
    is_buy: bool
    ticks: int
    leaves: int
    live: bool = False


def _book(*entries: Entry) -> Book:
    book = Book()
    for e in entries:
        book.add(e)
    return book


def test_levels_are_best_first_and_aggregated() -> None:
    book = _book(
        Entry("b1", True, 99, 5),
        Entry("b2", True, 101, 1),
        Entry("b3", True, 99, 2),
        Entry("a1", False, 105, 3),
        Entry("a2", False, 103, 4),
        Entry("a3", False, 110, 1),
    )
    assert book.levels(True, None) == [(101, 1), (99, 7)]
    assert book.levels(False, None) == [(103, 4), (105, 3), (110, 1)]
    assert book.levels(False, 2) == [(103, 4), (105, 3)]
    assert book.best_bid() == (101, 1)
    assert book.best_ask() == (103, 4)


def test_price_then_time_priority() -> None:
    first, second = Entry("first", False, 100, 5), Entry("second", False, 100, 5)
    better = Entry("better", False, 99, 1)
    book = _book(first, second, better)
    fills = book.match(True, 100, 7)
    assert [(e.name, lots, ticks) for e, lots, ticks in fills] == [
        ("better", 1, 99),
        ("first", 5, 100),
        ("second", 1, 100),
    ]
    assert second.leaves == 4 and second.live
    assert not first.live and not better.live
    assert book.levels(False, None) == [(100, 4)]


def test_limit_price_stops_matching() -> None:
    book = _book(Entry("a", False, 100, 5), Entry("b", False, 101, 5))
    fills = book.match(True, 100, 50)
    assert [(e.name, lots) for e, lots, _ in fills] == [("a", 5)]
    assert book.best_ask() == (101, 5)
    assert book.match(False, 1, 5) == []  # no bids at all


def test_sell_taker_walks_bids_downwards() -> None:
    book = _book(Entry("hi", True, 100, 2), Entry("lo", True, 98, 2), Entry("mid", True, 99, 2))
    fills = book.match(False, 98, 5)
    assert [(e.name, lots, t) for e, lots, t in fills] == [
        ("hi", 2, 100),
        ("mid", 2, 99),
        ("lo", 1, 98),
    ]


def test_cancel_keeps_queue_position_of_others() -> None:
    a, b, c = (Entry(n, True, 100, 3) for n in "abc")
    book = _book(a, b, c)
    assert book.queue_ahead(c) == 6
    book.remove(b)
    assert not b.live
    assert book.queue_ahead(c) == 3
    assert book.queue_ahead(b) is None
    assert book.levels(True, None) == [(100, 6)]
    fills = book.match(False, 100, 4)
    assert [(e.name, lots) for e, lots, _ in fills] == [("a", 3), ("c", 1)]
    book.remove(b)  # removing twice is harmless
    assert book.levels(True, None) == [(100, 2)]


def test_cancelling_last_order_removes_the_level() -> None:
    a, b = Entry("a", False, 100, 1), Entry("b", False, 102, 1)
    book = _book(a, b)
    book.remove(a)
    assert book.best_ask() == (102, 1)
    book.remove(b)
    assert book.best_ask() is None
    assert book.asks == {} and book.ask_keys == []


def test_cancel_of_inner_level_keeps_sorted_keys() -> None:
    entries = [Entry(str(t), True, t, 1) for t in (100, 95, 97, 99, 96)]
    book = _book(*entries)
    book.remove(entries[2])  # 97, not the best
    assert [t for t, _ in book.levels(True, None)] == [100, 99, 96, 95]


def test_many_dead_entries_are_compacted() -> None:
    keep = Entry("keep", False, 100, 1)
    dead = [Entry(f"d{i}", False, 100, 1) for i in range(100)]
    book = _book(*dead, keep)
    for e in dead:
        book.remove(e)
    level = book.asks[100]
    assert len(level.queue) < 60  # compacted at least once
    assert level.total == 1
    fills = book.match(True, None, 10)
    assert [(e.name, lots) for e, lots, _ in fills] == [("keep", 1)]
    assert book.best_ask() is None


def test_match_does_not_overrun_trailing_dead_entries() -> None:
    a, b = Entry("a", False, 100, 2), Entry("b", False, 100, 2)
    book = _book(a, b)
    book.remove(b)  # dead entry left at the back of the level
    fills = book.match(True, None, 10)
    assert [(e.name, lots) for e, lots, _ in fills] == [("a", 2)]
    assert book.best_ask() is None


def test_quote_budget_caps_lots_per_level() -> None:
    book = _book(Entry("a", False, 100, 3), Entry("b", False, 200, 10))
    # 100*3 = 300 units for level one, then 750 // 200 = 3 lots at level two
    fills = book.match(True, None, None, max_units=1050)
    assert [(e.name, lots, t) for e, lots, t in fills] == [("a", 3, 100), ("b", 3, 200)]
    assert book.best_ask() == (200, 7)
    assert book.match(True, None, None, max_units=199) == []


def test_sweep_cost_does_not_touch_the_book() -> None:
    book = _book(Entry("a", False, 100, 3), Entry("b", False, 200, 10))
    assert book.sweep_cost(True, 5) == (5, 300 + 400)
    assert book.sweep_cost(True, 100) == (13, 300 + 2000)  # more than the book holds
    assert book.levels(False, None) == [(100, 3), (200, 10)]
