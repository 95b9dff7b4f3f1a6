"""OrderBook: snapshots, empty and one-sided books, and metrics on hand-made books."""

from __future__ import annotations

import json
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liquidity_bot.domain.book import BookSide, OrderBook, _clean_text_columns, normalise_side
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


# --- exchange text: checked on the text, converted only as far as it is read -----------------


def outcome(read):
    """What a read returns, or the exception it raises (type and message)."""
    try:
        return ("ok", read())
    except Exception as exc:  # noqa: BLE001 - the point is comparing whatever it raises
        return ("raises", type(exc), str(exc))


def frame_side(count: int, bids: bool, scale: int = 4, start: int = 51_230):
    """A side as the depth channel sends it: one price scale, best-first, text."""
    step = -3 if bids else 3
    return tuple(
        (f"{D(start + i * step).scaleb(-scale):f}", f"{D(15203 + i * 71).scaleb(-1):f}")
        for i in range(count)
    )


@pytest.mark.parametrize("bids", [True, False])
def test_an_exchange_frame_takes_the_text_path_and_reads_only_what_is_asked(bids):
    raw = frame_side(100, bids)
    assert _clean_text_columns(raw, bids) is not None
    side = BookSide(raw, bids)
    assert side.best == (D(raw[0][0]), D(raw[0][1]))
    assert side.top(5) == tuple((D(p), D(q)) for p, q in raw[:5])
    assert len(side._read) == 5  # the other 95 levels are still text
    assert side.levels == normalise_side(raw, bids=bids)
    assert side.top(5) == side.levels[:5] and side.best == side.levels[0]


@pytest.mark.parametrize(
    ("pairs", "bids"),
    [
        ((("10.0000", "1"), ("9.9999", "2")), True),  # mixed lengths: "9.9999" > "10.0000" as text
        ((("9.9999", "1"), ("10.0000", "2")), False),
        ((("1e-5", "1"), ("0.00000900", "1")), True),  # exponent
        # In string order, not in numeric order (lengths, points or leading zeros differ):
        ((("99", "1"), ("100", "1"), ("1", "1")), True),
        ((("1", "1"), ("100", "1"), ("99", "1")), False),
        ((("00.1", "1"), ("0.99", "1")), True),
        ((("099", "1"), ("9.5", "1")), False),
        ((("9.5", "1"), ("099", "1")), True),
        ((("9.5", "1"), ("00.6", "1")), False),  # lengths differ: right-aligned " 9.5" < "00.6"
        ((("9.5", "1"), ("01.6", "1")), False),
        (((".5", "1"), ("0.4", "1")), False),
        ((("9.99", "1"), ("10.00", "1"), ("100.00", "1")), False),  # across powers of ten
        ((("100.00", "1"), ("10.00", "1"), ("9.99", "1"), ("0.01", "1")), True),
        ((("-1.5", "1"), ("-1.4", "1")), True),  # negative: in string order, not numeric
        ((("15", "1"), ("1,", "1")), True),  # a "," where a digit would be
        ((("+1.5", "1"), ("1.4", "1")), True),  # sign
        (((" 1.5", "1"), ("1.4", "1")), True),  # space
        ((("1.5", " 2 "), ("1.4", "1")), True),
        ((("1_5", "1"), ("1.4", "1")), True),  # Decimal takes underscores
        ((("5.", "1"), ("4.", "1")), True),  # point last: same format, still numbers
        (((".5", "1"), (".4", "1")), True),
        ((("05.0", "1"), ("04.5", "1")), True),  # leading zeros
        ((("1.5", ".5"), ("1.4", "5.")), True),
        ((("150", "1"), ("149", "2"), ("1", "3")), True),  # integers, different lengths
        ((("150", "1"), ("149", "2")), True),
        (((D("1.5"), D("1")), ("1.4", "1")), True),  # Decimal and text together
        (((15, "1"), ("14", 2)), True),  # ints
        ((("1.50", "1"), ("1.5", "1")), True),  # the same price twice, written two ways
        ((("1.5", "1"), ("1.5", "2")), True),  # repeated price: merged
        ((("1.4", "1"), ("1.5", "2")), True),  # unsorted
        ((("1.5", "0"), ("1.4", "1")), True),  # an empty level
        ((("1.5", "0.000"), ("1.4", "1")), True),
        ((("1.5", "."), ("1.4", "1")), True),  # not a number
        ((("1.5", ""), ("1.4", "1")), True),
        ((("1.5", "1.2.3"), ("1.4", "1")), True),
        ((("1.5", "1,5"), ("1.4", "1")), True),
        ((("1,5", "1"), ("1,4", "1")), True),
        (((".", "1"),), True),
        ((("", "1"),), True),
        ((("1.5", "-1"), ("1.4", "1")), True),  # negative quantity: dropped as empty
        ((("1.5", "1"), ("0.0", "1")), True),  # zero price
        ((("0.0", "1"), ("1.5", "1")), False),
        ((("1.5", "1"), ("-1.4", "1")), True),  # negative price
        ((("NaN", "1"), ("1.4", "1")), True),
        ((("1.5", "NaN"), ("1.4", "1")), True),
        ((("abc", "1"),), True),
        ((("1.5", "1"), ("1.4", 1.0)), True),  # a float
        ((("1.5", "1", []), ("1.4", "1", [])), True),  # REST levels: a third field
        ((("1.5",), ("1.4", "1")), True),  # a level without quantity
        ((("١٫٥", "1"),), True),  # non-ASCII digits
        ((("1.5", "²"),), True),
    ],
)
def test_exotic_and_bad_text_gives_exactly_what_normalise_side_gives(pairs, bids):
    expected = outcome(lambda: normalise_side(pairs, bids=bids))
    assert outcome(lambda: BookSide(pairs, bids).levels) == expected
    first = ("ok", expected[1][0] if expected[1] else None) if expected[0] == "ok" else expected
    assert outcome(lambda: BookSide(pairs, bids).best) == first
    book = book_with(pairs, ()) if bids else book_with((), pairs)
    assert outcome(lambda: book.best_bid if bids else book.best_ask) == first
    assert outcome(lambda: book.bids if bids else book.asks) == expected  # after a best read


