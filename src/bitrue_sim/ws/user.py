"""User WebSocket (``/stream?listenKey=KEY``): order and balance events of one account.

Wire behaviour (Bitrue spot docs, "User Data Streams WebSocket", and frames captured by ccxt):
- subscribe ``{"event":"sub","params":{"channel":"user_order_update"}}`` (or
  ``user_balance_update``) -> ``{"channel","event_rep":"subed","status":"ok","ts"}``; unsub ->
  ``{"channel","status":"ok","ts"}``;
- keep-alive: the client sends ``{"event":"pong","ts":"<ms>"}``; a socket silent for 10 minutes
  is closed; a connection lives at most 24 hours; an expired or deleted listen key closes it;
- order events ``"e":"ORDER"`` with numeric enums (side ``S`` 1 buy/2 sell, type ``o`` 1 limit/
  2 market, event ``x`` 1 created/2 cancelled by user/3 filled/4 cancelled by engine, status
  ``X`` 0 not accepted/1 accepted/2 completed/3 partially filled/4 cancelled), lower-case ``s``
  and ``N`` as the live exchange sends them;
- balance events ``"e":"BALANCE"``: ``B[]`` entries ``a`` (lower case), ``F``/``f``/``T`` (free,
  free delta, free update time) and ``L``/``l``/``t`` (locked...). An entry where only one side
  moved may be PARTIAL (free-only: ``t`` 0 and no ``L``/``l``; locked-only: ``T`` 0 and no
  ``F``/``f``), as live does; which form is drawn from the seeded random source.
Frames are JSON text (the docs describe no compression for this stream).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from aiohttp import WSCloseCode, web

from bitrue_sim.ws.connection import StreamConnection
from bitrue_sim.ws.framing import dumps, fmt_plain, gzip_frame, parse_client_message
from bitrue_sim.ws.lifecycle import KeepAlive, accept, serve

if TYPE_CHECKING:
    from bitrue_sim.stream_settings import StreamSettings
    from bitrue_sim.ws import StreamHub

log = logging.getLogger(__name__)

ORDER_CHANNEL = "user_order_update"
BALANCE_CHANNEL = "user_balance_update"
CHANNELS = (ORDER_CHANNEL, BALANCE_CHANNEL)

SIDE_CODES = {"BUY": 1, "SELL": 2}
TYPE_CODES = {"LIMIT": 1, "MARKET": 2}
EVENT_CODES = {"NEW": 1, "CANCELED_BY_USER": 2, "TRADE": 3, "CANCELED_BY_ENGINE": 4}
STATUS_CODES = {"REJECTED": 0, "NEW": 1, "FILLED": 2, "PARTIALLY_FILLED": 3, "CANCELED": 4}
BALANCE_DECIMALS = Decimal("0.0000000000000001")  # live prints 16 decimal places


def _amount(value: Decimal) -> str:
    return fmt_plain(value.quantize(BALANCE_DECIMALS))


def _second_ms(time_ms: int) -> int:
    """Live balance update times are whole seconds in milliseconds."""
    return time_ms // 1000 * 1000


def order_message(event: Any, event_id: int, now_ms: int) -> dict[str, Any]:
    """The ``"e":"ORDER"`` message for one core ``OrderChanged`` event."""
    order, fill = event.order, event.fill
    message: dict[str, Any] = {
        "e": "ORDER",
        "I": str(event_id),
        "E": now_ms,
        "u": order.account_id,
        "s": order.symbol.lower(),
        "c": order.client_order_id,
        "C": order.client_order_id,
        "S": SIDE_CODES[order.side],
        "o": TYPE_CODES[order.type],
        "q": fmt_plain(order.orig_qty),
        "p": fmt_plain(order.price),
        "x": EVENT_CODES[event.reason],
        "X": STATUS_CODES[order.status],
        "i": order.order_id,
        "l": fmt_plain(fill.qty) if fill else "0",
        "L": fmt_plain(fill.price) if fill else "0",
        "n": fmt_plain(fill.commission) if fill else "0",
        "N": fill.commission_asset.lower() if fill else None,
        "T": fill.time if fill else order.update_time,
        "t": fill.trade_id if fill else -1,
        "O": order.time,
        "z": fmt_plain(order.executed_qty),
        "Y": fmt_plain(order.cummulative_quote_qty),
    }
    return message


@dataclass
class _BalanceMove:
    free: Decimal
    locked: Decimal
    free_delta: Decimal = Decimal(0)
    locked_delta: Decimal = Decimal(0)
    time: int = 0


@dataclass
class _PendingBalances:
    """Balance changes of one account made by one exchange call, sent as one message."""

    moves: dict[str, _BalanceMove] = field(default_factory=dict)
    traded: bool = False


class UserConnection(StreamConnection):
    def __init__(self, ws, request, account_id: int, listen_key: str, binary: bool) -> None:
        super().__init__(ws, request, binary=binary)
        self.account_id = account_id
        self.listen_key = listen_key
        self.channels: set[str] = set()


class UserStreams:
    """All user-stream connections of one server, fed by the exchange's event listener."""

    def __init__(self, hub: StreamHub) -> None:
        self.hub = hub
        self.connections: set[UserConnection] = set()
        self._by_account: dict[int, set[UserConnection]] = {}
        self._pending: dict[int, _PendingBalances] = {}
        self._flush_scheduled = False
        self._event_ids = itertools.count(209_818_131_719_847_936)
        self.rng = random.Random(f"user-stream-balance-form:{hub.seed}")

    # ---- exchange events ----
    def on_exchange_event(self, event: object) -> None:
        kind = type(event).__name__
        if kind == "OrderChanged":
            self._order_changed(event)
        elif kind == "BalanceChanged":
            self._balance_changed(event)

    def _order_changed(self, event: Any) -> None:
        account_id = event.order.account_id
        conns = self._by_account.get(account_id, ())
        if event.reason == "TRADE" and any(BALANCE_CHANNEL in c.channels for c in conns):
            self._pending.setdefault(account_id, _PendingBalances()).traded = True
            self._schedule_flush()
        targets = [c for c in conns if ORDER_CHANNEL in c.channels]
        if not targets:
            return
        frame = self._frame(order_message(event, next(self._event_ids), self._now_ms()))
        for conn in targets:
            conn.send(frame)

    def _balance_changed(self, event: Any) -> None:
        if not any(BALANCE_CHANNEL in c.channels
                   for c in self._by_account.get(event.account_id, ())):
            return
        pending = self._pending.setdefault(event.account_id, _PendingBalances())
        move = pending.moves.get(event.asset)
        if move is None:
            move = pending.moves[event.asset] = _BalanceMove(event.free, event.locked)
        move.free, move.locked = event.free, event.locked
        move.free_delta += event.free_delta
        move.locked_delta += event.locked_delta
        move.time = event.time
        self._schedule_flush()

    def _schedule_flush(self) -> None:
        if self._flush_scheduled:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._pending.clear()
            return
        self._flush_scheduled = True
        loop.call_soon(self.flush_balances)

    def flush_balances(self) -> None:
        """Send one BALANCE message per account for the changes gathered since the last flush."""
        self._flush_scheduled = False
        pending, self._pending = self._pending, {}
        for account_id, batch in pending.items():
            entries = [self._balance_entry(asset, move) for asset, move in batch.moves.items()
                       if move.free_delta or move.locked_delta]
            if not entries:
                continue
            now = self._now_ms()
            message = {
                "e": "BALANCE",
                "x": ("OutboundAccountPositionTradeEvent" if batch.traded
                      else "OutboundAccountPositionOrderEvent"),
                "E": now,
                "I": str(next(self._event_ids)),
                "i": now,
                "B": entries,
                "u": account_id,
            }
            frame = self._frame(message)
            for conn in self._by_account.get(account_id, ()):
                if BALANCE_CHANNEL in conn.channels:
                    conn.send(frame)

    def _balance_entry(self, asset: str, move: _BalanceMove) -> dict[str, Any]:
        stamp = _second_ms(move.time)
        free_part = {"F": _amount(move.free), "T": stamp, "f": _amount(move.free_delta)}
        locked_part = {"L": _amount(move.locked), "l": _amount(move.locked_delta), "t": stamp}
        partial = (bool(move.free_delta) != bool(move.locked_delta)
                   and self.rng.random() < self.hub.settings.balance_partial_probability)
        if partial and move.free_delta:
            return {"a": asset.lower(), **free_part, "t": 0}
        if partial:
            return {"a": asset.lower(), "T": 0, **locked_part}
        return {"a": asset.lower(), **free_part, **locked_part}

    def _frame(self, message: dict[str, Any]) -> bytes:
        return gzip_frame(message) if self.hub.settings.user_gzip else dumps(message)

    def _now_ms(self) -> int:
        return self.hub.state.exchange.clock.now_ms()

    # ---- connections ----
    def _account_for(self, listen_key: str) -> int | None:
        store = self.hub.state.listen_keys
        if store is None:
            return None
        try:
            return store.validate(listen_key)
        except Exception:  # an unknown/expired key may raise in some stores
            return None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        listen_key = request.query.get("listenKey", "")
        if not listen_key:
            return web.json_response(
                {"code": -1102, "msg": "Mandatory parameter 'listenKey' was not sent: connect "
                 "to /stream?listenKey=KEY with a key from POST /poseidon/api/v1/listenKey."},
                status=400)
        account_id = self._account_for(listen_key)
        if account_id is None:
            return web.json_response(
                {"code": -1150, "msg": "This listenKey does not exist (expired or deleted): "
                 "create one with POST /poseidon/api/v1/listenKey."}, status=400)
        settings = self.hub.settings
        ws = await accept(request, settings)
        conn = UserConnection(ws, request, account_id, listen_key, binary=settings.user_gzip)
        self.connections.add(conn)
        self._by_account.setdefault(account_id, set()).add(conn)
        # an account someone streams always gets its events built (participants' are off)
        self.hub.state.exchange.set_account_events(account_id, True)
        await serve(conn, _UserKeepAlive(self, conn), self._on_client_message, self._forget)
        return ws

    def _forget(self, conn: UserConnection) -> None:
        self.connections.discard(conn)
        conns = self._by_account.get(conn.account_id)
        if conns is not None:
            conns.discard(conn)
            if not conns:
                del self._by_account[conn.account_id]

    def _reply(self, conn: UserConnection, message: dict[str, Any]) -> None:
        conn.send(self._frame(message))

    def _error(self, conn: UserConnection, msg: str, channel: Any = None) -> None:
        answer: dict[str, Any] = {}
        if isinstance(channel, str):
            answer["channel"] = channel
        answer.update({"event_rep": "error", "status": "error", "msg": msg,
                       "ts": self._now_ms()})
        self._reply(conn, answer)

    def _on_client_message(self, conn: UserConnection, data: str | bytes) -> None:
        conn.last_heard = asyncio.get_running_loop().time()
        try:
            message = parse_client_message(data, self.hub.settings.max_message_bytes)
        except ValueError as exc:
            self._error(conn, f"{exc}; send JSON such as "
                        '{"event":"sub","params":{"channel":"user_order_update"}}')
            return
        event = message.get("event")
        if event == "pong":
            return
        if event == "ping":
            self._reply(conn, {"event": "pong", "ts": str(self._now_ms())})
            return
        if event not in ("sub", "unsub"):
            self._error(conn, f"unsupported event {event!r}: use 'sub', 'unsub' or 'pong'")
            return
        params = message.get("params")
        channel = params.get("channel") if isinstance(params, dict) else None
        if channel not in CHANNELS:
            self._error(conn, f"unknown channel {channel!r}: use user_order_update or "
                        "user_balance_update", channel)
            return
        if event == "sub":
            conn.channels.add(channel)
            self._reply(conn, {"channel": channel, "event_rep": "subed", "status": "ok",
                               "ts": self._now_ms()})
        else:
            conn.channels.discard(channel)
            self._reply(conn, {"channel": channel, "status": "ok", "ts": self._now_ms()})

    def close_listen_key(self, listen_key: str) -> None:
        """Close every stream using ``listen_key`` now (deleted or invalidated key)."""
        for conn in list(self.connections):
            if conn.listen_key == listen_key:
                asyncio.ensure_future(conn.close(WSCloseCode.POLICY_VIOLATION,
                                                 "listenKey expired or deleted"))


