"""Simulator fault injection, each kind observed by a client over loopback.

F01 unknown outcome, accepted: POST /api/v1/order answers 5xx but the order exists
F02 unknown outcome, not accepted: 5xx and the order does not exist
F03 added latency delays the answer (at least the drawn delay) and is counted
F04 429 bursts carry rate_limit_p and stop after their length
F05 WebSocket disconnects: a clean close frame or an abrupt TCP reset
F06 WebSocket stalls: the socket stays open and sends nothing (not even pings)
F07 listen-key invalidation closes the user stream and kills the key
F08 server clock skew shows in /api/v1/time
F09 an endpoint down answers 503 while others work
F10 the admin API needs the admin token; a bad profile is refused naming the key
F11 profiles/everything.toml loads through --faults (SimServer(faults_path=...))
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import hmac
import json
import time
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
import pytest
from aiohttp import WSMsgType
from yarl import URL

from bitrue_sim.server.runner import SimServer
from bitrue_sim.ws import HUB_KEY

ADMIN = {"X-Sim-Admin": "test-admin"}
PROFILES = Path(__file__).resolve().parents[2] / "profiles"
XRP = "market_xrpusdt_simple_depth_step0"


async def set_faults(session, sim, profile: dict) -> dict:
    async with session.post(sim.base_url + "/sim/admin/faults", json=profile,
                            headers=ADMIN) as resp:
        body = await resp.json()
        assert resp.status == 200, body
        return body


async def counts(session, sim) -> dict:
    async with session.get(sim.base_url + "/sim/admin/faults", headers=ADMIN) as resp:
        assert resp.status == 200
        return (await resp.json())["counts"]


async def signed(session, sim, method: str, path: str, api_key: str, secret: str,
                 **params: str) -> tuple[int, dict]:
    params["timestamp"] = str(sim.exchange.clock.now_ms())
    query = urlencode(params)
    signature = hmac.new(secret.encode(), query.encode(), hashlib.sha256).hexdigest()
    url = URL(f"{sim.base_url}{path}?{query}&signature={signature}", encoded=True)
    async with session.request(method, url, headers={"X-MBX-APIKEY": api_key}) as resp:
        return resp.status, await resp.json(content_type=None)


def order_params(client_id: str) -> dict[str, str]:
    return {"symbol": "XRPUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
            "quantity": "10", "price": "0.4800", "newClientOrderId": client_id}


async def test_f01_unknown_outcome_accepted(sim, make_key):
    account_id, api_key, secret = await make_key(sim)
    async with aiohttp.ClientSession() as session:
        await set_faults(session, sim, {"seed": 1, "unknown_outcome": {
            "probability": 1.0, "accepted_probability": 1.0, "statuses": [503]}})
        status, body = await signed(session, sim, "POST", "/api/v1/order", api_key, secret,
                                    **order_params("uo-accepted"))
        assert status == 503 and body["code"] == 503, body
        await set_faults(session, sim, {})
        status, order = await signed(session, sim, "GET", "/api/v1/order", api_key, secret,
                                     symbol="XRPUSDT", origClientOrderId="uo-accepted")
        assert status == 200 and order["status"] == "NEW", order
        seen = await counts(session, sim)
    assert [o.client_order_id for o in sim.exchange.open_orders(account_id, "XRPUSDT")] == [
        "uo-accepted"]
    assert seen["unknown_outcome"] == 1 and seen["unknown_outcome_accepted"] == 1


async def test_f02_unknown_outcome_not_accepted(sim, make_key):
    account_id, api_key, secret = await make_key(sim)
    async with aiohttp.ClientSession() as session:
        await set_faults(session, sim, {"unknown_outcome": {
            "probability": 1.0, "accepted_probability": 0.0, "statuses": [500]}})
        status, body = await signed(session, sim, "POST", "/api/v1/order", api_key, secret,
                                    **order_params("uo-lost"))
        assert status == 500 and body["code"] == -1016, body
        seen = await counts(session, sim)
        status, body = await signed(session, sim, "GET", "/api/v1/order", api_key, secret,
                                    symbol="XRPUSDT", origClientOrderId="uo-lost")
        assert body["code"] == -2013, body  # reads are not faulted: the order never existed
    assert seen["unknown_outcome"] == 1 and seen["unknown_outcome_rejected"] == 1
    assert sim.exchange.open_orders(account_id, "XRPUSDT") == []


async def test_f03_latency(sim):
    async with aiohttp.ClientSession() as session:
        await set_faults(session, sim, {"latency": {
            "probability": 1.0, "distribution": "fixed", "mean_ms": 300, "max_ms": 300}})
        started = time.perf_counter()
        async with session.get(sim.base_url + "/api/v1/ping") as resp:
            assert resp.status == 200
        elapsed = time.perf_counter() - started
        seen = await counts(session, sim)
    assert elapsed >= 0.29  # a lower bound only: the server slept 300 ms before answering
    assert seen["latency"] == 1


async def test_f04_rate_limit_burst(sim):
    async with aiohttp.ClientSession() as session:
        await set_faults(session, sim, {"rate_limit_burst": {"probability": 1.0, "length": 3,
                                                             "policy": "general"}})
        statuses = []
        for _ in range(3):
            async with session.get(sim.base_url + "/api/v1/time") as resp:
                statuses.append(resp.status)
                assert resp.headers["rate_limit_p"] == "general"
                assert (await resp.json())["code"] == -1003
        seen = await counts(session, sim)
        await set_faults(session, sim, {"rate_limit_burst": {"probability": 0.0}})
        async with session.get(sim.base_url + "/api/v1/time") as resp:
            assert resp.status == 200
    assert statuses == [429, 429, 429]
    assert seen["rate_limit_burst"] == 3


@pytest.mark.parametrize("abrupt", [0.0, 1.0])
async def test_f05_ws_disconnect(sim, abrupt):
    sim.app[HUB_KEY].configure(fault_check_s=0.05)
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect(sim.ws_url + "/market/ws")
        await ws.send_json({"event": "sub", "params": {"cb_id": "xrpusdt", "channel": XRP}})
        await ws.receive(timeout=10)
        await set_faults(session, sim, {"ws_disconnect": {"per_minute": 6000.0,
                                                          "abrupt_probability": abrupt}})
        while True:
            msg = await ws.receive(timeout=10)
            if msg.type != WSMsgType.BINARY:
                break
        seen = await counts(session, sim)
    assert msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.CLOSING, WSMsgType.ERROR)
    if abrupt:
        assert ws.close_code != aiohttp.WSCloseCode.GOING_AWAY
    else:
        assert ws.close_code == aiohttp.WSCloseCode.GOING_AWAY
    assert seen["ws_disconnect"] >= 1


async def test_f06_ws_stall(sim):
    hub = sim.app[HUB_KEY]
    hub.configure(fault_check_s=0.05, ping_interval_s=0.05, pong_timeout_s=3600)
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(sim.ws_url + "/market/ws") as ws:
            first = json.loads(gzip.decompress((await ws.receive(timeout=10)).data))
            assert "ping" in first  # pings flow every 50 ms before the stall
            await set_faults(session, sim, {"ws_stall": {"per_minute": 6000.0,
                                                         "duration_s": 3600.0}})
            while (await counts(session, sim))["ws_stall"] == 0:
                await asyncio.sleep(0.02)
            drained = 0
            while True:  # frames already on the way arrive; then silence
                try:
                    await ws.receive(timeout=0.5)
                except TimeoutError:
                    break
                drained += 1
                assert drained < 200, "pings kept coming: the stream never stalled"
            with pytest.raises(TimeoutError):
                await ws.receive(timeout=1.0)
            assert not ws.closed


async def test_f07_listen_key_invalidation(sim, make_key):
    sim.app[HUB_KEY].configure(fault_check_s=0.05)
    account_id, api_key, _ = await make_key(sim)
    async with aiohttp.ClientSession() as session:
        async with session.post(sim.base_url + "/poseidon/api/v1/listenKey",
                                headers={"X-MBX-APIKEY": api_key}) as resp:
            key = (await resp.json())["data"]["listenKey"]
        ws = await session.ws_connect(f"{sim.ws_url}/stream?listenKey={key}")
        await set_faults(session, sim, {"listen_key_invalidation": {"per_minute": 6000.0}})
        msg = await ws.receive(timeout=10)
        assert msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.CLOSING)
        assert ws.close_code == aiohttp.WSCloseCode.POLICY_VIOLATION
        async with session.put(f"{sim.base_url}/poseidon/api/v1/listenKey/{key}",
                               headers={"X-MBX-APIKEY": api_key}) as resp:
            body = await resp.json(content_type=None)
        assert resp.status != 200 or body.get("code") != 200, body
        seen = await counts(session, sim)
    assert seen["listen_key_invalidation"] >= 1
    assert sim.listen_keys.validate(key) is None


async def test_f08_clock_skew(sim):
    async with aiohttp.ClientSession() as session:
        await set_faults(session, sim, {"clock_skew": {"skew_ms": -7000}})
        async with session.get(sim.base_url + "/api/v1/time") as resp:
            server_time = (await resp.json())["serverTime"]
        local = time.time() * 1000
        seen = await counts(session, sim)
        await set_faults(session, sim, {})
    assert server_time < local - 5000  # 7 s behind; loopback adds far less than 2 s
    assert seen["clock_skew"] == 1
    assert sim.exchange.clock.skew_ms == 0  # an empty profile removes the skew


async def test_f09_endpoint_down(sim):
    async with aiohttp.ClientSession() as session:
        await set_faults(session, sim, {"endpoint_down": [
            {"path": "/api/v1/ticker/price", "start_s": 0, "duration_s": 3600}]})
        async with session.get(sim.base_url + "/api/v1/ticker/price",
                               params={"symbol": "XRPUSDT"}) as resp:
            assert resp.status == 503
            assert (await resp.json())["code"] == 503
        async with session.get(sim.base_url + "/api/v1/time") as resp:
            assert resp.status == 200
        seen = await counts(session, sim)
    assert seen["endpoint_down"] == 1


async def test_f10_admin_guard_and_bad_profiles(sim):
    async with aiohttp.ClientSession() as session:
        async with session.get(sim.base_url + "/sim/admin/faults") as resp:
            assert resp.status == 401
        async with session.post(sim.base_url + "/sim/admin/faults", json={},
                                headers={"X-Sim-Admin": "wrong"}) as resp:
            assert resp.status == 401
        async with session.post(sim.base_url + "/sim/admin/faults",
                                json={"latency": {"mean": 5}}, headers=ADMIN) as resp:
            assert resp.status == 400
            assert "'mean'" in (await resp.json())["msg"]
        async with session.post(sim.base_url + "/sim/admin/faults",
                                json={"earthquake": {}}, headers=ADMIN) as resp:
            assert resp.status == 400
            assert "earthquake" in (await resp.json())["msg"]


async def test_f11_everything_profile_through_faults_path():
    async with SimServer(seed=5, faults_path=PROFILES / "everything.toml") as sim:
        async with aiohttp.ClientSession() as session:
            async with session.get(sim.base_url + "/sim/admin/faults", headers=ADMIN) as resp:
                snapshot = await resp.json()
            toml_body = "[latency]\nprobability = 0.5\n"
            async with session.post(sim.base_url + "/sim/admin/faults", data=toml_body,
                                    headers={**ADMIN, "Content-Type": "application/toml"}) as resp:
                assert resp.status == 200
                assert (await resp.json())["profile"]["latency"]["probability"] == 0.5
    profile = snapshot["profile"]
    for kind in ("unknown_outcome", "latency", "rate_limit_burst", "ws_disconnect",
                 "ws_stall", "listen_key_invalidation"):
        section = profile[kind]
        assert section.get("probability", 0) > 0 or section.get("per_minute", 0) > 0, kind
    assert profile["clock_skew"]["skew_ms"] != 0
    assert profile["endpoint_down"]
    assert snapshot["counts"]["clock_skew"] == 1
