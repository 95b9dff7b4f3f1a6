"""Start a coroutine now, in the caller's turn of the event loop, and let a task finish it.

``loop.create_task`` runs nothing until a later turn of the loop: the task's first step waits
behind every callback already queued and an I/O poll. On the tick-to-order path that costs
two turns (the book's frame -> the quoting pass -> its first order request), tens of
microseconds each and more when acknowledgements or fills are queued in front. ``start_now``
runs the coroutine's first step (up to its first real wait, e.g. the order's answer) before it
returns, as Python 3.12's eager tasks do, and returns the task that runs the rest.

On Python 3.12 and later this is ``asyncio.Task(..., eager_start=True)``. On 3.11 the same
contract is kept by hand: the first step runs in the task's own context copy with the task as
``asyncio.current_task()``; what the coroutine then waits on is handed to the task unchanged,
and cancelling the task cancels that wait (the coroutine sees ``CancelledError`` there).
"""

from __future__ import annotations

import asyncio
import contextvars
import sys
import types
from collections.abc import Coroutine, Generator
from typing import Any, TypeVar

T = TypeVar("T")

NATIVE = sys.version_info >= (3, 12)


def start_now(coro: Coroutine[Any, Any, T], *, name: str | None = None) -> asyncio.Task[T]:
    """Run ``coro`` until it first waits, then return the task that continues it.

    Must be called from the running loop's thread (with a running loop)."""
    loop = asyncio.get_running_loop()
    if NATIVE:
        return asyncio.Task(coro, loop=loop, name=name, eager_start=True)  # type: ignore[call-arg]
    context = contextvars.copy_context()
    first = _FirstStep()
    task = loop.create_task(_continue(coro, first), name=name, context=context)
    task.add_done_callback(lambda _t: _close_if_abandoned(coro))
    current = asyncio.current_task(loop)
    if current is not None:
        asyncio.tasks._leave_task(loop, current)  # type: ignore[attr-defined]
    asyncio.tasks._enter_task(loop, task)  # type: ignore[attr-defined]
    try:
        context.run(first.run, coro)
    finally:
        asyncio.tasks._leave_task(loop, task)  # type: ignore[attr-defined]
        if current is not None:
            asyncio.tasks._enter_task(loop, current)  # type: ignore[attr-defined]
    return task


def run_now(coro: Coroutine[Any, Any, Any], *, name: str | None = None) -> asyncio.Task[Any] | None:
    """Run ``coro`` until it first waits, in a copy of the caller's context; only if it waits
    (or failed), return a task that continues it (or delivers its error), else None.

    ``start_now`` with the task made after the first step: nothing of the task's machinery
    runs before the coroutine's first wait (a quoting pass's first request is on the wire
    first), and a coroutine that never waits costs no task at all. The one difference a
    coroutine can see: during its first step ``asyncio.current_task()`` is the caller's task,
    so what binds itself to the running task there (``asyncio.timeout``, aiohttp's request
    timers) would bind to the caller's: only for coroutines that enter nothing of the kind
    before their first wait (a venue's ``Capabilities.task_free_requests``).
    On Python 3.12 and later it is ``start_now`` (native eager tasks), the task kept only if
    not finished cleanly."""
    if NATIVE:
        task = start_now(coro, name=name)
        if task.done() and not task.cancelled() and task.exception() is None:
            return None
        return task
    context = contextvars.copy_context()
    # the first step sent here (not through ``_FirstStep.run``), its record made after it: a
    # quoting pass's first request is written with two Python calls fewer before it
    try:
        waits_on = context.run(coro.send, None)
    except StopIteration:
        return None
    except BaseException as exc:  # noqa: BLE001 - delivered by the task, as a task would
        first = _FirstStep()
        first.done, first.error = True, exc
    else:
        first = _FirstStep()
        first.waits_on = waits_on
    loop = asyncio.get_running_loop()
    task = loop.create_task(_continue(coro, first), name=name, context=context)
    if not first.done:
        task.add_done_callback(lambda _t: _close_if_abandoned(coro))
    return task


class _FirstStep:
    """The outcome of the first step: what the coroutine waits on, or how it ended."""

    __slots__ = ("done", "error", "value", "waits_on")

    def __init__(self) -> None:
        self.done = False
        self.error: BaseException | None = None
        self.value: Any = None
        self.waits_on: Any = None

    def run(self, coro: Coroutine[Any, Any, Any]) -> None:
        try:
            self.waits_on = coro.send(None)
        except StopIteration as stop:
            self.done, self.value = True, stop.value
        except BaseException as exc:  # noqa: BLE001 - delivered by the task, as a task would
            self.done, self.error = True, exc


@types.coroutine
def _continue(coro: Coroutine[Any, Any, T], first: _FirstStep) -> Generator[Any, None, T]:
    """The task's body: the first step's result, or the rest of ``coro``."""
    if first.done:
        if first.error is not None:
            raise first.error
        return first.value  # type: ignore[no-any-return]
    waits_on = first.waits_on
    first.waits_on = None
    while True:
        try:
            yield waits_on  # the task waits on it exactly as if ``coro`` had yielded it
        except BaseException as exc:  # noqa: BLE001 - thrown in by the task: pass it on
            try:
                waits_on = coro.throw(exc)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            continue
        # a native coroutine directly (its wrapper from ``__await__`` would cost a method call
        # per resume); a compiled (Cython) one offers only ``__await__`` (bench/compile_hot.py)
        return (yield from (coro if type(coro) is types.CoroutineType else coro.__await__()))


def _close_if_abandoned(coro: Coroutine[Any, Any, Any]) -> None:
    """A task cancelled before its first scheduled step never resumed ``coro``: close it, so
    its ``finally`` blocks run now rather than whenever it is collected."""
    if coro.cr_frame is not None:
        coro.close()
