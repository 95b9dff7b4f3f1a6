"""Shared fixtures for wire tests: a running simulator per test and a key factory.

    async def test_x(sim, make_key):
        account_id, api_key, secret = await make_key(sim, permissions=("read", "trade"))

``make_key`` goes through the simulator's admin HTTP API (loopback, ``X-Sim-Admin``), exactly
as an operator or a test harness would. ``sim`` is a ``bitrue_sim.server.runner.SimServer``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping

import aiohttp
import pytest

from bitrue_sim.server.runner import SimServer

DEFAULT_BALANCES = {"USDT": "10000", "XRP": "5000", "NOVA": "1000000", "BTC": "1"}


@pytest.fixture
async def sim() -> AsyncIterator[SimServer]:
    """A fresh simulator on a free loopback port (seed 0, admin token "test-admin")."""
    async with SimServer(host="127.0.0.1", port=0, seed=0, admin_token="test-admin") as server:
        yield server


async def admin_call(sim: SimServer, method: str, path: str, json: object | None = None) -> dict:
    """Call the admin API; raises AssertionError with the answer when it is not 200."""
    headers = {"X-Sim-Admin": sim.admin_token or ""}
    async with aiohttp.ClientSession() as session:
        async with session.request(method, sim.base_url + path, json=json, headers=headers) as resp:
            body = await resp.json(content_type=None)
            if resp.status != 200:
                raise AssertionError(f"admin {method} {path} -> {resp.status} {body}")
            return body


async def create_key(
    sim: SimServer,
    permissions: Iterable[str] = ("read", "trade"),
    ip_allowlist: Iterable[str] = ("127.0.0.1",),
    balances: Mapping[str, str] | None = None,
    account_id: int | None = None,
    label: str = "test",
) -> tuple[int, str, str]:
    """Create an account (unless ``account_id`` is given) and a key: (account_id, key, secret)."""
    if account_id is None:
        bal = dict(DEFAULT_BALANCES if balances is None else balances)
        account_id = (await admin_call(sim, "POST", "/sim/admin/accounts", {"balances": bal}))[
            "account_id"
        ]
    created = await admin_call(
        sim,
        "POST",
        "/sim/admin/keys",
        {
            "account_id": account_id,
            "label": label,
            "permissions": list(permissions),
            "ip_allowlist": list(ip_allowlist),
        },
    )
    return account_id, created["api_key"], created["secret"]


@pytest.fixture
def make_key():
    """``await make_key(sim, permissions=..., ip_allowlist=..., balances=...)``."""
    return create_key
