"""An L2 order book fed with full snapshots, and the metrics quoting and KPIs need.

Bitrue's depth channel pushes the whole top of the book every time, never diffs, so applying
an update is replacing both sides. That is the hot path (the connector's target is ~20,000
snapshots of 100 levels a second), and most snapshots are replaced before anyone reads
them. So ``apply_snapshot`` is O(1): it keeps a reference to the levels it was given.
Reading a side normalises it into best-first ``(Decimal price, Decimal qty)`` levels:
zero-quantity levels are dropped, strings and ints become Decimal (floats are refused: money
never goes through float), and a side that is not already best-first is sorted, with repeated
prices merged. Inputs must therefore not be mutated after they are handed over; ``BookUpdate``
carries tuples, which cannot be.

The quoting path reads only the top of each side, so a side of exchange text is checked on
the text (``_clean_text_columns``: one price format, strictly best-first, every quantity
positive) and converted to Decimal only as far as it is read (``BookSide``); ``bids``/``asks``
convert the rest. A side the text check cannot vouch for takes ``normalise_side``, so results
and errors are the same either way.

Empty and one-sided books are normal (thin markets, a side pulled): every metric returns None
when it cannot be computed, never raises.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from decimal import Decimal
from itertools import islice, repeat
from operator import gt, itemgetter, lt

from liquidity_bot.domain.events import BookUpdate, PriceLevel

_BPS = Decimal(10_000)
_HUNDRED = Decimal(100)
_TWO = Decimal(2)
_ZERO = Decimal(0)


_ACCEPTED_TYPES = frozenset({Decimal, str, int})
_price_of = itemgetter(0)
_qty_of = itemgetter(1)


def _to_decimal(value: object) -> Decimal:
    if isinstance(value, (Decimal, str)) or type(value) is int:
        return Decimal(value)
    raise TypeError(
        f"book level value {value!r} ({type(value).__name__}) must be Decimal, str or int; "
        "money never goes through float: decode depth with Decimal (msgspec, parse_float)"
    )


def normalise_side(levels: Sequence[Sequence[object]], bids: bool) -> tuple[PriceLevel, ...]:
    """Best-first tuple of (price, qty) Decimals without empty levels (see module docstring).

    Fast path (the normal case: clean, already best-first): column-wise checks that run in C.
    Anything else goes through ``_normalise_slowly``.
    """
    if not levels:
        return ()
    prices = list(map(_price_of, levels))
    qtys = list(map(_qty_of, levels))
    kinds = set(map(type, prices))
    kinds.update(map(type, qtys))
    if kinds != {Decimal}:
        if not kinds <= _ACCEPTED_TYPES:
            bad = next(v for v in (*prices, *qtys) if type(v) not in _ACCEPTED_TYPES)
            _to_decimal(bad)  # raises the explanatory TypeError
        # Only Decimal, str and int are left: the constructor is exact for all three.
        prices = list(map(Decimal, prices))
        qtys = list(map(Decimal, qtys))
    better = gt if bids else lt
    if min(qtys) > 0 and all(map(better, prices, islice(prices, 1, None))):
        worst = prices[-1] if bids else prices[0]  # the lowest price, the side being sorted
        if not worst > 0:
            raise ValueError(f"book level with non-positive price {worst}")
        return tuple(zip(prices, qtys, strict=True))
    return _normalise_slowly(prices, qtys, bids)


def _normalise_slowly(
    prices: list[Decimal], qtys: list[Decimal], bids: bool
) -> tuple[PriceLevel, ...]:
    """Drop empty levels, merge repeated prices, sort best-first."""
    merged: dict[Decimal, Decimal] = {}
    for price, qty in zip(prices, qtys, strict=True):
        if not qty > 0:  # zero means "level gone"
            continue
        if not price > 0:
            raise ValueError(f"book level with non-positive price {price} (qty {qty})")
        merged[price] = merged.get(price, _ZERO) + qty
    return tuple(sorted(merged.items(), reverse=bids))


# Plain decimal text, as bytes of a column joined with ",": digits, the point, the separator.
_PLAIN_TEXT = b"0123456789.,"
_DIGITS = b"0123456789"
_ZEROS = b"0."  # a value made of these alone is zero (or empty)
_NONZERO_AS_ONE = bytes.maketrans(b"123456789", b"111111111")


def _clean_text_columns(
    levels: Sequence[Sequence[object]], bids: bool, clean_prices: list[str] | None = None
) -> tuple[list[str], list[str]] | None:
    """The price and quantity text columns when the text alone proves the side clean, else None.

    Clean means ``normalise_side`` would return it unchanged (strictly best-first, every price
    and quantity positive), so converting level by level gives exactly its result. Proved
    without Decimal (and never float) for the exchange's own format: prices plain ASCII digits
    with one number of decimals (then string order is numeric order, see
    ``_in_numeric_string_order``), and quantities ASCII digits with at most one '.' and some
    digit 1-9 (then valid and positive). Ints, Decimals, mixed scales ("9.99" and "10.000"),
    signs, exponents, spaces and anything else get None, and the caller takes
    ``normalise_side``. Whole columns are checked at once (joined text, C-speed string
    operations): ~10-15 us for 100 levels.

    ``clean_prices``: a price column this check passed before (on the same side). Every check
    of the prices depends on their text alone, so a column of exact ``str`` equal to it passes
    them again: only the quantities are checked (a book's prices often stay put from one
    snapshot to the next while quantities change).
    """
    try:
        count = len(levels)
        if not count or type(levels[0][0]) is not str:
            return None  # Decimal levels (REST, replays) go straight to normalise_side
    except Exception:  # noqa: BLE001 - normalise_side raises it again, as it always did
        return None
    prices = list(map(_price_of, levels))  # extracted as normalise_side does: the same errors
    qtys = list(map(_qty_of, levels))
    if list(map(type, prices)).count(str) != count:  # (a str subclass compares its own way)
        return None
    separators = count - 1
    try:
        qty_bytes = ",".join(qtys).encode("ascii")
        # None: a price column checked before (the quantities are left)
        price_bytes = None if prices == clean_prices else ",".join(prices).encode("ascii")
    except (TypeError, UnicodeEncodeError):  # a quantity that is not text, or not ASCII
        return None
    if price_bytes is None:
        if qty_bytes.translate(None, _PLAIN_TEXT) or qty_bytes.count(b",") != separators:
            return None
    else:
        if (price_bytes + b"," + qty_bytes).translate(None, _PLAIN_TEXT):
            return None  # a sign, an exponent, a space, ...
        if price_bytes.count(b",") != separators or qty_bytes.count(b",") != separators:
            return None  # a "," inside a value
        order = _in_numeric_string_order(prices, price_bytes, count)
        if order is None:
            return None
        if not all(map(gt if bids else lt, order, islice(order, 1, None))):
            return None  # not strictly best-first
        worst = prices[-1] if bids else prices[0]
        if not worst.strip("0."):
            return None  # zero (normalise_side raises for it), or no digit at all: "." or ""
    # The quantities' text (plain, one value per separator) proves each one valid and
    # positive: without digits, two points meet if one has two; without zeros and points,
    # two separators meet if one is zero or empty.
    if b".." in qty_bytes.translate(None, _DIGITS):
        return None
    if b",," in (b"," + qty_bytes + b",").translate(None, _ZEROS):
        return None
    return prices, qtys


def _in_numeric_string_order(prices: list[str], price_bytes: bytes, count: int) -> list[str] | None:
    """The prices as strings that compare as their numbers do, or None if they cannot be.

    ``prices`` are exact str of digits and '.', joined with "," in ``price_bytes``. When all
    are as long as each other with the point in one place, they are themselves. When lengths
    differ (a side across a power of ten: "9.999" and "10.000"), right-aligned copies (padded
    with " ", below every digit) are, if every point is as far from the end and every integer
    part is plain: no leading zero ("09.5" would pass for more than "9.55"), not empty (".5"
    would pass for less than "0.4").
    """
    stride, uneven = divmod(len(price_bytes) + 1, count)
    if uneven or price_bytes[stride - 1::stride] != b"," * (count - 1):
        starts = (b"," + price_bytes).translate(_NONZERO_AS_ONE)  # each value after a ","
        if b",." in starts or b",00" in starts or b",01" in starts:
            return None  # ".5", or a leading zero: "09.5"
        width = max(map(len, prices))
        prices = list(map(str.rjust, prices, repeat(width)))
        price_bytes = ",".join(prices).encode()
        stride = width + 1
    point = price_bytes.find(b".", 0, stride - 1)
    if point < 0:
        if b"." in price_bytes:
            return None
    elif price_bytes.count(b".") != count or price_bytes[point::stride] != b"." * count:
        return None
    return prices


class BookSide(Sequence[PriceLevel]):
    """One side of a snapshot, best-first, converted to Decimal only as far as it is read.

    Every read gives exactly what ``normalise_side(raw, bids)`` would (and raises what it
    would); ``levels`` is the whole side as a tuple. Nothing changes it once made, so books
    (and ``BookUpdate``s) can share one and convert each level once.
    """

    __slots__ = ("is_bids", "_raw", "_prices", "_qtys", "_read", "_levels", "_memo")

    def __init__(self, raw: Sequence[Sequence[object]], bids: bool,
                 memo: list[list[str] | None] | None = None):
        self.is_bids = bids
        self._raw = raw
        # the book's note of the last price column the text check passed on this side
        self._memo = memo
        self._prices: list[str] = []  # the text columns, once the text check vouched for them
        self._qtys: list[str] = []
        self._read: list[PriceLevel] = []  # the levels converted so far: a prefix of the side
        self._levels: tuple[PriceLevel, ...] | None = None  # the whole side, when known

    @classmethod
    def of_levels(cls, levels: tuple[PriceLevel, ...], bids: bool) -> BookSide:
        """A side that is already normalised (taken as it is, not checked again)."""
        side = cls((), bids)
        side._levels = levels
        return side

    def _known_levels(self) -> tuple[PriceLevel, ...] | None:
        """The whole side when it is a tuple already; None when the text check vouched for it."""
        if self._levels is None and not self._prices:
            memo = self._memo
            columns = _clean_text_columns(self._raw, self.is_bids,
                                          None if memo is None else memo[0])
            if columns is None:
                self._levels = normalise_side(self._raw, bids=self.is_bids)  # or raises
            else:
                self._prices, self._qtys = columns
                if memo is not None:
                    memo[0] = columns[0]
            self._raw = ()
        return self._levels

    def _read_to(self, count: int) -> list[PriceLevel]:
        read = self._read
        done = len(read)
        if count > done:
            prices = map(Decimal, self._prices[done:count])
            read.extend(zip(prices, map(Decimal, self._qtys[done:count]), strict=True))
        return read

    @property
    def levels(self) -> tuple[PriceLevel, ...]:
        """The whole side (converted on first use, then cached)."""
        levels = self._levels
        if levels is None:
            if self._prices:  # the text check vouched: convert the rest
                levels = self._levels = tuple(self._read_to(len(self._prices)))
            else:  # nothing read yet: the text check would only add to the conversion
                levels = self._levels = normalise_side(self._raw, bids=self.is_bids)
                self._raw = ()
        return levels

    @property
    def best(self) -> PriceLevel | None:
        """The best level, or None for an empty side."""
        read = self._read
        if read:
            return read[0]
        levels = self._known_levels()
        if levels is None:  # the text check vouched for a non-empty side: convert its first
            read.append((Decimal(self._prices[0]), Decimal(self._qtys[0])))
            return read[0]
        return levels[0] if levels else None

    def top(self, count: int) -> tuple[PriceLevel, ...]:
        """The best ``count`` levels (all of them if the side is shorter): ``levels[:count]``."""
        levels = self._known_levels()
        if levels is None and count >= 0:
            return tuple(self._read_to(count)[:count])
        return self.levels[:count]

    def __iter__(self) -> Iterator[PriceLevel]:
        levels = self._known_levels()  # checked now, as reading ``levels`` would be
        return iter(levels) if levels is not None else self._iter_read()

    def _iter_read(self) -> Iterator[PriceLevel]:
        """Converting ahead in doubling batches: C-speed ``map``, at most twice what is read."""
        read = self._read
        for index in range(len(self._prices)):
            if index == len(read):
                self._read_to(2 * index + 2)
            yield read[index]

    def __len__(self) -> int:
        levels = self._known_levels()
        return len(self._prices) if levels is None else len(levels)

    def __getitem__(self, index):  # type: ignore[override]
        if type(index) is int and index >= 0 and self._known_levels() is None:
            if index < len(self._prices):
                return self._read_to(index + 1)[index]
        elif type(index) is slice and index.start in (None, 0) and index.step in (None, 1):
            if type(index.stop) is int:
                return self.top(index.stop)
        return self.levels[index]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, BookSide):
            return self.levels == other.levels
        if isinstance(other, tuple):
            return self.levels == other
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.levels)

    def __repr__(self) -> str:
        return f"BookSide({'bids' if self.is_bids else 'asks'}, {self.levels!r})"


_NO_BIDS = BookSide.of_levels((), bids=True)
_NO_ASKS = BookSide.of_levels((), bids=False)


# "not read yet in this snapshot" (None is a real answer: an empty side, or no mid)
_UNREAD: object = object()


class OrderBook:
    """The latest full snapshot of one symbol's book, with lazily normalised sides.

    The best levels and the mid are read many times per snapshot (the runner, the estimator,
    the risk gate's feed, the order manager's safe prices, the KPI sample): each is computed
    once per snapshot, on first read, and kept until the next snapshot replaces the book."""

    __slots__ = (
        "symbol", "ts_ms", "seq", "updates", "_raw_bids", "_raw_asks", "_bid_side", "_ask_side",
        "_best_bid", "_best_ask", "_mid", "_bid_memo", "_ask_memo",
    )

    def __init__(self, symbol: str):
        self.symbol = symbol
        self.ts_ms: int | None = None  # exchange time of the snapshot in use
        self.seq: int | None = None  # exchange update id, when the source has one
        self.updates = 0  # snapshots applied (stale ones not counted)
        self._raw_bids: Sequence[Sequence[object]] = ()
        self._raw_asks: Sequence[Sequence[object]] = ()
        # None: the raw levels have not been looked at yet (most snapshots never are).
        self._bid_side: BookSide | None = _NO_BIDS
        self._ask_side: BookSide | None = _NO_ASKS
        self._best_bid: PriceLevel | None | object = None  # _UNREAD once a snapshot is in
        self._best_ask: PriceLevel | None | object = None
        self._mid: Decimal | None | object = None
        # the last price column of each side the text check passed (see ``BookSide``)
        self._bid_memo: list[list[str] | None] = [None]
        self._ask_memo: list[list[str] | None] = [None]

    # --- feeding -------------------------------------------------------------------------------
    def apply_snapshot(
        self,
        bids: Sequence[Sequence[object]],
        asks: Sequence[Sequence[object]],
        ts_ms: int,
        seq: int | None = None,
    ) -> bool:
        """Replace the book. Returns False (and keeps the current book) for a stale snapshot.

        Stale means an update id lower than or equal to the current one when both have ids,
        otherwise an older timestamp (equal timestamps are accepted: several pushes can share
        a millisecond, and the later arrival is the newer book).
        """
        if seq is not None and self.seq is not None:
            if seq <= self.seq:
                return False
        elif self.ts_ms is not None and ts_ms < self.ts_ms:
            return False
        self._raw_bids = bids
        self._raw_asks = asks
        self._bid_side = None
        self._ask_side = None
        self._best_bid = self._best_ask = self._mid = _UNREAD
        self.ts_ms = ts_ms
        self.seq = seq
        self.updates += 1
        return True

    def apply(self, update: BookUpdate) -> bool:
        """``apply_snapshot`` for a ``BookUpdate`` event of this symbol.

        Sides that are ``BookSide``s are shared (each level is converted once, by whichever
        book reads it first); normalised tuples are taken as they are.
        """
        if update.symbol != self.symbol:
            raise ValueError(f"book for {self.symbol} was given an update for {update.symbol}")
        bids, asks = update.bids, update.asks
        if not self.apply_snapshot(bids, asks, update.ts_ms, update.seq):
            return False
        # A side that is a ``BookSide`` is shared (the other side's one is checked like any
        # raw levels); a normalised tuple is taken as it is; raw levels are read later.
        if type(bids) is BookSide:
            if bids.is_bids:
                self._bid_side, self._raw_bids = bids, ()
                levels = bids._levels  # a side whose levels are known: its best is read here
                if levels is not None:
                    self._best_bid = levels[0] if levels else None
        elif update.normalised:
            self._bid_side, self._raw_bids = BookSide.of_levels(bids, True), ()  # type: ignore[arg-type]
        if type(asks) is BookSide:
            if not asks.is_bids:
                self._ask_side, self._raw_asks = asks, ()
                levels = asks._levels
                if levels is not None:
                    self._best_ask = levels[0] if levels else None
        elif update.normalised:
            self._ask_side, self._raw_asks = BookSide.of_levels(asks, False), ()  # type: ignore[arg-type]
        return True

    # --- levels --------------------------------------------------------------------------------
    @property
    def bid_side(self) -> BookSide:
        """The bids as a ``BookSide``: read the top (``best``, ``top(n)``, iterating) cheaply."""
        side = self._bid_side
        if side is None:
            side = self._bid_side = BookSide(self._raw_bids, bids=True, memo=self._bid_memo)
            self._raw_bids = ()
        return side

    @property
    def ask_side(self) -> BookSide:
        """The asks as a ``BookSide`` (see ``bid_side``)."""
        side = self._ask_side
        if side is None:
            side = self._ask_side = BookSide(self._raw_asks, bids=False, memo=self._ask_memo)
            self._raw_asks = ()
        return side

    @property
    def bids(self) -> tuple[PriceLevel, ...]:
        """Bid levels, highest price first (all of them: converted on first access)."""
        return self.bid_side.levels

    @property
    def asks(self) -> tuple[PriceLevel, ...]:
        """Ask levels, lowest price first (all of them: converted on first access)."""
        return self.ask_side.levels

    @property
    def best_bid(self) -> PriceLevel | None:
        best = self._best_bid
        if best is _UNREAD:  # (a side that raises is not cached: it raises again)
            side = self._bid_side  # (the shared side, or None: ``bid_side`` makes it)
            best = self._best_bid = (self.bid_side if side is None else side).best
        return best  # type: ignore[return-value]

    @property
    def best_ask(self) -> PriceLevel | None:
        best = self._best_ask
        if best is _UNREAD:
            side = self._ask_side  # (the shared side, or None: ``ask_side`` makes it)
            best = self._best_ask = (self.ask_side if side is None else side).best
        return best  # type: ignore[return-value]

    @property
    def is_empty(self) -> bool:
        return self.best_bid is None and self.best_ask is None

    @property
    def is_two_sided(self) -> bool:
        return self.best_bid is not None and self.best_ask is not None

    @property
    def is_crossed(self) -> bool:
        """Best bid at or above best ask: a stale or broken feed, never quote into it."""
        bid, ask = self.best_bid, self.best_ask
        return bid is not None and ask is not None and bid[0] >= ask[0]

    # --- metrics -------------------------------------------------------------------------------
    @property
    def mid(self) -> Decimal | None:
        mid = self._mid
        if mid is _UNREAD:
            bid, ask = self.best_bid, self.best_ask
            mid = self._mid = None if bid is None or ask is None else (bid[0] + ask[0]) / _TWO
        return mid  # type: ignore[return-value]

    @property
    def microprice(self) -> Decimal | None:
        """Size-weighted mid: leans towards the side with less size (the likelier next move).

        ``(bid * ask_qty + ask * bid_qty) / (bid_qty + ask_qty)`` over the best levels.
        """
        bid, ask = self.best_bid, self.best_ask
        if bid is None or ask is None:
            return None
        return (bid[0] * ask[1] + ask[0] * bid[1]) / (bid[1] + ask[1])

    @property
    def spread(self) -> Decimal | None:
        """Best ask minus best bid (negative if the book is crossed)."""
        bid, ask = self.best_bid, self.best_ask
        if bid is None or ask is None:
            return None
        return ask[0] - bid[0]

    @property
    def spread_bps(self) -> Decimal | None:
        """Spread relative to the mid, in basis points: ``(ask - bid) / mid * 10_000``."""
        bid, ask = self.best_bid, self.best_ask
        if bid is None or ask is None:
            return None
        mid = (bid[0] + ask[0]) / _TWO
        if mid <= 0:
            return None
        return (ask[0] - bid[0]) / mid * _BPS

    def depth_quote(self, pct: Decimal | int) -> tuple[Decimal, Decimal] | None:
        """Quote-currency size (sum of price x qty) per side within ``pct`` % of the mid.

        Edges are inclusive: a bid counts when ``price >= mid * (1 - pct/100)``, an ask when
        ``price <= mid * (1 + pct/100)``. Returns ``(bid_depth, ask_depth)``, or None when
        there is no mid (empty or one-sided book) because the band is defined by the mid.
        """
        if isinstance(pct, float) or not isinstance(pct, (Decimal, int)):
            raise TypeError(f"pct must be a Decimal or int percentage, got {pct!r}")
        if pct < 0:
            raise ValueError(f"pct must not be negative, got {pct}")
        mid = self.mid
        if mid is None:
            return None
        fraction = Decimal(pct) / _HUNDRED
        low = mid * (1 - fraction)
        high = mid * (1 + fraction)
        bid_depth = _ZERO
        for price, qty in self.bid_side:  # converted only as far as the band reaches
            if price < low:
                break
            bid_depth += price * qty
        ask_depth = _ZERO
        for price, qty in self.ask_side:
            if price > high:
                break
            ask_depth += price * qty
        return bid_depth, ask_depth

    def __repr__(self) -> str:
        return (
            f"OrderBook({self.symbol}, ts_ms={self.ts_ms}, seq={self.seq}, "
            f"bid={self.best_bid}, ask={self.best_ask})"
        )
