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
``tests/unit/test_planner.py``; ``OrderManager`` feeds it and carries out its actions. Inside,
prices are ticks and quantities lots (ints, ``domain.ticks``); Decimal is only what comes in
and what goes out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import IntEnum
from functools import cached_property
from operator import attrgetter, itemgetter

from liquidity_bot.domain.order import Side
from liquidity_bot.domain.slot_init import slot_init
from liquidity_bot.domain.tick_filters import tick_scale
from liquidity_bot.domain.ticks import CEIL, FLOOR, TickError, TickScale
from liquidity_bot.strategies.base import DesiredQuote, InstrumentLike, QuoteSet

ZERO = Decimal(0)
HUNDRED = Decimal(100)
BARE_COVER = Decimal("1.05")  # the least an order carrying a side alone covers of the minimum
_by_level, _by_purpose, _first = attrgetter("level"), attrgetter("purpose"), itemgetter(0)
BUY, SELL = Side.BUY, Side.SELL
# New orders one side may send within the settle time (``OrderManager``'s SETTLE_MS) before the
# planner waits for them: enough for an inner order and its backup.
MAX_NEW_PER_SETTLE = 2


class Purpose(IntEnum):
    """Why requests are spent, most urgent first (``Allowance`` gives each its own ceiling)."""

    RESTORE = 0  # a side empty or below its depth obligation
    RESCUE = 1  # about to breach: spread, no backup, exposed order, order pile-up
    IMPROVE = 2  # follow the strategy: reprice, decoration, trimming


@slot_init
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

    def price_ok_ticks(self, gap: int, wanted: int) -> bool:
        """``price_ok`` in ticks: ``gap`` = |price - wanted|, both in ticks of the same grid."""
        if self.price_ticks is not None and gap > self.price_ticks:
            return False
        if self.price_pct is None:
            return True
        num, den = self._pct_ratio  # gap x tick > wanted x tick x pct / 100, in integers
        return not gap * 100 * den > wanted * num

    @cached_property
    def _pct_ratio(self) -> tuple[int, int]:
        return (self.price_pct or ZERO).as_integer_ratio()

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


@slot_init
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


@slot_init
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
# Integers. Below, a price is a number of ticks, a quantity a number of lots and a notional a
# number of notional units (``domain.ticks``): the loops compare and add ints. Each Decimal
# threshold (a band edge, the minimum depth) is converted once per plan, rounded in the
# direction that makes the integer comparison give exactly the Decimal comparison's answer.


def _ratio(value: Decimal) -> tuple[int, int]:
    return value.as_integer_ratio()


