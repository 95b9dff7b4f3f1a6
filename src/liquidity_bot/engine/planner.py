"""The quoting planner: desired quotes x live orders x budget x obligations -> actions. Pure.

Bitrue allows 100 order requests a minute per key (cancels count), so what matters is not how
closely the book follows the strategy but whether the obligations hold, request by request:

- **Size over levels.** The depth obligation is carried by a *core* of at most two orders per
  side: the *inner* one at the strategy's best price, sized ``inner_cover`` x the minimum depth,
  and a *backup* behind it sized ``backup_cover`` x the minimum, so that one fill never breaks
  the obligation. Both come out of the size the strategy wants on that side (the strategy
  decides how much to show, the planner how few orders carry it); the strategy's outer levels
  are *decoration*, placed only with spare budget. With too little size for two, one order
  carries it all (the cheapest shape that meets the obligation).
- **Keep bands from the obligations.** A live order is kept while the side it belongs to still
  meets the obligations with a margin (depth inside ``band_margin`` of the +-2 % band, our best
  bid and ask within ``spread_margin`` of the maximum spread) and it is not *exposed* (closer to
  mid than ``exposure`` x the distance the strategy wants, or through it). The strategy's new
  price moves an order only when the budget is plentiful.
- **Spend by purpose**, in this order: RESTORE a side that is empty or short of its depth;
  RESCUE what is about to breach (spread, a missing backup, an exposed order, too many orders);
  IMPROVE (follow the strategy's prices, decoration, trimming), each within its ``Allowance``.
- **All or nothing.** A replacement is one action of two requests, the new order first: it is
  sent whole or not at all, so the budget never pulls a level without replacing it. Following
  the strategy (IMPROVE) goes further: the new order goes out alone and the one it supersedes
  is trimmed only once every order of the side has rested (``min_rest_s``: a young order does
  not count for the obligations yet), so improving never costs uptime.

No I/O, no clock, no asyncio: ``plan`` is a function, property-tested in
``tests/unit/test_planner.py``; ``OrderManager`` feeds it and carries out its actions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import IntEnum

from liquidity_bot.domain.order import Side
from liquidity_bot.strategies.base import DesiredQuote, InstrumentLike, QuoteSet
from liquidity_bot.strategies.shaping import ceil_qty, exchange_minimum

ZERO = Decimal(0)
HUNDRED = Decimal(100)
BUY, SELL = Side.BUY, Side.SELL
# New orders one side may send within the settle time (``OrderManager``'s SETTLE_MS) before the
# planner waits for them: enough for an inner order and its backup.
MAX_NEW_PER_SETTLE = 2


class Purpose(IntEnum):
    """Why requests are spent, most urgent first (``Allowance`` gives each its own ceiling)."""

    RESTORE = 0  # a side empty or below its depth obligation
    RESCUE = 1  # about to breach: spread, no backup, exposed order, order pile-up
    IMPROVE = 2  # follow the strategy: reprice, decoration, trimming


@dataclass(frozen=True, slots=True)
class Allowance:
    """How many requests this market may spend now, cumulatively, up to each purpose:
    ``restore >= rescue >= improve`` (from ``OrderBudget.allowance``)."""

    restore: int
    rescue: int
    improve: int

    def of(self, purpose: Purpose) -> int:
        if purpose is Purpose.RESTORE:
            return self.restore
        if purpose is Purpose.RESCUE:
            return self.rescue
        return self.improve


@dataclass(frozen=True)
class Tolerance:
    """How far a live order may be from a desired quote and still count as that quote."""

    price_ticks: int | None = 1
    price_pct: Decimal | None = None
    size_pct: Decimal = Decimal(10)

    def price_ok(self, price: Decimal, wanted: Decimal, tick: Decimal) -> bool:
        gap = abs(price - wanted)
        if self.price_ticks is not None and gap > tick * self.price_ticks:
            return False
        return not (self.price_pct is not None and gap > wanted * self.price_pct / HUNDRED)

    def size_ok(self, qty: Decimal, wanted: Decimal) -> bool:
        return abs(qty - wanted) <= wanted * self.size_pct / HUNDRED

    def keeps(self, order: object, quote: DesiredQuote, tick: Decimal) -> bool:
        """``order`` (side, price, remaining_qty) stands for ``quote``."""
        return (
            order.side is quote.side  # type: ignore[attr-defined]
            and self.price_ok(order.price, quote.price, tick)  # type: ignore[attr-defined]
            and self.size_ok(order.remaining_qty, quote.qty)  # type: ignore[attr-defined]
        )


@dataclass(frozen=True)
class PlanRules:
    """The obligations and limits the planner plans against, and its margins."""

    max_spread_pct: Decimal | None = None
    min_depth_quote: Decimal = ZERO
    band_pct: Decimal = Decimal(2)
    max_order_notional: Decimal | None = None
    tolerance: Tolerance = field(default_factory=Tolerance)
    inner_cover: Decimal = Decimal("1.5")
    backup_cover: Decimal = Decimal("1.2")
    spread_margin: Decimal = Decimal("0.7")
    band_margin: Decimal = Decimal("0.85")
    exposure: Decimal = Decimal("0.5")
    backup_reach: Decimal = Decimal("0.75")  # where a new backup goes: of the max spread, with
    # the other side's inner price; an existing one is kept out to ``backup_keep`` of it
    backup_keep: Decimal = Decimal("0.95")
    spread_cap: Decimal = Decimal("0.95")  # the inner quotes never ask for a wider spread than
    # this share of the maximum (a strategy's volatility floor or skew may; the obligation wins)
    minimal: bool = False  # loss limit hit: only the inner order, nothing spent on improving
    min_rest_ms: int = 0  # an order counts for the obligations once it has rested this long


@dataclass(frozen=True, slots=True)
class LiveOrder:
    """One of our orders as the planner sees it. ``cancellable``: acknowledged, so a cancel
    can go now (an order still on the wire, or in doubt, is waited for)."""

    client_order_id: str
    side: Side
    price: Decimal
    qty: Decimal  # remaining
    cancellable: bool = True
    young: bool = False  # has not rested the obligations' min_rest_s yet: does not count yet

    @property
    def notional(self) -> Decimal:
        return self.price * self.qty


@dataclass(frozen=True, slots=True)
class Action:
    """One decision: a new order, a cancel, or both (a replacement: the new one goes first)."""

    purpose: Purpose
    place: DesiredQuote | None = None
    cancel: str | None = None  # client order id
    why: str = ""
    side: Side | None = None  # of the orders it touches

    @property
    def cost(self) -> int:
        return (self.place is not None) + (self.cancel is not None)


@dataclass(frozen=True)
class Plan:
    """``actions`` fit the allowance and go out in order; ``waiting`` did not fit (the orders
    they would have touched stay as they are)."""

    actions: tuple[Action, ...]
    waiting: tuple[Action, ...] = ()

    @property
    def cost(self) -> int:
        return sum(a.cost for a in self.actions)

    @property
    def places(self) -> list[DesiredQuote]:
        return [a.place for a in self.actions if a.place is not None]

    @property
    def cancels(self) -> list[str]:
        return [a.cancel for a in self.actions if a.cancel is not None]


# ---------------------------------------------------------------------------------------------
# Targets: the strategy's side reshaped into core orders and decoration.


@dataclass(frozen=True, slots=True)
class Target:
    quote: DesiredQuote
    role: str  # "inner", "backup" or "decor"


def _cap(inst: InstrumentLike, qty: Decimal, price: Decimal, rules: PlanRules) -> Decimal:
    """At most ``max_order_notional`` (the risk gate would refuse more)."""
    if rules.max_order_notional is None or price * qty <= rules.max_order_notional:
        return qty
    return inst.round_qty(rules.max_order_notional / price)


def _with(q: DesiredQuote, *, price: Decimal | None = None, qty: Decimal | None = None,
          priority: int | None = None) -> DesiredQuote:
    return DesiredQuote(q.side, q.price if price is None else price, q.qty if qty is None else qty,
                        q.priority if priority is None else priority, q.level,
                        q.obligation_critical)


def side_targets(
    quotes: Sequence[DesiredQuote], mid: Decimal, rules: PlanRules, inst: InstrumentLike,
    other_inner: Decimal | None = None,
) -> list[Target]:
    """The orders one side should have (innermost first): see the module docstring.

    The backup stands as far from mid as the spread obligation allows with the other side's
    inner price ``other_inner`` (``backup_reach`` of the maximum spread): a move that sweeps the
    inner order rarely reaches it, and it still keeps the spread once it is our best price."""
    if not quotes:
        return []
    quotes = sorted(quotes, key=lambda q: q.level)
    need = rules.min_depth_quote
    if need <= ZERO:
        return [Target(_with(q, qty=_cap(inst, q.qty, q.price, rules)), "decor" if i else "inner")
                for i, q in enumerate(quotes)]
    first = quotes[0]
    side = first.side
    is_bid = side is BUY
    total = sum((q.qty for q in quotes), ZERO)  # base units the strategy shows on this side
    inner_price = first.price
    backup_price = quotes[1].price if len(quotes) > 1 else (
        inner_price - 2 * inst.tick if is_bid else inner_price + 2 * inst.tick)
    if rules.max_spread_pct is not None and other_inner is not None:
        reach = mid * rules.max_spread_pct / HUNDRED * rules.backup_reach - abs(other_inner - mid)
        backup_price = inst.round_price(mid - reach if is_bid else mid + reach,
                                        SELL if is_bid else BUY)
    band = mid * rules.band_pct / HUNDRED * rules.band_margin
    band_edge = inst.round_price(mid - band if is_bid else mid + band, SELL if is_bid else BUY)
    if (backup_price < band_edge) if is_bid else (backup_price > band_edge):
        backup_price = band_edge
    if (backup_price >= inner_price) if is_bid else (backup_price <= inner_price):
        backup_price = inner_price - inst.tick if is_bid else inner_price + inst.tick
    bare = ceil_qty(inst, need * Decimal("1.05") / inner_price)
    want_inner = ceil_qty(inst, need * rules.inner_cover / inner_price)
    want_backup = ceil_qty(inst, need * rules.backup_cover / backup_price)
    out: list[Target]
    rest = ZERO
    if rules.minimal:
        qty = want_inner if total >= want_inner else max(total, bare)
        return [Target(_with(first, qty=_cap(inst, qty, inner_price, rules)), "inner")]
    if total >= want_inner + want_backup:
        inner_qty, backup_qty = want_inner, want_backup
        rest = total - inner_qty - backup_qty
    elif total >= 2 * ceil_qty(inst, need * Decimal("1.05") / backup_price):
        inner_qty = ceil_qty(inst, total / 2)
        backup_qty = inst.round_qty(total - inner_qty)
    else:
        inner_qty, backup_qty = max(total, bare), ZERO
    out = [Target(_with(first, qty=_cap(inst, inner_qty, inner_price, rules)), "inner")]
    if backup_qty > ZERO:
        backup = _with(quotes[1] if len(quotes) > 1 else first, price=backup_price,
                       qty=_cap(inst, backup_qty, backup_price, rules),
                       priority=first.priority)
        out.append(Target(backup, "backup"))
    for q in quotes[2:]:
        if rest <= ZERO:
            break
        qty = _cap(inst, q.qty if q.qty <= rest else inst.round_qty(rest), q.price, rules)
        if qty < exchange_minimum(inst, q.price):
            break
        rest -= qty
        out.append(Target(_with(q, qty=qty), "decor"))
    return out


# ---------------------------------------------------------------------------------------------
# The plan.


class _SidePlanner:
    """One side's live orders against its targets."""

    def __init__(self, side: Side, targets: list[Target], live: list[LiveOrder], mid: Decimal,
                 rules: PlanRules, inst: InstrumentLike) -> None:
        self.side = side
        self.is_bid = side is BUY
        self.rules = rules
        self.inst = inst
        self.mid = mid
        self.targets = targets
        self.live = live
        band = mid * rules.band_pct / HUNDRED * rules.band_margin
        self.band_edge = mid - band if self.is_bid else mid + band
        inner = targets[0].quote.price if targets else None
        self.exposure_edge: Decimal | None = None
        if inner is not None:
            reach = abs(mid - inner) * rules.exposure
            self.exposure_edge = mid - reach if self.is_bid else mid + reach
        self.planned: list[DesiredQuote] = []  # places planned so far
        self.recent = 0  # new orders sent on this side within the settle time (any outcome)
        self.leaving: set[str] = set()  # cancels planned so far
        self.matched: dict[int, LiveOrder] = {}  # target index -> live order standing for it
        self.backup_edge: Decimal | None = None  # set by ``pair`` from the other side

    def pair(self, other: _SidePlanner) -> None:
        """Learn the other side's inner price (a backup must keep the spread with it), then
        match live orders to targets."""
        rules = self.rules
        if rules.max_spread_pct is not None and other.targets:
            reach = (self.mid * rules.max_spread_pct / HUNDRED * rules.backup_keep
                     - abs(other.targets[0].quote.price - self.mid))
            self.backup_edge = self.mid - reach if self.is_bid else self.mid + reach
        self._match()

    # --- reading the side ------------------------------------------------------------------
    def exposed(self, o: LiveOrder) -> bool:
        edge = self.exposure_edge
        if edge is None:
            return False
        return o.price > edge if self.is_bid else o.price < edge

    def in_band(self, price: Decimal) -> bool:
        return price >= self.band_edge if self.is_bid else price <= self.band_edge

    def usable(self, o: LiveOrder) -> bool:
        """Counts towards the obligations now and for a while."""
        return o.client_order_id not in self.leaving and self.in_band(o.price) and not self.exposed(o)

    def _match(self) -> None:
        """Which live order stands for which target. Only the inner order's price is the
        strategy's edge: it is matched within the price tolerance. A backup is any other usable
        order close enough to keep the spread when the inner one fills, and decoration any
        usable order left: moving those would buy nothing the obligations pay for."""
        tol, tick = self.rules.tolerance, self.inst.tick
        free = [o for o in self.live if self.usable(o)]

        def closest(cands: list[LiveOrder], price: Decimal) -> LiveOrder | None:
            return min(cands, key=lambda o: abs(o.price - price), default=None)

        for i, t in enumerate(self.targets):
            price = t.quote.price
            if t.role == "inner":
                cands = [o for o in free if tol.price_ok(o.price, price, tick)]
            elif t.role == "backup":
                cands = [o for o in free if self.within_reach(o.price)]
            else:
                cands = free
            best = closest(cands, price)
            if best is not None:
                self.matched[i] = best
                free.remove(best)

    def within_reach(self, price: Decimal) -> bool:
        """Close enough to be our best price, with the other side's inner order, without
        breaking the spread obligation."""
        edge = self.backup_edge
        if edge is None:
            return True
        return price >= edge if self.is_bid else price <= edge

    def prices(self) -> list[Decimal]:
        """Our usable prices after the planned actions, innermost first."""
        ps = [o.price for o in self.live if self.usable(o)] + [q.price for q in self.planned]
        return sorted(ps, reverse=self.is_bid)

    def best(self) -> Decimal | None:
        ps = self.prices()
        return ps[0] if ps else None

    def any_young(self) -> bool:
        return any(o.young for o in self.live if o.client_order_id not in self.leaving) or bool(
            self.planned)

    def depth(self, *, without_best: bool = False) -> Decimal:
        items = [(o.price, o.notional) for o in self.live if self.usable(o)]
        items += [(q.price, q.price * q.qty) for q in self.planned if self.in_band(q.price)]
        if without_best and items:
            items.sort(key=lambda pn: pn[0], reverse=self.is_bid)
            items = items[1:]
        return sum((n for _, n in items), ZERO)

    def held_depth(self) -> Decimal:
        """What the obligations see now: every order of ours in the band (exposed ones too,
        until they fill), the ones planned included."""
        items = [o.notional for o in self.live
                 if o.client_order_id not in self.leaving and self.in_band(o.price)]
        items += [q.price * q.qty for q in self.planned if self.in_band(q.price)]
        return sum(items, ZERO)

    def can_drop(self, o: LiveOrder) -> bool:
        """Cancelling ``o`` keeps the side's depth obligation (when it is met now)."""
        need = self.rules.min_depth_quote
        if need <= ZERO or not self.in_band(o.price):
            return True
        held = self.held_depth()
        return held < need or held - o.notional >= need

    def count(self) -> int:
        return sum(o.client_order_id not in self.leaving for o in self.live) + len(self.planned)

    def unmatched(self, roles: tuple[str, ...]) -> list[tuple[int, Target]]:
        planned = {id(q) for q in self.planned}
        return [(i, t) for i, t in enumerate(self.targets)
                if t.role in roles and i not in self.matched and id(t.quote) not in planned]

    def spare(self) -> LiveOrder | None:
        """The least useful cancellable order not needed by any target: unusable ones first,
        then the farthest from mid."""
        needed = {o.client_order_id for o in self.matched.values()}
        young = self.any_young()
        # an exposed order still counts for the obligations until the newer ones do; a young
        # order is a decision of moments ago: cancelling it now would only churn
        cands = [o for o in self.live if o.cancellable and o.client_order_id not in self.leaving
                 and o.client_order_id not in needed and not o.young
                 and not (young and self.in_band(o.price) and self.exposed(o))]
        if not cands:
            return None
        dust = self.rules.min_depth_quote / 4  # too small to matter for the obligations
        cands.sort(key=lambda o: (self.usable(o), o.notional >= dust,
                                  o.price if self.is_bid else -o.price))
        return cands[0]

    # --- deciding ------------------------------------------------------------------------------
    def add(self, purpose: Purpose, q: DesiredQuote, why: str) -> Action:
        self.planned.append(q)
        return Action(purpose, place=q, why=why, side=self.side)

    def drop(self, purpose: Purpose, o: LiveOrder, why: str) -> Action:
        self.leaving.add(o.client_order_id)
        return Action(purpose, cancel=o.client_order_id, why=why, side=self.side)

    def limit(self) -> int:
        """Orders a side may hold before the planner trims (one spare generation)."""
        return len(self.targets) + 1

    def chasing(self) -> bool:
        """``MAX_NEW_PER_SETTLE`` new orders went out on this side moments ago (they may have
        filled at once, or the market ran past them): let them settle rather than chase a fast
        move, or buy a falling market, with new orders on every book."""
        return self.recent + len(self.planned) >= MAX_NEW_PER_SETTLE

    def restore(self) -> list[Action]:
        need = self.rules.min_depth_quote
        out: list[Action] = []
        if not self.targets or self.recent >= MAX_NEW_PER_SETTLE:
            return out
        if need <= ZERO:
            if self.best() is None:
                out.append(self.add(Purpose.RESTORE, self.targets[0].quote, "side empty"))
            return out
        for _, t in self.unmatched(("inner", "backup")):
            if self.depth() >= need:
                break
            out.append(self.add(Purpose.RESTORE, t.quote, f"{self.side} depth below minimum"))
        short = need - self.depth()
        if short > ZERO:  # every core order stands, partly filled: top up with one order
            # of the inner order's full size: it carries the side alone once the rest fills
            # (a top-up of just the shortfall leaves dust that each costs a request later)
            inner = self.targets[0].quote
            out.append(self.add(Purpose.RESTORE, inner,
                                f"{self.side} depth topped up after a partial fill"))
        return out

    def rescue_backup(self) -> list[Action]:
        """One fill must not break the depth: the backup (or a top-up) behind the best."""
        need = self.rules.min_depth_quote
        if need <= ZERO or self.rules.minimal or len(self.targets) < 2:
            return []
        if self.depth(without_best=True) >= need or self.chasing():
            return []
        for _, t in self.unmatched(("backup", "inner")):
            return [self._add_within_limit(Purpose.RESCUE, t.quote, f"{self.side} backup")]
        return []

    def _add_within_limit(self, purpose: Purpose, q: DesiredQuote, why: str) -> Action:
        """Place ``q``, cancelling a spare order beside it when the side is full."""
        cancel = self.spare() if self.count() >= self.limit() else None
        action = self.add(purpose, q, why)
        if cancel is not None and self.can_drop(cancel):  # judged with ``q`` planned
            self.leaving.add(cancel.client_order_id)
            action = Action(purpose, place=q, cancel=cancel.client_order_id, why=why,
                            side=self.side)
        return action

    def rescue_inner(self, why: str, purpose: Purpose = Purpose.RESCUE) -> list[Action]:
        """Our best price is too far (spread): the inner target, placed first."""
        if not self.targets:
            return []
        if 0 in self.matched or any(q is self.targets[0].quote for q in self.planned):
            return []
        if self.chasing():
            return []
        return [self._add_within_limit(purpose, self.targets[0].quote, why)]

    def trim(self, purpose: Purpose) -> list[Action]:
        """Cancel spare orders while the side holds more than its limit (RESCUE) or any spare
        order not needed at all (IMPROVE)."""
        out = []
        limit = self.limit() if purpose is Purpose.RESCUE else len(self.targets)
        while self.count() > limit:
            o = self.spare()
            if o is None:
                break
            if not self.can_drop(o) or purpose is Purpose.IMPROVE and self.usable(o) and (
                    self._needed_for_depth(o) or self.any_young()):
                break  # it still carries the obligations until the newer orders count
            out.append(self.drop(purpose, o, f"{self.side} order not needed"))
        if purpose is Purpose.IMPROVE:  # orders out of the band, or exposed once the rest count
            young = self.any_young()
            for o in self.live:
                if (o.cancellable and not o.young and o.client_order_id not in self.leaving
                        and not self.usable(o) and o not in self.matched.values()
                        and not (self.in_band(o.price) and young) and self.can_drop(o)
                        and self.count() > 1):
                    out.append(self.drop(purpose, o, f"{self.side} order out of the band"))
        return out

    def _needed_for_depth(self, o: LiveOrder) -> bool:
        need = self.rules.min_depth_quote
        return need > ZERO and self.depth() - o.notional < need

    def improve(self) -> list[Action]:
        """Follow the strategy: each core target not stood for gets its order (replacing a
        spare one when the side is full), then the decoration."""
        out: list[Action] = []
        if self.any_young():
            return out  # one change at a time: the last one must count first
        for _, t in self.unmatched(("inner", "backup", "decor")):
            if self.count() > len(self.targets):
                break  # trim first (``trim``), then follow further
            out.append(self.add(Purpose.IMPROVE, t.quote,
                                f"{self.side} {t.role} to the strategy's price"))
            break
        return out


