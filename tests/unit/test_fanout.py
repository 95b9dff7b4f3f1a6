"""``Broadcast``: queue readers and synchronous listeners of one venue's events."""

from __future__ import annotations

import asyncio
import logging

from liquidity_bot.venues.common.fanout import Broadcast


async def test_listeners_are_called_as_items_are_published_and_readers_still_get_them():
    out: Broadcast[int] = Broadcast()
    reader = out.subscribe()
    first = asyncio.ensure_future(anext(reader))
    await asyncio.sleep(0)  # the reader subscribes
    heard: list[int] = []
    with out.listen(heard.append):
        out.publish(1)
        assert heard == [1]  # no loop turn in between
    out.publish(2)
    assert heard == [1]  # not after the block
    assert await first == 1 and await anext(reader) == 2
    await reader.aclose()


async def test_a_failing_listener_is_logged_and_the_others_go_on(caplog):
    out: Broadcast[str] = Broadcast()
    heard: list[str] = []

    def broken(item: str) -> None:
        raise RuntimeError("a bug in a reader")

    with caplog.at_level(logging.ERROR), out.listen(broken), out.listen(heard.append):
        out.publish("fill")
        out.publish("ack")
    assert heard == ["fill", "ack"]
    assert sum("a listener failed on str" in r.getMessage() for r in caplog.records) == 2


async def test_a_listener_that_leaves_during_a_call_does_not_skip_another():
    out: Broadcast[int] = Broadcast()
    heard: list[str] = []
    block = out.listen(lambda item: (heard.append("a"), block.__exit__(None, None, None)))
    block.__enter__()
    with out.listen(lambda item: heard.append("b")):
        out.publish(1)
        out.publish(2)
    assert heard == ["a", "b", "b"]
