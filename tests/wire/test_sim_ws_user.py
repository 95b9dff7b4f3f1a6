"""Simulator user WebSocket (/stream?listenKey=) over real loopback sockets.

U01 a missing or unknown listen key is refused at the handshake with the documented codes
U02 sub/unsub acknowledgements have the documented shapes; unknown channels get an error
U03 an ORDER event for every transition: created, partially filled, filled, cancelled by user,
    cancelled by engine, with the documented numeric enums and fields
U04 BALANCE events: order events vs trade events, free/locked values and deltas
U05 partial balance entries (free only / locked only) and full entries, chosen by the seed
U06 a deleted listen key closes the stream; so does an expired one
U07 keep-alive: pongs keep the stream open; a silent client is disconnected
U08 a connection is closed at the lifetime limit even when it keeps sending pongs
"""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal

import aiohttp
import pytest
from aiohttp import WSMsgType

from bitrue_sim.server.runner import SimServer
from bitrue_sim.ws import HUB_KEY

RECEIVE_TIMEOUT = 10.0
BIG = {"USDT": "1000000", "XRP": "1000000", "NOVA": "100000000", "BTC": "10"}


def account(sim, balances: dict[str, str] | None = None) -> int:
    return sim.exchange.create_account({k: Decimal(v) for k, v in (balances or BIG).items()})


async def listen_key(session: aiohttp.ClientSession, sim, api_key: str) -> str:
    async with session.post(sim.base_url + "/poseidon/api/v1/listenKey",
                            headers={"X-MBX-APIKEY": api_key}) as resp:
        body = await resp.json(content_type=None)
        assert resp.status == 200, body
        return body["data"]["listenKey"]


async def recv(ws) -> dict:
    msg = await ws.receive(timeout=RECEIVE_TIMEOUT)
    assert msg.type == WSMsgType.TEXT, f"expected a text frame, got {msg.type} {msg.data!r}"
    return json.loads(msg.data)


async def open_stream(session, sim, key: str, *channels: str):
    ws = await session.ws_connect(f"{sim.ws_url}/stream?listenKey={key}")
    for channel in channels:
        await ws.send_json({"event": "sub", "params": {"channel": channel}})
        ack = await recv(ws)
        assert ack == {"channel": channel, "event_rep": "subed", "status": "ok", "ts": ack["ts"]}
    return ws


async def until_closed(ws) -> list[dict]:
    """Read until the server closes; returns the JSON messages seen before."""
    seen = []
    while True:
        msg = await ws.receive(timeout=RECEIVE_TIMEOUT)
        if msg.type != WSMsgType.TEXT:
            assert msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.CLOSING), msg
            return seen
        seen.append(json.loads(msg.data))


async def test_u01_bad_listen_keys_are_refused(sim):
    async with aiohttp.ClientSession() as session:
        for query, code in (("", -1102), ("?listenKey=" + "ab" * 32, -1150)):
            async with session.get(sim.base_url + "/stream" + query) as resp:
                assert resp.status == 400
                assert (await resp.json())["code"] == code
            with pytest.raises(aiohttp.WSServerHandshakeError) as info:
                await session.ws_connect(sim.ws_url + "/stream" + query)
            assert info.value.status == 400


async def test_u02_sub_unsub_acks(sim, make_key):
    account_id, api_key, _ = await make_key(sim)
    async with aiohttp.ClientSession() as session:
        key = await listen_key(session, sim, api_key)
        ws = await open_stream(session, sim, key, "user_order_update", "user_balance_update")
        for channel in ("user_order_update", "user_balance_update"):
            await ws.send_json({"event": "unsub", "params": {"channel": channel}})
            ack = await recv(ws)
            assert ack == {"channel": channel, "status": "ok", "ts": ack["ts"]}
        await ws.send_json({"event": "sub", "params": {"channel": "user_trade_update"}})
        error = await recv(ws)
        assert error["status"] == "error" and error["channel"] == "user_trade_update"
        await ws.send_str("{broken")
        assert (await recv(ws))["status"] == "error"
        await ws.send_json({"event": "pong", "ts": "1"})  # keep-alive: no answer expected
        await ws.send_json({"event": "sub", "params": {"channel": "user_order_update"}})
        assert (await recv(ws))["event_rep"] == "subed"
        await ws.close()


