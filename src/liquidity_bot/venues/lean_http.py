"""A lean HTTP/1.1 keep-alive client for the REST hot path (orders and other REST calls).

Why not aiohttp here: on the order path the client's own CPU per request matters (a market
maker re-quotes constantly), and the HTTP library's per-request machinery (URL objects,
multidicts, trace hooks, per-request timers, stream readers, cookie jar...) was most of it.
``bench/bench_connector.py`` (simulator in another process, both clients on each event loop in
one interleaved run; see ``bench/results.md`` for the latest figures) measured client CPU per
signed round trip: an aiohttp-based client of ours ~240 us per place, ccxt (aiohttp too) ~180-
240 us, this transport with the REST client above it ~33-34 us on uvloop (the loop ``run``
uses) and on the default loop. Per request it makes one write, one read and one epoll wait, one
future and no timer; the answer resumes its task inside the read callback (see
``_Connection.buffer_updated``), which spares the default loop a turn of its own. A minimal
raw protocol costs ~13 us (uvloop) and ~17.5 us (default loop) per round trip: the rest is
our Python, which after each sleep in epoll runs with cold caches (about three times its warm
cost). Orders take ``Origin.send_now`` (written at once from the caller's frame,
no coroutine below it) whenever a slot and a warm connection are free.

This module does only what Bitrue's REST API needs, directly on an ``asyncio.BufferedProtocol``
(each connection reads into one fixed buffer: the default loop's plain ``Protocol`` path
allocates 256 KiB per read, which cost an mmap, mremap and munmap per answer there): pooled
keep-alive connections per origin, pre-encoded constant header bytes, a response parser that
looks only at the headers it needs (``Content-Length``, ``Transfer-Encoding: chunked``,
``Connection``, ``Keep-Alive``), connect and read timeouts (one shared watchdog timer while
requests are in flight, not one per request), an optional source address to bind, and TLS with
``ssl.create_default_context()`` (certificate and host name verification on). aiohttp is
still used for the WebSockets.

What happened on the wire is reported honestly, because for orders it decides between "failed"
and "unknown":

* ``ConnectFailed``: no connection (refused, unreachable, connect timeout, TLS handshake or
  certificate failure). Nothing was sent.
* ``NoResponse``: the request may have reached the server but no complete answer came back
  (timeout, reset, close mid-answer, malformed answer).

A pooled connection that the server closed while idle is detected before use when the close has
already arrived. If it arrives in the race window, the request is re-sent on a fresh connection
only when we know it was not delivered (the write itself failed) or when the caller says the
request is idempotent and not a single byte of answer came back. Callers that must not retry
(order placement) instead pass ``max_idle_s`` so that a connection idle longer than that is
replaced by a fresh one before sending.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from asyncio import Future, Task
from collections import deque
from collections.abc import Mapping
from urllib.parse import urlsplit

_MAX_HEAD = 64 * 1024
_CRLF2 = b"\r\n\r\n"
# The socket is read into one fixed buffer per connection (``asyncio.BufferedProtocol``): the
# plain ``Protocol`` path of the default event loop allocates a 256 KiB bytes object for every
# read, which glibc may serve with mmap/mremap/munmap and page faults (measured: ~20 us of
# kernel time per answer on the default loop). 64 KiB holds any order answer in one read.
_READ_SIZE = 64 * 1024
_monotonic = time.monotonic
# A fresh connection's one attempt; a pooled connection's two (0: pooled, 1: fresh). Named
# tuples, not literals in a conditional, which Cython 3.3 cannot type (bench/compile_hot.py).
_FRESH_ATTEMPTS = (1,)
_POOLED_ATTEMPTS = (0, 1)
# the future's (callback, context) pairs are readable on CPython's asyncio.Future (see
# _Connection.buffer_updated); elsewhere answers wake their task through the loop as usual
_WAKE_NOW = hasattr(Future, "_callbacks")


class HttpTransportError(Exception):
    """The exchange could not be reached or gave no usable answer (no HTTP status to judge)."""

    def __init__(self, message: str, cause: str):
        super().__init__(message)
        self.cause = cause


class ConnectFailed(HttpTransportError):
    """No connection could be opened: the request was certainly not sent."""


class TlsRejected(ConnectFailed):
    """The server's certificate (or its host name) was not accepted: nothing was sent, and
    trying again cannot help until the configuration changes."""


class NoResponse(HttpTransportError):
    """The request may have been delivered, but no complete answer came back."""

    def __init__(self, message: str, cause: str, *, got_bytes: bool = False):
        super().__init__(message, cause)
        self.got_bytes = got_bytes


class NotSent(Exception):
    """The connection was dead before or during the write: nothing was delivered (the order
    path's ``Origin.send_now`` lets it out; ``Origin.request`` re-sends on a fresh connection)."""


class Headers(dict[str, str]):
    """Response headers with case-insensitive ``get`` and ``[]`` (keys stored lowercase)."""

    def get(self, key: str, default: str | None = None) -> str | None:  # type: ignore[override]
        return dict.get(self, key.lower(), default)

    def __getitem__(self, key: str) -> str:
        return dict.__getitem__(self, key.lower())

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and dict.__contains__(self, key.lower())


class HttpResponse:
    """Status, body bytes and (parsed on first access) headers of one answer."""

    __slots__ = ("status", "body", "head", "_headers")

    def __init__(self, status: int, head: bytes, body: bytes):
        self.status = status
        self.body = body
        self.head = head  # the status line and headers, as received
        self._headers: Headers | None = None

    @property
    def headers(self) -> Headers:
        if self._headers is None:
            parsed = Headers()
            for line in self.head.split(b"\r\n")[1:]:
                name, sep, value = line.partition(b":")
                if sep:
                    key = name.strip().decode("latin-1").lower()
                    text = value.strip().decode("latin-1")
                    parsed[key] = f"{parsed[key]}, {text}" if key in parsed else text
            self._headers = parsed
        return self._headers

    def __repr__(self) -> str:
        return f"HttpResponse(status={self.status}, body={len(self.body)} bytes)"


def _header_value(lower_head: bytes, name: bytes) -> bytes | None:
    """Value of header ``name`` (lowercase, with the leading CRLF and colon) in a lowered head."""
    i = lower_head.find(name)
    if i < 0:
        return None
    start = i + len(name)
    end = lower_head.find(b"\r\n", start)
    return lower_head[start : end if end >= 0 else len(lower_head)].strip()


_OK_LINE = b"HTTP/1.1 200 "  # the usual status line's start (see _parse_head)


class _Watchdog:
    """Read timeouts for every in-flight request of one client, checked on one shared timer.

    Cheaper than a timer per request (the hot path only stores a deadline: a connection with
    a ``waiter`` has a request in flight); a timeout fires between ``timeout`` and ``timeout +
    tick`` seconds after sending.
    """

    __slots__ = ("loop", "tick", "conns", "handle")

    def __init__(self, loop: asyncio.AbstractEventLoop, tick: float) -> None:
        self.loop = loop
        self.tick = tick
        self.conns: set[_Connection] = set()  # every connection not yet closed
        self.handle: asyncio.TimerHandle | None = None

    def start(self) -> None:
        """Arm the timer (``_Connection.send`` sets its ``waiter`` and ``deadline``, in
        ``time.monotonic`` seconds, and calls this when the timer is not armed)."""
        self.handle = self.loop.call_later(self.tick, self._check)

    def _check(self) -> None:
        self.handle = None
        now = _monotonic()
        busy = False
        for conn in list(self.conns):
            if conn.waiter is not None:
                if conn.deadline <= now:
                    conn.on_timeout()
                else:
                    busy = True
        if busy:
            self.handle = self.loop.call_later(self.tick, self._check)

    def stop(self) -> None:
        if self.handle is not None:
            self.handle.cancel()
            self.handle = None


class _Connection(asyncio.BufferedProtocol):
    """One keep-alive connection; parses one answer at a time into ``waiter``."""

    __slots__ = (
        "watchdog",
        "loop",
        "transport",
        "read_view",
        "buf",
        "waiter",
        "deadline",
        "closed",
        "got_bytes",
        "last_used",
        "keep_alive_s",
        "head",
        "status",
        "body_start",
        "length",
        "chunked",
        "until_close",
        "must_close",
        "chunk_pos",
        "chunks",
    )

    def __init__(self, watchdog: _Watchdog) -> None:
        self.watchdog = watchdog
        watchdog.conns.add(self)
        self.loop = watchdog.loop
        self.transport: asyncio.Transport | None = None
        self.read_view = memoryview(bytearray(_READ_SIZE))
        self.buf = bytearray()
        self.waiter: asyncio.Future[HttpResponse] | None = None
        self.deadline = 0.0
        self.closed = False
        self.got_bytes = False
        self.last_used = 0.0
        self.keep_alive_s = float("inf")  # the server's Keep-Alive timeout, when it says
        self.head = b""
        self.status = 0
        self.body_start = -1
        self.length = -1
        self.chunked = False
        self.until_close = False
        self.must_close = False
        self.chunk_pos = 0
        self.chunks: list[bytes] = []

    # ------------------------------------------------------------------ protocol callbacks

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.read_view

    def buffer_updated(self, nbytes: int) -> None:
        waiter = self.waiter
        if waiter is None:
            # Bytes nobody asked for (or after a complete answer): the stream is out of step.
            self.close()
            return
        self.got_bytes = True
        buf = self.buf
        buf += self.read_view[:nbytes]
        try:
            if self.body_start < 0 and not self._parse_head():
                return
            if self.length < 0:
                if self.chunked:
                    self._parse_chunks()
                return
            start = self.body_start
            end = start + self.length
            if len(buf) < end:
                return
            # _finish, written out (the path of every order's answer)
            self.waiter = None
            if len(buf) > end or self.must_close:  # bytes past the answer: never reuse
                self.must_close = True
                self.close()
            body = bytes(buf[start:end])
        except ValueError as exc:
            self._fail(NoResponse(f"malformed HTTP answer ({exc})", "malformed", got_bytes=True))
            return
        if waiter.done():
            return
        # The task awaiting the answer resumes here and now rather than on the loop's next
        # turn (on the default loop one more zero-timeout epoll, a Handle and the loop's own
        # Python): the future resolves with no callback scheduled, then its one waiting
        # task's wake-up runs in this read callback. Only a Task's wake-up (any error stays
        # inside the task); anything else is scheduled by set_result as usual. Nothing here
        # touches the connection after the wake-up: the task may have sent its next request.
        callbacks = waiter._callbacks if _WAKE_NOW else None
        if callbacks is not None and len(callbacks) == 1:
            wake, context = callbacks[0]
            if isinstance(getattr(wake, "__self__", None), Task):
                waiter.remove_done_callback(wake)
                waiter.set_result(body)
                try:
                    context.run(wake, waiter)
                except RuntimeError:
                    # Another task is running (never so from the loop's own callbacks), so
                    # this one cannot be entered: through the loop, as set_result would.
                    self.loop.call_soon(wake, waiter, context=context)
                return
        waiter.set_result(body)

    def eof_received(self) -> bool:
        self.closed = True
        if self.waiter is not None and self.until_close and self.body_start >= 0:
            self._finish(bytes(self.buf[self.body_start :]))
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.waiter is not None:
            if self.until_close and self.body_start >= 0 and exc is None:
                self._finish(bytes(self.buf[self.body_start :]))
            else:
                cause = type(exc).__name__ if exc else "closed by server"
                self._fail(
                    NoResponse(
                        f"connection lost before a complete answer ({cause})",
                        cause,
                        got_bytes=self.got_bytes,
                    )
                )

    # ------------------------------------------------------------------ request / answer

    def send(self, data: bytes, deadline: float) -> asyncio.Future[bytes]:
        """Write one request; the future resolves with its answer's body (``status`` and
        ``head`` hold the rest until the next ``send``). ``deadline``: ``time.monotonic()``
        seconds by which the answer must be complete. Raises ``NotSent``."""
        transport = self.transport
        if self.closed or transport is None or transport.is_closing():
            raise NotSent
        self.buf.clear()
        self.body_start = self.length = -1
        self.got_bytes = self.chunked = self.until_close = self.must_close = False
        # what loop.create_future() makes, without the default loop's Python-level method call
        waiter = self.waiter = Future(loop=self.loop)
        transport.write(data)
        if transport.is_closing():
            # The socket send failed synchronously (the transport closed itself): not delivered.
            self.waiter = None
            self.closed = True
            raise NotSent
        self.deadline = deadline
        if self.watchdog.handle is None:
            self.watchdog.start()
        return waiter

    def on_timeout(self) -> None:
        self._fail(NoResponse("no answer in time", "timeout", got_bytes=self.got_bytes))

    def _finish(self, body: bytes) -> None:
        waiter = self.waiter
        self.waiter = None
        if self.must_close or self.until_close:
            self.close()
        if waiter is not None and not waiter.done():
            waiter.set_result(body)

    def _fail(self, exc: NoResponse) -> None:
        waiter = self.waiter
        self.waiter = None
        self.close()
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)

    def close(self) -> None:
        self.closed = True
        self.watchdog.conns.discard(self)
        if self.transport is not None:
            self.transport.abort()

    # ------------------------------------------------------------------ parsing

    def _parse_head(self) -> bool:
        """Parse the status line and headers once complete; False while more bytes are due."""
        buf = self.buf
        end = buf.find(_CRLF2)
        if end > 0 and buf.startswith(_OK_LINE):
            # The usual answer (an HTTP/1.1 200 with a Content-Length, no Connection, Keep-Alive
            # or Transfer-Encoding header) in a few steps, concluding what _parse_any_head would.
            head = bytes(buf[:end])
            lower = head.lower()
            i = lower.find(b"\r\ncontent-length:")
            if i > 0 and not (
                b"\r\nconnection:" in lower
                or b"\r\nkeep-alive:" in lower
                or b"\r\ntransfer-encoding:" in lower
            ):
                self.head, self.status, self.body_start = head, 200, end + 4
                j = lower.find(b"\r\n", i + 17)
                length = self.length = int(lower[i + 17 : j if j >= 0 else len(lower)])
                if length < 0:
                    raise ValueError("negative Content-Length")
                return True
        return self._parse_any_head()

    def _parse_any_head(self) -> bool:
        """``_parse_head`` for any answer (tested to agree with its short path on the usual
        one): interim answers, HTTP/1.0, Connection, Keep-Alive, chunked, no length."""
        buf = self.buf
        while True:
            end = buf.find(_CRLF2)
            if end < 0:
                if len(buf) > _MAX_HEAD:
                    raise ValueError("header block too large")
                return False
            head = bytes(buf[:end])
            if head[:7] != b"HTTP/1." or head[12:13] not in (b" ", b""):
                raise ValueError("not an HTTP/1.x status line")
            status = int(head[9:12])
            if status >= 200:
                break
            if status < 100:
                raise ValueError(f"status {status}")
            del buf[: end + 4]  # interim answer (100 Continue): skip it
        self.head, self.status, self.body_start = head, status, end + 4
        lower = head.lower()
        if head[5:8] == b"1.0":
            conn = _header_value(lower, b"\r\nconnection:")
            self.must_close = conn is None or b"keep-alive" not in conn
        elif b"\r\nconnection:" in lower:
            self.must_close = b"close" in (_header_value(lower, b"\r\nconnection:") or b"")
        if b"\r\nkeep-alive:" in lower:
            self._note_keep_alive(_header_value(lower, b"\r\nkeep-alive:") or b"")
        if status == 204 or status == 304:
            self.length = 0
        elif b"\r\ntransfer-encoding:" in lower:
            te = _header_value(lower, b"\r\ntransfer-encoding:") or b""
            if not te.endswith(b"chunked"):
                raise ValueError(f"unsupported Transfer-Encoding {te.decode('latin-1')!r}")
            self.chunked = True
            self.chunk_pos = self.body_start
            self.chunks = []
        else:
            i = lower.find(b"\r\ncontent-length:")
            if i >= 0:
                j = lower.find(b"\r\n", i + 17)
                self.length = int(lower[i + 17 : j if j >= 0 else len(lower)])
                if self.length < 0:
                    raise ValueError("negative Content-Length")
            else:
                self.until_close = True  # no length given: the body ends when the server closes
                self.must_close = True
        return True

    def _parse_chunks(self) -> None:
        buf = self.buf
        pos = self.chunk_pos
        while True:
            line_end = buf.find(b"\r\n", pos)
            if line_end < 0:
                return
            size = int(bytes(buf[pos:line_end]).split(b";", 1)[0].strip(), 16)
            if size == 0:
                # Last chunk; then optional trailers, ending with an empty line.
                if buf[line_end : line_end + 4] == _CRLF2:
                    trailer_end = line_end
                else:
                    trailer_end = buf.find(_CRLF2, line_end)
                    if trailer_end < 0:
                        return
                if len(buf) > trailer_end + 4:
                    self.must_close = True  # bytes past the answer: never reuse
                self._finish(b"".join(self.chunks))
                return
            data_end = line_end + 2 + size
            if len(buf) < data_end + 2:
                return
            if buf[data_end : data_end + 2] != b"\r\n":
                raise ValueError("chunk not followed by CRLF")
            self.chunks.append(bytes(buf[line_end + 2 : data_end]))
            pos = self.chunk_pos = data_end + 2

    def _note_keep_alive(self, value: bytes) -> None:
        for part in value.split(b","):
            name, _, number = part.strip().partition(b"=")
            if name == b"timeout" and number.strip().isdigit():
                # Leave a margin: the server's timer started when it sent the answer.
                self.keep_alive_s = max(0.0, int(number) - 1.0)


