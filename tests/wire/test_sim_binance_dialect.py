"""Numbered wire spec of the simulator's Binance dialect (B01...), over real loopback.

Two clients: this file's raw signed client (``RestClient`` of test_sim_rest: it signs exactly
the bytes it sends) for statuses and codes, and ccxt's own ``binance`` client, unchanged but
for ``fetchMarkets: ['spot']`` and its URLs moved to loopback, for fidelity.
"""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from pathlib import Path

import aiohttp
import pytest
from conftest import create_key  # noqa: E402  (tests/wire is on sys.path)
from test_sim_rest import DOCS_KEY, DOCS_QUERY, DOCS_SECRET, DOCS_TS, RestClient, is_error

from bitrue_sim.core.clock import ManualClock
from bitrue_sim.core.exchange import Exchange
from bitrue_sim.server.runner import SimServer
from liquidity_bot.venues.ccxt.urls import point_at

ccxt_pro = pytest.importorskip("ccxt.pro")
ccxt_errors = pytest.importorskip("ccxt.base.errors")

# binance-spot-api-docs rest-api.md, "SIGNED Endpoint Examples for POST /api/v3/order"
DOCS_SIGNATURE = "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
DOCS_MIXED_QUERY = "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC"
DOCS_MIXED_BODY = "quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559"
DOCS_MIXED_SIGNATURE = "0fd168b8ddb4876a0358a8d14d0c9f3da0e9b20c5d52b2a00fcf7d1c602f9a77"

LIMIT = {"symbol": "XRPUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
         "quantity": "10", "price": "0.4900"}


@pytest.fixture
async def bsim():
    async with SimServer(dialect="binance") as server:
        yield server


def binance_client(sim: SimServer, key: str, secret: str):
    ex = ccxt_pro.binance({"apiKey": key, "secret": secret,
                           "options": {"fetchMarkets": ["spot"]}})
    point_at(ex, sim.base_url, sim.ws_url)
    return ex


def client(sim, key=None, secret=None, local_ip=None) -> RestClient:
    return RestClient(sim.base_url, key, secret, local_ip=local_ip,
                      clock=sim.exchange.clock.now_ms)


# =============================================================================== signing


async def test_b01_the_docs_signature_examples_verify():
    """B01 The docs' HMAC example (key, secret, query; and the query+body split) passes the
    signature and time checks; the answer is then about LTCBTC, which the sim does not list."""
    async with SimServer(dialect="binance", exchange=Exchange(clock=ManualClock(DOCS_TS)),
                         seed_books=False) as sim:
        account = sim.exchange.create_account({"BTC": Decimal(1)})
        sim.keys.create(account, permissions=("read", "trade"), api_key=DOCS_KEY,
                        secret=DOCS_SECRET)
        async with client(sim) as c:
            headers = {"X-MBX-APIKEY": DOCS_KEY}
            r = await c.raw("POST", "/api/v3/order", DOCS_QUERY + "&signature=" + DOCS_SIGNATURE,
                            None, headers)
            assert is_error(r, 400, -1121)
            r = await c.raw("POST", "/api/v3/order", "", DOCS_QUERY + "&signature="
                            + DOCS_SIGNATURE, headers)
            assert is_error(r, 400, -1121)
            r = await c.raw("POST", "/api/v3/order", DOCS_MIXED_QUERY, DOCS_MIXED_BODY
                            + "&signature=" + DOCS_MIXED_SIGNATURE, headers)
            assert is_error(r, 400, -1121)
            bad = DOCS_SIGNATURE[:-1] + "0"
            r = await c.raw("POST", "/api/v3/order", DOCS_QUERY + "&signature=" + bad, None,
                            headers)
            assert is_error(r, 400, -1022)


async def test_b02_authentication_errors_have_binance_codes(bsim):
    """B02 stale timestamp -1021, recvWindow over 60000 -1131, missing key header -2014,
    unknown key -2015, missing signature -1102 -- each with Binance's status."""
    _, key, secret = await create_key(bsim)
    async with client(bsim, key, secret) as c:
        now = bsim.exchange.clock.now_ms()
        r = await c.signed("GET", "/api/v3/account", timestamp=now - 10_000)
        assert is_error(r, 400, -1021)
        r = await c.signed("GET", "/api/v3/account", timestamp=now + 5_000)
        assert is_error(r, 400, -1021)
        r = await c.signed("GET", "/api/v3/account", recv_window=60_001)
        assert is_error(r, 400, -1131)
        r = await c.raw("GET", "/api/v3/account", f"timestamp={now}&signature=00")
        assert is_error(r, 401, -2014)
        r = await c.signed("GET", "/api/v3/account", api_key="A" * 64)
        assert is_error(r, 401, -2015)
        r = await c.raw("GET", "/api/v3/account", f"timestamp={now}", None,
                        {"X-MBX-APIKEY": key})
        assert is_error(r, 400, -1102)
        ok = await c.signed("GET", "/api/v3/account")
        assert ok.status == 200
        # every call above was weighed, refused or not: 7 account reads of weight 20
        assert ok.headers["X-MBX-USED-WEIGHT-1M"] == str(7 * 20)


