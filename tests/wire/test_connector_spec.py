"""The Bitrue connector's numbered test spec, each case over loopback against the simulator.

C01 place                      C02 partial fill            C03 fill
C04 cancel                     C05 cancel racing a fill    C06 query by client id
C07 unknown outcome: accepted  C08 unknown outcome: never executed
C09 429 and recovery, no ban   C10 ban respected (nothing sent)
C11 clock skew corrected       C12 IP not allowed from a wrong source address
C13 account quirks decode      C14 listen key create/keep-alive/close on the listen-key host
C15 futures read is signed and refused without the permission
Continued in: test_connector_streams.py (C16-C20: market stream, stalls, listen keys, user
stream loss and REST fallback), test_connector_canary.py (C21: no credential in any log),
test_connector_transport.py (C22-C25: timeouts, resets, unreadable answers, nothing listening),
test_connector_venue.py (C26-C27: the venue port end to end), test_connector_http.py (C28-C40:
the lean HTTP transport: keep-alive, framing, stale connections, TLS, source address).
"""

from __future__ import annotations

import asyncio
import sys
from decimal import Decimal
from pathlib import Path

import aiohttp
import pytest

from bitrue_sim.ratelimit import Policy as SimPolicy
from liquidity_bot.venues.bitrue.errors import (
    InvalidTimestamp,
    IpBanned,
    IpNotAllowed,
    ListenKeyInvalid,
    OrderNotFound,
    PermissionDenied,
    RateLimited,
    UnknownOutcome,
)
from liquidity_bot.venues.bitrue.rest import BitrueRestClient

sys.path.insert(0, str(Path(__file__).parent))
from _connector_helpers import SYMBOL, TICK, best_bid_ask, client_for  # noqa: E402
from conftest import admin_call  # noqa: E402


@pytest.fixture
async def trader(sim, make_key):
    _, key, secret = await make_key(sim, permissions=("read", "trade"))
    async with client_for(sim, key, secret) as client:
        yield client


@pytest.fixture
async def taker(sim, make_key):
    _, key, secret = await make_key(sim, permissions=("read", "trade"))
    async with client_for(sim, key, secret) as client:
        yield client


async def rest_bid(client: BitrueRestClient, cid: str, qty: str = "10"):
    """A buy that becomes the best bid without crossing."""
    bid, ask = await best_bid_ask(client)
    price = bid + TICK
    assert price < ask
    ack = await client.place_order(SYMBOL, "BUY", Decimal(qty), price, client_order_id=cid)
    return ack, price


async def test_c01_place(trader):
    """C01 place: the ack carries the exact 64-bit order id and our client id; the order rests."""
    ack, price = await rest_bid(trader, "c01")
    assert ack.clientOrderId == "c01" and ack.orderId and ack.orderId > 2**53
    order = await trader.get_order(SYMBOL, order_id=ack.orderId)
    assert order.status == "NEW" and order.price == price and order.origQty == Decimal(10)
    assert [o.orderId for o in await trader.open_orders(SYMBOL)] == [ack.orderId]


async def test_c02_partial_fill(trader, taker):
    """C02 partial fill: executedQty and myTrades show exactly the traded part."""
    ack, price = await rest_bid(trader, "c02")
    await taker.place_order(SYMBOL, "SELL", Decimal(4), price)
    order = await trader.get_order(SYMBOL, client_order_id="c02")
    assert order.status == "PARTIALLY_FILLED" and order.executedQty == Decimal(4)
    trades = await trader.my_trades(SYMBOL)
    assert [(t.orderId, t.qty, t.price, t.isBuyer) for t in trades] == [
        (ack.orderId, Decimal(4), price, True)
    ]
    assert trades[0].commissionAsset and trades[0].commissionAsset.isupper()


async def test_c03_fill(trader, taker):
    """C03 fill: the rest of the order trades; FILLED, gone from open orders, fills sum up."""
    ack, price = await rest_bid(trader, "c03")
    await taker.place_order(SYMBOL, "SELL", Decimal(4), price)
    await taker.place_order(SYMBOL, "SELL", Decimal(6), price)
    order = await trader.get_order(SYMBOL, client_order_id="c03")
    assert order.status == "FILLED" and order.executedQty == Decimal(10)
    assert await trader.open_orders(SYMBOL) == []
    trades = await trader.my_trades(SYMBOL)
    assert sum(t.qty for t in trades) == Decimal(10)
    assert len({t.id for t in trades}) == 2
    later = await trader.my_trades(SYMBOL, from_id=max(t.id for t in trades))
    assert [t.id for t in later] == [max(t.id for t in trades)]  # fromId is inclusive


