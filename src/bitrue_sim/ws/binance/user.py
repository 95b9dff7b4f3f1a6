"""Binance user data: ``executionReport`` and ``outboundAccountPosition`` events, delivered on a
listen-key stream (``/ws/<listenKey>``) or on a WebSocket API session subscribed with
``userDataStream.subscribe.signature`` (wrapped as ``{"subscriptionId":N,"event":{...}}``).

executionReport fields follow ``user-data-stream.md``; the execution type ``x`` is NEW, TRADE,
CANCELED or EXPIRED (an IOC or MARKET remainder), ``C`` is the original client order id on a
cancel. Balance changes of one exchange call are sent as one outboundAccountPosition.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from typing import Any

from aiohttp import WSCloseCode, web

from bitrue_sim.errors import ExchangeError
from bitrue_sim.server.binance.auth import authorize, check_signature, check_timestamp
from bitrue_sim.server.binance.errors import translate
from bitrue_sim.server.binance.render import OrderTerms, num, status
from bitrue_sim.ws.binance.common import FaultsOnly, accept, dumps
from bitrue_sim.ws.connection import StreamConnection
from bitrue_sim.ws.framing import parse_client_message
from bitrue_sim.ws.lifecycle import serve

log = logging.getLogger(__name__)

_ZERO = "0.00000000"
_EXEC_TYPE = {"NEW": "NEW", "TRADE": "TRADE", "CANCELED_BY_USER": "CANCELED",
              "CANCELED_BY_ENGINE": "EXPIRED"}


def execution_report(event: Any, terms: OrderTerms, now_ms: int) -> dict[str, Any]:
    order, fill = event.order, event.fill
    exec_type = _EXEC_TYPE[event.reason]
    if exec_type == "CANCELED" and terms.expired:
        exec_type = "EXPIRED"
    canceled = exec_type in ("CANCELED", "EXPIRED")
    return {
        "e": "executionReport", "E": now_ms, "s": order.symbol,
        "c": f"cancel{order.order_id}" if exec_type == "CANCELED" else order.client_order_id,
        "S": order.side, "o": terms.type, "f": terms.time_in_force,
        "q": num(order.orig_qty), "p": num(order.price), "P": _ZERO,
        "F": _ZERO, "g": -1,
        "C": order.client_order_id if canceled else "",
        "x": exec_type, "X": status(order, terms), "r": "NONE", "i": order.order_id,
        "l": num(fill.qty) if fill else _ZERO,
        "z": num(order.executed_qty),
        "L": num(fill.price) if fill else _ZERO,
        "n": num(fill.commission) if fill else "0",
        "N": fill.commission_asset if fill else None,
        "T": fill.time if fill else order.update_time,
        "t": fill.trade_id if fill else -1,
        "v": None, "I": 0, "w": order.is_open, "m": fill.is_maker if fill else False,
        "M": False, "O": order.time, "Z": num(order.cummulative_quote_qty),
        "Y": num(fill.quote_qty) if fill else _ZERO,
        "Q": _ZERO, "W": order.time, "V": "NONE",
    }


class UserConnection(StreamConnection):
    def __init__(self, ws, request) -> None:
        super().__init__(ws, request, binary=False)
        self.listen_key: str | None = None
        # account id -> subscription id (a WS API session may subscribe several keys)
        self.subscriptions: dict[int, int] = {}


class BinanceUserStreams:
    def __init__(self, hub) -> None:
        self.hub = hub
        self.connections: set[UserConnection] = set()
        self._by_account: dict[int, set[UserConnection]] = {}
        self._pending: dict[int, dict[str, tuple]] = {}
        self._flush_scheduled = False
        self._sub_ids = itertools.count(0)

    def _now(self) -> int:
        return self.hub.state.exchange.clock.now_ms()

    # ---- exchange events ----
    def on_exchange_event(self, event: object) -> None:
        kind = type(event).__name__
        if kind == "OrderChanged":
            account_id = event.order.account_id  # type: ignore[attr-defined]
            conns = self._by_account.get(account_id)
            if not conns:
                return
            from bitrue_sim.server.binance.rest import terms_of

            report = execution_report(event, terms_of(self.hub.state, event.order),
                                      self._now())
            for conn in conns:
                self._deliver(conn, account_id, report)
        elif kind == "BalanceChanged":
            account_id = event.account_id  # type: ignore[attr-defined]
            if not self._by_account.get(account_id):
                return
            self._pending.setdefault(account_id, {})[event.asset] = (  # type: ignore
                event.free, event.locked)  # type: ignore[attr-defined]
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
        loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        pending, self._pending = self._pending, {}
        now = self._now()
        for account_id, moves in pending.items():
            message = {"e": "outboundAccountPosition", "E": now, "u": now,
                       "B": [{"a": asset.upper(), "f": num(free), "l": num(locked)}
                             for asset, (free, locked) in sorted(moves.items())]}
            for conn in self._by_account.get(account_id, ()):
                self._deliver(conn, account_id, message)

    @staticmethod
    def _deliver(conn: UserConnection, account_id: int, payload: dict) -> None:
        sub = conn.subscriptions.get(account_id)
        if conn.listen_key is not None:
            conn.send(dumps(payload))
        elif sub is not None:
            conn.send(dumps({"subscriptionId": sub, "event": payload}))

    def _attach(self, conn: UserConnection, account_id: int) -> None:
        self._by_account.setdefault(account_id, set()).add(conn)
        self.hub.state.exchange.set_account_events(account_id, True)

    def _forget(self, conn: UserConnection) -> None:
        self.connections.discard(conn)
        for account_id in list(conn.subscriptions):
            conns = self._by_account.get(account_id)
            if conns is not None:
                conns.discard(conn)
                if not conns:
                    del self._by_account[account_id]

    # ---- listen-key streams ----
    async def handle_listen_key(self, request: web.Request, listen_key: str):
        account_id = self.hub.state.listen_keys.validate(listen_key)
        if account_id is None:
            return web.json_response({"code": -1125, "msg": "This listenKey does not exist."},
                                     status=400)
        ws = await accept(request, self.hub.settings)
        conn = UserConnection(ws, request)
        conn.listen_key = listen_key
        conn.subscriptions[account_id] = 0
        self.connections.add(conn)
        self._attach(conn, account_id)
        await serve(conn, FaultsOnly(self.hub, conn, "user"), lambda c, d: None, self._forget)
        return ws

    def close_listen_key(self, listen_key: str) -> None:
        """A deleted, expired or invalidated key: Binance says so, then closes the stream."""
        for conn in list(self.connections):
            if conn.listen_key == listen_key:
                conn.send(dumps({"e": "listenKeyExpired", "E": self._now(),
                                 "listenKey": listen_key}))
                asyncio.ensure_future(conn.close(WSCloseCode.POLICY_VIOLATION,
                                                 "listenKey expired or deleted"))

    # ---- WebSocket API (/ws-api/v3) ----
    async def handle_ws_api(self, request: web.Request):
        ws = await accept(request, self.hub.settings)
        conn = UserConnection(ws, request)
        self.connections.add(conn)
        await serve(conn, FaultsOnly(self.hub, conn, "user"), self._on_api_message,
                    self._forget)
        return ws

    def _reply(self, conn: UserConnection, req_id: Any, result: Any) -> None:
        conn.send(dumps({"id": req_id, "status": 200, "result": result, "rateLimits": []}))

    def _fail(self, conn: UserConnection, req_id: Any, exc: ExchangeError) -> None:
        out = translate(exc)
        conn.send(dumps({"id": req_id, "status": out.http_status,
                         "error": {"code": out.code, "msg": out.msg}}))

    def _on_api_message(self, conn: UserConnection, data: str | bytes) -> None:
        try:
            msg = parse_client_message(data, self.hub.settings.max_message_bytes)
        except ValueError as exc:
            self._fail(conn, None, ExchangeError(400, -1102, f"Malformed request: {exc}."))
            return
        req_id, method = msg.get("id"), msg.get("method")
        params = msg.get("params") or {}
        try:
            if method == "ping":
                self._reply(conn, req_id, {})
            elif method == "time":
                self._reply(conn, req_id, {"serverTime": self._now()})
            elif method == "userDataStream.subscribe.signature":
                account_id = self._signed_account(conn, params)
                sub = conn.subscriptions.get(account_id)
                if sub is None:
                    sub = conn.subscriptions[account_id] = next(self._sub_ids)
                    self._attach(conn, account_id)
                self._reply(conn, req_id, {"subscriptionId": sub})
            elif method == "userDataStream.unsubscribe":
                wanted = params.get("subscriptionId")
                for account_id, sub in list(conn.subscriptions.items()):
                    if wanted is None or sub == wanted:
                        del conn.subscriptions[account_id]
                        conns = self._by_account.get(account_id)
                        if conns is not None:
                            conns.discard(conn)
                self._reply(conn, req_id, {})
            else:
                raise ExchangeError(400, -1102, f"Unknown method {method!r}: this simulator "
                                    "serves ping, time, userDataStream.subscribe.signature and "
                                    "userDataStream.unsubscribe.")
        except ExchangeError as exc:
            self._fail(conn, req_id, exc)

    def _signed_account(self, conn: UserConnection, params: dict) -> int:
        """WS API signing: HMAC over the other params sorted by name, as ``k=v&...``."""
        if not isinstance(params, dict):
            raise ExchangeError(400, -1102, "params must be an object.")
        state = self.hub.state
        api_key = str(params.get("apiKey") or "")
        if not api_key:
            raise ExchangeError(400, -1102, "Mandatory parameter 'apiKey' was not sent.")
        payload = "&".join(f"{k}={params[k]}" for k in sorted(params) if k != "signature")
        if state.keys.active(api_key) is None:
            from bitrue_sim.server.binance.errors import rejected_key

            raise rejected_key()
        check_signature(state, api_key, payload, params.get("signature"))
        try:
            timestamp = int(params.get("timestamp"))
            recv_window = int(params.get("recvWindow", 5000))
        except (TypeError, ValueError):
            raise ExchangeError(400, -1102, "Mandatory parameter 'timestamp' was not sent, "
                                "was empty/null, or malformed.") from None
        check_timestamp(state, timestamp, recv_window)
        return authorize(state, api_key, conn.request.remote, "USER_DATA")
