"""Getting alerts out without ever making quoting wait.

``emit`` and ``clear`` are what the rest of the bot calls: they append to a bounded deque and
return (no I/O, no lock, no await). When the deque is full the oldest entry is dropped and
counted (``dropped``): a flood of alerts must cost memory that is known in advance, and the newest
news is the most useful. Everything else happens in background tasks on the same event loop,
which only run when the market loops are waiting:

- the *grouper* turns occurrences into messages: the first of a group is sent ("firing"),
  repeats are counted; while the condition lasts a reminder (with the repeats) is sent every
  ``reminder_s``; once ``clear`` was called and the condition stayed clear ``clear_after_s`` a
  "resolved" is sent (a breach that flaps is one alert, not a storm). One-shot events (a 429,
  the bot stopping) are grouped the same way but never "resolved".
- one *sender* per channel with its own bounded queue: at most ``max_per_minute`` messages a
  minute; whatever piles up meanwhile goes out as one digest; failures are retried with
  exponential back-off (or the receiver's Retry-After) up to ``retries`` times. A receiver
  that never answers costs each attempt its ``timeout_s`` in a task nobody waits for.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp

from liquidity_bot.alerts.channels import Channel
from liquidity_bot.alerts.model import Alert, Notice

log = logging.getLogger(__name__)

__all__ = ["AlertDispatcher", "ChannelSender"]

MAX_DIGEST = 25  # notices in one message at most; the rest wait for the next one
SLICE = 4  # queued alerts handled per event-loop turn
BACKOFF_START_S = 1.0
BACKOFF_MAX_S = 60.0


@dataclass
class _Group:
    alert: Alert  # the latest occurrence (its detail is the freshest)
    first_ms: int
    last_sent: float  # monotonic
    repeats: int = 0
    clear_since: float | None = None  # monotonic: when ``clear`` was called


class ChannelSender:
    """One channel's queue, rate limit, digests and retries (see the module docstring)."""

    def __init__(
        self,
        channel: Channel,
        *,
        queue_size: int = 1000,
        clock: Callable[[], float] = time.monotonic,
        on_result: Callable[[str, str], None] | None = None,
    ) -> None:
        self.channel = channel
        self.queue: deque[Notice] = deque(maxlen=queue_size)
        self.clock = clock
        self.on_result = on_result
        self.dropped = 0
        self.sent = 0  # messages delivered
        self.failed = 0  # messages given up on
        self.attempts = 0
        self._sent_at: deque[float] = deque()  # monotonic times of the last minute's sends
        self._wake = asyncio.Event()
        self.busy = False  # a message is being delivered (or waits for its retry)

    def put(self, notice: Notice) -> None:
        if len(self.queue) == self.queue.maxlen:
            self.dropped += 1
            self._result("dropped")
        self.queue.append(notice)
        self._wake.set()

    def _result(self, result: str) -> None:
        if self.on_result is not None:
            self.on_result(self.channel.name, result)

    def _rate_wait(self) -> float:
        now = self.clock()
        while self._sent_at and self._sent_at[0] <= now - 60.0:
            self._sent_at.popleft()
        if len(self._sent_at) < self.channel.config.max_per_minute:
            return 0.0
        return self._sent_at[0] + 60.0 - now

    async def run(self, session: aiohttp.ClientSession) -> None:
        while True:
            if not self.queue:
                self._wake.clear()
                await self._wake.wait()
            wait = self._rate_wait()
            if wait > 0:
                await asyncio.sleep(wait)  # meanwhile the queue fills: one digest afterwards
                continue
            batch = [self.queue.popleft() for _ in range(min(MAX_DIGEST, len(self.queue)))]
            self.busy = True
            try:
                await self._deliver(session, batch)
            finally:
                self.busy = False

    async def _deliver(self, session: aiohttp.ClientSession, batch: list[Notice]) -> None:
        delay = BACKOFF_START_S
        tries = self.channel.config.retries + 1
        name, kind = self.channel.name, self.channel.kind
        for attempt in range(1, tries + 1):
            self._sent_at.append(self.clock())
            self.attempts += 1
            try:
                outcome = await self.channel.deliver(session, batch)
            except Exception as exc:  # a formatting bug must not end the sender
                log.exception("alert channel %r (%s): could not send (%s)", name, kind,
                              type(exc).__name__)
                self.failed += 1
                self._result("failed")
                return
            if outcome.delivered:
                self.sent += 1
                self._result("sent")
                return
            if not outcome.retry or attempt == tries:
                log.warning("alert channel %r (%s): %d alert(s) not delivered after %d "
                            "attempt(s): %s", name, kind, len(batch), attempt, outcome.why)
                self.failed += 1
                self._result("failed")
                return
            wait = min(BACKOFF_MAX_S, max(delay, outcome.retry_after_s or 0.0))
            log.info("alert channel %r (%s): attempt %d/%d failed (%s); retrying in %.0f s",
                     name, kind, attempt, tries, outcome.why, wait)
            self._result("retried")
            await asyncio.sleep(wait)
            delay = min(BACKOFF_MAX_S, delay * 2)


