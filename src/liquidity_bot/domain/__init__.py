"""Pure domain types: no I/O, no asyncio, money as Decimal.

``Instrument`` (rules and rounding), ``Order`` (the one order state machine), ``OrderBook``
(L2 snapshots and metrics) and the immutable events the venues hand to the engine.
"""

from liquidity_bot.domain.book import OrderBook
from liquidity_bot.domain.events import (
    BalanceChange,
    BookUpdate,
    CancelAck,
    CancelReject,
    Event,
    Expired,
    Fill,
    OrderAck,
    OrderMessage,
    PriceLevel,
    Reject,
)
from liquidity_bot.domain.instrument import Instrument, InstrumentError, Rule, Violation
from liquidity_bot.domain.order import (
    TRANSITIONS,
    InvalidFill,
    InvalidTransition,
    Order,
    OrderEvent,
    OrderState,
    Side,
)

__all__ = [
    "TRANSITIONS",
    "BalanceChange",
    "BookUpdate",
    "CancelAck",
    "CancelReject",
    "Event",
    "Expired",
    "Fill",
    "Instrument",
    "InstrumentError",
    "InvalidFill",
    "InvalidTransition",
    "Order",
    "OrderAck",
    "OrderBook",
    "OrderEvent",
    "OrderMessage",
    "OrderState",
    "PriceLevel",
    "Reject",
    "Rule",
    "Side",
    "Violation",
]
