"""The start-up check that a config can meet its obligations within the order budget."""

from __future__ import annotations

from pathlib import Path

from liquidity_bot.config import load_config, parse_config
from liquidity_bot.engine.feasibility import check

ROOT = Path(__file__).resolve().parents[2]

# The shape examples/bot.toml had before: five 100-USDT levels, a 1000 cap per side, two markets.
OLD = """
[[markets]]
symbol = "XRPUSDT"
key_label = "k"
client_id_prefix = "lb"
strategy = "ladder"
[markets.ladder]
levels = 5
base_spread_pct = "0.9"
level_spacing_pct = "0.2"
level_size_quote = "100"
[markets.obligations]
max_spread_pct = "1"
min_depth_2pct_quote = "300"
[markets.risk]
max_order_notional = "200"
max_open_notional_per_side = "1000"
max_base_inventory = "20000"
daily_loss_limit = "200"
"""


def test_the_shipped_configs_pass():
    assert check(load_config(ROOT / "examples" / "bot.toml", home=Path("/tmp"))) == []
    from liquidity_bot.demo import DEMO_ALERTS_ENV, DEMO_CONFIG

    demo = DEMO_CONFIG.format(base_url="http://127.0.0.1:1", alerts_env=DEMO_ALERTS_ENV)
    assert check(parse_config(demo, home=Path("/tmp"))) == []


def test_a_config_that_cannot_hold_its_obligations_is_told_what_to_change():
    problems = check(parse_config(OLD))
    text = "\n".join(problems)
    assert "raise level_size_quote or levels" in text
    assert "raise max_order_notional" in text  # 200 < 300: no single order meets the depth
    assert "max_open_notional_per_side" in text
    assert "lower base_spread_pct" in text
    assert all(p.startswith("XRPUSDT (key 'k')") for p in problems)


def test_too_many_markets_on_one_key_are_named():
    block = OLD + '[markets.order_manager]\norder_budget_share = "0.25"\n'
    many = "order_target_per_minute = 30\n" + "".join(
        block.replace("XRPUSDT", sym) for sym in ("XRPUSDT", "BTCUSDT", "ETHUSDT", "NOVAUSDT"))
    text = "\n".join(check(parse_config(many)))
    assert "7 order requests a minute (4 markets share the key's 30)" in text