async def test_c04_cancel(trader):
    """C04 cancel: by order id and by client id; a second cancel is OrderNotFound (HTTP 200)."""
    a1, _ = await rest_bid(trader, "c04a")
    a2, _ = await rest_bid(trader, "c04b")
    c1 = await trader.cancel_order(SYMBOL, order_id=a1.orderId)
    c2 = await trader.cancel_order(SYMBOL, client_order_id="c04b")
    assert c1.orderId == a1.orderId and c2.orderId == a2.orderId
    assert (await trader.get_order(SYMBOL, client_order_id="c04a")).status == "CANCELED"
    with pytest.raises(OrderNotFound) as exc:
        await trader.cancel_order(SYMBOL, order_id=a1.orderId)
    assert exc.value.code == -2013 and exc.value.http_status == 200


async def test_c05_cancel_racing_a_fill(trader, taker):
    """C05 cancel racing a fill: the fill wins, the cancel is refused, the query tells the truth."""
    ack, price = await rest_bid(trader, "c05")
    fill = taker.place_order(SYMBOL, "SELL", Decimal(10), price)
    cancel = trader.cancel_order(SYMBOL, client_order_id="c05")
    results = await asyncio.gather(fill, cancel, return_exceptions=True)
    order = await trader.get_order(SYMBOL, client_order_id="c05")
    if isinstance(results[1], OrderNotFound):  # the fill arrived first
        assert order.status == "FILLED"
    else:  # the cancel arrived first: nothing traded, the taker's order rests or took others
        assert order.status == "CANCELED" and order.executedQty == 0
    # Either way, a cancel after the fill is refused as not found, never an error of ours.
    with pytest.raises(OrderNotFound):
        await trader.cancel_order(SYMBOL, client_order_id="c05")


async def test_c06_query_by_client_id(trader):
    """C06 query by client id gives the same order as by order id; unknown ids are NotFound."""
    ack, _ = await rest_bid(trader, "c06")
    by_cid = await trader.get_order(SYMBOL, client_order_id="c06")
    by_id = await trader.get_order(SYMBOL, order_id=ack.orderId)
    assert by_cid == by_id
    with pytest.raises(OrderNotFound):
        await trader.get_order(SYMBOL, client_order_id="never-sent")


async def _faults(sim, profile: dict) -> None:
    await admin_call(sim, "POST", "/sim/admin/faults", profile)


async def test_c07_unknown_outcome_resolved_as_placed(sim, trader):
    """C07 a 5xx on place is UnknownOutcome; querying by client id finds the order placed."""
    bid, _ = await best_bid_ask(trader)
    await _faults(sim, {"unknown_outcome": {"probability": 1.0, "accepted_probability": 1.0}})
    with pytest.raises(UnknownOutcome) as exc:
        await trader.place_order(SYMBOL, "BUY", Decimal(10), bid, client_order_id="c07")
    assert "client order id" in str(exc.value) and exc.value.http_status in (500, 503)
    await _faults(sim, {})
    order = await trader.get_order(SYMBOL, client_order_id="c07")
    assert order.status == "NEW"


async def test_c08_unknown_outcome_resolved_as_not_placed(sim, trader):
    """C08 a 5xx on place that never executed: the query says not found, so it is safe to retry."""
    bid, _ = await best_bid_ask(trader)
    await _faults(sim, {"unknown_outcome": {"probability": 1.0, "accepted_probability": 0.0}})
    with pytest.raises(UnknownOutcome):
        await trader.place_order(SYMBOL, "BUY", Decimal(10), bid, client_order_id="c08")
    # Reads are never "unknown": the fault only hits order-changing calls.
    await trader.account()
    await _faults(sim, {})
    with pytest.raises(OrderNotFound):
        await trader.get_order(SYMBOL, client_order_id="c08")
    ack = await trader.place_order(SYMBOL, "BUY", Decimal(10), bid, client_order_id="c08")
    assert ack.clientOrderId == "c08"


async def test_c09_429_and_recovery_without_a_ban(sim, make_key):
    """C09 the exchange limits orders harder than advertised: one 429, the client pauses for
    Retry-After (sending nothing, not even reads), then carries on; the IP is never banned."""
    limiter = sim.rate_limiter
    _, key, secret = await make_key(sim)
    async with client_for(sim, key, secret) as c:
        await c.exchange_info()  # the governor learns the advertised limits (100 orders/min)
        limiter.ban_scale = 0.02  # windows 1.2 s, bans 2.4 s
        limiter.policies = tuple(  # ...but the exchange now enforces 3
            SimPolicy(p.id, p.scope, p.category, 3, p.time_count, p.time_unit)
            if p.category == "orders"
            else p
            for p in limiter.policies
        )
        bid, _ = await best_bid_ask(c)
        for i in range(3):
            await c.place_order(SYMBOL, "BUY", Decimal(3), bid, client_order_id=f"c09-{i}")
        with pytest.raises(RateLimited) as exc:
            await c.place_order(SYMBOL, "BUY", Decimal(3), bid, client_order_id="c09-x")
        assert exc.value.policy.startswith("orders_") and exc.value.retry_after_s is not None
        assert (
            c.governor.headroom()[exc.value.policy][0] == c.governor.headroom()[exc.value.policy][1]
        )
        await c.account()  # paced: waits out Retry-After instead of earning a ban
        await c.place_order(SYMBOL, "BUY", Decimal(3), bid, client_order_id="c09-y")
    assert limiter.counters["bans"] == 0 and limiter.banned_until("127.0.0.1") is None
    assert limiter.counters["429"] == 1


