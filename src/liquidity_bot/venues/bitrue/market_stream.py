"""Market stream (``/market/ws``): gzip depth snapshots into the domain's OrderBooks.

Each push is a full snapshot of the top of the book, so a lost frame costs nothing but
freshness; after a reconnect (a gap) the books are re-seeded from REST ``/depth`` so they
are right before the first push arrives. A connection that sends nothing (not even the
15-second pings) for ``stale_after_s`` is treated as dead and replaced.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import logging
import time
import zlib
from collections.abc import Callable, Iterable
from typing import ClassVar

import aiohttp
import msgspec

from liquidity_bot.domain.book import OrderBook

from ..tls import TLS_REJECTED_HELP
from .backoff import Backoff
from .errors import BitrueError, CertificateRejected
from .rest import BitrueRestClient
from .urls import BitrueUrls

log = logging.getLogger(__name__)

# Levels stay exact decimal TEXT until read: the OrderBook turns them into Decimal on first
# access, so snapshots replaced before anyone looks (most of them) never pay for conversion.
# Never float: the text is the exchange's own digits.
Levels = tuple[tuple[str, str], ...]


class _Tick(msgspec.Struct, frozen=True):
    buys: Levels = ()
    asks: Levels = ()


class _Push(msgspec.Struct, frozen=True):
    """Any market-socket message: a depth push, a ping, a (un)sub answer or an error."""

    channel: str | None = None
    ts: int | str | None = None
    tick: _Tick | None = None
    ping: int | str | None = None
    event_rep: str | None = None
    status: str | None = None
    cb_id: str | None = None
    msg: str | None = None


_DECODE = msgspec.json.Decoder(_Push, strict=False)
_ENCODE = msgspec.json.Encoder()


def depth_channel(symbol: str) -> str:
    """``XRPUSDT`` -> ``market_xrpusdt_simple_depth_step0``."""
    return f"market_{symbol.lower()}_simple_depth_step0"


def gunzip(data: bytes) -> bytes:
    """Decompress one gzip frame (fast path: raw zlib with the gzip header)."""
    try:
        return zlib.decompress(data, 31)
    except zlib.error:
        return gzip.decompress(data)


def certificate_failure(stream: str, exc: Exception) -> CertificateRejected:
    """A stream's rejected TLS certificate as the error that stops it (a configuration problem:
    the URL or the CA, never retried)."""
    if isinstance(exc, CertificateRejected):
        return exc
    return CertificateRejected(
        f"bitrue {stream} stream: the TLS certificate of {getattr(exc, 'host', '?')} was not "
        f"accepted ({getattr(getattr(exc, 'certificate_error', None), 'verify_message', exc)}). "
        + TLS_REJECTED_HELP)


async def first_connection(task: asyncio.Task | None, connected: asyncio.Event,
                           failure: Callable[[], BaseException | None], timeout_s: float) -> None:
    """A stream's ``wait_connected``: until its first connection, its fatal failure (a rejected
    certificate, raised at once) or ``timeout_s`` (then it goes on trying)."""
    waiter = asyncio.ensure_future(connected.wait())
    try:
        await asyncio.wait([waiter, *([task] if task is not None else [])],
                           timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()
    fatal = failure()
    if fatal is not None:
        raise fatal


def frames_waiting(ws: aiohttp.ClientWebSocketResponse) -> int:
    """Messages aiohttp has read off the socket and not handed out yet: a backlog. (Its
    reader's buffer is not public API: where it is missing this says 0, and books are handed
    on frame by frame as before; tests/scenarios/test_market_fairness.py notices.)"""
    buffer = getattr(getattr(ws, "_reader", None), "_buffer", None)
    try:
        return len(buffer)  # type: ignore[arg-type]
    except TypeError:
        return 0


class MarketStream:
    """Keeps one WebSocket subscribed to many symbols and their OrderBooks current.

    ``on_book`` is called with the updated ``OrderBook`` after each applied snapshot (cheap:
    read ``book.bids``/``book.asks`` only when needed; they are Decimal and cached).
    """

    # False: every book is handed on as its frame is handled, backlog or not (the design
    # before; bench/bench_markets.py compares both)
    coalesce_backlog: ClassVar[bool] = True

    def __init__(
        self,
        urls: BitrueUrls,
        symbols: Iterable[str],
        *,
        rest: BitrueRestClient | None = None,
        on_book: Callable[[OrderBook], None] | None = None,
        stale_after_s: float = 30.0,
        resync_depth: int = 100,
        backoff: Backoff | None = None,
        source_address: str | None = None,
    ) -> None:
        self.urls = urls
        self.symbols = [s.upper() for s in symbols]
        self.books: dict[str, OrderBook] = {s: OrderBook(s) for s in self.symbols}
        self._by_channel = {depth_channel(s): s for s in self.symbols}
        self.rest = rest
        self.on_book = on_book
        # perf_counter_ns when the frame (or REST answer) behind the latest ``on_book`` call
        # arrived: the start of tick-to-order latency.
        self.frame_ns: int | None = None
        self.stale_after_s = stale_after_s
        self.resync_depth = resync_depth
        self.backoff = backoff or Backoff()
        self.source_address = source_address
        self.connected = asyncio.Event()
        self.failure: CertificateRejected | None = None  # fatal: the stream stopped
        self.connects = 0
        self.reconnects = 0
        self.stale_events = 0
        self.resyncs = 0
        self.snapshots = 0
        self.pings_answered = 0
        self.bad_frames = 0
        self.last_message_at: float | None = None
        # While frames wait behind the one being handled (a burst, or a pass that ran long),
        # books are applied but handed on once per symbol when the backlog is done: a burst
        # on one symbol costs one quoting pass, not one per frame, and the other symbols'
        # books in the same backlog are answered after it, not behind all of it.
        self.coalescing = False
        self.coalesced = 0  # books replaced by a newer one of their symbol before handed on
        self._held: dict[str, int | None] = {}  # symbol -> receipt time of its latest frame
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None

    # ------------------------------------------------------------------ lifecycle

    def drop(self, symbol: str) -> None:
        """Stop following ``symbol`` (refused by the exchange) before ``start``."""
        symbol = symbol.upper()
        if symbol in self.symbols:
            self.symbols.remove(symbol)
        self.books.pop(symbol, None)
        self._by_channel.pop(depth_channel(symbol), None)

    async def start(self) -> None:
        if self._task is None or self._task.done():
            self.failure = None
            self._task = asyncio.get_running_loop().create_task(self._run(), name="bitrue-market")

    async def wait_connected(self, timeout_s: float) -> None:
        """Until the first connection, a fatal failure or ``timeout_s`` (then the stream goes on
        trying); raises the fatal failure, a rejected certificate, at once."""
        await first_connection(self._task, self.connected, lambda: self.failure, timeout_s)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def drop_connection(self) -> None:
        """Close the current socket (tests, operator action); the stream reconnects."""
        if self._ws is not None:
            await self._ws.close()

    # ------------------------------------------------------------------ hot path

    def handle_frame(self, data: bytes | str) -> bytes | None:
        """Process one frame; returns a reply to send (pong) or None."""
        self.frame_ns = time.perf_counter_ns()
        raw = gunzip(data) if isinstance(data, bytes | bytearray) else data.encode()
        self.last_message_at = time.monotonic()
        msg = _DECODE.decode(raw)
        tick = msg.tick
        if tick is not None and msg.channel is not None:
            symbol = self._by_channel.get(msg.channel)
            if symbol is None:
                return None
            ts = int(msg.ts) if msg.ts is not None else 0
            book = self.books[symbol]
            if book.apply_snapshot(tick.buys, tick.asks, ts):
                self.snapshots += 1
                if self.on_book is not None:
                    if not self.coalescing and not self._held:
                        self.on_book(book)  # now
                    else:
                        self._hold(symbol)
            return None
        if msg.ping is not None:
            self.pings_answered += 1
            return _ENCODE.encode({"pong": msg.ping})
        if msg.status == "error" or msg.event_rep == "error":
            log.warning("bitrue market stream refused a request: %s", msg.msg)
        return None

    def _hold(self, symbol: str) -> None:
        """While more frames wait (or books are held), a book is handed on when the backlog
        is handled (``release_books``), not now."""
        if symbol in self._held:
            self.coalesced += 1
        self._held[symbol] = self.frame_ns  # a symbol keeps its first place in the line

    def release_books(self) -> None:
        """Hand on each book held during a backlog once, in the order their symbols first
        came, each with the receipt time of the frame behind it."""
        held, self._held = self._held, {}
        if self.on_book is None:
            return
        for symbol, frame_ns in held.items():
            book = self.books.get(symbol)
            if book is not None:
                self.frame_ns = frame_ns
                self.on_book(book)

    # ------------------------------------------------------------------ connection loop

    async def _run(self) -> None:
        first = True
        while True:
            try:
                await self._connect_and_read(resync=not first)
                self.backoff.reset()
            except asyncio.CancelledError:
                raise
            except (aiohttp.ClientConnectorCertificateError, CertificateRejected) as exc:
                # a configuration problem (URL, CA), not a passing one: stop, say so, no loop
                self.failure = certificate_failure("market", exc)
                log.error("%s", self.failure)
                self.connected.clear()
                return
            except (aiohttp.ClientError, OSError, TimeoutError, ValueError, BitrueError) as exc:
                log.warning("bitrue market stream: %s: %s", type(exc).__name__, exc)
            except Exception:  # noqa: BLE001 - the stream must survive a bad frame
                log.exception("bitrue market stream failed; reconnecting")
            self.connected.clear()
            self.coalescing = False
            if self._held:  # the connection ended inside a backlog: its books are applied
                self.release_books()
            first = False
            self.reconnects += 1
            await asyncio.sleep(self.backoff.next())

    async def _connect_and_read(self, resync: bool) -> None:
        if self._session is None:
            connector = aiohttp.TCPConnector(
                local_addr=(self.source_address, 0) if self.source_address else None,
                ssl=self.urls.ssl_context() if self.urls.uses_tls else True,
            )
            self._session = aiohttp.ClientSession(connector=connector)
        async with self._session.ws_connect(
            self.urls.market_stream,
            autoping=True,
            heartbeat=None,
            max_msg_size=0,
            timeout=aiohttp.ClientWSTimeout(ws_close=5.0),
        ) as ws:
            self._ws = ws
            self.connects += 1
            for symbol in self.symbols:
                sub = {
                    "event": "sub",
                    "params": {"cb_id": symbol.lower(), "channel": depth_channel(symbol)},
                }
                await ws.send_str(_ENCODE.encode(sub).decode())
            self.connected.set()
            if resync:
                await self.resync()
            healthy_since = time.monotonic()
            while True:
                try:
                    msg = await ws.receive(timeout=self.stale_after_s)
                except TimeoutError:
                    self.stale_events += 1
                    log.warning(
                        "bitrue market stream silent for %.1f s; reconnecting", self.stale_after_s
                    )
                    return
                if msg.type in (aiohttp.WSMsgType.BINARY, aiohttp.WSMsgType.TEXT):
                    self.coalescing = self.coalesce_backlog and frames_waiting(ws) > 0
                    try:
                        reply = self.handle_frame(msg.data)
                    except (msgspec.DecodeError, zlib.error, OSError, EOFError) as exc:
                        self.bad_frames += 1
                        log.warning("bitrue market stream: undecodable frame skipped (%s)", exc)
                        reply = None
                    finally:
                        if not self.coalescing and self._held:
                            self.release_books()
                    if reply is not None:
                        await ws.send_str(reply.decode())
                    continue
                if self._held:  # a control message ended the backlog
                    self.release_books()
                if msg.type in (
                    aiohttp.WSMsgType.CLOSE,
                    aiohttp.WSMsgType.CLOSING,
                    aiohttp.WSMsgType.CLOSED,
                    aiohttp.WSMsgType.ERROR,
                ):
                    if time.monotonic() - healthy_since > 60:
                        self.backoff.reset()
                    return

    async def resync(self) -> None:
        """Re-seed every book from REST ``/depth`` (after a gap)."""
        if self.rest is None:
            return
        for symbol in self.symbols:
            ts = self.rest.clock.now_ms()
            depth = await self.rest.depth(symbol, self.resync_depth)
            bids = tuple((lv.price, lv.qty) for lv in depth.bids)
            asks = tuple((lv.price, lv.qty) for lv in depth.asks)
            book = self.books[symbol]
            # Stamped with the server time at sending (the book is at least this new); never
            # older than the book held, so it replaces it, and the next push still wins.
            if book.ts_ms is not None and ts < book.ts_ms:
                ts = book.ts_ms
            if book.apply_snapshot(bids, asks, ts, None):
                self.resyncs += 1
                self.frame_ns = time.perf_counter_ns()
                if self.on_book is not None:
                    self.on_book(book)
