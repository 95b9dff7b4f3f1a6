"""The store tells exchanges apart: a fill is one per (exchange, symbol, trade id), orders and
samples carry their exchange, and a database an older version made gains the column in place
(its rows are Bitrue's) without losing a row or its duplicate rule."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path

from liquidity_bot.store import FillRecord, KpiSample, OrderRecord, Store


def fill(trade_id: str, exchange: str = "bitrue") -> FillRecord:
    return FillRecord(symbol="XRPUSDT", trade_id=trade_id, side="BUY", price=Decimal("0.5"),
                      qty=Decimal("10"), ts_ms=1_000, exchange=exchange)


def new_store(path: Path) -> Store:
    store = Store(f"sqlite:///{path}")
    store.create_schema()
    return store


def test_same_trade_id_on_two_exchanges_is_two_fills(tmp_path):
    store = new_store(tmp_path / "bot.db")
    assert store.add_fill(fill("1", "bitrue"))
    assert store.add_fill(fill("1", "binance"))
    assert not store.add_fill(fill("1", "binance")), "the same exchange's trade is kept once"
    assert [f.exchange for f in store.fills("XRPUSDT")] == ["bitrue", "binance"]
    assert [f.trade_id for f in store.fills("XRPUSDT", exchange="binance")] == ["1"]


def test_orders_and_samples_carry_their_exchange(tmp_path):
    store = new_store(tmp_path / "bot.db")
    for cid, exchange in (("a1", "bitrue"), ("b1", "binance")):
        store.upsert_order(OrderRecord(client_order_id=cid, symbol="XRPUSDT", side="BUY",
                                       price=Decimal("0.5"), qty=Decimal("10"), status="NEW",
                                       created_ms=1, updated_ms=1, exchange=exchange))
        store.add_kpi_sample(KpiSample(symbol="XRPUSDT", ts_ms=1, bid_depth_quote=Decimal(1),
                                       ask_depth_quote=Decimal(1), two_sided=True,
                                       obligations_met=True, mid=Decimal("0.5"),
                                       exchange=exchange))
    assert [o.client_order_id for o in store.orders(exchange="binance")] == ["b1"]
    assert store.kpi_markets() == [("binance", "XRPUSDT"), ("bitrue", "XRPUSDT")]
    assert [s.exchange for s in store.iter_kpi_samples("XRPUSDT", exchange="binance")] == \
        ["binance"]
    assert store.kpi_sample_span("XRPUSDT", exchange="bitrue").count == 1
    assert store.kpi_sample_span("XRPUSDT").count == 2


def test_a_database_from_before_gains_the_exchange_in_place(tmp_path):
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:  # the fills table as the version before made it
        db.execute("""CREATE TABLE fills (id INTEGER PRIMARY KEY, symbol VARCHAR(32) NOT NULL,
            trade_id VARCHAR(64) NOT NULL, client_order_id VARCHAR(64),
            exchange_order_id VARCHAR(64), side VARCHAR(4) NOT NULL, price VARCHAR(64) NOT NULL,
            qty VARCHAR(64) NOT NULL, fee VARCHAR(64) NOT NULL, fee_asset VARCHAR(16),
            is_maker BOOLEAN, ts_ms BIGINT NOT NULL,
            CONSTRAINT uq_fills_symbol_trade UNIQUE (symbol, trade_id))""")
        db.execute("INSERT INTO fills (symbol, trade_id, side, price, qty, fee, ts_ms) "
                   "VALUES ('XRPUSDT', '7', 'BUY', '0.5', '10', '0', 5)")
    store = new_store(path)
    store.create_schema()  # idempotent
    old = store.fills("XRPUSDT")
    assert [(f.trade_id, f.exchange) for f in old] == [("7", "bitrue")]
    assert not store.add_fill(fill("7", "bitrue")), "a stored trade is still refused"
    assert store.add_fill(fill("8", "bitrue"))
    assert len(store.fills("XRPUSDT", exchange="bitrue")) == 2


def test_earlier_order_requests_count_per_exchange(tmp_path):
    from liquidity_bot.store import OrderEventRecord

    store = new_store(tmp_path / "bot.db")
    for cid, exchange, ts in (("a1", "bitrue", 10), ("b1", "binance", 20)):
        store.upsert_order(OrderRecord(client_order_id=cid, symbol="XRPUSDT", side="BUY",
                                       price=Decimal("0.5"), qty=Decimal("10"), status="NEW",
                                       created_ms=ts, updated_ms=ts, exchange=exchange))
        store.record_order_event(OrderEventRecord(client_order_id=cid, event="SUBMIT", ts_ms=ts))
    store.record_order_event(OrderEventRecord(client_order_id="x9", event="CANCEL_REQUEST",
                                              ts_ms=30))  # no order row: Bitrue's, as before
    assert store.order_requests_since(0) == [10, 20, 30]
    assert store.order_requests_since(0, "bitrue") == [10, 30]
    assert store.order_requests_since(0, "binance") == [20]


def test_earlier_order_requests_of_keys_on_other_addresses_are_left_out(tmp_path):
    """``not_of_keys``: keys that send from another address count in another per-IP window;
    a request whose key is unknown (no order row, no label) still counts everywhere."""
    from liquidity_bot.store import AuditEvent, OrderEventRecord

    store = new_store(tmp_path / "bot.db")
    for cid, label, ts in (("a1", "alpha", 10), ("b1", "beta", 20), ("n1", None, 25)):
        store.upsert_order(OrderRecord(client_order_id=cid, symbol="XRPUSDT", side="BUY",
                                       price=Decimal("0.5"), qty=Decimal("10"), status="NEW",
                                       created_ms=ts, updated_ms=ts, key_label=label))
        store.record_order_event(OrderEventRecord(client_order_id=cid, event="SUBMIT", ts_ms=ts))
    store.record_order_event(OrderEventRecord(client_order_id="x9", event="CANCEL_REQUEST",
                                              ts_ms=30))
    store.add_audit_event(AuditEvent(ts_ms=40, category="keys", action="verified",
                                     message="verified", actor="beta"))
    assert store.order_requests_since(0, "bitrue") == [10, 20, 25, 30, 40]
    assert store.order_requests_since(0, "bitrue", not_of_keys=["beta"]) == [10, 25, 30]
    assert store.order_requests_since(0, "bitrue", not_of_keys=["alpha"]) == [20, 25, 30, 40]
    assert store.order_requests_since(0, not_of_keys=["alpha", "beta"]) == [25, 30]


def test_the_report_csvs_tell_the_same_symbol_on_two_exchanges_apart(tmp_path):
    """One row per sample and per markout, each naming its exchange (the last column)."""
    import csv
    import io

    from liquidity_bot.reporting.report import build_report, markouts_csv, render_csv

    store = new_store(tmp_path / "bot.db")
    for exchange, ts in (("bitrue", 1_000), ("gate", 2_000)):
        store.add_kpi_sample(KpiSample(symbol="XRPUSDT", ts_ms=ts, bid_depth_quote=Decimal(1),
                                       ask_depth_quote=Decimal(1), two_sided=True,
                                       obligations_met=True, mid=Decimal("0.5"),
                                       exchange=exchange))
    report = build_report(store)
    rows = list(csv.DictReader(io.StringIO(render_csv(report))))
    assert [(r["symbol"], r["ts_ms"], r["exchange"]) for r in rows] == [
        ("XRPUSDT", "1000", "bitrue"), ("XRPUSDT", "2000", "gate")]
    header = next(csv.reader(io.StringIO(markouts_csv(report))))
    assert header[-1] == "exchange"
