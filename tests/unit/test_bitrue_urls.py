"""URL handling: production defaults, one-address simulator mode, validation."""

import pytest

from liquidity_bot.venues.bitrue.urls import BitrueUrls


def test_production_defaults():
    u = BitrueUrls()
    assert u.spot == "https://openapi.bitrue.com"
    assert u.listen_key == "https://open.bitrue.com"
    assert u.futures == "https://fapi.bitrue.com"
    assert u.market_stream == "wss://ws.bitrue.com/market/ws"
    assert u.user_stream("k") == "wss://wsapi.bitrue.com/stream?listenKey=k"


def test_single_points_everything_at_one_address():
    u = BitrueUrls.single("http://127.0.0.1:8123/")
    assert u.spot == u.listen_key == u.futures == "http://127.0.0.1:8123"
    assert u.ws_market == u.ws_user == "ws://127.0.0.1:8123"
    assert BitrueUrls.single("https://h:1").ws_user == "wss://h:1"


def test_listen_key_is_quoted_in_stream_url():
    assert BitrueUrls().user_stream("a/b+c").endswith("listenKey=a%2Fb%2Bc")


@pytest.mark.parametrize(
    "kwargs",
    [{"spot": "openapi.bitrue.com"}, {"ws_market": "https://x"}, {"spot": "http://x/?q=1"}],
)
def test_bad_addresses_are_refused_with_a_hint(kwargs):
    with pytest.raises(ValueError, match="base URL"):
        BitrueUrls(**kwargs)


def test_single_needs_http():
    with pytest.raises(ValueError):
        BitrueUrls.single("ws://127.0.0.1:1")
