"""Core snapshots -> Binance JSON (``rest-api.md`` examples): decimals as strings with eight
places, integer order ids, ``orderListId`` -1, the FULL new-order answer with its ``fills``.

Binance's order types and time in force are not the core's (LIMIT_MAKER and IOC exist only
here), so the dialect remembers them per order in ``OrderTerms``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from bitrue_sim.core.markets import MarketSpec
from bitrue_sim.core.model import Fill, Order

_EIGHT = Decimal("0.00000001")


def num(value: Decimal) -> str:
    """Eight decimals like Binance ('0.50000000'); more only when the value needs them."""
    q = value.quantize(_EIGHT)
    return format(q if q == value else value, "f")


@dataclass(frozen=True)
class OrderTerms:
    """What Binance reports about an order that the core does not keep."""

    type: str = "LIMIT"  # LIMIT, LIMIT_MAKER, MARKET
    time_in_force: str = "GTC"  # GTC, IOC
    expired: bool = False  # IOC remainder or unfilled MARKET: Binance says EXPIRED


class OrderTermsBook:
    """Terms by order id; registered by (account, client id) before the core places the order,
    so the stream events the core emits during placement already carry them."""

    def __init__(self, capacity: int = 200_000) -> None:
        self.capacity = capacity
        self._pending: dict[tuple[int, str], OrderTerms] = {}
        self._by_id: dict[int, OrderTerms] = {}

    def expect(self, account_id: int, client_order_id: str, terms: OrderTerms) -> None:
        self._pending[(account_id, client_order_id)] = terms

    def settle(self, account_id: int, client_order_id: str, order_id: int | None) -> None:
        terms = self._pending.pop((account_id, client_order_id), None)
        if terms is None or order_id is None:
            return
        self._by_id[order_id] = terms
        if len(self._by_id) > self.capacity:
            for stale in list(self._by_id)[: len(self._by_id) - self.capacity]:
                del self._by_id[stale]

    def of(self, o: Order) -> OrderTerms:
        terms = self._by_id.get(o.order_id)
        if terms is None:
            terms = self._pending.get((o.account_id, o.client_order_id), _DEFAULT_TERMS)
        return terms


_DEFAULT_TERMS = OrderTerms()


def status(o: Order, terms: OrderTerms) -> str:
    if o.status == "CANCELED" and terms.expired:
        return "EXPIRED"
    return o.status


def exchange_info_symbol(spec: MarketSpec) -> dict:
    return {
        "symbol": spec.symbol,
        "status": "TRADING",
        "baseAsset": spec.base_asset,
        "baseAssetPrecision": 8,
        "quoteAsset": spec.quote_asset,
        "quotePrecision": 8,
        "quoteAssetPrecision": 8,
        "baseCommissionPrecision": 8,
        "quoteCommissionPrecision": 8,
        "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET"],
        "icebergAllowed": False,
        "ocoAllowed": False,
        "otoAllowed": False,
        "quoteOrderQtyMarketAllowed": True,
        "allowTrailingStop": False,
        "cancelReplaceAllowed": False,
        "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": False,
        "filters": [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": num(spec.min_price),
                "maxPrice": num(spec.max_price),
                "tickSize": num(spec.tick_size),
            },
            {
                "filterType": "LOT_SIZE",
                "minQty": num(spec.min_qty),
                "maxQty": num(spec.max_qty),
                "stepSize": num(spec.step_size),
            },
            {
                "filterType": "NOTIONAL",
                "minNotional": num(spec.min_val),
                "applyMinToMarket": True,
                "maxNotional": "9000000.00000000",
                "applyMaxToMarket": False,
                "avgPriceMins": 5,
            },
            {
                "filterType": "PERCENT_PRICE_BY_SIDE",
                "bidMultiplierUp": str(spec.bid_multiplier_up),
                "bidMultiplierDown": str(spec.bid_multiplier_down),
                "askMultiplierUp": str(spec.ask_multiplier_up),
                "askMultiplierDown": str(spec.ask_multiplier_down),
                "avgPriceMins": 5,
            },
            {"filterType": "MAX_NUM_ORDERS", "maxNumOrders": 200},
        ],
        "permissions": [],
        "permissionSets": [["SPOT"]],
        "defaultSelfTradePreventionMode": "NONE",
        "allowedSelfTradePreventionModes": ["NONE"],
    }


def order(o: Order, terms: OrderTerms) -> dict:
    """GET /api/v3/order, openOrders and allOrders entries."""
    return {
        "symbol": o.symbol,
        "orderId": o.order_id,
        "orderListId": -1,
        "clientOrderId": o.client_order_id,
        "price": num(o.price),
        "origQty": num(o.orig_qty),
        "executedQty": num(o.executed_qty),
        "cummulativeQuoteQty": num(o.cummulative_quote_qty),
        "status": status(o, terms),
        "timeInForce": terms.time_in_force,
        "type": terms.type,
        "side": o.side,
        "stopPrice": num(Decimal(0)),
        "icebergQty": num(Decimal(0)),
        "time": o.time,
        "updateTime": o.update_time,
        "isWorking": True,
        "workingTime": o.time,
        "origQuoteOrderQty": num(Decimal(0)),
        "selfTradePreventionMode": "NONE",
    }


def new_order(o: Order, terms: OrderTerms, fills: list[Fill], resp_type: str) -> dict:
    """POST /api/v3/order answer for ``newOrderRespType`` ACK, RESULT or FULL."""
    ack = {
        "symbol": o.symbol,
        "orderId": o.order_id,
        "orderListId": -1,
        "clientOrderId": o.client_order_id,
        "transactTime": o.update_time,
    }
    if resp_type == "ACK":
        return ack
    full = order(o, terms)
    for name in ("stopPrice", "icebergQty", "time", "updateTime", "isWorking"):
        full.pop(name)
    result = {**ack, **full, "transactTime": o.update_time}
    if resp_type == "FULL":
        result["fills"] = [
            {
                "price": num(f.price),
                "qty": num(f.qty),
                "commission": num(f.commission),
                "commissionAsset": f.commission_asset,
                "tradeId": f.trade_id,
            }
            for f in fills
        ]
    return result


def cancel(o: Order, terms: OrderTerms, new_client_order_id: str | None) -> dict:
    """DELETE /api/v3/order answer: ``clientOrderId`` is the cancel's own id."""
    d = order(o, terms)
    for name in ("time", "updateTime", "isWorking", "workingTime", "stopPrice", "icebergQty"):
        d.pop(name)
    d["origClientOrderId"] = o.client_order_id
    d["clientOrderId"] = new_client_order_id or f"cancel{o.order_id}"
    d["transactTime"] = o.update_time
    return d


def my_trade(f: Fill) -> dict:
    return {
        "symbol": f.symbol,
        "id": f.trade_id,
        "orderId": f.order_id,
        "orderListId": -1,
        "price": num(f.price),
        "qty": num(f.qty),
        "quoteQty": num(f.quote_qty),
        "commission": num(f.commission),
        "commissionAsset": f.commission_asset,
        "time": f.time,
        "isBuyer": f.side == "BUY",
        "isMaker": f.is_maker,
        "isBestMatch": True,
    }
