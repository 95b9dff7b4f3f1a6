"""Timing and size knobs of the simulated WebSocket streams.

Defaults follow Bitrue's documentation (ping every 15 s, pong within a minute; user stream
keep-alive within 10 minutes; a connection lives at most 24 hours). Tests shrink them.
"""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass(frozen=True)
class StreamSettings:
    """Frozen: replace the whole object (``hub.settings = replace(...)``) to change it."""

    # market stream (/market/ws)
    ping_interval_s: float = 15.0
    pong_timeout_s: float = 60.0
    depth_levels: int = 100
    depth_min_interval_ms: int = 100
    max_channels_per_connection: int = 100
    # user stream (/stream?listenKey=...)
    user_idle_timeout_s: float = 600.0
    user_max_lifetime_s: float = 86_400.0
    listen_key_check_s: float = 1.0
    user_gzip: bool = False
    balance_partial_probability: float = 0.5
    # both
    fault_check_s: float = 1.0
    max_message_bytes: int = 16 * 1024

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "balance_partial_probability":
                if not 0.0 <= value <= 1.0:
                    raise ValueError(f"{f.name} must be within [0, 1], got {value}")
            elif isinstance(value, bool):
                continue
            elif f.name == "depth_min_interval_ms":
                if value < 0:
                    raise ValueError(f"{f.name} must be >= 0, got {value}")
            elif value <= 0:
                raise ValueError(f"{f.name} must be > 0, got {value}")
