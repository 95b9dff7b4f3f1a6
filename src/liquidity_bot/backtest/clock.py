"""Virtual time for the engine's async code: an event loop whose clock is the simulator's.

The engine is written for a live asyncio loop: it sleeps, waits with timeouts and reads
``time.time()``/``time.monotonic()``. In a backtest the same code must run on simulated time, so:

- ``VirtualEventLoop`` is an ordinary selector loop whose ``time()`` is virtual. When nothing is
  ready, instead of blocking in ``select`` it moves the simulated market forward to whichever
  comes first: the next market action, a pending depth push, or the loop's next timer. A day of
  engine timers and market events then runs as fast as the CPU allows, and the interleaving of
  engine and market depends only on simulated time (deterministic for a seed).
- ``VirtualClock`` is the engine's ``Clock`` on the same simulated time: the engine is given it
  (``Engine(clock=...)``) and reads "now" only from it, so nothing is patched.

Real file descriptors still work, polled without blocking before every virtual step; the
loop's own self-pipe, when it is the only one, every ``SELF_PIPE_EVERY`` turns (a thread's
``call_soon_threadsafe``, e.g. ``asyncio.to_thread`` finishing, is seen at once anyway).
"""

from __future__ import annotations

import asyncio
import heapq
import math
import selectors
from asyncio.base_events import MAXIMUM_SELECT_TIMEOUT
from typing import Any, ClassVar, Protocol


class Market(Protocol):
    """What the loop needs from the simulated market: its clock and how to move it on."""

    def now_ms(self) -> int: ...

    def next_event_ms(self) -> int | None:
        """When the market next does something on its own (None: nothing planned)."""

    def advance_to(self, t_ms: int) -> None:
        """Run the market up to and including ``t_ms`` (callbacks fire as it goes)."""

    # Optional: ``hand_over(first)``, called once the loop's clock reads the time the market
    # was moved to (``first``: no callback ready and no timer due): what is held for then
    # (``BacktestMarket``'s books for its listeners) is handed over.


# With no real descriptor but the loop's self-pipe, it is polled once every this many turns
SELF_PIPE_EVERY = 64


