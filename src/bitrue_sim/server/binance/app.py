"""The Binance-dialect aiohttp application: Binance's paths and weights over the shared core,
its error shape from one translation table, and the shared streams, faults and admin API."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from bitrue_sim.errors import ExchangeError
from bitrue_sim.server import admin, public
from bitrue_sim.server.binance import rest
from bitrue_sim.server.binance.errors import BinanceError, translate
from bitrue_sim.server.common import STATE_KEY, fixed_weight, json_response
from bitrue_sim.server.state import SimState

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Weight = Callable[[object], int]


# (method, path, handler, request weight) -- weights from binance-spot-api-docs rest-api.md
ROUTES: list[tuple[str, str, Handler, Weight]] = [
    ("GET", "/api/v3/ping", public.ping, fixed_weight(1)),  # the same answers as Bitrue's
    ("GET", "/api/v3/time", public.server_time, fixed_weight(1)),
    ("GET", "/api/v3/exchangeInfo", rest.exchange_info, fixed_weight(20)),
    ("GET", "/api/v3/depth", rest.depth, rest.depth_weight),
    ("GET", "/api/v3/trades", rest.trades, fixed_weight(25)),
    ("GET", "/api/v3/ticker/bookTicker", rest.book_ticker, fixed_weight(2)),
    ("GET", "/api/v3/ticker/price", rest.ticker_price, fixed_weight(2)),
    ("GET", "/api/v3/ticker/24hr", rest.ticker_24hr, rest.ticker_weight),
    ("POST", "/api/v3/order", rest.new_order, fixed_weight(1)),
    ("GET", "/api/v3/order", rest.query_order, fixed_weight(4)),
    ("DELETE", "/api/v3/order", rest.cancel_order, fixed_weight(1)),
    ("GET", "/api/v3/openOrders", rest.open_orders, rest.open_orders_weight),
    ("DELETE", "/api/v3/openOrders", rest.cancel_open_orders, fixed_weight(1)),
    ("GET", "/api/v3/allOrders", rest.all_orders, fixed_weight(20)),
    ("GET", "/api/v3/account", rest.account, fixed_weight(20)),
    ("GET", "/api/v3/myTrades", rest.my_trades, fixed_weight(20)),
    ("POST", "/api/v3/userDataStream", rest.listen_key_create, fixed_weight(2)),
    ("PUT", "/api/v3/userDataStream", rest.listen_key_keepalive, fixed_weight(2)),
    ("DELETE", "/api/v3/userDataStream", rest.listen_key_delete, fixed_weight(2)),
    ("GET", "/sapi/v1/account/apiRestrictions", rest.api_restrictions, fixed_weight(1)),
    ("GET", "/sapi/v1/capital/config/getall", rest.capital_config, fixed_weight(10)),
    ("GET", "/sapi/v1/margin/allPairs", rest.margin_pairs, fixed_weight(1)),
    ("GET", "/sapi/v1/margin/isolated/allPairs", rest.margin_pairs, fixed_weight(10)),
]

# Binance path -> the Bitrue path with the same meaning: fault profiles name Bitrue paths, and
# one profile drives both dialects.
FAULT_PATHS: dict[str, str] = {
    "/api/v3/order": "/api/v1/order",
    "/api/v3/openOrders": "/api/v1/openOrders",
    "/api/v3/allOrders": "/api/v1/allOrders",
    "/api/v3/account": "/api/v1/account",
    "/api/v3/myTrades": "/api/v2/myTrades",
    "/api/v3/depth": "/api/v1/depth",
    "/api/v3/exchangeInfo": "/api/v1/exchangeInfo",
    "/api/v3/time": "/api/v1/time",
    "/api/v3/ping": "/api/v1/ping",
    "/api/v3/userDataStream": "/poseidon/api/v1/listenKey",
}

STREAM_PREFIXES = ("/ws", "/stream", "/ws-api/")

WEIGHT_KEY: web.AppKey[dict] = web.AppKey("binance_sim_weights", dict)


def error_json(exc: ExchangeError) -> web.Response:
    out = translate(exc)
    return json_response({"code": out.code, "msg": out.msg}, out.http_status,
                         out.headers or None)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ExchangeError as exc:
        return error_json(exc)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        if exc.status == 404:
            return json_response({"code": -1000, "msg": f"Unknown path "
                                  f"{request.rel_url.raw_path}."}, 404)
        if exc.status == 405:
            return json_response({"code": -1020, "msg": "This operation is not supported."},
                                 405)
        if exc.status == 413:
            return json_response({"code": -1102, "msg": "Request body too large."}, 413)
        return json_response({"code": -1000, "msg": exc.reason}, exc.status)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        log.error("internal error on %s %s: %s", request.method, request.rel_url.raw_path,
                  type(exc).__name__)
        return json_response({"code": -1001, "msg": "Internal error; unable to process your "
                              "request. Please try again."}, 500)


@web.middleware
async def weight_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Per-IP request weight on every Binance path (admin and stream paths are exempt)."""
    path = request.rel_url.raw_path
    if path.startswith("/sim/") or path.startswith(STREAM_PREFIXES):
        return await handler(request)
    resource = request.match_info.route.resource
    canonical = resource.canonical if resource is not None else path
    fn = request.app[WEIGHT_KEY].get((request.method, canonical))
    limiter = request.app[STATE_KEY].rate_limiter
    ip = request.remote or ""
    limiter.admit_ip(ip, fn(request.query) if fn else 1)
    response = await handler(request)
    # Binance reports the weight used in the current minute on every answer
    if limiter.enabled and not response.prepared:
        response.headers["X-MBX-USED-WEIGHT-1M"] = str(limiter.used("REQUEST_WEIGHT", ip))
    return response


def create_binance_app(state: SimState) -> web.Application:
    """The simulator speaking Binance; streams and faults come from ``bitrue_sim.ws``."""
    from bitrue_sim.server.app import ADMIN_ROUTES, _listen_key_sweeper, seed_books
    from bitrue_sim.ws import install as install_streams

    app = web.Application(client_max_size=state.config.max_body_bytes,
                          middlewares=[error_middleware, weight_middleware])
    app[STATE_KEY] = state
    weights: dict[tuple[str, str], Weight] = {}
    for method, path, handler, weight in ROUTES:
        app.router.add_route(method, path, handler)
        weights[(method, path)] = weight
    app[WEIGHT_KEY] = weights
    for method, path, handler in ADMIN_ROUTES:
        app.router.add_route(method, path, handler)
    if state.config.seed_books and not state.config.scenario:
        seed_books(state)
    app.cleanup_ctx.append(_listen_key_sweeper)
    install_streams(app, state)
    return app


__all__ = ["FAULT_PATHS", "BinanceError", "admin", "create_binance_app"]
