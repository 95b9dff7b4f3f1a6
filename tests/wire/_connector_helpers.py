"""Helpers shared by the connector's wire tests (not a test module)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from decimal import Decimal

from liquidity_bot.venues.bitrue.rest import BitrueRestClient
from liquidity_bot.venues.bitrue.urls import BitrueUrls

SYMBOL = "XRPUSDT"
TICK = Decimal("0.0001")


def client_for(sim, key: str, secret: str, **kw) -> BitrueRestClient:
    return BitrueRestClient(BitrueUrls.single(sim.base_url), key, secret, **kw)


async def best_bid_ask(client: BitrueRestClient, symbol: str = SYMBOL) -> tuple[Decimal, Decimal]:
    depth = await client.depth(symbol, 5)
    return depth.bids[0].price, depth.asks[0].price


async def wait_for(predicate: Callable[[], bool], timeout: float = 5.0, what: str = "") -> None:
    """Poll ``predicate`` until true; fails the test (not a timing assertion) if it never is."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"condition never became true: {what}")
        await asyncio.sleep(0.02)


def hub_of(sim):
    """The simulator's stream hub (its WebSocket side), to shrink timings and inject stalls."""
    from bitrue_sim.ws import HUB_KEY

    return sim.app[HUB_KEY]
