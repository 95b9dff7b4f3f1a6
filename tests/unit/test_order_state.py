"""The order state machine: every (state, event) pair, allowed or not, plus the odd cases."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest

from liquidity_bot.domain.order import (
    TRANSITIONS,
    InvalidFill,
    InvalidTransition,
    Order,
    OrderEvent,
    OrderState,
    Side,
    next_state,
)

E = OrderEvent
S = OrderState

# The specification, written out independently of the implementation's table: one line per
# allowed transition, "STATE EVENT -> TARGET". Everything not listed must raise.
SPEC_TEXT = """
INITIALIZED SUBMIT -> PENDING_NEW
INITIALIZED REJECT -> REJECTED

PENDING_NEW ACK -> NEW
PENDING_NEW REJECT -> REJECTED
PENDING_NEW PARTIAL_FILL -> PARTIALLY_FILLED
PENDING_NEW FILL -> FILLED
PENDING_NEW EXPIRE -> EXPIRED
PENDING_NEW CANCEL_ACK -> CANCELED
PENDING_NEW TIMEOUT -> UNKNOWN
PENDING_NEW RECONCILE_NEW -> NEW
PENDING_NEW RECONCILE_PARTIALLY_FILLED -> PARTIALLY_FILLED
PENDING_NEW RECONCILE_FILLED -> FILLED
PENDING_NEW RECONCILE_CANCELED -> CANCELED
PENDING_NEW RECONCILE_EXPIRED -> EXPIRED
PENDING_NEW RECONCILE_REJECTED -> REJECTED
PENDING_NEW RECONCILE_NOT_FOUND -> REJECTED

NEW ACK -> NEW
NEW PARTIAL_FILL -> PARTIALLY_FILLED
NEW FILL -> FILLED
NEW CANCEL_REQUEST -> PENDING_CANCEL
NEW CANCEL_ACK -> CANCELED
NEW CANCEL_REJECT -> NEW
NEW EXPIRE -> EXPIRED
NEW RECONCILE_NEW -> NEW
NEW RECONCILE_PARTIALLY_FILLED -> PARTIALLY_FILLED
NEW RECONCILE_FILLED -> FILLED
NEW RECONCILE_CANCELED -> CANCELED
NEW RECONCILE_EXPIRED -> EXPIRED

PARTIALLY_FILLED ACK -> PARTIALLY_FILLED
PARTIALLY_FILLED PARTIAL_FILL -> PARTIALLY_FILLED
PARTIALLY_FILLED FILL -> FILLED
PARTIALLY_FILLED CANCEL_REQUEST -> PENDING_CANCEL
PARTIALLY_FILLED CANCEL_ACK -> CANCELED
PARTIALLY_FILLED CANCEL_REJECT -> PARTIALLY_FILLED
PARTIALLY_FILLED EXPIRE -> EXPIRED
PARTIALLY_FILLED RECONCILE_PARTIALLY_FILLED -> PARTIALLY_FILLED
PARTIALLY_FILLED RECONCILE_FILLED -> FILLED
PARTIALLY_FILLED RECONCILE_CANCELED -> CANCELED
PARTIALLY_FILLED RECONCILE_EXPIRED -> EXPIRED

PENDING_CANCEL ACK -> PENDING_CANCEL
PENDING_CANCEL CANCEL_REQUEST -> PENDING_CANCEL
PENDING_CANCEL CANCEL_ACK -> CANCELED
PENDING_CANCEL PARTIAL_FILL -> PENDING_CANCEL
PENDING_CANCEL FILL -> FILLED
PENDING_CANCEL CANCEL_REJECT -> UNKNOWN
PENDING_CANCEL EXPIRE -> EXPIRED
PENDING_CANCEL TIMEOUT -> UNKNOWN
PENDING_CANCEL RECONCILE_NEW -> NEW
PENDING_CANCEL RECONCILE_PARTIALLY_FILLED -> PARTIALLY_FILLED
PENDING_CANCEL RECONCILE_FILLED -> FILLED
PENDING_CANCEL RECONCILE_CANCELED -> CANCELED
PENDING_CANCEL RECONCILE_EXPIRED -> EXPIRED

