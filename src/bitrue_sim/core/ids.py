"""Deterministic id sources: Bitrue order ids are 64-bit and exceed 2**53 (they break floats)."""

from __future__ import annotations

import random

_MIN_ORDER_ID = 2**53 + 1
_MAX_ORDER_ID = 2**63 - 1


class IdSource:
    """Order and trade ids, increasing and reproducible for a given seed.

    Order ids start at a seed-dependent point above 2**53 and grow by small seeded random
    steps, so a client that assumes consecutive ids or passes ids through a float is caught.
    """

    def __init__(self, seed: int = 0) -> None:
        rng = random.Random(seed)
        self._order_id = _MIN_ORDER_ID + rng.randrange(2**58)
        self._trade_id = 10**8 + rng.randrange(10**9)
        # A precomputed cycle of steps keeps next_order_id() cheap and still seed-dependent.
        self._steps = [rng.randint(1, 7) for _ in range(251)]
        self._step_index = 0

    def next_order_id(self) -> int:
        i = self._step_index
        self._order_id += self._steps[i]
        self._step_index = i + 1 if i < 250 else 0
        if self._order_id > _MAX_ORDER_ID:  # pragma: no cover - needs ~2**62 orders
            raise OverflowError("order ids exhausted the signed 64-bit range")
        return self._order_id

    def next_trade_id(self) -> int:
        self._trade_id += 1
        return self._trade_id
