"""The rehearsal driver: round robin, one step per loop callback, failures contained."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Generator

import pytest

from liquidity_bot.engine.rehearsal import Rehearsals


class Market:
    def __init__(self, symbol: str, steps: int = 3, fail_at: int | None = None) -> None:
        self.symbol = symbol
        self.steps = steps
        self.fail_at = fail_at
        self.log: list[tuple[str, int]] = []
        self.closed = 0

    def rehearsal(self) -> Generator[None, None, None]:
        try:
            for i in range(self.steps):
                if i == self.fail_at:
                    raise RuntimeError("boom")
                self.log.append((self.symbol, i))
                if i < self.steps - 1:
                    yield
        except GeneratorExit:
            self.closed += 1
            raise


async def _until(predicate, what: str, limit: int = 20_000) -> None:  # noqa: ANN001
    for _ in range(limit):
        if predicate():
            return
        await asyncio.sleep(0.0005)
    raise AssertionError(f"never: {what}")


async def test_markets_are_rehearsed_in_turn_one_at_a_time() -> None:
    a, b = Market("A"), Market("B")
    log: list[tuple[str, int]] = []
    a.log = b.log = log
    r = Rehearsals(lambda: [a, b], interval_s=0.0005)
    r.start()
    try:
        await _until(lambda: r.runs >= 6, "six rehearsals")
    finally:
        r.stop()
    # Whole rehearsals, never interleaved, alternating between the markets.
    done = log[: (len(log) // 3) * 3]
    rehearsals = [done[i:i + 3] for i in range(0, len(done), 3)]
    for i, steps in enumerate(rehearsals):
        symbol = "AB"[i % 2]
        assert steps == [(symbol, 0), (symbol, 1), (symbol, 2)]
    assert r.failures == 0


async def test_each_step_is_its_own_loop_callback() -> None:
    """Work queued during a step runs before the next step: a frame waits one step at most."""
    loop = asyncio.get_running_loop()
    order: list[str] = []

    class Chatty(Market):
        def rehearsal(self) -> Generator[None, None, None]:
            for i in range(3):
                order.append(f"step{i}")
                loop.call_soon(order.append, f"queued{i}")
                yield

    r = Rehearsals(lambda: [Chatty("A")], interval_s=0.0005)
    r.start()
    try:
        await _until(lambda: r.runs >= 1, "one rehearsal")
    finally:
        r.stop()
    first = order[:6]
    assert first == ["step0", "queued0", "step1", "queued1", "step2", "queued2"]


async def test_a_failure_is_counted_logged_once_and_rehearsals_go_on(caplog) -> None:  # noqa: ANN001
    bad, good = Market("BAD", fail_at=1), Market("GOOD")
    r = Rehearsals(lambda: [bad, good], interval_s=0.0005)
    with caplog.at_level(logging.ERROR, logger="liquidity_bot.engine.rehearsal"):
        r.start()
        try:
            await _until(lambda: r.failures >= 3 and r.runs >= 3, "failures and runs")
        finally:
            r.stop()
    assert len([rec for rec in caplog.records if "rehearsal failed" in rec.message]) == 1
    assert ("GOOD", 2) in good.log


async def test_stop_closes_a_rehearsal_midway_and_nothing_runs_after() -> None:
    slow = Market("A", steps=10**9)  # never finishes on its own
    r = Rehearsals(lambda: [slow], interval_s=0.0005)
    r.start()
    await _until(lambda: len(slow.log) >= 5, "a few steps")
    r.stop()
    assert slow.closed == 1
    seen = len(slow.log)
    for _ in range(20):
        await asyncio.sleep(0.001)
    assert len(slow.log) == seen


async def test_no_markets_waits_for_some() -> None:
    markets: list[Market] = []
    r = Rehearsals(lambda: markets, interval_s=0.0005)
    r.start()
    try:
        await asyncio.sleep(0.01)
        assert r.runs == 0
        markets.append(Market("A"))
        await _until(lambda: r.runs >= 1, "a rehearsal once a market exists")
    finally:
        r.stop()


def test_the_interval_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        Rehearsals(lambda: [], interval_s=0)
