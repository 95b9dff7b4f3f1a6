"""Point a ccxt client at another host (the simulator on loopback, a proxy) without touching
its paths: every URL in ``urls["api"]`` keeps its path and loses its scheme and host.

``https://api.binance.com/api/v3`` -> ``http://127.0.0.1:PORT/api/v3`` and
``wss://stream.binance.com:9443/ws`` -> ``ws://127.0.0.1:PORT/ws``: the simulator serves each
dialect's paths on one port, as the exchange serves them on several hosts.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit


def _rehost(url: str, http_base: str, ws_base: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https", "ws", "wss"):
        return url
    base = ws_base if parts.scheme in ("ws", "wss") else http_base
    rest = parts.path + (f"?{parts.query}" if parts.query else "")
    return base.rstrip("/") + rest


def rehosted(urls: Any, http_base: str, ws_base: str) -> Any:
    """A copy of a ccxt ``urls["api"]`` tree with every URL moved to the given bases."""
    if isinstance(urls, str):
        return _rehost(urls, http_base, ws_base)
    if isinstance(urls, dict):
        return {k: rehosted(v, http_base, ws_base) for k, v in urls.items()}
    return urls


def point_at(client: Any, http_base: str, ws_base: str | None = None) -> None:
    """Move ``client`` (a ccxt exchange) to ``http_base`` (and ``ws_base``, derived if None)."""
    if ws_base is None:
        ws_base = "ws" + http_base[len("http"):] if http_base.startswith("http") else http_base
    client.urls["api"] = rehosted(client.urls["api"], http_base, ws_base)
