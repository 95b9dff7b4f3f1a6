"""The one object every request handler shares: exchange, keys, listen keys, limits, config."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bitrue_sim.core.exchange import Exchange
from bitrue_sim.core.synthetic import listed_markets
from bitrue_sim.keys import KeyStore
from bitrue_sim.listen_keys import ListenKeyStore
from bitrue_sim.ratelimit import DEFAULT_POLICIES, RateLimiter

MAX_BODY_BYTES = 64 * 1024


@dataclass(frozen=True)
class SimConfig:
    """How the simulator was started (``sim serve`` options or ``SimServer`` arguments)."""

    host: str = "127.0.0.1"
    port: int = 0
    seed: int = 0
    admin_token: str | None = "test-admin"
    ban_scale: float = 1.0
    scenario: str | None = None
    # the markets the scenario animates; None: the scenario's defaults (``sim serve`` passes
    # every listed market unless --symbols names some)
    symbols: tuple[str, ...] | None = None
    faults_path: Path | None = None
    max_body_bytes: int = MAX_BODY_BYTES
    rate_limits: bool = True
    seed_books: bool = True  # without a scenario: a market-maker account rests a few levels
    # WebSocket timing and size knobs (``bitrue_sim.ws.StreamSettings``); None = the defaults
    stream_settings: Any = None
    # the wire dialect served over the shared core: "bitrue" (default) or "binance"
    dialect: str = "bitrue"
    # made-up markets listed after the default ones (``core.synthetic``: MK01USDT, ...)
    synthetic_markets: int = 0


@dataclass
class SimState:
    """Server state; ``faults`` is set by the streams/faults extension (``bitrue_sim.ws``)."""

    exchange: Exchange
    keys: KeyStore
    listen_keys: ListenKeyStore
    rate_limiter: RateLimiter
    config: SimConfig
    faults: Any = None
    market_maker_account: int | None = None
    # per-dialect state a dialect keeps beside the core (e.g. Binance's order types)
    extras: dict = field(default_factory=dict)

    @classmethod
    def build(cls, config: SimConfig, exchange: Exchange | None = None) -> SimState:
        if exchange is None:
            exchange = Exchange(listed_markets(config.synthetic_markets), seed=config.seed)
        clock = exchange.clock
        policies = DEFAULT_POLICIES
        if config.dialect == "binance":
            from bitrue_sim.server.binance.limits import BINANCE_POLICIES

            policies = BINANCE_POLICIES
        elif config.dialect != "bitrue":
            raise ValueError(f"unknown dialect {config.dialect!r}: use 'bitrue' or 'binance'")
        return cls(
            exchange=exchange,
            keys=KeyStore(clock.now_ms),
            listen_keys=ListenKeyStore(clock),
            rate_limiter=RateLimiter(
                clock.now_ms, policies, ban_scale=config.ban_scale, enabled=config.rate_limits
            ),
            config=config,
        )
