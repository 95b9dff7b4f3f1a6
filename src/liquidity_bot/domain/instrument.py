"""A tradable symbol's rules, and the one place where prices and quantities are rounded.

Exchange-neutral: each venue adapter builds its ``Instrument``s from its own format (Bitrue's
exchangeInfo: the Bitrue adapter's ``instruments`` module). The rules are those every spot exchange has in
some form: a price grid (tick) and bounds, a quantity grid (step) and bounds, a minimum notional,
an optional price band around the last trade, and a status.

Never through float: ``to_decimal`` refuses a ``float`` with an error that says so, because its
binary value is not the number on the wire.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import TYPE_CHECKING

from liquidity_bot.domain.order import Side

if TYPE_CHECKING:
    from liquidity_bot.domain.order import Order

# Hot-path constants: comparing with a Decimal is cheaper than with the int 0 (same result), and
# a module global is cheaper to look up than an Enum member.
_ZERO, _ONE = Decimal(0), Decimal(1)
_BUY, _SELL = Side.BUY, Side.SELL

class InstrumentError(ValueError):
    """exchangeInfo data we cannot build safe trading rules from."""


class Rule(StrEnum):
    """The exchange rule an order violates."""

    SYMBOL = "SYMBOL"  # the order names another symbol
    STATUS = "STATUS"  # the symbol is not TRADING
    PRICE_NOT_POSITIVE = "PRICE_NOT_POSITIVE"
    MIN_PRICE = "MIN_PRICE"
    MAX_PRICE = "MAX_PRICE"
    TICK_SIZE = "TICK_SIZE"
    QTY_NOT_POSITIVE = "QTY_NOT_POSITIVE"
    MIN_QTY = "MIN_QTY"
    MAX_QTY = "MAX_QTY"
    STEP_SIZE = "STEP_SIZE"
    MIN_NOTIONAL = "MIN_NOTIONAL"
    PERCENT_PRICE_BY_SIDE = "PERCENT_PRICE_BY_SIDE"


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken rule: its name and why (an adapter knows its exchange's code for it)."""

    rule: Rule
    message: str


def to_decimal(value: object, what: str) -> Decimal:
    """A wire number (str, int or Decimal) as an exact, finite Decimal; floats are refused."""
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation:
            raise InstrumentError(f"{what}: {value!r} is not a number") from None
    elif type(value) is int:
        result = Decimal(value)
    elif isinstance(value, float):
        raise TypeError(
            f"{what}: got float {value!r}; money never goes through float. Decode the JSON "
            "with json.loads(text, parse_float=Decimal) or msgspec Decimal fields"
        )
    else:
        raise InstrumentError(f"{what}: expected a number, got {type(value).__name__} {value!r}")
    if not result.is_finite():
        raise InstrumentError(f"{what}: {value!r} is not a finite number")
    return result


def canonical(value: Decimal) -> Decimal:
    """Strip trailing zeros (``0.01000000`` -> ``0.01``) without going to exponent form."""
    normal = value.normalize()
    if normal.as_tuple().exponent > 0:
        normal = normal.quantize(Decimal(1))
    return normal


def grid_lcm(a: Decimal, b: Decimal) -> Decimal:
    """Smallest positive step that is a whole multiple of both ``a`` and ``b``."""
    exponent = min(a.as_tuple().exponent, b.as_tuple().exponent)
    scale = Decimal(1).scaleb(-exponent)
    ia, ib = int(a * scale), int(b * scale)
    return canonical(Decimal(math.lcm(ia, ib)) / scale)


def floor_to(value: Decimal, step: Decimal) -> Decimal:
    """Largest multiple of ``step`` that is <= ``value`` (exact Decimal arithmetic)."""
    quotient, remainder = divmod(value, step)  # truncates towards zero
    if remainder < _ZERO:
        quotient -= 1
    return quotient * step


def ceil_to(value: Decimal, step: Decimal) -> Decimal:
    """Smallest multiple of ``step`` that is >= ``value`` (exact Decimal arithmetic)."""
    quotient, remainder = divmod(value, step)
    if remainder > _ZERO:
        quotient += 1
    return quotient * step


