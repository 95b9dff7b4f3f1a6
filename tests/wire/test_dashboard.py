"""The dashboard server over real loopback sockets: binding rules, token, headers, SSE, metrics."""

from __future__ import annotations

import json
from decimal import Decimal as D

import aiohttp
import pytest

from liquidity_bot.domain.book import OrderBook
from liquidity_bot.reporting.kpi import Breach, KpiSampler, OurQuote
from liquidity_bot.web.dashboard import DashboardError, DashboardState, start_dashboard
from liquidity_bot.web.metrics import BotMetrics

TOKEN = "t0ken-for-tests-0123456789abcdef"


class Obl:
    max_spread_pct = D("1")
    min_depth_2pct_quote = D("100")
    min_rest_s = None


def fill_state(state: DashboardState, metrics: BotMetrics | None = None, shift: int = 0) -> None:
    """A realistic market: a book with our ladder inside it, KPIs, PnL, budgets, keys, events."""
    book = OrderBook("XRPUSDT")
    ours = [
        OurQuote("BUY", D("0.5180") - D("0.0001") * shift, D("300"), 1_795_000_000_000),
        OurQuote("BUY", D("0.5170"), D("300"), 1_795_000_000_000),
        OurQuote("SELL", D("0.5220") + D("0.0001") * shift, D("300"), 1_795_000_000_000),
        OurQuote("SELL", D("0.5230"), D("300"), 1_795_000_000_000),
    ]
    bids = sorted(
        [(q.price, q.qty) for q in ours if q.is_bid]
        + [(D("0.5175"), D("900")), (D("0.5160"), D("2000"))],
        reverse=True,
    )
    asks = sorted(
        [(q.price, q.qty) for q in ours if not q.is_bid]
        + [(D("0.5225"), D("900")), (D("0.5240"), D("2000"))]
    )
    book.apply_snapshot(bids, asks, 1_795_000_060_000)
    sampler = KpiSampler("XRPUSDT", Obl())
    reading = sampler.sample(book, ours, 1_795_000_060_000)
    state.update_market(
        "XRPUSDT",
        book=book,
        quotes=ours,
        reading=reading,
        uptime_pct=D("99.5"),
        obligations=Obl(),
        status="quoting",
    )
    state.update_pnl(
        "XRPUSDT",
        {
            "inventory_base": "20120",
            "inventory_quote": "9931.5",
            "realized": "3.2",
            "unrealized": "-0.4",
            "fees_quote": "0.9",
            "total": "1.9",
            "vs_hold": "1.9",
            "inventory_value": "20360.2",
        },
    )
    state.set_budget("client-a", 37, 90)
    state.set_rate_limits({"REQUEST_WEIGHT": (120, 1200), "ORDERS": (37, 100)})
    state.set_keys(
        [
            {
                "label": "client-a",
                "status": "active",
                "last_verdict": "pass",
                "age_days": 12,
                "review_due": "2027-02-10",
                "review_overdue": False,
                "secret": "must-never-show",
            }
        ]
    )
    state.add_breach(
        Breach("XRPUSDT", 1_795_000_010_000, 1_795_000_025_000, ("two_sided",), ("budget",))
    )
    state.add_event("order", "placed 4 orders")
    if metrics is not None:
        metrics.observe_kpi(reading, D("99.5"))


async def test_refuses_other_address_without_token():
    with pytest.raises(DashboardError, match="LIQUIDITY_BOT_DASHBOARD_TOKEN"):
        await start_dashboard(DashboardState(), "0.0.0.0", 0, None)
    with pytest.raises(DashboardError, match="too short"):
        await start_dashboard(DashboardState(), "127.0.0.1", 0, "short")


async def test_token_required_and_traded_for_a_cookie():
    server = await start_dashboard(DashboardState(), "127.0.0.1", 0, TOKEN)
    try:  # unsafe=True: the jar otherwise ignores cookies of IP-address hosts
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            async with http.get(server.url) as r:
                assert r.status == 401
                assert TOKEN not in await r.text()
            async with http.get(
                server.url + "api/state", headers={"Authorization": "Bearer x"}
            ) as r:
                assert r.status == 401
            async with http.get(server.url + "healthz") as r:
                assert r.status == 200
            auth = {"Authorization": f"Bearer {TOKEN}"}
            async with http.get(server.url + "api/state", headers=auth) as r:
                assert r.status == 200
            async with http.get(server.url + f"?token={TOKEN}", allow_redirects=False) as r:
                assert r.status == 303
                assert "token" not in r.headers["Location"]
                cookie = r.cookies["lb_dashboard"]
                assert cookie["httponly"] and cookie["samesite"] == "Strict"
            async with http.get(server.url + "api/state") as r:  # the cookie jar now has it
                assert r.status == 200
    finally:
        await server.stop()