UNKNOWN ACK -> NEW
UNKNOWN PARTIAL_FILL -> PARTIALLY_FILLED
UNKNOWN FILL -> FILLED
UNKNOWN REJECT -> REJECTED
UNKNOWN CANCEL_ACK -> CANCELED
UNKNOWN CANCEL_REJECT -> UNKNOWN
UNKNOWN EXPIRE -> EXPIRED
UNKNOWN TIMEOUT -> UNKNOWN
UNKNOWN RECONCILE_NEW -> NEW
UNKNOWN RECONCILE_PARTIALLY_FILLED -> PARTIALLY_FILLED
UNKNOWN RECONCILE_FILLED -> FILLED
UNKNOWN RECONCILE_CANCELED -> CANCELED
UNKNOWN RECONCILE_EXPIRED -> EXPIRED
UNKNOWN RECONCILE_REJECTED -> REJECTED
UNKNOWN RECONCILE_NOT_FOUND -> REJECTED

FILLED ACK -> FILLED
FILLED CANCEL_REJECT -> FILLED
FILLED RECONCILE_FILLED -> FILLED

CANCELED ACK -> CANCELED
CANCELED CANCEL_ACK -> CANCELED
CANCELED CANCEL_REJECT -> CANCELED
CANCELED PARTIAL_FILL -> CANCELED
CANCELED RECONCILE_CANCELED -> CANCELED

EXPIRED ACK -> EXPIRED
EXPIRED EXPIRE -> EXPIRED
EXPIRED CANCEL_REJECT -> EXPIRED
EXPIRED PARTIAL_FILL -> EXPIRED
EXPIRED RECONCILE_EXPIRED -> EXPIRED

