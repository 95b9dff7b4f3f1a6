"""Virtual-time driver: determinism, the venue interface, callbacks, faults in virtual time.

V01 the same scenario and seed give the identical sequence of market states on two runs
V02 a different seed gives a different market
V03 time only moves through run_until/run_for; timers run in time order
V04 venue calls and callbacks: order, fill and balance events of the venue's own accounts
V05 injected unknown outcomes in virtual time: executed or not, reconcilable by client id
V06 injected latency lets the market move before the request is executed
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from bitrue_sim.errors import ExchangeError
from bitrue_sim.faults import FaultProfile, Latency, UnknownOutcome
from bitrue_sim.virtual import UnknownOutcomeError, VirtualVenue

MINUTE = 60_000


def market_run(scenario: str, seed: int, minutes: int = 20) -> list:
    venue = VirtualVenue(scenario=scenario, seed=seed)
    states = []
    for _ in range(minutes * 6):
        venue.run_for(10_000)
        states.extend(venue.market_state(symbol) for symbol in venue.symbols)
    return states


@pytest.mark.parametrize("scenario", ["calm", "volatile", "trending", "flash-crash", "thin"])
def test_v01_same_seed_same_market(scenario):
    first = market_run(scenario, seed=11)
    second = market_run(scenario, seed=11)
    assert first == second
    assert len({(s.bids, s.asks) for s in first}) > 10  # the market did move


def test_v02_other_seed_other_market():
    assert market_run("calm", seed=1, minutes=5) != market_run("calm", seed=2, minutes=5)


def test_v03_timers_and_time():
    venue = VirtualVenue(scenario=None, seed=0, start_ms=1_000_000)
    fired: list[tuple[str, int]] = []
    venue.call_at(1_005_000, lambda: fired.append(("b", venue.now_ms())))
    venue.call_at(1_002_000, lambda: fired.append(("a", venue.now_ms())))
    venue.call_later(9_000, lambda: fired.append(("c", venue.now_ms())))
    assert venue.now_ms() == 1_000_000
    venue.run_until(1_005_000)
    assert fired == [("a", 1_002_000), ("b", 1_005_000)]
    assert venue.now_ms() == 1_005_000
    venue.run_for(10_000)
    assert fired[-1] == ("c", 1_009_000) and venue.now_ms() == 1_015_000


def test_v04_venue_calls_and_callbacks():
    venue = VirtualVenue(scenario="calm", seed=4, symbols=["XRPUSDT"])
    me = venue.create_account({"USDT": "10000", "XRP": "10000"})
    orders, fills, balances = [], [], []
    venue.on_order(lambda order, reason: orders.append((order.client_order_id, reason,
                                                        order.status)))
    venue.on_fill(fills.append)
    venue.on_balance(lambda account, balance: balances.append((account, balance.asset)))
    bids, asks = venue.depth("XRPUSDT", 5)
    assert bids and asks
    best_bid = bids[0][0]
    resting = venue.place_order(me, "XRPUSDT", "BUY", "LIMIT", Decimal("100"),
                                best_bid - Decimal("0.0050"), "rest-1")
    assert orders == [("rest-1", "NEW", "NEW")]
    assert [o.client_order_id for o in venue.open_orders(me, "XRPUSDT")] == ["rest-1"]
    assert balances == [(me, "USDT")]
    venue.place_order(me, "XRPUSDT", "SELL", "MARKET", Decimal("50"), None, "take-1")
    assert fills and all(f.client_order_id == "take-1" for f in fills)
    assert venue.fills(me, "XRPUSDT")[-1].trade_id == fills[-1].trade_id
    cancelled = venue.cancel_order(me, "XRPUSDT", client_order_id="rest-1")
    assert cancelled.status == "CANCELED" and orders[-1] == ("rest-1", "CANCELED_BY_USER",
                                                             "CANCELED")
    assert venue.get_order(me, "XRPUSDT", order_id=resting.order_id).status == "CANCELED"
    # a resting order of ours is eventually hit by the synthetic takers
    venue.place_order(me, "XRPUSDT", "SELL", "LIMIT", Decimal("20"),
                      venue.depth("XRPUSDT", 1)[1][0][0], "maker-1")
    venue.run_for(60 * MINUTE)
    assert any(c == "maker-1" and r == "TRADE" for c, r, _ in orders)
    assert venue.balances(me)["XRP"].free < Decimal("10000") - Decimal(50)


def test_v05_unknown_outcomes_in_virtual_time():
    executed = FaultProfile(unknown_outcome=UnknownOutcome(probability=1.0,
                                                           accepted_probability=1.0))
    venue = VirtualVenue(scenario=None, seed=0, faults=executed)
    me = venue.create_account({"USDT": "1000"})
    with pytest.raises(UnknownOutcomeError) as info:
        venue.place_order(me, "XRPUSDT", "BUY", "LIMIT", Decimal("10"), Decimal("0.4900"), "u1")
    assert info.value.executed and info.value.http_status in (500, 503)
    assert venue.get_order(me, "XRPUSDT", client_order_id="u1").status == "NEW"

    venue.faults.apply(FaultProfile(unknown_outcome=UnknownOutcome(
        probability=1.0, accepted_probability=0.0)))
    with pytest.raises(UnknownOutcomeError) as info:
        venue.place_order(me, "XRPUSDT", "BUY", "LIMIT", Decimal("10"), Decimal("0.4900"), "u2")
    assert not info.value.executed
    with pytest.raises(ExchangeError) as missing:
        venue.get_order(me, "XRPUSDT", client_order_id="u2")
    assert missing.value.code == -2013
    assert venue.faults.counts["unknown_outcome"] == 2


def test_v06_latency_moves_time_before_execution():
    venue = VirtualVenue(scenario="volatile", seed=9, symbols=["XRPUSDT"],
                         faults=FaultProfile(latency=Latency(probability=1.0,
                                                             distribution="fixed",
                                                             mean_ms=2500, max_ms=2500)))
    me = venue.create_account({"USDT": "1000"})
    before = venue.now_ms()
    order = venue.place_order(me, "XRPUSDT", "BUY", "LIMIT", Decimal("10"), Decimal("0.4500"))
    assert order.time == before + 2500 and venue.now_ms() == before + 2500


def test_v07_book_changes_before_a_delivery_are_one_update():
    """A participant's cancel and place (two book changes in one step) reach a book callback
    as one update; every step that changed a book still sends one, at the step's time."""
    venue = VirtualVenue(scenario="volatile", seed=3, symbols=["XRPUSDT"])
    heard: list[tuple[str, int]] = []
    venue.on_book(lambda u: heard.append((u.symbol, u.time_ms)))
    changed_at: set[int] = set()
    exchange = venue.exchange
    levels = exchange.depth("XRPUSDT", None)
    end = venue.now_ms() + 2 * MINUTE
    while venue.now_ms() < end:
        nxt = venue.participants.next_event_ms()
        venue.run_until(nxt)
        now = exchange.depth("XRPUSDT", None)
        if now != levels:
            changed_at.add(nxt)
        levels = now
    assert len(heard) == len(set(heard))  # never twice for one symbol at one time
    assert changed_at <= {t for _, t in heard}  # a change is always heard, when it happens
    assert len(heard) < venue.exchange_events  # and the cancel-and-place pairs were merged
