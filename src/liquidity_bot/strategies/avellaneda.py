"""Avellaneda-Stoikov quoting in the GLFT closed form without a horizon (for 24/7 markets).

Gueant, Lehalle and Fernandez-Tapia (2013) solve the Avellaneda-Stoikov market-making problem
for an infinite horizon; the asymptotic optimal quotes, for order size Delta (one lot), risk
aversion gamma, volatility sigma and arrival intensity lambda(delta) = A exp(-kappa delta), are

    c1 = 1/(gamma Delta) * ln(1 + gamma Delta / kappa)
    c2 = sqrt( gamma / (2 A Delta kappa) * (1 + gamma Delta / kappa) ** (kappa / (gamma Delta) + 1) )
    half_spread = c1 + Delta/2 * sigma * c2          (optimal spread = 2 * half_spread)
    skew        = sigma * c2                          (reservation price = mid - q * skew)
    bid = mid - (half_spread + q * skew),  ask = mid + (half_spread - q * skew)

Units used here (so that `kappa_default = 1.5` etc. from the config mean something): distances
in percent of mid, sigma in percent per sqrt(second) (see `estimators`), A per second, Delta = 1
and q = inventory deviation from the target, in lots of `order_size_quote` at mid.
The inventory target is `target_base_share` of the portfolio value (default one half).

The model's outputs are floats; they are converted to Decimal percent with explicit rounding
(`_pct`, 10 decimal places, half-even) at the edge, then prices are formed in Decimal and rounded
to the tick side-aware by `Instrument` (see `shaping`). The spread is capped at
`max_spread_pct`, each side is kept on its own side of mid (a large inventory moves the far side
away, never the near side across mid), and the obligations apply as for every strategy.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_EVEN, Decimal

from liquidity_bot.config import AvellanedaParams
from liquidity_bot.strategies.base import (
    InstrumentLike,
    MarketEstimates,
    MarketSnapshot,
    QuoteSet,
    Side,
)
from liquidity_bot.strategies.shaping import (
    DEPTH_BAND_PCT,
    LevelPlan,
    ObligationsLike,
    QuotePlan,
    quote_around_centre,
)

_PCT_PLACES = Decimal("1e-10")
ZERO = Decimal(0)
ONE = Decimal(1)
HUNDRED = Decimal(100)  # Decimal operands: an int is converted on every operation (same result)
BUY, SELL = Side.BUY, Side.SELL  # a module global is cheaper to look up than an Enum member


def _pct(value: float) -> Decimal:
    """Float model output -> Decimal percent, explicitly rounded (10 places, half-even)."""
    return Decimal(repr(value)).quantize(_PCT_PLACES, ROUND_HALF_EVEN)


def glft_half_spread_and_skew(
    gamma: float, kappa: float, a: float, sigma: float
) -> tuple[float, float]:
    """(half_spread, skew per lot), both in percent of mid, for Delta = 1 (see module doc)."""
    if min(gamma, kappa, a) <= 0 or sigma < 0:
        raise ValueError("gamma, kappa and A must be positive and sigma non-negative")
    ratio = gamma / kappa
    c1 = math.log1p(ratio) / gamma
    # (1 + r) ** (1/r + 1) computed in logs: stays finite for tiny or huge ratios
    growth = math.exp((1 / ratio + 1) * math.log1p(ratio))
    c2 = math.sqrt(gamma / (2 * a * kappa) * growth)
    return c1 + 0.5 * sigma * c2, sigma * c2


class AvellanedaStrategy:
    """Pure: `quote(snapshot)` uses the snapshot's estimates, or the defaults without them."""

    name = "avellaneda"

    def __init__(
        self,
        instrument: InstrumentLike,
        params: AvellanedaParams,
        obligations: ObligationsLike | None = None,
        *,
        target_base_share: Decimal = Decimal("0.5"),
        a_default: float = 1.0,
        sigma_default_pct: float = 0.01,
        max_inventory_lots: float = 50.0,
        band_pct: Decimal = DEPTH_BAND_PCT,
    ) -> None:
        self.instrument = instrument
        self.params = params
        self.obligations = obligations
        self.target_base_share = target_base_share
        self.a_default = a_default
        self.sigma_default_pct = sigma_default_pct
        self.max_inventory_lots = max_inventory_lots
        self.band_pct = band_pct

    def default_estimates(self) -> MarketEstimates:
        return MarketEstimates(
            sigma_pct=self.sigma_default_pct,
            a=self.a_default,
            kappa=float(self.params.kappa_default),
        )

    def quote(self, snapshot: MarketSnapshot) -> QuoteSet:
        return quote_around_centre(
            snapshot,
            self.instrument,
            self._plan,
            obligations=self.obligations,
            band_pct=self.band_pct,
        )

    def _plan(self, snapshot: MarketSnapshot, mid: Decimal) -> QuotePlan:
        p = self.params
        est = snapshot.estimates or self.default_estimates()
        warnings: list[str] = []
        try:
            half_f, skew_f = glft_half_spread_and_skew(
                float(p.gamma), est.kappa, est.a, est.sigma_pct
            )
        except (ValueError, OverflowError, ZeroDivisionError) as exc:
            warnings.append(f"GLFT failed ({exc}); quoting at max_spread_pct")
            half_f, skew_f = float(p.max_spread_pct) / 2, 0.0
        if not (math.isfinite(half_f) and math.isfinite(skew_f)):
            warnings.append("GLFT gave a non-finite spread; quoting at max_spread_pct")
            half_f, skew_f = float(p.max_spread_pct) / 2, 0.0

        inv = snapshot.inventory
        lot = p.order_size_quote / mid  # base units per lot
        total = inv.base * mid + inv.quote
        target_base = total * self.target_base_share / mid
        q = float((inv.base - target_base) / lot) if lot > 0 else 0.0
        # max(-cap, min(cap, q)), ties and NaN included, without the builtins' call overhead
        cap = self.max_inventory_lots
        q = q if q < cap else cap
        q = q if q > -cap else -cap

        # min(model, cap) and max(offset, 0) likewise, written out (first argument on a tie)
        half, half_cap = _pct(half_f), p.max_spread_pct / 2
        if half_cap < half:
            half = half_cap
        skew = _pct(q * skew_f)
        bid_offset = half + skew  # percent below mid
        if ZERO > bid_offset:
            bid_offset = ZERO
        ask_offset = half - skew  # percent above mid
        if ZERO > ask_offset:
            ask_offset = ZERO
        # the spread cap holds after skew too: trim the far side
        excess = bid_offset + ask_offset - p.max_spread_pct
        if excess > 0:
            if bid_offset > ask_offset:
                bid_offset -= excess
            else:
                ask_offset -= excess

        plans: list[LevelPlan] = []
        spacing, size = p.level_spacing_pct, p.order_size_quote
        for i in range(p.levels):
            step = spacing * i
            plans.append(LevelPlan(BUY, i, mid * (ONE - (bid_offset + step) / HUNDRED), size))
            plans.append(LevelPlan(SELL, i, mid * (ONE + (ask_offset + step) / HUNDRED), size))
        diagnostics = {
            "half_spread_pct": half,
            "skew_pct_per_lot": _pct(skew_f),
            "inventory_lots": _pct(q),
            "reservation_price": mid * (1 - skew / 100),
            "sigma_pct": _pct(est.sigma_pct),
            "kappa": _pct(est.kappa),
            "a": _pct(est.a),
        }
        return QuotePlan(plans, diagnostics, warnings)
