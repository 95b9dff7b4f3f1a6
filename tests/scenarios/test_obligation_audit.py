"""The token project's audit beside the bot: the bot quotes on the simulator with its key
(allow list 127.0.0.1), the audit samples with a read-only key of the same account from another
loopback address (127.0.0.2), and the two reports agree.

Tolerance: over the same window, the two uptimes differ by at most ``TOLERANCE_PCT`` percentage
points. The bot samples its own book every 0.2 s, the audit the exchange every 0.25 s (at 2
request weight a sample), so a change is seen up to one interval apart on either side. The
window starts just after an audit sample, so the audit's first interval in it counts as a gap
(its sample before the window does not vouch into it): about 1.5 points of the difference in
these 16 s runs, nothing over a month.
"""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bitrue_sim.server.runner import SimServer
from liquidity_bot.obligation_audit.compare import compare_reports
from liquidity_bot.obligation_audit.config import AuditConfig, AuditMarket
from liquidity_bot.obligation_audit.report import audit_json
from liquidity_bot.obligation_audit.sampler import ObligationAudit
from liquidity_bot.reporting.report import build_report
from liquidity_bot.store import Store
from liquidity_bot.venues.bitrue.rest import BitrueRestClient
from liquidity_bot.venues.bitrue.urls import BitrueUrls

from .conftest import PREFIX, SYMBOL, admin, make_engine, new_key, running, two_sided, wait_for

AUDITOR = "127.0.0.2"
TOLERANCE_PCT = Decimal(3)
RUN_S = 16.0
AUDIT_INTERVAL_S = 0.25
BOT_INTERVAL_MS = 200  # make_engine's kpi_interval_s


async def audit_key(sim: SimServer, account_id: int) -> tuple[str, str]:
    created = await admin(sim, "POST", "/sim/admin/keys", {
        "account_id": account_id, "label": "audit", "permissions": ["read"],
        "ip_allowlist": [AUDITOR],
    })
    return created["api_key"], created["secret"]


def _store(path: Path) -> Store:
    s = Store(f"sqlite:///{path}")
    s.create_schema()
    return s


async def bot_and_audit(
    tmp: Path, seed: int, *, stop_bot_at: float | None = None, book_source: str = "rest"
) -> dict[str, Any]:
    """Run the bot and the audit side by side for ``RUN_S`` seconds (the bot stopped after
    ``stop_bot_at`` seconds if given); returns both JSON reports over the same window."""
    async with SimServer(port=0, seed=seed, scenario="volatile") as sim:
        account, key, secret = await new_key(sim)
        akey, asecret = await audit_key(sim, account)
        bot_store, audit_store = _store(tmp / "bot.db"), _store(tmp / "audit.db")
        engine = make_engine(sim, key, secret, store=bot_store)
        client = BitrueRestClient(
            BitrueUrls.single(sim.base_url), akey, asecret, source_address=AUDITOR
        )
        async with client, running(engine) as task:
            obligations = engine.runners[0].config.obligations
            cfg = AuditConfig(
                markets=(AuditMarket(symbol=SYMBOL, obligations=obligations,
                                     client_id_prefix=PREFIX),),
                interval_s=AUDIT_INTERVAL_S,
                history_interval_s=2.0,
                book_source=book_source,
            )
            await wait_for(lambda: two_sided(engine), "the bot quotes both sides")
            audit = ObligationAudit(cfg, client, audit_store, urls=client.urls)
            audit_task = asyncio.get_running_loop().create_task(audit.run())
            await wait_for(lambda: audit.samples >= 4, "the audit samples")
            from_ms = client.clock.now_ms()
            if stop_bot_at is not None:
                await asyncio.sleep(stop_bot_at)
                engine.stop()
                await asyncio.wait_for(task, 30)
                await asyncio.sleep(RUN_S - stop_bot_at)
            else:
                await asyncio.sleep(RUN_S)
            to_ms = client.clock.now_ms()
            audit.stop()
            await audit_task
        ob = {SYMBOL: obligations}
        ours = build_report(bot_store, from_ms=from_ms, to_ms=to_ms, obligations=ob,
                            interval_ms=BOT_INTERVAL_MS)
        theirs = build_report(audit_store, from_ms=from_ms, to_ms=to_ms, obligations=ob,
                              interval_ms=int(AUDIT_INTERVAL_S * 1000))
        result = {
            "ours": json.loads(json.dumps(ours.to_json())),
            "theirs": json.loads(json.dumps(audit_json(theirs, audit_store))),
            "weight": sim.rate_limiter.used("general", AUDITOR),
            "limited": dict(sim.rate_limiter.counters),
            # the bot's orders placed well inside the window, and every order the audit recorded
            "bot_ids": {o.client_order_id for o in bot_store.orders(symbol=SYMBOL)
                        if from_ms + 1000 <= o.created_ms < to_ms - 1000},
            "audit_ids": {o.client_order_id for o in audit_store.orders(symbol=SYMBOL)},
        }
        bot_store.close()
        audit_store.close()
        return result


