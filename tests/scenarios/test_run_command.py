"""``liquidity-bot run`` as a real process against the simulator: the keys gate, one market per
key isolated, and a ``kill -9`` followed by a restart."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from decimal import Decimal
from pathlib import Path

import aiohttp
import pytest

from liquidity_bot.keys.home import KeysHome
from liquidity_bot.keys.hygiene import add_key
from liquidity_bot.keys.vault import Vault
from liquidity_bot.store import Store

from .conftest import (
    FAST_KDF,
    PASSPHRASE,
    admin,
    keyed_config,
    keyed_market,
    new_key,
    rest,
    wait_for_async,
)


def _store_key(home: Path, label: str, api_key: str, secret: str) -> None:
    add_key(KeysHome(home), passphrase=PASSPHRASE, exchange="bitrue", label=label,
            api_key=api_key, secret=secret, kdf=FAST_KDF)


async def _bot(home: Path, config: Path, *args: str) -> asyncio.subprocess.Process:
    env = dict(os.environ, LIQUIDITY_BOT_PASSPHRASE=PASSPHRASE, LIQUIDITY_BOT_HOME=str(home))
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "liquidity_bot.cli", "--log-level", "DEBUG", "run",
        "--config", str(config), "--canary-source", "127.0.0.2", "--dashboard-port", "0", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
    )


@pytest.fixture
def home(tmp_path: Path) -> Path:
    h = tmp_path / "home"
    h.mkdir(mode=0o700)
    return h


async def test_run_trades_only_with_keys_that_pass_the_gate(sim_quiet, home, tmp_path):
    account, key, secret = await new_key(sim_quiet)
    # A second client's key that may withdraw: the gate must refuse it.
    acct2 = (await admin(sim_quiet, "POST", "/sim/admin/accounts",
                         {"balances": {"USDT": "10000", "NOVA": "100000"}}))["account_id"]
    bad = await admin(sim_quiet, "POST", "/sim/admin/keys", {
        "account_id": acct2, "label": "bad", "permissions": ["read", "trade", "withdraw"],
        "ip_allowlist": ["127.0.0.1"],
    })
    _store_key(home, "good", key, secret)
    _store_key(home, "withdrawer", bad["api_key"], bad["secret"])
    config = tmp_path / "bot.toml"
    config.write_text(keyed_config(sim_quiet.base_url,
                                   keyed_market("XRPUSDT", "good", "lbx"),
                                   keyed_market("NOVAUSDT", "withdrawer", "lbn")))
    proc = await _bot(home, config, "--duration", "2")
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()[-2000:]
    text = out.decode()
    assert "key 'withdrawer' refused" in text and "withdraw_disabled" in text
    summary = json.loads(text[text.index("{"):])
    assert summary["markets"]["XRPUSDT"]["orders_placed"] >= 2
    assert summary["markets"]["XRPUSDT"]["open_after_shutdown"] == 0
    assert "NOVAUSDT" not in summary["markets"]
    ledger = await admin(sim_quiet, "GET", f"/sim/admin/ledger?account_id={account}")
    assert ledger["orders"] and all(o["status"] != "NEW" for o in ledger["orders"])
    bad_ledger = await admin(sim_quiet, "GET", f"/sim/admin/ledger?account_id={acct2}")
    assert bad_ledger["orders"] == [], "the refused key never traded"
    rec = Vault.open(KeysHome(home).vault).find_active("good")
    assert rec.last_used_at is not None, "the key is marked used"
    assert Vault.open(KeysHome(home).vault).find_active("withdrawer").last_used_at is None
    assert secret not in text and secret not in err.decode()


async def _hit_our_best(taker, client, side: str, prefix: str, qty_ours: Decimal) -> None:
    """Trade through everything better than our best order on ``side``, and ``qty_ours`` of it."""
    ours = [o for o in await client.open_orders("XRPUSDT")
            if (o.clientOrderId or "").startswith(prefix) and o.side == side]
    best = max(ours, key=lambda o: o.price) if side == "BUY" else min(ours, key=lambda o: o.price)
    depth = await client.depth("XRPUSDT", 100)
    levels = depth.bids if side == "BUY" else depth.asks
    ahead = sum((lv.qty for lv in levels
                 if (lv.price > best.price if side == "BUY" else lv.price < best.price)),
                Decimal(0))
    await taker.place_order("XRPUSDT", "SELL" if side == "BUY" else "BUY", ahead + qty_ours,
                            best.price, order_type="LIMIT")


async def test_kill_minus_9_then_restart_leaves_nothing_behind(sim_quiet, home, tmp_path):
    sim_calm = sim_quiet  # a quiet book: every trade below is one we cause
    account, key, secret = await new_key(sim_calm)
    _, tkey, tsecret = await new_key(sim_calm, {"XRP": "1000000", "USDT": "1000000"},
                                     label="taker")
    _store_key(home, "good", key, secret)
    config = tmp_path / "bot.toml"
    config.write_text(keyed_config(
        sim_calm.base_url, keyed_market("XRPUSDT", "good", "lbk", size="200")))
    proc = await _bot(home, config)
    async with rest(sim_calm, key, secret) as client, rest(sim_calm, tkey, tsecret) as taker:

        async def quoting() -> bool:
            orders = [o for o in await client.open_orders("XRPUSDT")
                      if (o.clientOrderId or "").startswith("lbk")]
            return len({o.side for o in orders}) == 2

        await wait_for_async(quoting, "the first process quotes both sides", timeout=30)
        await _hit_our_best(taker, client, "BUY", "lbk", Decimal("50"))

        async def filled_once() -> bool:
            return bool(await client.my_trades("XRPUSDT"))

        await wait_for_async(filled_once, "our first fill")
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
        assert any((o.clientOrderId or "").startswith("lbk")
                   for o in await client.open_orders("XRPUSDT")), "orders left by the kill"

        # While no bot runs, another of our orders trades.
        await _hit_our_best(taker, client, "SELL", "lbk", Decimal("40"))
        again = await _bot(home, config, "--duration", "2")
        out, err = await asyncio.wait_for(again.communicate(), 60)
        assert again.returncode == 0, err.decode()[-2000:]
        assert [o for o in await client.open_orders("XRPUSDT")
                if (o.clientOrderId or "").startswith("lbk")] == []
    ledger = await admin(sim_calm, "GET", f"/sim/admin/ledger?account_id={account}")
    assert all(o["status"] in ("FILLED", "CANCELED") for o in ledger["orders"])
    cids = [o["clientOrderId"] for o in ledger["orders"]]
    assert len(cids) == len(set(cids))
    store = Store(f"sqlite:///{home / 'bot.db'}")
    stored = sorted(f.trade_id for f in store.fills("XRPUSDT"))
    assert len(ledger["fills"]) >= 2
    assert stored == sorted(str(f["id"]) for f in ledger["fills"]), "fills stored exactly once"
    assert store.orders(open_only=True) == []
    stored_cids = {o.client_order_id for o in store.orders()}
    assert set(cids) <= stored_cids, "every order of ours is in the store"


async def test_sigterm_cancels_everything_and_exits_cleanly(sim_quiet, home, tmp_path):
    account, key, secret = await new_key(sim_quiet)
    _store_key(home, "good", key, secret)
    config = tmp_path / "bot.toml"
    config.write_text(keyed_config(sim_quiet.base_url, keyed_market("XRPUSDT", "good", "lbs")))
    proc = await _bot(home, config)
    async with rest(sim_quiet, key, secret) as client:

        async def quoting() -> bool:
            orders = [o for o in await client.open_orders("XRPUSDT")
                      if (o.clientOrderId or "").startswith("lbs")]
            return len({o.side for o in orders}) == 2

        await wait_for_async(quoting, "the bot quotes both sides", timeout=30)
        proc.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode == 0, err.decode()[-2000:]
        assert [o for o in await client.open_orders("XRPUSDT")
                if (o.clientOrderId or "").startswith("lbs")] == []
    summary = json.loads(out.decode()[out.decode().index("{"):])
    assert summary["markets"]["XRPUSDT"]["open_after_shutdown"] == 0
    # What the store holds is what `export` prints.
    env = dict(os.environ, LIQUIDITY_BOT_HOME=str(home))
    exported = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "liquidity_bot.cli", "export", "orders", "--config", str(config),
        "--json", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env)
    eout, eerr = await asyncio.wait_for(exported.communicate(), 60)
    assert exported.returncode == 0, eerr.decode()
    rows = json.loads(eout.decode())
    ledger = await admin(sim_quiet, "GET", f"/sim/admin/ledger?account_id={account}")
    assert sorted(r["client_order_id"] for r in rows) == sorted(
        o["clientOrderId"] for o in ledger["orders"])
    assert all(r["status"] == "CANCELED" for r in rows)


async def _line_with(stream: asyncio.StreamReader, needle: str, seen: list[bytes]) -> str:
    while True:
        line = await asyncio.wait_for(stream.readline(), 60)
        assert line, f"the output ended before {needle!r}: {b''.join(seen).decode()[-2000:]}"
        seen.append(line)
        if needle in line.decode():
            return line.decode()


async def test_run_serves_the_dashboard_and_leaks_no_secret(sim_calm, home, tmp_path):
    """A full run (calm market: fills happen) with DEBUG logs: the dashboard and /metrics are
    served while it runs, the store holds KPIs, balances and key events, and the API secret
    appears nowhere: not in stdout, stderr, the database, the audit log or any other file."""
    account, key, secret = await new_key(sim_calm)
    _store_key(home, "good", key, secret)
    config = tmp_path / "bot.toml"
    config.write_text(keyed_config(sim_calm.base_url, keyed_market("XRPUSDT", "good", "lbd")))
    proc = await _bot(home, config, "--duration", "4")
    out: list[bytes] = []
    assert proc.stdout is not None and proc.stderr is not None
    err_task = asyncio.ensure_future(proc.stderr.read())
    line = await _line_with(proc.stdout, "dashboard: http://127.0.0.1:", out)
    url = line.split("dashboard: ", 1)[1].split()[0]
    async with aiohttp.ClientSession() as http:
        state: dict = {}
        for _ in range(200):  # until the first samples arrived (not a timing assertion)
            async with http.get(url + "api/state") as resp:
                assert resp.status == 200
                state = await resp.json()
            if state["markets"] and state["keys"] and state["markets"][0].get("quotes"):
                break
            await asyncio.sleep(0.05)
        async with http.get(url + "metrics") as resp:
            metrics = await resp.text()
    assert state["markets"][0]["symbol"] == "XRPUSDT" and state["markets"][0]["quotes"]
    assert [k["label"] for k in state["keys"]] == ["good"]
    assert state["keys"][0]["last_verdict"] == "pass" and state["keys"][0]["review_due"]
    assert "lb_obligation_uptime_ratio" in metrics
    assert 'lb_market_depth_2pct_quote{side="bid",symbol="XRPUSDT"}' in metrics
    assert 'lb_strategy_estimate{name="sigma_pct",side="both",symbol="XRPUSDT"}' in metrics
    view = state["markets"][0]
    assert view["estimates"]["sigma_pct"] > 0 and view["markouts"]["horizons_s"] == [0, 1, 5, 60]
    assert view["kpi"]["market_depth"]["band_pct"] == "2"
    rest_out = await asyncio.wait_for(proc.stdout.read(), 60)
    err = await asyncio.wait_for(err_task, 60)
    assert await proc.wait() == 0, err.decode()[-2000:]
    text = b"".join(out).decode() + rest_out.decode()
    store = Store(f"sqlite:///{home / 'bot.db'}")
    try:
        assert store.kpi_samples(), "the bridge stored KPI samples"
        assert {b.asset for b in store.balance_snapshots()} >= {"XRP", "USDT"}
        assert {e.action for e in store.audit_events("keys")} >= {"verified", "gate"}
    finally:
        store.close()
    ledger = await admin(sim_calm, "GET", f"/sim/admin/ledger?account_id={account}")
    assert ledger["orders"], "it traded"
    canary = secret.encode()
    assert canary not in text.encode() and canary not in err
    for path in [*home.rglob("*"), *tmp_path.rglob("*")]:
        if path.is_file():
            assert canary not in path.read_bytes(), f"the secret leaked into {path}"


async def test_demo_state_lives_in_the_home_and_report_reads_it(tmp_path):
    """``demo`` with a home that already holds an operator's vault (another passphrase):
    that vault is left alone, and ``report`` with the same home shows the demo's results."""
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    add_key(KeysHome(home), passphrase="the operator's own passphrase", exchange="bitrue",
            label="client", api_key="A" * 64, secret="B" * 64, kdf=FAST_KDF)
    operator_vault = (home / "vault.json").read_bytes()
    env = dict(os.environ, LIQUIDITY_BOT_PASSPHRASE="demo passphrase", LIQUIDITY_BOT_HOME=str(home))
    demo = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "liquidity_bot.cli", "demo", "--duration", "3",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env)
    out, err = await asyncio.wait_for(demo.communicate(), 120)
    assert demo.returncode == 0, (out + err).decode()[-3000:]
    text = out.decode()
    assert "dashboard: http://127.0.0.1:" in text and "Client report" in text
    assert (home / "vault.json").read_bytes() == operator_vault
    reports = sorted((home / "reports").iterdir())
    assert {p.suffix for p in reports} == {".html", ".json"}
    report = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "liquidity_bot.cli", "report", "--format", "json",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env)
    rout, rerr = await asyncio.wait_for(report.communicate(), 60)
    assert report.returncode == 0, rerr.decode()
    figures = json.loads(rout)["symbols"]["XRPUSDT"]
    assert figures["samples"] > 0 and figures["orders_sent"] > 0
    for name in ("uptime_pct", "avg_spread_pct", "avg_depth_2pct_bid", "avg_depth_2pct_ask"):
        assert figures[name] is not None, name
    assert figures["pnl"]["start_inventory_known"], "balance snapshots were stored"
