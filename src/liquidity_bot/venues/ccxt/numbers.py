"""ccxt's numbers into exact Decimals.

REST and order-stream clients run with ``number = str`` (ccxt's documented switch), so their
unified amounts and prices arrive as the exchange's own decimal text. ccxt.pro keeps order
books as floats whatever ``number`` says; a book level is turned back into the decimal text it
came from by ``book_decimal``: Python's ``repr`` of a float is the shortest text that reads back
as the same float, and any decimal of at most 15 significant digits reads into a distinct float
(IEEE 754 doubles keep 15 decimal digits), so ``repr`` gives that decimal back exactly. A level
with more digits cannot be trusted and is refused, never rounded.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

SAFE_DIGITS = 15


class InexactNumber(ValueError):
    """A number that cannot be turned into the exchange's exact decimal."""


def exact(value: object, what: str) -> Decimal:
    """A unified ccxt field (``number = str``) as a Decimal; floats are refused."""
    if isinstance(value, bool) or isinstance(value, float):
        raise InexactNumber(f"{what}: got the float {value!r}; the ccxt client must run with "
                            "number = str")
    if isinstance(value, Decimal):
        return value
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise InexactNumber(f"{what}: {value!r} is not a number") from None


def maybe_exact(value: object, what: str) -> Decimal | None:
    return None if value is None or value == "" else exact(value, what)


def book_decimal(value: float | int | str, what: str = "book level") -> Decimal:
    """A ccxt.pro book float back to the exchange's decimal (see the module docstring)."""
    if isinstance(value, str | int) and not isinstance(value, bool):
        return Decimal(value)
    text = repr(float(value))
    d = Decimal(text)
    digits = len(d.as_tuple().digits)
    if "e" in text or "E" in text:
        digits = len(d.normalize().as_tuple().digits)
    if digits > SAFE_DIGITS:
        raise InexactNumber(f"{what}: {text} has more than {SAFE_DIGITS} significant digits; "
                            "a float cannot carry it exactly")
    return d
