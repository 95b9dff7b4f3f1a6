"""Ladder: N levels per side around mid, skewed by inventory in base quantity.

Level i of each side sits at half_spread + i * level_spacing_pct percent from the centre, each
worth `level_size_quote`. The full spread is the largest of base_spread_pct, min_spread_pct and
the volatility floor 2 * vol_spread_mult * sigma * sqrt(vol_horizon_s) (sigma in percent per
sqrt(second), from the snapshot's estimates or `sigma_default_pct`): a quote closer to mid than
the price typically moves in a few seconds is picked off by whoever sees the move first.

Inventory skew steers the base held toward a target in base quantity (`strategies.inventory`):
with deviation d = base - target and x = d / max_base_deviation clamped to [-1, 1] (how far
toward the maximum), and k = skew_strength:
- prices: the centre moves by -k * x * half_spread percent of mid, capped at `max_skew_share`
  (default one half) of the half-spread, so that the side brought closer keeps part of its edge
  and bids stay below mid, asks above it (too much base: both sides move down, the ask becomes
  more attractive, the bid less). A cap of a full half-spread puts that side at mid, where it
  is filled by every taker and repriced on every move: over the demo config's ten 6-minute
  volatile backtests (seeds 11-20) the worst uptime was 97.3 % with the full cap and 98.3 % with
  one half (skew_strength 2; main's share-based skew: 98.8 %);
- sizes: bids are scaled by 1 - k x and asks by 1 + k x, each clamped to [0, 2]; at the maximum
  (|x| = 1) the side that would take inventory further shows no size of its own: only what the
  obligations add (`shaping` tops the in-band depth up to the minimum).
The obligations (see `shaping`) still win: the innermost level stays within max_spread/2 of mid
and the in-band depth is topped up to the minimum on both sides, skew or not.

`price_ceiling` caps every bid (never buy above it) and `price_floor` every ask (never sell below
it); the side is shifted as a whole so the ladder keeps its shape.

What the ladder reads of a snapshot is little: the best bid and ask of others (not their sizes),
the inventory, the last trade price, and of the estimates only sigma, through a spread floor
rounded to 10 places that often does not bind; the reference price only when the book has no
mid. `quote` remembers the last answer under exactly these inputs (`_key`) and gives it again,
refreshed (this snapshot's `now_ms`, the volatility floor's diagnostic), when they repeat: on
a busy book most snapshots change nothing the ladder reads.
"""

from __future__ import annotations

import math
from decimal import Decimal

