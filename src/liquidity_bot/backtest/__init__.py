"""Backtests: the live engine on the simulator's virtual-time driver (see ``runner``).

The names below load ``runner`` (the engine, the simulator, the store) on first use, so the
command line can register ``backtest`` without importing any of it.
"""

from __future__ import annotations

from typing import Any

__all__ = ["BacktestResult", "MarketResult", "run_backtest"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from liquidity_bot.backtest import runner

        return getattr(runner, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
