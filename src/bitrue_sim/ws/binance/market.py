"""Binance market streams: diff depth (``<sym>@depth`` / ``@depth@100ms``) with update ids that
line up with REST ``/api/v3/depth`` ``lastUpdateId``, and partial books
(``<sym>@depth5|10|20[@100ms]``).

Update ids: every book change of a symbol advances its id. While anyone watches the diff
stream, each change is diffed against the previous levels and folded into a pending event
(latest quantity per price, 0 = gone); the pending event is pushed at most every 100 ms as
``{"e":"depthUpdate","E","s","U","u","b","a"}`` where ``U..u`` is the id range it covers, so
a client that drops events with ``u <= lastUpdateId`` and applies the rest keeps an exact book.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from aiohttp import web

from bitrue_sim.server.binance.render import num
from bitrue_sim.ws.binance.common import FaultsOnly, accept, dumps
from bitrue_sim.ws.connection import StreamConnection
from bitrue_sim.ws.framing import parse_client_message
from bitrue_sim.ws.lifecycle import serve

log = logging.getLogger(__name__)

DIFF_LEVELS = 1000
PUSH_INTERVAL_S = 0.1
_STREAM = re.compile(r"^(?P<sym>[a-z0-9]+)@depth(?P<levels>5|10|20)?(@(?P<speed>100ms|1000ms))?$")


class BookIds:
    """The current update id of each symbol's book (what REST depth reports)."""

    def __init__(self) -> None:
        self._ids: dict[str, int] = {}

    def advance(self, symbol: str) -> int:
        n = self._ids.get(symbol, 0) + 1
        self._ids[symbol] = n
        return n

    def current(self, symbol: str) -> int:
        return self._ids.get(symbol, 0)


@dataclass
class _DiffState:
    bids: dict[Decimal, Decimal]
    asks: dict[Decimal, Decimal]
    first_id: int | None = None
    last_id: int = 0
    pending_bids: dict[Decimal, Decimal] = field(default_factory=dict)
    pending_asks: dict[Decimal, Decimal] = field(default_factory=dict)


class MarketConnection(StreamConnection):
    def __init__(self, ws, request, combined: bool) -> None:
        super().__init__(ws, request, binary=False)
        self.combined = combined
        self.streams: set[str] = set()


def _diff(old: dict[Decimal, Decimal], new: dict[Decimal, Decimal], out: dict) -> None:
    for price, qty in new.items():
        if old.get(price) != qty:
            out[price] = qty
    for price in old:
        if price not in new:
            out[price] = Decimal(0)


