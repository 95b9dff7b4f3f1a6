"""Virtual time for the engine's async code: an event loop whose clock is the simulator's.

The engine is written for a live asyncio loop: it sleeps, waits with timeouts and reads
``time.time()``/``time.monotonic()``. In a backtest the same code must run on simulated time, so:

- ``VirtualEventLoop`` is an ordinary selector loop whose ``time()`` is virtual. When nothing is
  ready, instead of blocking in ``select`` it moves the simulated market forward to whichever
  comes first: the next market action, a pending depth push, or the loop's next timer. A day of
  engine timers and market events then runs as fast as the CPU allows, and the interleaving of
  engine and market depends only on simulated time (deterministic for a seed).
- ``virtual_time`` points the engine modules' ``time`` at a shim reading the same clock, for the
  duration of a backtest. The engine has no clock abstraction yet (see the report); this keeps
  its code unchanged and is undone on exit.

Real file descriptors still work (the loop's self-pipe: ``asyncio.to_thread``), polled without
blocking before every virtual step.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import selectors
import time as _real_time
from collections.abc import Callable, Iterator
from typing import Any, Protocol

# Modules of the engine that read the wall clock through their module-level ``time`` name.
ENGINE_TIME_MODULES = (
    "liquidity_bot.engine.market_runner",
    "liquidity_bot.engine.order_manager",
    "liquidity_bot.engine.persistence",
    "liquidity_bot.engine.runner",
)


class Market(Protocol):
    """What the loop needs from the simulated market: its clock and how to move it on."""

    def now_ms(self) -> int: ...

    def next_event_ms(self) -> int | None:
        """When the market next does something on its own (None: nothing planned)."""

    def advance_to(self, t_ms: int) -> None:
        """Run the market up to and including ``t_ms`` (callbacks fire as it goes)."""


class _VirtualSelector(selectors.BaseSelector):
    """Wraps the real selector: polls it without blocking, and turns waiting into simulation."""

    def __init__(self, inner: selectors.BaseSelector, loop: VirtualEventLoop) -> None:
        self._inner = inner
        self._loop = loop

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

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready = self._inner.select(0)
        if ready or timeout == 0:
            return ready
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

    def __init__(self, market: Market) -> None:
        super().__init__()
        self.market = market
        self.origin_ms = market.now_ms()
        self._vt = 0.0
        self._clock_resolution = 1e-6
        self._selector = _VirtualSelector(self._selector, self)  # type: ignore[has-type]
        self.steps = 0

    def time(self) -> float:
        return self._vt

    def wall(self) -> float:
        """Simulated epoch seconds (what ``time.time()`` reads during a backtest)."""
        return self.origin_ms / 1000.0 + self._vt

    def now_ms(self) -> int:
        return self.origin_ms + int(self._vt * 1000 + 1e-6)

    def advance(self, timeout: float | None) -> bool:
        """Move simulated time on by at most ``timeout`` s (None: to the next market event).

        Stops early at the market's next action so the engine sees every event when it
        happens. Returns False when there is nothing to move to."""
        deadline = None if timeout is None else self._vt + timeout
        nxt = self.market.next_event_ms()
        if nxt is not None and (deadline is None
                                or (nxt - self.origin_ms) / 1000.0 < deadline):
            target_ms = max(nxt, self.now_ms())
            self.market.advance_to(target_ms)
            self._vt = max(self._vt, (target_ms - self.origin_ms) / 1000.0)
        elif deadline is not None:
            self.market.advance_to(self.origin_ms + int(deadline * 1000 + 1e-6))
            self._vt = deadline
        else:
            return False
        # A slow simulated request (injected latency) may have moved the market further.
        self._vt = max(self._vt, (self.market.now_ms() - self.origin_ms) / 1000.0)
        self.steps += 1
        return True


class _TimeShim:
    """Stands in for the ``time`` module inside engine modules: wall and monotonic clocks read
    the virtual clock; everything else (perf counters, sleep) is the real module's."""

    def __init__(self, wall_s: Callable[[], float], mono_s: Callable[[], float]) -> None:
        self._wall_s = wall_s
        self._mono_s = mono_s

    def time(self) -> float:
        return self._wall_s()

    def time_ns(self) -> int:
        return int(self._wall_s() * 1e9)

    def monotonic(self) -> float:
        return self._mono_s()

    def monotonic_ns(self) -> int:
        return int(self._mono_s() * 1e9)

    def __getattr__(self, name: str) -> Any:
        return getattr(_real_time, name)


@contextlib.contextmanager
def virtual_time(loop: VirtualEventLoop,
                 modules: tuple[str, ...] = ENGINE_TIME_MODULES) -> Iterator[None]:
    """Make the engine modules read ``loop``'s clock as their wall and monotonic clock."""
    shim = _TimeShim(loop.wall, loop.time)
    saved: list[tuple[Any, Any]] = []
    try:
        for name in modules:
            module = importlib.import_module(name)
            if getattr(module, "time", None) is not None:
                saved.append((module, module.time))
                module.time = shim  # type: ignore[attr-defined]
        yield
    finally:
        for module, original in saved:
            module.time = original  # type: ignore[attr-defined]