@dataclass(frozen=True, slots=True)
class Instrument:
    """A symbol's trading rules. Prices in quote currency, quantities in base currency.

    ``tick`` and ``step`` are the effective grids (see ``_grid``). ``max_price``/``max_qty``
    of None mean "no limit"; the band multipliers are None when the exchange sends no
    ``PERCENT_PRICE_BY_SIDE`` filter.
    """

    symbol: str
    base: str
    quote: str
    tick: Decimal
    step: Decimal
    price_scale: int | None
    volume_scale: int | None
    min_price: Decimal
    max_price: Decimal | None
    min_qty: Decimal
    max_qty: Decimal | None
    min_val: Decimal
    bid_multiplier_up: Decimal | None = None
    bid_multiplier_down: Decimal | None = None
    ask_multiplier_up: Decimal | None = None
    ask_multiplier_down: Decimal | None = None
    status: str = "TRADING"

    # --- rounding ------------------------------------------------------------------------------
    def round_price(self, price: Decimal, side: Side | str) -> Decimal:
        """Onto the tick, never more aggressive: bids round down, asks round up."""
        if side is not _BUY and side is not _SELL:  # parsing costs more than rounding
            side = Side.parse(side)
        # floor_to / ceil_to written out: strategies round every level of every book
        quotient, remainder = divmod(price, self.tick)
        if side is _BUY:
            if remainder < _ZERO:
                quotient -= _ONE
        elif remainder > _ZERO:
            quotient += _ONE
        return quotient * self.tick

    def round_qty(self, qty: Decimal) -> Decimal:
        """Down onto the step: never more than asked for."""
        quotient, remainder = divmod(qty, self.step)  # floor_to written out, as in round_price
        if remainder < _ZERO:
            quotient -= _ONE
        return quotient * self.step

    def is_on_tick(self, price: Decimal) -> bool:
        return price % self.tick == 0

    def is_on_step(self, qty: Decimal) -> bool:
        return qty % self.step == 0

    # --- validation ----------------------------------------------------------------------------
    def check(
        self,
        side: Side | str,
        price: Decimal,
        qty: Decimal,
        last_price: Decimal | None = None,
        *,
        symbol: str | None = None,
    ) -> list[Violation]:
        """Every rule a limit order at ``price`` x ``qty`` breaks; empty means it passes.

        All rules are checked (not just the first) so a log line says everything at once.
        The percent-price band needs the last trade price and is skipped without one; so is
        the notional check at the last price (see below).
        """
        if side is not _BUY and side is not _SELL:
            side = Side.parse(side)
        if symbol is None and self._passes(side, price, qty, last_price):
            return []
        out: list[Violation] = []

        def add(rule: Rule, message: str) -> None:
            out.append(Violation(rule, f"{self.symbol}: {message}"))

        if symbol is not None and symbol.strip().upper() != self.symbol:
            add(Rule.SYMBOL, f"order is for symbol {symbol!r}, these rules are for {self.symbol}")
        if self.status != "TRADING":
            add(Rule.STATUS, f"symbol status is {self.status}, orders need TRADING")

        if price <= 0:
            add(Rule.PRICE_NOT_POSITIVE, f"price {price} must be positive")
        else:
            if price < self.min_price:
                add(Rule.MIN_PRICE, f"price {price} is below minPrice {self.min_price}")
            if self.max_price is not None and price > self.max_price:
                add(Rule.MAX_PRICE, f"price {price} is above maxPrice {self.max_price}")
            if not self.is_on_tick(price):
                add(
                    Rule.TICK_SIZE,
                    f"price {price} is not a multiple of the tick {self.tick}; "
                    f"use round_price (-> {self.round_price(price, side)})",
                )
        if qty <= 0:
            add(Rule.QTY_NOT_POSITIVE, f"quantity {qty} must be positive")
        else:
            if qty < self.min_qty:
                add(Rule.MIN_QTY, f"quantity {qty} is below minQty {self.min_qty}")
            if self.max_qty is not None and qty > self.max_qty:
                add(Rule.MAX_QTY, f"quantity {qty} is above maxQty {self.max_qty}")
            # Bitrue's docs annotate stepSize as "(quantity - minQty) % stepSize == 0"; we
            # anchor the grid at zero (what volumeScale means). Both agree whenever minQty is
            # on the step, which it is for every symbol we have seen.
            if not self.is_on_step(qty):
                add(
                    Rule.STEP_SIZE,
                    f"quantity {qty} is not a multiple of the step {self.step}; "
                    f"use round_qty (-> {self.round_qty(qty)})",
                )
        if price > 0 and qty > 0 and self.min_val > 0:
            # The facts sheet says minVal is quantity x price; Bitrue's own docs annotate it as
            # quantity x lastPrice. We require both (the latter when the last price is known):
            # the stricter reading can only make us skip an order, never get one rejected.
            notional = price * qty
            if notional < self.min_val:
                add(
                    Rule.MIN_NOTIONAL,
                    f"notional {notional} (price x quantity) is below minVal {self.min_val}",
                )
            elif last_price is not None and last_price > 0 and last_price * qty < self.min_val:
                add(
                    Rule.MIN_NOTIONAL,
                    f"notional at the last price {last_price * qty} is below minVal "
                    f"{self.min_val}",
                )
        if last_price is not None and price > 0:
            out.extend(self._band_violations(side, price, last_price))
        return out

    def _passes(self, side: Side, price: Decimal, qty: Decimal, last_price: Decimal | None) -> bool:
        """True when ``check`` would find nothing: the usual answer, so it is found cheaply.

        The same comparisons as ``check``, in the same order, stopping at the first one that
        fails (``check`` then runs in full to say everything that is wrong); strategies call
        this for every level of every quote, inside the tick-to-order latency.
        """
        if self.status != "TRADING" or price <= _ZERO or price < self.min_price:
            return False
        if self.max_price is not None and price > self.max_price:
            return False
        if price % self.tick != _ZERO or qty <= _ZERO or qty < self.min_qty:
            return False
        if self.max_qty is not None and qty > self.max_qty:
            return False
        if qty % self.step != _ZERO:
            return False
        min_val = self.min_val
        if min_val > _ZERO:
            if price * qty < min_val:
                return False
            if last_price is not None and last_price > _ZERO and last_price * qty < min_val:
                return False
        return last_price is None or not self._band_violations(side, price, last_price)

    def check_order(self, order: Order, last_price: Decimal | None = None) -> list[Violation]:
        """``check`` for an ``Order`` (its symbol is checked too)."""
        return self.check(order.side, order.price, order.qty, last_price, symbol=order.symbol)

    def price_band(self, side: Side | str, last_price: Decimal) -> tuple[Decimal, Decimal | None]:
        """Inclusive [low, high] prices the band allows for ``side`` (high None = no cap)."""
        if Side.parse(side) is Side.BUY:
            up, down = self.bid_multiplier_up, self.bid_multiplier_down
        else:
            up, down = self.ask_multiplier_up, self.ask_multiplier_down
        low = last_price * down if down is not None else Decimal(0)
        high = last_price * up if up is not None else None
        return low, high

    def _band_violations(self, side: Side, price: Decimal, last: Decimal) -> list[Violation]:
        if last <= 0:
            return []
        low, high = self.price_band(side, last)
        name = "bid" if side is Side.BUY else "ask"
        rule = Rule.PERCENT_PRICE_BY_SIDE
        if price < low:
            return [
                Violation(
                    rule,
                    f"{self.symbol}: {name} price {price} is below {low} "
                    f"({name}MultiplierDown x last price {last})",
                )
            ]
        if high is not None and price > high:
            return [
                Violation(
                    rule,
                    f"{self.symbol}: {name} price {price} is above {high} "
                    f"({name}MultiplierUp x last price {last})",
                )
            ]
        return []
