"""A paper run (the wire server) and a backtest (the virtual-time driver) of one scenario and
seed see the same market.

S01 with the server's clock stepped by hand, its synthetic participants (ticking in the
    server's own background task) produce the same books and last prices, read over REST,
    as ``VirtualVenue`` with the same scenario and seed
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

import aiohttp

from bitrue_sim.core.clock import ManualClock
from bitrue_sim.core.exchange import Exchange
from bitrue_sim.server.runner import SimServer
from bitrue_sim.virtual import VirtualVenue
from bitrue_sim.ws import HUB_KEY

T0 = 1_700_000_000_000
SEED = 21
SCENARIO = "volatile"
STEP_MS = 2_000  # below the server's 5 s catch-up limit: no action is ever skipped
STEPS = 30
WAIT_S = 10.0


async def _server_caught_up(hub, now_ms: int) -> None:
    """Wait until the server's participants task has run every action due by ``now_ms``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_S
    while hub.participants.next_event_ms() <= now_ms:
        assert loop.time() < deadline, "the server's participants did not advance"
        await asyncio.sleep(0.01)


async def _rest_market(session, base: str, symbol: str) -> tuple:
    async with session.get(f"{base}/api/v1/depth?symbol={symbol}&limit=20") as r:
        depth = await r.json()
    async with session.get(f"{base}/api/v1/ticker/price?symbol={symbol}") as r:
        last = Decimal((await r.json())["price"])

    def side(levels):
        return [(Decimal(p), Decimal(q)) for p, q, *_ in levels]

    return side(depth["bids"]), side(depth["asks"]), last


async def test_s01_paper_and_backtest_see_the_same_market():
    clock = ManualClock(T0)
    venue = VirtualVenue(SCENARIO, seed=SEED, start_ms=T0)
    server = SimServer(
        exchange=Exchange(clock=clock, seed=SEED), seed=SEED, scenario=SCENARIO, rate_limits=False
    )
    compared = 0
    async with server as sim, aiohttp.ClientSession() as session:
        hub = sim.app[HUB_KEY]
        assert hub.participants.symbols == venue.symbols
        for step in range(1, STEPS + 1):
            now = T0 + step * STEP_MS
            clock.set(now)
            venue.run_until(now)
            await _server_caught_up(hub, now)
            if step % 5:
                continue
            for symbol in venue.symbols:
                bids, asks = venue.depth(symbol, 20)
                expected = (bids, asks, venue.exchange.last_price(symbol))
                assert await _rest_market(session, sim.base_url, symbol) == expected
                compared += 1
        assert hub.participants.stats() == venue.participants.stats()
    assert compared == len(venue.symbols) * STEPS // 5
    assert venue.participants.stats().taker_orders > 20  # the market did move
