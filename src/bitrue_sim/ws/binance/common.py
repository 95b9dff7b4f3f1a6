"""Pieces both Binance streams share: the handshake with aiohttp's heartbeat as Binance's ping,
and a keep-alive that only draws injected faults (pongs are aiohttp's business)."""

from __future__ import annotations

import json
import logging
from typing import Any

from aiohttp import web

from bitrue_sim.ws.connection import CLOSE_TIMEOUT_S, StreamConnection
from bitrue_sim.ws.lifecycle import KeepAlive

log = logging.getLogger(__name__)


def dumps(message: Any) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode()


async def accept(request: web.Request, settings) -> web.WebSocketResponse:
    """Handshake; the server pings every ``ping_interval_s`` and closes a client whose pong
    does not come back in time (Binance: ping every 20 s, pong within a minute)."""
    ws = web.WebSocketResponse(autoping=True, heartbeat=settings.ping_interval_s,
                               max_msg_size=settings.max_message_bytes,
                               timeout=CLOSE_TIMEOUT_S)
    await ws.prepare(request)
    return ws


class FaultsOnly(KeepAlive[StreamConnection]):
    """Injected disconnects and stalls; liveness is aiohttp's heartbeat."""

    log = log
    silence_log = "binance ws %s: silent for %.1f s"
    silence_reason = "no pong"

    def __init__(self, hub, conn, stream: str) -> None:
        super().__init__(hub, conn)
        self.stream = stream

    def start(self, now: float, settings) -> None:
        pass

    def intervals(self, settings) -> tuple[float, ...]:
        return (settings.fault_check_s,)

    def silence_limit_s(self, settings) -> float:
        return float("inf")
