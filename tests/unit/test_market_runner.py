"""MarketRunner's quoting pass: the strategy plans again only when what it reads changed,
tick-to-order latency is sampled only by passes that answer a new book, and a book that finds
the loop idle is answered within its own call, never beside another pass."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal as D

import pytest
from test_order_manager import INSTRUMENT, SYMBOL, FakeVenue, manager

from liquidity_bot.config import parse_config
from liquidity_bot.domain.events import BookUpdate
from liquidity_bot.engine.market_runner import MarketRunner
from liquidity_bot.strategies import make_strategy
from liquidity_bot.testing.runners import AnsweredPasses

CONFIG = f"""
[[markets]]
symbol = "{SYMBOL}"
key_label = "k"
client_id_prefix = "lb"
strategy = "ladder"
[markets.ladder]
levels = 2
base_spread_pct = "0.4"
level_spacing_pct = "0.2"
level_size_quote = "20"
[markets.obligations]
max_spread_pct = "2"
min_depth_2pct_quote = "20"
[markets.risk]
max_order_notional = "500"
max_open_notional_per_side = "1000"
max_base_inventory = "100000"
daily_loss_limit = "1000"
"""


class Counting:
    """The real ladder, counting how often it plans (its answer is not remembered)."""

    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.calls = 0
        real = inner._plan  # type: ignore[attr-defined]

        def counted(*args):  # noqa: ANN002, ANN202
            self.calls += 1
            return real(*args)

        inner._plan = counted  # type: ignore[attr-defined]

    def quote(self, snapshot):  # noqa: ANN001, ANN201
        return self.inner.quote(snapshot)  # type: ignore[attr-defined]

    @property
    def reused(self) -> int:
        return self.inner.reused  # type: ignore[attr-defined]


def runner(kind: type[MarketRunner] = MarketRunner) -> tuple[MarketRunner, Counting, FakeVenue]:
    market = parse_config(CONFIG).markets[0]
    venue = FakeVenue()
    strategy = Counting(make_strategy(market, INSTRUMENT))
    om = manager(venue)
    r = kind(market, INSTRUMENT, strategy, om, om.risk, store_kpis=False)
    return r, strategy, venue


def book(bid: str, ask: str, ts: int, recv_ns: int | None = None,
         qty: str = "1000") -> BookUpdate:
    return BookUpdate(ts_ms=ts, symbol=SYMBOL, bids=((D(bid), D(qty)),),
                      asks=((D(ask), D(qty)),), recv_ns=recv_ns)


async def test_the_strategy_plans_again_only_when_what_it_reads_changes() -> None:
    r, strategy, venue = runner(AnsweredPasses)
    r.on_book(book("0.4990", "0.5010", 1))
    await r.step()
    placed = venue.places()
    assert strategy.calls == 1 and placed >= 2
    await r.step()  # woken by the acknowledgements: same book, same inventory
    assert strategy.calls == 1 and venue.places() == placed
    r.on_book(book("0.4990", "0.5010", 2))  # a new frame, same top of book
    await r.step()
    assert strategy.calls == 1
    r.on_book(book("0.4990", "0.5010", 3, qty="7"))  # only the sizes at the top moved
    await r.step()
    assert strategy.calls == 1 and r.quotes_reused == 3 and r.passes == 4
    r.on_book(book("0.4980", "0.5000", 4))  # the top moved
    await r.step()
    assert strategy.calls == 2
    r.om.balances.set("XRP", D("1"), D(0))  # inventory changed
    await r.step()
    assert strategy.calls == 3


async def test_latency_is_sampled_by_passes_that_answer_a_new_book_only() -> None:
    r, _, venue = runner(AnsweredPasses)
    received = time.perf_counter_ns()
    r.on_book(book("0.4990", "0.5010", 1, recv_ns=received))
    await r.step()
    log = r.om.stats.latencies_ns
    assert log.total == 1 and log[-1] >= 0
    placed = venue.places()
    for t in r.om.orders.values():  # force a re-quote: every bid far off, out of the band,
        t.created_ms -= 10_000  # and settled
        if t.order.side.value == "BUY":
            t.order.price = D("0.3")
    r.om.version += 1  # changed behind the manager's back: its kept views must be recomputed
    await r.step()  # a pass woken by something else: places, but samples nothing
    assert venue.places() > placed and log.total == 1


async def _parked(r: MarketRunner, stop: asyncio.Event) -> asyncio.Task[None]:
    """The market loop, started and waiting for a wake-up."""
    task = asyncio.get_running_loop().create_task(r.run(stop))
    for _ in range(100):
        await asyncio.sleep(0)
        if r._waiting:
            return task
    raise AssertionError("the market loop did not start waiting")


async def _stop(r: MarketRunner, stop: asyncio.Event, loop_task: asyncio.Task[None]) -> None:
    stop.set()
    r.wake()
    await loop_task


async def test_a_book_that_finds_the_loop_idle_is_answered_within_its_own_call() -> None:
    r, strategy, venue = runner()
    stop = asyncio.Event()
    loop_task = await _parked(r, stop)
    r.on_book(book("0.4990", "0.5010", 1, recv_ns=time.perf_counter_ns()))
    # no await in between: strategy asked, orders registered, the first one sent already
    assert strategy.calls == 1 and venue.places() >= 1
    assert r.om.stats.latencies_ns.total == 1
    await asyncio.sleep(0.01)
    assert venue.places() >= 2  # the others follow as tasks
    r.on_book(book("0.4980", "0.5000", 2))  # the loop is idle again: answered at once too
    assert strategy.calls == 2
    await _stop(r, stop, loop_task)


async def test_passes_never_overlap() -> None:
    r, strategy, venue = runner()
    release = asyncio.Event()
    slow_once = [True]
    concurrent = [0, 0]  # now, most

    async def slow_step(step=r.step):  # noqa: ANN001, ANN202
        concurrent[0] += 1
        concurrent[1] = max(concurrent)
        try:
            if slow_once[0]:
                slow_once[0] = False
                await release.wait()  # this pass waits (as a kill-switch cancel would)
            await step()
        finally:
            concurrent[0] -= 1

    r.step = slow_step  # type: ignore[method-assign]
    stop = asyncio.Event()
    loop_task = await _parked(r, stop)
    r.on_book(book("0.4990", "0.5010", 1))  # starts a pass that does not finish now
    assert r._eager_pass is not None
    r.on_book(book("0.4980", "0.5000", 2))  # a pass runs: this one only wakes the loop
    r.on_book(book("0.4970", "0.4990", 3))
    await asyncio.sleep(0.01)
    assert concurrent[1] == 1 and strategy.calls == 0  # the loop waits for the running pass
    release.set()
    await asyncio.sleep(0.01)
    assert concurrent[1] == 1 and strategy.calls >= 1
    await _stop(r, stop, loop_task)


async def test_stopping_the_loop_cancels_a_pass_a_book_started() -> None:
    r, _, _ = runner()
    never = asyncio.Event()
    cancelled = []

    async def stuck_step() -> None:
        try:
            await never.wait()
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    r.step = stuck_step  # type: ignore[method-assign]
    loop_task = await _parked(r, asyncio.Event())
    r.on_book(book("0.4990", "0.5010", 1))
    pass_task = r._eager_pass
    assert pass_task is not None
    loop_task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await loop_task
    assert pass_task.cancelled() and cancelled == [True]


async def test_a_books_pass_gets_its_task_after_its_first_step_only_on_task_free_venues() -> None:
    """``run_now`` (the task made after the first step) only where the venue's requests bind
    nothing to the running task; otherwise ``start_now`` (the task first, as before)."""
    from liquidity_bot.engine.eager import run_now, start_now
    from liquidity_bot.venues.port import Capabilities

    r, _, venue = runner()
    assert not getattr(getattr(venue, "capabilities", None), "task_free_requests", False)
    assert r._start_pass is start_now
    venue.capabilities = Capabilities(task_free_requests=True)  # type: ignore[misc]
    r2 = MarketRunner(r.config, r.instrument, r.strategy, r.om, r.risk, store_kpis=False)
    assert r2._start_pass is run_now
    seen = []

    async def step() -> None:
        seen.append(asyncio.current_task())
        await asyncio.sleep(0)

    r2.step = step  # type: ignore[method-assign]
    r2._waiting = True
    r2.on_book(book("0.4990", "0.5010", 1))
    assert seen == [asyncio.current_task()] and r2._eager_pass is not None
    await r2._eager_pass
    assert r2._eager_pass is None and not r2._in_pass
