"""The peer our order manager is measured against: Hummingbot's pure market making, its usual way.

Hummingbot's ``pure_market_making`` strategy, as its documentation describes it, with the
settings a user typically runs (and that the issue's side-by-side run used):
- one order per side at ``spread_pct`` from mid, ``order_amount_quote`` each (at least 1.1 x the
  market's minimum depth, so that the order alone can meet it, and within the risk gate's
  ``max_order_notional``);
- a 1 s clock tick; every ``order_refresh_time_s`` the orders are due for refresh, but are kept
  when the new proposal is within ``order_refresh_tolerance_pct`` of them (timer restarted);
  otherwise every active order is cancelled and, once the cancels are confirmed, a new pair is
  placed;
- after a fill no new order goes out for ``filled_order_delay_s``; with ``hanging_orders`` the
  other side's order stays as a *hanging* order (never refreshed), cancelled when it is
  ``hanging_orders_cancel_pct`` away from mid or older than ``max_order_age``;
- its throttler makes requests wait for room (never dropped), here against Bitrue's documented
  100 order requests per 60 s, with no headroom.

It reuses the ``OrderManager``'s plumbing (risk gate, client ids, events, store), so the venue,
the measurement and the limits are the same for both; only the decisions differ. Its own
proposal replaces the strategy's quotes, as Hummingbot's strategy would.
"""

from __future__ import annotations

import asyncio
import math
from decimal import Decimal

from liquidity_bot.domain.order import OrderState, Side
from liquidity_bot.engine.budget import OrderBudget
from liquidity_bot.engine.order_manager import OrderManager, Tracked
from liquidity_bot.strategies.base import DesiredQuote, QuoteSet

TICK_S = 1.0  # Hummingbot's clock tick
SPREAD_PCT = Decimal("0.3")
ORDER_AMOUNT_QUOTE = Decimal(400)
ORDER_REFRESH_TIME_S = 10.0
ORDER_REFRESH_TOLERANCE_PCT = Decimal("0.2")
FILLED_ORDER_DELAY_S = 10.0  # as the refresh time (Hummingbot defaults to 60 s: fewer requests, far less uptime)
HANGING_ORDERS_CANCEL_PCT = Decimal(10)  # Hummingbot's default
MAX_ORDER_AGE_S = 1800.0  # Hummingbot's default: older orders (hanging ones too) are renewed


def baseline_budget(clock) -> OrderBudget:  # noqa: ANN001
    """Bitrue's documented limit with no headroom and no reserve (the baseline just waits)."""
    return OrderBudget(headroom=Decimal(0), reserve_share=Decimal(0), emergency_share=Decimal(0),
                       clock=clock)


class RefreshEveryOrderManager(OrderManager):
    """Hummingbot-style pure market making (see the module docstring)."""

    tick_s = TICK_S
    refresh_s = ORDER_REFRESH_TIME_S
    filled_delay_s = FILLED_ORDER_DELAY_S
    hanging_orders = True

    def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
        super().__init__(*args, **kwargs)
        self._next_tick = 0.0
        self._refresh_at = 0.0
        self._create_after = 0.0
        self._fills_seen = 0
        self.hanging: set[str] = set()
        self.refreshes = 0

    def _proposal(self, mid: Decimal) -> list[DesiredQuote]:
        inst = self.instrument
        amount = max(ORDER_AMOUNT_QUOTE, self.rules.min_depth_quote * Decimal("1.1"))
        cap = self.rules.max_order_notional
        if cap is not None and amount > cap * Decimal("0.98"):
            amount = cap * Decimal("0.98")  # within the risk gate's order limit
        out = []
        for side, sign in ((Side.BUY, -1), (Side.SELL, 1)):
            price = inst.round_price(mid * (1 + sign * SPREAD_PCT / 100), side)
            qty = inst.round_qty(amount / price) + inst.step
            out.append(DesiredQuote(side, price, qty, 0, 0, True))
        return out

    def _quoting(self) -> list[Tracked]:
        return [t for t in self._unfinished() if t.order.is_open
                and t.order.client_order_id not in self.hanging]

    async def sync(
        self, quotes: QuoteSet, *, trigger_ns: int | None = None, wait: bool = True
    ) -> None:
        """One clock tick at most per second; always waits for its requests."""
        if self._lock.locked():
            return
        now = asyncio.get_running_loop().time()
        if now < self._next_tick:
            return
        self._next_tick = (math.floor(now / self.tick_s) + 1) * self.tick_s
        mid = quotes.mid
        if mid is None:
            return
        async with self._lock:
            if self.stats.fills > self._fills_seen:  # a fill: delay, and the rest hangs
                self._fills_seen = self.stats.fills
                self._create_after = now + self.filled_delay_s
                if self.hanging_orders:
                    self.hanging.update(t.order.client_order_id for t in self._quoting())
            await self._cancel_far_hanging(mid)
            active = self._quoting()
            proposal = self._proposal(mid)
            if active:
                if now < self._refresh_at:
                    return
                if self._within_tolerance(active, proposal):
                    self._refresh_at = now + self.refresh_s
                    return
                await asyncio.gather(*(self._cancel_waiting(t) for t in active
                                       if t.order.state is not OrderState.PENDING_CANCEL))
                return
            if now < self._create_after:
                return
            jobs = []
            for q in proposal:
                safe = self._safe_price(q)
                t = None if safe is None else self._place(safe)
                if t is not None:
                    self._save_submit(t)
                    jobs.append(self._place_waiting(self._send_place(t, None)))
            if jobs:
                self._refresh_at = now + self.refresh_s
                self.refreshes += 1
                await asyncio.gather(*jobs)

    def _within_tolerance(self, active: list[Tracked], proposal: list[DesiredQuote]) -> bool:
        for q in proposal:
            mine = [t for t in active if t.order.side is q.side]
            if not mine or any(abs(t.order.price - q.price) / q.price * 100
                               > ORDER_REFRESH_TOLERANCE_PCT for t in mine):
                return False
        return True

    async def _cancel_far_hanging(self, mid: Decimal) -> None:
        for cid in list(self.hanging):
            t = self.orders.get(cid)
            if t is None or not t.order.is_open:
                self.hanging.discard(cid)
                continue
            too_old = self._age_s(t) > MAX_ORDER_AGE_S
            if too_old or abs(t.order.price - mid) / mid * 100 > HANGING_ORDERS_CANCEL_PCT:
                self.hanging.discard(cid)
                await self._cancel_waiting(t)

    def _age_s(self, t: Tracked) -> float:
        return (self.time.now_ms() - t.created_ms) / 1000

    async def _cancel_waiting(self, t: Tracked) -> None:
        await self.budget.spend_when_possible(self.symbol)
        if not t.order.is_open or t.order.state is OrderState.PENDING_CANCEL:
            self.budget.refund(self.symbol)
            return
        await self._cancel(t)

    async def _place_waiting(self, job) -> None:  # noqa: ANN001
        await self.budget.spend_when_possible(self.symbol)
        await job
