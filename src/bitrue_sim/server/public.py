"""Public market data: ping, time, exchangeInfo, depth, trades, tickers, klines.

``historicalTrades`` is MARKET_DATA in the docs: it needs a valid API key header (no signature).
"""

from __future__ import annotations

from aiohttp import web

from bitrue_sim.core.markets import exchange_info_symbol
from bitrue_sim.server import render
from bitrue_sim.server.auth import authenticate_key_only, read_request
from bitrue_sim.server.common import json_response, market, state_of
from bitrue_sim.server.params import illegal

MAX_TRADES = 1000


def depth_weight(q) -> int:
    try:
        limit = int(q.get("limit", "100") or "100")
    except ValueError:
        return 1
    if limit == 0 or limit > 500:
        return 10
    return 5 if limit > 100 else 1


def ticker_weight(q) -> int:
    return 1 if q.get("symbol") else 40


async def ping(request: web.Request) -> web.Response:
    return json_response({})


async def server_time(request: web.Request) -> web.Response:
    return json_response({"serverTime": state_of(request).exchange.clock.now_ms()})


async def exchange_info(request: web.Request) -> web.Response:
    state = state_of(request)
    ex = state.exchange
    assets: dict[str, None] = {}
    for spec in ex.markets.values():
        assets.setdefault(spec.base_asset)
        assets.setdefault(spec.quote_asset)
    return json_response(
        {
            "timezone": "UTC",
            "serverTime": ex.clock.now_ms(),
            "rateLimits": state.rate_limiter.exchange_info(),
            "exchangeFilters": [],
            "symbols": [exchange_info_symbol(s) for s in ex.markets.values()],
            "coins": [
                {
                    "coin": a.lower(),
                    "coinFulName": a,
                    "enableWithdraw": True,
                    "enableDeposit": True,
                    "chains": ["SIM"],
                    "withdrawFee": "0",
                    "minWithdraw": "0",
                    "maxWithdraw": "0",
                }
                for a in assets
            ],
        }
    )


async def depth(request: web.Request) -> web.Response:
    state = state_of(request)
    params = (await read_request(request)).params
    spec = market(state, params)
    limit = params.int("limit", default=100, min_value=0, max_value=1000)
    bids, asks = state.exchange.depth(spec.symbol, limit or 1000)
    return json_response(
        {
            "lastUpdateId": state.exchange.clock.now_ms(),
            "bids": [[render.price(p, spec), render.qty(q, spec), []] for p, q in bids],
            "asks": [[render.price(p, spec), render.qty(q, spec), []] for p, q in asks],
        }
    )


async def trades(request: web.Request) -> web.Response:
    state = state_of(request)
    params = (await read_request(request)).params
    spec = market(state, params)
    limit = params.int("limit", default=100, min_value=1, max_value=MAX_TRADES)
    ts = state.exchange.recent_trades(spec.symbol, limit)
    return json_response([render.public_trade(t, spec) for t in ts[-limit:]])


async def historical_trades(request: web.Request) -> web.Response:
    state = state_of(request)
    raw = await read_request(request)
    authenticate_key_only(request, state, raw)
    params = raw.params
    spec = market(state, params)
    limit = params.int("limit", default=100, min_value=1, max_value=MAX_TRADES)
    from_id = params.int("fromId", min_value=0)
    ts = state.exchange.recent_trades(spec.symbol, MAX_TRADES * 10)
    if from_id is not None:
        ts = [t for t in ts if t.trade_id >= from_id][:limit]
    else:
        ts = ts[-limit:]
    return json_response([render.public_trade(t, spec) for t in ts])


async def agg_trades(request: web.Request) -> web.Response:
    state = state_of(request)
    params = (await read_request(request)).params
    spec = market(state, params)
    limit = params.int("limit", default=100, min_value=1, max_value=MAX_TRADES)
    from_id = params.int("fromId", min_value=0)
    start = params.int("startTime", min_value=0)
    end = params.int("endTime", min_value=0)
    if start is not None and end is not None and not 0 <= end - start < 3_600_000:
        raise illegal("endTime", "startTime and endTime must be less than 1 hour apart")
    ts = state.exchange.recent_trades(spec.symbol, MAX_TRADES * 10)
    if from_id is not None:
        ts = [t for t in ts if t.trade_id >= from_id]
    if start is not None:
        ts = [t for t in ts if t.time >= start]
    if end is not None:
        ts = [t for t in ts if t.time < end]
    aggs = render.agg_trades(ts, spec)
    aggs = aggs[:limit] if (from_id is not None or start is not None) else aggs[-limit:]
    return json_response(aggs)


