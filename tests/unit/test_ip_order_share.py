"""Keys of one process share their source address's order limit (issue 19): each plans with
an equal share, so their budgets add up to no more than Bitrue's per-IP limit."""

from __future__ import annotations

from liquidity_bot.engine.runner import KeySession, share_ip_order_limit
from liquidity_bot.venues.bitrue.weights import ORDER_RATE_LIMIT

BITRUE_ORDER_LIMIT = ORDER_RATE_LIMIT.requests


class _Venue:
    order_rate_limit = ORDER_RATE_LIMIT


def _sessions(n: int) -> list[KeySession]:
    return [KeySession(label=f"k{i}", venue=_Venue(), markets=[]) for i in range(n)]  # type: ignore[arg-type]


def test_one_key_keeps_the_whole_limit():
    [s] = _sessions(1)
    before = s.budget.capacity
    share_ip_order_limit([s])
    assert s.budget.capacity == before


def test_keys_on_one_address_add_up_within_the_ip_limit():
    alone = _sessions(1)[0].budget.capacity
    sessions = _sessions(3)
    share_ip_order_limit(sessions)
    assert sum(s.budget.capacity for s in sessions) <= alone < BITRUE_ORDER_LIMIT
    assert len({s.budget.capacity for s in sessions}) == 1 and sessions[0].budget.capacity > 0
