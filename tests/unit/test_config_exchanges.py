"""Config: markets name their exchange and connector; [exchanges.NAME] tables; a key belongs
to one exchange."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_config import MARKET, error_for, load_text  # noqa: E402  (tests/unit is on sys.path)

pytest.importorskip("ccxt.pro")


def market(symbol: str, label: str, extra: str) -> str:
    return MARKET.replace('symbol = "xrpusdt"', f'symbol = "{symbol}"').replace(
        'key_label = "main"', f'key_label = "{label}"\n{extra}')


def test_defaults_are_bitrue_native(tmp_path: Path) -> None:
    config = load_text(tmp_path, MARKET)
    assert (config.markets[0].exchange, config.markets[0].connector) == ("bitrue", "native")
    assert config.exchanges == {}


def test_a_ccxt_market_and_its_exchange_table(tmp_path: Path) -> None:
    text = ('[exchanges.binance]\nbase_url = "http://127.0.0.1:8998"\npost_only = true\n'
            + market("XRPUSDT", "bn", 'exchange = "binance"\nconnector = "ccxt"'))
    config = load_text(tmp_path, text)
    m = config.markets[0]
    assert (m.exchange, m.connector) == ("binance", "ccxt")
    assert config.exchanges["binance"].post_only is True
    assert config.exchanges["binance"].base_url == "http://127.0.0.1:8998"


def test_bitrue_through_ccxt_is_allowed(tmp_path: Path) -> None:
    config = load_text(tmp_path, market("XRPUSDT", "m", 'connector = "ccxt"'))
    assert config.markets[0].connector == "ccxt"


def test_a_native_connector_exists_only_for_bitrue(tmp_path: Path) -> None:
    err = error_for(tmp_path, market("XRPUSDT", "bn", 'exchange = "binance"'))
    assert "markets[0].connector" in str(err) and 'connector = "ccxt"' in str(err)


def test_an_exchange_ccxt_does_not_stream_is_refused(tmp_path: Path) -> None:
    err = error_for(tmp_path, market("XRPUSDT", "x", 'exchange = "nosuchx"\nconnector = "ccxt"'))
    assert "markets[0].exchange" in str(err) and "nosuchx" in str(err)


def test_one_key_cannot_span_exchanges(tmp_path: Path) -> None:
    text = (market("XRPUSDT", "same", "")
            + market("BTCUSDT", "same", 'exchange = "binance"\nconnector = "ccxt"'))
    err = error_for(tmp_path, text)
    assert "markets[1].key_label" in str(err) and "one exchange" in str(err)


def test_an_unknown_exchange_table_is_refused(tmp_path: Path) -> None:
    err = error_for(tmp_path, '[exchanges.nosuchx]\nbase_url = "http://127.0.0.1:1"\n' + MARKET)
    assert "exchanges.nosuchx" in str(err)


def test_one_token_on_two_exchanges_with_two_keys(tmp_path: Path) -> None:
    text = (market("XRPUSDT", "bt", "")
            + market("XRPUSDT", "bn", 'exchange = "binance"\nconnector = "ccxt"'))
    config = load_text(tmp_path, text)
    assert [(m.exchange, m.symbol) for m in config.markets] == [
        ("bitrue", "XRPUSDT"), ("binance", "XRPUSDT")]


def test_one_token_twice_on_one_exchange_is_refused(tmp_path: Path) -> None:
    text = (market("XRPUSDT", "a", 'exchange = "binance"\nconnector = "ccxt"')
            + market("XRPUSDT", "b", 'exchange = "binance"\nconnector = "ccxt"'))
    err = error_for(tmp_path, text)
    assert "markets[1].symbol" in str(err) and "on binance" in str(err)
