"""StoreWriter: writes stay in submission order, and from the event loop they reach the writer
thread only when the submitting callback is done (not between a book and its order)."""

from __future__ import annotations

import asyncio
import threading
from decimal import Decimal

from sqlalchemy import event

from liquidity_bot.domain.events import Fill
from liquidity_bot.domain.order import Order, Side
from liquidity_bot.engine.persistence import StoreWriter
from liquidity_bot.store import Store


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


def _real_fill(trade_id: str) -> Fill:
    return Fill(ts_ms=1, symbol="XRPUSDT", client_order_id="lb-1", exchange_order_id=7,
                trade_id=trade_id, side=Side.BUY, price=Decimal("0.5"), qty=Decimal("10"))


async def test_a_callbacks_writes_commit_in_one_transaction(tmp_path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'w.db'}")
    store.create_schema()
    commits: list[int] = []
    event.listen(store.engine, "commit", lambda _conn: commits.append(1))
    writer = StoreWriter(store)
    try:
        order = Order(client_order_id="lb-1", symbol="XRPUSDT", side=Side.BUY,
                      price=Decimal("0.5"), qty=Decimal("10"))
        writer.order(order, created_ms=1, key_label="k")
        writer.event("lb-1", "SUBMIT", "PENDING_NEW", price="0.5")
        writer.fill(_real_fill("t1"))
        writer.fill(_real_fill("t1"))  # the same trade again: stored once, counted duplicate
        assert await writer.flush_async()
        assert len(commits) == 1
        assert [o.client_order_id for o in store.orders()] == ["lb-1"]
        assert [e.event for e in store.order_events()] == ["SUBMIT"]
        assert len(store.fills()) == 1
        assert (writer.fills_inserted, writer.fills_duplicate, writer.errors) == (1, 1, 0)
    finally:
        writer.close()
        store.close()


async def test_a_failing_write_in_a_batch_loses_only_itself(tmp_path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'w.db'}")
    store.create_schema()
    writer = StoreWriter(store)

    def broken() -> None:
        raise RuntimeError("disk full")

    try:
        writer.fill(_real_fill("t1"))
        writer.submit(broken)
        writer.fill(_real_fill("t2"))
        assert await writer.flush_async()
        # the batch's transaction rolled back, then each write ran on its own
        assert sorted(f.trade_id for f in store.fills()) == ["t1", "t2"]
        assert (writer.fills_inserted, writer.fills_duplicate, writer.errors) == (2, 0, 1)
    finally:
        writer.close()
        store.close()
