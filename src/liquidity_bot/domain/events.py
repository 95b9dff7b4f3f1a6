"""Immutable messages the venue adapters hand to the engine.

Small frozen ``msgspec.Struct`` types: cheap to build on the hot path, hashable, and directly
encodable/decodable (``msgspec.json``/``msgpack``) for the store and for replays. Every event
carries the exchange's timestamp in integer milliseconds (``ts_ms``) and the symbol it is
about, except ``BalanceChange``, which is about an asset (Bitrue reports balances per asset,
not per symbol). Money is ``Decimal``; exchange order ids are ``str`` (each exchange has its own
kind: Bitrue's are 64-bit integers that exceed 2**53, others use UUIDs), as the store keeps them.

Order messages name the ``OrderEvent`` they stand for (``order_event``), so the engine can
feed them to ``Order`` without a lookup table of its own; fills choose PARTIAL_FILL or FILL
from the quantity, which ``Order.apply_fill`` does.
"""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

import msgspec

from liquidity_bot.domain.order import OrderEvent, Side

PriceLevel = tuple[Decimal, Decimal]  # (price, quantity)


class Event(msgspec.Struct, frozen=True, kw_only=True):
    """Base: when it happened on the exchange (ms since the epoch)."""

    ts_ms: int


class BookUpdate(Event, frozen=True, kw_only=True):
    """A full L2 snapshot of the top of the book (Bitrue's depth pushes are not diffs).

    Bids best (highest) first, asks best (lowest) first. ``seq`` is the exchange's update id
    when it sends one (REST ``lastUpdateId``); the WebSocket push has only ``ts``.
    """

    symbol: str
    # Tuples (as decoded); in the process, the venue may hand over its book's own lazily
    # converted sides instead (``domain.book.BookSide``, read-only sequences of the same levels,
    # shared so that a level is converted to Decimal once, and only if someone reads that far).
    bids: tuple[PriceLevel, ...]
    asks: tuple[PriceLevel, ...]
    seq: int | None = None
    # Local receipt time of the frame that carried it (``time.perf_counter_ns``), when the
    # venue knows it: tick-to-order latency is measured from here.
    recv_ns: int | None = None
    # True when the levels are known clean (best-first, positive, one per price: taken from an
    # ``OrderBook``), so a book applying it skips checking them again.
    normalised: bool = False


class OrderAck(Event, frozen=True, kw_only=True):
    """The exchange accepted a new order."""

    order_event: ClassVar[OrderEvent] = OrderEvent.ACK
    symbol: str
    client_order_id: str
    exchange_order_id: str


class Fill(Event, frozen=True, kw_only=True):
    """One trade of one of our orders. ``trade_id`` dedupes repeated deliveries."""

    symbol: str
    client_order_id: str
    exchange_order_id: str | None
    trade_id: str
    side: Side
    price: Decimal
    qty: Decimal
    fee: Decimal = Decimal(0)
    fee_asset: str | None = None  # upper case
    is_maker: bool | None = None


class CancelAck(Event, frozen=True, kw_only=True):
    """The order is cancelled (by us or, unasked, by someone using the same account)."""

    order_event: ClassVar[OrderEvent] = OrderEvent.CANCEL_ACK
    symbol: str
    client_order_id: str
    exchange_order_id: str | None = None


class CancelReject(Event, frozen=True, kw_only=True):
    """A cancel request was refused (typically: already filled, or unknown to the exchange);
    ``code`` is the exchange's own code, for the record."""

    order_event: ClassVar[OrderEvent] = OrderEvent.CANCEL_REJECT
    symbol: str
    client_order_id: str
    code: int | None
    reason: str


class Reject(Event, frozen=True, kw_only=True):
    """A new order was refused, by the exchange (with its code) or by our risk gate."""

    order_event: ClassVar[OrderEvent] = OrderEvent.REJECT
    symbol: str
    client_order_id: str
    code: int | None
    reason: str


class Expired(Event, frozen=True, kw_only=True):
    """The matching engine removed the order (not a cancel of ours)."""

    order_event: ClassVar[OrderEvent] = OrderEvent.EXPIRE
    symbol: str
    client_order_id: str
    exchange_order_id: str | None = None


class BalanceChange(Event, frozen=True, kw_only=True):
    """An asset's balance after a change: absolute free and locked amounts."""

    asset: str  # upper case
    free: Decimal
    locked: Decimal

    @property
    def total(self) -> Decimal:
        return self.free + self.locked


OrderMessage = OrderAck | Fill | CancelAck | CancelReject | Reject | Expired
