"""The server's clock as seen from here: offset measured at the round-trip midpoint.

Signed requests carry ``timestamp``; Bitrue rejects it when it is ahead by more than 1 s or
behind by more than ``recvWindow``. We measure ``offset = server - local`` from a few
``/time`` round trips and keep the sample with the shortest round trip (the least uncertain).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class ClockSample:
    """One ``/time`` round trip: local send/receive times (ms) and the server's time."""

    local_sent_ms: float
    local_received_ms: float
    server_ms: int

    @property
    def rtt_ms(self) -> float:
        return self.local_received_ms - self.local_sent_ms

    @property
    def offset_ms(self) -> float:
        return self.server_ms - (self.local_sent_ms + self.local_received_ms) / 2


def wall_ms() -> float:
    return time.time() * 1000.0


class ServerClock:
    """Local wall clock corrected by the last measured offset."""

    def __init__(
        self,
        local_ms: Callable[[], float] = wall_ms,
        monotonic: Callable[[], float] = time.monotonic,
    ):
        self._local_ms = local_ms
        self._monotonic = monotonic
        self.offset_ms: int = 0
        self.rtt_ms: float | None = None
        self.synced_at: float | None = None  # monotonic seconds of the last sync

    def local_ms(self) -> float:
        return self._local_ms()

    def now_ms(self) -> int:
        """Best estimate of the server's current time, in ms."""
        return int(self._local_ms()) + self.offset_ms

    def fresh_ms(self, max_age_s: float) -> int | None:
        """``now_ms()`` if the last sync is at most ``max_age_s`` old, else None (never synced
        or due again): the order path's two questions in one call."""
        synced = self.synced_at
        if synced is None or self._monotonic() - synced > max_age_s:
            return None
        local = self._local_ms
        # wall_ms written out for the default clock (this runs for every order)
        return int(time.time() * 1000.0 if local is wall_ms else local()) + self.offset_ms

    def apply(self, samples: list[ClockSample]) -> ClockSample:
        """Adopt the offset of the sample with the shortest round trip."""
        if not samples:
            raise ValueError("no clock samples to apply")
        best = min(samples, key=lambda s: s.rtt_ms)
        self.offset_ms = round(best.offset_ms)
        self.rtt_ms = best.rtt_ms
        self.synced_at = self._monotonic()
        return best

    def age_s(self) -> float | None:
        """Seconds since the last sync (None if never synced)."""
        return None if self.synced_at is None else self._monotonic() - self.synced_at
