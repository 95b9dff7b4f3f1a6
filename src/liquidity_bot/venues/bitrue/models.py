"""Typed shapes of Bitrue's REST answers and stream messages (msgspec), tolerant of live quirks.

Money is ``Decimal`` (msgspec decodes JSON strings and numbers to Decimal exactly); ids are
``int`` decoded straight from the JSON text (never via float), strings accepted too. Quirks
absorbed here: lowercase asset names, ``commissionAssert``, ``orderIdStr``, partial balance
entries, ``"e": "ORDER"`` vs ``"executionReport"``, ticker as object or array.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec
from msgspec.structs import force_setattr

from liquidity_bot.domain.order import Side

ZERO = Decimal(0)


class _Wire(msgspec.Struct, frozen=True, kw_only=True):
    """Base of every decoded message: immutable, unknown fields ignored."""


# ---------------------------------------------------------------- public REST


class ServerTime(_Wire, kw_only=True):
    serverTime: int


class RateLimit(_Wire, kw_only=True):
    """One ``exchangeInfo.rateLimits`` entry, in either documented shape.

    Older docs: ``{rateLimitType, interval, intervalNum, limit}``. 2023 docs: ``{id, type: [IP|USER],
    replenishRate, burstCapacity, timeCount, timeUnit}``. Use the normalised properties.
    """

    rateLimitType: str | None = None
    interval: str | None = None
    intervalNum: int = 1
    limit: int | None = None
    id: str | None = None
    type: list[str] = []
    replenishRate: int | None = None
    burstCapacity: int | None = None
    timeCount: int | None = None
    timeUnit: str | None = None

    @property
    def name(self) -> str:
        return self.id or f"{self.rateLimitType}_{self.intervalNum}{self.interval}"

    @property
    def kind(self) -> str:
        """Free text to classify the policy (type or id)."""
        return (self.rateLimitType or self.id or "").upper()

    @property
    def max_units(self) -> int | None:
        for v in (self.limit, self.burstCapacity, self.replenishRate):
            if v is not None:
                return v
        return None

    @property
    def window_s(self) -> float | None:
        if self.timeUnit:
            unit = {"SECONDS": 1, "MINUTES": 60, "HOURS": 3600, "DAYS": 86400}.get(
                self.timeUnit.upper()
            )
            return None if unit is None else float(unit * (self.timeCount or 1))
        if self.interval:
            unit = {"SECOND": 1, "MINUTE": 60, "HOUR": 3600, "DAY": 86400}.get(
                self.interval.upper()
            )
            return None if unit is None else float(unit * max(1, self.intervalNum))
        return None


class SymbolFilter(_Wire, kw_only=True):
    """One entry of a symbol's ``filters``: every documented field optional."""

    filterType: str
    minPrice: Decimal | None = None
    maxPrice: Decimal | None = None
    tickSize: Decimal | None = None
    priceScale: int | None = None
    minQty: Decimal | None = None
    maxQty: Decimal | None = None
    stepSize: Decimal | None = None
    volumeScale: int | None = None
    minVal: Decimal | None = None
    minNotional: Decimal | None = None
    bidMultiplierUp: Decimal | None = None
    bidMultiplierDown: Decimal | None = None
    askMultiplierUp: Decimal | None = None
    askMultiplierDown: Decimal | None = None
    multiplierUp: Decimal | None = None
    multiplierDown: Decimal | None = None


class SymbolInfo(_Wire, kw_only=True):
    symbol: str
    status: str = "TRADING"
    baseAsset: str = ""
    quoteAsset: str = ""
    baseAssetPrecision: int | None = None
    quotePrecision: int | None = None
    orderTypes: list[str] = []
    filters: list[SymbolFilter] = []

    def __post_init__(self) -> None:
        force_setattr(self, "baseAsset", self.baseAsset.upper())
        force_setattr(self, "quoteAsset", self.quoteAsset.upper())

    def filter(self, filter_type: str) -> SymbolFilter | None:
        for f in self.filters:
            if f.filterType == filter_type:
                return f
        return None


class ExchangeInfo(_Wire, kw_only=True):
    timezone: str = "UTC"
    serverTime: int | None = None
    rateLimits: list[RateLimit] = []
    symbols: list[SymbolInfo] = []

    def symbol(self, name: str) -> SymbolInfo | None:
        key = name.upper()
        for s in self.symbols:
            if s.symbol.upper() == key:
                return s
        return None


