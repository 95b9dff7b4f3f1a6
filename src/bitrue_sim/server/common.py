"""Small shared pieces of the HTTP layer: the state key, JSON responses, symbol lookup."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec
from aiohttp import web

from bitrue_sim.core.markets import MarketSpec
from bitrue_sim.errors import ExchangeError
from bitrue_sim.server.params import Params
from bitrue_sim.server.state import SimState

STATE_KEY: web.AppKey[SimState] = web.AppKey("bitrue_sim_state", SimState)

# path template -> (method -> weight function of the query parameters)
WeightFn = Callable[[Any], int]


def fixed_weight(n: int) -> WeightFn:
    """A route's weight that does not depend on the query."""
    return lambda _q: n

_encoder = msgspec.json.Encoder()


def state_of(request: web.Request) -> SimState:
    return request.app[STATE_KEY]


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None):
    return web.Response(
        body=_encoder.encode(data),
        status=status,
        content_type="application/json",
        headers=headers,
    )


def error_response(exc: ExchangeError) -> web.Response:
    return json_response({"code": exc.code, "msg": exc.msg}, exc.http_status, exc.headers or None)


def market(state: SimState, params: Params, required: bool = True) -> MarketSpec | None:
    """The symbol parameter resolved to a market (case-insensitive); unknown -> 412 -1121."""
    sym = params.str("symbol", required=required, max_len=32)
    if sym is None:
        return None
    return market_by_name(state, sym)


def market_by_name(state: SimState, sym: str) -> MarketSpec:
    spec = state.exchange.markets.get(sym.upper())
    if spec is None:
        raise ExchangeError(412, -1121, "Invalid symbol.")
    return spec
