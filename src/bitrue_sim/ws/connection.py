"""One server-side WebSocket connection: an ordered outbox, coalesced snapshots, stalls.

Every frame goes through the outbox so control answers and pushes keep their order. A depth
snapshot waiting in the outbox is replaced by a newer one of the same channel (the client only
ever needs the latest full snapshot). A stall (fault injection) holds all output while the
socket stays open.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections import deque

from aiohttp import WSCloseCode, web

_ids = itertools.count(1)
CLOSE_TIMEOUT_S = 2.0  # how long a server close waits for the client's close frame


class StreamConnection:
    """Server side of one client socket; ``run_writer`` drains the outbox until closed."""

    def __init__(
        self, ws: web.WebSocketResponse, request: web.Request, binary: bool = True
    ) -> None:
        loop = asyncio.get_running_loop()
        self.conn_id = next(_ids)
        self.ws = ws
        self.request = request
        self.binary = binary
        self.opened_at = loop.time()
        self.last_heard = loop.time()
        self.stalled_until = 0.0
        self.closing = False
        self._outbox: deque[bytes | tuple[str, str]] = deque()
        self._pending: dict[str, bytes] = {}
        self._wake = asyncio.Event()

    # ---- queueing (synchronous: safe to call from exchange listeners) ----
    def send(self, frame: bytes) -> None:
        if self.closing:
            return
        self._outbox.append(frame)
        self._wake.set()

    def send_latest(self, key: str, frame: bytes) -> None:
        """Queue ``frame`` unless an unsent frame of the same ``key`` waits: then replace it."""
        if self.closing:
            return
        if key not in self._pending:
            self._outbox.append(("latest", key))
        self._pending[key] = frame
        self._wake.set()

    def drop_latest(self, key: str) -> None:
        self._pending.pop(key, None)

    def stall(self, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        self.stalled_until = max(self.stalled_until, loop.time() + seconds)

    def is_stalled(self) -> bool:
        return asyncio.get_running_loop().time() < self.stalled_until

    # ---- tasks ----
    async def run_writer(self) -> None:
        loop = asyncio.get_running_loop()
        while not self.closing:
            await self._wake.wait()
            self._wake.clear()
            while self._outbox and not self.closing:
                wait = self.stalled_until - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                    continue
                item = self._outbox.popleft()
                if isinstance(item, tuple):
                    frame = self._pending.pop(item[1], None)
                    if frame is None:
                        continue
                else:
                    frame = item
                try:
                    if self.binary:
                        await self.ws.send_bytes(frame)
                    else:
                        await self.ws.send_str(frame.decode())
                except (ConnectionError, RuntimeError):
                    self.closing = True
                    return

    async def close(self, code: int = WSCloseCode.GOING_AWAY, message: str = "") -> None:
        """Close the socket (idempotent); queued frames are dropped."""
        if self.closing and self.ws.closed:
            return
        self.closing = True
        self._wake.set()
        with contextlib.suppress(Exception):
            await self.ws.close(code=code, message=message.encode())

    def abort(self) -> None:
        """Drop the TCP connection without a close handshake (a network-level disconnect)."""
        self.closing = True
        self._wake.set()
        transport = self.request.transport
        if transport is not None:
            transport.abort()
