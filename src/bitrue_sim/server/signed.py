"""Signed spot endpoints (orders, account, trades, withdraw) and the listenKey endpoints."""

from __future__ import annotations

import re
from decimal import Decimal

from aiohttp import web

from bitrue_sim.errors import ExchangeError
from bitrue_sim.server import render
from bitrue_sim.server.auth import (
    Caller,
    authenticate_key_only,
    authenticate_signed,
    read_request,
)
from bitrue_sim.server.common import json_response, market, state_of
from bitrue_sim.server.params import illegal, missing
from bitrue_sim.server.state import SimState

_CLIENT_ID_RE = re.compile(r"^[A-Za-z0-9._:/\-]{1,64}$")
ORDER_SIDES = ("BUY", "SELL")
ORDER_TYPES = ("LIMIT", "MARKET")
TIME_IN_FORCE = ("GTC", "GTT")


async def _signed(request: web.Request, security: str) -> tuple[SimState, Caller]:
    state = state_of(request)
    raw = await read_request(request, json_body=True)
    return state, authenticate_signed(request, state, raw, security)


def _client_id(params, name: str) -> str | None:
    v = params.str(name, max_len=64)
    if v is not None and not _CLIENT_ID_RE.match(v):
        raise illegal(name, "use 1-64 characters from A-Z a-z 0-9 . _ : / -")
    return v


def _order_ref(params) -> tuple[int | None, str | None]:
    order_id = params.int("orderId", min_value=1)
    orig = _client_id(params, "origClientOrderId")
    if order_id is None and orig is None:
        raise missing("orderId' or 'origClientOrderId")
    return order_id, orig


async def new_order(request: web.Request) -> web.Response:
    state, caller = await _signed(request, "TRADE")
    p = caller.params
    spec = market(state, p)
    side = p.enum("side", ORDER_SIDES, required=True)
    otype = p.enum("type", ORDER_TYPES, required=True)
    p.enum("timeInForce", TIME_IN_FORCE)
    client_id = _client_id(p, "newClientOrderId")
    quantity = p.decimal("quantity")
    price = p.decimal("price")
    quote_qty = p.decimal("quoteOrderQty")
    if otype == "LIMIT":
        if quantity is None:
            raise missing("quantity")
        if price is None:
            raise missing("price")
    elif quantity is None and quote_qty is None:
        raise missing("quantity")
    state.rate_limiter.admit("orders", request.remote or "", caller.account_id)
    order = state.exchange.place_order(
        caller.account_id,
        spec.symbol,
        side,
        otype,
        quantity,
        price if otype == "LIMIT" else None,
        client_order_id=client_id,
        quote_order_qty=quote_qty if otype == "MARKET" and quantity is None else None,
    )
    return json_response(render.order_ack(order))


async def query_order(request: web.Request) -> web.Response:
    state, caller = await _signed(request, "USER_DATA")
    spec = market(state, caller.params)
    order_id, orig = _order_ref(caller.params)
    o = state.exchange.get_order(
        caller.account_id, spec.symbol, order_id=order_id, client_order_id=orig
    )
    return json_response(render.order(o, spec))


async def cancel_order(request: web.Request) -> web.Response:
    state, caller = await _signed(request, "TRADE")
    p = caller.params
    spec = market(state, p)
    order_id, orig = _order_ref(p)
    new_id = _client_id(p, "newClientOrderId")
    state.rate_limiter.admit("orders", request.remote or "", caller.account_id)
    o = state.exchange.cancel_order(
        caller.account_id, spec.symbol, order_id=order_id, client_order_id=orig
    )
    return json_response(render.cancel_ack(o, new_id))


async def open_orders(request: web.Request) -> web.Response:
    state, caller = await _signed(request, "USER_DATA")
    spec = market(state, caller.params)
    orders = state.exchange.open_orders(caller.account_id, spec.symbol)
    return json_response([render.order(o, spec) for o in orders])


async def all_orders(request: web.Request) -> web.Response:
    state, caller = await _signed(request, "USER_DATA")
    p = caller.params
    spec = market(state, p)
    from_id = p.int("fromId", min_value=1)
    if from_id is None:
        from_id = p.int("orderId", min_value=1)
    orders = state.exchange.all_orders(
        caller.account_id,
        spec.symbol,
        order_id=from_id,
        start_time=p.int("startTime", min_value=0),
        end_time=p.int("endTime", min_value=0),
        limit=p.int("limit", default=100, min_value=1, max_value=1000),
    )
    return json_response([render.order(o, spec) for o in orders])