class _UserKeepAlive(KeepAlive[UserConnection]):
    """Close on silence, on the lifetime limit and on a dead listen key."""

    stream = "user"
    log = log
    silence_log = "user ws %s: silent for %.1f s, closing"
    silence_reason = "no pong: idle timeout"

    def __init__(self, streams: UserStreams, conn: UserConnection) -> None:
        super().__init__(streams.hub, conn)
        self.streams = streams

    def start(self, now: float, settings: StreamSettings) -> None:
        self.next_key_check = now

    def intervals(self, settings: StreamSettings) -> tuple[float, ...]:
        return (
            settings.user_idle_timeout_s,
            settings.listen_key_check_s,
            settings.user_max_lifetime_s,
        )

    def silence_limit_s(self, settings: StreamSettings) -> float:
        return settings.user_idle_timeout_s

    async def closed_by_checks(self, now: float, settings: StreamSettings) -> bool:
        conn = self.conn
        if now >= self.next_key_check:
            self.next_key_check = now + settings.listen_key_check_s
            if self.streams._account_for(conn.listen_key) != conn.account_id:
                await conn.close(WSCloseCode.POLICY_VIOLATION, "listenKey expired or deleted")
                return True
        if now - conn.opened_at > settings.user_max_lifetime_s:
            await conn.close(WSCloseCode.GOING_AWAY, "connection lifetime limit reached")
            return True
        return False
