"""Where Bitrue lives: every base address configurable, because the simulator serves them all."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

_HTTP_SCHEMES = ("http", "https")
_WS_SCHEMES = ("ws", "wss")


def _clean(base: str, schemes: tuple[str, ...], what: str) -> str:
    parts = urlsplit(base)
    if parts.scheme not in schemes or not parts.netloc:
        raise ValueError(
            f"{what} base URL {base!r} is not valid: give a full address such as "
            f"'{schemes[-1]}://host:port' (scheme one of {', '.join(schemes)})"
        )
    if parts.query or parts.fragment:
        raise ValueError(f"{what} base URL {base!r} must not carry a query or fragment")
    return base.rstrip("/")


@dataclass(frozen=True)
class BitrueUrls:
    """Base addresses of Bitrue's five services (no trailing slash, no path suffix).

    Production defaults; ``single()`` points all of them at one loopback simulator.
    """

    spot: str = "https://openapi.bitrue.com"
    listen_key: str = "https://open.bitrue.com"
    futures: str = "https://fapi.bitrue.com"
    ws_market: str = "wss://ws.bitrue.com"
    ws_user: str = "wss://wsapi.bitrue.com"
    # a PEM CA to trust besides the system's (the simulator over TLS, a private endpoint):
    # every https/wss connection to these addresses is verified against both
    ca_file: str | None = None

    @property
    def uses_tls(self) -> bool:
        return any(getattr(self, n).startswith(("https:", "wss:"))
                   for n in ("spot", "listen_key", "futures", "ws_market", "ws_user"))

    def ssl_context(self) -> ssl.SSLContext:
        """The verifying TLS context for these addresses (see ``venues.tls``)."""
        from liquidity_bot.venues.tls import client_context

        return client_context(self.ca_file)

    def __post_init__(self) -> None:
        for name, schemes in (
            ("spot", _HTTP_SCHEMES),
            ("listen_key", _HTTP_SCHEMES),
            ("futures", _HTTP_SCHEMES),
            ("ws_market", _WS_SCHEMES),
            ("ws_user", _WS_SCHEMES),
        ):
            object.__setattr__(self, name, _clean(getattr(self, name), schemes, name))

    @classmethod
    def single(cls, base_url: str, *, ca_file: str | None = None) -> BitrueUrls:
        """Every service at one address (http -> ws, https -> wss for the WebSockets)."""
        http = _clean(base_url, _HTTP_SCHEMES, "simulator")
        ws = "ws" + http[len("http") :]
        return cls(spot=http, listen_key=http, futures=http, ws_market=ws, ws_user=ws,
                   ca_file=ca_file)

    @property
    def market_stream(self) -> str:
        """The market WebSocket endpoint."""
        return self.ws_market + "/market/ws"

    def user_stream(self, listen_key: str) -> str:
        """The user WebSocket endpoint for one listen key (a credential: never log the result)."""
        return self.ws_user + "/stream?listenKey=" + quote(listen_key, safe="")
