"""``liquidity-bot demo``: the whole product in one command, against the simulator on loopback.

1. start the simulator (``altcoin`` scenario: a thin altcoin pair; ``--scenario`` chooses
   another) on a free 127.0.0.1 port;
2. create a client account and an API key the way the onboarding guide says (label
   "Liquidity Bot", Read + Trade only, IP allow list 127.0.0.1);
3. store it in the demo vault and verify it, with 127.0.0.2 as the canary source (an address of
   this machine that is not on the allow list), showing the full checklist;
4. pass the keys gate and quote XRPUSDT for ``duration`` seconds with a live terminal view and
   the dashboard (a free loopback port; its URL is printed); alerts go to a webhook receiver the
   demo starts on loopback (its address is printed, and the terminal view shows what arrives);
5. cancel everything, write the report (HTML + JSON) under ``<home>/reports/`` and print its
   summary.

``--two-exchanges`` quotes the same token on two simulated exchanges at once: Bitrue through
the native venue and a second simulator speaking Binance's spot API through ccxt's ``binance``
client, each with its own account and key (verified by that exchange's prober), kept apart in
the store, the dashboard and the report (``make demo`` stays the one-exchange demo).

All state lives directly under the home directory (``--home`` / ``LIQUIDITY_BOT_HOME``):
the database ``liquidity-bot.db`` (so ``liquidity-bot report`` with the same home reads the
demo's results), ``audit.jsonl``, ``reports/``. The demo's key lives in its own vault file,
``demo-vault.json``, made afresh at each run (the simulator and its keys live only as long as
the demo): an operator's ``vault.json`` in the same home, whatever its passphrase, is never
opened or touched. Ctrl-C ends it cleanly at any point.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
from rich.console import Console
from rich.table import Table

from liquidity_bot.keys.home import KeysHome

DEMO_LABEL = "Liquidity Bot"
DEMO_SYMBOL = "XRPUSDT"
CANARY_SOURCE = "127.0.0.2"
DEMO_VAULT = "demo-vault.json"
DEMO_BALANCES = {"USDT": "10000", "XRP": "20000"}

DEMO_ALERTS_ENV = "LIQUIDITY_BOT_DEMO_ALERTS_URL"
DEMO_CONFIG = """
kpi_interval_s = 1
[alerts]
breach_grace_s = 5
side_empty_grace_s = 10
stale_grace_s = 5
clear_after_s = 5
[[alerts.channels]]
name = "demo-receiver"
type = "webhook"
url_env = "{alerts_env}"
[bitrue]
base_url = "{base_url}"
[dashboard]
host = "127.0.0.1"
[store]
url = "sqlite:///{{home}}/liquidity-bot.db"
[[markets]]
symbol = "XRPUSDT"
key_label = "demo"
client_id_prefix = "lbdemo"
strategy = "ladder"
[markets.ladder]
levels = 3
base_spread_pct = "0.6"
level_spacing_pct = "0.1"
level_size_quote = "100"
min_spread_pct = "0.1"
target_base_share = "0.5"
skew_strength = "2"
[markets.obligations]
max_spread_pct = "1"
min_depth_2pct_quote = "100"
[markets.risk]
max_order_notional = "250"
max_open_notional_per_side = "1000"
max_base_inventory = "100000"
daily_loss_limit = "500"
price_band_pct = "5"
ema_halflife_s = 5
max_fills_per_minute = 300
[markets.order_manager]
price_tolerance_pct = "0.25"
size_tolerance_pct = "25"
refresh_interval_ms = 250
order_budget_share = "1"
"""


SECOND_EXCHANGE = "binance"


def second_exchange_markets(config_text: str, base_url: str) -> str:
    """``config_text`` with its market quoted on the second exchange too (through ccxt, with a
    key of its own and its own client-id prefix), and where that exchange lives."""
    market = config_text[config_text.index("[[markets]]"):]
    second = (market.replace('key_label = "demo"\n', f'key_label = "demo-{SECOND_EXCHANGE}"\n'
                             f'exchange = "{SECOND_EXCHANGE}"\nconnector = "ccxt"\n')
              .replace('client_id_prefix = "lbdemo"', 'client_id_prefix = "lbdemob"'))
    return (config_text + second
            + f'[exchanges.{SECOND_EXCHANGE}]\nbase_url = "{base_url}"\n')


def demo_label(exchange: str) -> str:
    """The demo key's label on ``exchange`` (one key per exchange account)."""
    return DEMO_LABEL if exchange == "bitrue" else f"{DEMO_LABEL} {exchange.capitalize()}"


class DemoError(Exception):
    """The demo cannot go on; the message says why and what to do."""


