"""Simulator market WebSocket (/market/ws) over real loopback sockets.

M01 every server frame is a gzip-compressed binary frame; the sub ack has the documented fields
M02 the first snapshot after sub equals REST /depth (strings with the market's scales)
M03 a book change pushes a new FULL snapshot
M04 bursts of book changes are coalesced to one snapshot per minimum interval
M05 unsub is acknowledged and stops the pushes of that channel
M06 many symbols on one connection, each pushed on its own channel only
M07 malformed requests and unknown channels get an error answer; the socket keeps working
M08 the server pings; a client that answers pongs stays connected
M09 a client that never answers pongs is disconnected after the pong timeout
M10 with a scenario, synthetic participants move the book on the wall clock: pushes arrive
    without any client trading
M11 SimServer(stream_settings=...) sets the stream timings from the start (no poking the hub)
"""

from __future__ import annotations

import gzip
import json
import time
from decimal import Decimal

import aiohttp
from aiohttp import WSMsgType

from bitrue_sim.server.runner import SimServer
from bitrue_sim.ws import HUB_KEY, StreamSettings

RECEIVE_TIMEOUT = 10.0
XRP = "market_xrpusdt_simple_depth_step0"
NOVA = "market_novausdt_simple_depth_step0"
BTC = "market_btcusdt_simple_depth_step0"


async def recv(ws: aiohttp.ClientWebSocketResponse) -> dict:
    """Next frame: must be binary gzip JSON."""
    msg = await ws.receive(timeout=RECEIVE_TIMEOUT)
    assert msg.type == WSMsgType.BINARY, f"expected a binary frame, got {msg.type} {msg.data!r}"
    assert msg.data[:2] == b"\x1f\x8b", "frame is not gzip"
    return json.loads(gzip.decompress(msg.data))


async def recv_no_ping(ws: aiohttp.ClientWebSocketResponse) -> dict:
    while True:
        message = await recv(ws)
        if "ping" not in message:
            return message


def sub(channel: str, cb_id: str | None = None, event: str = "sub") -> dict:
    params = {"channel": channel}
    if cb_id is not None:
        params["cb_id"] = cb_id
    return {"event": event, "params": params}


def trader(sim, balances: dict[str, str] | None = None) -> int:
    bal = balances or {"USDT": "1000000", "XRP": "1000000", "NOVA": "100000000", "BTC": "10"}
    return sim.exchange.create_account({k: Decimal(v) for k, v in bal.items()})


def levels(side: list) -> list[tuple[Decimal, Decimal]]:
    return [(Decimal(p), Decimal(q)) for p, q, *_ in side]


async def subscribed(session, sim, *channels: str) -> aiohttp.ClientWebSocketResponse:
    ws = await session.ws_connect(sim.ws_url + "/market/ws")
    for channel in channels:
        await ws.send_json(sub(channel, channel.split("_")[1]))
        ack = await recv_no_ping(ws)
        assert ack["event_rep"] == "subed", ack
        snap = await recv_no_ping(ws)
        assert snap["channel"] == channel
    return ws


async def test_m01_gzip_frames_and_exact_sub_ack(sim):
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(sim.ws_url + "/market/ws") as ws:
            await ws.send_json(sub(XRP, "xrpusdt"))
            ack = await recv(ws)
            assert set(ack) == {"channel", "cb_id", "event_rep", "status", "ts"}
            assert ack["channel"] == XRP and ack["cb_id"] == "xrpusdt"
            assert ack["event_rep"] == "subed" and ack["status"] == "ok"
            assert isinstance(ack["ts"], int) and ack["ts"] > 1_600_000_000_000
            snapshot = await recv(ws)
            assert set(snapshot) == {"channel", "ts", "tick"}
            assert set(snapshot["tick"]) == {"buys", "asks"}


async def test_m02_first_snapshot_matches_rest_depth(sim):
    async with aiohttp.ClientSession() as session:
        async with session.get(sim.base_url + "/api/v1/depth",
                               params={"symbol": "XRPUSDT", "limit": "100"}) as resp:
            assert resp.status == 200
            depth = await resp.json()
        async with session.ws_connect(sim.ws_url + "/market/ws") as ws:
            await ws.send_json(sub(XRP, "xrpusdt"))
            await recv_no_ping(ws)
            snapshot = await recv_no_ping(ws)
    tick = snapshot["tick"]
    assert tick["buys"] and tick["asks"], "the seeded book should not be empty"
    assert levels(tick["buys"]) == levels(depth["bids"])
    assert levels(tick["asks"]) == levels(depth["asks"])
    spec = sim.exchange.market("XRPUSDT")
    for price, qty in tick["buys"] + tick["asks"]:
        assert isinstance(price, str) and isinstance(qty, str)
        assert len(price.split(".")[1]) == spec.price_scale
        assert len(qty.split(".")[1]) == spec.volume_scale
    bids = [p for p, _ in levels(tick["buys"])]
    asks = [p for p, _ in levels(tick["asks"])]
    assert bids == sorted(bids, reverse=True) and asks == sorted(asks)


