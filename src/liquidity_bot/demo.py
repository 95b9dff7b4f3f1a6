"""``liquidity-bot demo``: the whole product in one command, against the simulator on loopback.

1. start the simulator (``volatile`` scenario) on a free 127.0.0.1 port;
2. create a client account and an API key the way the onboarding guide says (label
   "Liquidity Bot", Read + Trade only, IP allow list 127.0.0.1);
3. store it in a demo vault and verify it, with 127.0.0.2 as the canary source (an address of
   this machine that is not on the allow list), showing the full checklist;
4. pass the keys gate and quote XRPUSDT for ``duration`` seconds with a live view;
5. cancel everything and print a summary and where the state is.

All state lives under ``<home>/demo`` (reset at each run; the marker file guards anything
else from being deleted). Ctrl-C ends it cleanly at any point.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
from rich.console import Console
from rich.table import Table

DEMO_LABEL = "Liquidity Bot"
DEMO_SYMBOL = "XRPUSDT"
CANARY_SOURCE = "127.0.0.2"
MARKER = ".liquidity-bot-demo"
DEMO_BALANCES = {"USDT": "10000", "XRP": "20000"}

DEMO_CONFIG = """
kpi_interval_s = 1
[bitrue]
base_url = "{base_url}"
[store]
url = "sqlite:///{{home}}/liquidity-bot.db"
[[markets]]
symbol = "XRPUSDT"
key_label = "demo"
client_id_prefix = "lbdemo"
strategy = "ladder"
[markets.ladder]
levels = 3
base_spread_pct = "0.3"
level_spacing_pct = "0.15"
level_size_quote = "60"
min_spread_pct = "0.1"
target_base_share = "0.5"
skew_strength = "1"
[markets.obligations]
max_spread_pct = "1"
min_depth_2pct_quote = "100"
[markets.risk]
max_order_notional = "250"
max_open_notional_per_side = "800"
max_base_inventory = "100000"
daily_loss_limit = "500"
price_band_pct = "5"
max_fills_per_minute = 300
[markets.order_manager]
price_tolerance_pct = "0.08"
size_tolerance_pct = "25"
refresh_interval_ms = 250
order_budget_share = "1"
"""


class DemoError(Exception):
    """The demo cannot go on; the message says why and what to do."""


def prepare_home(home: Path) -> Path:
    """``<home>/demo``, emptied if an earlier demo made it; never deletes anything else."""
    demo = home / "demo"
    if demo.exists():
        if not (demo / MARKER).exists():
            raise DemoError(
                f"{demo} exists but was not made by the demo; move it away or use another "
                "--home (the demo resets its own directory at each run)"
            )
        shutil.rmtree(demo)
    demo.mkdir(parents=True, mode=0o700)
    (demo / MARKER).write_text("state of the last `liquidity-bot demo` run; reset at each run\n")
    return demo


async def _admin(session: aiohttp.ClientSession, sim: Any, method: str, path: str,
                 body: object | None = None) -> dict[str, Any]:
    headers = {"X-Sim-Admin": sim.admin_token or ""}
    async with session.request(method, sim.base_url + path, json=body, headers=headers) as resp:
        data = await resp.json(content_type=None)
        if resp.status != 200:
            raise DemoError(f"simulator admin {method} {path} answered {resp.status}: {data}")
        return data


def _checklist(console: Console, report: Any) -> None:
    table = Table(title=f"Key verification: {report.label!r} -> {report.verdict.upper()}")
    table.add_column("check")
    table.add_column("result")
    table.add_column("detail")
    colours = {"pass": "green", "fail": "red", "unknown": "yellow"}
    for c in report.checks:
        table.add_row(c.name, f"[{colours.get(c.status, 'white')}]{c.status}[/]", c.detail)
    console.print(table)


async def run_demo(home: Path, duration_s: float, console: Console | None = None) -> dict[str, Any]:
    """Run the demo; returns the summary (also printed)."""
    from bitrue_sim.server.runner import SimServer
    from liquidity_bot.config import parse_config
    from liquidity_bot.engine.runner import Engine, open_sessions, summary
    from liquidity_bot.keys.gate import verify_and_record
    from liquidity_bot.keys.home import PASSPHRASE_ENV, KeysHome
    from liquidity_bot.keys.hygiene import add_key
    from liquidity_bot.keys.policy import load_policy
    from liquidity_bot.logs import register_secret
    from liquidity_bot.store import Store
    from liquidity_bot.terminal_view import view_for
    from liquidity_bot.venues.bitrue.urls import BitrueUrls

    console = console or Console()
    demo_home = prepare_home(home)
    keys_home = KeysHome(demo_home)
    passphrase = os.environ.get(PASSPHRASE_ENV)
    if passphrase:
        console.print(f"vault passphrase: from ${PASSPHRASE_ENV}")
    else:
        passphrase = "demo-" + secrets.token_urlsafe(12)
        console.print(
            f"demo vault passphrase (generated, for this demo vault only): {passphrase}",
            markup=False,
        )

    async with SimServer(
        host="127.0.0.1", port=0, seed=secrets.randbelow(2**31),
        admin_token=secrets.token_hex(16), scenario="volatile",
    ) as sim:
        console.print(f"simulator: {sim.base_url} (scenario volatile)", markup=False)
        async with aiohttp.ClientSession() as session:
            account = await _admin(session, sim, "POST", "/sim/admin/accounts",
                                   {"balances": DEMO_BALANCES})
            created = await _admin(session, sim, "POST", "/sim/admin/keys", {
                "account_id": account["account_id"],
                "label": DEMO_LABEL,
                "permissions": ["read", "trade"],
                "ip_allowlist": ["127.0.0.1"],
            })
        api_key, secret = created["api_key"], created["secret"]
        register_secret(secret)
        console.print(
            f"created account {account['account_id']} with {DEMO_BALANCES} and API key "
            f"{DEMO_LABEL!r} (Read + Trade, allow list 127.0.0.1)", markup=False,
        )
        record = await asyncio.to_thread(
            add_key, keys_home, passphrase=passphrase, exchange="bitrue", label=DEMO_LABEL,
            api_key=api_key, secret=secret, markets=(DEMO_SYMBOL,),
        )
        del secret
        console.print(f"stored the key in the vault {keys_home.vault}", markup=False)
        urls = BitrueUrls.single(sim.base_url)
        from liquidity_bot.keys.vault import Vault

        vault = Vault.open(keys_home.vault).unlock(passphrase)
        report = await verify_and_record(
            keys_home, record, vault.reveal(record.id), policy=load_policy(keys_home.policy),
            urls=urls, canary_source=CANARY_SOURCE,
        )
        vault.lock()
        _checklist(console, report)
        if report.verdict != "pass":
            raise DemoError("the demo key did not pass verification; see the checklist above")

        config = parse_config(DEMO_CONFIG.format(base_url=sim.base_url), source="demo config",
                              home=demo_home)
        markets = tuple(msgspec.structs.replace(m, key_label=DEMO_LABEL) for m in config.markets)
        config = msgspec.structs.replace(config, markets=markets)
        sessions, refused = await open_sessions(
            config, home=keys_home, passphrase=passphrase, canary_source=CANARY_SOURCE,
            report=lambda m: console.print(m, markup=False),
        )
        if refused:
            raise DemoError("the keys gate refused the demo key: " + "; ".join(refused.values()))
        store = Store(config.store.url)
        store.create_schema()
        console.print(f"quoting {DEMO_SYMBOL} for {duration_s:g} s (Ctrl-C ends it cleanly)...",
                      markup=False)
        engine = Engine(sessions, all_markets=config.markets, store=store,
                        recv_window_ms=config.bitrue.recv_window)
        with view_for(console) as view:
            engine.on_tick = view.update
            await engine.run(duration_s)
            view.update(engine)
        result = summary(engine)
        store.close()
    _print_summary(console, result, demo_home)
    return result


def _print_summary(console: Console, result: dict[str, Any], demo_home: Path) -> None:
    table = Table(title="Demo summary")
    table.add_column("market", no_wrap=True)
    for name in ("orders", "cancels", "fills", "net XRP", "PnL USDT", "uptime", "left open"):
        table.add_column(name, justify="right", no_wrap=True)
    for symbol, m in result["markets"].items():
        if "failed" in m:
            table.add_row(symbol, f"failed: {m['failed']}")
            continue
        uptime = m["obligation_uptime"]
        table.add_row(
            symbol, str(m["orders_placed"]), str(m["cancel_requests"]), str(m["fills"]),
            f"{Decimal(m['base_traded']):.1f}", str(m["pnl_quote"]),
            "-" if uptime is None else f"{uptime * 100:.1f} %",
            str(m["open_after_shutdown"]),
        )
    console.print(table)
    for symbol, m in result["markets"].items():
        if "inventory" in m:
            held = ", ".join(f"{amount} {asset}" for asset, amount in m["inventory"].items())
            console.print(f"{symbol} inventory at exit: {held}", markup=False)
    console.print(
        "orders = orders placed, cancels = cancel requests, net XRP = inventory change from our "
        "fills (fees included), PnL = our trades marked at the last mid, uptime = share of "
        "1-second samples in which our own quotes met the obligations (spread and +-2 % depth "
        "on both sides).", markup=False,
    )
    for label, b in result.get("budgets", {}).items():
        console.print(
            f"order budget of key {label!r}: at most {b['max_in_any_window']} requests in any "
            f"60 s window (cap {b['capacity_per_window']}, Bitrue allows 100)", markup=False,
        )
    console.print(
        f"state: {demo_home} (vault.json, audit.jsonl, liquidity-bot.db); see it with "
        f"`liquidity-bot --home {demo_home} export fills --json`", markup=False,
    )
