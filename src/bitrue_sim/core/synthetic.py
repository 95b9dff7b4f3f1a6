"""Many synthetic markets beside the listed ones: ``MK01USDT``, ``MK02USDT``, ...

One process quoting tens of markets needs an exchange that lists tens of markets. These are made
up, deterministic for their count and index, and varied the way real listings are (a sub-cent
small-cap, a dollar coin, a three-digit price...): each cycles through a few precision profiles
and gets its own initial price, so no two markets share both a price and a tick. The three
``DEFAULT_MARKETS`` are left as they are; these come after them.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from .markets import DEFAULT_MARKETS, MarketSpec

MAX_SYNTHETIC = 999  # three digits of symbol


@dataclass(frozen=True)
class _Profile:
    """Precision and price range of one kind of listing."""

    price_scale: int
    volume_scale: int
    base_price: Decimal
    min_val: Decimal
    band: Decimal  # PERCENT_PRICE_BY_SIDE: multipliers 1 +- band


_PROFILES: tuple[_Profile, ...] = (
    _Profile(4, 1, Decimal("0.5"), Decimal("1"), Decimal("0.1")),  # like XRP
    _Profile(6, 0, Decimal("0.0123"), Decimal("1"), Decimal("0.2")),  # a thin small-cap
    _Profile(3, 2, Decimal("2.5"), Decimal("1"), Decimal("0.1")),
    _Profile(2, 3, Decimal("35"), Decimal("5"), Decimal("0.05")),
    _Profile(1, 4, Decimal("420"), Decimal("5"), Decimal("0.05")),
)


def synthetic_symbol(index: int, count: int) -> str:
    """``MK01USDT`` for index 1 of up to 99 markets, ``MK001USDT`` of 100 or more."""
    return f"MK{index:0{2 if count < 100 else 3}d}USDT"


def synthetic_markets(count: int) -> tuple[MarketSpec, ...]:
    """``count`` made-up USDT markets (see the module docstring); 0 gives none."""
    if not 0 <= count <= MAX_SYNTHETIC:
        raise ValueError(f"synthetic market count must be within 0..{MAX_SYNTHETIC}, "
                         f"got {count}")
    out = []
    for i in range(1, count + 1):
        p = _PROFILES[(i - 1) % len(_PROFILES)]
        tick = Decimal(1).scaleb(-p.price_scale)
        step = Decimal(1).scaleb(-p.volume_scale)
        # 1.00x, 1.13x, 1.26x ... 2.17x of the profile's price, then round again
        factor = 1 + Decimal((i - 1) // len(_PROFILES) % 10) * Decimal("0.13")
        price = (p.base_price * factor).quantize(tick)
        symbol = synthetic_symbol(i, count)
        out.append(MarketSpec(
            symbol=symbol,
            base_asset=symbol[: -len("USDT")],
            quote_asset="USDT",
            tick_size=tick,
            price_scale=p.price_scale,
            step_size=step,
            volume_scale=p.volume_scale,
            min_price=tick,
            max_price=price * 1000,
            min_qty=step,
            max_qty=Decimal(10) ** 9,
            min_val=p.min_val,
            bid_multiplier_up=1 + p.band,
            bid_multiplier_down=1 - p.band,
            ask_multiplier_up=1 + p.band,
            ask_multiplier_down=1 - p.band,
            initial_price=price,
        ))
    return tuple(out)


def listed_markets(synthetic: int = 0) -> tuple[MarketSpec, ...]:
    """What the simulator lists: the default markets, then ``synthetic`` made-up ones."""
    return DEFAULT_MARKETS + synthetic_markets(synthetic)
