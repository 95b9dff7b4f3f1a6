"""Ladder: N levels per side around mid, skewed by inventory.

Level i of each side sits at half_spread + i * level_spacing_pct percent from the centre, each
worth `level_size_quote`. The full spread is max(base_spread_pct, min_spread_pct).

Inventory skew pulls the portfolio toward `target_base_share` (base value / total value at mid).
With deviation d = share - target (d > 0: too much base), and k = skew_strength:
- prices: the centre moves by -k * d * 2 * half_spread percent of mid, capped at one half-spread
  so that bids stay at or below mid and asks at or above it (too much base: both sides move down,
  the ask becomes more attractive, the bid less);
- sizes: bids are scaled by 1 - 2kd and asks by 1 + 2kd, each clamped to [0, 2].
The obligations (see `shaping`) still win: the innermost level stays within max_spread/2 of mid
and the in-band depth is topped up to the minimum on both sides, skew or not.

`price_ceiling` caps every bid (never buy above it) and `price_floor` every ask (never sell below
it); the side is shifted as a whole so the ladder keeps its shape.
"""

from __future__ import annotations

from decimal import Decimal

from liquidity_bot.config import LadderParams
from liquidity_bot.strategies.base import InstrumentLike, MarketSnapshot, QuoteSet, Side
from liquidity_bot.strategies.shaping import (
    DEPTH_BAND_PCT,
    LevelPlan,
    ObligationsLike,
    QuotePlan,
    quote_around_centre,
)

ZERO = Decimal(0)
ONE = Decimal(1)
TWO = Decimal(2)
HUNDRED = Decimal(100)  # Decimal operands: an int is converted on every operation (same result)
BUY, SELL = Side.BUY, Side.SELL  # a module global is cheaper to look up than an Enum member


def _clamp(value: Decimal, low: Decimal, high: Decimal) -> Decimal:
    """max(low, min(high, value)), ties included, without the builtins' call overhead."""
    capped = value if value < high else high
    return capped if capped > low else low


class LadderStrategy:
    """Pure: `quote(snapshot)` depends only on the snapshot and the frozen parameters."""

    name = "ladder"

    def __init__(
        self,
        instrument: InstrumentLike,
        params: LadderParams,
        obligations: ObligationsLike | None = None,
        *,
        band_pct: Decimal = DEPTH_BAND_PCT,
    ) -> None:
        self.instrument = instrument
        self.params = params
        self.obligations = obligations
        self.band_pct = band_pct

    def quote(self, snapshot: MarketSnapshot) -> QuoteSet:
        return quote_around_centre(
            snapshot,
            self.instrument,
            self._plan,
            obligations=self.obligations,
            band_pct=self.band_pct,
            bid_ceiling=self.params.price_ceiling,
            ask_floor=self.params.price_floor,
        )

    def _plan(self, snapshot: MarketSnapshot, mid: Decimal) -> QuotePlan:
        p = self.params
        spread = p.min_spread_pct if p.min_spread_pct > p.base_spread_pct else p.base_spread_pct
        half = spread / TWO  # percent of mid
        share = snapshot.inventory.base_share(mid)
        deviation = ZERO if share is None else share - p.target_base_share
        pull = p.skew_strength * deviation * TWO
        shift = _clamp(-pull * half, -half, half)  # percent of mid
        bid_factor = _clamp(ONE - pull, ZERO, TWO)
        ask_factor = _clamp(ONE + pull, ZERO, TWO)

        plans: list[LevelPlan] = []
        spacing = p.level_spacing_pct
        bid_size, ask_size = p.level_size_quote * bid_factor, p.level_size_quote * ask_factor
        for i in range(p.levels):
            offset = half + spacing * i
            plans.append(LevelPlan(BUY, i, mid * (ONE + (shift - offset) / HUNDRED), bid_size))
            plans.append(LevelPlan(SELL, i, mid * (ONE + (shift + offset) / HUNDRED), ask_size))
        diagnostics = {
            "half_spread_pct": half,
            "skew_shift_pct": shift,
            "bid_size_factor": bid_factor,
            "ask_size_factor": ask_factor,
        }
        if share is not None:
            diagnostics["base_share"] = share
        return QuotePlan(plans, diagnostics)
