"""``CcxtVenue``: the venue port over any exchange ccxt supports.

Two ccxt.pro clients per venue, for exactness:
- ``client`` runs with ``number = str``: REST (markets, orders, balances, trades) and the user
  streams (``watch_orders``, ``watch_my_trades``, ``watch_balance``); every amount and price
  arrives as the exchange's decimal text and becomes a Decimal here (``numbers.exact``).
- ``book_client`` runs ccxt's default floats, because ccxt.pro's order book sorts numbers:
  only ``watch_order_book`` uses it and every level comes back through ``numbers.book_decimal``
  and the instrument's grid check.

Our orders arrive from the order stream; fills from ``watch_my_trades`` where the exchange has
it, otherwise from REST ``fetch_my_trades`` whenever the order stream says an order filled
more. When a stream is down or silent the venue polls REST instead (books, open orders, order
status, trades). Every fill passes one de-duplication gate keyed by (symbol, trade id).
Errors are ccxt's, mapped by the table in ``errors.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import ccxt
import ccxt.pro as ccxt_pro

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
from liquidity_bot.venues import errors as venue_errors
from liquidity_bot.venues.common.fanout import Broadcast
from liquidity_bot.venues.port import (
    AssetBalance,
    Capabilities,
    OrderRateLimit,
    OrderSnapshot,
    OrderStatus,
)

from .errors import venue_error
from .exchanges import facts_for
from .numbers import book_decimal, exact, maybe_exact
from .urls import point_at

log = logging.getLogger(__name__)


class _NoDebug(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno > logging.DEBUG


# ccxt's own log lines (its DEBUG lines carry signed URLs and the key header: dropped)
_WIRE_LOG = logging.getLogger("liquidity_bot.venues.ccxt.wire")
_WIRE_LOG.addFilter(_NoDebug())

BOOK_DEPTH = 50
# ccxt's unified order status -> the exchange's words the port's OrderSnapshot uses
_STATUS = {"closed": "FILLED", "canceled": "CANCELED", "expired": "EXPIRED",
           "rejected": "REJECTED"}


@dataclass(frozen=True)
class StreamSupport:
    """What this venue does on this exchange (ccxt's ``has`` plus ``exchanges.FACTS``)."""

    post_only: bool
    watch_books: bool
    watch_orders: bool
    watch_my_trades: bool
    watch_balance: bool
    client_id_max_len: int
    order_rate_limit: int
    order_rate_window_s: float
    order_rate_source: str


@dataclass
class _Tracked:
    symbol: str
    client_order_id: str
    side: Side
    order_id: str | None = None
    acked: bool = False
    final: bool = False
    filled: Decimal = Decimal(0)


@dataclass
class _Books:
    """Latest book per symbol for each reader, plus synchronous listeners; a reader that
    subscribes late starts from the latest book of every symbol (diff-based streams such as
    Binance's push nothing while the book stands still)."""

    subs: list[tuple[dict[str, BookUpdate], asyncio.Event]] = field(default_factory=list)
    listeners: list[Callable[[BookUpdate], None]] = field(default_factory=list)
    latest: dict[str, BookUpdate] = field(default_factory=dict)

    def publish(self, update: BookUpdate) -> None:
        self.latest[update.symbol] = update
        for pending, event in self.subs:
            pending[update.symbol] = update
            event.set()
        for listener in list(self.listeners):
            try:
                listener(update)
            except Exception:  # a reader's bug must not stop the stream
                log.exception("a book listener failed on %s", update.symbol)

    async def subscribe(self) -> AsyncIterator[BookUpdate]:
        pending: dict[str, BookUpdate] = dict(self.latest)
        event = asyncio.Event()
        if pending:
            event.set()
        entry = (pending, event)
        self.subs.append(entry)
        try:
            while True:
                await event.wait()
                event.clear()
                while pending:
                    yield pending.pop(next(iter(pending)))
        finally:
            self.subs.remove(entry)

    @contextlib.contextmanager
    def listen(self, listener: Callable[[BookUpdate], None]) -> Iterator[None]:
        self.listeners.append(listener)
        for update in list(self.latest.values()):
            listener(update)
        try:
            yield
        finally:
            self.listeners.remove(listener)


def _order_id(value: object) -> str:
    """The port's exchange order id: the exchange's text (ccxt gives strings)."""
    return "" if value is None else str(value)


def _trade_number(trade_id: str) -> int:
    try:
        return int(trade_id)
    except ValueError:
        return -1


def _send_from(client: Any, address: str) -> None:
    """Bind ``client``'s connections, REST and WebSocket alike (ccxt.pro opens its sockets
    through the client's aiohttp session), to the local ``address``: the key's IP allow list
    holds that address, and it has its own rate limits on the exchange. The session is made as
    ccxt makes its own (the same certificate checks) and ccxt closes it."""
    import ssl

    import aiohttp

    tls = ssl.create_default_context(cafile=client.cafile) if client.verify else False
    connector = aiohttp.TCPConnector(ssl=tls, local_addr=(address, 0),
                                     enable_cleanup_closed=True)
    client.tcp_connector = connector
    client.session = aiohttp.ClientSession(connector=connector,
                                           trust_env=client.aiohttp_trust_env)
    client.own_session = True


class CcxtVenue:
    """The ccxt adapter of the venue port (``liquidity_bot.venues.port.Venue``)."""

    def __init__(
        self,
        exchange_id: str,
        api_key: str,
        secret: str,
        symbols: Iterable[str],
        *,
        password: str | None = None,
        uid: str | None = None,
        http_base: str | None = None,
        ws_base: str | None = None,
        options: dict[str, Any] | None = None,
        streams: bool = True,
        post_only: bool = False,
        poll_interval_s: float = 5.0,
        user_silence_s: float = 30.0,
        book_poll_s: float = 1.0,
        enable_rate_limit: bool = True,
        source_address: str | None = None,
    ) -> None:
        if exchange_id not in ccxt_pro.exchanges:
            raise ValueError(f"ccxt.pro has no exchange {exchange_id!r}; see "
                             "ccxt.pro.exchanges for the names")
        self.name = exchange_id
        self.symbols = [s.upper() for s in symbols]
        self._credentials = {"apiKey": api_key, "secret": secret}
        if password is not None:
            self._credentials["password"] = password
        if uid is not None:
            self._credentials["uid"] = uid
        self._http_base, self._ws_base = http_base, ws_base
        self._options = dict(options or {})
        if exchange_id == "binance":
            self._options.setdefault("fetchMarkets", ["spot"])
            self._options.setdefault("defaultType", "spot")
        self._enable_rate_limit = enable_rate_limit
        self.source_address = source_address
        self.streams = streams
        self.want_post_only = post_only
        self.poll_interval_s = poll_interval_s
        self.user_silence_s = user_silence_s
        self.book_poll_s = book_poll_s
        self.client: Any = None
        self.book_client: Any = None
        self.support: StreamSupport | None = None
        # declared before start (the engine plans its budget from them)
        self.facts = facts_for(exchange_id, getattr(ccxt_pro, exchange_id)().rateLimit)
        self.capabilities = Capabilities(post_only=self.facts.post_only, listen_books=True)
        rate = self.facts.order_rate
        self.order_rate_limit = OrderRateLimit(requests=rate.limit, window_s=rate.window_s)
        self._unified: dict[str, str] = {}  # our symbol -> ccxt unified symbol
        self._ours: dict[str, str] = {}  # ccxt unified symbol -> our symbol
        self._instruments: dict[str, Instrument] = {}
        self._books = _Books()
        self._orders_out: Broadcast[OrderMessage] = Broadcast()
        self._fills_out: Broadcast[Fill] = Broadcast()
        self._balances_out: Broadcast[BalanceChange] = Broadcast()
        self._tracked: dict[str, _Tracked] = {}
        self._by_order_id: dict[str, str] = {}
        self._seen_trades: set[tuple[str, str]] = set()
        self._since_ms: int = 0
        self._tasks: list[asyncio.Task[None]] = []
        self._book_live: dict[str, float] = {}
        self.user_last_message: float | None = None
        self.user_connected = False
        self.refused_symbols: dict[str, str] = {}
        self.fallback_polls = 0
        self.duplicate_fills = 0
        self.fills_from_stream = 0
        self.fills_from_rest = 0
        self._started = False

    # ------------------------------------------------------------------ lifecycle

    def _new_client(self, number_as_str: bool) -> Any:
        cls = getattr(ccxt_pro, self.name)
        client = cls({**self._credentials, "options": dict(self._options),
                      "enableRateLimit": self._enable_rate_limit})
        if number_as_str:
            client.number = str
        if self._http_base is not None:
            point_at(client, self._http_base, self._ws_base)
        client.logger = _WIRE_LOG  # ccxt logs signed URLs and key headers at DEBUG
        seen = client.on_rest_response

        def on_rest_response(code, reason, url, method, headers, body, *rest):
            # read synchronously by ``_call`` as the error unwinds (no await in between)
            client.lb_last_status = code
            return seen(code, reason, url, method, headers, body, *rest)

        client.on_rest_response = on_rest_response
        if self.source_address is not None:
            _send_from(client, self.source_address)
        return client

    async def _call(self, fn: Callable[..., Any], *args: Any, changes_orders: bool = False,
                    **kwargs: Any) -> Any:
        owner = getattr(fn, "__self__", None)
        if owner is not None:
            owner.lb_last_status = None
        try:
            return await fn(*args, **kwargs)
        except ccxt.BaseError as exc:
            status = getattr(owner, "lb_last_status", None)
            raise venue_error(exc, changes_orders=changes_orders, http_status=status) from None

    async def start(self) -> None:
        """Connect: markets, instruments, trade cursor, streams and the fallback poll."""
        if self._started:
            return
        self.client = self._new_client(number_as_str=True)
        self.book_client = self._new_client(number_as_str=False)
        try:
            markets = await self._call(self.client.load_markets)
            by_id = {str(m.get("id", "")).upper(): m for m in markets.values()
                     if m.get("spot", True)}
            for symbol in list(self.symbols):
                market = by_id.get(symbol)
                if market is None:
                    self._refuse(symbol, f"{self.name} does not list {symbol} as a spot market")
                    continue
                self._unified[symbol] = market["symbol"]
                self._ours[market["symbol"]] = symbol
                self._instruments[symbol] = _instrument(symbol, market,
                                                        self.client.precisionMode)
            if not self.symbols:
                raise venue_errors.Rejected(
                    "no configured symbol can trade: " + "; ".join(self.refused_symbols.values())
                    + f". Check the symbol names in the config against {self.name}'s markets.",
                    code=-1121,
                )
            has = self.client.has
            rate = self.facts.order_rate
            self.support = StreamSupport(
                post_only=self.facts.post_only,
                watch_books=bool(has.get("watchOrderBook")) and self.streams,
                watch_orders=bool(has.get("watchOrders")) and self.streams,
                watch_my_trades=bool(has.get("watchMyTrades")) and self.streams,
                watch_balance=bool(has.get("watchBalance")) and self.streams,
                client_id_max_len=self.facts.client_ids.max_len - len(self.facts.client_ids.prefix),
                order_rate_limit=rate.limit,
                order_rate_window_s=rate.window_s,
                order_rate_source=rate.source,
            )
            self._since_ms = self.client.milliseconds()
            loop = asyncio.get_running_loop()
            caps = self.support
            for symbol in self.symbols:
                if caps.watch_books:
                    await self._call(self.book_client.load_markets)
                    self._tasks.append(loop.create_task(self._watch_book(symbol),
                                                        name=f"ccxt-book-{symbol}"))
                else:
                    self._tasks.append(loop.create_task(self._poll_book(symbol),
                                                        name=f"ccxt-book-poll-{symbol}"))
            if caps.watch_orders:
                self._tasks.append(loop.create_task(self._watch_orders(), name="ccxt-orders"))
            if caps.watch_my_trades:
                self._tasks.append(loop.create_task(self._watch_trades(), name="ccxt-trades"))
            if caps.watch_balance:
                self._tasks.append(loop.create_task(self._watch_balance(), name="ccxt-balance"))
            self._tasks.append(loop.create_task(self._fallback_loop(), name="ccxt-fallback"))
        except BaseException:
            await self._halt()
            raise
        self._started = True

    def _refuse(self, symbol: str, why: str) -> None:
        log.error("%s: %s; its market stays idle, the others go on", symbol, why)
        self.refused_symbols[symbol] = why + ": check the symbol name in the config"
        self.symbols.remove(symbol)

    async def _halt(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        for client in (self.client, self.book_client):
            if client is not None:
                with contextlib.suppress(Exception):
                    await client.close()

    async def stop(self) -> None:
        """Close streams and sessions; never cancels orders."""
        await self._halt()
        self.client = self.book_client = None
        self._started = False

    async def __aenter__(self) -> CcxtVenue:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ------------------------------------------------------------------ rules and state

    async def instruments(self) -> dict[str, Instrument]:
        return dict(self._instruments)

    async def balances(self) -> dict[str, AssetBalance]:
        raw = await self._call(self.client.fetch_balance)
        out: dict[str, AssetBalance] = {}
        for asset, entry in raw.items():
            if not isinstance(entry, dict) or "free" not in entry:
                continue
            free = maybe_exact(entry.get("free"), f"{asset} free") or Decimal(0)
            used = maybe_exact(entry.get("used"), f"{asset} used") or Decimal(0)
            out[asset.upper()] = AssetBalance(asset=asset.upper(), free=free, locked=used)
        return out

    # ------------------------------------------------------------------ orders

    def _unified_of(self, symbol: str) -> str:
        unified = self._unified.get(symbol.upper())
        if unified is None:
            raise venue_errors.Rejected(f"{symbol} is not one of this venue's symbols "
                                          f"({', '.join(self.symbols)})", code=-1121)
        return unified

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
        side = Side.parse(side)
        unified = self._unified_of(symbol)
        try:
            wire_cid = self.facts.client_ids.to_exchange(client_order_id)
        except ValueError as exc:
            raise venue_errors.InvalidOrder(str(exc)) from None
        params: dict[str, Any] = {"clientOrderId": wire_cid}
        kind = "market" if order_type.upper() == "MARKET" else "limit"
        post_only = order_type.upper() == "LIMIT_MAKER" or (
            self.want_post_only and kind == "limit")
        if post_only:
            if not self.facts.post_only:
                raise venue_errors.InvalidOrder(
                    f"{self.name} has no post-only orders on spot: quote with plain limit "
                    "orders (set post_only = false for this market)")
            params["postOnly"] = True
        tracked = _Tracked(symbol, client_order_id, side)
        self._tracked[client_order_id] = tracked  # stream pushes may beat the REST answer
        try:
            order = await self._call(
                self.client.create_order, unified, kind, side.value.lower(), format(qty, "f"),
                None if price is None else format(price, "f"), params, changes_orders=True)
        except venue_errors.Rejected as exc:
            if isinstance(exc, venue_errors.InvalidOrder):
                raise
            # any refusal of a new order is the order breaking a rule (ccxt files Binance's
            # filter failures, -1013, under BadRequest)
            raise venue_errors.InvalidOrder(exc.message, code=exc.code,
                                            http_status=exc.http_status) from None
        order_id = str(order.get("id") or "")
        if order_id:
            tracked.order_id = order_id
            self._by_order_id[order_id] = client_order_id
        tracked.acked = True
        return OrderAck(ts_ms=int(order.get("timestamp") or self.client.milliseconds()),
                        symbol=symbol, client_order_id=client_order_id,
                        exchange_order_id=_order_id(order_id))

    async def cancel(
        self,
        symbol: str,
        *,
        client_order_id: str | None = None,
        exchange_order_id: int | str | None = None,
    ) -> CancelAck | CancelReject:
        symbol = symbol.upper()
        unified = self._unified_of(symbol)
        oid = self._known_order_id(client_order_id, exchange_order_id)
        cid = client_order_id or self._by_order_id.get(oid or "") or ""
        params = {}
        if client_order_id is not None and oid is None:
            params["clientOrderId"] = self.facts.client_ids.to_exchange(client_order_id)
        try:
            await self._call(self.client.cancel_order, oid, unified, params,
                             changes_orders=True)
        except venue_errors.NotFound as exc:
            return CancelReject(ts_ms=self.client.milliseconds(), symbol=symbol,
                                client_order_id=cid, code=exc.code,
                                reason="order not found or already finished")
        return CancelAck(ts_ms=self.client.milliseconds(), symbol=symbol, client_order_id=cid,
                         exchange_order_id=None if oid is None else _order_id(oid))

    async def query(
        self,
        symbol: str,
        *,
        client_order_id: str | None = None,
        exchange_order_id: int | str | None = None,
    ) -> OrderSnapshot | None:
        symbol = symbol.upper()
        unified = self._unified_of(symbol)
        oid = self._known_order_id(client_order_id, exchange_order_id)
        if oid is not None:
            try:
                order = await self._call(self.client.fetch_order, oid, unified)
            except venue_errors.NotFound:
                return None
        else:
            order = await self._order_by_client_id(symbol, client_order_id or "")
            if order is None:
                return None
        snap = self._snapshot(symbol, order)
        tracked = self._tracked.get(snap.client_order_id or "")
        if tracked is not None and not tracked.acked:
            # the answer to a placement whose outcome was unknown: it exists, follow it
            tracked.acked = True
            tracked.order_id = str(order.get("id"))
            self._by_order_id[tracked.order_id] = tracked.client_order_id
        return snap

    def _known_order_id(self, client_order_id: str | None,
                        exchange_order_id: int | str | None) -> str | None:
        """The exchange's id when given or learnt from our own placement (some ccxt clients,
        bitrue's among them, cannot look an order up by client id alone)."""
        if exchange_order_id is not None:
            return str(exchange_order_id)
        tracked = self._tracked.get(client_order_id or "")
        return tracked.order_id if tracked is not None else None

    async def _order_by_client_id(self, symbol: str, client_order_id: str) -> dict | None:
        """The order with this client id: asked directly where ccxt can (binance), else
        found among open and recent closed orders (ccxt's bitrue always sends an orderId)."""
        unified = self._unified_of(symbol)
        wire = self.facts.client_ids.to_exchange(client_order_id)
        try:
            return await self._call(self.client.fetch_order, None, unified,
                                    {"clientOrderId": wire})
        except venue_errors.NotFound:
            return None
        except venue_errors.Rejected:
            pass
        for fetch in (self.client.fetch_open_orders, self.client.fetch_closed_orders):
            for order in await self._call(fetch, unified):
                if self.facts.client_ids.from_exchange(order.get("clientOrderId")) == \
                        client_order_id:
                    return order
        return None

    async def open_orders(self, symbol: str) -> list[OrderSnapshot]:
        symbol = symbol.upper()
        orders = await self._call(self.client.fetch_open_orders, self._unified_of(symbol))
        return [self._snapshot(symbol, o) for o in orders]

    async def fills_since(self, symbol: str, from_trade_id: int | None = None) -> list[Fill]:
        symbol = symbol.upper()
        trades = await self._call(self.client.fetch_my_trades, self._unified_of(symbol),
                                  None, 1000)
        fills = [await self._fill_of(symbol, t) for t in trades]
        if from_trade_id is not None:
            fills = [f for f in fills if _trade_number(f.trade_id) >= from_trade_id]
        return sorted(fills, key=lambda f: (_trade_number(f.trade_id), f.trade_id))

    def _snapshot(self, symbol: str, o: dict) -> OrderSnapshot:
        filled = maybe_exact(o.get("filled"), "filled") or Decimal(0)
        status = OrderStatus(_STATUS.get(str(o.get("status")),
                                         "PARTIALLY_FILLED" if filled else "NEW"))
        price = maybe_exact(o.get("price"), "price") or Decimal(0)
        cost = maybe_exact(o.get("cost"), "cost")
        return OrderSnapshot(
            symbol=symbol,
            client_order_id=self.facts.client_ids.from_exchange(o.get("clientOrderId")),
            exchange_order_id=_order_id(o.get("id")),
            side=Side.parse(str(o.get("side") or "buy").upper()),
            order_type=str(o.get("type") or "limit").upper(),
            price=price,
            qty=maybe_exact(o.get("amount"), "amount") or Decimal(0),
            filled_qty=filled,
            filled_quote=cost if cost is not None else filled * price,
            status=status,
            ts_ms=o.get("lastUpdateTimestamp") or o.get("timestamp"),
        )

    # ------------------------------------------------------------------ streams (port)

    async def initial_book(self, symbol: str) -> BookUpdate | None:
        """The latest streamed book, else one from REST."""
        symbol = symbol.upper()
        latest = self._books.latest.get(symbol)
        if latest is not None or symbol not in self._unified:
            return latest
        book = await self._call(self.book_client.fetch_order_book, self._unified[symbol],
                                BOOK_DEPTH)
        return self._book_update(symbol, book)

    def book_events(self) -> AsyncIterator[BookUpdate]:
        return self._books.subscribe()

    def listen_books(
        self, listener: Callable[[BookUpdate], None]
    ) -> contextlib.AbstractContextManager[None]:
        return self._books.listen(listener)

    def order_events(self) -> AsyncIterator[OrderMessage]:
        return self._orders_out.subscribe()

    def fill_events(self) -> AsyncIterator[Fill]:
        return self._fills_out.subscribe()

    def balance_events(self) -> AsyncIterator[BalanceChange]:
        return self._balances_out.subscribe()

    # ------------------------------------------------------------------ books

    def _book_update(self, symbol: str, book: dict) -> BookUpdate:
        inst = self._instruments[symbol]
        levels = []
        for side in ("bids", "asks"):
            out = []
            for level in book[side][:BOOK_DEPTH]:
                price = book_decimal(level[0], f"{symbol} {side} price")
                qty = book_decimal(level[1], f"{symbol} {side} quantity")
                if not inst.is_on_tick(price) or not inst.is_on_step(qty):
                    raise venue_errors.Unavailable(
                        f"{symbol}: book level {price} x {qty} is off the tick/step grid; the "
                        "book cannot be trusted")
                out.append((price, qty))
            levels.append(tuple(out))
        return BookUpdate(ts_ms=int(book.get("timestamp") or self.client.milliseconds()),
                          symbol=symbol, bids=levels[0], asks=levels[1],
                          seq=book.get("nonce"), recv_ns=time.perf_counter_ns())

    async def _watch_book(self, symbol: str) -> None:
        unified = self._unified[symbol]
        delay = 0.5
        while True:
            try:
                book = await self.book_client.watch_order_book(unified)
                if symbol not in self._book_live and not book["bids"] and not book["asks"]:
                    continue  # ccxt's placeholder before the first snapshot (bitrue)
                self._book_live[symbol] = time.monotonic()
                self._books.publish(self._book_update(symbol, book))
                delay = 0.5
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the stream failed: one REST book, then retry
                log.warning("%s book stream failed (%s); REST book meanwhile", symbol,
                            type(exc).__name__)
                with contextlib.suppress(Exception):
                    await self._rest_book(symbol)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    async def _rest_book(self, symbol: str) -> None:
        book = await self._call(self.book_client.fetch_order_book, self._unified[symbol],
                                BOOK_DEPTH)
        self._books.publish(self._book_update(symbol, book))

    async def _poll_book(self, symbol: str) -> None:
        while True:
            try:
                await self._rest_book(symbol)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("%s REST book failed: %s", symbol, type(exc).__name__)
            await asyncio.sleep(self.book_poll_s)

    # ------------------------------------------------------------------ our orders

    async def _watch_orders(self) -> None:
        delay = 0.5
        while True:
            try:
                orders = await self.client.watch_orders()
                self.user_connected = True
                self.user_last_message = time.monotonic()
                delay = 0.5
                for order in orders:
                    await self._on_order(order)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.user_connected = False
                log.warning("%s order stream failed (%s); REST fallback meanwhile", self.name,
                            type(exc).__name__)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    async def _on_order(self, order: dict) -> None:
        symbol = self._ours.get(str(order.get("symbol")))
        if symbol is None:
            return
        oid = str(order.get("id") or "")
        cid = self.facts.client_ids.from_exchange(order.get("clientOrderId")) or \
            self._by_order_id.get(oid, "")
        tracked = self._tracked.get(cid)
        if tracked is None:
            if not cid:
                return
            # an order from before this start (the engine adopts those by their prefix): its
            # fills and its end still count; it exists, so no ack is made up for it
            tracked = self._tracked[cid] = _Tracked(symbol, cid, Side.parse(
                str(order.get("side") or "buy").upper()), order_id=oid or None, acked=True)
        if oid and tracked.order_id is None:
            tracked.order_id = oid
            self._by_order_id[oid] = cid
        ts = int(order.get("lastUpdateTimestamp") or order.get("timestamp")
                 or self.client.milliseconds())
        status = str(order.get("status"))
        if status == "rejected":
            tracked.final = True
            self._orders_out.publish(Reject(ts_ms=ts, symbol=symbol, client_order_id=cid,
                                            code=None, reason="not accepted"))
            return
        if not tracked.acked:
            tracked.acked = True
            self._orders_out.publish(OrderAck(ts_ms=ts, symbol=symbol, client_order_id=cid,
                                              exchange_order_id=_order_id(oid)))
        filled = maybe_exact(order.get("filled"), "filled") or Decimal(0)
        if filled > tracked.filled:
            tracked.filled = filled
            if not self.support.watch_my_trades:
                await self._sync_trades(symbol)
        if status == "closed":
            tracked.final = True
            if not self.support.watch_my_trades:
                await self._sync_trades(symbol)
        elif status == "canceled":
            tracked.final = True
            self._orders_out.publish(CancelAck(ts_ms=ts, symbol=symbol, client_order_id=cid,
                                               exchange_order_id=_order_id(oid)))
        elif status == "expired":
            tracked.final = True
            self._orders_out.publish(Expired(ts_ms=ts, symbol=symbol, client_order_id=cid,
                                             exchange_order_id=_order_id(oid)))

    async def _watch_trades(self) -> None:
        delay = 0.5
        while True:
            try:
                trades = await self.client.watch_my_trades()
                self.user_last_message = time.monotonic()
                delay = 0.5
                for trade in trades:
                    symbol = self._ours.get(str(trade.get("symbol")))
                    if symbol is not None:
                        fill = await self._fill_of(symbol, trade)
                        self.fills_from_stream += self._emit_fill(fill)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("%s trade stream failed (%s)", self.name, type(exc).__name__)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    async def _watch_balance(self) -> None:
        delay = 0.5
        while True:
            try:
                balance = await self.client.watch_balance()
                delay = 0.5
                ts = int(balance.get("timestamp") or self.client.milliseconds())
                for asset, entry in balance.items():
                    if not isinstance(entry, dict) or "free" not in entry:
                        continue
                    free = maybe_exact(entry.get("free"), f"{asset} free")
                    used = maybe_exact(entry.get("used"), f"{asset} used")
                    if free is None or used is None:
                        continue
                    self._balances_out.publish(BalanceChange(ts_ms=ts, asset=asset.upper(),
                                                             free=free, locked=used))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("%s balance stream failed (%s)", self.name, type(exc).__name__)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    # ------------------------------------------------------------------ fills

    def _emit_fill(self, fill: Fill) -> bool:
        key = (fill.symbol, fill.trade_id)
        if key in self._seen_trades:
            self.duplicate_fills += 1
            return False
        self._seen_trades.add(key)
        self._orders_out.publish(fill)
        self._fills_out.publish(fill)
        return True

    async def _fill_of(self, symbol: str, t: dict) -> Fill:
        info = t.get("info") or {}
        oid = str(t.get("order") or "")
        cid = self._by_order_id.get(oid)
        if cid is None and oid:
            with contextlib.suppress(venue_errors.VenueError):
                order = await self._call(self.client.fetch_order, oid, self._unified[symbol])
                cid = self.facts.client_ids.from_exchange(order.get("clientOrderId")) or ""
                if cid:
                    self._by_order_id[oid] = cid
        fee = t.get("fee") or {}
        fee_asset = fee.get("currency") or info.get("commissionAsset")
        maker = t.get("takerOrMaker")
        return Fill(
            ts_ms=int(t.get("timestamp") or self.client.milliseconds()),
            symbol=symbol,
            client_order_id=cid or "",
            exchange_order_id=_order_id(oid) if oid else None,
            trade_id=str(t.get("id")),
            side=Side.parse(str(t.get("side") or "buy").upper()),
            price=exact(t.get("price"), f"{symbol} trade price"),
            qty=exact(t.get("amount"), f"{symbol} trade amount"),
            fee=maybe_exact(fee.get("cost"), f"{symbol} fee") or Decimal(0),
            fee_asset=str(fee_asset).upper() if fee_asset else None,
            is_maker=None if maker is None else maker == "maker",
        )

    async def _sync_trades(self, symbol: str) -> None:
        """Pull our recent trades over REST and emit the ones not seen yet."""
        trades = await self._call(self.client.fetch_my_trades, self._unified[symbol],
                                  self._since_ms, 1000)
        for t in sorted(trades, key=lambda t: (t.get("timestamp") or 0, str(t.get("id")))):
            if (symbol, str(t.get("id"))) in self._seen_trades:
                continue
            fill = await self._fill_of(symbol, t)  # before the +=: it reads, then awaits
            self.fills_from_rest += self._emit_fill(fill)

    # ------------------------------------------------------------------ REST fallback

    def user_stream_healthy(self) -> bool:
        if not self.support or not self.support.watch_orders:
            return False
        if not self.user_connected:
            return False
        if any(not t.final for t in self._tracked.values()):
            last = self.user_last_message
            return last is not None and time.monotonic() - last < self.user_silence_s
        return True

    async def _fallback_loop(self) -> None:
        while True:
            await asyncio.sleep(self.poll_interval_s)
            if self.user_stream_healthy():
                continue
            try:
                await self.poll_once()
            except venue_errors.VenueError as exc:
                log.warning("%s REST fallback poll failed: %s", self.name, type(exc).__name__)

    async def poll_once(self) -> None:
        """One REST pass: new fills, then the final state of tracked orders no longer open."""
        self.fallback_polls += 1
        for symbol in self.symbols:
            await self._sync_trades(symbol)
            open_cids = {o.client_order_id for o in await self.open_orders(symbol)}
            for tracked in list(self._tracked.values()):
                if (tracked.symbol != symbol or tracked.final or not tracked.acked
                        or tracked.client_order_id in open_cids):
                    continue
                snap = await self.query(symbol, client_order_id=tracked.client_order_id)
                if snap is None or snap.is_open:
                    continue
                tracked.final = True
                ts = snap.ts_ms or self.client.milliseconds()
                eid = snap.exchange_order_id
                cid = tracked.client_order_id
                if snap.status == "CANCELED":
                    self._orders_out.publish(CancelAck(ts_ms=ts, symbol=symbol,
                                                       client_order_id=cid,
                                                       exchange_order_id=eid))
                elif snap.status == "EXPIRED":
                    self._orders_out.publish(Expired(ts_ms=ts, symbol=symbol,
                                                     client_order_id=cid,
                                                     exchange_order_id=eid))
                elif snap.status == "REJECTED":
                    self._orders_out.publish(Reject(ts_ms=ts, symbol=symbol,
                                                    client_order_id=cid, code=None,
                                                    reason="rejected"))


def _instrument(symbol: str, market: dict, precision_mode: int) -> Instrument:
    """An Instrument from a ccxt market loaded with ``number = str`` (exact text)."""
    precision = market.get("precision") or {}
    limits = market.get("limits") or {}

    def grid(value: object, what: str) -> Decimal:
        d = exact(value, f"{symbol} {what} precision")
        if precision_mode == ccxt.DECIMAL_PLACES:
            return Decimal(1).scaleb(-int(d))  # digits after the point, not a tick
        if precision_mode != ccxt.TICK_SIZE:
            raise venue_errors.Rejected(
                f"{symbol}: ccxt gives this exchange's precision as significant digits; "
                "tick and step cannot be derived exactly, so it cannot be quoted here")
        return d

    def limit(group: str, key: str) -> Decimal | None:
        value = (limits.get(group) or {}).get(key)
        d = maybe_exact(value, f"{symbol} {group} {key}")
        return d if d is not None and d > 0 else None

    tick = grid(precision.get("price"), "price")
    step = grid(precision.get("amount"), "amount")
    return Instrument(
        symbol=symbol,
        base=str(market.get("base", "")).upper(),
        quote=str(market.get("quote", "")).upper(),
        tick=tick,
        step=step,
        price_scale=None,
        volume_scale=None,
        min_price=limit("price", "min") or Decimal(0),
        max_price=limit("price", "max"),
        min_qty=limit("amount", "min") or Decimal(0),
        max_qty=limit("amount", "max"),
        min_val=limit("cost", "min") or Decimal(0),
        status="TRADING" if market.get("active", True) is not False else "HALT",
    )
