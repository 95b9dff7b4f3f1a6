"""Synthetic participants and scenarios (virtual time, no sockets).

P01 unknown scenario names fail with the list of known ones
P02 calm: a two-sided book around fair value all along; no order rejected
P03 thin: the small-cap book has wide spreads and gaps between levels
P04 flash-crash: the price falls hard in the crash window, then recovers part of the drop
P05 trending: with the noise switched off, fair value and the traded price follow the drift
P06 takers arrive at the scenario's Poisson rate; informed takers trade towards fair value
"""

from __future__ import annotations

import statistics
from decimal import Decimal

import pytest

from bitrue_sim.core.clock import ManualClock
from bitrue_sim.core.exchange import Exchange
from bitrue_sim.participants import SyntheticMarket
from bitrue_sim.scenarios import SCENARIOS, scenario
from bitrue_sim.virtual import VirtualVenue

MINUTE = 60_000


def test_p01_unknown_scenario():
    with pytest.raises(ValueError) as info:
        scenario("sideways")
    for name in SCENARIOS:
        assert name in str(info.value)


def samples(venue: VirtualVenue, symbol: str, minutes: int, every_s: int = 30):
    out = []
    for _ in range(minutes * 60 // every_s):
        venue.run_for(every_s * 1000)
        bids, asks = venue.depth(symbol, 50)
        out.append((bids, asks, venue.participants.fair_value(symbol),
                    venue.exchange.last_price(symbol)))
    return out


def spread_bps(bids, asks) -> float:
    bid, ask = float(bids[0][0]), float(asks[0][0])
    return (ask - bid) / ((ask + bid) / 2) * 1e4


def test_p02_calm_book_follows_fair_value():
    venue = VirtualVenue("calm", seed=21, symbols=["XRPUSDT"])
    for bids, asks, fair, _ in samples(venue, "XRPUSDT", 60):
        assert len(bids) >= 5 and len(asks) >= 5
        assert bids[0][0] < asks[0][0]
        mid = float(bids[0][0] + asks[0][0]) / 2
        assert abs(mid / fair - 1) < 0.01
    assert venue.participants.rejected == 0


def test_p03_thin_book_is_wide_and_gappy():
    thin = samples(VirtualVenue("thin", seed=5), "NOVAUSDT", 120)
    calm = samples(VirtualVenue("calm", seed=5), "XRPUSDT", 120)
    two_sided = [(b, a) for b, a, _, _ in thin if b and a]
    assert len(two_sided) > len(thin) // 2
    thin_spread = statistics.median(spread_bps(b, a) for b, a in two_sided)
    calm_spread = statistics.median(spread_bps(b, a) for b, a, _, _ in calm)
    assert thin_spread > 5 * calm_spread
    tick = Decimal("0.000001")
    gaps = [int((b[i][0] - b[i + 1][0]) / tick) for b, _ in two_sided for i in range(len(b) - 1)]
    assert statistics.median(gaps) > 20  # levels far apart in ticks
    assert max(len(b) for b, _ in two_sided) <= 5


def test_p04_flash_crash_falls_and_recovers():
    sc = SCENARIOS["flash-crash"]
    crash = sc.crash
    venue = VirtualVenue("flash-crash", seed=8, symbols=["XRPUSDT"])
    start = float(venue.exchange.last_price("XRPUSDT"))
    venue.run_for(int(crash.first_after_s * 1000) - 5_000)
    before = float(venue.exchange.last_price("XRPUSDT"))
    low = before
    for _ in range(int(crash.fall_s) + 10):
        venue.run_for(1000)
        low = min(low, float(venue.exchange.last_price("XRPUSDT")))
    venue.run_for(int(crash.recover_s * 1000))
    after = float(venue.exchange.last_price("XRPUSDT"))
    assert abs(before / start - 1) < 0.05
    assert low < before * (1 - crash.drop_fraction * 0.6)
    assert after > low * 1.05


def test_p05_drift_without_noise():
    clock = ManualClock(1_700_000_000_000)
    exchange = Exchange(clock=clock, seed=2)
    trend = scenario("trending", volatility=0.0, drift=0.00001, informed_fraction=1.0)
    market = SyntheticMarket(exchange, trend, seed=2, symbols=("XRPUSDT",))
    market.step(clock.now_ms())
    fair = [market.fair_value("XRPUSDT")]
    for _ in range(36):
        clock.advance(100_000)
        while market.next_event_ms() <= clock.now_ms():
            market.step(market.next_event_ms())
        fair.append(market.fair_value("XRPUSDT"))
    assert fair == sorted(fair) and fair[-1] / fair[0] > 1.03
    assert float(exchange.last_price("XRPUSDT")) > 0.5 * 1.02


def test_p06_taker_rate_and_information():
    venue = VirtualVenue("calm", seed=13, symbols=["XRPUSDT"])
    venue.run_for(120 * MINUTE)
    expected = SCENARIOS["calm"].taker_rate * 120 * 60
    assert abs(venue.participants.taker_orders - expected) < 0.15 * expected
    informed = scenario("calm", informed_fraction=1.0, volatility=0.001)
    clock = ManualClock(1_700_000_000_000)
    exchange = Exchange(clock=clock, seed=3)
    market = SyntheticMarket(exchange, informed, seed=3, symbols=("XRPUSDT",))
    sides = []
    exchange.subscribe(lambda e: sides.append(e) if type(e).__name__ == "OrderChanged"
                       and e.order.account_id == market.taker_account
                       and e.reason == "NEW" else None)
    market.step(clock.now_ms())
    agree = total = 0
    for _ in range(3000):
        due = market.next_event_ms()
        clock.set(due)
        bids, asks = exchange.depth("XRPUSDT", 1)
        mid = float(bids[0][0] + asks[0][0]) / 2 if bids and asks else None
        fair = market.fair_value("XRPUSDT")
        seen = len(sides)
        market.step(due)
        for event in sides[seen:]:
            if mid is not None and fair != mid:
                total += 1
                agree += (event.order.side == "BUY") == (fair > mid)
    assert total > 50 and agree == total
