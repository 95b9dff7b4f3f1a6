"""Many markets on one key: a burst of books on one market does not starve another's reaction.

The simulator floods one market's depth channel (a hundred snapshots written at once, as an
exchange pushing a burst does) and then pushes one book of another market on the same socket.
The engine must not run a quoting pass per stale frame of the flooded market before the other
market's book is answered: books waiting behind the one being handled are coalesced (each
symbol's latest, once), and nothing is lost (the flooded market ends on the last book pushed).
No timing is asserted: only what was handed to each market, and in which order.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from bitrue_sim.server.runner import SimServer
from bitrue_sim.stream_settings import StreamSettings
from bitrue_sim.ws import HUB_KEY
from bitrue_sim.ws.framing import gzip_frame
from liquidity_bot.config import parse_config
from liquidity_bot.engine.runner import Engine, KeySession
from liquidity_bot.venues.bitrue.factory import bitrue_venue

from .conftest import keyed_market, new_key, running, wait_for

FLOODED, OTHER = "MK01USDT", "MK02USDT"  # synthetic markets of the simulator
BURST = 100

@pytest.fixture
async def sim_two() -> Any:
    """Seeded books on the synthetic markets; short depth frames (20 levels)."""
    async with SimServer(port=0, seed=3, synthetic_markets=2,
                         stream_settings=StreamSettings(depth_levels=20)) as server:
        yield server


def _engine(sim: SimServer, key: str, secret: str) -> Engine:
    cfg = parse_config(f'[bitrue]\nbase_url = "{sim.base_url}"\n'
                       + keyed_market(FLOODED, "fair", "lfa", size="20")
                       + keyed_market(OTHER, "fair", "lfb", size="20"))
    venue = bitrue_venue(cfg, key, secret, [FLOODED, OTHER])
    return Engine([KeySession("fair", venue, list(cfg.markets))], all_markets=cfg.markets,
                  store=None, stale_after_s=60.0)


def _flood(sim: SimServer, account: int) -> list[Decimal]:
    """BURST books of FLOODED, then one of OTHER, written to every market socket at once;
    each book differs (another deep bid of the third account). Returns the flooded market's
    deep bid prices, in order."""
    ex, hub = sim.exchange, sim.app[HUB_KEY]
    spec = ex.market(FLOODED)
    prices = []
    frames = []
    for i in range(BURST):
        price = (spec.initial_price * Decimal("0.95")).quantize(spec.tick_size) + spec.tick_size * i
        ex.place_order(account, FLOODED, "BUY", "LIMIT", Decimal(100), price)
        prices.append(price)
        frames.append(gzip_frame(hub.market.snapshot(FLOODED)))
    other = ex.market(OTHER)
    ex.place_order(account, OTHER, "BUY", "LIMIT", Decimal(100),
                   (other.initial_price * Decimal("0.95")).quantize(other.tick_size))
    frames.append(gzip_frame(hub.market.snapshot(OTHER)))
    for conn in hub.market.connections:
        for frame in frames:
            conn.send(frame)
    return prices


async def test_a_burst_on_one_market_is_coalesced_and_the_other_is_answered(sim_two):
    _, key, secret = await new_key(sim_two, {"USDT": "100000", "MK01": "100000",
                                             "MK02": "100000"})
    engine = _engine(sim_two, key, secret)
    third = sim_two.exchange.create_account({"USDT": Decimal(10) ** 9})
    async with running(engine):
        await wait_for(lambda: all({o.side.value for o in r.om.resting()} == {"BUY", "SELL"}
                                   for r in engine.runners),
                       "both markets quote both sides", timeout=30)
        stream = engine.sessions[0].venue.market  # type: ignore[attr-defined]
        handed: list[str] = []
        for runner in engine.runners:
            on_book = runner.on_book

            def record(update: Any, on_book: Any = on_book) -> None:
                handed.append(update.symbol)
                on_book(update)

            runner.on_book = record  # type: ignore[method-assign]
        flooded = engine.runner(FLOODED)
        seen = stream.snapshots
        prices = _flood(sim_two, third)
        await wait_for(lambda: stream.snapshots >= seen + BURST + 1, "the burst handled")
        await wait_for(lambda: OTHER in handed, "the other market's book handed on")
        # the flooded market's stale books were not answered one by one ...
        burst_books = handed[: handed.index(OTHER)].count(FLOODED)
        assert burst_books <= 3, (burst_books, handed[:10])
        assert stream.coalesced >= BURST - 3
        # ... and its latest one is the one it holds (nothing lost)
        await wait_for(lambda: prices[-1] in {p for p, _ in flooded.book.bids},
                       "the flooded market holds its last book")
        assert engine.runner(OTHER).errors == flooded.errors == 0
