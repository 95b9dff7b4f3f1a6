"""One source address per key (``[bitrue] key_source_addresses``), over real loopback.

Each key's IP allow list on the simulator holds only its own address (127.0.0.2, 127.0.0.3):
the simulator refuses a signed or keyed request from any other source, so a key that passes
the keys gate, quotes and is cleaned up by ``cancel_all`` sent all of that from its address.
The WebSockets (which the simulator does not check by address) go through a loopback relay
that records the peer address of each connection.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from liquidity_bot.app import open_sessions
from liquidity_bot.cancel_all import cancel_all
from liquidity_bot.config import parse_config
from liquidity_bot.engine.budget import OrderBudget
from liquidity_bot.engine.order_manager import ClientIds
from liquidity_bot.engine.runner import Engine, KeySession, pacing_address
from liquidity_bot.keys.home import KeysHome
from liquidity_bot.keys.hygiene import add_key
from liquidity_bot.venues.bitrue.rest import BitrueRestClient
from liquidity_bot.venues.bitrue.urls import BitrueUrls
from liquidity_bot.venues.bitrue.weights import ORDER_RATE_LIMIT

from .conftest import FAST_KDF, PASSPHRASE, admin, keyed_market, running, wait_for

A, B, CANARY = "127.0.0.2", "127.0.0.3", "127.0.0.9"
BALANCES = {"USDT": "10000", "XRP": "20000", "NOVA": "100000"}


@pytest.fixture
def home(tmp_path: Path) -> Path:
    h = tmp_path / "home"
    h.mkdir(mode=0o700)
    return h


async def _key(sim: Any, home: Path, label: str, allow: str) -> tuple[int, str, str]:
    """A simulator account and key usable only from ``allow``, stored in the vault."""
    acct = (await admin(sim, "POST", "/sim/admin/accounts", {"balances": BALANCES}))["account_id"]
    made = await admin(sim, "POST", "/sim/admin/keys", {
        "account_id": acct, "label": label, "permissions": ["read", "trade"],
        "ip_allowlist": [allow],
    })
    add_key(KeysHome(home), passphrase=PASSPHRASE, exchange="bitrue", label=label,
            api_key=made["api_key"], secret=made["secret"], kdf=FAST_KDF)
    return acct, made["api_key"], made["secret"]


def _config(sim: Any, home: Path, addresses: str, ws: str | None = None) -> Any:
    ws_lines = "" if ws is None else f'market_ws_url = "{ws}"\nuser_ws_url = "{ws}"\n'
    text = (f'[bitrue]\nbase_url = "{sim.base_url}"\n{ws_lines}{addresses}\n'
            '[store]\nurl = "sqlite:///{home}/bot.db"\n'
            + keyed_market("XRPUSDT", "alpha", "lka") + keyed_market("NOVAUSDT", "beta", "lkb"))
    return parse_config(text, home=home)


@contextlib.asynccontextmanager
async def _ws_relay(sim: Any) -> AsyncIterator[tuple[str, list[tuple[str, str]]]]:
    """A loopback TCP relay to the simulator recording (peer address, request path) of each
    connection; yields its ws:// address and the records."""
    target = urlsplit(sim.base_url)
    seen: list[tuple[str, str]] = []

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.CancelledError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        first = await reader.readline()
        path = first.split()[1].decode() if len(first.split()) > 1 else ""
        seen.append((writer.get_extra_info("peername")[0], path.split("?")[0]))
        up_r, up_w = await asyncio.open_connection(target.hostname, target.port)
        up_w.write(first)
        await asyncio.gather(pipe(reader, up_w), pipe(up_r, writer))

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"ws://127.0.0.1:{port}", seen
    finally:
        server.close()


def _two_sided(session: KeySession) -> bool:
    return bool(session.runners) and all(
        {o.side.value for o in r.om.resting()} == {"BUY", "SELL"}
        for r in session.runners.values())


async def test_keys_on_their_own_addresses_each_get_a_full_budget_and_send_from_them(
    sim_quiet, home
):
    acct_a, key_a, secret_a = await _key(sim_quiet, home, "alpha", A)
    await _key(sim_quiet, home, "beta", B)
    async with _ws_relay(sim_quiet) as (ws, seen):
        cfg = _config(sim_quiet, home,
                      f'key_source_addresses = {{ alpha = "{A}", beta = "{B}" }}', ws)
        # the gate's probes go from each key's address: from any other the simulator refuses
        sessions, refused = await open_sessions(cfg, home=KeysHome(home), passphrase=PASSPHRASE,
                                                canary_source=CANARY)
        assert refused == {} and len(sessions) == 2
        by_label = {s.label: s for s in sessions}
        assert {lbl: pacing_address(s.venue) for lbl, s in by_label.items()} == {
            "alpha": A, "beta": B}
        full = OrderBudget.for_limit(ORDER_RATE_LIMIT).capacity
        assert [s.budget.capacity for s in sessions] == [full, full]
        engine = Engine(sessions, all_markets=cfg.markets, store=None, kpi_interval_s=0.2,
                        stale_after_s=60.0)
        async with running(engine):
            await wait_for(lambda: all(_two_sided(s) for s in sessions),
                           "both keys quote (signed orders accepted from their own addresses)")
            await wait_for(lambda: {(p, path) for p, path in seen} >= {
                (A, "/market/ws"), (A, "/stream"), (B, "/market/ws"), (B, "/stream")},
                "each key's market and user WebSockets connect from its address")
        assert {p for p, _ in seen} == {A, B}, seen
    # cancel-all for a key goes from its address too
    urls = BitrueUrls.single(sim_quiet.base_url)
    async with BitrueRestClient(urls, key_a, secret_a, source_address=A) as client:
        depth = await client.depth("XRPUSDT", 5)
        left = ClientIds("lka").new()  # as a run killed mid-way leaves one
        await client.place_order("XRPUSDT", "BUY", Decimal("10"), depth.bids[-1].price,
                                 client_order_id=left)
    result = await cancel_all(cfg, {"alpha": (key_a, secret_a, {})}, deadline_s=10)
    assert result.errors == [] and result.clean
    assert [o.client_order_id for o in result.cancelled] == [left]
    ledger = await admin(sim_quiet, "GET", f"/sim/admin/ledger?account_id={acct_a}")
    assert not [o for o in ledger["orders"] if o["status"] in ("NEW", "PARTIALLY_FILLED")]