from liquidity_bot.config import LadderParams
from liquidity_bot.strategies.avellaneda import _pct
from liquidity_bot.strategies.base import (
    InstrumentLike,
    MarketEstimates,
    MarketSnapshot,
    QuoteSet,
    Side,
    TopOfBook,
    top_of_book,
)
from liquidity_bot.strategies.inventory import deviation_ratio, target_base
from liquidity_bot.strategies.shaping import (
    DEPTH_BAND_PCT,
    LevelPlan,
    ObligationsLike,
    QuoteMemo,
    QuotePlan,
    centre,
    no_centre,
    shape_even,
    shape_plan,
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


def _vol_floor(p: LadderParams, sigma: float) -> Decimal:
    """The ladder's volatility floor for ``sigma`` (percent of mid, rounded to 10 places)."""
    return p.vol_spread_mult * _pct(sigma * math.sqrt(p.vol_horizon_s))


def _floor_cap(p: LadderParams) -> tuple[Decimal, float]:
    """(half the configured spread, the largest sigma found whose volatility floor stays at
    or under it; -inf if none is found): ``quiet_sigma_cap``'s bound for ``p``."""
    spread = p.min_spread_pct if p.min_spread_pct > p.base_spread_pct else p.base_spread_pct
    half = spread / TWO
    if p.vol_spread_mult <= 0:
        return half, (math.inf if p.vol_spread_mult == 0 else -math.inf)
    # where the unrounded floor meets the half, then down until the rounded one is under it
    sigma = float(half / p.vol_spread_mult) / math.sqrt(p.vol_horizon_s)
    shrink = 2.0 ** -40
    for _ in range(48):
        try:
            if math.isfinite(sigma) and sigma >= 0 and _vol_floor(p, sigma) <= half:
                return half, sigma
        except ArithmeticError:
            pass
        sigma *= 1.0 - shrink
        shrink *= 2.0
    return half, -math.inf


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
        self._memo = QuoteMemo()
        self._floor_of: tuple[float, LadderParams, Decimal] | None = None
        self._sigma_cap: tuple[LadderParams, tuple[Decimal, float]] | None = None

    def quote(self, snapshot: MarketSnapshot) -> QuoteSet:
        """``quote_around_centre`` with the ladder's plan, remembered under what it reads."""
        instrument = self.instrument
        book = snapshot.book  # (the runner's snapshots hold a TopOfBook: no call for it)
        top = book if type(book) is TopOfBook else top_of_book(book)
        mid, why_not = centre(top, snapshot.reference_price)
        if mid is None:
            return no_centre(instrument, snapshot, why_not)
        vol_floor, half = self._half_spread(snapshot.estimates)
        p = self.params
        # everything the plan and the shaping read (the rest is the frozen configuration)
        key = (top.bid, top.ask, mid, snapshot.inventory, half, snapshot.last_price,
               instrument, p, self.obligations, self.band_pct)
        memo = self._memo
        diagnostics = memo.quotes.diagnostics if memo.quotes is not None else None
        if diagnostics is not None and diagnostics.get("vol_floor_pct") != vol_floor:
            # sigma moved below the floor: no quote changes, one diagnostic does
            diagnostics = {**diagnostics, "vol_floor_pct": vol_floor}
        again = memo.again(key, snapshot.now_ms, mid, diagnostics)
        if again is not None:
            return again
        # the common case shaped in one function (``shape_even``), else in full
        bid_prices, ask_prices, bid_size, ask_size, diagnostics = levels = self._plan(
            snapshot, mid, vol_floor, half)
        quotes = shape_even(bid_prices, ask_prices, bid_size, ask_size, snapshot, instrument,
                            top, mid, self.obligations, self.band_pct, diagnostics,
                            p.price_ceiling, p.price_floor)
        if quotes is not None:
            return memo.keep(key, quotes)
        wanted = level_plan(*levels)
        return memo.keep(key, shape_plan(
            wanted, snapshot, instrument, top, mid, obligations=self.obligations,
            band_pct=self.band_pct, bid_ceiling=p.price_ceiling, ask_floor=p.price_floor))

    @property
    def reused(self) -> int:
        """Quote sets given again: nothing the ladder reads had changed."""
        return self._memo.reused

    # What the ladder's answer depends on, for the market runner's quiet passes: the best bid
    # and ask prices of the others (``snapshot.book``'s prices, not their sizes), the reference
    # price only when one of them is missing, the inventory, and of the estimates what
    # ``quiet_key`` returns; never the clock (``now_ms`` only stamps the quote set).
    def quiet_key(self, estimates: MarketEstimates | None) -> tuple[object, ...]:
        """With the same best prices (both sides) and inventory, an equal key gives the
        same quotes (the memo's key is made of these and of frozen configuration)."""
        return (self._half_spread(estimates)[1], self.params, self.instrument,
                self.obligations, self.band_pct)

    def quiet_sigma_cap(self, key: tuple[object, ...]) -> float:
        """A sigma up to which (inclusive) every estimate gives ``quiet_key`` ``key`` again,
        so a quiet check compares sigma with it instead of working the key out (-inf: none).
        The volatility floor only grows with sigma (a float product, its shortest repr and
        a rounding, each monotone), so while it stays at or under half the configured spread
        that half is the half-spread: the cap is the largest sigma found to keep it there."""
        p = key[1]
        if not isinstance(p, LadderParams):
            return -math.inf
        known = self._sigma_cap
        if known is None or known[0] is not p:
            known = self._sigma_cap = (p, _floor_cap(p))
        half, cap = known[1]
        return cap if key[0] == half else -math.inf

    def quiet_again(self) -> None:
        """Count an answer given again without being asked (a quiet pass)."""
        self._memo.reused += 1

    def _half_spread(self, est: MarketEstimates | None) -> tuple[Decimal, Decimal]:
        """(volatility floor, half-spread), percent of mid: the largest of half the configured
        spread and the floor from sigma (rounded to 10 places, so many sigmas give one floor)."""
        p = self.params
        sigma = est.sigma_pct if est is not None else float(p.sigma_default_pct)
        known = self._floor_of
        if known is not None and known[0] == sigma and known[1] is p:
            vol_floor = known[2]
        else:
            vol_floor = _vol_floor(p, sigma)
            self._floor_of = (sigma, p, vol_floor)
        spread = p.min_spread_pct if p.min_spread_pct > p.base_spread_pct else p.base_spread_pct
        half = spread / TWO
        return vol_floor, (vol_floor if vol_floor > half else half)

    def _plan(
        self, snapshot: MarketSnapshot, mid: Decimal, vol_floor: Decimal, half: Decimal
    ) -> tuple[list[Decimal], list[Decimal], Decimal, Decimal, dict[str, Decimal]]:
        """The ladder's levels around ``mid`` (what ``quote`` shapes): level i's bid and ask
        prices, unrounded, each side's size and the diagnostics (``level_plan`` makes them a
        ``QuotePlan``)."""
        p = self.params
        inv = snapshot.inventory
        target = target_base(inv, mid, p.target_base_qty, p.target_base_share)
        deviation = inv.base - target
        limit = p.max_base_deviation
        if limit is None:
            limit = p.level_size_quote * p.levels / mid
        ratio = deviation_ratio(deviation, limit)
        pull = p.skew_strength * ratio
        reach = half * p.max_skew_share
        shift = _clamp(-pull * half, -reach, reach)  # percent of mid
        bid_factor = ZERO if ratio >= ONE else _clamp(ONE - pull, ZERO, TWO)
        ask_factor = ZERO if ratio <= -ONE else _clamp(ONE + pull, ZERO, TWO)
        bids: list[Decimal] = []
        asks: list[Decimal] = []
        spacing = p.level_spacing_pct
        for i in range(p.levels):
            offset = half + spacing * i
            bids.append(mid * (ONE + (shift - offset) / HUNDRED))
            asks.append(mid * (ONE + (shift + offset) / HUNDRED))
        diagnostics = {
            "half_spread_pct": half,
            "vol_floor_pct": vol_floor,
            "skew_shift_pct": shift,
            "bid_size_factor": bid_factor,
            "ask_size_factor": ask_factor,
            "inventory_deviation_base": deviation,
            "target_base": target,
            "inventory_ratio": ratio,
        }
        size = p.level_size_quote
        return bids, asks, size * bid_factor, size * ask_factor, diagnostics


def level_plan(bid_prices: list[Decimal], ask_prices: list[Decimal], bid_size: Decimal,
            ask_size: Decimal, diagnostics: dict[str, Decimal]) -> QuotePlan:
    """The ``QuotePlan`` of level i at ``bid_prices[i]`` and ``ask_prices[i]``, one size per
    side (what ``LadderStrategy._plan`` returns)."""
    plans: list[LevelPlan] = []
    for i, (bid, ask) in enumerate(zip(bid_prices, ask_prices, strict=True)):
        plans.append(LevelPlan(BUY, i, bid, bid_size))
        plans.append(LevelPlan(SELL, i, ask, ask_size))
    return QuotePlan(plans, diagnostics)
