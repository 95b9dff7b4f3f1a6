"""Clock offset: RTT midpoint, shortest round trip wins."""

import pytest

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
