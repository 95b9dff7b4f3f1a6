"""The order-rate budget of one API key, within its venue's ``order_rate_limit`` (Bitrue's:
100 order-endpoint requests per 60 s).

Placements and cancels both count, and the limit is per user, so every market quoted with one
key draws from one ``OrderBudget``. It is a sliding window counted at send time, capped below
Bitrue's limit by a headroom (the server counts at arrival, and key verification or a human
using the same key spends from the same allowance).

Quoting spends through a *pacer* in front of that hard window (``allowance`` and ``spend``): a
token bucket per market, refilled at the market's share of ``target`` requests per window (default
60 of Bitrue's 100), holding at most ``burst_share`` of it, so that normal quoting never uses more
than the target in any window and never spends the whole minute in its first seconds. The bucket
level decides which purposes may spend (``planner.Purpose``): restoring a side may empty it,
rescuing leaves ``restore_reserve`` requests for the next restore, improving only spends what is
above ``comfortable`` of the bucket. Quoting also keeps one request of the target free for each
open order (``set_open``): cancelling everything at shutdown or on a kill switch then fits in
the same window. Shares are normalised when they add up to more than 1, so one
market cannot starve another.

The older priority interface (``try_spend``) stays for the baseline manager and emergencies:
- ``CRITICAL`` requests (the levels that keep the market within its obligations) may use the
  whole budget;
- ``NORMAL`` requests (outer levels, cosmetic re-pricing) leave ``reserve_share`` untouched for
  critical ones, and each market spends at most its configured share of the key's budget on them;
- ``EMERGENCY`` requests (cancel everything on shutdown or kill switch) may also use an optional
  ``emergency_share`` of the capacity that quoting never touches, then the headroom up to
  Bitrue's own limit, and wait for room instead of being refused: cancelling must happen, and
  waiting beats a 429 followed by an IP ban. Nothing ever goes above Bitrue's limit.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from enum import IntEnum
from typing import Any

from liquidity_bot.engine.planner import Allowance
from liquidity_bot.venues.port import OrderRateLimit

# What a budget built without a venue assumes (tests, tools): the strictest limit of the
# exchanges we know, Bitrue's. The engine sizes each key's budget from its venue instead
# (``OrderBudget.for_limit(venue.order_rate_limit)``).
DEFAULT_LIMIT = 100
DEFAULT_WINDOW_S = 60.0
# The connector's rate governor counts each request for the window plus a 1 s margin (our clock
# and the server's differ), so the budget does too. With a bare 60 s window, a burst allowed
# again after exactly 60 s found the governor still full and waited up to a second before
# going out: the order budget must never let through what the connector then holds back.
WINDOW_MARGIN_S = 1.0
DEFAULT_TARGET = 60  # requests per window that normal quoting aims to stay under


NS = 1_000_000_000


def _ns(seconds: float) -> int:
    """A clock reading (float seconds) as integer nanoseconds: the bucket's exact time."""
    return round(seconds * NS)


