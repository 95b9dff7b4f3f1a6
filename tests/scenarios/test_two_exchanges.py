"""One engine quotes the same token on two exchanges with two keys: XRPUSDT on the Bitrue
simulator through the native venue and on the Binance-dialect simulator through ccxt's
``binance`` client. Each market is (exchange, symbol): its orders, fills and samples are stored
under its exchange (both simulators number their trades alike), a crash and restart adopts each
exchange's orphans on that exchange only, and the summary and the report group by exchange."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest

from bitrue_sim.server.runner import SimServer
from liquidity_bot.config import parse_config
from liquidity_bot.engine.budget import OrderBudget
from liquidity_bot.engine.runner import Engine, KeySession, summary
from liquidity_bot.reporting.report import build_report
from liquidity_bot.store import Store
from liquidity_bot.testing import crash
from liquidity_bot.venues.bitrue.factory import bitrue_venue

from .conftest import CONFIG, PREFIX, SYMBOL, admin, new_key, wait_for

pytest.importorskip("ccxt.pro")

BINANCE_PREFIX = "lbb"


def two_exchange_config(bitrue: SimServer) -> Any:
    text = CONFIG.format(base_url=bitrue.base_url, levels=2, spread="0.06", size="50", ticks=2,
                         loss_limit="100000", on_loss="minimum", recv_window=5000, prefix=PREFIX)
    market = text[text.index("[[markets]]"):]
    second = (market.replace('key_label = "scenario"\n', 'key_label = "binance"\n'
                             'exchange = "binance"\nconnector = "ccxt"\n')
              .replace(f'client_id_prefix = "{PREFIX}"', f'client_id_prefix = "{BINANCE_PREFIX}"'))
    return parse_config(text + second)


def engine_on_both(cfg: Any, bitrue: SimServer, binance: SimServer, keys: dict[str, tuple],
                   store: Store) -> Engine:
    from liquidity_bot.venues.ccxt.venue import CcxtVenue

    native_market, ccxt_market = cfg.markets
    assert (native_market.symbol, ccxt_market.symbol) == (SYMBOL, SYMBOL)

    def native() -> Any:
        return bitrue_venue(cfg, *keys["bitrue"], [SYMBOL])

    def through_ccxt() -> Any:
        return CcxtVenue("binance", *keys["binance"], [SYMBOL], http_base=binance.base_url,
                         ws_base=binance.ws_url, poll_interval_s=1.0)

    sessions = []
    for label, factory, market in (("scenario", native, native_market),
                                   ("binance", through_ccxt, ccxt_market)):
        venue = factory()
        sessions.append(KeySession(label, venue, [market], venue_factory=factory,
                                   budget=OrderBudget.for_limit(venue.order_rate_limit)))
    return Engine(sessions, all_markets=cfg.markets, store=store, recv_window_ms=5000,
                  stale_after_s=60.0, kpi_interval_s=0.2)


def ours(sim: SimServer, account: int, prefix: str) -> list:
    return [o for o in sim.exchange.open_orders(account, SYMBOL)
            if o.client_order_id.startswith(prefix)]


def quoting(engine: Engine) -> bool:
    return len(engine.runners) == 2 and all(
        {o.side.value for o in r.om.resting()} == {"BUY", "SELL"} for r in engine.runners)


async def fill_best_bid(sim: SimServer, taker: int, runner: Any) -> None:
    bid = max((o for o in runner.om.resting() if o.side.value == "BUY"), key=lambda o: o.price)
    sim.exchange.place_order(taker, SYMBOL, "SELL", "LIMIT", Decimal("20"), bid.price)


async def test_one_token_on_two_exchanges_kept_apart(store, tmp_path):
    async with SimServer(port=0, seed=1) as bitrue, \
            SimServer(port=0, seed=1, dialect="binance") as binance:
        sims = {"bitrue": bitrue, "binance": binance}
        accounts, keys, takers = {}, {}, {}
        for name, sim in sims.items():
            account, key, secret = await new_key(sim)
            accounts[name], keys[name] = account, (key, secret)
            takers[name], _, _ = await new_key(sim, {"XRP": "100000", "USDT": "100000"},
                                               label="taker")
        prefixes = {"bitrue": PREFIX, "binance": BINANCE_PREFIX}
        cfg = two_exchange_config(bitrue)

        first = engine_on_both(cfg, bitrue, binance, keys, store)
        task = asyncio.get_running_loop().create_task(first.run(handle_signals=False))
        await wait_for(lambda: quoting(first), "both exchanges quote", timeout=40)
        by_exchange = {r.exchange: r for r in first.runners}
        assert {r.name for r in first.runners} == {"XRPUSDT", "binance:XRPUSDT"}
        for name, sim in sims.items():
            await fill_best_bid(sim, takers[name], by_exchange[name])
        await wait_for(lambda: all(r.om.stats.fills >= 1 for r in first.runners),
                       "each market sees its own fill", timeout=30)
        await crash(first)
        await asyncio.wait_for(task, 10)
        left = {name: {o.client_order_id for o in ours(sims[name], accounts[name],
                                                        prefixes[name])} for name in sims}
        assert all(left.values()), "the crash left orders on both exchanges"

        second = engine_on_both(cfg, bitrue, binance, keys, store)
        task = asyncio.get_running_loop().create_task(second.run(handle_signals=False))
        await wait_for(lambda: quoting(second), "both quote again after the restart", timeout=40)
        for r in second.runners:
            tracked = set(r.om.orders)
            assert not {c for c in tracked if not c.startswith(prefixes[r.exchange])}, \
                f"{r.name} adopted another exchange's orders"
            assert r.om.stats.adopted >= 1
        for name, sim in sims.items():
            await fill_best_bid(sim, takers[name], {r.exchange: r for r in second.runners}[name])
        await wait_for(lambda: all(r.om.stats.fills >= 1 for r in second.runners),
                       "each market fills again", timeout=30)
        out_before_stop = summary(second)
        second.stop()
        await asyncio.wait_for(task, 60)

        for name, sim in sims.items():
            assert ours(sim, accounts[name], prefixes[name]) == [], f"{name}: all cancelled"
            ledger = await admin(sim, "GET", f"/sim/admin/ledger?account_id={accounts[name]}")
            exchange_fills = sorted(str(f["id"]) for f in ledger["fills"])
            stored = sorted(f.trade_id for f in store.fills(SYMBOL, exchange=name))
            assert len(exchange_fills) >= 2
            assert stored == exchange_fills, f"{name}: every fill stored once, under {name}"
            assert {o.client_order_id[:3] for o in store.orders(exchange=name)} == {prefixes[name]}
        assert store.orders(open_only=True) == []
        both = {f.trade_id for f in store.fills(SYMBOL, exchange="bitrue")} & {
            f.trade_id for f in store.fills(SYMBOL, exchange="binance")}
        assert both, "the two simulators number their trades alike: the store keeps both"

    assert set(out_before_stop["markets"]) == {"XRPUSDT", "binance:XRPUSDT"}
    assert out_before_stop["markets"]["binance:XRPUSDT"]["exchange"] == "binance"
    assert store.kpi_markets() == [("binance", SYMBOL), ("bitrue", SYMBOL)]
    report = build_report(store)
    doc = report.to_json()
    assert doc["exchanges"] == {"binance": [SYMBOL], "bitrue": [SYMBOL]}
    assert set(doc["symbols"]) == {"XRPUSDT", "binance:XRPUSDT"}
    for r in report.symbols:
        assert r.sample_count > 0
        assert len(r.fills) == len(store.fills(SYMBOL, exchange=r.exchange))
