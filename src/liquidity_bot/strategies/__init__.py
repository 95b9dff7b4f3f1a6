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
    params = market.avellaneda
    return AvellanedaStrategy(
        instrument,
        params,
        market.obligations,
        target_base_share=params.target_base_share,
        a_default=float(params.a_default),
        sigma_default_pct=float(params.sigma_default_pct),
    )


def make_estimator(market: MarketConfig) -> MarketEstimator | None:
    """Online estimator for strategies that use one (Avellaneda), else None."""
    if market.strategy != "avellaneda" or market.avellaneda is None:
        return None
    return MarketEstimator(
        vol_window_s=market.avellaneda.vol_window_s,
        kappa_default=float(market.avellaneda.kappa_default),
    )