async def test_b03_ip_permission_and_deleted_key_answer_2015(bsim):
    """B03 A key used from outside its allow list, a read-only key placing an order and a
    deleted key all get 401 -2015 "Invalid API-key, IP, or permissions for action."."""
    _, k_ip, s_ip = await create_key(bsim, ip_allowlist=("10.1.2.3",))
    _, k_ro, s_ro = await create_key(bsim, permissions=("read",))
    _, k_del, s_del = await create_key(bsim)
    bsim.keys.delete(k_del)
    for key, secret, method, path, params in (
        (k_ip, s_ip, "GET", "/api/v3/account", {}),
        (k_ro, s_ro, "POST", "/api/v3/order", LIMIT),
        (k_del, s_del, "GET", "/api/v3/account", {}),
    ):
        async with client(bsim, key, secret) as c:
            r = await c.signed(method, path, params)
            assert is_error(r, 401, -2015), (path, r)
            assert r.body["msg"] == "Invalid API-key, IP, or permissions for action."
    async with client(bsim, k_ro, s_ro) as c:
        assert (await c.signed("GET", "/api/v3/account")).status == 200


# =============================================================================== orders


async def test_b04_order_errors_have_binance_codes(bsim):
    """B04 unknown symbol -1121, off-tick price -1013 PRICE_FILTER, tiny value -1013
    NOTIONAL, insufficient balance -2010, duplicate client id -2010, LIMIT without
    timeInForce -1102, LIMIT_MAKER that would take -2010, query unknown -2013, cancel unknown
    -2011; every one HTTP 400 with {code,msg}."""
    _, key, secret = await create_key(bsim, balances={"USDT": "100", "XRP": "100"})
    async with client(bsim, key, secret) as c:
        cases = [
            ({**LIMIT, "symbol": "NOPEUSDT"}, -1121, "Invalid symbol."),
            ({**LIMIT, "price": "0.49001"}, -1013, "Filter failure: PRICE_FILTER"),
            ({**LIMIT, "quantity": "1"}, -1013, "Filter failure: NOTIONAL"),
            ({**LIMIT, "quantity": "1000"}, -2010,
             "Account has insufficient balance for requested action."),
            ({k: v for k, v in LIMIT.items() if k != "timeInForce"}, -1102, "timeInForce"),
            ({**{k: v for k, v in LIMIT.items() if k != "timeInForce"}, "type": "LIMIT_MAKER",
              "price": "0.5400"}, -2010, "Order would immediately match and take."),
        ]
        for params, code, text in cases:
            r = await c.signed("POST", "/api/v3/order", params)
            assert is_error(r, 400, code), (params, r)
            assert text in r.body["msg"]
        ok = await c.signed("POST", "/api/v3/order", {**LIMIT, "newClientOrderId": "dup-1"})
        assert ok.status == 200 and ok.body["status"] == "NEW" and ok.body["fills"] == []
        r = await c.signed("POST", "/api/v3/order", {**LIMIT, "newClientOrderId": "dup-1"})
        assert is_error(r, 400, -2010) and r.body["msg"] == "Duplicate order sent."
        r = await c.signed("GET", "/api/v3/order", {"symbol": "XRPUSDT", "orderId": 1})
        assert is_error(r, 400, -2013) and r.body["msg"] == "Order does not exist."
        r = await c.signed("DELETE", "/api/v3/order", {"symbol": "XRPUSDT", "orderId": 1})
        assert is_error(r, 400, -2011) and r.body["msg"] == "Unknown order sent."