async def test_keys_sharing_an_address_share_its_order_limit(sim_quiet, home):
    await _key(sim_quiet, home, "alpha", A)
    await _key(sim_quiet, home, "beta", A)
    cfg = _config(sim_quiet, home, f'key_source_addresses = {{ alpha = "{A}", beta = "{A}" }}')
    sessions, refused = await open_sessions(cfg, home=KeysHome(home), passphrase=PASSPHRASE,
                                            canary_source=CANARY)
    assert refused == {} and len(sessions) == 2
    shared = OrderBudget.for_limit(ORDER_RATE_LIMIT, shared_by=2).capacity
    assert [s.budget.capacity for s in sessions] == [shared, shared]
    assert shared < OrderBudget.for_limit(ORDER_RATE_LIMIT).capacity


async def test_a_key_not_listed_sends_from_source_address(sim_quiet, home):
    """beta has no entry: it sends from ``source_address`` (127.0.0.3), alpha from its own."""
    await _key(sim_quiet, home, "alpha", A)
    await _key(sim_quiet, home, "beta", B)
    cfg = _config(sim_quiet, home, f'source_address = "{B}"\n'
                                   f'key_source_addresses = {{ alpha = "{A}" }}')
    sessions, refused = await open_sessions(cfg, home=KeysHome(home), passphrase=PASSPHRASE,
                                            canary_source=CANARY)
    assert refused == {}
    assert {s.label: pacing_address(s.venue) for s in sessions} == {"alpha": A, "beta": B}
    full = OrderBudget.for_limit(ORDER_RATE_LIMIT).capacity
    assert [s.budget.capacity for s in sessions] == [full, full]


async def test_without_its_address_a_restricted_key_is_refused_by_the_gate(sim_quiet, home):
    """The same keys with no address for alpha: its probes leave from 127.0.0.1, which its
    allow list refuses (what the tests above rely on to tell the source address)."""
    await _key(sim_quiet, home, "alpha", A)
    await _key(sim_quiet, home, "beta", B)
    cfg = _config(sim_quiet, home, f'key_source_addresses = {{ beta = "{B}" }}')
    sessions, refused = await open_sessions(cfg, home=KeysHome(home), passphrase=PASSPHRASE,
                                            canary_source=CANARY)
    assert [s.label for s in sessions] == ["beta"] and list(refused) == ["alpha"]
    # alone on its address, beta keeps the whole limit
    assert sessions[0].budget.capacity == OrderBudget.for_limit(ORDER_RATE_LIMIT).capacity


async def test_a_ccxt_key_is_probed_and_trades_from_its_exchange_tables_address(home):
    """``[exchanges.binance] key_source_addresses``: a Binance key allowed only 127.0.0.3 passes
    the gate (its probes go from there) and its ccxt venue trades from there; without the line
    the gate refuses it."""
    pytest.importorskip("ccxt.pro")
    from bitrue_sim.server.runner import SimServer

    async with SimServer(dialect="binance") as bsim:
        account = bsim.exchange.create_account({"USDT": Decimal(1000), "XRP": Decimal(1000)})
        api_key, secret = bsim.keys.create(account, permissions=("read", "trade"),
                                           ip_allowlist=(B,))
        add_key(KeysHome(home), passphrase=PASSPHRASE, exchange="binance", label="bnb",
                api_key=api_key, secret=secret, kdf=FAST_KDF)
        market = keyed_market("XRPUSDT", "bnb", "lkc").replace(
            'key_label = "bnb"\n', 'key_label = "bnb"\nexchange = "binance"\nconnector = "ccxt"\n')

        def config(lines: str) -> Any:
            return parse_config(f'[exchanges.binance]\nbase_url = "{bsim.base_url}"\n{lines}\n'
                                + market, home=home)

        sessions, refused = await open_sessions(config(""), home=KeysHome(home),
                                                passphrase=PASSPHRASE, canary_source=CANARY)
        assert sessions == [] and list(refused) == ["bnb"]
        sessions, refused = await open_sessions(
            config(f'key_source_addresses = {{ bnb = "{B}" }}'), home=KeysHome(home),
            passphrase=PASSPHRASE, canary_source=CANARY)
        assert refused == {} and [s.label for s in sessions] == ["bnb"]
        venue = sessions[0].venue
        assert venue.source_address == B
        async with venue:
            await venue.place("XRPUSDT", "BUY", Decimal("10"), Decimal("0.4900"), "lkc1")
        assert [o.client_order_id for o in bsim.exchange.open_orders(account, "XRPUSDT")] == \
            ["lkc1"]
