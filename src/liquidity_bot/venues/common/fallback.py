"""The REST fallback of a venue's user stream: poll while the stream is down or silent, and
once after every reconnection (a new connection says nothing of what happened in the gap)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from liquidity_bot.venues.errors import VenueError

log = logging.getLogger(__name__)


async def fallback_loop(
    *,
    interval_s: float,
    healthy: Callable[[], bool],
    connects: Callable[[], int],
    connected: Callable[[], bool],
    poll: Callable[[], Awaitable[None]],
    name: str,
) -> None:
    """Every ``interval_s``: ``poll()`` unless the stream is ``healthy()`` and has not
    reconnected since the last look (``connects()`` counts connections). Runs until cancelled;
    a failed poll is logged and tried again next time."""
    seen_connects = connects()
    while True:
        await asyncio.sleep(interval_s)
        reconnected = connects() != seen_connects and connected()
        if healthy() and not reconnected:
            continue
        seen_connects = connects()
        try:
            await poll()
        except VenueError as exc:
            log.warning("%s REST fallback poll failed: %s", name, type(exc).__name__)
