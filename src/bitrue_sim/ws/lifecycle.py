"""The life of one stream socket, from the handshake to the close, shared by both streams.

The market and user streams differ in what they read and push and in what keeps a socket open
(market: server pings answered by client pongs; user: client pongs, listen-key checks, a lifetime
limit). The rest is one loop, kept here so that both streams time out, stall, take injected
faults and clean up alike: ``accept`` completes the handshake, ``serve`` runs the writer and a
``KeepAlive`` beside the read loop and stops both when the socket ends.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar, Generic, TypeVar

from aiohttp import WSCloseCode, WSMsgType, web

from bitrue_sim.ws.connection import CLOSE_TIMEOUT_S, StreamConnection

if TYPE_CHECKING:
    from bitrue_sim.stream_settings import StreamSettings
    from bitrue_sim.ws import StreamHub

Conn = TypeVar("Conn", bound=StreamConnection)


async def accept(request: web.Request, settings: StreamSettings) -> web.WebSocketResponse:
    """Complete the WebSocket handshake; control-frame pings are answered by aiohttp."""
    ws = web.WebSocketResponse(
        autoping=True, max_msg_size=settings.max_message_bytes, timeout=CLOSE_TIMEOUT_S
    )
    await ws.prepare(request)
    return ws


class KeepAlive(abc.ABC, Generic[Conn]):
    """The keep-alive loop of one socket; a stream's subclass says what it adds.

    Each tick (a quarter of the shortest interval involved, at most 0.25 s) draws a WebSocket
    fault, runs the stream's own closing checks, then, unless the server is stalled, closes a
    socket silent for longer than the stream allows and does the stream's periodic work.
    """

    stream: ClassVar[str]
    """``market`` or ``user``: which fault rates apply."""
    log: ClassVar[logging.Logger]
    silence_log: ClassVar[str]
    """Logged with the connection id and the limit when the client went silent."""
    silence_reason: ClassVar[str]
    """The close frame's message when the client went silent."""

    def __init__(self, hub: StreamHub, conn: Conn) -> None:
        self.hub = hub
        self.conn = conn

    @abc.abstractmethod
    def start(self, now: float, settings: StreamSettings) -> None:
        """Set up the stream's own schedule, once, before the first tick."""

    @abc.abstractmethod
    def intervals(self, settings: StreamSettings) -> tuple[float, ...]:
        """The stream's own intervals; with ``fault_check_s`` and 1 s they set the tick."""

    @abc.abstractmethod
    def silence_limit_s(self, settings: StreamSettings) -> float:
        """How long the client may stay silent before the socket is closed."""

    def silent_since(self) -> float | None:
        """When the silence being timed began (None: the client owes nothing yet). By
        default the client's last message."""
        return self.conn.last_heard

    async def closed_by_checks(self, now: float, settings: StreamSettings) -> bool:
        """The stream's own reasons to close, checked even while stalled; True when closed."""
        return False

    def stalled(self) -> None:  # noqa: B027 - optional hook: nothing to do by default
        """A stalled tick: the server neither pings nor times anyone out."""

    def alive(self, now: float, settings: StreamSettings) -> None:  # noqa: B027 - optional hook
        """The stream's periodic work on a tick that left the socket open."""

    async def run(self) -> None:
        conn = self.conn
        loop = asyncio.get_running_loop()
        self.start(loop.time(), self.hub.settings)
        next_fault_check = loop.time() + self.hub.settings.fault_check_s
        while not conn.closing:
            settings = self.hub.settings
            step = min(*self.intervals(settings), settings.fault_check_s, 1.0) / 4
            await asyncio.sleep(step)
            now = loop.time()
            if now >= next_fault_check:
                next_fault_check = now + settings.fault_check_s
                if await self.hub.apply_ws_faults(self.stream, conn):
                    return
            if await self.closed_by_checks(now, settings):
                return
            if conn.is_stalled():
                conn.last_heard = now  # a stalled server neither pings nor times anyone out
                self.stalled()
                continue
            limit = self.silence_limit_s(settings)
            since = self.silent_since()
            if since is not None and now - since > limit:
                self.log.info(self.silence_log, conn.conn_id, limit)
                await conn.close(WSCloseCode.POLICY_VIOLATION, self.silence_reason)
                return
            self.alive(now, settings)


async def serve(
    conn: Conn,
    keepalive: KeepAlive[Conn],
    on_message: Callable[[Conn, str | bytes], None],
    on_close: Callable[[Conn], None],
) -> None:
    """Read client frames into ``on_message`` until the socket ends, with the writer and
    ``keepalive`` running beside; then ``on_close`` forgets the connection and both stop."""
    name = f"{keepalive.stream}-ws"
    writer = asyncio.create_task(conn.run_writer(), name=f"{name}-writer-{conn.conn_id}")
    keeper = asyncio.create_task(keepalive.run(), name=f"{name}-keepalive-{conn.conn_id}")
    try:
        async for msg in conn.ws:
            if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                on_message(conn, msg.data)
            elif msg.type == WSMsgType.ERROR:
                break
    finally:
        conn.closing = True
        on_close(conn)
        for task in (writer, keeper):
            task.cancel()
        for task in (writer, keeper):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
