"""An answer wakes the task awaiting it inside the read callback, and falls back to the loop's
usual scheduling whenever that cannot be done safely (another task running, a waiter that is
not a task, a cancelled waiter)."""

from __future__ import annotations

import asyncio

import pytest

from liquidity_bot.venues.lean_http import _Connection, _Watchdog

_ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"


class _Transport(asyncio.Transport):
    """Takes writes; answers only when the test feeds bytes."""

    def __init__(self) -> None:
        super().__init__()
        self.written: list[bytes] = []

    def write(self, data: bytes) -> None:  # type: ignore[override]
        self.written.append(data)

    def is_closing(self) -> bool:
        return False

    def abort(self) -> None:
        pass


def _connection(loop: asyncio.AbstractEventLoop) -> _Connection:
    conn = _Connection(_Watchdog(loop, 10.0))
    conn.connection_made(_Transport())
    return conn


async def _await(future: asyncio.Future[bytes]) -> bytes:
    return await future


def _feed(conn: _Connection, data: bytes) -> None:
    view = conn.get_buffer(-1)
    view[: len(data)] = data
    conn.buffer_updated(len(data))


async def test_the_waiting_task_resumes_inside_the_read_callback():
    loop = asyncio.get_running_loop()
    conn = _connection(loop)
    seen: list[object] = []

    async def request() -> None:
        seen.append(await conn.send(b"GET / HTTP/1.1\r\n\r\n", loop.time() + 10))
        seen.append("after")

    task = loop.create_task(request())
    await asyncio.sleep(0)  # the task is now waiting for its answer
    in_callback: list[list[object]] = []

    def read_callback() -> None:  # as the loop calls a protocol: no task running
        _feed(conn, _ANSWER)
        in_callback.append(list(seen))

    loop.call_soon(read_callback)
    await task
    assert in_callback == [[b"hello", "after"]], "resumed before the read callback returned"
    assert conn.waiter is None and conn.status == 200


async def test_an_answer_fed_while_a_task_runs_still_reaches_its_waiter():
    """A protocol callback made from inside a running task (TLS can do this) cannot enter the
    waiting task there: it is woken through the loop instead, with the same answer."""
    loop = asyncio.get_running_loop()
    conn = _connection(loop)
    waiter = loop.create_task(_await(conn.send(b"GET / HTTP/1.1\r\n\r\n", loop.time() + 10)))
    await asyncio.sleep(0)
    _feed(conn, _ANSWER)  # from this test's own task
    assert not waiter.done()
    assert await waiter == b"hello"


async def test_a_waiter_that_is_not_a_task_is_called_back_through_the_loop():
    loop = asyncio.get_running_loop()
    conn = _connection(loop)
    future = conn.send(b"GET / HTTP/1.1\r\n\r\n", loop.time() + 10)
    got: list[bytes] = []
    future.add_done_callback(lambda f: got.append(f.result()))
    loop.call_soon(_feed, conn, _ANSWER)
    await asyncio.sleep(0)
    assert got == []  # the answer arrived in that callback; its callback is only scheduled
    await asyncio.sleep(0)
    assert got == [b"hello"]


async def test_a_cancelled_request_ignores_its_late_answer():
    loop = asyncio.get_running_loop()
    conn = _connection(loop)
    task = loop.create_task(_await(conn.send(b"GET / HTTP/1.1\r\n\r\n", loop.time() + 10)))
    await asyncio.sleep(0)
    task.cancel()
    loop.call_soon(_feed, conn, _ANSWER)
    with pytest.raises(asyncio.CancelledError):
        await task
    assert conn.waiter is None
