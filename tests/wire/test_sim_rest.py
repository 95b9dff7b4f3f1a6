"""Numbered wire spec of the simulator's REST API (R01...), each case over real loopback.

The signed client below is this test file's own (it does not import liquidity_bot): it builds
the raw query/body itself, signs exactly those bytes and sends them unchanged.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal
from urllib.parse import urlencode

import aiohttp
import pytest
from conftest import admin_call, create_key  # noqa: E402  (tests/wire is on sys.path)
from yarl import URL

from bitrue_sim.core.clock import ManualClock
from bitrue_sim.core.exchange import Exchange
from bitrue_sim.core.markets import exchange_info_symbol
from bitrue_sim.server.runner import SimServer
from bitrue_sim.ws import HUB_KEY


def sign(secret: str, message: str) -> str:
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


@dataclass
class Reply:
    status: int
    body: object
    headers: dict[str, str]

    @property
    def code(self):
        return self.body.get("code") if isinstance(self.body, dict) else None


class RestClient:
    """``async with RestClient(base_url, key, secret, local_ip="127.0.0.2") as c: ...``"""

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        secret: str | None = None,
        local_ip: str | None = None,
        clock: Callable[[], int] | None = None,
    ) -> None:
        self.base_url = base_url
        self.api_key = api_key
        self.secret = secret
        self.local_ip = local_ip
        self.clock = clock or (lambda: int(time.time() * 1000))
        self.session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> RestClient:
        connector = aiohttp.TCPConnector(local_addr=(self.local_ip, 0)) if self.local_ip else None
        self.session = aiohttp.ClientSession(connector=connector)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.session is not None
        await self.session.close()

    async def raw(
        self,
        method: str,
        path: str,
        query: str = "",
        body: bytes | str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        assert self.session is not None
        url = URL(self.base_url + path + (("?" + query) if query else ""), encoded=True)
        data = body.encode() if isinstance(body, str) else body
        async with self.session.request(method, url, data=data, headers=headers or {}) as resp:
            text = await resp.text()
            try:
                parsed = json.loads(text) if text else None
            except ValueError:
                parsed = text
            return Reply(resp.status, parsed, dict(resp.headers))

    async def public(self, path: str, params: dict | None = None, method: str = "GET") -> Reply:
        headers = {"X-MBX-APIKEY": self.api_key} if self.api_key else {}
        return await self.raw(method, path, urlencode(params or {}), headers=headers)

    async def signed(
        self,
        method: str,
        path: str,
        params: dict | None = None,
        *,
        where: str = "query",  # "query", "form" or "json"
        timestamp: int | None = None,
        recv_window: int | None = None,
        signature: str | None = None,
        api_key: str | None = None,
        extra_headers: dict[str, str] | None = None,
    ) -> Reply:
        p = dict(params or {})
        if recv_window is not None:
            p["recvWindow"] = recv_window
        p["timestamp"] = self.clock() if timestamp is None else timestamp
        headers = {"X-MBX-APIKEY": api_key or self.api_key or ""}
        headers.update(extra_headers or {})
        if where == "json":
            body = json.dumps(p, separators=(",", ":"))
            sig = signature or sign(self.secret or "", body)
            headers["Content-Type"] = "application/json"
            return await self.raw(method, path, "signature=" + sig, body, headers)
        encoded = urlencode(p)
        sig = signature or sign(self.secret or "", encoded)
        if where == "form":
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            return await self.raw(method, path, "", encoded + "&signature=" + sig, headers)
        return await self.raw(method, path, encoded + "&signature=" + sig, None, headers)

    async def futures(
        self,
        method: str,
        path: str,
        params: dict | None = None,
        *,
        ts: int | None = None,
        bad_sign: bool = False,
        api_key: str | None = None,
    ) -> Reply:
        query = urlencode(params or {})
        ts_s = str(self.clock() if ts is None else ts)
        message = ts_s + method + path + (("?" + query) if (method == "GET" and query) else "")
        sig = sign(self.secret or "", message)
        if bad_sign:
            sig = sig[:-1] + ("0" if sig[-1] != "0" else "1")
        headers = {
            "X-CH-APIKEY": api_key or self.api_key or "",
            "X-CH-TS": ts_s,
            "X-CH-SIGN": sig,
        }
        return await self.raw(method, path, query, None, headers)


# =============================================================================== helpers

DOCS_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
DOCS_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
DOCS_QUERY = (
    "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1"
    "&recvWindow=5000&timestamp=1499827319559"
)
DOCS_TS = 1499827319559
T0 = 1_700_000_000_000


def manual_sim(**kw) -> SimServer:
    """A simulator on virtual time (exact windows, bans and expiry) without seeded books."""
    kw.setdefault("seed_books", False)
    return SimServer(exchange=Exchange(clock=ManualClock(T0)), **kw)


def client(
    sim: SimServer, key: str | None = None, secret: str | None = None, local_ip: str | None = None
) -> RestClient:
    return RestClient(sim.base_url, key, secret, local_ip=local_ip, clock=sim.exchange.clock.now_ms)


def is_error(reply: Reply, status: int, code: int) -> bool:
    return (
        reply.status == status
        and isinstance(reply.body, dict)
        and reply.body.get("code") == code
        and isinstance(reply.body.get("msg"), str)
    )


def limit_order(symbol="XRPUSDT", side="BUY", qty="10", price="0.4900", **extra) -> dict:
    p = {"symbol": symbol, "side": side, "type": "LIMIT", "quantity": qty, "price": price}
    p.update(extra)
    return p


# =============================================================================== signing


async def test_r01_docs_signature_vector_query_string():
    """R01 The docs' example (query string) signs to c8db...6b71 and the server accepts it: the
    order then fails only because LTCBTC is not listed (412 -1121), not on the signature."""
    assert sign(DOCS_SECRET, DOCS_QUERY) == (
        "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
    )
    sim = SimServer(exchange=Exchange(clock=ManualClock(DOCS_TS + 10)), seed_books=False)
    async with sim:
        account = sim.exchange.create_account({"USDT": Decimal(1)})
        sim.keys.create(
            account, "docs", ("read", "trade"), (), api_key=DOCS_KEY, secret=DOCS_SECRET
        )
        async with client(sim) as c:
            headers = {"X-MBX-APIKEY": DOCS_KEY}
            good = await c.raw(
                "POST",
                "/api/v1/order",
                DOCS_QUERY + "&signature="
                "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71",
                headers=headers,
            )
            assert is_error(good, 412, -1121), good
            bad = await c.raw(
                "POST",
                "/api/v1/order",
                DOCS_QUERY + "&signature="
                "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b70",
                headers=headers,
            )
            assert is_error(bad, 401, -1022), bad


async def test_r02_docs_signature_vector_json_body_and_mixed_form():
    """R02 The docs' JSON-body example (a967...1a6a, signature in the query) and the mixed
    query + form-body example (0fd1...9a77, no '&' between the parts) are both accepted."""
    body = (
        '{"symbol":"LTCBTC","side":"BUY","type":"LIMIT","timeInForce":"GTC","price":0.1,'
        '"quantity":1,"timestamp":1499827319559,"recvWindow":5000}'
    )
    assert sign(DOCS_SECRET, body) == (
        "a96755b9616ffcb19b47f38ee1c8e20bb9ff5ffdd3936ace8f457975fbc91a6a"
    )
    q = "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC"
    b = "quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559"
    assert sign(DOCS_SECRET, q + b) == (
        "0fd168b8ddb4876a0358a8d14d0c9f3da0e9b20c5d52b2a00fcf7d1c602f9a77"
    )
    sim = SimServer(exchange=Exchange(clock=ManualClock(DOCS_TS + 10)), seed_books=False)
    async with sim:
        account = sim.exchange.create_account({"USDT": Decimal(1)})
        sim.keys.create(
            account, "docs", ("read", "trade"), (), api_key=DOCS_KEY, secret=DOCS_SECRET
        )
        async with client(sim) as c:
            r = await c.raw(
                "POST",
                "/api/v1/order",
                "signature=a96755b9616ffcb19b47f38ee1c8e20bb9ff5ffdd3936ace8f457975fbc91a6a",
                body,
                {"X-MBX-APIKEY": DOCS_KEY, "Content-Type": "application/json"},
            )
            assert is_error(r, 412, -1121), r
            r = await c.raw(
                "POST",
                "/api/v1/order",
                q,
                b + "&signature=0fd168b8ddb4876a0358a8d14d0c9f3da0e9b20c5d52b2a00fcf7d1c602f9a77",
                {"X-MBX-APIKEY": DOCS_KEY, "Content-Type": "application/x-www-form-urlencoded"},
            )
            assert is_error(r, 412, -1121), r


async def test_r03_signature_is_over_the_raw_string_not_resorted(sim, make_key):
    """R03 Parameters in any order are fine (the server checks the raw string); a signature
    computed over a re-sorted string is refused; the hex signature is case-insensitive."""
    _, key, secret = await make_key(sim)
    async with client(sim, key, secret) as c:
        r = await c.signed("GET", "/api/v1/openOrders", {"symbol": "XRPUSDT"})
        assert r.status == 200 and r.body == []
        ts = sim.exchange.clock.now_ms()
        sent = f"timestamp={ts}&symbol=XRPUSDT"
        resorted = f"symbol=XRPUSDT&timestamp={ts}"
        r = await c.raw(
            "GET",
            "/api/v1/openOrders",
            sent + "&signature=" + sign(secret, resorted),
            headers={"X-MBX-APIKEY": key},
        )
        assert is_error(r, 401, -1022)
        r = await c.raw(
            "GET",
            "/api/v1/openOrders",
            sent + "&signature=" + sign(secret, sent).upper(),
            headers={"X-MBX-APIKEY": key},
        )
        assert r.status == 200, r


async def test_r04_timestamp_window_rule():
    """R04 Accepted iff timestamp < serverTime + 1000 and serverTime - timestamp <= recvWindow
    (default 5000); recvWindow over 60000 is refused."""
    async with manual_sim() as sim:
        _, key, secret = await create_key(sim)
        now = sim.exchange.clock.now_ms()
        async with client(sim, key, secret) as c:

            async def at(ts, rw=None):
                return await c.signed(
                    "GET", "/api/v1/openOrders", {"symbol": "XRPUSDT"}, timestamp=ts, recv_window=rw
                )

            assert (await at(now + 999)).status == 200
            assert is_error(await at(now + 1000), 401, -1022)
            assert (await at(now - 5000)).status == 200
            assert is_error(await at(now - 5001), 401, -1022)
            assert (await at(now - 9000, 10000)).status == 200
            assert is_error(await at(now - 9000, 8000), 401, -1022)
            assert is_error(await at(now, 60001), 412, -1102)


async def test_r05_missing_or_unknown_key_and_missing_signature(sim, make_key):
    """R05 No X-MBX-APIKEY -> 401 -1022; unknown key -> 401 -1022 "API key does not exist";
    no signature or no timestamp -> 412 -1102."""
    _, key, secret = await make_key(sim)
    async with client(sim, key, secret) as c:
        r = await c.raw("GET", "/api/v1/account", "timestamp=1&signature=00")
        assert is_error(r, 401, -1022)
        r = await c.signed("GET", "/api/v1/account", api_key="X" * 64)
        assert is_error(r, 401, -1022) and "does not exist" in r.body["msg"]
        ts = sim.exchange.clock.now_ms()
        r = await c.raw("GET", "/api/v1/account", f"timestamp={ts}", headers={"X-MBX-APIKEY": key})
        assert is_error(r, 412, -1102)
        r = await c.raw(
            "GET", "/api/v1/account", "signature=" + sign(secret, ""), headers={"X-MBX-APIKEY": key}
        )
        assert is_error(r, 412, -1102)


# =============================================================================== public shapes


async def test_r06_ping_time_exchange_info(sim):
    """R06 ping is {}, time has serverTime, exchangeInfo carries the documented rateLimits
    (ids general, orders_ip_seconds, orders_user_seconds, withdraw_days, withdraw_read_hours)
    and every market as exchange_info_symbol renders it."""
    async with client(sim) as c:
        assert (await c.public("/api/v1/ping")).body == {}
        t = (await c.public("/api/v1/time")).body
        assert isinstance(t["serverTime"], int)
        info = (await c.public("/api/v1/exchangeInfo")).body
    ids = {rl["id"]: rl for rl in info["rateLimits"]}
    assert set(ids) == {
        "general",
        "orders_ip_seconds",
        "orders_user_seconds",
        "withdraw_days",
        "withdraw_read_hours",
    }
    assert ids["general"]["replenishRate"] == 1200 and ids["general"]["timeUnit"] == "MINUTES"
    assert ids["orders_user_seconds"]["type"] == ["USER"]
    assert ids["orders_ip_seconds"]["timeCount"] == 60
    assert ids["withdraw_days"]["burstCapacity"] == 1000
    assert ids["withdraw_read_hours"]["replenishRate"] == 3000
    expected = [exchange_info_symbol(s) for s in sim.exchange.markets.values()]
    assert info["symbols"] == expected
    names = {s["symbol"] for s in info["symbols"]}
    assert {"XRPUSDT", "NOVAUSDT"} <= names
    xrp = next(s for s in info["symbols"] if s["symbol"] == "XRPUSDT")
    assert xrp["baseAsset"] == "xrp"
    filters = {f["filterType"]: f for f in xrp["filters"]}
    assert {"PRICE_FILTER", "PERCENT_PRICE_BY_SIDE", "LOT_SIZE"} <= set(filters)
    assert isinstance(filters["PRICE_FILTER"]["priceScale"], int)


async def test_r07_depth_shape_limits_and_weight(sim):
    """R07 /depth: seeded (not empty), string prices/quantities with a third [] element, bids
    best-first descending, asks ascending, `limit` respected; weight 1 / 5 / 10 by limit."""
    async with client(sim) as c:
        r = await c.public("/api/v1/depth", {"symbol": "XRPUSDT", "limit": 5})
        assert r.status == 200
        d = r.body
        assert isinstance(d["lastUpdateId"], int)
        assert 1 <= len(d["bids"]) <= 5 and 1 <= len(d["asks"]) <= 5
        for level in d["bids"] + d["asks"]:
            assert isinstance(level[0], str) and isinstance(level[1], str) and level[2] == []
        bids = [Decimal(b[0]) for b in d["bids"]]
        asks = [Decimal(a[0]) for a in d["asks"]]
        assert bids == sorted(bids, reverse=True) and asks == sorted(asks)
        assert bids[0] < asks[0]
        before = sim.rate_limiter.used("general", "127.0.0.1")
        await c.public("/api/v1/depth", {"symbol": "XRPUSDT", "limit": 500})
        await c.public("/api/v1/depth", {"symbol": "XRPUSDT", "limit": 1000})
        assert sim.rate_limiter.used("general", "127.0.0.1") - before == 15
        thin = (await c.public("/api/v1/depth", {"symbol": "novausdt"})).body
        assert thin["bids"] and thin["asks"]


async def _trade_once(sim: SimServer) -> tuple[int, int]:
    """Seller rests 100 XRP at 0.5000, buyer takes 40: returns (seller, buyer) account ids."""
    seller = sim.exchange.create_account({"XRP": Decimal(1000), "USDT": Decimal(0)})
    buyer = sim.exchange.create_account({"USDT": Decimal(1000)})
    sim.exchange.place_order(seller, "XRPUSDT", "SELL", "LIMIT", Decimal(100), Decimal("0.5000"))
    sim.exchange.place_order(buyer, "XRPUSDT", "BUY", "LIMIT", Decimal(40), Decimal("0.5000"))
    return seller, buyer


async def test_r08_trades_historical_agg_kline_shapes():
    """R08 After a trade: /trades, /historicalTrades (API key required), /aggTrades and
    /market/kline show it with the documented fields and string numbers."""
    async with manual_sim() as sim:
        await _trade_once(sim)
        _, key, _secret = await create_key(sim, permissions=("read",))
        async with client(sim) as c:
            t = (await c.public("/api/v1/trades", {"symbol": "XRPUSDT"})).body
            assert len(t) == 1
            assert set(t[0]) == {"id", "price", "qty", "time", "isBuyerMaker", "isBestMatch"}
            assert t[0]["price"] == "0.5000" and t[0]["qty"] == "40.0"
            assert t[0]["isBuyerMaker"] is False
            r = await c.public("/api/v1/historicalTrades", {"symbol": "XRPUSDT"})
            assert is_error(r, 401, -1022)
        async with client(sim, key) as c:
            h = (
                await c.public(
                    "/api/v1/historicalTrades", {"symbol": "XRPUSDT", "fromId": t[0]["id"]}
                )
            ).body
            assert h == t
            a = (await c.public("/api/v1/aggTrades", {"symbol": "XRPUSDT"})).body
            assert a[0]["a"] == t[0]["id"] and a[0]["p"] == "0.5000" and a[0]["q"] == "40.0"
            assert set(a[0]) == {"a", "p", "q", "f", "l", "T", "m", "M"}
            k = (await c.public("/api/v1/market/kline", {"symbol": "XRPUSDT", "scale": "1m"})).body
            assert k["symbol"] == "XRPUSDT" and k["scale"] == "KLINE_1MIN"
            bar = k["data"][0]
            assert bar["o"] == bar["c"] == "0.5000" and bar["v"] == "40.0"
            assert bar["is"] == bar["i"] * 1000


async def test_r09_tickers(sim):
    """R09 /ticker/24hr is a JSON array even for one symbol (all symbols without one);
    /ticker/price and /ticker/bookTicker are objects with string numbers."""
    async with client(sim) as c:
        one = (await c.public("/api/v1/ticker/24hr", {"symbol": "XRPUSDT"})).body
        assert isinstance(one, list) and len(one) == 1 and one[0]["symbol"] == "XRPUSDT"
        for f in ("lastPrice", "bidPrice", "askPrice", "volume", "quoteVolume", "priceChange"):
            assert isinstance(one[0][f], str)
        all_ = (await c.public("/api/v1/ticker/24hr")).body
        assert {t["symbol"] for t in all_} == set(sim.exchange.markets)
        price = (await c.public("/api/v1/ticker/price", {"symbol": "XRPUSDT"})).body
        assert price == {"symbol": "XRPUSDT", "price": "0.5000"}
        bt = (await c.public("/api/v1/ticker/bookTicker", {"symbol": "XRPUSDT"})).body
        assert bt["symbol"] == "XRPUSDT"
        assert Decimal(bt["bidPrice"]) < Decimal(bt["askPrice"])
        assert Decimal(bt["bidQty"]) > 0 and Decimal(bt["askQty"]) > 0


# =============================================================================== orders


async def test_r10_new_order_ack_and_query_shapes(sim, make_key):
    """R10 POST /api/v1/order answers symbol, orderId (> 2**53), orderIdStr, clientOrderId
    (echoed) and transactTime; GET /api/v1/order by orderId and by origClientOrderId gives the
    full documented order shape."""
    _, key, secret = await make_key(sim)
    async with client(sim, key, secret) as c:
        r = await c.signed(
            "POST", "/api/v1/order", limit_order(newClientOrderId="my-1"), where="form"
        )
        assert r.status == 200, r
        ack = r.body
        assert set(ack) == {"symbol", "orderId", "orderIdStr", "clientOrderId", "transactTime"}
        assert ack["orderId"] > 2**53 and ack["orderIdStr"] == str(ack["orderId"])
        assert ack["clientOrderId"] == "my-1"
        by_id = await c.signed(
            "GET", "/api/v1/order", {"symbol": "XRPUSDT", "orderId": ack["orderIdStr"]}
        )
        by_cid = await c.signed(
            "GET", "/api/v1/order", {"symbol": "XRPUSDT", "origClientOrderId": "my-1"}
        )
        assert by_id.status == by_cid.status == 200
        assert by_id.body == by_cid.body
        o = by_id.body
        assert set(o) >= {
            "symbol",
            "orderId",
            "orderIdStr",
            "clientOrderId",
            "price",
            "origQty",
            "executedQty",
            "cummulativeQuoteQty",
            "status",
            "timeInForce",
            "type",
            "side",
            "stopPrice",
            "icebergQty",
            "time",
            "updateTime",
            "isWorking",
        }
        assert o["price"] == "0.4900" and o["origQty"] == "10.0" and o["executedQty"] == "0.0"
        assert o["status"] == "NEW" and o["isWorking"] is True and o["type"] == "LIMIT"
        r = await c.signed("GET", "/api/v1/order", {"symbol": "XRPUSDT"})
        assert is_error(r, 412, -1102)


async def test_r11_open_all_cancel_and_unknown_order(sim, make_key):
    """R11 openOrders and allOrders list the order; DELETE by origClientOrderId answers the
    documented cancel shape (clientOrderId = newClientOrderId); it is then CANCELED and gone from
    openOrders; querying or cancelling an unknown order is HTTP 200 code -2013."""
    _, key, secret = await make_key(sim)
    async with client(sim, key, secret) as c:
        ack = (await c.signed("POST", "/api/v1/order", limit_order(newClientOrderId="c-1"))).body
        oo = (await c.signed("GET", "/api/v1/openOrders", {"symbol": "XRPUSDT"})).body
        assert [o["orderId"] for o in oo] == [ack["orderId"]]
        r = await c.signed("GET", "/api/v1/openOrders", {})
        assert is_error(r, 412, -1102)
        r = await c.signed(
            "DELETE",
            "/api/v1/order",
            {"symbol": "XRPUSDT", "origClientOrderId": "c-1", "newClientOrderId": "cancel-c-1"},
        )
        assert r.status == 200
        assert r.body == {
            "symbol": "XRPUSDT",
            "origClientOrderId": "c-1",
            "orderId": ack["orderId"],
            "orderIdStr": ack["orderIdStr"],
            "clientOrderId": "cancel-c-1",
        }
        assert (await c.signed("GET", "/api/v1/openOrders", {"symbol": "XRPUSDT"})).body == []
        allo = (await c.signed("GET", "/api/v1/allOrders", {"symbol": "XRPUSDT"})).body
        assert [(o["orderId"], o["status"]) for o in allo] == [(ack["orderId"], "CANCELED")]
        again = await c.signed(
            "DELETE", "/api/v1/order", {"symbol": "XRPUSDT", "orderId": ack["orderId"]}
        )
        assert is_error(again, 200, -2013), again
        unknown = await c.signed("GET", "/api/v1/order", {"symbol": "XRPUSDT", "orderId": 12345})
        assert is_error(unknown, 200, -2013)


async def test_r12_partial_fill_fees_account_and_my_trades():
    """R12 A resting SELL 100 partially filled by a BUY 40 at 0.5000: maker pays 0.2 % of the
    USDT it receives, taker 0.2 % of the XRP; /api/v1/account and /api/v2/myTrades show exact
    balances, commissions, isMaker/isBuyer and tradeId; the maker order is PARTIALLY_FILLED."""
    async with manual_sim() as sim:
        seller, sk, ss = await create_key(sim, balances={"XRP": "1000"})
        buyer, bk, bs = await create_key(sim, balances={"USDT": "1000"})
        async with client(sim, sk, ss) as s, client(sim, bk, bs) as b:
            sell = (
                await s.signed(
                    "POST", "/api/v1/order", limit_order(side="SELL", qty="100", price="0.5000")
                )
            ).body
            buy = await b.signed(
                "POST", "/api/v1/order", limit_order(side="BUY", qty="40", price="0.5000")
            )
            assert buy.status == 200
            so = (
                await s.signed(
                    "GET", "/api/v1/order", {"symbol": "XRPUSDT", "orderId": sell["orderId"]}
                )
            ).body
            assert so["status"] == "PARTIALLY_FILLED" and so["executedQty"] == "40.0"
            assert Decimal(so["cummulativeQuoteQty"]) == Decimal("20")
            bo = (
                await b.signed(
                    "GET", "/api/v1/order", {"symbol": "XRPUSDT", "orderId": buy.body["orderId"]}
                )
            ).body
            assert bo["status"] == "FILLED" and bo["isWorking"] is False
            st = (await s.signed("GET", "/api/v2/myTrades", {"symbol": "XRPUSDT"})).body
            bt = (await b.signed("GET", "/api/v2/myTrades", {"symbol": "XRPUSDT"})).body
            assert len(st) == len(bt) == 1
            assert st[0]["isMaker"] is True and st[0]["isBuyer"] is False
            assert bt[0]["isMaker"] is False and bt[0]["isBuyer"] is True
            assert Decimal(st[0]["commission"]) == Decimal("0.04")
            assert st[0]["commissionAsset"].upper() == "USDT"
            assert Decimal(bt[0]["commission"]) == Decimal("0.08")
            assert bt[0]["commissionAsset"].upper() == "XRP"
            assert st[0]["tradeId"] == st[0]["id"] == bt[0]["id"]
            assert st[0]["orderId"] == sell["orderId"]
            sa = (await s.signed("GET", "/api/v1/account")).body
            ba = (await b.signed("GET", "/api/v1/account")).body
        assert sa["makerCommission"] == 20 and sa["canTrade"] is True
        sbal = {x["asset"]: x for x in sa["balances"]}
        bbal = {x["asset"]: x for x in ba["balances"]}
        assert Decimal(sbal["USDT"]["free"]) == Decimal("19.96")
        assert Decimal(sbal["XRP"]["free"]) == Decimal("900")
        assert Decimal(sbal["XRP"]["locked"]) == Decimal("60")
        assert Decimal(bbal["XRP"]["free"]) == Decimal("39.92")
        assert Decimal(bbal["USDT"]["free"]) == Decimal("980")
        assert Decimal(bbal["USDT"]["locked"]) == 0


async def test_r13_market_order_takes_the_book(sim, make_key):
    """R13 A MARKET BUY fills against the seeded asks at once (FILLED, taker fill)."""
    _, key, secret = await make_key(sim)
    async with client(sim, key, secret) as c:
        r = await c.signed(
            "POST",
            "/api/v1/order",
            {"symbol": "XRPUSDT", "side": "BUY", "type": "MARKET", "quantity": "10"},
        )
        assert r.status == 200, r
        o = (
            await c.signed(
                "GET", "/api/v1/order", {"symbol": "XRPUSDT", "orderId": r.body["orderId"]}
            )
        ).body
        assert o["status"] == "FILLED" and o["type"] == "MARKET" and o["executedQty"] == "10.0"
        fills = (await c.signed("GET", "/api/v2/myTrades", {"symbol": "XRPUSDT"})).body
        assert fills and all(f["isMaker"] is False for f in fills)


FILTER_CASES = [
    ("R14a price off tick", limit_order(price="0.49001"), 412, -1111),
    ("R14b quantity below minQty", limit_order(qty="0.01"), 412, -1111),
    ("R14c quantity off step", limit_order(qty="10.05"), 412, -1111),
    ("R14d notional below minVal", limit_order(qty="1", price="0.4900"), 412, -1111),
    ("R14e price above bid band", limit_order(price="0.6000"), 412, -1111),
    ("R14f price below ask band", limit_order(side="SELL", price="0.4000"), 412, -1111),
    ("R14g malformed price", limit_order(price="1e-1"), 412, -1111),
    ("R14h negative quantity", limit_order(qty="-5"), 412, -1111),
    ("R14i unknown symbol", limit_order(symbol="FOOBAR"), 412, -1121),
    (
        "R14j missing quantity",
        {"symbol": "XRPUSDT", "side": "BUY", "type": "LIMIT", "price": "0.49"},
        412,
        -1102,
    ),
    (
        "R14k missing price on LIMIT",
        {"symbol": "XRPUSDT", "side": "BUY", "type": "LIMIT", "quantity": "10"},
        412,
        -1102,
    ),
    ("R14l bad side", limit_order(side="HOLD"), 412, -1102),
    ("R14m bad type", limit_order(type="STOP"), 412, -1102),
    ("R14n insufficient balance", limit_order(qty="100000"), 406, -2010),
    ("R14o bad client id", limit_order(newClientOrderId="bad id!"), 412, -1102),
    ("R14p price above maxPrice", limit_order(price="100.0001"), 412, -1111),
    ("R14q quantity above maxQty", limit_order(qty="10000000.1", price="0.4900"), 412, -1111),
    ("R14r zero price", limit_order(price="0"), 412, -1111),
    ("R14s MARKET below minVal", {"symbol": "XRPUSDT", "side": "SELL", "type": "MARKET",
                                  "quantity": "1"}, 412, -1111),
]
# the filter a -1111 message must name (the docs' "Filter failure: <NAME>")
FILTER_NAMES = {
    "R14a price off tick": "PRICE_FILTER", "R14b quantity below minQty": "LOT_SIZE",
    "R14c quantity off step": "LOT_SIZE", "R14d notional below minVal": "LOT_SIZE",
    "R14e price above bid band": "PERCENT_PRICE_BY_SIDE",
    "R14f price below ask band": "PERCENT_PRICE_BY_SIDE",
    "R14p price above maxPrice": "PRICE_FILTER", "R14q quantity above maxQty": "LOT_SIZE",
    "R14r zero price": "PRICE_FILTER", "R14s MARKET below minVal": "LOT_SIZE",
}  # fmt: skip


@pytest.mark.parametrize("name,params,status,code", FILTER_CASES, ids=[c[0] for c in FILTER_CASES])
async def test_r14_filter_and_parameter_violations(sim, make_key, name, params, status, code):
    """R14 Each filter or parameter violation gets its documented status and code, no order."""
    account, key, secret = await make_key(sim)
    async with client(sim, key, secret) as c:
        r = await c.signed("POST", "/api/v1/order", params)
    assert is_error(r, status, code), (name, r)
    if name in FILTER_NAMES:
        assert f"Filter failure: {FILTER_NAMES[name]}" in r.body["msg"], (name, r)
    assert sim.exchange.open_orders(account, None) == []


async def test_r15_duplicate_client_order_id_refused(sim, make_key):
    """R15 A second open order with the same newClientOrderId is refused (documented error,
    not 200) and the first one stays the only open order."""
    account, key, secret = await make_key(sim)
    async with client(sim, key, secret) as c:
        assert (
            await c.signed("POST", "/api/v1/order", limit_order(newClientOrderId="dup"))
        ).status == 200
        r = await c.signed("POST", "/api/v1/order", limit_order(newClientOrderId="dup"))
    assert r.status >= 400 and isinstance(r.body.get("code"), int) and r.body["code"] < 0, r
    assert len(sim.exchange.open_orders(account, None)) == 1


# =============================================================================== permissions, IP, keys


async def test_r16_permissions_read_trade(sim, make_key):
    """R16 read-only key: reads pass, POST/DELETE order refused 401 -1022; trade-only key: order
    passes, USER_DATA reads refused 401 -1022."""
    _, rkey, rsec = await make_key(sim, permissions=("read",))
    _, tkey, tsec = await make_key(sim, permissions=("trade",))
    async with client(sim, rkey, rsec) as r, client(sim, tkey, tsec) as t:
        assert (await r.signed("GET", "/api/v1/account")).status == 200
        assert is_error(await r.signed("POST", "/api/v1/order", limit_order()), 401, -1022)
        assert is_error(
            await r.signed("DELETE", "/api/v1/order", {"symbol": "XRPUSDT", "orderId": 1}),
            401,
            -1022,
        )
        assert (await t.signed("POST", "/api/v1/order", limit_order())).status == 200
        for path, p in (
            ("/api/v1/account", {}),
            ("/api/v1/openOrders", {"symbol": "XRPUSDT"}),
            ("/api/v2/myTrades", {"symbol": "XRPUSDT"}),
        ):
            assert is_error(await t.signed("GET", path, p), 401, -1022), path


async def test_r17_withdraw_permission_ip_rule_and_refusal(sim, make_key):
    """R17 withdraw endpoints: no withdraw permission -> 966001; withdraw permission but no IP
    restriction -> 966000; restricted + permitted: histories answer {"code":200,"data":[]},
    commit is refused 406 999513 (no address allow list), a missing coin is code 2."""
    _, nk, ns = await make_key(sim, permissions=("read", "trade"))
    _, uk, us = await make_key(sim, permissions=("read", "withdraw"), ip_allowlist=())
    _, wk, ws = await make_key(sim, permissions=("read", "withdraw"))
    q = {"coin": "usdt"}
    async with client(sim, nk, ns) as n, client(sim, uk, us) as u, client(sim, wk, ws) as w:
        assert is_error(await n.signed("GET", "/api/v1/withdraw/history", q), 401, 966001)
        assert is_error(await n.signed("GET", "/api/v1/deposit/history", q), 401, 966001)
        assert is_error(await u.signed("GET", "/api/v1/withdraw/history", q), 401, 966000)
        ok = await w.signed("GET", "/api/v1/withdraw/history", q)
        assert ok.status == 200 and ok.body == {"code": 200, "msg": "succ", "data": []}
        assert (await w.signed("GET", "/api/v1/deposit/history", q)).body["code"] == 200
        commit = await w.signed(
            "POST",
            "/api/v1/withdraw/commit",
            {"coin": "usdt", "amount": "10", "addressTo": "0xabc", "chainName": "ERC20"},
            where="form",
        )
        assert is_error(commit, 406, 999513)
        assert is_error(await w.signed("GET", "/api/v1/withdraw/history", {}), 412, 2)
        assert is_error(
            await n.signed(
                "POST",
                "/api/v1/withdraw/commit",
                {"coin": "usdt", "amount": "1", "addressTo": "x", "chainName": "ERC20"},
            ),
            401,
            966001,
        )


async def test_r18_ip_allow_list_from_another_loopback_address(sim, make_key):
    """R18 A key allow-listing 127.0.0.1 used from 127.0.0.2: spot -1022, withdraw 966000,
    futures -2015; an unrestricted key and a 127.0.0.0/8 key work from 127.0.0.2."""
    _, key, sec = await make_key(sim, permissions=("read", "trade", "withdraw", "futures"))
    _, open_key, open_sec = await make_key(sim, permissions=("read",), ip_allowlist=())
    _, net_key, net_sec = await make_key(sim, permissions=("read",), ip_allowlist=("127.0.0.0/8",))
    async with client(sim, key, sec, local_ip="127.0.0.2") as c:
        assert is_error(await c.signed("GET", "/api/v1/account"), 401, -1022)
        assert is_error(await c.signed("POST", "/api/v1/order", limit_order()), 401, -1022)
        assert is_error(
            await c.signed("GET", "/api/v1/withdraw/history", {"coin": "usdt"}), 401, 966000
        )
        assert is_error(await c.futures("GET", "/fapi/v2/account"), 401, -2015)
        assert is_error(await c.public("/poseidon/api/v1/listenKey", method="POST"), 401, -1022)
    async with client(sim, key, sec) as c:
        assert (await c.signed("GET", "/api/v1/account")).status == 200
    async with client(sim, open_key, open_sec, local_ip="127.0.0.2") as c:
        assert (await c.signed("GET", "/api/v1/account")).status == 200
    async with client(sim, net_key, net_sec, local_ip="127.0.0.2") as c:
        assert (await c.signed("GET", "/api/v1/account")).status == 200


async def test_r19_disabled_deleted_key_and_last_used(sim, make_key):
    """R19 Admin GET key shows permissions and last_used (set by authenticated use, never the
    secret); a disabled key and a deleted key are refused 401 -1022; re-enabled works again."""
    _, key, secret = await make_key(sim, permissions=("read",))
    info = await admin_call(sim, "GET", f"/sim/admin/keys/{key}")
    assert info["permissions"] == ["read"] and info["last_used_ms"] is None
    assert secret not in json.dumps(info)
    async with client(sim, key, secret) as c:
        assert (await c.signed("GET", "/api/v1/account")).status == 200
        used = await admin_call(sim, "GET", f"/sim/admin/keys/{key}")
        assert used["last_used_ms"] is not None and used["use_count"] == 1
        await admin_call(sim, "POST", f"/sim/admin/keys/{key}/disable")
        assert is_error(await c.signed("GET", "/api/v1/account"), 401, -1022)
        assert (await admin_call(sim, "GET", f"/sim/admin/keys/{key}"))["use_count"] == 1
        await admin_call(sim, "POST", f"/sim/admin/keys/{key}/enable")
        assert (await c.signed("GET", "/api/v1/account")).status == 200
        await admin_call(sim, "DELETE", f"/sim/admin/keys/{key}")
        assert is_error(await c.signed("GET", "/api/v1/account"), 401, -1022)


async def test_r20_futures_account_signing_and_permission(sim, make_key):
    """R20 /fapi/v2/account with X-CH-* signing: futures key -> 200 code "0" with an account
    list; key without futures -> 401 -2015; bad X-CH-SIGN -> 401 -1022; unknown key -> -2015;
    /fapi/v1/contracts and /dapi/v1/contracts are public lists."""
    _, fkey, fsec = await make_key(sim, permissions=("read", "futures"))
    _, skey, ssec = await make_key(sim, permissions=("read", "trade"))
    async with client(sim, fkey, fsec) as f, client(sim, skey, ssec) as s:
        ok = await f.futures("GET", "/fapi/v2/account")
        assert ok.status == 200 and ok.body["code"] == "0"
        assert ok.body["data"]["account"][0]["marginCoin"] == "USDT"
        assert is_error(await s.futures("GET", "/fapi/v2/account"), 401, -2015)
        assert is_error(await f.futures("GET", "/fapi/v2/account", bad_sign=True), 401, -1022)
        assert is_error(await f.futures("GET", "/fapi/v2/account", api_key="Z" * 64), 401, -2015)
        stale = sim.exchange.clock.now_ms() - 60_000
        assert is_error(await f.futures("GET", "/fapi/v2/account", ts=stale), 401, -1022)
        lin = (await f.public("/fapi/v1/contracts")).body
        inv = (await f.public("/dapi/v1/contracts")).body
    assert lin and all(c["side"] == 1 for c in lin)
    assert inv and all(c["side"] == 0 for c in inv)


async def test_r21_listen_key_lifecycle_and_expiry():
    """R21 POST listenKey (API key only) gives a 64-char key, POST again the same key; PUT and
    DELETE answer {"msg":"succ","code":200}; after DELETE the key is invalid (callback
    "deleted") and PUT is -1150; a key left alone expires after 60 min of exchange time
    (callback "expired")."""
    async with manual_sim() as sim:
        events = []
        sim.listen_keys.on_invalidated(lambda k, a, why: events.append((k, a, why)))
        account, key, _ = await create_key(sim, permissions=("read",))
        async with client(sim, key) as c:
            r = await c.public("/poseidon/api/v1/listenKey", method="POST")
            assert r.status == 200 and r.body["code"] == 200 and r.body["msg"] == "succ"
            lk = r.body["data"]["listenKey"]
            assert len(lk) == 64 and sim.listen_keys.validate(lk) == account
            assert (await c.public("/poseidon/api/v1/listenKey", method="POST")).body["data"][
                "listenKey"
            ] == lk
            put = await c.public(f"/poseidon/api/v1/listenKey/{lk}", method="PUT")
            assert put.status == 200 and put.body == {"msg": "succ", "code": 200}
            dele = await c.public(f"/poseidon/api/v1/listenKey/{lk}", method="DELETE")
            assert dele.body == {"msg": "succ", "code": 200}
            assert sim.listen_keys.validate(lk) is None and events == [(lk, account, "deleted")]
            assert is_error(
                await c.public(f"/poseidon/api/v1/listenKey/{lk}", method="PUT"), 400, -1150
            )
            lk2 = (await c.public("/poseidon/api/v1/listenKey", method="POST")).body["data"][
                "listenKey"
            ]
            assert lk2 != lk
            sim.exchange.clock.advance(30 * 60_000)
            assert (await c.public(f"/poseidon/api/v1/listenKey/{lk2}", method="PUT")).status == 200
            sim.exchange.clock.advance(60 * 60_000 - 1)
            assert sim.listen_keys.is_valid(lk2)
            sim.exchange.clock.advance(1)
            assert sim.listen_keys.sweep() == [lk2]
            assert events[-1] == (lk2, account, "expired")
        async with client(sim) as anon:
            assert is_error(
                await anon.public("/poseidon/api/v1/listenKey", method="POST"), 401, -1022
            )


# =============================================================================== bad input


async def test_r22_bad_input_never_500(sim, make_key):
    """R22 Oversized body 413, a body neither form nor JSON / malformed JSON / non-UTF-8 / bad
    integer 412 -1102, unknown path 404, wrong method 405 -1020: always {"code","msg"} JSON."""
    _, key, secret = await make_key(sim)
    async with client(sim, key, secret) as c:
        h = {"X-MBX-APIKEY": key}
        big = await c.raw(
            "POST",
            "/api/v1/order",
            "",
            "a=" + "x" * 70_000,
            {**h, "Content-Type": "application/x-www-form-urlencoded"},
        )
        assert is_error(big, 413, -1102)
        txt = await c.raw(
            "POST", "/api/v1/order", "", "symbol XRPUSDT", {**h, "Content-Type": "text/plain"}
        )
        assert is_error(txt, 412, -1102)
        js = await c.raw(
            "POST",
            "/api/v1/order",
            "signature=00",
            "{not json",
            {**h, "Content-Type": "application/json"},
        )
        assert is_error(js, 412, -1102)
        raw = await c.raw(
            "POST",
            "/api/v1/order",
            "",
            b"\xff\xfe",
            {**h, "Content-Type": "application/x-www-form-urlencoded"},
        )
        assert is_error(raw, 412, -1102)
        assert is_error(
            await c.public("/api/v1/depth", {"symbol": "XRPUSDT", "limit": "abc"}), 412, -1102
        )
        assert is_error(await c.public("/api/v1/depth", {}), 412, -1102)
        assert is_error(await c.public("/api/v1/depth", {"symbol": "NOPE"}), 412, -1121)
        assert is_error(await c.public("/api/v9/nothing"), 404, 404)
        assert is_error(await c.public("/api/v1/time", method="POST"), 405, -1020)
        assert is_error(await c.public("/api/v1/order", method="PUT"), 405, -1020)
        bad_id = await c.signed("GET", "/api/v1/order", {"symbol": "XRPUSDT", "orderId": "1.5"})
        assert is_error(bad_id, 412, -1102)


async def test_r23_no_secrets_or_signatures_in_logs(sim, make_key, caplog):
    """R23 Signed traffic (good, bad, refused) leaves neither the secret nor any signature in
    the logs."""
    caplog.set_level(logging.DEBUG)
    _, key, secret = await make_key(sim)
    async with client(sim, key, secret) as c:
        ts = sim.exchange.clock.now_ms()
        q = f"symbol=XRPUSDT&timestamp={ts}"
        sig = sign(secret, q)
        await c.raw(
            "GET", "/api/v1/openOrders", q + "&signature=" + sig, headers={"X-MBX-APIKEY": key}
        )
        await c.raw(
            "GET",
            "/api/v1/openOrders",
            q + "&signature=" + sig[::-1],
            headers={"X-MBX-APIKEY": key},
        )
        await c.signed("POST", "/api/v1/order", limit_order(price="bad"))
    text = caplog.text
    assert secret not in text and sig not in text and sig[::-1] not in text


# =============================================================================== rate limits


async def test_r24_request_weight_429_then_escalating_ip_ban():
    """R24 1200 weight per minute per IP: 30 x /ticker/24hr without symbol (weight 40) pass,
    the 31st is 429 with rate_limit_p=general and Retry-After; sending again before then is an
    IP ban (418, -1003) of 2 minutes x ban_scale; the next ban doubles; bans end on time."""
    async with manual_sim(ban_scale=0.01) as sim:
        clock = sim.exchange.clock
        async with client(sim) as c:
            for _ in range(30):
                assert (await c.public("/api/v1/ticker/24hr")).status == 200
            r = await c.public("/api/v1/ticker/24hr")
            assert is_error(r, 429, -1003)
            assert r.headers["rate_limit_p"] == "general" and int(r.headers["Retry-After"]) >= 1
            ban = await c.public("/api/v1/ping")
            assert is_error(ban, 418, -1003) and "banned" in ban.body["msg"]
            first = sim.rate_limiter.banned_until("127.0.0.1") - clock.now_ms()
            assert first == int(120_000 * 0.01)
            clock.advance(first - 1)
            assert (await c.public("/api/v1/ping")).status == 418
            clock.advance(1)
            assert (await c.public("/api/v1/ping")).status == 200
            clock.advance(600)  # the 0.6 s (scaled) window is empty again
            for _ in range(30):
                assert (await c.public("/api/v1/ticker/24hr")).status == 200
            assert (await c.public("/api/v1/ticker/24hr")).status == 429
            assert (await c.public("/api/v1/ping")).status == 418
            second = sim.rate_limiter.banned_until("127.0.0.1") - clock.now_ms()
            assert second == 2 * first
        async with client(sim, local_ip="127.0.0.2") as other:
            assert (await other.public("/api/v1/ping")).status == 200


async def test_r25_backing_off_after_429_avoids_the_ban():
    """R25 A client that waits Retry-After after a 429 is served again, not banned."""
    async with manual_sim(ban_scale=0.01) as sim:
        async with client(sim) as c:
            for _ in range(30):
                await c.public("/api/v1/ticker/24hr")
            r = await c.public("/api/v1/ticker/24hr")
            assert r.status == 429
            sim.exchange.clock.advance(int(r.headers["Retry-After"]) * 1000)
            assert (await c.public("/api/v1/ticker/24hr")).status == 200
            assert sim.rate_limiter.banned_until("127.0.0.1") is None


async def test_r26_order_limits_per_ip_and_per_user():
    """R26 100 order requests per 60 s: two users on one IP share orders_ip_seconds; one user
    on two IPs hits orders_user_seconds; both answer 429 -1015 naming the policy."""
    async with manual_sim() as sim:
        _, k1, s1 = await create_key(sim, ip_allowlist=())
        _, k2, s2 = await create_key(sim, ip_allowlist=())
        async with client(sim, k1, s1) as a, client(sim, k2, s2) as b:
            for i in range(100):
                c = a if i % 2 else b
                assert (await c.signed("POST", "/api/v1/order", limit_order())).status == 200
            r = await a.signed("POST", "/api/v1/order", limit_order())
            assert is_error(r, 429, -1015) and r.headers["rate_limit_p"] == "orders_ip_seconds"
    async with manual_sim() as sim:
        _, k, s = await create_key(sim, ip_allowlist=())
        async with client(sim, k, s) as a, client(sim, k, s, local_ip="127.0.0.2") as b:
            for i in range(100):
                c = a if i % 2 else b
                assert (await c.signed("POST", "/api/v1/order", limit_order())).status == 200
            r = await a.signed("DELETE", "/api/v1/order", {"symbol": "XRPUSDT", "orderId": 1})
            assert is_error(r, 429, -1015) and r.headers["rate_limit_p"] == "orders_user_seconds"


# =============================================================================== admin


async def test_r27_admin_api_guard_ledger_and_balances(sim, make_key):
    """R27 Admin: wrong or missing X-Sim-Admin -> 401; the ledger lists every order (final state)
    and fill of an account; balances are exact strings."""
    async with aiohttp.ClientSession() as s:
        for headers in ({}, {"X-Sim-Admin": "wrong"}):
            async with s.post(
                sim.base_url + "/sim/admin/accounts", json={"balances": {}}, headers=headers
            ) as r:
                assert r.status == 401 and (await r.json())["code"] == 401
    account, key, secret = await make_key(sim)
    async with client(sim, key, secret) as c:
        ack = (await c.signed("POST", "/api/v1/order", limit_order())).body
        await c.signed("DELETE", "/api/v1/order", {"symbol": "XRPUSDT", "orderId": ack["orderId"]})
        mk = (
            await c.signed(
                "POST",
                "/api/v1/order",
                {"symbol": "XRPUSDT", "side": "BUY", "type": "MARKET", "quantity": "10"},
            )
        ).body
    led = await admin_call(sim, "GET", f"/sim/admin/ledger?account_id={account}")
    by_id = {o["orderId"]: o for o in led["orders"]}
    assert by_id[ack["orderId"]]["status"] == "CANCELED"
    assert by_id[mk["orderId"]]["status"] == "FILLED"
    assert led["fills"] and all(f["orderId"] == mk["orderId"] for f in led["fills"])
    bal = await admin_call(sim, "GET", f"/sim/admin/balances?account_id={account}")
    assert Decimal(bal["balances"]["XRP"]["free"]) > Decimal("5000")
    with pytest.raises(AssertionError):
        await admin_call(sim, "GET", "/sim/admin/ledger?account_id=999")


# =============================================================================== ccxt


async def test_r28_ccxt_bitrue_against_the_simulator(sim, make_key):
    """R28 ccxt's async bitrue client, pointed at the simulator, loads markets, fetches the
    order book, places and cancels an order."""
    ccxt = pytest.importorskip("ccxt.async_support")
    _, key, secret = await make_key(sim)
    ex = ccxt.bitrue({"apiKey": key, "secret": secret, "enableRateLimit": False})
    base = sim.base_url
    ex.urls["api"] = {
        "spot": base + "/api",
        "fapi": base + "/fapi",
        "dapi": base + "/dapi",
        "kline": base + "/kline-api",
        "open": base,
    }
    try:
        markets = await ex.load_markets()
        assert "XRP/USDT" in markets and "NOVA/USDT" in markets
        book = await ex.fetch_order_book("XRP/USDT", 5)
        assert book["bids"] and book["asks"] and book["bids"][0][0] < book["asks"][0][0]
        order = await ex.create_order("XRP/USDT", "limit", "buy", 10, 0.49)
        assert int(order["id"]) > 2**53
        canceled = await ex.cancel_order(order["id"], "XRP/USDT")
        assert canceled["id"] == order["id"]
        assert sim.exchange.open_orders(sim.keys.get(key).account_id, None) == []
        balance = await ex.fetch_balance()
        assert balance["USDT"]["free"] == 10000
    finally:
        await ex.close()


async def test_r29_order_429_back_off_is_per_kind():
    """R29 After an orders 429 the IP may still read (no ban), but another order request inside
    the back-off earns an IP ban (418) that then refuses every request."""
    async with manual_sim() as sim:
        _, k, s = await create_key(sim)
        async with client(sim, k, s) as c:
            for _ in range(100):
                assert (await c.signed("POST", "/api/v1/order", limit_order())).status == 200
            r = await c.signed("POST", "/api/v1/order", limit_order())
            assert is_error(r, 429, -1015)
            assert (
                await c.signed("GET", "/api/v1/openOrders", {"symbol": "XRPUSDT"})
            ).status == 200
            assert sim.rate_limiter.banned_until("127.0.0.1") is None
            ban = await c.signed("POST", "/api/v1/order", limit_order())
            assert is_error(ban, 418, -1003)
            assert (await c.public("/api/v1/ping")).status == 418


async def test_r30_withdraw_limits_name_their_policy():
    """R30 withdraw reads count against withdraw_read_hours and commits against withdraw_days
    (per user); limits shrunk to 2 here: the 3rd call is 429 naming the policy."""
    async with manual_sim() as sim:
        rl = sim.rate_limiter
        rl.policies = tuple(
            replace(p, limit=2) if p.category in ("withdraw", "withdraw_read") else p
            for p in rl.policies
        )
        _, k, s = await create_key(sim, permissions=("read", "withdraw"))
        async with client(sim, k, s) as c:
            for _ in range(2):
                ok = await c.signed("GET", "/api/v1/deposit/history", {"coin": "usdt"})
                assert ok.status == 200
            r = await c.signed("GET", "/api/v1/withdraw/history", {"coin": "usdt"})
            assert r.status == 429 and r.headers["rate_limit_p"] == "withdraw_read_hours"
            commit = {"coin": "usdt", "amount": "1", "addressTo": "x", "chainName": "ERC20"}
            for _ in range(2):
                assert is_error(
                    await c.signed("POST", "/api/v1/withdraw/commit", commit), 406, 999513
                )
            r = await c.signed("POST", "/api/v1/withdraw/commit", commit)
            assert r.status == 429 and r.headers["rate_limit_p"] == "withdraw_days"


async def test_r31_sim_serve_command_serves_rest_and_admin(tmp_path):
    """R31 `sim serve --host 127.0.0.1 --port P --seed 3 --admin-token T --scenario calm
    --ping-interval 0.05` serves the REST API, the admin API and the streams (with the given
    ping interval) on one loopback port."""
    import socket
    import subprocess
    import sys

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    cmd = [
        sys.executable,
        "-c",
        "from bitrue_sim.cli import app; app()",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--seed",
        "3",
        "--admin-token",
        "T",
        "--scenario",
        "calm",
        "--ping-interval",
        "0.05",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession() as s:
            for _ in range(200):
                try:
                    async with s.get(base + "/api/v1/time") as r:
                        assert r.status == 200 and "serverTime" in await r.json()
                        break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.05)
            else:
                raise AssertionError("sim serve did not come up")
            async with s.post(
                base + "/sim/admin/accounts",
                json={"balances": {"USDT": "5"}},
                headers={"X-Sim-Admin": "T"},
            ) as r:
                assert r.status == 200 and isinstance((await r.json())["account_id"], int)
            async with s.get(base + "/api/v1/depth?symbol=XRPUSDT") as r:
                assert (await r.json())["bids"]
            # --ping-interval reached the market stream (the default is 15 s)
            async with s.ws_connect(base.replace("http", "ws", 1) + "/market/ws") as ws:
                msg = await ws.receive(timeout=10)
                assert msg.type == aiohttp.WSMsgType.BINARY
                assert "ping" in json.loads(gzip.decompress(msg.data))
    finally:
        proc.terminate()
        proc.wait(timeout=10)


async def test_r32_order_parameters_in_json_body_and_mixed_query_form(sim, make_key):
    """R32 An order can be sent as a JSON body (signature in the query, numbers as JSON
    numbers) or split between query string and form body; both rest on the book."""
    account, key, secret = await make_key(sim)
    async with client(sim, key, secret) as c:
        r = await c.signed(
            "POST", "/api/v1/order", limit_order(newClientOrderId="j-1"), where="json"
        )
        assert r.status == 200 and r.body["clientOrderId"] == "j-1", r
        body = json.dumps(
            {
                "symbol": "XRPUSDT",
                "side": "BUY",
                "type": "LIMIT",
                "quantity": 10,
                "price": 0.4800,
                "timestamp": sim.exchange.clock.now_ms(),
            },
            separators=(",", ":"),
        )
        r = await c.raw(
            "POST",
            "/api/v1/order",
            "signature=" + sign(secret, body),
            body,
            {"X-MBX-APIKEY": key, "Content-Type": "application/json"},
        )
        assert r.status == 200, r
        q = "symbol=XRPUSDT&side=BUY&type=LIMIT"
        b = f"quantity=10&price=0.4700&newClientOrderId=m-1&timestamp={sim.exchange.clock.now_ms()}"
        r = await c.raw(
            "POST",
            "/api/v1/order",
            q,
            b + "&signature=" + sign(secret, q + b),
            {"X-MBX-APIKEY": key, "Content-Type": "application/x-www-form-urlencoded"},
        )
        assert r.status == 200 and r.body["clientOrderId"] == "m-1", r
    prices = sorted(o.price for o in sim.exchange.open_orders(account, "XRPUSDT"))
    assert prices == [Decimal("0.47"), Decimal("0.48"), Decimal("0.49")]


FUZZ_ROUTES = [
    ("GET", "/api/v1/depth"), ("GET", "/api/v1/trades"), ("GET", "/api/v1/historicalTrades"),
    ("GET", "/api/v1/aggTrades"), ("GET", "/api/v1/ticker/24hr"), ("GET", "/api/v1/ticker/price"),
    ("GET", "/api/v1/ticker/bookTicker"), ("GET", "/api/v1/market/kline"),
    ("POST", "/api/v1/order"), ("GET", "/api/v1/order"), ("DELETE", "/api/v1/order"),
    ("GET", "/api/v1/openOrders"), ("GET", "/api/v1/allOrders"), ("GET", "/api/v1/account"),
    ("GET", "/api/v2/myTrades"), ("POST", "/api/v1/withdraw/commit"),
    ("GET", "/api/v1/withdraw/history"), ("GET", "/api/v1/deposit/history"),
    ("POST", "/poseidon/api/v1/listenKey"), ("PUT", "/poseidon/api/v1/listenKey/nope"),
    ("GET", "/fapi/v2/account"), ("GET", "/fapi/v1/contracts"), ("GET", "/dapi/v1/contracts"),
]  # fmt: skip
FUZZ_NAMES = [
    "symbol", "side", "type", "quantity", "price", "newClientOrderId", "orderId",
    "origClientOrderId", "limit", "fromId", "startTime", "endTime", "scale", "fromIdx", "coin",
    "amount", "addressTo", "chainName", "quoteOrderQty", "timeInForce", "recvWindow",
]  # fmt: skip
FUZZ_VALUES = [
    "XRPUSDT", "xrpusdt", "NOVAUSDT", "FOO", "BUY", "SELL", "LIMIT", "MARKET", "1", "0", "-1",
    "0.5", "0.4990", "1e5", "NaN", "inf", "", "9" * 30, "0.00000000000000000001", "é", "%",
    "1.", "..", "-9223372036854775809", "GTC", "1m", "1H", "100", "1000", " 1", "0x10",
]  # fmt: skip


async def test_r33_random_bad_input_never_500(sim, make_key):
    """R33 Seeded random requests on every endpoint (random parameter names, malformed numbers,
    non-ASCII, wrong content types, signed or not, a non-ASCII signature) and bad admin values
    always get a documented {"code","msg"} answer below 500."""
    import random

    rng = random.Random(33)
    _, key, secret = await make_key(sim, permissions=("read", "trade", "withdraw", "futures"))
    async with client(sim, key, secret) as c:
        for _ in range(400):
            method, path = rng.choice(FUZZ_ROUTES)
            params = [(n, rng.choice(FUZZ_VALUES)) for n in rng.sample(FUZZ_NAMES, rng.randint(0, 7))]
            if rng.random() < 0.8:
                params.append(("timestamp", str(sim.exchange.clock.now_ms())))
            if path.startswith("/fapi") or rng.random() < 0.1:
                reply = await c.futures(method, path, dict(params))
            elif method != "GET" and rng.random() < 0.4:
                body = urlencode(params)
                body += "&signature=" + rng.choice([sign(secret, body), "é", "00"])
                ctype = rng.choice(["application/x-www-form-urlencoded", "application/json",
                                    "text/xml", "application/octet-stream"])
                reply = await c.raw(method, path, "", body,
                                    {"X-MBX-APIKEY": key, "Content-Type": ctype})
            else:
                query = urlencode(params)
                if rng.random() < 0.9:
                    query += "&signature=" + sign(secret, query)
                reply = await c.raw(method, path, query, None, {"X-MBX-APIKEY": key})
            assert reply.status < 500, (method, path, params, reply)
            if reply.status >= 400 or reply.code not in (None, 200):
                assert isinstance(reply.body, dict) and isinstance(reply.body.get("msg"), str)
    for path, body in [
        ("/sim/admin/accounts", {"balances": {"USDT": "1"}, "maker_commission": "5"}),
        ("/sim/admin/accounts", {"balances": {"USDT": "1e999999"}}),
        ("/sim/admin/deposit", {"account_id": 1, "asset": "USDT", "amount": "0"}),
        ("/sim/admin/deposit", {"account_id": 1, "asset": "USDT", "amount": "NaN"}),
        ("/sim/admin/keys", {"account_id": 1, "permissions": ["fly"]}),
        ("/sim/admin/keys", {"account_id": "x"}),
    ]:
        with pytest.raises(AssertionError, match=r"-> 40\d"):
            await admin_call(sim, "POST", path, body)


# ================================================================= bodies read by shape


def hummingbot_style(secret: str, params: dict, ts: int) -> str:
    """A form body as Hummingbot's Bitrue connector builds it: parameters + timestamp, signed
    over their urlencoding, the signature appended as the last form field."""
    p = dict(params, timestamp=ts)
    encoded = urlencode(p)
    return encoded + "&signature=" + sign(secret, encoded)


async def test_r34_form_body_read_by_shape_whatever_its_content_type(sim, make_key):
    """R34 A form body places (POST) and cancels (DELETE) an order whatever its label:
    application/json (what Hummingbot sends live), text/plain, a charset suffix, no header at
    all; its signature is read from the body, as for an ordinary form."""
    account, key, secret = await make_key(sim)
    labels = [
        "application/json",
        "application/json; charset=utf-8",
        "text/plain",
        None,  # aiohttp then sends application/octet-stream
        "application/x-www-form-urlencoded",
    ]
    placed = []
    async with client(sim, key, secret) as c:
        for i, label in enumerate(labels):
            body = hummingbot_style(
                secret,
                limit_order(price=f"0.48{i}0", newClientOrderId=f"hb-{i}", timeInForce="GTC"),
                sim.exchange.clock.now_ms(),
            )
            headers = {"X-MBX-APIKEY": key}
            if label is not None:
                headers["Content-Type"] = label
            r = await c.raw("POST", "/api/v1/order", "", body, headers)
            assert r.status == 200 and r.body["clientOrderId"] == f"hb-{i}", (label, r)
            placed.append(r.body["orderId"])
        open_ids = {o.order_id for o in sim.exchange.open_orders(account, "XRPUSDT")}
        assert open_ids == set(placed)
        body = hummingbot_style(
            secret,
            {"symbol": "XRPUSDT", "orderId": placed[0]},
            sim.exchange.clock.now_ms(),
        )
        r = await c.raw(
            "DELETE",
            "/api/v1/order",
            "",
            body,
            {"X-MBX-APIKEY": key, "Content-Type": "application/json"},
        )
        assert r.status == 200 and r.body["orderId"] == placed[0], r
        # a bad signature in a JSON-labelled form body is still a bad signature
        body = hummingbot_style("not-the-secret", limit_order(), sim.exchange.clock.now_ms())
        r = await c.raw(
            "POST",
            "/api/v1/order",
            "",
            body,
            {"X-MBX-APIKEY": key, "Content-Type": "application/json"},
        )
        assert is_error(r, 401, -1022), r
    open_ids = {o.order_id for o in sim.exchange.open_orders(account, "XRPUSDT")}
    assert open_ids == set(placed[1:])


async def test_r35_json_body_only_where_accepted_and_neither_refused(sim, make_key):
    """R35 A JSON object is read as JSON whatever its label on a signed endpoint (signature in
    the query, as in the docs' example); a listenKey endpoint, which takes no JSON, refuses it;
    a body that is neither form nor JSON is refused 412 -1102 under every label, even when the
    query string alone is a complete, correctly signed order."""
    account, key, secret = await make_key(sim)
    async with client(sim, key, secret) as c:
        for i, label in enumerate(["text/plain", "application/x-www-form-urlencoded"]):
            body = json.dumps(
                dict(
                    limit_order(price=f"0.47{i}0", newClientOrderId=f"js-{i}"),
                    timestamp=sim.exchange.clock.now_ms(),
                ),
                separators=(",", ":"),
            )
            r = await c.raw(
                "POST",
                "/api/v1/order",
                "signature=" + sign(secret, body),
                body,
                {"X-MBX-APIKEY": key, "Content-Type": label},
            )
            assert r.status == 200 and r.body["clientOrderId"] == f"js-{i}", (label, r)
        lk = await c.raw(
            "POST",
            "/poseidon/api/v1/listenKey",
            "",
            "{}",
            {"X-MBX-APIKEY": key, "Content-Type": "application/json"},
        )
        assert is_error(lk, 412, -1102) and "JSON" in lk.body["msg"], lk
        lk = await c.raw(
            "POST",
            "/poseidon/api/v1/listenKey",
            "",
            "a=1",
            {"X-MBX-APIKEY": key, "Content-Type": "application/json"},
        )
        assert lk.status == 200 and len(lk.body["data"]["listenKey"]) == 64, lk
        before = len(sim.exchange.open_orders(account, "XRPUSDT"))
        bodies = [
            ("hello world", "text/plain"),
            ("<order><symbol>XRPUSDT</symbol></order>", "application/xml"),
            ("just-a-token", "application/x-www-form-urlencoded"),
            ("symbol=XRPUSDT&side BUY", "application/json"),
            ("symbol = XRPUSDT", None),
        ]
        for body, label in bodies:
            query = urlencode(
                dict(
                    limit_order(price="0.4600", newClientOrderId="never"),
                    timestamp=sim.exchange.clock.now_ms(),
                )
            )
            signed_query = query + "&signature=" + sign(secret, query + body)
            headers = {"X-MBX-APIKEY": key}
            if label is not None:
                headers["Content-Type"] = label
            r = await c.raw("POST", "/api/v1/order", signed_query, body, headers)
            assert is_error(r, 412, -1102) and "neither" in r.body["msg"], (body, label, r)
            assert body not in r.body["msg"]
        # the same signed query with a form body is accepted: the refusals were the body's shape
        body = "newClientOrderId=yes"
        query = urlencode(dict(limit_order(price="0.4600"), timestamp=sim.exchange.clock.now_ms()))
        signed_query = query + "&signature=" + sign(secret, query + body)
        headers = {"X-MBX-APIKEY": key, "Content-Type": "text/plain"}
        r = await c.raw("POST", "/api/v1/order", signed_query, body, headers)
        assert r.status == 200 and r.body["clientOrderId"] == "yes", r
    assert len(sim.exchange.open_orders(account, "XRPUSDT")) == before + 1


# ================================================================= account asset case


async def test_r36_account_assets_upper_case_user_stream_lower_case(sim, make_key):
    """R36 GET /api/v1/account names assets in upper case, as the docs' example ("BTC"); the
    user stream's BALANCE entries for the same account keep lower case ("a":"usdt")."""
    account, key, secret = await make_key(sim, balances={"USDT": "1000", "XRP": "50"})
    sim.app[HUB_KEY].configure(balance_partial_probability=0.0)
    async with client(sim, key, secret) as c, aiohttp.ClientSession() as session:
        lk = (await c.public("/poseidon/api/v1/listenKey", method="POST")).body["data"]
        ws = await session.ws_connect(f"{sim.ws_url}/stream?listenKey={lk['listenKey']}")
        await ws.send_json({"event": "sub", "params": {"channel": "user_balance_update"}})
        assert (await ws.receive_json(timeout=10))["event_rep"] == "subed"
        r = await c.signed("POST", "/api/v1/order", limit_order(qty="100", price="0.4900"))
        assert r.status == 200, r
        event = await ws.receive_json(timeout=10)
        await ws.close()
        acct = await c.signed("GET", "/api/v1/account")
    assert acct.status == 200, acct
    balances = {b["asset"]: b for b in acct.body["balances"]}
    assert set(balances) == {"USDT", "XRP"}
    assert Decimal(balances["USDT"]["free"]) == Decimal("951")
    assert Decimal(balances["USDT"]["locked"]) == Decimal("49")
    assert Decimal(balances["XRP"]["free"]) == Decimal("50")
    assert event["e"] == "BALANCE"
    assert [e["a"] for e in event["B"]] == ["usdt"] and Decimal(event["B"][0]["L"]) == 49


async def _serve(*args: str):
    """``sim serve`` as a process on a free loopback port; (process, base URL)."""
    import socket
    import subprocess
    import sys

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-c", "from bitrue_sim.cli import app; app()", "serve", "--port",
         str(port), *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return proc, f"http://127.0.0.1:{port}"


async def _book(s: aiohttp.ClientSession, base: str, symbol: str) -> tuple:
    async with s.get(base + f"/api/v1/depth?symbol={symbol}&limit=5") as r:
        book = await r.json()
    return tuple(map(tuple, book["bids"])), tuple(map(tuple, book["asks"]))


async def test_r37_sim_serve_animates_every_listed_market_by_default():
    """R37 `sim serve --scenario volatile` moves the book of every market it lists (a config
    quoting BTCUSDT found it empty before); `--symbols` animates only those named, and an
    unknown symbol is refused with the list."""
    for args, moving, still in ((("--scenario", "volatile"), ("XRPUSDT", "BTCUSDT"), ()),
                                (("--scenario", "volatile", "--symbols", "btcusdt"),
                                 ("BTCUSDT",), ("XRPUSDT",))):
        proc, base = await _serve(*args)
        try:
            async with aiohttp.ClientSession() as s:
                for _ in range(200):
                    try:
                        async with s.get(base + "/api/v1/exchangeInfo") as r:
                            listed = [x["symbol"] for x in (await r.json())["symbols"]]
                            break
                    except aiohttp.ClientConnectionError:
                        await asyncio.sleep(0.05)
                else:
                    raise AssertionError("sim serve did not come up")
                first = {sym: await _book(s, base, sym) for sym in listed}
                await asyncio.sleep(3.0)
                later = {sym: await _book(s, base, sym) for sym in listed}
            if not still:
                assert all(first[sym][0] and first[sym][1] for sym in listed), "every book"
                assert all(first[sym] != later[sym] for sym in listed), "every book moves"
            for sym in moving:
                assert first[sym][0] and first[sym] != later[sym], sym
            for sym in still:
                assert not first[sym][0] or first[sym] == later[sym], sym
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    proc, _ = await _serve("--symbols", "NOPEUSDT")
    out = proc.communicate(timeout=30)[0].decode()
    assert proc.returncode != 0 and "NOPEUSDT" in out and "XRPUSDT" in out
