"""``[bitrue] key_source_addresses`` (and ``[exchanges.NAME]``'s): the config's checks and what the Bitrue factory builds
from it (the network side is in tests/scenarios/test_key_addresses.py)."""

from __future__ import annotations

import pytest
from test_market_runner import CONFIG as MARKET_CONFIG

from liquidity_bot.app import address_governor, address_governors, venue_for
from liquidity_bot.config import ConfigError, parse_config
from liquidity_bot.venues.bitrue.factory import key_client_factory
from liquidity_bot.venues.bitrue.urls import BitrueUrls
from liquidity_bot.venues.registry import exchange

LABEL = parse_config('[bitrue]\nbase_url = "http://127.0.0.1:9"\n' + MARKET_CONFIG,
                     source="t").markets[0].key_label


def _cfg(bitrue_lines: str, markets: str = MARKET_CONFIG):
    return parse_config('[bitrue]\nbase_url = "http://127.0.0.1:9"\n' + bitrue_lines + "\n"
                        + markets, source="bot.toml")


def test_an_inline_table_and_a_sub_table_say_the_same():
    inline = _cfg(f'key_source_addresses = {{ "{LABEL}" = "127.0.0.2" }}')
    table = _cfg(f'[bitrue.key_source_addresses]\n"{LABEL}" = "127.0.0.2"')
    assert inline.bitrue.key_source_addresses == table.bitrue.key_source_addresses == {
        LABEL: "127.0.0.2"}


def test_a_key_not_listed_uses_source_address_or_none():
    cfg = _cfg(f'source_address = "127.0.0.5"\nkey_source_addresses = {{ "{LABEL}" = "::1" }}')
    assert cfg.bitrue.address_of(LABEL) == "::1"
    assert cfg.bitrue.address_of("other") == cfg.bitrue.address_of(None) == "127.0.0.5"
    assert _cfg("").bitrue.address_of(LABEL) is None


@pytest.mark.parametrize(("lines", "path", "says"), [
    (f'key_source_addresses = {{ "{LABEL}" = "127.0.0.300" }}',
     f"bitrue.key_source_addresses.{LABEL}", "must be an IPv4 or IPv6 address"),
    (f'key_source_addresses = {{ "{LABEL}" = 2 }}',
     f"bitrue.key_source_addresses.{LABEL}", "must be a string"),
    ('key_source_addresses = "127.0.0.2"', "bitrue.key_source_addresses", "must be a table"),
    ('key_source_addresses = { "nobody" = "127.0.0.2" }', "bitrue.key_source_addresses.nobody",
     rf"no Bitrue market \(native connector\) uses key 'nobody'.*'{LABEL}'"),
])
def test_bad_entries_are_refused_with_the_key_path_and_what_to_do(lines, path, says):
    with pytest.raises(ConfigError, match=says) as err:
        _cfg(lines)
    assert path in str(err.value) and "bot.toml" in str(err.value)


def test_a_key_only_ccxt_markets_use_gets_no_address():
    ccxt = MARKET_CONFIG.replace("[[markets]]\n", '[[markets]]\nconnector = "ccxt"\n', 1)
    assert 'connector = "ccxt"' in ccxt
    with pytest.raises(ConfigError, match="native connector"):
        _cfg(f'key_source_addresses = {{ "{LABEL}" = "127.0.0.2" }}', ccxt)


def test_a_ccxt_market_key_gets_its_address_in_its_exchange_table():
    """``[exchanges.NAME] key_source_addresses``: checked against that exchange's ccxt markets;
    the venue, the gate's Bitrue client or ccxt transports send from it."""
    pytest.importorskip("ccxt.pro")
    from liquidity_bot.keys.probers.transport import KeyAddress
    from liquidity_bot.venues.registry import through_ccxt

    for name in ("binance", "bitrue"):
        ccxt = MARKET_CONFIG.replace(
            "[[markets]]\n", f'[[markets]]\nconnector = "ccxt"\nexchange = "{name}"\n', 1)
        with pytest.raises(ConfigError, match=rf"no {name} market \(ccxt connector\) uses key "
                                              rf"'nobody'.*'{LABEL}'"):
            _cfg(f'[exchanges.{name}]\nkey_source_addresses = {{ nobody = "127.0.0.2" }}', ccxt)
        cfg = _cfg(f'[exchanges.{name}]\nsource_address = "127.0.0.5"\n'
                   f'key_source_addresses = {{ "{LABEL}" = "127.0.0.2" }}', ccxt)
        entry = through_ccxt(name)
        assert entry.venue_for(cfg, "k", "s", ["XRPUSDT"], key_label=LABEL).source_address == \
            "127.0.0.2"
        assert entry.venue_for(cfg, "k", "s", ["XRPUSDT"]).source_address == "127.0.0.5"
        probes = entry.key_client_factory(cfg, LABEL)
        if name == "bitrue":
            urls = BitrueUrls.single("http://127.0.0.1:9")
            assert probes(urls, "k", "s").source_address == "127.0.0.2"
        else:
            assert probes == KeyAddress("127.0.0.2")
        assert _cfg("", ccxt).exchanges == {} and entry.key_client_factory(
            _cfg("", ccxt), LABEL) is None