@dataclass(frozen=True)
class DemoKeysHome(KeysHome):
    """The home's audit log and policy, but the demo's own vault file (see the module doc)."""

    @property
    def vault(self) -> Path:
        return self.root / DEMO_VAULT


def prepare_home(home: Path) -> Path:
    """Make the home (0700) and remove the previous demo's vault (its keys died with its
    simulator); nothing else is deleted."""
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    (home / DEMO_VAULT).unlink(missing_ok=True)
    return home


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


async def run_demo(
    home: Path,
    duration_s: float,
    console: Console | None = None,
    *,
    dashboard_port: int = 0,
    tls: bool = False,
    scenario: str = "altcoin",
    two_exchanges: bool = False,
) -> dict[str, Any]:
    """Run the demo; returns the summary (also printed), with the report's figures under
    ``"report"`` and the report files under ``"report_files"``. ``tls``: the simulator serves
    HTTPS and WSS with a certificate of a throw-away CA (under ``<home>/demo-tls``) that the bot
    trusts through ``ca_file``, as it would trust real Bitrue's through the system's CAs."""
    import contextlib

    from bitrue_sim.scenarios import scenario as check_scenario
    from bitrue_sim.server.runner import SimServer
    from liquidity_bot.alerts import AlertDispatcher, AlertMonitor, build_channels
    from liquidity_bot.alerts.receiver import AlertReceiver
    from liquidity_bot.app import build_engine, onboard_sim_client, open_sessions
    from liquidity_bot.config import parse_config
    from liquidity_bot.engine.runner import summary
    from liquidity_bot.keys.audit import store_mirror
    from liquidity_bot.keys.home import PASSPHRASE_ENV
    from liquidity_bot.store import Store
    from liquidity_bot.terminal_view import view_for
    from liquidity_bot.venues.bitrue.urls import BitrueUrls
    from liquidity_bot.web.bridge import serve_engine

    try:
        check_scenario(scenario)
    except ValueError as exc:
        raise DemoError(str(exc)) from None
    if two_exchanges and tls:
        raise DemoError("--two-exchanges runs without --tls (the second simulator is plain "
                        "loopback HTTP); choose one of them")
    console = console or Console()
    home = prepare_home(home)
    passphrase = os.environ.get(PASSPHRASE_ENV)
    if passphrase:
        console.print(f"demo vault passphrase: from ${PASSPHRASE_ENV}")
    else:
        passphrase = "demo-" + secrets.token_urlsafe(12)
        # Never shown: a passphrase is a secret even in a demo. The demo vault is recreated on
        # every run, and report/export read the database, not the vault.
        console.print(
            f"demo vault passphrase: generated and not shown (set ${PASSPHRASE_ENV} to choose one)",
            markup=False,
        )
    ca_file: str | None = None
    server_tls = None
    if tls:
        from bitrue_sim.server.runner import server_tls_context
        from liquidity_bot.venues.tls import throwaway_ca

        files = await asyncio.to_thread(throwaway_ca, home / "demo-tls")
        ca_file = str(files.ca_cert)
        server_tls = server_tls_context(files.cert, files.key)
    async with SimServer(
        host="127.0.0.1", port=0, seed=secrets.randbelow(2**31),
        admin_token=secrets.token_hex(16), scenario=scenario, tls=server_tls,
    ) as sim, AlertReceiver() as receiver, contextlib.AsyncExitStack() as stack:
        console.print(f"simulator: {sim.base_url} (scenario {scenario}"
                      + (f"; TLS, trusting the throw-away CA {ca_file})" if tls else ")"),
                      markup=False)
        sims = {"bitrue": sim}
        text = DEMO_CONFIG.format(base_url=sim.base_url, alerts_env=DEMO_ALERTS_ENV)
        if two_exchanges:
            sims[SECOND_EXCHANGE] = await stack.enter_async_context(SimServer(
                host="127.0.0.1", port=0, seed=secrets.randbelow(2**31),
                admin_token=secrets.token_hex(16), scenario=scenario, dialect=SECOND_EXCHANGE))
            console.print(f"second simulator ({SECOND_EXCHANGE}'s spot API, through ccxt): "
                          f"{sims[SECOND_EXCHANGE].base_url}", markup=False)
            text = second_exchange_markets(text, sims[SECOND_EXCHANGE].base_url)
        config = parse_config(text, source="demo config", home=home)
        if ca_file is not None:
            config = msgspec.structs.replace(config, bitrue=msgspec.structs.replace(
                config.bitrue, ca_file=Path(ca_file)))
        # The receiver's address carries a random path, as a real webhook's does: the secret
        # part is never printed (the redactor masks it), only where the receiver listens.
        channels = build_channels(config.alerts.channels, {
            DEMO_ALERTS_ENV: f"{receiver.url}/alerts/{secrets.token_urlsafe(16)}"})
        a = config.alerts
        dispatcher = AlertDispatcher(channels, queue_size=a.queue_size, reminder_s=a.reminder_s,
                                     clear_after_s=a.clear_after_s)
        await dispatcher.start()
        console.print(f"alerts: webhook to a receiver on loopback, {receiver.url} (a real "
                      "deployment names Slack, Telegram or a webhook in [alerts])", markup=False)
        markets = tuple(msgspec.structs.replace(m, key_label=demo_label(m.exchange))
                        for m in config.markets)
        config = msgspec.structs.replace(config, markets=markets)
        store = Store(config.store.url)
        try:
            store.create_schema()
            keys_home = DemoKeysHome(home, audit_mirror=store_mirror(store))
            connector = aiohttp.TCPConnector(
                ssl=BitrueUrls.single(sim.base_url, ca_file=ca_file).ssl_context() if tls
                else True)
            async with aiohttp.ClientSession(connector=connector) as session:
                for name, venue_sim in sims.items():

                    async def admin(method: str, path: str, body: object | None,
                                    venue_sim: Any = venue_sim) -> dict[str, Any]:
                        return await _admin(session, venue_sim, method, path, body)

                    label = demo_label(name)
                    account_id, report = await onboard_sim_client(
                        admin, keys_home, passphrase=passphrase, label=label,
                        balances=DEMO_BALANCES, symbols=(DEMO_SYMBOL,),
                        base_url=venue_sim.base_url, ca_file=ca_file,
                        canary_source=CANARY_SOURCE, exchange=name,
                    )
                    console.print(
                        f"created account {account_id} on {name} with {DEMO_BALANCES} and API "
                        f"key {label!r} (Read + Trade, allow list 127.0.0.1)", markup=False,
                    )
                    console.print(f"stored the key in the demo vault {keys_home.vault}",
                                  markup=False)
                    _checklist(console, report)
                    if report.verdict != "pass":
                        raise DemoError(f"the demo key on {name} did not pass verification; "
                                        "see the checklist above")

            sessions, refused = await open_sessions(
                config, home=keys_home, passphrase=passphrase, canary_source=CANARY_SOURCE,
                report=lambda m: console.print(m, markup=False),
            )
            if refused:
                raise DemoError(
                    "the keys gate refused the demo key: " + "; ".join(refused.values())
                )
            engine = build_engine(config, sessions, store=store, store_kpis=False,
                                  balance_snapshot_s=10.0)
            bridge, server = await serve_engine(
                engine, host=config.dashboard.host, port=dashboard_port,
                home=home, key_rows_home=keys_home, kpi_interval_s=config.kpi_interval_s,
                title="liquidity-bot demo", max_sse_clients=config.dashboard.max_sse_clients,
            )
            engine.before_flush.append(bridge.close)
            dispatcher.metrics = bridge.metrics
            dispatcher.show_on(bridge.state)
            monitor = AlertMonitor(dispatcher, config.alerts, samplers=bridge.samplers,
                                   metrics=bridge.metrics, keys_home=keys_home)
            console.print(f"dashboard: {server.url}  (metrics: {server.url}metrics)",
                          markup=False)
            console.print(f"quoting {DEMO_SYMBOL} on {' and '.join(sims)} for {duration_s:g} s "
                          "(Ctrl-C ends it cleanly)...", markup=False)
            try:
                with view_for(console, alerts=dispatcher, alerts_note=lambda: (
                        f"(receiver {receiver.url}: {len(receiver.received)} received)")) as view:
                    bridge.chain(view.update)
                    bridge.chain(monitor.on_tick)
                    # The report covers the bot's run: the simulator's start and the key's
                    # verification before it are the demo's, not a breach of the obligations.
                    started_ms = int(time.time() * 1000)
                    await engine.run(duration_s)
                    monitor.stopping(engine, f"the demo's {duration_s:g} s are over")
                    await dispatcher.close(timeout_s=5.0)
                    view.update(engine)
            finally:
                await server.stop()
            result = summary(engine)
            result["dashboard_url"] = server.url
            result["alerts"] = {"receiver": receiver.url, "received": len(receiver.received),
                                "sent": [n.headline() for n in dispatcher.history]}
            result.update(write_reports(store, home, config, started_ms))
        finally:
            await dispatcher.close(timeout_s=0.5)
            store.close()
    _print_summary(console, result, home)
    return result


