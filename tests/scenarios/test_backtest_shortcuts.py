"""The backtest's shortcuts change how much work a run does, never what it decides.

Five shortcuts make a backtest cheaper: the order manager reuses the last plan when the
planner's inputs are the same (``OrderManager.reuse_plans``), the market runner counts a pass
whose every input is the last one's, which changed nothing, without running it
(``MarketRunner.skip_quiet``; the other tests run such passes anyway and check that they
would have done nothing but count: ``verify_quiet``), the virtual loop runs market
actions that wake nothing back to back (``VirtualEventLoop.run_quiet_steps``), the backtest
venue hands each book to the engine in the loop's own step when nothing else would run first
(``listen_books``, ``BacktestMarket.hand_over``) instead of waking a book pump's task, and the
backtest's store writer inserts runs of KPI samples together. Each test runs the same backtest with the
shortcuts and without, and compares everything the run decided and stored: a reused plan that
would have acted differently, or an engine turn that a batched step would have run, shows up
as a different order, fill, sample or figure.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from tests.scenarios.test_backtest import CONFIG  # one small ladder market, as there

from liquidity_bot.backtest import run_backtest
from liquidity_bot.backtest.clock import VirtualEventLoop
from liquidity_bot.backtest.venue import BacktestVenue
from liquidity_bot.config import parse_config
from liquidity_bot.engine.market_runner import MarketRunner
from liquidity_bot.engine.order_manager import OrderManager
from liquidity_bot.store import Store
from liquidity_bot.venues.port import Capabilities

HOURS = 0.15  # nine simulated minutes: a couple of seconds of wall time each


def _stored(url: str) -> dict[str, list]:
    """Every record the run stored (orders, their events, fills, KPI samples)."""
    store = Store(url)
    try:
        orders = sorted(store.orders(), key=lambda o: o.client_order_id)
        return {
            "orders": orders,
            "events": [store.order_events(o.client_order_id) for o in orders],
            "fills": sorted(store.fills(), key=lambda f: f.trade_id),
            "kpis": store.kpi_samples(),
        }
    finally:
        store.close()


def _run(config, tmp_path, name: str, scenario: str, seed: int):
    url = f"sqlite:///{tmp_path}/{name}.db"
    result = run_backtest(config, scenario=scenario, hours=HOURS, seed=seed, store_url=url)
    return result, _stored(url)


@pytest.mark.parametrize(("scenario", "seed"), [("volatile", 5), ("altcoin", 1)])
def test_shortcuts_change_no_decision(tmp_path, monkeypatch, scenario: str, seed: int) -> None:
    config = parse_config(CONFIG, source="test config")
    monkeypatch.setattr(MarketRunner, "verify_quiet", False)  # skip quiet passes for real
    fast, fast_stored = _run(config, tmp_path, "fast", scenario, seed)
    monkeypatch.setattr(OrderManager, "reuse_plans", False)
    monkeypatch.setattr(VirtualEventLoop, "run_quiet_steps", False)
    monkeypatch.setattr(MarketRunner, "skip_quiet", False)
    # books through the engine's pump task (``book_events``), not handed over in the step
    monkeypatch.setattr(BacktestVenue, "capabilities", Capabilities(task_free_requests=True))
    slow, slow_stored = _run(config, tmp_path, "slow", scenario, seed)

    m = fast.markets[0]
    assert m.orders_placed > 0 and m.fills > 0  # it really traded
    assert m.plans_reused > m.passes // 4  # and the shortcut was taken, often
    assert slow.markets[0].plans_reused == 0
    assert m.quiet_passes > m.passes // 10 and slow.markets[0].quiet_passes == 0
    assert fast.fingerprint() == slow.fingerprint()
    assert fast.summary == slow.summary
    assert fast_stored == slow_stored
    assert len(fast_stored["kpis"]) > 300


class _AgendaMarket:
    """A market for the virtual loop: actions at the agenda's times (ms), each running what
    ``actions`` holds for its time."""

    def __init__(self, agenda: list[int]) -> None:
        self.t = 0
        self.agenda = agenda
        self.actions: dict[int, object] = {}

    def now_ms(self) -> int:
        return self.t

    def next_event_ms(self) -> int | None:
        return self.agenda[0] if self.agenda else None

    def advance_to(self, t_ms: int) -> None:
        while self.agenda and self.agenda[0] <= t_ms:
            at = self.agenda.pop(0)
            self.t = at
            action = self.actions.get(at)
            if action is not None:
                action()  # type: ignore[operator]
        self.t = max(self.t, t_ms)


def test_a_market_action_that_wakes_the_engine_ends_the_run_of_steps() -> None:
    """Market actions run back to back only while they wake nothing: a callback made ready
    or a timer added by one runs at that action's simulated time, before the next action."""

    market = _AgendaMarket([10, 20, 30, 40])
    loop = VirtualEventLoop(market)
    seen: list[tuple[str, int]] = []
    market.actions[20] = lambda: loop.call_soon(lambda: seen.append(("ready", market.t)))
    market.actions[30] = lambda: loop.call_at(0.035, lambda: seen.append(("timer", market.t)))

    async def main() -> None:
        await asyncio.sleep(0.1)

    try:
        loop.run_until_complete(main())
    finally:
        loop.close()
    # the callback ran at 20 (not after the action at 30), the timer at 35 (before 40)
    assert seen == [("ready", 20), ("timer", 35)]


