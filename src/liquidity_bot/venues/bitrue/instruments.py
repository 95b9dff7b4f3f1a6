"""Bitrue's exchangeInfo turned into the domain's ``Instrument``, and Bitrue's code per rule.

Built from one ``symbols[]`` entry of Bitrue's ``GET /api/v1/exchangeInfo``. Shapes seen in
the wild (Bitrue's docs, and answers captured by independent clients):

    {"symbol": "XRPUSDT", "status": "TRADING", "baseAsset": "xrp", "quoteAsset": "usdt",
     "filters": [
       {"filterType": "PRICE_FILTER", "minPrice": "0.666", "maxPrice": "66.600",
        "tickSize": "0.01", "priceScale": 2},
       {"filterType": "PERCENT_PRICE_BY_SIDE", "bidMultiplierUp": "1.3",
        "bidMultiplierDown": "0.1", "askMultiplierUp": "10.0", "askMultiplierDown": "0.7",
        "avgPriceMins": "1"},
       {"filterType": "LOT_SIZE", "minQty": "0.1", "minVal": "10.0",
        "maxQty": "999999999999999", "stepSize": "0.01", "volumeScale": 2}]}

Quirks handled here: assets may be lowercase (normalised to upper case); numbers may be JSON
strings or JSON numbers; ``tickSize``/``stepSize`` may be missing (only ``priceScale``/
``volumeScale`` given) and ``avgPriceMins`` may be a string. JSON numbers must reach us as
``int`` or ``Decimal`` (decode with ``json.loads(text, parse_float=Decimal)`` or ``str``).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from liquidity_bot.domain.instrument import (
    Instrument,
    InstrumentError,
    Rule,
    canonical,
    grid_lcm,
    to_decimal,
)

# Bitrue error codes (see docs/bitrue-api.md): what the exchange answers for each rule.
CODE_INVALID_VOLUME_OR_PRICE = -1111
CODE_INVALID_SYMBOL = -1121
CODE_REJECTED = -2010

# Price and lot-size filters are "invalid volume/price" (-1111); a symbol we do not know is
# -1121; a well-formed order refused for market reasons (halted symbol, price too far from the
# last trade) is "rejected" (-2010). minVal belongs to Bitrue's LOT_SIZE filter, hence -1111.
RULE_CODES: dict[Rule, int] = {
    Rule.SYMBOL: CODE_INVALID_SYMBOL,
    Rule.STATUS: CODE_REJECTED,
    Rule.PRICE_NOT_POSITIVE: CODE_INVALID_VOLUME_OR_PRICE,
    Rule.MIN_PRICE: CODE_INVALID_VOLUME_OR_PRICE,
    Rule.MAX_PRICE: CODE_INVALID_VOLUME_OR_PRICE,
    Rule.TICK_SIZE: CODE_INVALID_VOLUME_OR_PRICE,
    Rule.QTY_NOT_POSITIVE: CODE_INVALID_VOLUME_OR_PRICE,
    Rule.MIN_QTY: CODE_INVALID_VOLUME_OR_PRICE,
    Rule.MAX_QTY: CODE_INVALID_VOLUME_OR_PRICE,
    Rule.STEP_SIZE: CODE_INVALID_VOLUME_OR_PRICE,
    Rule.MIN_NOTIONAL: CODE_INVALID_VOLUME_OR_PRICE,
    Rule.PERCENT_PRICE_BY_SIDE: CODE_REJECTED,
}


def _to_int(value: object, what: str) -> int:
    """An integer field that may come as int, numeric string or integral Decimal."""
    number = to_decimal(value, what)
    if number != number.to_integral_value() or number < 0:
        raise InstrumentError(f"{what}: expected a non-negative integer, got {value!r}")
    return int(number)


def _grid(size: object, scale: int | None, what: str, symbol: str) -> Decimal:
    """The step both ``size`` (tickSize/stepSize) and ``scale`` (decimal places) allow.

    Bitrue publishes both and enforces both, and independent clients derive precision from
    the scale alone. When they disagree we keep the coarser grid: every price on it passes
    both checks, so a disagreement costs a little resolution instead of a -1111 reject. In
    general that grid is the least common multiple, which is simply the coarser of the two
    whenever one divides the other (always, in practice: 0.05 vs 2 places gives 0.05).
    """
    candidates: list[Decimal] = []
    if size is not None:
        step = to_decimal(size, f"{symbol} {what}Size")
        if step > 0:  # 0 means "not enforced" in this filter family
            candidates.append(canonical(step))
    if scale is not None:
        candidates.append(Decimal(1).scaleb(-scale))
    if not candidates:
        raise InstrumentError(
            f"{symbol}: exchangeInfo gives neither a positive {what}Size nor a "
            f"{'price' if what == 'tick' else 'volume'}Scale; cannot round safely"
        )
    grid = candidates[0]
    for other in candidates[1:]:
        grid = grid_lcm(grid, other)
    return canonical(grid)


def instrument_from_exchange_info(data: Mapping[str, Any]) -> Instrument:
    """Build from one ``symbols[]`` entry of exchangeInfo, exactly as Bitrue serves it."""
    symbol = str(data.get("symbol") or "").strip().upper()
    if not symbol:
        raise InstrumentError("exchangeInfo symbol entry has no 'symbol'")
    base = str(data.get("baseAsset") or "").strip().upper()
    quote = str(data.get("quoteAsset") or "").strip().upper()
    if not base or not quote:
        raise InstrumentError(f"{symbol}: exchangeInfo entry lacks baseAsset or quoteAsset")
    filters: dict[str, Mapping[str, Any]] = {}
    for entry in data.get("filters") or ():
        filters[str(entry.get("filterType", "")).upper()] = entry
    price = filters.get("PRICE_FILTER")
    lot = filters.get("LOT_SIZE")
    if price is None or lot is None:
        missing = [n for n, f in (("PRICE_FILTER", price), ("LOT_SIZE", lot)) if f is None]
        raise InstrumentError(
            f"{symbol}: exchangeInfo lacks {', '.join(missing)}; refusing to trade a symbol "
            "whose price and quantity rules are unknown"
        )

    def number(filt: Mapping[str, Any], key: str, default: str | None) -> Decimal | None:
        raw = filt.get(key)
        if raw is None or raw == "":
            return None if default is None else Decimal(default)
        return to_decimal(raw, f"{symbol} {key}")

    def limit(filt: Mapping[str, Any], key: str) -> Decimal | None:
        value = number(filt, key, None)
        return value if value is not None and value > 0 else None  # 0 = no limit

    price_scale = price.get("priceScale")
    volume_scale = lot.get("volumeScale")
    price_scale = None if price_scale is None else _to_int(price_scale, f"{symbol} priceScale")
    volume_scale = (
        None if volume_scale is None else _to_int(volume_scale, f"{symbol} volumeScale")
    )
    band = filters.get("PERCENT_PRICE_BY_SIDE") or {}
    return Instrument(
        symbol=symbol,
        base=base,
        quote=quote,
        tick=_grid(price.get("tickSize"), price_scale, "tick", symbol),
        step=_grid(lot.get("stepSize"), volume_scale, "step", symbol),
        price_scale=price_scale,
        volume_scale=volume_scale,
        min_price=number(price, "minPrice", "0"),
        max_price=limit(price, "maxPrice"),
        min_qty=number(lot, "minQty", "0"),
        max_qty=limit(lot, "maxQty"),
        min_val=number(lot, "minVal", "0"),
        bid_multiplier_up=limit(band, "bidMultiplierUp"),
        bid_multiplier_down=number(band, "bidMultiplierDown", None),
        ask_multiplier_up=limit(band, "askMultiplierUp"),
        ask_multiplier_down=number(band, "askMultiplierDown", None),
        status=str(data.get("status") or "TRADING").strip().upper(),
    )