async def test_b05_ioc_remainder_and_market_render_as_binance(bsim):
    """B05 An IOC that crosses fills what it can and EXPIRES the rest; FULL answers carry the
    fills; a LIMIT_MAKER that rests is reported as LIMIT_MAKER."""
    _, key, secret = await create_key(bsim)
    async with client(bsim, key, secret) as c:
        r = await c.signed("POST", "/api/v3/order", {**LIMIT, "timeInForce": "IOC",
                                                     "price": "0.5005", "quantity": "5000"})
        assert r.status == 200, r
        assert r.body["status"] == "EXPIRED" and Decimal(r.body["executedQty"]) > 0
        assert r.body["fills"] and all(f["price"] == "0.50050000" for f in r.body["fills"])
        mk = await c.signed("POST", "/api/v3/order", {"symbol": "XRPUSDT", "side": "SELL",
                                                      "type": "LIMIT_MAKER", "quantity": "10",
                                                      "price": "0.5400"})
        assert mk.status == 200 and mk.body["type"] == "LIMIT_MAKER"
        q = await c.signed("GET", "/api/v3/order", {"symbol": "XRPUSDT",
                                                    "orderId": mk.body["orderId"]})
        assert q.body["type"] == "LIMIT_MAKER" and q.body["status"] == "NEW"


async def test_b06_new_orders_are_limited_per_account_as_binance_documents():
    """B06 ORDERS 100 per 10 s per account: the 101st new order is 429 -1015; cancels and
    reads are not charged as orders."""
    async with SimServer(dialect="binance", exchange=Exchange(clock=ManualClock(DOCS_TS)),
                         seed_books=False) as sim:
        _, key, secret = await create_key(sim, balances={"USDT": "100000"})
        async with client(sim, key, secret) as c:
            ids = []
            for _ in range(100):
                r = await c.signed("POST", "/api/v3/order", LIMIT)
                assert r.status == 200, r
                ids.append(r.body["orderId"])
            r = await c.signed("POST", "/api/v3/order", LIMIT)
            assert is_error(r, 429, -1015)
            assert (await c.signed("DELETE", "/api/v3/order",
                                   {"symbol": "XRPUSDT", "orderId": ids[0]})).status == 200
            sim.exchange.clock.advance(10_001)
            assert (await c.signed("POST", "/api/v3/order", LIMIT)).status == 200


# =============================================================================== apiRestrictions


async def test_b07_api_restrictions_reports_the_key_switches(bsim):
    """B07 GET /sapi/v1/account/apiRestrictions answers Binance's documented fields from the
    key's permissions and IP allow list (the guide's key; withdraw, futures and transfer
    keys; an unrestricted key with its trading authority expiry)."""
    fields = {"ipRestrict", "createTime", "enableReading", "enableWithdrawals",
              "enableInternalTransfer", "enableMargin", "enableFutures",
              "permitsUniversalTransfer", "enableVanillaOptions", "enableSpotAndMarginTrading"}
    variants = {
        "guide": (("read", "trade"), ("127.0.0.1",)),
        "withdraw": (("read", "trade", "withdraw"), ("127.0.0.1",)),
        "futures": (("read", "trade", "futures"), ("127.0.0.1",)),
        "transfer": (("read", "trade", "transfer"), ("127.0.0.1",)),
        "open": (("read", "trade"), ()),
    }
    answers = {}
    for name, (perms, ips) in variants.items():
        _, key, secret = await create_key(bsim, permissions=perms, ip_allowlist=ips)
        async with client(bsim, key, secret) as c:
            r = await c.signed("GET", "/sapi/v1/account/apiRestrictions")
            assert r.status == 200, r
            assert fields <= set(r.body)
            answers[name] = r.body
    guide = answers["guide"]
    assert guide["ipRestrict"] is True and guide["enableReading"] is True
    assert guide["enableSpotAndMarginTrading"] is True
    assert not any(guide[f] for f in ("enableWithdrawals", "enableInternalTransfer",
                                      "enableFutures", "permitsUniversalTransfer",
                                      "enableMargin", "enableVanillaOptions"))
    assert "tradingAuthorityExpirationTime" not in guide
    assert answers["withdraw"]["enableWithdrawals"] is True
    assert answers["futures"]["enableFutures"] is True
    assert answers["transfer"]["enableInternalTransfer"] is True
    assert answers["transfer"]["permitsUniversalTransfer"] is True
    assert answers["open"]["ipRestrict"] is False
    assert answers["open"]["tradingAuthorityExpirationTime"] > answers["open"]["createTime"]


# =============================================================================== ccxt