def _uptime(doc: dict[str, Any]) -> Decimal:
    return Decimal(doc["symbols"][SYMBOL]["uptime_pct"])


@pytest.mark.parametrize(
    ("seed", "book_source"), [(3, "rest"), (7, "rest"), (13, "stream")]
)
async def test_audit_uptime_agrees_with_the_bots(tmp_path, seed, book_source) -> None:
    got = await bot_and_audit(tmp_path, seed, book_source=book_source)
    ours, theirs = _uptime(got["ours"]), _uptime(got["theirs"])
    print(f"seed {seed} ({book_source}): uptime bot {ours:.2f} % audit {theirs:.2f} %; "
          f"weight {got['weight']}")
    assert abs(ours - theirs) <= TOLERANCE_PCT, (ours, theirs)
    # 4 samples a second at 2 weight, lookups and history: well within 1200 a minute per IP
    assert got["weight"] < 300 and got["limited"] == {"429": 0, "418": 0, "bans": 0}
    entry = got["theirs"]["symbols"][SYMBOL]
    assert entry["samples"] >= RUN_S / AUDIT_INTERVAL_S * 0.8  # a sample every interval
    assert entry["audit"]["orders_seen_resting"] > 0
    # every order the bot placed, the exchange showed the audit; the counts per minute match
    # (an order sent within milliseconds of the window's edge may fall on either side of it)
    assert got["bot_ids"] and got["bot_ids"] <= got["audit_ids"]
    placed = sum(f["placed"] for f in entry["orders_per_minute"])
    bot_placed = sum(f["placed"] for f in got["ours"]["symbols"][SYMBOL]["orders_per_minute"])
    assert abs(placed - bot_placed) <= 2 and placed > 0, (placed, bot_placed)
    comparison = compare_reports(got["ours"], got["theirs"])
    assert comparison.worst_difference() <= TOLERANCE_PCT
    assert all(d.reason for d in comparison.disagreements)


async def test_bot_stopped_halfway_shows_the_breach_in_both(tmp_path) -> None:
    got = await bot_and_audit(tmp_path, 5, stop_bot_at=RUN_S / 2)
    ours, theirs = _uptime(got["ours"]), _uptime(got["theirs"])
    print(f"stopped halfway: uptime bot {ours:.2f} % audit {theirs:.2f} %")
    assert ours <= 55 and theirs <= 55, (ours, theirs)
    assert abs(ours - theirs) <= TOLERANCE_PCT, (ours, theirs)
    half = Decimal(RUN_S) / 2 * 1000
    for doc in (got["ours"], got["theirs"]):
        breaches = doc["symbols"][SYMBOL]["breaches"]
        longest = max(b["end_ms"] - b["start_ms"] for b in breaches)
        assert longest >= half * Decimal("0.9"), breaches
    # the bot's report sees a sampling gap (it stopped), the audit sees no two-sided quotes
    assert any("sampling_gap" in b["rules"] for b in got["ours"]["symbols"][SYMBOL]["breaches"])
    assert any("two_sided" in b["rules"] for b in got["theirs"]["symbols"][SYMBOL]["breaches"])


# --- the command line, end to end ---------------------------------------------------------------

def _cli(home: Path, args: list[str]):
    from typer.testing import CliRunner

    from liquidity_bot.cli import app

    env = {"LIQUIDITY_BOT_PASSPHRASE": "audit scenario passphrase"}
    return CliRunner().invoke(app, ["--home", str(home), *args], env=env)