def _ticker(state, spec) -> dict:
    d = dict(state.exchange.ticker_24h(spec.symbol))
    d.setdefault("symbol", spec.symbol)
    return d


async def ticker_24hr(request: web.Request) -> web.Response:
    """Always a JSON array, even for one symbol (what independent clients expect)."""
    state = state_of(request)
    params = (await read_request(request)).params
    spec = market(state, params, required=False)
    specs = [spec] if spec is not None else list(state.exchange.markets.values())
    return json_response([_ticker(state, s) for s in specs])


async def ticker_price(request: web.Request) -> web.Response:
    state = state_of(request)
    params = (await read_request(request)).params
    spec = market(state, params, required=False)

    def one(s) -> dict:
        return {"symbol": s.symbol, "price": render.price(state.exchange.last_price(s.symbol), s)}

    if spec is not None:
        return json_response(one(spec))
    return json_response([one(s) for s in state.exchange.markets.values()])


async def book_ticker(request: web.Request) -> web.Response:
    state = state_of(request)
    params = (await read_request(request)).params
    spec = market(state, params, required=False)

    def one(s) -> dict:
        d = {"symbol": s.symbol}
        d.update(state.exchange.book_ticker(s.symbol))
        return d

    if spec is not None:
        return json_response(one(spec))
    return json_response([one(s) for s in state.exchange.markets.values()])


# scale parameter -> (bucket seconds, scale name in the answer)
KLINE_SCALES: dict[str, tuple[int, str]] = {
    "1M": (60, "KLINE_1MIN"),
    "5M": (300, "KLINE_5MIN"),
    "15M": (900, "KLINE_15MIN"),
    "30M": (1800, "KLINE_30MIN"),
    "1H": (3600, "KLINE_1HOUR"),
    "2H": (7200, "KLINE_2HOUR"),
    "4H": (14400, "KLINE_4HOUR"),
    "12H": (43200, "KLINE_12HOUR"),
    "1D": (86400, "KLINE_1DAY"),
    "1W": (604800, "KLINE_1WEEK"),
}


async def kline(request: web.Request) -> web.Response:
    """Candles from the simulator's own trades; ``fromIdx`` (seconds) is the newest bucket."""
    state = state_of(request)
    params = (await read_request(request)).params
    spec = market(state, params)
    scale = params.str("scale", required=True, max_len=8)
    if scale.upper() not in KLINE_SCALES:
        raise illegal("scale", "must be one of 1m, 5m, 15m, 30m, 1H, 2H, 4H, 12H, 1D, 1W")
    seconds, name = KLINE_SCALES[scale.upper()]
    limit = params.int("limit", default=100, min_value=1, max_value=1440)
    until = params.int("fromIdx", min_value=0)
    buckets: dict[int, list] = {}
    for t in state.exchange.recent_trades(spec.symbol, MAX_TRADES * 10):
        i = (t.time // 1000) // seconds * seconds
        if until is not None and i > until:
            continue
        b = buckets.get(i)
        if b is None:
            buckets[i] = [t.price, t.price, t.price, t.price, t.qty, t.quote_qty]
        else:
            b[1] = max(b[1], t.price)
            b[2] = min(b[2], t.price)
            b[3] = t.price
            b[4] += t.qty
            b[5] += t.quote_qty
    data = []
    for i in sorted(buckets)[-limit:]:
        o, h, lo, c, v, a = buckets[i]
        data.append(
            {
                "i": i,
                "is": i * 1000,
                "a": render.plain(a),
                "v": render.qty(v, spec),
                "c": render.price(c, spec),
                "h": render.price(h, spec),
                "l": render.price(lo, spec),
                "o": render.price(o, spec),
            }
        )
    return json_response({"symbol": spec.symbol, "scale": name, "data": data})
