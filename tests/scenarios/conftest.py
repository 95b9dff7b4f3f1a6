"""Scenario fixtures: the real engine against the simulator over loopback.

``make_engine(sim, api_key, secret, **config)`` builds an ``Engine`` for XRPUSDT with a ladder
(no keys gate: the gate has its own tests and one scenario below goes through it); ``running``
runs it in a task; ``wait_for`` polls a condition (never a timed assertion: the timeout only
turns a hang into a failure with a message).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
import pytest

from bitrue_sim.server.runner import SimServer
from liquidity_bot.config import parse_config
from liquidity_bot.engine.budget import OrderBudget
from liquidity_bot.engine.market_runner import MarketRunner
from liquidity_bot.engine.order_manager import OrderManager
from liquidity_bot.engine.runner import Engine, KeySession
from liquidity_bot.keys.vault import KdfParams
from liquidity_bot.store import Store
from liquidity_bot.venues.bitrue.factory import bitrue_venue
from liquidity_bot.venues.bitrue.rest import BitrueRestClient
from liquidity_bot.venues.bitrue.urls import BitrueUrls

SYMBOL = "XRPUSDT"
PREFIX = "lbt"
BALANCES = {"USDT": "10000", "XRP": "20000"}

CONFIG = """
kpi_interval_s = 0.2
[bitrue]
base_url = "{base_url}"
recv_window = {recv_window}
[[markets]]
symbol = "XRPUSDT"
key_label = "scenario"
client_id_prefix = "{prefix}"
strategy = "ladder"
[markets.ladder]
levels = {levels}
base_spread_pct = "{spread}"
level_spacing_pct = "0.1"
level_size_quote = "{size}"
min_spread_pct = "0.02"
[markets.obligations]
max_spread_pct = "1"
min_depth_2pct_quote = "100"
[markets.risk]
max_order_notional = "500"
max_open_notional_per_side = "2000"
max_base_inventory = "100000"
daily_loss_limit = "{loss_limit}"
on_loss_limit = "{on_loss}"
max_fills_per_minute = 1000
[markets.order_manager]
price_tolerance_ticks = {ticks}
size_tolerance_pct = "10"
refresh_interval_ms = 100
"""


@pytest.fixture(autouse=True, scope="session")
def _verify_order_views():
    """The order manager's kept views checked against fresh ones at every read (as in
    tests/unit/conftest.py): whole engines and backtests exercise every change of an order."""
    OrderManager.verify_views = True
    MarketRunner.verify_quiet = True  # a pass counted as quiet is run anyway and compared
    yield
    OrderManager.verify_views = False
    MarketRunner.verify_quiet = False


# --- stored keys and multi-market configs (run command and keys-while-running scenarios) --------
PASSPHRASE = "scenario passphrase"
FAST_KDF = KdfParams(memory_kib=8192, iterations=1, lanes=1)  # tests only: speed over strength

KEYED_MARKET = """
[[markets]]
symbol = "{symbol}"
key_label = "{label}"
client_id_prefix = "{prefix}"
strategy = "ladder"
[markets.ladder]
levels = 2
base_spread_pct = "0.3"
level_spacing_pct = "0.1"
level_size_quote = "{size}"
[markets.obligations]
max_spread_pct = "1"
min_depth_2pct_quote = "{size}"
[markets.risk]
max_order_notional = "500"
max_open_notional_per_side = "1000"
max_base_inventory = "10000000"
daily_loss_limit = "10000"
[markets.order_manager]
refresh_interval_ms = 100
order_budget_share = "0.5"
"""


def keyed_config(base_url: str, *markets: str, kpi_interval_s: float | None = None) -> str:
    """A config whose markets use stored keys (``KEYED_MARKET`` blocks), store under home."""
    top = "" if kpi_interval_s is None else f"kpi_interval_s = {kpi_interval_s}\n"
    return (f'{top}[bitrue]\nbase_url = "{base_url}"\n[store]\n'
            'url = "sqlite:///{home}/bot.db"\n' + "".join(markets))


def keyed_market(symbol: str, label: str, prefix: str, size: str = "50") -> str:
    return KEYED_MARKET.format(symbol=symbol, label=label, prefix=prefix, size=size)


async def admin(sim: SimServer, method: str, path: str, body: object | None = None) -> Any:
    headers = {"X-Sim-Admin": sim.admin_token or ""}
    async with aiohttp.ClientSession() as session:
        async with session.request(method, sim.base_url + path, json=body,
                                   headers=headers) as resp:
            data = await resp.json(content_type=None)
            assert resp.status == 200, f"admin {method} {path} -> {resp.status} {data}"
            return data


async def new_key(sim: SimServer, balances: dict[str, str] | None = None,
                  label: str = "scenario") -> tuple[int, str, str]:
    acct = await admin(sim, "POST", "/sim/admin/accounts", {"balances": balances or BALANCES})
    created = await admin(sim, "POST", "/sim/admin/keys", {
        "account_id": acct["account_id"], "label": label,
        "permissions": ["read", "trade"], "ip_allowlist": ["127.0.0.1"],
    })
    return acct["account_id"], created["api_key"], created["secret"]


def rest(sim: SimServer, key: str, secret: str) -> BitrueRestClient:
    return BitrueRestClient(BitrueUrls.single(sim.base_url), key, secret)


async def wait_for(predicate: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"never happened: {what}")
        await asyncio.sleep(0.02)


async def wait_for_async(predicate: Callable[[], Any], what: str, timeout: float = 15.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await predicate():
        if loop.time() > deadline:
            raise AssertionError(f"never happened: {what}")
        await asyncio.sleep(0.05)


def make_engine(
    sim: SimServer,
    api_key: str,
    secret: str,
    *,
    store: Store | None = None,
    levels: int = 2,
    spread: str = "0.3",
    size: str = "50",
    ticks: int = 2,
    loss_limit: str = "100000",
    on_loss: str = "minimum",
    recv_window: int = 5000,
    prefix: str = PREFIX,
    stale_after_s: float = 60.0,
    budget: OrderBudget | None = None,
) -> Engine:
    """The engine as ``run`` builds it."""
    cfg = parse_config(CONFIG.format(
        base_url=sim.base_url, levels=levels, spread=spread, size=size, ticks=ticks,
        loss_limit=loss_limit, on_loss=on_loss, recv_window=recv_window, prefix=prefix,
    ))
    def factory() -> Any:
        return bitrue_venue(cfg, api_key, secret, [SYMBOL])

    session = KeySession("scenario", factory(), list(cfg.markets), venue_factory=factory)
    if budget is not None:
        session.budget = budget
    return Engine([session], all_markets=cfg.markets, store=store,
                  recv_window_ms=recv_window, stale_after_s=stale_after_s, kpi_interval_s=0.2)


def with_key_label(cfg: Any, label: str) -> Any:
    markets = tuple(msgspec.structs.replace(m, key_label=label) for m in cfg.markets)
    return msgspec.structs.replace(cfg, markets=markets)


@contextlib.asynccontextmanager
async def running(engine: Engine) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.get_running_loop().create_task(engine.run(handle_signals=False))
    try:
        await wait_for(lambda: bool(engine.runners) or task.done(), "engine started")
        if task.done():
            task.result()
        yield task
    finally:
        engine.stop()
        await asyncio.wait_for(task, 30)


async def our_open_orders(client: BitrueRestClient, prefix: str = PREFIX) -> list[Any]:
    return [o for o in await client.open_orders(SYMBOL)
            if (o.clientOrderId or "").startswith(prefix)]


def two_sided(engine: Engine) -> bool:
    om = engine.runners[0].om if engine.runners else None
    if om is None:
        return False
    sides = {o.side.value for o in om.resting()}
    return sides == {"BUY", "SELL"}


@pytest.fixture
async def sim_quiet() -> AsyncIterator[SimServer]:
    """Seeded books, no synthetic traders: only our orders move the book."""
    async with SimServer(port=0, seed=1) as server:
        yield server


@pytest.fixture
async def sim_calm() -> AsyncIterator[SimServer]:
    """The calm scenario: makers re-quote and takers trade continuously."""
    async with SimServer(port=0, seed=2, scenario="calm") as server:
        yield server


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(f"sqlite:///{tmp_path / 'bot.db'}")
    s.create_schema()
    return s


D = Decimal