async def test_b08_ccxt_binance_rest_unchanged(bsim):
    """B08 ccxt's binance client loads markets (exchangeInfo filters -> precision and limits),
    fetches the book, creates, fetches and cancels an order, fetches balance and trades, and
    maps the sim's errors onto its own classes (OrderNotFound, InsufficientFunds,
    OrderImmediatelyFillable, BadRequest for -1013, AuthenticationError for -2015)."""
    _, key, secret = await create_key(bsim)
    ex = binance_client(bsim, key, secret)
    try:
        markets = await ex.load_markets()
        xrp = markets["XRP/USDT"]
        assert xrp["spot"] and xrp["precision"]["price"] == 0.0001
        assert xrp["precision"]["amount"] == 0.1 and xrp["limits"]["cost"]["min"] == 1.0
        book = await ex.fetch_order_book("XRP/USDT")
        assert book["bids"][0][0] < book["asks"][0][0]
        order = await ex.create_order("XRP/USDT", "limit", "buy", 10, 0.49,
                                      {"clientOrderId": "lb-b08"})
        assert order["clientOrderId"] == "lb-b08" and order["status"] == "open"
        assert (await ex.fetch_order(order["id"], "XRP/USDT"))["status"] == "open"
        assert [o["id"] for o in await ex.fetch_open_orders("XRP/USDT")] == [order["id"]]
        balance = await ex.fetch_balance()
        assert balance["USDT"]["used"] == 4.9 and balance["USDT"]["total"] == 10000
        assert (await ex.cancel_order(order["id"], "XRP/USDT"))["status"] == "canceled"
        with pytest.raises(ccxt_errors.OrderNotFound):
            await ex.cancel_order(order["id"], "XRP/USDT")
        taken = await ex.create_order("XRP/USDT", "limit", "buy", 10, 0.51)
        assert taken["status"] == "closed" and taken["filled"] == 10
        trades = await ex.fetch_my_trades("XRP/USDT")
        assert [t["order"] for t in trades] == [taken["id"]]
        assert trades[0]["info"]["price"] == "0.50050000"
        with pytest.raises(ccxt_errors.InsufficientFunds):
            await ex.create_order("XRP/USDT", "limit", "buy", 100000, 0.49)
        with pytest.raises(ccxt_errors.OrderImmediatelyFillable):
            await ex.create_order("XRP/USDT", "limit", "buy", 10, 0.54, {"postOnly": True})
        with pytest.raises(ccxt_errors.BadRequest, match="NOTIONAL"):  # ccxt: -1013
            await ex.create_order("XRP/USDT", "limit", "buy", 1, 0.49)
    finally:
        await ex.close()
    _, ro_key, ro_secret = await create_key(bsim, permissions=("read",))
    ro = binance_client(bsim, ro_key, ro_secret)
    try:
        with pytest.raises(ccxt_errors.AuthenticationError):
            await ro.create_order("XRP/USDT", "limit", "buy", 10, 0.49)
    finally:
        await ro.close()


async def test_b09_ccxt_pro_book_matches_rest_after_changes(bsim):
    """B09 ccxt.pro's watch_order_book (diff stream + REST snapshot by update id) ends equal
    to the REST book after a series of placements, trades and cancels."""
    _, key, secret = await create_key(bsim)
    ex = binance_client(bsim, key, secret)
    try:
        await ex.watch_order_book("XRP/USDT")
        placed = []
        for i in range(6):
            placed.append(await ex.create_order("XRP/USDT", "limit", "buy", 10 + i,
                                                0.4980 - i * 0.0001))
        await ex.create_order("XRP/USDT", "limit", "buy", 300, 0.5010)  # takes two levels
        for order in placed[::2]:
            await ex.cancel_order(order["id"], "XRP/USDT")
        rest = await ex.fetch_order_book("XRP/USDT", 1000)
        book = ex.orderbooks["XRP/USDT"]  # the diffs may all be applied already
        while book["nonce"] < rest["nonce"]:
            book = await asyncio.wait_for(ex.watch_order_book("XRP/USDT"), 10)
        assert book["nonce"] == rest["nonce"]
        book = book.limit()
        assert book["bids"] == rest["bids"] and book["asks"] == rest["asks"]
    finally:
        await ex.close()


