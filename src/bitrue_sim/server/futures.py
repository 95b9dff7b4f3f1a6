"""The futures endpoints a spot-only bot meets: public contract lists (ccxt loads them with
markets) and ``GET /fapi/v2/account``, the cheap signed read that proves whether a key has the
futures permission. The simulator trades no futures: a futures-enabled key sees an empty
USDT margin account.
"""

from __future__ import annotations

from aiohttp import web

from bitrue_sim.server.auth import authenticate_futures, read_request
from bitrue_sim.server.common import json_response, state_of

# Shaped as the futures docs' "Current open contract" example.
USDT_M_CONTRACTS = [
    {
        "symbol": "E-BTC-USDT",
        "pricePrecision": 1,
        "side": 1,
        "maxMarketVolume": 100000,
        "multiplier": 0.0001,
        "minOrderVolume": 1,
        "maxMarketMoney": 10000000,
        "type": "E",
        "maxLimitVolume": 1000000,
        "maxValidOrder": 20,
        "multiplierCoin": "BTC",
        "minOrderMoney": 1,
        "maxLimitMoney": 10000000,
        "status": 1,
    },
    {
        "symbol": "E-XRP-USDT",
        "pricePrecision": 4,
        "side": 1,
        "maxMarketVolume": 1000000,
        "multiplier": 10,
        "minOrderVolume": 1,
        "maxMarketMoney": 10000000,
        "type": "E",
        "maxLimitVolume": 10000000,
        "maxValidOrder": 20,
        "multiplierCoin": "XRP",
        "minOrderMoney": 1,
        "maxLimitMoney": 10000000,
        "status": 1,
    },
]

COIN_M_CONTRACTS = [
    {
        "symbol": "E-BTC-USD",
        "pricePrecision": 1,
        "side": 0,
        "maxMarketVolume": 100000,
        "multiplier": 100,
        "minOrderVolume": 1,
        "maxMarketMoney": 10000000,
        "type": "E",
        "maxLimitVolume": 1000000,
        "maxValidOrder": 20,
        "multiplierCoin": "USD",
        "minOrderMoney": 1,
        "maxLimitMoney": 10000000,
        "status": 1,
    }
]


async def fapi_contracts(request: web.Request) -> web.Response:
    return json_response(USDT_M_CONTRACTS)


async def dapi_contracts(request: web.Request) -> web.Response:
    return json_response(COIN_M_CONTRACTS)


async def fapi_ping(request: web.Request) -> web.Response:
    return json_response({})


async def fapi_time(request: web.Request) -> web.Response:
    return json_response({"serverTime": state_of(request).exchange.clock.now_ms()})


async def fapi_account(request: web.Request) -> web.Response:
    state = state_of(request)
    authenticate_futures(request, state, await read_request(request, json_body=True))
    return json_response(
        {
            "code": "0",
            "msg": "Success",
            "data": {
                "account": [
                    {
                        "marginCoin": "USDT",
                        "coinPrecious": 4,
                        "accountNormal": 0,
                        "accountLock": 0,
                        "partPositionNormal": 0,
                        "totalPositionNormal": 0,
                        "achievedAmount": 0,
                        "unrealizedAmount": 0,
                        "totalMarginRate": 0,
                        "totalEquity": 0,
                        "partEquity": 0,
                        "totalCost": 0,
                        "sumMarginRate": 0,
                        "sumOpenRealizedAmount": 0,
                        "canUseTrialFund": 0,
                        "sumMaintenanceMargin": None,
                        "futureModel": None,
                        "positionVos": [],
                    }
                ]
            },
        }
    )