def plan(
    quotes: QuoteSet,
    live: Sequence[LiveOrder],
    mid: Decimal | None,
    rules: PlanRules,
    allowance: Allowance,
    inst: InstrumentLike,
    recent: Mapping[Side, int] | None = None,
) -> Plan:
    """What to place and cancel now (see the module docstring). Never more requests than the
    allowance; actions that do not fit wait whole. ``recent``: new orders sent per side within
    the settle time, whatever became of them."""
    if mid is None or mid <= ZERO:
        return Plan(())
    sides = {}
    bids, asks = _within_obligations(quotes.bids, quotes.asks, mid, rules, inst)
    inner = {BUY: bids[0] if bids else None, SELL: asks[0] if asks else None}
    for side, qs in ((BUY, bids), (SELL, asks)):
        other = inner[SELL if side is BUY else BUY]
        targets = side_targets(qs, mid, rules, inst, None if other is None else other.price)
        sides[side] = _SidePlanner(side, targets, [o for o in live if o.side is side], mid,
                                   rules, inst)
    bid, ask = sides[BUY], sides[SELL]
    if recent:
        bid.recent, ask.recent = recent.get(BUY, 0), recent.get(SELL, 0)
    bid.pair(ask)
    ask.pair(bid)
    wanted: list[Action] = []
    # 1. restore both sides
    wanted += bid.restore() + ask.restore()
    # 2. rescue: spread, backups, exposure, pile-ups
    if rules.max_spread_pct is not None:
        b, a = bid.best(), ask.best()
        limit = mid * rules.max_spread_pct / HUNDRED
        if b is not None and a is not None and (a - b) > limit * rules.spread_margin:
            # beyond the maximum already: as urgent as an empty side
            purpose = Purpose.RESTORE if a - b > limit else Purpose.RESCUE
            for s in (bid, ask):
                wanted += s.rescue_inner(f"{s.side} too far: our spread {a - b} near the maximum",
                                         purpose)
    wanted += bid.rescue_backup() + ask.rescue_backup()
    wanted += bid.trim(Purpose.RESCUE) + ask.trim(Purpose.RESCUE)
    # 3. improve
    if not rules.minimal:
        wanted += bid.improve() + ask.improve()
        wanted += bid.trim(Purpose.IMPROVE) + ask.trim(Purpose.IMPROVE)
    return _fit(wanted, live, allowance)