async def test_m03_book_change_pushes_full_snapshot(sim):
    account = trader(sim)
    async with aiohttp.ClientSession() as session:
        ws = await subscribed(session, sim, XRP)
        before_bids, before_asks = sim.exchange.depth("XRPUSDT", 100)
        best_bid = before_bids[0][0]
        sim.exchange.place_order(account, "XRPUSDT", "BUY", "LIMIT", Decimal("123.4"),
                                 best_bid + Decimal("0.0001"))
        snapshot = await recv_no_ping(ws)
        await ws.close()
    assert snapshot["channel"] == XRP
    bids = levels(snapshot["tick"]["buys"])
    assert bids[0] == (best_bid + Decimal("0.0001"), Decimal("123.4"))
    assert bids[1:] == before_bids  # the rest of the book is still there: a full snapshot
    assert levels(snapshot["tick"]["asks"]) == before_asks


async def test_m04_bursts_are_coalesced(sim):
    hub = sim.app[HUB_KEY]
    hub.configure(depth_min_interval_ms=300)
    account = trader(sim)
    best_bid = sim.exchange.depth("XRPUSDT", 1)[0][0][0]
    async with aiohttp.ClientSession() as session:
        ws = await subscribed(session, sim, XRP)
        for _ in range(20):  # one burst inside one event-loop turn
            sim.exchange.place_order(account, "XRPUSDT", "BUY", "LIMIT", Decimal("1000"),
                                     best_bid + Decimal("0.0001"))
        first = await recv_no_ping(ws)
        for _ in range(20):
            sim.exchange.place_order(account, "XRPUSDT", "BUY", "LIMIT", Decimal("1000"),
                                     best_bid + Decimal("0.0002"))
        second = await recv_no_ping(ws)
        await ws.send_json(sub(BTC, "btcusdt"))  # barrier: nothing else of XRP before its ack
        barrier = await recv_no_ping(ws)
        await ws.close()
    assert levels(first["tick"]["buys"])[0] == (best_bid + Decimal("0.0001"), Decimal("20000.0"))
    assert levels(second["tick"]["buys"])[0] == (best_bid + Decimal("0.0002"),
                                                 Decimal("20000.0"))
    assert barrier["channel"] == BTC and barrier["event_rep"] == "subed"


async def test_m05_unsub_ack_and_no_more_pushes(sim):
    account = trader(sim)
    async with aiohttp.ClientSession() as session:
        ws = await subscribed(session, sim, XRP)
        await ws.send_json(sub(XRP, "xrpusdt", event="unsub"))
        ack = await recv_no_ping(ws)
        assert ack == {"channel": XRP, "cb_id": "xrpusdt", "status": "ok", "ts": ack["ts"]}
        best_bid = sim.exchange.depth("XRPUSDT", 1)[0][0][0]
        sim.exchange.place_order(account, "XRPUSDT", "BUY", "LIMIT", Decimal("50"),
                                 best_bid + Decimal("0.0001"))
        await ws.send_json(sub(BTC, "btcusdt"))
        after = [await recv_no_ping(ws), await recv_no_ping(ws)]
        await ws.close()
    assert [m["channel"] for m in after] == [BTC, BTC]
    assert after[0]["event_rep"] == "subed" and "tick" in after[1]


async def test_m06_many_symbols_one_connection(sim):
    account = trader(sim)
    async with aiohttp.ClientSession() as session:
        ws = await subscribed(session, sim, XRP, NOVA, BTC)
        best_bid = sim.exchange.depth("NOVAUSDT", 1)[0][0][0]
        sim.exchange.place_order(account, "NOVAUSDT", "BUY", "LIMIT", Decimal("100000"),
                                 best_bid + Decimal("0.000001"))
        pushed = await recv_no_ping(ws)
        await ws.send_json(sub(XRP, "xrpusdt", event="unsub"))  # barrier
        barrier = await recv_no_ping(ws)
        await ws.close()
    assert pushed["channel"] == NOVA
    assert levels(pushed["tick"]["buys"])[0] == (best_bid + Decimal("0.000001"), Decimal(100000))
    assert barrier == {"channel": XRP, "cb_id": "xrpusdt", "status": "ok", "ts": barrier["ts"]}


