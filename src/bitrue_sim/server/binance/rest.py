"""Binance spot REST handlers over the shared core: market data, orders, account, trades,
listen keys, ``apiRestrictions`` and the coin list ccxt loads with its markets."""

from __future__ import annotations

import re
import secrets
from decimal import Decimal

from aiohttp import web

from bitrue_sim.core.markets import MarketSpec
from bitrue_sim.server.auth import Caller, read_request
from bitrue_sim.server.binance import render
from bitrue_sim.server.binance.auth import authenticate_key_only, authenticate_signed
from bitrue_sim.server.binance.errors import BinanceError, bad_request, unknown_order_on_cancel
from bitrue_sim.server.binance.limits import exchange_info_limits
from bitrue_sim.server.binance.render import OrderTerms, OrderTermsBook
from bitrue_sim.server.common import json_response, state_of
from bitrue_sim.server.params import Params, missing
from bitrue_sim.server.state import SimState

TERMS_KEY = "binance_order_terms"
_CLIENT_ID = re.compile(r"^[a-zA-Z0-9\-_]{1,36}$")
ORDER_TYPES = ("LIMIT", "LIMIT_MAKER", "MARKET")
TIME_IN_FORCE = ("GTC", "IOC")
RESP_TYPES = ("ACK", "RESULT", "FULL")
# the listen-key stream and apiRestrictions: Binance's documented trading-authority horizon for
# keys without an IP restriction (they lose spot trading after 90 days)
UNRESTRICTED_TRADING_MS = 90 * 86_400_000


# -- helpers ----------------------------------------------------------------------------------

def terms_book(state: SimState) -> OrderTermsBook:
    book = state.extras.get(TERMS_KEY)
    if book is None:
        book = state.extras[TERMS_KEY] = OrderTermsBook()
    return book


def terms_of(state: SimState, o) -> OrderTerms:
    return terms_book(state).of(o)


def _symbol(state: SimState, params: Params, required: bool = True) -> MarketSpec | None:
    sym = params.str("symbol", required=required, max_len=32)
    if sym is None:
        return None
    spec = state.exchange.markets.get(sym.upper())
    if spec is None:
        raise bad_request(-1121, "Invalid symbol.")
    return spec


def _enum(params: Params, name: str, allowed: tuple[str, ...], code: int, what: str,
          required: bool = False) -> str | None:
    value = params.raw(name)
    if value is None:
        if required:
            raise missing(name)
        return None
    if value.upper() not in allowed:
        raise bad_request(code, f"Invalid {what}: {value!r}; this simulator takes "
                                f"{', '.join(allowed)}.")
    return value.upper()


def _client_id(params: Params, name: str) -> str | None:
    value = params.raw(name)
    if value is not None and not _CLIENT_ID.match(value):
        raise bad_request(-1100, f"Illegal characters found in parameter '{name}'; legal range "
                                 "is '^[a-zA-Z0-9-_]{1,36}$'.")
    return value


async def _signed(request: web.Request, security: str) -> tuple[SimState, Caller]:
    state = state_of(request)
    raw = await read_request(request)
    return state, authenticate_signed(request, state, raw, security)


async def _public_params(request: web.Request) -> Params:
    return (await read_request(request)).params


# -- public -----------------------------------------------------------------------------------

def depth_weight(q) -> int:
    try:
        limit = int(q.get("limit", "100") or "100")
    except ValueError:
        return 5
    for upto, weight in ((100, 5), (500, 25), (1000, 50)):
        if limit <= upto:
            return weight
    return 250


async def exchange_info(request: web.Request) -> web.Response:
    state = state_of(request)
    params = await _public_params(request)
    specs = list(state.exchange.markets.values())
    wanted = params.raw("symbol")
    if wanted is not None:
        specs = [_symbol(state, params)]
    return json_response({
        "timezone": "UTC",
        "serverTime": state.exchange.clock.now_ms(),
        "rateLimits": exchange_info_limits(state.rate_limiter.policies),
        "exchangeFilters": [],
        "symbols": [render.exchange_info_symbol(s) for s in specs],
    })


