"""The venue port over the simulator's virtual-time driver (``bitrue_sim.virtual.VirtualVenue``).

The engine talks to ``BacktestVenue`` exactly as to ``BitrueVenue``: the same calls, the same
domain events, the same exceptions (errors are mapped by the Bitrue adapter's own
``error_from_response``). What the wire would add is modelled, in simulated time:
- a request takes ``latency_ms`` (half out, half back), during which the market moves on;
- depth arrives as full snapshots of the top ``depth_levels``, at most one per
  ``push_interval_ms`` per symbol (the simulator's WebSocket does the same);
- Bitrue's documented order limit is enforced as the exchange would: more than ``order_limit``
  order requests (placements and cancels) within ``order_window_ms`` answer HTTP 429.

``BacktestMarket`` is the other face: what ``VirtualEventLoop`` needs to move time on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from decimal import Decimal

from bitrue_sim.core.markets import exchange_info_symbol
from bitrue_sim.core.model import Balance as SimBalance
from bitrue_sim.core.model import Fill as SimFill
from bitrue_sim.core.model import Order as SimOrder
from bitrue_sim.errors import ExchangeError
from bitrue_sim.virtual import BookUpdate as SimBookUpdate
from bitrue_sim.virtual import VirtualVenue
from liquidity_bot.domain.book import BookSide
from liquidity_bot.domain.events import (
    BalanceChange,
    BookUpdate,
    CancelAck,
    CancelReject,
    Expired,
    Fill,
    OrderAck,
    OrderMessage,
)
from liquidity_bot.domain.instrument import Instrument
from liquidity_bot.domain.order import Side
from liquidity_bot.venues.bitrue.errors import BitrueError, RateLimited, error_from_response
from liquidity_bot.venues.bitrue.instruments import instrument_from_exchange_info
from liquidity_bot.venues.bitrue.venue import status_of
from liquidity_bot.venues.bitrue.weights import ORDER_RATE_LIMIT
from liquidity_bot.venues.common.books import LatestBooks
from liquidity_bot.venues.common.fanout import Broadcast
from liquidity_bot.venues.errors import NotFound
from liquidity_bot.venues.port import AssetBalance, Capabilities, OrderRateLimit, OrderSnapshot

log = logging.getLogger(__name__)

BITRUE_ORDER_LIMIT = ORDER_RATE_LIMIT.requests
BITRUE_ORDER_WINDOW_MS = int(ORDER_RATE_LIMIT.window_s * 1000)


class BacktestMarket:
    """The simulated market as the virtual loop sees it: its clock, its agenda, depth pushes."""

    def __init__(self, sim: VirtualVenue, symbols: Iterable[str], *, push_interval_ms: int = 100,
                 depth_levels: int = 20) -> None:
        self.sim = sim
        self.symbols = frozenset(s.upper() for s in symbols)
        self.push_interval_ms = push_interval_ms
        self.depth_levels = depth_levels
        self.books = LatestBooks()
        self.pushes = 0
        # ``listen``'s listeners, and the books pushed for them until the loop's clock reads
        # the push's time (``hand_over``)
        self._listeners: list[Callable[[BookUpdate], None]] = []
        self._held: list[BookUpdate] = []
        self._due: dict[str, int] = {}
        self._last_push: dict[str, int] = {}
        # the last push's levels and sides per symbol: (bids, asks, bid side, ask side)
        self._sides: dict[str, tuple[object, object, BookSide, BookSide]] = {}
        sim.on_book(self._on_book)
        for symbol in sorted(self.symbols):  # the first snapshot, as on subscribing
            self._due[symbol] = sim.now_ms()

    def _on_book(self, update: SimBookUpdate) -> None:
        symbol = update.symbol
        if symbol in self.symbols and symbol not in self._due:
            last = self._last_push.get(symbol)
            now = self.sim.now_ms()
            self._due[symbol] = now if last is None else max(now, last + self.push_interval_ms)

    def now_ms(self) -> int:
        return self.sim.now_ms()

    def next_event_ms(self) -> int | None:
        participants = self.sim.participants
        t = None if participants is None else participants.next_event_ms()
        due = self._due
        if due:
            first_push = min(due.values())
            if t is None or first_push < t:
                return first_push
        return t

    def advance_to(self, t_ms: int) -> None:
        self.sim.run_until(t_ms)
        due = self._due
        if due:
            ready = [s for s, at in due.items() if at <= t_ms]
            if len(ready) > 1:
                ready.sort()
            for symbol in ready:
                del due[symbol]
                self._push(symbol)

    def _push(self, symbol: str) -> None:
        bids, asks = self.sim.depth_sides(symbol, self.depth_levels)
        now = self.sim.now_ms()
        self._last_push[symbol] = now
        self.pushes += 1
        # The simulator's depth is normalised already (one level per price, best first, every
        # quantity and price positive: ``tests/unit/test_backtest_harness.py`` pins it), so the
        # engine's book takes the levels as they are instead of checking them again: as
        # ``BookSide``s, the last push's again for a side the simulator gives again (the same
        # tuple: most pushes change one side), which the engine's book shares.
        last = self._sides.get(symbol)
        if last is None or last[0] is not bids:
            bid_side = BookSide.of_levels(bids, True)
        else:
            bid_side = last[2]
        if last is None or last[1] is not asks:
            ask_side = BookSide.of_levels(asks, False)
        else:
            ask_side = last[3]
        self._sides[symbol] = (bids, asks, bid_side, ask_side)
        update = BookUpdate(ts_ms=now, symbol=symbol, bids=bid_side, asks=ask_side,  # type: ignore[arg-type]
                            normalised=True)
        if self._listeners:
            self._held.append(update)
        self.books.publish_update(update)

    @contextlib.contextmanager
    def listen(self, listener: Callable[[BookUpdate], None]) -> Iterator[None]:
        """Hand ``listener`` every book as the loop's clock reaches its push (``hand_over``),
        while the block runs: the venue's ``listen_books``."""
        self._listeners.append(listener)
        try:
            yield
        finally:
            self._listeners.remove(listener)

    def hand_over(self, first: bool) -> None:
        """Called by ``VirtualEventLoop.advance`` once its clock reads the time the market was
        moved to: the books pushed meanwhile go to the listeners. ``first``: nothing else
        would run before them in the loop's next turn (no callback ready, no timer due), so
        they are handed over in this call, as the book pump's task would have been woken
        first; else each goes behind what is ready, where that task's wake-up would be."""
        held = self._held
        if not held:
            return
        self._held = []
        listeners = tuple(self._listeners)
        if not first:
            call_soon = asyncio.get_running_loop().call_soon
            for update in held:
                for listener in listeners:
                    call_soon(listener, update)
            return
        for update in held:
            for listener in listeners:
                try:
                    listener(update)
                except Exception:  # as ``LatestBooks``: the market must not die of a reader
                    log.exception("a book listener failed on %s", update.symbol)


