"""The shipped configs meet their obligations within the order budget, on virtual time.

`make demo` starts the simulator from a random seed, so the demo's config is run here over
several seeds of the same scenario; examples/bot.toml (two markets on one key) likewise. Each
backtest is deterministic for its seed, so these are not timing tests: a figure below the bar
is a regression of the quoting itself.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from liquidity_bot.backtest import run_backtest
from liquidity_bot.config import load_config, parse_config

ROOT = Path(__file__).resolve().parents[2]


def demo_config():
    from liquidity_bot.demo import DEMO_ALERTS_ENV, DEMO_CONFIG

    return parse_config(DEMO_CONFIG.format(base_url="http://127.0.0.1:1",
                                           alerts_env=DEMO_ALERTS_ENV), home=Path("/tmp"))


@pytest.mark.parametrize("seed", [11, 12, 13, 14, 15])
def test_the_demo_config_holds_98_percent_uptime_on_volatile(seed: int) -> None:
    r = run_backtest(demo_config(), scenario="volatile", hours=0.1, seed=seed)
    (m,) = r.markets
    assert m.uptime is not None and m.uptime >= 0.98, (seed, m)
    assert r.max_order_requests_per_window <= 60 and r.rate_limited == 0


@pytest.mark.parametrize("seed", [31, 32, 33])
def test_the_demo_config_meets_its_obligations_on_its_own_scenario_altcoin(seed: int) -> None:
    r = run_backtest(demo_config(), scenario="altcoin", hours=0.25, seed=seed)
    (m,) = r.markets
    assert m.uptime is not None and m.uptime >= 0.98, (seed, m)
    assert r.max_order_requests_per_window <= 60 and r.rate_limited == 0


@pytest.mark.parametrize("seed", [21, 22])
def test_examples_bot_toml_holds_its_obligations_on_volatile(seed: int) -> None:
    cfg = load_config(ROOT / "examples" / "bot.toml", home=Path("/tmp"))
    r = run_backtest(cfg, scenario="volatile", hours=0.25, seed=seed)
    for m in r.markets:
        assert m.uptime is not None and m.uptime >= 0.98, (seed, m)
    assert r.max_order_requests_per_window <= 60 and r.rate_limited == 0


def test_the_loss_limit_falls_back_to_minimum_quoting_and_the_report_says_so(tmp_path) -> None:
    """Against holding, a tiny loss limit is reached on 'volatile'; the market goes on quoting
    the minimum obligation (one order a side) and the report names the fallback."""
    import json

    from liquidity_bot.backtest.runner import write_report
    from liquidity_bot.store import Store

    text = (ROOT / "examples" / "bot.toml").read_text(encoding="utf-8")
    text = text.replace('daily_loss_limit = "200"', 'daily_loss_limit = "1"', 1)
    cfg = parse_config(text, home=Path("/tmp"))
    url = f"sqlite:///{tmp_path}/bt.db"
    r = run_backtest(cfg, scenario="volatile", hours=0.1, seed=3, store_url=url)
    xrp = r.summary["markets"]["XRPUSDT"]
    assert "minimum obligation" in (xrp["loss_limit"] or "")
    assert r.markets[0].uptime >= 0.95, "quoting goes on, at the minimum"
    store = Store(url)
    try:
        out = write_report(store, cfg, tmp_path / "r.json", "json")
    finally:
        store.close()
    events = json.loads(out.read_text())["symbols"]["XRPUSDT"]["risk_events"]
    assert [e["action"] for e in events] == ["loss_limit_minimum"]
    assert "daily loss" in events[0]["message"]
