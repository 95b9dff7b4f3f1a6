"""Reconnect pacing: exponential back-off with full jitter, reset after a healthy connection."""

from __future__ import annotations

import random


class Backoff:
    """``next()`` gives the delay before the next attempt: uniform in [initial/2, cap]."""

    def __init__(
        self,
        initial_s: float = 0.5,
        max_s: float = 30.0,
        factor: float = 2.0,
        rng: random.Random | None = None,
    ) -> None:
        self.initial_s = initial_s
        self.max_s = max_s
        self.factor = factor
        self._rng = rng or random.Random()
        self.attempts = 0

    def next(self) -> float:
        cap = min(self.max_s, self.initial_s * self.factor**self.attempts)
        self.attempts += 1
        return self._rng.uniform(min(cap, self.initial_s) / 2, cap)

    def reset(self) -> None:
        self.attempts = 0
