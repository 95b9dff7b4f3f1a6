"""The governor with a fake clock: pacing, 429 back-off, bans, headroom, weights."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from liquidity_bot.venues.bitrue.errors import IpBanned, RateLimited
from liquidity_bot.venues.bitrue.models import RateLimit
from liquidity_bot.venues.bitrue.ratelimit import (
    Policy,
    RateGovernor,
    policies_from_exchange_info,
)
from liquidity_bot.venues.bitrue.weights import ORDERS, REQUEST_WEIGHT, costs, request_weight


class FakeTime:
    def __init__(self):
        self.now = 100.0
        self.slept: list[float] = []

    def clock(self):
        return self.now

    async def sleep(self, s):
        self.slept.append(s)
        self.now += s

    def wall_ms(self):
        return 1_700_000_000_000 + self.now * 1000


def governor(t, policies=None, **kw):
    return RateGovernor(
        policies or (Policy("W", REQUEST_WEIGHT, 10, 60.0), Policy("O", ORDERS, 3, 10.0)),
        clock=t.clock,
        sleep=t.sleep,
        wall_ms=t.wall_ms,
        margin_s=0.5,
        **kw,
    )


def test_endpoint_weights_from_docs():
    assert request_weight("GET", "/api/v1/depth", {"limit": 100}) == 1
    assert request_weight("GET", "/api/v1/depth", {"limit": 500}) == 5
    assert request_weight("GET", "/api/v1/depth", {"limit": 1000}) == 10
    assert request_weight("GET", "/api/v1/ticker/24hr", {"symbol": "A"}) == 1
    assert request_weight("GET", "/api/v1/ticker/24hr", {}) == 40
    for path in ("/api/v1/allOrders", "/api/v1/account"):
        assert request_weight("GET", path) == 5
    assert request_weight("GET", "/api/v2/myTrades", {"symbol": "A"}) == 5
    assert costs("POST", "/api/v1/order") == {REQUEST_WEIGHT: 1, ORDERS: 1}
    assert costs("GET", "/api/v1/order") == {REQUEST_WEIGHT: 1}
    assert request_weight("PUT", "/poseidon/api/v1/listenKey/abc") == 1


async def test_paces_instead_of_exceeding():
    t = FakeTime()
    g = governor(t)
    for _ in range(3):
        await g.acquire({REQUEST_WEIGHT: 1, ORDERS: 1})
    assert t.slept == []
    assert g.headroom() == {"W": (3, 10), "O": (3, 3)}
    await g.acquire({REQUEST_WEIGHT: 1, ORDERS: 1})  # 4th order must wait for the window
    assert t.slept == [pytest.approx(10.5)]
    assert g.headroom()["O"] == (1, 3)


async def test_sliding_window_never_exceeds_limit_over_any_window():
    t = FakeTime()
    g = governor(t, (Policy("W", REQUEST_WEIGHT, 5, 1.0),))
    sent = []
    for _ in range(40):
        await g.acquire({REQUEST_WEIGHT: 1})
        sent.append(t.now)
        t.now += 0.01
    for i, start in enumerate(sent):
        in_window = [s for s in sent[i:] if s < start + 1.0]
        assert len(in_window) <= 5


async def test_429_pauses_everything_for_retry_after_then_resumes():
    t = FakeTime()
    g = governor(t)
    g.on_rate_limited("ORDERS_USER", 2.0)
    assert g.headroom()["O"] == (3, 3)  # closed while blocked
    await g.acquire({REQUEST_WEIGHT: 1})  # even a read waits: sending during back-off bans
    assert t.slept == [pytest.approx(2.0)]
    await g.acquire({REQUEST_WEIGHT: 1, ORDERS: 1})  # the server said 2 s: trusted
    assert t.slept == [pytest.approx(2.0)]
    assert g.headroom()["O"] == (1, 3)


async def test_429_without_retry_after_waits_a_window_for_that_policy():
    t = FakeTime()
    g = governor(t)
    g.on_rate_limited(None, None)
    await g.acquire({ORDERS: 1})  # other families only pause briefly
    assert sum(t.slept) == pytest.approx(1.0)
    await g.acquire({REQUEST_WEIGHT: 1})
    assert sum(t.slept) >= 60.0


async def test_ban_sends_nothing_until_it_ends():
    t = FakeTime()
    g = governor(t)
    g.on_banned(int(t.wall_ms() + 120_000))
    with pytest.raises(IpBanned) as exc:
        await g.acquire({REQUEST_WEIGHT: 1})
    assert exc.value.until_ms == pytest.approx(t.wall_ms() + 120_000, abs=1)
    assert g.headroom()["W"] == (10, 10)
    t.now += 121
    await g.acquire({REQUEST_WEIGHT: 1})


async def test_unknown_ban_length_uses_documented_minimum():
    t = FakeTime()
    g = governor(t)
    g.on_banned(None)
    assert g.ban_remaining_s() == pytest.approx(120.0)


async def test_too_long_a_wait_raises_locally():
    t = FakeTime()
    g = governor(t, max_wait_s=5)
    g.on_rate_limited("REQUEST_WEIGHT", 30)
    with pytest.raises(RateLimited, match="nothing was sent"):
        await g.acquire({REQUEST_WEIGHT: 1})


def test_policies_follow_exchange_info_with_defaults():
    pol = policies_from_exchange_info(
        [RateLimit(rateLimitType="REQUESTS_WEIGHT", interval="MINUTE", limit=600)]
    )
    by_name = {p.family: p for p in pol}
    assert by_name[REQUEST_WEIGHT].limit == 600 and by_name[REQUEST_WEIGHT].window_s == 60
    assert by_name[ORDERS].limit == 100 and by_name[ORDERS].window_s == 60
    two = policies_from_exchange_info(
        [
            RateLimit(rateLimitType="ORDERS", interval="SECOND", limit=10),
            RateLimit(rateLimitType="ORDERS", interval="DAY", limit=100000),
        ]
    )
    assert sorted(p.window_s for p in two if p.family == ORDERS) == [1, 86400]


def test_policies_from_2023_shape():
    def rl(id_, scope, limit, count, unit):
        return RateLimit(
            id=id_,
            type=[scope],
            replenishRate=limit,
            burstCapacity=limit,
            timeCount=count,
            timeUnit=unit,
        )

    pol = policies_from_exchange_info(
        [
            rl("general", "IP", 1200, 1, "MINUTES"),
            rl("orders_ip_seconds", "IP", 100, 60, "SECONDS"),
            rl("orders_user_seconds", "USER", 100, 60, "SECONDS"),
            rl("withdraw_days", "USER", 1000, 1, "DAYS"),
        ]
    )
    assert {(p.name, p.family, p.limit, p.window_s) for p in pol} == {
        ("general", REQUEST_WEIGHT, 1200, 60.0),
        ("orders_ip_seconds", ORDERS, 100, 60.0),
        ("orders_user_seconds", ORDERS, 100, 60.0),
    }


async def test_reconfigure_keeps_spent_budget():
    t = FakeTime()
    g = governor(t)
    await g.acquire({REQUEST_WEIGHT: 4})
    g.configure((Policy("general", REQUEST_WEIGHT, 20, 60.0),))
    assert g.headroom() == {"general": (4, 20)}


async def test_requests_of_an_earlier_process_are_counted_at_their_time():
    """A restart: what the previous process sent 2 s and 4 s ago still fills the window; one
    sent 20 s ago (outside it) does not. The third order now waits until the oldest expires."""
    t = FakeTime()
    g = governor(t)
    assert g.charge_past(ORDERS, [4.0, 2.0, 20.0]) == 2
    assert g.headroom()["O"] == (2, 3)
    await g.acquire({ORDERS: 1})
    assert t.slept == []
    await g.acquire({ORDERS: 1})
    assert t.slept == [pytest.approx(10.5 - 4.0)]


async def test_try_acquire_spends_only_when_every_level_has_room():
    t = FakeTime()
    address = governor(t, (Policy("W", REQUEST_WEIGHT, 10, 60.0), Policy("O", ORDERS, 2, 10.0)))
    g = governor(t, parent=address)
    order = {REQUEST_WEIGHT: 1, ORDERS: 1}
    assert g.try_acquire(order) and g.try_acquire(order)
    assert g.headroom()["O"] == (2, 3) and address.headroom()["O"] == (2, 2)
    # the address has no room: nothing is spent at either level, the caller must wait
    assert not g.try_acquire(order)
    assert g.headroom()["O"] == (2, 3) and address.headroom()["O"] == (2, 2)
    await g.acquire(order)  # waits for the address's window to free a slot
    assert t.slept == [10.5] and address.headroom()["O"] == (1, 2)
    t.now += 60
    address.on_banned(None)
    assert not g.try_acquire({REQUEST_WEIGHT: 1})
    assert g.headroom()["W"][0] == 0


def _reference_try_acquire(g: RateGovernor, costs: dict[str, int]) -> bool:
    """``try_acquire`` as it was written before its windows were kept per costs dict: room
    at this level, then at the address's, then spend at both (all or nothing)."""
    now = g._room_now(costs)
    if now is None:
        return False
    if g.parent is not None:
        parent_now = g.parent._room_now(costs)
        if parent_now is None:
            return False
        g.parent._spend(costs, parent_now)
    g._spend(costs, now)
    return True


