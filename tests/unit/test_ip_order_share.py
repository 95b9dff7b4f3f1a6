"""Keys of one process share their source address's order limit (issue 19): each plans with
an equal share, so their budgets add up to no more than Bitrue's per-IP limit. Keys that send
from addresses of their own (``[bitrue] key_source_addresses``) each keep the whole limit."""

from __future__ import annotations

from liquidity_bot.engine.budget import OrderBudget
from liquidity_bot.engine.runner import KeySession, pacing_address, share_ip_order_limit
from liquidity_bot.testing import FakeVenue
from liquidity_bot.venues.bitrue.weights import ORDER_RATE_LIMIT
from liquidity_bot.venues.port import Capabilities

BITRUE_ORDER_LIMIT = ORDER_RATE_LIMIT.requests


class _Venue:
    order_rate_limit = ORDER_RATE_LIMIT
    capabilities = Capabilities(earlier_requests=True)

    def __init__(self, source_address: str | None = None) -> None:
        self.source_address = source_address


class _Market:
    def __init__(self, exchange: str) -> None:
        self.exchange = exchange


def _sessions(n: int, address: str | None = None, exchange: str = "bitrue") -> list[KeySession]:
    return [KeySession(label=f"k{i}{address}{exchange}", venue=_Venue(address),  # type: ignore[arg-type]
                       markets=[_Market(exchange)])  # type: ignore[list-item]
            for i in range(n)]


def _shared(n: int) -> int:
    return OrderBudget.for_limit(ORDER_RATE_LIMIT, shared_by=n).capacity


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


def test_keys_on_addresses_of_their_own_each_keep_the_whole_limit():
    alone = _sessions(1)[0].budget.capacity
    a, b = _sessions(1, "127.0.0.2") + _sessions(1, "127.0.0.3")
    share_ip_order_limit([a, b])
    assert a.budget.capacity == b.budget.capacity == alone


def test_the_split_is_by_exchange_and_address():
    alone = _sessions(1)[0].budget.capacity
    pair = _sessions(2, "127.0.0.2")  # these two share 127.0.0.2
    trio = _sessions(3)  # these three share the default address
    own = _sessions(1, "127.0.0.3")  # alone on its address
    other = _sessions(1, "127.0.0.2", exchange="binance")  # same address, another exchange
    share_ip_order_limit(pair + trio + own + other)
    assert {s.budget.capacity for s in pair} == {_shared(2)}
    assert {s.budget.capacity for s in trio} == {_shared(3)}
    assert own[0].budget.capacity == other[0].budget.capacity == alone


def test_a_venue_without_a_pacing_address_counts_as_the_default_address():
    assert pacing_address(FakeVenue()) is None  # type: ignore[arg-type]
    assert pacing_address(_Venue("127.0.0.2")) == "127.0.0.2"  # type: ignore[arg-type]
