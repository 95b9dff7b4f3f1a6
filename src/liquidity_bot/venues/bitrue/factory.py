"""Bitrue's entry in the venue registry: its venue and URLs built from the config."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from liquidity_bot.venues.bitrue.urls import BitrueUrls
from liquidity_bot.venues.bitrue.venue import BitrueVenue


def urls_of(config: Any) -> BitrueUrls:
    """The endpoints of the config's ``[bitrue]`` table."""
    b = config.bitrue
    return BitrueUrls(
        spot=b.spot_url,
        listen_key=b.listen_key_url,
        futures=b.futures_url,
        ws_market=b.market_ws_url,
        ws_user=b.user_ws_url,
        ca_file=None if b.ca_file is None else str(b.ca_file),
    )


def bitrue_venue(config: Any, api_key: str, secret: str, symbols: Iterable[str],
                 key_label: str | None = None, extras: Any = None) -> BitrueVenue:
    """A ``BitrueVenue`` for one key and its symbols, as the config's ``[bitrue]`` says: its
    REST calls and both WebSockets go from the key's address (``key_source_addresses``).
    A Bitrue key has no other credential (``extras``)."""
    b = config.bitrue
    return BitrueVenue(
        urls_of(config),
        api_key,
        secret,
        list(symbols),
        source_address=b.address_of(key_label),
        recv_window=b.recv_window,
    )


def address_governor(config: Any, key_label: str | None = None) -> Any:
    """The rate governor of the address ``key_label`` sends from (``source_address`` when
    None): every request from that address counts in its per-IP window, the keys gate's
    probes and clean-ups too."""
    from liquidity_bot.venues.bitrue.ratelimit import ip_governor

    return ip_governor(config.bitrue.address_of(key_label), urls_of(config).spot)


def address_governors(config: Any) -> list[Any]:
    """The governor of every address the config's keys send from (one per address)."""
    b = config.bitrue
    addresses = {b.source_address, *b.key_source_addresses.values()}
    spot = urls_of(config).spot
    from liquidity_bot.venues.bitrue.ratelimit import ip_governor

    return [ip_governor(a, spot) for a in sorted(addresses, key=lambda a: a or "")]


def key_client_factory(config: Any, key_label: str | None) -> Any:
    """The keys gate's client factory for ``key_label``: its probes go from the key's address
    (the canary still goes from the canary source it names)."""
    return client_from(config.bitrue.address_of(key_label))


def client_from(source: str | None) -> Any:
    """A key prober's client factory whose requests go from the local address ``source`` (None:
    the system's choice); a canary probe still names its own."""
    from liquidity_bot.venues.bitrue.rest import BitrueRestClient

    def client(urls: Any, api_key: str | None, secret: str | None, **kw: Any) -> Any:
        kw.setdefault("source_address", source)
        return BitrueRestClient(urls, api_key, secret, **kw)

    return client
