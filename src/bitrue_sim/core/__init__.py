"""The simulator's matching core: in-process, no sockets, no asyncio, deterministic for a seed."""

from .clock import Clock, ManualClock, WallClock
from .exchange import Exchange
from .ids import IdSource
from .markets import DEFAULT_MARKETS, MarketSpec, exchange_info_symbol
from .model import (
    Account,
    Balance,
    BalanceChanged,
    BookChanged,
    Fill,
    Order,
    OrderChanged,
    PublicTrade,
    TradeHappened,
)

__all__ = [
    "DEFAULT_MARKETS",
    "Account",
    "Balance",
    "BalanceChanged",
    "BookChanged",
    "Clock",
    "Exchange",
    "Fill",
    "IdSource",
    "ManualClock",
    "MarketSpec",
    "Order",
    "OrderChanged",
    "PublicTrade",
    "TradeHappened",
    "WallClock",
    "exchange_info_symbol",
]
