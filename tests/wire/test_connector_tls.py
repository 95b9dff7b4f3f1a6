"""C44-C49 TLS end to end: the simulator serves HTTPS and WSS on one port with a certificate
from a throw-away CA made here; the connector (lean HTTP for REST, aiohttp for the streams)
always verifies, trusts the CA only when told (``ca_file``), and refuses an untrusted
certificate or a wrong host name at once with a clear error, never in a retry loop."""

from __future__ import annotations

import asyncio
import ssl
import time
from decimal import Decimal
from pathlib import Path

import aiohttp
import pytest

from bitrue_sim.server.runner import SimServer, server_tls_context
from liquidity_bot.venues.bitrue.errors import CertificateRejected
from liquidity_bot.venues.bitrue.market_stream import MarketStream
from liquidity_bot.venues.bitrue.rest import BitrueRestClient
from liquidity_bot.venues.bitrue.urls import BitrueUrls
from liquidity_bot.venues.bitrue.venue import BitrueVenue
from liquidity_bot.venues.tls import TlsFiles, throwaway_ca

SYMBOL = "XRPUSDT"


async def _admin(sim: SimServer, ca: Path, method: str, path: str, body: object = None) -> dict:
    ctx = ssl.create_default_context(cafile=str(ca))
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ctx)) as http:
        async with http.request(method, sim.base_url + path, json=body,
                                headers={"X-Sim-Admin": sim.admin_token or ""}) as resp:
            assert resp.status == 200, await resp.text()
            return await resp.json()


async def _key(sim: SimServer, ca: Path) -> tuple[str, str]:
    acct = await _admin(sim, ca, "POST", "/sim/admin/accounts",
                        {"balances": {"USDT": "10000", "XRP": "5000"}})
    made = await _admin(sim, ca, "POST", "/sim/admin/keys", {
        "account_id": acct["account_id"], "label": "tls", "permissions": ["read", "trade"],
        "ip_allowlist": ["127.0.0.1"]})
    return made["api_key"], made["secret"]


@pytest.fixture
def tls_files(tmp_path: Path) -> TlsFiles:
    return throwaway_ca(tmp_path / "tls")


@pytest.fixture
async def tls_sim(tls_files):
    async with SimServer(tls=server_tls_context(tls_files.cert, tls_files.key)) as sim:
        assert sim.base_url.startswith("https://") and sim.ws_url.startswith("wss://")
        yield sim


async def test_c44_rest_over_tls_with_the_extra_ca(tls_sim, tls_files):
    key, secret = await _key(tls_sim, tls_files.ca_cert)
    urls = BitrueUrls.single(tls_sim.base_url, ca_file=str(tls_files.ca_cert))
    async with BitrueRestClient(urls, key, secret) as c:
        await c.sync_clock()
        depth = await c.depth(SYMBOL, 5)
        ack = await c.place_order(SYMBOL, "BUY", Decimal(10), depth.bids[-1].price,
                                  client_order_id="tls1")
        assert ack.clientOrderId == "tls1"
        await c.cancel_order(SYMBOL, client_order_id="tls1")
        assert c._http is not None  # the lean client did the TLS itself
        assert all(o.scheme == "https" for o in c._http._origins.values())


async def test_c45_venue_streams_over_wss(tls_sim, tls_files):
    key, secret = await _key(tls_sim, tls_files.ca_cert)
    urls = BitrueUrls.single(tls_sim.base_url, ca_file=str(tls_files.ca_cert))
    venue = BitrueVenue(urls, key, secret, [SYMBOL])
    async with venue:
        assert venue.user.connected.is_set() and venue.market.connected.is_set()
        books, orders = venue.book_events(), venue.order_events()
        next_book = asyncio.ensure_future(anext(books))  # subscribed from here on
        next_order = asyncio.ensure_future(anext(orders))
        await asyncio.sleep(0)
        depth = await venue.rest.depth(SYMBOL, 5)
        price = depth.bids[0].price + Decimal("0.0001")  # a new best bid: the book changes
        await venue.place(SYMBOL, "BUY", Decimal(10), price, "tls2")
        book = await asyncio.wait_for(next_book, 15)
        assert book.symbol == SYMBOL and book.bids
        await venue.cancel(SYMBOL, client_order_id="tls2")
        msg = await asyncio.wait_for(next_order, 15)  # the cancel, pushed on the user stream
        assert msg.client_order_id == "tls2" and venue.user.last_message_at is not None
        await books.aclose()
        await orders.aclose()


async def test_c46_untrusted_certificate_is_refused_at_once(tls_sim, tls_files):
    urls = BitrueUrls.single(tls_sim.base_url)  # the system's CAs only
    before = tls_sim.rate_limiter.snapshot()
    async with BitrueRestClient(urls, "k" * 64, "s" * 64) as c:
        with pytest.raises(CertificateRejected, match="not accepted.*ca_file"):
            await c.place_order(SYMBOL, "BUY", Decimal(1), Decimal(1), client_order_id="x")
    venue = BitrueVenue(urls, "k" * 64, "s" * 64, [SYMBOL])
    started = time.monotonic()
    with pytest.raises(CertificateRejected):
        await venue.start()
    assert time.monotonic() - started < 5, "no retries"
    assert tls_sim.rate_limiter.snapshot() == before, "nothing reached the exchange"


async def test_c47_wrong_host_name_is_refused(tmp_path):
    files = throwaway_ca(tmp_path / "other", hosts=("exchange.example",))
    async with SimServer(tls=server_tls_context(files.cert, files.key)) as sim:
        urls = BitrueUrls.single(sim.base_url, ca_file=str(files.ca_cert))  # trusted CA
        async with BitrueRestClient(urls) as c:
            with pytest.raises(CertificateRejected, match="127.0.0.1"):
                await c.ping()


async def test_c48_a_stream_with_a_rejected_certificate_stops_and_says_so(tls_sim):
    urls = BitrueUrls.single(tls_sim.base_url)
    stream = MarketStream(urls, [SYMBOL])
    await stream.start()
    try:
        with pytest.raises(CertificateRejected, match="market stream.*ca_file"):
            await stream.wait_connected(10)
        await asyncio.sleep(0.3)
        assert stream.connects == 0 and stream.reconnects == 0, "no retry loop"
    finally:
        await stream.stop()


async def test_c49_ssl_cert_file_is_honoured(tls_sim, tls_files, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_files.ca_cert))
    async with BitrueRestClient(BitrueUrls.single(tls_sim.base_url)) as c:
        assert await c.server_time() > 0
    monkeypatch.delenv("SSL_CERT_FILE")
    async with BitrueRestClient(BitrueUrls.single(tls_sim.base_url)) as c:
        with pytest.raises(CertificateRejected):
            await c.ping()