def test_each_key_venue_sends_from_its_address_with_its_own_governor():
    cfg = _cfg(f'source_address = "127.0.0.5"\nkey_source_addresses = {{ "{LABEL}" = '
               '"127.0.0.2" }')
    own = venue_for(cfg, "k1", "s1", ["xrpusdt"], key_label=LABEL)
    other = venue_for(cfg, "k2", "s2", ["xrpusdt"], key_label="other")
    assert (own.source_address, own.market.source_address, own.user.source_address) == (
        "127.0.0.2",) * 3
    assert other.source_address == other.market.source_address == "127.0.0.5"
    assert own.rest.governor.parent is address_governor(cfg, key_label=LABEL)
    assert other.rest.governor.parent is address_governor(cfg)
    assert own.rest.governor.parent is not other.rest.governor.parent
    assert {id(g) for g in address_governors(cfg)} == {
        id(own.rest.governor.parent), id(other.rest.governor.parent)}


def test_the_gate_client_sends_from_the_key_address_and_the_canary_from_its_own():
    cfg = _cfg(f'key_source_addresses = {{ "{LABEL}" = "127.0.0.2" }}')
    make = key_client_factory(cfg, LABEL)
    urls = BitrueUrls.single("http://127.0.0.1:9")
    assert make(urls, "k", "s").source_address == "127.0.0.2"
    assert make(urls, "k", "s", source_address="127.0.0.9").source_address == "127.0.0.9"
    assert exchange("bitrue").key_client_factory(cfg, "other")(urls, "k", "s").source_address \
        is None


def test_a_restart_charges_each_address_with_its_own_keys_earlier_requests(tmp_path):
    """After a restart each address's governor counts the earlier order requests that went
    from it: those of its own keys (and any of unknown key), not those of keys elsewhere."""
    import time
    from decimal import Decimal

    from liquidity_bot.app import build_engine
    from liquidity_bot.engine.runner import KeySession
    from liquidity_bot.store import OrderEventRecord, OrderRecord, Store

    second = MARKET_CONFIG.replace(f'key_label = "{LABEL}"', 'key_label = "k2"').replace(
        'client_id_prefix = "lb"', 'client_id_prefix = "lb2"').replace("XRPUSDT", "NOVAUSDT")
    assert 'key_label = "k2"' in second and "NOVAUSDT" in second
    cfg = _cfg(f'key_source_addresses = {{ "{LABEL}" = "127.0.0.2", k2 = "127.0.0.3" }}',
               MARKET_CONFIG + second)
    store = Store(f"sqlite:///{tmp_path / 'bot.db'}")
    store.create_schema()
    now_ms = int(time.time() * 1000)
    for i in range(5):
        cid = f"old{i}"
        store.upsert_order(OrderRecord(client_order_id=cid, symbol="XRPUSDT", side="BUY",
                                       price=Decimal("0.5"), qty=Decimal("10"), status="NEW",
                                       created_ms=now_ms - 5000, updated_ms=now_ms - 5000,
                                       key_label=LABEL))
        store.record_order_event(OrderEventRecord(client_order_id=cid, event="SUBMIT",
                                                  ts_ms=now_ms - 5000))
    sessions = [KeySession(m.key_label, venue_for(cfg, "k", "s", [m.symbol],
                                                  key_label=m.key_label), [m])
                for m in cfg.markets]
    engine = build_engine(cfg, sessions, store=store, store_kpis=False)
    engine._count_earlier_requests()

    def used(session: KeySession) -> int:
        return max(u for u, _limit in session.venue.rest.governor.parent.headroom().values())

    assert [used(s) for s in sessions] == [5, 0]
