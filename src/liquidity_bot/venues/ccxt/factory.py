"""Build a ``CcxtVenue`` for a market group from the config (``[exchanges.NAME]`` tables)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .venue import CcxtVenue


def _table(config: Any, exchange: str) -> Any:
    from liquidity_bot.config import ExchangeConfig

    return config.exchanges.get(exchange) or ExchangeConfig()


def ccxt_venue(config: Any, exchange: str, api_key: str, secret: str,
               symbols: Iterable[str], extras: Mapping[str, str] | None = None,
               key_label: str | None = None) -> CcxtVenue:
    """The ccxt venue for ``exchange``: its ``[exchanges.NAME]`` table, else ccxt's own
    production addresses (Bitrue through ccxt also follows ``[bitrue] base_url``), sending
    from ``key_label``'s address in that table. ``extras`` are the key's other credentials:
    ccxt's ``password`` is the guide's passphrase (OKX, KuCoin), its ``uid`` BitMart's memo."""
    table = _table(config, exchange)
    base = table.base_url
    if base is None and exchange == "bitrue":
        base = config.bitrue.base_url
    extras = extras or {}
    return CcxtVenue(exchange, api_key, secret, list(symbols), http_base=base,
                     password=extras.get("passphrase"), uid=extras.get("memo"),
                     ws_base=table.ws_url, post_only=table.post_only,
                     poll_interval_s=table.poll_interval_s,
                     source_address=table.address_of(key_label))


def key_client_factory(config: Any, exchange: str, key_label: str) -> Any | None:
    """How the keys gate reaches ``exchange`` for ``key_label`` when the key sends from an
    address of its own in ``[exchanges.NAME]`` (None: the prober's default)."""
    address = _table(config, exchange).address_of(key_label)
    if address is None:
        return None
    if exchange == "bitrue":  # Bitrue's keys are probed by our own client, through ccxt or not
        from liquidity_bot.venues.bitrue.factory import client_from

        return client_from(address)
    from liquidity_bot.keys.probers.transport import KeyAddress

    return KeyAddress(address)


_KEYS = "keys_"


def __getattr__(name: str) -> Any:
    """``factory.<exchange id>`` is that exchange's ``(config, api_key, secret, symbols,
    key_label=None, extras=None) -> CcxtVenue`` and ``factory.keys_<exchange id>`` its
    ``(config, key_label) -> key prober client factory`` (what ``venues.registry.through_ccxt``
    names)."""
    import ccxt.pro

    exchange = name[len(_KEYS):] if name.startswith(_KEYS) else name
    if exchange not in ccxt.pro.exchanges:
        raise AttributeError(name)
    if exchange != name:
        def keys(config: Any, key_label: str) -> Any | None:
            return key_client_factory(config, exchange, key_label)

        return keys

    def build(config: Any, api_key: str, secret: str, symbols: Iterable[str],
              key_label: str | None = None, extras: Mapping[str, str] | None = None
              ) -> CcxtVenue:
        return ccxt_venue(config, name, api_key, secret, symbols, extras, key_label)

    return build
