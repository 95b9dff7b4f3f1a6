"""One key prober per exchange, and the map from an exchange's name to it.

A prober (``keys.verify.KeyProber``) has one attribute and one method::

    exchange: str
    async def probe(self, run: keys.verify.ProbeRun) -> None

``prober_for(name, urls=..., client_factory=...)`` builds it; ``PROBERS`` is what a venue
registry maps an exchange name to. ``urls`` is the exchange's endpoints as its prober
understands them (``BitrueUrls`` for Bitrue, a base URL for the others, None for production);
``client_factory`` replaces the network side (tests, the simulator).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from liquidity_bot.keys.verify import ClientFactory, KeyProber

ProberFactory = Callable[..., KeyProber]


def _bitrue(urls: Any = None, client_factory: ClientFactory | None = None) -> KeyProber:
    from liquidity_bot.keys.probers.bitrue import BitrueKeyProber

    return BitrueKeyProber(urls, client_factory)


PROBERS: dict[str, ProberFactory] = {"bitrue": _bitrue}


def prober_for(
    exchange: str, *, urls: Any = None, client_factory: ClientFactory | None = None
) -> KeyProber:
    """The exchange's key prober; an exchange without one is a clear error."""
    try:
        make = PROBERS[exchange]
    except KeyError:
        raise ValueError(
            f"cannot verify keys for {exchange!r}: probers exist for {', '.join(PROBERS)}"
        ) from None
    return make(urls=urls, client_factory=client_factory)
