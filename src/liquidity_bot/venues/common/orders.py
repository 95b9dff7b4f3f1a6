"""What an adapter keeps about the orders it placed, and the gate every fill passes once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from liquidity_bot.domain.order import Side

Id = TypeVar("Id")  # the exchange's own order id type (Bitrue: int)


@dataclass
class TrackedOrder(Generic[Id]):
    """One order of ours as the adapter follows it (for its stream and its REST fallback)."""

    symbol: str
    client_order_id: str
    order_id: Id | None
    side: Side
    acked: bool = False  # the exchange confirmed it (a REST answer, a push, a look-up)
    final: bool = False  # reported filled, cancelled, rejected or expired


class TrackedOrders(Generic[Id]):
    """Our orders by client id and by the exchange's id (a push or a trade may carry only
    the latter)."""

    def __init__(self) -> None:
        self.by_client_id: dict[str, TrackedOrder[Id]] = {}
        self._client_id_of: dict[Id, str] = {}

    def track(self, symbol: str, client_order_id: str, side: Side) -> TrackedOrder[Id]:
        """Follow a new order (before it is sent: a push may beat the answer)."""
        tracked: TrackedOrder[Id] = TrackedOrder(symbol, client_order_id, None, side)
        self.by_client_id[client_order_id] = tracked
        return tracked

    def get(self, client_order_id: str) -> TrackedOrder[Id] | None:
        return self.by_client_id.get(client_order_id)

    def learn(self, client_order_id: str, order_id: Id) -> None:
        """The exchange's id of ``client_order_id`` (the tracked order's too, if unset)."""
        self._client_id_of[order_id] = client_order_id
        tracked = self.by_client_id.get(client_order_id)
        if tracked is not None and tracked.order_id is None:
            tracked.order_id = order_id

    def client_id_of(self, order_id: Id | None) -> str | None:
        return None if order_id is None else self._client_id_of.get(order_id)

    def finish(self, client_order_id: str) -> None:
        tracked = self.by_client_id.get(client_order_id)
        if tracked is not None:
            tracked.final = True

    def any_open(self) -> bool:
        return any(not t.final for t in self.by_client_id.values())

    def __iter__(self):  # noqa: ANN204
        return iter(list(self.by_client_id.values()))


class FillGate:
    """Each (symbol, trade id) passes once, whichever path (stream, REST) brings it first;
    ``last_trade_id`` is where the next REST catch-up starts."""

    def __init__(self) -> None:
        self._seen: set[tuple[str, int]] = set()
        self.last_trade_id: dict[str, int] = {}
        self.duplicates = 0

    def seen(self, symbol: str, trade_id: int) -> bool:
        return (symbol, trade_id) in self._seen

    def admit(self, symbol: str, trade_id: int) -> bool:
        """True the first time this trade is seen (then it is recorded), else False."""
        key = (symbol, trade_id)
        if key in self._seen:
            self.duplicates += 1
            return False
        self._seen.add(key)
        if trade_id > self.last_trade_id.get(symbol, -1):
            self.last_trade_id[symbol] = trade_id
        return True
