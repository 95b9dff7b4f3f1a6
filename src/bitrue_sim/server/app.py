"""The aiohttp application: every REST path on one port, documented errors, rate limits.

Error rendering (never a traceback, never a 500 for bad input):
* ``ExchangeError`` -> its HTTP status and ``{"code", "msg"}``.
* unknown path -> 404 ``{"code": 404, "msg": ...}``; wrong method -> 405 code -1020.
* body over ``max_body_bytes`` (64 KiB) -> 413 code -1102.
* an unexpected internal error -> 500 code -1016 "Service unavailable" (outcome unknown, as the
  docs warn for 5XX); logged with the path and exception type only, never parameters.

The access log is off: a request line carries the ``signature`` parameter.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import traceback
from collections.abc import Awaitable, Callable
from decimal import ROUND_DOWN, ROUND_UP, Decimal

from aiohttp import web

from bitrue_sim.errors import ExchangeError
from bitrue_sim.server import admin, futures, public, signed
from bitrue_sim.server.common import STATE_KEY, error_response, fixed_weight, json_response
from bitrue_sim.server.state import SimState

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

WEIGHT_KEY: web.AppKey[dict] = web.AppKey("bitrue_sim_weights", dict)


# (method, path, handler, weight function of the query)
ROUTES: list[tuple[str, str, Handler, Callable[[object], int]]] = [
    ("GET", "/api/v1/ping", public.ping, fixed_weight(1)),
    ("GET", "/api/v1/time", public.server_time, fixed_weight(1)),
    ("GET", "/api/v1/exchangeInfo", public.exchange_info, fixed_weight(1)),
    ("GET", "/api/v1/depth", public.depth, public.depth_weight),
    ("GET", "/api/v1/trades", public.trades, fixed_weight(1)),
    ("GET", "/api/v1/historicalTrades", public.historical_trades, fixed_weight(5)),
    ("GET", "/api/v1/aggTrades", public.agg_trades, fixed_weight(1)),
    ("GET", "/api/v1/ticker/24hr", public.ticker_24hr, public.ticker_weight),
    ("GET", "/api/v1/ticker/price", public.ticker_price, fixed_weight(1)),
    ("GET", "/api/v1/ticker/bookTicker", public.book_ticker, fixed_weight(1)),
    ("GET", "/api/v1/market/kline", public.kline, fixed_weight(1)),
    ("POST", "/api/v1/order", signed.new_order, fixed_weight(1)),
    ("GET", "/api/v1/order", signed.query_order, fixed_weight(1)),
    ("DELETE", "/api/v1/order", signed.cancel_order, fixed_weight(1)),
    ("GET", "/api/v1/openOrders", signed.open_orders, fixed_weight(1)),
    ("GET", "/api/v1/allOrders", signed.all_orders, fixed_weight(5)),
    ("GET", "/api/v1/account", signed.account, fixed_weight(5)),
    ("GET", "/api/v2/myTrades", signed.my_trades, fixed_weight(5)),
    ("POST", "/api/v1/withdraw/commit", signed.withdraw_commit, fixed_weight(1)),
    ("GET", "/api/v1/withdraw/history", signed.withdraw_history, fixed_weight(1)),
    ("GET", "/api/v1/deposit/history", signed.deposit_history, fixed_weight(1)),
    ("POST", "/poseidon/api/v1/listenKey", signed.listen_key_create, fixed_weight(1)),
    ("PUT", "/poseidon/api/v1/listenKey/{listen_key}", signed.listen_key_keepalive, fixed_weight(1)),
    ("DELETE", "/poseidon/api/v1/listenKey/{listen_key}", signed.listen_key_delete, fixed_weight(1)),
    ("GET", "/fapi/v1/ping", futures.fapi_ping, fixed_weight(1)),
    ("GET", "/fapi/v1/time", futures.fapi_time, fixed_weight(1)),
    ("GET", "/fapi/v1/contracts", futures.fapi_contracts, fixed_weight(1)),
    ("GET", "/dapi/v1/contracts", futures.dapi_contracts, fixed_weight(1)),
    ("GET", "/fapi/v2/account", futures.fapi_account, fixed_weight(5)),
]

ADMIN_ROUTES: list[tuple[str, str, Handler]] = [
    ("POST", "/sim/admin/accounts", admin.create_account),
    ("POST", "/sim/admin/keys", admin.create_key),
    ("GET", "/sim/admin/keys/{api_key}", admin.get_key),
    ("DELETE", "/sim/admin/keys/{api_key}", admin.delete_key),
    ("POST", "/sim/admin/keys/{api_key}/disable", admin.disable_key),
    ("POST", "/sim/admin/keys/{api_key}/enable", admin.enable_key),
    ("GET", "/sim/admin/ledger", admin.ledger),
    ("GET", "/sim/admin/balances", admin.balances),
    ("POST", "/sim/admin/deposit", admin.deposit),
    ("GET", "/sim/admin/market_maker", admin.market_maker),
    ("GET", "/sim/admin/ratelimit", admin.ratelimit),
]


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ExchangeError as exc:
        return error_response(exc)
    except web.HTTPException as exc:
        return _http_exception_response(request, exc)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        tb = "".join(traceback.format_tb(exc.__traceback__))
        log.error(
            "internal error on %s %s: %s\n%s",
            request.method,
            request.rel_url.raw_path,
            type(exc).__name__,
            tb,
        )
        return json_response({"code": -1016, "msg": "Service unavailable"}, 500)


def _http_exception_response(request: web.Request, exc: web.HTTPException) -> web.Response:
    status = exc.status
    if status == 405:
        return json_response({"code": -1020, "msg": "Method not supported."}, 405)
    if status == 404:
        return json_response({"code": 404, "msg": f"Unknown path {request.rel_url.raw_path}."}, 404)
    if status == 413:
        limit = request.app[STATE_KEY].config.max_body_bytes
        return json_response(
            {"code": -1102, "msg": f"Request body too large: the limit is {limit} bytes."}, 413
        )
    if status < 400:
        raise exc
    return json_response({"code": status, "msg": exc.reason}, status)


@web.middleware
async def rate_limit_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Per-IP request weight on every Bitrue path (the admin API is exempt)."""
    path = request.rel_url.raw_path
    if not path.startswith("/sim/"):
        weights = request.app[WEIGHT_KEY]
        route = request.match_info.route
        resource = route.resource
        canonical = resource.canonical if resource is not None else path
        fn = weights.get((request.method, canonical))
        weight = fn(request.query) if fn is not None else 1
        request.app[STATE_KEY].rate_limiter.admit_ip(request.remote or "", weight)
    return await handler(request)