class Origin:
    """One ``scheme://host:port``: its pool of idle keep-alive connections and its requests."""

    def __init__(self, client: HttpClient, base_url: str) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) base URL: {base_url!r}")
        self.client = client
        self.scheme = parts.scheme
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        default_port = self.port == (443 if parts.scheme == "https" else 80)
        host_header = self.host if ":" not in self.host else f"[{self.host}]"
        if not default_port:
            host_header += f":{self.port}"
        self.prefix = (parts.path or "").rstrip("/")
        self.fixed_headers = f"Host: {host_header}\r\nUser-Agent: {client.user_agent}\r\n".encode(
            "latin-1"
        )
        self._idle: deque[_Connection] = deque()
        self._all: set[_Connection] = set()
        self.connects = 0  # connections opened so far
        self._active = 0  # requests in flight (at most client.max_per_host)
        self._slot_waiters: deque[asyncio.Future[None]] = deque()

    def __repr__(self) -> str:
        return f"Origin({self.scheme}://{self.host}:{self.port}, idle={len(self._idle)})"

    def encode(self, method: str, target: str, headers: bytes = b"", body: bytes = b"") -> bytes:
        """The request's bytes, as ``request`` writes them (see there)."""
        if " " in target or "\r" in target or "\n" in target:
            raise ValueError("request target must be percent-encoded (no spaces or line breaks)")
        if body or method in ("POST", "PUT", "DELETE", "PATCH"):
            length = b"Content-Length: %d\r\n\r\n" % len(body)
        else:
            length = b"\r\n"
        return b"".join(
            (
                f"{method} {self.prefix}{target} HTTP/1.1\r\n".encode("latin-1"),
                self.fixed_headers,
                headers,
                length,
                body,
            )
        )

    async def request(
        self,
        method: str,
        target: str,
        headers: bytes = b"",
        *,
        body: bytes = b"",
        idempotent: bool = False,
        max_idle_s: float | None = None,
    ) -> HttpResponse:
        """Send ``method target`` (target = path + query, already encoded) and read the answer.

        ``headers`` are extra pre-encoded ``Name: value\\r\\n`` lines. ``idempotent`` allows one
        re-send on a fresh connection if a reused one died before any byte of the answer;
        ``max_idle_s`` refuses to reuse a connection idle longer than that.
        """
        return await self.exchange(
            self.encode(method, target, headers, body), idempotent=idempotent, max_idle_s=max_idle_s
        )

    async def exchange(
        self,
        data: bytes,
        *,
        idempotent: bool = False,
        max_idle_s: float | None = None,
        fresh: bool = False,
    ) -> HttpResponse:
        """``request`` for a request already encoded (``data``, see ``encode``). ``fresh``: the
        write of ``data`` just failed on a pooled connection (``NotSent`` from ``send_now``):
        send it once on a new connection, as ``request``'s second attempt does."""
        client = self.client
        while self._active >= client.max_per_host:
            await self._wait_for_slot()
        self._active += 1
        try:
            conn = None if fresh else self._checkout(max_idle_s)
            for attempt in _FRESH_ATTEMPTS if fresh else _POOLED_ATTEMPTS:
                reused = conn is not None
                if conn is None:
                    conn = await self._connect()
                try:
                    body = await conn.send(data, _monotonic() + client.read_timeout_s)
                except NotSent:
                    self._discard(conn)
                    conn = None
                    if attempt == 0:
                        continue  # nothing was delivered: safe to send on a fresh connection
                    # Twice in a row: nothing was delivered either time.
                    raise ConnectFailed(
                        "the connection closed before the request could be written",
                        "closed before sending",
                    ) from None
                except NoResponse as exc:
                    self._discard(conn)
                    conn = None
                    if attempt == 0 and reused and idempotent and not exc.got_bytes:
                        continue
                    raise
                except BaseException:
                    # Cancelled mid-request: the connection's state is unknown, never reuse it.
                    self._discard(conn)
                    raise
                response = HttpResponse(conn.status, conn.head, body)
                self._checkin(conn)
                return response
            raise AssertionError("unreachable")  # pragma: no cover
        finally:
            self._release_slot()

    def send_now(
        self, data: bytes, max_idle_s: float | None
    ) -> tuple[_Connection, asyncio.Future[bytes]] | None:
        """The order path's ``exchange`` without a coroutine: write ``data`` at once on an idle
        pooled connection, taking a request slot. Returns that connection (hand it back with
        ``settle``) and the future of its answer, or None, having done nothing,
        when no slot or no usable idle connection is free (then ``exchange``). Raises
        ``NotSent`` when the write failed (nothing delivered, connection and slot let go):
        then ``exchange(data, fresh=True)``, as ``request`` would re-send it."""
        client = self.client
        idle = self._idle
        if not idle or self._active >= client.max_per_host:
            return None
        conn = idle[-1]  # _checkout's choice when it is usable (checked here, inline)
        now = _monotonic()
        idle_for = now - conn.last_used
        if (
            conn.closed
            or idle_for >= conn.keep_alive_s
            or idle_for > client.idle_s
            or (max_idle_s is not None and idle_for > max_idle_s)
        ):
            conn = self._checkout(max_idle_s)
            if conn is None:
                return None
        else:
            idle.pop()
        try:
            answer = conn.send(data, now + client.read_timeout_s)
        except NotSent:
            self._discard(conn)
            raise
        self._active += 1
        return conn, answer

    def settle(self, conn: _Connection, answered: bool) -> None:
        """Hand back a connection of ``send_now``: to the pool once it ``answered`` (a complete
        answer was read), else closed (no answer, or cancelled mid-request: state unknown)."""
        if answered and not conn.closed and not self.client.closed:
            conn.last_used = time.monotonic()  # _checkin, written out
            idle = self._idle
            idle.append(conn)
            while len(idle) > self.client.max_idle_per_host:
                self._discard(idle.popleft())
        else:
            self._discard(conn)
        self._active -= 1
        if self._slot_waiters:
            self._wake_one()

    def _release_slot(self) -> None:
        self._active -= 1
        self._wake_one()

    def _wake_one(self) -> None:
        while self._slot_waiters:
            waiter = self._slot_waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                break

    async def _wait_for_slot(self) -> None:
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._slot_waiters.append(waiter)
        try:
            await waiter
        except BaseException:
            if waiter in self._slot_waiters:
                self._slot_waiters.remove(waiter)
            elif waiter.done() and not waiter.cancelled() and self._slot_waiters:
                # We were woken but will not use the slot: pass the wake-up on.
                self._slot_waiters.popleft().set_result(None)
            raise

    # ------------------------------------------------------------------ pool

    def _checkout(self, max_idle_s: float | None) -> _Connection | None:
        idle = self._idle
        if not idle:
            return None
        now = time.monotonic()
        while idle:
            conn = idle.pop()  # most recently used first: the warmest connection
            idle_for = now - conn.last_used
            if conn.closed or idle_for >= conn.keep_alive_s or idle_for > self.client.idle_s:
                self._discard(conn)
                continue
            if max_idle_s is not None and idle_for > max_idle_s:
                self._discard(conn)
                # Older ones are idle even longer: drop them as well.
                while idle:
                    self._discard(idle.pop())
                return None
            return conn
        return None

    def _checkin(self, conn: _Connection) -> None:
        if conn.closed or self.client.closed:
            self._discard(conn)
            return
        conn.last_used = time.monotonic()
        self._idle.append(conn)
        while len(self._idle) > self.client.max_idle_per_host:
            self._discard(self._idle.popleft())

    def _discard(self, conn: _Connection) -> None:
        conn.close()
        self._all.discard(conn)

    async def _connect(self) -> _Connection:
        client = self.client
        loop = asyncio.get_running_loop()
        conn = _Connection(client.watchdog(loop))
        tls = client.ssl_context() if self.scheme == "https" else None
        try:
            await asyncio.wait_for(
                loop.create_connection(
                    lambda: conn,
                    self.host,
                    self.port,
                    ssl=tls,
                    server_hostname=self.host if tls is not None else None,
                    local_addr=(client.local_address, 0) if client.local_address else None,
                ),
                client.connect_timeout_s,
            )
        except TimeoutError:
            conn.close()
            raise ConnectFailed(
                f"could not connect to {self.host}:{self.port} in time", "connect timeout"
            ) from None
        except ssl.SSLCertVerificationError as exc:
            conn.close()
            raise TlsRejected(
                f"TLS certificate of {self.host} was not accepted ({exc.verify_message})",
                "TLS verification failed",
            ) from None
        except OSError as exc:
            conn.close()
            raise ConnectFailed(
                f"could not connect to {self.host}:{self.port} ({type(exc).__name__})",
                type(exc).__name__,
            ) from None
        self._all.add(conn)
        self.connects += 1
        return conn

    def close(self) -> None:
        for conn in list(self._all):
            conn.close()
        self._all.clear()
        self._idle.clear()


