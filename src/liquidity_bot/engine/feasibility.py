"""Can a config meet its obligations within the order budget? Checked before anything runs.

``run`` and ``backtest`` print these warnings at start: each names the market, what will go
wrong, and what to change. The arithmetic follows the planner (``engine.planner``): each side
is carried by an inner order of ``inner_cover`` x the minimum depth and a backup of
``backup_cover`` x it, cut from the size the strategy shows on that side; quoting stays under
``order_target_per_minute`` per key, shared by the key's markets.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from liquidity_bot.config import BotConfig, MarketConfig
from liquidity_bot.engine.planner import PlanRules

# Requests a market needs in a quiet minute, roughly: a restore and a rescue per side after
# fills, and the inner order following the strategy now and then. Below this share of the
# target a market cannot keep up with even a calm book.
MIN_REQUESTS_PER_MARKET = 8


def side_size_quote(m: MarketConfig) -> Decimal:
    """The quote-currency size the market's strategy shows on each side."""
    if m.ladder is not None:
        return m.ladder.level_size_quote * m.ladder.levels
    if m.avellaneda is not None:
        return m.avellaneda.order_size_quote * m.avellaneda.levels
    return Decimal(0)


def inner_half_spread_pct(m: MarketConfig) -> Decimal | None:
    """How far from mid the strategy wants its inner quotes, in percent (None: it varies)."""
    if m.ladder is not None:
        return max(m.ladder.base_spread_pct, m.ladder.min_spread_pct) / 2
    return None


def check(config: BotConfig) -> list[str]:
    """Warnings, each saying what to change (empty: nothing found)."""
    rules = PlanRules()
    out: list[str] = []
    by_key: dict[str, list[MarketConfig]] = defaultdict(list)
    for m in config.markets:
        by_key[m.key_label].append(m)
        need = m.obligations.min_depth_2pct_quote
        where = f"{m.symbol} (key {m.key_label!r})"
        if need > 0:
            size = side_size_quote(m)
            core = need * (rules.inner_cover + rules.backup_cover)
            if size < core:
                out.append(
                    f"{where}: the strategy shows {size} a side, less than the "
                    f"{core} that an inner order and a backup need for min_depth_2pct_quote "
                    f"{need}: one fill can break the depth until a new order is placed; raise "
                    "level_size_quote or levels (order_size_quote for avellaneda)")
            if m.risk.max_order_notional < need * Decimal("1.05"):
                out.append(
                    f"{where}: max_order_notional {m.risk.max_order_notional} is below the "
                    f"minimum depth {need}: no single order can meet it and each fill costs "
                    "several requests; raise max_order_notional")
            if m.risk.max_open_notional_per_side < core * Decimal("1.5"):
                out.append(
                    f"{where}: max_open_notional_per_side {m.risk.max_open_notional_per_side} "
                    f"leaves no room to place a replacement beside the {core} a side holds; "
                    f"raise it to at least {core * Decimal('1.5')}")
        half = inner_half_spread_pct(m)
        if half is not None and 2 * half > m.obligations.max_spread_pct * rules.spread_margin:
            out.append(
                f"{where}: the ladder's spread {2 * half} % is within "
                f"{(1 - rules.spread_margin) * 100:.0f} % of max_spread_pct "
                f"{m.obligations.max_spread_pct}: every fill forces a rescue; lower "
                "base_spread_pct")
    for label, markets in by_key.items():
        shares = [m.order_manager.order_budget_share for m in markets]
        total = max(sum(shares, Decimal(0)), Decimal(1))
        for m, share in zip(markets, shares, strict=True):
            per_min = int(config.order_target_per_minute * share / total)
            if per_min < MIN_REQUESTS_PER_MARKET:
                out.append(
                    f"{m.symbol} (key {label!r}): {per_min} order requests a minute "
                    f"({len(markets)} markets share the key's {config.order_target_per_minute}) "
                    f"is too little to keep the obligations (at least {MIN_REQUESTS_PER_MARKET}); "
                    "move markets to another key, raise order_target_per_minute or this "
                    "market's order_budget_share")
    return out