async def depth(request: web.Request) -> web.Response:
    state = state_of(request)
    params = await _public_params(request)
    spec = _symbol(state, params)
    limit = params.int("limit", default=100, min_value=1, max_value=5000)
    bids, asks = state.exchange.depth(spec.symbol, limit)
    book_ids = state.extras.get("binance_book_ids")
    last_id = book_ids.current(spec.symbol) if book_ids is not None else 0
    return json_response({
        "lastUpdateId": last_id,
        "bids": [[render.num(p), render.num(q)] for p, q in bids],
        "asks": [[render.num(p), render.num(q)] for p, q in asks],
    })


async def trades(request: web.Request) -> web.Response:
    state = state_of(request)
    params = await _public_params(request)
    spec = _symbol(state, params)
    limit = params.int("limit", default=500, min_value=1, max_value=1000)
    return json_response([
        {
            "id": t.trade_id,
            "price": render.num(t.price),
            "qty": render.num(t.qty),
            "quoteQty": render.num(t.quote_qty),
            "time": t.time,
            "isBuyerMaker": t.is_buyer_maker,
            "isBestMatch": True,
        }
        for t in state.exchange.recent_trades(spec.symbol, limit)[-limit:]
    ])


async def book_ticker(request: web.Request) -> web.Response:
    state = state_of(request)
    params = await _public_params(request)
    spec = _symbol(state, params, required=False)

    def one(s: MarketSpec) -> dict:
        bids, asks = state.exchange.depth(s.symbol, 1)
        zero = (Decimal(0), Decimal(0))
        (bp, bq), (ap, aq) = (bids[0] if bids else zero), (asks[0] if asks else zero)
        return {"symbol": s.symbol, "bidPrice": render.num(bp), "bidQty": render.num(bq),
                "askPrice": render.num(ap), "askQty": render.num(aq)}

    if spec is not None:
        return json_response(one(spec))
    return json_response([one(s) for s in state.exchange.markets.values()])


def ticker_weight(q) -> int:
    return 2 if q.get("symbol") else 80


async def ticker_24hr(request: web.Request) -> web.Response:
    """One object for a symbol, a list without (the core keeps the statistics per minute)."""
    state = state_of(request)
    params = await _public_params(request)
    spec = _symbol(state, params, required=False)
    specs = [spec] if spec is not None else list(state.exchange.markets.values())
    answers = [state.exchange.ticker_24h(s.symbol) for s in specs]
    return json_response(answers[0] if spec is not None else answers)


async def ticker_price(request: web.Request) -> web.Response:
    state = state_of(request)
    params = await _public_params(request)
    spec = _symbol(state, params, required=False)

    def one(s: MarketSpec) -> dict:
        return {"symbol": s.symbol, "price": render.num(state.exchange.last_price(s.symbol))}

    if spec is not None:
        return json_response(one(spec))
    return json_response([one(s) for s in state.exchange.markets.values()])


# -- orders -----------------------------------------------------------------------------------

def _would_take(state: SimState, symbol: str, side: str, price: Decimal) -> bool:
    bids, asks = state.exchange.depth(symbol, 1)
    if side == "BUY":
        return bool(asks) and price >= asks[0][0]
    return bool(bids) and price <= bids[0][0]


