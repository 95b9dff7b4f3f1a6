"""ccxt's exceptions onto the venue error hierarchy: one table, first match wins.

ccxt raises one class per meaning (``ccxt/base/errors.py``), already mapped from each
exchange's codes by ccxt's own ``exceptions`` tables, so this table is per meaning, not per
exchange. A transport failure (no answer, timeout, 5xx) means different things for reads and
for order changes: a read is merely unavailable, an order change MAY have happened
(``UnknownOutcome``: settle it by querying the client order id).

Messages keep ccxt's text minus anything that could be a credential (ccxt never puts the
secret in a message; request URLs carry the signature, so they are cut off).
"""

from __future__ import annotations

import re

import ccxt

from liquidity_bot.venues import errors as venue_errors

# (ccxt class, our class for a read, our class for an order change); the most specific first.
ERROR_TABLE: tuple[tuple[type[Exception], type[Exception], type[Exception]], ...] = (
    (ccxt.OrderNotFound, venue_errors.NotFound, venue_errors.NotFound),
    (ccxt.OrderImmediatelyFillable, venue_errors.InvalidOrder, venue_errors.InvalidOrder),
    (ccxt.DuplicateOrderId, venue_errors.InvalidOrder, venue_errors.InvalidOrder),
    (ccxt.InsufficientFunds, venue_errors.InsufficientBalance, venue_errors.InsufficientBalance),
    (ccxt.InvalidOrder, venue_errors.InvalidOrder, venue_errors.InvalidOrder),
    (ccxt.BadSymbol, venue_errors.Rejected, venue_errors.Rejected),
    (ccxt.RateLimitExceeded, venue_errors.RateLimited, venue_errors.RateLimited),
    (ccxt.DDoSProtection, venue_errors.RateLimited, venue_errors.RateLimited),
    (ccxt.InvalidNonce, venue_errors.AuthError, venue_errors.AuthError),
    (ccxt.PermissionDenied, venue_errors.PermissionDenied, venue_errors.PermissionDenied),
    (ccxt.AccountSuspended, venue_errors.PermissionDenied, venue_errors.PermissionDenied),
    (ccxt.AuthenticationError, venue_errors.AuthError,
     venue_errors.AuthError),
    (ccxt.NotSupported, venue_errors.Rejected, venue_errors.Rejected),
    (ccxt.BadRequest, venue_errors.Rejected, venue_errors.Rejected),
    (ccxt.OperationRejected, venue_errors.Rejected, venue_errors.Rejected),
    (ccxt.CancelPending, venue_errors.Unavailable, venue_errors.UnknownOutcome),
    (ccxt.NetworkError, venue_errors.Unavailable, venue_errors.UnknownOutcome),
    (ccxt.OperationFailed, venue_errors.Unavailable, venue_errors.UnknownOutcome),
    (ccxt.ExchangeError, venue_errors.Rejected, venue_errors.Rejected),
)

_URL = re.compile(r"(?:https?|wss?)://\S+")
_CODE = re.compile(r'"code"\s*:\s*"?(-?\d+)')


def clean_message(exc: BaseException) -> str:
    """ccxt's message without URLs (a signed query string is a URL's tail)."""
    return _URL.sub("<url>", str(exc))[:500]


def venue_error(exc: BaseException, *, changes_orders: bool,
                http_status: int | None = None) -> Exception:
    """Our error for a ccxt exception (``changes_orders``: the call places or cancels).

    A 5xx answer is no answer, whatever code its body carries (ccxt's bitrue turns a 503
    with a JSON body into a plain ExchangeError): the order change may have happened."""
    for ccxt_cls, for_read, for_change in ERROR_TABLE:
        if isinstance(exc, ccxt_cls):
            cls = for_change if changes_orders else for_read
            break
    else:
        cls = venue_errors.UnknownOutcome if changes_orders else venue_errors.Unavailable
    if http_status is not None and http_status >= 500:
        cls = venue_errors.UnknownOutcome if changes_orders else venue_errors.Unavailable
    message = f"{type(exc).__name__}: {clean_message(exc)}"
    match = _CODE.search(str(exc))
    code = int(match.group(1)) if match else None
    if issubclass(cls, venue_errors.RateLimited):
        return cls(message, policy="exchange", code=code, http_status=http_status)
    return cls(message, code=code, http_status=http_status)
