"""Bitrue REST client: lean keep-alive HTTP/1.1, exact signing, paced, honest errors.

Reads that fail without an answer raise ``ExchangeUnavailable``; order changes that fail without
an answer raise ``UnknownOutcome``; a call that could not even connect raises
``ExchangeUnavailable`` saying nothing was sent. A timestamp rejection re-syncs the clock (and a
read is retried once). The secret, signatures and listen keys never reach logs or exception text.
The transport is ``venues.lean_http`` (see there why it is not aiohttp).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import Coroutine, Sequence
from decimal import Decimal
from typing import Any, TypeVar
from urllib.parse import quote

import msgspec

from ..lean_http import (
    ConnectFailed,
    HttpClient,
    HttpResponse,
    HttpTransportError,
    NoResponse,
    NotSent,
    Origin,
    TlsRejected,
)
from ..tls import TLS_REJECTED_HELP
from . import models as m
from .clock import ClockSample, ServerClock
from .errors import (
    BitrueError,
    CertificateRejected,
    ExchangeUnavailable,
    InvalidTimestamp,
    IpBanned,
    RateLimited,
    UnknownOutcome,
    error_from_response,
    scrub,
    transport_error,
)
from .ratelimit import RateGovernor, ip_governor
from .secrets_registry import register_secret
from .signing import (
    FuturesSigner,
    ParamValue,
    SpotSigner,
    encode_params,
    value_text,
)
from .urls import BitrueUrls
from .weights import costs as endpoint_costs

log = logging.getLogger(__name__)
_DEBUG = logging.DEBUG

T = TypeVar("T")

LISTEN_KEY_PATH = "/poseidon/api/v1/listenKey"

_D_TIME = m.decoder(m.ServerTime)
_D_INFO = m.decoder(m.ExchangeInfo)
_D_DEPTH = m.decoder(m.Depth)
_D_TICKERS = m.decoder(list[m.Ticker24hr] | m.Ticker24hr)
_D_ACCOUNT = m.decoder(m.Account)
_D_ACK = m.decoder(m.OrderAck)
_D_CANCEL = m.decoder(m.CancelAck)
_D_ORDER = m.decoder(m.Order)
_D_ORDERS = m.decoder(list[m.Order])
_D_TRADES = m.decoder(list[m.Trade])
_D_ENVELOPE = m.decoder(m.Envelope)
_D_ERROR = m.decoder(m.ErrorBody)
_D_WITHDRAWS = msgspec.json.Decoder(list[m.WithdrawRecord], strict=False)
_D_ANY = msgspec.json.Decoder()


class BitrueRestClient:
    """Async client for Bitrue's spot REST API (plus listen keys and one futures read).

    Use as ``async with BitrueRestClient(urls, key, secret) as client: ...``. One instance
    owns one HTTP session; all methods are safe to call concurrently.
    """

    def __init__(
        self,
        urls: BitrueUrls,
        api_key: str | None = None,
        secret: str | None = None,
        *,
        source_address: str | None = None,
        recv_window: int = 5000,
        timeout_s: float = 10,
        governor: RateGovernor | None = None,
        clock: ServerClock | None = None,
        clock_refresh_s: float = 300.0,
        order_conn_max_idle_s: float = 5.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if not 0 < recv_window <= 60000:
            raise ValueError(f"recv_window must be within 1..60000 ms, got {recv_window}")
        if api_key is not None and any(c in api_key for c in "\r\n\0"):
            raise ValueError("api_key contains a line break or NUL: copy the key again")
        self.urls = urls
        self.api_key = api_key
        self._key_header = f"X-MBX-APIKEY: {api_key}\r\n".encode() if api_key else b""
        self._stamp_prefix = f"recvWindow={recv_window}&timestamp="
        # A write is never re-sent, so it never goes out on a connection idle longer than this
        # (the server may be closing it right now): a fresh connection is opened instead.
        self.order_conn_max_idle_s = order_conn_max_idle_s
        self.last_request_mono: float | None = None  # when the latest request went out
        # always verifying: the system's CAs plus the urls' ca_file (see venues.tls)
        self._ssl_context = ssl_context or (urls.ssl_context() if urls.uses_tls else None)
        self._signer = SpotSigner(secret) if secret else None
        self._futures_signer = FuturesSigner(secret) if secret else None
        self._secrets: set[str] = {s for s in (secret,) if s}
        register_secret(secret)
        self.source_address = source_address
        self.recv_window = recv_window
        self.timeout_s = timeout_s
        # this key's own pacing, beneath it the source address's (shared by every key)
        self.governor = governor or RateGovernor(parent=ip_governor(source_address, urls.spot))
        self.clock = clock or ServerClock()
        self.clock_refresh_s = clock_refresh_s
        self._http: HttpClient | None = None
        self._order_origin: Origin  # the spot pool, set with _http
        # an order request's bytes after its request line, as Origin.encode writes them (set
        # with _http; None without one, without a key and secret, or when the base URL's path
        # needs encode's checks: then orders take _request)
        self._order_tail: bytes | None = None
        # each order method's request line up to the query ("DELETE /api/v1/order?"), with it
        self._order_lines: dict[str, str] = {}
        self._sync_lock = asyncio.Lock()
        self._bg_sync: asyncio.Task[int] | None = None
        self._closed = False

    def __repr__(self) -> str:
        key = f"{self.api_key[:4]}…" if self.api_key else None
        return f"BitrueRestClient(spot={self.urls.spot!r}, api_key={key!r})"

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> BitrueRestClient:
        self._ensure_session()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _ensure_session(self) -> HttpClient:
        if self._closed:
            raise RuntimeError("this BitrueRestClient is closed; create a new one")
        if self._http is None:
            self._http = HttpClient(
                local_address=self.source_address,
                connect_timeout_s=self.timeout_s,
                read_timeout_s=self.timeout_s,
                ssl_context=self._ssl_context,
            )
            origin = self._order_origin = self._http.origin(self.urls.spot)
            if self.api_key and self._signer and not any(c in origin.prefix for c in " \r\n"):
                self._order_tail = (
                    origin.fixed_headers + self._key_header + b"Content-Length: 0\r\n\r\n"
                )
                self._order_lines = {
                    m: f"{m} {origin.prefix}{ORDER_PATH}?" for m in ("POST", "DELETE")
                }
        return self._http

    async def close(self) -> None:
        self._closed = True
        if self._bg_sync is not None and not self._bg_sync.done():
            self._bg_sync.cancel()
        self._order_tail = None
        if self._http is not None:
            await self._http.close()
            self._http = None

    # ------------------------------------------------------------------ clock

    @property
    def clock_offset_ms(self) -> int:
        """Measured ``server - local`` clock difference in ms (0 until the first sync)."""
        return self.clock.offset_ms

    def headroom(self) -> dict[str, tuple[int, int]]:
        """Rate-limit use per policy: ``{policy: (used, limit)}`` (see ``RateGovernor``)."""
        return self.governor.headroom()

    async def sync_clock(self, samples: int = 3) -> int:
        """Measure the server clock offset from a few ``/time`` round trips; returns it."""
        async with self._sync_lock:
            got: list[ClockSample] = []
            for _ in range(max(1, samples)):
                sent = self.clock.local_ms()
                server = await self.server_time()
                got.append(ClockSample(sent, self.clock.local_ms(), server))
            best = self.clock.apply(got)
            # A routine sync is noise at INFO; a notable skew is worth the operator's attention.
            level = logging.INFO if abs(self.clock.offset_ms) >= 250 else logging.DEBUG
            log.log(
                level,
                "bitrue clock synced: offset %d ms, rtt %.1f ms",
                self.clock.offset_ms,
                best.rtt_ms,
            )
            return self.clock.offset_ms

    async def _fresh_clock(self) -> None:
        age = self.clock.age_s()
        if age is None:
            await self.sync_clock()
        elif age > self.clock_refresh_s and (self._bg_sync is None or self._bg_sync.done()):
            self._bg_sync = asyncio.get_running_loop().create_task(self._background_sync())

    async def _background_sync(self) -> int:
        try:
            return await self.sync_clock(samples=1)
        except BitrueError as exc:
            log.warning("bitrue clock refresh failed: %s", exc)
            return self.clock.offset_ms

    # ------------------------------------------------------------------ transport

    def _require_key(self, action: str, *, signed: bool) -> None:
        if not self.api_key or (signed and self._signer is None):
            raise BitrueError(
                f"{action} needs an API key"
                + (" and secret" if signed else "")
                + ": construct BitrueRestClient with api_key= and secret=."
            )

    async def _request(
        self,
        method: str,
        base: str,
        path: str,
        params: Sequence[tuple[str, ParamValue | None]] | str = (),
        *,
        signed: bool = False,
        keyed: bool = False,
        mutating: bool = False,
        futures: bool = False,
        action: str | None = None,
        path_suffix: str = "",
    ) -> bytes:
        """Send one request; return the body of a successful answer or raise the mapped error."""
        action = action or f"{method} {path}"
        if (signed or keyed or futures) and (
            not self.api_key or ((signed or futures) and self._signer is None)
        ):
            self._require_key(action, signed=signed or futures)
        if signed or futures:
            clock = self.clock
            if clock.synced_at is None or clock.age_s() > self.clock_refresh_s:  # type: ignore[operator]
                await self._fresh_clock()
        retried = False
        while True:
            try:
                # one coroutine frame for the whole request (orders: see _order_request)
                governor = self.governor
                costs = endpoint_costs(method, path, params)
                if not governor.try_acquire(costs):
                    await governor.acquire(costs)
                self.last_request_mono = time.monotonic()
                target, headers, signature = self._target(
                    method, path, params, signed, keyed, futures, path_suffix
                )
                started = time.perf_counter() if log.isEnabledFor(logging.DEBUG) else 0.0
                origin = (self._http or self._ensure_session()).origin(base)
                try:
                    resp = await origin.exchange(
                        origin.encode(method, target, headers),
                        idempotent=not mutating,
                        max_idle_s=self.order_conn_max_idle_s if mutating else None,
                    )
                except HttpTransportError as exc:
                    raise _transport_failure(exc, action, mutating) from None
                status = resp.status
                body = resp.body
                if started:
                    log.debug(
                        "%s -> %d in %.1f ms", action, status, (time.perf_counter() - started) * 1e3
                    )
                if status == 200 and (b'"code"' not in body or not _looks_like_error(body)):
                    return body
                raise self._error(status, body, resp.headers, action, mutating, signature)
            except InvalidTimestamp:
                # The clock drifted: re-measure. A read is retried once; a write was refused
                # outright (the server checks time before acting), so the caller may resend.
                await self.sync_clock()
                if mutating or retried:
                    raise
                retried = True

    def _target(
        self,
        method: str,
        path: str,
        params: Sequence[tuple[str, ParamValue | None]] | str,
        signed: bool,
        keyed: bool,
        futures: bool,
        path_suffix: str,
    ) -> tuple[str, bytes, str | None]:
        """The request's target (path and query, signed when it must be), extra headers and
        signature, stamped now."""
        if type(params) is str:  # already encoded (the order path: see _place_query)
            query = params
        else:
            query = encode_params(params) if params else ""
        signature = None
        if futures:
            assert self._futures_signer is not None and self.api_key
            ts = self.clock.now_ms()
            full_path = path + path_suffix
            signature = self._futures_signer.sign(
                ts, method, full_path, query if method == "GET" else "", ""
            )
            headers = (
                f"X-CH-APIKEY: {self.api_key}\r\nX-CH-TS: {ts}\r\nX-CH-SIGN: {signature}\r\n"
                "Content-Type: application/json\r\n"
            ).encode()
        elif signed:
            assert self._signer is not None
            stamp = self._stamp_prefix + str(self.clock.now_ms())
            query = f"{query}&{stamp}" if query else stamp
            signature = self._signer.sign(query)
            query = f"{query}&signature={signature}"
            headers = self._key_header
        elif keyed:
            headers = self._key_header
        else:
            headers = b""
        target = path + path_suffix + ("?" + query if query else "")
        return target, headers, signature

    def _error(
        self,
        status: int,
        body: bytes,
        headers: Any,
        action: str,
        mutating: bool,
        signature: str | None,
    ) -> BitrueError:
        code: int | None = None
        msg = ""
        try:
            parsed = _D_ERROR.decode(body)
            code = _int_or_none(parsed.code)
            msg = parsed.msg or parsed.message or ""
        except msgspec.DecodeError:
            msg = body[:200].decode("utf-8", "replace").strip()
        if status == 200 and code in (200, 0):
            code = None
        hidden = set(self._secrets)
        if signature:
            hidden.add(signature)
        msg = scrub(msg, hidden)
        err = error_from_response(
            http_status=status,
            code=code,
            msg=msg,
            headers=headers,
            action=action,
            mutating=mutating,
            now_ms=self.clock.now_ms(),
        )
        if isinstance(err, IpBanned):
            self.governor.on_banned(err.until_ms)
        elif isinstance(err, RateLimited):
            self.governor.on_rate_limited(err.policy, err.retry_after_s)
        return err

    # ------------------------------------------------------------------ public market data

    async def ping(self) -> None:
        await self._request("GET", self.urls.spot, "/api/v1/ping")

    async def server_time(self) -> int:
        body = await self._request("GET", self.urls.spot, "/api/v1/time")
        return _decode(_D_TIME, body, "server time", False).serverTime

    async def exchange_info(self) -> m.ExchangeInfo:
        """Trading rules; also tunes the rate governor to the advertised ``rateLimits``."""
        body = await self._request("GET", self.urls.spot, "/api/v1/exchangeInfo")
        info = _decode(_D_INFO, body, "exchangeInfo", False)
        if info.rateLimits:
            self.governor.configure_from_exchange_info(info.rateLimits)
        return info

    async def exchange_info_raw(self) -> bytes:
        """The raw exchangeInfo JSON (for ``Instrument.from_exchange_info``)."""
        return await self._request("GET", self.urls.spot, "/api/v1/exchangeInfo")

    async def depth_raw(self, symbol: str, limit: int = 100) -> bytes:
        return await self._request(
            "GET", self.urls.spot, "/api/v1/depth", (("symbol", symbol), ("limit", limit))
        )

    async def depth(self, symbol: str, limit: int = 100) -> m.Depth:
        return _decode(_D_DEPTH, await self.depth_raw(symbol, limit), "depth", False)

    async def ticker_24hr(self, symbol: str | None = None) -> list[m.Ticker24hr]:
        """24 h statistics, always as a list (Bitrue answers an object or an array)."""
        body = await self._request(
            "GET", self.urls.spot, "/api/v1/ticker/24hr", (("symbol", symbol),)
        )
        got = _decode(_D_TICKERS, body, "ticker/24hr", False)
        return got if isinstance(got, list) else [got]

    # ------------------------------------------------------------------ account and orders

    async def account(self) -> m.Account:
        body = await self._request("GET", self.urls.spot, "/api/v1/account", signed=True)
        return _decode(_D_ACCOUNT, body, "account", False)

    def place_order(
        self,
        symbol: str,
        side: str,
        quantity: Decimal,
        price: Decimal | None = None,
        *,
        order_type: str = "LIMIT",
        client_order_id: str | None = None,
        time_in_force: str | None = None,
    ) -> Coroutine[Any, Any, m.OrderAck]:
        """Place an order (await the result). A missing answer raises ``UnknownOutcome``:
        reconcile by client id. Bad arguments raise here, at the call."""
        query = _place_query(symbol, side, quantity, price, order_type, client_order_id,
                             time_in_force)
        # the request's own coroutine, not one awaiting it: one frame per order, not two
        return self._order_request("POST", query, symbol, side, order_type)

    def cancel_order(
        self, symbol: str, *, order_id: int | None = None, client_order_id: str | None = None
    ) -> Coroutine[Any, Any, m.CancelAck]:
        """Cancel by order id or client order id (await the result). No answer raises
        ``UnknownOutcome``. Bad arguments raise here, at the call."""
        return self._order_request("DELETE", _order_query(symbol, order_id, client_order_id), symbol)

    async def _order_request(
        self, method: str, query: str, symbol: str, side: str = "", order_type: str = ""
    ) -> Any:
        """``_request`` for a place (POST) or cancel (DELETE) of ``/api/v1/order``, and the
        typed decode of its answer (``OrderAck`` or ``CancelAck``): the same bytes, checks and
        errors, and in the common case (a key, a fresh clock, room in the rate limits, a warm
        connection, no debug logging) signed and written at once from this one frame, with
        no coroutine below it (the engine's latency path)."""
        tail = self._order_tail  # (None without a key and a secret)
        if (
            tail is None
            or (now_ms := self.clock.fresh_ms(self.clock_refresh_s)) is None
            or log.isEnabledFor(_DEBUG)
            or not self.governor.try_acquire(_ORDER_COSTS[method])
        ):
            body = await self._request(
                method, self.urls.spot, ORDER_PATH, query, signed=True, mutating=True,
                action=_order_action(method, symbol, side, order_type),
            )
            return _decode_order_answer(method, body)
        # the rate limits are paid: from here on the request goes out (or fails) exactly once
        self.last_request_mono = time.monotonic()
        query = f"{query}&{self._stamp_prefix}{now_ms}"
        signature = self._signer.sign(query)  # type: ignore[union-attr]  # (there with tail)
        origin = self._order_origin
        # Origin.encode's bytes, written out: the query is percent-encoded by construction
        line = f"{self._order_lines[method]}{query}&signature={signature} HTTP/1.1\r\n"
        data = line.encode("latin-1") + tail
        try:
            sent = origin.send_now(data, self.order_conn_max_idle_s)
        except NotSent:
            sent = False  # the write failed on a pooled connection: once on a fresh one
        if not sent:
            try:
                resp = await origin.exchange(
                    data, max_idle_s=self.order_conn_max_idle_s, fresh=sent is False
                )
            except HttpTransportError as exc:
                action = _order_action(method, symbol, side, order_type)
                raise _transport_failure(exc, action, True) from None
            status, head, body = resp.status, resp.head, resp.body
        else:
            conn, answer = sent
            try:
                body = await answer
            except BaseException as exc:
                origin.settle(conn, False)
                if isinstance(exc, NoResponse):
                    action = _order_action(method, symbol, side, order_type)
                    raise _transport_failure(exc, action, True) from None
                raise
            # the answer's status and head, kept by the connection until its next request
            status, head = conn.status, conn.head
            origin.settle(conn, True)
        if status == 200 and (b'"code"' not in body or not _looks_like_error(body)):
            # _decode_order_answer, written out
            try:
                return (_D_ACK if method == "POST" else _D_CANCEL).decode(body)
            except msgspec.DecodeError as exc:
                raise _unreadable(exc, _ORDER_WHAT[method], True) from None
        err = self._order_error(
            HttpResponse(status, head, body), method, symbol, side, order_type, signature
        )
        if isinstance(err, InvalidTimestamp):
            # the clock drifted: re-measure; a write was refused outright, the caller may resend
            await self.sync_clock()
        raise err

    def _order_error(
        self, resp: HttpResponse, method: str, symbol: str, side: str, order_type: str,
        signature: str,
    ) -> BitrueError:
        action = _order_action(method, symbol, side, order_type)
        return self._error(resp.status, resp.body, resp.headers, action, True, signature)

    async def get_order(
        self, symbol: str, *, order_id: int | None = None, client_order_id: str | None = None
    ) -> m.Order:
        body = await self._request(
            "GET",
            self.urls.spot,
            "/api/v1/order",
            _order_query(symbol, order_id, client_order_id),
            signed=True,
            action=f"query order on {symbol}",
        )
        return _decode(_D_ORDER, body, "query order", False)

    async def open_orders(self, symbol: str) -> list[m.Order]:
        body = await self._request(
            "GET", self.urls.spot, "/api/v1/openOrders", (("symbol", symbol),), signed=True
        )
        return _decode(_D_ORDERS, body, "orders", False)

    async def all_orders(
        self, symbol: str, *, order_id: int | None = None, limit: int | None = None
    ) -> list[m.Order]:
        body = await self._request(
            "GET",
            self.urls.spot,
            "/api/v1/allOrders",
            (("symbol", symbol), ("orderId", order_id), ("limit", limit)),
            signed=True,
        )
        return _decode(_D_ORDERS, body, "orders", False)

    async def my_trades(
        self,
        symbol: str,
        from_id: int | None = None,
        limit: int = 100,
        *,
        start_time: int | None = None,
    ) -> list[m.Trade]:
        """Our fills (``/api/v2/myTrades``), from trade id ``from_id`` inclusive when given."""
        body = await self._request(
            "GET",
            self.urls.spot,
            "/api/v2/myTrades",
            (("symbol", symbol), ("fromId", from_id), ("startTime", start_time), ("limit", limit)),
            signed=True,
        )
        return _decode(_D_TRADES, body, "myTrades", False)

    async def withdraw_history(self, coin: str | None = None) -> list[m.WithdrawRecord]:
        """Read-only WITHDRAW_DATA probe (never withdraws)."""
        body = await self._request(
            "GET", self.urls.spot, "/api/v1/withdraw/history", (("coin", coin),), signed=True
        )
        data = _decode(_D_ENVELOPE, body, "withdraw history", False).data
        if data is None:
            return []
        return _decode(_D_WITHDRAWS, msgspec.json.encode(data), "withdraw history", False)

    async def futures_account(self) -> dict[str, Any]:
        """``GET /fapi/v2/account`` with futures signing: proves (lack of) futures access."""
        body = await self._request(
            "GET",
            self.urls.futures,
            "/fapi/v2/account",
            signed=False,
            futures=True,
            action="futures account read",
        )
        got = _decode(_D_ANY, body, "futures account", False)
        return got if isinstance(got, dict) else {"data": got}

    # ------------------------------------------------------------------ listen keys

    async def create_listen_key(self) -> str:
        """A user-stream listen key (a credential: registered for redaction, never logged)."""
        body = await self._request(
            "POST", self.urls.listen_key, LISTEN_KEY_PATH, keyed=True, action="create listen key"
        )
        env = _decode(_D_ENVELOPE, body, "create listen key", False)
        key = env.data.get("listenKey") if isinstance(env.data, dict) else None
        if not key:
            raise BitrueError("create listen key: Bitrue answered without a listenKey; retry.")
        self._secrets.add(key)
        register_secret(key)
        return key

    async def keepalive_listen_key(self, listen_key: str) -> None:
        """Extend a listen key's life (send every ~30 min) on the listen-key host."""
        await self._listen_key_call("PUT", listen_key, "keep listen key alive")

    async def close_listen_key(self, listen_key: str) -> None:
        await self._listen_key_call("DELETE", listen_key, "close listen key")

    async def _listen_key_call(self, method: str, listen_key: str, action: str) -> None:
        self._secrets.add(listen_key)
        register_secret(listen_key)
        await self._request(
            method,
            self.urls.listen_key,
            LISTEN_KEY_PATH,
            keyed=True,
            action=action,
            path_suffix="/" + quote(listen_key, safe=""),
        )


ORDER_PATH = "/api/v1/order"
_ORDER_COSTS = {m: endpoint_costs(m, ORDER_PATH) for m in ("POST", "DELETE")}  # place, cancel
_ORDER_WHAT = {"POST": "place order", "DELETE": "cancel order"}


def _decode_order_answer(method: str, body: bytes) -> Any:
    """The typed answer of a place (``OrderAck``) or cancel (``CancelAck``) that succeeded."""
    return _decode(_D_ACK if method == "POST" else _D_CANCEL, body, _ORDER_WHAT[method], True)


def _order_action(method: str, symbol: str, side: str, order_type: str) -> str:
    """What an order request was doing, for its errors (built only when one happens)."""
    if method == "POST":
        return f"place {side.upper()} {order_type.upper()} {symbol}"
    return f"cancel order on {symbol}"


def _transport_failure(exc: HttpTransportError, action: str, mutating: bool) -> BitrueError:
    """What a request that got no HTTP answer raises (see the module docstring)."""
    if isinstance(exc, TlsRejected):
        return CertificateRejected(f"{action}: {exc}; nothing was sent. {TLS_REJECTED_HELP}")
    if isinstance(exc, ConnectFailed):
        # No connection was made, so nothing was sent: even a write certainly did not happen.
        return ExchangeUnavailable(
            f"{action}: cannot connect to Bitrue ({exc.cause}); nothing was sent. "
            "Check the network, the base URL and the source address, then retry."
        )
    return transport_error(action, mutating=mutating, cause=exc.cause)


def _decode(decoder: msgspec.json.Decoder, body: bytes, action: str, mutating: bool) -> Any:
    """Typed decode of a 200 answer; an answer we cannot read is never taken as success."""
    try:
        return decoder.decode(body)
    except msgspec.DecodeError as exc:
        raise _unreadable(exc, action, mutating) from None


def _unreadable(exc: msgspec.DecodeError, action: str, mutating: bool) -> BitrueError:
    detail = f"{action}: Bitrue answered 200 with an unreadable body ({exc})"
    if mutating:
        return UnknownOutcome(
            detail + ". The outcome is UNKNOWN: query the order by its client order id."
        )
    return ExchangeUnavailable(detail + "; retry later.")


def _looks_like_error(body: bytes) -> bool:
    """A 200 answer that is really an error (``{"code": -2013, ...}``, or an envelope != 200)."""
    if b'"code"' not in (body if len(body) <= 2048 else body[:2048]):
        return False
    try:
        code = _int_or_none(_D_ERROR.decode(body).code)
    except msgspec.DecodeError:
        return False
    return code is not None and code not in (0, 200)


def _int_or_none(value: int | str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _one_id(order_id: int | None, client_order_id: str | None) -> None:
    if order_id is None and client_order_id is None:
        raise ValueError("give order_id or client_order_id")


_PLACE_PREFIXES: dict[tuple[object, ...], tuple[str, bool]] = {}  # see _place_query


def _place_query(
    symbol: str,
    side: str,
    quantity: Decimal,
    price: Decimal | None,
    order_type: str,
    client_order_id: str | None,
    time_in_force: str | None,
) -> str:
    """A new order's query, parameters in the documented order; refuses what cannot be one.

    Written out rather than built as pairs for ``encode_params``: this is the request the
    engine sends most (tested equal to the generic encoding). Its first part (symbol, side,
    type, time in force) repeats from order to order: it is built and checked once per kind."""
    key = (symbol, side, order_type, time_in_force)
    got = _PLACE_PREFIXES.get(key)
    if got is None:
        got = _place_prefix(symbol, side, order_type, time_in_force)
        if len(_PLACE_PREFIXES) >= 256:
            _PLACE_PREFIXES.clear()
        _PLACE_PREFIXES[key] = got
    query, limit = got
    if limit and price is None:
        raise ValueError("a LIMIT order needs a price")
    query = f"{query}&quantity={_amount_text('quantity', quantity)}"
    if price is not None:
        query = f"{query}&price={_amount_text('price', price)}"
    if client_order_id is not None:
        cid = client_order_id
        if not (type(cid) is str and cid.isascii() and cid.isalnum()):
            cid = value_text(cid)
        query = f"{query}&newClientOrderId={cid}"
    return query


def _amount_text(name: str, value: Decimal) -> str:
    """A quantity's or price's query text (``value_text``'s), refusing floats.

    A Decimal's plain notation holds only digits, "." and "-": nothing to escape. It is
    ``format(value, "f")``, which is ``str(value)`` when that has no exponent (the usual price
    or quantity): the shorter way there."""
    if type(value) is Decimal and value.is_finite():
        text = str(value)
        return format(value, "f") if "E" in text else text
    _require_decimal(name, value)
    return value_text(value)


def _place_prefix(
    symbol: str, side: str, order_type: str, time_in_force: str | None
) -> tuple[str, bool]:
    """``_place_query``'s part before the quantity, and whether the order is a LIMIT one."""
    side = side.upper()
    order_type = order_type.upper()
    if side not in ("BUY", "SELL"):
        raise ValueError(f"side must be BUY or SELL, got {side!r}")
    query = f"symbol={value_text(symbol)}&side={side}&type={value_text(order_type)}"
    if time_in_force:
        query += f"&timeInForce={value_text(time_in_force)}"
    elif order_type == "LIMIT":
        query += "&timeInForce=GTC"
    return query, order_type == "LIMIT"


def _order_query(symbol: str, order_id: int | None, client_order_id: str | None) -> str:
    """The query naming one order (cancel, query): ``encode_params`` of the same pairs."""
    if order_id is None and client_order_id is None:
        _one_id(order_id, client_order_id)  # raises
    # value_text's answers for the usual kinds of values, written out (every cancel)
    if type(symbol) is str and symbol.isascii() and symbol.isalnum():
        query = f"symbol={symbol}"
    else:
        query = f"symbol={value_text(symbol)}"
    if order_id is not None:
        query += f"&orderId={order_id}" if type(order_id) is int else (
            f"&orderId={value_text(order_id)}")
    if client_order_id is not None:
        query += f"&origClientOrderId={value_text(client_order_id)}"
    return query


def _require_decimal(name: str, value: object) -> None:
    if not isinstance(value, (Decimal, int, str)) or isinstance(value, bool):
        raise TypeError(f"{name} must be a Decimal (never a float), got {type(value).__name__}")
