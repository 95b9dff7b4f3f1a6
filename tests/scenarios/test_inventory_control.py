"""Inventory control in base quantity, end to end: on the `trending` stress scenario (drift and
informed takers) both strategies keep the base held within its bounds, on the live engine in a
backtest. The bound is `max_base_deviation` plus what the obligations force a side to show at
the bound (what the order planner places to carry them, up to 2.7 x the minimum depth, here
about 1 650 XRP); without the control, the same market and seed runs far past it (the test can
fail)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from liquidity_bot.backtest import run_backtest
from liquidity_bot.config import parse_config
from liquidity_bot.reporting.markouts import position_range
from liquidity_bot.store import Store

MARKET = """
[[markets]]
symbol = "XRPUSDT"
key_label = "inv"
client_id_prefix = "lbinv"
strategy = "{strategy}"
{block}
[markets.obligations]
max_spread_pct = "1"
min_depth_2pct_quote = "300"
[markets.risk]
max_order_notional = "500"
max_open_notional_per_side = "3000"
max_base_inventory = "50000"
daily_loss_limit = "100000"
[markets.order_manager]
price_tolerance_pct = "0.25"
size_tolerance_pct = "20"
"""
CONTROL = 'target_base_qty = "12000"\nmax_base_deviation = "1500"\n'
LADDER = '[markets.ladder]\nlevels = 3\nbase_spread_pct = "0.6"\nlevel_spacing_pct = "0.1"\n' \
         'level_size_quote = "300"\n'
GLFT = '[markets.avellaneda]\norder_size_quote = "300"\nlevels = 3\nlevel_spacing_pct = "0.1"\n' \
       'max_spread_pct = "0.9"\n'
FUNDING = {"XRP": Decimal(12000), "USDT": Decimal(6000)}
# max_base_deviation + the obligation's core at the bound: 2.7 x 300 USDT at about 0.49
BOUND = Decimal(1500) + Decimal(810) / Decimal("0.49")


def excursion(strategy: str, block: str, tmp_path, seed: int = 2) -> tuple[Decimal, float]:
    config = parse_config(MARKET.format(strategy=strategy, block=block), source="test config")
    url = f"sqlite:///{tmp_path}/{strategy}-{abs(hash(block))}.db"
    result = run_backtest(config, scenario="trending", hours=1, seed=seed, store_url=url,
                          funding=FUNDING)
    store = Store(url)
    try:
        low, high, _ = position_range(store.fills(symbol="XRPUSDT"))
    finally:
        store.close()
    (market,) = result.markets
    assert market.uptime is not None
    return max(-low, high), market.uptime


@pytest.mark.parametrize("strategy, block", [("ladder", LADDER + 'skew_strength = "3"\n'),
                                             ("avellaneda", GLFT)])
def test_inventory_stays_within_its_bounds_in_a_trend(strategy, block, tmp_path):
    worst, uptime = excursion(strategy, block + CONTROL, tmp_path)
    assert worst <= BOUND, f"{strategy}: base moved {worst} from its target (bound {BOUND})"
    assert uptime >= 0.99


def test_without_the_control_the_same_trend_runs_past_the_bound(tmp_path):
    worst, _ = excursion("ladder", LADDER + 'skew_strength = "0"\n', tmp_path)
    assert worst > BOUND
