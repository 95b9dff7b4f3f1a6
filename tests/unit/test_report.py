"""The client report: figures from a hand-made store, the three formats, and the CLI command."""

from __future__ import annotations

import csv
import io
import json
import re
from decimal import Decimal as D
from pathlib import Path

import pytest
from typer.testing import CliRunner

from liquidity_bot.cli import app
from liquidity_bot.reporting.cli import parse_time
from liquidity_bot.reporting.kpi import Breach, breach_audit_event
from liquidity_bot.reporting.report import build_report, render
from liquidity_bot.reporting.sample_session import SampleObligations, record_sample_session
from liquidity_bot.store import BalanceSnapshot, FillRecord, KpiSample, OrderRecord, Store

T0 = 1_795_000_000_000
OBL = SampleObligations(max_spread_pct=D("1"), min_depth_2pct_quote=D("100"))


def sample(
    t: int,
    met: bool,
    spread: str = "0.5",
    bid: str = "150",
    ask: str = "150",
    two_sided: bool = True,
) -> KpiSample:
    return KpiSample(
        "XRPUSDT",
        T0 + t * 1000,
        D(bid),
        D(ask),
        two_sided,
        met,
        mid=D("0.5"),
        best_bid=D("0.4990"),
        best_ask=D("0.5010"),
        spread_pct=D("0.4"),
        our_spread_pct=D(spread) if two_sided else None,
    )


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(f"sqlite:///{tmp_path}/liquidity-bot.db")
    s.create_schema()
    yield s
    s.close()


def hand_made(store: Store) -> None:
    """10 s: met 0-4, spread too wide 4-6 (risk refusal recorded), met 6-7, no samples 7-10."""
    rows = [sample(t, True) for t in range(4)]
    rows += [sample(4, False, spread="1.5"), sample(5, False, spread="1.5")]
    rows += [sample(6, True)]
    store.add_kpi_sample(rows)
    store.add_audit_event(
        breach_audit_event(
            Breach("XRPUSDT", T0 + 4000, T0 + 6000, ("max_spread",), ("risk_refusal",))
        )
    )
    store.add_balance_snapshot(
        [BalanceSnapshot(T0, "XRP", D("1000"), D(0)), BalanceSnapshot(T0, "USDT", D("500"), D(0))]
    )
    store.upsert_order(
        OrderRecord(
            "lb1",
            "XRPUSDT",
            "BUY",
            D("0.4975"),
            D("300"),
            "FILLED",
            T0 + 500,
            T0 + 2000,
            D("300"),
            D("0.4975"),
        )
    )
    store.upsert_order(
        OrderRecord(
            "lb2", "XRPUSDT", "SELL", D("0.5025"), D("300"), "CANCELED", T0 + 500, T0 + 3000
        )
    )
    store.add_fill(
        FillRecord(
            "XRPUSDT", "t1", "BUY", D("0.4975"), D("300"), T0 + 2000, D("0.15"), "USDT", "lb1"
        )
    )


def test_figures_of_a_hand_made_period(store: Store):
    hand_made(store)
    rep = build_report(
        store, from_ms=T0, to_ms=T0 + 10_000, obligations={"XRPUSDT": OBL}, interval_ms=1000
    )
    data = json.loads(render(rep, "json"))["symbols"]["XRPUSDT"]
    # met 0-4 s and 6-7 s = 5 s of 10 s; 7-10 s is a gap (the last sample vouches for 1 s)
    assert D(data["uptime_pct"]) == 50
    assert D(data["sampling_gap_s"]) == 3
    assert D(data["avg_spread_pct"]) == (D("0.5") * 5 + D("1.5") * 2) / 7
    assert D(data["avg_depth_2pct_bid"]) == D(data["avg_depth_2pct_ask"]) == 150
    assert [
        (b["start_ms"] - T0, b["end_ms"] - T0, b["rules"], b["causes"]) for b in data["breaches"]
    ] == [
        (4000, 6000, ["max_spread"], ["risk_refusal"]),
        (7000, 10_000, ["sampling_gap"], []),
    ]
    assert data["orders_sent"] == 2
    assert D(data["volume"]) == D("149.25")
    pnl = data["pnl"]
    assert D(pnl["fees_quote"]) == D("0.15")
    assert D(pnl["position"]) == 300 and D(pnl["unrealized"]) == D("0.75")  # (0.5 - 0.4975) x 300
    assert D(pnl["inventory_base"]) == 1300 and D(pnl["vs_hold"]) == D("0.6")
    assert data["activity"]["fill_ratio"] == "0.5"
    assert data["activity"]["orders_cancelled"] == 1