def write_reports(store: Any, home: Path, config: Any, from_ms: int) -> dict[str, Any]:
    """The client report of this demo run, as HTML and JSON under ``<home>/reports/``."""
    from liquidity_bot.reporting.report import build_report, render

    rep = build_report(
        store, from_ms=from_ms, symbols=[m.symbol for m in config.markets],
        obligations={m.symbol: m.obligations for m in config.markets},
        interval_ms=int(config.kpi_interval_s * 1000),
    )
    folder = home / "reports"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(from_ms / 1000))
    files = {}
    for fmt in ("html", "json"):
        path = folder / f"demo-{stamp}.{fmt}"
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(render(rep, fmt), encoding="utf-8")
        tmp.replace(path)
        files[fmt] = str(path)
    return {"report": rep.to_json(), "report_files": files}


def _print_summary(console: Console, result: dict[str, Any], home: Path) -> None:
    table = Table(title="Demo summary")
    table.add_column("market", no_wrap=True)
    for name in ("orders", "cancels", "fills", "net XRP", "PnL USDT", "left open"):
        table.add_column(name, justify="right", no_wrap=True)
    for symbol, m in result["markets"].items():
        if "failed" in m:
            table.add_row(symbol, f"failed: {m['failed']}")
            continue
        table.add_row(
            symbol, str(m["orders_placed"]), str(m["cancel_requests"]), str(m["fills"]),
            f"{Decimal(m['base_traded']):.1f}", str(m["pnl_quote"]),
            str(m["open_after_shutdown"]),
        )
    console.print(table)
    for symbol, m in result["markets"].items():
        if "inventory" in m:
            held = ", ".join(f"{amount} {asset}" for asset, amount in m["inventory"].items())
            console.print(f"{symbol} inventory at exit: {held}", markup=False)
    for label, b in result.get("budgets", {}).items():
        console.print(
            f"order budget of key {label!r}: at most {b['max_in_any_window']} requests in any "
            f"60 s window (quoting target {b.get('target_per_window')}, emergency cap "
            f"{b['capacity_per_window']}, Bitrue allows 100); by purpose: "
            f"{b.get('requests_by_purpose') or {}}", markup=False,
        )
    report = result.get("report") or {}
    symbols = report.get("symbols") or {}
    rt = Table(title="Client report (this run)")
    rt.add_column("figure", no_wrap=True)
    for symbol in symbols:
        rt.add_column(symbol, justify="right", no_wrap=True)
    rows: list[tuple[str, Any]] = [
        ("obligation uptime %", lambda r: _fig(r.get("uptime_pct"))),
        ("two-sided %", lambda r: _fig(r.get("two_sided_pct"))),
        ("avg spread % (ours)", lambda r: _fig(r.get("avg_spread_pct"), 3)),
        ("avg depth +-2 % bid (quote)", lambda r: _fig(r.get("avg_depth_2pct_bid"))),
        ("avg depth +-2 % ask (quote)", lambda r: _fig(r.get("avg_depth_2pct_ask"))),
        ("PnL (quote)", lambda r: _fig((r.get("pnl") or {}).get("total"), 4)),
        ("against holding (quote)", lambda r: _fig((r.get("pnl") or {}).get("vs_hold"), 4)),
        ("volume (quote)", lambda r: _fig(r.get("volume"))),
        ("orders sent", lambda r: str(r.get("orders_sent"))),
        ("breaches", lambda r: str(len(r.get("breaches") or []))),
    ]
    for name, cell in rows:
        rt.add_row(name, *(cell(r) for r in symbols.values()))
    console.print(rt)
    console.print(
        "orders = orders placed, cancels = cancel requests, net XRP = inventory change from our "
        "fills (fees included), PnL = our trades marked at the last mid; obligation uptime = "
        "time-weighted share of the run in which our own quotes met the obligations (spread "
        "and +-2 % depth on both sides), as in the client report.", markup=False,
    )
    alerts = result.get("alerts") or {}
    if alerts:
        console.print(f"alerts: {alerts['received']} message(s) reached the loopback receiver "
                      f"{alerts['receiver']}", markup=False)
        for line in alerts["sent"][-10:]:
            console.print(f"  {line}", markup=False, highlight=False)
    files = result.get("report_files") or {}
    if files:
        console.print(f"report: {files.get('html')} (and {files.get('json')})", markup=False)
    console.print(
        f"state: {home} (liquidity-bot.db, audit.jsonl, {DEMO_VAULT}, reports/); read it again "
        f"with `liquidity-bot --home {home} report --format json` or "
        f"`liquidity-bot --home {home} export fills --json`", markup=False,
    )


def _fig(value: Any, places: int = 2) -> str:
    if value is None:
        return "-"
    try:
        return f"{Decimal(str(value)):,.{places}f}"
    except ArithmeticError:
        return str(value)