class _VirtualSelector(selectors.BaseSelector):
    """Wraps the real selector: polls it without blocking, and turns waiting into simulation."""

    def __init__(self, inner: selectors.BaseSelector, loop: VirtualEventLoop) -> None:
        self._inner = inner
        self._loop = loop
        self._turns = 0

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._inner.register(fileobj, events, data)

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        return self._inner.unregister(fileobj)

    def modify(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._inner.modify(fileobj, events, data)

    def get_key(self, fileobj: Any) -> selectors.SelectorKey:
        return self._inner.get_key(fileobj)

    def get_map(self) -> Any:
        return self._inner.get_map()

    def close(self) -> None:
        self._inner.close()

    def pending(self) -> bool:
        """A real file descriptor is ready (polled without blocking; level-triggered, so
        the next ``select`` still reports it)."""
        return bool(self._inner.select(0))

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        # With the loop's self-pipe alone registered, polling it every turn buys nothing: a
        # thread's ``call_soon_threadsafe`` makes its callback ready at once; the pipe only
        # carries wake-up bytes and signal numbers, read every ``SELF_PIPE_EVERY`` turns.
        self._turns += 1
        if len(self._inner.get_map()) > 1 or self._turns % SELF_PIPE_EVERY == 0:
            ready = self._inner.select(0)
            if ready:
                return ready
        if timeout == 0:
            return []
        if self._loop.advance(timeout):
            return []
        # Nothing planned anywhere in simulated time: only a thread can wake us. Wait for it
        # in real time, in short slices (a stuck backtest stays interruptible).
        return self._inner.select(0.05 if timeout is None else min(timeout, 0.05))


class VirtualEventLoop(asyncio.SelectorEventLoop):
    """An asyncio loop on the simulated clock of ``market`` (see the module docstring).

    ``time()`` counts seconds from the market's time at creation (small floats keep
    sub-millisecond timers exact; epoch-sized floats would not); ``wall()`` is epoch seconds.
    """

    # market actions that wake nothing run back to back in one ``select`` (``advance``);
    # False: one loop turn per action (tests compare the two)
    run_quiet_steps: ClassVar[bool] = True

    def __init__(self, market: Market) -> None:
        super().__init__()
        self.market = market
        self.origin_ms = market.now_ms()
        self._vt = 0.0
        self._clock_resolution = 1e-6
        self._selector: _VirtualSelector = _VirtualSelector(
            self._selector, self)  # type: ignore[has-type]
        self.steps = 0
        self._hand_over = getattr(market, "hand_over", None)

    def time(self) -> float:
        return self._vt

    def runs_next(self) -> bool:
        """A callback made ready now runs before anything else: nothing else is ready (in a
        callback, the rest of this turn's batch is still in the ready queue) and simulated
        time stands still until the next turn."""
        return not self._ready  # type: ignore[attr-defined]

    def wall(self) -> float:
        """Simulated epoch seconds (what ``time.time()`` reads during a backtest)."""
        return self.origin_ms / 1000.0 + self._vt

    def now_ms(self) -> int:
        return self.origin_ms + int(self._vt * 1000 + 1e-6)

    def advance(self, timeout: float | None) -> bool:
        """Move simulated time on by at most ``timeout`` s (None: to the next market event).

        Stops at the first market action that wakes the engine (a callback made ready, a
        timer added), so the engine sees every event when it happens; actions that wake
        nothing run back to back. Returns False when there is nothing to move to."""
        deadline = None if timeout is None else self._vt + timeout
        ready = self._ready  # type: ignore[attr-defined]
        timers = self._scheduled  # type: ignore[attr-defined]
        n_timers = len(timers)
        watched = len(self._selector.get_map())  # the self-pipe, and any real descriptor
        moved = False
        market, origin_ms = self.market, self.origin_ms
        next_event_ms, advance_to, market_now_ms = (
            market.next_event_ms, market.advance_to, market.now_ms)
        hand_over, resolution = self._hand_over, self._clock_resolution
        while True:
            nxt = next_event_ms()
            if nxt is not None and (deadline is None or (nxt - origin_ms) / 1000.0 < deadline):
                now_ms = origin_ms + int(self._vt * 1000 + 1e-6)  # ``now_ms()``
                target_ms = nxt if nxt > now_ms else now_ms
                advance_to(target_ms)
                vt = (target_ms - origin_ms) / 1000.0
                if vt > self._vt:
                    self._vt = vt
            elif deadline is not None:
                advance_to(origin_ms + int(deadline * 1000 + 1e-6))
                self._vt = deadline
            else:
                return moved
            moved = True
            # A slow simulated request (injected latency) may have moved the market further.
            vt = (market_now_ms() - origin_ms) / 1000.0
            if vt > self._vt:
                self._vt = vt
            self.steps += 1
            if hand_over is not None:
                # first in the next turn: nothing ready and no timer due (``_run_once`` runs
                # the timers due within the clock's resolution)
                hand_over(not ready and not (timers and timers[0]._when < self._vt + resolution))
            # A market event that woke nothing (no callback ready, no timer added: most of
            # the other participants' actions) needs no loop turn: go on to the next one.
            # The engine would have run nothing in between, so it sees the same thing.
            # (A thread's ``call_soon_threadsafe``, e.g. ``asyncio.to_thread`` finishing, is
            # ready at once too; a real file descriptor besides the loop's self-pipe is polled.)
            if (not self.run_quiet_steps or ready
                    or (watched > 1 and self._selector.pending())):
                return True
            if len(timers) != n_timers or (deadline is not None and self._vt >= deadline):
                # A timer is due, or one was added: the loop's next turn would run the timers
                # due now and then wait for the next one. Done here, while they make nothing
                # ready (a quiet refresh timer sets itself again, nothing more) and the next
                # timer lies ahead: the turn would have run nothing else.
                deadline = self._run_due_timers()
                if deadline is None or ready or self._stopping:
                    return True
                n_timers = len(timers)
                if deadline == math.inf:
                    deadline = None

    def _run_due_timers(self) -> float | None:
        """What ``_run_once`` does after its ``select`` returned nothing when no callback is
        ready: run the timers due now (popped first, in order: a cancelled one is skipped),
        then drop the cancelled timers at the head. Returns the next turn's deadline
        (``math.inf``: no timer), or None when that turn would not wait (a timer is due now,
        or debug mode): the caller then leaves the turn to the loop."""
        if self._debug:  # type: ignore[attr-defined]
            return None
        timers = self._scheduled  # type: ignore[attr-defined]
        end_time = self._vt + self._clock_resolution
        due = []
        while timers and timers[0]._when < end_time:
            handle = heapq.heappop(timers)
            handle._scheduled = False
            due.append(handle)
        for handle in due:
            if not handle._cancelled:
                handle._run()
        while timers and timers[0]._cancelled:  # (``_run_once``'s own clean-up of the head)
            self._timer_cancelled_count -= 1  # type: ignore[attr-defined]
            handle = heapq.heappop(timers)
            handle._scheduled = False
        if not timers:
            return math.inf
        timeout = timers[0]._when - self._vt
        if timeout <= 0:
            return None
        return self._vt + min(timeout, MAXIMUM_SELECT_TIMEOUT)


class VirtualClock:
    """The engine's ``Clock`` (``engine.clock``) on ``loop``'s simulated time: wall time is the
    simulated epoch, monotonic time the loop's own clock."""

    def __init__(self, loop: VirtualEventLoop) -> None:
        self.loop = loop

    def time(self) -> float:
        return self.loop.wall()

    def monotonic(self) -> float:
        return self.loop.time()

    def now_ms(self) -> int:
        return int(self.loop.wall() * 1000)
