"""``FakeVenue``: the venue port in memory, for unit tests of the engine (no exchange, no wire)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

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
from liquidity_bot.venues.common.fanout import Broadcast
from liquidity_bot.venues.errors import UnknownOutcome
from liquidity_bot.venues.port import (
    AssetBalance,
    Capabilities,
    OrderRateLimit,
    OrderSnapshot,
    OrderStatus,
)


class FakeVenue:
    """Orders rest until cancelled; ``lose_answers`` executes a place but raises UnknownOutcome.

    ``book`` holds every order by client id, ``requests`` every (kind, client id) asked for.
    ``push_book``/``push_order``/``push_balance`` feed the streams as an exchange would.
    """

    name = "fake"
    capabilities = Capabilities()
    order_rate_limit = OrderRateLimit(requests=100, window_s=60.0)

    def __init__(self, symbol: str = "XRPUSDT", *,
                 instruments: dict[str, Instrument] | None = None,
                 balances: dict[str, AssetBalance] | None = None) -> None:
        self.symbol = symbol
        self.book: dict[str, OrderSnapshot] = {}
        self.requests: list[tuple[str, str]] = []
        self.next_id = 100
        self.lose_answers = 0
        self.refused_symbols: dict[str, str] = {}
        self.fills: list[Fill] = []
        self.started = False
        self._instruments = dict(instruments or {})
        self._balances = dict(balances or {})
        self._books: Broadcast[BookUpdate] = Broadcast()
        self._orders: Broadcast[OrderMessage] = Broadcast()
        self._balance_changes: Broadcast[BalanceChange] = Broadcast()

    # --- lifecycle and state ---------------------------------------------------------------
    async def start(self) -> None:
        self.started = True

    async def stop(self) -> None:
        self.started = False

    async def instruments(self) -> dict[str, Instrument]:
        return dict(self._instruments)

    async def balances(self) -> dict[str, AssetBalance]:
        return dict(self._balances)

    async def initial_book(self, symbol: str) -> BookUpdate | None:
        return None

    # --- orders ----------------------------------------------------------------------------
    def rest(self, cid: str, side: Side, price: str, qty: str, symbol: str | None = None) -> None:
        """Put an order on the book as if placed (e.g. one of an earlier run)."""
        self.next_id += 1
        self.book[cid] = OrderSnapshot(
            symbol=symbol or self.symbol, client_order_id=cid,
            exchange_order_id=str(self.next_id), side=side, order_type="LIMIT",
            price=Decimal(price), qty=Decimal(qty), filled_qty=Decimal(0),
            filled_quote=Decimal(0), status=OrderStatus.NEW,
        )

    async def place(self, symbol: str, side: Side, qty: Decimal, price: Decimal | None,
                    client_order_id: str, *, order_type: str = "LIMIT") -> OrderAck:
        self.requests.append(("place", client_order_id))
        assert client_order_id not in self.book, "a client order id was sent twice"
        self.rest(client_order_id, side, str(price), str(qty), symbol)
        if self.lose_answers:
            self.lose_answers -= 1
            raise UnknownOutcome("POST order: HTTP 503, outcome unknown")
        return OrderAck(ts_ms=1, symbol=symbol, client_order_id=client_order_id,
                        exchange_order_id=self.book[client_order_id].exchange_order_id)

    async def cancel(self, symbol: str, *, client_order_id: str | None = None,
                     exchange_order_id: str | None = None) -> CancelAck | CancelReject:
        cid = client_order_id or self._cid_of(exchange_order_id) or ""
        self.requests.append(("cancel", cid))
        snap = self.book.get(cid)
        if snap is None or snap.status != OrderStatus.NEW:
            return CancelReject(ts_ms=1, symbol=symbol, client_order_id=cid, code=None,
                                reason="not found")
        self.book[cid] = self.with_status(snap, OrderStatus.CANCELED)
        return CancelAck(ts_ms=1, symbol=symbol, client_order_id=cid,
                         exchange_order_id=snap.exchange_order_id)

    async def query(self, symbol: str, *, client_order_id: str | None = None,
                    exchange_order_id: str | None = None) -> OrderSnapshot | None:
        cid = client_order_id or self._cid_of(exchange_order_id) or ""
        self.requests.append(("query", cid))
        return self.book.get(cid)

    async def open_orders(self, symbol: str) -> list[OrderSnapshot]:
        return [s for s in self.book.values() if s.symbol == symbol and s.is_open]

    async def fills_since(self, symbol: str, from_trade_id: int | None = None) -> list[Fill]:
        return [f for f in self.fills if f.symbol == symbol
                and (from_trade_id is None or int(f.trade_id) >= from_trade_id)]

    def _cid_of(self, exchange_order_id: str | None) -> str | None:
        for cid, snap in self.book.items():
            if exchange_order_id is not None and snap.exchange_order_id == exchange_order_id:
                return cid
        return None

    @staticmethod
    def with_status(snap: OrderSnapshot, status: OrderStatus) -> OrderSnapshot:
        return msgspec.structs.replace(snap, status=status)

    def places(self) -> int:
        return sum(1 for kind, _ in self.requests if kind == "place")

    def cancels(self) -> int:
        return sum(1 for kind, _ in self.requests if kind == "cancel")

    # --- streams ---------------------------------------------------------------------------
    def push_book(self, update: BookUpdate) -> None:
        self._books.publish(update)

    def push_order(self, message: OrderMessage) -> None:
        if isinstance(message, Fill):
            self.fills.append(message)
        self._orders.publish(message)

    def push_balance(self, change: BalanceChange) -> None:
        self._balance_changes.publish(change)

    def book_events(self) -> AsyncIterator[BookUpdate]:
        return self._books.subscribe()

    def order_events(self) -> AsyncIterator[OrderMessage]:
        return self._orders.subscribe()

    def balance_events(self) -> AsyncIterator[BalanceChange]:
        return self._balance_changes.subscribe()


async def fill_events(venue: object) -> AsyncIterator[Fill]:
    """Only the fills of ``venue``'s order stream (each trade id once, as the port promises)."""
    async for message in venue.order_events():  # type: ignore[attr-defined]
        if isinstance(message, Fill):
            yield message
