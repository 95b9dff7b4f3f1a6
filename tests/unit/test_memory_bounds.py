"""Bounds that keep a long run flat: the simulator's history of a bounded account, the backtest
venue's order-request accounting, the intensity estimator's window."""

from __future__ import annotations

import asyncio
import random
from decimal import Decimal as D

import pytest

from bitrue_sim.core import Exchange, ManualClock
from bitrue_sim.errors import ExchangeError
from bitrue_sim.virtual import HISTORY_LIMIT, VirtualVenue
from liquidity_bot.backtest import run_backtest
from liquidity_bot.backtest.venue import BacktestMarket, BacktestVenue
from liquidity_bot.config import parse_config
from liquidity_bot.domain.order import Side
from liquidity_bot.strategies.estimators import IntensityEstimator
from liquidity_bot.venues.bitrue.errors import RateLimited

SYM = "XRPUSDT"
T0 = 1_700_000_000_000
FUNDS = {"USDT": D("1000000"), "XRP": D("1000000")}
LIMIT = 8


def _twin_exchanges(limit: int) -> tuple[ManualClock, list[tuple[Exchange, int, int]]]:
    """The same flow on an unbounded and a bounded exchange: (exchange, ours, counterparty)."""
    clock = ManualClock(T0)
    out = []
    for history_limit in (None, limit):
        ex = Exchange(clock=clock, seed=3)
        ours = ex.create_account(FUNDS, maker_commission=D("0.001"), history_limit=history_limit)
        other = ex.create_account(FUNDS)
        out.append((ex, ours, other))
    return clock, out


def _flow(clock: ManualClock, twins: list[tuple[Exchange, int, int]], steps: int) -> list[str]:
    """Quotes, cancels and fills for ``ours``; one order left resting from the start."""
    rng = random.Random(5)
    cids = []
    for ex, ours, _ in twins:
        ex.place_order(ours, SYM, "BUY", "LIMIT", D("10"), D("0.4600"), "old-resting")
    for i in range(steps):
        clock.advance(1_000)
        action = rng.choice(("quote", "quote", "cancel", "fill"))
        cid = f"c{i}"
        for ex, ours, other in twins:
            if action == "quote":
                ex.place_order(ours, SYM, "SELL", "LIMIT", D("10"), D("0.5100"), cid)
            elif action == "cancel":
                ex.place_order(ours, SYM, "SELL", "LIMIT", D("10"), D("0.5200"), cid)
                ex.cancel_order(ours, SYM, client_order_id=cid)
            else:  # ours rests, the counterparty takes it (a fill on each side)
                ex.place_order(ours, SYM, "SELL", "LIMIT", D("10"), D("0.5000"), cid)
                ex.place_order(other, SYM, "BUY", "LIMIT", D("10"), D("0.5000"))
        cids.append(cid)
    return cids


