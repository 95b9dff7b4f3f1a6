"""The market maker's orders as the exchange showed them to the audit.

Each sample lists the account's open orders; an order is recorded when it first appears (with
the exchange's own creation time) and finished when it leaves the list (a look-up tells filled
from cancelled, with the exchange's update time). The order history, read now and then, adds
the orders that came and went between two samples: the report counts them as placed and
cancelled, and says that no sample saw them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from liquidity_bot.store import OrderRecord

SAMPLED_EVENT = "AUDIT_SAMPLED"  # order event: a sample saw this order resting
GONE_STATUS = "GONE"  # left the book, and the exchange no longer knew it when asked


def order_key(order: Any) -> str:
    """The store's id of an exchange order: its client id, else its exchange id."""
    return order.clientOrderId or f"x{order.orderId}"


def record_of(order: Any, *, fallback_ms: int) -> OrderRecord:
    """An exchange order (``venues.bitrue.models.Order``) as a store record, exchange times."""
    created = order.time if order.time is not None else fallback_ms
    return OrderRecord(
        client_order_id=order_key(order),
        symbol=order.symbol,
        side=order.side.upper(),
        price=order.price,
        qty=order.origQty,
        status=order.status.upper(),
        created_ms=created,
        updated_ms=order.updateTime if order.updateTime is not None else created,
        filled_qty=order.executedQty,
        exchange_order_id=str(order.orderId),
    )


@dataclass
class OrderWatch:
    """Which orders of one market are open as far as the audit knows, and since when."""

    symbol: str
    client_id_prefix: str | None
    started_ms: int
    open: dict[int, int] = field(default_factory=dict)  # order id -> when it became known
    finished: set[int] = field(default_factory=set)
    sampled: set[int] = field(default_factory=set)
    history_cursor: int | None = None  # next order id to read from the history

    def counts(self, order: Any) -> bool:
        prefix = self.client_id_prefix
        return prefix is None or (order.clientOrderId or "").startswith(prefix)

    def observe_open(self, orders: Iterable[Any], asked_ms: int) -> tuple[list[Any], list[int]]:
        """One sample's open orders: (orders seen for the first time by a sample, ids of orders
        known open before the sample was asked for and no longer listed)."""
        listed: set[int] = set()
        new: list[Any] = []
        for o in orders:
            if not self.counts(o):
                continue
            listed.add(o.orderId)
            self.open.setdefault(o.orderId, asked_ms)
            if o.orderId not in self.sampled:
                self.sampled.add(o.orderId)
                new.append(o)
        gone = [oid for oid, known in self.open.items() if oid not in listed and known < asked_ms]
        return new, gone

    def finish(self, order_id: int) -> None:
        self.open.pop(order_id, None)
        self.finished.add(order_id)
        self.sampled.discard(order_id)

    def observe_history(self, orders: Iterable[Any], now_ms: int) -> list[Any]:
        """A page of the order history: the orders to record (new since the audit started and
        not yet finished); open ones are watched from now on. Advances the cursor."""
        out = []
        for o in orders:
            if self.history_cursor is None or o.orderId >= self.history_cursor:
                self.history_cursor = o.orderId + 1
            if not self.counts(o) or o.orderId in self.finished:
                continue
            if o.time is not None and o.time < self.started_ms:
                continue
            if o.is_open:
                self.open.setdefault(o.orderId, now_ms)
            else:
                self.finish(o.orderId)
            out.append(o)
        if self.history_cursor is not None:  # ids below the cursor never come back
            self.finished = {i for i in self.finished if i >= self.history_cursor}
        return out
