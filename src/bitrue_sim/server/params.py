"""Request parameters as Bitrue reads them: query string first, then form or JSON body.

Every problem becomes the documented error: a missing or malformed parameter is HTTP 412
code -1102, a malformed price/quantity/amount is 412 code -1111.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from urllib.parse import parse_qsl

from bitrue_sim.errors import ExchangeError

_DECIMAL_RE = re.compile(r"^[0-9]{1,20}(\.[0-9]{1,20})?$")
_INT_RE = re.compile(r"^-?[0-9]{1,19}$")


def missing(name: str) -> ExchangeError:
    return ExchangeError(
        412, -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed."
    )


def illegal(name: str, why: str) -> ExchangeError:
    return ExchangeError(412, -1102, f"Parameter '{name}' is illegal: {why}.")


def parse_form(raw: str) -> dict[str, str]:
    """First occurrence wins, like the query string; blank values kept (then seen as missing)."""
    out: dict[str, str] = {}
    try:
        pairs = parse_qsl(raw, keep_blank_values=True, strict_parsing=False)
    except ValueError as exc:
        raise ExchangeError(412, -1102, "Malformed form body.") from exc
    for k, v in pairs:
        out.setdefault(k, v)
    return out


class Params:
    """Merged parameters of one request (query wins over body, as the docs say)."""

    def __init__(self, query: dict[str, str], body: dict[str, str] | None = None) -> None:
        merged = dict(body or {})
        merged.update(query)
        self._values = merged

    def __contains__(self, name: str) -> bool:
        return bool(self._values.get(name, ""))

    def raw(self, name: str) -> str | None:
        v = self._values.get(name)
        return v if v not in (None, "") else None

    def str(self, name: str, required: bool = False, max_len: int = 200) -> str | None:
        v = self.raw(name)
        if v is None:
            if required:
                raise missing(name)
            return None
        if len(v) > max_len:
            raise illegal(name, f"longer than {max_len} characters")
        return v

    def int(
        self,
        name: str,
        required: bool = False,
        default: int | None = None,
        min_value: int | None = None,
        max_value: int | None = None,
    ) -> int | None:
        v = self.raw(name)
        if v is None:
            if required:
                raise missing(name)
            return default
        if not _INT_RE.match(v):
            raise illegal(name, "not an integer")
        n = int(v)
        if min_value is not None and n < min_value:
            raise illegal(name, f"must be >= {min_value}")
        if max_value is not None and n > max_value:
            raise illegal(name, f"must be <= {max_value}")
        return n

    def decimal(self, name: str, required: bool = False) -> Decimal | None:
        v = self.raw(name)
        if v is None:
            if required:
                raise missing(name)
            return None
        if not _DECIMAL_RE.match(v):
            raise ExchangeError(
                412,
                -1111,
                f"Illegal characters found in parameter '{name}'; legal range is "
                "'^([0-9]{1,20})(\\.[0-9]{1,20})?$'.",
            )
        try:
            return Decimal(v)
        except InvalidOperation as exc:  # pragma: no cover - the regex already guards
            raise ExchangeError(412, -1111, f"Invalid number in parameter '{name}'.") from exc

    def enum(self, name: str, allowed: tuple[str, ...], required: bool = False) -> str | None:
        v = self.raw(name)
        if v is None:
            if required:
                raise missing(name)
            return None
        u = v.upper()
        if u not in allowed:
            raise illegal(name, f"must be one of {', '.join(allowed)}")
        return u
