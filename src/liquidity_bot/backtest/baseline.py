"""The naive baseline our order manager is measured against: refresh every quote on a timer.

This is how Hummingbot's pure market making strategy behaves with ``order_refresh_time`` 10 s and
``order_refresh_tolerance_pct`` 0: on a 1 s tick, once the orders are older than the refresh time
they are all cancelled; when every cancel is confirmed, the whole new set is placed. Nothing is
kept even when the new price equals the old one, and a filled level stays empty until the next
refresh. Its rate limiter makes requests wait for room (Hummingbot's throttler never drops a
request), here against Bitrue's documented 100 order requests per 60 s, with no headroom.

It reuses the ``OrderManager``'s plumbing (risk gate, client ids, events, store), so the strategy,
the venue, the measurement and the limits are the same for both; only the decisions differ.
"""

from __future__ import annotations

import asyncio
import math

from liquidity_bot.engine.budget import OrderBudget
from liquidity_bot.engine.order_manager import OrderManager
from liquidity_bot.strategies.base import QuoteSet

ORDER_REFRESH_TIME_S = 10.0  # Hummingbot's documented example value
TICK_S = 1.0  # Hummingbot's clock tick


def baseline_budget(clock) -> OrderBudget:  # noqa: ANN001
    """Bitrue's documented limit with no headroom and no reserve (the baseline just waits)."""
    from decimal import Decimal

    return OrderBudget(headroom=Decimal(0), reserve_share=Decimal(0), emergency_share=Decimal(0),
                       clock=clock)


class RefreshEveryOrderManager(OrderManager):
    """Cancel everything every ``refresh_s``, then place the full new set (see module doc)."""

    refresh_s = ORDER_REFRESH_TIME_S
    tick_s = TICK_S

    def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
        super().__init__(*args, **kwargs)
        self._next_tick = 0.0
        self._placed_at: float | None = None
        self.refreshes = 0

    async def sync(
        self, quotes: QuoteSet, *, trigger_ns: int | None = None, wait: bool = True
    ) -> None:
        """Always waits for its requests, like the timer-driven bots it stands for."""
        if self._lock.locked():
            return
        now = asyncio.get_running_loop().time()
        if now < self._next_tick:
            return
        self._next_tick = (math.floor(now / self.tick_s) + 1) * self.tick_s
        async with self._lock:
            live = self.live()
            if live:
                if self._placed_at is not None and now - self._placed_at >= self.refresh_s:
                    open_orders = [t for t in live if t.order.is_open
                                   and t.order.state.value != "PENDING_CANCEL"]
                    await asyncio.gather(*(self._cancel_waiting(t) for t in open_orders))
                return
            jobs = []
            for q in sorted(quotes.quotes, key=lambda q: q.priority):
                safe = self._safe_price(q)
                if safe is None:
                    continue
                t = self._place(safe)
                if t is not None:
                    self._save_submit(t)
                    jobs.append(self._place_waiting(
                        self._send_place(t, None if jobs else trigger_ns)))
            if jobs:
                self._placed_at = now
                self.refreshes += 1
                await asyncio.gather(*jobs)

    async def _cancel_waiting(self, t) -> None:  # noqa: ANN001
        await self.budget.spend_when_possible(self.symbol)
        await self._cancel(t)

    async def _place_waiting(self, job) -> None:  # noqa: ANN001
        await self.budget.spend_when_possible(self.symbol)
        await job
