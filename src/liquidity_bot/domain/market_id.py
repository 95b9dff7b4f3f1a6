"""A market's identity is (exchange, symbol): one process may quote the same token on several
exchanges, and each such market is kept, stored and reported apart."""

from __future__ import annotations

DEFAULT_EXCHANGE = "bitrue"


def market_name(exchange: str | None, symbol: str) -> str:
    """The name a summary or a report gives the market: the bare symbol on Bitrue (the
    default exchange, as every name before several exchanges), ``exchange:SYMBOL`` elsewhere."""
    if exchange is None or exchange == DEFAULT_EXCHANGE:
        return symbol
    return f"{exchange}:{symbol}"