async def new_order(request: web.Request) -> web.Response:
    state, caller = await _signed(request, "TRADE")
    p = caller.params
    spec = _symbol(state, p)
    side = _enum(p, "side", ("BUY", "SELL"), -1117, "side", required=True)
    otype = _enum(p, "type", ORDER_TYPES, -1116, "orderType", required=True)
    tif = _enum(p, "timeInForce", TIME_IN_FORCE, -1115, "timeInForce")
    resp_type = _enum(p, "newOrderRespType", RESP_TYPES, -1102, "newOrderRespType")
    client_id = _client_id(p, "newClientOrderId")
    quantity = p.decimal("quantity")
    price = p.decimal("price")
    quote_qty = p.decimal("quoteOrderQty")
    if otype in ("LIMIT", "LIMIT_MAKER"):
        if quantity is None:
            raise missing("quantity")
        if price is None:
            raise missing("price")
        if otype == "LIMIT" and tif is None:
            raise missing("timeInForce")
        if otype == "LIMIT_MAKER" and tif is not None:
            raise bad_request(-1106, "Parameter 'timeInForce' sent when not required.")
    elif quantity is None and quote_qty is None:
        raise bad_request(-1102, "Param 'quantity' or 'quoteOrderQty' must be sent, but both "
                                 "were empty/null!")
    state.rate_limiter.admit("orders", request.remote or "", caller.account_id)
    if otype == "LIMIT_MAKER" and _would_take(state, spec.symbol, side, price):
        raise bad_request(-2010, "Order would immediately match and take.")
    core_type = "MARKET" if otype == "MARKET" else "LIMIT"
    if client_id is None:  # Binance makes one up; the core's own would not be unique per day
        client_id = "sim" + secrets.token_hex(10)
    # an unfilled MARKET remainder and an IOC remainder are EXPIRED in Binance's words
    terms = OrderTerms(type=otype, time_in_force=tif or "GTC",
                       expired=core_type == "MARKET" or tif == "IOC")
    book = terms_book(state)
    book.expect(caller.account_id, client_id, terms)
    order_id = None
    try:
        order = state.exchange.place_order(
            caller.account_id,
            spec.symbol,
            side,
            core_type,
            quantity,
            price if core_type == "LIMIT" else None,
            client_order_id=client_id,
            quote_order_qty=quote_qty if core_type == "MARKET" and quantity is None else None,
        )
        order_id = order.order_id
        if tif == "IOC" and order.is_open:
            order = state.exchange.cancel_order(caller.account_id, spec.symbol, order.order_id)
    finally:
        book.settle(caller.account_id, client_id, order_id)
    fills = []
    if order.executed_qty:
        fills = [f for f in state.exchange.my_trades(caller.account_id, spec.symbol,
                                                     start_time=order.time, limit=1000)
                 if f.order_id == order.order_id]
    return json_response(render.new_order(order, terms, fills, resp_type or "FULL"))


def _order_ref(p: Params) -> tuple[int | None, str | None]:
    order_id = p.int("orderId", min_value=1)
    orig = p.raw("origClientOrderId")
    if order_id is None and orig is None:
        raise bad_request(-1102, "Param 'origClientOrderId' or 'orderId' must be sent, but "
                                 "both were empty/null!")
    return order_id, orig


async def query_order(request: web.Request) -> web.Response:
    state, caller = await _signed(request, "USER_DATA")
    spec = _symbol(state, caller.params)
    order_id, orig = _order_ref(caller.params)
    o = state.exchange.get_order(caller.account_id, spec.symbol, order_id=order_id,
                                 client_order_id=orig)
    return json_response(render.order(o, terms_of(state, o)))


async def cancel_order(request: web.Request) -> web.Response:
    state, caller = await _signed(request, "TRADE")
    p = caller.params
    spec = _symbol(state, p)
    order_id, orig = _order_ref(p)
    new_id = _client_id(p, "newClientOrderId")
    try:
        o = state.exchange.cancel_order(caller.account_id, spec.symbol, order_id=order_id,
                                        client_order_id=orig)
    except BinanceError:
        raise
    except Exception as exc:
        if getattr(exc, "code", None) == -2013:
            raise unknown_order_on_cancel() from None
        raise
    return json_response(render.cancel(o, terms_of(state, o), new_id))


