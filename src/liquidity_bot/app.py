"""The composition root: everything the bot runs is built here, from the config, in one place.

The engine receives venues, a clock and its parts and knows nothing else; the commands (``run``,
``demo``, ``backtest``, the chaos soak) ask this module for what they need:

- ``open_sessions``: each configured key through the keys gate, with its venue from the
  exchange registry (``venues.registry``);
- ``build_engine``: the ``Engine`` with the settings of the config (a caller overrides what
  differs: the backtest's clock and parts, the demo's faster balance snapshots);
- ``venue_for`` and ``address_governor(s)``: an exchange's venue for a key (from the key's own
  source address when the config gives it one) and the per-address pacing;
- ``onboard_sim_client``: a simulator account and key made as the onboarding guide says, stored
  in the vault and verified (the demo and the chaos soak).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from liquidity_bot.config import BotConfig
from liquidity_bot.engine.runner import Engine, KeySession, group_by_key, share_ip_order_limit
from liquidity_bot.store import Store
from liquidity_bot.venues.port import Venue
from liquidity_bot.venues.registry import Exchange, exchange, through_ccxt

DEFAULT_EXCHANGE = "bitrue"


def venue_for(config: BotConfig, api_key: str, secret: str, symbols: Iterable[str],
              exchange_name: str = DEFAULT_EXCHANGE, key_label: str | None = None) -> Venue:
    """The venue of ``exchange_name`` for one key and its symbols, as the config says (from
    the key's own source address when ``key_label`` has one)."""
    return exchange(exchange_name).venue_for(config, api_key, secret, symbols,
                                             key_label=key_label)


def address_governor(config: BotConfig, exchange_name: str = DEFAULT_EXCHANGE,
                     key_label: str | None = None) -> Any | None:
    """The per-address rate governor ``key_label`` sends through (``source_address``'s when
    None; None when the exchange has none)."""
    return exchange(exchange_name).address_governor(config, key_label)


def address_governors(config: BotConfig, exchange_name: str = DEFAULT_EXCHANGE) -> list[Any]:
    """The per-address rate governors of every address the config's keys send from."""
    return exchange(exchange_name).address_governors(config)


def build_engine(config: BotConfig, sessions: Iterable[KeySession], *, store: Store | None,
                 **overrides: Any) -> Engine:
    """The ``Engine`` for ``sessions`` with the config's settings; ``overrides`` are passed on
    as they are (e.g. ``clock``, ``parts``, ``on_tick``, ``store_kpis``)."""
    settings: dict[str, Any] = {
        "all_markets": config.markets,
        "recv_window_ms": config.bitrue.recv_window,
        "kpi_interval_s": config.kpi_interval_s,
        "reverify_after_s": config.keys.reverify_after_s,
        "order_target": config.order_target_per_minute,
    }
    settings.update(overrides)
    engine = Engine(sessions, store=store, **settings)
    engine.shutdown_deadline_s = config.shutdown_timeout_s
    return engine


async def open_sessions(
    config: BotConfig,
    *,
    home: Any,
    passphrase: str,
    canary_source: str | None = None,
    reverify: bool = True,
    report: Callable[[str], None] = lambda _m: None,
) -> tuple[list[KeySession], dict[str, str]]:
    """Pass each key through the keys gate, mark it used, build its venue, watch it.

    ``home`` is a ``KeysHome`` (give it ``audit_mirror=store_mirror(store)`` so key events also
    land in the store). Each session carries a ``KeyWatch`` the engine refreshes while running.
    Returns the sessions and, per refused key label, why it was refused (its markets do not run).
    """
    from liquidity_bot.keys.gate import KeyRefused, KeyWatch, require_tradeable
    from liquidity_bot.keys.hygiene import mark_used
    from liquidity_bot.keys.policy import load_policy
    from liquidity_bot.keys.vault import VaultError

    policy = load_policy(config.keys.policy_path or home.policy)
    grace_s = float(config.keys.reverify_grace_s)
    sessions: list[KeySession] = []
    refused: dict[str, str] = {}
    for label, markets in group_by_key(config.markets).items():
        market = markets[0]  # a key's markets share one exchange and connector (config checks)
        entry = through_ccxt(market.exchange) if market.connector == "ccxt" else \
            exchange(market.exchange)
        # the exchange's own key prober, where the config says the exchange is
        urls = entry.prober_urls(config)
        # the gate's probes of this key go from the key's own address (its IP allow list)
        client = entry.key_client_factory(config, label)
        try:
            if reverify:
                watch = await KeyWatch.start(
                    label, home=home, passphrase=passphrase, exchange=market.exchange,
                    policy=policy, urls=urls, canary_source=canary_source,
                    client_factory=client, unverifiable_grace_s=grace_s,
                )
            else:
                key = await require_tradeable(
                    label, home=home, passphrase=passphrase, exchange=market.exchange,
                    policy=policy, urls=urls, canary_source=canary_source, reverify=False,
                    client_factory=client,
                )
                watch = KeyWatch(key, home=home, passphrase=passphrase, policy=policy, urls=urls,
                                 canary_source=canary_source, client_factory=client,
                                 unverifiable_grace_s=grace_s)
        except (KeyRefused, VaultError) as exc:
            refused[label] = str(exc)
            report(f"key {label!r} refused: {exc}")
            continue
        key = watch.current
        mark_used(home, label)
        report(f"key {label!r} passed the gate (verdict {key.report.verdict})")
        symbols = [m.symbol for m in markets]
        key_exchange = getattr(key, "exchange", "bitrue")
        if key_exchange != market.exchange:
            refused[label] = (f"key {label!r} belongs to {key_exchange} but its markets trade "
                              f"on {market.exchange}: add a {market.exchange} key under this label")
            report(f"key {label!r} refused: {refused[label]}")
            continue

        def venue_for(key: Any, symbols: list[str] = symbols, entry: Exchange = entry,
                      label: str = label) -> Venue:
            # the key's other credentials (OKX/KuCoin passphrase, BitMart memo) go along
            extras = {name: value.reveal() for name, value in key.extras.items()}
            return entry.venue_for(config, key.api_key, key.secret.reveal(), symbols,
                                   key_label=label, extras=extras)

        def factory(key: Any = key, venue_for: Any = venue_for) -> Venue:
            return venue_for(key)

        sessions.append(
            KeySession(label=label, venue=factory(), markets=markets, venue_factory=factory,
                       watch=watch, venue_for=venue_for)
        )
    share_ip_order_limit(sessions)
    return sessions, refused


AdminCall = Callable[[str, str, object | None], Awaitable[dict[str, Any]]]


async def onboard_sim_client(
    admin: AdminCall,
    keys_home: Any,
    *,
    passphrase: str,
    label: str,
    balances: dict[str, str],
    symbols: Iterable[str],
    base_url: str,
    ca_file: str | None,
    canary_source: str,
    exchange: str = DEFAULT_EXCHANGE,
) -> tuple[int, Any]:
    """A simulator account with ``balances`` and an API key for it made as the onboarding guide
    says (Read + Trade, allow list 127.0.0.1), stored in the vault of ``keys_home`` and
    verified by ``exchange``'s key prober (the simulator speaks that exchange's API at
    ``base_url``). ``admin(method, path, body)`` calls the simulator's admin API. Returns the
    account id and the verification report (the caller decides what a failed verdict means).
    The secret is registered with the log redactor before anything else is done with it."""
    from liquidity_bot.keys.gate import verify_and_record
    from liquidity_bot.keys.hygiene import add_key
    from liquidity_bot.keys.policy import load_policy
    from liquidity_bot.keys.vault import Vault
    from liquidity_bot.logs import register_secret
    from liquidity_bot.venues.bitrue.urls import BitrueUrls

    account = await admin("POST", "/sim/admin/accounts", {"balances": balances})
    created = await admin("POST", "/sim/admin/keys", {
        "account_id": account["account_id"], "label": label,
        "permissions": ["read", "trade"], "ip_allowlist": ["127.0.0.1"],
    })
    register_secret(created["secret"])
    record = await asyncio.to_thread(
        add_key, keys_home, passphrase=passphrase, exchange=exchange, label=label,
        api_key=created["api_key"], secret=created["secret"], markets=tuple(symbols))
    del created
    vault = Vault.open(keys_home.vault).unlock(passphrase)
    try:
        report = await verify_and_record(
            keys_home, record, vault.reveal(record.id), policy=load_policy(keys_home.policy),
            urls=BitrueUrls.single(base_url, ca_file=ca_file) if exchange == DEFAULT_EXCHANGE
            else base_url, canary_source=canary_source)
    finally:
        vault.lock()
    return int(account["account_id"]), report
