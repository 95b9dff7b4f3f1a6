"""Pure parts of the ccxt venue: the error table, client-id rules, exact numbers, URL moves."""

from __future__ import annotations

from decimal import Decimal

import pytest

ccxt = pytest.importorskip("ccxt")

from liquidity_bot.venues import errors as ours  # noqa: E402
from liquidity_bot.venues.ccxt.errors import ERROR_TABLE, venue_error  # noqa: E402
from liquidity_bot.venues.ccxt.exchanges import FACTS, ClientIdRule, facts_for  # noqa: E402
from liquidity_bot.venues.ccxt.numbers import InexactNumber, book_decimal, exact  # noqa: E402
from liquidity_bot.venues.ccxt.urls import rehosted  # noqa: E402


@pytest.mark.parametrize(("raised", "read", "change"), [
    (ccxt.OrderNotFound("x"), ours.NotFound, ours.NotFound),
    (ccxt.InsufficientFunds("x"), ours.InsufficientBalance, ours.InsufficientBalance),
    (ccxt.OrderImmediatelyFillable("x"), ours.InvalidOrder, ours.InvalidOrder),
    (ccxt.InvalidOrder("x"), ours.InvalidOrder, ours.InvalidOrder),
    (ccxt.BadSymbol("x"), ours.Rejected, ours.Rejected),
    (ccxt.RateLimitExceeded("x"), ours.RateLimited, ours.RateLimited),
    (ccxt.InvalidNonce("x"), ours.AuthError, ours.AuthError),
    (ccxt.PermissionDenied("x"), ours.PermissionDenied, ours.PermissionDenied),
    (ccxt.AuthenticationError("x"), ours.AuthError, ours.AuthError),
    (ccxt.RequestTimeout("x"), ours.Unavailable, ours.UnknownOutcome),
    (ccxt.ExchangeNotAvailable("x"), ours.Unavailable, ours.UnknownOutcome),
    (ccxt.NetworkError("x"), ours.Unavailable, ours.UnknownOutcome),
    (ccxt.ExchangeError("x"), ours.Rejected, ours.Rejected),
])
def test_each_ccxt_error_has_one_meaning_for_reads_and_one_for_order_changes(raised, read,
                                                                             change):
    assert type(venue_error(raised, changes_orders=False)) is read
    assert type(venue_error(raised, changes_orders=True)) is change


def test_a_5xx_is_no_answer_whatever_its_body_says():
    exc = ccxt.ExchangeError('bitrue {"code": 503, "msg": "busy"}')
    assert type(venue_error(exc, changes_orders=True, http_status=503)) is ours.UnknownOutcome
    assert type(venue_error(exc, changes_orders=False, http_status=503)) is \
        ours.Unavailable
    assert venue_error(exc, changes_orders=False, http_status=400).code == 503


def test_the_table_lists_subclasses_before_their_bases():
    classes = [row[0] for row in ERROR_TABLE]
    for i, cls in enumerate(classes):
        for later in classes[i + 1:]:
            assert not issubclass(later, cls) or later is cls, (later, cls)


def test_messages_lose_urls_with_signatures():
    exc = ccxt.ExchangeError("binance GET http://127.0.0.1:1/api/v3/account?timestamp=1&"
                             "signature=deadbeef 400")
    assert "deadbeef" not in str(venue_error(exc, changes_orders=False))


def test_client_id_rules():
    gate = ClientIdRule(30, r"[A-Za-z0-9_.-]+", prefix="t-")
    assert gate.to_exchange("lb0123") == "t-lb0123"
    assert gate.from_exchange("t-lb0123") == "lb0123"
    with pytest.raises(ValueError, match="at most 28"):
        gate.to_exchange("a" * 29)
    binance = FACTS["binance"].client_ids
    assert binance.to_exchange("lb" + "x" * 34) == "lb" + "x" * 34
    with pytest.raises(ValueError):
        binance.to_exchange("has space")


def test_order_rates_are_documented_or_derived():
    assert (FACTS["binance"].order_rate.limit, FACTS["binance"].order_rate.window_s) == (100, 10)
    derived = facts_for("xt", 100).order_rate
    assert derived.source.startswith("derived") and derived.limit == 50


@pytest.mark.parametrize("text", ["0.4995", "60000.01", "0.000001", "123456789.12345",
                                  "0.1", "1E-8", "99999999999999.9"])
def test_book_floats_read_back_exactly(text):
    assert book_decimal(float(text)) == Decimal(text)


def test_floats_are_refused_where_strings_are_due():
    with pytest.raises(InexactNumber):
        exact(1.5, "amount")
    with pytest.raises(InexactNumber):
        book_decimal(0.1 + 0.2)
    assert exact("1.50", "amount") == Decimal("1.50")


def test_rehosting_keeps_paths():
    moved = rehosted({"a": "https://api.x.com/api/v3", "ws": {"s": "wss://s.x.com:9443/ws"}},
                     "http://127.0.0.1:5", "ws://127.0.0.1:5")
    assert moved == {"a": "http://127.0.0.1:5/api/v3", "ws": {"s": "ws://127.0.0.1:5/ws"}}
