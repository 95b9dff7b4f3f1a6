"""Virtual-time driver: the matching core, synthetic participants and faults on a ManualClock.

No sockets and no asyncio: an event loop over SIMULATED time that jumps from one due action
to the next (participants' agenda, timers the caller set), so a day of market runs in seconds.
It exposes a venue-like interface for backtests (place/cancel/query/open orders/balances/
fills, book snapshots) and callbacks for order, fill, balance and book events of the accounts
created through it. The same scenario and seed give the same sequence of market states.

Callbacks are delivered after the exchange call that caused them has finished (never from
inside the matching engine), in the order the exchange emitted them; a callback may place or
cancel orders.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from bitrue_sim.core.clock import ManualClock
from bitrue_sim.core.exchange import Exchange
from bitrue_sim.core.markets import DEFAULT_MARKETS, MarketSpec
from bitrue_sim.core.model import (
    Balance,
    BalanceChanged,
    BookChanged,
    Fill,
    Order,
    OrderChanged,
    fast_factory,
)
from bitrue_sim.errors import ExchangeError
from bitrue_sim.faults import FaultInjector, FaultProfile, error_body
from bitrue_sim.scenarios import build_market

DEFAULT_START_MS = 1_700_000_000_000
ORDER_PATH = "/api/v1/order"
# Orders and fills an account created here keeps per symbol (at least; see
# ``Exchange.create_account``): two full pages of allOrders/myTrades (limit <= 1000). A
# backtest reads only recent history, and a day of quoting must not grow the ledger.
HISTORY_LIMIT = 2_000


class UnknownOutcomeError(ExchangeError):
    """A 5xx from a mutating call: the caller cannot know whether it was executed.

    ``executed`` says what really happened; it is for tests of reconciliation only (a real
    venue never tells).
    """

    def __init__(self, status: int, executed: bool) -> None:
        code, msg = error_body(status)
        super().__init__(status, code, msg)
        self.executed = executed


@dataclass(frozen=True)
class MarketState:
    """One symbol's public state at one moment (what determinism is checked on)."""

    time_ms: int
    symbol: str
    bids: tuple[tuple[Decimal, Decimal], ...]
    asks: tuple[tuple[Decimal, Decimal], ...]
    last_price: Decimal
    trades: int


@dataclass(frozen=True)
class BookUpdate:
    symbol: str
    time_ms: int


_new_book_update = fast_factory(BookUpdate)  # one per book change the callbacks hear of

OrderCallback = Callable[[Order, str], None]  # (order snapshot, reason)
FillCallback = Callable[[Fill], None]
BalanceCallback = Callable[[int, Balance], None]  # (account id, balance)
BookCallback = Callable[[BookUpdate], None]


