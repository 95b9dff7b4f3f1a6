"""Build a ``CcxtVenue`` for a market group from the config (``[exchanges.NAME]`` tables)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .exchanges import OrderRate, facts_for
from .venue import CcxtVenue


def ccxt_venue(config: Any, exchange: str, api_key: str, secret: str,
               symbols: Iterable[str]) -> CcxtVenue:
    """The ccxt venue for ``exchange``: its ``[exchanges.NAME]`` table, else ccxt's own
    production addresses (Bitrue through ccxt also follows ``[bitrue] base_url``)."""
    from liquidity_bot.config import ExchangeConfig

    table = config.exchanges.get(exchange) or ExchangeConfig()
    base = table.base_url
    if base is None and exchange == "bitrue":
        base = config.bitrue.base_url
    return CcxtVenue(exchange, api_key, secret, list(symbols), http_base=base,
                     ws_base=table.ws_url, post_only=table.post_only,
                     poll_interval_s=table.poll_interval_s)


def order_rate(exchange: str) -> OrderRate:
    """The order-rate budget for ``exchange`` (documented, else derived from ccxt)."""
    import ccxt

    rate_limit_ms = getattr(ccxt, exchange)().rateLimit if hasattr(ccxt, exchange) else None
    rate = facts_for(exchange, rate_limit_ms).order_rate
    assert rate is not None
    return rate
