"""OrderBook: snapshots, empty and one-sided books, and metrics on hand-made books."""

from __future__ import annotations

import json
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liquidity_bot.domain.book import OrderBook, normalise_side
from liquidity_bot.domain.events import BookUpdate

D = Decimal


def levels(*pairs: tuple[str, str]) -> tuple[tuple[Decimal, Decimal], ...]:
    return tuple((D(p), D(q)) for p, q in pairs)


def book_with(bids, asks, ts_ms: int = 1) -> OrderBook:
    book = OrderBook("XRPUSDT")
    assert book.apply_snapshot(bids, asks, ts_ms)
    return book


def close(value: Decimal | None, exact: Fraction) -> bool:
    assert value is not None
    return abs(Fraction(value) - exact) < Fraction(1, 10**20)


# --- empty and one-sided --------------------------------------------------------------------


def test_new_book_is_empty_and_every_metric_is_none():
    book = OrderBook("XRPUSDT")
    assert book.is_empty and not book.is_two_sided and not book.is_crossed
    assert book.bids == () and book.asks == ()
    assert book.best_bid is None and book.best_ask is None
    assert book.mid is None and book.microprice is None
    assert book.spread is None and book.spread_bps is None
    assert book.depth_quote(2) is None
    assert book.ts_ms is None and book.seq is None and book.updates == 0


@pytest.mark.parametrize("side", ["bids", "asks"])
def test_one_sided_book_gives_none_not_exceptions(side):
    one = levels(("1.00", "5"))
    book = book_with(one, ()) if side == "bids" else book_with((), one)
    assert not book.is_empty and not book.is_two_sided
    assert (book.best_bid if side == "bids" else book.best_ask) == (D("1.00"), D(5))
    assert book.mid is None and book.microprice is None
    assert book.spread is None and book.spread_bps is None
    assert book.depth_quote(2) is None


def test_a_snapshot_with_only_zero_quantities_is_empty():
    book = book_with(levels(("1", "0")), levels(("2", "0")))
    assert book.is_empty and book.mid is None


# --- metrics on a hand-made book --------------------------------------------------------------


def test_best_levels_mid_microprice_spread():
    book = book_with(levels(("100", "2"), ("99", "1")), levels(("101", "1"), ("102", "3")))
    assert book.best_bid == (D(100), D(2)) and book.best_ask == (D(101), D(1))
    assert book.mid == D("100.5")
    # (bid * ask_qty + ask * bid_qty) / (bid_qty + ask_qty) = (100 + 202) / 3
    assert close(book.microprice, Fraction(302, 3))
    assert book.spread == D(1)
    # 1 / 100.5 * 10_000
    assert close(book.spread_bps, Fraction(20000, 201))
    assert book.is_two_sided and not book.is_crossed


def test_microprice_leans_to_the_thin_side():
    thin_ask = book_with(levels(("100", "9")), levels(("101", "1")))
    thin_bid = book_with(levels(("100", "1")), levels(("101", "9")))
    assert thin_ask.microprice == D("100.9") and thin_bid.microprice == D("100.1")


EDGE_BIDS = levels(("99.5", "1"), ("98", "2"), ("97.99", "5"))
EDGE_ASKS = levels(("100.5", "1"), ("102", "3"), ("102.01", "7"))


@pytest.mark.parametrize(
    ("pct", "bid_depth", "ask_depth"),
    [
        # mid 100; +-2 % is [98, 102]: both edge levels count (inclusive), 97.99/102.01 do not
        (D(2), "295.5", "406.5"),  # 99.5*1 + 98*2 ; 100.5*1 + 102*3
        (2, "295.5", "406.5"),  # int percent
        (D(1), "99.5", "100.5"),  # [99, 101]
        (D("2.01"), "785.45", "1120.57"),  # [97.99, 102.01]: the outer levels on the edge
        (D(0), "0", "0"),  # only the mid itself, where nothing rests
        (D("0.5"), "99.5", "100.5"),  # [99.5, 100.5]: the best levels sit exactly on the edge
    ],
)
def test_depth_within_band_edges_are_inclusive(pct, bid_depth, ask_depth):
    book = book_with(EDGE_BIDS, EDGE_ASKS)
    assert book.mid == D(100)
    assert book.depth_quote(pct) == (D(bid_depth), D(ask_depth))


