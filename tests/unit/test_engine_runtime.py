"""engine.runtime: the latency settings are applied while an engine runs and undone after,
nested engines share them, garbage is still collected at safe points, and the commands' event
loop is uvloop unless asked otherwise."""

from __future__ import annotations

import gc
import sys

import pytest

from liquidity_bot.engine import runtime
from liquidity_bot.engine.runtime import GIL_SWITCH_INTERVAL_S, collect_if_due, latency_mode


class Cycle:
    """Garbage only the cyclic collector can free."""

    def __init__(self) -> None:
        self.me = self


def test_latency_mode_applies_and_restores_the_process_settings() -> None:
    interval, enabled = sys.getswitchinterval(), gc.isenabled()
    with latency_mode():
        assert not gc.isenabled()
        assert sys.getswitchinterval() == min(interval, GIL_SWITCH_INTERVAL_S)
        assert gc.get_freeze_count() > 0  # what existed at start-up is frozen
        with latency_mode():  # a second engine in the same process
            assert not gc.isenabled()
        assert not gc.isenabled()  # the first one still runs
    assert gc.isenabled() == enabled and sys.getswitchinterval() == interval
    assert gc.get_freeze_count() == 0


def test_cyclic_garbage_is_collected_at_safe_points() -> None:
    import weakref

    with latency_mode():
        threshold = gc.get_threshold()[0]
        probe = Cycle()
        ref = weakref.ref(probe)
        del probe
        while gc.get_count()[0] < threshold:  # allocate until a collection would be due
            Cycle()
        assert ref() is not None  # automatic collection is off: nothing freed it yet
        collected = None
        for _ in range(100):  # a few safe points reach the generation holding it
            collected = collect_if_due() if ref() is not None else collected
            if ref() is None:
                break
            for _ in range(threshold):
                Cycle()
        assert ref() is None and collected is not None
    assert collect_if_due() is None  # automatic collection is back: nothing to do here


def test_run_uses_uvloop_unless_the_environment_asks_for_asyncio(monkeypatch) -> None:
    import asyncio

    import uvloop

    async def loop_type() -> type:
        return type(asyncio.get_running_loop())

    monkeypatch.delenv(runtime.EVENT_LOOP_ENV, raising=False)
    assert runtime.event_loop_name() == "uvloop"
    assert runtime.run(loop_type()) is uvloop.Loop
    monkeypatch.setenv(runtime.EVENT_LOOP_ENV, "asyncio")
    assert runtime.run(loop_type()) is not uvloop.Loop
    monkeypatch.setenv(runtime.EVENT_LOOP_ENV, "trio")
    coro = loop_type()
    with pytest.raises(SystemExit, match="use 'uvloop' or 'asyncio'"):
        runtime.run(coro)
    assert coro.cr_frame is None  # closed, not left unawaited