async def test_m07_bad_requests_get_errors_and_socket_survives(sim):
    bad_requests = [
        "not json at all",
        "[1, 2, 3]",
        json.dumps({"event": "subscribe", "params": {"channel": XRP}}),
        json.dumps({"event": "sub"}),
        json.dumps(sub("market_dogeusdt_simple_depth_step0", "dogeusdt")),
        json.dumps(sub("market_XRPUSDT_simple_depth_step0", "XRPUSDT")),
        json.dumps(sub("market_xrpusdt_depth_step9", "xrpusdt")),
    ]
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(sim.ws_url + "/market/ws") as ws:
            for text in bad_requests:
                await ws.send_str(text)
                answer = await recv_no_ping(ws)
                assert answer["status"] == "error", (text, answer)
                assert answer["event_rep"] == "error" and answer["msg"], answer
            unknown = json.loads(bad_requests[4])["params"]["channel"]
            await ws.send_json(sub(unknown, "dogeusdt"))
            answer = await recv_no_ping(ws)
            assert answer["channel"] == unknown and answer["cb_id"] == "dogeusdt"
            await ws.send_bytes(gzip.compress(json.dumps(sub(XRP, "xrpusdt")).encode()))
            ack = await recv_no_ping(ws)
            assert ack["event_rep"] == "subed" and ack["status"] == "ok"


async def test_m08_ping_pong_keeps_connection(sim):
    sim.app[HUB_KEY].configure(ping_interval_s=0.05, pong_timeout_s=0.3)
    pings = 0
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(sim.ws_url + "/market/ws") as ws:
            while pings < 20:  # 20 pings span well over the pong timeout
                message = await recv(ws)
                assert set(message) == {"ping"} and isinstance(message["ping"], int)
                pings += 1
                await ws.send_json({"pong": message["ping"]})
            await ws.send_json(sub(XRP, "xrpusdt"))
            ack = await recv_no_ping(ws)
            assert ack["event_rep"] == "subed"
            assert not ws.closed


async def test_m09_no_pong_means_disconnect(sim):
    sim.app[HUB_KEY].configure(ping_interval_s=0.05, pong_timeout_s=0.3)
    pings = 0
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(sim.ws_url + "/market/ws") as ws:
            while True:
                msg = await ws.receive(timeout=RECEIVE_TIMEOUT)
                if msg.type != WSMsgType.BINARY:
                    break
                assert "ping" in json.loads(gzip.decompress(msg.data))
                pings += 1
            assert msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.CLOSING)
            assert ws.close_code == aiohttp.WSCloseCode.POLICY_VIOLATION
    assert pings >= 1


async def test_m10_participants_move_the_book():
    async with SimServer(seed=3, scenario="calm") as sim:
        sim.app[HUB_KEY].configure(depth_min_interval_ms=20)
        async with aiohttp.ClientSession() as session:
            ws = await subscribed(session, sim, XRP)
            snapshots = [await recv_no_ping(ws) for _ in range(5)]
            await ws.close()
        assert sim.app[HUB_KEY].participants.stats().events > 0
    books = {json.dumps(s["tick"]) for s in snapshots}
    assert len(books) >= 3  # the book keeps changing
    for snapshot in snapshots:
        bids = levels(snapshot["tick"]["buys"])
        asks = levels(snapshot["tick"]["asks"])
        assert bids and asks and bids[0][0] < asks[0][0]


async def test_m11_stream_settings_given_to_the_server():
    settings = StreamSettings(ping_interval_s=0.05, pong_timeout_s=0.3, depth_min_interval_ms=0)
    async with SimServer(seed=0, stream_settings=settings) as sim:
        assert sim.app[HUB_KEY].settings == settings
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(sim.ws_url + "/market/ws") as ws:
                pings = 0
                while True:  # the default 15 s ping would not come within RECEIVE_TIMEOUT
                    msg = await ws.receive(timeout=RECEIVE_TIMEOUT)
                    if msg.type != WSMsgType.BINARY:
                        break
                    assert "ping" in json.loads(gzip.decompress(msg.data))
                    pings += 1
                assert pings >= 1 and ws.close_code == aiohttp.WSCloseCode.POLICY_VIOLATION


async def test_m11b_a_late_server_tick_pings_before_it_times_anyone_out():
    """The pong deadline runs from the first ping the client was sent, not from the connect: a
    server tick that comes late (a busy machine) must not close a socket it never pinged."""
    settings = StreamSettings(ping_interval_s=0.05, pong_timeout_s=0.3, depth_min_interval_ms=0)
    async with SimServer(seed=0, stream_settings=settings) as sim:
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(sim.ws_url + "/market/ws") as ws:
                time.sleep(0.5)  # blocks the loop: the server's next tick is 0.5 s late
                first = await ws.receive(timeout=RECEIVE_TIMEOUT)
                assert first.type == WSMsgType.BINARY, f"closed before any ping: {first!r}"
                assert "ping" in json.loads(gzip.decompress(first.data))
                while True:  # never answered: closed for the pong it owed
                    msg = await ws.receive(timeout=RECEIVE_TIMEOUT)
                    if msg.type != WSMsgType.BINARY:
                        break
                assert ws.close_code == aiohttp.WSCloseCode.POLICY_VIOLATION