def _state(g: RateGovernor) -> list:
    out = []
    for level in (g, g.parent):
        out.append([(w.policy, list(w.events), w.used, w.blocked_until)
                    for w in level._windows.values()])
    return out


@given(st.lists(st.tuples(st.sampled_from(["try", "try", "try", "wait", "429", "ban", "configure"]),
                          st.integers(0, 3), st.floats(0, 30)), max_size=60))
def test_try_acquire_answers_as_its_reference(steps):
    """The route-kept ``try_acquire`` answers and spends exactly as the plain composition of
    ``_room_now`` and ``_spend`` over any run of requests, waits, 429s, bans and re-configures."""
    kinds = [costs("POST", "/api/v1/order"), costs("GET", "/api/v1/account"),
             {REQUEST_WEIGHT: 1}, {ORDERS: 2}]
    pair = []
    for _ in range(2):
        t = FakeTime()
        address = governor(t, (Policy("W", REQUEST_WEIGHT, 12, 60.0), Policy("O", ORDERS, 4, 10.0)))
        pair.append((t, governor(t, parent=address)))
    for kind, k, x in steps:
        answers = []
        for (t, g), take in zip(pair, (RateGovernor.try_acquire, _reference_try_acquire), strict=True):
            if kind == "try":
                answers.append(take(g, kinds[k]))
            elif kind == "wait":
                t.now += x
            elif kind == "429":
                g.on_rate_limited("O" if k % 2 else None, x if k < 2 else None)
            elif kind == "ban":
                g.parent.on_banned(int(t.wall_ms() + x * 1000) if k else None)
            else:
                g.configure((Policy("W2", REQUEST_WEIGHT, 8 + k, 30.0),
                             Policy("O2", ORDERS, 2 + k, 5.0)))
        assert answers[:1] == answers[1:]
        assert _state(pair[0][1]) == _state(pair[1][1])


def test_try_acquire_takes_back_what_it_spent_when_a_later_window_is_full():
    """One pass spends as it checks: a full window further on (or a full address) undoes the
    spending already done, leaving every window as it was."""
    t = FakeTime()
    address = governor(t, (Policy("W", REQUEST_WEIGHT, 100, 60.0), Policy("O", ORDERS, 1, 10.0)))
    g = governor(t, (Policy("W", REQUEST_WEIGHT, 100, 60.0), Policy("O", ORDERS, 2, 60.0)),
                 parent=address)
    order = {REQUEST_WEIGHT: 1, ORDERS: 1}
    assert g.try_acquire(order)
    before = _state(g)
    assert not g.try_acquire(order)  # room here, none at the address: nothing stays spent
    assert _state(g) == before
    t.now += 11  # the address's order window frees; this level's still holds one order
    assert g.try_acquire(order)
    assert g.headroom()["O"] == (2, 2)
    before = _state(g)
    assert not g.try_acquire(order)  # the weight window had room and was charged, then undone
    assert _state(g) == before and g.headroom()["W"] == (2, 100)
