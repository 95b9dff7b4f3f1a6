"""Request signing: spot (query + body, HMAC-SHA256 hex) and futures (X-CH-* headers).

The signature covers the exact bytes sent, so parameters are encoded once, here, in the order
given, and the same string goes on the wire (never re-encoded or re-sorted by the HTTP library).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from decimal import Decimal
from urllib.parse import quote

ParamValue = str | int | Decimal | bool
Params = Mapping[str, ParamValue | None] | Iterable[tuple[str, ParamValue | None]]

# Characters that need no escaping in a query value; everything else is percent-encoded.
_SAFE = "-_.~"


def format_value(value: ParamValue) -> str:
    """Wire text of one parameter: Decimals in plain notation (never 1E-7), bools lowercase."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"refusing to send a non-finite number {value!r}")
        text = format(value, "f")
        return text
    if isinstance(value, float):  # pragma: no cover - guarded by typing, kept as a hard stop
        raise TypeError("floats are never sent: pass Decimal or str for money")
    return str(value)


def encode_params(params: Params) -> str:
    """``k=v&k=v`` in the given order, skipping None values, percent-encoding what needs it."""
    items = params.items() if isinstance(params, Mapping) else params
    return "&".join(
        f"{quote(key, safe=_SAFE)}={quote(format_value(value), safe=_SAFE)}"
        for key, value in items
        if value is not None
    )


class SpotSigner:
    """Signs spot requests: ``signature = hex(HMAC-SHA256(secret, query_string + body))``.

    Holds the secret privately; its repr never shows it.
    """

    __slots__ = ("_mac",)

    def __init__(self, secret: str) -> None:
        if not secret:
            raise ValueError("an API secret is required to sign requests")
        self._mac = hmac.new(secret.encode(), digestmod=hashlib.sha256)

    def sign(self, query_string: str, body: str = "") -> str:
        mac = self._mac.copy()
        mac.update(query_string.encode())
        if body:
            mac.update(body.encode())
        return mac.hexdigest()

    def __repr__(self) -> str:
        return "SpotSigner(<secret hidden>)"


class FuturesSigner:
    """Signs USDT-M futures requests: ``hex(HMAC-SHA256(secret, ts + METHOD + path[?query] + body))``."""

    __slots__ = ("_mac",)

    def __init__(self, secret: str) -> None:
        if not secret:
            raise ValueError("an API secret is required to sign requests")
        self._mac = hmac.new(secret.encode(), digestmod=hashlib.sha256)

    def sign(self, ts_ms: int, method: str, path: str, query: str = "", body: str = "") -> str:
        message = f"{ts_ms}{method.upper()}{path}"
        if query:
            message += "?" + query
        message += body
        mac = self._mac.copy()
        mac.update(message.encode())
        return mac.hexdigest()

    def __repr__(self) -> str:
        return "FuturesSigner(<secret hidden>)"
