"""Prices and quantities as integers: price ticks and quantity lots of one instrument.

A price on an instrument's grid is ``ticks x tick`` and a quantity ``lots x step`` (cf. the
fixed-point Price and Quantity of NautilusTrader): the hot path compares and adds plain ints,
several times cheaper than ``Decimal``, and exact. ``Decimal`` stays at the edges (config, wire
parsing, the store, reports); ``TickScale`` is the one place the two meet, and every conversion
is exact: a value off the grid is refused unless a rounding direction is asked for, and a float is
refused always (its binary value is not the number on the wire).

A notional ``ticks x lots`` is counted in *notional units* of ``tick x step`` quote currency, so
that depths, minimums and limits compare as ints too (``notional_units`` converts a Decimal
threshold, rounded in the direction that keeps the comparison exact).
"""

from __future__ import annotations

from decimal import Decimal, localcontext
from enum import Enum

__all__ = ["Rounding", "TickScale", "TickError", "whole"]


class TickError(ValueError):
    """A value that is not on the instrument's grid (and no rounding was asked for)."""


class Rounding(Enum):
    """Which way a value off the grid goes: down (``FLOOR``) or up (``CEIL``)."""

    FLOOR = "floor"
    CEIL = "ceil"


FLOOR, CEIL = Rounding.FLOOR, Rounding.CEIL


def _ratio(value: object, what: str) -> tuple[int, int]:
    """``value`` as an exact (numerator, positive denominator); floats and non-numbers refused."""
    if type(value) is int:
        return value, 1
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise TickError(f"{what}: {value} is not a finite number")
        return value.as_integer_ratio()
    if isinstance(value, float):
        raise TypeError(f"{what}: got float {value!r}; prices and quantities never go through "
                        "float (use Decimal or a str)")
    raise TypeError(f"{what}: expected Decimal or int, got {type(value).__name__} {value!r}")


def _divide(num: int, den: int, rounding: Rounding | None, what: str, value: object,
            grid: Decimal) -> int:
    quotient, remainder = divmod(num, den)  # floor division: exact on ints
    if remainder:
        if rounding is None:
            raise TickError(f"{what} {value} is not a multiple of {grid}; round it first "
                            "(floor or ceil, whichever is safe for the side)")
        if rounding is CEIL:
            quotient += 1
    return quotient


def _whole(value: Decimal | int, grid: Decimal, rounding: Rounding | None, what: str) -> int:
    """``value / grid`` as an int, exactly: off the grid refused, or rounded as asked.

    A Decimal goes through ``divmod`` (an exact integer quotient and remainder, several times
    cheaper than a ratio of ints); a quotient too long for the context's precision, a value
    that is not finite and an int go through exact integer ratios."""
    if type(value) is Decimal:
        try:
            quotient, remainder = divmod(value, grid)  # truncates toward zero
            whole = int(quotient)
        except (ArithmeticError, ValueError):  # too many digits, NaN, infinity
            pass
        else:
            if not remainder:
                return whole
            if rounding is None:
                raise TickError(f"{what} {value} is not a multiple of {grid}; round it first "
                                "(floor or ceil, whichever is safe for the side)")
            if rounding is CEIL:
                return whole + 1 if remainder > 0 else whole
            return whole - 1 if remainder < 0 else whole
    num, den = _ratio(value, what)
    grid_num, grid_den = grid.as_integer_ratio()
    return _divide(num * grid_den, den * grid_num, rounding, what, value, grid)


whole = _whole
"""``TickScale.ticks`` / ``lots`` with a rounding, in one call for a hot loop that holds the grid:
``whole(price, tick, FLOOR, "price")`` is ``TickScale(tick, step).ticks(price, FLOOR)``."""

_MEMO_SIZE = 4096


def _remembered(memo: dict[Decimal, int], value: Decimal, grid: Decimal, what: str) -> int:
    """``_whole(value, grid)`` (exact, no rounding), remembered in ``memo`` (bounded: a long run
    sees many prices, most of them once)."""
    known = memo.get(value)
    if known is None:
        known = _whole(value, grid, None, what)
        if len(memo) >= _MEMO_SIZE:
            memo.clear()
        memo[value] = known
    return known


