"""PnL and activity of one market: what the market maker earned and what it cost to be there.

Realized PnL uses the average-cost method (the convention of most exchange statements and of
Hummingbot's performance report): a buy that adds to a long position (or a sell that adds to a
short) moves the average entry price; a trade that reduces the position realizes
``(exit - average) x qty`` (sign flipped for shorts). Unrealized PnL marks the remaining
position at mid. Fees paid in the quote asset are subtracted as they are; fees paid in the base
asset are valued at the fill price; fees in any other asset (an exchange token) are listed
separately, not valued: we do not know their price.

"Against holding" answers the client's question "would I have been better off doing nothing?":
the current inventory at mid minus the starting inventory at the same mid. All Decimal.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from liquidity_bot.store import FillRecord, OrderRecord

ZERO = Decimal(0)
HUNDRED = Decimal(100)
KNOWN_QUOTES = (
    "USDT",
    "USDC",
    "FDUSD",
    "BUSD",
    "TUSD",
    "USD",
    "EUR",
    "TRY",
    "BTC",
    "ETH",
    "XRP",
    "BNB",
    "BTR",
)
CANCELLED_STATUSES = frozenset({"CANCELED", "CANCELLED"})


def split_symbol(symbol: str, quote: str | None = None) -> tuple[str, str]:
    """(base, quote) of a Bitrue symbol such as XRPUSDT; pass ``quote`` when it is unusual."""
    s = symbol.upper()
    if quote is not None:
        q = quote.upper()
        if not s.endswith(q) or s == q:
            raise ValueError(f"symbol {symbol} does not end with quote asset {quote}")
        return s[: -len(q)], q
    for q in KNOWN_QUOTES:
        if s.endswith(q) and len(s) > len(q):
            return s[: -len(q)], q
    raise ValueError(
        f"cannot tell the quote asset of {symbol}: pass it explicitly (e.g. quote='USDT')"
    )


@dataclass
class AverageCostBook:
    """Running position, average entry price and realized PnL of one market's fills."""

    base_asset: str
    quote_asset: str
    position: Decimal = ZERO  # base, positive long, negative short
    avg_price: Decimal = ZERO  # average entry of the open position
    realized: Decimal = ZERO  # quote, before fees
    fees_quote: Decimal = ZERO  # fees valued in quote (quote and base fees)
    fees_other: dict[str, Decimal] = field(default_factory=dict)
    volume_quote: Decimal = ZERO
    volume_base: Decimal = ZERO
    buys: int = 0
    sells: int = 0
    base_flow: Decimal = ZERO  # base received minus base given (fees in base included)
    quote_flow: Decimal = ZERO  # quote received minus quote paid (fees in quote included)

    def apply(
        self,
        side: str,
        price: Decimal,
        qty: Decimal,
        fee: Decimal = ZERO,
        fee_asset: str | None = None,
    ) -> None:
        if qty <= 0 or price <= 0:
            raise ValueError(f"fill must have positive price and qty, got {price} x {qty}")
        signed = qty if side.upper() == "BUY" else -qty
        if side.upper() == "BUY":
            self.buys += 1
        else:
            self.sells += 1
        self.volume_quote += price * qty
        self.volume_base += qty
        self.base_flow += signed
        self.quote_flow -= signed * price
        self._fee(price, fee, fee_asset)
        pos = self.position
        if pos == 0 or (pos > 0) == (signed > 0):  # opening or adding
            new = pos + signed
            self.avg_price = (abs(pos) * self.avg_price + qty * price) / abs(new)
            self.position = new
            return
        closing = min(qty, abs(pos))
        direction = 1 if pos > 0 else -1
        self.realized += (price - self.avg_price) * closing * direction
        self.position = pos + signed
        if self.position == 0:
            self.avg_price = ZERO
        elif (self.position > 0) != (pos > 0):  # flipped: the rest opens at this price
            self.avg_price = price

    def _fee(self, price: Decimal, fee: Decimal, fee_asset: str | None) -> None:
        if not fee:
            return
        asset = (fee_asset or self.quote_asset).upper()
        if asset == self.quote_asset:
            self.fees_quote += fee
            self.quote_flow -= fee
        elif asset == self.base_asset:
            self.fees_quote += fee * price
            self.base_flow -= fee
        else:
            self.fees_other[asset] = self.fees_other.get(asset, ZERO) + fee

    def unrealized(self, mid: Decimal | None) -> Decimal | None:
        if mid is None:
            return None
        return (mid - self.avg_price) * self.position


@dataclass(frozen=True, slots=True)
class Inventory:
    base: Decimal
    quote: Decimal

    def value(self, mid: Decimal) -> Decimal:
        return self.base * mid + self.quote