def check_order_fields(event: dict) -> None:
    assert event["e"] == "ORDER"
    for name in ("q", "p", "l", "L", "z", "Y", "n"):
        assert isinstance(event[name], str), name
        Decimal(event[name])
    for name in ("S", "o", "x", "X", "i", "E", "T", "O", "t", "u"):
        assert isinstance(event[name], int), name
    assert isinstance(event["I"], str) and isinstance(event["c"], str)
    assert event["C"] == event["c"]
    assert event["s"] == event["s"].lower()


async def test_u03_order_event_for_every_transition(sim, make_key):
    account_id, api_key, _ = await make_key(sim, balances=BIG)
    other = account(sim)
    ex = sim.exchange
    async with aiohttp.ClientSession() as session:
        key = await listen_key(session, sim, api_key)
        ws = await open_stream(session, sim, key, "user_order_update")
        best_bid = ex.depth("XRPUSDT", 1)[0][0][0]
        price = best_bid + Decimal("0.0001")
        ex.place_order(account_id, "XRPUSDT", "BUY", "LIMIT", Decimal("100"), price, "cid-1")
        created = await recv(ws)
        ex.place_order(other, "XRPUSDT", "SELL", "LIMIT", Decimal("30"), price)
        partial = await recv(ws)
        ex.place_order(other, "XRPUSDT", "SELL", "LIMIT", Decimal("70"), price)
        filled = await recv(ws)
        ex.place_order(account_id, "XRPUSDT", "SELL", "LIMIT", Decimal("10"),
                       Decimal("0.54"), "cid-2")
        created2 = await recv(ws)
        ex.cancel_order(account_id, "XRPUSDT", client_order_id="cid-2")
        cancelled = await recv(ws)
        # a MARKET buy larger than the whole ask side: the engine cancels the rest
        asks = ex.depth("NOVAUSDT", 1000)[1]
        total = sum(q for _, q in asks)
        ex.place_order(account_id, "NOVAUSDT", "BUY", "MARKET", total + 1000, None, "cid-3")
        market_events = [await recv(ws)]
        while market_events[-1]["x"] != 4 and len(market_events) < 10_000:
            market_events.append(await recv(ws))
        await ws.close()

    for event in (created, partial, filled, created2, cancelled, *market_events):
        check_order_fields(event)
    assert (created["x"], created["X"], created["c"], created["S"], created["o"]) == (
        1, 1, "cid-1", 1, 1)
    assert created["s"] == "xrpusdt" and created["u"] == account_id
    assert Decimal(created["q"]) == 100 and Decimal(created["p"]) == price
    assert created["t"] == -1 and Decimal(created["z"]) == 0

    assert (partial["x"], partial["X"]) == (3, 3)
    assert Decimal(partial["l"]) == 30 and Decimal(partial["L"]) == price
    assert Decimal(partial["z"]) == 30 and Decimal(partial["Y"]) == 30 * price
    assert partial["t"] > 0 and partial["N"] == "xrp"
    assert Decimal(partial["n"]) == Decimal(30) * Decimal("0.002")  # maker fee in base

    assert (filled["x"], filled["X"]) == (3, 2)
    assert Decimal(filled["z"]) == 100 and Decimal(filled["l"]) == 70
    assert filled["t"] > partial["t"] and filled["i"] == created["i"] > 2**53

    assert (created2["x"], created2["X"], created2["S"]) == (1, 1, 2)
    assert (cancelled["x"], cancelled["X"], cancelled["c"]) == (2, 4, "cid-2")

    market_new, *fills, engine_cancel = market_events
    assert (market_new["x"], market_new["X"], market_new["o"]) == (1, 1, 2)
    assert [(f["x"], f["X"]) for f in fills] == [(3, 3)] * len(fills)
    assert (engine_cancel["x"], engine_cancel["X"]) == (4, 4)
    assert Decimal(engine_cancel["z"]) == total