async def cancel_open_orders(request: web.Request) -> web.Response:
    """DELETE /api/v3/openOrders: cancel every open order of the symbol (none: -2011)."""
    state, caller = await _signed(request, "TRADE")
    spec = _symbol(state, caller.params)
    orders = state.exchange.open_orders(caller.account_id, spec.symbol)
    if not orders:
        raise unknown_order_on_cancel()
    done = [state.exchange.cancel_order(caller.account_id, spec.symbol, order_id=o.order_id)
            for o in orders]
    return json_response([render.cancel(o, terms_of(state, o), None) for o in done])


async def open_orders(request: web.Request) -> web.Response:
    state, caller = await _signed(request, "USER_DATA")
    spec = _symbol(state, caller.params, required=False)
    orders = state.exchange.open_orders(caller.account_id, spec.symbol if spec else None)
    return json_response([render.order(o, terms_of(state, o)) for o in orders])


def open_orders_weight(q) -> int:
    return 6 if q.get("symbol") else 80


def _window(p: Params) -> dict:
    """startTime, endTime and limit (500 by default, at most 1000) of a history read."""
    return {"start_time": p.int("startTime", min_value=0),
            "end_time": p.int("endTime", min_value=0),
            "limit": p.int("limit", default=500, min_value=1, max_value=1000)}


async def all_orders(request: web.Request) -> web.Response:
    state, caller = await _signed(request, "USER_DATA")
    p = caller.params
    spec = _symbol(state, p)
    orders = state.exchange.all_orders(caller.account_id, spec.symbol,
                                       order_id=p.int("orderId", min_value=1), **_window(p))
    return json_response([render.order(o, terms_of(state, o)) for o in orders])


async def my_trades(request: web.Request) -> web.Response:
    state, caller = await _signed(request, "USER_DATA")
    p = caller.params
    spec = _symbol(state, p)
    order_id = p.int("orderId", min_value=1)
    fills = state.exchange.my_trades(caller.account_id, spec.symbol,
                                     from_id=p.int("fromId", min_value=0), **_window(p))
    if order_id is not None:
        fills = [f for f in fills if f.order_id == order_id]
    return json_response([render.my_trade(f) for f in fills])


# -- account ----------------------------------------------------------------------------------

def _commission(rate: Decimal) -> int:
    return int((rate * 10000).to_integral_value())


async def account(request: web.Request) -> web.Response:
    state, caller = await _signed(request, "USER_DATA")
    ex = state.exchange
    acct = ex.account(caller.account_id)
    info = state.keys.get(caller.api_key)
    can_trade = info is not None and "trade" in info.permissions
    omit_zero = (caller.params.raw("omitZeroBalances") or "").lower() == "true"
    balances = [
        {"asset": b.asset.upper(), "free": render.num(b.free), "locked": render.num(b.locked)}
        for b in sorted(ex.balances(caller.account_id).values(), key=lambda b: b.asset)
        if not (omit_zero and not b.free and not b.locked)
    ]
    return json_response({
        "makerCommission": _commission(acct.maker_commission),
        "takerCommission": _commission(acct.taker_commission),
        "buyerCommission": 0,
        "sellerCommission": 0,
        "commissionRates": {"maker": render.num(acct.maker_commission),
                            "taker": render.num(acct.taker_commission),
                            "buyer": render.num(Decimal(0)), "seller": render.num(Decimal(0))},
        "canTrade": can_trade,
        "canWithdraw": info is not None and "withdraw" in info.permissions,
        "canDeposit": True,
        "brokered": False,
        "requireSelfTradePrevention": False,
        "preventSor": False,
        "updateTime": ex.clock.now_ms(),
        "accountType": "SPOT",
        "balances": balances,
        "permissions": ["SPOT"],
        "uid": caller.account_id,
    })