def _sim_id(exchange_order_id: str | None) -> int | None:
    return None if exchange_order_id is None else int(exchange_order_id)


def _snapshot(o: SimOrder) -> OrderSnapshot:
    return OrderSnapshot(
        symbol=o.symbol,
        client_order_id=o.client_order_id or None,
        exchange_order_id=str(o.order_id),
        side=Side.parse(o.side),
        order_type=o.type,
        price=o.price,
        qty=o.orig_qty,
        filled_qty=o.executed_qty,
        filled_quote=o.cummulative_quote_qty,
        status=status_of(o.status),
        ts_ms=o.update_time or o.time,
    )


def _fill(f: SimFill) -> Fill:
    return Fill(
        ts_ms=f.time,
        symbol=f.symbol,
        client_order_id=f.client_order_id or "",
        exchange_order_id=str(f.order_id),
        trade_id=str(f.trade_id),
        side=Side.parse(f.side),
        price=f.price,
        qty=f.qty,
        fee=f.commission,
        fee_asset=f.commission_asset.upper() if f.commission_asset else None,
        is_maker=f.is_maker,
    )


class BacktestVenue:
    """The ``Venue`` port over one account of a ``VirtualVenue`` (see the module docstring)."""

    name = "backtest"
    # its requests are sleeps of simulated latency, bound to no task; books are handed to the
    # engine as they are pushed (as the Bitrue venue does as each frame is handled)
    capabilities = Capabilities(task_free_requests=True, listen_books=True)

    def __init__(
        self,
        market: BacktestMarket,
        account_id: int,
        *,
        latency_ms: int = 40,
        order_limit: int = BITRUE_ORDER_LIMIT,
        order_window_ms: int = BITRUE_ORDER_WINDOW_MS,
    ) -> None:
        self.market = market
        self.sim = market.sim
        self.account_id = account_id
        self.latency_s = latency_ms / 2000.0  # each way
        self.order_limit = order_limit
        self.order_window_ms = order_window_ms
        self.order_rate_limit = OrderRateLimit(order_limit, order_window_ms / 1000)
        self.refused_symbols: dict[str, str] = {}
        self._orders_out: Broadcast[OrderMessage] = Broadcast()
        self._balances_out: Broadcast[BalanceChange] = Broadcast()
        self._window: deque[int] = deque()  # accepted order requests within the last window
        # Counted, not listed: a simulated day must not keep every request time.
        self.order_requests = 0  # accepted order-endpoint requests
        self.max_in_window = 0  # most accepted order requests seen within one window
        self.rate_limited = 0
        self.requests = 0
        self.sim.on_order(self._on_order)
        self.sim.on_fill(self._on_fill)
        self.sim.on_balance(self._on_balance)

    # --- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def instruments(self) -> dict[str, Instrument]:
        markets = self.sim.exchange.markets
        out = {}
        for symbol in sorted(self.market.symbols):
            out[symbol] = instrument_from_exchange_info(exchange_info_symbol(markets[symbol]))
        return out

    # --- the wire ----------------------------------------------------------------------------
    async def _travel(self) -> None:
        if self.latency_s > 0:
            await asyncio.sleep(self.latency_s)

    def _error(self, exc: ExchangeError, action: str, mutating: bool) -> BitrueError:
        return error_from_response(
            http_status=exc.http_status, code=exc.code, msg=exc.msg, headers=exc.headers,
            action=action, mutating=mutating, now_ms=self.sim.now_ms(),
        )

    def _order_request(self, action: str) -> None:
        """Bitrue's per-user order limit, counted at arrival as the exchange counts it."""
        now = self.sim.now_ms()
        window = self._window
        while window and window[0] <= now - self.order_window_ms:
            window.popleft()
        if len(window) >= self.order_limit:
            self.rate_limited += 1
            raise RateLimited(
                f"{action}: Bitrue answered HTTP 429 (order limit {self.order_limit} per "
                f"{self.order_window_ms // 1000} s): back off.",
                policy="order", http_status=429,
            )
        window.append(now)
        self.order_requests += 1
        if len(window) > self.max_in_window:
            self.max_in_window = len(window)

    # --- orders ------------------------------------------------------------------------------
    async def place(self, symbol: str, side: Side, qty: Decimal, price: Decimal | None,
                    client_order_id: str, *, order_type: str = "LIMIT") -> OrderAck:
        await self._travel()
        self.requests += 1
        symbol = symbol.upper()
        self._order_request("POST order")
        try:
            order = self.sim.place_order(
                self.account_id, symbol, Side.parse(side).value, order_type, qty, price,
                client_order_id=client_order_id)
        except ExchangeError as exc:
            error = self._error(exc, "POST order", True)
            await self._travel()
            raise error from None
        await self._travel()
        return OrderAck(ts_ms=order.time, symbol=symbol, client_order_id=order.client_order_id,
                        exchange_order_id=str(order.order_id))

    async def cancel(self, symbol: str, *, client_order_id: str | None = None,
                     exchange_order_id: str | None = None) -> CancelAck | CancelReject:
        await self._travel()
        self.requests += 1
        symbol = symbol.upper()
        self._order_request("DELETE order")
        try:
            order = self.sim.cancel_order(self.account_id, symbol, order_id=_sim_id(exchange_order_id),
                                          client_order_id=client_order_id)
        except ExchangeError as exc:
            error = self._error(exc, "DELETE order", True)
            await self._travel()
            if isinstance(error, NotFound):
                return CancelReject(ts_ms=self.sim.now_ms(), symbol=symbol,
                                    client_order_id=client_order_id or "", code=error.code,
                                    reason="order not found or already finished")
            raise error from None
        await self._travel()
        return CancelAck(ts_ms=self.sim.now_ms(), symbol=symbol,
                         client_order_id=order.client_order_id,
                         exchange_order_id=str(order.order_id))

    async def query(self, symbol: str, *, client_order_id: str | None = None,
                    exchange_order_id: str | None = None) -> OrderSnapshot | None:
        await self._travel()
        self.requests += 1
        try:
            order = self.sim.get_order(self.account_id, symbol.upper(),
                                       order_id=_sim_id(exchange_order_id),
                                       client_order_id=client_order_id)
        except ExchangeError as exc:
            error = self._error(exc, "GET order", False)
            await self._travel()
            if isinstance(error, NotFound):
                return None
            raise error from None
        await self._travel()
        return _snapshot(order)

    async def open_orders(self, symbol: str) -> list[OrderSnapshot]:
        await self._travel()
        self.requests += 1
        orders = [_snapshot(o) for o in self.sim.open_orders(self.account_id, symbol.upper())]
        await self._travel()
        return orders

    async def balances(self) -> dict[str, AssetBalance]:
        await self._travel()
        self.requests += 1
        out = {a.upper(): AssetBalance(asset=a.upper(), free=b.free, locked=b.locked)
               for a, b in self.sim.balances(self.account_id).items()}
        await self._travel()
        return out

    async def fills_since(self, symbol: str, from_trade_id: int | None = None) -> list[Fill]:
        await self._travel()
        self.requests += 1
        fills = [_fill(f) for f in self.sim.fills(self.account_id, symbol.upper(),
                                                  from_id=from_trade_id)]
        await self._travel()
        return fills

    async def initial_book(self, symbol: str) -> BookUpdate | None:
        return None  # the market pushes every symbol's first snapshot at once

    # --- streams -----------------------------------------------------------------------------
    def book_events(self) -> AsyncIterator[BookUpdate]:
        return self.market.books.subscribe()

    def listen_books(
        self, listener: Callable[[BookUpdate], None]
    ) -> contextlib.AbstractContextManager[None]:
        """``listener`` is called with every book once the loop's clock reads its push time
        (no task to wake: ``BacktestMarket.hand_over``), while the returned context is open."""
        return self.market.listen(listener)

    def order_events(self) -> AsyncIterator[OrderMessage]:
        return self._orders_out.subscribe()

    def balance_events(self) -> AsyncIterator[BalanceChange]:
        return self._balances_out.subscribe()

    # --- the user stream, from the simulator's callbacks ---------------------------------------
    def _on_order(self, order: SimOrder, reason: str) -> None:
        if order.account_id != self.account_id or order.symbol not in self.market.symbols:
            return
        now = self.sim.now_ms()
        cid = order.client_order_id or ""
        if reason == "NEW" and order.status != "REJECTED":
            self._orders_out.publish(OrderAck(ts_ms=order.time, symbol=order.symbol,
                                              client_order_id=cid,
                                              exchange_order_id=str(order.order_id)))
        elif reason == "CANCELED_BY_USER":
            self._orders_out.publish(CancelAck(ts_ms=now, symbol=order.symbol,
                                               client_order_id=cid,
                                               exchange_order_id=str(order.order_id)))
        elif reason == "CANCELED_BY_ENGINE":
            self._orders_out.publish(Expired(ts_ms=now, symbol=order.symbol, client_order_id=cid,
                                             exchange_order_id=str(order.order_id)))

    def _on_fill(self, fill: SimFill) -> None:
        if fill.account_id != self.account_id or fill.symbol not in self.market.symbols:
            return
        event = _fill(fill)
        self._orders_out.publish(event)

    def _on_balance(self, account_id: int, balance: SimBalance) -> None:
        if account_id != self.account_id:
            return
        self._balances_out.publish(BalanceChange(ts_ms=self.sim.now_ms(),
                                                 asset=balance.asset.upper(), free=balance.free,
                                                 locked=balance.locked))

    # --- read-outs -----------------------------------------------------------------------------
    def max_order_requests_in_window(self) -> int:
        """Most accepted order requests the exchange saw within one limit window."""
        return self.max_in_window