@dataclass
class _Bucket:
    """One market's token bucket, in exact integers: a token is ``period_ns`` units and the
    bucket gains ``target`` units per nanosecond (``target`` tokens per period).

    The level is computed from the last spend (``units`` at ``at_ns``), so reading it never
    changes it: it does not depend on how often it is read (a float bucket refilled on every
    read rounded differently with every read, and a pass that did not read it would have
    changed what the next one saw)."""

    target: int  # units gained per ns (= tokens per period)
    period_ns: int  # units per token
    cap: int  # capacity, units
    units: int  # level at ``at_ns``, units
    at_ns: int
    capacity: float  # ``cap`` in requests (the purposes' thresholds are shares of it)

    def units_at(self, now_ns: int) -> int:
        if now_ns <= self.at_ns:
            return self.units
        units = self.units + (now_ns - self.at_ns) * self.target
        return units if units < self.cap else self.cap

    def level(self, now_ns: int) -> int:
        """Whole tokens at ``now_ns``."""
        return self.units_at(now_ns) // self.period_ns

    def take(self, now_ns: int, n: int) -> None:
        self.units = self.units_at(now_ns) - n * self.period_ns
        if now_ns > self.at_ns:
            self.at_ns = now_ns

    def next_token_ns(self, now_ns: int) -> int | None:
        """When the level next gains a whole token (None: full, it gains none)."""
        units = self.units_at(now_ns)
        if units >= self.cap:
            return None
        need = (units // self.period_ns + 1) * self.period_ns
        if need > self.cap:
            return None
        # the first ns at which units + (t - at) * target >= need, from the stored origin
        t = self.at_ns + -(-(need - self.units) // self.target)
        return t if t > now_ns else now_ns


class Priority(IntEnum):
    EMERGENCY = 0
    CRITICAL = 1
    NORMAL = 2


class OrderBudget:
    """Sliding-window request budget for one key, shared by that key's markets."""

    def __init__(
        self,
        *,
        limit: int = DEFAULT_LIMIT,
        window_s: float = DEFAULT_WINDOW_S + WINDOW_MARGIN_S,
        headroom: Decimal = Decimal("0.1"),
        reserve_share: Decimal = Decimal("0.3"),
        emergency_share: Decimal = Decimal(0),
        clock: Callable[[], float] = time.monotonic,
        history_len: int = 1024,
        target: int = DEFAULT_TARGET,
        burst_share: float = 0.25,
        comfortable: float = 0.9,
        restore_reserve: int = 2,
    ) -> None:
        if not 0 <= headroom < 1:
            raise ValueError(f"headroom must be within [0, 1), got {headroom}")
        if not 0 <= emergency_share < 1:
            raise ValueError(f"emergency_share must be within [0, 1), got {emergency_share}")
        self.window_s = window_s
        self.hard_limit = limit
        self.capacity = max(1, int(limit * (1 - headroom)))
        self.emergency_reserve = int(self.capacity * emergency_share)
        self.quoting_capacity = self.capacity - self.emergency_reserve
        self.reserve = int(self.capacity * reserve_share)
        if target < 1:
            raise ValueError(f"target must be at least 1 request per window, got {target}")
        self.target = min(target, self.quoting_capacity)
        self.burst_share = burst_share
        self.comfortable = comfortable
        self.restore_reserve = restore_reserve
        self._buckets: dict[str, _Bucket] = {}
        self._open: dict[str, int] = {}  # our open orders by market (``set_open``)
        self.spent_by_purpose: dict[str, int] = {}  # purpose name -> requests (read-outs)
        self._clock = clock
        self._sent: deque[tuple[float, str]] = deque()  # (monotonic time, market)
        self._per_market: dict[str, int] = {}  # requests of ``_sent`` by market
        self._shares: dict[str, Decimal] = {}
        self._target_of: dict[tuple[str, int], int] = {}  # ``target_of``, by market and target
        self.refused = 0
        # bumped by every change that may change an allowance but the clock (``quiet_mark``)
        self.version = 0
        self._peak = 0  # most requests within one window so far
        # the latest send times, for audits and tests (bounded: a bot runs for months)
        self.history: deque[float] = deque(maxlen=history_len)

    @classmethod
    def for_limit(cls, rate_limit: OrderRateLimit, *, shared_by: int = 1,
                  **kwargs: Any) -> OrderBudget:
        """A budget within a venue's order limit; ``shared_by`` keys on one address split it."""
        return cls(limit=rate_limit.requests // max(1, shared_by),
                   window_s=rate_limit.window_s + WINDOW_MARGIN_S, **kwargs)

    # --- configuration -------------------------------------------------------------------------
    def register(self, market: str, share: Decimal = Decimal(1)) -> None:
        """A market of this key and the share of the budget it may spend on NORMAL requests."""
        self._shares[market] = share
        self._target_of.clear()
        self._buckets.clear()
        self.version += 1  # rebuilt with the new shares on the next look

    def share_of(self, market: str) -> float:
        """The market's share of the target, normalised when the shares add up to more than 1."""
        total = sum(self._shares.values()) or Decimal(1)
        share = self._shares.get(market, Decimal(1))
        return float(share / max(total, Decimal(1)))

    def target_of(self, market: str) -> int:
        """Requests per window this market may spend on quoting."""
        key = (market, self.target)
        cached = self._target_of.get(key)
        if cached is None:  # (every pass asks; the shares change only in ``register``)
            cached = self._target_of[key] = max(1, int(self.target * self.share_of(market)))
        return cached

    def set_target(self, target: int) -> None:
        """Requests per window normal quoting aims to stay under (capped at the capacity)."""
        if target < 1:
            raise ValueError(f"target must be at least 1 request per window, got {target}")
        self.target = min(target, self.quoting_capacity)
        self._buckets.clear()
        self.version += 1

    def set_open(self, market: str, n: int) -> None:
        """How many orders ``market`` has open now: quoting leaves room in the target to cancel
        them all, so that a shutdown or a kill switch never pushes any window past it."""
        if self._open.get(market) != n:
            self._open[market] = n
            self.version += 1

    def _bucket(self, market: str, now: float) -> _Bucket:
        b = self._buckets.get(market)
        if b is None:
            target = self.target_of(market)
            period_ns = _ns(self.window_s - WINDOW_MARGIN_S)
            capacity = max(3.0, target * self.burst_share)  # one replacement and a spare
            cap = round(capacity * period_ns)
            b = _Bucket(target=target, period_ns=period_ns, cap=cap, units=cap, at_ns=_ns(now),
                        capacity=capacity)
            self._buckets[market] = b
        return b

    # --- read-outs -----------------------------------------------------------------------------
    def _expire(self, now: float) -> None:
        horizon = now - self.window_s
        sent = self._sent
        per_market = self._per_market
        while sent and sent[0][0] <= horizon:
            _, market = sent.popleft()
            per_market[market] -= 1
            self.version += 1

    def used(self, market: str | None = None) -> int:
        """Requests sent in the current window (by ``market`` when given)."""
        self._expire(self._clock())
        if market is None:
            return len(self._sent)
        return self._per_market.get(market, 0)

    def available(self) -> int:
        """Requests quoting (CRITICAL) may still send in the current window."""
        return max(0, self.quoting_capacity - self.used())

    def max_in_any_window(self) -> int:
        """Most requests ever sent within one window (a self-check: never above Bitrue's limit).

        Kept as a running peak (the window after each send), so it costs nothing to keep."""
        return self._peak

    # --- pacing (the planner's interface) ------------------------------------------------------
    def allowance(self, market: str) -> Allowance:
        """What ``market`` may spend now by purpose (see the module docstring)."""
        now = self._clock()
        self._expire(now)
        bucket = self._bucket(market, now)
        tokens = bucket.level(_ns(now))
        opened = self._open
        room = min(tokens, self.target - len(self._sent) - sum(opened.values()),
                   self.target_of(market) - self._per_market.get(market, 0)
                   - opened.get(market, 0))
        room = max(0, room)
        rescue = max(0, room - self.restore_reserve)
        improve = max(0, min(room, int(tokens - bucket.capacity * self.comfortable)))
        return Allowance(restore=room, rescue=min(rescue, room), improve=min(improve, rescue))

    def spend(self, market: str, n: int = 1, purpose: str = "") -> bool:
        """Charge ``n`` requests that are going out now (after the risk gate); False, nothing
        taken, if they no longer fit the target."""
        now = self._clock()
        self._expire(now)
        bucket = self._bucket(market, now)
        now_ns = _ns(now)
        if (bucket.units_at(now_ns) < n * bucket.period_ns or len(self._sent) + n > self.target
                or self._per_market.get(market, 0) + n > self.target_of(market)):
            self.refused += 1
            return False
        bucket.take(now_ns, n)
        self._take(market, n, now)
        if purpose:
            self.spent_by_purpose[purpose] = self.spent_by_purpose.get(purpose, 0) + n
        return True

    def refund(self, market: str) -> None:
        """Give back the latest request of ``market`` that was charged but not sent."""
        for i in range(len(self._sent) - 1, -1, -1):
            if self._sent[i][1] == market:
                del self._sent[i]
                self._per_market[market] -= 1
                self.version += 1
                return

    def _take(self, market: str, n: int, now: float) -> None:
        for _ in range(n):
            self._sent.append((now, market))
            self.history.append(now)
        self._per_market[market] = self._per_market.get(market, 0) + n
        self._peak = max(self._peak, len(self._sent))
        self.version += 1

    # --- quiet passes --------------------------------------------------------------------------
    def quiet_mark(self, market: str) -> tuple[int, float | None, int | None]:
        """What ``allowance(market)`` depends on now besides the clock, and when the clock
        could next change it: (``version``, the oldest send's time (its expiry frees room),
        the instant the market's bucket next gains a token). ``still`` compares a later now."""
        now = self._clock()
        self._expire(now)
        first = self._sent[0][0] if self._sent else None
        return self.version, first, self._bucket(market, now).next_token_ns(_ns(now))

    def still(self, mark: tuple[int, float | None, int | None]) -> bool:
        """``allowance`` would answer now what it answered when ``mark`` was taken (and would
        change nothing: reading the bucket never does)."""
        version, first, token_ns = mark
        if version != self.version:
            return False
        now = self._clock()
        if first is not None and first <= now - self.window_s:  # (``_expire``'s own test)
            return False
        return token_ns is None or _ns(now) < token_ns

    # --- spending ------------------------------------------------------------------------------
    def try_spend(self, market: str, priority: Priority = Priority.NORMAL, n: int = 1) -> bool:
        """Take ``n`` requests now if the rules allow; False (nothing taken) if not."""
        now = self._clock()
        self._expire(now)
        used = len(self._sent)
        # EMERGENCY (cancel everything) may also use the headroom, up to Bitrue's own limit.
        ceiling = self.hard_limit if priority is Priority.EMERGENCY else self.quoting_capacity
        if used + n > ceiling:
            self.refused += 1
            return False
        if priority is Priority.NORMAL:
            if used + n > self.quoting_capacity - self.reserve:
                self.refused += 1
                return False
            share = self._shares.get(market, Decimal(1))
            cap = int((self.quoting_capacity - self.reserve) * share)
            if self._per_market.get(market, 0) + n > cap:
                self.refused += 1
                return False
        self._take(market, n, now)
        return True

    def seconds_until_room(self, n: int = 1, *, ceiling: int | None = None) -> float:
        """How long until ``n`` requests fit under ``ceiling`` (default: quoting's capacity)."""
        now = self._clock()
        self._expire(now)
        excess = len(self._sent) + n - (self.quoting_capacity if ceiling is None else ceiling)
        if excess <= 0:
            return 0.0
        return max(0.0, self._sent[excess - 1][0] + self.window_s - now)

    async def spend_when_possible(self, market: str, n: int = 1) -> None:
        """EMERGENCY: wait for room, then take it (never refused)."""
        while not self.try_spend(market, Priority.EMERGENCY, n):
            self.refused -= 1  # waiting, not refusing
            await asyncio.sleep(max(0.01, self.seconds_until_room(n, ceiling=self.hard_limit)))