class _Limits:
    """The rules' and the instrument's Decimal amounts in notional units and lots (a plan
    compares with them hundreds of times): ``x >= need`` in Decimal is ``units >= need`` here;
    the rules' shares of mid as exact ratios (``_Mid`` turns them into edges in ticks)."""

    __slots__ = ("rules", "inst", "scale", "has_need", "need", "bare", "inner", "backup", "dust",
                 "max_notional", "min_lots", "min_val", "band", "exposure", "spread",
                 "spread_margin", "backup_reach", "backup_keep", "last_targets")

    def __init__(self, rules: PlanRules, inst: InstrumentLike) -> None:
        self.rules, self.inst = rules, inst
        self.scale = scale = tick_scale(inst.tick, inst.step)
        need = rules.min_depth_quote
        self.has_need = need > ZERO
        self.need = scale.notional_units(need, CEIL)
        self.bare = scale.notional_units(need * BARE_COVER, CEIL)
        self.inner = scale.notional_units(need * rules.inner_cover, CEIL)
        self.backup = scale.notional_units(need * rules.backup_cover, CEIL)
        self.dust = scale.notional_units(need / 4, CEIL)  # too small to matter for the obligations
        cap = rules.max_order_notional
        self.max_notional = None if cap is None else scale.notional_units(cap, FLOOR)
        self.min_lots = scale.lots(inst.min_qty, CEIL)
        self.min_val = scale.notional_units(inst.min_val, CEIL) if inst.min_val else 0
        # shares of mid, as the Decimal code wrote them (``mid * pct / 100 * margin``)
        self.band = _ratio(rules.band_pct / HUNDRED * rules.band_margin)
        self.exposure = _ratio(rules.exposure)
        spread = rules.max_spread_pct
        self.spread = None if spread is None else _ratio(spread / HUNDRED)
        self.spread_margin = (None if spread is None
                              else _ratio(spread / HUNDRED * rules.spread_margin))
        self.backup_reach = (None if spread is None
                             else _ratio(spread / HUNDRED * rules.backup_reach))
        self.backup_keep = (None if spread is None
                            else _ratio(spread / HUNDRED * rules.backup_keep))
        # the last plan's targets under these rules: (bids, asks, mid) -> (bid, ask targets)
        self.last_targets: tuple[object, list[Target], list[Target]] | None = None

    def cap(self, lots: int, ticks: int) -> int:
        """At most ``max_order_notional`` (the risk gate would refuse more)."""
        cap = self.max_notional
        if cap is None or ticks * lots <= cap:
            return lots
        return cap // ticks

    def minimum(self, ticks: int) -> int:
        """``shaping.exchange_minimum`` in lots: the smallest order the exchange accepts."""
        least = self.min_lots
        if self.min_val and ticks > 0:
            at_price = -(-self.min_val // ticks)
            if at_price > least:
                least = at_price
        return least


class _Mid:
    """Mid as an exact fraction of ticks, ``m / d``, and the edges the planner measures from it,
    each in whole ticks rounded so that comparing a price in ticks with it gives the answer the
    Decimal comparison with the exact edge gives."""

    __slots__ = ("m", "d")

    def __init__(self, mid: Decimal, scale: TickScale) -> None:
        mn, md = mid.as_integer_ratio()
        tn, td = scale.tick.as_integer_ratio()
        self.m, self.d = mn * td, md * tn  # mid / tick

    def band_edge(self, share: tuple[int, int], is_bid: bool) -> int:
        """mid -+ mid x share: the innermost whole tick at or beyond it, toward mid (a bid
        counts at or above the first, an ask at or below the second)."""
        n, d = share
        if is_bid:
            return -(-self.m * (d - n) // (self.d * d))
        return self.m * (d + n) // (self.d * d)

    def reach_edge(self, share: tuple[int, int], other: int, is_bid: bool) -> int:
        """mid -+ (mid x share - |other - mid|): how far a price may stand with the other
        side's inner price ``other`` (ticks) and keep the spread; rounded toward mid."""
        n, d = share
        gap = abs(other * self.d - self.m) * d
        if is_bid:
            return -(-(self.m * (d - n) + gap) // (self.d * d))
        return (self.m * (d + n) - gap) // (self.d * d)

    def exposure_edge(self, share: tuple[int, int], inner: int, is_bid: bool) -> int:
        """mid -+ |mid - inner| x share: a bid above the result (an ask below) is exposed."""
        n, d = share
        gap = abs(self.m - inner * self.d) * n
        if is_bid:
            return (self.m * d - gap) // (self.d * d)
        return -(-(self.m * d + gap) // (self.d * d))

    def whole_ticks(self, share: tuple[int, int]) -> int:
        """floor(mid x share / tick): a spread of whole ticks is beyond mid x share exactly
        when it is beyond this."""
        n, d = share
        return self.m * n // (self.d * d)


_LIMITS: dict[tuple[int, int], _Limits] = {}


def _limits(rules: PlanRules, inst: InstrumentLike) -> _Limits:
    """``_Limits`` of these rules and instrument, kept while both are the same objects."""
    key = (id(rules), id(inst))
    lim = _LIMITS.get(key)
    if lim is None or lim.rules is not rules or lim.inst is not inst:
        if len(_LIMITS) > 256:
            _LIMITS.clear()
        lim = _LIMITS[key] = _Limits(rules, inst)
    return lim


# ---------------------------------------------------------------------------------------------
# Targets: the strategy's side reshaped into core orders and decoration.


class Target:
    """One order a side should have: ``quote`` at ``ticks`` x ``lots``, in the ``role``
    "inner", "backup" or "decor". Most targets are only matched against the live orders,
    never placed: a quote the planner moved or resized (``_target``) is made on first read."""

    __slots__ = ("role", "ticks", "lots", "_quote", "_change")

    def __init__(self, quote: DesiredQuote, role: str, ticks: int = 0, lots: int = 0) -> None:
        self._quote = quote
        self.role = role
        self.ticks = ticks  # quote.price in ticks
        self.lots = lots  # quote.qty in lots
        # what ``quote`` still lacks of ``_quote``: (scale, the quote's ticks and lots, the
        # priority or None), or None when it is ``_quote`` itself
        self._change: tuple[TickScale, int, int, int | None] | None = None

    @property
    def quote(self) -> DesiredQuote:
        change = self._change
        if change is not None:
            scale, q_ticks, q_lots, priority = change
            ticks, lots = self.ticks, self.lots
            self._quote = _with(self._quote,
                                price=None if ticks == q_ticks else scale.price(ticks),
                                qty=None if lots == q_lots else scale.qty(lots),
                                priority=priority)
            self._change = None
        return self._quote

    def __repr__(self) -> str:
        return (f"Target(quote={self.quote!r}, role={self.role!r}, ticks={self.ticks!r}, "
                f"lots={self.lots!r})")


def _with(q: DesiredQuote, *, price: Decimal | None = None, qty: Decimal | None = None,
          priority: int | None = None) -> DesiredQuote:
    return DesiredQuote(q.side, q.price if price is None else price, q.qty if qty is None else qty,
                        q.priority if priority is None else priority, q.level,
                        q.obligation_critical)


def _target(q: DesiredQuote, role: str, scale: TickScale, ticks: int, lots: int, q_ticks: int,
            q_lots: int, priority: int | None = None) -> Target:
    """``q`` at ``ticks`` x ``lots`` (``q`` itself where nothing changes; else the changed
    quote is made when the target's ``quote`` is first read)."""
    target = Target(q, role, ticks, lots)
    if ticks != q_ticks or lots != q_lots or priority is not None and priority != q.priority:
        target._change = (scale, q_ticks, q_lots, priority)
    return target


def side_targets(
    quotes: Sequence[DesiredQuote], mid: Decimal, rules: PlanRules, inst: InstrumentLike,
    other_inner: Decimal | None = None,
) -> list[Target]:
    """The orders one side should have (innermost first): see the module docstring.

    The backup stands as far from mid as the spread obligation allows with the other side's
    inner price ``other_inner`` (``backup_reach`` of the maximum spread): a move that sweeps the
    inner order rarely reaches it, and it still keeps the spread once it is our best price.
    The quotes must be on the instrument's grid (strategies round them)."""
    lim = _limits(rules, inst)
    other = None if other_inner is None else lim.scale.ticks(other_inner)
    return _side_targets(quotes, _Mid(mid, lim.scale), rules, lim, other)


def _converted(quotes: Sequence[DesiredQuote], scale: TickScale, qty: bool = False
               ) -> list[int]:
    """``[scale.ticks(q.price) ...]`` (``qty``: ``[scale.lots(q.qty) ...]``), reading the
    scale's memo of exact conversions first, in one call for the side."""
    if qty:
        memo, convert = scale._lots_of, scale.lots
    else:
        memo, convert = scale._ticks_of, scale.ticks
    out = []
    for q in quotes:  # (loops, not comprehensions: each of those is a function call)
        value = q.qty if qty else q.price
        known = memo.get(value) if type(value) is Decimal else None
        out.append(convert(value) if known is None else known)
    return out


def _side_targets(
    quotes: Sequence[DesiredQuote], mid: _Mid, rules: PlanRules, lim: _Limits,
    other_inner: int | None,
) -> list[Target]:
    if not quotes:
        return []
    scale = lim.scale
    quotes = sorted(quotes, key=_by_level)
    ticks = _converted(quotes, scale)
    lots = _converted(quotes, scale, qty=True)
    if not lim.has_need:
        return [_target(q, "decor" if i else "inner", scale, t, lim.cap(n, t), t, n)
                for i, (q, t, n) in enumerate(zip(quotes, ticks, lots, strict=True))]
    first = quotes[0]
    is_bid = first.side is BUY
    total = sum(lots)  # lots the strategy shows on this side
    inner_t = ticks[0]
    backup_t = ticks[1] if len(quotes) > 1 else (inner_t - 2 if is_bid else inner_t + 2)
    if lim.backup_reach is not None and other_inner is not None:
        backup_t = mid.reach_edge(lim.backup_reach, other_inner, is_bid)
    band_edge = mid.band_edge(lim.band, is_bid)
    if (backup_t < band_edge) if is_bid else (backup_t > band_edge):
        backup_t = band_edge
    if (backup_t >= inner_t) if is_bid else (backup_t <= inner_t):
        backup_t = inner_t - 1 if is_bid else inner_t + 1
    bare = -(-lim.bare // inner_t)  # (ceiling divisions, written out)
    want_inner = -(-lim.inner // inner_t)
    want_backup = -(-lim.backup // backup_t)
    rest = 0
    if rules.minimal:
        n = want_inner if total >= want_inner else max(total, bare)
        return [_target(first, "inner", scale, inner_t, lim.cap(n, inner_t), inner_t, lots[0])]
    if total >= want_inner + want_backup:
        inner_n, backup_n = want_inner, want_backup
        rest = total - inner_n - backup_n
    elif total >= 2 * -(-lim.bare // backup_t):
        inner_n = -(-total // 2)
        backup_n = total - inner_n
    else:
        inner_n, backup_n = max(total, bare), 0
    out = [_target(first, "inner", scale, inner_t, lim.cap(inner_n, inner_t), inner_t, lots[0])]
    if backup_n > 0:
        i = 1 if len(quotes) > 1 else 0
        out.append(_target(quotes[i], "backup", scale, backup_t, lim.cap(backup_n, backup_t),
                           ticks[i], lots[i], priority=first.priority))
    for q, t, q_lots in zip(quotes[2:], ticks[2:], lots[2:], strict=True):
        if rest <= 0:
            break
        n = lim.cap(q_lots if q_lots <= rest else rest, t)
        if n < lim.minimum(t):
            break
        rest -= n
        out.append(_target(q, "decor", scale, t, n, t, q_lots))
    return out


# ---------------------------------------------------------------------------------------------
# The plan.


class _Live:
    """A live order in ticks and lots, with what does not change during a plan worked out once."""

    __slots__ = ("cid", "ticks", "units", "cancellable", "young", "in_band", "exposed")

    def __init__(self, o: LiveOrder, scale: TickScale, is_bid: bool) -> None:
        self.cid = o.client_order_id
        # ``scale.ticks(price)`` and ``scale.lots(qty)``, their memo read here first (one
        # plan converts every live order: the same prices and sizes come back every pass)
        price, qty = o.price, o.qty
        ticks = scale._ticks_of.get(price) if type(price) is Decimal else None
        lots = scale._lots_of.get(qty) if type(qty) is Decimal else None
        if ticks is not None and lots is not None:
            self.ticks = ticks
            self.units = ticks * lots
            self.cancellable, self.young = o.cancellable, o.young
            self.in_band = self.exposed = False
            return
        try:
            self.ticks = scale.ticks(o.price)
            lots = scale.lots(o.qty)
        except TickError:  # not placed by us (ours are on the grid): judged conservatively
            self.ticks = scale.ticks(o.price, FLOOR if is_bid else CEIL)  # away from mid
            lots = scale.lots(o.qty, FLOOR)
        self.units = self.ticks * lots
        self.cancellable, self.young = o.cancellable, o.young
        self.in_band = self.exposed = False


class _SidePlanner:
    """One side's live orders against its targets."""

    def __init__(self, side: Side, targets: list[Target], live: list[LiveOrder], mid: _Mid,
                 rules: PlanRules, lim: _Limits) -> None:
        self.side = side
        self.is_bid = is_bid = side is BUY
        self.rules = rules
        self.lim = lim
        self.scale = scale = lim.scale
        self.mid = mid
        self.targets = targets
        self.band_edge = mid.band_edge(lim.band, is_bid)
        # exposed: closer to mid than ``exposure`` x the inner target's distance (or through it)
        exposure_edge = (None if not targets
                         else mid.exposure_edge(lim.exposure, targets[0].ticks, is_bid))
        self.live = converted = []
        edge = self.band_edge
        for order in live:
            o = _Live(order, scale, is_bid)
            converted.append(o)
            o.in_band = o.ticks >= edge if is_bid else o.ticks <= edge
            if exposure_edge is not None:
                o.exposed = o.ticks > exposure_edge if is_bid else o.ticks < exposure_edge
        self.planned: list[Target] = []  # places planned so far
        self.recent = 0  # new orders sent on this side within the settle time (any outcome)
        self.leaving: set[str] = set()  # cancels planned so far
        self.matched: dict[int, _Live] = {}  # target index -> live order standing for it
        self.backup_edge: int | None = None  # set by ``pair`` from the other side

    def pair(self, other: _SidePlanner) -> None:
        """Learn the other side's inner price (a backup must keep the spread with it), then
        match live orders to targets: which live order stands for which target. Only the
        inner order's price is the strategy's edge: it is matched within the price tolerance.
        A backup is any other usable order close enough to keep the spread when the inner one
        fills, and decoration any usable order left: moving those would buy nothing the
        obligations pay for."""
        keep = self.lim.backup_keep
        if keep is not None and other.targets:
            self.backup_edge = self.mid.reach_edge(keep, other.targets[0].ticks, self.is_bid)
        price_ok = self.rules.tolerance.price_ok_ticks
        leaving = self.leaving
        free = []
        for o in self.live:  # (loops, not comprehensions: each of those is a function call)
            if o.in_band and not o.exposed and o.cid not in leaving:
                free.append(o)
        for i, t in enumerate(self.targets):
            price, role = t.ticks, t.role
            # the candidate closest to the target's price, the first of equals
            best, best_gap = None, 0
            for o in free:
                gap = abs(o.ticks - price)
                if role == "inner":
                    if not price_ok(gap, price):
                        continue
                elif role == "backup" and not self.within_reach(o.ticks):
                    continue
                if best is None or gap < best_gap:
                    best, best_gap = o, gap
            if best is not None:
                self.matched[i] = best
                free.remove(best)

    # --- reading the side ------------------------------------------------------------------
    def usable(self, o: _Live) -> bool:
        """Counts towards the obligations now and for a while (the loops below test the same
        three things inline)."""
        return o.in_band and not o.exposed and o.cid not in self.leaving

    def within_reach(self, ticks: int) -> bool:
        """Close enough to be our best price, with the other side's inner order, without
        breaking the spread obligation."""
        edge = self.backup_edge
        if edge is None:
            return True
        return ticks >= edge if self.is_bid else ticks <= edge

    def best(self) -> int | None:
        """Our innermost usable price (ticks) after the planned actions."""
        leaving, is_bid = self.leaving, self.is_bid
        best = None
        for o in self.live:
            if o.in_band and not o.exposed and o.cid not in leaving:
                ticks = o.ticks
                if best is None or (ticks > best if is_bid else ticks < best):
                    best = ticks
        for t in self.planned:
            ticks = t.ticks
            if best is None or (ticks > best if is_bid else ticks < best):
                best = ticks
        return best

    def any_young(self) -> bool:
        if self.planned:
            return True
        leaving = self.leaving
        for o in self.live:
            if o.young and o.cid not in leaving:
                return True
        return False

    def depth(self, *, without_best: bool = False) -> int:
        """Usable depth in notional units."""
        leaving = self.leaving
        edge, is_bid = self.band_edge, self.is_bid
        if not without_best:
            total = 0
            for o in self.live:
                if o.in_band and not o.exposed and o.cid not in leaving:
                    total += o.units
            for t in self.planned:
                if (t.ticks >= edge) if is_bid else (t.ticks <= edge):
                    total += t.ticks * t.lots
            return total
        items = []
        for o in self.live:
            if o.in_band and not o.exposed and o.cid not in leaving:
                items.append((o.ticks, o.units))
        for t in self.planned:
            if (t.ticks >= edge) if is_bid else (t.ticks <= edge):
                items.append((t.ticks, t.ticks * t.lots))
        if items:
            items.sort(key=_first, reverse=self.is_bid)
            items = items[1:]
        total = 0
        for _, n in items:
            total += n
        return total

    def held_depth(self) -> int:
        """What the obligations see now (notional units): every order of ours in the band
        (exposed ones too, until they fill), the ones planned included."""
        leaving = self.leaving
        edge, is_bid = self.band_edge, self.is_bid
        total = 0
        for o in self.live:
            if o.in_band and o.cid not in leaving:
                total += o.units
        for t in self.planned:
            if (t.ticks >= edge) if is_bid else (t.ticks <= edge):
                total += t.ticks * t.lots
        return total

    def can_drop(self, o: _Live) -> bool:
        """Cancelling ``o`` keeps the side's depth obligation (when it is met now)."""
        lim = self.lim
        if not lim.has_need or not o.in_band:
            return True
        held = self.held_depth()
        return held < lim.need or held - o.units >= lim.need

    def count(self) -> int:
        leaving = self.leaving
        n = len(self.planned)
        for o in self.live:
            if o.cid not in leaving:
                n += 1
        return n

    def unmatched(self, roles: tuple[str, ...]) -> list[tuple[int, Target]]:
        planned, matched = self.planned, self.matched
        out = []
        for i, t in enumerate(self.targets):
            if t.role in roles and i not in matched:
                for p in planned:  # (by identity: a target planned already)
                    if p is t:
                        break
                else:
                    out.append((i, t))
        return out

    def spare(self) -> _Live | None:
        """The least useful cancellable order not needed by any target: unusable ones first,
        then the farthest from mid."""
        needed = set()
        for o in self.matched.values():
            needed.add(o.cid)
        young = self.any_young()
        leaving = self.leaving
        # an exposed order still counts for the obligations until the newer ones do; a young
        # order is a decision of moments ago: cancelling it now would only churn
        dust, is_bid = self.lim.dust, self.is_bid
        best = best_key = None  # the first candidate of the least (usable, big, inner) key
        for o in self.live:
            if (o.cancellable and o.cid not in leaving and o.cid not in needed and not o.young
                    and not (young and o.in_band and o.exposed)):
                key = (o.in_band and not o.exposed, o.units >= dust,
                       o.ticks if is_bid else -o.ticks)
                if best_key is None or key < best_key:
                    best, best_key = o, key
        return best

    # --- deciding ------------------------------------------------------------------------------
    def add(self, purpose: Purpose, t: Target, why: str) -> Action:
        self.planned.append(t)
        return Action(purpose, place=t.quote, why=why, side=self.side)

    def drop(self, purpose: Purpose, o: _Live, why: str) -> Action:
        self.leaving.add(o.cid)
        return Action(purpose, cancel=o.cid, why=why, side=self.side)

    def limit(self) -> int:
        """Orders a side may hold before the planner trims (one spare generation)."""
        return len(self.targets) + 1

    def chasing(self) -> bool:
        """``MAX_NEW_PER_SETTLE`` new orders went out on this side moments ago (they may have
        filled at once, or the market ran past them): let them settle rather than chase a fast
        move, or buy a falling market, with new orders on every book."""
        return self.recent + len(self.planned) >= MAX_NEW_PER_SETTLE

    def restore(self) -> list[Action]:
        lim = self.lim
        out: list[Action] = []
        if not self.targets or self.recent >= MAX_NEW_PER_SETTLE:
            return out
        if not lim.has_need:
            if self.best() is None:
                out.append(self.add(Purpose.RESTORE, self.targets[0], "side empty"))
            return out
        for _, t in self.unmatched(("inner", "backup")):
            if self.depth() >= lim.need:
                break
            out.append(self.add(Purpose.RESTORE, t, f"{self.side} depth below minimum"))
        if self.depth() < lim.need:  # every core order stands, partly filled: top up with one
            # order of the inner order's full size: it carries the side alone once the rest
            # fills (a top-up of just the shortfall leaves dust that each costs a request later)
            out.append(self.add(Purpose.RESTORE, self.targets[0],
                                f"{self.side} depth topped up after a partial fill"))
        return out

    def rescue_backup(self) -> list[Action]:
        """One fill must not break the depth: the backup (or a top-up) behind the best."""
        lim = self.lim
        if not lim.has_need or self.rules.minimal or len(self.targets) < 2:
            return []
        if self.depth(without_best=True) >= lim.need or self.chasing():
            return []
        for _, t in self.unmatched(("backup", "inner")):
            return [self._add_within_limit(Purpose.RESCUE, t, f"{self.side} backup")]
        return []

    def _add_within_limit(self, purpose: Purpose, t: Target, why: str) -> Action:
        """Place ``t``, cancelling a spare order beside it when the side is full."""
        cancel = self.spare() if self.count() >= self.limit() else None
        action = self.add(purpose, t, why)
        if cancel is not None and self.can_drop(cancel):  # judged with ``t`` planned
            self.leaving.add(cancel.cid)
            action = Action(purpose, place=t.quote, cancel=cancel.cid, why=why, side=self.side)
        return action

    def rescue_inner(self, why: str, purpose: Purpose = Purpose.RESCUE) -> list[Action]:
        """Our best price is too far (spread): the inner target, placed first."""
        if not self.targets:
            return []
        inner = self.targets[0]
        if 0 in self.matched or any(t is inner for t in self.planned):
            return []
        if self.chasing():
            return []
        return [self._add_within_limit(purpose, inner, why)]

    def trim(self, purpose: Purpose) -> list[Action]:
        """Cancel spare orders while the side holds more than its limit (RESCUE) or any spare
        order not needed at all (IMPROVE)."""
        out = []
        limit = self.limit() if purpose is Purpose.RESCUE else len(self.targets)
        leaving = self.leaving
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
            matched = self.matched.values()
            for o in self.live:
                if (o.cancellable and not o.young and o.cid not in leaving
                        and not self.usable(o) and o not in matched
                        and not (o.in_band and young) and self.can_drop(o)
                        and self.count() > 1):
                    out.append(self.drop(purpose, o, f"{self.side} order out of the band"))
        return out

    def _needed_for_depth(self, o: _Live) -> bool:
        lim = self.lim
        return lim.has_need and self.depth() - o.units < lim.need

    def improve(self) -> list[Action]:
        """Follow the strategy: each core target not stood for gets its order (replacing a
        spare one when the side is full), then the decoration."""
        out: list[Action] = []
        if self.any_young():
            return out  # one change at a time: the last one must count first
        for _, t in self.unmatched(("inner", "backup", "decor")):
            if self.count() > len(self.targets):
                break  # trim first (``trim``), then follow further
            out.append(self.add(Purpose.IMPROVE, t, f"{self.side} {t.role} to the strategy's price"))
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
    the settle time, whatever became of them. Quotes must be on the instrument's grid."""
    if mid is None or mid <= ZERO:
        return Plan(())
    lim = _limits(rules, inst)
    scale = lim.scale
    at = _Mid(mid, scale)
    # The targets are a function of the quotes and mid (and the rules and instrument, which
    # ``lim`` stands for): a plan for the same ones (the live orders, the allowance or the
    # recent sends changed) takes the last plan's (read-only: ``_SidePlanner`` keeps them).
    key = (mid, quotes.bids, quotes.asks)  # (mid first: see ``OrderManager._plan``)
    last = lim.last_targets
    if last is not None and last[0] == key:
        bid_targets, ask_targets = last[1], last[2]
    else:
        bids, asks = _within_obligations(quotes.bids, quotes.asks, mid, rules, inst)
        bid_targets = _side_targets(bids, at, rules, lim,
                                    scale.ticks(asks[0].price) if asks else None)
        ask_targets = _side_targets(asks, at, rules, lim,
                                    scale.ticks(bids[0].price) if bids else None)
        lim.last_targets = (key, bid_targets, ask_targets)
    bid_live: list[LiveOrder] = []
    ask_live: list[LiveOrder] = []
    for o in live:
        if o.side is BUY:
            bid_live.append(o)
        elif o.side is SELL:
            ask_live.append(o)
    bid = _SidePlanner(BUY, bid_targets, bid_live, at, rules, lim)
    ask = _SidePlanner(SELL, ask_targets, ask_live, at, rules, lim)
    if recent:
        bid.recent, ask.recent = recent.get(BUY, 0), recent.get(SELL, 0)
    bid.pair(ask)
    ask.pair(bid)
    wanted: list[Action] = []
    # 1. restore both sides
    wanted += bid.restore() + ask.restore()
    # 2. rescue: spread, backups, exposure, pile-ups
    if lim.spread is not None and lim.spread_margin is not None:
        b, a = bid.best(), ask.best()
        if b is not None and a is not None and a - b > at.whole_ticks(lim.spread_margin):
            # beyond the maximum already: as urgent as an empty side
            purpose = Purpose.RESTORE if a - b > at.whole_ticks(lim.spread) else Purpose.RESCUE
            spread = scale.price(a - b)
            for s in (bid, ask):
                wanted += s.rescue_inner(
                    f"{s.side} too far: our spread {spread} near the maximum", purpose)
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
    bids = sorted(bids, key=_by_level)
    asks = sorted(asks, key=_by_level)
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
    cancellable = set()
    for o in live:
        if o.cancellable:
            cancellable.add(o.client_order_id)
    spent = 0
    actions: list[Action] = []
    waiting: list[Action] = []
    held: set[Side] = set()  # sides where a new order waits: what was planned after it waits too
    for a in wanted:  # in the order planned: a later action may count on an earlier one
        if a.cancel is not None and a.cancel not in cancellable:
            if a.place is None:
                continue  # nothing to do until the order's answer comes
            a = Action(a.purpose, place=a.place, why=a.why, side=a.side)  # cancel later
        cost = a.cost
        if a.side in held or spent + cost > allowance.of(a.purpose):
            waiting.append(a)
            if a.place is not None and a.side is not None:
                held.add(a.side)
            continue
        spent += cost
        actions.append(a)
    actions.sort(key=_by_purpose)  # stable: the order within a purpose
    return Plan(tuple(actions), tuple(waiting))
