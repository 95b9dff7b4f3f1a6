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
    from liquidity_bot.venues.bitrue.ratelimit import RateGovernor
    from liquidity_bot.venues.bitrue.weights import ORDER_RATE_LIMIT

    assert OrderBudget().window_s == ORDER_RATE_LIMIT.window_s + RateGovernor().margin_s
    assert (OrderBudget.for_limit(ORDER_RATE_LIMIT).window_s
            == ORDER_RATE_LIMIT.window_s + RateGovernor().margin_s)


# --- pacing: the planner's interface (allowance, spend) ----------------------------------------
def paced(now: list[float], **kw) -> OrderBudget:
    return OrderBudget(clock=lambda: now[0], **kw)


def test_pacing_never_spends_the_minute_at_once_and_refills_at_the_target_rate():
    now = [0.0]
    b = paced(now)  # target 60 a minute, one market: a bucket of 15 refilled at 1 a second
    b.register("XRPUSDT")
    first = b.allowance("XRPUSDT")
    assert first.restore == 15 and first.rescue == 13 and first.improve == 1
    for _ in range(15):
        assert b.spend("XRPUSDT", 1, "RESTORE")
    assert b.allowance("XRPUSDT").restore == 0 and not b.spend("XRPUSDT")
    now[0] += 5.0
    assert b.allowance("XRPUSDT").restore == 5
    assert b.allowance("XRPUSDT").improve == 0, "improving waits for a comfortably full bucket"
    assert b.spent_by_purpose == {"RESTORE": 15}


def test_pacing_keeps_every_60_s_window_under_the_target():
    import random

    rng = random.Random(7)
    now = [0.0]
    b = paced(now, target=60)
    b.register("A", Decimal("0.5"))
    b.register("B", Decimal("0.5"))
    sent: list[float] = []
    for _ in range(20_000):
        now[0] += rng.random() * 0.3
        market = rng.choice("AB")
        room = b.allowance(market).restore
        if room and b.spend(market, min(room, rng.randint(1, 2))):
            sent.append(now[0])
    assert len(sent) > 1000
    j = 0
    for i, t in enumerate(sent):  # every window of 60 s (counting requests, not spends)
        while sent[j] <= t - 60:
            j += 1
        assert i - j + 1 <= 60
    assert b.max_in_any_window() <= 60


def test_shares_are_normalised_and_one_market_cannot_starve_another():
    now = [0.0]
    b = paced(now)
    b.register("A", Decimal(1))
    b.register("B", Decimal(1))  # 2 in all: each gets half of the target
    assert b.target_of("A") == 30 and b.target_of("B") == 30
    for _ in range(200):
        now[0] += 0.5
        while b.allowance("A").restore:
            assert b.spend("A")
    assert b.used("A") <= 30
    assert b.allowance("B").restore > 0, "B still has its share"


def test_open_orders_keep_room_to_cancel_them_all():
    now = [0.0]
    b = paced(now, target=20)
    b.register("A")
    b.set_open("A", 4)
    for _ in range(100):
        now[0] += 1
        while b.allowance("A").restore:
            assert b.spend("A")
    assert b.used("A") == 16, "4 of the 20 are kept for cancelling the 4 open orders"


def test_set_target_is_capped_by_the_capacity():
    b = OrderBudget()
    b.set_target(500)
    assert b.target == b.quoting_capacity == 90
    with pytest.raises(ValueError):
        b.set_target(0)