def create_app(state: SimState) -> web.Application:
    """The full simulator app; streams and faults are added by ``bitrue_sim.ws`` when present.

    ``state.config.dialect == "binance"`` serves Binance's wire over the same core instead.
    """
    if state.config.dialect == "binance":
        from bitrue_sim.server.binance.app import create_binance_app

        return create_binance_app(state)
    app = web.Application(
        client_max_size=state.config.max_body_bytes,
        middlewares=[error_middleware, rate_limit_middleware],
    )
    app[STATE_KEY] = state
    weights: dict[tuple[str, str], Callable[[object], int]] = {}
    for method, path, handler, weight in ROUTES:
        app.router.add_route(method, path, handler)
        weights[(method, path)] = weight
    app[WEIGHT_KEY] = weights
    for method, path, handler in ADMIN_ROUTES:
        app.router.add_route(method, path, handler)

    if state.config.seed_books and not state.config.scenario:
        # with a scenario the participants open the book themselves, exactly as in the
        # virtual-time driver: a paper run and a backtest of one scenario and seed see one market
        seed_books(state)
    app.cleanup_ctx.append(_listen_key_sweeper)

    try:
        from bitrue_sim.ws import install as install_streams
    except ImportError:
        install_streams = None
    if install_streams is not None:
        install_streams(app, state)  # adds /market/ws, /stream, participants, faults
    return app


async def _listen_key_sweeper(app: web.Application):
    """Expire listen keys on time so user streams learn about it without a REST call."""
    state = app[STATE_KEY]

    async def loop() -> None:
        while True:
            await asyncio.sleep(1.0)
            try:
                state.listen_keys.sweep()
            except Exception:  # pragma: no cover - a callback bug must not stop the sweeper
                log.exception("listen-key sweep failed")

    task = asyncio.create_task(loop())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


# -- book seeding ------------------------------------------------------------------------------

SEED_LEVELS = 5
MM_BALANCE = Decimal("1000000000")
THIN_MARKETS = frozenset({"NOVAUSDT"})  # the small-cap: wide steps and gaps in the seeded book


def seed_books(state: SimState) -> None:
    """A market-maker account rests a few orders each side of every market's initial price.

    Liquid markets get levels 0.1 % apart; NOVAUSDT (thin) gets 1 % steps and larger gaps.
    Sizes vary with the seed. Orders respect every filter, so they are plain resting orders.
    """
    ex = state.exchange
    rng = random.Random(state.config.seed)
    assets = {s.base_asset for s in ex.markets.values()} | {
        s.quote_asset for s in ex.markets.values()
    }
    mm = ex.create_account({a: MM_BALANCE for a in sorted(assets)})
    state.market_maker_account = mm
    for spec in ex.markets.values():
        mid = spec.initial_price
        thin = spec.symbol in THIN_MARKETS
        step = (mid * (Decimal("0.01") if thin else Decimal("0.001"))).quantize(
            spec.tick_size, rounding=ROUND_UP
        )
        step = max(step, spec.tick_size)
        for level in range(1, SEED_LEVELS + 1):
            gap = level * (2 if thin and level > 2 else 1)
            for side, px in (("BUY", mid - step * gap), ("SELL", mid + step * gap)):
                if px < spec.min_price or px > spec.max_price:
                    continue
                notional = spec.min_val * rng.randint(20, 200)
                q = (notional / px).quantize(spec.step_size, rounding=ROUND_DOWN)
                q = max(q, spec.min_qty)
                ex.place_order(
                    mm,
                    spec.symbol,
                    side,
                    "LIMIT",
                    q,
                    px,
                    client_order_id=f"seed-{spec.symbol.lower()}-{side.lower()}-{level}",
                )
