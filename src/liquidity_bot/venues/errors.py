"""What can go wrong at a venue, in words the engine understands, whatever the exchange.

One hierarchy under ``VenueError``. Each adapter maps its own answers onto it (Bitrue's codes:
``venues/bitrue/errors.py``; a ccxt venue maps ccxt's ``base/errors``), usually by subclassing
these classes, so the engine, the backtest and the keys gate catch only the names below:

- ``Rejected``: the venue answered and refused the request (malformed, breaks a rule, not
  enough balance: ``InvalidOrder``). Repeating it unchanged will not help.
- ``NotFound``: the venue does not know the order (or no longer lets it be cancelled).
- ``RateLimited``: a request limit is exhausted; wait ``retry_after_s`` when given.
  ``Banned``: the address may send nothing before ``until_ms``.
- ``UnknownOutcome``: an order-changing request got no trustworthy answer and MAY have taken
  effect; settle it by querying the client order id, never by assuming.
- ``AuthError`` (the key or signature was refused) and ``PermissionDenied`` (the key is valid
  but may not do this): only a change of key or settings fixes them.
- ``Unavailable``: no usable answer to a read (5xx, timeout, connection lost): retry later.
- ``CertificateRejected``: the venue's TLS certificate was refused; nothing was sent. A
  configuration problem, never retried.

Messages say what happened and what to do, and never carry a secret.
"""

from __future__ import annotations


class VenueError(Exception):
    """Any error answer from a venue (or the absence of one).

    ``code`` is the venue's own error code when it gave one (for logs and the store, never
    for the engine's decisions), ``http_status`` the HTTP status when there was one.
    """

    def __init__(self, message: str, *, code: int | None = None, http_status: int | None = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.http_status = http_status

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.message!r}, code={self.code}, "
            f"http_status={self.http_status})"
        )


class Rejected(VenueError):
    """The venue answered and refused the request: it did not happen."""


class InvalidOrder(Rejected):
    """The order broke one of the venue's rules; ``filter`` names the rule when known."""

    def __init__(
        self,
        message: str,
        *,
        filter: str | None = None,
        code: int | None = None,
        http_status: int | None = None,
    ):
        super().__init__(message, code=code, http_status=http_status)
        self.filter = filter


class InsufficientBalance(InvalidOrder):
    """Not enough free balance for this order."""


class NotFound(VenueError):
    """The venue does not know this order (or no longer lets it be cancelled)."""


class RateLimited(VenueError):
    """A request limit is exhausted; ``policy`` names it, ``retry_after_s`` when known."""

    def __init__(
        self,
        message: str,
        *,
        policy: str = "",
        retry_after_s: float | None = None,
        code: int | None = None,
        http_status: int | None = None,
    ):
        super().__init__(message, code=code, http_status=http_status)
        self.policy = policy
        self.retry_after_s = retry_after_s


class Banned(VenueError):
    """The address is banned: send nothing before ``until_ms`` (epoch ms; None = unknown)."""

    def __init__(
        self,
        message: str,
        *,
        until_ms: int | None = None,
        code: int | None = None,
        http_status: int | None = None,
    ):
        super().__init__(message, code=code, http_status=http_status)
        self.until_ms = until_ms


class UnknownOutcome(VenueError):
    """An order-changing call got no trustworthy answer: it MAY have taken effect.

    Never treat as failed: reconcile by querying the order by its client order id.
    """


class AuthError(VenueError):
    """The key or the request's signature was refused."""


class PermissionDenied(VenueError):
    """The key is valid but may not do this (a permission, the source address, a product)."""


class Unavailable(VenueError):
    """No usable answer to a read (5xx, timeout, connection loss): retry later."""


class CertificateRejected(VenueError):
    """The venue's TLS certificate or host name was not accepted: nothing was sent."""


def is_permanent(exc: BaseException) -> bool:
    """True for venue errors that retrying cannot fix (a refused key, a refused request, a
    refused certificate); rate limits, bans, outages and unknown outcomes pass with time."""
    return isinstance(exc, (AuthError, PermissionDenied, Rejected, CertificateRejected))


def retry_after_s(exc: BaseException) -> float:
    """How long the venue asked us to wait before the next request (0 when it did not say)."""
    return float(exc.retry_after_s or 0) if isinstance(exc, RateLimited) else 0.0
