"""``cancel-all``: cancel every open order of ours, for every key of a config, without the engine.

Bitrue has no cancel-on-disconnect: orders rest after the bot stops, however it stopped (a
kill, an out-of-memory kill, a crash, a lost host). This is the operator's and the service
manager's last step (``ExecStopPost=`` in ``examples/liquidity-bot.service``). It needs only
the vault, not a passing verification: a key that no longer passes the policy must still be able
to cancel what it placed. A native Bitrue key is reached through Bitrue's REST client; a key of a
``connector = "ccxt"`` market through its ccxt venue (the engine's port). "Ours" is what carries a configured market's client-id prefix (the
order manager's own test, ``ClientIds.is_ours``); nothing else on the account is touched.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from liquidity_bot.config import BotConfig
from liquidity_bot.engine.order_manager import ClientIds

log = logging.getLogger(__name__)

AccountKey = tuple[str, str, dict[str, str]]  # api key, secret, other credentials (by name)


@dataclass(frozen=True)
class OpenOrder:
    """One order of ours the exchange lists as open."""

    key_label: str
    symbol: str
    client_order_id: str
    side: str
    price: Decimal
    qty: Decimal

    def line(self) -> str:
        return (f"key {self.key_label!r} {self.symbol} {self.client_order_id} {self.side} "
                f"{self.qty:f} @ {self.price:f}")


@dataclass
class CancelAllResult:
    """What was cancelled, what is still open, and what could not even be asked."""

    cancelled: list[OpenOrder] = field(default_factory=list)
    left: list[OpenOrder] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # keys or symbols we could not check

    @property
    def clean(self) -> bool:
        return not self.left and not self.errors


def keys_from_vault(home: Any, passphrase: str, exchanges: Mapping[str, str]
                    ) -> tuple[dict[str, AccountKey], list[str]]:
    """``label -> (api_key, secret, extras)`` of each label's active key on its exchange (``exchanges``:
    label -> exchange), and what could not be read (the vault errors say why). Raises
    ``VaultError`` when the vault itself cannot be opened."""
    from liquidity_bot.keys.home import KeysHome
    from liquidity_bot.keys.vault import RecordNotFound, Vault, VaultError

    keys: dict[str, AccountKey] = {}
    problems: list[str] = []
    vault = Vault.open(KeysHome(home).vault if not isinstance(home, KeysHome) else home.vault)
    vault.unlock(passphrase)
    try:
        for label, exchange in exchanges.items():
            try:
                record = vault.find_active(label, exchange)
                keys[label] = (record.api_key, vault.reveal(record.id),
                               vault.reveal_extras(record.id))
            except RecordNotFound:
                problems.append(f"key {label!r}: no active key with this label in the vault; "
                                "its orders were not checked")
            except VaultError as exc:
                problems.append(f"key {label!r}: {exc}; its orders were not checked")
    finally:
        vault.lock()
    return keys, problems


def _prefixes(config: BotConfig) -> dict[str, dict[str, list[ClientIds]]]:
    """key label -> symbol -> the id patterns of that key's markets (every prefix the key uses
    on every one of its symbols: an order of ours is ours whichever market placed it)."""
    out: dict[str, dict[str, list[ClientIds]]] = {}
    for m in config.markets:
        out.setdefault(m.key_label, {})
    for label, by_symbol in out.items():
        ids = [ClientIds(p) for p in sorted({m.client_id_prefix for m in config.markets
                                             if m.key_label == label})]
        for m in config.markets:
            if m.key_label == label:
                by_symbol[m.symbol] = ids
    return out


async def cancel_all(
    config: BotConfig,
    keys: dict[str, AccountKey],
    *,
    deadline_s: float = 30.0,
    report: Callable[[str], None] = lambda _m: None,
    client_factory: Callable[..., Any] | None = None,
    on_request: Callable[[OpenOrder], None] = lambda _o: None,
) -> CancelAllResult:
    """Cancel every open order of ours for each ``label -> (api_key, secret, extras)`` in ``keys``;
    rounds of list-then-cancel until the exchange lists none of ours or ``deadline_s`` passes.

    A native Bitrue key goes through Bitrue's REST client alone (no stream is opened); a key of
    a ccxt market goes through its venue, the same port the engine trades through."""
    result = CancelAllResult()
    exchanges = {m.key_label: m for m in config.markets}
    for label, by_symbol in _prefixes(config).items():
        if label not in keys:
            continue
        # a label whose key is unknown here is the caller's to report
        api_key, secret, extras = keys[label]
        market = exchanges[label]
        if market.connector == "native":
            account = _bitrue_account(config, label, api_key, secret, client_factory)
        else:
            account = _port_account(config, market.exchange, label, api_key, secret, extras,
                                    list(by_symbol))
        try:
            async with account as opened:
                for symbol, ids in by_symbol.items():
                    await _cancel_symbol(opened, label, symbol, ids, deadline_s, result,
                                         report, on_request)
        except opened_failures() as exc:  # the venue could not even start
            result.errors.append(f"key {label!r} on {market.exchange}: cannot reach the "
                                 f"exchange ({exc}); its orders were not checked")
    return result


class _Account:
    """One key's open orders on one exchange, however they are reached: ``listed(symbol)`` is
    every open order (client id, side, price, quantity left); ``cancel`` is True when cancelled,
    False when the exchange no longer knows the order (filled or cancelled meanwhile), and
    raises otherwise. ``fatal`` errors cannot be helped by retrying; ``retried`` ones can."""

    fatal: tuple[type[BaseException], ...] = ()
    retried: tuple[type[BaseException], ...] = ()

    async def __aenter__(self) -> _Account:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def listed(self, symbol: str) -> list[tuple[str, str, Decimal, Decimal]]:
        raise NotImplementedError

    async def cancel(self, symbol: str, client_order_id: str) -> bool:
        raise NotImplementedError


class _BitrueAccount(_Account):
    def __init__(self, client: Any) -> None:
        from liquidity_bot.venues.bitrue import errors as E

        self.client, self.E = client, E
        self.fatal = (E.AuthenticationError, E.PermissionDenied, E.BadRequest,
                      E.CertificateRejected)
        self.retried = (E.BitrueError,)

    async def __aenter__(self) -> _Account:
        await self.client.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.client.__aexit__(*exc)

    async def listed(self, symbol: str) -> list[tuple[str, str, Decimal, Decimal]]:
        return [(o.clientOrderId or "", o.side, o.price, o.origQty - o.executedQty)
                for o in await self.client.open_orders(symbol)]

    async def cancel(self, symbol: str, client_order_id: str) -> bool:
        try:
            await self.client.cancel_order(symbol, client_order_id=client_order_id)
        except self.E.OrderNotFound:
            return False
        return True


def _bitrue_account(config: BotConfig, label: str, api_key: str, secret: str,
                    client_factory: Callable[..., Any] | None) -> _Account:
    from liquidity_bot.venues.bitrue.factory import urls_of
    from liquidity_bot.venues.bitrue.rest import BitrueRestClient

    factory = client_factory or BitrueRestClient
    # from the key's own address: its IP allow list, its per-IP order window
    return _BitrueAccount(factory(urls_of(config), api_key, secret,
                                  source_address=config.bitrue.address_of(label),
                                  recv_window=config.bitrue.recv_window))


class _PortAccount(_Account):
    def __init__(self, venue: Any) -> None:
        from liquidity_bot.venues import errors as E

        self.venue = venue
        self.fatal = (E.AuthError, E.PermissionDenied, E.Rejected, E.CertificateRejected)
        self.retried = (E.VenueError,)

    async def __aenter__(self) -> _Account:
        await self.venue.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.venue.stop()

    async def listed(self, symbol: str) -> list[tuple[str, str, Decimal, Decimal]]:
        return [(o.client_order_id or "", str(o.side), o.price, o.qty - o.filled_qty)
                for o in await self.venue.open_orders(symbol) if o.is_open]

    async def cancel(self, symbol: str, client_order_id: str) -> bool:
        from liquidity_bot.domain.events import CancelAck

        answer = await self.venue.cancel(symbol, client_order_id=client_order_id)
        return isinstance(answer, CancelAck)


def _port_account(config: BotConfig, exchange_name: str, label: str, api_key: str, secret: str,
                  extras: dict[str, str], symbols: list[str]) -> _Account:
    from liquidity_bot.venues.registry import through_ccxt

    return _PortAccount(through_ccxt(exchange_name).venue_for(
        config, api_key, secret, symbols, key_label=label, extras=extras))


def opened_failures() -> tuple[type[BaseException], ...]:
    """What opening an account may raise that says the exchange cannot be reached or refuses
    the key (reported per key; the other keys go on)."""
    from liquidity_bot.venues import errors as venue_errors
    from liquidity_bot.venues.bitrue import errors as bitrue_errors

    return (venue_errors.VenueError, bitrue_errors.BitrueError, OSError)


async def _cancel_symbol(account: _Account, label: str, symbol: str, ids: list[ClientIds],
                         deadline_s: float, result: CancelAllResult,
                         report: Callable[[str], None],
                         on_request: Callable[[OpenOrder], None]) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + deadline_s
    delay = 0.2
    ours: list[OpenOrder] = []
    while True:
        try:
            ours = [OpenOrder(label, symbol, cid, side, price, left)
                    for cid, side, price, left in await account.listed(symbol)
                    if any(i.is_ours(cid) for i in ids)]
        except account.fatal as exc:
            # retrying cannot help: say so now (a disabled key, an unknown symbol, a TLS
            # certificate that is not trusted)
            result.errors.append(f"key {label!r} {symbol}: cannot list open orders: {exc}")
            return
        except account.retried as exc:
            if loop.time() > deadline:
                result.errors.append(f"key {label!r} {symbol}: cannot list open orders "
                                     f"({exc}); orders of ours may still be open")
                result.left.extend(ours)
                return
            log.warning("%s: listing open orders failed (%s); retrying", symbol,
                        type(exc).__name__)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)
            continue
        if not ours:
            return
        if loop.time() > deadline:
            result.left.extend(ours)
            return
        failed = False
        for o in ours:
            on_request(o)  # (a record: the exchange counts it against the order limits)
            try:
                cancelled = await account.cancel(symbol, o.client_order_id)
            except account.retried as exc:
                log.warning("%s: cancelling %s failed (%s)", symbol, o.client_order_id,
                            type(exc).__name__)
                failed = True
                continue
            if not cancelled:
                continue  # filled or cancelled meanwhile: the next listing tells
            result.cancelled.append(o)
            report(f"cancelled {o.line()}")
        if failed:
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)
