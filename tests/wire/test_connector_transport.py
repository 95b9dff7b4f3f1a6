"""C22-C25: what the client concludes when the answer is missing or unreadable (a tiny loopback
server plays the broken exchange; the simulator covers the documented error answers).

C22 timeout: on a write UnknownOutcome, on a read ExchangeUnavailable
C23 connection reset mid-request: the same split
C24 HTTP 200 with an unreadable body on a write: UnknownOutcome, never success
C25 nothing listening: ExchangeUnavailable even for a write (nothing was sent)
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from liquidity_bot.venues.bitrue.errors import ExchangeUnavailable, UnknownOutcome
from liquidity_bot.venues.bitrue.rest import BitrueRestClient
from liquidity_bot.venues.bitrue.urls import BitrueUrls

SECRET = "T" * 64


@pytest.fixture
async def broken():
    mode = {"kind": "timeout"}

    async def time_(request):
        return web.json_response({"serverTime": 1})

    async def anything(request):
        kind = mode["kind"]
        if kind == "timeout":
            await asyncio.sleep(5)
        elif kind == "reset":
            request.transport.abort()
            await asyncio.sleep(1)
        elif kind == "garbage":
            return web.Response(text="<html>gateway</html>", status=200)
        return web.json_response({})

    app = web.Application()
    app.router.add_get("/api/v1/time", time_)
    app.router.add_route("*", "/api/v1/{tail:.*}", anything)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield server, mode
    await server.close()


def make_client(base: str) -> BitrueRestClient:
    client = BitrueRestClient(BitrueUrls.single(base), "K" * 64, SECRET, timeout_s=0.3)
    client.clock.synced_at = 0.0  # treat as synced: these cases are not about the clock
    client.clock_refresh_s = 1e9
    return client


@pytest.mark.parametrize("kind", ["timeout", "reset"])
async def test_c22_c23_no_answer(broken, kind):
    server, mode = broken
    mode["kind"] = kind
    base = str(server.make_url("")).rstrip("/")
    async with make_client(base) as c:
        with pytest.raises(UnknownOutcome) as exc:
            await c.place_order("XRPUSDT", "BUY", Decimal(1), Decimal("0.5"), client_order_id="x")
        assert "client order id" in str(exc.value)
        with pytest.raises(UnknownOutcome):
            await c.cancel_order("XRPUSDT", client_order_id="x")
        with pytest.raises(ExchangeUnavailable):
            await c.account()


async def test_c24_unreadable_200_on_a_write(broken):
    server, mode = broken
    mode["kind"] = "garbage"
    base = str(server.make_url("")).rstrip("/")
    async with make_client(base) as c:
        with pytest.raises(UnknownOutcome):
            await c.place_order("XRPUSDT", "BUY", Decimal(1), Decimal("0.5"), client_order_id="x")
        with pytest.raises(ExchangeUnavailable):
            await c.open_orders("XRPUSDT")


async def test_c25_nothing_listening_means_nothing_sent(unused_tcp_port):
    async with make_client(f"http://127.0.0.1:{unused_tcp_port}") as c:
        with pytest.raises(ExchangeUnavailable, match="nothing was sent"):
            await c.place_order("XRPUSDT", "BUY", Decimal(1), Decimal("0.5"), client_order_id="x")
