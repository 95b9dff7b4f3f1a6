"""engine.eager.start_now: the first step runs before it returns, the rest in a task, with a
task's semantics (results, errors, cancellation, context, current_task) on every loop; and
``run_now``, which makes the task only after the first step, and only when it is needed."""

from __future__ import annotations

import asyncio
import contextvars

import pytest
import uvloop

from liquidity_bot.engine.eager import run_now, start_now

VAR: contextvars.ContextVar[str] = contextvars.ContextVar("VAR", default="outer")


def on_both_loops(test):  # noqa: ANN001, ANN201
    """Run an async test body on the standard loop and on uvloop."""

    @pytest.mark.parametrize("loop_kind", ["asyncio", "uvloop"])
    def wrapper(loop_kind: str) -> None:
        factory = uvloop.new_event_loop if loop_kind == "uvloop" else asyncio.new_event_loop
        with asyncio.Runner(loop_factory=factory) as runner:
            runner.run(test())

    wrapper.__name__ = test.__name__
    return wrapper


@on_both_loops
async def test_first_step_runs_before_start_now_returns() -> None:
    for start in (start_now, run_now):  # run_now: the task made after the first step
        log: list[str] = []
        gate = asyncio.get_running_loop().create_future()

        async def job() -> str:
            log.append("first step")  # noqa: B023 - run within the iteration
            await gate  # noqa: B023 - run at once
            log.append("after the wait")  # noqa: B023
            await asyncio.sleep(0)
            return "done"

        task = start(job(), name="pass-X")
        assert log == ["first step"] and task is not None and task.get_name() == "pass-X"
        gate.set_result(None)
        assert await task == "done"
        assert log == ["first step", "after the wait"]


@on_both_loops
async def test_a_coroutine_that_never_waits_is_finished_by_its_task() -> None:
    async def job() -> int:
        return 7

    async def fails() -> None:
        raise ValueError("bad")

    assert await start_now(job()) == 7
    task = start_now(fails())
    with pytest.raises(ValueError, match="bad"):
        await task


@on_both_loops
async def test_bare_yields_and_nested_waits_continue_in_order() -> None:
    log: list[int] = []

    async def job() -> None:
        log.append(1)
        await asyncio.sleep(0)  # a bare yield: resumed on the next turn
        log.append(2)
        await asyncio.sleep(0.001)
        log.append(3)

    task = start_now(job())
    assert log == [1]
    await task
    assert log == [1, 2, 3]


@on_both_loops
async def test_cancelling_reaches_the_wait_the_coroutine_is_in() -> None:
    seen: list[str] = []
    gate = asyncio.get_running_loop().create_future()

    async def job() -> None:
        try:
            await gate
        except asyncio.CancelledError:
            seen.append("cancelled inside")
            raise
        finally:
            seen.append("cleaned up")

    task = start_now(job())
    await asyncio.sleep(0)  # the task has taken over the wait
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert seen == ["cancelled inside", "cleaned up"]
    assert gate.cancelled()


@on_both_loops
async def test_cancelled_before_the_task_ran_still_cleans_up() -> None:
    seen: list[str] = []

    async def job() -> None:
        try:
            await asyncio.get_running_loop().create_future()
        finally:
            seen.append("cleaned up")

    task = start_now(job())
    task.cancel()  # before the task's own first turn
    with pytest.raises(asyncio.CancelledError):
        await task
    assert seen == ["cleaned up"]


@on_both_loops
async def test_the_first_step_sees_its_own_task_and_context() -> None:
    outer = asyncio.current_task()
    seen: dict[str, object] = {}

    async def job() -> None:
        seen["task"] = asyncio.current_task()
        VAR.set("inner")
        seen["var"] = VAR.get()
        await asyncio.sleep(0)
        seen["task after"] = asyncio.current_task()
        seen["var after"] = VAR.get()

    task = start_now(job())
    assert seen["task"] is task and asyncio.current_task() is outer
    assert VAR.get() == "outer"  # the task's context is its own copy
    await task
    assert seen == {"task": task, "var": "inner", "task after": task, "var after": "inner"}


@on_both_loops
async def test_a_task_started_now_inside_another_restores_the_outer_one() -> None:
    order: list[str] = []

    async def inner() -> None:
        order.append("inner")
        await asyncio.sleep(0)

    async def outer() -> None:
        me = asyncio.current_task()
        task = start_now(inner())
        assert asyncio.current_task() is me
        order.append("outer")
        await task

    await start_now(outer())
    assert order == ["inner", "outer"]


@on_both_loops
async def test_run_now_needs_no_task_for_a_coroutine_that_never_waits() -> None:
    log: list[str] = []

    async def job() -> None:
        log.append("ran")

    assert run_now(job()) is None
    assert log == ["ran"]


@on_both_loops
async def test_run_now_delivers_an_error_of_the_first_step_by_a_task() -> None:
    async def fails() -> None:
        raise ValueError("bad")

    task = run_now(fails())
    assert task is not None
    with pytest.raises(ValueError, match="bad"):
        await task


@on_both_loops
async def test_run_now_cancelling_reaches_the_wait_and_keeps_the_context_apart() -> None:
    outer = asyncio.current_task()
    seen: list[object] = []

    async def job() -> None:
        seen.append(asyncio.current_task())  # the caller's: no task yet
        VAR.set("inner")
        try:
            await asyncio.get_running_loop().create_future()
        except asyncio.CancelledError:
            seen.append(VAR.get())
            raise
        finally:
            seen.append("cleaned up")

    task = run_now(job())
    assert task is not None and VAR.get() == "outer"  # the first step ran in a copy
    await asyncio.sleep(0)  # the task has taken over the wait
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert seen == [outer, "inner", "cleaned up"]