REJECTED REJECT -> REJECTED
REJECTED RECONCILE_REJECTED -> REJECTED
REJECTED RECONCILE_NOT_FOUND -> REJECTED
"""


def _parse_spec(text: str) -> dict[tuple[OrderState, OrderEvent], OrderState]:
    spec = {}
    for line in text.strip().splitlines():
        if not line.strip():
            continue
        left, target = line.split("->")
        state, event = left.split()
        key = (OrderState(state), OrderEvent(event))
        assert key not in spec, f"duplicate spec line {line!r}"
        spec[key] = OrderState(target.strip())
    return spec


SPEC = _parse_spec(SPEC_TEXT)
QTY = Decimal("10")
PRICE = Decimal("1.2345")
BIG_ID = 2**63 - 25  # Bitrue order ids exceed 2**53


def order_in(state: OrderState) -> Order:
    """An order in ``state`` with fills consistent with it."""
    filled = {S.PARTIALLY_FILLED: Decimal(4), S.FILLED: QTY}.get(state, Decimal(0))
    order = Order("cid-1", "XRPUSDT", Side.BUY, PRICE, QTY, state=state)
    if filled:
        order.filled_qty = filled
        order.filled_quote = filled * PRICE
        order._trade_ids.add("seed")
    return order


def fire(order: Order, event: OrderEvent) -> OrderState:
    """Deliver ``event`` the way the engine would: fills and acks carry data."""
    if event is E.PARTIAL_FILL:
        qty = order.remaining_qty / 2 if order.remaining_qty else Decimal(1)
        order.apply_fill("t-new", qty, PRICE)
        return order.state
    if event is E.FILL:
        order.apply_fill("t-new", order.remaining_qty or Decimal(1), PRICE)
        return order.state
    if event is E.ACK:
        return order.ack(BIG_ID)
    return order.apply(event)


def test_table_is_exactly_the_spec():
    missing = {k: v for k, v in SPEC.items() if TRANSITIONS.get(k) != v}
    extra = {k: v for k, v in TRANSITIONS.items() if k not in SPEC}
    assert not missing, f"spec transitions missing or different in the table: {missing}"
    assert not extra, f"table allows transitions the spec does not: {extra}"


@pytest.mark.parametrize(
    ("state", "event"),
    list(itertools.product(OrderState, OrderEvent)),
    ids=lambda v: v.value,
)
def test_every_state_event_pair(state: OrderState, event: OrderEvent):
    order = order_in(state)
    before = (order.state, order.filled_qty, order.exchange_order_id, len(order.fills))
    if (state, event) in SPEC:
        assert fire(order, event) is SPEC[(state, event)]
        assert order.state is SPEC[(state, event)]
        assert next_state(state, event) is SPEC[(state, event)]
    else:
        with pytest.raises(InvalidTransition) as info:
            fire(order, event)
        assert info.value.state is state
        assert (order.state, order.filled_qty, order.exchange_order_id, len(order.fills)) == (
            before
        ), "a refused event must change nothing"
        assert next_state(state, event) is None


def test_product_covers_all_states_and_events():
    assert len(OrderState) == 10 and len(OrderEvent) == 17
    assert {s for s, _ in SPEC} == set(OrderState)
    assert {e for _, e in SPEC} == set(OrderEvent)


def test_invalid_transition_message_says_what_and_what_to_do():
    order = order_in(S.FILLED)
    with pytest.raises(InvalidTransition, match="CANCEL_REQUEST is not allowed in state FILLED"):
        order.apply(E.CANCEL_REQUEST)
    with pytest.raises(InvalidTransition, match="reconcile the order"):
        order.apply(E.CANCEL_REQUEST)


# --- the real-world odd cases, as walk-throughs ---------------------------------------------


def placed(qty: Decimal = QTY) -> Order:
    order = Order("cid-2", "XRPUSDT", "BUY", PRICE, qty)
    order.apply(E.SUBMIT)
    order.ack(BIG_ID)
    return order


def test_fill_after_cancel_request_then_cancel_rejected_stays_filled():
    order = placed()
    order.apply(E.CANCEL_REQUEST)
    assert order.state is S.PENDING_CANCEL
    assert order.apply_fill(1, QTY, PRICE) is True  # the trade won the race
    assert order.state is S.FILLED
    assert order.apply(E.CANCEL_REJECT) is S.FILLED  # "cancel of an already filled order"
    assert order.is_terminal and not order.may_be_live


def test_partial_fill_while_pending_cancel_keeps_the_cancel_and_counts_the_quantity():
    order = placed()
    order.apply(E.CANCEL_REQUEST)
    order.apply_fill("t1", Decimal(3), PRICE)
    assert order.state is S.PENDING_CANCEL
    assert order.filled_qty == 3 and order.remaining_qty == 7
    order.apply(E.CANCEL_ACK)
    assert order.state is S.CANCELED and order.filled_qty == 3


def test_late_ack_after_fill_records_the_id_and_stays_filled():
    order = Order("cid-3", "XRPUSDT", Side.SELL, PRICE, QTY)
    order.apply(E.SUBMIT)
    order.apply_fill("t1", QTY, PRICE)  # user stream faster than the REST answer
    assert order.state is S.FILLED
    assert order.ack(str(BIG_ID)) is S.FILLED
    assert order.exchange_order_id == str(BIG_ID)


def test_fill_while_unknown_proves_the_order_exists():
    order = Order("cid-4", "XRPUSDT", Side.BUY, PRICE, QTY)
    order.apply(E.SUBMIT)
    order.apply(E.TIMEOUT)  # 5xx or timeout on POST /order
    assert order.state is S.UNKNOWN and order.may_be_live and not order.is_open
    order.apply_fill("t1", Decimal(2), PRICE)
    assert order.state is S.PARTIALLY_FILLED and order.is_open


def test_late_partial_fill_after_cancel_ack_counts_but_state_stays_canceled():
    order = placed()
    order.apply(E.CANCEL_REQUEST)
    order.apply(E.CANCEL_ACK)
    order.apply_fill("t1", Decimal(1), PRICE)
    assert order.state is S.CANCELED and order.filled_qty == 1
    with pytest.raises(InvalidTransition):  # a complete fill contradicts the cancel
        order.apply_fill("t2", Decimal(9), PRICE)
    assert order.filled_qty == 1


def test_cancel_rejected_while_pending_goes_unknown_then_a_fill_settles_it():
    order = placed()
    order.apply(E.CANCEL_REQUEST)
    assert order.apply(E.CANCEL_REJECT) is S.UNKNOWN
    order.apply_fill("t1", QTY, PRICE)
    assert order.state is S.FILLED


def test_risk_gate_denial_before_sending():
    order = Order("cid-5", "XRPUSDT", Side.BUY, PRICE, QTY)
    assert order.apply(E.REJECT) is S.REJECTED
    assert order.is_terminal


# --- rules that need the filled quantity ------------------------------------------------------


def test_nothing_filled_reports_are_refused_once_fills_are_recorded():
    order = placed()
    order.apply_fill("t1", Decimal(2), PRICE)
    order.apply(E.CANCEL_REQUEST)
    order.apply(E.TIMEOUT)
    assert order.state is S.UNKNOWN
    for event in (E.REJECT, E.RECONCILE_NEW, E.RECONCILE_REJECTED, E.RECONCILE_NOT_FOUND):
        with pytest.raises(InvalidTransition, match="already filled"):
            order.apply(event)
        assert order.state is S.UNKNOWN


def test_pending_cancel_with_fills_cannot_be_reconciled_to_new():
    order = placed()
    order.apply(E.CANCEL_REQUEST)
    order.apply_fill("t1", Decimal(2), PRICE)
    with pytest.raises(InvalidTransition):
        order.apply(E.RECONCILE_NEW)
    assert order.apply(E.RECONCILE_PARTIALLY_FILLED) is S.PARTIALLY_FILLED


def test_ack_of_unknown_order_with_fills_lands_in_partially_filled():
    order = placed()
    order.apply_fill("t1", Decimal(2), PRICE)
    order.apply(E.CANCEL_REQUEST)
    order.apply(E.TIMEOUT)
    assert order.ack(BIG_ID) is S.PARTIALLY_FILLED


# --- fills ------------------------------------------------------------------------------------


def test_same_trade_twice_is_a_no_op_even_after_the_order_is_final():
    order = placed()
    assert order.apply_fill(77, Decimal(4), Decimal("1.0")) is True
    assert order.apply_fill("77", Decimal(4), Decimal("1.0")) is False  # same id, as str
    assert order.filled_qty == 4 and len(order.fills) == 1
    order.apply_fill(78, Decimal(6), Decimal("2.0"))
    assert order.state is S.FILLED
    assert order.apply_fill(78, Decimal(6), Decimal("2.0")) is False
    assert order.filled_qty == QTY


def test_average_price_is_volume_weighted_and_exact():
    order = placed()
    assert order.avg_price is None
    order.apply_fill("a", Decimal(4), Decimal("1.0"))
    order.apply_fill("b", Decimal(6), Decimal("2.0"))
    assert order.filled_quote == Decimal("16.0")
    assert order.avg_price == Decimal("1.6")
    assert [f.trade_id for f in order.fills] == ["a", "b"]


def test_overfill_is_refused_and_changes_nothing():
    order = placed()
    order.apply_fill("a", Decimal(8), PRICE)
    with pytest.raises(InvalidFill, match="more than the order quantity"):
        order.apply_fill("b", Decimal(3), PRICE)
    assert order.filled_qty == 8 and order.state is S.PARTIALLY_FILLED
    assert order.apply_fill("b", Decimal(2), PRICE) is True  # the id was not burnt


@pytest.mark.parametrize("qty", [Decimal(0), Decimal(-1), Decimal("NaN")])
def test_non_positive_fill_quantity_is_refused(qty):
    order = placed()
    with pytest.raises(ValueError):
        order.apply_fill("a", qty, PRICE)
    assert order.filled_qty == 0


def test_trades_reported_after_a_status_query_said_filled_still_count():
    """The look-up of an in-doubt order answered FILLED before the user stream's trade reports
    arrived: they count (inventory, PnL, the store), the state stays, and a trade beyond the
    order's quantity is still refused."""
    order = placed()
    order.apply(E.RECONCILE_FILLED)
    assert order.state is S.FILLED and order.filled_qty == 0
    assert order.apply_fill("t1", Decimal(6), PRICE) is True
    assert order.apply_fill("t2", Decimal(4), PRICE) is True
    assert order.state is S.FILLED and order.filled_qty == QTY and len(order.fills) == 2
    assert order.apply_fill("t2", Decimal(4), PRICE) is False  # a duplicate report
    with pytest.raises(InvalidTransition):
        order.apply_fill("t3", Decimal(1), PRICE)  # more than the order's quantity
    assert order.filled_qty == QTY


