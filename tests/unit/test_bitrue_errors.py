"""Error taxonomy: status + code + message -> exception that says what to do."""

import pytest

from liquidity_bot.venues.bitrue.errors import (
    AuthenticationError,
    BadRequest,
    BitrueError,
    ExchangeUnavailable,
    InsufficientBalance,
    InvalidOrder,
    InvalidTimestamp,
    IpBanned,
    IpNotAllowed,
    OrderNotFound,
    PermissionDenied,
    RateLimited,
    UnknownOutcome,
    error_from_response,
    scrub,
    transport_error,
)


def err(status, code, msg="", headers=None, mutating=False):
    return error_from_response(
        http_status=status,
        code=code,
        msg=msg,
        headers=headers or {},
        action="test",
        mutating=mutating,
        now_ms=1_000_000,
    )


@pytest.mark.parametrize(
    "status,code,msg,mutating,cls",
    [
        (200, -2013, "Order does not exist.", False, OrderNotFound),
        (401, -1022, "Signature for this request is not valid.", False, AuthenticationError),
        (
            401,
            -1022,
            "Timestamp for this request is outside of the recvWindow.",
            False,
            InvalidTimestamp,
        ),
        (401, -1022, "Unauthorized for this API.", False, PermissionDenied),
        (401, -2015, "Invalid API-key, IP, or permissions for action.", False, PermissionDenied),
        (403, 966001, "No privileges", False, PermissionDenied),
        (401, 966000, "Ip limit", False, IpNotAllowed),
        (
            406,
            -2010,
            "Account has insufficient balance for requested action.",
            True,
            InsufficientBalance,
        ),
        (
            412,
            -1111,
            "Invalid price: not a multiple of tickSize (PRICE_FILTER)",
            True,
            InvalidOrder,
        ),
        (412, -1121, "Invalid symbol.", False, BadRequest),
        (500, -1016, "Service unavailable", True, UnknownOutcome),
        (503, 503, "Service unavailable", False, ExchangeUnavailable),
        (502, None, "", True, UnknownOutcome),
    ],
)
def test_mapping(status, code, msg, mutating, cls):
    e = err(status, code, msg, mutating=mutating)
    assert type(e) is cls
    assert isinstance(e, BitrueError)
    assert e.code == code and e.http_status == status


def test_invalid_order_names_the_filter():
    e = err(412, -1111, "price breaks PERCENT_PRICE_BY_SIDE", mutating=True)
    assert isinstance(e, InvalidOrder) and e.filter == "PERCENT_PRICE_BY_SIDE"


def test_429_names_policy_and_retry_after():
    e = err(429, None, "Too many requests", {"rate_limit_p": "ORDERS_USER", "Retry-After": "3"})
    assert isinstance(e, RateLimited)
    assert e.policy == "ORDERS_USER" and e.retry_after_s == 3.0
    assert "back off" in str(e)


def test_ban_carries_until():
    e = err(418, None, "IP banned", {"Retry-After": "120"})
    assert isinstance(e, IpBanned) and e.until_ms == 1_000_000 + 120_000
    assert "send nothing" in str(e)
    said = err(418, -1003, "Way too many requests; IP banned until 1700000123456.", {})
    assert isinstance(said, IpBanned) and said.until_ms == 1700000123456


def test_5xx_is_never_a_failure_for_writes():
    e = err(500, -1016, "Service unavailable", mutating=True)
    assert "UNKNOWN" in str(e) and "client order id" in str(e)


def test_transport_errors():
    assert isinstance(transport_error("x", mutating=True, cause="timeout"), UnknownOutcome)
    assert isinstance(transport_error("x", mutating=False, cause="reset"), ExchangeUnavailable)


def test_scrub_hides_secrets():
    assert scrub("bad key abcdef in request", ["abcdef", ""]) == "bad key *** in request"


def test_code_table_matches_the_mapping():
    """Every code of the table maps onto its neutral error (the table is what a reader and the
    engine rely on; ``error_from_response`` is the one that decides)."""
    from liquidity_bot.venues import errors as neutral
    from liquidity_bot.venues.bitrue.errors import CODES, BitrueError, error_from_response

    for code, expected in CODES.items():
        exc = error_from_response(http_status=400, code=code, msg="", headers={},
                                  action="POST order", mutating=True, now_ms=0)
        assert isinstance(exc, expected), (code, type(exc).__name__)
        assert isinstance(exc, BitrueError) and isinstance(exc, neutral.VenueError)


def test_bitrue_errors_are_the_neutral_ones():
    from liquidity_bot.venues import errors as neutral
    from liquidity_bot.venues.bitrue import errors as b

    pairs = [(b.AuthenticationError, neutral.AuthError), (b.InvalidTimestamp, neutral.AuthError),
             (b.PermissionDenied, neutral.PermissionDenied),
             (b.IpNotAllowed, neutral.PermissionDenied), (b.RateLimited, neutral.RateLimited),
             (b.IpBanned, neutral.Banned), (b.BadRequest, neutral.Rejected),
             (b.InvalidOrder, neutral.InvalidOrder),
             (b.InsufficientBalance, neutral.InsufficientBalance),
             (b.OrderNotFound, neutral.NotFound),
             (b.CertificateRejected, neutral.CertificateRejected),
             (b.ExchangeUnavailable, neutral.Unavailable),
             (b.UnknownOutcome, neutral.UnknownOutcome)]
    for bitrue_cls, neutral_cls in pairs:
        assert issubclass(bitrue_cls, neutral_cls), bitrue_cls
    # the Bitrue hierarchy's own relations are unchanged
    assert not issubclass(b.PermissionDenied, b.AuthenticationError)
    assert not issubclass(b.IpBanned, b.RateLimited)
    limited = b.RateLimited("x", policy="order", retry_after_s=2.0, http_status=429)
    assert (limited.policy, limited.retry_after_s, limited.http_status) == ("order", 2.0, 429)
    assert neutral.retry_after_s(limited) == 2.0
    banned = b.IpBanned("x", until_ms=5)
    assert banned.until_ms == 5 and not neutral.is_permanent(banned)
    assert neutral.is_permanent(b.InvalidOrder("x", filter="LOT_SIZE"))
