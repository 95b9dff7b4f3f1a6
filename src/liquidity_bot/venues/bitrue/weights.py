"""What each Bitrue endpoint costs against which rate-limit policy (from the API docs).

Two policy families: ``REQUEST_WEIGHT`` (every REST call, 1200 per minute per IP) and
``ORDERS`` (order placement and cancellation, 100 per 60 s per IP and per user).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from liquidity_bot.venues.port import OrderRateLimit

REQUEST_WEIGHT = "REQUEST_WEIGHT"
ORDERS = "ORDERS"
# Bitrue's documented order limit (per user and per IP): the one place it is written. The
# venue gives it to the engine's budget (``BitrueVenue.order_rate_limit``); the connector's
# governor and the backtest's exchange model enforce it.
ORDER_RATE_LIMIT = OrderRateLimit(requests=100, window_s=60.0)

# (method, path) -> weight against REQUEST_WEIGHT, for endpoints with a fixed weight.
_FIXED: dict[tuple[str, str], int] = {
    ("GET", "/api/v1/ping"): 1,
    ("GET", "/api/v1/time"): 1,
    ("GET", "/api/v1/exchangeInfo"): 1,
    ("GET", "/api/v1/trades"): 1,
    ("GET", "/api/v1/historicalTrades"): 5,
    ("GET", "/api/v1/aggTrades"): 1,
    ("GET", "/api/v1/ticker/price"): 1,
    ("GET", "/api/v1/ticker/bookTicker"): 1,
    ("GET", "/api/v1/market/kline"): 1,
    ("POST", "/api/v1/order"): 1,
    ("GET", "/api/v1/order"): 1,
    ("DELETE", "/api/v1/order"): 1,
    ("GET", "/api/v1/openOrders"): 1,
    ("GET", "/api/v1/allOrders"): 5,
    ("GET", "/api/v1/account"): 5,
    ("GET", "/api/v1/withdraw/history"): 1,
    ("GET", "/api/v1/deposit/history"): 1,
    ("POST", "/poseidon/api/v1/listenKey"): 1,
    ("PUT", "/poseidon/api/v1/listenKey"): 1,
    ("DELETE", "/poseidon/api/v1/listenKey"): 1,
    ("GET", "/fapi/v2/account"): 1,
}

# Endpoints that also count against the ORDERS policies.
_ORDER_ENDPOINTS = {("POST", "/api/v1/order"), ("DELETE", "/api/v1/order")}


def depth_weight(limit: int) -> int:
    """``/depth``: 1 up to 100 levels, 5 up to 500, 10 beyond."""
    if limit <= 100:
        return 1
    if limit <= 500:
        return 5
    return 10


def request_weight(method: str, path: str, params: Mapping[str, Any] | None = None) -> int:
    """REQUEST_WEIGHT cost of one call; unknown endpoints cost 1."""
    params = params or {}
    method = method.upper()
    if path.startswith("/poseidon/api/v1/listenKey"):
        path = "/poseidon/api/v1/listenKey"
    if path == "/api/v1/depth":
        return depth_weight(int(params.get("limit") or 100))
    if path == "/api/v1/ticker/24hr":
        return 1 if params.get("symbol") else 40
    if path in ("/api/v2/myTrades", "/api/v1/myTrades"):
        return 5 if params.get("symbol") else 40
    return _FIXED.get((method, path), 1)


_PARAM_DEPENDENT = frozenset(
    {"/api/v1/depth", "/api/v1/ticker/24hr", "/api/v2/myTrades", "/api/v1/myTrades"}
)
_FIXED_COSTS: dict[tuple[str, str], dict[str, int]] = {}  # memo: costs() is on every request


def costs(
    method: str, path: str, params: Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None
) -> dict[str, int]:
    """Cost per policy family of one call (a shared dict for fixed-cost endpoints: read only).

    ``params`` is a mapping or ``(name, value)`` pairs; pairs whose value is None are ignored.
    """
    if path not in _PARAM_DEPENDENT:
        key = (method, path)
        got = _FIXED_COSTS.get(key)
        if got is None:
            got = _costs(method, path, None)
            if len(_FIXED_COSTS) < 512:
                _FIXED_COSTS[key] = got
        return got
    if isinstance(params, str):
        raise TypeError(f"the cost of {path} depends on its parameters: pass them as pairs")
    if params is not None and not isinstance(params, Mapping):
        params = {k: v for k, v in params if v is not None}
    return _costs(method, path, params)


def _costs(method: str, path: str, params: Mapping[str, Any] | None) -> dict[str, int]:
    out = {REQUEST_WEIGHT: request_weight(method, path, params)}
    if (method.upper(), path) in _ORDER_ENDPOINTS:
        out[ORDERS] = 1
    return out