def test_bounded_history_keeps_the_latest_answers_and_open_orders():
    clock, twins = _twin_exchanges(LIMIT)
    cids = _flow(clock, twins, 200)
    (full, f_ours, _), (bounded, b_ours, _) = twins
    # what the bound is about: the ledger stays within limit + limit/16 (+ open orders)
    kept = bounded.ledger(b_ours)
    open_now = len(bounded.open_orders(b_ours, SYM))
    assert len(kept["orders"]) <= LIMIT + max(1, LIMIT // 16) + open_now
    assert len(kept["fills"]) <= LIMIT + max(1, LIMIT // 16)
    assert len(full.ledger(f_ours)["orders"]) == 201
    # ... and every answer about the latest LIMIT is the unbounded exchange's answer
    assert bounded.all_orders(b_ours, SYM, limit=LIMIT)[-LIMIT:] == (
        full.all_orders(f_ours, SYM, limit=LIMIT)
    )
    assert bounded.my_trades(b_ours, SYM, limit=LIMIT) == full.my_trades(f_ours, SYM, limit=LIMIT)
    last_fill = full.my_trades(f_ours, SYM, limit=1)[0]
    assert bounded.my_trades(b_ours, SYM, from_id=last_fill.trade_id) == [last_fill]
    for cid in cids[-LIMIT:]:
        assert bounded.get_order(b_ours, SYM, client_order_id=cid) == full.get_order(
            f_ours, SYM, client_order_id=cid
        )
    assert bounded.open_orders(b_ours, SYM) == full.open_orders(f_ours, SYM)
    # an open order older than the bound is still listed, queryable and cancellable
    old = full.get_order(f_ours, SYM, client_order_id="old-resting")
    assert bounded.get_order(b_ours, SYM, order_id=old.order_id) == old
    assert bounded.all_orders(b_ours, SYM)[0] == old
    bounded.cancel_order(b_ours, SYM, client_order_id="old-resting")
    # a closed order beyond the bound is forgotten: -2013, as for an unknown order
    with pytest.raises(ExchangeError) as err:
        bounded.get_order(b_ours, SYM, client_order_id=cids[0])
    assert err.value.code == -2013
    assert full.get_order(f_ours, SYM, client_order_id=cids[0]).client_order_id == cids[0]
    # forgotten fills keep their fees in the exchange's totals, balances are the same
    assert bounded.fees_collected() == full.fees_collected()
    full.cancel_order(f_ours, SYM, client_order_id="old-resting")
    assert bounded.balances(b_ours) == full.balances(f_ours)


def test_bounded_history_rejects_a_nonsense_limit():
    ex = Exchange(clock=ManualClock(T0))
    for bad in (0, -1, True, 2.5):
        with pytest.raises(ValueError):
            ex.create_account(FUNDS, history_limit=bad)


def test_virtual_venue_accounts_are_bounded_by_default():
    venue = VirtualVenue(scenario=None, seed=0, symbols=[SYM])
    me = venue.create_account({"USDT": "100000"})
    for i in range(HISTORY_LIMIT * 2):
        venue.place_order(me, SYM, "BUY", "LIMIT", D("10"), D("0.5000"), f"q{i}")
        venue.cancel_order(me, SYM, client_order_id=f"q{i}")
    orders = venue.exchange.ledger(me)["orders"]
    assert HISTORY_LIMIT <= len(orders) <= HISTORY_LIMIT + HISTORY_LIMIT // 16
    assert orders[-1].client_order_id == f"q{HISTORY_LIMIT * 2 - 1}"
    everything = venue.create_account({"USDT": "100000"}, history_limit=None)
    for i in range(HISTORY_LIMIT + HISTORY_LIMIT // 4 + 1):
        venue.place_order(everything, SYM, "BUY", "LIMIT", D("10"), D("0.5000"), f"e{i}")
        venue.cancel_order(everything, SYM, client_order_id=f"e{i}")
    assert (
        len(venue.exchange.ledger(everything)["orders"]) == HISTORY_LIMIT + HISTORY_LIMIT // 4 + 1
    )


def test_backtest_venue_counts_order_requests_and_the_busiest_window():
    sim = VirtualVenue(scenario=None, seed=0, symbols=[SYM])
    venue = BacktestVenue(
        BacktestMarket(sim, [SYM]),
        sim.create_account(FUNDS),
        latency_ms=0,
        order_limit=3,
        order_window_ms=10_000,
    )

    async def place(i: int) -> None:
        await venue.place(SYM, Side.BUY, D("10"), D("0.5000"), f"w{i}")

    rejected = 0
    for at_s in (0, 1, 2, 3, 12, 13, 30):  # 3 in the first window, then the 4th is refused
        sim.run_until(T0 + at_s * 1000)
        try:
            asyncio.run(place(at_s))
        except RateLimited:
            rejected += 1
    assert rejected == 1 and venue.rate_limited == 1
    assert venue.order_requests == 6
    assert venue.max_order_requests_in_window() == 3


def test_intensity_hits_stay_within_the_window_without_fits():
    est = IntensityEstimator(window_s=60, kappa_default=1.0, a_default=1.0)
    for i in range(10_000):
        est.record_hit(i * 100, 0.1)  # 10 hits per second for 1000 s, never fitted
    assert est.hits <= 601  # the last 60 s at 10 per second (both edges)
    twin = IntensityEstimator(window_s=60, kappa_default=1.0, a_default=1.0)
    for i in range(9_400, 10_000):
        twin.record_hit(i * 100, 0.1)
    assert est.fit(999_900) == twin.fit(999_900)


BACKTEST_CONFIG = """
[[markets]]
symbol = "XRPUSDT"
key_label = "mem"
client_id_prefix = "lbmem"
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
"""


def test_a_tight_simulator_bound_does_not_change_a_backtest():
    """The engine reads only recent history: 5 orders per symbol give the same run as all."""
    config = parse_config(BACKTEST_CONFIG, source="test config")
    probed: list[tuple[float, int]] = []

    def run(limit: int | None, on_sample=None):
        return run_backtest(
            config,
            scenario="volatile",
            hours=0.1,
            seed=3,
            sample_every_s=60,
            sim_history_limit=limit,
            on_sample=on_sample,
        )

    bounded = run(5, on_sample=lambda h, rss: probed.append((h, rss)))
    full = run(None)
    assert bounded.markets[0].orders_placed > 20  # enough orders for the bound to bite
    assert bounded.fingerprint() == full.fingerprint()
    assert probed == list(bounded.rss_samples) and len(probed) >= 5
