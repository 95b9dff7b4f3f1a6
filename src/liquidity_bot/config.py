"""The bot's configuration: one TOML file loaded into frozen, typed structs.

Why a hand-written loader on top of msgspec structs: every mistake must come back as ONE exception
type (`ConfigError`) naming the file, the key path (`markets[0].risk.max_order_notional`) and what
is allowed; money must be `Decimal` parsed from quoted strings (TOML floats lose precision); and
secrets must never live in this file (they belong in the vault, `liquidity-bot keys add`).

Units: every `*_pct` value is a percentage (`"0.5"` means 0.5 %), every `*_quote` and `*_notional`
value is in the quote asset of the market, `*_s` are seconds and `*_ms` milliseconds.
"""

from __future__ import annotations

import difflib
import ipaddress
import math
import os
import re
import tomllib
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import msgspec

__all__ = [
    "DEFAULT_FUTURES_URL",
    "DEFAULT_LISTEN_KEY_URL",
    "DEFAULT_MARKET_WS_URL",
    "DEFAULT_SPOT_URL",
    "DEFAULT_USER_WS_URL",
    "PASSPHRASE_ENV",
    "DASHBOARD_TOKEN_ENV",
    "HOME_ENV",
    "AlertChannelConfig",
    "AlertsConfig",
    "AvellanedaParams",
    "BitrueConfig",
    "BotConfig",
    "ConfigError",
    "DashboardConfig",
    "KeysConfig",
    "LadderParams",
    "MarketConfig",
    "ObligationsConfig",
    "OrderManagerConfig",
    "RiskConfig",
    "StoreConfig",
    "dashboard_token_from_env",
    "default_home",
    "load_config",
    "parse_config",
    "passphrase_from_env",
]

PASSPHRASE_ENV = "LIQUIDITY_BOT_PASSPHRASE"
DASHBOARD_TOKEN_ENV = "LIQUIDITY_BOT_DASHBOARD_TOKEN"
HOME_ENV = "LIQUIDITY_BOT_HOME"

DEFAULT_SPOT_URL = "https://openapi.bitrue.com"
DEFAULT_LISTEN_KEY_URL = "https://open.bitrue.com"
DEFAULT_FUTURES_URL = "https://fapi.bitrue.com"
DEFAULT_MARKET_WS_URL = "wss://ws.bitrue.com"
DEFAULT_USER_WS_URL = "wss://wsapi.bitrue.com"
MARKET_WS_PATH = "/market/ws"
USER_WS_PATH = "/stream"

_VAULT_HINT = (
    "secrets never go in the config file: store API keys in the vault with "
    "`liquidity-bot keys add`; the vault passphrase comes only from the environment variable "
    f"{PASSPHRASE_ENV} or an interactive prompt"
)


class ConfigError(Exception):
    """A configuration problem; the message names the file, the key path and what is allowed."""

    def __init__(
        self, file: str | os.PathLike[str], key_path: str, problem: str, *, line: int | None = None
    ) -> None:
        self.file = str(file)
        self.key_path = key_path
        self.problem = problem
        self.line = line
        where = f"{self.file}:{line}" if line is not None else self.file
        super().__init__(f"{where}: {key_path}: {problem}" if key_path else f"{where}: {problem}")


# ---------------------------------------------------------------------------------------------
# Constraints attached to fields with `Annotated[...]`; the loader enforces them.


@dataclass(frozen=True)
class Check:
    """Allowed range/shape of one field; `allowed` is what the error message tells the user."""

    ge: Any = None
    gt: Any = None
    le: Any = None
    lt: Any = None
    pattern: str | None = None
    validator: Callable[[Any], str | None] | None = None
    allowed: str | None = None

    def problem(self, value: Any) -> str | None:
        if self.pattern is not None and not re.fullmatch(self.pattern, value):
            return f"must be {self.allowed or 'match ' + self.pattern}, got {_show(value)}"
        bounds = []
        ok = True
        if self.gt is not None:
            bounds.append(f"> {self.gt}")
            ok &= value > self.gt
        if self.ge is not None:
            bounds.append(f">= {self.ge}")
            ok &= value >= self.ge
        if self.lt is not None:
            bounds.append(f"< {self.lt}")
            ok &= value < self.lt
        if self.le is not None:
            bounds.append(f"<= {self.le}")
            ok &= value <= self.le
        if not ok:
            return f"must be {self.allowed or ' and '.join(bounds)}, got {_show(value)}"
        if self.validator is not None:
            return self.validator(value)
        return None


