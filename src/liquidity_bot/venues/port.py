"""The venue port: everything the engine needs from an exchange, live, on paper or in backtests.

The engine (order manager, risk gate, reporting) talks only to this Protocol; the Bitrue
adapter (``venues/bitrue/venue.py``), the in-process simulator and later other exchanges
implement it. Events are the domain's immutable messages (``liquidity_bot.domain.events``).

Semantics every adapter keeps:
- ``place``/``cancel`` raise ``UnknownOutcome`` when the exchange's answer is missing: the
  order may or may not exist. Resolve with ``query(client_order_id=...)``, never by assuming.
- a cancel the exchange refuses (already filled, unknown) returns ``CancelReject``, not an
  exception: it is a normal race in market making.
- fills are delivered exactly once per trade id across the stream and REST fallbacks.
- errors are those of ``liquidity_bot.venues.errors`` (the adapter maps its exchange's onto them).

What differs between exchanges is declared, never probed: ``capabilities`` names the optional
extras a venue offers (each with its own small protocol below), ``order_rate_limit`` is the
exchange's limit on order requests that the engine's budget plans within, and
``refused_symbols`` the configured symbols the venue found it cannot trade.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Protocol, runtime_checkable

import msgspec

from liquidity_bot.domain.events import (
    BalanceChange,
    BookUpdate,
    CancelAck,
    CancelReject,
    Fill,
    OrderAck,
    OrderMessage,
)
from liquidity_bot.domain.instrument import Instrument
from liquidity_bot.domain.order import Side


class OrderStatus(StrEnum):
    """Where the exchange says an order stands (each adapter maps its own words onto these)."""

    NEW = "NEW"  # resting, nothing filled (an exchange's "pending create" too)
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    PENDING_CANCEL = "PENDING_CANCEL"  # still open: a cancel is under way
    CANCELED = "CANCELED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"  # removed by the exchange, not by a cancel of ours
    UNKNOWN = "UNKNOWN"  # the exchange said something the adapter cannot name (logged)


OPEN_STATUSES = frozenset({OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED,
                           OrderStatus.PENDING_CANCEL})


class OrderSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """An order as the exchange reports it now (answer of a query)."""

    symbol: str
    client_order_id: str | None
    exchange_order_id: str
    side: Side
    order_type: str
    price: Decimal
    qty: Decimal
    filled_qty: Decimal
    filled_quote: Decimal
    status: OrderStatus
    ts_ms: int | None = None

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class AssetBalance(msgspec.Struct, frozen=True, kw_only=True):
    asset: str  # upper case
    free: Decimal
    locked: Decimal

    @property
    def total(self) -> Decimal:
        return self.free + self.locked


@dataclass(frozen=True)
class OrderRateLimit:
    """The exchange's limit on order requests (placements and cancels) of one key: at most
    ``requests`` within any ``window_s`` seconds. The engine's ``OrderBudget`` plans within it."""

    requests: int
    window_s: float


@dataclass(frozen=True)
class Capabilities:
    """The optional extras a venue offers (as ccxt's ``has``); each names a protocol below."""

    # ``place(..., post_only=True)`` is refused by the exchange instead of taking liquidity
    # (without it the engine keeps every quote off the opposite best price itself)
    post_only: bool = False
    # ``BookListener``: books handed over synchronously as each frame is handled (latency)
    listen_books: bool = False
    # ``PacedByAddress``: order requests of an earlier process can be charged to the pacing
    # of this address (after a restart the exchange's window still holds them)
    earlier_requests: bool = False
    # order requests bind nothing to the running task (no ``asyncio.timeout``, no aiohttp
    # timer): a quoting pass may run up to its first wait before its own task exists
    # (``engine.eager.run_now``); without it the pass's task is made first (``start_now``)
    task_free_requests: bool = False


@runtime_checkable
class Venue(Protocol):
    """What the engine uses from an exchange. All methods are coroutines unless noted."""

    name: str
    capabilities: Capabilities
    order_rate_limit: OrderRateLimit
    # configured symbols the venue found it cannot trade (unknown, delisted), with the reason;
    # filled by ``start``: their markets stay idle and the others go on
    refused_symbols: dict[str, str]

    async def start(self) -> None:
        """Connect (REST session, clock, rules, streams). Idempotent."""

    async def stop(self) -> None:
        """Close streams and sessions. Never cancels orders by itself."""

    async def instruments(self) -> dict[str, Instrument]:
        """Trading rules of the configured symbols, by symbol."""

    async def place(
        self,
        symbol: str,
        side: Side,
        qty: Decimal,
        price: Decimal | None,
        client_order_id: str,
        *,
        order_type: str = "LIMIT",
    ) -> OrderAck:
        """Send a new order; returns the exchange's acknowledgement."""

    async def cancel(
        self,
        symbol: str,
        *,
        client_order_id: str | None = None,
        exchange_order_id: str | None = None,
    ) -> CancelAck | CancelReject:
        """Cancel by either id; a refused cancel is a ``CancelReject``."""

    async def query(
        self,
        symbol: str,
        *,
        client_order_id: str | None = None,
        exchange_order_id: str | None = None,
    ) -> OrderSnapshot | None:
        """The order as the exchange knows it; None when the exchange never heard of it."""

    async def open_orders(self, symbol: str) -> list[OrderSnapshot]: ...

    async def balances(self) -> dict[str, AssetBalance]: ...

    async def fills_since(self, symbol: str, from_trade_id: int | None = None) -> list[Fill]:
        """Our fills on ``symbol`` with trade id >= ``from_trade_id`` (all recent when None)."""

    async def initial_book(self, symbol: str) -> BookUpdate | None:
        """A book to start from before the first push (None when the venue has none to give:
        its stream then sends one on subscribing)."""

    def book_events(self) -> AsyncIterator[BookUpdate]:
        """Full book snapshots as they arrive (latest per symbol if the reader lags)."""

    def order_events(self) -> AsyncIterator[OrderMessage]:
        """Acks, fills, cancels, rejects and expiries of our orders, in arrival order."""

    def balance_events(self) -> AsyncIterator[BalanceChange]: ...


class BookListener(Protocol):
    """``capabilities.listen_books``: while the returned context is open, ``listener(update)``
    is called synchronously as each book is handled (no loop turn: tick-to-order latency)."""

    def listen_books(
        self, listener: Callable[[BookUpdate], None]
    ) -> contextlib.AbstractContextManager[None]: ...


class PacedByAddress(Protocol):
    """``capabilities.earlier_requests``: see ``Capabilities``."""

    # the local address this venue sends from (None: the OS's choice); keys on one address
    # share its per-IP limits, keys on different addresses each have their own
    source_address: str | None

    def note_earlier_order_requests(self, ages_s: Sequence[float], run_token: object) -> int:
        """Charge order requests sent ``ages_s`` seconds ago to this address's pacing, once per
        ``run_token`` and address (venues of one process may share an address); returns how
        many still count."""
