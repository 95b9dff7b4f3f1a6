"""Hand credentials (listen keys, secrets) to the logging redaction layer, when it is present."""

from __future__ import annotations

import importlib


def register_secret(value: str | None) -> bool:
    """Register ``value`` with ``liquidity_bot.logs.register_secret``; False if unavailable."""
    if not value:
        return False
    try:
        logs = importlib.import_module("liquidity_bot.logs")
    except ImportError:  # pragma: no cover - the package always ships logs.py
        return False
    register = getattr(logs, "register_secret", None)
    if register is None:
        return False
    register(value)
    return True