class HttpClient:
    """Keep-alive HTTP/1.1 client: one ``Origin`` (connection pool) per base URL.

    ``local_address`` binds every connection to that source IP. ``ssl_context`` builds the TLS
    context for https (default ``ssl.create_default_context()``: verification on).
    """

    def __init__(
        self,
        *,
        local_address: str | None = None,
        connect_timeout_s: float = 10.0,
        read_timeout_s: float = 10.0,
        idle_s: float = 30.0,
        max_idle_per_host: int = 8,
        max_per_host: int = 32,
        user_agent: str = "liquidity-bot",
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if connect_timeout_s <= 0 or read_timeout_s <= 0:
            raise ValueError("timeouts must be positive")
        self.local_address = local_address
        self.connect_timeout_s = connect_timeout_s
        self.read_timeout_s = read_timeout_s
        self.idle_s = idle_s
        self.max_idle_per_host = max_idle_per_host
        self.max_per_host = max_per_host
        self.user_agent = user_agent
        self._ssl = ssl_context
        self._origins: dict[str, Origin] = {}
        self._watchdog: _Watchdog | None = None
        self.closed = False

    def watchdog(self, loop: asyncio.AbstractEventLoop) -> _Watchdog:
        """The read-timeout checker of this client (one per event loop)."""
        if self._watchdog is None or self._watchdog.loop is not loop:
            tick = max(0.005, min(0.1, self.read_timeout_s / 10))
            self._watchdog = _Watchdog(loop, tick)
        return self._watchdog

    def ssl_context(self) -> ssl.SSLContext:
        if self._ssl is None:
            self._ssl = ssl.create_default_context()
        return self._ssl

    def origin(self, base_url: str) -> Origin:
        """The pool for ``base_url`` (created on first use)."""
        got = self._origins.get(base_url)
        if got is None:
            if self.closed:
                raise RuntimeError("this HttpClient is closed")
            got = self._origins[base_url] = Origin(self, base_url)
        return got

    async def request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None = None,
        *,
        body: bytes = b"",
        idempotent: bool | None = None,
    ) -> HttpResponse:
        """Convenience form taking a full URL (the hot path uses ``Origin.request``)."""
        parts = urlsplit(url)
        base = f"{parts.scheme}://{parts.netloc}"
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        extra = encode_headers(headers or {})
        return await self.origin(base).request(
            method,
            target,
            extra,
            body=body,
            idempotent=method == "GET" if idempotent is None else idempotent,
        )

    async def close(self) -> None:
        self.closed = True
        for origin in self._origins.values():
            origin.close()
        self._origins.clear()
        if self._watchdog is not None:
            self._watchdog.stop()


def encode_headers(headers: Mapping[str, str]) -> bytes:
    """``Name: value\\r\\n`` lines; refuses CR/LF inside names or values (header injection)."""
    out = []
    for name, value in headers.items():
        if any(c in name or c in value for c in "\r\n\0"):
            raise ValueError(f"header {name!r} contains a line break or NUL")
        out.append(f"{name}: {value}\r\n")
    return "".join(out).encode("latin-1")
