"""Build a ``CcxtVenue`` for a market group from the config (``[exchanges.NAME]`` tables)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .venue import CcxtVenue


def ccxt_venue(config: Any, exchange: str, api_key: str, secret: str,
               symbols: Iterable[str], extras: Mapping[str, str] | None = None) -> CcxtVenue:
    """The ccxt venue for ``exchange``: its ``[exchanges.NAME]`` table, else ccxt's own
    production addresses (Bitrue through ccxt also follows ``[bitrue] base_url``). ``extras``
    are the key's other credentials: ccxt's ``password`` is the guide's passphrase (OKX,
    KuCoin), its ``uid`` BitMart's memo."""
    from liquidity_bot.config import ExchangeConfig

    table = config.exchanges.get(exchange) or ExchangeConfig()
    base = table.base_url
    if base is None and exchange == "bitrue":
        base = config.bitrue.base_url
    extras = extras or {}
    return CcxtVenue(exchange, api_key, secret, list(symbols), http_base=base,
                     password=extras.get("passphrase"), uid=extras.get("memo"),
                     ws_base=table.ws_url, post_only=table.post_only,
                     poll_interval_s=table.poll_interval_s)


def __getattr__(name: str) -> Any:
    """``factory.<exchange id>`` is that exchange's ``(config, api_key, secret, symbols,
    key_label=None) -> CcxtVenue`` (what ``venues.registry.through_ccxt`` names)."""
    import ccxt.pro

    if name not in ccxt.pro.exchanges:
        raise AttributeError(name)

    def build(config: Any, api_key: str, secret: str, symbols: Iterable[str],
              key_label: str | None = None, extras: Mapping[str, str] | None = None
              ) -> CcxtVenue:
        # ``key_label`` (a key's own source address) has no setting on ccxt venues yet
        return ccxt_venue(config, name, api_key, secret, symbols, extras)

    return build