def test_fills_must_go_through_apply_fill():
    with pytest.raises(TypeError, match="apply_fill"):
        placed().apply(E.FILL)


# --- order fields -----------------------------------------------------------------------------


def test_exchange_order_id_keeps_all_64_bits():
    order = placed()
    assert order.exchange_order_id == str(BIG_ID)  # text, as the store keeps it
    assert float(BIG_ID) != BIG_ID  # it would not survive a float


def test_exchange_order_id_may_be_any_exchange_s_text():
    order = Order("cid-7", "XRPUSDT", Side.BUY, PRICE, QTY)
    order.set_exchange_order_id(" 1d6c0f4e-7a5b-4b0e-9a55-1f0c8e2b7d11 ")  # e.g. a UUID
    assert order.exchange_order_id == "1d6c0f4e-7a5b-4b0e-9a55-1f0c8e2b7d11"


@pytest.mark.parametrize("bad", [1.5e18, True, "", "  ", None])
def test_exchange_order_id_must_be_text_or_an_int(bad):
    order = Order("cid-6", "XRPUSDT", Side.BUY, PRICE, QTY)
    with pytest.raises(TypeError, match="exchange order id"):
        order.set_exchange_order_id(bad)


def test_a_second_different_exchange_id_is_an_error():
    order = placed()
    order.set_exchange_order_id(BIG_ID)  # same id again is fine
    with pytest.raises(ValueError, match="already recorded"):
        order.ack(BIG_ID + 1)
    assert order.exchange_order_id == str(BIG_ID)


