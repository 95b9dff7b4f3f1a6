"""Snapshots the matching core hands out: orders, fills, trades, balances and events.

All are frozen: a snapshot never changes after it is made; the engine keeps its own mutable
state and makes a new snapshot for every change. The engine builds them with ``fast_factory``
(positional, no per-field ``object.__setattr__``), about three times cheaper than the frozen
dataclass ``__init__``: snapshot creation dominated the matching hot path.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from decimal import Decimal
from typing import Any, Literal, TypeVar

Side = Literal["BUY", "SELL"]
OrderType = Literal["LIMIT", "MARKET"]
OrderStatus = Literal["NEW", "PARTIALLY_FILLED", "FILLED", "CANCELED", "REJECTED"]
ChangeReason = Literal["NEW", "TRADE", "CANCELED_BY_USER", "CANCELED_BY_ENGINE"]

OPEN_STATUSES = frozenset({"NEW", "PARTIALLY_FILLED"})


@dataclass(frozen=True)
class Account:
    """An account's trading terms (commission rates are fractions: 0.002 = 0.2 %)."""

    account_id: int
    maker_commission: Decimal
    taker_commission: Decimal


@dataclass(frozen=True)
class Order:
    """One order as the exchange sees it at one moment."""

    order_id: int
    client_order_id: str
    account_id: int
    symbol: str
    side: Side
    type: OrderType
    price: Decimal
    orig_qty: Decimal
    executed_qty: Decimal
    cummulative_quote_qty: Decimal
    status: OrderStatus
    time: int
    update_time: int

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


@dataclass(frozen=True)
class Fill:
    """One account's side of one trade (what GET /api/v2/myTrades lists)."""

    trade_id: int
    order_id: int
    client_order_id: str
    account_id: int
    symbol: str
    side: Side
    price: Decimal
    qty: Decimal
    quote_qty: Decimal
    commission: Decimal
    commission_asset: str
    is_maker: bool
    time: int


@dataclass(frozen=True)
class PublicTrade:
    """A trade as the public sees it (GET /api/v1/trades)."""

    trade_id: int
    symbol: str
    price: Decimal
    qty: Decimal
    quote_qty: Decimal
    time: int
    is_buyer_maker: bool


@dataclass(frozen=True)
class Balance:
    asset: str
    free: Decimal
    locked: Decimal


@dataclass(frozen=True)
class OrderChanged:
    """An order was created, traded or cancelled; ``fill`` is set when reason is TRADE."""

    order: Order
    fill: Fill | None
    reason: ChangeReason


@dataclass(frozen=True)
class BalanceChanged:
    account_id: int
    asset: str
    free: Decimal
    locked: Decimal
    free_delta: Decimal
    locked_delta: Decimal
    time: int


@dataclass(frozen=True)
class BookChanged:
    """The book of ``symbol`` changed (depth pushes are snapshots, so no diff is carried)."""

    symbol: str
    time: int


@dataclass(frozen=True)
class TradeHappened:
    trade: PublicTrade


_T = TypeVar("_T")


def fast_factory(cls: type[_T]) -> Callable[..., _T]:
    """A positional constructor for a frozen, non-slots dataclass that skips its __init__.

    The result is an ordinary instance (equal, hashable, frozen, ``dataclasses.replace``-able);
    only the construction is cheaper. Arguments are the fields in declaration order.
    """
    names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
    args = ", ".join(names)
    body = ", ".join(f"{n!r}: {n}" for n in names)
    namespace: dict[str, Any] = {"_new": object.__new__, "_set": object.__setattr__, "_cls": cls}
    exec(  # noqa: S102 - generated from the dataclass's own field names only
        f"def make({args}):\n"
        f"    obj = _new(_cls)\n"
        f"    _set(obj, '__dict__', {{{body}}})\n"
        f"    return obj\n",
        namespace,
    )
    make = namespace["make"]
    make.__doc__ = f"Build a {cls.__name__} positionally (fast path of the matching engine)."
    return make


new_order = fast_factory(Order)
new_fill = fast_factory(Fill)
new_public_trade = fast_factory(PublicTrade)
new_order_changed = fast_factory(OrderChanged)
new_balance_changed = fast_factory(BalanceChanged)
new_book_changed = fast_factory(BookChanged)
new_trade_happened = fast_factory(TradeHappened)