async def test_u04_balance_events(sim, make_key):
    account_id, api_key, _ = await make_key(sim, balances=BIG)
    sim.app[HUB_KEY].configure(balance_partial_probability=0.0)  # full entries only
    other = account(sim)
    ex = sim.exchange
    async with aiohttp.ClientSession() as session:
        key = await listen_key(session, sim, api_key)
        ws = await open_stream(session, sim, key, "user_balance_update")
        price = ex.depth("XRPUSDT", 1)[0][0][0] + Decimal("0.0001")
        ex.place_order(account_id, "XRPUSDT", "BUY", "LIMIT", Decimal("100"), price)
        placed = await recv(ws)
        ex.place_order(other, "XRPUSDT", "SELL", "LIMIT", Decimal("100"), price)
        traded = await recv(ws)
        await ws.close()

    assert placed["e"] == "BALANCE" and placed["x"] == "OutboundAccountPositionOrderEvent"
    assert placed["u"] == account_id and isinstance(placed["I"], str)
    (usdt,) = placed["B"]
    cost = 100 * price
    assert usdt["a"] == "usdt"
    assert Decimal(usdt["f"]) == -cost and Decimal(usdt["l"]) == cost
    assert Decimal(usdt["F"]) == Decimal(BIG["USDT"]) - cost and Decimal(usdt["L"]) == cost
    assert usdt["T"] % 1000 == 0 and usdt["T"] > 0 and usdt["t"] == usdt["T"]

    assert traded["x"] == "OutboundAccountPositionTradeEvent"
    entries = {e["a"]: e for e in traded["B"]}
    assert set(entries) == {"usdt", "xrp"}
    fee = Decimal(100) * Decimal("0.002")
    assert Decimal(entries["xrp"]["f"]) == 100 - fee and Decimal(entries["xrp"]["l"]) == 0
    assert Decimal(entries["usdt"]["l"]) == -cost and Decimal(entries["usdt"]["L"]) == 0
    balances = ex.balances(account_id)
    assert Decimal(entries["xrp"]["F"]) == balances["XRP"].free
    assert Decimal(entries["usdt"]["F"]) == balances["USDT"].free


async def _balance_forms(seed: int) -> list[tuple[str, tuple[str, ...]]]:
    """Entry key sets seen for a fixed sequence of trades on a server with ``seed``."""
    async with SimServer(seed=seed) as sim:
        ex = sim.exchange
        me, other = account(sim), account(sim)
        key = sim.listen_keys.open(me)
        forms = []
        async with aiohttp.ClientSession() as session:
            ws = await open_stream(session, sim, key, "user_balance_update")
            price = ex.depth("XRPUSDT", 1)[0][0][0] + Decimal("0.0001")
            for _ in range(12):
                ex.place_order(me, "XRPUSDT", "BUY", "LIMIT", Decimal("10"), price)
                await recv(ws)  # the order event: both sides of usdt move
                ex.place_order(other, "XRPUSDT", "SELL", "LIMIT", Decimal("10"), price)
                message = await recv(ws)
                forms += [(e["a"], tuple(sorted(e))) for e in message["B"]]
            await ws.close()
    return forms


async def test_u05_partial_entries_are_seeded():
    forms = await _balance_forms(seed=3)
    assert forms == await _balance_forms(seed=3)
    kinds = {keys for _, keys in forms}
    full = ("F", "L", "T", "a", "f", "l", "t")
    free_only = ("F", "T", "a", "f", "t")
    locked_only = ("L", "T", "a", "l", "t")
    assert kinds <= {full, free_only, locked_only}
    assert {full, free_only, locked_only} <= kinds  # 24 draws at p=0.5: all forms appear
    assert ("xrp", locked_only) not in forms  # the base only ever moves on the free side
    assert forms != await _balance_forms(seed=4)


