"""Clock offset: RTT midpoint, shortest round trip wins."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from liquidity_bot.venues.bitrue.clock import ClockSample, ServerClock


def test_offset_is_measured_at_round_trip_midpoint():
    s = ClockSample(local_sent_ms=1000, local_received_ms=1100, server_ms=6050)
    assert s.rtt_ms == 100
    assert s.offset_ms == 5000


def test_shortest_round_trip_is_trusted_and_applied():
    local = [10_000.0]
    clock = ServerClock(local_ms=lambda: local[0], monotonic=lambda: 5.0)
    best = clock.apply(
        [
            ClockSample(0, 400, 2300),  # offset 2100, rtt 400
            ClockSample(0, 20, 2010),  # offset 2000, rtt 20
        ]
    )
    assert best.rtt_ms == 20
    assert clock.offset_ms == 2000
    assert clock.now_ms() == 12_000
    assert clock.age_s() == 0.0
    with pytest.raises(ValueError):
        clock.apply([])


@given(st.floats(0, 4e12), st.integers(-10**6, 10**6), st.floats(0, 1e4), st.floats(0, 1e4),
       st.booleans())
def test_fresh_ms_is_age_check_then_now_ms(local, offset, age, max_age, wall):
    """``fresh_ms`` answers what ``age_s`` and ``now_ms`` answer together, with the injected
    clock and with the default wall clock (whose reading it writes out)."""
    import time as _time
    from unittest import mock

    from liquidity_bot.venues.bitrue import clock as clock_module

    with mock.patch.object(_time, "time", lambda: local / 1000.0):
        clock = ServerClock(**({} if wall else {"local_ms": lambda: local}),
                            monotonic=lambda: 1000.0 + age)
        assert clock.fresh_ms(max_age) is None  # never synced
        clock.synced_at, clock.offset_ms = 1000.0, offset
        expected = None if clock.age_s() > max_age else clock.now_ms()
        assert clock.fresh_ms(max_age) == expected
        assert (clock._local_ms is clock_module.wall_ms) == wall
