"""Signing: the docs' test vectors, exact encoding, futures message layout."""

import hashlib
import hmac
from decimal import Decimal
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from liquidity_bot.venues.bitrue.signing import (
    FuturesSigner,
    SpotSigner,
    encode_params,
    format_value,
)

DOC_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
DOC_QUERY = (
    "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1"
    "&recvWindow=5000&timestamp=1499827319559"
)


def test_docs_vector_query_string():
    assert (
        SpotSigner(DOC_SECRET).sign(DOC_QUERY)
        == "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
    )


def test_docs_vector_mixed_query_and_body_has_no_ampersand_between():
    signer = SpotSigner(DOC_SECRET)
    sig = signer.sign(
        "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC",
        "quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559",
    )
    assert sig == "0fd168b8ddb4876a0358a8d14d0c9f3da0e9b20c5d52b2a00fcf7d1c602f9a77"


def test_encoding_reproduces_docs_query_in_given_order():
    params = [
        ("symbol", "LTCBTC"),
        ("side", "BUY"),
        ("type", "LIMIT"),
        ("timeInForce", "GTC"),
        ("quantity", Decimal("1")),
        ("price", Decimal("0.1")),
        ("newClientOrderId", None),
        ("recvWindow", 5000),
        ("timestamp", 1499827319559),
    ]
    assert encode_params(params) == DOC_QUERY


def test_decimals_are_plain_and_floats_refused():
    assert format_value(Decimal("1E-7")) == "0.0000001"
    assert format_value(Decimal("1.2300")) == "1.2300"
    assert format_value(True) == "true"
    with pytest.raises(ValueError):
        format_value(Decimal("NaN"))


def test_reserved_characters_are_percent_encoded():
    assert encode_params({"newClientOrderId": "a b&c=d/é"}) == (
        "newClientOrderId=a%20b%26c%3Dd%2F%C3%A9"
    )


def test_futures_signature_covers_ts_method_path_query_body():
    secret = "s3cret-value"
    expected_get = hmac.new(
        secret.encode(), b"1700000000000GET/fapi/v2/account?a=1", hashlib.sha256
    ).hexdigest()
    signer = FuturesSigner(secret)
    assert signer.sign(1700000000000, "get", "/fapi/v2/account", "a=1") == expected_get
    expected_post = hmac.new(
        secret.encode(), b'1700000000000POST/fapi/v2/order{"x":1}', hashlib.sha256
    ).hexdigest()
    assert signer.sign(1700000000000, "POST", "/fapi/v2/order", "", '{"x":1}') == expected_post
    assert signer.sign(1700000000000, "GET", "/fapi/v2/account") != expected_get


def test_signers_never_show_the_secret():
    assert DOC_SECRET not in repr(SpotSigner(DOC_SECRET))
    assert DOC_SECRET not in repr(FuturesSigner(DOC_SECRET))
    with pytest.raises(ValueError):
        SpotSigner("")


def test_decimal_wire_text_is_never_scientific():
    # normalize() would turn 100 into 1E+2 and 0.00000010 into 1E-7; the wire text must not.
    assert format_value(Decimal("1E+3")) == "1000"
    assert format_value(Decimal("100").normalize()) == "100"
    assert format_value(Decimal("0.00000010")) == "0.00000010"
    assert format_value(Decimal("-0.0000001")) == "-0.0000001"
    assert format_value(Decimal("123456789012345678901234567890.5")) == (
        "123456789012345678901234567890.5"
    )
    assert encode_params([("price", Decimal("5E-8")), ("quantity", Decimal("2.5E+4"))]) == (
        "price=0.00000005&quantity=25000"
    )
    with pytest.raises(TypeError):
        format_value(0.5)  # type: ignore[arg-type]


@given(
    st.decimals(allow_nan=False, allow_infinity=False, min_value=-(10**12), max_value=10**12),
    st.booleans(),
)
def test_decimal_wire_text_round_trips_exactly(value, normalized):
    if normalized:
        value = value.normalize()
    text = format_value(value)
    assert "E" not in text and "e" not in text
    assert Decimal(text) == value


@given(st.text(max_size=20), st.text(max_size=20))
def test_encoding_fast_path_matches_full_quoting(key, value):
    assert encode_params([(key, value)]) == f"{quote(key, safe='-_.~')}={quote(value, safe='-_.~')}"


