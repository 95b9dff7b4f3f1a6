"""StoreWriter: writes stay in submission order, and from the event loop they reach the writer
thread only when the submitting callback is done (not between a book and its order)."""

from __future__ import annotations

import asyncio
import threading

from liquidity_bot.engine.persistence import StoreWriter


class _Log:
    """Stands in for the store: records which thread ran which write."""

    def __init__(self) -> None:
        self.done: list[int] = []
        self.threads: set[str] = set()

    def write(self, n: int):  # noqa: ANN201
        def fn() -> None:
            self.threads.add(threading.current_thread().name)
            self.done.append(n)

        return fn


async def test_writes_reach_the_thread_after_the_callback_in_order() -> None:
    log = _Log()
    writer = StoreWriter(store=None)  # type: ignore[arg-type]
    try:
        for n in range(5):
            writer.submit(log.write(n))
        # still on this callback: nothing handed over, so nothing can have been written
        assert writer._queue.qsize() == 0 and log.done == []
        await asyncio.sleep(0)  # the hand-over runs
        for n in range(5, 8):
            writer.submit(log.write(n))
        assert await writer.flush_async()
        assert log.done == list(range(8))
        assert log.threads == {"store-writer"}
    finally:
        writer.close()


async def test_flush_includes_writes_not_handed_over_yet() -> None:
    log = _Log()
    writer = StoreWriter(store=None)  # type: ignore[arg-type]
    try:
        writer.submit(log.write(1))
        assert await writer.flush_async()
        assert log.done == [1]
        writer.submit(log.write(2))
        assert writer.flush()  # the synchronous one, on the loop's thread
        assert log.done == [1, 2]
    finally:
        writer.close()


async def test_a_failing_write_does_not_stop_the_others() -> None:
    log = _Log()
    writer = StoreWriter(store=None)  # type: ignore[arg-type]

    def broken() -> None:
        raise RuntimeError("disk full")

    try:
        writer.submit(log.write(1))
        writer.submit(broken)
        writer.submit(log.write(2))
        assert await writer.flush_async()
        assert log.done == [1, 2] and writer.errors == 1
    finally:
        writer.close()


async def test_close_writes_what_is_pending_and_discard_drops_it() -> None:
    log = _Log()
    writer = StoreWriter(store=None)  # type: ignore[arg-type]
    writer.submit(log.write(1))
    writer.close()
    assert log.done == [1]
    crashed = StoreWriter(store=None)  # type: ignore[arg-type]
    crashed.submit(log.write(2))
    crashed.close(discard=True)  # a simulated crash: the pending write is lost
    assert log.done == [1]


def test_without_an_event_loop_writes_go_straight_to_the_thread() -> None:
    log = _Log()
    writer = StoreWriter(store=None)  # type: ignore[arg-type]
    try:
        writer.submit(log.write(1))
        assert writer.flush()
        assert log.done == [1]
    finally:
        writer.close()
