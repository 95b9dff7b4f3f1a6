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


@pytest.mark.parametrize("seed", [21, 22])
def test_examples_bot_toml_holds_its_obligations_on_volatile(seed: int) -> None:
    cfg = load_config(ROOT / "examples" / "bot.toml", home=Path("/tmp"))
    r = run_backtest(cfg, scenario="volatile", hours=0.25, seed=seed)
    for m in r.markets:
        assert m.uptime is not None and m.uptime >= 0.98, (seed, m)
    assert r.max_order_requests_per_window <= 60 and r.rate_limited == 0
