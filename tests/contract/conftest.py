"""The venue port's contract suite: one ``harness`` per venue, the same tests for every one.

A harness gives a started venue trading ``SYMBOL`` on a funded account, and the three things
only an exchange can do: ``take`` (another account trades against our order), ``pulse`` (let
the market publish: a no-op over the wire, a step of simulated time in a backtest) and
``close``. A new venue joins the suite by adding a harness below and its name to ``VENUES``
(a ccxt venue: a harness over the simulator's Binance dialect, say).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal

import aiohttp
import pytest

from bitrue_sim.server.runner import SimServer
from bitrue_sim.virtual import VirtualVenue
from liquidity_bot.backtest.venue import BacktestMarket, BacktestVenue
from liquidity_bot.domain.order import Side
from liquidity_bot.venues.bitrue.rest import BitrueRestClient
from liquidity_bot.venues.bitrue.urls import BitrueUrls
from liquidity_bot.venues.bitrue.venue import BitrueVenue
from liquidity_bot.venues.port import Venue

SYMBOL = "XRPUSDT"
FUNDS = {"USDT": "10000", "XRP": "5000"}
VENUES = ("bitrue", "backtest", "ccxt-bitrue", "ccxt-binance")


class Harness:
    """A venue under test and the exchange around it (see the module docstring)."""

    def __init__(self, name: str, venue: Venue,
                 take: Callable[[Side, Decimal, Decimal], Awaitable[None]],
                 pulse: Callable[[], None] = lambda: None,
                 close: Callable[[], Awaitable[None]] | None = None) -> None:
        self.name = name
        self.venue = venue
        self.symbol = SYMBOL
        self._take = take
        self.pulse = pulse
        self._close = close

    async def take(self, side: Side, qty: Decimal, price: Decimal) -> None:
        """Another account sends a limit order ``side`` ``qty`` @ ``price`` (it trades against
        ours when it crosses it)."""
        await self._take(side, qty, price)

    async def wait_for(self, predicate: Callable[[], bool], what: str,
                       timeout_s: float = 5.0) -> None:
        """Let events flow until ``predicate()`` holds (a failure names what never came)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while not predicate():
            if loop.time() > deadline:
                raise AssertionError(f"{self.name}: never happened: {what}")
            self.pulse()
            await asyncio.sleep(0.02)

    async def close(self) -> None:
        await self.venue.stop()
        if self._close is not None:
            await self._close()


async def _admin(sim: SimServer, method: str, path: str, body: object) -> dict:
    headers = {"X-Sim-Admin": sim.admin_token or ""}
    async with aiohttp.ClientSession() as session, session.request(
            method, sim.base_url + path, json=body, headers=headers) as resp:
        data = await resp.json(content_type=None)
        assert resp.status == 200, f"admin {method} {path} -> {resp.status} {data}"
        return data


async def _sim_key(sim: SimServer, label: str) -> tuple[str, str]:
    account = await _admin(sim, "POST", "/sim/admin/accounts", {"balances": FUNDS})
    created = await _admin(sim, "POST", "/sim/admin/keys", {
        "account_id": account["account_id"], "label": label,
        "permissions": ["read", "trade"], "ip_allowlist": ["127.0.0.1"]})
    return created["api_key"], created["secret"]


async def bitrue_harness() -> Harness:
    """The Bitrue venue over loopback HTTP and WebSockets against the simulator."""
    sim = SimServer(host="127.0.0.1", port=0, seed=0, admin_token="contract-admin")
    await sim.__aenter__()
    urls = BitrueUrls.single(sim.base_url)
    key, secret = await _sim_key(sim, "ours")
    taker_key, taker_secret = await _sim_key(sim, "taker")
    taker = BitrueRestClient(urls, taker_key, taker_secret)
    await taker.__aenter__()
    venue = BitrueVenue(urls, key, secret, [SYMBOL])
    await venue.start()

    async def take(side: Side, qty: Decimal, price: Decimal) -> None:
        await taker.place_order(SYMBOL, side.value, qty, price, order_type="LIMIT")

    async def close() -> None:
        await taker.close()
        await sim.__aexit__(None, None, None)

    return Harness("bitrue", venue, take, close=close)


def backtest_harness() -> Harness:
    """The backtest venue on the in-process simulator (time moved on by ``pulse``)."""
    sim = VirtualVenue(scenario=None, seed=0, symbols=[SYMBOL])
    spec = sim.exchange.markets[SYMBOL]
    maker = sim.create_account({"USDT": "100000", "XRP": "100000"})
    for i in range(1, 6):  # a book around the opening price (no participants: deterministic)
        for side, sign in (("BUY", -1), ("SELL", 1)):
            sim.place_order(maker, SYMBOL, side, "LIMIT", Decimal(1000),
                            spec.initial_price + sign * (4 + i) * spec.tick_size)
    market = BacktestMarket(sim, [SYMBOL])
    venue = BacktestVenue(market, sim.create_account(FUNDS), latency_ms=0)
    taker = sim.create_account(FUNDS)

    async def take(side: Side, qty: Decimal, price: Decimal) -> None:
        sim.place_order(taker, SYMBOL, side.value, "LIMIT", qty, price)

    def pulse() -> None:
        market.advance_to(sim.now_ms() + market.push_interval_ms)

    return Harness("backtest", venue, take, pulse=pulse)


async def ccxt_harness(dialect: str) -> Harness:
    """The ccxt venue (ccxt's own client for ``dialect``) over loopback against the simulator
    speaking that dialect; the taker trades through the simulator's core directly."""
    from liquidity_bot.venues.ccxt.venue import CcxtVenue

    sim = SimServer(host="127.0.0.1", port=0, seed=0, admin_token="contract-admin",
                    dialect=dialect)
    await sim.__aenter__()
    key, secret = await _sim_key(sim, "ours")
    taker = sim.exchange.create_account({a: Decimal(v) for a, v in FUNDS.items()})
    venue = CcxtVenue(dialect, key, secret, [SYMBOL], http_base=sim.base_url,
                      ws_base=sim.ws_url, poll_interval_s=0.5)
    await venue.start()

    async def take(side: Side, qty: Decimal, price: Decimal) -> None:
        sim.exchange.place_order(taker, SYMBOL, side.value, "LIMIT", qty, price)

    async def close() -> None:
        await sim.__aexit__(None, None, None)

    return Harness(f"ccxt-{dialect}", venue, take, close=close)


async def _harness(name: str) -> Harness:
    if name == "bitrue":
        return await bitrue_harness()
    if name.startswith("ccxt-"):
        return await ccxt_harness(name.removeprefix("ccxt-"))
    return backtest_harness()


@pytest.fixture(params=VENUES)
async def harness(request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    h = await _harness(request.param)
    await h.venue.start()
    try:
        yield h
    finally:
        await h.close()
