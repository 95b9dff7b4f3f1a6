"""Store round trips on SQLite (always) and PostgreSQL (when LIQUIDITY_BOT_TEST_PG_URL is set)."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from liquidity_bot.store import (
    AuditEvent,
    BalanceSnapshot,
    FillRecord,
    KpiSample,
    OrderEventRecord,
    OrderRecord,
    Store,
    schema,
)
from liquidity_bot.store.schema import DecimalValueError
from liquidity_bot.store.store import normalise_url

PG_URL = os.environ.get("LIQUIDITY_BOT_TEST_PG_URL")

TINY = Decimal("0.000000012345678901")
BIG = Decimal("123456789012.123456789")
HUGE_ID = 2**63 - 25  # a Bitrue-sized order id, far above 2**53


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param(
            "postgresql",
            marks=pytest.mark.skipif(
                not PG_URL, reason="set LIQUIDITY_BOT_TEST_PG_URL to run against PostgreSQL"
            ),
        ),
    ]
)
def store(request, tmp_path):
    if request.param == "sqlite":
        s = Store(f"sqlite:///{tmp_path / 'test.db'}")
    else:
        s = Store(PG_URL)
        schema.metadata.drop_all(s.engine)
    s.create_schema()
    yield s
    if request.param == "postgresql":
        schema.metadata.drop_all(s.engine)
    s.close()


def _order(cid: str = "lb-1", status: str = "NEW", **kw) -> OrderRecord:
    base = dict(
        client_order_id=cid,
        symbol="XRPUSDT",
        side="BUY",
        price=Decimal("0.5123"),
        qty=Decimal("100"),
        status=status,
        created_ms=1_700_000_000_000,
        updated_ms=1_700_000_000_000,
    )
    base.update(kw)
    return OrderRecord(**base)


def _fill(trade_id: str | int = "t1", **kw) -> FillRecord:
    base = dict(
        symbol="XRPUSDT",
        trade_id=trade_id,
        side="SELL",
        price=Decimal("0.5130"),
        qty=Decimal("10"),
        ts_ms=1_700_000_001_000,
        fee=Decimal("0.0051"),
        fee_asset="usdt",
        client_order_id="lb-1",
        exchange_order_id=str(HUGE_ID),
        is_maker=True,
    )
    base.update(kw)
    return FillRecord(**base)


@pytest.mark.parametrize(
    "value",
    [
        TINY,
        BIG,
        Decimal("0"),
        Decimal("1"),
        Decimal("-42.5"),
        Decimal("99999999999999999999.999999999999999999"),  # the full NUMERIC(38, 18) range
        Decimal("0.000000000000000001"),
    ],
)
def test_decimal_round_trips_exactly(store, value):
    store.upsert_order(_order(price=value, qty=value, avg_price=value))
    (got,) = store.orders()
    for field in (got.price, got.qty, got.avg_price):
        assert isinstance(field, Decimal)
        assert field == value
        assert field.as_tuple() == schema.canonical_decimal(value).as_tuple()


def test_trailing_zeros_come_back_canonical_on_every_backend(store):
    store.upsert_order(_order(price=Decimal("0.51230000"), qty=Decimal("100.000")))
    (got,) = store.orders()
    assert str(got.price) == "0.5123"
    assert str(got.qty) == "100"


@pytest.mark.parametrize(
    "bad",
    [0.1, float("nan"), Decimal("NaN"), Decimal("Infinity"), Decimal("1e-19"), Decimal("1e21")],
)
def test_unstorable_money_is_refused_and_nothing_written(store, bad):
    with pytest.raises(Exception) as info:
        store.upsert_order(_order(price=bad))
    assert isinstance(info.value, DecimalValueError) or isinstance(
        info.value.__cause__, DecimalValueError
    )
    assert store.orders() == []


def test_upsert_inserts_then_updates_by_client_id(store):
    store.upsert_order(_order(status="PENDING_NEW"))
    store.upsert_order(
        _order(
            status="PARTIALLY_FILLED",
            exchange_order_id=str(HUGE_ID),
            filled_qty=Decimal("40"),
            avg_price=Decimal("0.5123"),
            updated_ms=1_700_000_000_500,
            created_ms=1,  # ignored on update: creation time is kept
        )
    )
    # a later update without the exchange id must not erase it
    store.upsert_order(_order(status="FILLED", filled_qty=Decimal("100")))
    (got,) = store.orders()
    assert got.status == "FILLED"
    assert got.filled_qty == Decimal("100")
    assert got.exchange_order_id == str(HUGE_ID)
    assert int(got.exchange_order_id) == HUGE_ID
    assert got.created_ms == 1_700_000_000_000


def test_orders_open_only_filters_terminal_states(store):
    for i, status in enumerate(["NEW", "PARTIALLY_FILLED", "FILLED", "CANCELED", "UNKNOWN"]):
        store.upsert_order(_order(cid=f"lb-{i}", status=status))
    assert len(store.orders()) == 5
    open_ids = {o.client_order_id for o in store.orders(open_only=True)}
    assert open_ids == {"lb-0", "lb-1", "lb-4"}
    assert all(o.is_open for o in store.orders(open_only=True))
    assert store.order("lb-2").status == "FILLED"
    assert store.order("missing") is None


def test_add_fill_is_unique_by_symbol_and_trade_id(store):
    assert store.add_fill(_fill("t1")) is True
    assert store.add_fill(_fill("t1", qty=Decimal("999"))) is False  # duplicate: no-op
    assert store.add_fill(_fill("t1", symbol="BTCUSDT")) is True  # same id, other symbol
    fills = store.fills()
    assert len(fills) == 2
    xrp = store.fills(symbol="XRPUSDT")
    assert len(xrp) == 1
    assert xrp[0].qty == Decimal("10")
    assert xrp[0].fee_asset == "USDT"
    assert xrp[0].exchange_order_id == str(HUGE_ID)


def test_fill_trade_ids_above_2_53_are_exact(store):
    assert store.add_fill(_fill(HUGE_ID)) is True
    assert store.add_fill(_fill(HUGE_ID + 1)) is True  # differs only below float precision
    assert store.add_fill(_fill(str(HUGE_ID))) is False
    assert {f.trade_id for f in store.fills()} == {str(HUGE_ID), str(HUGE_ID + 1)}


def test_float_ids_are_refused(store):
    with pytest.raises(TypeError):
        store.add_fill(_fill(1.0))


def test_fills_since_filters_and_orders_by_time(store):
    store.add_fill(_fill("b", ts_ms=2_000))
    store.add_fill(_fill("a", ts_ms=1_000))
    store.add_fill(_fill("c", ts_ms=3_000))
    assert [f.trade_id for f in store.fills()] == ["a", "b", "c"]
    assert [f.trade_id for f in store.fills(since=2_000)] == ["b", "c"]
    since_dt = datetime.fromtimestamp(2.5, tz=UTC)
    assert [f.trade_id for f in store.fills(since=since_dt)] == ["c"]


def test_order_events_round_trip(store):
    store.record_order_event(
        OrderEventRecord("lb-1", "ACK", 10, status="NEW", detail={"price": Decimal("0.5")})
    )
    store.record_order_event(OrderEventRecord("lb-2", "SUBMIT", 11))
    events = store.order_events("lb-1")
    assert len(events) == 1
    assert events[0].detail == {"price": "0.5"}
    assert len(store.order_events()) == 2


def test_balance_snapshots_are_written_atomically(store):
    snap = [
        BalanceSnapshot(ts_ms=5, asset="usdt", free=BIG, locked=TINY),
        BalanceSnapshot(ts_ms=5, asset="XRP", free=Decimal("10"), locked=Decimal("0")),
    ]
    store.add_balance_snapshot(snap)
    got = store.balance_snapshots()
    assert [(b.asset, b.free, b.locked) for b in got] == [
        ("USDT", BIG, TINY),
        ("XRP", Decimal("10"), Decimal("0")),
    ]
    # one bad row aborts the whole snapshot
    bad = [
        BalanceSnapshot(ts_ms=6, asset="BTC", free=Decimal("1"), locked=Decimal("0")),
        BalanceSnapshot(ts_ms=6, asset="ETH", free=Decimal("NaN"), locked=Decimal("0")),
    ]
    with pytest.raises(Exception):  # noqa: B017 - the driver wraps the error differently
        store.add_balance_snapshot(bad)
    assert len(store.balance_snapshots()) == 2


def test_kpi_samples_range_query(store):
    for ts in (1_000, 2_000, 3_000):
        store.add_kpi_sample(
            KpiSample(
                symbol="XRPUSDT",
                ts_ms=ts,
                bid_depth_quote=Decimal("1500.5"),
                ask_depth_quote=Decimal("1400"),
                two_sided=True,
                obligations_met=ts != 2_000,
                mid=Decimal("0.51"),
                spread_pct=Decimal("0.2"),
            )
        )
    store.add_kpi_sample(
        KpiSample("BTCUSDT", 1_500, Decimal(0), Decimal(0), two_sided=False, obligations_met=False)
    )
    got = store.kpi_samples("XRPUSDT", 1_000, 3_000)
    assert [s.ts_ms for s in got] == [1_000, 2_000]
    assert got[1].obligations_met is False
    assert got[0].bid_depth_quote == Decimal("1500.5")
    assert len(store.kpi_samples()) == 4
    assert store.kpi_samples("BTCUSDT")[0].mid is None


def test_audit_and_export_json(store):
    store.add_audit_event(
        AuditEvent(ts_ms=1, category="risk", action="kill_switch", message="daily loss", actor="x")
    )
    store.add_fill(_fill("t9", price=BIG))
    audit = json.loads(store.export_json("audit"))
    assert audit[0]["action"] == "kill_switch"
    assert store.audit_events("risk")[0].message == "daily loss"
    exported = json.loads(store.export_json("fills"))
    assert exported[0]["price"] == str(BIG)  # exact, as a string
    assert exported[0]["trade_id"] == "t9"
    with pytest.raises(ValueError, match="choose one of"):
        store.export_json("secrets")


def test_sqlite_file_uses_wal(tmp_path):
    s = Store(str(tmp_path / "plain-path.db"))  # a plain path means an SQLite file
    s.create_schema()
    assert s.journal_mode() == "wal"
    s.create_schema()  # idempotent
    s.close()


def test_url_normalisation_and_repr_hide_password():
    assert normalise_url("postgresql://u:pw@127.0.0.1/db").startswith("postgresql+psycopg://")
    assert normalise_url("postgresql+psycopg://u:pw@h/db") == "postgresql+psycopg://u:pw@h/db"
    assert normalise_url("sqlite:///x.db") == "sqlite:///x.db"
    s = Store("postgresql://user:hunter22@127.0.0.1:1/db")
    assert "hunter22" not in repr(s)
    s.close()


def test_records_from_domain_order_and_fill_event(store):
    from liquidity_bot.domain.events import Fill
    from liquidity_bot.domain.order import Order, OrderEvent, Side

    order = Order("lb-9", "XRPUSDT", Side.BUY, Decimal("0.5"), Decimal("3"))
    order.apply(OrderEvent.SUBMIT)
    order.ack(HUGE_ID)
    order.apply_fill("t1", Decimal("1"), Decimal("0.5"))
    order.apply_fill("t2", Decimal("1"), Decimal("0.51"))
    order.apply_fill("t3", Decimal("0.5"), Decimal("0.52"))  # avg has a repeating expansion
    store.upsert_order(OrderRecord.from_order(order, updated_ms=7, key_label="main"))
    got = store.order("lb-9")
    assert got.status == "PARTIALLY_FILLED" and got.is_open
    assert got.exchange_order_id == str(HUGE_ID)
    assert got.filled_qty == Decimal("2.5")
    assert abs(got.avg_price - order.avg_price) < Decimal("1e-17")  # derived: 18 places
    event = Fill(
        ts_ms=9,
        symbol="XRPUSDT",
        client_order_id="lb-9",
        exchange_order_id=HUGE_ID,
        trade_id="t1",
        side=Side.BUY,
        price=Decimal("0.5"),
        qty=Decimal("1"),
        fee=Decimal("0.0005"),
        fee_asset="USDT",
    )
    assert store.add_fill(FillRecord.from_event(event)) is True
    assert store.add_fill(FillRecord.from_event(event)) is False
    assert store.fills()[0].exchange_order_id == str(HUGE_ID)


def test_transaction_groups_writes_atomically(store):
    with pytest.raises(RuntimeError, match="boom"):
        with store.transaction():
            store.upsert_order(_order("lb-tx"))
            assert store.add_fill(_fill("tx1")) is True
            with store.transaction():  # nested blocks join the outer transaction
                store.add_audit_event(AuditEvent(ts_ms=1, category="c", action="a", message="m"))
            raise RuntimeError("boom")
    assert store.orders() == [] and store.fills() == [] and store.audit_events() == []
    with store.transaction():
        store.upsert_order(_order("lb-tx"))
        store.add_fill(_fill("tx1"))
    assert len(store.orders()) == 1 and len(store.fills()) == 1
