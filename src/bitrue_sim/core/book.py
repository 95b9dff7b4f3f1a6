"""One symbol's order book: price-time priority on integer ticks and lots.

Prices are integer ticks (price / tick_size) and quantities integer lots (qty / step_size), so
matching never touches Decimal. Each side keeps a dict of price levels and a sorted list of
level keys with the best level at the END (bids: +ticks, asks: -ticks), so taking and removing
the best level is O(1) and inserting a level is a bisect.

Each level is a FIFO deque: an order's queue position is real (time priority). Cancels are lazy:
the order is marked dead, the level total drops at once, and dead entries are skipped when the
front is matched or compacted away when they pile up.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections import deque
from collections.abc import Mapping
from typing import Protocol, TypeVar

T = TypeVar("T")


class BookEntry(Protocol):
    """What the book needs from a resting order (the exchange's own mutable order state)."""

    is_buy: bool
    ticks: int
    leaves: int  # lots still open
    live: bool  # False once filled or cancelled


_COMPACT_MIN_DEAD = 32
NO_WATCH = -(1 << 62)  # below every level key: every change is counted


class Level:
    """All resting orders at one price, in arrival order."""

    __slots__ = ("ticks", "queue", "total", "dead")

    def __init__(self, ticks: int) -> None:
        self.ticks = ticks
        self.queue: deque = deque()
        self.total = 0  # live lots at this price
        self.dead = 0  # dead entries still in the deque


class Book:
    """Bids and asks of one symbol. Knows nothing of accounts, balances or Decimal."""

    __slots__ = ("bids", "asks", "bid_keys", "ask_keys", "bid_changes", "ask_changes",
                 "bid_watch", "ask_watch")

    def __init__(self) -> None:
        self.bids: dict[int, Level] = {}
        self.asks: dict[int, Level] = {}
        self.bid_keys: list[int] = []  # +ticks ascending: best bid last
        self.ask_keys: list[int] = []  # -ticks ascending: best ask last
        # counts of the changes made to each side's levels at or above its ``watch`` key (a
        # depth snapshot's deepest level: ``watch``): a side whose count is the same has the
        # same top levels (what a snapshot keeps instead of comparing them)
        self.bid_changes = 0
        self.ask_changes = 0
        self.bid_watch = self.ask_watch = NO_WATCH

    # ----------------------------------------------------------------- resting orders
    def add(self, order: BookEntry) -> None:
        """Rest an order at the back of its price level's queue."""
        ticks = order.ticks
        if order.is_buy:
            levels, keys, key = self.bids, self.bid_keys, ticks
            if key >= self.bid_watch:
                self.bid_changes += 1
        else:
            levels, keys, key = self.asks, self.ask_keys, -ticks
            if key >= self.ask_watch:
                self.ask_changes += 1
        level = levels.get(ticks)
        if level is None:
            level = levels[ticks] = Level(ticks)
            if not keys or key > keys[-1]:
                keys.append(key)
            else:
                insort(keys, key)
        level.queue.append(order)
        level.total += order.leaves
        order.live = True

    def remove(self, order: BookEntry) -> None:
        """Take a resting order off the book (cancel). O(1) amortised."""
        if not order.live:
            return
        order.live = False
        ticks = order.ticks
        if order.is_buy:
            levels, keys, key = self.bids, self.bid_keys, ticks
            if key >= self.bid_watch:
                self.bid_changes += 1
        else:
            levels, keys, key = self.asks, self.ask_keys, -ticks
            if key >= self.ask_watch:
                self.ask_changes += 1
        level = levels[ticks]
        level.total -= order.leaves
        if level.total == 0:
            del levels[ticks]
            if keys[-1] == key:
                keys.pop()
            else:
                del keys[bisect_left(keys, key)]
            return
        level.dead += 1
        if level.dead >= _COMPACT_MIN_DEAD and level.dead * 2 > len(level.queue):
            level.queue = deque(o for o in level.queue if o.live)
            level.dead = 0

    # ----------------------------------------------------------------- matching
    def match(
        self,
        is_buy: bool,
        limit_ticks: int | None,
        max_lots: int | None,
        max_units: int | None = None,
    ) -> list[tuple[BookEntry, int, int]]:
        """Take liquidity for an incoming order; returns ``[(maker, lots, ticks), ...]``.

        ``is_buy`` is the taker's side. ``limit_ticks`` None means no price limit (MARKET).
        ``max_lots`` caps the base quantity, ``max_units`` the quote spent in ticks*lots units
        (market buy by quote amount). Makers are consumed in price-time priority; their
        ``leaves`` are reduced and fully filled makers are marked not live.
        """
        if is_buy:
            levels, keys, sign = self.asks, self.ask_keys, -1
        else:
            levels, keys, sign = self.bids, self.bid_keys, 1
        remaining = max_lots if max_lots is not None else 1 << 62
        fills: list[tuple[BookEntry, int, int]] = []
        append = fills.append
        while keys and remaining > 0:
            ticks = keys[-1] * sign
            if limit_ticks is not None and (
                (is_buy and ticks > limit_ticks) or (not is_buy and ticks < limit_ticks)
            ):
                break
            cap = remaining
            if max_units is not None:
                affordable = max_units // ticks
                if affordable < cap:
                    cap = affordable
                if cap <= 0:
                    break
            level = levels[ticks]
            queue = level.queue
            available = level.total
            if available < cap:
                cap = available
            taken = 0
            while taken < cap:
                maker = queue[0]
                if not maker.live:
                    queue.popleft()
                    level.dead -= 1
                    continue
                leaves = maker.leaves
                lots = cap - taken
                if leaves < lots:
                    lots = leaves
                leaves -= lots
                maker.leaves = leaves
                taken += lots
                append((maker, lots, ticks))
                if leaves == 0:
                    maker.live = False
                    queue.popleft()
            remaining -= taken
            if max_units is not None:
                max_units -= taken * ticks
            level.total -= taken
            if level.total == 0:
                del levels[ticks]
                keys.pop()
            else:
                break  # the taker ran out inside this level
        if fills:  # (the best levels changed)
            if is_buy:
                self.ask_changes += 1
            else:
                self.bid_changes += 1
        return fills

    def sweep_cost(self, is_buy: bool, max_lots: int) -> tuple[int, int]:
        """What a market order of ``max_lots`` would take, without taking it: (lots, units)."""
        if is_buy:
            levels, keys, sign = self.asks, self.ask_keys, -1
        else:
            levels, keys, sign = self.bids, self.bid_keys, 1
        lots = units = 0
        for key in reversed(keys):
            ticks = key * sign
            take = min(levels[ticks].total, max_lots - lots)
            lots += take
            units += take * ticks
            if lots >= max_lots:
                break
        return lots, units

    # ----------------------------------------------------------------- reading
    def best_bid(self) -> tuple[int, int] | None:
        """(ticks, lots) of the best bid, or None."""
        if not self.bid_keys:
            return None
        ticks = self.bid_keys[-1]
        return ticks, self.bids[ticks].total

    def best_ask(self) -> tuple[int, int] | None:
        if not self.ask_keys:
            return None
        ticks = -self.ask_keys[-1]
        return ticks, self.asks[ticks].total

    def watch(self, is_buy: bool, limit: int | None) -> None:
        """From now on count (``bid_changes``/``ask_changes``) only the changes that reach the
        best ``limit`` levels of the side as they are now (a change deeper leaves them as they
        are; the first change that reaches them is counted, and the watch set again after)."""
        keys = self.bid_keys if is_buy else self.ask_keys
        watch = keys[-limit] if limit and 0 < limit <= len(keys) else NO_WATCH
        if is_buy:
            self.bid_watch = watch
        else:
            self.ask_watch = watch

    def level_values(self, is_buy: bool, limit: int | None, price_of: Mapping[int, T],
                     qty_of: Mapping[int, T]) -> tuple[tuple[T, T], ...]:
        """``levels`` with each (ticks, lots) given as (``price_of[ticks]``, ``qty_of[lots]``),
        as a tuple: what a depth snapshot holds, without the levels' own list."""
        keys = self.bid_keys if is_buy else self.ask_keys
        best_first = keys[::-1] if not limit or limit <= 0 else keys[:-limit - 1:-1]
        if is_buy:
            bids = self.bids
            return tuple([(price_of[ticks], qty_of[bids[ticks].total]) for ticks in best_first])
        asks = self.asks
        return tuple([(price_of[-key], qty_of[asks[-key].total]) for key in best_first])

    def levels(self, is_buy: bool, limit: int | None) -> list[tuple[int, int]]:
        """Aggregated (ticks, lots) levels of one side, best first."""
        keys = self.bid_keys if is_buy else self.ask_keys
        best_first = keys[::-1] if not limit or limit <= 0 else keys[:-limit - 1:-1]
        if is_buy:
            bids = self.bids
            return [(ticks, bids[ticks].total) for ticks in best_first]
        asks = self.asks
        return [(-key, asks[-key].total) for key in best_first]

    def queue_ahead(self, order: BookEntry) -> int | None:
        """Lots resting ahead of ``order`` at its price (its queue position), None if not live."""
        if not order.live:
            return None
        levels = self.bids if order.is_buy else self.asks
        level = levels.get(order.ticks)
        if level is None:
            return None
        ahead = 0
        for o in level.queue:
            if o is order:
                return ahead
            if o.live:
                ahead += o.leaves
        return None
