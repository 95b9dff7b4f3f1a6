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