class BinanceMarketStreams:
    def __init__(self, hub) -> None:
        self.hub = hub
        self.connections: set[MarketConnection] = set()
        self.ids = BookIds()
        hub.state.extras["binance_book_ids"] = self.ids
        self._diffs: dict[str, _DiffState] = {}
        self._watchers: dict[str, set[MarketConnection]] = {}  # symbol -> connections
        self._timers: dict[str, asyncio.TimerHandle] = {}

    # ---- exchange events ----
    def on_exchange_event(self, event: object) -> None:
        if type(event).__name__ != "BookChanged":
            return
        symbol = event.symbol  # type: ignore[attr-defined]
        update_id = self.ids.advance(symbol)
        if not self._watchers.get(symbol):
            return
        diff = self._diffs.get(symbol)
        if diff is not None:
            bids, asks = self._levels(symbol)
            _diff(diff.bids, bids, diff.pending_bids)
            _diff(diff.asks, asks, diff.pending_asks)
            diff.bids, diff.asks = bids, asks
            if diff.first_id is None:
                diff.first_id = update_id
            diff.last_id = update_id
        self._schedule(symbol)

    def _levels(self, symbol: str) -> tuple[dict, dict]:
        bids, asks = self.hub.state.exchange.depth(symbol, DIFF_LEVELS)
        return dict(bids), dict(asks)

    def _schedule(self, symbol: str) -> None:
        if symbol in self._timers:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._timers[symbol] = loop.call_later(PUSH_INTERVAL_S, self._push, symbol)

    def _push(self, symbol: str) -> None:
        self._timers.pop(symbol, None)
        watchers = self._watchers.get(symbol, ())
        now = self.hub.state.exchange.clock.now_ms()
        diff_msg = None
        diff = self._diffs.get(symbol)
        if diff is not None and diff.first_id is not None:
            diff_msg = {
                "e": "depthUpdate", "E": now, "s": symbol,
                "U": diff.first_id, "u": diff.last_id,
                "b": [[num(p), num(q)] for p, q in sorted(diff.pending_bids.items(),
                                                          reverse=True)],
                "a": [[num(p), num(q)] for p, q in sorted(diff.pending_asks.items())],
            }
            diff.first_id = None
            diff.pending_bids, diff.pending_asks = {}, {}
        for conn in list(watchers):
            for stream in conn.streams:
                m = _STREAM.match(stream)
                if m is None or m["sym"].upper() != symbol:
                    continue
                if m["levels"]:
                    self._send(conn, stream, self.partial(symbol, int(m["levels"])))
                elif diff_msg is not None:
                    self._send(conn, stream, diff_msg)

    def partial(self, symbol: str, levels: int) -> dict[str, Any]:
        bids, asks = self.hub.state.exchange.depth(symbol, levels)
        return {"lastUpdateId": self.ids.current(symbol),
                "bids": [[num(p), num(q)] for p, q in bids],
                "asks": [[num(p), num(q)] for p, q in asks]}

    @staticmethod
    def _send(conn: MarketConnection, stream: str, payload: dict) -> None:
        conn.send(dumps({"stream": stream, "data": payload} if conn.combined else payload))

    # ---- subscriptions ----
    def _check(self, stream: str) -> str | None:
        m = _STREAM.match(stream)
        if m is None:
            return (f"Invalid request: unknown stream {stream!r}; this simulator serves "
                    "<symbol>@depth[@100ms] and <symbol>@depth<5|10|20>[@100ms]")
        if m["sym"].upper() not in self.hub.state.exchange.markets:
            return f"Invalid request: unknown symbol in {stream!r}"
        return None

    def _subscribe(self, conn: MarketConnection, stream: str) -> None:
        m = _STREAM.match(stream)
        symbol = m["sym"].upper()
        conn.streams.add(stream)
        self._watchers.setdefault(symbol, set()).add(conn)
        if not m["levels"] and symbol not in self._diffs:
            bids, asks = self._levels(symbol)
            self._diffs[symbol] = _DiffState(bids, asks, last_id=self.ids.current(symbol))
        if m["levels"]:
            self._send(conn, stream, self.partial(symbol, int(m["levels"])))

    def _unsubscribe(self, conn: MarketConnection, stream: str) -> None:
        conn.streams.discard(stream)
        m = _STREAM.match(stream)
        if m is not None:
            self._release(conn, m["sym"].upper())

    def _release(self, conn: MarketConnection, symbol: str) -> None:
        if any(_STREAM.match(s)["sym"].upper() == symbol for s in conn.streams):
            return
        watchers = self._watchers.get(symbol)
        if watchers is not None:
            watchers.discard(conn)
            if not watchers:
                del self._watchers[symbol]
                self._diffs.pop(symbol, None)

    # ---- connections ----
    async def handle(self, request: web.Request, initial: list[str] | None = None):
        return await self._serve(request, initial or [], combined=False)

    async def handle_combined(self, request: web.Request):
        streams = [s for s in request.query.get("streams", "").split("/") if s]
        return await self._serve(request, streams, combined=True)

    async def _serve(self, request: web.Request, streams: list[str], combined: bool):
        for stream in streams:
            problem = self._check(stream)
            if problem is not None:
                return web.json_response({"code": -1121, "msg": problem}, status=400)
        ws = await accept(request, self.hub.settings)
        conn = MarketConnection(ws, request, combined)
        self.connections.add(conn)
        for stream in streams:
            self._subscribe(conn, stream)
        await serve(conn, FaultsOnly(self.hub, conn, "market"), self._on_message, self._forget)
        return ws

    def _forget(self, conn: MarketConnection) -> None:
        self.connections.discard(conn)
        for stream in list(conn.streams):
            self._unsubscribe(conn, stream)

    def _on_message(self, conn: MarketConnection, data: str | bytes) -> None:
        try:
            msg = parse_client_message(data, self.hub.settings.max_message_bytes)
        except ValueError as exc:
            conn.send(dumps({"error": {"code": 3, "msg": f"Invalid JSON: {exc}"}, "id": None}))
            return
        req_id = msg.get("id")
        method = msg.get("method")
        params = msg.get("params") or []
        if method == "LIST_SUBSCRIPTIONS":
            conn.send(dumps({"result": sorted(conn.streams), "id": req_id}))
            return
        if method not in ("SUBSCRIBE", "UNSUBSCRIBE") or not isinstance(params, list):
            conn.send(dumps({"error": {"code": 2, "msg": f"Invalid request: method {method!r}; "
                             "use SUBSCRIBE, UNSUBSCRIBE or LIST_SUBSCRIPTIONS"}, "id": req_id}))
            return
        for stream in params:
            problem = self._check(stream) if isinstance(stream, str) else "Invalid request"
            if problem is not None:
                conn.send(dumps({"error": {"code": 2, "msg": problem}, "id": req_id}))
                return
        for stream in params:
            (self._subscribe if method == "SUBSCRIBE" else self._unsubscribe)(conn, stream)
        conn.send(dumps({"result": None, "id": req_id}))
