"""OrderBudget: a sliding window per key, spent by priority and by market share."""

from __future__ import annotations

from decimal import Decimal

import pytest

from liquidity_bot.engine.budget import OrderBudget, Priority


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def budget(**kw) -> tuple[OrderBudget, Clock]:
    clock = Clock()
    kw.setdefault("headroom", Decimal("0.1"))
    kw.setdefault("reserve_share", Decimal("0.3"))
    return OrderBudget(clock=clock, **kw), clock


def test_capacity_keeps_headroom_below_bitrues_limit():
    b, _ = budget()
    assert b.capacity == 90 and b.hard_limit == 100 and b.reserve == 27


def test_normal_requests_leave_the_reserve_to_critical_ones():
    b, _ = budget(limit=10, headroom=Decimal(0), reserve_share=Decimal("0.3"))
    assert sum(b.try_spend("X", Priority.NORMAL) for _ in range(10)) == 7
    assert b.try_spend("X", Priority.NORMAL) is False
    assert sum(b.try_spend("X", Priority.CRITICAL) for _ in range(5)) == 3
    assert b.available() == 0
    assert b.refused == 3 + 1 + 2


def test_emergency_may_use_the_headroom_but_not_more():
    b, _ = budget(limit=10, headroom=Decimal("0.2"))
    while b.try_spend("X", Priority.CRITICAL):
        pass
    assert b.used() == 8
    assert b.try_spend("X", Priority.EMERGENCY) and b.try_spend("X", Priority.EMERGENCY)
    assert b.try_spend("X", Priority.EMERGENCY) is False
    assert b.max_in_any_window() == 10


def test_window_slides():
    b, clock = budget(limit=4, headroom=Decimal(0), reserve_share=Decimal(0))
    for _ in range(4):
        assert b.try_spend("X")
    assert not b.try_spend("X")
    clock.t += 30
    assert not b.try_spend("X")
    # Bitrue's 60 s plus the connector's 1 s margin: what the budget allows, it can send
    assert b.seconds_until_room() == pytest.approx(31.0)
    clock.t += 30.001
    assert not b.try_spend("X")  # 60 s on: Bitrue would take it, the governor still counts it
    clock.t += 1.0
    assert b.try_spend("X")
    assert b.max_in_any_window() == 4


def test_each_market_spends_its_share_of_normal_requests():
    b, _ = budget(limit=20, headroom=Decimal(0), reserve_share=Decimal(0))
    b.register("A", Decimal("0.25"))
    b.register("B", Decimal("0.75"))
    assert sum(b.try_spend("A") for _ in range(20)) == 5
    assert sum(b.try_spend("B") for _ in range(20)) == 15
    assert b.used("A") == 5 and b.used("B") == 15


async def test_emergency_waits_for_room_instead_of_failing():
    b, clock = budget(limit=2, headroom=Decimal(0))
    assert b.try_spend("X", Priority.CRITICAL) and b.try_spend("X", Priority.CRITICAL)
    clock.t += 61  # the window has passed by the time the wait is over
    await b.spend_when_possible("X")
    assert b.used() == 1


def test_history_is_bounded_and_the_peak_matches_a_full_recount():
    """The running peak equals a recount over every send; the kept history stays bounded."""
    import random

    b, clock = budget(limit=30, history_len=50)
    every: list[float] = []
    rng = random.Random(5)
    for _ in range(2000):
        clock.t += rng.choice((0.01, 0.5, 2.0, 7.0))
        prio = rng.choice(list(Priority))
        if b.try_spend("X", prio):
            every.append(clock.t)
    best, start = 0, 0
    for end in range(len(every)):
        while every[end] - every[start] >= b.window_s:
            start += 1
        best = max(best, end - start + 1)
    assert best == b.max_in_any_window() <= b.hard_limit
    assert len(b.history) == 50 and list(b.history) == every[-50:]


def test_the_budget_counts_a_request_as_long_as_the_connector_does():
    from liquidity_bot.engine.budget import BITRUE_ORDER_WINDOW_S
    from liquidity_bot.venues.bitrue.ratelimit import RateGovernor

    assert OrderBudget().window_s == BITRUE_ORDER_WINDOW_S + RateGovernor().margin_s
