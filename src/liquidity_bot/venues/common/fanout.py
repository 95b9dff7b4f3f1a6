"""Fan-out of venue events to any number of async readers; shared by every venue adapter."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")

log = logging.getLogger(__name__)


class Broadcast(Generic[T]):
    """Every subscriber gets every item, in order (one unbounded queue per reader); a
    listener is called with each item as it is published (no loop turn in between)."""

    def __init__(self) -> None:
        self._queues: list[asyncio.Queue[T]] = []
        self._listeners: list[Callable[[T], None]] = []

    def publish(self, item: T) -> None:
        if self._listeners:
            for listener in list(self._listeners):
                try:
                    listener(item)
                except Exception:  # the stream must not die of a reader's bug
                    log.exception("a listener failed on %s", type(item).__name__)
        for q in self._queues:
            q.put_nowait(item)

    @contextlib.contextmanager
    def listen(self, listener: Callable[[T], None]) -> Iterator[None]:
        """Call ``listener`` with every item, synchronously, while the block runs."""
        self._listeners.append(listener)
        try:
            yield
        finally:
            self._listeners.remove(listener)

    async def subscribe(self) -> AsyncIterator[T]:
        q: asyncio.Queue[T] = asyncio.Queue()
        self._queues.append(q)
        try:
            while True:
                yield await q.get()
        finally:
            self._queues.remove(q)
