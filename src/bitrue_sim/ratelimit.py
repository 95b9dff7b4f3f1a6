"""Bitrue's documented rate limits: per-IP request weight, order weight per IP and per user,
withdraw and withdraw-read weight per user, and escalating IP bans for clients that keep
sending after a 429.

Policies and ids follow the docs' ``exchangeInfo.rateLimits`` (2023-07-14): ``general``
(1200 weight / minute / IP), ``orders_ip_seconds`` and ``orders_user_seconds`` (100 / 60 s),
``withdraw_days`` (1000 / day / user), ``withdraw_read_hours`` (3000 / hour / user). A 429
carries the policy id in the ``rate_limit_p`` header.

Windows are sliding (a log of (time, weight) per subject), driven by the exchange clock, so
tests on a ``ManualClock`` are exact. ``ban_scale`` shrinks every window and ban alike.

Ban rule (the docs: "failing to back off after receiving 429s will result in an automated IP
ban ... from 2 minutes to 3 days"): after a 429 the IP must wait until the limiting window has
room again (the ``Retry-After`` it was told). During that back-off, another request of the same
kind (any request after a ``general`` 429; another order request after an ``orders`` 429; and
so on) earns a ban of 2 minutes, doubling for each further ban of the same IP, capped at 3
days. Banned IPs get HTTP 418 with code -1003 (as Binance-family exchanges and ccxt expect) for
every request until the ban ends.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import NoReturn

from bitrue_sim.errors import ExchangeError

_UNIT_MS = {"SECONDS": 1_000, "MINUTES": 60_000, "HOURS": 3_600_000, "DAYS": 86_400_000}

BASE_BAN_MS = 2 * 60_000
MAX_BAN_MS = 3 * 86_400_000


@dataclass(frozen=True)
class Policy:
    """One documented limit: ``limit`` weight per ``time_count`` ``time_unit`` per IP or USER."""

    id: str
    scope: str  # "IP" or "USER"
    category: str  # "general", "orders", "withdraw", "withdraw_read"
    limit: int
    time_count: int
    time_unit: str  # SECONDS / MINUTES / HOURS / DAYS
    override_level: bool = False

    @property
    def window_ms(self) -> int:
        return self.time_count * _UNIT_MS[self.time_unit]

    def as_exchange_info(self) -> dict:
        """The entry as the docs show it in ``exchangeInfo.rateLimits``."""
        return {
            "id": self.id,
            "type": [self.scope],
            "replenishRate": self.limit,
            "burstCapacity": self.limit,
            "timeCount": self.time_count,
            "timeUnit": self.time_unit,
            "refreshType": "FIRST_REQUEST",
            "weight": 1,
            "dynamicWeight": False,
            "overrideLevel": self.override_level,
            "dynamicWeightType": None,
        }


DEFAULT_POLICIES: tuple[Policy, ...] = (
    Policy("general", "IP", "general", 1200, 1, "MINUTES"),
    Policy("orders_ip_seconds", "IP", "orders", 100, 60, "SECONDS", override_level=True),
    Policy("orders_user_seconds", "USER", "orders", 100, 60, "SECONDS", override_level=True),
    Policy("withdraw_days", "USER", "withdraw", 1000, 1, "DAYS"),
    Policy("withdraw_read_hours", "USER", "withdraw_read", 3000, 1, "HOURS"),
)


class _Window:
    """Sliding log of (time, weight) for one policy and one subject."""

    __slots__ = ("events", "total")

    def __init__(self) -> None:
        self.events: deque[tuple[int, int]] = deque()
        self.total = 0

    def purge(self, cutoff: int) -> None:
        ev = self.events
        while ev and ev[0][0] <= cutoff:
            self.total -= ev.popleft()[1]

    def retry_after_ms(self, now: int, window: int, limit: int, weight: int) -> int:
        """How long until ``weight`` more fits (at least 1 ms)."""
        excess = self.total + weight - limit
        freed = 0
        for t, w in self.events:
            freed += w
            if freed >= excess:
                return max(1, t + window - now + 1)
        return max(1, window)


class RateLimiter:
    """Admission control for the REST server; raises ``ExchangeError`` (429/418) to refuse."""

    def __init__(
        self,
        now_ms: Callable[[], int],
        policies: tuple[Policy, ...] = DEFAULT_POLICIES,
        ban_scale: float = 1.0,
        enabled: bool = True,
        violations_before_ban: int = 1,
    ) -> None:
        if ban_scale <= 0:
            raise ValueError(f"ban_scale must be > 0, got {ban_scale}")
        self._now_ms = now_ms
        self.policies = policies
        self.ban_scale = float(ban_scale)
        self.enabled = enabled
        self.violations_before_ban = max(1, int(violations_before_ban))
        self._windows: dict[tuple[str, object], _Window] = {}
        self._backoff_until: dict[tuple[str, str], int] = {}
        self._violations: dict[tuple[str, str], int] = {}
        self._banned_until: dict[str, int] = {}
        self._ban_count: dict[str, int] = {}
        self.counters: dict[str, int] = {"429": 0, "418": 0, "bans": 0}
        # requests refused because their IP was banned already (not the one that earned it)
        self.refused_during_ban = 0
        self.by_policy_429: dict[str, int] = {}  # policy id -> 429s it caused

    # -- scaled durations ----------------------------------------------------------------

    def window_ms(self, policy: Policy) -> int:
        return max(1, int(policy.window_ms * self.ban_scale))

    def ban_ms(self, nth_ban: int) -> int:
        raw = min(BASE_BAN_MS * 2 ** max(0, nth_ban - 1), MAX_BAN_MS)
        return max(1, int(raw * self.ban_scale))

    # -- queries for tests and the admin API -------------------------------------------------

    def banned_until(self, ip: str) -> int | None:
        until = self._banned_until.get(ip)
        if until is None or until <= self._now_ms():
            return None
        return until

    def used(self, policy_id: str, subject: object) -> int:
        policy = next(p for p in self.policies if p.id == policy_id)
        win = self._windows.get((policy_id, subject))
        if win is None:
            return 0
        win.purge(self._now_ms() - self.window_ms(policy))
        return win.total

    def exchange_info(self) -> list[dict]:
        return [p.as_exchange_info() for p in self.policies]

    def snapshot(self) -> dict:
        """Counters for ``GET /sim/admin/ratelimit``: did a client earn a ban, keep sending
        while banned, or run into a limit (and which one)?"""
        now = self._now_ms()
        return {
            "bans": self.counters["bans"],
            "refused_during_ban": self.refused_during_ban,
            "429": self.counters["429"],
            "418": self.counters["418"],
            "429_by_policy": dict(sorted(self.by_policy_429.items())),
            "banned_now": {ip: until for ip, until in sorted(self._banned_until.items())
                           if until > now},
        }

    # -- admission ---------------------------------------------------------------------

    def admit_ip(self, ip: str, weight: int) -> None:
        """Every API request: ban check, back-off check, then the per-IP request weight."""
        if not self.enabled:
            return
        now = self._now_ms()
        until = self._banned_until.get(ip)
        if until is not None and until > now:
            self.counters["418"] += 1
            self.refused_during_ban += 1
            raise self._ban_error(until, now)
        self._check_backoff(ip, "general", now)
        self._charge("general", ip, ip, weight, now)

    def admit(self, category: str, ip: str, account_id: int, weight: int = 1) -> None:
        """Per-category limits after authentication: ``orders``, ``withdraw``, ``withdraw_read``."""
        if not self.enabled:
            return
        now = self._now_ms()
        self._check_backoff(ip, category, now)
        chosen = [p for p in self.policies if p.category == category]
        # Check all first so a refused request consumes nothing.
        for p in chosen:
            subject = ip if p.scope == "IP" else account_id
            self._check(p, subject, ip, weight, now)
        for p in chosen:
            subject = ip if p.scope == "IP" else account_id
            self._record(p, subject, weight, now)

    # -- internals ---------------------------------------------------------------------

    def _check_backoff(self, ip: str, category: str, now: int) -> None:
        """A request of ``category`` while told to back off from it counts toward a ban."""
        key = (ip, category)
        backoff = self._backoff_until.get(key)
        if backoff is None:
            return
        if now >= backoff:
            del self._backoff_until[key]
            self._violations.pop(key, None)
            return
        n = self._violations.get(key, 0) + 1
        self._violations[key] = n
        if n >= self.violations_before_ban:
            self._ban(ip, now)

    def _charge(self, category: str, subject: object, ip: str, weight: int, now: int) -> None:
        for p in self.policies:
            if p.category == category:
                self._check(p, subject, ip, weight, now)
                self._record(p, subject, weight, now)

    def _window(self, policy: Policy, subject: object, now: int) -> _Window:
        key = (policy.id, subject)
        win = self._windows.get(key)
        if win is None:
            win = self._windows[key] = _Window()
        win.purge(now - self.window_ms(policy))
        return win

    def _check(self, policy: Policy, subject: object, ip: str, weight: int, now: int) -> None:
        win = self._window(policy, subject, now)
        if win.total + weight <= policy.limit:
            return
        wait = win.retry_after_ms(now, self.window_ms(policy), policy.limit, weight)
        key = (ip, policy.category)
        self._backoff_until[key] = max(self._backoff_until.get(key, 0), now + wait)
        self.counters["429"] += 1
        self.by_policy_429[policy.id] = self.by_policy_429.get(policy.id, 0) + 1
        raise ExchangeError(
            429,
            -1015 if policy.category == "orders" else -1003,
            _limit_message(policy),
            headers={"rate_limit_p": policy.id, "Retry-After": str(math.ceil(wait / 1000))},
        )

    def _record(self, policy: Policy, subject: object, weight: int, now: int) -> None:
        win = self._window(policy, subject, now)
        win.events.append((now, weight))
        win.total += weight

    def _ban(self, ip: str, now: int) -> NoReturn:
        n = self._ban_count.get(ip, 0) + 1
        self._ban_count[ip] = n
        until = now + self.ban_ms(n)
        self._banned_until[ip] = until
        for key in [k for k in self._backoff_until if k[0] == ip]:
            del self._backoff_until[key]
            self._violations.pop(key, None)
        self.counters["bans"] += 1
        self.counters["418"] += 1
        raise self._ban_error(until, now)

    @staticmethod
    def _ban_error(until: int, now: int) -> ExchangeError:
        return ExchangeError(
            418,
            -1003,
            f"Way too many requests; IP banned until {until}. "
            "Back off after a 429 (see the Retry-After header) to avoid bans.",
            headers={"Retry-After": str(max(1, math.ceil((until - now) / 1000)))},
        )


def _limit_message(policy: Policy) -> str:
    per = f"{policy.time_count} {policy.time_unit}"
    if policy.category == "orders":
        return (
            f"Too many new orders; current limit is {policy.limit} orders per {per} "
            f"per {policy.scope}."
        )
    return (
        f"Too much request weight used; current limit is {policy.limit} request weight per "
        f"{per} per {policy.scope} (policy {policy.id}). Back off until Retry-After."
    )
