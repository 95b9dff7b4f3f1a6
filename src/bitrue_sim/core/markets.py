"""The symbols the simulator lists, and their Bitrue exchangeInfo entries."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


def _fmt(value: Decimal) -> str:
    """Plain decimal text without exponent (Bitrue sends '0.0001', never '1E-4')."""
    return format(value, "f")


@dataclass(frozen=True)
class MarketSpec:
    """One spot symbol's trading rules (Bitrue's PRICE_FILTER, PERCENT_PRICE_BY_SIDE, LOT_SIZE)."""

    symbol: str
    base_asset: str
    quote_asset: str
    tick_size: Decimal
    price_scale: int
    step_size: Decimal
    volume_scale: int
    min_price: Decimal
    max_price: Decimal
    min_qty: Decimal
    max_qty: Decimal
    min_val: Decimal
    bid_multiplier_up: Decimal
    bid_multiplier_down: Decimal
    ask_multiplier_up: Decimal
    ask_multiplier_down: Decimal
    initial_price: Decimal

    def __post_init__(self) -> None:
        for name in ("symbol", "base_asset", "quote_asset"):
            value = getattr(self, name)
            if value != value.upper():
                raise ValueError(f"MarketSpec.{name} must be upper case, got {value!r}")
        if self.tick_size <= 0 or self.step_size <= 0:
            raise ValueError(f"{self.symbol}: tick_size and step_size must be positive")
        if self.initial_price % self.tick_size != 0:
            raise ValueError(f"{self.symbol}: initial_price is not a multiple of tick_size")


DEFAULT_MARKETS: tuple[MarketSpec, ...] = (
    MarketSpec(
        symbol="XRPUSDT",
        base_asset="XRP",
        quote_asset="USDT",
        tick_size=Decimal("0.0001"),
        price_scale=4,
        step_size=Decimal("0.1"),
        volume_scale=1,
        min_price=Decimal("0.0001"),
        max_price=Decimal("100"),
        min_qty=Decimal("0.1"),
        max_qty=Decimal("10000000"),
        min_val=Decimal("1"),
        bid_multiplier_up=Decimal("1.1"),
        bid_multiplier_down=Decimal("0.9"),
        ask_multiplier_up=Decimal("1.1"),
        ask_multiplier_down=Decimal("0.9"),
        initial_price=Decimal("0.5000"),
    ),
    MarketSpec(
        # A thin small-cap: few decimals of quantity, a price near a cent, wide spreads.
        symbol="NOVAUSDT",
        base_asset="NOVA",
        quote_asset="USDT",
        tick_size=Decimal("0.000001"),
        price_scale=6,
        step_size=Decimal("1"),
        volume_scale=0,
        min_price=Decimal("0.000001"),
        max_price=Decimal("10"),
        min_qty=Decimal("1"),
        max_qty=Decimal("50000000"),
        min_val=Decimal("1"),
        bid_multiplier_up=Decimal("1.2"),
        bid_multiplier_down=Decimal("0.8"),
        ask_multiplier_up=Decimal("1.2"),
        ask_multiplier_down=Decimal("0.8"),
        initial_price=Decimal("0.012300"),
    ),
    MarketSpec(
        symbol="BTCUSDT",
        base_asset="BTC",
        quote_asset="USDT",
        tick_size=Decimal("0.01"),
        price_scale=2,
        step_size=Decimal("0.00001"),
        volume_scale=5,
        min_price=Decimal("0.01"),
        max_price=Decimal("1000000"),
        min_qty=Decimal("0.00001"),
        max_qty=Decimal("9000"),
        min_val=Decimal("5"),
        bid_multiplier_up=Decimal("1.05"),
        bid_multiplier_down=Decimal("0.95"),
        ask_multiplier_up=Decimal("1.05"),
        ask_multiplier_down=Decimal("0.95"),
        initial_price=Decimal("60000.00"),
    ),
)


def exchange_info_symbol(spec: MarketSpec) -> dict:
    """The ``symbols[]`` entry of GET /api/v1/exchangeInfo for one market, shaped as live Bitrue.

    Live Bitrue sends lowercase ``baseAsset``/``quoteAsset``, ``priceScale``/``volumeScale`` next
    to tick and step sizes, ``minVal`` inside LOT_SIZE and a ``defaultPrice``.
    """
    return {
        "symbol": spec.symbol,
        "status": "TRADING",
        "baseAsset": spec.base_asset.lower(),
        "baseAssetPrecision": spec.volume_scale,
        "quoteAsset": spec.quote_asset.lower(),
        "quotePrecision": spec.price_scale,
        "orderTypes": ["MARKET", "LIMIT"],
        "icebergAllowed": False,
        "filters": [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": _fmt(spec.min_price),
                "maxPrice": _fmt(spec.max_price),
                "tickSize": _fmt(spec.tick_size),
                "priceScale": spec.price_scale,
            },
            {
                "filterType": "PERCENT_PRICE_BY_SIDE",
                "bidMultiplierUp": _fmt(spec.bid_multiplier_up),
                "bidMultiplierDown": _fmt(spec.bid_multiplier_down),
                "askMultiplierUp": _fmt(spec.ask_multiplier_up),
                "askMultiplierDown": _fmt(spec.ask_multiplier_down),
            },
            {
                "filterType": "LOT_SIZE",
                "minQty": _fmt(spec.min_qty),
                "minVal": _fmt(spec.min_val),
                "maxQty": _fmt(spec.max_qty),
                "stepSize": _fmt(spec.step_size),
                "volumeScale": spec.volume_scale,
            },
        ],
        "defaultPrice": _fmt(spec.initial_price),
    }