def test_a_thread_finishing_ends_the_run_of_quiet_steps() -> None:
    """``asyncio.to_thread`` on the virtual loop: the thread's wake-up (a callback it makes
    ready) is seen while market actions run back to back (here an endless agenda and no
    timer: nothing else stops them)."""

    class EndlessMarket:
        def __init__(self) -> None:
            self.t = 0

        def now_ms(self) -> int:
            return self.t

        def next_event_ms(self) -> int:
            return self.t + 1

        def advance_to(self, t_ms: int) -> None:
            self.t = t_ms
            if t_ms > 10_000_000:  # ~3 simulated hours of quiet steps: the thread was missed
                raise AssertionError("the thread's wake-up was not seen")

    market = EndlessMarket()
    loop = VirtualEventLoop(market)

    def work() -> str:
        time.sleep(0.05)  # still running when the loop first looks
        return "done"

    async def main() -> str:
        return await asyncio.to_thread(work)

    try:
        assert loop.run_until_complete(main()) == "done"
    finally:
        loop.close()


def test_the_quiet_check_catches_a_pass_that_would_have_acted(tmp_path, monkeypatch) -> None:
    """``verify_quiet`` runs every pass the quiet check would count: a check that ignored the
    clock's part in the budget (a token gained, an old request expired) counts passes that
    would have spent, and the verification says so (the pass fails, counted as an error)."""
    from liquidity_bot.engine.budget import OrderBudget

    monkeypatch.setattr(MarketRunner, "verify_quiet", True)
    monkeypatch.setattr(OrderBudget, "still", lambda self, mark: mark[0] == self.version)
    config = parse_config(CONFIG, source="test config")
    runners: list[MarketRunner] = []
    init = MarketRunner.__init__

    def tracking(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        init(self, *args, **kwargs)
        runners.append(self)

    monkeypatch.setattr(MarketRunner, "__init__", tracking)
    result = run_backtest(config, scenario="volatile", hours=HOURS, seed=5, store_url=None)
    assert result.markets[0].errors > 0
    assert "counted as quiet did more" in (runners[0].last_error or "")


def _timer_trace(quiet_steps: bool, monkeypatch) -> tuple[list[tuple[str, float, int]], int]:
    """A market with actions every 10 ms and timers that re-arm, cancel one another, wake a
    callback or a task: what ran, at which loop time and market time, and the loop turns."""
    monkeypatch.setattr(VirtualEventLoop, "run_quiet_steps", quiet_steps)

    market = _AgendaMarket(list(range(10, 1000, 10)))
    loop = VirtualEventLoop(market)
    seen: list[tuple[str, float, int]] = []
    turns = 0
    run_once = loop._run_once  # type: ignore[attr-defined]

    def counted() -> None:
        nonlocal turns
        turns += 1
        run_once()

    loop._run_once = counted  # type: ignore[attr-defined]

    def note(name: str) -> None:
        seen.append((name, round(loop.time(), 6), market.t))

    def refresh(n: int) -> None:  # re-arms itself, wakes nothing
        note(f"refresh{n}")
        if n < 20:
            loop.call_later(0.033, refresh, n + 1)

    victim = loop.call_at(0.2, note, "cancelled")
    loop.call_at(0.15, victim.cancel)
    loop.call_at(0.3, lambda: loop.call_soon(note, "soon"))
    loop.call_at(0.31, note, "same-a")
    loop.call_at(0.31, note, "same-b")
    loop.call_at(0.4, lambda: loop.call_later(0, note, "zero"))
    loop.call_soon(refresh, 0)

    async def main() -> None:
        await asyncio.sleep(0.5)
        note("task")
        await asyncio.sleep(0.4)

    try:
        loop.run_until_complete(main())
    finally:
        loop.close()
    return seen, turns


def test_timers_that_wake_nothing_run_in_the_step_as_in_a_turn(monkeypatch) -> None:
    """A timer due while nothing is ready runs in the loop's step, without a turn of its own,
    at the same loop and market time and in the same order as a turn would run it."""
    fast, fast_turns = _timer_trace(True, monkeypatch)
    slow, slow_turns = _timer_trace(False, monkeypatch)
    assert fast == slow
    assert ("cancelled", 0.2, 200) not in fast and ("soon", 0.3, 300) in fast
    assert fast_turns < slow_turns // 2
