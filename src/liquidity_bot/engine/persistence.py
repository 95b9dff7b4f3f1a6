"""Store writes off the hot path: one writer thread, strictly in submission order.

The store is synchronous (SQLAlchemy Core; an SQLite commit costs about a millisecond), and the
order manager must not wait for the disk between a depth frame and its order request. Writes go
to a FIFO served by one thread, so what is stored is always a prefix of what happened: after a
crash, the engine recovers the rest from the exchange (open orders, order status, trade
history), and fills stay exactly-once because the store refuses a second (exchange, symbol,
trade id).

Writes submitted from the event loop reach the thread when the current callback is done: a
woken writer thread competes for the GIL, and it should do so while the engine waits on the
network, not between a book and the order request it causes.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

from liquidity_bot.domain.events import Fill
from liquidity_bot.domain.market_id import DEFAULT_EXCHANGE
from liquidity_bot.domain.order import Order
from liquidity_bot.engine.clock import LIVE, Clock
from liquidity_bot.store import FillRecord, KpiSample, OrderEventRecord, OrderRecord, Store

log = logging.getLogger(__name__)

_STOP = object()


def now_ms() -> int:
    """The live wall clock in ms (for code outside the engine; the engine reads its Clock)."""
    return LIVE.now_ms()


def order_record(order: Order, *, created_ms: int, key_label: str | None,
                 updated_ms: int | None = None,
                 exchange: str = DEFAULT_EXCHANGE) -> OrderRecord:
    return OrderRecord(
        client_order_id=order.client_order_id,
        symbol=order.symbol,
        side=order.side.value,
        price=order.price,
        qty=order.qty,
        status=order.state.value,
        created_ms=created_ms,
        updated_ms=now_ms() if updated_ms is None else updated_ms,
        filled_qty=order.filled_qty,
        avg_price=order.avg_price,
        exchange_order_id=None if order.exchange_order_id is None else str(order.exchange_order_id),
        key_label=key_label,
        exchange=exchange,
    )


def fill_record(fill: Fill, exchange: str = DEFAULT_EXCHANGE) -> FillRecord:
    return FillRecord(
        symbol=fill.symbol,
        trade_id=fill.trade_id,
        side=fill.side.value,
        price=fill.price,
        qty=fill.qty,
        ts_ms=fill.ts_ms,
        fee=fill.fee,
        fee_asset=fill.fee_asset,
        client_order_id=fill.client_order_id or None,
        exchange_order_id=None if fill.exchange_order_id is None else str(fill.exchange_order_id),
        is_maker=fill.is_maker,
        exchange=exchange,
    )


class StoreWriter:
    """Queue of store writes served by a daemon thread; ``flush`` waits until all are done."""

    def __init__(self, store: Store, clock: Clock = LIVE) -> None:
        self.store = store
        self.clock = clock
        self._queue: queue.Queue[Any] = queue.Queue()
        self._thread = threading.Thread(target=self._serve, name="store-writer", daemon=True)
        self.fills_inserted = 0
        self.fills_duplicate = 0
        self.errors = 0
        self._batch: list[Callable[[], Any]] = []  # submitted in this loop callback
        self._thread.start()

    def submit(self, fn: Callable[[], Any]) -> None:
        """Queue ``fn`` (a store write). If it returns a callable, that runs once the write is
        committed (counters that must not count a write rolled back)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # not on an event loop: straight to the thread
            self._queue.put(fn)
            return
        if not self._batch:
            loop.call_soon(self._hand_over)
        self._batch.append(fn)

    def _hand_over(self) -> None:
        """Move this callback's writes to the thread, in submission order."""
        batch, self._batch = self._batch, []
        if batch:
            self._queue.put(batch)

    def kpi_sample(self, sample: KpiSample) -> None:
        """One obligations sample (a writer that batches may group them into one insert)."""
        self.submit(lambda: self.store.add_kpi_sample(sample))

    def order(self, order: Order, *, created_ms: int, key_label: str | None,
              exchange: str = DEFAULT_EXCHANGE) -> None:
        record = order_record(order, created_ms=created_ms, key_label=key_label,
                              updated_ms=self.clock.now_ms(), exchange=exchange)
        self.submit(lambda: self.store.upsert_order(record))

    def event(self, client_order_id: str, event: str, status: str | None, **detail: Any) -> None:
        record = OrderEventRecord(
            client_order_id=client_order_id,
            event=event,
            ts_ms=self.clock.now_ms(),
            status=status,
            detail=detail or None,
        )
        self.submit(lambda: self.store.record_order_event(record))

    def fill(self, fill: Fill, exchange: str = DEFAULT_EXCHANGE) -> None:
        record = fill_record(fill, exchange)

        def write() -> Callable[[], None]:
            inserted = self.store.add_fill(record)

            def count() -> None:  # once the write is committed
                if inserted:
                    self.fills_inserted += 1
                else:
                    self.fills_duplicate += 1

            return count

        self.submit(write)

    def _serve(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is _STOP:
                    return
                if isinstance(item, threading.Event):
                    item.set()
                    continue
                self._write_batch(item if isinstance(item, list) else [item])
            finally:
                self._queue.task_done()

    def _write_batch(self, batch: list[Callable[[], Any]]) -> None:
        """One transaction for a loop callback's writes (a commit each cost more CPU than the
        write); if it fails, each write again in its own, so one bad write loses only itself."""
        if len(batch) > 1:
            try:
                with self.store.transaction():
                    done = [fn() for fn in batch]
            except Exception:
                log.debug("store batch failed; writing its %d writes one by one", len(batch))
            else:
                for after in done:
                    if callable(after):
                        after()
                return
        for fn in batch:
            self._write(fn)

    def _write(self, fn: Callable[[], Any]) -> None:
        try:
            after = fn()
        except Exception:  # a failed write is logged and counted; the engine keeps going
            self.errors += 1
            log.exception("store write failed")
        else:
            if callable(after):
                after()

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Block until every write submitted so far is done (True) or the timeout passes.

        Call it on the loop's thread (or with no loop): ``flush_async`` from a coroutine."""
        self._hand_over()
        return self._wait_written(timeout_s)

    def _wait_written(self, timeout_s: float) -> bool:
        """Wait for what the thread's queue holds now (any thread may call this)."""
        if not self._thread.is_alive():
            return self._queue.empty()
        done = threading.Event()
        self._queue.put(done)
        return done.wait(timeout_s)

    async def flush_async(self, timeout_s: float = 10.0) -> bool:
        self._hand_over()  # here, on the loop's thread; the wait runs in a worker thread
        return await asyncio.to_thread(self._wait_written, timeout_s)

    def close(self, *, discard: bool = False) -> None:
        """Stop the thread after the queued writes (or drop them: a simulated crash)."""
        if discard:
            self._batch = []
            try:
                while True:
                    self._queue.get_nowait()
                    self._queue.task_done()
            except queue.Empty:
                pass
        self._hand_over()
        self._queue.put(_STOP)
        self._thread.join(timeout=10)


class ExchangeWriter:
    """The engine's one writer as one exchange's markets see it: the orders and fills they
    write are stamped with that exchange (a market is (exchange, symbol)); everything else,
    the queue, the thread and the counters, is the shared writer's."""

    def __init__(self, writer: StoreWriter, exchange: str) -> None:
        self._writer = writer
        self.exchange = exchange

    def __getattr__(self, name: str) -> Any:
        return getattr(self._writer, name)

    def order(self, order: Order, *, created_ms: int, key_label: str | None) -> None:
        self._writer.order(order, created_ms=created_ms, key_label=key_label,
                           exchange=self.exchange)

    def fill(self, fill: Fill) -> None:
        self._writer.fill(fill, self.exchange)


def writer_for(writer: StoreWriter | None, exchange: str) -> Any:
    """``writer`` as ``exchange``'s markets use it (the writer itself for Bitrue's)."""
    if writer is None or exchange == DEFAULT_EXCHANGE:
        return writer
    return ExchangeWriter(writer, exchange)
