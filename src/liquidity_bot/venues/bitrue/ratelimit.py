"""The rate-limit governor: pace requests so Bitrue never has to say 429, and obey it if it does.

Every policy is a sliding window (``limit`` units per ``window_s``), counted at send time with a
small safety margin so the server's own windows (counted at arrival) never overflow. A 429 blocks
its policy for the server's ``Retry-After`` (else a whole window); a ban blocks everything: during
a ban ``acquire`` raises ``IpBanned`` at once, so nothing is sent.

Each REST client (one per API key) has its own governor, and beneath them all one process-wide
governor per source address and exchange (``ip_governor``): Bitrue counts request weight and
order requests per IP as well as per user, so several keys in one process must share the IP's
allowance, and a 429 or a ban seen by one key's client stops them all.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from .errors import IpBanned, RateLimited
from .models import RateLimit
from .weights import ORDER_RATE_LIMIT, ORDERS, REQUEST_WEIGHT

DEFAULT_BAN_S = 120.0  # the documented minimum ban, used when the server does not say
DEFAULT_429_PAUSE_S = 1.0  # whole-client pause after a 429 that gave no Retry-After
IP_HEADROOM = 0.1  # share of each per-IP limit the address's governor leaves unused


@dataclass(frozen=True)
class Policy:
    """``limit`` units per ``window_s`` seconds; ``family`` is REQUEST_WEIGHT or ORDERS."""

    name: str
    family: str
    limit: int
    window_s: float


DEFAULT_POLICIES: tuple[Policy, ...] = (
    Policy(REQUEST_WEIGHT, REQUEST_WEIGHT, 1200, 60.0),
    Policy(ORDERS, ORDERS, ORDER_RATE_LIMIT.requests, ORDER_RATE_LIMIT.window_s),
)


def policies_from_exchange_info(
    rate_limits: Iterable[RateLimit], *, ip_only: bool = False
) -> tuple[Policy, ...]:
    """Policies from ``exchangeInfo.rateLimits``; documented defaults where it says nothing.

    Withdraw policies are left out (the bot never withdraws; withdraw-history reads are rare).
    ``ip_only`` keeps the policies counted per IP (and those that do not say: the older shape).
    """
    found: list[Policy] = []
    for rl in rate_limits:
        kind = rl.kind
        if "WITHDRAW" in kind:
            continue
        scopes = {t.upper() for t in rl.type}
        if ip_only and scopes and "IP" not in scopes:
            continue
        family = ORDERS if "ORDER" in kind else REQUEST_WEIGHT
        window, limit = rl.window_s, rl.max_units
        if window is None or not limit or limit <= 0:
            continue
        found.append(Policy(rl.name, family, limit, window))
    out: list[Policy] = []
    for default in DEFAULT_POLICIES:
        same = [p for p in found if p.family == default.family]
        out.extend(same if same else [default])
    return tuple(out)


class _Window:
    __slots__ = ("policy", "family", "limit", "span", "events", "used", "blocked_until")

    def __init__(self, policy: Policy, margin_s: float = 0.0):
        self.policy = policy
        # read on every request: kept here rather than looked up through the policy
        self.family = policy.family
        self.limit = policy.limit
        self.span = policy.window_s + margin_s  # how long a request counts
        self.events: deque[tuple[float, int]] = deque()
        self.used = 0
        self.blocked_until = 0.0

    def expire(self, now: float, span: float) -> None:
        events = self.events
        horizon = now - span
        while events and events[0][0] <= horizon:
            self.used -= events.popleft()[1]

    def wait_for(self, cost: int, now: float, span: float) -> float:
        """Seconds until ``cost`` more units fit (0 if they fit now)."""
        wait = max(0.0, self.blocked_until - now)
        limit = self.policy.limit
        if cost > limit:
            raise ValueError(f"a request costing {cost} can never fit policy {self.policy.name}")
        excess = self.used + cost - limit
        if excess > 0:
            freed = 0
            for t, w in self.events:
                freed += w
                if freed >= excess:
                    wait = max(wait, t + span - now)
                    break
        return wait


def _take_back(windows: list[tuple[_Window, int]], upto: _Window | None) -> None:
    """Undo ``try_acquire``'s spending in ``windows`` before ``upto`` (in all of them: None):
    each got its request as its newest event, in this same call."""
    for w, cost in windows:
        if w is upto:
            return
        w.events.pop()
        w.used -= cost


class RateGovernor:
    """Paces calls against every policy; exposes headroom; holds fire during bans.

    ``clock`` (monotonic seconds), ``sleep`` and ``wall_ms`` are injectable for tests.
    """

    def __init__(
        self,
        policies: Iterable[Policy] = DEFAULT_POLICIES,
        *,
        margin_s: float = 1.0,
        max_wait_s: float = 65.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        wall_ms: Callable[[], float] = lambda: time.time() * 1000.0,
        parent: RateGovernor | None = None,
    ):
        # the source address's shared governor (see the module docstring): every request
        # needs room there too, and bans and 429s are passed on to it
        self.parent = parent
        self._clock = clock
        self._sleep = sleep
        self._wall_ms = wall_ms
        self.margin_s = margin_s
        self.max_wait_s = max_wait_s
        self._windows: dict[str, _Window] = {}
        self._ban_until = 0.0  # monotonic
        self._pause_until = 0.0  # monotonic: every request waits after a 429
        self.rate_limited_count = 0
        self.waits = 0
        self.configure(policies)

    def configure(self, policies: Iterable[Policy]) -> None:
        """Replace the policies, keeping what was already spent in families that remain."""
        old = self._windows
        self._windows = {}
        self._routes: dict[int, tuple[dict[str, int], list[tuple[_Window, int]]]] = {}
        for p in policies:
            w = _Window(p, self.margin_s)
            prev = next((o for o in old.values() if o.policy.family == p.family), None)
            if prev is not None:
                w.events = deque(prev.events)
                w.used = prev.used
                w.blocked_until = prev.blocked_until
            self._windows[p.name] = w

    def charge_past(self, family: str, ages_s: Iterable[float]) -> int:
        """Count requests of ``family`` sent ``ages_s`` seconds ago by an earlier process on
        this address (a restart: the exchange's windows still hold them); returns how many
        fell inside a window."""
        now = self._clock()
        counted = 0
        for w in self._windows.values():
            if w.policy.family != family:
                continue
            span = w.policy.window_s + self.margin_s
            past = [(now - a, 1) for a in ages_s if 0 <= a < span]
            if not past:
                continue
            w.events = deque(sorted([*w.events, *past], key=lambda e: e[0]))
            w.used += len(past)
            counted = max(counted, len(past))
        return counted

    def configure_from_exchange_info(self, rate_limits: Iterable[RateLimit]) -> None:
        rate_limits = list(rate_limits)
        self.configure(policies_from_exchange_info(rate_limits))
        if self.parent is not None:
            # the address's governor keeps IP_HEADROOM of each per-IP limit free: requests it
            # never sees (another client on this address, a run killed before its requests
            # were stored) must not turn our last requests into a 429, then a ban
            self.parent.configure(
                Policy(p.name, p.family, max(1, int(p.limit * (1 - IP_HEADROOM))), p.window_s)
                for p in policies_from_exchange_info(rate_limits, ip_only=True))

    @property
    def policies(self) -> tuple[Policy, ...]:
        return tuple(w.policy for w in self._windows.values())

    # ------------------------------------------------------------------ pacing

    def _ban_error(self, now: float) -> IpBanned:
        until_ms = int(self._wall_ms() + (self._ban_until - now) * 1000)
        return IpBanned(
            "Bitrue banned this IP address; the connector sends nothing until epoch ms "
            f"{until_ms} ({self._ban_until - now:.0f} s from now). Wait, then run slower.",
            until_ms=until_ms,
        )

    def banned(self) -> bool:
        return self._clock() < self._ban_until or (
            self.parent is not None and self.parent.banned())

    async def acquire(self, costs: dict[str, int]) -> None:
        """Wait until every policy, this client's and then the source address's, has room for
        ``costs`` (by family), then spend it."""
        if self.parent is None:
            await self._acquire(costs)
            return
        if self.parent.banned():
            raise self.parent._ban_error(self.parent._clock())
        await self._acquire(costs)
        await self.parent._acquire(costs)

    def try_acquire(self, costs: dict[str, int]) -> bool:
        """Spend ``costs`` now if every policy, this client's and the source address's, has
        room and nothing is banned or paused; else spend nothing and return False (then await
        ``acquire``). The request path's common case, without creating a coroutine."""
        route = self._routes.get(id(costs))
        if route is None or route[0] is not costs:
            route = self._route(costs)
        now = self._clock()
        if now < self._ban_until or now < self._pause_until:
            return False
        windows = route[1]
        # one pass that spends as it checks (taken back in the rare case a window is full)
        for w, cost in windows:
            events = w.events
            if events and events[0][0] <= now - w.span:
                w.expire(now, w.span)
            if w.blocked_until > now or w.used + cost > w.limit:
                _take_back(windows, w)
                return False
            events.append((now, cost))
            w.used += cost
        parent = self.parent
        if parent is not None and not parent.try_acquire(costs):
            _take_back(windows, None)
            return False
        return True

    def _route(self, costs: dict[str, int]) -> tuple[dict[str, int], list[tuple[_Window, int]]]:
        """The windows ``costs`` spends in, with the amount (kept per costs dict: the request
        path's are shared constants, see ``weights.costs``)."""
        if len(self._routes) >= 64:
            self._routes.clear()
        route = self._routes[id(costs)] = (costs, [
            (w, costs[w.family]) for w in self._windows.values() if costs.get(w.family, 0) > 0
        ])
        return route

    def _room_now(self, costs: dict[str, int]) -> float | None:
        """The time now if ``costs`` fit right now with no ban or pause, else None."""
        now = self._clock()
        if now < self._ban_until or now < self._pause_until:
            return None
        for w in self._windows.values():
            cost = costs.get(w.family, 0)
            if cost > 0:
                events = w.events
                if events and events[0][0] <= now - w.span:
                    w.expire(now, w.span)
                if w.blocked_until > now or w.used + cost > w.limit:
                    return None
        return now

    def _spend(self, costs: dict[str, int], now: float) -> None:
        for w in self._windows.values():
            cost = costs.get(w.family, 0)
            if cost > 0:
                w.events.append((now, cost))
                w.used += cost

    async def _acquire(self, costs: dict[str, int]) -> None:
        # Fast path (every request in normal operation): no ban, no pause, room everywhere.
        now = self._room_now(costs)
        if now is not None:
            self._spend(costs, now)
            return
        while True:
            now = self._clock()
            if now < self._ban_until:
                raise self._ban_error(now)
            wait = max(0.0, self._pause_until - now)
            needed = []
            for w in self._windows.values():
                cost = costs.get(w.policy.family, 0)
                if cost <= 0:
                    continue
                span = w.policy.window_s + self.margin_s
                w.expire(now, span)
                wait = max(wait, w.wait_for(cost, now, span))
                needed.append((w, cost))
            if wait <= 0:
                for w, cost in needed:
                    w.events.append((now, cost))
                    w.used += cost
                return
            if wait > self.max_wait_s:
                blocked = max(
                    needed or [(w, 0) for w in self._windows.values()],
                    key=lambda wc: wc[0].blocked_until,
                )[0]
                raise RateLimited(
                    f"rate limit '{blocked.policy.name}' has no room for {wait:.1f} s; nothing "
                    "was sent. Reduce the request rate or retry later.",
                    policy=blocked.policy.name,
                    retry_after_s=wait,
                )
            self.waits += 1
            await self._sleep(wait)

    # ------------------------------------------------------------------ server feedback

    def on_rate_limited(self, policy_header: str | None, retry_after_s: float | None) -> None:
        """A 429 arrived: pause EVERYTHING for Retry-After and close the named policy until then.

        Bitrue bans IPs that keep sending after a 429 (any request, not only the limited kind),
        so the whole client pauses; without Retry-After the named policy waits a full window.
        """
        self.rate_limited_count += 1
        if self.parent is not None:
            self.parent.on_rate_limited(policy_header, retry_after_s)
        now = self._clock()
        family = ORDERS if policy_header and "ORDER" in policy_header.upper() else REQUEST_WEIGHT
        named = self._windows.get(policy_header or "")
        targets = (
            [named] if named else [w for w in self._windows.values() if w.policy.family == family]
        )
        pause = retry_after_s if retry_after_s is not None else DEFAULT_429_PAUSE_S
        self._pause_until = max(self._pause_until, now + pause)
        for w in targets:
            if retry_after_s is not None:
                # The server said how long: trust it, the policy is closed until then.
                w.blocked_until = max(w.blocked_until, now + retry_after_s)
                continue
            # No hint: the server counts more than we thought, so treat the window as full.
            w.blocked_until = max(w.blocked_until, now + w.policy.window_s)
            deficit = w.policy.limit - w.used
            if deficit > 0:
                w.events.append((now, deficit))
                w.used += deficit

    def on_banned(self, until_ms: int | None) -> None:
        """A ban arrived: block everything until ``until_ms`` (epoch), or the documented minimum."""
        if self.parent is not None:
            self.parent.on_banned(until_ms)
        now = self._clock()
        if until_ms is not None:
            seconds = max(0.0, (until_ms - self._wall_ms()) / 1000.0)
        else:
            seconds = DEFAULT_BAN_S
        self._ban_until = max(self._ban_until, now + seconds)

    # ------------------------------------------------------------------ observation

    def headroom(self) -> dict[str, tuple[int, int]]:
        """``{policy: (used, limit)}`` over the current window (blocked policies show full)."""
        now = self._clock()
        out: dict[str, tuple[int, int]] = {}
        for name, w in self._windows.items():
            w.expire(now, w.policy.window_s + self.margin_s)
            used = w.policy.limit if (w.blocked_until > now or now < self._ban_until) else w.used
            out[name] = (min(used, w.policy.limit), w.policy.limit)
        return out

    def ban_remaining_s(self) -> float:
        own = max(0.0, self._ban_until - self._clock())
        return own if self.parent is None else max(own, self.parent.ban_remaining_s())


_IP_GOVERNORS: weakref.WeakValueDictionary[tuple[str, str], RateGovernor] = (
    weakref.WeakValueDictionary())


def ip_governor(source_address: str | None, exchange: str) -> RateGovernor:
    """The process-wide governor of one source address towards one exchange address (shared by
    every client that holds it; a new one once none does)."""
    key = (source_address or "", exchange)
    gov = _IP_GOVERNORS.get(key)
    if gov is None:
        gov = RateGovernor(Policy(p.name, p.family, int(p.limit * (1 - IP_HEADROOM)), p.window_s)
                           for p in DEFAULT_POLICIES)
        _IP_GOVERNORS[key] = gov
    return gov
