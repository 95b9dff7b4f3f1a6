"""The audit's configuration (validated like the bot's, within Bitrue's request weight), the
order watch (what the exchange showed) and the per-minute order flow both reports carry."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from liquidity_bot.config import ConfigError, parse_config
from liquidity_bot.obligation_audit.config import (
    audit_config_from_bot,
    bitrue_at,
    load_audit_config,
    with_interval,
)
from liquidity_bot.obligation_audit.orders import OrderWatch, record_of
from liquidity_bot.reporting.order_flow import order_flow
from liquidity_bot.venues.bitrue.models import Order

EXAMPLE = Path(__file__).parents[2] / "examples" / "audit.toml"


def test_the_example_file_loads(tmp_path) -> None:
    cfg = load_audit_config(EXAMPLE, home=tmp_path)
    assert cfg.interval_s == 1.0 and cfg.key_label == "Obligation Audit"
    (m,) = cfg.markets
    assert m.symbol == "XRPUSDT" and m.obligations.min_depth_2pct_quote == Decimal(500)
    assert cfg.store.url == f"sqlite:///{tmp_path}/audit.db"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('interval_s = 1.0\nsamples = 3\n', "unknown key"),
        ("interval_s = 0.05\n", "interval_s"),
        ('[[markets]]\nsymbol = "XRPUSDT"\n[markets.obligations]\nmax_spread_pct = 1.5\n'
         'min_depth_2pct_quote = "1"\n', "quoted string"),
        ('api_secret = "x"\n', "secret"),
    ],
)
def test_bad_audit_files_name_the_file_and_key(tmp_path, text, message) -> None:
    path = tmp_path / "audit.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as err:
        load_audit_config(path, home=tmp_path)
    assert str(path) in str(err.value)


def test_sampling_faster_than_the_request_weight_allows_is_refused(tmp_path) -> None:
    markets = "".join(
        f'[[markets]]\nsymbol = "S{i}USDT"\n[markets.obligations]\nmax_spread_pct = "1"\n'
        'min_depth_2pct_quote = "1"\n'
        for i in range(6)
    )
    path = tmp_path / "audit.toml"
    path.write_text("interval_s = 1.0\n" + markets)  # 6 x 2 x 60 = 720 weight a minute
    with pytest.raises(ConfigError, match=r"use 720 request weight.*sample every 1\.2 s or more"):
        load_audit_config(path, home=tmp_path)
    path.write_text("interval_s = 1.2\n" + markets)  # 600: half of Bitrue's 1200
    assert load_audit_config(path, home=tmp_path).weight_per_minute() == 600
    path.write_text('interval_s = 1.0\nbook_source = "stream"\n' + markets)  # 1 weight a sample
    assert load_audit_config(path, home=tmp_path).weight_per_minute() == 360
    with pytest.raises(ConfigError, match="out of range"):
        with_interval(load_audit_config(EXAMPLE, home=tmp_path), 0.01, source="x", home=tmp_path)


def test_from_the_bots_config_takes_markets_obligations_and_prefixes(tmp_path) -> None:
    bot = parse_config(
        '[bitrue]\nbase_url = "http://127.0.0.1:8999"\n[[markets]]\nsymbol = "xrpusdt"\n'
        'key_label = "LB"\nclient_id_prefix = "mm1"\nstrategy = "ladder"\n[markets.ladder]\n'
        'levels = 2\nbase_spread_pct = "0.3"\nlevel_spacing_pct = "0.1"\nlevel_size_quote = "50"\n'
        '[markets.obligations]\nmax_spread_pct = "1"\nmin_depth_2pct_quote = "100"\n'
        '[markets.risk]\nmax_order_notional = "500"\nmax_open_notional_per_side = "1000"\n'
        'max_base_inventory = "1000"\ndaily_loss_limit = "100"\n',
        home=tmp_path,
    )
    cfg = audit_config_from_bot(bot, home=tmp_path)
    (m,) = cfg.markets
    assert (m.symbol, m.client_id_prefix) == ("XRPUSDT", "mm1")
    assert m.obligations == bot.markets[0].obligations
    assert cfg.store.url.endswith("/audit.db") and cfg.store.url != bot.store.url
    assert bitrue_at("http://127.0.0.1:9").spot_url == "http://127.0.0.1:9"
    with pytest.raises(ConfigError):
        bitrue_at("ftp://nowhere")


def _order(oid, status="NEW", cid="lbx", t=1000, u=None, side="BUY"):
    return Order(symbol="XRPUSDT", orderId=oid, clientOrderId=f"{cid}{oid}", price=Decimal("0.5"),
                 origQty=Decimal(100), status=status, side=side, time=t, updateTime=u)


def test_order_watch_finds_new_and_gone_orders_and_reads_the_history() -> None:
    w = OrderWatch("XRPUSDT", "lb", started_ms=500)
    new, gone = w.observe_open([_order(1), _order(2), _order(3, cid="other")], asked_ms=1000)
    assert [o.orderId for o in new] == [1, 2] and gone == []
    new, gone = w.observe_open([_order(2)], asked_ms=2000)
    assert new == [] and gone == [1]
    w.finish(1)
    # history: 4 came and went between samples; 5 is open; 0 is older than the audit
    page = [_order(4, "CANCELED", t=2100, u=2400), _order(5, t=2500), _order(6, cid="x", t=2600)]
    got = w.observe_history([_order(0, t=100), *page], now_ms=3000)
    assert [o.orderId for o in got] == [4, 5] and w.history_cursor == 7
    assert 5 in w.open and 4 not in w.open
    assert w.finished == set()  # ids below the cursor are never read again: nothing to keep
    new, gone = w.observe_open([_order(2)], asked_ms=3500)
    assert gone == [5]  # seen only in the history, gone since: looked up like any other
    rec = record_of(_order(4, "CANCELED", t=2100, u=2400), fallback_ms=0)
    assert (rec.client_order_id, rec.created_ms, rec.updated_ms, rec.status) == (
        "lbx4", 2100, 2400, "CANCELED")


def test_order_flow_counts_per_minute_by_the_records_times() -> None:
    recs = [
        record_of(_order(1, "CANCELED", t=60_000, u=125_000), fallback_ms=0),
        record_of(_order(2, "FILLED", t=61_000, u=62_000), fallback_ms=0),
        record_of(_order(3, t=130_000), fallback_ms=0),
    ]
    flow = [(f.minute_ms, f.placed, f.cancelled, f.filled) for f in order_flow(recs)]
    assert flow == [(60_000, 2, 0, 1), (120_000, 1, 1, 0)]
    assert [f.minute_ms for f in order_flow(recs, from_ms=120_000)] == [120_000]
