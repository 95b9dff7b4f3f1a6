"""The exchange registry and the composition root: a name gives a venue, a key prober and the
config table; the engine is built from the config in one place."""

from __future__ import annotations

import pytest
from test_market_runner import CONFIG as MARKET_CONFIG

from liquidity_bot.app import build_engine, venue_for
from liquidity_bot.config import parse_config
from liquidity_bot.engine.runner import KeySession
from liquidity_bot.testing import FakeVenue
from liquidity_bot.venues.bitrue.venue import BitrueVenue
from liquidity_bot.venues.bitrue.weights import ORDER_RATE_LIMIT
from liquidity_bot.venues.port import Venue
from liquidity_bot.venues.registry import EXCHANGES, UnknownExchange, exchange

# top-level settings and [bitrue], then the market of the market-runner tests
CONFIG = """
kpi_interval_s = 2.0
shutdown_timeout_s = 12.0
[bitrue]
base_url = "http://127.0.0.1:9"
recv_window = 4000
""" + MARKET_CONFIG


def test_bitrue_is_registered_with_its_venue_prober_and_table() -> None:
    entry = exchange(" Bitrue ")
    assert entry is EXCHANGES["bitrue"] and entry.config_table == "bitrue"
    assert entry.prober().exchange == "bitrue"
    cfg = parse_config(CONFIG, source="test")
    venue = venue_for(cfg, "key", "secret", ["xrpusdt"])
    assert isinstance(venue, BitrueVenue) and isinstance(venue, Venue)
    assert venue.symbols == ["XRPUSDT"] and venue.order_rate_limit == ORDER_RATE_LIMIT
    assert entry.address_governor(cfg) is venue.rest.governor.parent


def test_an_unknown_exchange_is_refused_with_the_known_ones() -> None:
    with pytest.raises(UnknownExchange, match="unknown exchange 'nowhere'.*bitrue"):
        exchange("nowhere")


def test_the_engine_is_built_from_the_config() -> None:
    cfg = parse_config(CONFIG, source="test")
    session = KeySession("k", FakeVenue(), list(cfg.markets))
    engine = build_engine(cfg, [session], store=None, store_kpis=False)
    assert (engine.recv_window_ms, engine.kpi_interval_s, engine.shutdown_deadline_s) == (
        4000, 2.0, 12.0)
    assert engine.store_kpis is False and engine.all_markets == list(cfg.markets)
    assert session.budget.hard_limit == FakeVenue.order_rate_limit.requests


@pytest.mark.parametrize(("name", "extras", "field", "value"), [
    ("okx", {"passphrase": "okx-pass"}, "password", "okx-pass"),
    ("kucoin", {"passphrase": "kc-pass"}, "password", "kc-pass"),
])
def test_a_ccxt_venue_gets_the_key_s_other_credentials(name, extras, field, value) -> None:
    """OKX and KuCoin sign with the key's passphrase: it reaches the ccxt client under ccxt's
    name for it (``password``), and never shows in the venue's repr."""
    pytest.importorskip("ccxt.pro")
    from liquidity_bot.venues.registry import through_ccxt

    cfg = parse_config(CONFIG, source="test")
    venue = through_ccxt(name).venue_for(cfg, "key", "secret", ["BTCUSDT"], extras=extras)
    assert venue._credentials[field] == value
    assert value not in repr(venue)
    bare = through_ccxt(name).venue_for(cfg, "key", "secret", ["BTCUSDT"])
    assert field not in bare._credentials
