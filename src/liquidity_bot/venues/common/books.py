"""Latest-book delivery shared by the venue adapters: a lagging reader gets only the newest
snapshot per symbol, and listeners are called synchronously as each book is handled."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Iterator

from liquidity_bot.domain.events import BookUpdate

log = logging.getLogger(__name__)

MakeUpdate = Callable[[], BookUpdate]


class LatestBooks:
    """Book fan-out: each subscriber sees the newest book of each symbol, once.

    ``publish`` takes a function that builds the ``BookUpdate``: it is called only when a
    reader takes the book (or at once for listeners), so an adapter can hand over its live
    book and snapshots superseded in between cost nothing.
    """

    def __init__(self) -> None:
        self._subs: list[tuple[dict[str, MakeUpdate], asyncio.Event]] = []
        self._listeners: list[Callable[[BookUpdate], None]] = []

    def publish(self, symbol: str, make: MakeUpdate) -> None:
        for pending, event in self._subs:
            pending[symbol] = make
            event.set()
        if self._listeners:
            update = make()
            for listener in list(self._listeners):
                try:
                    listener(update)
                except Exception:  # the stream must not die of a reader's bug
                    log.exception("a book listener failed on %s", symbol)

    def publish_update(self, update: BookUpdate) -> None:
        """``publish`` for an update already built (nothing to do while nobody reads)."""
        if self._subs or self._listeners:
            self.publish(update.symbol, lambda: update)

    @contextlib.contextmanager
    def listen(self, listener: Callable[[BookUpdate], None]) -> Iterator[None]:
        """Call ``listener`` with every book, synchronously, while the block runs."""
        self._listeners.append(listener)
        try:
            yield
        finally:
            self._listeners.remove(listener)

    async def subscribe(self) -> AsyncIterator[BookUpdate]:
        pending: dict[str, MakeUpdate] = {}
        event = asyncio.Event()
        entry = (pending, event)
        self._subs.append(entry)
        try:
            while True:
                await event.wait()
                event.clear()
                while pending:
                    yield pending.pop(next(iter(pending)))()
        finally:
            self._subs.remove(entry)
