"""Unit-test settings."""

from __future__ import annotations

import pytest

from liquidity_bot.engine.market_runner import MarketRunner
from liquidity_bot.engine.order_manager import OrderManager


@pytest.fixture(autouse=True, scope="session")
def _verify_order_views():
    """Every view the order manager keeps between changes of our orders (live, resting, the
    planner's live view, the exposure) is checked against a fresh computation at every read:
    a change of an order that forgot to bump ``OrderManager.version`` fails loudly (the
    scenarios do the same: tests/scenarios/conftest.py)."""
    OrderManager.verify_views = True
    MarketRunner.verify_quiet = True  # a pass counted as quiet is run anyway and compared
    yield
    OrderManager.verify_views = False
    MarketRunner.verify_quiet = False
