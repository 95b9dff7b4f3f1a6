"""One order and its single state machine.

Every change of an order's state goes through ``TRANSITIONS``: one table of allowed
``(state, event) -> state``. Anything not in the table raises ``InvalidTransition``, so a
message the engine did not expect is loud instead of silently corrupting inventory.

Guiding rule for the table: the exchange is the source of truth. An event that reports what
the exchange did (ack, fill, cancel ack, expiry, reject, a reconciliation answer) is accepted
from every state in which it is physically possible, including late and duplicated deliveries
(REST answers and user-stream pushes race each other). What is refused is (a) a contradiction
of an outcome already known to be final, and (b) a local action that makes no sense in the
state (submitting twice, cancelling a finished order).

Two rules need the filled quantity and so sit beside the table (in ``Order._target``): a report
that claims nothing was ever filled (reject, "never seen", "new") is refused once fills are
recorded, and an acknowledgement of an order with fills lands in PARTIALLY_FILLED, not NEW.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

_ZERO = Decimal(0)


class Side(StrEnum):
    """Order side, spelled as on the wire (``BUY``/``SELL``)."""

    BUY = "BUY"
    SELL = "SELL"

    @classmethod
    def parse(cls, value: object) -> Side:
        """Accept ``BUY``/``buy``/``Sell`` (an adapter turns its exchange's codes into these)."""
        if isinstance(value, Side):
            return value
        if isinstance(value, str):
            upper = value.strip().upper()
            if upper in ("BUY", "SELL"):
                return cls(upper)
        raise ValueError(f"unknown order side {value!r}: expected BUY or SELL")


class OrderState(StrEnum):
    """Where an order stands, as far as this process knows."""

    INITIALIZED = "INITIALIZED"  # built locally, never sent: may be dropped without asking
    PENDING_NEW = "PENDING_NEW"  # create request sent, no answer yet
    NEW = "NEW"  # acknowledged, resting, nothing filled
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    PENDING_CANCEL = "PENDING_CANCEL"  # cancel request sent, no answer yet
    CANCELED = "CANCELED"
    REJECTED = "REJECTED"  # refused (by the exchange, or locally before sending)
    EXPIRED = "EXPIRED"  # removed by the matching engine (Bitrue event x=4)
    UNKNOWN = "UNKNOWN"  # a request's outcome is not known: must be reconciled


class OrderEvent(StrEnum):
    """What can happen to an order. ``RECONCILE_*`` are answers of a status query."""

    SUBMIT = "SUBMIT"  # we sent the create request
    ACK = "ACK"  # the exchange accepted it (REST answer or user-stream "created")
    PARTIAL_FILL = "PARTIAL_FILL"  # a trade that leaves quantity open
    FILL = "FILL"  # the trade that completes the quantity
    CANCEL_REQUEST = "CANCEL_REQUEST"  # we sent a cancel request
    CANCEL_ACK = "CANCEL_ACK"  # the exchange says it is cancelled
    CANCEL_REJECT = "CANCEL_REJECT"  # the exchange refused the cancel (e.g. -2013 not found)
    REJECT = "REJECT"  # the create was refused (exchange) or denied (local risk gate)
    EXPIRE = "EXPIRE"  # cancelled by the engine, not by us
    TIMEOUT = "TIMEOUT"  # a request timed out or got a 5xx: outcome unknown
    RECONCILE_NEW = "RECONCILE_NEW"
    RECONCILE_PARTIALLY_FILLED = "RECONCILE_PARTIALLY_FILLED"
    RECONCILE_FILLED = "RECONCILE_FILLED"
    RECONCILE_CANCELED = "RECONCILE_CANCELED"
    RECONCILE_EXPIRED = "RECONCILE_EXPIRED"
    RECONCILE_REJECTED = "RECONCILE_REJECTED"
    RECONCILE_NOT_FOUND = "RECONCILE_NOT_FOUND"  # the exchange has never heard of it


S = OrderState
E = OrderEvent

TERMINAL_STATES: frozenset[OrderState] = frozenset({S.FILLED, S.CANCELED, S.REJECTED, S.EXPIRED})
# Known to be on the exchange's book (a cancel may be in flight).
OPEN_STATES: frozenset[OrderState] = frozenset({S.NEW, S.PARTIALLY_FILLED, S.PENDING_CANCEL})
# Possibly on the book: what a risk gate must count as exposure.
MAYBE_LIVE_STATES: frozenset[OrderState] = OPEN_STATES | {S.PENDING_NEW, S.UNKNOWN}

TRANSITIONS: dict[tuple[OrderState, OrderEvent], OrderState] = {
    # --- local life ------------------------------------------------------------------------
    (S.INITIALIZED, E.SUBMIT): S.PENDING_NEW,
    # The risk gate refused it before it was sent.
    (S.INITIALIZED, E.REJECT): S.REJECTED,
    # --- the create request ------------------------------------------------------------------
    (S.PENDING_NEW, E.ACK): S.NEW,
    (S.PENDING_NEW, E.REJECT): S.REJECTED,
    # Fills can overtake the REST answer: the user stream is faster than the HTTP reply.
    (S.PENDING_NEW, E.PARTIAL_FILL): S.PARTIALLY_FILLED,
    (S.PENDING_NEW, E.FILL): S.FILLED,
    # Cancelled by the engine (x=4) before our REST answer arrived.
    (S.PENDING_NEW, E.EXPIRE): S.EXPIRED,
    # Someone else (web UI, a previous bot instance) cancelled it before our answer arrived.
    (S.PENDING_NEW, E.CANCEL_ACK): S.CANCELED,
    # Timeout or 5xx: Bitrue says the outcome is UNKNOWN, it may have been placed.
    (S.PENDING_NEW, E.TIMEOUT): S.UNKNOWN,
    # Deliberately absent: (PENDING_NEW, CANCEL_REQUEST). A cancel for an order the exchange
    # has not registered yet is answered "not found" and teaches nothing; wait for the ack or
    # for the timeout (-> UNKNOWN -> reconcile).
    # --- resting -----------------------------------------------------------------------------
    (S.NEW, E.ACK): S.NEW,  # duplicate: REST answer and user-stream "created" both arrive
    (S.NEW, E.PARTIAL_FILL): S.PARTIALLY_FILLED,
    (S.NEW, E.FILL): S.FILLED,
    (S.NEW, E.CANCEL_REQUEST): S.PENDING_CANCEL,
    (S.NEW, E.CANCEL_ACK): S.CANCELED,  # cancelled from elsewhere (UI, another session)
    (S.NEW, E.EXPIRE): S.EXPIRED,
    (S.PARTIALLY_FILLED, E.ACK): S.PARTIALLY_FILLED,  # late ack after a fill
    (S.PARTIALLY_FILLED, E.PARTIAL_FILL): S.PARTIALLY_FILLED,
    (S.PARTIALLY_FILLED, E.FILL): S.FILLED,
    (S.PARTIALLY_FILLED, E.CANCEL_REQUEST): S.PENDING_CANCEL,
    (S.PARTIALLY_FILLED, E.CANCEL_ACK): S.CANCELED,  # cancelled from elsewhere
    (S.PARTIALLY_FILLED, E.EXPIRE): S.EXPIRED,
    # A cancel refusal arriving after a status query already settled the order as live: it
    # carries nothing new (the order manager re-cancels if it still wants to).
    (S.NEW, E.CANCEL_REJECT): S.NEW,
    (S.PARTIALLY_FILLED, E.CANCEL_REJECT): S.PARTIALLY_FILLED,
    # --- the cancel request --------------------------------------------------------------------
    (S.PENDING_CANCEL, E.ACK): S.PENDING_CANCEL,  # late ack: the cancel is still in flight
    (S.PENDING_CANCEL, E.CANCEL_REQUEST): S.PENDING_CANCEL,  # a retried cancel
    (S.PENDING_CANCEL, E.CANCEL_ACK): S.CANCELED,
    # A partial fill while the cancel is in flight: the quantity grows, the cancel still stands.
    (S.PENDING_CANCEL, E.PARTIAL_FILL): S.PENDING_CANCEL,
    # Fill after a cancel request: the trade won the race; the cancel will be rejected.
    (S.PENDING_CANCEL, E.FILL): S.FILLED,
    # The cancel was refused while we still think the order rests. Either it is already gone
    # (filled, the report not yet here) or it is still live: we do not know which, so reconcile.
    (S.PENDING_CANCEL, E.CANCEL_REJECT): S.UNKNOWN,
    (S.PENDING_CANCEL, E.EXPIRE): S.EXPIRED,
    (S.PENDING_CANCEL, E.TIMEOUT): S.UNKNOWN,
    # --- outcome unknown: anything the exchange tells us settles it ----------------------------
    (S.UNKNOWN, E.ACK): S.NEW,  # late ack after the timeout
    (S.UNKNOWN, E.PARTIAL_FILL): S.PARTIALLY_FILLED,  # a fill proves the order exists
    (S.UNKNOWN, E.FILL): S.FILLED,
    (S.UNKNOWN, E.REJECT): S.REJECTED,  # late reject after the timeout
    (S.UNKNOWN, E.CANCEL_ACK): S.CANCELED,  # late answer to a cancel that timed out
    (S.UNKNOWN, E.CANCEL_REJECT): S.UNKNOWN,  # late refusal of such a cancel: still unknown
    (S.UNKNOWN, E.EXPIRE): S.EXPIRED,
    (S.UNKNOWN, E.TIMEOUT): S.UNKNOWN,  # the status query timed out too
    # --- already final: duplicates and late reports that agree with the outcome ----------------
    (S.FILLED, E.ACK): S.FILLED,  # late ack after a fill
    (S.FILLED, E.CANCEL_REJECT): S.FILLED,  # cancel of an already filled order
    (S.CANCELED, E.ACK): S.CANCELED,  # late REST ack after the user stream said "cancelled"
    (S.CANCELED, E.CANCEL_ACK): S.CANCELED,  # duplicate (REST answer + user stream)
    (S.CANCELED, E.CANCEL_REJECT): S.CANCELED,  # a retried cancel found it already cancelled
    # A partial fill reported after the cancel ack: the trade happened before the cancel took
    # effect and the two reports arrived out of order. The quantity counts; the state stays.
    (S.CANCELED, E.PARTIAL_FILL): S.CANCELED,
    (S.EXPIRED, E.ACK): S.EXPIRED,
    (S.EXPIRED, E.EXPIRE): S.EXPIRED,
    (S.EXPIRED, E.CANCEL_REJECT): S.EXPIRED,
    (S.EXPIRED, E.PARTIAL_FILL): S.EXPIRED,  # late fill report, as for CANCELED
    (S.REJECTED, E.REJECT): S.REJECTED,
    # Deliberately absent: a FILL after CANCELED/EXPIRED, an ACK or fill after REJECTED. They
    # contradict a final answer; raise and let reconciliation and a human look at it.
}

# --- reconciliation: the answer of a status query (GET /order by client order id) ------------
# It tells the truth about an order that is not final yet, so it may move it anywhere the
# exchange says, except into answers that contradict what we already know.
_RECONCILE_TARGETS: dict[OrderEvent, OrderState] = {
    E.RECONCILE_NEW: S.NEW,
    E.RECONCILE_PARTIALLY_FILLED: S.PARTIALLY_FILLED,
    E.RECONCILE_FILLED: S.FILLED,
    E.RECONCILE_CANCELED: S.CANCELED,
    E.RECONCILE_EXPIRED: S.EXPIRED,
    E.RECONCILE_REJECTED: S.REJECTED,
    # Never reached the engine. Only conclusive once the request's timestamp + recvWindow has
    # passed (the exchange then refuses a late arrival); the order manager waits that long.
    E.RECONCILE_NOT_FOUND: S.REJECTED,
}
# Sent but not acknowledged: any answer settles it.
for _source in (S.PENDING_NEW, S.UNKNOWN):
    for _event, _target in _RECONCILE_TARGETS.items():
        TRANSITIONS[(_source, _event)] = _target
# Acknowledged: it cannot be "rejected" or "never seen" any more.
_ACKED_ANSWERS = (
    E.RECONCILE_NEW,
    E.RECONCILE_PARTIALLY_FILLED,
    E.RECONCILE_FILLED,
    E.RECONCILE_CANCELED,
    E.RECONCILE_EXPIRED,
)
for _source in (S.NEW, S.PENDING_CANCEL):
    for _event in _ACKED_ANSWERS:
        TRANSITIONS[(_source, _event)] = _RECONCILE_TARGETS[_event]
# Fills seen: it cannot go back to "nothing filled" either.
for _event in _ACKED_ANSWERS[1:]:
    TRANSITIONS[(S.PARTIALLY_FILLED, _event)] = _RECONCILE_TARGETS[_event]
# A final state only accepts the answer that agrees with it.
TRANSITIONS[(S.FILLED, E.RECONCILE_FILLED)] = S.FILLED
TRANSITIONS[(S.CANCELED, E.RECONCILE_CANCELED)] = S.CANCELED
TRANSITIONS[(S.EXPIRED, E.RECONCILE_EXPIRED)] = S.EXPIRED
TRANSITIONS[(S.REJECTED, E.RECONCILE_REJECTED)] = S.REJECTED
TRANSITIONS[(S.REJECTED, E.RECONCILE_NOT_FOUND)] = S.REJECTED
del _event, _target, _source, _ACKED_ANSWERS, S, E

# Events that claim nothing was ever filled. Once a fill is recorded they contradict it, even
# where the table allows them (e.g. UNKNOWN reached from PENDING_CANCEL after partial fills).
NOTHING_FILLED_EVENTS: frozenset[OrderEvent] = frozenset(
    {
        OrderEvent.REJECT,
        OrderEvent.RECONCILE_NEW,
        OrderEvent.RECONCILE_REJECTED,
        OrderEvent.RECONCILE_NOT_FOUND,
    }
)


class InvalidTransition(Exception):
    """An event that the order's state does not allow: a bug or a contradictory report."""

    def __init__(
        self, client_order_id: str, state: OrderState, event: OrderEvent, why: str = ""
    ):
        allowed = sorted(e.value for (s, e) in TRANSITIONS if s is state)
        reason = why or f"allowed here: {', '.join(allowed) or 'none'}"
        super().__init__(
            f"order {client_order_id}: event {event.value} is not allowed in state "
            f"{state.value} ({reason}); reconcile the order with the exchange "
            "(query it by client order id) before acting on it"
        )
        self.client_order_id = client_order_id
        self.state = state
        self.event = event


class InvalidFill(ValueError):
    """A fill that cannot belong to this order (non-positive, or more than the quantity)."""


def next_state(state: OrderState, event: OrderEvent) -> OrderState | None:
    """The state ``event`` leads to from ``state``, or None if the table forbids it."""
    return TRANSITIONS.get((state, event))


@dataclass(frozen=True, slots=True)
class AppliedFill:
    """One trade applied to an order (kept to dedupe by trade id and for audit)."""

    trade_id: str
    qty: Decimal
    price: Decimal
    ts_ms: int | None = None


def _exchange_id(value: object) -> str:
    """The exchange's order id as text (the store's form). An ``int`` is accepted and written
    out exactly (Bitrue's ids exceed 2**53); a float or an empty id is refused."""
    if type(value) is int:
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    raise TypeError(
        f"exchange order id must be a non-empty string (or an int), got "
        f"{type(value).__name__} {value!r}; decode it without passing through float"
    )


def _positive_decimal(value: object, what: str) -> Decimal:
    if not isinstance(value, Decimal):
        raise TypeError(f"{what} must be a Decimal, got {type(value).__name__} {value!r}")
    if not value.is_finite() or value <= 0:
        raise ValueError(f"{what} must be a finite positive Decimal, got {value}")
    return value


@dataclass(slots=True, eq=False)
class Order:
    """A limit order this process manages, from creation to a final state.

    Mutable by design (it is the engine's record), but only through ``apply``, ``ack``,
    ``apply_fill`` and ``set_exchange_order_id``, all of which check the transition table
    first and change nothing when they raise.
    """

    client_order_id: str
    symbol: str
    side: Side
    price: Decimal
    qty: Decimal
    exchange_order_id: str | None = None
    state: OrderState = OrderState.INITIALIZED
    filled_qty: Decimal = Decimal(0)
    filled_quote: Decimal = Decimal(0)  # sum of qty x price over applied fills
    fills: list[AppliedFill] = field(default_factory=list)
    _trade_ids: set[str] = field(default_factory=set, repr=False)

    def __post_init__(self) -> None:
        if not self.client_order_id:
            raise ValueError("client_order_id must not be empty")
        if type(self.side) is not Side:
            self.side = Side.parse(self.side)
        price, qty = self.price, self.qty
        # (the usual order passes both checks inline; ``_positive_decimal`` says what is wrong)
        if not (type(price) is Decimal and price.is_finite() and price > _ZERO):
            _positive_decimal(price, f"order {self.client_order_id} price")
        if not (type(qty) is Decimal and qty.is_finite() and qty > _ZERO):
            _positive_decimal(qty, f"order {self.client_order_id} qty")
        if self.exchange_order_id is not None:
            self.exchange_order_id = _exchange_id(self.exchange_order_id)

    # --- views -------------------------------------------------------------------------------
    @property
    def is_terminal(self) -> bool:
        """Final: nothing can rest on the book any more."""
        return self.state in TERMINAL_STATES

    @property
    def is_open(self) -> bool:
        """Acknowledged and (as far as we know) resting on the book."""
        return self.state in OPEN_STATES

    @property
    def may_be_live(self) -> bool:
        """Could be on the book: open, in flight, or unknown. Count these as exposure."""
        return self.state in MAYBE_LIVE_STATES

    @property
    def remaining_qty(self) -> Decimal:
        return self.qty - self.filled_qty

    @property
    def avg_price(self) -> Decimal | None:
        """Volume-weighted average fill price; None before the first fill."""
        if not self.filled_qty:
            return None
        return self.filled_quote / self.filled_qty

    # --- changes -----------------------------------------------------------------------------
    def apply(self, event: OrderEvent) -> OrderState:
        """Move along the table; raise ``InvalidTransition`` if it forbids ``event``.

        Fills must go through ``apply_fill`` (they carry quantities).
        """
        event = OrderEvent(event)
        if event in (OrderEvent.PARTIAL_FILL, OrderEvent.FILL):
            raise TypeError("fills carry a quantity: use Order.apply_fill(trade_id, qty, price)")
        self.state = self._target(event)
        return self.state

    def ack(self, exchange_order_id: object | None = None) -> OrderState:
        """The exchange accepted the order; record its id if the message carries one."""
        target = self._target(OrderEvent.ACK)
        if exchange_order_id is not None:
            self.set_exchange_order_id(exchange_order_id)
        self.state = target
        return target

    def set_exchange_order_id(self, exchange_order_id: object) -> None:
        """Record the exchange's id; a different id for the same order is a hard error."""
        new_id = _exchange_id(exchange_order_id)
        if self.exchange_order_id is not None and self.exchange_order_id != new_id:
            raise ValueError(
                f"order {self.client_order_id}: exchange order id {new_id} reported, but "
                f"{self.exchange_order_id} is already recorded; two exchange orders share one "
                "client order id: reconcile before trading on"
            )
        self.exchange_order_id = new_id

    def apply_fill(
        self, trade_id: object, qty: Decimal, price: Decimal, ts_ms: int | None = None
    ) -> bool:
        """Apply one trade. Returns False (and changes nothing) if the trade id was seen.

        The event is FILL when the trade completes the quantity, PARTIAL_FILL otherwise.
        """
        key = str(trade_id)
        if key in self._trade_ids:
            return False
        takes_fills = (self.state, OrderEvent.PARTIAL_FILL) in TRANSITIONS or (
            (self.state, OrderEvent.FILL) in TRANSITIONS
        )
        # A status query may report FILLED before the trades' own reports arrive: they still
        # count, up to the order quantity, and the state stays.
        settled_early = self.state is OrderState.FILLED and self.filled_qty + qty <= self.qty
        if not takes_fills and not settled_early:
            raise InvalidTransition(self.client_order_id, self.state, OrderEvent.FILL)
        _positive_decimal(qty, f"order {self.client_order_id} fill qty")
        _positive_decimal(price, f"order {self.client_order_id} fill price")
        filled = self.filled_qty + qty
        if filled > self.qty:
            raise InvalidFill(
                f"order {self.client_order_id}: trade {key} of {qty} would fill {filled}, more "
                f"than the order quantity {self.qty}; reconcile the order's trades"
            )
        if takes_fills:
            event = OrderEvent.FILL if filled == self.qty else OrderEvent.PARTIAL_FILL
            self.state = self._target(event)
        self.filled_qty = filled
        self.filled_quote += qty * price
        self._trade_ids.add(key)
        self.fills.append(AppliedFill(key, qty, price, ts_ms))
        return True

    def _target(self, event: OrderEvent) -> OrderState:
        """The table's answer, plus the two rules that need the filled quantity."""
        target = TRANSITIONS.get((self.state, event))
        if target is None:
            raise InvalidTransition(self.client_order_id, self.state, event)
        if self.filled_qty and event in NOTHING_FILLED_EVENTS:
            raise InvalidTransition(
                self.client_order_id,
                self.state,
                event,
                f"{self.filled_qty} is already filled, which this report contradicts",
            )
        # NEW means "acknowledged, nothing filled": an acknowledged order with fills is
        # PARTIALLY_FILLED, whichever late ack got it there (e.g. UNKNOWN after cancel retries).
        if target is OrderState.NEW and self.filled_qty:
            return OrderState.PARTIALLY_FILLED
        return target