def _is_loopback_host(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _url_problem(value: str, secure: str, plain: str) -> str | None:
    parts = urlsplit(value)
    if parts.scheme not in (secure, plain) or not parts.hostname:
        return f"must be a {secure}:// (or {plain}:// on loopback) base address, got {_show(value)}"
    if parts.username or parts.password:
        return "must not contain a user name or password; " + _VAULT_HINT
    if parts.query or parts.fragment:
        return f"must be a base address without query or fragment, got {_show(value)}"
    if parts.scheme == plain and not _is_loopback_host(parts.hostname):
        return (
            f"plain {plain}:// is allowed only for loopback addresses (the simulator); "
            f"use {secure}:// for {parts.hostname}"
        )
    try:
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return f"has an invalid port, got {_show(value)}"
    return None


def http_url_problem(value: str) -> str | None:
    """Why ``value`` cannot be a Bitrue REST base address (None if it can): the one check for
    the config's ``base_url`` and every command line ``--base-url``; plain http only on loopback."""
    return _url_problem(value, "https", "http")


_http_url = http_url_problem


def _ws_url(value: str) -> str | None:
    return _url_problem(value, "wss", "ws")


def _ip_address(value: str) -> str | None:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return f"must be an IPv4 or IPv6 address, got {_show(value)}"
    return None


_STORE_URL_RE = re.compile(r"(sqlite|postgresql)(\+\w+)?://.*", re.S)


def _store_url(value: str) -> str | None:
    if not _STORE_URL_RE.fullmatch(value):
        return (
            "must be an SQLAlchemy URL starting with sqlite:// or postgresql:// "
            f"(optionally +driver), got {_show(value)}"
        )
    if urlsplit(value.replace("{home}", "home")).password:
        return (
            "must not contain a password: give PostgreSQL its password through the "
            "environment (PGPASSWORD) or a ~/.pgpass file; " + _VAULT_HINT
        )
    return None


HttpUrl = Annotated[str, Check(validator=_http_url)]
WsUrl = Annotated[str, Check(validator=_ws_url)]
Pct = Annotated[Decimal, Check(gt=Decimal(0), lt=Decimal(100))]
NonNegPct = Annotated[Decimal, Check(ge=Decimal(0), lt=Decimal(100))]
PositiveMoney = Annotated[Decimal, Check(gt=Decimal(0))]
NonNegMoney = Annotated[Decimal, Check(ge=Decimal(0))]
Share = Annotated[Decimal, Check(ge=Decimal(0), le=Decimal(1))]
PositiveSeconds = Annotated[float, Check(gt=0)]


class _Frozen(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Base of every config struct: immutable, unknown keys are errors."""


# ---------------------------------------------------------------------------------------------
# The schema.


class _SendsFrom(_Frozen, frozen=True):
    """The local addresses an exchange's keys send from (each address is its own IP on the
    exchange: its own rate limits, and the address a key's IP allow list must hold)."""

    source_address: Annotated[str, Check(validator=_ip_address)] | None = None
    key_source_addresses: dict[str, Annotated[str, Check(validator=_ip_address)]] = (
        msgspec.field(default_factory=dict))
    """Key label -> the local address that key sends from (each address has its own per-IP
    order limit); a key not listed sends from ``source_address``."""

    def address_of(self, key_label: str | None) -> str | None:
        """The local address ``key_label``'s requests and streams go from (None: the OS's)."""
        if key_label is None:
            return self.source_address
        return self.key_source_addresses.get(key_label, self.source_address)


class BitrueConfig(_SendsFrom, frozen=True):
    """Where Bitrue lives (every base address can be overridden) and how requests are sent."""

    base_url: str | None = None
    """Shortcut: point every address at one host (the simulator); ws addresses derive http->ws."""
    spot_url: HttpUrl = DEFAULT_SPOT_URL
    listen_key_url: HttpUrl = DEFAULT_LISTEN_KEY_URL
    futures_url: HttpUrl = DEFAULT_FUTURES_URL
    market_ws_url: WsUrl = DEFAULT_MARKET_WS_URL
    user_ws_url: WsUrl = DEFAULT_USER_WS_URL
    recv_window: Annotated[int, Check(ge=1, le=60000)] = 5000
    request_timeout_s: Annotated[float, Check(gt=0, le=300)] = 10.0
    ca_file: Path | None = None
    """A PEM CA certificate to trust besides the system's (relative to the config file); every
    https/wss connection is verified, always."""

    @property
    def market_ws_endpoint(self) -> str:
        """Full address of the market WebSocket (base + /market/ws)."""
        return self.market_ws_url + MARKET_WS_PATH

    @property
    def user_ws_endpoint(self) -> str:
        """Full address of the user-data WebSocket, without the `?listenKey=` query."""
        return self.user_ws_url + USER_WS_PATH


class ExchangeConfig(_SendsFrom, frozen=True):
    """Where one exchange lives for the ccxt connector (``[exchanges.NAME]``); nothing set
    means ccxt's own production addresses. ``source_address`` and ``key_source_addresses``
    bind its keys' REST and WebSocket connections (and the keys gate's probes) as for Bitrue."""

    base_url: str | None = None
    """Point every REST path at one host (the simulator): ccxt's paths are kept."""
    ws_url: str | None = None
    """The WebSocket host; derived from base_url (http->ws) when not given."""
    post_only: bool = False
    """Quote with post-only orders where the exchange has them (refused where it has not)."""
    poll_interval_s: Annotated[float, Check(gt=0, le=300)] = 5.0
    """How often the REST fallback polls while the order stream is down or silent."""


class StoreConfig(_Frozen, frozen=True):
    """Persistence: SQLite by default, PostgreSQL by URL (`{home}` expands to the state dir)."""

    url: Annotated[str, Check(validator=_store_url)] = "sqlite:///{home}/liquidity-bot.db"


class DashboardConfig(_Frozen, frozen=True):
    """The local dashboard; its token comes only from the environment."""

    host: Annotated[
        str, Check(pattern=r"[A-Za-z0-9.:\-\[\]]+", allowed="an IP address or host name")
    ] = "127.0.0.1"
    port: Annotated[int, Check(ge=0, le=65535, allowed="0 (pick a free port) to 65535")] = 8787
    # open live views (SSE streams) at once: each costs the engine's event loop; more get 503
    max_sse_clients: Annotated[int, Check(ge=1, le=1000)] = 32


class KeysConfig(_Frozen, frozen=True):
    """Key policy and how long a successful verification stays valid."""

    policy_path: Path | None = None
    reverify_after_s: Annotated[int, Check(ge=60, le=30 * 86400)] = 3600
    # a running key whose re-checks keep failing (wrong passphrase, vault deleted or corrupt)
    # is refused, and its markets stopped, this long after the first failure
    reverify_grace_s: Annotated[int, Check(ge=0, le=86400)] = 300


class LadderParams(_Frozen, frozen=True):
    """A symmetric ladder around mid with inventory skew."""

    level_size_quote: PositiveMoney
    levels: Annotated[int, Check(ge=1, le=100)] = 5
    base_spread_pct: Pct = Decimal("0.5")
    level_spacing_pct: NonNegPct = Decimal("0.2")
    min_spread_pct: NonNegPct = Decimal("0.1")
    target_base_share: Share = Decimal("0.5")
    skew_strength: Annotated[Decimal, Check(ge=Decimal(0), le=Decimal(10))] = Decimal(1)
    """Centre shift, in half-spreads, per unit of inventory deviation / max_base_deviation."""
    max_skew_share: Annotated[Decimal, Check(ge=Decimal(0), le=Decimal(1))] = Decimal("0.5")
    """The centre moves at most this share of the half-spread: the side brought closer keeps
    the rest of its edge (1: it may reach mid, where fast markets pick it off)."""
    price_ceiling: PositiveMoney | None = None
    price_floor: PositiveMoney | None = None
    target_base_qty: NonNegMoney | None = None
    """Inventory target in base quantity; unset: target_base_share of the value at mid."""
    max_base_deviation: PositiveMoney | None = None
    """Base quantity away from the target at which the skew is full and the side that would
    take inventory further is cut to what the obligations need; unset: one side of the ladder
    (levels x level_size_quote at mid)."""
    vol_spread_mult: Annotated[Decimal, Check(ge=Decimal(0), le=Decimal(100))] = Decimal(1)
    """Spread floor: each side at least this many sigma x sqrt(vol_horizon_s) from the centre."""
    vol_horizon_s: Annotated[float, Check(gt=0, le=3600)] = 5.0
    vol_window_s: Annotated[int, Check(ge=10, le=86400)] = 300
    sigma_default_pct: Annotated[Decimal, Check(gt=Decimal(0), lt=Decimal(100))] = Decimal("0.01")
    """Volatility (percent per square-root second) used until the estimator is warm."""


class AvellanedaParams(_Frozen, frozen=True):
    """Avellaneda-Stoikov quoting: risk aversion gamma, order-arrival decay kappa."""

    order_size_quote: PositiveMoney
    gamma: Annotated[Decimal, Check(gt=Decimal(0), le=Decimal(100))] | None = None
    """Risk aversion per (basis point x lot); unset: chosen from inventory_half_life_s."""
    inventory_half_life_s: Annotated[float, Check(ge=1, le=864000)] = 120.0
    """How fast the quotes should bring inventory back to target (see strategies/avellaneda)."""
    kappa_default: Annotated[Decimal, Check(gt=Decimal(0))] = Decimal("1.5")
    """Decay of the arrival rate per percent of distance from mid (1.5: e-fold per 0.67 %)."""
    vol_window_s: Annotated[int, Check(ge=10, le=86400)] = 300
    levels: Annotated[int, Check(ge=1, le=100)] = 1
    level_spacing_pct: NonNegPct = Decimal("0.1")
    max_spread_pct: Pct = Decimal("2")
    target_base_share: Share = Decimal("0.5")
    """Inventory target as a share of portfolio value; the reservation price leans toward it."""
    a_default: Annotated[Decimal, Check(gt=Decimal(0))] = Decimal("1.0")
    """Order-arrival rate A (per second) used until the estimator has enough samples."""
    sigma_default_pct: Annotated[Decimal, Check(gt=Decimal(0), lt=Decimal(100))] = Decimal("0.01")
    """Volatility (percent per square-root second) used until the estimator has enough samples."""
    target_base_qty: NonNegMoney | None = None
    """Inventory target in base quantity; unset: target_base_share of the value at mid."""
    max_base_deviation: PositiveMoney | None = None
    """Base quantity away from the target beyond which the skew stops growing and the side that
    would take inventory further is cut to what the obligations need; unset: 20 lots."""


class ObligationsConfig(_Frozen, frozen=True):
    """What the market-making agreement asks for; KPIs are measured against it."""

    max_spread_pct: Pct
    min_depth_2pct_quote: NonNegMoney
    """Minimum resting depth within +-2 % of mid, per side, in quote asset."""
    min_rest_s: PositiveSeconds | None = None


class RiskConfig(_Frozen, frozen=True):
    """Hard limits enforced by the risk gate before any order leaves the process."""

    max_order_notional: PositiveMoney
    max_open_notional_per_side: PositiveMoney
    max_base_inventory: PositiveMoney
    daily_loss_limit: PositiveMoney
    min_base_inventory: NonNegMoney = Decimal(0)
    price_band_pct: Annotated[Decimal, Check(gt=Decimal(0), le=Decimal(100))] = Decimal(5)
    ema_halflife_s: Annotated[float, Check(gt=0, le=86400)] = 60.0
    max_fills_per_minute: Annotated[int, Check(ge=1, le=100000)] = 60
    # on reaching daily_loss_limit (PnL against holding): "minimum" keeps the obligations with
    # one order per side and spends nothing on improving; "stop" cancels everything
    on_loss_limit: Literal["minimum", "stop"] = "minimum"


class OrderManagerConfig(_Frozen, frozen=True):
    """When a live order is close enough to the desired one to be kept instead of replaced."""

    price_tolerance_ticks: Annotated[int, Check(ge=0, le=1000)] | None = None
    price_tolerance_pct: NonNegPct | None = None
    size_tolerance_pct: NonNegPct = Decimal(10)
    refresh_interval_ms: Annotated[int, Check(ge=10, le=600000)] = 500
    order_budget_share: Annotated[Decimal, Check(gt=Decimal(0), le=Decimal(1))] = Decimal(1)
    """Share of the account's order-endpoint rate budget this market may use."""

    @property
    def effective_price_tolerance_ticks(self) -> int | None:
        """Ticks tolerance, defaulting to 1 tick when neither ticks nor pct is configured."""
        if self.price_tolerance_ticks is None and self.price_tolerance_pct is None:
            return 1
        return self.price_tolerance_ticks


class MarketConfig(_Frozen, frozen=True):
    """One symbol quoted with one vault key and one strategy."""

    symbol: Annotated[
        str, Check(pattern=r"[A-Za-z0-9]{2,30}", allowed="a Bitrue symbol such as XRPUSDT")
    ]
    key_label: Annotated[
        str,
        Check(
            pattern=r"[A-Za-z0-9_.\-]([A-Za-z0-9_. \-]{0,62}[A-Za-z0-9_.\-])?",
            allowed=(
                "a vault key label such as \"Liquidity Bot\" (letters, digits, spaces and _.-, "
                "1-64 chars, no leading or trailing space)"
            ),
        ),
    ]
    strategy: Literal["ladder", "avellaneda"]
    obligations: ObligationsConfig
    risk: RiskConfig
    client_id_prefix: Annotated[
        str, Check(pattern=r"[A-Za-z0-9]{1,8}", allowed="1 to 8 characters of [A-Za-z0-9]")
    ] = "lb"
    ladder: LadderParams | None = None
    avellaneda: AvellanedaParams | None = None
    order_manager: OrderManagerConfig = msgspec.field(default_factory=OrderManagerConfig)
    exchange: Annotated[
        str, Check(pattern=r"[a-z0-9]{2,30}", allowed="an exchange id such as bitrue or binance")
    ] = "bitrue"
    connector: Literal["native", "ccxt"] = "native"
    """``native``: our own Bitrue connector (Bitrue only); ``ccxt``: any exchange ccxt has."""

    @property
    def quote_size(self) -> Decimal:
        """Per-order size in quote asset of the chosen strategy."""
        if self.strategy == "ladder":
            assert self.ladder is not None
            return self.ladder.level_size_quote
        assert self.avellaneda is not None
        return self.avellaneda.order_size_quote

    @property
    def levels(self) -> int:
        params = self.ladder if self.strategy == "ladder" else self.avellaneda
        assert params is not None
        return params.levels


def _env_name(value: str) -> str | None:
    if re.fullmatch(r"[A-Z_][A-Z0-9_]{0,127}", value):
        return None
    # the value is not echoed: someone may have pasted the secret itself here
    return ("must be the NAME of an environment variable (A-Z, 0-9, _) that holds the secret, "
            "not the secret itself")


_ENV_NAME = Check(validator=_env_name)


class AlertChannelConfig(_Frozen, frozen=True):
    """One place alerts go. The address or token is a secret: the file names the environment
    variable that holds it, never the value (``liquidity-bot alerts test`` checks it)."""

    name: Annotated[
        str, Check(pattern=r"[A-Za-z0-9_.\-]{1,40}", allowed="1-40 characters of [A-Za-z0-9_.-]")
    ]
    type: Literal["webhook", "slack", "telegram"]
    url_env: Annotated[str, _ENV_NAME] | None = None
    """webhook and slack: the variable holding the full https:// address to POST to."""
    token_env: Annotated[str, _ENV_NAME] | None = None
    """telegram: the variable holding the bot token."""
    chat_id: Annotated[
        str, Check(pattern=r"-?[0-9]{1,20}|@[A-Za-z0-9_]{5,32}",
                   allowed="a numeric chat id or an @channelname")
    ] | None = None
    """telegram: where the bot posts (an identifier, not a secret)."""
    api_url: HttpUrl = "https://api.telegram.org"
    """telegram: the Bot API's base address (a loopback receiver in tests)."""
    min_severity: Literal["info", "warning", "critical"] = "info"
    max_per_minute: Annotated[int, Check(ge=1, le=600)] = 20
    """Messages this channel may be sent per minute; a burst beyond it is sent as one digest."""
    timeout_s: Annotated[float, Check(gt=0, le=60)] = 5.0
    retries: Annotated[int, Check(ge=0, le=10)] = 3


class AlertsConfig(_Frozen, frozen=True):
    """Alerts an operator can act on (``liquidity_bot.alerts``); no channel: log and metrics."""

    breach_grace_s: Annotated[float, Check(ge=0, le=86400)] = 60.0
    """An obligation breach alerts once it has lasted this long."""
    side_empty_grace_s: Annotated[float, Check(ge=0, le=86400)] = 30.0
    stale_grace_s: Annotated[float, Check(ge=0, le=86400)] = 15.0
    clear_after_s: Annotated[float, Check(ge=0, le=3600)] = 10.0
    """A condition is "resolved" once it has stayed clear this long (flapping is one alert)."""
    reminder_s: Annotated[float, Check(ge=10, le=7 * 86400)] = 1800.0
    """A condition still present is reminded about (with the repeats since) this often."""
    queue_size: Annotated[int, Check(ge=10, le=100000)] = 1000
    key_review_every_s: Annotated[float, Check(ge=60, le=7 * 86400)] = 3600.0
    channels: tuple[AlertChannelConfig, ...] = ()


class BotConfig(_Frozen, frozen=True):
    """The whole configuration."""

    bitrue: BitrueConfig = msgspec.field(default_factory=BitrueConfig)
    exchanges: dict[str, ExchangeConfig] = msgspec.field(default_factory=dict)
    store: StoreConfig = msgspec.field(default_factory=StoreConfig)
    dashboard: DashboardConfig = msgspec.field(default_factory=DashboardConfig)
    keys: KeysConfig = msgspec.field(default_factory=KeysConfig)
    alerts: AlertsConfig = msgspec.field(default_factory=AlertsConfig)
    markets: tuple[MarketConfig, ...] = ()
    kpi_interval_s: Annotated[float, Check(gt=0, le=3600)] = 1.0
    # order requests (places and cancels) normal quoting aims to stay under in any 60 s, per key;
    # Bitrue's own limit is 100, and shutdown or kill-switch cancels may use the rest
    order_target_per_minute: Annotated[int, Check(ge=1, le=90)] = 60
    # how long shutdown keeps trying to cancel our orders through exchange faults before it
    # gives up, lists what is left and exits non-zero (a supervisor's stop timeout must exceed it)
    shutdown_timeout_s: Annotated[float, Check(gt=0, le=600)] = 60.0

    def market(self, symbol: str) -> MarketConfig:
        """The market for `symbol` (case-insensitive); KeyError if it is not configured."""
        for m in self.markets:
            if m.symbol == symbol.upper():
                return m
        raise KeyError(f"market {symbol!r} is not configured")


# ---------------------------------------------------------------------------------------------
# Environment.


def default_home() -> Path:
    """The state directory: $LIQUIDITY_BOT_HOME or ~/.liquidity-bot (as the CLI does)."""
    return Path(os.environ.get(HOME_ENV) or Path.home() / ".liquidity-bot").expanduser()


def _secret_from_env(name: str) -> str | None:
    value = os.environ.get(name)
    if not value:
        return None
    from liquidity_bot.logs import register_secret

    register_secret(value)
    return value


def passphrase_from_env() -> str | None:
    """The vault passphrase from $LIQUIDITY_BOT_PASSPHRASE (None when unset or empty).

    The value is registered with the log redactor so it can never be logged in clear.
    """
    return _secret_from_env(PASSPHRASE_ENV)


def dashboard_token_from_env() -> str | None:
    """The dashboard token from $LIQUIDITY_BOT_DASHBOARD_TOKEN (None when unset or empty)."""
    return _secret_from_env(DASHBOARD_TOKEN_ENV)


# ---------------------------------------------------------------------------------------------
# Loading.

_SECRET_WORDS = (
    "secret",
    "password",
    "passwd",
    "passphrase",
    "private_key",
    "privatekey",
    "api_key",
    "apikey",
    "api-key",
)


def _secret_key_problem(key: str, path: str) -> str | None:
    lowered = key.lower()
    if re.fullmatch(r"alerts\.channels\[\d+\]\.(url|token|webhook|webhook_url|bot_token)", path):
        name = "token_env" if "token" in lowered else "url_env"
        return (
            f"key {key!r} is not allowed: an alert channel's address or token is a secret; put "
            f"it in an environment variable and give that variable's name as {name}"
        )
    if path == "dashboard.token":
        return (
            f"the dashboard token is not allowed in the config file: set the environment "
            f"variable {DASHBOARD_TOKEN_ENV}"
        )
    if (
        any(word in lowered for word in _SECRET_WORDS)
        or lowered == "token"
        or lowered.endswith("_token")
    ):
        return f"key {key!r} is not allowed: {_VAULT_HINT}"
    return None


def _show(value: Any) -> str:
    text = repr(value) if not isinstance(value, Decimal) else repr(str(value))
    return text if len(text) <= 60 else text[:57] + "..."


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _type_name(value: Any) -> str:
    return {
        bool: "a boolean",
        int: "an integer",
        float: "a float",
        str: "a string",
        list: "an array",
        dict: "a table",
    }.get(type(value), type(value).__name__)


class _Loader:
    def __init__(self, file: str) -> None:
        self.file = file

    def fail(self, path: str, problem: str) -> typing.NoReturn:
        raise ConfigError(self.file, path, problem)

    def scan_secrets(self, value: Any, path: str) -> None:
        """Reject secret-looking keys anywhere, before any other check, without their values."""
        if isinstance(value, dict):
            for key, sub in value.items():
                sub_path = _join(path, key)
                problem = _secret_key_problem(key, sub_path)
                if problem:
                    self.fail(sub_path, problem)
                self.scan_secrets(sub, sub_path)
        elif isinstance(value, list):
            for i, sub in enumerate(value):
                self.scan_secrets(sub, f"{path}[{i}]")

    def convert(self, value: Any, tp: Any, path: str) -> Any:
        origin = typing.get_origin(tp)
        if origin is Annotated:
            base, *meta = typing.get_args(tp)
            result = self.convert(value, base, path)
            for check in meta:
                if isinstance(check, Check):
                    problem = check.problem(result)
                    if problem:
                        self.fail(path, problem)
            return result
        if origin in (typing.Union, types.UnionType):
            options = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(options) != 1:  # pragma: no cover - the schema only uses X | None
                raise TypeError(f"unsupported union {tp}")
            return self.convert(value, options[0], path)
        if origin is Literal:
            allowed = typing.get_args(tp)
            if value not in allowed:
                choices = " or ".join(repr(a) for a in allowed)
                self.fail(path, f"must be {choices}, got {_show(value)}")
            return value
        if origin is tuple:
            if not isinstance(value, list):
                self.fail(path, f"must be an array of tables ([[{path}]]), got {_type_name(value)}")
            item_tp = typing.get_args(tp)[0]
            return tuple(self.convert(v, item_tp, f"{path}[{i}]") for i, v in enumerate(value))
        if origin is dict:  # a table of named tables ([exchanges.NAME]) or of values
            item_tp = typing.get_args(tp)[1]
            if not isinstance(value, dict):
                shape = (f"a table of tables ([{path}.NAME])"
                         if isinstance(item_tp, type) and issubclass(item_tp, msgspec.Struct)
                         else f'a table ({path} = {{ "NAME" = ... }})')
                self.fail(path, f"must be {shape}, got {_type_name(value)}")
            return {str(k): self.convert(v, item_tp, _join(path, str(k)))
                    for k, v in value.items()}
        if isinstance(tp, type) and issubclass(tp, msgspec.Struct):
            return self.build(value, tp, path)
        if tp is Decimal:
            return self.decimal(value, path)
        if tp is bool:
            if not isinstance(value, bool):
                self.fail(path, f"must be true or false, got {_type_name(value)}")
            return value
        if tp is int:
            if isinstance(value, bool) or not isinstance(value, int):
                self.fail(path, f"must be an integer, got {_type_name(value)} {_show(value)}")
            return value
        if tp is float:
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not math.isfinite(value)
            ):
                self.fail(path, f"must be a finite number, got {_type_name(value)} {_show(value)}")
            return float(value)
        if tp is str:
            if not isinstance(value, str):
                self.fail(path, f"must be a string, got {_type_name(value)}")
            return value
        if tp is Path:
            if not isinstance(value, str) or not value.strip():
                self.fail(path, f"must be a file path string, got {_type_name(value)}")
            return Path(value).expanduser()
        raise TypeError(f"unsupported config type {tp!r} at {path}")  # pragma: no cover

    def decimal(self, value: Any, path: str) -> Decimal:
        key = path.rsplit(".", 1)[-1]
        if isinstance(value, float):
            self.fail(
                path,
                f'write this number as a quoted string, e.g. {key} = "{value!r}" '
                "(TOML floats lose precision; money and prices are exact decimals)",
            )
        if isinstance(value, bool) or not isinstance(value, int | str):
            self.fail(
                path,
                f'must be a decimal number as a quoted string (e.g. {key} = "500") '
                f"or an integer, got {_type_name(value)}",
            )
        try:
            result = Decimal(value.strip() if isinstance(value, str) else value)
        except InvalidOperation:
            self.fail(path, f'must be a decimal number such as "500" or "0.25", got {_show(value)}')
        if not result.is_finite():
            self.fail(path, f"must be a finite decimal number, got {_show(value)}")
        return result

    def build(self, raw: Any, cls: type[msgspec.Struct], path: str) -> Any:
        where = path or "top level"
        if not isinstance(raw, dict):
            self.fail(path, f"must be a table ([{path}]), got {_type_name(raw)}")
        hints = typing.get_type_hints(cls, include_extras=True)
        fields = {f.name: f for f in msgspec.structs.fields(cls)}
        for key in raw:
            if key not in fields:
                close = difflib.get_close_matches(key, list(fields), n=1)
                hint = f"did you mean {close[0]!r}? " if close else ""
                self.fail(
                    _join(path, key),
                    f"unknown key in {where}; {hint}allowed keys: " + ", ".join(fields),
                )
        # Present keys first, in file order, so the first error is the first one the user wrote.
        values = {
            name: self.convert(value, hints[name], _join(path, name)) for name, value in raw.items()
        }
        for name, field in fields.items():
            if name not in values and field.required:
                self.fail(_join(path, name), f"required key is missing in {where}")
        return cls(**values)


def _derive_ws(http_url: str) -> str:
    parts = urlsplit(http_url)
    scheme = {"http": "ws", "https": "wss"}[parts.scheme]
    return parts._replace(scheme=scheme).geturl()


def _prepare_bitrue(loader: _Loader, raw: Any) -> Any:
    """Apply the `base_url` shortcut and strip trailing slashes from every address."""
    if not isinstance(raw, dict):
        return raw
    raw = dict(raw)
    base = raw.get("base_url")
    if base is not None:
        base = loader.convert(base, HttpUrl, "bitrue.base_url").rstrip("/")
        raw["base_url"] = base
        for key in ("spot_url", "listen_key_url", "futures_url"):
            raw.setdefault(key, base)
        for key in ("market_ws_url", "user_ws_url"):
            raw.setdefault(key, _derive_ws(base))
    for key in ("spot_url", "listen_key_url", "futures_url", "market_ws_url", "user_ws_url"):
        if isinstance(raw.get(key), str):
            raw[key] = raw[key].rstrip("/")
    return raw


def _check_market(loader: _Loader, market: MarketConfig, path: str) -> None:
    other = "avellaneda" if market.strategy == "ladder" else "ladder"
    if getattr(market, market.strategy) is None:
        loader.fail(
            f"{path}.{market.strategy}",
            f"strategy is {market.strategy!r}, so a [markets.{market.strategy}] table "
            "with its parameters is required",
        )
    if getattr(market, other) is not None:
        loader.fail(
            f"{path}.{other}",
            f"strategy is {market.strategy!r}: remove the "
            f"[markets.{other}] table or switch strategy",
        )
    risk = market.risk
    if market.ladder is not None:
        ladder = market.ladder
        if ladder.min_spread_pct > ladder.base_spread_pct:
            loader.fail(
                f"{path}.ladder.min_spread_pct",
                f"must be <= base_spread_pct ({ladder.base_spread_pct}), "
                f"got {ladder.min_spread_pct}",
            )
        if (
            ladder.price_floor is not None
            and ladder.price_ceiling is not None
            and ladder.price_floor >= ladder.price_ceiling
        ):
            loader.fail(
                f"{path}.ladder.price_floor",
                f"must be below price_ceiling ({ladder.price_ceiling}), got {ladder.price_floor}",
            )
    if market.quote_size > risk.max_order_notional:
        loader.fail(
            f"{path}.{market.strategy}",
            f"order size {market.quote_size} is above risk.max_order_notional "
            f"({risk.max_order_notional}): every order would be refused",
        )
    per_side = market.quote_size * market.levels
    if per_side > risk.max_open_notional_per_side:
        loader.fail(
            f"{path}.{market.strategy}",
            f"{market.levels} levels x {market.quote_size} = {per_side} per side is above "
            f"risk.max_open_notional_per_side ({risk.max_open_notional_per_side})",
        )
    if risk.max_order_notional > risk.max_open_notional_per_side:
        loader.fail(
            f"{path}.risk.max_order_notional",
            f"must be <= max_open_notional_per_side ({risk.max_open_notional_per_side}), "
            f"got {risk.max_order_notional}",
        )
    if risk.min_base_inventory >= risk.max_base_inventory:
        loader.fail(
            f"{path}.risk.min_base_inventory",
            f"must be below max_base_inventory ({risk.max_base_inventory}), "
            f"got {risk.min_base_inventory}",
        )
    if market.obligations.min_depth_2pct_quote > risk.max_open_notional_per_side:
        loader.fail(
            f"{path}.obligations.min_depth_2pct_quote",
            f"{market.obligations.min_depth_2pct_quote} can never be met with "
            f"risk.max_open_notional_per_side = {risk.max_open_notional_per_side}",
        )
    om = market.order_manager
    if om.price_tolerance_ticks is not None and om.price_tolerance_pct is not None:
        loader.fail(
            f"{path}.order_manager", "set price_tolerance_ticks or price_tolerance_pct, not both"
        )


def _check_alerts(loader: _Loader, alerts: AlertsConfig) -> None:
    names: dict[str, int] = {}
    for i, ch in enumerate(alerts.channels):
        path = f"alerts.channels[{i}]"
        if ch.name in names:
            loader.fail(f"{path}.name", f"{ch.name!r} is already used by "
                                        f"alerts.channels[{names[ch.name]}]; names are unique")
        names[ch.name] = i
        needs = ("token_env", "chat_id") if ch.type == "telegram" else ("url_env",)
        for key in needs:
            if getattr(ch, key) is None:
                loader.fail(f"{path}.{key}", f"required for a {ch.type} channel")
        for key in ("url_env", "token_env", "chat_id"):
            if key not in needs and getattr(ch, key) is not None:
                loader.fail(f"{path}.{key}", f"not used by a {ch.type} channel; remove it")


NATIVE_CONNECTORS = frozenset({"bitrue"})


def _check_connector(loader: _Loader, config: BotConfig, market: MarketConfig, path: str) -> None:
    if market.connector == "native" and market.exchange not in NATIVE_CONNECTORS:
        loader.fail(f"{path}.connector",
                    f"exchange {market.exchange!r} has no native connector: set "
                    "connector = \"ccxt\"")
    if market.connector == "ccxt":
        import ccxt.pro

        if market.exchange not in ccxt.pro.exchanges:
            loader.fail(f"{path}.exchange",
                        f"ccxt has no streaming client for {market.exchange!r}; use one of "
                        "ccxt.pro.exchanges (e.g. binance, okx, bybit, kucoin, gate, mexc)")


# Bitrue's WebSocket documentation: "It is not recommended to subscribe to more than 100
# streams per single connection" (the simulator refuses the 101st channel).
BITRUE_STREAMS_PER_CONNECTION = 100


def _check_key_exchanges(loader: _Loader, config: BotConfig) -> None:
    """One key belongs to one exchange account, and its markets share one connector."""
    first: dict[str, tuple[int, MarketConfig]] = {}
    for i, market in enumerate(config.markets):
        seen = first.setdefault(market.key_label, (i, market))
        j, other = seen
        if (other.exchange, other.connector) != (market.exchange, market.connector):
            loader.fail(f"markets[{i}].key_label",
                        f"key {market.key_label!r} is used on {other.exchange} "
                        f"({other.connector}) by markets[{j}]: a key belongs to one exchange "
                        "and its markets use one connector; use another key label")
    per_key: dict[str, list[int]] = {}
    for i, market in enumerate(config.markets):
        if market.exchange == "bitrue" and market.connector != "ccxt":
            per_key.setdefault(market.key_label, []).append(i)
    for label, indexes in per_key.items():
        if len(indexes) > BITRUE_STREAMS_PER_CONNECTION:
            loader.fail(f"markets[{indexes[BITRUE_STREAMS_PER_CONNECTION]}].key_label",
                        f"key {label!r} quotes {len(indexes)} Bitrue markets: one key's "
                        f"books come over one market WebSocket, and Bitrue advises at most "
                        f"{BITRUE_STREAMS_PER_CONNECTION} streams on one connection (its order "
                        "limit, 100 requests a minute per key, could not serve that many "
                        "either); give the others another key label")
    for name in config.exchanges:
        if name == "bitrue":
            continue
        import ccxt.pro

        if name not in ccxt.pro.exchanges:
            loader.fail(f"exchanges.{name}", f"ccxt has no exchange {name!r}")


def _check_key_addresses(loader: _Loader, config: BotConfig) -> None:
    """Each label of ``[bitrue] key_source_addresses`` is the key of a native Bitrue market,
    each of ``[exchanges.NAME] key_source_addresses`` the key of a ccxt market on NAME (an
    address for a key no market uses is a typo that would silently not apply)."""
    tables: list[tuple[str, str, _SendsFrom, set[str]]] = [(
        "bitrue", "Bitrue market (native connector)", config.bitrue,
        {m.key_label for m in config.markets if m.exchange == "bitrue" and m.connector != "ccxt"},
    )]
    for name, table in config.exchanges.items():
        tables.append((f"exchanges.{name}", f"{name} market (ccxt connector)", table,
                       {m.key_label for m in config.markets
                        if m.exchange == name and m.connector == "ccxt"}))
    for path, what, table, labels in tables:
        for label in table.key_source_addresses:
            if label not in labels:
                close = difflib.get_close_matches(label, sorted(labels), n=1)
                hint = f"did you mean {close[0]!r}? " if close else ""
                known = ", ".join(repr(x) for x in sorted(labels)) or "none"
                loader.fail(f"{path}.key_source_addresses.{label}",
                            f"no {what} uses key {label!r}: {hint}"
                            f"use the key_label of a [[markets]] entry (these are: {known}), "
                            "or remove the line")


def _check(loader: _Loader, config: BotConfig) -> None:
    _check_alerts(loader, config.alerts)
    _check_key_addresses(loader, config)
    seen: dict[tuple[str, str], int] = {}  # a market is (exchange, symbol)
    for i, market in enumerate(config.markets):
        path = f"markets[{i}]"
        where = (market.exchange, market.symbol)
        if where in seen:
            loader.fail(
                f"{path}.symbol",
                f"{market.symbol} on {market.exchange} is already configured in "
                f"markets[{seen[where]}]; one entry per symbol and exchange",
            )
        seen[where] = i
        _check_market(loader, market, path)
        _check_connector(loader, config, market, path)
    _check_key_exchanges(loader, config)
    # Each key has its own order budget (``KeySession.budget``; keys on one address split the
    # exchange's per-address limit between them first), shared by that key's markets only.
    for name, label in sorted({(m.exchange, m.key_label) for m in config.markets}):
        budget = sum((m.order_manager.order_budget_share for m in config.markets
                      if (m.exchange, m.key_label) == (name, label)), Decimal(0))
        if budget > 1:
            loader.fail(
                "markets[*].order_manager.order_budget_share",
                f"the shares of the {name} markets of key {label!r} add up to {budget}; "
                "together they must be <= 1 (each key's order budget is split among its own "
                "markets)",
            )


def _line_of(error: tomllib.TOMLDecodeError) -> int | None:
    match = re.search(r"at line (\d+)", str(error))
    return int(match.group(1)) if match else None


def load_config(path: str | os.PathLike[str], *, home: Path | None = None) -> BotConfig:
    """Read, validate and freeze the TOML config at `path`.

    `home` (default: `default_home()`) replaces `{home}` in `store.url`; a relative
    `keys.policy_path` is taken relative to the config file's directory.
    Raises `ConfigError` for every problem, including a missing file and TOML syntax errors.
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(file, "", "config file not found; start from examples/bot.toml") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(file, "", f"cannot read the config file: {exc}") from None
    return parse_config(text, source=file, home=home, base_dir=file.parent)


# Top-level settings that existed once: named with why they went, rather than "unknown key".
_REMOVED_KEYS = {
    "rehearsal_interval_ms": "the engine no longer rehearses its quoting path between books; "
                             "the path is fast without it (bench/results.md, issue 20)",
}


def parse_config(
    text: str,
    *,
    source: str | os.PathLike[str] = "<config>",
    home: Path | None = None,
    base_dir: Path | None = None,
) -> BotConfig:
    """Validate TOML `text` exactly as `load_config` does; `source` names it in errors.

    Useful for tests and tools that build a configuration without a file on disk.
    """
    loader, raw = _read_toml(text, source)
    for key, why in _REMOVED_KEYS.items():
        if key in raw:
            raise ConfigError(source, key, f"no longer a setting ({why}): delete this line")
    markets = raw.get("markets")
    if isinstance(markets, list):
        for m in markets:
            if isinstance(m, dict) and isinstance(m.get("symbol"), str):
                m["symbol"] = m["symbol"].upper()
    config: BotConfig = loader.build(raw, BotConfig, "")
    _check(loader, config)

    home = (home or default_home()).expanduser()
    store = msgspec.structs.replace(config.store, url=config.store.url.replace("{home}", str(home)))
    keys = config.keys
    if keys.policy_path is not None and not keys.policy_path.is_absolute():
        keys = msgspec.structs.replace(
            keys, policy_path=(base_dir or Path.cwd()) / keys.policy_path
        )
    bitrue = config.bitrue
    if bitrue.ca_file is not None:
        ca = bitrue.ca_file if bitrue.ca_file.is_absolute() else (
            (base_dir or Path.cwd()) / bitrue.ca_file)
        if not ca.is_file():
            raise ConfigError(source, "bitrue.ca_file",
                              f"no such file: {ca} (give a PEM CA certificate, or remove the "
                              "key to trust only the system's CAs)")
        from liquidity_bot.venues.tls import TlsConfigError, client_context

        try:
            client_context(str(ca))
        except TlsConfigError as exc:
            raise ConfigError(source, "bitrue.ca_file", str(exc)) from None
        bitrue = msgspec.structs.replace(bitrue, ca_file=ca)
    return msgspec.structs.replace(config, store=store, keys=keys, bitrue=bitrue)


# ---------------------------------------------------------------------------------------------
# Other tools' TOML files, validated by the same rules (the obligation audit's).

ConfigTable = _Frozen  # the base of every config struct: immutable, unknown keys are errors


def parse_table(text: str, cls: type[Any], *, source: str | os.PathLike[str]) -> Any:
    """Validate TOML ``text`` against the config struct ``cls`` as ``parse_config`` does: secret
    -looking keys refused, unknown keys, types and ranges named with the file and key path, the
    ``[bitrue] base_url`` shortcut applied. Raises ``ConfigError``."""
    loader, raw = _read_toml(text, source)
    return loader.build(raw, cls, "")


def _read_toml(text: str, source: str | os.PathLike[str]) -> tuple[_Loader, dict[str, Any]]:
    """Parse TOML, refuse secret-looking keys, apply the ``[bitrue] base_url`` shortcut."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, "", f"invalid TOML: {exc}", line=_line_of(exc)) from None
    loader = _Loader(str(source))
    loader.scan_secrets(raw, "")
    if "bitrue" in raw:
        raw["bitrue"] = _prepare_bitrue(loader, raw["bitrue"])
    return loader, raw
