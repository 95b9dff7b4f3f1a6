"""What every strategy takes and returns.

A strategy is a pure function of a `MarketSnapshot` (book, inventory, clock, optional estimates)
and its frozen parameters, returning a `QuoteSet` of `DesiredQuote`s. It never talks to the venue:
the order manager alone decides which orders to place, keep or cancel, spending the scarce order
budget (Bitrue: 100 order-endpoint requests per 60 s per user) by `priority`.

Every `DesiredQuote` is exchange-ready: the price is on the tick (bids rounded down, asks up, by
`Instrument.round_price`), the quantity on the step, and it never crosses the opposite best price
of the book the strategy saw (Bitrue has no post-only order type).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol, runtime_checkable

from liquidity_bot.domain.order import Side
from liquidity_bot.domain.slot_init import slot_init

__all__ = [
    "BookLike",
    "DesiredQuote",
    "InstrumentLike",
    "Inventory",
    "MarketEstimates",
    "MarketSnapshot",
    "QuoteSet",
    "Side",
    "Strategy",
    "TopOfBook",
    "depth_within",
    "top_of_book",
]

_BUY = Side.BUY  # a module global is cheaper to look up than an Enum member
_ONE, _HUNDRED = Decimal(1), Decimal(100)  # an int operand is converted on every operation

CRITICAL_PRIORITY_LIMIT = 100
"""Priorities below this mark obligation-critical levels; the rest start at this value."""


class InstrumentLike(Protocol):
    """The part of `domain.instrument.Instrument` strategies use (rounding lives there only)."""

    symbol: str
    tick: Decimal
    step: Decimal
    min_qty: Decimal
    max_qty: Decimal | None
    min_val: Decimal

    def round_price(self, price: Decimal, side: Side) -> Decimal: ...

    def round_qty(self, qty: Decimal) -> Decimal: ...

    def check(
        self, side: Side, price: Decimal, qty: Decimal, last_price: Decimal | None = None
    ) -> Sequence[object]: ...


class BookLike(Protocol):
    """The part of `domain.book.OrderBook` strategies use; see `top_of_book`."""

    @property
    def best_bid(self) -> object: ...

    @property
    def best_ask(self) -> object: ...


@slot_init
@dataclass(frozen=True, slots=True)
class TopOfBook:
    """Best prices and quantities; None on an empty side."""

    bid: Decimal | None
    bid_qty: Decimal | None
    ask: Decimal | None
    ask_qty: Decimal | None

    @property
    def mid(self) -> Decimal | None:
        if self.bid is None or self.ask is None:
            return None
        return (self.bid + self.ask) / 2


def _price_qty(level: object) -> tuple[Decimal | None, Decimal | None]:
    if level is None:
        return None, None
    if isinstance(level, Decimal):
        return level, None
    if isinstance(level, tuple | list):
        return level[0], (level[1] if len(level) > 1 else None)
    price = getattr(level, "price", None)
    return price, getattr(level, "qty", None)


def top_of_book(book: object) -> TopOfBook:
    """Read best bid/ask from the domain book (attributes, methods or level tuples alike)."""
    if isinstance(book, TopOfBook):
        return book
    sides = []
    for name in ("best_bid", "best_ask"):
        value = getattr(book, name)
        if callable(value):
            value = value()
        sides.append(_price_qty(value))
    (bid, bid_qty), (ask, ask_qty) = sides
    return TopOfBook(bid=bid, bid_qty=bid_qty, ask=ask, ask_qty=ask_qty)


@slot_init
@dataclass(frozen=True, slots=True)
class Inventory:
    """What this market may quote with, free + locked in our own orders of this market.

    Locked amounts count because the order manager cancels or replaces our own orders to realise
    the new quote set; balances locked elsewhere must not be included.
    """

    base: Decimal
    quote: Decimal

    def base_share(self, mid: Decimal) -> Decimal | None:
        """Base value / total value at `mid`; None when the portfolio is empty."""
        total = self.base * mid + self.quote
        if total <= 0:
            return None
        return self.base * mid / total


@slot_init
@dataclass(frozen=True, slots=True)
class MarketEstimates:
    """Online estimates used by Avellaneda-Stoikov (floats: model parameters, not money).

    Units: `sigma_pct` is the volatility of mid in percent per sqrt(second); `a` is the arrival
    rate of market orders reaching the mid (per second); `kappa` the decay of that rate per
    percent of distance from mid: lambda(delta) = a * exp(-kappa * delta_pct).
    """

    sigma_pct: float
    a: float
    kappa: float
    sigma_warm: bool = False
    intensity_warm: bool = False
    a_bid: float | None = None
    """Per side (None: the pooled `a` / `kappa`): market sells reaching our bid side ..."""
    kappa_bid: float | None = None
    a_ask: float | None = None
    """... and market buys reaching our ask side; each side is fitted from its own trades."""
    kappa_ask: float | None = None
    bid_trades: int = 0
    """Trades in the estimation window per side (how much evidence the fit has)."""
    ask_trades: int = 0

    def side(self, side: Side) -> tuple[float, float]:
        """(A, kappa) of one side, the pooled values where that side has none."""
        if side == _BUY:
            a, kappa = self.a_bid, self.kappa_bid
        else:
            a, kappa = self.a_ask, self.kappa_ask
        return (self.a if a is None else a, self.kappa if kappa is None else kappa)


@slot_init
@dataclass(frozen=True, slots=True)
class MarketSnapshot:
    """Everything a strategy may look at; it must not look at anything else."""

    book: object
    inventory: Inventory
    now_ms: int
    estimates: MarketEstimates | None = None
    last_price: Decimal | None = None
    """Last trade price, for the exchange's percent-price band; None if unknown."""
    reference_price: Decimal | None = None
    """Fallback centre when the book has no mid (one-sided or empty)."""