def test_money_fields_must_be_decimal():
    with pytest.raises(TypeError, match="Decimal"):
        Order("cid-7", "XRPUSDT", Side.BUY, 1.5, QTY)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="positive"):
        Order("cid-7", "XRPUSDT", Side.BUY, PRICE, Decimal(0))
    with pytest.raises(ValueError, match="client_order_id"):
        Order("", "XRPUSDT", Side.BUY, PRICE, QTY)


@pytest.mark.parametrize(
    ("state", "terminal", "open_", "maybe_live"),
    [
        (S.INITIALIZED, False, False, False),
        (S.PENDING_NEW, False, False, True),
        (S.NEW, False, True, True),
        (S.PARTIALLY_FILLED, False, True, True),
        (S.PENDING_CANCEL, False, True, True),
        (S.UNKNOWN, False, False, True),
        (S.FILLED, True, False, False),
        (S.CANCELED, True, False, False),
        (S.REJECTED, True, False, False),
        (S.EXPIRED, True, False, False),
    ],
)
def test_state_helpers(state, terminal, open_, maybe_live):
    order = order_in(state)
    assert (order.is_terminal, order.is_open, order.may_be_live) == (terminal, open_, maybe_live)


@pytest.mark.parametrize(
    ("raw", "side"),
    [("BUY", Side.BUY), ("sell", Side.SELL), (" Buy ", Side.BUY), (Side.SELL, Side.SELL)],
)
def test_side_parse(raw, side):
    assert Side.parse(raw) is side


@pytest.mark.parametrize("raw", ["HOLD", 0, 1, 2, "1", "2", 3, True, 1.0, None])
def test_side_parse_refuses_unknown(raw):
    """The domain knows no exchange's numeric sides (Bitrue's: ``venues.bitrue.models.side_of``)."""
    with pytest.raises(ValueError, match="unknown order side"):
        Side.parse(raw)
