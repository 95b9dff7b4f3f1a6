"""Pure quoting strategies: (book, inventory, parameters, clock) -> desired quotes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from liquidity_bot.strategies.avellaneda import AvellanedaStrategy
from liquidity_bot.strategies.base import (
    DesiredQuote,
    Inventory,
    MarketEstimates,
    MarketSnapshot,
    QuoteSet,
    Strategy,
)
from liquidity_bot.strategies.estimators import MarketEstimator
from liquidity_bot.strategies.ladder import LadderStrategy

if TYPE_CHECKING:
    from liquidity_bot.config import MarketConfig
    from liquidity_bot.strategies.base import InstrumentLike

__all__ = [
    "AvellanedaStrategy",
    "DesiredQuote",
    "Inventory",
    "LadderStrategy",
    "MarketEstimates",
    "MarketEstimator",
    "MarketSnapshot",
    "QuoteSet",
    "Strategy",
    "make_estimator",
    "make_strategy",
]


def make_strategy(market: MarketConfig, instrument: InstrumentLike) -> Strategy:
    """The strategy a `[[markets]]` entry asks for, bound to its instrument and obligations."""
    if market.strategy == "ladder":
        if market.ladder is None:
            raise ValueError(f"market {market.symbol}: strategy 'ladder' needs [markets.ladder]")
        return LadderStrategy(instrument, market.ladder, market.obligations)
    if market.avellaneda is None:
        raise ValueError(
            f"market {market.symbol}: strategy 'avellaneda' needs [markets.avellaneda]"
        )
    # the configured defaults (a_default, sigma_default_pct, kappa_default) come with the params
    return AvellanedaStrategy(instrument, market.avellaneda, market.obligations)


def make_estimator(market: MarketConfig) -> MarketEstimator | None:
    """Online estimates for the market's strategy: volatility and per-side arrivals, starting
    from the configured defaults (the ladder uses the volatility for its spread floor)."""
    if market.strategy == "avellaneda" and market.avellaneda is not None:
        p = market.avellaneda
        return MarketEstimator(
            vol_window_s=p.vol_window_s,
            kappa_default=float(p.kappa_default),
            a_default=float(p.a_default),
            sigma_default_pct=float(p.sigma_default_pct),
        )
    if market.strategy == "ladder" and market.ladder is not None:
        lp = market.ladder
        return MarketEstimator(
            vol_window_s=lp.vol_window_s, sigma_default_pct=float(lp.sigma_default_pct),
            kappa_default=1.5, arrivals=False,
        )
    return None
