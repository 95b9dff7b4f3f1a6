"""An instrument's exchange filters on integer ticks and lots: the fast yes of ``Instrument.check``.

Strategies check every level of every quote set against the filters, inside the tick-to-order
latency. ``TickFilters`` turns each Decimal bound of one instrument (and one last trade price)
into a bound in ticks, lots or notional units once, rounded so that each integer comparison
answers exactly as the Decimal one; ``passes`` is then a few int comparisons. It says only yes
or no: on a no, ``Instrument.check`` says what is wrong (and stays the authority).
"""

from __future__ import annotations

from decimal import Decimal

from liquidity_bot.domain.instrument import Instrument
from liquidity_bot.domain.order import Side
from liquidity_bot.domain.ticks import CEIL, FLOOR, TickScale

__all__ = ["TickFilters", "tick_filters", "tick_scale"]


_SCALES: dict[tuple[str, str], TickScale] = {}


def tick_scale(tick: Decimal, step: Decimal) -> TickScale:
    """The ``TickScale`` of a grid (one per grid, shared: it remembers conversions). Keyed by
    the text: 0.010 and 0.01 are the same grid but give prices of different exponents."""
    key = (str(tick), str(step))
    scale = _SCALES.get(key)
    if scale is None:
        if len(_SCALES) >= 256:
            _SCALES.clear()
        scale = _SCALES[key] = TickScale(tick, step)
    return scale


def _ceil_ratio(num: int, den: int) -> int:
    return -(-num // den)


class TickFilters:
    """``Instrument._passes`` for one side and one last price, on ticks and lots."""

    __slots__ = ("trading", "min_ticks", "max_ticks", "min_lots", "max_lots", "min_units",
                 "min_lots_at_last", "band_low", "band_high")

    def __init__(self, inst: Instrument, side: Side, last_price: Decimal | None) -> None:
        scale = tick_scale(inst.tick, inst.step)
        self.trading = inst.status == "TRADING"
        # price > 0 and price >= min_price: at least one tick and at least ceil(min_price)
        self.min_ticks = max(1, scale.ticks(inst.min_price, CEIL))
        self.max_ticks = None if inst.max_price is None else scale.ticks(inst.max_price, FLOOR)
        self.min_lots = max(1, scale.lots(inst.min_qty, CEIL))
        self.max_lots = None if inst.max_qty is None else scale.lots(inst.max_qty, FLOOR)
        min_val = inst.min_val
        self.min_units = scale.notional_units(min_val, CEIL) if min_val > 0 else 0
        # last x qty >= min_val  <=>  lots >= min_val / (last x step), rounded up
        self.min_lots_at_last = 0
        self.band_low: int | None = None
        self.band_high: int | None = None
        if last_price is not None and last_price > 0:
            if min_val > 0:
                vn, vd = min_val.as_integer_ratio()
                ln, ld = last_price.as_integer_ratio()
                sn, sd = inst.step.as_integer_ratio()
                self.min_lots_at_last = _ceil_ratio(vn * ld * sd, vd * ln * sn)
            low, high = inst.price_band(side, last_price)
            self.band_low = scale.ticks(low, CEIL)
            self.band_high = None if high is None else scale.ticks(high, FLOOR)

    def passes(self, ticks: int, lots: int) -> bool:
        """True when ``Instrument.check`` finds nothing for ``ticks`` x ``lots``."""
        if not self.trading or ticks < self.min_ticks or lots < self.min_lots:
            return False
        if self.max_ticks is not None and ticks > self.max_ticks:
            return False
        if self.max_lots is not None and lots > self.max_lots:
            return False
        if ticks * lots < self.min_units or lots < self.min_lots_at_last:
            return False
        if self.band_low is not None and ticks < self.band_low:
            return False
        return self.band_high is None or ticks <= self.band_high


_KNOWN: dict[tuple[int, Side, Decimal | None], tuple[Instrument, TickFilters]] = {}


def tick_filters(inst: Instrument, side: Side, last_price: Decimal | None) -> TickFilters:
    """``TickFilters`` of an instrument, side and last price, kept while the instrument is the
    same object (the last price changes only on trades: the same ones come back on every
    book)."""
    key = (id(inst), side, last_price)
    known = _KNOWN.get(key)
    if known is not None and known[0] is inst:
        return known[1]
    if len(_KNOWN) >= 4096:
        _KNOWN.clear()
    filters = TickFilters(inst, side, last_price)
    _KNOWN[key] = (inst, filters)
    return filters
