"""Encoding of the messages the simulated streams send and parsing of what clients send."""

from __future__ import annotations

import gzip
import json
import zlib
from decimal import Decimal
from typing import Any


def dumps(message: dict[str, Any]) -> bytes:
    """Compact JSON, as the exchange sends it."""
    return json.dumps(message, separators=(",", ":")).encode()


def gzip_frame(message: dict[str, Any]) -> bytes:
    """A market-stream binary frame: gzip-compressed JSON (mtime 0 keeps it deterministic)."""
    return gzip.compress(dumps(message), compresslevel=5, mtime=0)


def parse_client_message(data: str | bytes, max_bytes: int) -> dict[str, Any]:
    """Parse a client text (or gzip/plain binary) frame into a JSON object.

    Raises ValueError with a message fit to send back to the client.
    """
    if isinstance(data, bytes):
        if len(data) > max_bytes:
            raise ValueError("message too large")
        if data[:2] == b"\x1f\x8b":
            try:
                data = gzip.decompress(data)
            except (OSError, EOFError, zlib.error) as exc:
                raise ValueError("binary frame is not valid gzip") from exc
        try:
            data = data.decode()
        except UnicodeDecodeError as exc:
            raise ValueError("message is not UTF-8 text") from exc
    if len(data) > max_bytes:
        raise ValueError("message too large")
    try:
        message = json.loads(data)
    except json.JSONDecodeError as exc:
        raise ValueError("message is not valid JSON") from exc
    if not isinstance(message, dict):
        raise ValueError("message must be a JSON object")
    return message


def fmt_scaled(value: Decimal, scale: int) -> str:
    """A decimal string with exactly ``scale`` places (the market's priceScale/volumeScale)."""
    return f"{value:.{scale}f}"


def fmt_plain(value: Decimal) -> str:
    """A decimal string without exponent, as the exchange prints amounts."""
    text = format(value, "f")
    return text