async def test_c10_ban_respected(sim, make_key):
    """C10 after a ban the client sends nothing until it ends (the server sees no new request)."""
    limiter = sim.rate_limiter
    limiter.ban_scale = 0.02
    limiter.policies = tuple(
        SimPolicy(p.id, p.scope, p.category, 2, p.time_count, p.time_unit)
        if p.category == "general"
        else p
        for p in limiter.policies
    )
    _, key, secret = await make_key(sim)
    # Another program on this IP ignores the 429 and gets the IP banned.
    async with aiohttp.ClientSession() as raw:
        statuses = []
        for _ in range(4):
            async with raw.get(sim.base_url + "/api/v1/time") as resp:
                statuses.append(resp.status)
    assert statuses[-1] == 418
    async with client_for(sim, key, secret) as c:
        with pytest.raises(IpBanned) as first:
            await c.ping()
        assert first.value.until_ms is not None
        seen = limiter.counters["418"]
        for _ in range(3):
            with pytest.raises(IpBanned, match="sends nothing"):
                await c.ping()
        assert limiter.counters["418"] == seen  # nothing reached the server
        assert c.governor.banned()


async def test_c11_clock_skew_corrected(sim, trader):
    """C11 the server clock jumps 30 s: a read re-syncs and retries once; a write re-syncs and
    reports InvalidTimestamp (it was refused before acting), and works when sent again."""
    await trader.sync_clock()
    assert abs(trader.clock_offset_ms) < 1000
    sim.exchange.clock.skew_ms = 30_000
    account = await trader.account()
    assert account.balances
    assert 29_000 < trader.clock_offset_ms < 31_000
    sim.exchange.clock.skew_ms = -30_000
    bid, _ = await best_bid_ask(trader)
    with pytest.raises(InvalidTimestamp):
        await trader.place_order(SYMBOL, "BUY", Decimal(3), bid, client_order_id="c11")
    assert -31_000 < trader.clock_offset_ms < -29_000
    ack = await trader.place_order(SYMBOL, "BUY", Decimal(3), bid, client_order_id="c11")
    assert ack.clientOrderId == "c11"


async def test_c12_ip_not_allowed_from_wrong_source(sim, make_key):
    """C12 a key allow-listed for 127.0.0.1 is refused from 127.0.0.2 (bound source address)."""
    _, key, secret = await make_key(sim, ip_allowlist=("127.0.0.1",))
    async with client_for(sim, key, secret, source_address="127.0.0.2") as wrong:
        with pytest.raises(IpNotAllowed) as exc:
            await wrong.account()
        assert secret not in str(exc.value) and "allow list" in str(exc.value)
    async with client_for(sim, key, secret, source_address="127.0.0.1") as right:
        assert (await right.account()).balances


async def test_c13_account_and_exchange_info_decode(trader):
    """C13 account balances and exchangeInfo decode to Decimals; the governor adopts the limits."""
    info = await trader.exchange_info()
    assert info.symbol(SYMBOL).filter("LOT_SIZE").stepSize > 0
    assert {p.name for p in trader.governor.policies} >= {"general", "orders_user_seconds"}
    acct = await trader.account()
    assert acct.balance("usdt").free == Decimal("10000")
    tickers = await trader.ticker_24hr(SYMBOL)
    assert [t.symbol for t in tickers] == [SYMBOL]


async def test_c14_listen_key_lifecycle(trader):
    """C14 listen key: create (same key while active), keep-alive, close, then refused."""
    k1 = await trader.create_listen_key()
    assert k1 == await trader.create_listen_key()
    await trader.keepalive_listen_key(k1)
    await trader.close_listen_key(k1)
    with pytest.raises(ListenKeyInvalid) as exc:
        await trader.keepalive_listen_key(k1)
    assert k1 not in str(exc.value)


async def test_c15_futures_read_refused_without_permission(sim, make_key):
    """C15 futures signing reaches the server (no signature error) and the missing permission
    is PermissionDenied; with the permission the signed read succeeds."""
    _, key, secret = await make_key(sim, permissions=("read",))
    async with client_for(sim, key, secret) as c:
        with pytest.raises(PermissionDenied) as exc:
            await c.futures_account()
        assert exc.value.code == -2015
    _, key, secret = await make_key(sim, permissions=("read", "futures"))
    async with client_for(sim, key, secret) as c:
        assert isinstance(await c.futures_account(), dict)
