"""``cancel-all``: cancel every open order of ours, for every key of a config, without the engine.

Bitrue has no cancel-on-disconnect: orders rest after the bot stops, however it stopped (a
kill, an out-of-memory kill, a crash, a lost host). This is the operator's and the service
manager's last step (``ExecStopPost=`` in ``examples/liquidity-bot.service``). It needs only
the vault, not a passing verification: a key that no longer passes the policy must still be able
to cancel what it placed. "Ours" is what carries a configured market's client-id prefix (the
order manager's own test, ``ClientIds.is_ours``); nothing else on the account is touched.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from liquidity_bot.config import BotConfig
from liquidity_bot.engine.order_manager import ClientIds

log = logging.getLogger(__name__)


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


def keys_from_vault(home: Any, passphrase: str, labels: Any) -> tuple[dict[str, tuple[str, str]],
                                                                     list[str]]:
    """``label -> (api_key, secret)`` of each label's active key, and what could not be read
    (the vault errors say why). Raises ``VaultError`` when the vault itself cannot be opened."""
    from liquidity_bot.keys.home import KeysHome
    from liquidity_bot.keys.vault import RecordNotFound, Vault, VaultError

    keys: dict[str, tuple[str, str]] = {}
    problems: list[str] = []
    vault = Vault.open(KeysHome(home).vault if not isinstance(home, KeysHome) else home.vault)
    vault.unlock(passphrase)
    try:
        for label in labels:
            try:
                record = vault.find_active(label, "bitrue")
                keys[label] = (record.api_key, vault.reveal(record.id))
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
    keys: dict[str, tuple[str, str]],
    *,
    deadline_s: float = 30.0,
    report: Callable[[str], None] = lambda _m: None,
    client_factory: Callable[..., Any] | None = None,
    on_request: Callable[[OpenOrder], None] = lambda _o: None,
) -> CancelAllResult:
    """Cancel every open order of ours for each ``label -> (api_key, secret)`` in ``keys``;
    rounds of list-then-cancel until the exchange lists none of ours or ``deadline_s`` passes."""
    from liquidity_bot.venues.bitrue.factory import urls_of
    from liquidity_bot.venues.bitrue.rest import BitrueRestClient

    factory = client_factory or BitrueRestClient
    result = CancelAllResult()
    urls = urls_of(config)
    for label, by_symbol in _prefixes(config).items():
        if label not in keys:
            continue
        # a label whose key is unknown here is the caller's to report
        api_key, secret = keys[label]
        # from the key's own address: its IP allow list, its per-IP order window
        async with factory(urls, api_key, secret, source_address=config.bitrue.address_of(label),
                           recv_window=config.bitrue.recv_window) as client:
            for symbol, ids in by_symbol.items():
                await _cancel_symbol(client, label, symbol, ids, deadline_s, result, report,
                                     on_request)
    return result


async def _cancel_symbol(client: Any, label: str, symbol: str, ids: list[ClientIds],
                         deadline_s: float, result: CancelAllResult,
                         report: Callable[[str], None],
                         on_request: Callable[[OpenOrder], None]) -> None:
    from liquidity_bot.venues.bitrue.errors import (
        AuthenticationError,
        BadRequest,
        BitrueError,
        CertificateRejected,
        OrderNotFound,
        PermissionDenied,
    )

    loop = asyncio.get_running_loop()
    deadline = loop.time() + deadline_s
    delay = 0.2
    ours: list[OpenOrder] = []
    while True:
        try:
            ours = [OpenOrder(label, symbol, o.clientOrderId, o.side, o.price,
                              o.origQty - o.executedQty)
                    for o in await client.open_orders(symbol)
                    if any(i.is_ours(o.clientOrderId) for i in ids)]
        except (AuthenticationError, PermissionDenied, BadRequest, CertificateRejected) as exc:
            # retrying cannot help: say so now (a disabled key, an unknown symbol, a TLS
            # certificate that is not trusted)
            result.errors.append(f"key {label!r} {symbol}: cannot list open orders: {exc}")
            return
        except BitrueError as exc:
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
                await client.cancel_order(symbol, client_order_id=o.client_order_id)
            except OrderNotFound:
                continue  # filled or cancelled meanwhile: the next listing tells
            except BitrueError as exc:
                log.warning("%s: cancelling %s failed (%s)", symbol, o.client_order_id,
                            type(exc).__name__)
                failed = True
                continue
            result.cancelled.append(o)
            report(f"cancelled {o.line()}")
        if failed:
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)
