"""Inventory target and deviation in base quantity, shared by every strategy.

Both strategies lean against the difference between what they hold and a target, measured in
base quantity (not in share of the account's value: with a large account a fill barely moves the
share, and a price move moves it more than fills do, so a share target buys dips and bleeds in
trends). The target is `target_base_qty` when configured; otherwise `target_base_share` of the
value at mid, the older behaviour (price-dependent, kept for configs that do not set a quantity).
"""

from __future__ import annotations

from decimal import Decimal

from liquidity_bot.strategies.base import Inventory

ZERO = Decimal(0)
ONE = Decimal(1)


def target_base(
    inventory: Inventory, mid: Decimal, target_qty: Decimal | None, target_share: Decimal
) -> Decimal:
    """The base quantity the strategy steers toward."""
    if target_qty is not None:
        return target_qty
    total = inventory.base * mid + inventory.quote
    return total * target_share / mid if total > ZERO else ZERO


def deviation_ratio(deviation: Decimal, limit: Decimal) -> Decimal:
    """deviation / limit clamped to [-1, 1]: how far toward the maximum the inventory is."""
    if limit <= ZERO:
        return ZERO
    ratio = deviation / limit
    if ratio > ONE:
        return ONE
    return -ONE if ratio < -ONE else ratio

