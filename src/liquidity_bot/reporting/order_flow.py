"""Orders placed, cancelled and filled per minute, from a store's orders table.

The same figures from the bot's store (its own records) and from the audit's (the orders as the
exchange showed them), so the two reports can be compared minute by minute. Only minutes with
activity are listed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from liquidity_bot.store import OrderRecord

MINUTE_MS = 60_000
CANCELLED = frozenset({"CANCELED", "CANCELLED"})


@dataclass(frozen=True, slots=True)
class MinuteFlow:
    minute_ms: int  # start of the minute (UTC)
    placed: int
    cancelled: int
    filled: int

    def to_json(self) -> dict[str, Any]:
        return {
            "minute_ms": self.minute_ms,
            "placed": self.placed,
            "cancelled": self.cancelled,
            "filled": self.filled,
        }


def order_flow(
    orders: Iterable[OrderRecord], from_ms: int | None = None, to_ms: int | None = None
) -> list[MinuteFlow]:
    """Per minute: orders created, orders that ended cancelled (at their last update) and orders
    that ended filled, within [from_ms, to_ms)."""
    counts: dict[int, list[int]] = {}

    def add(ts: int, slot: int) -> None:
        if (from_ms is None or ts >= from_ms) and (to_ms is None or ts < to_ms):
            counts.setdefault(ts - ts % MINUTE_MS, [0, 0, 0])[slot] += 1

    for o in orders:
        add(o.created_ms, 0)
        status = o.status.upper()
        if status in CANCELLED:
            add(o.updated_ms, 1)
        elif status == "FILLED":
            add(o.updated_ms, 2)
    return [MinuteFlow(m, *counts[m]) for m in sorted(counts)]
