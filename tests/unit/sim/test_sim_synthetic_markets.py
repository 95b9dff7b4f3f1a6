"""Synthetic markets (``core.synthetic``): many made-up, varied, valid markets, listed over the
wire after the default ones and animated by a scenario each with its own flow."""

from __future__ import annotations

import asyncio
import gzip
import json
from decimal import Decimal

import aiohttp
import pytest
from typer.testing import CliRunner

from bitrue_sim.cli import app
from bitrue_sim.core import DEFAULT_MARKETS, Exchange
from bitrue_sim.core.synthetic import listed_markets, synthetic_markets, synthetic_symbol
from bitrue_sim.scenarios import build_market, scenario
from bitrue_sim.server.runner import SimServer


def test_synthetic_markets_are_valid_varied_and_deterministic() -> None:
    specs = synthetic_markets(50)
    assert [s.symbol for s in specs[:2]] == ["MK01USDT", "MK02USDT"]
    assert specs[-1].symbol == "MK50USDT" and specs[-1].base_asset == "MK50"
    assert len({s.symbol for s in specs}) == 50
    assert len({s.tick_size for s in specs}) >= 5  # sub-cent to three-digit listings
    assert len({(s.initial_price, s.tick_size) for s in specs}) == 50
    for s in specs:
        assert s.initial_price % s.tick_size == 0 and s.initial_price > 0
        assert s.tick_size == Decimal(1).scaleb(-s.price_scale)
        assert s.step_size == Decimal(1).scaleb(-s.volume_scale)
        assert s.min_price <= s.initial_price <= s.max_price
    assert synthetic_markets(50) == specs
    assert synthetic_symbol(7, 150) == "MK007USDT"
    assert listed_markets(0) == DEFAULT_MARKETS
    assert listed_markets(3)[:3] == DEFAULT_MARKETS  # the listed markets are left as they are
    with pytest.raises(ValueError, match="0..999"):
        synthetic_markets(1000)


def test_every_synthetic_market_moves_on_its_own() -> None:
    """Each market of a scenario has its own fair value, makers and takers."""
    ex = Exchange(listed_markets(10), seed=1)
    symbols = tuple(s.symbol for s in synthetic_markets(10))
    market = build_market(ex, "volatile", seed=1, symbols=symbols)
    market.step(0)
    for t in range(1, 121):
        market.step(t * 1000)
    for spec in synthetic_markets(10):
        bids, asks = ex.depth(spec.symbol, 1)
        assert bids and asks, spec.symbol
        assert market.fair_value(spec.symbol) != float(spec.initial_price), spec.symbol
    assert market.taker_orders > 10 * 120 * scenario("volatile").taker_rate / 2


async def test_the_server_lists_and_streams_the_synthetic_markets() -> None:
    async with SimServer(port=0, seed=2, scenario="volatile", synthetic_markets=12,
                         symbols=tuple(s.symbol for s in synthetic_markets(12))) as sim:
        async with aiohttp.ClientSession() as s:
            async with s.get(sim.base_url + "/api/v1/exchangeInfo") as r:
                listed = [e["symbol"] for e in (await r.json())["symbols"]]
            assert listed[:3] == [m.symbol for m in DEFAULT_MARKETS]
            assert listed[3:] == [f"MK{i:02d}USDT" for i in range(1, 13)]
            async with s.get(sim.base_url + "/api/v1/depth?symbol=MK12USDT") as r:
                depth = await r.json()
            assert depth["bids"] and depth["asks"]
            async with s.ws_connect(sim.ws_url + "/market/ws") as ws:
                for i in (1, 12):
                    await ws.send_json({"event": "sub", "params": {
                        "cb_id": f"mk{i:02d}", "channel": f"market_mk{i:02d}usdt_simple_depth_step0"}})
                seen: set[str] = set()
                while len(seen) < 2:
                    msg = await asyncio.wait_for(ws.receive(), 10)
                    body = json.loads(gzip.decompress(msg.data))
                    if "tick" in body:
                        seen.add(body["channel"])
        assert sim.state.config.synthetic_markets == 12


def test_sim_serve_refuses_an_impossible_market_count() -> None:
    result = CliRunner().invoke(app, ["serve", "--markets", "1000", "--port", "0"])
    assert result.exit_code != 0
    assert "--markets" in result.output and "0..999" in result.output