BAD_TEXT = ["-1", "NaN", "sNaN", "abc", "1.2.3", ".", "", "1,5", "²", "0", "0.000", "-0.5",
            "\ud800", "١", "TWO POINTS", "SPACE"]


@pytest.mark.parametrize("bids", [True, False])
@pytest.mark.parametrize("column", [0, 1])
@pytest.mark.parametrize("bad", BAD_TEXT)
def test_a_bad_value_deep_in_the_side_fails_the_top_read_as_it_fails_the_whole(bids, column, bad):
    """Reading only the best level still checks every level: the same error, or the same
    clean-up, as ``normalise_side``."""
    raw = [list(level) for level in frame_side(100, bids)]
    last = raw[-1][column]
    if bad == "TWO POINTS":  # as long as the others, and still in string order
        bad = f"{last[:-2]}.{last[-1]}"
    elif bad == "SPACE":
        bad = f" {last[1:]}"
    raw[-1][column] = bad
    pairs = tuple(tuple(level) for level in raw)
    expected = outcome(lambda: normalise_side(pairs, bids=bids))
    first = ("ok", expected[1][0]) if expected[0] == "ok" else expected
    assert outcome(lambda: BookSide(pairs, bids).best) == first
    assert outcome(lambda: BookSide(pairs, bids).top(5)) == (
        ("ok", expected[1][:5]) if expected[0] == "ok" else expected)
    assert outcome(lambda: BookSide(pairs, bids).levels) == expected


class Shouty(str):
    """A str that compares its own way: never trusted for the order."""

    def __gt__(self, other):
        return True

    def __lt__(self, other):
        return True


@pytest.mark.parametrize("first", [Shouty, str])
def test_str_subclasses_are_not_compared_as_text(first):
    pairs = ((first("1.4"), "1"), (Shouty("1.5"), "1"))
    assert _clean_text_columns(pairs, True) is None
    assert BookSide(pairs, True).best == normalise_side(pairs, bids=True)[0]


