"""Avellaneda-Stoikov quoting in the GLFT closed form without a horizon (for 24/7 markets).

Guéant, Lehalle and Fernandez-Tapia, "Dealing with the inventory risk: a solution to the market
making problem" (Math. Financ. Econ., 2013) solve the Avellaneda-Stoikov problem on an infinite
horizon. With market orders reaching distance delta from mid at rate lambda(delta) =
A exp(-kappa delta), mid volatility sigma, risk aversion gamma and an inventory of q lots, the
asymptotic optimal distances of the bid and the ask from mid are

    c1    = (1/gamma) ln(1 + gamma/kappa)
    omega = sqrt( sigma^2 gamma / (2 A kappa) * (1 + gamma/kappa) ^ (1 + kappa/gamma) )
    delta_bid(q) = c1 + (2q + 1)/2 * omega
    delta_ask(q) = c1 - (2q - 1)/2 * omega

so the spread is 2 c1 + omega and each lot of inventory moves both quotes by omega.

Units (consistent, so that every number has a meaning):
- distances and sigma in basis points of mid: delta in bps, sigma in bps per sqrt(second)
  (`MarketEstimates.sigma_pct` x 100), kappa per bps (`MarketEstimates.kappa`, per percent, / 100);
- A per second; gamma per (bps x lot);
- q = (base held - target base) / lot, the lot being `order_size_quote` at mid: inventory in
  base quantity, normalised by the order size (Delta = 1 in the paper's notation).
Each side uses its own (A, kappa) when the estimator has them (bid: market sells, ask: market
buys); with equal sides this is exactly the paper's symmetric formula.

Choosing gamma from an inventory half-life. gamma is hard to pick by feel; what an operator can
say is how fast inventory should come back to target. Quoting with skew omega per lot makes the
net fill rate pull q back: d q / dt = lambda(delta_bid) - lambda(delta_ask) =
A e^{-kappa (c1 + omega/2)} (e^{-kappa omega q} - e^{kappa omega q}) ~ -r q for small q, with

    r(gamma) = 2 A kappa omega e^{-kappa (c1 + omega/2)},      half-life = ln 2 / r.

r grows with gamma (more skew) until the spread grows so wide that fills dry up, then falls; we
take the smallest gamma with r(gamma) = ln 2 / half_life (bisection in log gamma), or the gamma of
the fastest reversion when the requested half-life cannot be reached (with a warning).

Worked example (numbers of a thin altcoin pair): sigma = 2 bps/sqrt(s) (0.02 %/sqrt(s), about
0.15 % a minute), A = 0.05 per second per side, kappa = 0.05 per bps (arrivals fall by e every
20 bps), half-life 600 s: target r = ln 2 / 600 = 0.001155 /s. r(1e-4) = 0.00085 and
r(3e-4) = 0.00146, and bisection gives gamma = 1.86e-4 per (bps x lot); then c1 = 19.96 bps,
omega = 0.64 bps per lot: quotes about 20.3 bps either side of mid, and 10 lots long moves both
quotes 6.4 bps down. A half-life of 60 s needs gamma = 0.0165: omega = 6.4 bps per lot.

Inventory is bounded: q is clamped to +-max_base_deviation / lot (so the skew stops growing), and
at that bound the side that would take inventory further moves out to the spread cap and shows
no size of its own, only what the obligations add (`shaping` tops the depth up to the minimum):
the model's skew assumes flows balanced around mid, and in a trend they are not. The spread is capped at `max_spread_pct`, each side
is kept on its own side of mid, and the obligations apply as for every strategy. The model's
floats are converted to Decimal percent with explicit rounding (`_pct`) before prices are formed.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_EVEN, Decimal
from functools import lru_cache

from liquidity_bot.config import AvellanedaParams
from liquidity_bot.strategies.base import (
    InstrumentLike,
    MarketEstimates,
    MarketSnapshot,
    QuoteSet,
    Side,
    top_of_book,
)
from liquidity_bot.strategies.inventory import target_base
from liquidity_bot.strategies.shaping import (
    DEPTH_BAND_PCT,
    LevelPlan,
    ObligationsLike,
    QuoteMemo,
    QuotePlan,
    centre,
    no_centre,
    shape_plan,
)

_PCT_PLACES = Decimal("1e-10")
ZERO = Decimal(0)
ONE = Decimal(1)
HUNDRED = Decimal(100)  # Decimal operands: an int is converted on every operation (same result)
BUY, SELL = Side.BUY, Side.SELL  # a module global is cheaper to look up than an Enum member
DEFAULT_MAX_LOTS = 20
_GAMMA_LOW, _GAMMA_HIGH = 1e-9, 1e4  # the search range of gamma, per (bps x lot)


def _pct(value: float) -> Decimal:
    """Float model output -> Decimal percent, explicitly rounded (10 places, half-even)."""
    return Decimal(repr(value)).quantize(_PCT_PLACES, ROUND_HALF_EVEN)


def glft_terms(gamma: float, kappa: float, a: float, sigma: float) -> tuple[float, float]:
    """(c1, omega) of the module doc, in the units of the inputs (bps: c1 and omega in bps)."""
    if min(gamma, kappa, a) <= 0 or sigma < 0:
        raise ValueError("gamma, kappa and A must be positive and sigma non-negative")
    ratio = gamma / kappa
    c1 = math.log1p(ratio) / gamma
    # (1 + r) ** (1 + 1/r) computed in logs: stays finite for tiny or huge ratios
    growth = math.exp((1 + 1 / ratio) * math.log1p(ratio))
    omega = sigma * math.sqrt(gamma / (2 * a * kappa) * growth)
    return c1, omega


def glft_half_spread_and_skew(
    gamma: float, kappa: float, a: float, sigma: float
) -> tuple[float, float]:
    """(half-spread, skew per lot) = (c1 + omega/2, omega) for symmetric sides."""
    c1, omega = glft_terms(gamma, kappa, a, sigma)
    return c1 + 0.5 * omega, omega


def reversion_rate(gamma: float, kappa: float, a: float, sigma: float) -> float:
    """r(gamma): the rate (per second) at which GLFT quotes pull a small inventory back."""
    c1, omega = glft_terms(gamma, kappa, a, sigma)
    return 2 * a * kappa * omega * math.exp(-kappa * (c1 + 0.5 * omega))


@lru_cache(maxsize=4096)
def _gamma_for(half_life_s: float, kappa: float, a: float, sigma: float) -> tuple[float, bool]:
    target = math.log(2) / half_life_s
    lo, r_lo = _GAMMA_LOW, reversion_rate(_GAMMA_LOW, kappa, a, sigma)
    if r_lo >= target:
        return lo, True
    # walk up in factors of 2 to the first gamma fast enough (r rises, then falls)
    hi = lo
    best, best_r = lo, r_lo
    while hi < _GAMMA_HIGH:
        hi *= 2.0
        r_hi = reversion_rate(hi, kappa, a, sigma)
        if r_hi >= target:
            break
        if r_hi > best_r:
            best, best_r = hi, r_hi
        elif r_hi < best_r / 2:  # well past the peak: the half-life cannot be reached
            return best, False
        lo = hi
    else:
        return best, False
    for _ in range(40):  # bisection in log gamma: relative precision 2^-40
        mid = math.sqrt(lo * hi)
        if reversion_rate(mid, kappa, a, sigma) >= target:
            hi = mid
        else:
            lo = mid
    return hi, True


def _round3(x: float) -> float:
    """Three significant digits: the estimates wobble on every book; the cache should not."""
    return float(f"{x:.3g}")


def gamma_for_half_life(
    half_life_s: float, kappa: float, a: float, sigma: float
) -> tuple[float, bool]:
    """(gamma, reached): the smallest gamma whose quotes halve inventory in `half_life_s`
    (units as `glft_terms`); `reached` is False when no gamma is that fast (the fastest then).
    Without volatility there is no inventory risk and no skew: gamma is irrelevant (1e-9)."""
    if half_life_s <= 0 or min(kappa, a) <= 0:
        raise ValueError("half-life, kappa and A must be positive")
    if sigma <= 0:
        return _GAMMA_LOW, False
    return _gamma_for(_round3(half_life_s), _round3(kappa), _round3(a), _round3(sigma))


class AvellanedaStrategy:
    """Pure: `quote(snapshot)` uses the snapshot's estimates, or the defaults without them."""

    name = "avellaneda"

    def __init__(
        self,
        instrument: InstrumentLike,
        params: AvellanedaParams,
        obligations: ObligationsLike | None = None,
        *,
        target_base_share: Decimal | None = None,
        a_default: float | None = None,
        sigma_default_pct: float | None = None,
        band_pct: Decimal = DEPTH_BAND_PCT,
    ) -> None:
        self.instrument = instrument
        self.params = params
        self.obligations = obligations
        self.target_base_share = (
            params.target_base_share if target_base_share is None else target_base_share
        )
        self.a_default = float(params.a_default) if a_default is None else a_default
        self.sigma_default_pct = (
            float(params.sigma_default_pct) if sigma_default_pct is None else sigma_default_pct
        )
        self.band_pct = band_pct
        self._memo = QuoteMemo()
        # the last snapshot (but for the clock) and the answer it got
        self._seen: tuple[tuple[object, ...], QuoteSet] | None = None

    def default_estimates(self) -> MarketEstimates:
        return MarketEstimates(
            sigma_pct=self.sigma_default_pct,
            a=self.a_default,
            kappa=float(self.params.kappa_default),
        )

    def quote(self, snapshot: MarketSnapshot) -> QuoteSet:
        """``quote_around_centre`` with the GLFT plan; the levels and their shaping are
        remembered under what they read (the model's rounded offsets, not the estimates)."""
        instrument = self.instrument
        top = top_of_book(snapshot.book)
        mid, why_not = centre(top, snapshot.reference_price)
        if mid is None:
            return no_centre(instrument, snapshot, why_not)
        memo = self._memo
        # the whole snapshot as the last one (but for the clock): not even the model moved
        seen = (top, snapshot.inventory, snapshot.reference_price, snapshot.estimates,
                snapshot.last_price, instrument, self.params, self.obligations, self.band_pct)
        last = self._seen
        if last is not None and last[0] == seen:
            memo.reused += 1
            known = last[1]
            return QuoteSet(symbol=known.symbol, now_ms=snapshot.now_ms, bids=known.bids,
                            asks=known.asks, mid=mid, warnings=known.warnings,
                            diagnostics=known.diagnostics)
        sides, diagnostics, warnings = self._offsets(snapshot, mid)
        key = (top.bid, top.ask, mid, snapshot.inventory, sides, tuple(warnings),
               snapshot.last_price, instrument, self.params, self.obligations, self.band_pct)
        answer = memo.again(key, snapshot.now_ms, mid, diagnostics)
        if answer is None:
            wanted = QuotePlan(self._levels(mid, *sides), diagnostics, warnings)
            answer = memo.keep(key, shape_plan(wanted, snapshot, instrument, top, mid,
                                               obligations=self.obligations,
                                               band_pct=self.band_pct))
        self._seen = (seen, answer)
        return answer

    @property
    def reused(self) -> int:
        """Quote sets given again: the model's offsets and the book top had not moved."""
        return self._memo.reused

    def _model(
        self, est: MarketEstimates, q: float, warnings: list[str]
    ) -> tuple[float, float, float, float]:
        """(bid distance, ask distance, gamma, omega averaged over sides), distances in bps."""
        p = self.params
        sigma = est.sigma_pct * 100.0  # bps per sqrt(s)
        a_b, k_b = est.side(BUY)
        a_a, k_a = est.side(SELL)
        k_b, k_a = k_b / 100.0, k_a / 100.0  # per bps
        if p.gamma is not None:
            gamma = float(p.gamma)
        else:
            gamma, reached = gamma_for_half_life(
                p.inventory_half_life_s, (k_b + k_a) / 2, (a_b + a_a) / 2, sigma
            )
            if not reached and sigma > 0:
                warnings.append(
                    f"inventory half-life {p.inventory_half_life_s:g} s is out of reach at these "
                    "estimates; quoting with the fastest reversion"
                )
        c1_b, om_b = glft_terms(gamma, k_b, a_b, sigma)
        c1_a, om_a = glft_terms(gamma, k_a, a_a, sigma)
        bid = c1_b + (2 * q + 1) / 2 * om_b
        ask = c1_a - (2 * q - 1) / 2 * om_a
        return bid, ask, gamma, (om_b + om_a) / 2

    def _plan(self, snapshot: MarketSnapshot, mid: Decimal) -> QuotePlan:
        """The GLFT levels around ``mid`` (what ``quote`` shapes)."""
        sides, diagnostics, warnings = self._offsets(snapshot, mid)
        return QuotePlan(self._levels(mid, *sides), diagnostics, warnings)

    def _offsets(
        self, snapshot: MarketSnapshot, mid: Decimal
    ) -> tuple[tuple[Decimal, Decimal, Decimal, Decimal], dict[str, Decimal], list[str]]:
        """((bid offset, ask offset, bid size, ask size), diagnostics, warnings): offsets in
        percent of mid, sizes in quote currency; all the levels depend on besides ``mid``."""
        p = self.params
        est = snapshot.estimates or self.default_estimates()
        warnings: list[str] = []

        inv = snapshot.inventory
        lot = p.order_size_quote / mid  # base quantity per lot
        target = target_base(inv, mid, p.target_base_qty, self.target_base_share)
        deviation = inv.base - target
        max_dev = p.max_base_deviation if p.max_base_deviation is not None else lot * 20
        cap = float(max_dev / lot)
        q_raw = float(deviation / lot)
        # max(-cap, min(cap, q)), ties and NaN included, without the builtins' call overhead
        q = q_raw if q_raw < cap else cap
        q = q if q > -cap else -cap

        gamma = omega = 0.0
        try:
            bid_bps, ask_bps, gamma, omega = self._model(est, q, warnings)
        except (ValueError, OverflowError, ZeroDivisionError) as exc:
            warnings.append(f"GLFT failed ({exc}); quoting at max_spread_pct")
            bid_bps = ask_bps = float(p.max_spread_pct) * 50
        if not (math.isfinite(bid_bps) and math.isfinite(ask_bps)):
            warnings.append("GLFT gave a non-finite spread; quoting at max_spread_pct")
            bid_bps = ask_bps = float(p.max_spread_pct) * 50

        # bps -> Decimal percent; each side on its own side of mid
        bid_offset, ask_offset = _pct(bid_bps / 100), _pct(ask_bps / 100)
        if ZERO > bid_offset:
            bid_offset = ZERO
        if ZERO > ask_offset:
            ask_offset = ZERO
        # at the inventory bound the side taking more inventory goes as far as the spread cap
        # allows: the model's skew assumes flows balanced around mid, a trend is not
        if q_raw >= cap and bid_offset + ask_offset < p.max_spread_pct:
            bid_offset = p.max_spread_pct - ask_offset
        elif q_raw <= -cap and bid_offset + ask_offset < p.max_spread_pct:
            ask_offset = p.max_spread_pct - bid_offset
        # the spread cap: trim the far side (the one the inventory pushes away)
        excess = bid_offset + ask_offset - p.max_spread_pct
        if excess > 0:
            if bid_offset > ask_offset:
                bid_offset -= excess
                if bid_offset < ZERO:
                    ask_offset, bid_offset = ask_offset + bid_offset, ZERO
            else:
                ask_offset -= excess
                if ask_offset < ZERO:
                    bid_offset, ask_offset = bid_offset + ask_offset, ZERO

        # at the inventory bound the side taking inventory further shows no size of its own
        size = p.order_size_quote
        bid_size = ZERO if q_raw >= cap else size
        ask_size = ZERO if q_raw <= -cap else size
        skew = (ask_offset - bid_offset) / 2  # percent: centre of our quotes above mid
        diagnostics = {
            "half_spread_pct": (bid_offset + ask_offset) / 2,
            "skew_pct_per_lot": _pct(omega / 100),
            "inventory_lots": _pct(q_raw),
            "inventory_deviation_base": deviation,
            "target_base": target,
            "reservation_price": mid * (ONE + skew / HUNDRED),
            "gamma_per_bps_lot": _pct(gamma),
            "sigma_pct": _pct(est.sigma_pct),
            "kappa": _pct(est.kappa),
            "a": _pct(est.a),
        }
        return (bid_offset, ask_offset, bid_size, ask_size), diagnostics, warnings

    def _levels(self, mid: Decimal, bid_offset: Decimal, ask_offset: Decimal,
                bid_size: Decimal, ask_size: Decimal) -> list[LevelPlan]:
        """Each side's levels, ``level_spacing_pct`` apart from its offset outward."""
        plans: list[LevelPlan] = []
        spacing = self.params.level_spacing_pct
        for i in range(self.params.levels):
            step = spacing * i
            plans.append(LevelPlan(BUY, i, mid * (ONE - (bid_offset + step) / HUNDRED), bid_size))
            plans.append(LevelPlan(SELL, i, mid * (ONE + (ask_offset + step) / HUNDRED), ask_size))
        return plans
