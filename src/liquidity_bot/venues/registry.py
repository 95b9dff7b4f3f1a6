"""Which exchanges the bot can trade on: name -> how to build its venue, probe its keys, and
where its settings live in the config.

A new exchange is one adapter (``venues/<name>/``), one key prober and one ``Exchange`` entry
here. Entries import their adapter only when used, so naming an exchange costs nothing.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from liquidity_bot.venues.port import Venue


def _attr(path: str) -> Any:
    """``"package.module:name"`` -> that object (imported on first use)."""
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


@dataclass(frozen=True)
class Exchange:
    """One exchange the bot knows.

    ``venue`` names ``(config, api_key, secret, symbols, key_label=None, extras=None) ->
    Venue`` (the label lets a key send from its own address; ``extras`` are the key's other
    credentials by the guide's names, e.g. ``passphrase`` or ``memo``); ``key_prober`` the class of the exchange's
    key prober (``keys.probers``: what ``keys.verify`` judges a key with); ``config_table``
    the config table holding its URLs and settings; ``governor`` (optional) ``(config,
    key_label=None) -> the rate governor of that key's source address``; ``governors``
    (optional) ``config -> the governors of every address the keys send from``; ``key_urls``
    (optional) ``config -> the endpoints as the key prober understands them`` (without it:
    the base URL of ``[exchanges.NAME]``, or None for the exchange's production address);
    ``key_client`` (optional) ``(config, key_label) -> the key prober's client factory``
    (the gate's probes of that key then go from its address).
    """

    name: str
    venue: str
    key_prober: str
    config_table: str
    governor: str | None = None
    governors: str | None = None
    key_urls: str | None = None
    key_client: str | None = None

    def venue_for(self, config: Any, api_key: str, secret: str,
                  symbols: Iterable[str], key_label: str | None = None,
                  extras: Mapping[str, str] | None = None) -> Venue:
        factory: Callable[..., Venue] = _attr(self.venue)
        return factory(config, api_key, secret, list(symbols), key_label=key_label,
                       extras=extras)

    def prober(self) -> Callable[..., Any]:
        return _attr(self.key_prober)

    def prober_urls(self, config: Any) -> Any:
        """Where the keys gate verifies this exchange's keys (``keys.probers.prober_for``)."""
        if self.key_urls is not None:
            return _attr(self.key_urls)(config)
        table = getattr(config, "exchanges", {}).get(self.name)
        return None if table is None else table.base_url

    def key_client_factory(self, config: Any, key_label: str) -> Any | None:
        """How the keys gate reaches the exchange for ``key_label`` (None: the prober's own)."""
        return None if self.key_client is None else _attr(self.key_client)(config, key_label)

    def address_governor(self, config: Any, key_label: str | None = None) -> Any | None:
        return None if self.governor is None else _attr(self.governor)(config, key_label)

    def address_governors(self, config: Any) -> list[Any]:
        """Every per-address governor the config's keys use (held for a whole command)."""
        if self.governors is not None:
            return list(_attr(self.governors)(config))
        one = self.address_governor(config)
        return [] if one is None else [one]


EXCHANGES: dict[str, Exchange] = {
    "bitrue": Exchange(
        name="bitrue",
        venue="liquidity_bot.venues.bitrue.factory:bitrue_venue",
        key_prober="liquidity_bot.keys.probers.bitrue:BitrueKeyProber",
        config_table="bitrue",
        governor="liquidity_bot.venues.bitrue.factory:address_governor",
        governors="liquidity_bot.venues.bitrue.factory:address_governors",
        key_urls="liquidity_bot.venues.bitrue.factory:urls_of",
        key_client="liquidity_bot.venues.bitrue.factory:key_client_factory",
    ),
}


def through_ccxt(name: str) -> Exchange:
    """``name`` with ccxt as its venue (a market's ``connector = "ccxt"``): any exchange ccxt
    streams, Bitrue included; its key prober and where it verifies stay the exchange's own
    entry's when it has one (else ``keys.probers.prober_for`` the exchange, at the base URL of
    ``[exchanges.NAME]``), and its settings live in ``[exchanges.NAME]`` (its keys' source
    addresses too: the venue and the gate's probes both send from them)."""
    known = EXCHANGES.get(name.strip().lower())
    return Exchange(
        name=name,
        venue=f"liquidity_bot.venues.ccxt.factory:{name}",
        key_prober=known.key_prober if known is not None else "liquidity_bot.keys.probers:prober_for",
        key_urls=known.key_urls if known is not None else None,
        config_table=f"exchanges.{name}",
        key_client=f"liquidity_bot.venues.ccxt.factory:keys_{name}",
    )


class UnknownExchange(ValueError):
    """An exchange name the registry does not know."""


def exchange(name: str) -> Exchange:
    """The registry entry for ``name`` (case-insensitive), or a clear error listing the known."""
    entry = EXCHANGES.get(name.strip().lower())
    if entry is None:
        raise UnknownExchange(
            f"unknown exchange {name!r}: this build trades on {', '.join(sorted(EXCHANGES))}"
        )
    return entry
