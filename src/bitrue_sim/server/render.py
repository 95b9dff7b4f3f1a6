"""Core snapshots -> Bitrue JSON, shaped as the docs' examples (string numbers, ``orderIdStr``).

Numbers are strings without exponent; prices carry the market's ``priceScale`` decimals and
quantities its ``volumeScale`` decimals (live Bitrue pads them the same way). Order ids are JSON
integers above 2**53 plus ``orderIdStr`` for clients that parse JSON numbers as floats.
"""

from __future__ import annotations

from decimal import Decimal

from bitrue_sim.core.markets import MarketSpec
from bitrue_sim.core.model import Fill, Order, PublicTrade


def plain(value: Decimal) -> str:
    """Decimal as plain text ('0.0001', never '1E-4')."""
    return format(value, "f")


def scaled(value: Decimal, places: int) -> str:
    """Pad to ``places`` decimals; never round away digits (then plain text is sent)."""
    try:
        q = value.quantize(Decimal(1).scaleb(-places))
    except ArithmeticError:  # pragma: no cover - huge values
        return plain(value)
    return format(q, "f") if q == value else plain(value)


def price(value: Decimal, spec: MarketSpec) -> str:
    return scaled(value, spec.price_scale)


def qty(value: Decimal, spec: MarketSpec) -> str:
    return scaled(value, spec.volume_scale)


def order_ack(order: Order) -> dict:
    """POST /api/v1/order answer."""
    return {
        "symbol": order.symbol,
        "orderId": order.order_id,
        "orderIdStr": str(order.order_id),
        "clientOrderId": order.client_order_id,
        "transactTime": order.time,
    }


def order(o: Order, spec: MarketSpec) -> dict:
    """GET /api/v1/order, openOrders, allOrders entry."""
    return {
        "symbol": o.symbol,
        "orderId": o.order_id,
        "orderIdStr": str(o.order_id),
        "clientOrderId": o.client_order_id,
        "price": price(o.price, spec),
        "origQty": qty(o.orig_qty, spec),
        "executedQty": qty(o.executed_qty, spec),
        "cummulativeQuoteQty": plain(o.cummulative_quote_qty),
        "status": o.status,
        "timeInForce": "GTC",
        "type": o.type,
        "side": o.side,
        "stopPrice": "0",
        "icebergQty": "0",
        "time": o.time,
        "updateTime": o.update_time,
        "isWorking": o.is_open,
    }


def cancel_ack(o: Order, new_client_order_id: str | None) -> dict:
    """DELETE /api/v1/order answer."""
    return {
        "symbol": o.symbol,
        "origClientOrderId": o.client_order_id,
        "orderId": o.order_id,
        "orderIdStr": str(o.order_id),
        "clientOrderId": new_client_order_id or o.client_order_id,
    }


def my_trade(f: Fill, spec: MarketSpec) -> dict:
    """GET /api/v2/myTrades entry (``tradeId`` equals ``t`` of the WS order event)."""
    return {
        "symbol": f.symbol,
        "id": f.trade_id,
        "tradeId": f.trade_id,
        "orderId": f.order_id,
        "orderIdStr": str(f.order_id),
        "price": price(f.price, spec),
        "qty": qty(f.qty, spec),
        "commission": plain(f.commission),
        "commissionAsset": f.commission_asset,
        "time": f.time,
        "isBuyer": f.side == "BUY",
        "isMaker": f.is_maker,
        "isBestMatch": True,
    }


def public_trade(t: PublicTrade, spec: MarketSpec) -> dict:
    return {
        "id": t.trade_id,
        "price": price(t.price, spec),
        "qty": qty(t.qty, spec),
        "time": t.time,
        "isBuyerMaker": t.is_buyer_maker,
        "isBestMatch": True,
    }


def agg_trades(trades: list[PublicTrade], spec: MarketSpec) -> list[dict]:
    """Consecutive trades at the same time, price and aggressor side are aggregated."""
    out: list[dict] = []
    group: list[PublicTrade] = []

    def flush() -> None:
        if not group:
            return
        first, last = group[0], group[-1]
        out.append(
            {
                "a": first.trade_id,
                "p": price(first.price, spec),
                "q": qty(sum((g.qty for g in group), Decimal(0)), spec),
                "f": first.trade_id,
                "l": last.trade_id,
                "T": first.time,
                "m": first.is_buyer_maker,
                "M": True,
            }
        )

    for t in trades:
        if group and not (
            t.time == group[0].time
            and t.price == group[0].price
            and t.is_buyer_maker == group[0].is_buyer_maker
        ):
            flush()
            group = []
        group.append(t)
    flush()
    return out


def ledger_order(o: Order, spec: MarketSpec) -> dict:
    d = order(o, spec)
    d["accountId"] = o.account_id
    return d


def ledger_fill(f: Fill, spec: MarketSpec) -> dict:
    d = my_trade(f, spec)
    d.update(
        {
            "accountId": f.account_id,
            "clientOrderId": f.client_order_id,
            "side": f.side,
            "quoteQty": plain(f.quote_qty),
        }
    )
    return d
