"""User data stream: listen-key lifecycle and the ``/stream`` socket of order and balance pushes.

The listen key is created and kept alive on the LISTEN-KEY host (``urls.listen_key``; sending
the keep-alive elsewhere silently lets the key die after 60 minutes). It is a credential: it
is registered with the log redaction layer and never logged. The socket is replaced before its
24-hour limit; a dead key (expired, deleted, refused keep-alive) is replaced by a new one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

import aiohttp
import msgspec

from . import models as m
from .backoff import Backoff
from .errors import BitrueError, CertificateRejected, ExchangeUnavailable, RateLimited
from .market_stream import certificate_failure, first_connection, gunzip
from .rest import BitrueRestClient
from .urls import BitrueUrls

log = logging.getLogger(__name__)

ORDER_CHANNEL = "user_order_update"
BALANCE_CHANNEL = "user_balance_update"


class _Head(msgspec.Struct, frozen=True):
    e: str | None = None
    event: str | None = None
    event_rep: str | None = None
    status: str | None = None
    ping: int | str | None = None
    msg: str | None = None


_HEAD = msgspec.json.Decoder(_Head, strict=False)
_ORDER = m.decoder(m.OrderUpdate)
_BALANCE = m.decoder(m.BalanceUpdate)
_ENCODE = msgspec.json.Encoder()
# how the exchange's order pushes begin (the head decode would read ``e`` as "ORDER" too)
_ORDER_START = b'{"e":"ORDER",'


class _KeyDead(Exception):
    """The listen key must be replaced."""


class UserStream:
    """Delivers ``OrderUpdate``/``BalanceUpdate`` messages to callbacks, reconnecting forever."""

    def __init__(
        self,
        rest: BitrueRestClient,
        urls: BitrueUrls,
        *,
        on_order: Callable[[m.OrderUpdate], None],
        on_balance: Callable[[m.BalanceUpdate], None],
        keepalive_s: float = 30 * 60,
        pong_every_s: float = 5 * 60,
        max_connection_s: float = 23.5 * 3600,
        backoff: Backoff | None = None,
        source_address: str | None = None,
    ) -> None:
        self.rest = rest
        self.urls = urls
        self.on_order = on_order
        self.on_balance = on_balance
        self.keepalive_s = keepalive_s
        self.pong_every_s = pong_every_s
        self.max_connection_s = max_connection_s
        self.backoff = backoff or Backoff()
        self.source_address = source_address
        self.connected = asyncio.Event()
        self.failure: CertificateRejected | None = None  # fatal: the stream stopped
        self.connects = 0
        self.keys_created = 0
        self.keepalives_sent = 0
        self.messages = 0
        self.bad_frames = 0
        self.last_message_at: float | None = None
        self._key: str | None = None
        self._task: asyncio.Task[None] | None = None
        self._keepalive_task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None

    def __repr__(self) -> str:
        return f"UserStream(connected={self.connected.is_set()}, listen_key=<hidden>)"

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        if self._task is None or self._task.done():
            self.failure = None
            loop = asyncio.get_running_loop()
            self._task = loop.create_task(self._run(), name="bitrue-user")
            self._keepalive_task = loop.create_task(self._keepalive_loop(), name="bitrue-lk")

    async def wait_connected(self, timeout_s: float) -> None:
        """Until the first connection, a fatal failure or ``timeout_s`` (then the stream goes on
        trying); raises the fatal failure, a rejected certificate, at once."""
        await first_connection(self._task, self.connected, lambda: self.failure, timeout_s)

    async def stop(self, *, close_key: bool = True) -> None:
        for task in (self._task, self._keepalive_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._task = self._keepalive_task = None
        self.connected.clear()
        if close_key and self._key is not None:
            with contextlib.suppress(BitrueError):
                await self.rest.close_listen_key(self._key)
        self._key = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def drop_connection(self) -> None:
        """Close the socket (tests, operator action); the stream reconnects with the same key."""
        if self._ws is not None:
            await self._ws.close()

    # ------------------------------------------------------------------ messages

    def handle_text(self, data: str | bytes) -> bytes | None:
        """Dispatch one frame; returns a reply to send, or None."""
        raw = data.encode() if isinstance(data, str) else data
        if raw.startswith(_ORDER_START):  # the frames that move orders: one decode, not two
            update = _ORDER.decode(raw)
            self.last_message_at = time.monotonic()
            self.messages += 1
            self.on_order(update)
            return None
        head = _HEAD.decode(raw)
        self.last_message_at = time.monotonic()
        self.messages += 1
        if head.e in ("ORDER", "executionReport"):
            self.on_order(_ORDER.decode(raw))
        elif head.e in ("BALANCE", "outboundAccountPosition"):
            self.on_balance(_BALANCE.decode(raw))
        elif head.ping is not None:
            return _ENCODE.encode({"pong": head.ping})
        elif head.event == "ping":
            return _ENCODE.encode({"event": "pong", "ts": str(self.rest.clock.now_ms())})
        elif head.status == "error" or head.event_rep == "error":
            log.warning("bitrue user stream refused a request: %s", head.msg)
        return None

    # ------------------------------------------------------------------ loops

    async def _ensure_key(self) -> str:
        if self._key is None:
            self._key = await self.rest.create_listen_key()
            self.keys_created += 1
        return self._key

    async def _keepalive_loop(self) -> None:
        while True:
            await asyncio.sleep(self.keepalive_s)
            key = self._key
            if key is None:
                continue
            try:
                await self.rest.keepalive_listen_key(key)
                self.keepalives_sent += 1
            except (ExchangeUnavailable, RateLimited) as exc:
                log.warning(
                    "bitrue listen-key keep-alive not delivered (%s); will retry",
                    type(exc).__name__,
                )
            except BitrueError as exc:
                log.warning(
                    "bitrue listen key refused on keep-alive (%s); replacing it", type(exc).__name__
                )
                if self._key == key:
                    self._key = None
                    await self.drop_connection()

    async def _run(self) -> None:
        while True:
            try:
                await self._connect_and_read()
            except asyncio.CancelledError:
                raise
            except (aiohttp.ClientConnectorCertificateError, CertificateRejected) as exc:
                # a configuration problem (URL, CA), not a passing one: stop, say so, no loop
                self.failure = certificate_failure("user", exc)
                log.error("%s", self.failure)
                self.connected.clear()
                return
            except _KeyDead:
                self._key = None
                log.info("bitrue listen key expired or refused; creating a new one")
            except aiohttp.WSServerHandshakeError as exc:
                if exc.status in (400, 401, 404):
                    self._key = None
                log.warning("bitrue user stream handshake refused (HTTP %s)", exc.status)
            except (aiohttp.ClientError, OSError, TimeoutError, BitrueError) as exc:
                log.warning("bitrue user stream: %s", type(exc).__name__)
            except Exception:  # noqa: BLE001 - keep the stream alive on a bad frame
                log.exception("bitrue user stream failed; reconnecting")
            self.connected.clear()
            await asyncio.sleep(self.backoff.next())

    async def _connect_and_read(self) -> None:
        key = await self._ensure_key()
        if self._session is None:
            connector = aiohttp.TCPConnector(
                local_addr=(self.source_address, 0) if self.source_address else None,
                ssl=self.urls.ssl_context() if self.urls.uses_tls else True,
            )
            self._session = aiohttp.ClientSession(connector=connector)
        async with self._session.ws_connect(
            self.urls.user_stream(key),
            autoping=True,
            heartbeat=None,
            timeout=aiohttp.ClientWSTimeout(ws_close=5.0),
        ) as ws:
            self._ws = ws
            self.connects += 1
            for channel in (ORDER_CHANNEL, BALANCE_CHANNEL):
                await ws.send_str(
                    _ENCODE.encode({"event": "sub", "params": {"channel": channel}}).decode()
                )
            self.connected.set()
            opened = time.monotonic()
            next_pong = opened + self.pong_every_s
            while True:
                now = time.monotonic()
                if now - opened >= self.max_connection_s:
                    log.info("bitrue user stream: renewing the connection before its 24 h limit")
                    return
                if now >= next_pong:
                    await ws.send_str(
                        _ENCODE.encode(
                            {"event": "pong", "ts": str(self.rest.clock.now_ms())}
                        ).decode()
                    )
                    next_pong = now + self.pong_every_s
                wait = max(0.01, min(next_pong, opened + self.max_connection_s) - now)
                try:
                    msg = await ws.receive(timeout=wait)
                except TimeoutError:
                    continue
                if msg.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                    data = msg.data
                    if isinstance(data, bytes) and data[:2] == b"\x1f\x8b":
                        data = gunzip(data)
                    try:
                        reply = self.handle_text(data)
                    except msgspec.DecodeError as exc:
                        self.bad_frames += 1
                        log.warning("bitrue user stream: undecodable message skipped (%s)", exc)
                        continue
                    if reply is not None:
                        await ws.send_str(reply.decode())
                    self.backoff.reset()
                elif msg.type in (
                    aiohttp.WSMsgType.CLOSE,
                    aiohttp.WSMsgType.CLOSING,
                    aiohttp.WSMsgType.CLOSED,
                    aiohttp.WSMsgType.ERROR,
                ):
                    reason = (ws.close_code, str(msg.extra or ""))
                    self.connected.clear()
                    if "listenkey" in reason[1].lower() or self._key is None:
                        raise _KeyDead()
                    # Unknown why it closed: make sure the key still lives before reusing it.
                    await self._check_key(key)
                    return

    async def _check_key(self, key: str) -> None:
        try:
            await self.rest.keepalive_listen_key(key)
            self.keepalives_sent += 1
        except (ExchangeUnavailable, RateLimited):
            return
        except BitrueError as exc:
            raise _KeyDead() from exc
