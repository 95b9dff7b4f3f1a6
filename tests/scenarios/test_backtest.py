"""Backtests: the live engine on the simulator's virtual time (liquidity_bot.backtest)."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

import pytest

from bitrue_sim.virtual import VirtualVenue
from liquidity_bot.backtest import run_backtest
from liquidity_bot.backtest.clock import VirtualEventLoop
from liquidity_bot.backtest.venue import BacktestMarket, BacktestVenue
from liquidity_bot.config import parse_config
from liquidity_bot.domain.order import Side
from liquidity_bot.store import Store
from liquidity_bot.venues.bitrue.errors import RateLimited

CONFIG = """
kpi_interval_s = 1
[[markets]]
symbol = "XRPUSDT"
key_label = "bt"
client_id_prefix = "lbbt"
strategy = "ladder"
[markets.ladder]
levels = 3
base_spread_pct = "0.6"
level_spacing_pct = "0.1"
level_size_quote = "150"
[markets.obligations]
max_spread_pct = "1"
min_depth_2pct_quote = "300"
[markets.risk]
max_order_notional = "500"
max_open_notional_per_side = "1000"
max_base_inventory = "20000"
daily_loss_limit = "5000"
max_fills_per_minute = 120
[markets.order_manager]
price_tolerance_pct = "0.25"
size_tolerance_pct = "60"
refresh_interval_ms = 1000
"""
HOURS = 0.1  # six simulated minutes: about a second of wall time


@pytest.fixture(scope="module")
def config():
    return parse_config(CONFIG, source="test config")


def _stored(url: str) -> tuple[list, list, list]:
    store = Store(url)
    try:
        orders = sorted((o.client_order_id, o.status, o.filled_qty) for o in store.orders())
        fills = sorted((f.trade_id, f.client_order_id, f.price, f.qty) for f in store.fills())
        kpis = store.kpi_samples()
    finally:
        store.close()
    return orders, fills, kpis


def test_same_seed_same_result(config, tmp_path) -> None:
    urls = [f"sqlite:///{tmp_path}/a.db", f"sqlite:///{tmp_path}/b.db"]
    a, b = (run_backtest(config, scenario="volatile", hours=HOURS, seed=5, store_url=u)
            for u in urls)
    assert a.fingerprint() == b.fingerprint()
    assert a.markets[0].orders_placed > 0 and a.markets[0].fills > 0  # it really traded
    orders_a, fills_a, kpis_a = _stored(urls[0])
    orders_b, fills_b, kpis_b = _stored(urls[1])
    assert orders_a == orders_b  # same client ids, same outcomes
    assert fills_a == fills_b
    assert [(k.ts_ms, k.obligations_met) for k in kpis_a] == [
        (k.ts_ms, k.obligations_met) for k in kpis_b]


def test_another_seed_another_market(config) -> None:
    a = run_backtest(config, scenario="volatile", hours=HOURS, seed=5)
    b = run_backtest(config, scenario="volatile", hours=HOURS, seed=6)
    assert a.fingerprint() != b.fingerprint()


def test_runs_on_simulated_time_and_writes_the_report(config, tmp_path) -> None:
    url = f"sqlite:///{tmp_path}/run.db"
    report = tmp_path / "report.json"
    started = time.perf_counter()
    r = run_backtest(config, scenario="volatile", hours=0.25, seed=1, store_url=url,
                     report_path=report, report_format="json")
    wall = time.perf_counter() - started
    assert r.wall_s <= wall
    _orders, fills, kpis = _stored(url)
    # KPI samples carry simulated timestamps, one per kpi_interval over the quarter hour (the
    # last may be taken while shutdown cancels, a few simulated milliseconds after the end).
    start_ms = VirtualVenue(scenario=None).now_ms()
    assert kpis and all(start_ms <= k.ts_ms <= start_ms + 15 * 60_000 + 1_000 for k in kpis)
    assert len(kpis) >= 600  # about one per second (the runner samples on its passes)
    assert len(fills) == r.markets[0].fills
    assert r.markets[0].open_after_shutdown == 0
    text = report.read_text()
    assert "XRPUSDT" in text and "uptime" in text.lower()


def test_exchange_side_order_limit_is_never_exceeded(config) -> None:
    for manager in ("ours", "baseline"):
        r = run_backtest(config, scenario="volatile", hours=0.25, seed=2, manager=manager)
        assert r.max_order_requests_per_window <= 100, manager
        assert r.rate_limited == 0, manager


def test_the_baseline_refreshes_on_its_timer_and_ours_does_better_with_less(config) -> None:
    ours = run_backtest(config, scenario="calm", hours=HOURS, seed=3)
    base = run_backtest(config, scenario="calm", hours=HOURS, seed=3, manager="baseline")
    # One order a side, renewed when the 10 s timer finds it beyond the 0.2 % tolerance, and
    # after each fill (with a delay): the market moves enough for several refreshes.
    assert base.markets[0].cancel_requests >= 5 and base.markets[0].orders_placed >= 8
    assert ours.order_requests < base.order_requests
    assert ours.markets[0].uptime > base.markets[0].uptime


def test_virtual_loop_sleeps_in_simulated_time() -> None:
    sim = VirtualVenue(scenario="calm", seed=0, symbols=["XRPUSDT"])
    market = BacktestMarket(sim, ["XRPUSDT"])
    loop = VirtualEventLoop(market)
    books: list[int] = []

    async def main() -> float:
        async def reader() -> None:
            async for update in market.books.subscribe():
                books.append(update.ts_ms)

        task = asyncio.create_task(reader())
        await asyncio.sleep(3600)
        task.cancel()
        return loop.time()

    started_ms = sim.now_ms()
    wall = time.perf_counter()
    try:
        assert loop.run_until_complete(main()) == pytest.approx(3600)
    finally:
        loop.close()
    assert time.perf_counter() - wall < 60  # an hour did not take an hour
    assert sim.now_ms() - started_ms == 3_600_000
    assert len(books) > 100  # the market moved and depth was pushed while we slept
    assert all(b - a >= market.push_interval_ms for a, b in zip(books, books[1:], strict=False))


def test_venue_enforces_bitrue_order_limit() -> None:
    sim = VirtualVenue(scenario=None, seed=0, symbols=["XRPUSDT"])
    account = sim.create_account({"USDT": "100000", "XRP": "100000"})
    market = BacktestMarket(sim, ["XRPUSDT"])
    venue = BacktestVenue(market, account, latency_ms=0, order_limit=5)
    loop = VirtualEventLoop(market)

    async def main() -> None:
        for i in range(5):
            ack = await venue.place("XRPUSDT", Side.BUY, Decimal("10"), Decimal("0.46"), f"c{i}")
            assert ack.exchange_order_id
        with pytest.raises(RateLimited):
            await venue.place("XRPUSDT", Side.BUY, Decimal("10"), Decimal("0.46"), "c5")
        await asyncio.sleep(61)  # the window slides in simulated time
        reject = await venue.cancel("XRPUSDT", client_order_id="never-placed")
        assert reject.code == -2013
        snap = await venue.query("XRPUSDT", client_order_id="c0")
        assert snap is not None and snap.is_open
        assert await venue.query("XRPUSDT", client_order_id="nope") is None

    try:
        loop.run_until_complete(main())
    finally:
        loop.close()
    assert venue.rate_limited == 1
