"""Domain events: immutable, exact through encode/decode, and wired to the order machine."""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest

from liquidity_bot.domain.events import (
    BalanceChange,
    BookUpdate,
    CancelAck,
    CancelReject,
    Event,
    Expired,
    Fill,
    OrderAck,
    Reject,
)
from liquidity_bot.domain.order import Order, OrderEvent, OrderState, Side

D = Decimal
BIG_ID = str(2**63 - 7)  # exceeds 2**53: a float would change it; ids are text

SAMPLES: list[Event] = [
    BookUpdate(ts_ms=1, symbol="XRPUSDT", bids=((D("0.5000"), D("10")),),
               asks=((D("0.5001"), D("3.25")),), seq=12),
    OrderAck(ts_ms=2, symbol="XRPUSDT", client_order_id="c1", exchange_order_id=BIG_ID),
    Fill(ts_ms=3, symbol="XRPUSDT", client_order_id="c1", exchange_order_id=BIG_ID,
         trade_id="991", side=Side.BUY, price=D("0.50000001"), qty=D("2.50"),
         fee=D("0.0001"), fee_asset="XRP", is_maker=True),
    CancelAck(ts_ms=4, symbol="XRPUSDT", client_order_id="c1", exchange_order_id=BIG_ID),
    CancelReject(ts_ms=5, symbol="XRPUSDT", client_order_id="c1", code=-2013,
                 reason="Order does not exist."),
    Reject(ts_ms=6, symbol="XRPUSDT", client_order_id="c2", code=-1111, reason="bad price"),
    Expired(ts_ms=7, symbol="XRPUSDT", client_order_id="c3"),
    BalanceChange(ts_ms=8, asset="USDT", free=D("10.26"), locked=D("0.0000000000000000")),
]


@pytest.mark.parametrize("event", SAMPLES, ids=lambda e: type(e).__name__)
def test_events_are_immutable(event):
    field = next(iter(msgspec.structs.asdict(event)))
    with pytest.raises(AttributeError):
        setattr(event, field, None)
    hash(event)  # frozen structs are hashable: usable as dict keys and in sets


@pytest.mark.parametrize("event", SAMPLES, ids=lambda e: type(e).__name__)
def test_json_round_trip_is_exact(event):
    encoded = msgspec.json.encode(event)
    decoded = msgspec.json.decode(encoded, type=type(event))
    assert decoded == event
    for name, value in msgspec.structs.asdict(event).items():
        assert type(getattr(decoded, name)) is type(value), name
    if isinstance(event, Fill):
        # Decimals travel as strings and keep their exponent; the id keeps all 64 bits.
        assert b'"price":"0.50000001"' in encoded and str(BIG_ID).encode() in encoded
        assert decoded.exchange_order_id == BIG_ID


def test_every_event_has_a_millisecond_timestamp_and_symbol_or_asset():
    for event in SAMPLES:
        assert type(event.ts_ms) is int
        assert getattr(event, "symbol", None) or getattr(event, "asset", None)


def test_json_numbers_decode_to_exact_decimals():
    raw = (b'{"ts_ms":1,"symbol":"XRPUSDT","client_order_id":"c","exchange_order_id":"'
           + BIG_ID.encode()
           + b'","trade_id":"7","side":"SELL","price":0.1,"qty":"3"}')
    fill = msgspec.json.decode(raw, type=Fill)
    assert fill.price == D("0.1") and fill.exchange_order_id == BIG_ID and fill.side is Side.SELL


def test_balance_total():
    assert SAMPLES[-1].total == D("10.26")  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("message", "event"),
    [(OrderAck, OrderEvent.ACK), (CancelAck, OrderEvent.CANCEL_ACK),
     (CancelReject, OrderEvent.CANCEL_REJECT), (Reject, OrderEvent.REJECT),
     (Expired, OrderEvent.EXPIRE)],
)
def test_order_messages_name_their_order_event(message, event):
    assert message.order_event is event
    assert "order_event" not in message.__struct_fields__  # a class constant, not a field


def test_messages_drive_an_order():
    order = Order("c1", "XRPUSDT", Side.BUY, D("0.50000001"), D("5"))
    order.apply(OrderEvent.SUBMIT)
    ack, fill, cancel = SAMPLES[1], SAMPLES[2], SAMPLES[3]
    order.ack(ack.exchange_order_id)  # type: ignore[attr-defined]
    assert order.apply_fill(fill.trade_id, fill.qty, fill.price)  # type: ignore[attr-defined]
    order.apply(OrderEvent.CANCEL_REQUEST)
    order.apply(cancel.order_event)  # type: ignore[attr-defined]
    assert order.state is OrderState.CANCELED and order.filled_qty == D("2.50")
    assert order.exchange_order_id == BIG_ID



def test_the_domain_package_is_pure():
    """No I/O, no asyncio, nothing from the rest of the project: only these imports."""
    import ast
    from pathlib import Path

    import liquidity_bot.domain as domain

    allowed = {"__future__", "collections", "dataclasses", "decimal", "enum", "itertools",
               "math", "operator", "typing", "msgspec", "liquidity_bot.domain"}
    seen: set[str] = set()
    for path in Path(domain.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                seen.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                seen.add(node.module or "")
    outside = {
        name for name in seen
        if not any(name == ok or name.startswith(ok + ".") for ok in allowed)
    }
    assert not outside, f"domain imports outside its allowed set: {sorted(outside)}"
    assert "liquidity_bot.domain.order" in seen  # the walk did find the imports
