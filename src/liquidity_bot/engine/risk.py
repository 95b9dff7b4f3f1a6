"""The risk gate: the last check before any new order leaves the process.

Deterministic: the gate reads no clock and does no I/O (beyond logging a refusal). Its state
(reference price, fills, mark-to-market PnL, latches, refusal counts) changes only through
explicit calls that carry their own timestamps, so the same sequence of calls always gives the
same decisions, live, on paper and in backtests.

Checks, in this order (the first failure is the answer):
1. KILL_SWITCH: the daily loss limit was hit (latched until `reset_kill_switch()`).
2. FILL_RATE: more than `max_fills_per_minute` fills in the last 60 s (latched until reset too:
   an abnormal fill rate means a bug or toxic flow, and a human should look).
3. INVALID_ORDER: non-positive price or quantity.
4. SYMBOL_NOT_ALLOWED: the key may not trade this symbol (allow list per key label).
5. MAX_ORDER_NOTIONAL: price x qty above the limit.
6. MAX_OPEN_NOTIONAL: this side's open notional plus the order above the limit.
7. INVENTORY_BOUND: if this order and every open order of the same side filled, base inventory
   would leave [min_base_inventory, max_base_inventory] (base units).
8. NO_REFERENCE_PRICE / PRICE_BAND: price farther than `price_band_pct` from the reference: an
   external reference when one is set (e.g. an index), else a slow EMA of mid with half-life
   `ema_halflife_s`. Without any reference the gate refuses (fail safe).
9. INSUFFICIENT_BALANCE: the free balance does not cover the order (quote for buys, base for
   sells).

Cancels are never gated: cancelling only reduces risk.

Daily loss is PnL against *holding* the starting inventory, in quote currency: what our fills
changed (cash and base, fees included) marked at mid, so a market that falls with the inventory
untouched loses nothing here (the client's inventory is theirs; the bot answers for its trading).
The day starts at 00:00 UTC; the loss is that PnL at the day's first mark minus the PnL now.
Deposits and withdrawals are not fills, so they do not move it. On reaching
``daily_loss_limit`` the gate either latches the kill switch (``on_loss_limit = "stop"``) or, by
default (``"minimum"``), keeps trading but tells the market loop to fall back to
minimum-obligation quoting (``loss_limited``): one order per side, nothing spent on improving.
"""

from __future__ import annotations

import logging
from collections import Counter, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Protocol

import msgspec

from liquidity_bot.domain.order import Side

log = logging.getLogger(__name__)

ZERO = Decimal(0)
DAY_MS = 86_400_000
_LN2 = Decimal(2).ln()  # at the default 28-digit context, as the EMA arithmetic
MINUTE_MS = 60_000


class RiskReason(StrEnum):
    KILL_SWITCH = "KILL_SWITCH"
    FILL_RATE = "FILL_RATE"
    INVALID_ORDER = "INVALID_ORDER"
    SYMBOL_NOT_ALLOWED = "SYMBOL_NOT_ALLOWED"
    MAX_ORDER_NOTIONAL = "MAX_ORDER_NOTIONAL"
    MAX_OPEN_NOTIONAL = "MAX_OPEN_NOTIONAL"
    INVENTORY_BOUND = "INVENTORY_BOUND"
    NO_REFERENCE_PRICE = "NO_REFERENCE_PRICE"
    PRICE_BAND = "PRICE_BAND"
    INSUFFICIENT_BALANCE = "INSUFFICIENT_BALANCE"


class RiskLimits(Protocol):
    """`config.RiskConfig` (money in quote currency, inventory in base units)."""

    max_order_notional: Decimal
    max_open_notional_per_side: Decimal
    max_base_inventory: Decimal
    daily_loss_limit: Decimal
    min_base_inventory: Decimal
    price_band_pct: Decimal
    ema_halflife_s: float
    max_fills_per_minute: int
    on_loss_limit: str  # "minimum" or "stop"


class AccountState(msgspec.Struct, frozen=True):
    """What the order manager knows right now about this market's account and open orders.

    Open figures exclude the order being checked. (A struct, not a frozen dataclass: one is
    made for every order checked, and a frozen dataclass's ``__init__`` is Python setting each
    field through ``object.__setattr__``, ten times the cost.)
    """

    base_free: Decimal
    quote_free: Decimal
    base_total: Decimal
    open_buy_notional: Decimal = ZERO
    open_sell_notional: Decimal = ZERO
    open_buy_qty: Decimal = ZERO
    open_sell_qty: Decimal = ZERO


