"""Synthetic market participants: a fair-value process, background makers and takers.

Seeded and deterministic: ONE ``random.Random(seed)`` drives everything, and the actions are
an agenda of timed events processed in time order (ties by insertion order), so the same
scenario, seed and exchange give the same market. ``step(now_ms)`` runs every action due by
``now_ms``: the server calls it on the wall clock, the virtual-time driver calls it at
``next_event_ms()`` on a ``ManualClock``.

The participants act only through the core ``Exchange`` API with their own accounts (large
balances). Fair value is a model quantity (a float random walk); every price handed to the
exchange is an exact ``Decimal`` built from integer ticks, every quantity from integer lots.
"""

from __future__ import annotations

import heapq
import math
import random
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from bitrue_sim.errors import ExchangeError
from bitrue_sim.scenarios import Scenario

PARTICIPANT_BALANCE = Decimal(10) ** 12

# agenda event kinds
_FAIR, _REQUOTE, _TAKER = 0, 1, 2
_PRICES_KEPT = 4096  # prices whose float a symbol keeps (``_SymbolState.price_f``)


@dataclass
class _SymbolState:
    symbol: str
    tick: Decimal
    step: Decimal
    min_lots: int
    min_val: Decimal
    log_fair: float  # without the crash component
    fair: float = 0.0
    bid_slots: list[int | None] = field(default_factory=list)
    ask_slots: list[int | None] = field(default_factory=list)
    # the model's floats of ``tick``, ``step`` and ``min_val`` (made once: the same values)
    tick_f: float = 0.0
    step_f: float = 0.0
    min_val_f: float = 0.0
    # ``float(tick * ticks)`` by ticks (the same value each time: kept, bounded)
    price_f: dict[int, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.tick_f = float(self.tick)
        self.step_f = float(self.step)
        self.min_val_f = float(self.min_val)


@dataclass(frozen=True)
class MarketStats:
    events: int
    requotes: int
    taker_orders: int
    rejected: int


class SyntheticMarket:
    """Makers and takers around a moving fair value on a set of symbols."""

    def __init__(self, exchange: Any, scenario: Scenario, seed: int,
                 symbols: tuple[str, ...]) -> None:
        if not symbols:
            raise ValueError("SyntheticMarket needs at least one symbol")
        self.exchange = exchange
        self.scenario = scenario
        self.rng = random.Random(seed)
        self.symbols = tuple(symbols)
        assets: dict[str, Decimal] = {}
        for symbol in self.symbols:
            spec = exchange.market(symbol)
            assets[spec.base_asset] = PARTICIPANT_BALANCE
            assets[spec.quote_asset] = PARTICIPANT_BALANCE
        zero = Decimal(0)
        # no history: a day of requotes would otherwise keep ~1M closed orders in memory
        self.maker_account = exchange.create_account(assets, maker_commission=zero,
                                                     taker_commission=zero, keep_history=False)
        self.taker_account = exchange.create_account(assets, maker_commission=zero,
                                                     taker_commission=zero, keep_history=False)
        self._states: list[_SymbolState] = []
        for symbol in self.symbols:
            spec = exchange.market(symbol)
            last = exchange.last_price(symbol)
            state = _SymbolState(
                symbol=symbol, tick=spec.tick_size, step=spec.step_size,
                min_lots=max(1, int(spec.min_qty / spec.step_size)), min_val=spec.min_val,
                log_fair=math.log(float(last)),
                bid_slots=[None] * scenario.levels, ask_slots=[None] * scenario.levels)
            state.fair = float(last)
            self._states.append(state)
        self._agenda: list[tuple[int, int, int, int]] = []
        self._seq = 0
        self.start_ms: int | None = None
        self.events = self.requotes = self.taker_orders = self.rejected = 0

    # ---- driving ----
    def next_event_ms(self) -> int | None:
        """Time of the next due action (None before the first ``step``)."""
        return self._agenda[0][0] if self._agenda else None

    def step(self, now_ms: int) -> int:
        """Run every action due by ``now_ms``; returns how many ran."""
        if self.start_ms is None:
            self._start(now_ms)
        ran = 0
        agenda = self._agenda
        while agenda and agenda[0][0] <= now_ms:
            due, _, kind, index = heapq.heappop(agenda)
            state = self._states[index]
            if kind == _FAIR:
                self._move_fair(state, due)
            elif kind == _REQUOTE:
                self._requote(state, due)
            else:
                self._take(state, due)
            ran += 1
        self.events += ran
        return ran

    def skip_to(self, now_ms: int) -> None:
        """Drop overdue actions after a long pause (wall clock): reschedule them at ``now_ms``."""
        agenda = self._agenda
        if agenda and agenda[0][0] < now_ms:
            self._agenda = [(max(t, now_ms), s, k, i) for t, s, k, i in agenda]
            heapq.heapify(self._agenda)

    def stats(self) -> MarketStats:
        return MarketStats(self.events, self.requotes, self.taker_orders, self.rejected)

    def fair_value(self, symbol: str) -> float:
        return self._states[self.symbols.index(symbol)].fair

    # ---- internals ----
    def _schedule(self, at_ms: float, kind: int, index: int) -> None:
        self._seq += 1
        heapq.heappush(self._agenda, (int(at_ms), self._seq, kind, index))

    def _after(self, now_ms: int, rate_per_s: float) -> float:
        return now_ms + 1000.0 * self.rng.expovariate(rate_per_s)

    def _start(self, now_ms: int) -> None:
        self.start_ms = now_ms
        sc = self.scenario
        for index, state in enumerate(self._states):
            for slot in range(sc.levels):  # an initial full ladder
                self._place_slot(state, True, slot, now_ms)
                self._place_slot(state, False, slot, now_ms)
            self._schedule(now_ms + sc.fair_step_s * 1000, _FAIR, index)
            self._schedule(self._after(now_ms, sc.requote_rate), _REQUOTE, index)
            if sc.taker_rate > 0:
                self._schedule(self._after(now_ms, sc.taker_rate), _TAKER, index)

    def _crash_factor(self, now_ms: int) -> tuple[float, bool]:
        """Multiplier on fair value from the flash-crash schedule, and "falling now"."""
        crash = self.scenario.crash
        if crash is None or self.start_ms is None:
            return 1.0, False
        t = (now_ms - self.start_ms) / 1000 - crash.first_after_s
        if t < 0:
            return 1.0, False
        t = math.fmod(t, crash.period_s)
        if t < crash.fall_s:
            return 1.0 - crash.drop_fraction * t / crash.fall_s, True
        t -= crash.fall_s
        kept = crash.drop_fraction * (1 - crash.recover_fraction)
        if t < crash.recover_s:
            return 1.0 - crash.drop_fraction + (crash.drop_fraction - kept) * t / crash.recover_s, False
        return 1.0 - kept, False

    def _move_fair(self, state: _SymbolState, now_ms: int) -> None:
        sc = self.scenario
        dt = sc.fair_step_s
        rng = self.rng
        r = sc.volatility * math.sqrt(dt) * rng.gauss(0.0, 1.0) + sc.drift * dt
        if sc.jump_rate > 0 and rng.random() < sc.jump_rate * dt:
            r += rng.gauss(0.0, sc.jump_size)
        state.log_fair += r
        factor, _ = self._crash_factor(now_ms)
        state.fair = math.exp(state.log_fair) * factor
        self._schedule(now_ms + dt * 1000, _FAIR, self._states.index(state))

    def _requote(self, state: _SymbolState, now_ms: int) -> None:
        sc = self.scenario
        rng = self.rng
        is_bid = rng.random() < 0.5
        slot = rng.randrange(sc.levels)
        slots = state.bid_slots if is_bid else state.ask_slots
        old = slots[slot]
        if old is not None:
            slots[slot] = None
            try:
                self.exchange.cancel_quietly(self.maker_account, state.symbol, old)
            except ExchangeError:
                pass  # already filled
        if rng.random() >= sc.gap_probability:
            self._place_slot(state, is_bid, slot, now_ms)
        self.requotes += 1
        self._schedule(self._after(now_ms, sc.requote_rate), _REQUOTE,
                       self._states.index(state))

    def _place_slot(self, state: _SymbolState, is_bid: bool, slot: int, now_ms: int) -> None:
        """(Re)fill one ladder slot; ``now_ms`` is the action's due time, not the clock's, so
        a coarse wall-clock tick and the virtual-time driver make the same decisions."""
        sc = self.scenario
        rng = self.rng
        _, falling = self._crash_factor(now_ms)
        distance_bps = sc.half_spread_bps + slot * sc.level_step_bps
        distance_bps *= 0.7 + 0.6 * rng.random()
        if falling and is_bid:
            distance_bps *= 3  # makers pull their bids while the market falls
        tick = state.tick_f
        if is_bid:
            ticks = math.floor(state.fair * (1 - distance_bps / 1e4) / tick)
        else:
            ticks = math.ceil(state.fair * (1 + distance_bps / 1e4) / tick)
        best_bid, best_ask = self.exchange.best_ticks(state.symbol)
        if is_bid:
            if best_ask is not None:
                ticks = min(ticks, best_ask - 1)
        elif best_bid is not None:
            ticks = max(ticks, best_bid + 1)
        if ticks <= 0:
            return
        lots = self._lots(state, ticks, sc.maker_size_quote, sc.maker_size_sigma)
        try:  # a LIMIT order of ``state.step * lots`` at ``state.tick * ticks``
            order_id, still_open = self.exchange.place_limit_lots(
                self.maker_account, state.symbol, is_bid, ticks, lots)
        except ExchangeError:
            self.rejected += 1
            return
        if still_open:
            (state.bid_slots if is_bid else state.ask_slots)[slot] = order_id

    def _lots(self, state: _SymbolState, ticks: int, median_quote: float,
              sigma: float) -> int:
        """Lots of an order of about ``median_quote`` (log-normal, ``sigma``) at ``ticks``."""
        value = median_quote * math.exp(sigma * self.rng.gauss(0.0, 1.0))
        known = state.price_f
        price_f = known.get(ticks)
        if price_f is None:  # the float of the exact price (a Decimal's float goes by its text)
            if len(known) >= _PRICES_KEPT:
                known.clear()
            price_f = known[ticks] = float(state.tick * ticks)
        step_f = state.step_f
        lots = int(value / (price_f * step_f))
        min_value_lots = math.ceil(state.min_val_f / (price_f * step_f))
        return max(lots, state.min_lots, min_value_lots)

    def _take(self, state: _SymbolState, now_ms: int) -> None:
        sc = self.scenario
        rng = self.rng
        _, falling = self._crash_factor(now_ms)
        best_bid, best_ask = self.exchange.best_ticks(state.symbol)
        if best_bid is not None and best_ask is not None:
            mid = float(state.tick * (best_bid + best_ask)) / 2  # exact: the two prices' sum
        else:
            mid = state.fair
        if falling and rng.random() < 0.8:
            is_buy = False
        elif rng.random() < sc.informed_fraction:
            is_buy = state.fair > mid
        else:
            is_buy = rng.random() < 0.5
        best = best_ask if is_buy else best_bid
        if best is not None:
            lots = self._lots(state, best, sc.taker_size_quote, sc.taker_size_sigma)
            try:
                self.exchange.place_order(self.taker_account, state.symbol,
                                          "BUY" if is_buy else "SELL", "MARKET",
                                          state.step * lots, None)
                self.taker_orders += 1
            except ExchangeError:
                self.rejected += 1
        rate = sc.taker_rate + (sc.crash_sell_rate if falling else 0.0)
        self._schedule(self._after(now_ms, rate), _TAKER, self._states.index(state))