_amounts = st.one_of(
    st.decimals(allow_nan=False, allow_infinity=False, min_value=-(10**9), max_value=10**9),
    st.decimals(allow_nan=False, allow_infinity=False, places=8),
    st.integers(min_value=0, max_value=10**12),
    st.text(max_size=8),
)


@given(
    symbol=st.text(max_size=12),
    side=st.sampled_from(["BUY", "sell", "Buy", "hold"]),
    quantity=_amounts,
    price=st.one_of(st.none(), _amounts),
    order_type=st.sampled_from(["LIMIT", "market", "LIMIT_MAKER"]),
    client_order_id=st.one_of(st.none(), st.text(max_size=16)),
    time_in_force=st.one_of(st.none(), st.sampled_from(["GTC", "IOC", "FOK", "", "a b"])),
)
def test_place_query_is_the_generic_encoding_of_the_place_params(
    symbol, side, quantity, price, order_type, client_order_id, time_in_force
):
    from liquidity_bot.venues.bitrue.rest import _place_query

    args = (symbol, side, quantity, price, order_type, client_order_id, time_in_force)
    if side.upper() not in ("BUY", "SELL") or (order_type == "LIMIT" and price is None):
        with pytest.raises(ValueError):
            _place_query(*args)
        return
    pairs = [
        ("symbol", symbol),
        ("side", side.upper()),
        ("type", order_type.upper()),
        ("timeInForce", time_in_force or ("GTC" if order_type.upper() == "LIMIT" else None)),
        ("quantity", quantity),
        ("price", price),
        ("newClientOrderId", client_order_id),
    ]
    assert _place_query(*args) == encode_params(pairs)


def test_place_query_refuses_floats_like_the_params():
    from liquidity_bot.venues.bitrue.rest import _place_query

    with pytest.raises(TypeError):
        _place_query("XRPUSDT", "BUY", 0.5, Decimal("1"), "LIMIT", None, None)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        _place_query("XRPUSDT", "BUY", Decimal("1"), 0.5, "LIMIT", None, None)  # type: ignore[arg-type]
    for bad in (Decimal("NaN"), Decimal("Infinity"), Decimal("-Infinity")):
        with pytest.raises(ValueError):
            _place_query("XRPUSDT", "BUY", bad, Decimal("1"), "LIMIT", None, None)
        with pytest.raises(ValueError):
            _place_query("XRPUSDT", "BUY", Decimal("1"), bad, "LIMIT", None, None)


@given(
    symbol=st.text(max_size=12),
    order_id=st.one_of(st.none(), st.integers(min_value=0, max_value=2**63)),
    client_order_id=st.one_of(st.none(), st.text(max_size=16)),
)
def test_order_query_is_the_generic_encoding_of_the_same_pairs(symbol, order_id, client_order_id):
    from liquidity_bot.venues.bitrue.rest import _order_query

    if order_id is None and client_order_id is None:
        with pytest.raises(ValueError):
            _order_query(symbol, order_id, client_order_id)
        return
    pairs = (("symbol", symbol), ("orderId", order_id), ("origClientOrderId", client_order_id))
    assert _order_query(symbol, order_id, client_order_id) == encode_params(pairs)


@given(st.text(min_size=1, max_size=200), st.text(max_size=300), st.text(max_size=50))
def test_spot_signature_is_hmac_sha256_for_any_secret_length(secret, query, body):
    expected = hmac.new(secret.encode(), (query + body).encode(), hashlib.sha256).hexdigest()
    assert SpotSigner(secret).sign(query, body) == expected


@given(st.decimals(allow_nan=False, allow_infinity=False))
def test_place_query_writes_decimals_in_f_format(value):
    """The place query's Decimal text is ``format(value, "f")`` for any finite Decimal, at any
    exponent (it takes ``str`` where that has none): negative zero, long fractions, 1E+3."""
    from liquidity_bot.venues.bitrue.rest import _place_query

    for exp in (-12, -7, -6, -1, 0, 1, 3):
        amount = value.scaleb(exp)
        query = _place_query("XRPUSDT", "BUY", amount, amount, "LIMIT", None, None)
        assert query.endswith(f"&quantity={amount:f}&price={amount:f}")
