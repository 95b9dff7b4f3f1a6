"""Binance's documented spot limits as the shared rate limiter's policies.

``REQUEST_WEIGHT`` 6000 per minute per IP; ``ORDERS`` 100 per 10 s and 200 000 per day per
account (the docs count new orders only, so cancels are not charged). exchangeInfo shows
them in Binance's own shape (``rateLimitType``/``interval``/``intervalNum``/``limit``).
"""

from __future__ import annotations

from bitrue_sim.ratelimit import Policy

BINANCE_POLICIES: tuple[Policy, ...] = (
    Policy("REQUEST_WEIGHT", "IP", "general", 6000, 1, "MINUTES"),
    Policy("ORDERS_10S", "USER", "orders", 100, 10, "SECONDS"),
    Policy("ORDERS_1D", "USER", "orders", 200_000, 1, "DAYS"),
)

_INTERVAL = {"SECONDS": "SECOND", "MINUTES": "MINUTE", "HOURS": "HOUR", "DAYS": "DAY"}
_TYPE = {"general": "REQUEST_WEIGHT", "orders": "ORDERS"}


def exchange_info_limits(policies: tuple[Policy, ...]) -> list[dict]:
    """``exchangeInfo.rateLimits`` entries for the policies Binance documents."""
    return [
        {
            "rateLimitType": _TYPE[p.category],
            "interval": _INTERVAL[p.time_unit],
            "intervalNum": p.time_count,
            "limit": p.limit,
        }
        for p in policies
        if p.category in _TYPE
    ]
