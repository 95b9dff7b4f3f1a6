"""Market runners that run quoting passes the way they ran before (for comparisons)."""

from __future__ import annotations

from liquidity_bot.engine.market_runner import MarketRunner


class AnsweredPasses(MarketRunner):
    """Each pass waits for its requests' answers (a test then sees a pass's whole effect)."""

    wait_for_answers = True


class LoopPasses(MarketRunner):
    """The design before: passes run in the market loop, woken by the book, and wait for
    their answers (bench_engine's side-by-side comparison)."""

    eager = False
    wait_for_answers = True
