"""The engine's clock, given to it (never patched): live time, or a backtest's simulated time.

Every engine part that needs "now" reads it from the ``Clock`` it was built with: wall time
for what is stored and compared with the exchange's timestamps (``time``/``now_ms``), monotonic
time for intervals (``monotonic``). Waiting is the event loop's business (a backtest runs on a
virtual loop); latency measurements use ``time.perf_counter_ns`` directly, as they measure this
machine, not the market.
"""

from __future__ import annotations

import time as _time
from typing import Protocol


class Clock(Protocol):
    """Wall and monotonic time in seconds."""

    def time(self) -> float:
        """Seconds since the epoch."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (for intervals only)."""

    def now_ms(self) -> int:
        """Epoch milliseconds (what the store and the exchange use)."""


class LiveClock:
    """The machine's clocks."""

    time = staticmethod(_time.time)
    monotonic = staticmethod(_time.monotonic)

    @staticmethod
    def now_ms() -> int:
        return int(_time.time() * 1000)


LIVE = LiveClock()