def _text(units: int, places: int) -> str:
    """``units x 10**-places`` as plain decimal text (no exponent), e.g. (12345, 2) -> 123.45."""
    if places <= 0:
        return str(units * 10 ** -places)
    sign = "-" if units < 0 else ""
    whole, frac = divmod(abs(units), 10 ** places)
    return f"{sign}{whole}.{frac:0{places}d}"


class TickScale:
    """One instrument's integer grid: ``tick`` (price) and ``step`` (quantity), both positive."""

    __slots__ = ("tick", "step", "_ticks_of", "_lots_of", "_price_places", "_price_units",
                 "_qty_places", "_qty_units", "_unit")

    def __init__(self, tick: Decimal, step: Decimal) -> None:
        for what, grid in (("tick", tick), ("step", step)):
            if not isinstance(grid, Decimal):
                _ratio(grid, what)  # the float / type error
                raise TypeError(f"{what}: expected Decimal, got {type(grid).__name__}")
            if not grid.is_finite() or grid <= 0:
                raise TickError(f"{what} must be a positive number, got {grid}")
        self.tick, self.step = tick, step
        # exact conversions already made (the same prices and sizes come back on every book):
        # a dict look-up is a tenth of a conversion
        self._ticks_of: dict[Decimal, int] = {}
        self._lots_of: dict[Decimal, int] = {}
        # wire text: a tick is ``_price_units`` x 10**-``_price_places``
        self._price_places = max(0, -int(tick.as_tuple().exponent))
        self._price_units = int(tick.scaleb(self._price_places))
        self._qty_places = max(0, -int(step.as_tuple().exponent))
        self._qty_units = int(step.scaleb(self._qty_places))
        # one notional unit = tick x step quote currency (exact: as many digits as it takes)
        with localcontext() as ctx:
            ctx.prec = len(tick.as_tuple().digits) + len(step.as_tuple().digits)
            self._unit = tick * step

    def __repr__(self) -> str:
        return f"TickScale(tick={self.tick}, step={self.step})"

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, TickScale) and self.tick == other.tick
                and self.step == other.step)

    def __hash__(self) -> int:
        return hash((self.tick, self.step))

    # --- Decimal -> int ------------------------------------------------------------------------
    def ticks(self, price: Decimal | int, rounding: Rounding | None = None) -> int:
        """``price`` in ticks; off the tick it is refused unless ``rounding`` says which way."""
        if rounding is None and type(price) is Decimal:  # 1.0 == Decimal(1): floats go on
            return _remembered(self._ticks_of, price, self.tick, "price")
        return _whole(price, self.tick, rounding, "price")

    def lots(self, qty: Decimal | int, rounding: Rounding | None = None) -> int:
        """``qty`` in lots (steps); off the step it is refused unless ``rounding`` is given."""
        if rounding is None and type(qty) is Decimal:
            return _remembered(self._lots_of, qty, self.step, "quantity")
        return _whole(qty, self.step, rounding, "quantity")

    def notional_units(self, amount: Decimal | int, rounding: Rounding) -> int:
        """A quote-currency ``amount`` in notional units (tick x step), rounded as asked:
        ``ticks * lots >= notional_units(x, CEIL)`` exactly when ``price * qty >= x``, and
        ``ticks * lots <= notional_units(x, FLOOR)`` exactly when ``price * qty <= x``."""
        return _whole(amount, self._unit, rounding, "amount")

    # --- int -> Decimal / wire text ------------------------------------------------------------
    def price(self, ticks: int) -> Decimal:
        """The Decimal price of ``ticks`` (``ticks x tick``, the tick's exponent)."""
        if type(ticks) is not int:
            raise TypeError(f"ticks must be an int, got {type(ticks).__name__} {ticks!r}")
        return ticks * self.tick

    def qty(self, lots: int) -> Decimal:
        """The Decimal quantity of ``lots`` (``lots x step``, the step's exponent)."""
        if type(lots) is not int:
            raise TypeError(f"lots must be an int, got {type(lots).__name__} {lots!r}")
        return lots * self.step

    def notional(self, units: int) -> Decimal:
        """Notional units back to quote currency."""
        return units * self._unit

    def price_text(self, ticks: int) -> str:
        """Wire text of ``ticks`` by integer formatting (as many decimals as the tick has)."""
        return _text(ticks * self._price_units, self._price_places)

    def qty_text(self, lots: int) -> str:
        """Wire text of ``lots`` by integer formatting (as many decimals as the step has)."""
        return _text(lots * self._qty_units, self._qty_places)