async def test_audit_command_refuses_a_trading_key_and_reports_with_a_read_only_one(
    tmp_path, sim_quiet
) -> None:
    from liquidity_bot.keys.home import KeysHome
    from liquidity_bot.keys.hygiene import add_key
    from liquidity_bot.keys.vault import KdfParams

    sim = sim_quiet
    home = tmp_path / "home"
    account, tkey, tsecret = await new_key(sim)  # read + trade
    created = await admin(sim, "POST", "/sim/admin/keys", {
        "account_id": account, "label": "tradeable", "permissions": ["read", "trade"],
        "ip_allowlist": [AUDITOR]})
    akey, asecret = await audit_key(sim, account)
    fast = KdfParams(memory_kib=64, iterations=1, lanes=1)
    for label, k, s in (("Tradeable", created["api_key"], created["secret"]),
                        ("Obligation Audit", akey, asecret)):
        add_key(KeysHome(home), passphrase="audit scenario passphrase", exchange="bitrue",
                label=label, api_key=k, secret=s, kdf=fast, profile="audit")
    config = tmp_path / "audit.toml"
    config.write_text(
        Path(__file__).parents[2].joinpath("examples/audit.toml").read_text()
        .replace('# base_url = "http://127.0.0.1:8999"', f'base_url = "{sim.base_url}"')
        .replace('# source_address = "203.0.113.20"', f'source_address = "{AUDITOR}"')
        .replace('client_id_prefix = "lb"', f'client_id_prefix = "{PREFIX}"')
        .replace('min_depth_2pct_quote = "500"', 'min_depth_2pct_quote = "100"')
    )
    run = ["audit", "--config", str(config), "--canary-source", "127.0.0.3", "--interval", "0.5"]
    refused = await asyncio.to_thread(_cli, home, [*run, "--key", "Tradeable", "--duration", "1"])
    assert refused.exit_code == 1, refused.output
    assert "trade_disabled failed" in refused.output and "untick 'Trade'" in refused.output
    assert created["secret"] not in refused.output
    # the bot's key places an order of ours, so the audit has something to see
    from .conftest import rest

    async with rest(sim, tkey, tsecret) as bot:
        await bot.place_order(SYMBOL, "BUY", Decimal("250"), Decimal("0.49"),
                              client_order_id=f"{PREFIX}cli1")
    out = tmp_path / "reports"
    done = await asyncio.to_thread(_cli, home, [*run, "--duration", "3", "--report-dir", str(out)])
    assert done.exit_code == 0, done.output
    assert asecret not in done.output
    doc = json.loads((out / "audit-report.json").read_text())
    entry = doc["symbols"][SYMBOL]
    assert doc["kind"] == "obligation_audit" and entry["samples"] >= 4
    assert entry["audit"]["orders_seen_resting"] == 0  # placed before the audit began
    assert "two_sided" in {r for b in entry["breaches"] for r in b["rules"]}  # one side only
    html_text = (out / "audit-report.html").read_text()
    assert "Obligation audit report" in html_text and "<h3>PnL</h3>" not in html_text
    assert "as the exchange recorded them" in html_text
    assert (out / "audit-report.csv").read_text().startswith("symbol,ts_ms")
    # a report of any period from the audit's own store, and the comparison
    again = await asyncio.to_thread(
        _cli, home, ["audit", "report", "--config", str(config), "--format", "json",
                     "--out", str(tmp_path / "month.json")])
    assert again.exit_code == 0, again.output
    cmp = await asyncio.to_thread(
        _cli, home, ["audit", "compare", "--ours", str(out / "audit-report.json"), "--theirs",
                     str(tmp_path / "month.json")])
    assert cmp.exit_code == 0 and "XRPUSDT" in cmp.output, cmp.output