def test_depth_rejects_float_and_negative_percentages():
    book = book_with(EDGE_BIDS, EDGE_ASKS)
    with pytest.raises(TypeError):
        book.depth_quote(2.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        book.depth_quote(D(-1))


def test_crossed_book_is_flagged():
    book = book_with(levels(("101", "1")), levels(("100", "1")))
    assert book.is_crossed and book.spread == D(-1)


# --- snapshots ----------------------------------------------------------------------------------


def test_each_snapshot_replaces_the_whole_book():
    book = book_with(levels(("1.00", "1"), ("0.99", "2")), levels(("1.01", "1")), ts_ms=10)
    assert book.apply_snapshot(levels(("0.98", "4")), levels(("1.02", "5"), ("1.03", "6")), 11)
    assert book.bids == levels(("0.98", "4"))
    assert book.asks == levels(("1.02", "5"), ("1.03", "6"))
    assert (book.ts_ms, book.updates) == (11, 2)


def test_older_snapshots_are_ignored():
    book = book_with(levels(("1", "1")), levels(("2", "1")), ts_ms=100)
    assert not book.apply_snapshot(levels(("5", "1")), (), 99)  # older timestamp
    assert book.apply_snapshot(levels(("1.5", "1")), levels(("2", "1")), 100)  # same ms: newer
    assert book.best_bid == (D("1.5"), D(1)) and book.updates == 2


def test_sequence_numbers_win_over_timestamps_when_both_have_them():
    book = OrderBook("XRPUSDT")
    assert book.apply_snapshot(levels(("1", "1")), (), 100, seq=7)
    assert not book.apply_snapshot(levels(("2", "1")), (), 200, seq=7)  # duplicate id
    assert not book.apply_snapshot(levels(("2", "1")), (), 200, seq=6)
    assert book.apply_snapshot(levels(("3", "1")), (), 50, seq=8)  # newer id, clock skew
    assert (book.best_bid, book.seq, book.ts_ms) == ((D(3), D(1)), 8, 50)


def test_wire_levels_as_strings_with_the_rest_api_third_field():
    raw = json.loads('{"bids":[["4.00000000","431.00000000",[]]],'
                     '"asks":[["4.00000200","12.00000000",[]]]}')
    book = book_with(raw["bids"], raw["asks"])
    assert book.best_bid == (D("4.00000000"), D("431.00000000"))
    assert book.best_ask == (D("4.00000200"), D("12.00000000"))


def test_floats_are_refused_when_the_book_is_read():
    book = book_with([(1.5, "1")], [])
    with pytest.raises(TypeError, match="never goes through float"):
        _ = book.bids


def test_unsorted_repeated_and_empty_levels_are_cleaned():
    book = book_with(
        [("0.98", "1"), ("1.00", "2"), ("0.99", "0"), ("0.98", "3")],
        [("1.03", "1"), ("1.01", "1"), ("1.02", "0")],
    )
    assert book.bids == levels(("1.00", "2"), ("0.98", "4"))
    assert book.asks == levels(("1.01", "1"), ("1.03", "1"))


def test_non_positive_prices_are_refused():
    with pytest.raises(ValueError, match="non-positive price"):
        normalise_side(levels(("1", "1"), ("0", "1")), bids=True)
    with pytest.raises(ValueError, match="non-positive price"):
        normalise_side(levels(("2", "1"), ("-1", "1")), bids=False)  # unsorted: slow path


def test_apply_book_update_event():
    book = OrderBook("XRPUSDT")
    update = BookUpdate(ts_ms=5, symbol="XRPUSDT", bids=levels(("1", "1")),
                        asks=levels(("2", "1")), seq=3)
    assert book.apply(update)
    assert (book.mid, book.seq, book.ts_ms) == (D("1.5"), 3, 5)
    with pytest.raises(ValueError, match="BTCUSDT"):
        book.apply(BookUpdate(ts_ms=6, symbol="BTCUSDT", bids=(), asks=()))


# --- normalisation, against a plain reference implementation ------------------------------------


def reference(pairs, bids: bool):
    total: dict[Decimal, Decimal] = {}
    for price, qty in pairs:
        if qty > 0:
            total[price] = total.get(price, D(0)) + qty
    return sorted(total.items(), reverse=bids)


PAIRS = st.lists(
    st.tuples(
        st.integers(min_value=1, max_value=400).map(lambda i: D(i) / 100),
        st.integers(min_value=0, max_value=50).map(D),
    ),
    max_size=60,
)


@settings(derandomize=True, deadline=None)
@given(pairs=PAIRS, bids=st.booleans(), as_str=st.booleans())
def test_normalise_matches_the_reference(pairs, bids, as_str):
    raw = [(str(p), str(q)) for p, q in pairs] if as_str else pairs
    result = normalise_side(raw, bids=bids)
    assert list(result) == reference(pairs, bids)
    prices = [p for p, _ in result]
    assert prices == sorted(set(prices), reverse=bids)  # strictly best-first
    assert all(type(p) is Decimal and type(q) is Decimal and q > 0 for p, q in result)


@settings(derandomize=True, deadline=None)
@given(pairs=PAIRS, bids=st.booleans())
def test_already_clean_input_takes_the_fast_path_unchanged(pairs, bids):
    clean = reference(pairs, bids)
    assert list(normalise_side(tuple(clean), bids=bids)) == clean


def test_a_normalised_update_is_taken_as_is_and_a_plain_one_is_checked():
    clean = ((Decimal("2"), Decimal("1")), (Decimal("1"), Decimal("3")))
    asks = ((Decimal("3"), Decimal("2")),)
    book = OrderBook("BTCUSDT")
    assert book.apply(BookUpdate(ts_ms=1, symbol="BTCUSDT", bids=clean, asks=asks,
                                 normalised=True))
    assert book.bids is clean and book.asks is asks  # the very tuples: nothing re-checked
    messy = ((Decimal("1"), Decimal("3")), (Decimal("2"), Decimal("0")), (Decimal("2"), Decimal("1")))
    assert book.apply(BookUpdate(ts_ms=2, symbol="BTCUSDT", bids=messy, asks=asks))
    assert book.bids == ((Decimal("2"), Decimal("1")), (Decimal("1"), Decimal("3")))
    stale = BookUpdate(ts_ms=1, symbol="BTCUSDT", bids=clean, asks=asks, normalised=True)
    assert not book.apply(stale) and book.ts_ms == 2  # a stale one changes nothing