async def test_u05b_partial_entry_values(sim):
    sim.app[HUB_KEY].configure(balance_partial_probability=1.0)
    ex = sim.exchange
    me, other = account(sim), account(sim)
    key = sim.listen_keys.open(me)
    async with aiohttp.ClientSession() as session:
        ws = await open_stream(session, sim, key, "user_balance_update")
        price = ex.depth("XRPUSDT", 1)[0][0][0] + Decimal("0.0001")
        ex.place_order(me, "XRPUSDT", "BUY", "LIMIT", Decimal("10"), price)
        await recv(ws)
        ex.place_order(other, "XRPUSDT", "SELL", "LIMIT", Decimal("10"), price)
        message = await recv(ws)
        await ws.close()
    entries = {e["a"]: e for e in message["B"]}
    xrp, usdt = entries["xrp"], entries["usdt"]
    assert set(xrp) == {"a", "F", "T", "f", "t"} and xrp["t"] == 0 and xrp["T"] > 0
    assert Decimal(xrp["F"]) == ex.balances(me)["XRP"].free
    assert set(usdt) == {"a", "L", "l", "t", "T"} and usdt["T"] == 0 and usdt["t"] > 0
    assert Decimal(usdt["L"]) == ex.balances(me)["USDT"].locked == 0


async def test_u06_deleted_or_expired_listen_key_closes_stream(sim, make_key):
    sim.app[HUB_KEY].configure(listen_key_check_s=0.05)
    account_id, api_key, _ = await make_key(sim)
    async with aiohttp.ClientSession() as session:
        key = await listen_key(session, sim, api_key)
        ws = await open_stream(session, sim, key, "user_order_update")
        async with session.delete(f"{sim.base_url}/poseidon/api/v1/listenKey/{key}",
                                  headers={"X-MBX-APIKEY": api_key}) as resp:
            assert resp.status == 200
        await until_closed(ws)
        assert ws.close_code == aiohttp.WSCloseCode.POLICY_VIOLATION

        key = await listen_key(session, sim, api_key)
        ws = await open_stream(session, sim, key, "user_order_update")
        sim.exchange.clock.skew_ms += 61 * 60 * 1000  # the key's 60 minutes pass
        try:
            await until_closed(ws)
        finally:
            sim.exchange.clock.skew_ms -= 61 * 60 * 1000
        assert ws.close_code == aiohttp.WSCloseCode.POLICY_VIOLATION
        with pytest.raises(aiohttp.WSServerHandshakeError):
            await session.ws_connect(f"{sim.ws_url}/stream?listenKey={key}")


async def test_u07_keepalive_and_idle_timeout(sim):
    sim.app[HUB_KEY].configure(user_idle_timeout_s=0.4)
    key = sim.listen_keys.open(account(sim))
    async with aiohttp.ClientSession() as session:
        ws = await open_stream(session, sim, key)
        for _ in range(20):  # 20 x 0.05 s of pongs: well past the idle timeout
            await ws.send_json({"event": "pong", "ts": "1"})
            await asyncio.sleep(0.05)
        await ws.send_json({"event": "sub", "params": {"channel": "user_order_update"}})
        assert (await recv(ws))["event_rep"] == "subed"
        assert not ws.closed
        # now fall silent
        await until_closed(ws)
        assert ws.close_code == aiohttp.WSCloseCode.POLICY_VIOLATION


async def test_u08_lifetime_limit(sim):
    sim.app[HUB_KEY].configure(user_max_lifetime_s=0.3)
    key = sim.listen_keys.open(account(sim))
    async with aiohttp.ClientSession() as session:
        ws = await open_stream(session, sim, key)
        while True:
            await ws.send_json({"event": "pong", "ts": "1"})
            try:
                msg = await ws.receive(timeout=0.05)
            except TimeoutError:
                continue
            break
        assert msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.CLOSING), msg
        assert ws.close_code == aiohttp.WSCloseCode.GOING_AWAY
