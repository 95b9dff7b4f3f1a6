"""Backtests: the live engine on the simulator's virtual-time driver (see ``runner``)."""

from liquidity_bot.backtest.runner import BacktestResult, MarketResult, run_backtest

__all__ = ["BacktestResult", "MarketResult", "run_backtest"]