async def test_b10_ccxt_pro_watch_orders_sees_new_fill_and_cancel(bsim):
    """B10 watch_orders (WS API userDataStream.subscribe.signature) sees our order's NEW,
    its partial fill by another account and its cancel, in that order."""
    _, key, secret = await create_key(bsim)
    _, other_key, other_secret = await create_key(bsim)
    ex = binance_client(bsim, key, secret)
    other = binance_client(bsim, other_key, other_secret)
    try:
        await ex.load_markets()
        seen: list[tuple[str, float]] = []
        watcher = asyncio.create_task(_collect(ex, seen, 3))
        await asyncio.sleep(0.3)
        order = await ex.create_order("XRP/USDT", "limit", "sell", 20, 0.5002)
        await other.create_order("XRP/USDT", "limit", "buy", 5, 0.5002)
        await ex.cancel_order(order["id"], "XRP/USDT")
        await asyncio.wait_for(watcher, 10)
        assert seen == [("open", 0.0), ("open", 5.0), ("canceled", 5.0)]
    finally:
        await ex.close()
        await other.close()


async def _collect(ex, seen: list, n: int) -> None:
    while len(seen) < n:
        for o in await ex.watch_orders("XRP/USDT"):
            seen.append((o["status"], o["filled"]))


async def test_b11_listen_key_stream_and_its_expiry(bsim):
    """B11 The listen-key user stream (POST /api/v3/userDataStream, /ws/<listenKey>) pushes
    executionReport and outboundAccountPosition; deleting the key sends listenKeyExpired."""
    _, key, secret = await create_key(bsim)
    async with client(bsim, key, secret) as c:
        lk = (await c.public("/api/v3/userDataStream", method="POST")).body["listenKey"]
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(f"{bsim.ws_url}/ws/{lk}") as ws:
                r = await c.signed("POST", "/api/v3/order", {**LIMIT, "newClientOrderId": "b11"})
                assert r.status == 200
                events = [json.loads((await ws.receive(timeout=5)).data) for _ in range(2)]
                kinds = {e["e"]: e for e in events}
                report = kinds["executionReport"]
                assert report["c"] == "b11" and report["x"] == "NEW" and report["X"] == "NEW"
                assert report["q"] == "10.00000000" and report["p"] == "0.49000000"
                position = kinds["outboundAccountPosition"]
                assert {"a": "USDT", "f": "9995.10000000", "l": "4.90000000"} in position["B"]
                r = await c.raw("DELETE", "/api/v3/userDataStream", f"listenKey={lk}", None,
                                {"X-MBX-APIKEY": key})
                assert r.status == 200
                expired = json.loads((await ws.receive(timeout=5)).data)
                assert expired["e"] == "listenKeyExpired"
                assert (await ws.receive(timeout=5)).type in (aiohttp.WSMsgType.CLOSE,
                                                              aiohttp.WSMsgType.CLOSED)


async def test_b12_faults_from_a_bitrue_profile_apply_to_binance_paths(tmp_path: Path):
    """B12 A fault profile naming Bitrue's order path drives /api/v3/order too: an order sent
    under a 100 % accepted-unknown-outcome fault answers 5xx -1001 yet exists."""
    profile = tmp_path / "uo.toml"
    profile.write_text('[unknown_outcome]\nprobability = 1.0\naccepted_probability = 1.0\n'
                       'statuses = [503]\nmethods = ["POST"]\npaths = ["/api/v1/order"]\n')
    async with SimServer(dialect="binance", faults_path=profile) as sim:
        account, key, secret = await create_key(sim)
        async with client(sim, key, secret) as c:
            r = await c.signed("POST", "/api/v3/order", {**LIMIT, "newClientOrderId": "uo-1"})
            assert is_error(r, 503, -1001)
            q = await c.signed("GET", "/api/v3/order", {"symbol": "XRPUSDT",
                                                        "origClientOrderId": "uo-1"})
            assert q.status == 200 and q.body["status"] == "NEW"


async def test_b13_ccxt_ticker_and_cancel_all(bsim):
    """B13 ccxt's fetch_ticker reads /api/v3/ticker/24hr (one object for one symbol) and
    cancel_all_orders cancels every open order of the symbol (then -2011: none left)."""
    _, key, secret = await create_key(bsim)
    ex = binance_client(bsim, key, secret)
    try:
        ticker = await ex.fetch_ticker("XRP/USDT")
        assert ticker["symbol"] == "XRP/USDT" and ticker["last"] == 0.5
        for price in (0.49, 0.48):
            await ex.create_order("XRP/USDT", "limit", "buy", 10, price)
        canceled = await ex.cancel_all_orders("XRP/USDT")
        assert sorted(o["status"] for o in canceled) == ["canceled", "canceled"]
        assert await ex.fetch_open_orders("XRP/USDT") == []
        with pytest.raises(ccxt_errors.OrderNotFound):
            await ex.cancel_all_orders("XRP/USDT")
    finally:
        await ex.close()
