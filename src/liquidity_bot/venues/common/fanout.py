"""Fan-out of venue events to any number of async readers; shared by every venue adapter."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Generic, TypeVar

T = TypeVar("T")


class Broadcast(Generic[T]):
    """Every subscriber gets every item, in order (one unbounded queue per reader)."""

    def __init__(self) -> None:
        self._queues: list[asyncio.Queue[T]] = []

    def publish(self, item: T) -> None:
        for q in self._queues:
            q.put_nowait(item)

    async def subscribe(self) -> AsyncIterator[T]:
        q: asyncio.Queue[T] = asyncio.Queue()
        self._queues.append(q)
        try:
            while True:
                yield await q.get()
        finally:
            self._queues.remove(q)