class AlertDispatcher:
    """Groups alerts and hands them to every channel that wants them (module docstring)."""

    def __init__(
        self,
        channels: Sequence[Channel] = (),
        *,
        queue_size: int = 1000,
        reminder_s: float = 1800.0,
        clear_after_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        wall_ms: Callable[[], int] = lambda: int(time.time() * 1000),
        metrics: Any = None,
        tick_s: float = 1.0,
    ) -> None:
        self.clock = clock
        self.wall_ms = wall_ms
        self.metrics = metrics
        self.reminder_s = reminder_s
        self.clear_after_s = clear_after_s
        self.tick_s = tick_s
        self.senders = [ChannelSender(c, queue_size=queue_size, clock=clock,
                                      on_result=self._count) for c in channels]
        self.inbox: deque[tuple[bool, Any]] = deque(maxlen=queue_size)
        self.dropped = 0
        self.groups: dict[tuple[Any, ...], _Group] = {}
        self.history: deque[Notice] = deque(maxlen=50)  # the latest messages, for views
        self.notices = 0  # messages made so far (history keeps the latest 50)
        self.listeners: list[Callable[[Notice], None]] = []
        self._wake: asyncio.Event | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._session: aiohttp.ClientSession | None = None

    # --- the non-blocking side -------------------------------------------------------------
    def emit(self, alert: Alert) -> None:
        """Queue one occurrence; returns at once, whatever the channels are doing. Call it on
        the event loop's thread (the engine's tick, a market loop)."""
        self._put((True, alert))

    def clear(self, group: tuple[Any, ...]) -> None:
        """The condition of ``group`` (``Alert.group``) is gone; "resolved" follows if it stays
        gone ``clear_after_s``."""
        self._put((False, group))

    def _put(self, item: tuple[bool, Any]) -> None:
        if len(self.inbox) == self.inbox.maxlen:
            self.dropped += 1
            if self.metrics is not None:
                self.metrics.alert_result("inbox", "dropped")
        self.inbox.append(item)
        if self._wake is not None:
            self._wake.set()

    def _count(self, channel: str, result: str) -> None:
        if self.metrics is not None:
            self.metrics.alert_result(channel, result)

    # --- the background side -----------------------------------------------------------------
    async def start(self) -> None:
        """Start the grouper and one sender per channel on the running loop."""
        if self._tasks:
            return
        loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        if self.inbox:
            self._wake.set()
        if self.senders:
            self._session = aiohttp.ClientSession(
                headers={"User-Agent": "liquidity-bot-alerts"},
                connector=aiohttp.TCPConnector(limit_per_host=4),
            )
            for s in self.senders:
                self._tasks.append(loop.create_task(s.run(self._session),
                                                    name=f"alerts-{s.channel.name}"))
        self._tasks.append(loop.create_task(self._group_loop(), name="alerts-grouper"))

    async def _group_loop(self) -> None:
        assert self._wake is not None
        loop = asyncio.get_running_loop()
        while True:
            # a timer rather than wait_for: on 3.11 wait_for can swallow a cancellation that
            # arrives as the event is set (an alert emitted just before close), and hang close
            timer = loop.call_later(self.tick_s, self._wake.set)
            try:
                await self._wake.wait()
            finally:
                timer.cancel()
            self._wake.clear()
            # a few at a time, yielding in between: a book that arrives during a storm of
            # alerts waits for one slice at most, not for the whole storm
            while self.inbox:
                self._take(SLICE)
                await asyncio.sleep(0)
            self._due()

    def process(self) -> None:
        """Take everything queued, then send what is due (reminders, "resolved")."""
        self._take(len(self.inbox))
        self._due()

    def _take(self, limit: int) -> None:
        for _ in range(min(limit, len(self.inbox))):
            fire, item = self.inbox.popleft()
            if fire:
                self._occurred(item)
            else:
                group = self.groups.get(item)
                if group is not None and group.clear_since is None and not group.alert.one_shot:
                    group.clear_since = self.clock()

    def _due(self) -> None:
        now = self.clock()
        for key, g in list(self.groups.items()):
            if g.clear_since is not None and now - g.clear_since >= self.clear_after_s:
                del self.groups[key]
                self._send(Notice(g.alert, "resolved", g.repeats, g.first_ms, self.wall_ms()))
            elif now - g.last_sent >= self.reminder_s:
                if g.alert.one_shot:
                    if g.repeats:
                        self._send(Notice(g.alert, "reminder", g.repeats, g.first_ms,
                                          self.wall_ms()))
                        g.repeats, g.last_sent = 0, now
                    else:
                        del self.groups[key]  # quiet for a whole interval: forget it
                else:
                    self._send(Notice(g.alert, "reminder", g.repeats, g.first_ms,
                                      self.wall_ms()))
                    g.repeats, g.last_sent = 0, now
        if self.metrics is not None:
            self.metrics.alerts_firing(sum(1 for g in self.groups.values()
                                           if not g.alert.one_shot and g.clear_since is None))

    def _occurred(self, alert: Alert) -> None:
        g = self.groups.get(alert.group)
        if g is None:
            self.groups[alert.group] = _Group(alert, alert.ts_ms, self.clock())
            self._send(Notice(alert, "firing", 0, alert.ts_ms, self.wall_ms()))
            return
        g.alert = alert
        g.repeats += 1
        g.clear_since = None  # back before it counted as resolved: the same alert goes on

    def _send(self, notice: Notice) -> None:
        self.history.append(notice)
        self.notices += 1
        level = logging.WARNING if notice.status != "resolved" else logging.INFO
        log.log(level, "alert: %s", notice.headline())
        for fn in self.listeners:
            try:
                fn(notice)
            except Exception:
                log.exception("alert listener failed")
        for s in self.senders:
            if s.channel.wants(notice):
                s.put(notice)

    def show_on(self, state: Any) -> None:
        """Also list every message in a dashboard's event list (``DashboardState.add_event``)."""
        levels = {"critical": "error", "warning": "warning", "info": "info"}

        def add(notice: Notice) -> None:
            state.add_event("alert", notice.headline(), ts_ms=notice.ts_ms,
                            level=levels[str(notice.severity)])

        self.listeners.append(add)

    async def send_now(self, notice: Notice) -> dict[str, str]:
        """Deliver one notice to every channel now, with retries (``alerts test``); per channel
        "sent" or why not."""
        results: dict[str, str] = {}
        own = self._session is None
        session = self._session or aiohttp.ClientSession(
            headers={"User-Agent": "liquidity-bot-alerts"})
        try:
            for s in self.senders:
                before = s.sent
                await s._deliver(session, [notice])
                results[s.channel.name] = "sent" if s.sent > before else "failed"
        finally:
            if own:
                await session.close()
        return results

    def pending(self) -> int:
        """Messages not yet delivered (queued or in delivery)."""
        return sum(len(s.queue) + int(s.busy) for s in self.senders) + len(self.inbox)

    async def close(self, timeout_s: float = 5.0) -> None:
        """Send what is queued (the bot's last words) for at most ``timeout_s``, then stop."""
        if self._tasks:
            self.process()
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout_s
            while self.pending() and loop.time() < deadline:
                await asyncio.sleep(0.05)
            left = self.pending()
            if left:
                log.warning("alerts: %d message(s) not delivered before shutdown", left)
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        if self._session is not None:
            await self._session.close()
            self._session = None