@dataclass(frozen=True, slots=True)
class PnlSummary:
    """PnL figures of one market at one mid (quote currency unless named otherwise)."""

    symbol: str
    base_asset: str
    quote_asset: str
    mid: Decimal | None
    realized: Decimal
    unrealized: Decimal | None
    fees_quote: Decimal
    fees_other: dict[str, Decimal]
    total: Decimal | None  # realized + unrealized - fees_quote
    position: Decimal
    avg_price: Decimal
    inventory: Inventory | None  # base and quote held (starting inventory plus our flows)
    inventory_value: Decimal | None
    hold_value: Decimal | None  # the starting inventory at the same mid
    vs_hold: Decimal | None
    start_known: bool = True  # False: no starting balance, inventory is the traded change only

    def to_json(self) -> dict[str, Any]:
        return {
            "mid": _s(self.mid),
            "realized": str(self.realized),
            "unrealized": _s(self.unrealized),
            "fees_quote": str(self.fees_quote),
            "fees_other": {k: str(v) for k, v in self.fees_other.items()},
            "total": _s(self.total),
            "position": str(self.position),
            "avg_price": str(self.avg_price),
            "inventory_base": None if self.inventory is None else str(self.inventory.base),
            "inventory_quote": None if self.inventory is None else str(self.inventory.quote),
            "inventory_value": _s(self.inventory_value),
            "hold_value": _s(self.hold_value),
            "vs_hold": _s(self.vs_hold),
            "start_inventory_known": self.start_known,
        }


def _s(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def pnl_from_fills(
    symbol: str,
    fills: Iterable[FillRecord],
    mid: Decimal | None,
    start: Inventory | None = None,
    quote_asset: str | None = None,
) -> tuple[PnlSummary, AverageCostBook]:
    """Replay ``fills`` (time order) and mark at ``mid``.

    ``start`` is the inventory at the beginning of the period (from balance snapshots); without
    it the inventory figures are those of the trading alone (starting from zero).
    """
    base, quote = split_symbol(symbol, quote_asset)
    book = AverageCostBook(base, quote)
    for f in fills:
        book.apply(f.side, f.price, f.qty, f.fee, f.fee_asset)
    unrealized = book.unrealized(mid)
    total = None if unrealized is None else book.realized + unrealized - book.fees_quote
    origin = start or Inventory(ZERO, ZERO)
    inventory = Inventory(origin.base + book.base_flow, origin.quote + book.quote_flow)
    inv_value = hold = vs = None
    if mid is not None:
        inv_value = inventory.value(mid)
        hold = origin.value(mid)
        vs = inv_value - hold
    summary = PnlSummary(
        symbol=symbol,
        base_asset=base,
        quote_asset=quote,
        mid=mid,
        realized=book.realized,
        unrealized=unrealized,
        fees_quote=book.fees_quote,
        fees_other=dict(book.fees_other),
        total=total,
        position=book.position,
        avg_price=book.avg_price,
        inventory=inventory,
        inventory_value=inv_value,
        hold_value=hold,
        vs_hold=vs,
        start_known=start is not None,
    )
    return summary, book


@dataclass(frozen=True, slots=True)
class Activity:
    """How busy the market maker was, and how much of the order budget it used."""

    orders_sent: int
    orders_cancelled: int
    orders_filled: int  # orders with at least one fill
    fill_ratio: Decimal | None  # orders_filled / orders_sent
    volume_quote: Decimal
    volume_base: Decimal
    trades: int
    requests: int  # order-endpoint requests (placements + cancel requests)
    peak_requests_per_min: int
    budget_limit_per_min: int
    budget_peak_use_pct: Decimal | None

    def to_json(self) -> dict[str, Any]:
        return {
            "orders_sent": self.orders_sent,
            "orders_cancelled": self.orders_cancelled,
            "orders_filled": self.orders_filled,
            "fill_ratio": _s(self.fill_ratio),
            "volume_quote": str(self.volume_quote),
            "volume_base": str(self.volume_base),
            "trades": self.trades,
            "requests": self.requests,
            "peak_requests_per_min": self.peak_requests_per_min,
            "budget_limit_per_min": self.budget_limit_per_min,
            "budget_peak_use_pct": _s(self.budget_peak_use_pct),
        }


def peak_in_window(times_ms: Sequence[int], window_ms: int = 60_000) -> int:
    """The largest number of events in any sliding window of ``window_ms``."""
    ts = sorted(times_ms)
    best = lo = 0
    for hi, t in enumerate(ts):
        while t - ts[lo] >= window_ms:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def activity(
    orders: Sequence[OrderRecord],
    fills: Sequence[FillRecord],
    cancel_request_times_ms: Sequence[int] = (),
    budget_limit_per_min: int = 100,
) -> Activity:
    """Activity of one market over a period (``orders`` created in it, ``fills`` in it).

    Order-budget use is measured the way Bitrue counts: every placement and every cancel request
    in a sliding 60 s window; ``budget_peak_use_pct`` is the busiest minute against the limit.
    """
    sent = len(orders)
    cancelled = sum(1 for o in orders if o.status.upper() in CANCELLED_STATUSES)
    filled = sum(1 for o in orders if o.filled_qty > 0)
    request_times = [o.created_ms for o in orders] + list(cancel_request_times_ms)
    peak = peak_in_window(request_times)
    return Activity(
        orders_sent=sent,
        orders_cancelled=cancelled,
        orders_filled=filled,
        fill_ratio=None if not sent else Decimal(filled) / Decimal(sent),
        volume_quote=sum((f.price * f.qty for f in fills), ZERO),
        volume_base=sum((f.qty for f in fills), ZERO),
        trades=len(fills),
        requests=len(request_times),
        peak_requests_per_min=peak,
        budget_limit_per_min=budget_limit_per_min,
        budget_peak_use_pct=None
        if not budget_limit_per_min
        else Decimal(peak) * HUNDRED / Decimal(budget_limit_per_min),
    )