class Level(msgspec.Struct, array_like=True, frozen=True):
    """One book level ``[price, qty, ...]`` (extra trailing items, e.g. ``[]``, are ignored)."""

    price: Decimal
    qty: Decimal


class Depth(_Wire, kw_only=True):
    lastUpdateId: int | None = None
    bids: list[Level] = []
    asks: list[Level] = []


class Ticker24hr(_Wire, kw_only=True):
    symbol: str
    lastPrice: Decimal | None = None
    bidPrice: Decimal | None = None
    askPrice: Decimal | None = None
    openPrice: Decimal | None = None
    highPrice: Decimal | None = None
    lowPrice: Decimal | None = None
    volume: Decimal | None = None
    quoteVolume: Decimal | None = None
    priceChange: Decimal | None = None
    priceChangePercent: Decimal | None = None
    openTime: int | None = None
    closeTime: int | None = None
    count: int | None = None


# ---------------------------------------------------------------- account and orders


class Balance(_Wire, kw_only=True):
    """One asset's balance; a missing ``free`` or ``locked`` means zero (seen live)."""

    asset: str
    free: Decimal = ZERO
    locked: Decimal = ZERO

    def __post_init__(self) -> None:
        force_setattr(self, "asset", self.asset.upper())

    @property
    def total(self) -> Decimal:
        return self.free + self.locked


class Account(_Wire, kw_only=True):
    makerCommission: Decimal | None = None
    takerCommission: Decimal | None = None
    buyerCommission: Decimal | None = None
    sellerCommission: Decimal | None = None
    canTrade: bool | None = None
    canWithdraw: bool | None = None
    canDeposit: bool | None = None
    updateTime: int | None = None
    balances: list[Balance] = []

    def balance(self, asset: str) -> Balance:
        """Balance of one asset (zero if absent), by case-insensitive name."""
        key = asset.upper()
        for b in self.balances:
            if b.asset == key:
                return b
        return Balance(asset=key)


def _prefer_order_id_str(self: Any) -> None:
    """Prefer ``orderIdStr`` (exact by construction) to ``orderId`` when present: the
    ``__post_init__`` of the answers that carry both ids (one Python call per decoded answer:
    every place and cancel decodes one)."""
    text = self.orderIdStr
    if text:
        try:
            force_setattr(self, "orderId", int(text))
        except ValueError:
            pass


class OrderAck(_Wire, kw_only=True):
    """Answer to ``POST /api/v1/order``."""

    symbol: str
    orderId: int | None = None
    orderIdStr: str | None = None
    clientOrderId: str | None = None
    transactTime: int | None = None

    __post_init__ = _prefer_order_id_str


class CancelAck(_Wire, kw_only=True):
    """Answer to ``DELETE /api/v1/order``."""

    symbol: str
    orderId: int | None = None
    orderIdStr: str | None = None
    origClientOrderId: str | None = None
    clientOrderId: str | None = None
    status: str | None = None

    __post_init__ = _prefer_order_id_str


class Order(_Wire, kw_only=True):
    """An order as ``GET /order``, ``/openOrders`` and ``/allOrders`` describe it."""

    symbol: str
    orderId: int
    orderIdStr: str | None = None
    clientOrderId: str | None = None
    price: Decimal = ZERO
    origQty: Decimal = ZERO
    executedQty: Decimal = ZERO
    cummulativeQuoteQty: Decimal = ZERO
    status: str = "NEW"
    timeInForce: str | None = None
    type: str = "LIMIT"
    side: str = "BUY"
    time: int | None = None
    updateTime: int | None = None
    isWorking: bool | None = None

    __post_init__ = _prefer_order_id_str

    @property
    def is_open(self) -> bool:
        return self.status in ("NEW", "PARTIALLY_FILLED", "PENDING_CREATE", "PENDING_CANCEL")


class Trade(_Wire, kw_only=True):
    """One of our fills from ``/api/v2/myTrades`` (``commissionAssert`` typo accepted)."""

    symbol: str
    id: int
    orderId: int
    orderIdStr: str | None = None
    price: Decimal
    qty: Decimal
    quoteQty: Decimal | None = None
    commission: Decimal = ZERO
    commissionAsset: str | None = None
    commissionAssert: str | None = None
    time: int
    isBuyer: bool
    isMaker: bool

    def __post_init__(self) -> None:
        _prefer_order_id_str(self)
        asset = self.commissionAsset or self.commissionAssert
        force_setattr(self, "commissionAsset", asset.upper() if asset else None)


