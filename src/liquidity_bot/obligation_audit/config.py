"""What the audit checks: markets, their obligations, the sampling interval, where it stores.

From a small TOML file (``examples/audit.toml`` documents every key) or from the bot's own
config (its markets, obligations and client id prefixes). Validated by the bot's config rules:
unknown keys, types and ranges are errors naming the file and the key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import msgspec

from liquidity_bot.config import (
    BitrueConfig,
    BotConfig,
    Check,
    ConfigError,
    ConfigTable,
    ObligationsConfig,
    StoreConfig,
    parse_table,
)

DEFAULT_STORE_URL = "sqlite:///{home}/audit.db"
DEFAULT_KEY_LABEL = "Obligation Audit"
# Bitrue allows 1200 request weight a minute per IP; the samples may use half of it, leaving the
# rest for the order look-ups (one per order that leaves the book) and the order history.
IP_WEIGHT_PER_MINUTE = 1200
SAMPLE_WEIGHT_SHARE = 0.5
# GET /api/v1/depth (limit 100) + GET /api/v1/openOrders; with the book from the market stream,
# only the open orders
WEIGHT_PER_SAMPLE = {"rest": 2, "stream": 1}


class AuditMarket(ConfigTable, frozen=True):
    """One market to audit and the obligations the market maker signed for."""

    symbol: Annotated[
        str, Check(pattern=r"[A-Za-z0-9]{2,30}", allowed="a Bitrue symbol such as XRPUSDT")
    ]
    obligations: ObligationsConfig
    # only orders whose client id starts with this count as the market maker's (None: every
    # open order of the account counts, e.g. when nobody else trades on it)
    client_id_prefix: (
        Annotated[str, Check(pattern=r"[A-Za-z0-9]{1,8}", allowed="1 to 8 characters of [A-Za-z0-9]")]
        | None
    ) = None


class AuditConfig(ConfigTable, frozen=True):
    """The audit's whole configuration."""

    markets: tuple[AuditMarket, ...]
    key_label: str = DEFAULT_KEY_LABEL
    interval_s: Annotated[float, Check(ge=0.1, le=3600)] = 1.0
    # how often the account's order history is read (catches orders that came and went
    # between two samples)
    history_interval_s: Annotated[float, Check(ge=1, le=3600)] = 30.0
    # where the public book comes from: a REST read at each sample, or the market WebSocket
    # (kept current between samples; the open orders are always read over REST)
    book_source: Literal["rest", "stream"] = "rest"
    bitrue: BitrueConfig = msgspec.field(default_factory=BitrueConfig)
    store: StoreConfig = msgspec.field(default_factory=lambda: StoreConfig(url=DEFAULT_STORE_URL))

    def weight_per_minute(self) -> int:
        return int(len(self.markets) * WEIGHT_PER_SAMPLE[self.book_source] * 60 / self.interval_s)


class _BitrueOnly(ConfigTable, frozen=True):
    bitrue: BitrueConfig


def bitrue_at(base_url: str, *, source: str = "--base-url") -> BitrueConfig:
    """Every Bitrue address at one base URL (the simulator), checked as the config's is."""
    import json

    table = parse_table(f"[bitrue]\nbase_url = {json.dumps(base_url)}\n", _BitrueOnly, source=source)
    return table.bitrue


def _checked(config: AuditConfig, source: str, home: Path) -> AuditConfig:
    if not config.markets:
        raise ConfigError(source, "markets", "no market to audit: add a [[markets]] table")
    symbols = [m.symbol.upper() for m in config.markets]
    if len(set(symbols)) != len(symbols):
        raise ConfigError(source, "markets", "a symbol is listed twice")
    budget = IP_WEIGHT_PER_MINUTE * SAMPLE_WEIGHT_SHARE
    if config.weight_per_minute() > budget:
        fastest = len(config.markets) * WEIGHT_PER_SAMPLE[config.book_source] * 60 / budget
        raise ConfigError(
            source,
            "interval_s",
            f"{len(config.markets)} market(s) sampled every {config.interval_s:g} s use "
            f"{config.weight_per_minute()} request weight a minute; Bitrue allows "
            f"{IP_WEIGHT_PER_MINUTE} per IP and the audit keeps half for order look-ups: sample "
            f"every {fastest:g} s or more",
        )
    markets = tuple(msgspec.structs.replace(m, symbol=m.symbol.upper()) for m in config.markets)
    store = StoreConfig(url=config.store.url.replace("{home}", str(home)))
    return msgspec.structs.replace(config, markets=markets, store=store)


def with_interval(config: AuditConfig, interval_s: float, *, source: str, home: Path) -> AuditConfig:
    """The same audit at another sampling interval (checked against the request weight)."""
    if not 0.1 <= interval_s <= 3600:
        raise ConfigError(source, "interval_s", f"{interval_s:g} is out of range: 0.1 to 3600 s")
    return _checked(msgspec.structs.replace(config, interval_s=interval_s), source, home)


def load_audit_config(path: Path, *, home: Path) -> AuditConfig:
    """Read and check an audit TOML file; ``{home}`` in ``store.url`` is the state directory."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(path, "", "audit file not found; start from examples/audit.toml") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path, "", f"cannot read the audit file: {exc}") from None
    return _checked(parse_table(text, AuditConfig, source=path), str(path), home)


def audit_config_from_bot(
    bot: BotConfig,
    *,
    home: Path,
    key_label: str = DEFAULT_KEY_LABEL,
    interval_s: float = 1.0,
    source: str = "bot config",
) -> AuditConfig:
    """The audit of every market of the bot's config, with its obligations and client id prefix.

    The audit's store is its own (``{home}/audit.db``), never the bot's database.
    """
    markets = tuple(
        AuditMarket(symbol=m.symbol, obligations=m.obligations, client_id_prefix=m.client_id_prefix)
        for m in bot.markets
    )
    config = AuditConfig(
        markets=markets, key_label=key_label, interval_s=interval_s, bitrue=bot.bitrue
    )
    return _checked(config, source, home)