def test_html_is_one_self_contained_file(store: Store):
    record_sample_session(store, start_ms=T0, minutes=4, obligations=OBL)
    rep = build_report(store, obligations={"XRPUSDT": OBL}, interval_ms=1000)
    page = render(rep, "html")
    assert page.startswith("<!DOCTYPE html>")
    assert page.count("<svg") == 7  # price, spread, depth, inventory, PnL, uptime, markouts
    # nothing loaded from elsewhere: no src/href attributes, no URL but the SVG namespace
    assert not re.search(r"\b(src|href)\s*=", page)
    assert set(re.findall(r"https?://[^\s\"']+", page)) == {"http://www.w3.org/2000/svg"}
    assert "<script" not in page
    assert "Uptime" in page and "Breaches" in page and "max 1 %" in page


def test_csv_has_every_sample_exactly(store: Store):
    hand_made(store)
    rep = build_report(store)
    rows = list(csv.DictReader(io.StringIO(render(rep, "csv"))))
    assert len(rows) == 7
    assert rows[4]["our_spread_pct"] == "1.5" and rows[4]["obligations_met"] == "0"
    assert rows[0]["time_utc"].endswith("UTC") and rows[0]["mid"] == "0.5"


def test_sample_session_records_the_three_incidents(store: Store):
    sampler = record_sample_session(store, start_ms=T0, minutes=5, obligations=OBL)
    causes = [b.causes for b in sampler.breaches]
    assert ("budget",) in causes and ("risk_refusal",) in causes and ("no_samples",) in causes
    rep = build_report(store, obligations={"XRPUSDT": OBL}, interval_ms=1000)
    (r,) = rep.symbols
    assert abs(r.uptime.met_ms - sampler.met_ms) <= 1000  # the report adds the last interval
    assert r.activity.orders_sent > 0 and r.pnl.total is not None


def test_parse_time():
    from datetime import UTC, datetime

    now = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    assert parse_time("2026-11-24", now) == int(
        datetime(2026, 11, 24, tzinfo=UTC).timestamp() * 1000
    )
    assert parse_time("2026-11-24T13:00Z", now) == parse_time("2026-11-24T13:00:00+00:00", now)
    assert parse_time("24h", now) == int(
        datetime(2026, 11, 23, 12, 0, tzinfo=UTC).timestamp() * 1000
    )
    assert parse_time("1795000000000", now) == 1_795_000_000_000
    import typer

    with pytest.raises(typer.BadParameter, match="ISO 8601"):
        parse_time("yesterday", now)


def test_cli_report_reads_the_home_database(store: Store, tmp_path: Path):
    hand_made(store)
    out = tmp_path / "r.json"
    runner = CliRunner()
    result = runner.invoke(
        app,
        [
            "--home",
            str(tmp_path),
            "report",
            "--format",
            "json",
            "--out",
            str(out),
            "--symbol",
            "xrpusdt",
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert set(data["symbols"]) == {"XRPUSDT"}
    for key in (
        "uptime_pct",
        "avg_spread_pct",
        "avg_depth_2pct_bid",
        "avg_depth_2pct_ask",
        "breaches",
        "pnl",
        "volume",
        "orders_sent",
    ):
        assert key in data["symbols"]["XRPUSDT"]
    result = runner.invoke(app, ["--home", str(tmp_path), "report", "--format", "csv"])
    assert result.exit_code == 0 and result.stdout.count("\n") == 8
    result = runner.invoke(app, ["--home", str(tmp_path), "report", "--format", "pdf"])
    assert result.exit_code != 0


def test_cli_report_without_a_database_says_what_to_do(tmp_path: Path):
    result = CliRunner().invoke(app, ["--home", str(tmp_path / "empty"), "report"])
    assert result.exit_code == 2
    assert "run the bot (or the demo) first" in result.output


def test_html_escapes_text_the_exchange_supplied(store: Store):
    """A commissionAsset is the exchange's text: it must never become markup in the page."""
    hand_made(store)
    evil = "<img src=x onerror=alert(1)>"
    store.add_fill(
        FillRecord("XRPUSDT", "t2", "SELL", D("0.5025"), D("10"), T0 + 3000, D("0.01"), evil, "lb2")
    )
    rep = build_report(
        store, from_ms=T0, to_ms=T0 + 10_000, obligations={"XRPUSDT": OBL}, interval_ms=1000
    )
    page = render(rep, "html")
    assert "<img" not in page.lower()
    assert "&lt;img src=x onerror=alert(1)&gt;" in page.lower()  # shown, as text
