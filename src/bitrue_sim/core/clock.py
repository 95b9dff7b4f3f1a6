"""Time sources for the simulator: wall time for paper trading, manual time for backtests."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """Anything that tells the exchange the current time in epoch milliseconds."""

    def now_ms(self) -> int: ...


class WallClock:
    """Real time; ``skew_ms`` shifts it so tests can inject a clock-skew fault."""

    def __init__(self, skew_ms: int = 0) -> None:
        self.skew_ms = skew_ms

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000 + self.skew_ms


class ManualClock:
    """Virtual time that only moves when told to: deterministic tests and backtests."""

    def __init__(self, start_ms: int = 1_700_000_000_000) -> None:
        self._now = int(start_ms)

    def now_ms(self) -> int:
        return self._now

    def advance(self, ms: int) -> int:
        """Move time forward by ``ms`` (never backwards) and return the new time."""
        if ms < 0:
            raise ValueError(f"ManualClock.advance needs ms >= 0, got {ms}; use set() to rewind")
        self._now += int(ms)
        return self._now

    def set(self, ms: int) -> None:
        """Jump to an absolute time (may go backwards: only for fault-injection tests)."""
        self._now = int(ms)
