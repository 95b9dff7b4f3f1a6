"""``BitrueVenue.start()`` is retryable: after a failed start (nothing half-started is left
running, the REST session stays usable) and after ``stop()`` (a fresh REST client is built)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from liquidity_bot.domain.events import BookUpdate
from liquidity_bot.venues.bitrue.errors import AuthenticationError
from liquidity_bot.venues.bitrue.urls import BitrueUrls
from liquidity_bot.venues.bitrue.venue import BitrueVenue

sys.path.insert(0, str(Path(__file__).parent))
from _connector_helpers import SYMBOL  # noqa: E402
from conftest import admin_call  # noqa: E402


async def test_start_after_a_failed_start_and_after_stop(sim, make_key):
    _, key, secret = await make_key(sim)
    await admin_call(sim, "POST", f"/sim/admin/keys/{key}/disable")
    venue = BitrueVenue(BitrueUrls.single(sim.base_url), key, secret, [SYMBOL])
    with pytest.raises(AuthenticationError):
        await venue.start()
    # nothing of the failed attempt keeps running
    assert venue._poll_task is None
    assert venue.market._task is None and venue.user._task is None
    await admin_call(sim, "POST", f"/sim/admin/keys/{key}/enable")
    await venue.start()  # the same venue object, retried
    books = venue.book_events()
    assert isinstance(await asyncio.wait_for(anext(books), 5), BookUpdate)
    await books.aclose()
    first_rest = venue.rest
    await venue.stop()
    await venue.start()  # after stop: a new REST client, shared with the streams
    try:
        assert venue.rest is not first_rest
        assert venue.market.rest is venue.rest and venue.user.rest is venue.rest
        assert "USDT" in await venue.balances()
        books = venue.book_events()
        assert isinstance(await asyncio.wait_for(anext(books), 5), BookUpdate)
        await books.aclose()
    finally:
        await venue.stop()