# Prices and quantities as text: mostly the exchange's format, with every kind of exception.
SCALED = st.integers(min_value=0, max_value=3).flatmap(
    lambda scale: st.integers(min_value=0, max_value=12_000).map(
        lambda ticks: f"{D(ticks).scaleb(-scale):f}" if scale else str(ticks)
    )
)
ODD_TEXT = st.sampled_from(
    ["0", "0.0", "00.00", ".", "", "-1.5", "+1.5", " 1.5", "1.5 ", "1e2", "1E-2", "NaN", "Inf",
     "1_0", "1.2.3", "1,5", "٣", "²", ".5", "5.", "0.0001"]
)
TEXT = st.one_of(SCALED, SCALED, SCALED, ODD_TEXT)
VALUE = st.one_of(TEXT, TEXT, TEXT, st.integers(min_value=-2, max_value=50), TEXT.filter(
    lambda t: t.strip() not in ("", ".", "1.2.3", "1,5", "²")).map(lambda t: D(t.replace(",", ""))
    if t.strip() else D(0)))


@st.composite
def text_sides(draw):
    """A side of text levels, usually clean and best-first, sometimes broken in one way."""
    bids = draw(st.booleans())
    scale = draw(st.integers(min_value=0, max_value=8))
    low = draw(st.sampled_from([0, 10**5]))  # 10**5 and up: all ticks as long as each other
    ticks = draw(st.lists(st.integers(min_value=low, max_value=10**6 - 1), max_size=40,
                          unique=True))
    ticks.sort(reverse=bids)
    width = draw(st.sampled_from([None, 7, 9]))  # zero-padded to one length, or not
    prices = [
        (f"{D(t).scaleb(-scale):f}" if scale else str(t)).zfill(width or 0) for t in ticks
    ]
    qtys = [draw(SCALED) for _ in ticks]
    levels: list[list[object]] = [[p, q] for p, q in zip(prices, qtys, strict=True)]
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        if not levels:
            break
        i = draw(st.integers(min_value=0, max_value=len(levels) - 1))
        what = draw(st.sampled_from(["price", "qty", "swap", "repeat"]))
        if what == "price":
            levels[i][0] = draw(VALUE)
        elif what == "qty":
            levels[i][1] = draw(VALUE)
        elif what == "swap":
            j = draw(st.integers(min_value=0, max_value=len(levels) - 1))
            levels[i], levels[j] = levels[j], levels[i]
        else:
            levels.insert(i, list(levels[i]))
    return tuple(tuple(level) for level in levels), bids


@settings(derandomize=True, deadline=None, max_examples=1500)
@given(side=text_sides(), reads=st.lists(st.integers(min_value=0, max_value=45), max_size=4))
def test_text_path_matches_normalise_side_for_every_read(side, reads):
    raw, bids = side
    expected = outcome(lambda: normalise_side(raw, bids=bids))
    lazy = BookSide(raw, bids)
    if expected[0] == "raises":  # every read raises the same, every time
        for read in (lambda: lazy.best, lambda: lazy.top(3), lambda: list(lazy),
                     lambda: len(lazy), lambda: lazy[0], lambda: lazy.levels):
            assert outcome(read) == expected
        return
    levels = expected[1]
    for count in reads:  # some partial reads first, in any order
        assert lazy.top(count) == levels[:count]
        assert lazy[:count] == levels[:count]
        if count < len(levels):
            assert lazy[count] == levels[count]
    assert lazy.best == (levels[0] if levels else None)
    assert len(lazy) == len(levels) and bool(lazy) == bool(levels)
    assert list(lazy) == list(levels)
    assert lazy.levels == levels and lazy == levels
    assert all(type(p) is Decimal and type(q) is Decimal for p, q in lazy.levels)
    assert [(str(p), str(q)) for p, q in lazy.levels] == [(str(p), str(q)) for p, q in levels]


# Texts of digits and points that are close to each other, to make tricky neighbours likely.
NEAR_TEXT = st.builds(
    lambda whole, point, fraction: whole + point + fraction,
    st.sampled_from(["", "0", "00", "1", "9", "09", "10", "99", "100"]),
    st.sampled_from(["", ".", "."]),
    st.sampled_from(["", "0", "4", "5", "50", "99"]),
)


