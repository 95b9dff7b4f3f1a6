"""Process settings for latency while the engine runs: the GIL, and garbage collection.

Two CPython defaults put milliseconds between a depth frame and the order it causes:
- the GIL switch interval (5 ms): the store writer is a thread, and while it runs Python code
  a frame may wait that long for the GIL. ``latency_mode`` lowers it to 0.5 ms.
- automatic cyclic garbage collection: it runs when allocations cross a threshold, which
  happens mostly in the middle of a quoting pass (the part of the engine that allocates), and
  a full collection of a process with every library imported takes tens of milliseconds.
  ``latency_mode`` freezes what exists after start-up (modules, configuration, connections:
  they live as long as the process, so later collections need not look at them) and turns
  automatic collection off; ``collect_if_due`` then runs CPython's own threshold rules at safe
  points: after a pass has started its requests, and on the engine's timer. The full
  collection before freezing (``collect_before_start``) runs before start-up, where it delays
  no quote.

The commands run their event loop through ``run``: uvloop (the design's chosen loop, a C
implementation of asyncio's) when it is installed, which makes each loop turn and socket
write on the tick-to-order path cheaper; ``LIQUIDITY_BOT_EVENT_LOOP=asyncio`` picks the
standard loop instead.

Both latency settings are process-wide, so nested or concurrent engines share one latency
mode (counted), and the defaults come back when the last one ends. Unfreezing on exit returns the start-up objects
to the collector, so a process that runs many engines one after another (the tests) frees them.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import sys
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

T = TypeVar("T")
EVENT_LOOP_ENV = "LIQUIDITY_BOT_EVENT_LOOP"

GIL_SWITCH_INTERVAL_S = 0.0005

_users = 0
_saved: tuple[float, bool] | None = None  # switch interval and gc.isenabled() before


@contextlib.contextmanager
def latency_mode() -> Iterator[None]:
    """Apply the settings above while the block runs (see the module docstring)."""
    global _users, _saved
    if _users == 0:
        _saved = (sys.getswitchinterval(), gc.isenabled())
        sys.setswitchinterval(min(_saved[0], GIL_SWITCH_INTERVAL_S))
        gc.freeze()
        gc.disable()
    _users += 1
    try:
        yield
    finally:
        _users -= 1
        if _users == 0 and _saved is not None:
            interval, enabled = _saved
            gc.unfreeze()
            sys.setswitchinterval(interval)
            if enabled:
                gc.enable()
            _saved = None


def collect_before_start() -> None:
    """A full collection, so that what ``latency_mode`` freezes is live objects, not garbage
    (no-op while an engine already runs in latency mode)."""
    if _users == 0:
        gc.collect()


def collect_if_due() -> int | None:
    """While automatic collection is off, collect what CPython would have collected by now.

    Returns the generation collected, or None. A no-op when automatic collection is on."""
    if gc.isenabled():
        return None
    t0, t1, t2 = gc.get_threshold()
    c0, c1, c2 = gc.get_count()
    if t0 == 0 or c0 < t0:
        return None
    generation = 0
    if c1 + 1 > t1:
        generation = 2 if c2 + 1 > t2 else 1
    gc.collect(generation)
    return generation


def event_loop_name() -> str:
    """``uvloop`` when installed and not turned off by ``LIQUIDITY_BOT_EVENT_LOOP``, else
    ``asyncio``."""
    wanted = os.environ.get(EVENT_LOOP_ENV, "uvloop").strip().lower()
    if wanted not in ("uvloop", "asyncio"):
        raise SystemExit(f"{EVENT_LOOP_ENV}={wanted!r}: use 'uvloop' or 'asyncio'")
    if wanted == "uvloop":
        try:
            import uvloop  # noqa: F401
        except ImportError:  # not installed (e.g. Windows): the standard loop
            return "asyncio"
    return wanted


def run(main: Coroutine[Any, Any, T], loop: str | None = None) -> T:
    """``asyncio.run(main)`` on ``loop`` (``uvloop`` or ``asyncio``), by default the one
    ``event_loop_name`` picks (see the module docstring)."""
    try:
        name = loop or event_loop_name()
    except SystemExit:
        main.close()  # never started: no "was never awaited" warning on top of the error
        raise
    if name == "uvloop":
        import uvloop

        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            return runner.run(main)
    return asyncio.run(main)