@slot_init
@dataclass(frozen=True, slots=True)
class DesiredQuote:
    """One order the strategy wants resting. Lower `priority` = more important."""

    side: Side
    price: Decimal
    qty: Decimal
    priority: int
    level: int
    obligation_critical: bool

    @property
    def notional(self) -> Decimal:
        return self.price * self.qty


@dataclass(frozen=True, slots=True)
class QuoteSet:
    """The desired book of one market at one instant, plus why it may fall short."""

    symbol: str
    now_ms: int
    bids: tuple[DesiredQuote, ...] = ()
    asks: tuple[DesiredQuote, ...] = ()
    mid: Decimal | None = None
    warnings: tuple[str, ...] = ()
    diagnostics: dict[str, Decimal] = field(default_factory=dict, hash=False)

    @property
    def quotes(self) -> tuple[DesiredQuote, ...]:
        """All quotes, most important first."""
        return tuple(sorted(self.bids + self.asks, key=lambda q: (q.priority, q.side, q.level)))

    @property
    def best_bid(self) -> Decimal | None:
        return max((q.price for q in self.bids), default=None)

    @property
    def best_ask(self) -> Decimal | None:
        return min((q.price for q in self.asks), default=None)

    def spread_pct(self) -> Decimal | None:
        """Our own spread in percent of mid."""
        if self.mid is None or self.best_bid is None or self.best_ask is None:
            return None
        return (self.best_ask - self.best_bid) / self.mid * 100

    def depth_within(self, side: Side, band_pct: Decimal = Decimal(2)) -> Decimal:
        """Our quote-currency depth on `side` within +-band_pct of mid, edges inclusive."""
        if self.mid is None:
            return Decimal(0)
        return depth_within(self.bids if side == _BUY else self.asks, side, self.mid, band_pct)


def depth_within(
    quotes: Sequence[DesiredQuote], side: Side, mid: Decimal, band_pct: Decimal = Decimal(2)
) -> Decimal:
    """Quote-currency depth of one side's `quotes` within +-band_pct of `mid`, edges inclusive
    (`QuoteSet.depth_within` before the quote set exists: shaping checks the obligations)."""
    total = Decimal(0)
    if side == _BUY:
        edge = mid * (_ONE - band_pct / _HUNDRED)
        for q in quotes:
            if q.price >= edge:
                total += q.price * q.qty  # q.notional without the property call
    else:
        edge = mid * (_ONE + band_pct / _HUNDRED)
        for q in quotes:
            if q.price <= edge:
                total += q.price * q.qty
    return total


@runtime_checkable
class Strategy(Protocol):
    """A pure quoting policy: same snapshot in, same quotes out."""

    name: str

    def quote(self, snapshot: MarketSnapshot) -> QuoteSet: ...
