"""The in-process exchange: accounts, balances, filters, matching and history, no sockets.

The REST/WebSocket server and the backtest driver both sit on top of this class. All state
changes happen synchronously inside one method call; the events they cause are delivered to
the listeners in order after the state is consistent again, so a listener may read the exchange.

Internally prices are integer ticks and quantities integer lots (see ``book.py``); Decimal is
used at the edges (validation, snapshots) and for balances, which are exact: amounts are sums
of products of exact decimals, within the 28 significant digits of Python's default decimal
context (e.g. 10**12 USDT held to 10**-15).
"""

from __future__ import annotations

import heapq
from bisect import bisect_left
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Mapping
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from itertools import islice
from operator import attrgetter, itemgetter

from bitrue_sim.errors import ExchangeError

from .book import Book
from .clock import Clock, WallClock
from .ids import IdSource
from .markets import DEFAULT_MARKETS, MarketSpec
from .model import (
    Account,
    Balance,
    BookChanged,
    Fill,
    Order,
    PublicTrade,
    new_balance_changed,
    new_book_changed,
    new_fill,
    new_order,
    new_order_changed,
    new_public_trade,
    new_trade_happened,
)

_ZERO = Decimal(0)
_DAY_MS = 24 * 60 * 60 * 1000
_MINUTE_MS = 60_000
_DAY_MINUTES = 24 * 60
# The latest _KEEP_TRADES public trades are kept (for /trades, /aggTrades, klines); the 24 h
# ticker reads per-minute integer statistics instead, so memory stays flat over long runs.
_KEEP_TRADES = 10_000
# per-minute statistics: [minute, open, high, low (ticks), lots, units, count, first, last id]
_M_MINUTE, _M_OPEN, _M_HIGH, _M_LOW, _M_LOTS, _M_UNITS, _M_COUNT, _M_FIRST, _M_LAST = range(9)

Listener = Callable[[object], None]


# ------------------------------------------------------------------------- documented errors
def _not_found() -> ExchangeError:
    # Bitrue answers an unknown (or no longer open, for cancel) order with HTTP 200, -2013.
    return ExchangeError(200, -2013, "Order does not exist.")


def _filter_error(msg: str) -> ExchangeError:
    return ExchangeError(412, -1111, msg)


def _param_error(msg: str) -> ExchangeError:
    return ExchangeError(412, -1102, msg)


def _insufficient(asset: str, need: Decimal, have: Decimal) -> ExchangeError:
    return ExchangeError(
        406,
        -2010,
        f"Insufficient account balance. The order needs {need} {asset} free, the account has "
        f"{have}; cancel orders or deposit first.",
    )


def _fmt(value: Decimal) -> str:
    return format(value, "f")


# ------------------------------------------------------------------------- mutable state
_OPEN = ("NEW", "PARTIALLY_FILLED")  # the statuses of an order still on the book
_KEEP_DECIMALS = 4096  # ``_Market.price_of`` and ``qty_of`` start again beyond this many


class _DecimalsOf(dict):
    """Integer ticks (or lots) -> their exact Decimal, ``int * unit``, made on first read."""

    __slots__ = ("unit",)

    def __init__(self, unit: Decimal) -> None:
        super().__init__()
        self.unit = unit

    def __missing__(self, key: int) -> Decimal:
        value = self[key] = Decimal(key) * self.unit
        return value


class _Market:
    """A symbol's rules pre-converted to ticks/lots, its book, last price and trades."""

    __slots__ = (
        "spec", "symbol", "base", "quote", "tick", "step", "unit", "book",
        "min_ticks", "max_ticks", "min_lots", "max_lots", "min_val", "min_val_units",
        "last_ticks", "band_src", "bid_lo", "bid_hi", "ask_lo", "ask_hi", "trades", "minutes",
        "zero_qty", "zero_quote", "price_of", "qty_of", "last_depth", "last_changed",
    )  # fmt: skip

    def __init__(self, spec: MarketSpec) -> None:
        self.spec = spec
        self.symbol = spec.symbol
        self.base = spec.base_asset
        self.quote = spec.quote_asset
        self.tick = spec.tick_size
        self.step = spec.step_size
        self.unit = spec.tick_size * spec.step_size  # quote value of 1 tick x 1 lot
        self.book = Book()
        self.min_ticks = int((spec.min_price / spec.tick_size).to_integral_value(ROUND_CEILING))
        self.max_ticks = int((spec.max_price / spec.tick_size).to_integral_value(ROUND_FLOOR))
        self.min_lots = int((spec.min_qty / spec.step_size).to_integral_value(ROUND_CEILING))
        self.max_lots = int((spec.max_qty / spec.step_size).to_integral_value(ROUND_FLOOR))
        self.min_val = spec.min_val
        # minVal (minimum notional) in ticks*lots units, so the hot path compares integers
        self.min_val_units = int((spec.min_val / self.unit).to_integral_value(ROUND_CEILING))
        self.last_ticks = int(spec.initial_price / spec.tick_size)
        self.band_src = -1
        self.bid_lo = self.bid_hi = self.ask_lo = self.ask_hi = 0
        # PublicTrade fields as plain tuples: atomic-only tuples escape the cyclic GC, which
        # otherwise dominates a long run; snapshots are built when someone asks.
        self.trades: deque[tuple] = deque(maxlen=_KEEP_TRADES)
        self.minutes: deque[list[int]] = deque()  # trade statistics per minute, last 24 h
        self.zero_qty = Decimal(0) * self.step  # "0.0" with the market's volume scale
        self.zero_quote = Decimal(0) * self.unit
        # ``depth``'s Decimals by ticks and by lots (the same value each time: kept, bounded)
        self.price_of: dict[int, Decimal] = _DecimalsOf(self.tick)
        self.qty_of: dict[int, Decimal] = _DecimalsOf(self.step)
        # ``depth_sides``'s last answer per side (bids, asks): the side's change count, the
        # limit and the levels' Decimals, given again while the count is the same
        self.last_depth: list[tuple[int, int | None, tuple[tuple[Decimal, Decimal], ...]]
                              | None] = [None, None]
        self.last_changed: BookChanged | None = None  # ``book_changed``'s last event

    def book_changed(self, now: int) -> BookChanged:
        """The event "this book changed at ``now``": one object per instant (events are
        immutable; a participant's cancel and new order are two changes at one instant)."""
        event = self.last_changed
        if event is None or event.time != now:
            event = self.last_changed = new_book_changed(self.symbol, now)
        return event

    def refresh_band(self) -> None:
        """PERCENT_PRICE_BY_SIDE bounds in ticks, recomputed only when the last price moved."""
        last = Decimal(self.last_ticks)
        spec = self.spec
        self.bid_lo = int((last * spec.bid_multiplier_down).to_integral_value(ROUND_CEILING))
        self.bid_hi = int((last * spec.bid_multiplier_up).to_integral_value(ROUND_FLOOR))
        self.ask_lo = int((last * spec.ask_multiplier_down).to_integral_value(ROUND_CEILING))
        self.ask_hi = int((last * spec.ask_multiplier_up).to_integral_value(ROUND_FLOOR))
        self.band_src = self.last_ticks