async def test_audit_runs_until_stopped_and_keeps_its_samples(tmp_path, sim_quiet) -> None:
    """Without --duration the audit runs until SIGTERM, then writes its report; its store keeps
    the samples for a later report."""
    import os
    import signal
    import sys

    from liquidity_bot.keys.home import KeysHome
    from liquidity_bot.keys.hygiene import add_key
    from liquidity_bot.keys.vault import KdfParams

    sim = sim_quiet
    home = tmp_path / "home"
    account, _, _ = await new_key(sim)
    akey, asecret = await audit_key(sim, account)
    add_key(KeysHome(home), passphrase="audit scenario passphrase", exchange="bitrue",
            label="Obligation Audit", api_key=akey, secret=asecret,
            kdf=KdfParams(memory_kib=64, iterations=1, lanes=1), profile="audit")
    config = tmp_path / "audit.toml"
    config.write_text(
        f'interval_s = 0.5\n[bitrue]\nbase_url = "{sim.base_url}"\nsource_address = "{AUDITOR}"\n'
        '[[markets]]\nsymbol = "XRPUSDT"\n[markets.obligations]\nmax_spread_pct = "1"\n'
        'min_depth_2pct_quote = "100"\n'
    )
    env = dict(os.environ, LIQUIDITY_BOT_PASSPHRASE="audit scenario passphrase",
               PYTHONPATH=str(Path(__file__).parents[2] / "src"))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "liquidity_bot.cli", "--home", str(home), "audit", "--config",
        str(config), "--canary-source", "127.0.0.3", "--report-dir", str(tmp_path / "out"),
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    store = Store(f"sqlite:///{home}/audit.db")
    try:
        async def sampled() -> bool:
            try:
                return len(store.kpi_samples(SYMBOL)) >= 4
            except Exception:  # noqa: BLE001 - the audit has not created its store yet
                return False

        from .conftest import wait_for_async

        await wait_for_async(sampled, "the audit stores samples", timeout=60)
        proc.send_signal(signal.SIGTERM)
        out, _ = await asyncio.wait_for(proc.communicate(), 60)
    finally:
        if proc.returncode is None:
            proc.kill()
    assert proc.returncode == 0, out.decode()
    assert asecret not in out.decode()
    doc = json.loads((tmp_path / "out" / "audit-report.json").read_text())
    assert doc["symbols"][SYMBOL]["samples"] >= 4
    assert len(store.kpi_samples(SYMBOL)) == doc["symbols"][SYMBOL]["samples"]
    store.close()


async def test_orders_between_two_samples_are_found_in_the_history(tmp_path, sim_quiet) -> None:
    """An order placed and cancelled between two samples: no sample saw it, the order history
    did; a resting order that is then cancelled is looked up and recorded as cancelled."""
    from .conftest import rest

    sim = sim_quiet
    account, key, secret = await new_key(sim)
    akey, asecret = await audit_key(sim, account)
    store = _store(tmp_path / "audit.db")
    client = BitrueRestClient(BitrueUrls.single(sim.base_url), akey, asecret,
                              source_address=AUDITOR)
    from liquidity_bot.config import ObligationsConfig

    cfg = AuditConfig(
        markets=(AuditMarket(symbol=SYMBOL, client_id_prefix=PREFIX, obligations=ObligationsConfig(
            max_spread_pct=Decimal(1), min_depth_2pct_quote=Decimal(100))),),
        interval_s=2.0, history_interval_s=1.0,
    )
    audit = ObligationAudit(cfg, client, store)
    async with client, rest(sim, key, secret) as bot:
        task = asyncio.get_running_loop().create_task(audit.run())
        await wait_for(lambda: audit.samples >= 1, "the first sample")
        # right after a sample: placed and cancelled long before the next one (2 s)
        await bot.place_order(SYMBOL, "BUY", Decimal(300), Decimal("0.49"),
                              client_order_id=f"{PREFIX}flash")
        await bot.cancel_order(SYMBOL, client_order_id=f"{PREFIX}flash")
        await bot.place_order(SYMBOL, "SELL", Decimal(300), Decimal("0.51"),
                              client_order_id=f"{PREFIX}rest")
        await wait_for(lambda: store.order(f"{PREFIX}rest") is not None
                       and store.order(f"{PREFIX}flash") is not None, "both orders recorded")
        await wait_for(lambda: any(e.event == "AUDIT_SAMPLED"
                                   for e in store.order_events(f"{PREFIX}rest")),
                       "a sample sees the resting order")
        await bot.cancel_order(SYMBOL, client_order_id=f"{PREFIX}rest")
        await wait_for(lambda: store.order(f"{PREFIX}rest").status == "CANCELED",
                       "the cancel is looked up")
        audit.stop()
        await task
    flash = store.order(f"{PREFIX}flash")
    assert flash.status == "CANCELED" and not store.order_events(f"{PREFIX}flash")
    doc = audit_json(build_report(store, obligations={SYMBOL: cfg.markets[0].obligations}), store)
    assert doc["symbols"][SYMBOL]["audit"] == {
        "orders_placed": 2, "orders_seen_resting": 1, "orders_not_seen_by_samples": 1}
    flow = doc["symbols"][SYMBOL]["orders_per_minute"]
    assert sum(f["placed"] for f in flow) == 2 and sum(f["cancelled"] for f in flow) == 2
    store.close()