async def test_loopback_rejects_foreign_host_header_and_sets_security_headers():
    state = DashboardState()
    fill_state(state)
    server = await start_dashboard(state, "127.0.0.1", 0)
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(server.url, headers={"Host": "attacker.example"}) as r:
                assert r.status == 403
            async with http.get(server.url) as r:
                assert r.status == 200
                assert "script-src 'self'" in r.headers["Content-Security-Policy"]
                assert r.headers["X-Frame-Options"] == "DENY"
                page = await r.text()
                assert "http://" not in page and "https://" not in page  # no external asset
            async with http.get(server.url + "static/dashboard.js") as r:
                js = await r.text()
                assert ".innerHTML" not in js and "://" not in js  # no HTML injection, no CDN
            async with http.get(server.url + "static/../dashboard.py") as r:
                assert r.status == 404
            async with http.get(server.url + "api/state") as r:
                s = await r.json()
        (m,) = s["markets"]
        assert m["kpi"]["our_bid"] == "0.5180" and m["kpi"]["met"] is True
        assert ["0.5180", "300", True] in m["bids"]
        assert s["keys"][0]["last_verdict"] == "pass"
        assert "must-never-show" not in json.dumps(s)
        assert s["events"][0]["message"] == "placed 4 orders"
    finally:
        await server.stop()


async def _next_state(resp: aiohttp.ClientResponse) -> dict:
    data = None
    async for raw in resp.content:
        line = raw.decode().rstrip("\n")
        if line.startswith("data: "):
            data = json.loads(line[6:])
        elif line == "" and data is not None:
            return data
    raise AssertionError("stream ended")


async def test_sse_pushes_each_change():
    state = DashboardState()
    fill_state(state)
    server = await start_dashboard(state, "127.0.0.1", 0, push_interval_s=0.01)
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(server.url + "events") as r:
                assert r.headers["Content-Type"].startswith("text/event-stream")
                first = await _next_state(r)
                assert first["markets"][0]["quotes"][0]["price"] == "0.5180"
                fill_state(state, shift=3)
                second = await _next_state(r)
                while second["version"] < state.version:
                    second = await _next_state(r)
                assert second["markets"][0]["kpi"]["our_bid"] == "0.5177"
                assert second["version"] > first["version"]
    finally:
        await server.stop()


async def test_metrics_endpoint():
    state, metrics = DashboardState(), BotMetrics()
    fill_state(state, metrics)

    class Stats:
        placed, cancelled, rejected_by_risk, fills = 4, 1, 2, 1
        latencies_ns = [2_000_000, 3_000_000]

    metrics.sync_order_stats("XRPUSDT", Stats)
    Stats.placed = 6
    metrics.sync_order_stats("XRPUSDT", Stats)
    metrics.set_headroom({"ORDERS": (37, 100)})
    metrics.error("Timeout")
    metrics.observe_breach(Breach("XRPUSDT", 0, 1000, ("max_spread",)))
    server = await start_dashboard(state, "127.0.0.1", 0, metrics=metrics)
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(server.url + "metrics") as r:
                assert r.status == 200
                text = await r.text()
    finally:
        await server.stop()
    assert 'lb_orders_total{outcome="placed",symbol="XRPUSDT"} 6.0' in text
    assert 'lb_orders_total{outcome="rejected_by_risk",symbol="XRPUSDT"} 2.0' in text
    assert 'lb_ratelimit_headroom{policy="ORDERS"} 63.0' in text
    assert 'lb_errors_total{type="Timeout"} 1.0' in text
    assert 'lb_obligation_uptime_ratio{symbol="XRPUSDT"} 0.995' in text
    assert 'lb_depth_quote{band_pct="2",side="bid",symbol="XRPUSDT"}' in text
    assert 'lb_latency_seconds_count{stage="tick_to_order"} 2.0' in text
    assert 'lb_obligation_breaches_total{rule="max_spread",symbol="XRPUSDT"} 1.0' in text


async def test_sse_clients_are_capped_and_the_engine_loop_stays_free():
    """Every live view serialises snapshots on the engine's loop: past the cap, 503."""
    import asyncio

    from liquidity_bot.config import parse_config
    from liquidity_bot.web.dashboard import DEFAULT_MAX_SSE_CLIENTS

    assert DEFAULT_MAX_SSE_CLIENTS == 32
    assert parse_config("[dashboard]\nmax_sse_clients = 5\n").dashboard.max_sse_clients == 5
    state = DashboardState()
    fill_state(state)
    server = await start_dashboard(state, "127.0.0.1", 0, push_interval_s=0.01,
                                   max_sse_clients=3)
    try:
        async with aiohttp.ClientSession() as http:
            streams = [await http.get(server.url + "events") for _ in range(3)]
            for r in streams:
                assert r.status == 200 and (await _next_state(r))["version"] >= 1
            for _ in range(5):
                async with http.get(server.url + "events") as extra:
                    assert extra.status == 503 and extra.headers["Retry-After"] == "30"
                    assert "max_sse_clients" in await extra.text()
            async with http.get(server.url + "healthz") as h:
                assert h.status == 200
            streams[0].close()  # one viewer leaves: its place is free again
            deadline = asyncio.get_running_loop().time() + 10
            while True:
                fill_state(state, shift=1)  # the server notices the closed stream on a write
                r = await http.get(server.url + "events")
                if r.status == 200:
                    break
                r.close()
                assert asyncio.get_running_loop().time() < deadline, "the slot was never freed"
                await asyncio.sleep(0.05)
            assert (await _next_state(r))["version"] >= 1
            r.close()
            for s in streams[1:]:
                s.close()
    finally:
        await server.stop()