class _Account:
    __slots__ = (
        "account_id", "maker", "taker", "free", "locked",
        "open", "open_cids", "cids", "orders_by_symbol", "fills_by_symbol", "history", "emit",
        "limit", "trim_at",
    )  # fmt: skip

    def __init__(
        self, account_id: int, maker: Decimal, taker: Decimal, history: bool,
        limit: int | None = None,
    ) -> None:  # fmt: skip
        self.account_id = account_id
        # False: closed orders and fills are forgotten (synthetic participants in long runs)
        self.history = history
        # Keep at least the latest ``limit`` orders and fills per symbol (None: everything);
        # a list is trimmed back to ``limit`` when it reaches ``trim_at`` (amortised cost).
        self.limit = limit
        self.trim_at = None if limit is None else limit + max(1, limit // 16)
        # False: no OrderChanged/BalanceChanged events are built for this account
        self.emit = True
        self.maker = maker
        self.taker = taker
        self.free: dict[str, Decimal] = {}
        self.locked: dict[str, Decimal] = {}
        self.open: dict[int, _Order] = {}  # insertion order = placement order
        self.open_cids: dict[str, _Order] = {}
        self.cids: dict[str, _Order] = {}  # latest order per client id, open or not
        self.orders_by_symbol: defaultdict[str, list[_Order]] = defaultdict(list)
        # Fill fields as tuples (see _Market.trades), per symbol in trade order
        self.fills_by_symbol: defaultdict[str, list[tuple]] = defaultdict(list)


class _Order:
    """The engine's mutable order; also the entry the book holds.

    Integer ticks/lots drive matching; Decimal quantities are made only for snapshots.
    """

    __slots__ = (
        "order_id", "cid", "account", "market", "is_buy", "is_limit", "ticks", "price",
        "orig_lots", "leaves", "exec_lots", "cum_units", "orig_qty", "status", "time",
        "update_time", "live", "locked",
    )  # fmt: skip

    def __init__(
        self, order_id: int, cid: str, account: _Account, market: _Market, is_buy: bool,
        is_limit: bool, ticks: int, price: Decimal, orig_lots: int, orig_qty: Decimal, now: int,
    ) -> None:  # fmt: skip
        self.order_id = order_id
        self.cid = cid
        self.account = account
        self.market = market
        self.is_buy = is_buy
        self.is_limit = is_limit
        self.ticks = ticks
        self.price = price
        self.orig_lots = orig_lots
        self.leaves = orig_lots
        self.exec_lots = 0
        self.cum_units = 0
        self.orig_qty = orig_qty
        self.status = "NEW"
        self.time = now
        self.update_time = now
        self.live = False
        self.locked = 0  # units (BUY) or lots (SELL) still locked for this order

    def snapshot(self) -> Order:
        m = self.market
        return new_order(
            self.order_id,
            self.cid,
            self.account.account_id,
            m.symbol,
            "BUY" if self.is_buy else "SELL",
            "LIMIT" if self.is_limit else "MARKET",
            self.price,
            self.orig_qty,
            self.exec_lots * m.step if self.exec_lots else m.zero_qty,
            self.cum_units * m.unit if self.cum_units else m.zero_quote,
            self.status,
            self.time,
            self.update_time,
        )


# ------------------------------------------------------------------------- the exchange
class Exchange:
    """A Bitrue-like spot exchange in memory: deterministic for a given seed and clock."""

    def __init__(
        self,
        markets: Iterable[MarketSpec] = DEFAULT_MARKETS,
        clock: Clock | None = None,
        seed: int = 0,
    ) -> None:
        self.clock: Clock = clock if clock is not None else WallClock()
        self.ids = IdSource(seed)
        self.markets: dict[str, MarketSpec] = {}
        self._markets: dict[str, _Market] = {}
        for spec in markets:
            self.markets[spec.symbol] = spec
            self._markets[spec.symbol] = _Market(spec)
        self._accounts: dict[int, _Account] = {}
        self._orders: dict[int, _Order] = {}
        self._unrecorded_fees: dict[str, Decimal] = {}  # of fills no account keeps
        self._listeners: tuple[Listener, ...] = ()  # replaced, never mutated
        self._trade_listeners: tuple[Listener, ...] = ()  # those that want TradeHappened
        self._events: list[object] | None = None  # buffer while listeners exist
        self._backlog: deque[object] = deque()
        self._dispatching = False

    # ------------------------------------------------------------------ accounts
    def create_account(
        self,
        balances: Mapping[str, Decimal],
        maker_commission: Decimal = Decimal("0.002"),
        taker_commission: Decimal = Decimal("0.002"),
        keep_history: bool = True,
        history_limit: int | None = None,
    ) -> int:
        """Open an account with free balances; returns its id (1, 2, 3... in creation order).

        ``keep_history=False`` is for synthetic participants: their orders are forgotten once
        closed and their fills are not recorded, so memory stays flat over a long run. Such an
        account can query and cancel only its open orders (a closed one answers -2013), and
        its ``all_orders``/``my_trades``/``ledger`` list only what is open. By default real
        accounts keep everything: the ledger (the chaos soak's judge) needs it.

        ``history_limit=N`` bounds a real account for long runs that never read its whole
        ledger (backtests): per symbol it keeps every open order, at least the latest N
        orders and at least the latest N fills (at most N + N/16 of each: trimming is batched).
        Anything ``all_orders``/``my_trades`` return for the latest N is unchanged; an older
        closed order answers -2013, as a participant's does. The fees of forgotten fills stay
        in ``fees_collected``.
        """
        for rate in (maker_commission, taker_commission):
            if not isinstance(rate, Decimal) or rate < 0 or rate >= 1:
                raise ValueError(f"commission rates are Decimal fractions in [0, 1), got {rate!r}")
        if history_limit is not None and (
            isinstance(history_limit, bool)
            or not isinstance(history_limit, int)
            or history_limit < 1
        ):
            raise ValueError(f"history_limit must be None or an int >= 1, got {history_limit!r}")
        account_id = len(self._accounts) + 1
        acct = _Account(
            account_id,
            maker_commission,
            taker_commission,
            keep_history,
            history_limit if keep_history else None,
        )
        for asset, amount in balances.items():
            amount = _as_decimal(amount, f"balance of {asset}")
            if amount < 0:
                raise ValueError(f"initial balance of {asset} must be >= 0, got {amount}")
            acct.free[asset.upper()] = amount
            acct.locked[asset.upper()] = _ZERO
        self._accounts[account_id] = acct
        return account_id

    def _acct(self, account_id: int) -> _Account:
        try:
            return self._accounts[account_id]
        except KeyError:
            raise KeyError(f"no account with id {account_id}; create it first") from None

    def account(self, account_id: int) -> Account:
        acct = self._acct(account_id)
        return Account(acct.account_id, acct.maker, acct.taker)

    def balances(self, account_id: int) -> dict[str, Balance]:
        acct = self._acct(account_id)
        return {
            asset: Balance(asset, free, acct.locked.get(asset, _ZERO))
            for asset, free in acct.free.items()
        }

    def deposit(self, account_id: int, asset: str, amount: Decimal) -> None:
        """Credit free balance (admin and test helper)."""
        acct = self._acct(account_id)
        amount = _as_decimal(amount, "deposit amount")
        if amount <= 0:
            raise ValueError(f"deposit amount must be > 0, got {amount}")
        self._begin()
        self._move(acct, asset.upper(), amount, _ZERO, self.clock.now_ms())
        self._flush()

    # ------------------------------------------------------------------ markets
    def market(self, symbol: str) -> MarketSpec:
        return self._market(symbol).spec

    def _market(self, symbol: str) -> _Market:
        m = self._markets.get(symbol)
        if m is None:
            m = self._markets.get(symbol.upper()) if isinstance(symbol, str) else None
            if m is None:
                raise ExchangeError(412, -1121, "Invalid symbol.")
        return m

    # ------------------------------------------------------------------ orders
    def place_order(
        self,
        account_id: int,
        symbol: str,
        side: str,
        order_type: str,
        quantity: Decimal | None,
        price: Decimal | None,
        client_order_id: str | None = None,
        quote_order_qty: Decimal | None = None,
    ) -> Order:
        """Validate, match, rest and lock the remainder (LIMIT); returns the final snapshot.

        LIMIT orders are GTC: a crossing limit order trades as taker against resting orders
        at their prices and the rest stays on the book. MARKET orders take what the book has;
        whatever cannot fill is cancelled by the engine (status CANCELED, executed part kept).
        MARKET BUY takes ``quantity`` in base (as Bitrue spot does: its docs require only
        ``quantity`` for MARKET and ccxt sends the base amount for spot market buys). If
        ``quote_order_qty`` is given (a Binance-style extension Bitrue does not document), it
        takes precedence: the order spends at most that much quote, whole lots only.
        Self-trades are allowed: Bitrue documents no self-trade prevention, so an account's
        orders may match each other (both fees are charged).

        Checks run in this order: symbol, side/type, PRICE_FILTER, PERCENT_PRICE_BY_SIDE,
        LOT_SIZE (step, minQty, maxQty, minVal), duplicate client order id, balance.
        """
        acct = self._accounts.get(account_id)
        if acct is None:
            acct = self._acct(account_id)
        m = self._markets.get(symbol)
        if m is None:
            m = self._market(symbol)
        if side == "BUY":
            is_buy = True
        elif side == "SELL":
            is_buy = False
        else:
            raise _param_error(f"Illegal parameter 'side': {side!r}; use BUY or SELL.")
        if order_type == "LIMIT":
            is_limit = True
        elif order_type == "MARKET":
            is_limit = False
        else:
            raise _param_error(f"Illegal parameter 'type': {order_type!r}; use LIMIT or MARKET.")

        # ---- filters
        ticks = 0
        qoq: Decimal | None = None
        if is_limit:
            if price is None:
                raise _param_error("Mandatory parameter 'price' was not sent (LIMIT orders).")
            if type(price) is not Decimal:
                price = _as_decimal(price, "price")
            ticks = self._price_ticks(m, price, is_buy)
        else:
            price = _ZERO
        max_units: int | None = None
        if quote_order_qty is not None:
            if is_limit or not is_buy:
                raise _param_error(
                    "Illegal parameter 'quoteOrderQty': only MARKET BUY orders take it."
                )
            lots = 0
            qoq = _as_decimal(quote_order_qty, "quoteOrderQty")
            if qoq <= 0:
                raise _filter_error("Filter failure: LOT_SIZE (quoteOrderQty must be > 0).")
            if qoq < m.min_val:
                raise _filter_error(
                    f"Filter failure: LOT_SIZE (order value {qoq} is below minVal "
                    f"{_fmt(m.min_val)}; raise quoteOrderQty)."
                )
            max_units = int((qoq / m.unit).to_integral_value(ROUND_FLOOR))
            orig_qty = m.zero_qty
        elif quantity is None:
            raise _param_error("Mandatory parameter 'quantity' was not sent.")
        else:
            if type(quantity) is not Decimal:
                quantity = _as_decimal(quantity, "quantity")
            lots = self._qty_lots(m, quantity)
            if lots * (ticks if is_limit else m.last_ticks) < m.min_val_units:
                value = lots * (ticks if is_limit else m.last_ticks) * m.unit
                raise _filter_error(
                    f"Filter failure: LOT_SIZE (order value {value} is below minVal "
                    f"{_fmt(m.min_val)}; raise quantity or price)."
                )
            orig_qty = quantity
        if client_order_id is not None:
            if not isinstance(client_order_id, str) or not client_order_id:
                raise _param_error("Illegal parameter 'newClientOrderId': empty.")
            if client_order_id in acct.open_cids:
                raise ExchangeError(
                    406,
                    -2010,
                    f"Duplicate order sent: newClientOrderId {client_order_id!r} is used by an "
                    f"open order of this account; use a new id.",
                )
        o, result = self._accept(acct, m, is_buy, is_limit, ticks, lots, price, orig_qty,
                                 max_units, qoq if max_units is not None else None,
                                 client_order_id, True)
        assert result is not None
        return result

    def place_limit_lots(self, account_id: int, symbol: str, is_buy: bool, ticks: int,
                         lots: int) -> tuple[int, bool]:
        """A LIMIT order priced in ticks and sized in lots (the synthetic participants' way
        in): what ``place_order`` does with ``tick * ticks`` and ``step * lots``, without
        parsing Decimals or making the answer's snapshot. Returns (order id, still open).
        An order the integer checks (the same filters) refuse goes through ``place_order``,
        which raises its error."""
        acct = self._accounts.get(account_id)
        m = self._markets.get(symbol)
        if (acct is not None and m is not None and 0 < ticks and m.min_ticks <= ticks <= m.max_ticks
                and 0 < lots and m.min_lots <= lots <= m.max_lots
                and lots * ticks >= m.min_val_units):
            if m.band_src != m.last_ticks:
                m.refresh_band()
            if (m.bid_lo <= ticks <= m.bid_hi) if is_buy else (m.ask_lo <= ticks <= m.ask_hi):
                o, _ = self._accept(acct, m, is_buy, True, ticks, lots, m.tick * ticks,
                                    m.step * lots, None, None, None, False)
                return o.order_id, o.status in _OPEN
        m = self._market(symbol)
        order = self.place_order(account_id, symbol, "BUY" if is_buy else "SELL", "LIMIT",
                                 m.step * lots, m.tick * ticks)
        return order.order_id, order.status in _OPEN

    def _accept(self, acct: _Account, m: _Market, is_buy: bool, is_limit: bool, ticks: int,
                lots: int, price: Decimal, orig_qty: Decimal, max_units: int | None,
                qoq: Decimal | None, client_order_id: str | None,
                answer: bool) -> tuple[_Order, Order | None]:
        """``place_order`` once its filters passed: funds, then match, rest and lock. Returns
        the order and (``answer``) its final snapshot, made before the events go out."""
        account_id = acct.account_id
        quantity = orig_qty

        # ---- funds
        free = acct.free
        book = m.book
        if is_buy:
            asset = m.quote
            if is_limit:
                need = Decimal(ticks * lots) * m.unit
            elif max_units is None:
                need = Decimal(book.sweep_cost(True, lots)[1]) * m.unit
            else:
                need = qoq
        else:
            asset = m.base
            need = quantity
        have = free.get(asset, _ZERO)
        if have < need:
            raise _insufficient(asset, need, have)

        # ---- accepted
        now = self.clock.now_ms()
        order_id = self.ids.next_order_id()
        cid = client_order_id if client_order_id is not None else f"sim{order_id}"
        o = _Order(order_id, cid, acct, m, is_buy, is_limit, ticks, price, lots, orig_qty, now)
        history = acct.history
        if history:
            self._orders[order_id] = o
            rows = acct.orders_by_symbol[m.symbol]
            rows.append(o)
            acct.cids[cid] = o
            if acct.trim_at is not None and len(rows) >= acct.trim_at:
                self._trim_orders(acct, rows)

        events = [] if self._listeners else None
        self._events = events
        # account-level events only when someone may want them; ``snap`` is the latest
        # snapshot made for an event, reused as the result when nothing changed since
        own = events if acct.emit else None
        snap = None
        if own is not None:
            snap = o.snapshot()
            own.append(new_order_changed(snap, None, "NEW"))

        # The taker pays its immediate trades from free balance (checked above to cover the
        # whole order); only what rests on the book gets locked, so a fully crossing order
        # never locks and unlocks.
        fills = book.match(is_buy, ticks if is_limit else None, lots or None, max_units)
        if fills:
            # a quote-sized buy is complete when its budget ran out before the book did
            quote_done = max_units is not None and book.best_ask() is not None
            last = self._settle(o, fills, now, quote_done)
            if last is not None:
                snap = last
        if is_limit:
            leaves = o.leaves
            if leaves:
                # LIMIT orders lock what they may spend: quote at the limit price, or the base
                if leaves != lots:
                    need = Decimal(ticks * leaves) * m.unit if is_buy else leaves * m.step
                o.locked = ticks * leaves if is_buy else leaves
                free_now = free[asset] = free[asset] - need
                locked = acct.locked[asset] = acct.locked.get(asset, _ZERO) + need
                if own is not None:
                    own.append(
                        new_balance_changed(account_id, asset, free_now, locked, -need, need, now)
                    )
                book.add(o)
                acct.open[order_id] = o  # only a resting order is open
                acct.open_cids[cid] = o
                if not history:
                    self._orders[order_id] = o  # known while open only
        else:
            # MARKET: whatever the book could not fill is cancelled by the engine.
            if max_units is not None:
                # A quote-sized buy is done when its budget no longer buys a lot; if the book
                # ran dry first, the rest is cancelled. Its quantity is what it bought.
                o.orig_lots = o.exec_lots
                o.orig_qty = o.exec_lots * m.step
                unfilled = not fills or book.best_ask() is None
            else:
                unfilled = o.leaves > 0
            o.leaves = 0
            if max_units is not None:
                snap = None  # its quantity changed above
            if unfilled:
                o.status = "CANCELED"
                o.update_time = now
                snap = None
                if own is not None:
                    snap = o.snapshot()
                    own.append(new_order_changed(snap, None, "CANCELED_BY_ENGINE"))
            else:
                o.status = "FILLED"  # (already so after its last trade: ``snap`` stays valid)
        result = (snap if snap is not None else o.snapshot()) if answer else None
        if events is not None:
            if fills or is_limit:
                events.append(m.book_changed(now))
            self._flush()
        else:
            self._events = None
        return o, result

    def _price_ticks(self, m: _Market, price: Decimal, is_buy: bool) -> int:
        """PRICE_FILTER and PERCENT_PRICE_BY_SIDE; returns the price in ticks."""
        tick = m.tick
        q = price / tick
        ticks = int(q)
        # ``q * tick != price`` catches a quotient the 28-digit context had to round
        if ticks != q or ticks <= 0 or q * tick != price:
            if price <= 0:
                raise _filter_error(f"Filter failure: PRICE_FILTER (price {price} must be > 0).")
            raise _filter_error(
                f"Filter failure: PRICE_FILTER (price {price} is not a multiple of tickSize "
                f"{_fmt(m.tick)}; round it to {m.spec.price_scale} decimals)."
            )
        if ticks < m.min_ticks:
            raise _filter_error(
                f"Filter failure: PRICE_FILTER (price {price} is below minPrice "
                f"{_fmt(m.spec.min_price)})."
            )
        if ticks > m.max_ticks:
            raise _filter_error(
                f"Filter failure: PRICE_FILTER (price {price} is above maxPrice "
                f"{_fmt(m.spec.max_price)})."
            )
        if m.band_src != m.last_ticks:
            m.refresh_band()
        if is_buy:
            lo, hi = m.bid_lo, m.bid_hi
        else:
            lo, hi = m.ask_lo, m.ask_hi
        if ticks < lo or ticks > hi:
            which = "bid" if is_buy else "ask"
            raise _filter_error(
                f"Filter failure: PERCENT_PRICE_BY_SIDE ({'BUY' if is_buy else 'SELL'} price "
                f"{price} is outside [{_fmt(m.tick * lo)}, {_fmt(m.tick * hi)}] = last price "
                f"{_fmt(m.tick * m.last_ticks)} x {which}MultiplierDown/{which}MultiplierUp)."
            )
        return ticks

    def _qty_lots(self, m: _Market, quantity: Decimal) -> int:
        """LOT_SIZE step, minQty and maxQty; returns the quantity in lots."""
        step = m.step
        q = quantity / step
        lots = int(q)
        if lots != q or lots <= 0 or q * step != quantity:
            if quantity <= 0:
                raise _filter_error(f"Filter failure: LOT_SIZE (quantity {quantity} must be > 0).")
            raise _filter_error(
                f"Filter failure: LOT_SIZE (quantity {quantity} is not a multiple of stepSize "
                f"{_fmt(m.step)}; round it to {m.spec.volume_scale} decimals)."
            )
        if lots < m.min_lots:
            raise _filter_error(
                f"quantity less then minQty. Filter failure: LOT_SIZE (quantity {quantity} is "
                f"below minQty {_fmt(m.spec.min_qty)})."
            )
        if lots > m.max_lots:
            raise _filter_error(
                f"Filter failure: LOT_SIZE (quantity {quantity} is above maxQty "
                f"{_fmt(m.spec.max_qty)})."
            )
        return lots

    def _settle(
        self, taker: _Order, fills: list, now: int, quote_done: bool = False
    ) -> Order | None:
        """Book the trades of one taker: order states, balances, fees, history, events.

        Per trade, events go: maker OrderChanged, maker BalanceChanged(s), taker OrderChanged,
        taker BalanceChanged(s), TradeHappened. The maker pays from its locked funds (locked
        at its own price, which is the trade price); the taker pays from free balance. Each
        side pays its commission in the asset it receives. ``quote_done``: the taker is a
        quote-sized buy that these fills complete (its last trade reports it FILLED with the
        quantity it bought). Returns the taker's last snapshot when one was made for an event
        (the caller reuses it), else None.
        """
        m = taker.market
        step = m.step
        unit = m.unit
        events = self._events
        next_trade_id = self.ids.next_trade_id
        tacct = taker.account
        t_is_buy = taker.is_buy
        t_rate = tacct.taker
        sym = m.symbol
        trades = m.trades
        # the taker pays ``pay`` (quote if buying) and gets ``get``; the maker the reverse
        pay_asset, get_asset = (m.quote, m.base) if t_is_buy else (m.base, m.quote)
        t_side, m_side = ("BUY", "SELL") if t_is_buy else ("SELL", "BUY")
        t_fills = tacct.fills_by_symbol[sym] if tacct.history else None
        orders = self._orders
        unrecorded_fees = self._unrecorded_fees
        pay_total = get_total = _ZERO
        t_snap = None
        t_emit = events is not None and tacct.emit
        append = events.append if events is not None else None
        trade_events = events is not None and bool(self._trade_listeners)
        last_fill = fills[-1]
        hi = lo = fills[0][2]
        lots_total = units_total = 0
        first_trade_id = -1
        for fill in fills:
            maker, lots, ticks = fill
            trade_id = next_trade_id()
            units = lots * ticks
            qty = lots * step
            quote_qty = units * unit
            if t_is_buy:
                pay, get = quote_qty, qty
                maker.locked -= lots
            else:
                pay, get = qty, quote_qty
                maker.locked -= units
            macct = maker.account
            # ---- maker
            maker.exec_lots += lots
            maker.cum_units += units
            maker.update_time = now
            if maker.leaves:
                maker.status = "PARTIALLY_FILLED"
            else:
                maker.status = "FILLED"
                del macct.open[maker.order_id]
                del macct.open_cids[maker.cid]
                if not macct.history:
                    del orders[maker.order_id]
            m_fee = pay * macct.maker
            price = maker.price  # trades happen at the resting order's price
            m_fill = (
                trade_id, maker.order_id, maker.cid, macct.account_id, sym, m_side,
                price, qty, quote_qty, m_fee, pay_asset, True, now,
            )  # fmt: skip
            if macct.history:
                m_fills = macct.fills_by_symbol[sym]
                m_fills.append(m_fill)
                if macct.trim_at is not None and len(m_fills) >= macct.trim_at:
                    self._trim_fills(macct, m_fills)
            elif m_fee:
                unrecorded_fees[pay_asset] = unrecorded_fees.get(pay_asset, _ZERO) + m_fee
            # ---- taker
            taker.exec_lots += lots
            taker.cum_units += units
            taker.update_time = now
            if taker.orig_lots:  # a quote-sized market buy has no base quantity to count down
                taker.leaves -= lots
            elif quote_done and fill is last_fill:
                taker.orig_lots = taker.exec_lots  # its quantity is what it bought
                taker.orig_qty = taker.exec_lots * step
            if taker.leaves or not taker.orig_lots:
                taker.status = "PARTIALLY_FILLED"
            else:
                taker.status = "FILLED"  # (the taker is not in ``open`` until it rests)
            t_fee = get * t_rate
            t_fill = (
                trade_id, taker.order_id, taker.cid, tacct.account_id, sym, t_side, price,
                qty, quote_qty, t_fee, get_asset, False, now,
            )  # fmt: skip
            if t_fills is not None:
                t_fills.append(t_fill)
            elif t_fee:
                unrecorded_fees[get_asset] = unrecorded_fees.get(get_asset, _ZERO) + t_fee
            trade = (trade_id, sym, price, qty, quote_qty, now, not t_is_buy)
            trades.append(trade)
            if first_trade_id < 0:
                first_trade_id = trade_id
            if ticks > hi:
                hi = ticks
            elif ticks < lo:
                lo = ticks
            lots_total += lots
            units_total += units
            if events is None:
                locked = macct.locked
                locked[get_asset] -= get
                free = macct.free
                free[pay_asset] = free.get(pay_asset, _ZERO) + (pay - m_fee)
                pay_total += pay
                get_total += get - t_fee
                continue
            # (balance moves inlined: this loop is the hot path of a run with listeners)
            free, locked = macct.free, macct.locked
            m_locked = locked[get_asset] = locked[get_asset] - get
            m_gain = pay - m_fee
            m_free = free[pay_asset] = free.get(pay_asset, _ZERO) + m_gain
            if macct.emit:
                m_id = macct.account_id
                append(new_order_changed(maker.snapshot(), new_fill(*m_fill), "TRADE"))
                append(new_balance_changed(
                    m_id, get_asset, free.get(get_asset, _ZERO), m_locked, _ZERO, -get, now))
                append(new_balance_changed(
                    m_id, pay_asset, m_free, locked.get(pay_asset, _ZERO), m_gain, _ZERO, now))
            free, locked = tacct.free, tacct.locked
            t_paid = free[pay_asset] = free[pay_asset] - pay
            t_gain = get - t_fee
            t_got = free[get_asset] = free.get(get_asset, _ZERO) + t_gain
            if t_emit:
                t_id = tacct.account_id
                t_snap = taker.snapshot()
                append(new_order_changed(t_snap, new_fill(*t_fill), "TRADE"))
                append(new_balance_changed(
                    t_id, pay_asset, t_paid, locked.get(pay_asset, _ZERO), -pay, _ZERO, now))
                append(new_balance_changed(
                    t_id, get_asset, t_got, locked.get(get_asset, _ZERO), t_gain, _ZERO, now))
            if trade_events:
                append(new_trade_happened(new_public_trade(*trade)))
        if t_fills is not None and tacct.trim_at is not None and len(t_fills) >= tacct.trim_at:
            self._trim_fills(tacct, t_fills)
        if events is None:
            # without listeners the taker's balance moves once per order, not once per fill
            free = tacct.free
            free[pay_asset] = free[pay_asset] - pay_total
            free[get_asset] = free.get(get_asset, _ZERO) + get_total
        m.last_ticks = fills[-1][2]
        minute = now // _MINUTE_MS
        minutes = m.minutes
        if minutes and minutes[-1][_M_MINUTE] == minute:
            b = minutes[-1]
            if hi > b[_M_HIGH]:
                b[_M_HIGH] = hi
            if lo < b[_M_LOW]:
                b[_M_LOW] = lo
            b[_M_LOTS] += lots_total
            b[_M_UNITS] += units_total
            b[_M_COUNT] += len(fills)
            b[_M_LAST] = trade_id
        else:
            open_ticks = fills[0][2]
            minutes.append([minute, open_ticks, hi, lo, lots_total, units_total, len(fills),
                            first_trade_id, trade_id])
            while minutes[0][_M_MINUTE] < minute - _DAY_MINUTES:  # the ticker's oldest
                minutes.popleft()
        return t_snap

    def _trim_orders(self, acct: _Account, rows: list[_Order]) -> None:
        """Forget a bounded account's orders older than its latest ``limit`` on one symbol,
        except those still open (they stay listed and queryable until they close)."""
        cut = len(rows) - acct.limit  # type: ignore[operator]
        old = rows[:cut]
        still_open = acct.open
        kept = [o for o in old if o.order_id in still_open]
        orders, cids = self._orders, acct.cids
        for o in old:
            if o.order_id not in still_open:
                del orders[o.order_id]
                if cids.get(o.cid) is o:
                    del cids[o.cid]
        rows[:cut] = kept

    def _trim_fills(self, acct: _Account, rows: list[tuple]) -> None:
        """Forget a bounded account's fills older than its latest ``limit`` on one symbol;
        their fees move to the unrecorded total so ``fees_collected`` stays whole."""
        cut = len(rows) - acct.limit  # type: ignore[operator]
        fees = self._unrecorded_fees
        for f in rows[:cut]:
            if f[9]:
                fees[f[10]] = fees.get(f[10], _ZERO) + f[9]
        del rows[:cut]

    def cancel_order(
        self,
        account_id: int,
        symbol: str,
        order_id: int | None = None,
        client_order_id: str | None = None,
    ) -> Order:
        """Cancel an open order; a filled, cancelled or unknown one answers -2013."""
        acct = self._acct(account_id)
        m = self._market(symbol)
        o = self._find(acct, m, order_id, client_order_id)
        result = self._cancel(acct, m, o, True)
        assert result is not None
        return result

    def cancel_quietly(self, account_id: int, symbol: str, order_id: int) -> None:
        """``cancel_order`` by order id without an answer (no snapshot is made): the synthetic
        participants'; raises as it does."""
        acct = self._acct(account_id)
        m = self._market(symbol)
        self._cancel(acct, m, self._find(acct, m, order_id, None), False)

    def _cancel(self, acct: _Account, m: _Market, o: _Order, answer: bool) -> Order | None:
        """``cancel_order`` of the order found: its final snapshot if ``answer``."""
        if o.status not in _OPEN:
            raise _not_found()
        now = self.clock.now_ms()
        events = self._begin()
        m.book.remove(o)
        o.leaves = 0
        o.status = "CANCELED"
        o.update_time = now
        del acct.open[o.order_id]
        del acct.open_cids[o.cid]
        if not acct.history:
            del self._orders[o.order_id]
        snap = None
        if events is not None and acct.emit:
            snap = o.snapshot()
            events.append(new_order_changed(snap, None, "CANCELED_BY_USER"))
        if o.locked:
            if o.is_buy:
                amount = Decimal(o.locked) * m.unit
                self._move(acct, m.quote, amount, -amount, now)
            else:
                amount = Decimal(o.locked) * m.step
                self._move(acct, m.base, amount, -amount, now)
            o.locked = 0
        if events is not None:
            events.append(m.book_changed(now))
        result = (snap if snap is not None else o.snapshot()) if answer else None
        self._flush()
        return result

    def _find(
        self, acct: _Account, m: _Market, order_id: int | None, client_order_id: str | None
    ) -> _Order:
        if order_id is not None:
            o = self._orders.get(order_id)
            if o is None or o.account is not acct or o.market is not m:
                raise _not_found()
            return o
        if client_order_id is not None:
            o = acct.open_cids.get(client_order_id) or acct.cids.get(client_order_id)
            if o is None or o.market is not m:
                raise _not_found()
            return o
        raise _param_error(
            "Param 'orderId' or 'origClientOrderId' must be sent, but both were empty."
        )

    def get_order(
        self,
        account_id: int,
        symbol: str,
        order_id: int | None = None,
        client_order_id: str | None = None,
    ) -> Order:
        acct = self._acct(account_id)
        return self._find(acct, self._market(symbol), order_id, client_order_id).snapshot()

    def open_orders(self, account_id: int, symbol: str | None = None) -> list[Order]:
        acct = self._acct(account_id)
        if symbol is None:
            return [o.snapshot() for o in acct.open.values()]
        m = self._market(symbol)
        return [o.snapshot() for o in acct.open.values() if o.market is m]

    def all_orders(
        self,
        account_id: int,
        symbol: str,
        order_id: int | None = None,
        start_time: int | None = None,
        end_time: int | None = None,
        limit: int = 500,
    ) -> list[Order]:
        """Orders of one symbol, oldest first: from ``order_id`` on if given, else the latest."""
        acct = self._acct(account_id)
        m = self._market(symbol)
        if acct.history:
            rows = acct.orders_by_symbol.get(m.symbol, [])
        else:
            rows = sorted((o for o in acct.open.values() if o.market is m), key=_ORDER_ID)
        picked = _window(rows, _ORDER_ID, _ORDER_TIME, order_id, start_time, end_time, limit)
        return [o.snapshot() for o in picked]

    def my_trades(
        self,
        account_id: int,
        symbol: str,
        from_id: int | None = None,
        start_time: int | None = None,
        end_time: int | None = None,
        limit: int = 500,
    ) -> list[Fill]:
        """Fills of one symbol, oldest first: from trade ``from_id`` on if given, else latest."""
        acct = self._acct(account_id)
        m = self._market(symbol)
        rows = acct.fills_by_symbol.get(m.symbol, [])
        picked = _window(rows, _FILL_ID, _FILL_TIME, from_id, start_time, end_time, limit)
        return [new_fill(*f) for f in picked]

    # ------------------------------------------------------------------ market data
    def depth(
        self, symbol: str, limit: int | None = 100
    ) -> tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]:
        """Aggregated levels: bids best-first (descending), asks best-first (ascending)."""
        bids, asks = self.depth_sides(symbol, limit)
        return list(bids), list(asks)

    def depth_sides(
        self, symbol: str, limit: int | None = 100
    ) -> tuple[tuple[tuple[Decimal, Decimal], ...], tuple[tuple[Decimal, Decimal], ...]]:
        """``depth`` as tuples, shared: a side that did not change since the last call (with
        this ``limit``) is the same tuple again (most depth pushes change one side)."""
        m = self._market(symbol)
        price_of, qty_of = m.price_of, m.qty_of
        if len(qty_of) > _KEEP_DECIMALS or len(price_of) > _KEEP_DECIMALS:
            price_of.clear()
            qty_of.clear()
        # the Decimals are made once per value (``_DecimalsOf``): a hit is a plain dict read;
        # a side whose change count is the same (nothing reached its levels: ``Book.watch``)
        # gives its last tuple again
        book = m.book
        last = m.last_depth
        sides = []
        for i, is_bid in enumerate((True, False)):
            changes = book.bid_changes if is_bid else book.ask_changes
            kept = last[i]
            if kept is not None and kept[0] == changes and kept[1] == limit:
                sides.append(kept[2])
                continue
            side = book.level_values(is_bid, limit, price_of, qty_of)
            book.watch(is_bid, limit)  # (count only what reaches these levels from now on)
            last[i] = (changes, limit, side)
            sides.append(side)
        return sides[0], sides[1]

    def best_ticks(self, symbol: str) -> tuple[int | None, int | None]:
        """The best bid's and best ask's price in ticks (None for an empty side): what a
        participant reads of the book, without building its Decimals."""
        book = self._market(symbol).book
        bid_keys, ask_keys = book.bid_keys, book.ask_keys
        return (bid_keys[-1] if bid_keys else None, -ask_keys[-1] if ask_keys else None)

    def queue_position(self, account_id: int, symbol: str, order_id: int) -> Decimal | None:
        """Quantity resting ahead of an open order at its price; None if it is not resting."""
        acct = self._acct(account_id)
        m = self._market(symbol)
        o = self._find(acct, m, order_id, None)
        ahead = m.book.queue_ahead(o)
        return None if ahead is None else Decimal(ahead) * m.step

    def recent_trades(self, symbol: str, limit: int = 500) -> list[PublicTrade]:
        """The latest public trades, oldest first."""
        trades = self._market(symbol).trades
        if limit <= 0:
            return []
        newest_first = [new_public_trade(*t) for t in islice(reversed(trades), limit)]
        newest_first.reverse()
        return newest_first

    def last_price(self, symbol: str) -> Decimal:
        m = self._market(symbol)
        return Decimal(m.last_ticks) * m.tick

    def book_ticker(self, symbol: str) -> dict:
        """Bitrue /ticker/bookTicker fields (decimal strings; "0" for an empty side)."""
        m = self._market(symbol)
        bid = m.book.best_bid() or (0, 0)
        ask = m.book.best_ask() or (0, 0)
        return {
            "symbol": m.symbol,
            "bidPrice": _fmt(Decimal(bid[0]) * m.tick),
            "bidQty": _fmt(Decimal(bid[1]) * m.step),
            "askPrice": _fmt(Decimal(ask[0]) * m.tick),
            "askQty": _fmt(Decimal(ask[1]) * m.step),
        }

    def ticker_24h(self, symbol: str) -> dict:
        """Bitrue /ticker/24hr fields for one symbol over the last 24 h of trades.

        The window has minute resolution: the minutes that end after ``now - 24 h`` (kept as
        integer statistics per minute, so long runs stay flat in memory).
        """
        m = self._market(symbol)
        now = self.clock.now_ms()
        since = now - _DAY_MS
        first_minute = since // _MINUTE_MS  # its end is after ``since``
        window = [b for b in m.minutes if b[_M_MINUTE] >= first_minute]
        tick, step, unit = m.tick, m.step, m.unit
        last = Decimal(m.last_ticks) * tick
        bid = m.book.best_bid() or (0, 0)
        ask = m.book.best_ask() or (0, 0)
        if window:
            open_price = Decimal(window[0][_M_OPEN]) * tick
            high = Decimal(max(b[_M_HIGH] for b in window)) * tick
            low = Decimal(min(b[_M_LOW] for b in window)) * tick
            volume = Decimal(sum(b[_M_LOTS] for b in window)) * step
            quote_volume = Decimal(sum(b[_M_UNITS] for b in window)) * unit
            last_qty = m.trades[-1][3] if m.trades else _ZERO
            first_id, last_id = window[0][_M_FIRST], window[-1][_M_LAST]
            count = sum(b[_M_COUNT] for b in window)
        else:
            open_price = high = low = last
            volume = quote_volume = last_qty = _ZERO
            first_id = last_id = -1
            count = 0
        change = last - open_price
        pct = (change / open_price * 100).quantize(Decimal("0.001")) if open_price else _ZERO
        wavg = (quote_volume / volume) if volume else last
        scale = Decimal(1).scaleb(-m.spec.price_scale)
        return {
            "symbol": m.symbol,
            "priceChange": _fmt(change),
            "priceChangePercent": _fmt(pct),
            "weightedAvgPrice": _fmt(wavg.quantize(scale)),
            "prevClosePrice": _fmt(open_price),
            "lastPrice": _fmt(last),
            "lastQty": _fmt(last_qty),
            "bidPrice": _fmt(Decimal(bid[0]) * tick),
            "askPrice": _fmt(Decimal(ask[0]) * tick),
            "openPrice": _fmt(open_price),
            "highPrice": _fmt(high),
            "lowPrice": _fmt(low),
            "volume": _fmt(volume),
            "quoteVolume": _fmt(quote_volume),
            "openTime": since,
            "closeTime": now,
            "firstId": first_id,
            "lastId": last_id,
            "count": count,
        }

    # ------------------------------------------------------------------ history and events
    def ledger(self, account_id: int) -> dict:
        """Everything an account did: {"orders": [Order...], "fills": [Fill...]} (what it
        keeps: only open orders without history, the latest N per symbol with a limit)."""
        acct = self._acct(account_id)
        return {
            "orders": [o.snapshot() for o in _merged_orders(acct)],
            "fills": [new_fill(*f) for f in _merged_fills(acct)],
        }

    def fees_collected(self) -> dict[str, Decimal]:
        """Commission charged so far per asset, over all accounts (for conservation checks)."""
        totals: dict[str, Decimal] = dict(self._unrecorded_fees)
        for acct in self._accounts.values():
            for fill in _merged_fills(acct):
                totals[fill[10]] = totals.get(fill[10], _ZERO) + fill[9]
        return totals

    def subscribe(self, listener: Listener, *, trades: bool = True) -> None:
        """Receive every event (OrderChanged, BalanceChanged, BookChanged, TradeHappened).

        ``trades=False``: the listener needs no TradeHappened (a backtest's driver): none is
        built while no listener wants them (it still hears those built for another)."""
        self._listeners = (*self._listeners, listener)
        if trades:
            self._trade_listeners = (*self._trade_listeners, listener)

    def unsubscribe(self, listener: Listener) -> None:
        listeners = list(self._listeners)
        listeners.remove(listener)
        self._listeners = tuple(listeners)
        if listener in self._trade_listeners:
            trade_listeners = list(self._trade_listeners)
            trade_listeners.remove(listener)
            self._trade_listeners = tuple(trade_listeners)

    def set_account_events(self, account_id: int, enabled: bool) -> None:
        """Build OrderChanged/BalanceChanged events for this account, or not.

        Market events (BookChanged, TradeHappened) are always built while listeners exist
        (TradeHappened while one wants them: ``subscribe``).
        A driver turns account events off for synthetic participants whose events nobody
        reads: building them was most of the cost of matching with a listener attached.
        """
        self._acct(account_id).emit = bool(enabled)

    def _begin(self) -> list[object] | None:
        events = [] if self._listeners else None
        self._events = events
        return events

    def _flush(self) -> None:
        """Deliver the buffered events of the operation that just finished, in order.

        A listener may call back into the exchange (read, or even place an order): events of
        such a nested operation are queued behind the current ones, never interleaved.
        """
        events = self._events
        self._events = None
        if not events:
            return
        backlog = self._backlog
        if self._dispatching:
            backlog.extend(events)
            return
        self._dispatching = True
        first_error: BaseException | None = None
        batch: Iterable[object] = events
        try:
            while True:
                listeners = self._listeners
                for event in batch:
                    for listener in listeners:
                        try:
                            listener(event)
                        except Exception as exc:  # a faulty listener must not starve others
                            if first_error is None:
                                first_error = exc
                if not backlog:
                    break
                batch = list(backlog)  # events of operations the listeners made meanwhile
                backlog.clear()
        finally:
            backlog.clear()
            self._dispatching = False
        if first_error is not None:
            raise first_error

    def _move_free(self, acct: _Account, asset: str, delta: Decimal, now: int) -> None:
        free = acct.free
        value = free[asset] = free.get(asset, _ZERO) + delta
        events = self._events
        if events is not None and acct.emit:
            locked = acct.locked.get(asset, _ZERO)
            events.append(
                new_balance_changed(acct.account_id, asset, value, locked, delta, _ZERO, now)
            )

    def _move_locked(self, acct: _Account, asset: str, delta: Decimal, now: int) -> None:
        locked = acct.locked
        value = locked[asset] = locked[asset] + delta  # only ever reduces what was locked
        events = self._events
        if events is not None and acct.emit:
            free = acct.free.get(asset, _ZERO)
            events.append(
                new_balance_changed(acct.account_id, asset, free, value, _ZERO, delta, now)
            )

    def _move(
        self, acct: _Account, asset: str, free_delta: Decimal, locked_delta: Decimal, now: int
    ) -> None:
        free = acct.free.get(asset, _ZERO) + free_delta
        locked = acct.locked.get(asset, _ZERO) + locked_delta
        acct.free[asset] = free
        acct.locked[asset] = locked
        events = self._events
        if events is not None and acct.emit:
            events.append(
                new_balance_changed(
                    acct.account_id, asset, free, locked, free_delta, locked_delta, now
                )
            )