@settings(derandomize=True, deadline=None, max_examples=1500)
@given(
    texts=st.lists(st.one_of(st.from_regex(r"[0-9]{0,3}\.?[0-9]{0,3}", fullmatch=True),
                             NEAR_TEXT), max_size=8, unique=True),
    bids=st.booleans(),
    aligned=st.booleans(),
)
def test_sides_in_string_order_are_vouched_for_only_when_that_is_numeric_order(
    texts, bids, aligned
):
    """The adversary of the text check: plain digits sorted as strings (as they are, or
    right-aligned), whatever their lengths, points and leading zeros."""
    width = max(map(len, texts), default=0)
    key = (lambda text: text.rjust(width)) if aligned else None
    raw = tuple((text, "1") for text in sorted(texts, key=key, reverse=bids))
    assert outcome(lambda: BookSide(raw, bids).levels) == outcome(
        lambda: normalise_side(raw, bids=bids))
    assert outcome(lambda: BookSide(raw, bids).best) == outcome(
        lambda: (normalise_side(raw, bids=bids) or (None,))[0])


@settings(derandomize=True, deadline=None, max_examples=300)
@given(side=text_sides())
def test_the_text_check_only_vouches_for_what_normalise_side_returns_unchanged(side):
    raw, bids = side
    columns = _clean_text_columns(raw, bids)
    if columns is not None:
        converted = tuple((D(p), D(q)) for p, q in raw)
        assert normalise_side(raw, bids=bids) == converted
        assert columns == ([p for p, _ in raw], [q for _, q in raw])


@pytest.mark.parametrize("bids", [True, False])
def test_a_side_across_a_power_of_ten_takes_the_text_path(bids):
    raw = frame_side(100, bids, scale=3, start=10_050 if bids else 9_950)  # 10.050 .. 9.753
    assert {len(p) for p, _ in raw} == {5, 6}
    assert _clean_text_columns(raw, bids) is not None
    assert BookSide(raw, bids).top(100) == normalise_side(raw, bids=bids)
    mixed_scales = (("10.000", "1"), ("9.99", "1")) if bids else (("9.99", "1"), ("10.000", "1"))
    assert _clean_text_columns(mixed_scales, bids) is None


def test_clean_text_sides_of_one_format_are_vouched_for():
    for scale in (0, 1, 4, 8):
        for bids in (True, False):
            assert _clean_text_columns(frame_side(100, bids, scale, 5 * 10**(scale + 3)), bids)
            assert _clean_text_columns(frame_side(1, bids, scale, 10**scale), bids)


def test_book_reads_the_top_lazily_and_the_metrics_are_unchanged():
    bids, asks = frame_side(100, True), frame_side(100, False, start=51_300)
    lazy = book_with(bids, asks)
    eager = book_with(levels(*bids), levels(*asks))
    assert lazy.bid_side.top(5) == eager.bids[:5] and lazy.ask_side.top(5) == eager.asks[:5]
    assert (lazy.mid, lazy.microprice, lazy.spread, lazy.spread_bps) == (
        eager.mid, eager.microprice, eager.spread, eager.spread_bps)
    assert lazy.depth_quote(D("0.01")) == eager.depth_quote(D("0.01"))
    assert len(lazy.bid_side._read) < 100  # the band did not need the whole side
    assert lazy.depth_quote(50) == eager.depth_quote(50)
    assert lazy.bids == eager.bids and lazy.asks == eager.asks
    assert not lazy.is_empty and lazy.is_two_sided and not lazy.is_crossed


def test_a_book_side_is_shared_through_a_book_update():
    venue_book = book_with(frame_side(100, True), frame_side(100, False, start=51_300))
    update = BookUpdate(ts_ms=1, symbol="XRPUSDT", bids=venue_book.bid_side,
                        asks=venue_book.ask_side, normalised=True)
    engine_book = OrderBook("XRPUSDT")
    assert engine_book.apply(update)
    assert engine_book.best_bid is venue_book.best_bid  # converted once, for both books
    assert engine_book.bids is venue_book.bids
    assert update.bids == venue_book.bids and update.bids[0] == venue_book.bids[0]
    for ts, normalised in ((2, False), (3, True)):  # the wrong side's one: read as raw levels
        asks_as_bids = BookUpdate(ts_ms=ts, symbol="XRPUSDT", bids=venue_book.ask_side,
                                  asks=(), normalised=normalised)
        assert engine_book.apply(asks_as_bids)
        assert engine_book.bids == normalise_side(venue_book.asks, bids=True)
        assert type(engine_book.bids) is tuple
