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


def bitrue_venue(config: Any, api_key: str, secret: str, symbols: Iterable[str]) -> BitrueVenue:
    """A ``BitrueVenue`` for one key and its symbols, as the config's ``[bitrue]`` says."""
    b = config.bitrue
    return BitrueVenue(
        urls_of(config),
        api_key,
        secret,
        list(symbols),
        source_address=b.source_address,
        recv_window=b.recv_window,
    )


def address_governor(config: Any) -> Any:
    """The rate governor of this process's source address (every key's requests count in its
    per-IP window; the keys gate's probes and clean-ups too)."""
    from liquidity_bot.venues.bitrue.ratelimit import ip_governor

    return ip_governor(config.bitrue.source_address, urls_of(config).spot)
