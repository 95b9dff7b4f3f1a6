"""Market WebSocket (``/market/ws``): depth snapshots as gzip binary frames, ping/pong.

Wire behaviour (Bitrue spot docs, "Market Data Streams WebSocket", and frames captured by ccxt):
- every server frame is gzip-compressed JSON in a binary frame;
- the server sends ``{"ping": <ms>}`` every 15 s and closes the socket when no ``{"pong": ...}``
  came within a minute (any pong content counts, as documented). The ping value is an integer
  as in frames captured from live by ccxt; the docs' example shows a string: clients should
  accept both;
- ``{"event":"sub","params":{"cb_id":"xrpusdt","channel":"market_xrpusdt_simple_depth_step0"}}``
  is acknowledged with ``{"channel","cb_id","event_rep":"subed","status":"ok","ts"}`` followed
  by a first snapshot; ``unsub`` is acknowledged like the documented user-stream unsub
  (``{"channel","cb_id","status":"ok","ts"}``: the market docs show no unsub answer);
- each push ``{"channel","ts","tick":{"buys":[[p,q]..],"asks":[[p,q]..]}}`` is a FULL snapshot
  of the top levels, prices and quantities as strings with the market's price/volume scale.
Snapshots follow every book change (exchange ``BookChanged`` events), coalesced per channel to
at most one per ``depth_min_interval_ms``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bitrue_sim.ws.connection import StreamConnection
from bitrue_sim.ws.framing import fmt_scaled, gzip_frame, parse_client_message
from bitrue_sim.ws.lifecycle import KeepAlive, accept, serve

if TYPE_CHECKING:
    from bitrue_sim.stream_settings import StreamSettings
    from bitrue_sim.ws import StreamHub

log = logging.getLogger(__name__)

CHANNEL_PREFIX = "market_"
DEPTH_SUFFIX = "_simple_depth_step0"


def depth_channel(symbol: str) -> str:
    """``XRPUSDT`` -> ``market_xrpusdt_simple_depth_step0``."""
    return f"{CHANNEL_PREFIX}{symbol.lower()}{DEPTH_SUFFIX}"


class MarketStreams:
    """All market-stream connections of one server and the per-symbol snapshot pacing."""

    def __init__(self, hub: StreamHub) -> None:
        self.hub = hub
        self.connections: set[StreamConnection] = set()
        self._subscribers: dict[str, dict[StreamConnection, str]] = {}  # symbol -> conn -> channel
        self._last_push: dict[str, float] = {}
        self._timers: dict[str, asyncio.TimerHandle] = {}

    # ---- exchange events ----
    def on_exchange_event(self, event: object) -> None:
        if type(event).__name__ == "BookChanged":
            self.book_changed(event.symbol)  # type: ignore[attr-defined]

    def book_changed(self, symbol: str) -> None:
        """Schedule a snapshot push for ``symbol``, at most one per minimum interval."""
        if not self._subscribers.get(symbol) or symbol in self._timers:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # exchange driven outside the server loop (setup code): nothing to push
        min_interval = self.hub.settings.depth_min_interval_ms / 1000
        delay = max(0.0, self._last_push.get(symbol, -1e18) + min_interval - loop.time())
        self._timers[symbol] = loop.call_later(delay, self._push, symbol)

    def _push(self, symbol: str) -> None:
        self._timers.pop(symbol, None)
        subscribers = self._subscribers.get(symbol)
        if not subscribers:
            return
        self._last_push[symbol] = asyncio.get_running_loop().time()
        frame = gzip_frame(self.snapshot(symbol))
        for conn, channel in list(subscribers.items()):
            conn.send_latest(channel, frame)

    def snapshot(self, symbol: str) -> dict[str, Any]:
        """The depth push for ``symbol`` as the exchange would send it now."""
        exchange = self.hub.state.exchange
        spec = exchange.market(symbol)
        bids, asks = exchange.depth(symbol, self.hub.settings.depth_levels)
        ps, vs = spec.price_scale, spec.volume_scale
        return {
            "channel": depth_channel(symbol),
            "ts": exchange.clock.now_ms(),
            "tick": {
                "buys": [[fmt_scaled(p, ps), fmt_scaled(q, vs)] for p, q in bids],
                "asks": [[fmt_scaled(p, ps), fmt_scaled(q, vs)] for p, q in asks],
            },
        }

    # ---- connections ----
    async def handle(self, request: web.Request) -> web.StreamResponse:
        ws = await accept(request, self.hub.settings)
        conn = StreamConnection(ws, request, binary=True)
        self.connections.add(conn)
        await serve(conn, _MarketKeepAlive(self.hub, conn), self._on_client_message, self._forget)
        return ws

    def _forget(self, conn: StreamConnection) -> None:
        self.connections.discard(conn)
        for symbol in list(self._subscribers):
            self._subscribers[symbol].pop(conn, None)
            if not self._subscribers[symbol]:
                del self._subscribers[symbol]

    def _now_ms(self) -> int:
        return self.hub.state.exchange.clock.now_ms()

    def _error(self, conn: StreamConnection, msg: str, request: dict[str, Any] | None = None):
        params = (request or {}).get("params")
        params = params if isinstance(params, dict) else {}
        answer: dict[str, Any] = {"event_rep": "error", "status": "error", "msg": msg}
        for field in ("channel", "cb_id"):
            if isinstance(params.get(field), str):
                answer[field] = params[field]
        answer["ts"] = self._now_ms()
        conn.send(gzip_frame(answer))

    def _on_client_message(self, conn: StreamConnection, data: str | bytes) -> None:
        try:
            message = parse_client_message(data, self.hub.settings.max_message_bytes)
        except ValueError as exc:
            self._error(conn, f"{exc}; send JSON such as "
                        '{"event":"sub","params":{"cb_id":"xrpusdt",'
                        '"channel":"market_xrpusdt_simple_depth_step0"}}')
            return
        if "pong" in message:
            conn.last_heard = asyncio.get_running_loop().time()
            return
        if "ping" in message:  # a client ping: answer like the server expects to be answered
            conn.send(gzip_frame({"pong": message["ping"]}))
            return
        event = message.get("event")
        if event not in ("sub", "unsub"):
            self._error(conn, f"unsupported event {event!r}: use 'sub' or 'unsub'", message)
            return
        params = message.get("params")
        if not isinstance(params, dict) or not isinstance(params.get("channel"), str):
            self._error(conn, "params.channel is missing: expected "
                        "market_<symbol>_simple_depth_step0", message)
            return
        channel: str = params["channel"]
        cb_id = params.get("cb_id")
        symbol = self._symbol_of(channel)
        if symbol is None:
            self._error(conn, f"unknown channel {channel!r}: expected "
                        "market_<symbol lower case>_simple_depth_step0 for a listed symbol",
                        message)
            return
        if event == "sub":
            self._subscribe(conn, symbol, channel, cb_id)
        else:
            self._unsubscribe(conn, symbol, channel, cb_id)

    def _symbol_of(self, channel: str) -> str | None:
        if not (channel.startswith(CHANNEL_PREFIX) and channel.endswith(DEPTH_SUFFIX)):
            return None
        wanted = channel[len(CHANNEL_PREFIX):-len(DEPTH_SUFFIX)]
        if wanted != wanted.lower():
            return None
        for symbol in self.hub.state.exchange.markets:
            if symbol.lower() == wanted:
                return symbol
        return None

    def _subscribe(self, conn: StreamConnection, symbol: str, channel: str, cb_id: Any) -> None:
        subscribers = self._subscribers.setdefault(symbol, {})
        if conn not in subscribers:
            limit = self.hub.settings.max_channels_per_connection
            if sum(conn in subs for subs in self._subscribers.values()) >= limit:
                if not subscribers:
                    del self._subscribers[symbol]
                self._error(conn, f"too many channels on one connection (limit {limit})",
                            {"params": {"channel": channel, "cb_id": cb_id}})
                return
        subscribers[conn] = channel
        ack: dict[str, Any] = {"channel": channel}
        if cb_id is not None:
            ack["cb_id"] = cb_id
        ack.update({"event_rep": "subed", "status": "ok", "ts": self._now_ms()})
        conn.send(gzip_frame(ack))
        conn.send_latest(channel, gzip_frame(self.snapshot(symbol)))

    def _unsubscribe(self, conn: StreamConnection, symbol: str, channel: str, cb_id: Any) -> None:
        subscribers = self._subscribers.get(symbol, {})
        subscribers.pop(conn, None)
        if not subscribers:
            self._subscribers.pop(symbol, None)
        conn.drop_latest(channel)
        ack: dict[str, Any] = {"channel": channel}
        if cb_id is not None:
            ack["cb_id"] = cb_id
        ack.update({"status": "ok", "ts": self._now_ms()})
        conn.send(gzip_frame(ack))


class _MarketKeepAlive(KeepAlive[StreamConnection]):
    """Ping every ``ping_interval_s``; no pong within ``pong_timeout_s`` closes the socket."""

    stream = "market"
    log = log
    silence_log = "market ws %s: no pong within %.1f s, closing"
    silence_reason = "pong timeout"

    def start(self, now: float, settings: StreamSettings) -> None:
        self.next_ping = now + settings.ping_interval_s
        self.first_unanswered: float | None = None  # the first ping since the client's last pong

    def silent_since(self) -> float | None:
        """A pong is owed from the first ping sent since the client last spoke: a socket is
        never closed for a ping it was not sent (a late server tick cannot time it out)."""
        first = self.first_unanswered
        return first if first is not None and first >= self.conn.last_heard else None

    def intervals(self, settings: StreamSettings) -> tuple[float, ...]:
        return settings.ping_interval_s, settings.pong_timeout_s

    def silence_limit_s(self, settings: StreamSettings) -> float:
        return settings.pong_timeout_s

    def stalled(self) -> None:
        self.next_ping = max(self.next_ping, self.conn.stalled_until)

    def alive(self, now: float, settings: StreamSettings) -> None:
        if now >= self.next_ping:
            self.next_ping = now + settings.ping_interval_s
            if self.silent_since() is None:
                self.first_unanswered = now
            self.conn.send(gzip_frame({"ping": self.hub.state.exchange.clock.now_ms()}))