class WithdrawRecord(_Wire, kw_only=True):
    id: int | None = None
    symbol: str | None = None
    amount: Decimal | None = None
    fee: Decimal | None = None
    status: int | None = None
    createdAt: int | None = None


class Envelope(_Wire, kw_only=True):
    """The ``{"code": ..., "msg": ..., "data": ...}`` wrapper of listen-key and wallet calls."""

    code: int | str | None = None
    msg: str | None = None
    data: Any = None


class ErrorBody(_Wire, kw_only=True):
    code: int | str | None = None
    msg: str | None = None
    message: str | None = None


class FuturesAccount(_Wire, kw_only=True):
    """``GET /fapi/v2/account``: kept loose, only used to prove (lack of) futures access."""

    account: list[Any] | None = None
    canTrade: bool | None = None


# ---------------------------------------------------------------- user stream


class OrderUpdate(_Wire, kw_only=True):
    """``user_order_update`` push (``"e"`` is ``executionReport`` in the docs, ``ORDER`` live)."""

    e: str
    E: int | None = None
    s: str | None = None
    c: str | None = None  # client order id
    C: str | None = None  # original client order id (for cancels)
    S: int | str | None = None  # side: 1 buy, 2 sell
    o: int | str | None = None  # type: 1 limit, 2 market
    q: Decimal | None = None
    p: Decimal | None = None
    x: int | str | None = None  # event: 1 created, 2 user-cancel, 3 fill, 4 engine-cancel
    X: int | str | None = None  # status: 0 rejected, 1 new, 2 filled, 3 partial, 4 cancelled
    i: int | None = None
    I: str | None = None  # noqa: E741 - event id (not the order id)
    l: Decimal | None = None  # noqa: E741 - wire field name: last fill qty
    L: Decimal | None = None  # last fill price
    z: Decimal | None = None  # cumulative filled qty
    Y: Decimal | None = None  # cumulative quote
    n: Decimal | None = None  # fee
    N: str | None = None  # fee asset
    t: int | None = None  # trade id (fills only)
    T: int | None = None  # trade / event time
    O: int | None = None  # noqa: E741 - order creation time

    def __post_init__(self) -> None:
        if self.s:
            force_setattr(self, "s", self.s.upper())
        if self.N:
            force_setattr(self, "N", self.N.upper())


class BalanceEntry(_Wire, kw_only=True):
    a: str
    F: Decimal | None = None  # free
    L: Decimal | None = None  # locked
    f: Decimal | None = None  # free delta
    l: Decimal | None = None  # noqa: E741 - locked delta
    T: int | None = None
    t: int | None = None

    def __post_init__(self) -> None:
        force_setattr(self, "a", self.a.upper())


class BalanceUpdate(_Wire, kw_only=True):
    e: str
    E: int | None = None
    x: str | None = None
    B: list[BalanceEntry] = []


# ---------------------------------------------------------------- market stream


class DepthTick(_Wire, kw_only=True):
    buys: list[Level] = []
    asks: list[Level] = []


class DepthPush(_Wire, kw_only=True):
    channel: str
    ts: int | None = None
    tick: DepthTick


class MarketControl(_Wire, kw_only=True):
    """Anything on the market socket that is not a depth push: ping, sub acks, errors."""

    ping: int | str | None = None
    channel: str | None = None
    cb_id: str | None = None
    event_rep: str | None = None
    status: str | None = None
    ts: int | str | None = None
    tick: Any = None


# ---------------------------------------------------------------- decoders (reused, fast)

JSON_DECODER = msgspec.json.Decoder()


def decoder(tp: Any) -> msgspec.json.Decoder:
    """A reusable typed decoder, lax about str/int so ``"123"`` ids decode."""
    return msgspec.json.Decoder(tp, strict=False)


def side_of(value: object) -> Side:
    """Bitrue's side in any of its spellings: ``BUY``/``SELL`` (REST) or the user stream's
    numeric enum (1 buy, 2 sell, as int or string)."""
    if type(value) is int and value in (1, 2):
        return Side.BUY if value == 1 else Side.SELL
    if isinstance(value, str) and value.strip() in ("1", "2"):
        return Side.BUY if value.strip() == "1" else Side.SELL
    try:
        return Side.parse(value)
    except ValueError:
        raise ValueError(
            f"unknown order side {value!r}: expected BUY, SELL, 1 (buy) or 2 (sell)"
        ) from None