_ORDER_ID = attrgetter("order_id")
_ORDER_TIME = attrgetter("time")
_FILL_ID = itemgetter(0)
_FILL_TIME = itemgetter(12)


def _window(
    rows: list,
    id_of: Callable,
    time_of: Callable,
    from_id: int | None,
    start_time: int | None,
    end_time: int | None,
    limit: int,
) -> list:
    """Bitrue's history paging over rows sorted by id: ``limit`` rows from ``from_id`` on if
    given, else the latest ``limit`` rows; optional time bounds (inclusive). Oldest first."""
    if limit <= 0:
        return []

    def in_time(row: object) -> bool:
        t = time_of(row)
        return (start_time is None or t >= start_time) and (end_time is None or t <= end_time)

    out = []
    if from_id is not None:
        for i in range(bisect_left(rows, from_id, key=id_of), len(rows)):
            if in_time(rows[i]):
                out.append(rows[i])
                if len(out) == limit:
                    break
        return out
    for row in reversed(rows):
        if in_time(row):
            out.append(row)
            if len(out) == limit:
                break
    out.reverse()
    return out


def _merged_orders(acct: _Account) -> list[_Order]:
    """All orders of an account across symbols, in placement (= order id) order."""
    if not acct.history:
        return sorted(acct.open.values(), key=attrgetter("order_id"))
    return list(heapq.merge(*acct.orders_by_symbol.values(), key=attrgetter("order_id")))


def _merged_fills(acct: _Account) -> list[tuple]:
    """All fills of an account across symbols, in trade order (maker before taker on a
    self-trade, as they were recorded)."""
    return list(heapq.merge(*acct.fills_by_symbol.values(), key=itemgetter(0)))


def _as_decimal(value: object, what: str) -> Decimal:
    """Money enters as Decimal (or an exact str/int); floats are refused."""
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise _param_error(f"Illegal parameter {what}: {value}.")
        return value
    if isinstance(value, bool) or isinstance(value, float):
        raise TypeError(f"{what} must be a Decimal (or str/int), never a float: {value!r}")
    if isinstance(value, int | str):
        try:
            d = Decimal(value)
        except Exception:
            raise _param_error(f"Illegal parameter {what}: {value!r} is not a number.") from None
        if not d.is_finite():
            raise _param_error(f"Illegal parameter {what}: {value!r}.")
        return d
    raise TypeError(f"{what} must be a Decimal, got {type(value).__name__}")