@dataclass(frozen=True, slots=True)
class RiskDecision:
    allowed: bool
    reason: RiskReason | None = None
    message: str = ""

    def __bool__(self) -> bool:
        return self.allowed


ALLOW = RiskDecision(True)


def allow_list_from_markets(markets: Iterable[object]) -> dict[str, frozenset[str]]:
    """{key_label: symbols} from `config.MarketConfig`s (each market names its key)."""
    out: dict[str, set[str]] = {}
    for m in markets:
        out.setdefault(str(m.key_label), set()).add(str(m.symbol).upper())  # type: ignore[attr-defined]
    return {k: frozenset(v) for k, v in out.items()}


class RiskGate:
    """Per-market gate in front of every new order; see the module docstring."""

    def __init__(
        self,
        symbol: str,
        limits: RiskLimits,
        allowed_symbols: Mapping[str, Iterable[str]],
        *,
        initial_base: Decimal = ZERO,
        initial_quote: Decimal = ZERO,
    ) -> None:
        self.symbol = symbol.upper()
        self.limits = limits
        self.allowed = {k: frozenset(s.upper() for s in v) for k, v in allowed_symbols.items()}
        self._counts: Counter[str] = Counter()
        # reference price
        self._ema: Decimal | None = None
        self._ema_ms: int | None = None
        self._external: Decimal | None = None
        # fills and PnL
        self._fill_times: deque[int] = deque()
        self._base = initial_base
        self._cash = initial_quote
        self._base0 = initial_base  # what holding means: the inventory at the start
        self._cash0 = initial_quote
        self._last_mid: Decimal | None = None
        self._keep_cache: dict[int, Decimal] = {}  # EMA weight by interval (ms)
        self._halflife_s = Decimal(str(limits.ema_halflife_s))
        self._day: int | None = None
        self._day_start_equity: Decimal | None = None
        self._marked: tuple[Decimal, int] | None = None  # (mid, day) of the last mark
        # latches
        self._kill_reason: str | None = None
        self._fill_rate_reason: str | None = None
        self._loss_reason: str | None = None  # loss limit hit, quoting the minimum

    # -- state feeding ---------------------------------------------------------------------

    def on_mid(self, ts_ms: int, mid: Decimal) -> None:
        """Feed every book mid: updates the slow EMA reference and marks PnL to market."""
        if mid <= 0:
            return
        if self._ema is None or self._ema_ms is None:
            self._ema = mid
        elif ts_ms > self._ema_ms:
            dt_ms = ts_ms - self._ema_ms
            keep = self._keep_cache.get(dt_ms)  # (the usual case: an interval seen before)
            if keep is None:
                keep = self._ema_keep(dt_ms)
            self._ema = self._ema * keep + mid * (1 - keep)
        if self._ema_ms is None or ts_ms > self._ema_ms:
            self._ema_ms = ts_ms
        self._last_mid = mid
        # Marking again at a mid equal to the last mark's, on the same day, with no fill or
        # reset since, computes the same loss and so decides the same: skipped (most books
        # leave the mid where it was).
        if self._marked is None or self._marked[0] != mid or self._marked[1] != ts_ms // DAY_MS:
            self._mark(ts_ms)

    def _ema_keep(self, dt_ms: int) -> Decimal:
        """Weight left on the old EMA after ``dt_ms``: 2 ** (-dt / half-life), in Decimal.

        It runs for every book, inside tick-to-order. A non-integer Decimal power costs about
        50 us (more with cold caches) and book intervals rarely repeat in a live feed, so it is
        computed as exp(-dt / half-life * ln 2), about 15 times cheaper (``exp`` is correctly
        rounded; the two agree to the context's last digit or so), and cached by interval."""
        keep = self._keep_cache.get(dt_ms)
        if keep is None:
            exponent = -(Decimal(dt_ms) / 1000) / self._halflife_s * _LN2
            keep = exponent.exp()
            if len(self._keep_cache) >= 4096:  # bounded: a long run sees many intervals
                self._keep_cache.clear()
            self._keep_cache[dt_ms] = keep
        return keep

    def set_external_reference(self, price: Decimal | None) -> None:
        """Use an outside reference (e.g. an index price) instead of the EMA; None reverts."""
        self._external = price

    def on_fill(
        self, ts_ms: int, side: Side | str, price: Decimal, qty: Decimal, fee_quote: Decimal = ZERO
    ) -> None:
        """Feed each of our fills once: fill-rate stop and mark-to-market PnL."""
        side = Side.parse(side)
        if side is Side.BUY:
            self._base += qty
            self._cash -= price * qty
        else:
            self._base -= qty
            self._cash += price * qty
        self._cash -= fee_quote
        self._fill_times.append(ts_ms)
        while self._fill_times and self._fill_times[0] <= ts_ms - MINUTE_MS:
            self._fill_times.popleft()
        if len(self._fill_times) > self.limits.max_fills_per_minute and not self._fill_rate_reason:
            self._fill_rate_reason = (
                f"{len(self._fill_times)} fills in the last minute exceed max_fills_per_minute "
                f"({self.limits.max_fills_per_minute}); trading stopped until reset"
            )
            log.error("risk stop for %s: %s", self.symbol, self._fill_rate_reason)
        self._mark(ts_ms)

    def _vs_holding(self, mid: Decimal) -> Decimal:
        """PnL of our trading against holding the starting inventory, marked at ``mid``."""
        return (self._cash - self._cash0) + (self._base - self._base0) * mid

    def _mark(self, ts_ms: int) -> None:
        if self._last_mid is None:
            return
        equity = self._vs_holding(self._last_mid)
        day = ts_ms // DAY_MS
        if self._day is None or day > self._day:
            self._day = day
            self._day_start_equity = equity
        assert self._day_start_equity is not None
        self._marked = (self._last_mid, day)
        loss = self._day_start_equity - equity
        if (loss >= self.limits.daily_loss_limit and self._kill_reason is None
                and self._loss_reason is None):
            what = (f"daily loss {loss} against holding reached daily_loss_limit "
                    f"{self.limits.daily_loss_limit} (at mid {self._last_mid})")
            if getattr(self.limits, "on_loss_limit", "minimum") == "stop":
                self._kill_reason = f"{what}; trading stopped until reset"
                log.error("kill switch for %s: %s", self.symbol, self._kill_reason)
            else:
                self._loss_reason = f"{what}; quoting the minimum obligation until reset"
                log.error("loss limit for %s: %s", self.symbol, self._loss_reason)

    # -- read-outs -------------------------------------------------------------------------

    @property
    def reference_price(self) -> Decimal | None:
        return self._external if self._external is not None else self._ema

    @property
    def daily_pnl(self) -> Decimal | None:
        """Today's mark-to-market PnL in quote currency (None before the first mid)."""
        if self._last_mid is None or self._day_start_equity is None:
            return None
        return self._vs_holding(self._last_mid) - self._day_start_equity

    @property
    def killed(self) -> bool:
        """True while a latched stop (daily loss or fill rate) is in force: cancel everything."""
        return self._kill_reason is not None or self._fill_rate_reason is not None

    @property
    def loss_limited(self) -> bool:
        """The loss limit was hit with ``on_loss_limit = "minimum"``: quote the minimum only."""
        return self._loss_reason is not None

    @property
    def loss_limit_state(self) -> str | None:
        """What the loss limit did, for summaries and reports (None: not reached)."""
        return self._kill_reason if self._kill_reason and "daily loss" in self._kill_reason \
            else self._loss_reason

    @property
    def kill_reason(self) -> str | None:
        """Why trading is stopped (daily loss or fill rate), None while it is not; for alerts."""
        return self._kill_reason or self._fill_rate_reason

    def counts(self) -> dict[str, int]:
        """Refusals so far by reason code."""
        return dict(self._counts)

    def reset_kill_switch(self) -> None:
        """Operator action: clear both latches; today's loss baseline restarts from now."""
        self._kill_reason = None
        self._fill_rate_reason = None
        self._loss_reason = None
        self._fill_times.clear()
        self._marked = None
        if self._last_mid is not None:
            self._day_start_equity = self._vs_holding(self._last_mid)
        log.warning("risk latches reset for %s", self.symbol)

    # -- the gate --------------------------------------------------------------------------

    def check(
        self,
        side: Side | str,
        price: Decimal,
        qty: Decimal,
        account: AccountState,
        *,
        key_label: str,
        symbol: str | None = None,
    ) -> RiskDecision:
        """Allow or refuse one new order. Refusals are logged and counted."""
        decision = self._evaluate(side if type(side) is Side else Side.parse(side), price, qty,
                                  account, key_label, symbol)
        if not decision.allowed:
            assert decision.reason is not None
            self._counts[decision.reason.value] += 1
            log.warning(
                "risk refused %s %s %s @ %s: %s %s",
                symbol or self.symbol,
                side,
                qty,
                price,
                decision.reason.value,
                decision.message,
            )
        return decision

    def evaluate(
        self,
        side: Side | str,
        price: Decimal,
        qty: Decimal,
        account: AccountState,
        *,
        key_label: str,
        symbol: str | None = None,
    ) -> RiskDecision:
        """``check``'s answer, with no refusal counted or logged: a what-if (would this
        replacement fit before its old order is gone?)."""
        return self._evaluate(Side.parse(side), price, qty, account, key_label, symbol)

    def _evaluate(
        self,
        side: Side,
        price: Decimal,
        qty: Decimal,
        acct: AccountState,
        key_label: str,
        symbol: str | None,
    ) -> RiskDecision:
        lim = self.limits
        if self._kill_reason is not None:
            return RiskDecision(False, RiskReason.KILL_SWITCH, self._kill_reason)
        if self._fill_rate_reason is not None:
            return RiskDecision(False, RiskReason.FILL_RATE, self._fill_rate_reason)
        if price <= 0 or qty <= 0:
            return RiskDecision(
                False, RiskReason.INVALID_ORDER, f"price {price} and qty {qty} must be positive"
            )
        sym = (symbol or self.symbol).upper()
        if sym != self.symbol or sym not in self.allowed.get(key_label, frozenset()):
            return RiskDecision(
                False,
                RiskReason.SYMBOL_NOT_ALLOWED,
                f"key {key_label!r} is not allowed to trade {sym} (add a [[markets]] entry "
                f"for it with key_label = {key_label!r})",
            )
        notional = price * qty
        if notional > lim.max_order_notional:
            return RiskDecision(
                False,
                RiskReason.MAX_ORDER_NOTIONAL,
                f"order notional {notional} exceeds max_order_notional {lim.max_order_notional}",
            )
        open_notional = acct.open_buy_notional if side is Side.BUY else acct.open_sell_notional
        if open_notional + notional > lim.max_open_notional_per_side:
            return RiskDecision(
                False,
                RiskReason.MAX_OPEN_NOTIONAL,
                f"{side} open notional {open_notional} + {notional} exceeds "
                f"max_open_notional_per_side {lim.max_open_notional_per_side}",
            )
        if side is Side.BUY:
            worst = acct.base_total + acct.open_buy_qty + qty
            if worst > lim.max_base_inventory:
                return RiskDecision(
                    False,
                    RiskReason.INVENTORY_BOUND,
                    f"base inventory could reach {worst} (holding {acct.base_total}, open buys "
                    f"{acct.open_buy_qty}, this {qty}) above max_base_inventory "
                    f"{lim.max_base_inventory}",
                )
        else:
            worst = acct.base_total - acct.open_sell_qty - qty
            if worst < lim.min_base_inventory:
                return RiskDecision(
                    False,
                    RiskReason.INVENTORY_BOUND,
                    f"base inventory could fall to {worst} (holding {acct.base_total}, open sells "
                    f"{acct.open_sell_qty}, this {qty}) below min_base_inventory "
                    f"{lim.min_base_inventory}",
                )
        ref = self.reference_price
        if ref is None or ref <= 0:
            return RiskDecision(
                False,
                RiskReason.NO_REFERENCE_PRICE,
                "no reference price yet: feed on_mid() with book mids (or set an external one)",
            )
        deviation_pct = abs(price - ref) / ref * 100
        if deviation_pct > lim.price_band_pct:
            return RiskDecision(
                False,
                RiskReason.PRICE_BAND,
                f"price {price} is {deviation_pct:.4f}% from the reference {ref:.12g}, beyond "
                f"price_band_pct {lim.price_band_pct}",
            )
        if side is Side.BUY and notional > acct.quote_free:
            return RiskDecision(
                False,
                RiskReason.INSUFFICIENT_BALANCE,
                f"buy needs {notional} quote, free balance is {acct.quote_free}",
            )
        if side is Side.SELL and qty > acct.base_free:
            return RiskDecision(
                False,
                RiskReason.INSUFFICIENT_BALANCE,
                f"sell needs {qty} base, free balance is {acct.base_free}",
            )
        return ALLOW
