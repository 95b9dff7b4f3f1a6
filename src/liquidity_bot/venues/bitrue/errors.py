"""Bitrue's answers turned into exceptions that say what happened and what to do next.

Rules: a 5xx, a timeout or a dropped connection on an order-changing call is ``UnknownOutcome``
(the order may exist: reconcile by client order id), never a failure. Messages never carry the
API secret, a signature or a listen key: the client scrubs them before raising.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from liquidity_bot.venues import errors as _v


class BitrueError(_v.VenueError):
    """Any error answer from Bitrue (or the absence of an answer).

    ``code`` is Bitrue's numeric code when the server gave one, ``http_status`` the HTTP status.
    Each subclass is also the exchange-neutral error of ``liquidity_bot.venues.errors`` it
    stands for (the table below), which is all the engine catches.
    """


class AuthenticationError(BitrueError, _v.AuthError):
    """The key or signature was refused."""


class InvalidTimestamp(AuthenticationError):
    """The request's timestamp fell outside the server's window (clock skew or slow network)."""


class PermissionDenied(BitrueError, _v.PermissionDenied):
    """The key is valid but may not do this (missing permission, futures not activated...)."""


class IpNotAllowed(PermissionDenied):
    """The key is restricted to other source addresses."""


class RateLimited(BitrueError, _v.RateLimited):
    """A rate-limit policy is exhausted; ``policy`` names it, ``retry_after_s`` when known."""


class IpBanned(BitrueError, _v.Banned):
    """The address is banned; nothing may be sent before ``until_ms`` (epoch ms, None = unknown)."""


class BadRequest(BitrueError, _v.Rejected):
    """The request was malformed or named something that does not exist (e.g. a symbol)."""


class InvalidOrder(BadRequest, _v.InvalidOrder):
    """The order broke a rule; ``filter`` names the exchangeInfo filter when recognisable."""


class OrderNotFound(BitrueError, _v.NotFound):
    """The exchange does not know this order (or no longer lets it be cancelled)."""


class InsufficientBalance(InvalidOrder, _v.InsufficientBalance):
    """Not enough free balance for this order."""


class ListenKeyInvalid(BitrueError):
    """The listen key expired or was closed: create a new one."""


class CertificateRejected(BitrueError, _v.CertificateRejected):
    """The exchange's TLS certificate or host name was not accepted: nothing was sent. A
    configuration problem (URL, CA), so never retried."""


class ExchangeUnavailable(BitrueError, _v.Unavailable):
    """No usable answer to a read (5xx, timeout, connection loss): retry later."""


class UnknownOutcome(BitrueError, _v.UnknownOutcome):
    """An order-changing call got no trustworthy answer: it MAY have taken effect.

    Never treat as failed: reconcile by querying the order by its client order id.
    """


# Bitrue's codes and the neutral error each one is (``error_from_response`` decides, as some
# answers need the HTTP status or the message too; this table is the summary a reader and the
# tests check it against, as ccxt's ``exceptions`` table is for its ``bitrue``).
CODES: dict[int, type[_v.VenueError]] = {
    -1001: _v.UnknownOutcome,  # internal error (Unavailable on a read)
    -1016: _v.UnknownOutcome,  # service shutting down (Unavailable on a read)
    503: _v.UnknownOutcome,
    -1002: _v.PermissionDenied,
    -1013: _v.InvalidOrder,
    -1021: _v.AuthError,  # timestamp outside recvWindow (InvalidTimestamp)
    -1022: _v.AuthError,  # signature refused (or timestamp, or permission by its message)
    -1025: _v.PermissionDenied,
    -1111: _v.InvalidOrder,  # price or quantity precision
    -1121: _v.Rejected,  # invalid symbol
    -1150: _v.VenueError,  # listen key invalid (ListenKeyInvalid)
    -2008: _v.AuthError,
    -2010: _v.InvalidOrder,
    -2013: _v.NotFound,
    -2014: _v.AuthError,
    -2015: _v.PermissionDenied,
    966000: _v.PermissionDenied,  # IP not allowed
    966001: _v.PermissionDenied,  # product (futures) not enabled
}


_FILTERS = (
    "PERCENT_PRICE_BY_SIDE",
    "PERCENT_PRICE",
    "PRICE_FILTER",
    "LOT_SIZE",
    "MIN_NOTIONAL",
    "NOTIONAL",
    "MARKET_LOT_SIZE",
    "MAX_NUM_ORDERS",
)


_BAN_UNTIL = re.compile(r"until (\d{12,})")


def scrub(text: str, secrets: Iterable[str]) -> str:
    """Replace every occurrence of each secret in ``text`` by ``***``."""
    for secret in secrets:
        if secret and len(secret) >= 4 and secret in text:
            text = text.replace(secret, "***")
    return text


def _filter_named(msg: str) -> str | None:
    upper = msg.upper()
    for name in _FILTERS:
        if name in upper:
            return name
    low = msg.lower()
    if "notional" in low or "minval" in low or "min val" in low:
        return "LOT_SIZE"  # Bitrue keeps the minimum notional (minVal) in LOT_SIZE
    if "price" in low and ("tick" in low or "precision" in low or "scale" in low):
        return "PRICE_FILTER"
    if ("quantity" in low or "volume" in low or "qty" in low) and (
        "step" in low or "precision" in low or "scale" in low or "min" in low or "max" in low
    ):
        return "LOT_SIZE"
    return None


def _retry_after(headers: Mapping[str, str]) -> float | None:
    raw = headers.get("Retry-After") or headers.get("retry-after")
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        return None


def error_from_response(
    *,
    http_status: int,
    code: int | None,
    msg: str,
    headers: Mapping[str, str],
    action: str,
    mutating: bool,
    now_ms: int,
) -> BitrueError:
    """Map one error answer to the right exception; ``action`` names the call ("POST order")."""
    low = msg.lower()
    where = f"{action}: Bitrue answered HTTP {http_status}" + (
        f" code {code}" if code is not None else ""
    )
    where += f" ({msg})" if msg else ""

    if http_status == 418 or "banned" in low or " ban " in f" {low} ":
        retry = _retry_after(headers)
        said = _BAN_UNTIL.search(msg)
        until = (
            int(said.group(1))
            if said
            else (now_ms + int(retry * 1000) if retry is not None else None)
        )
        return IpBanned(
            f"{where}. This IP address is banned; send nothing until the ban ends"
            + (f" (epoch ms {until})" if until else "")
            + ", then slow down.",
            until_ms=until,
            code=code,
            http_status=http_status,
        )
    if http_status == 429:
        policy = headers.get("rate_limit_p") or headers.get("Rate-Limit-P") or "UNKNOWN"
        retry = _retry_after(headers)
        return RateLimited(
            f"{where}. Rate limit '{policy}' exhausted: back off"
            + (f" for {retry:g} s" if retry is not None else "")
            + " and do not repeat; repeating after a 429 gets the IP banned.",
            policy=policy,
            retry_after_s=retry,
            code=code,
            http_status=http_status,
        )
    if http_status >= 500 or code in (-1016, -1001, 503):
        if mutating:
            return UnknownOutcome(
                f"{where}. The outcome is UNKNOWN: the change may have happened. Query the order "
                "by its client order id before doing anything else.",
                code=code,
                http_status=http_status,
            )
        return ExchangeUnavailable(
            f"{where}. Bitrue is unavailable; retry later.", code=code, http_status=http_status
        )
    if code == -1150 or "listenkey does not exist" in low:
        return ListenKeyInvalid(
            f"{where}. The listen key is no longer valid: create a new one.",
            code=code,
            http_status=http_status,
        )
    if code == -2013 or "order does not exist" in low or "order not found" in low:
        return OrderNotFound(
            f"{where}. No such order on Bitrue: check the symbol and ids; for a cancel, "
            "query the order to learn whether it filled.",
            code=code,
            http_status=http_status,
        )
    if (
        code == 966000
        or ("ip" in low.split() or "ip limit" in low or "ip address" in low)
        and (http_status in (401, 403) or code in (-2015, -1022, -2014))
    ):
        return IpNotAllowed(
            f"{where}. This key does not accept requests from this source address: add the "
            "address to the key's IP allow list on Bitrue or send from an allowed address.",
            code=code,
            http_status=http_status,
        )
    if code == -1022 or code == -1021:
        if "timestamp" in low or "recvwindow" in low or code == -1021:
            return InvalidTimestamp(
                f"{where}. The request timestamp was outside the server's window: re-sync the "
                "clock (sync_clock) or raise recvWindow.",
                code=code,
                http_status=http_status,
            )
        if "unauthori" in low or "permission" in low or "not allowed" in low:
            return PermissionDenied(
                f"{where}. This key lacks the permission for this call: enable it on Bitrue "
                "or use a key that has it.",
                code=code,
                http_status=http_status,
            )
        return AuthenticationError(
            f"{where}. The signature was refused: check the API key and secret pair.",
            code=code,
            http_status=http_status,
        )
    if code in (-2014, -2008) or "api-key" in low and "invalid" in low and code != -2015:
        return AuthenticationError(
            f"{where}. The API key was refused: check it is copied correctly and not deleted.",
            code=code,
            http_status=http_status,
        )
    if code in (-2015, -1025, 966001, -1002) or http_status == 403:
        return PermissionDenied(
            f"{where}. The key may not do this (permission, IP or product not enabled): "
            "check the key's settings on Bitrue.",
            code=code,
            http_status=http_status,
        )
    if http_status == 401:
        return AuthenticationError(
            f"{where}. Authentication failed: check the API key and secret.",
            code=code,
            http_status=http_status,
        )
    if "insufficient" in low or "balance" in low and "not enough" in low:
        return InsufficientBalance(
            f"{where}. Not enough free balance: lower the size or free funds first.",
            filter=None,
            code=code,
            http_status=http_status,
        )
    if code in (-2010, -1111, -1013) or (mutating and http_status in (400, 406, 412)):
        flt = _filter_named(msg)
        return InvalidOrder(
            f"{where}. The order was rejected"
            + (f" by {flt}" if flt else "")
            + ": round price and quantity with the instrument's rules and check the limits.",
            filter=flt,
            code=code,
            http_status=http_status,
        )
    if http_status in (400, 404, 405, 406, 412) or code is not None:
        return BadRequest(
            f"{where}. The request was refused as malformed: check the parameters.",
            code=code,
            http_status=http_status,
        )
    return BitrueError(where + ".", code=code, http_status=http_status)


def transport_error(action: str, *, mutating: bool, cause: str) -> BitrueError:
    """No answer at all (timeout, connection reset, refused)."""
    if mutating:
        return UnknownOutcome(
            f"{action}: no answer from Bitrue ({cause}). The outcome is UNKNOWN: the change may "
            "have happened. Query the order by its client order id before doing anything else."
        )
    return ExchangeUnavailable(f"{action}: no answer from Bitrue ({cause}); retry later.")