def _bps(rate: Decimal) -> int:
    """Commission fraction -> the docs' integer (0.0015 -> 15, i.e. basis points)."""
    return int((rate * 10000).to_integral_value())


async def account(request: web.Request) -> web.Response:
    state, caller = await _signed(request, "USER_DATA")
    ex = state.exchange
    acct = ex.account(caller.account_id)
    balances = ex.balances(caller.account_id)
    return json_response(
        {
            "makerCommission": _bps(acct.maker_commission),
            "takerCommission": _bps(acct.taker_commission),
            "buyerCommission": 0,
            "sellerCommission": 0,
            "canTrade": True,
            "canWithdraw": True,
            "canDeposit": True,
            "updateTime": ex.clock.now_ms(),
            "balances": [
                {
                    "asset": b.asset.upper(),  # the docs' example; the user stream keeps "usdt"
                    "free": render.plain(b.free),
                    "locked": render.plain(b.locked),
                }
                for b in sorted(balances.values(), key=lambda b: b.asset)
            ],
        }
    )


async def my_trades(request: web.Request) -> web.Response:
    state, caller = await _signed(request, "USER_DATA")
    p = caller.params
    spec = market(state, p)
    fills = state.exchange.my_trades(
        caller.account_id,
        spec.symbol,
        from_id=p.int("fromId", min_value=0),
        start_time=p.int("startTime", min_value=0),
        end_time=p.int("endTime", min_value=0),
        limit=p.int("limit", default=100, min_value=1, max_value=1000),
    )
    return json_response([render.my_trade(f, spec) for f in fills])


def _withdraw_param(p, name: str) -> str:
    v = p.str(name, max_len=200)
    if v is None:
        raise ExchangeError(412, 2, f"Parameter error: '{name}' is required.")
    return v


async def withdraw_commit(request: web.Request) -> web.Response:
    """Validates like Bitrue, then refuses: the simulator has no withdraw-address allow list."""
    state, caller = await _signed(request, "WITHDRAW_DATA")
    p = caller.params
    for name in ("coin", "amount", "addressTo", "chainName"):
        _withdraw_param(p, name)
    p.decimal("amount", required=True)
    state.rate_limiter.admit("withdraw", request.remote or "", caller.account_id)
    raise ExchangeError(
        406, 999513, "Withdraw address error: the address is not on the withdraw allow list."
    )


async def withdraw_history(request: web.Request) -> web.Response:
    state, caller = await _signed(request, "WITHDRAW_DATA")
    _withdraw_param(caller.params, "coin")
    state.rate_limiter.admit("withdraw_read", request.remote or "", caller.account_id)
    return json_response({"code": 200, "msg": "succ", "data": []})


async def deposit_history(request: web.Request) -> web.Response:
    state, caller = await _signed(request, "WITHDRAW_DATA")
    _withdraw_param(caller.params, "coin")
    state.rate_limiter.admit("withdraw_read", request.remote or "", caller.account_id)
    return json_response({"code": 200, "msg": "succ", "data": []})


# -- listenKey (USER_STREAM: API key header only) ---------------------------------------------

_NO_LISTEN_KEY = ExchangeError(400, -1150, "This listenKey does not exist.")


async def listen_key_create(request: web.Request) -> web.Response:
    state = state_of(request)
    caller = authenticate_key_only(request, state, await read_request(request))
    key = state.listen_keys.open(caller.account_id)
    return json_response({"msg": "succ", "code": 200, "data": {"listenKey": key}})


async def listen_key_keepalive(request: web.Request) -> web.Response:
    state = state_of(request)
    caller = authenticate_key_only(request, state, await read_request(request))
    if not state.listen_keys.keepalive(request.match_info["listen_key"], caller.account_id):
        raise ExchangeError(_NO_LISTEN_KEY.http_status, _NO_LISTEN_KEY.code, _NO_LISTEN_KEY.msg)
    return json_response({"msg": "succ", "code": 200})


async def listen_key_delete(request: web.Request) -> web.Response:
    state = state_of(request)
    caller = authenticate_key_only(request, state, await read_request(request))
    if not state.listen_keys.close(request.match_info["listen_key"], caller.account_id):
        raise ExchangeError(_NO_LISTEN_KEY.http_status, _NO_LISTEN_KEY.code, _NO_LISTEN_KEY.msg)
    return json_response({"msg": "succ", "code": 200})
