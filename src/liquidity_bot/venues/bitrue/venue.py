"""``BitrueVenue``: the venue port over Bitrue's REST API and its two WebSocket streams.

A symbol Bitrue does not list, or answers ``-1121 invalid symbol`` for, is refused at start
(``refused_symbols`` says why) and the others go on; only when no symbol is left does ``start``
fail. Order and fill events come from the user stream; when that stream is down or silent the venue
polls REST (open orders, order status, ``/api/v2/myTrades``) instead. Every fill passes one
de-duplication gate keyed by (symbol, trade id), so a fill seen on both paths counts once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import weakref
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from decimal import Decimal
from functools import partial

import aiohttp

from liquidity_bot.domain.book import OrderBook
from liquidity_bot.domain.events import (
    BalanceChange,
    BookUpdate,
    CancelAck,
    CancelReject,
    Expired,
    Fill,
    OrderAck,
    OrderMessage,
    Reject,
)
from liquidity_bot.domain.instrument import Instrument
from liquidity_bot.domain.order import Side
from liquidity_bot.venues.common.books import LatestBooks
from liquidity_bot.venues.common.fallback import fallback_loop
from liquidity_bot.venues.common.fanout import Broadcast
from liquidity_bot.venues.common.orders import FillGate, TrackedOrder, TrackedOrders
from liquidity_bot.venues.port import AssetBalance, Capabilities, OrderSnapshot, OrderStatus

from . import models as m
from .errors import BadRequest, BitrueError, ExchangeUnavailable, OrderNotFound
from .instruments import instrument_from_exchange_info
from .market_stream import MarketStream
from .rest import BitrueRestClient
from .urls import BitrueUrls
from .user_stream import UserStream
from .weights import ORDER_RATE_LIMIT, ORDERS

log = logging.getLogger(__name__)



def _update_of(book: OrderBook, recv_ns: int | None) -> BookUpdate:
    return BookUpdate(
        ts_ms=book.ts_ms or 0,
        symbol=book.symbol,
        bids=book.bid_side,  # shared, converted only as far as a reader reads
        asks=book.ask_side,
        seq=book.seq,
        recv_ns=recv_ns,
        normalised=True,
    )


_FINAL = ("FILLED", "CANCELED", "REJECTED", "EXPIRED")
INVALID_SYMBOL = -1121


# address governor -> the run (``run_token``) whose earlier requests it was last charged with
_CHARGED: weakref.WeakKeyDictionary[object, object] = weakref.WeakKeyDictionary()


def _text(order_id: int | None) -> str | None:
    """Bitrue's integer order id as the port's text id."""
    return None if order_id is None else str(order_id)


def _order_id(exchange_order_id: str | None) -> int | None:
    """The port's text id as Bitrue's integer order id (refused when it is not one)."""
    if exchange_order_id is None:
        return None
    try:
        return int(exchange_order_id)
    except ValueError:
        raise BadRequest(f"{exchange_order_id!r} is not a Bitrue order id (digits)") from None


def _as_int(value: object, default: int = -1) -> int:
    try:
        return int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return default


class BitrueVenue:
    """The Bitrue adapter of the venue port (see ``liquidity_bot.venues.port.Venue``)."""

    name = "bitrue"
    # no post-only order on Bitrue: the engine keeps quotes off the opposite best itself
    # (task-free: ``lean_http`` times requests with its own watchdog, never the caller's task)
    capabilities = Capabilities(post_only=False, listen_books=True, earlier_requests=True,
                                task_free_requests=True)
    order_rate_limit = ORDER_RATE_LIMIT

    def __init__(
        self,
        urls: BitrueUrls,
        api_key: str,
        secret: str,
        symbols: Iterable[str],
        *,
        source_address: str | None = None,
        recv_window: int = 5000,
        rest: BitrueRestClient | None = None,
        market_stale_after_s: float = 30.0,
        user_silence_s: float = 30.0,
        poll_interval_s: float = 5.0,
        listen_key_keepalive_s: float = 30 * 60,
        user_pong_every_s: float = 5 * 60,
        streams: bool = True,
        keep_warm: bool = True,
    ) -> None:
        self.urls = urls
        self.keep_warm = keep_warm
        self.symbols = [s.upper() for s in symbols]
        # A venue that built its REST client may rebuild it after ``stop()`` (a closed client
        # cannot reopen), so ``start()`` works again; a client passed in is the caller's.
        self._new_rest: Callable[[], BitrueRestClient] | None = None
        if rest is None:

            def new_rest() -> BitrueRestClient:
                return BitrueRestClient(
                    urls, api_key, secret, source_address=source_address, recv_window=recv_window
                )

            self._new_rest = new_rest
        self.rest = rest or new_rest()
        self._rest_closed = False
        self._books = LatestBooks()
        self._orders_out: Broadcast[OrderMessage] = Broadcast()
        self._balances_out: Broadcast[BalanceChange] = Broadcast()
        self.market = MarketStream(
            urls,
            self.symbols,
            rest=self.rest,
            on_book=self._on_book,
            stale_after_s=market_stale_after_s,
            source_address=source_address,
        )
        self.user = UserStream(
            self.rest,
            urls,
            on_order=self._on_order_update,
            on_balance=self._on_balance_update,
            keepalive_s=listen_key_keepalive_s,
            pong_every_s=user_pong_every_s,
            source_address=source_address,
        )
        self.streams = streams
        self.user_silence_s = user_silence_s
        self.poll_interval_s = poll_interval_s
        self._tracked: TrackedOrders[int] = TrackedOrders()
        self._fills = FillGate()
        self._last_balance: dict[str, tuple[Decimal, Decimal]] = {}
        self._poll_task: asyncio.Task[None] | None = None
        self._warm_task: asyncio.Task[None] | None = None
        self._instruments: dict[str, Instrument] | None = None
        # symbol -> why it cannot trade (unknown or delisted): its market stays idle
        self.refused_symbols: dict[str, str] = {}
        self.fallback_polls = 0
        self.stream_fill_messages = 0  # fill pushes seen on the user stream (dupes included)
        self.fills_from_stream = 0
        self.fills_from_rest = 0
        self._started = False
        self.first_connect_s = 10.0  # over TLS: how long start waits for each stream

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Connect: REST session, clock, rules, balances, trade cursors, streams, fallback poll.

        Retryable: a failure undoes what was started (the REST session stays open for the next
        attempt) and leaves the venue not started; ``start()`` after ``stop()`` works too.
        """
        if self._started:
            return
        if self._rest_closed:
            self._renew_rest()
        try:
            await self.rest.__aenter__()
            await self.rest.sync_clock()
            info = await self.rest.exchange_info()  # tunes the rate governor
            listed = {i.symbol.upper() for i in info.symbols}
            for symbol in list(self.symbols):
                if listed and symbol not in listed:
                    self._refuse(symbol, f"Bitrue does not list {symbol} (unknown or delisted)")
            await self.balances()  # seeds the last-known balances for partial stream entries
            for symbol in list(self.symbols):  # fills that happened before we started are history
                try:
                    trades = await self.rest.my_trades(symbol, limit=1)
                except BadRequest as exc:
                    if exc.code != INVALID_SYMBOL:
                        raise
                    self._refuse(symbol, f"Bitrue refused {symbol} as an invalid symbol "
                                         f"({exc.code})")
                    continue
                if trades:
                    self._fills.last_trade_id[symbol] = max(t.id for t in trades)
            if not self.symbols:
                raise BadRequest(
                    "no configured symbol can trade: " + "; ".join(self.refused_symbols.values())
                    + ". Check the symbol names in the config against Bitrue's markets.",
                    code=INVALID_SYMBOL,
                )
            if self.streams:
                await self.market.start()
                await self.user.start()
                if self.urls.uses_tls:
                    # a rejected certificate fails the start here, not in a silent retry loop
                    # of the stream tasks (the REST host passing says nothing of the WS hosts)
                    await self.market.wait_connected(self.first_connect_s)
                    await self.user.wait_connected(self.first_connect_s)
            self._poll_task = asyncio.get_running_loop().create_task(
                self._fallback_loop(), name="bitrue-fallback"
            )
            if self.keep_warm:
                self._warm_task = asyncio.get_running_loop().create_task(
                    self._keep_warm_loop(), name="bitrue-keep-warm"
                )
        except aiohttp.ClientError as exc:  # the engine knows only the venue's errors
            await self._halt()
            raise ExchangeUnavailable(
                f"Bitrue start: no usable answer ({type(exc).__name__}); retry later."
            ) from exc
        except BaseException:
            await self._halt()
            raise
        self._started = True

    def _refuse(self, symbol: str, why: str) -> None:
        """Leave ``symbol`` out of everything this venue does; the other symbols go on."""
        log.error("%s: %s; its market stays idle, the others go on", symbol, why)
        self.refused_symbols[symbol] = why + ": check the symbol name in the config"
        self.symbols.remove(symbol)
        self.market.drop(symbol)

    def _renew_rest(self) -> None:
        if self._new_rest is None:
            raise RuntimeError(
                "this venue's REST client was passed in and is closed: pass a new client"
            )
        self.rest = self._new_rest()
        self.market.rest = self.rest
        self.user.rest = self.rest
        self._rest_closed = False

    async def _halt(self) -> None:
        """Stop the fallback poll and the streams (each step even if another fails)."""
        for task in (self._poll_task, self._warm_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self._poll_task = self._warm_task = None
        with contextlib.suppress(Exception):
            await self.market.stop()
        with contextlib.suppress(Exception):
            await self.user.stop()

    async def stop(self) -> None:
        await self._halt()
        await self.rest.close()
        self._rest_closed = True
        self._started = False

    async def __aenter__(self) -> BitrueVenue:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ------------------------------------------------------------------ rules and state

    async def instruments(self) -> dict[str, Instrument]:
        if self._instruments is None:
            info = json.loads(await self.rest.exchange_info_raw(), parse_float=str)
            wanted = set(self.symbols)
            self._instruments = {
                inst.symbol: inst
                for inst in (
                    instrument_from_exchange_info(entry)
                    for entry in info.get("symbols", ())
                    if str(entry.get("symbol", "")).upper() in wanted
                )
            }
            missing = wanted - set(self._instruments)
            if missing:
                raise BitrueError(
                    f"Bitrue does not list {sorted(missing)}: check the symbol names in the config."
                )
        return self._instruments

    async def balances(self) -> dict[str, AssetBalance]:
        account = await self.rest.account()
        for b in account.balances:
            self._last_balance[b.asset] = (b.free, b.locked)
        return {
            b.asset: AssetBalance(asset=b.asset, free=b.free, locked=b.locked)
            for b in account.balances
        }

    # ------------------------------------------------------------------ orders

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
        symbol = symbol.upper()
        if type(side) is not Side:  # (the engine's is one already)
            side = Side.parse(side)
        tracked = self._tracked.track(symbol, client_order_id, side)  # a push may beat the answer
        # ``side`` is a StrEnum: it is its own text (its ``.value`` is a Python-level property)
        ack = await self.rest.place_order(
            symbol, side, qty, price, order_type=order_type, client_order_id=client_order_id
        )
        if ack.orderId is not None:
            self._tracked.learn(client_order_id, ack.orderId)
        tracked.acked = True
        return OrderAck(
            ts_ms=ack.transactTime or self.rest.clock.now_ms(),
            symbol=symbol,
            client_order_id=ack.clientOrderId or client_order_id,
            exchange_order_id=_text(ack.orderId) or "",
        )

    async def cancel(
        self,
        symbol: str,
        *,
        client_order_id: str | None = None,
        exchange_order_id: str | None = None,
    ) -> CancelAck | CancelReject:
        symbol = symbol.upper()
        order_id = _order_id(exchange_order_id)
        cid = client_order_id or self._tracked.client_id_of(order_id) or ""
        try:
            ack = await self.rest.cancel_order(
                symbol, order_id=order_id, client_order_id=client_order_id
            )
        except OrderNotFound as exc:
            return CancelReject(
                ts_ms=self.rest.clock.now_ms(),
                symbol=symbol,
                client_order_id=cid,
                code=exc.code,
                reason="order not found or already finished",
            )
        return CancelAck(
            ts_ms=self.rest.clock.now_ms(),
            symbol=symbol,
            client_order_id=ack.origClientOrderId or cid,
            exchange_order_id=_text(ack.orderId),
        )

    async def query(
        self,
        symbol: str,
        *,
        client_order_id: str | None = None,
        exchange_order_id: str | None = None,
    ) -> OrderSnapshot | None:
        try:
            order = await self.rest.get_order(
                symbol.upper(), order_id=_order_id(exchange_order_id), client_order_id=client_order_id
            )
        except OrderNotFound:
            return None
        tracked = self._tracked.get(order.clientOrderId or "")
        if tracked is not None and not tracked.acked:
            # The answer to an order whose placement had an unknown outcome: it exists, so
            # the fallback may follow it from now on.
            tracked.acked = True
            self._tracked.learn(tracked.client_order_id, order.orderId)
        return _snapshot(order)

    async def open_orders(self, symbol: str) -> list[OrderSnapshot]:
        return [_snapshot(o) for o in await self.rest.open_orders(symbol.upper())]

    async def fills_since(self, symbol: str, from_trade_id: int | None = None) -> list[Fill]:
        symbol = symbol.upper()
        trades = await self.rest.my_trades(symbol, from_id=from_trade_id, limit=1000)
        return [await self._fill_from_trade(t) for t in sorted(trades, key=lambda t: t.id)]

    async def initial_book(self, symbol: str) -> BookUpdate | None:
        """The REST depth (100 levels): Bitrue's stream pushes only on change, so a quiet
        market would otherwise have no book to quote on."""
        depth = await self.rest.depth(symbol.upper(), 100)
        return BookUpdate(
            ts_ms=self.rest.clock.now_ms(),
            symbol=symbol.upper(),
            bids=tuple((lv.price, lv.qty) for lv in depth.bids),
            asks=tuple((lv.price, lv.qty) for lv in depth.asks),
        )

    @property
    def source_address(self) -> str | None:
        """The local address every request and stream of this venue goes from."""
        return self.rest.source_address

    def note_earlier_order_requests(self, ages_s: Sequence[float], run_token: object) -> int:
        """Charge an earlier process's order requests to this address's governor (once per
        ``run_token``: every key of one process shares the address's governor)."""
        parent = self.rest.governor.parent
        if parent is None or _CHARGED.get(parent) is run_token:
            return 0
        _CHARGED[parent] = run_token
        return parent.charge_past(ORDERS, ages_s)

    # ------------------------------------------------------------------ streams

    def book_events(self) -> AsyncIterator[BookUpdate]:
        return self._books.subscribe()

    def listen_books(
        self, listener: Callable[[BookUpdate], None]
    ) -> contextlib.AbstractContextManager[None]:
        """``listener`` is called with every book as its frame is handled (no loop turn in
        between: tick-to-order latency), while the returned context is open."""
        return self._books.listen(listener)

    def order_events(self) -> AsyncIterator[OrderMessage]:
        return self._orders_out.subscribe()

    def balance_events(self) -> AsyncIterator[BalanceChange]:
        return self._balances_out.subscribe()

    # ------------------------------------------------------------------ event conversion

    @property
    def duplicate_fills(self) -> int:
        """Fills seen again (stream and REST both brought them) and dropped."""
        return self._fills.duplicates

    def _on_book(self, book: OrderBook) -> None:
        recv_ns = self.market.frame_ns
        self._books.publish(book.symbol, partial(_update_of, book, recv_ns))  # (no lambda frame)

    def _emit_fill(self, fill: Fill, trade_id: int) -> bool:
        if not self._fills.admit(fill.symbol, trade_id):
            return False
        self._orders_out.publish(fill)
        return True

    def _on_order_update(self, u: m.OrderUpdate) -> None:
        symbol = (u.s or "").upper()
        cid = u.c or u.C or self._tracked.client_id_of(u.i) or ""
        tracked = self._tracked.get(cid)
        if tracked is not None and u.i is not None and tracked.order_id is None:
            self._tracked.learn(cid, u.i)
        x, status = _as_int(u.x), _as_int(u.X)
        ts = u.T or u.E or self.rest.clock.now_ms()
        side = m.side_of(u.S) if u.S is not None else (tracked.side if tracked else Side.BUY)
        if status == 0:
            self._finish(cid)
            self._orders_out.publish(
                Reject(
                    ts_ms=ts, symbol=symbol, client_order_id=cid, code=None, reason="not accepted"
                )
            )
        elif x == 1:
            if tracked is None or not tracked.acked:
                if tracked is not None:
                    tracked.acked = True
                self._orders_out.publish(
                    OrderAck(
                        ts_ms=ts, symbol=symbol, client_order_id=cid,
                        exchange_order_id=_text(u.i) or "",
                    )
                )
        elif x == 3:
            trade_id = u.t if u.t is not None else -1
            if trade_id >= 0 and u.l:
                self.stream_fill_messages += 1
                self.fills_from_stream += self._emit_fill(
                    Fill(
                        ts_ms=ts,
                        symbol=symbol,
                        client_order_id=cid,
                        exchange_order_id=_text(u.i),
                        trade_id=str(trade_id),
                        side=side,
                        price=u.L or Decimal(0),
                        qty=u.l,
                        fee=u.n or Decimal(0),
                        fee_asset=u.N,
                        is_maker=None,
                    ),
                    trade_id,
                )
            if status == 2:
                self._finish(cid)
        elif x == 2:
            self._finish(cid)
            self._orders_out.publish(
                CancelAck(ts_ms=ts, symbol=symbol, client_order_id=cid,
                          exchange_order_id=_text(u.i))
            )
        elif x == 4:
            self._finish(cid)
            self._orders_out.publish(
                Expired(ts_ms=ts, symbol=symbol, client_order_id=cid,
                        exchange_order_id=_text(u.i))
            )

    def _finish(self, cid: str) -> None:
        self._tracked.finish(cid)

    def _on_balance_update(self, u: m.BalanceUpdate) -> None:
        ts = u.E or self.rest.clock.now_ms()
        for entry in u.B:
            if entry.F is None and entry.L is None:
                continue
            # A partial entry (free only or locked only, as live sends) keeps the other side
            # at its last known value (seeded from the account at start).
            old_free, old_locked = self._last_balance.get(entry.a, (Decimal(0), Decimal(0)))
            free = entry.F if entry.F is not None else old_free
            locked = entry.L if entry.L is not None else old_locked
            self._last_balance[entry.a] = (free, locked)
            self._balances_out.publish(
                BalanceChange(
                    ts_ms=entry.T or entry.t or ts, asset=entry.a, free=free, locked=locked
                )
            )

    async def _fill_from_trade(self, t: m.Trade) -> Fill:
        cid = self._tracked.client_id_of(t.orderId)
        if cid is None:
            try:
                order = await self.rest.get_order(t.symbol, order_id=t.orderId)
                cid = order.clientOrderId or ""
            except OrderNotFound:
                cid = ""
            if cid:
                self._tracked.learn(cid, t.orderId)
        return Fill(
            ts_ms=t.time,
            symbol=t.symbol.upper(),
            client_order_id=cid or "",
            exchange_order_id=_text(t.orderId),
            trade_id=str(t.id),
            side=Side.BUY if t.isBuyer else Side.SELL,
            price=t.price,
            qty=t.qty,
            fee=t.commission,
            fee_asset=t.commissionAsset,
            is_maker=t.isMaker,
        )

    # ------------------------------------------------------------------ REST fallback

    def user_stream_healthy(self) -> bool:
        if not self.streams or not self.user.connected.is_set():
            return False
        last = self.user.last_message_at
        # A connected, quiet stream is fine while no order of ours is open.
        if self._tracked.any_open():
            return last is not None and time.monotonic() - last < self.user_silence_s
        return True

    async def _keep_warm_loop(self) -> None:
        """Keep a recently used connection in the REST pool for the next order.

        An order never goes out on a connection idle longer than the REST client's
        ``order_conn_max_idle_s`` (the server may be closing it: a write is never re-sent), so
        after a quiet spell the first order would wait for a new TCP (and TLS) connection, a
        millisecond on loopback and far more to Bitrue. A ``GET /api/v1/ping`` (weight 1) when
        nothing was sent for a while keeps one warm: at most one a few seconds, and none while
        the engine is busy anyway."""
        interval = self.rest.order_conn_max_idle_s * 0.6
        while True:
            last = self.rest.last_request_mono
            idle = interval if last is None else time.monotonic() - last
            if idle < interval:
                await asyncio.sleep(interval - idle)
                continue
            try:
                await self.rest.ping()
            except BitrueError as exc:  # the next order finds out for itself
                log.debug("bitrue keep-warm ping failed: %s", type(exc).__name__)
                await asyncio.sleep(interval)

    async def _fallback_loop(self) -> None:
        await fallback_loop(
            interval_s=self.poll_interval_s, healthy=self.user_stream_healthy,
            connects=lambda: self.user.connects, connected=self.user.connected.is_set,
            poll=self.poll_once, name="bitrue",
        )

    async def poll_once(self) -> None:
        """One REST pass: new fills from myTrades, then final states of tracked open orders."""
        self.fallback_polls += 1
        for symbol in self.symbols:
            last = self._fills.last_trade_id.get(symbol)
            trades = await self.rest.my_trades(
                symbol, from_id=None if last is None else last + 1, limit=1000
            )
            for t in sorted(trades, key=lambda t: t.id):
                if self._fills.seen(symbol, t.id):
                    self._fills.duplicates += 1
                    continue
                self.fills_from_rest += self._emit_fill(await self._fill_from_trade(t), t.id)
            open_ids = {o.clientOrderId for o in await self.rest.open_orders(symbol)}
            for tracked in self._tracked:
                if tracked.symbol != symbol or tracked.final or tracked.client_order_id in open_ids:
                    continue
                if not tracked.acked:
                    continue  # the REST answer to place() is still on its way
                await self._reconcile_closed(tracked)

    async def _reconcile_closed(self, tracked: TrackedOrder[int]) -> None:
        try:
            order = await self.rest.get_order(
                tracked.symbol, client_order_id=tracked.client_order_id
            )
        except OrderNotFound:
            return
        if order.status not in _FINAL:
            return
        tracked.final = True
        ts = order.updateTime or self.rest.clock.now_ms()
        if order.status == "CANCELED":
            self._orders_out.publish(
                CancelAck(
                    ts_ms=ts,
                    symbol=tracked.symbol,
                    client_order_id=tracked.client_order_id,
                    exchange_order_id=_text(order.orderId),
                )
            )
        elif order.status == "EXPIRED":
            self._orders_out.publish(
                Expired(
                    ts_ms=ts,
                    symbol=tracked.symbol,
                    client_order_id=tracked.client_order_id,
                    exchange_order_id=_text(order.orderId),
                )
            )
        elif order.status == "REJECTED":
            self._orders_out.publish(
                Reject(
                    ts_ms=ts,
                    symbol=tracked.symbol,
                    client_order_id=tracked.client_order_id,
                    code=None,
                    reason="rejected",
                )
            )


# Bitrue's order statuses in the port's words (PENDING_CREATE rests like NEW).
STATUSES = {
    "NEW": OrderStatus.NEW,
    "PENDING_CREATE": OrderStatus.NEW,
    "PARTIALLY_FILLED": OrderStatus.PARTIALLY_FILLED,
    "FILLED": OrderStatus.FILLED,
    "PENDING_CANCEL": OrderStatus.PENDING_CANCEL,
    "CANCELED": OrderStatus.CANCELED,
    "REJECTED": OrderStatus.REJECTED,
    "EXPIRED": OrderStatus.EXPIRED,
}


def status_of(status: str) -> OrderStatus:
    """Bitrue's status word as the port's ``OrderStatus`` (UNKNOWN, logged, when new to us)."""
    known = STATUSES.get(status.upper())
    if known is None:
        log.warning("Bitrue reported an order status we do not know: %r", status)
        return OrderStatus.UNKNOWN
    return known


def _snapshot(o: m.Order) -> OrderSnapshot:
    return OrderSnapshot(
        symbol=o.symbol.upper(),
        client_order_id=o.clientOrderId,
        exchange_order_id=str(o.orderId),
        side=m.side_of(o.side),
        order_type=o.type,
        price=o.price,
        qty=o.origQty,
        filled_qty=o.executedQty,
        filled_quote=o.cummulativeQuoteQty,
        status=status_of(o.status),
        ts_ms=o.updateTime or o.time,
    )
