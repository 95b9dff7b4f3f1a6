"""C41 several keys in one process share their source address's allowance.

Bitrue counts order requests per user *and per IP*. Each key's client used to pace only its own
requests: two keys at their own limit added up past the IP's, the exchange answered 429, the
other key kept sending and the IP was banned (418), cancels included. One governor per source
address beneath the per-key ones keeps the sum within the IP's limits.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import pytest

from bitrue_sim.ratelimit import Policy as SimPolicy
from liquidity_bot.venues.bitrue.errors import IpBanned, OrderNotFound

sys.path.insert(0, str(Path(__file__).parent))
from _connector_helpers import SYMBOL, client_for  # noqa: E402

LIMIT = 8  # order requests per window, per IP and per user (Bitrue: 100 per 60 s)


def _small_order_limits(sim) -> None:
    """The exchange enforces and advertises LIMIT order requests per second."""
    sim.rate_limiter.policies = tuple(
        SimPolicy(p.id, p.scope, p.category, LIMIT, 1, "SECONDS", p.override_level)
        if p.category == "orders" else p
        for p in sim.rate_limiter.policies
    )


async def _cancel_unknown(client, n: int, tag: str) -> None:
    """``n`` cancels of orders that do not exist: each is an order request, nothing changes."""
    for i in range(n):
        with pytest.raises(OrderNotFound):
            await client.cancel_order(SYMBOL, client_order_id=f"{tag}-{i}")


async def test_c41_two_keys_stay_within_the_ip_order_limit(sim, make_key):
    _small_order_limits(sim)
    _, key1, secret1 = await make_key(sim)
    _, key2, secret2 = await make_key(sim)
    async with client_for(sim, key1, secret1) as a, client_for(sim, key2, secret2) as b:
        await a.exchange_info()  # both learn the advertised limits
        await b.exchange_info()
        # each key alone stays within its own limit; together they would not
        per_key = LIMIT + LIMIT // 2
        await asyncio.gather(_cancel_unknown(a, per_key, "a"), _cancel_unknown(b, per_key, "b"))
        shared = getattr(a.governor, "parent", None)
    snap = sim.rate_limiter.snapshot()
    assert snap["418"] == 0 and snap["bans"] == 0, snap
    assert snap["429"] == 0, snap
    assert shared is not None and shared is b.governor.parent


async def test_c42_a_ban_seen_by_one_key_stops_every_key(sim, make_key):
    """The ban is the IP's: once one key's client sees a 418, the other sends nothing."""
    _, key1, secret1 = await make_key(sim)
    _, key2, secret2 = await make_key(sim)
    async with client_for(sim, key1, secret1) as a, client_for(sim, key2, secret2) as b:
        # as when a 418 arrives on a's connection (a short ban: the port may be reused)
        a.governor.on_banned(int(time.time() * 1000) + 3000)
        before = sim.rate_limiter.snapshot()
        with pytest.raises(IpBanned):
            await b.ping()
        assert b.governor.banned()
    assert sim.rate_limiter.snapshot() == before


async def test_c43_another_source_address_has_its_own_allowance(sim, make_key):
    _, key, secret = await make_key(sim, ip_allowlist=("127.0.0.1", "127.0.0.2"))
    async with client_for(sim, key, secret) as a, \
            client_for(sim, key, secret, source_address="127.0.0.2") as b:
        assert a.governor.parent is not b.governor.parent