async def api_restrictions(request: web.Request) -> web.Response:
    """GET /sapi/v1/account/apiRestrictions: the calling key's own switches (USER_DATA)."""
    state, caller = await _signed(request, "USER_DATA")
    info = state.keys.get(caller.api_key)
    perms = info.permissions
    restricted = state.keys.is_ip_restricted(caller.api_key)
    answer = {
        "ipRestrict": restricted,
        "createTime": info.created_ms,
        "enableReading": "read" in perms,
        "enableWithdrawals": "withdraw" in perms,
        "enableInternalTransfer": "transfer" in perms,
        "enableMargin": "margin" in perms,
        "enableFutures": "futures" in perms,
        "permitsUniversalTransfer": "transfer" in perms,
        "enableVanillaOptions": "options" in perms,
        "enableFixApiTrade": False,
        "enableFixReadOnly": False,
        "enableSpotAndMarginTrading": "trade" in perms,
        "enablePortfolioMarginTrading": False,
    }
    if "trade" in perms and not restricted:
        answer["tradingAuthorityExpirationTime"] = info.created_ms + UNRESTRICTED_TRADING_MS
    return json_response(answer)


async def capital_config(request: web.Request) -> web.Response:
    """GET /sapi/v1/capital/config/getall: every listed coin on one simulated network."""
    state, caller = await _signed(request, "USER_DATA")
    ex = state.exchange
    held = ex.balances(caller.account_id)
    assets: dict[str, None] = {}
    for spec in ex.markets.values():
        assets.setdefault(spec.base_asset)
        assets.setdefault(spec.quote_asset)
    coins = []
    for asset in assets:
        bal = held.get(asset) or held.get(asset.lower())
        coins.append({
            "coin": asset, "name": asset, "depositAllEnable": True, "withdrawAllEnable": False,
            "free": render.num(bal.free if bal else Decimal(0)),
            "locked": render.num(bal.locked if bal else Decimal(0)),
            "freeze": "0", "withdrawing": "0", "ipoing": "0", "ipoable": "0", "storage": "0",
            "isLegalMoney": False, "trading": True,
            "networkList": [{
                "network": "SIM", "coin": asset, "name": "Simulated network",
                "withdrawIntegerMultiple": "0.00000001", "isDefault": True,
                "depositEnable": True, "withdrawEnable": False, "depositDesc": "",
                "withdrawDesc": "Withdrawals are off in the simulator.",
                "specialTips": "", "resetAddressStatus": False, "addressRegex": "",
                "memoRegex": "", "withdrawFee": "0", "withdrawMin": "0", "withdrawMax": "0",
                "minConfirm": 1, "unLockConfirm": 0, "sameAddress": False,
                "estimatedArrivalTime": 1, "busy": False,
            }],
        })
    return json_response(coins)


# -- listen keys (USER_STREAM: key header only) -----------------------------------------------

def _no_listen_key() -> BinanceError:
    return bad_request(-1125, "This listenKey does not exist.")


async def listen_key_create(request: web.Request) -> web.Response:
    state = state_of(request)
    caller = authenticate_key_only(request, state, await read_request(request))
    return json_response({"listenKey": state.listen_keys.open(caller.account_id)})


async def _listen_key_op(request: web.Request, op: str) -> web.Response:
    state = state_of(request)
    caller = authenticate_key_only(request, state, await read_request(request))
    key = caller.params.str("listenKey", required=True, max_len=128)
    if not getattr(state.listen_keys, op)(key, caller.account_id):
        raise _no_listen_key()
    return json_response({})


async def listen_key_keepalive(request: web.Request) -> web.Response:
    return await _listen_key_op(request, "keepalive")


async def listen_key_delete(request: web.Request) -> web.Response:
    return await _listen_key_op(request, "close")


async def margin_pairs(request: web.Request) -> web.Response:
    """GET /sapi/v1/margin/allPairs and isolated/allPairs: the simulator lists no margin."""
    state = state_of(request)
    authenticate_key_only(request, state, await read_request(request))
    return json_response([])
