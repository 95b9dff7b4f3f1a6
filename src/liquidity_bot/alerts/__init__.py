"""Alerts an operator can act on: conditions, channels (webhook, Slack, Telegram), dispatch.

``build_alerts(config.alerts, metrics=..., samplers=..., keys_home=...)`` makes the dispatcher
(channels from the config, secrets from the environment) and the monitor that feeds it from the
engine's tick; ``await dispatcher.start()`` before the engine runs, ``monitor.stopping`` and
``await dispatcher.close()`` after.

The names are loaded from their modules on first use (the monitor reads the KPIs and the
store): the command line registers ``alerts`` without importing them.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from liquidity_bot.alerts.channels import Channel
    from liquidity_bot.alerts.dispatcher import AlertDispatcher
    from liquidity_bot.alerts.monitor import AlertMonitor
    from liquidity_bot.config import AlertsConfig

_HOMES = {
    "Channel": "channels", "ChannelError": "channels", "build_channels": "channels",
    "AlertDispatcher": "dispatcher", "AlertMonitor": "monitor",
    "Alert": "model", "Kind": "model", "Notice": "model", "Severity": "model",
}

__all__ = [
    "Alert",
    "AlertDispatcher",
    "AlertMonitor",
    "Channel",
    "ChannelError",
    "Kind",
    "Notice",
    "Severity",
    "build_alerts",
    "build_channels",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)


def build_alerts(
    config: AlertsConfig,
    *,
    metrics: Any = None,
    samplers: Mapping[str, Any] | None = None,
    keys_home: Any = None,
    environ: Mapping[str, str] | None = None,
    extra_channels: list[Channel] | None = None,
) -> tuple[AlertDispatcher, AlertMonitor]:
    """The dispatcher and monitor for one engine (``ChannelError`` when a channel's variable
    is missing or wrong: said before trading starts)."""
    from liquidity_bot.alerts.channels import build_channels
    from liquidity_bot.alerts.dispatcher import AlertDispatcher
    from liquidity_bot.alerts.monitor import AlertMonitor

    channels = build_channels(config.channels, environ) + list(extra_channels or ())
    dispatcher = AlertDispatcher(
        channels, queue_size=config.queue_size, reminder_s=config.reminder_s,
        clear_after_s=config.clear_after_s, metrics=metrics,
    )
    monitor = AlertMonitor(dispatcher, config, samplers=samplers, metrics=metrics,
                           keys_home=keys_home)
    return dispatcher, monitor
