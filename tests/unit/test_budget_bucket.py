"""The order budget's token bucket is exact integers computed from the last spend: reading it
never changes it, so how often it is read (every pass, or only the passes that are not
skipped) cannot change what it allows. ``next_token_ns`` says when a read could next differ."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from liquidity_bot.engine.budget import NS, OrderBudget, _Bucket, _ns


class _Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def _exact_level(spends: list[tuple[int, int]], now_ns: int, target: int, period: int,
                 cap: Fraction) -> Fraction:
    """The bucket's level in tokens by exact rational arithmetic, refilled between spends."""
    level, at = cap, 0
    for t, n in spends:
        level = min(cap, level + Fraction((t - at) * target, period)) - n
        at = t
    return min(cap, level + Fraction((now_ns - at) * target, period))


@settings(max_examples=200, deadline=None)
@given(
    target=st.integers(1, 90),
    gaps=st.lists(st.integers(0, 30 * NS), min_size=1, max_size=12),
    reads=st.lists(st.integers(0, 30 * NS), max_size=20),
)
def test_the_level_is_exact_and_reading_never_changes_it(target: int, gaps: list[int],
                                                          reads: list[int]) -> None:
    period = 60 * NS
    capacity = max(3.0, target * 0.25)
    cap = round(capacity * period)
    bucket = _Bucket(target=target, period_ns=period, cap=cap, units=cap, at_ns=0,
                     capacity=capacity)
    twin = _Bucket(target=target, period_ns=period, cap=cap, units=cap, at_ns=0,
                   capacity=capacity)
    spends: list[tuple[int, int]] = []
    t = 0
    for i, gap in enumerate(gaps):
        t += gap
        for r in reads:  # reads at any times before the spend: the twin is never read
            bucket.level(min(t, r))
        if bucket.units_at(t) >= period:
            bucket.take(t, 1)
            twin.take(t, 1)
            spends.append((t, 1))
        assert bucket.units == twin.units and bucket.at_ns == twin.at_ns
        exact = _exact_level(spends, t + i, target, period, Fraction(cap, period))
        assert bucket.level(t + i) == exact.numerator // exact.denominator


@settings(max_examples=200, deadline=None)
@given(target=st.integers(1, 90), spent=st.integers(0, 30), later=st.integers(0, 90 * NS))
def test_next_token_is_the_first_instant_the_level_grows(target: int, spent: int,
                                                        later: int) -> None:
    period = 60 * NS
    capacity = max(3.0, target * 0.25)
    cap = round(capacity * period)
    bucket = _Bucket(target=target, period_ns=period, cap=cap, units=cap, at_ns=0,
                     capacity=capacity)
    for _ in range(spent):
        if bucket.units_at(0) >= period:
            bucket.take(0, 1)
    now = later
    nxt = bucket.next_token_ns(now)
    if nxt is None:
        assert bucket.level(now + 10**15) == bucket.level(now)
    else:
        assert nxt > now
        assert bucket.level(nxt) == bucket.level(now) + 1
        assert bucket.level(nxt - 1) == bucket.level(now)


def test_allowance_reads_do_not_move_the_budget() -> None:
    """Many reads between two spends give the same allowance as none (the float bucket refilled
    on every read; its rounding depended on how often it was read)."""
    clock_a, clock_b = _Clock(), _Clock()
    a = OrderBudget(clock=clock_a, target=60)
    b = OrderBudget(clock=clock_b, target=60)
    for bud in (a, b):
        bud.register("X")
    for step in range(1, 400):
        t = step * 0.37
        for k in range(7):  # ``a`` is read often, ``b`` only when it spends
            clock_a.t = t - 0.37 + k * 0.05
            a.allowance("X")
        clock_a.t = clock_b.t = t
        assert a.allowance("X") == b.allowance("X")
        assert a.spend("X", 1) == b.spend("X", 1)
    assert a._buckets["X"].units == b._buckets["X"].units
    assert _ns(0.37) == 370_000_000
