"""One key prober per exchange, and the map from an exchange's name to it.

A prober (``keys.verify.KeyProber``) has one attribute and one method::

    exchange: str
    async def probe(self, run: keys.verify.ProbeRun) -> None

``prober_for(name, urls=..., client_factory=...)`` builds it; ``PROBERS`` is what a venue
registry maps an exchange name to. ``urls`` is the exchange's endpoints as its prober
understands them (``BitrueUrls`` for Bitrue, a base URL string for the others; None means
production); ``client_factory`` replaces the network side: for Bitrue a ``BitrueRestClient``
factory, for the others a ``transport.KeyTransport`` factory (tests, the simulator).

=========================================  =================================================
exchanges                                  prober
=========================================  =================================================
bitrue                                     ``bitrue.BitrueKeyProber`` (probes)
binance, bybit, okx, kucoin, bingx,        ``reported.ReportedPermissionsProber`` with the
coinbase                                   exchange's permission reader (``<exchange>.py``)
gate, mexc, xt, lbank                      ``probed.ProbedKeyProber`` (probes through ccxt)
bitmart, coinstore, biconomy               ``manual.NoClientKeyProber`` (no client: unknown)
=========================================  =================================================

A new exchange needs, for its keys: one record in ``keys/exchanges.py`` (its permission names,
what to leave disabled, extra credentials, key format, checks that do not apply), and one entry
here: a ``PermissionReport`` (ccxt's name for the endpoint and a pure reader of the answer, tested
on the exchange's documented answer) when the exchange tells a key its permissions, else the
probed prober with its ccxt id.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import Any

from liquidity_bot.keys.verify import ClientFactory, KeyProber

ProberFactory = Callable[..., KeyProber]


def _bitrue(urls: Any = None, client_factory: ClientFactory | None = None) -> KeyProber:
    from liquidity_bot.keys.probers.bitrue import BitrueKeyProber

    return BitrueKeyProber(urls, client_factory)


def _reported(module: str) -> ProberFactory:
    def make(urls: Any = None, client_factory: ClientFactory | None = None) -> KeyProber:
        from liquidity_bot.keys.probers.reported import ReportedPermissionsProber

        spec = import_module(f"liquidity_bot.keys.probers.{module}").SPEC
        return ReportedPermissionsProber(spec, _base_url(urls), client_factory)

    return make


def _probed(exchange: str) -> ProberFactory:
    def make(urls: Any = None, client_factory: ClientFactory | None = None) -> KeyProber:
        from liquidity_bot.keys.exchanges import guide_of
        from liquidity_bot.keys.probers.probed import ProbedKeyProber

        ccxt_id = guide_of(exchange).ccxt_id or exchange
        return ProbedKeyProber(exchange, ccxt_id, _base_url(urls), client_factory)

    return make


def _no_client(exchange: str) -> ProberFactory:
    def make(urls: Any = None, client_factory: ClientFactory | None = None) -> KeyProber:
        from liquidity_bot.keys.probers.manual import NoClientKeyProber

        return NoClientKeyProber(exchange)

    return make


def _base_url(urls: Any) -> str | None:
    if urls is None or isinstance(urls, str):
        return urls
    raise ValueError(f"this exchange's prober takes a base URL, not {type(urls).__name__}")


PROBERS: dict[str, ProberFactory] = {
    "bitrue": _bitrue,
    **{x: _reported(x) for x in ("binance", "bybit", "okx", "kucoin", "bingx", "coinbase")},
    **{x: _probed(x) for x in ("gate", "mexc", "xt", "lbank")},
    **{x: _no_client(x) for x in ("bitmart", "coinstore", "biconomy")},
}


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