def _within_obligations(
    bids: Sequence[DesiredQuote], asks: Sequence[DesiredQuote], mid: Decimal, rules: PlanRules,
    inst: InstrumentLike,
) -> tuple[list[DesiredQuote], list[DesiredQuote]]:
    """Each side's quotes innermost first, the inner one pulled in where the strategy wants it
    farther from mid than the obligations keep it: inside ``band_margin`` of the depth band
    (an inner order beyond it would not count, and the side would be restored again and
    again), and our spread within ``spread_cap`` of the maximum. A side may take what the
    other leaves of that spread, and at least half of it."""
    bids = sorted(bids, key=lambda q: q.level)
    asks = sorted(asks, key=lambda q: q.level)
    if not bids and not asks:
        return bids, asks
    band = mid * rules.band_pct / HUNDRED * rules.band_margin
    spread = (None if rules.max_spread_pct is None
              else mid * rules.max_spread_pct / HUNDRED * rules.spread_cap)
    dist = {BUY: mid - bids[0].price if bids else None,
            SELL: asks[0].price - mid if asks else None}
    out = {BUY: bids, SELL: asks}
    for side, qs in out.items():
        if not qs:
            continue
        cap = band
        other = dist[SELL if side is BUY else BUY]
        if spread is not None:
            cap = min(cap, max(spread - other, spread / 2) if other is not None else spread)
        if dist[side] > cap:
            price = inst.round_price(mid - cap if side is BUY else mid + cap,
                                     SELL if side is BUY else BUY)
            out[side] = [_with(qs[0], price=price), *qs[1:]]
    return out[BUY], out[SELL]


def _fit(wanted: list[Action], live: Sequence[LiveOrder], allowance: Allowance) -> Plan:
    """Keep the actions that fit their purpose's allowance, in order; an action whose cancel
    cannot go yet (the order is on the wire) waits whole."""
    cancellable = {o.client_order_id for o in live if o.cancellable}
    spent = 0
    actions: list[Action] = []
    waiting: list[Action] = []
    held: set[Side] = set()  # sides where a new order waits: what was planned after it waits too
    for a in wanted:  # in the order planned: a later action may count on an earlier one
        if a.cancel is not None and a.cancel not in cancellable:
            if a.place is None:
                continue  # nothing to do until the order's answer comes
            a = Action(a.purpose, place=a.place, why=a.why, side=a.side)  # cancel later
        if a.side in held or spent + a.cost > allowance.of(a.purpose):
            waiting.append(a)
            if a.place is not None and a.side is not None:
                held.add(a.side)
            continue
        spent += a.cost
        actions.append(a)
    actions.sort(key=lambda a: a.purpose)  # stable: the order within a purpose
    return Plan(tuple(actions), tuple(waiting))
