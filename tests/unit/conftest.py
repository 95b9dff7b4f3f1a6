"""Unit-test settings."""

from __future__ import annotations

import pytest

from liquidity_bot.engine.order_manager import OrderManager


@pytest.fixture(autouse=True, scope="session")
def _verify_order_views():
    """Every view the order manager keeps between changes of our orders (live, resting, the
    planner's live view, the exposure) is checked against a fresh computation at every read:
    a change of an order that forgot to bump ``OrderManager.version`` fails loudly (the
    scenarios do the same: tests/scenarios/conftest.py)."""
    OrderManager.verify_views = True
    yield
    OrderManager.verify_views = False
