"""An L2 order book fed with full snapshots, and the metrics quoting and KPIs need.

Bitrue's depth channel pushes the whole top of the book every time, never diffs, so applying
an update is replacing both sides. That is the hot path (the connector's target is ~20,000
snapshots of 100 levels a second), and most snapshots are replaced before anyone reads
them. So ``apply_snapshot`` is O(1): it keeps a reference to the levels it was given.
The first read after a snapshot normalises both sides once into sorted tuples of
``(Decimal price, Decimal qty)`` and caches them: zero-quantity levels are dropped, strings and
ints become Decimal (floats are refused: money never goes through float), and a side that is
not already best-first is sorted, with repeated prices merged. Inputs must therefore not be
mutated after they are handed over; ``BookUpdate`` carries tuples, which cannot be.

Empty and one-sided books are normal (thin markets, a side pulled): every metric returns None
when it cannot be computed, never raises.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from itertools import islice
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


class OrderBook:
    """The latest full snapshot of one symbol's book, with lazily normalised sides."""

    __slots__ = ("symbol", "ts_ms", "seq", "updates", "_raw_bids", "_raw_asks", "_bids", "_asks")

    def __init__(self, symbol: str):
        self.symbol = symbol
        self.ts_ms: int | None = None  # exchange time of the snapshot in use
        self.seq: int | None = None  # exchange update id, when the source has one
        self.updates = 0  # snapshots applied (stale ones not counted)
        self._raw_bids: Sequence[Sequence[object]] = ()
        self._raw_asks: Sequence[Sequence[object]] = ()
        self._bids: tuple[PriceLevel, ...] | None = ()
        self._asks: tuple[PriceLevel, ...] | None = ()

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
        self._bids = None
        self._asks = None
        self.ts_ms = ts_ms
        self.seq = seq
        self.updates += 1
        return True

    def apply(self, update: BookUpdate) -> bool:
        """``apply_snapshot`` for a ``BookUpdate`` event of this symbol."""
        if update.symbol != self.symbol:
            raise ValueError(f"book for {self.symbol} was given an update for {update.symbol}")
        if not self.apply_snapshot(update.bids, update.asks, update.ts_ms, update.seq):
            return False
        if update.normalised:
            self._bids, self._asks = update.bids, update.asks
            self._raw_bids = self._raw_asks = ()
        return True

    # --- levels --------------------------------------------------------------------------------
    @property
    def bids(self) -> tuple[PriceLevel, ...]:
        """Bid levels, highest price first."""
        if self._bids is None:
            self._bids = normalise_side(self._raw_bids, bids=True)
            self._raw_bids = ()
        return self._bids

    @property
    def asks(self) -> tuple[PriceLevel, ...]:
        """Ask levels, lowest price first."""
        if self._asks is None:
            self._asks = normalise_side(self._raw_asks, bids=False)
            self._raw_asks = ()
        return self._asks

    @property
    def best_bid(self) -> PriceLevel | None:
        bids = self.bids
        return bids[0] if bids else None

    @property
    def best_ask(self) -> PriceLevel | None:
        asks = self.asks
        return asks[0] if asks else None

    @property
    def is_empty(self) -> bool:
        return not self.bids and not self.asks

    @property
    def is_two_sided(self) -> bool:
        return bool(self.bids) and bool(self.asks)

    @property
    def is_crossed(self) -> bool:
        """Best bid at or above best ask: a stale or broken feed, never quote into it."""
        bid, ask = self.best_bid, self.best_ask
        return bid is not None and ask is not None and bid[0] >= ask[0]

    # --- metrics -------------------------------------------------------------------------------
    @property
    def mid(self) -> Decimal | None:
        bid, ask = self.best_bid, self.best_ask
        if bid is None or ask is None:
            return None
        return (bid[0] + ask[0]) / _TWO

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
        for price, qty in self.bids:
            if price < low:
                break
            bid_depth += price * qty
        ask_depth = _ZERO
        for price, qty in self.asks:
            if price > high:
                break
            ask_depth += price * qty
        return bid_depth, ask_depth

    def __repr__(self) -> str:
        return (
            f"OrderBook({self.symbol}, ts_ms={self.ts_ms}, seq={self.seq}, "
            f"bid={self.best_bid}, ask={self.best_ask})"
        )