class VirtualVenue:
    """The simulated exchange in virtual time, driven by ``run_until``/``run_for``."""

    def __init__(
        self,
        scenario: str | None = "calm",
        seed: int = 0,
        symbols: Sequence[str] | None = None,
        start_ms: int = DEFAULT_START_MS,
        faults: FaultProfile | None = None,
        markets: tuple[MarketSpec, ...] = DEFAULT_MARKETS,
    ) -> None:
        self.clock = ManualClock(start_ms)
        self.exchange = Exchange(markets, clock=self.clock, seed=seed)
        self.faults = FaultInjector(faults or FaultProfile(), seed, self.clock.now_ms)
        self.participants = (
            build_market(self.exchange, scenario, seed, tuple(symbols) if symbols else None)
            if scenario else None
        )
        self.symbols = tuple(symbols or (self.participants.symbols if self.participants
                                         else [m.symbol for m in markets]))
        if self.participants is not None:
            # their order and balance events never reach a callback: do not build them
            for account_id in (self.participants.maker_account, self.participants.taker_account):
                self.exchange.set_account_events(account_id, False)
        self._accounts: set[int] = set()
        # callbacks: tuples, replaced when one is added (a delivery goes through them as
        # they were when it began, as through a copy)
        self._order_cbs: tuple[OrderCallback, ...] = ()
        self._fill_cbs: tuple[FillCallback, ...] = ()
        self._balance_cbs: tuple[BalanceCallback, ...] = ()
        self._book_cbs: tuple[BookCallback, ...] = ()
        self._pending: deque[object] = deque()
        # symbols whose book change is queued: a later change before it is delivered adds
        # nothing (a callback hears "this book changed now" once, and reads the book then)
        self._book_queued: set[str] = set()
        self._timers: list[tuple[int, int, Callable[[], None]]] = []
        self._timer_seq = 0
        self.exchange_events = 0
        self.exchange.subscribe(self._on_exchange_event, trades=False)  # (it reads none)
        if self.participants is not None:
            self.participants.step(start_ms)  # the opening book
        self._deliver()

    # ---- accounts and callbacks ----
    def create_account(
        self,
        balances: Mapping[str, Decimal | str | int],
        maker_commission: Decimal = Decimal("0.002"),
        taker_commission: Decimal = Decimal("0.002"),
        history_limit: int | None = HISTORY_LIMIT,
    ) -> int:
        """An account whose events reach the callbacks (participants' events do not). It
        keeps the latest ``history_limit`` orders and fills per symbol (None: all of them)."""
        account_id = self.exchange.create_account(
            {asset: Decimal(amount) for asset, amount in balances.items()},
            maker_commission=maker_commission,
            taker_commission=taker_commission,
            history_limit=history_limit,
        )
        self._accounts.add(account_id)
        return account_id

    def on_order(self, callback: OrderCallback) -> None:
        self._order_cbs = (*self._order_cbs, callback)

    def on_fill(self, callback: FillCallback) -> None:
        self._fill_cbs = (*self._fill_cbs, callback)

    def on_balance(self, callback: BalanceCallback) -> None:
        self._balance_cbs = (*self._balance_cbs, callback)

    def on_book(self, callback: BookCallback) -> None:
        """``callback(update)`` when a symbol's book changed: once for the changes made
        before it is delivered (a participant's cancel and place are one update)."""
        self._book_cbs = (*self._book_cbs, callback)

    # ---- time ----
    def now_ms(self) -> int:
        return self.clock.now_ms()

    def call_at(self, at_ms: int, callback: Callable[[], None]) -> None:
        """Run ``callback`` when simulated time reaches ``at_ms`` (a strategy's timer)."""
        self._timer_seq += 1
        heapq.heappush(self._timers, (max(int(at_ms), self.now_ms()), self._timer_seq, callback))

    def call_later(self, delay_ms: int, callback: Callable[[], None]) -> None:
        self.call_at(self.now_ms() + delay_ms, callback)

    def run_until(self, end_ms: int) -> int:
        """Process every participant action and timer due by ``end_ms``, in time order, then
        leave the clock at ``end_ms``. Returns the number of actions run."""
        ran = 0
        participants = self.participants
        timers = self._timers
        clock = self.clock
        now_ms = clock.now_ms
        next_event_ms = participants.next_event_ms if participants is not None else None
        while True:
            next_market = next_event_ms() if next_event_ms is not None else None
            next_timer = timers[0][0] if timers else None
            # the earlier of the two due by ``end_ms``; the market's action first on a tie
            if next_market is not None and next_market <= end_ms and (
                    next_timer is None or next_market <= next_timer):
                if next_market > now_ms():
                    clock.set(next_market)
                ran += participants.step(next_market)  # type: ignore[union-attr]
            elif next_timer is not None and next_timer <= end_ms:
                if next_timer > now_ms():
                    clock.set(next_timer)
                _, _, callback = heapq.heappop(timers)
                callback()
                ran += 1
            else:
                break
            if self._pending:
                self._deliver()
        if end_ms > self.clock.now_ms():
            self.clock.set(end_ms)
        return ran

    def run_for(self, duration_ms: int) -> int:
        return self.run_until(self.now_ms() + duration_ms)

    # ---- venue calls ----
    def place_order(self, account_id: int, symbol: str, side: str, order_type: str,
                    quantity: Decimal | None, price: Decimal | None = None,
                    client_order_id: str | None = None,
                    quote_order_qty: Decimal | None = None) -> Order:
        """Place an order; raises ExchangeError (rejections, injected 429/503) or
        UnknownOutcomeError (injected 5xx: the order may exist)."""
        return self._mutate("POST", lambda: self.exchange.place_order(
            account_id, symbol, side, order_type, quantity, price, client_order_id,
            quote_order_qty))

    def cancel_order(self, account_id: int, symbol: str, order_id: int | None = None,
                     client_order_id: str | None = None) -> Order:
        return self._mutate("DELETE", lambda: self.exchange.cancel_order(
            account_id, symbol, order_id=order_id, client_order_id=client_order_id))

    def get_order(self, account_id: int, symbol: str, order_id: int | None = None,
                  client_order_id: str | None = None) -> Order:
        return self.exchange.get_order(account_id, symbol, order_id=order_id,
                                       client_order_id=client_order_id)

    def open_orders(self, account_id: int, symbol: str | None = None) -> list[Order]:
        return self.exchange.open_orders(account_id, symbol)

    def balances(self, account_id: int) -> dict[str, Balance]:
        return self.exchange.balances(account_id)

    def fills(self, account_id: int, symbol: str, from_id: int | None = None,
              limit: int = 1000) -> list[Fill]:
        return self.exchange.my_trades(account_id, symbol, from_id=from_id, limit=limit)

    def depth(self, symbol: str, limit: int = 100):
        return self.exchange.depth(symbol, limit)

    def depth_sides(self, symbol: str, limit: int = 100):
        """``depth`` as shared tuples (``Exchange.depth_sides``): read, never change them."""
        return self.exchange.depth_sides(symbol, limit)

    def market_state(self, symbol: str, levels: int = 20) -> MarketState:
        bids, asks = self.exchange.depth(symbol, levels)
        trades = self.exchange.recent_trades(symbol, 1)
        return MarketState(self.now_ms(), symbol, tuple(bids), tuple(asks),
                           self.exchange.last_price(symbol),
                           trades[-1].trade_id if trades else 0)

    # ---- internals ----
    def _mutate(self, method: str, call: Callable[[], Order]) -> Order:
        fault = self.faults.http(method, ORDER_PATH)
        if fault.delay_ms:
            self.run_for(int(fault.delay_ms))  # the market moves while the request travels
        if fault.reject_status is not None:
            if fault.unknown_outcome:
                raise UnknownOutcomeError(fault.reject_status, executed=False)
            raise ExchangeError(fault.reject_status, fault.reject_code, fault.reject_msg,
                                headers=dict(fault.reject_headers))
        try:
            result = call()
        except ExchangeError:
            if fault.after_status is not None:
                raise UnknownOutcomeError(fault.after_status, executed=False) from None
            raise
        finally:
            self._deliver()
        if fault.after_status is not None:
            raise UnknownOutcomeError(fault.after_status, executed=True)
        return result

    def _on_exchange_event(self, event: object) -> None:
        self.exchange_events += 1
        kind = type(event)
        if kind is BookChanged:
            if self._book_cbs:
                symbol = event.symbol  # type: ignore[attr-defined]
                queued = self._book_queued
                if symbol not in queued:
                    queued.add(symbol)
                    self._pending.append(event)
        elif kind is OrderChanged:
            if event.order.account_id in self._accounts:  # type: ignore[attr-defined]
                self._pending.append(event)
        elif kind is BalanceChanged:
            if event.account_id in self._accounts:  # type: ignore[attr-defined]
                self._pending.append(event)

    def _deliver(self) -> None:
        pending = self._pending
        while pending:
            event: Any = pending.popleft()
            kind = type(event)
            if kind is OrderChanged:
                for cb in self._order_cbs:
                    cb(event.order, event.reason)
                if event.fill is not None:
                    for fill_cb in self._fill_cbs:
                        fill_cb(event.fill)
            elif kind is BalanceChanged:
                balance = Balance(event.asset, event.free, event.locked)
                for balance_cb in self._balance_cbs:
                    balance_cb(event.account_id, balance)
            else:
                self._book_queued.discard(event.symbol)
                update = _new_book_update(event.symbol, event.time)
                for book_cb in self._book_cbs:
                    book_cb(update)
