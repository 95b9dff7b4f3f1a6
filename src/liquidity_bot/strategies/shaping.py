"""Turn a strategy's ideal levels into exchange-ready quotes that honour the obligations.

Both strategies only decide *where* they would like to quote (unrounded target prices and sizes
in quote currency). This module owns every rule that must hold whatever the strategy: prices on
the tick (bids rounded down, asks up: away from mid), quantities on the step, never crossing the
opposite best price (Bitrue has no post-only order), hard price ceiling/floor, the client's
obligations (innermost level within max_spread/2 of mid, depth within +-2 % of mid >= minimum per
side), what the balances can pay for, and the exchange filters (`Instrument.check`).

Precedence, from strongest to weakest: never cross the book > price ceiling/floor > balances >
obligations > the strategy's own wishes. When an obligation cannot be met the quote set carries a
warning that says why, instead of failing silently.

`quote_around_centre` is the frame every strategy's `quote` runs in: find the centre (or give up
with the reason), let the strategy plan its levels around it, shape them.

Shaping works on integers (`domain.ticks`): each level's price becomes ticks by one exact floor or
ceil (away from mid), sizes are lots, depths and balances notional units; the quotes it returns
carry the Decimal values of those ints (on the grid, the grid's exponent).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal
from operator import attrgetter
from typing import NamedTuple, Protocol

from liquidity_bot.domain.tick_filters import tick_filters, tick_scale
from liquidity_bot.domain.ticks import CEIL, FLOOR, TickScale, whole
from liquidity_bot.strategies.base import (
    CRITICAL_PRIORITY_LIMIT,
    DesiredQuote,
    InstrumentLike,
    Inventory,
    MarketSnapshot,
    QuoteSet,
    Side,
    TopOfBook,
    depth_within,
    top_of_book,
)

DEPTH_BAND_PCT = Decimal(2)
ZERO, _ONE = Decimal(0), Decimal(1)
HUNDRED, TWO_HUNDRED = Decimal(100), Decimal(200)  # an int operand is converted every time
BUY, SELL = Side.BUY, Side.SELL  # a module global is cheaper to look up than an Enum member
_by_level = attrgetter("level")


class ObligationsLike(Protocol):
    """`config.ObligationsConfig`: percent of mid and quote currency per side."""

    max_spread_pct: Decimal
    min_depth_2pct_quote: Decimal


class LevelPlan(NamedTuple):
    """A strategy's wish for one level: unrounded price, size in quote currency.

    A named tuple, immutable like a frozen dataclass but half as costly to construct: strategies
    build two per level on every book (the same goes for the other small records here).
    """

    side: Side
    level: int
    price: Decimal
    size_quote: Decimal


class QuotePlan(NamedTuple):
    """What a strategy wants around one centre: its levels, the numbers behind them, warnings."""

    levels: Sequence[LevelPlan]
    diagnostics: dict[str, Decimal]
    warnings: Sequence[str] = ()


class ShapingContext(NamedTuple):
    """Everything shaping looks at besides the plan."""

    instrument: InstrumentLike
    top: TopOfBook
    mid: Decimal
    inventory: Inventory
    obligations: ObligationsLike | None = None
    last_price: Decimal | None = None
    bid_ceiling: Decimal | None = None
    ask_floor: Decimal | None = None
    band_pct: Decimal = DEPTH_BAND_PCT


class _Grid:
    """An instrument's bounds in lots and notional units, and the conversions that come back
    from book to book (sizes, the minimum depth, balances that did not move) remembered."""

    __slots__ = ("inst", "scale", "min_lots", "min_val_units", "max_lots", "_floor", "_ceil",
                 "_at_last")

    def __init__(self, inst: InstrumentLike) -> None:
        self.inst = inst
        self.scale = scale = tick_scale(inst.tick, inst.step)
        self.min_lots = scale.lots(inst.min_qty, CEIL)
        self.min_val_units = scale.notional_units(inst.min_val, CEIL) if inst.min_val else 0
        self.max_lots = None if inst.max_qty is None else scale.lots(inst.max_qty, FLOOR)
        self._floor: dict[Decimal, int] = {}
        self._ceil: dict[Decimal, int] = {}
        self._at_last: dict[Decimal, int] = {}

    def units_floor(self, amount: Decimal) -> int:
        """``notional_units(amount, FLOOR)``, remembered."""
        known = self._floor.get(amount)
        if known is None:
            known = _remember(self._floor, amount, self.scale.notional_units(amount, FLOOR))
        return known

    def units_ceil(self, amount: Decimal) -> int:
        """``notional_units(amount, CEIL)``, remembered."""
        known = self._ceil.get(amount)
        if known is None:
            known = _remember(self._ceil, amount, self.scale.notional_units(amount, CEIL))
        return known

    def lots_at_last(self, min_val_at_last: Decimal) -> int:
        """minVal / last price, rounded up to lots, remembered by its Decimal value."""
        known = self._at_last.get(min_val_at_last)
        if known is None:
            known = _remember(self._at_last, min_val_at_last,
                              self.scale.lots(min_val_at_last, CEIL))
        return known


def _remember(memo: dict[Decimal, int], key: Decimal, value: int) -> int:
    if len(memo) >= 1024:  # bounded: balances and last prices wander over a long run
        memo.clear()
    memo[key] = value
    return value


_GRIDS: dict[int, _Grid] = {}


def _grid(inst: InstrumentLike) -> _Grid:
    """The ``_Grid`` of ``inst``, kept while it is the same object."""
    grid = _GRIDS.get(id(inst))
    if grid is None or grid.inst is not inst:
        if len(_GRIDS) >= 256:
            _GRIDS.clear()
        grid = _GRIDS[id(inst)] = _Grid(inst)
    return grid


class _Side:
    """Side-aware arithmetic so the bid and ask code paths are one.

    Whatever is the same for every level of a side (tick, depth band edge, the part of the
    exchange minimum that does not depend on the price) is computed once here: `quote` runs on
    every book, inside the tick-to-order latency.
    """

    __slots__ = ("side", "ctx", "inst", "tick", "is_bid", "other", "band_edge", "min_val_at_last",
                 "grid", "scale", "away_rounding", "band_edge_ticks", "min_lots",
                 "min_val_units", "min_lots_at_last")

    def __init__(self, side: Side, ctx: ShapingContext, band: Decimal,
                 grid: _Grid | None = None) -> None:
        """`band`: `ctx.mid * ctx.band_pct / 100`, the half-width of the depth band; `grid`:
        the instrument's `_grid` (looked up when not given)."""
        self.side = side
        self.ctx = ctx
        self.inst = inst = ctx.instrument
        self.tick = inst.tick
        self.is_bid = side == BUY
        self.other = SELL if self.is_bid else BUY
        self.band_edge = ctx.mid - band if self.is_bid else ctx.mid + band
        last = ctx.last_price
        # minVal applies at the last trade price too when it is known (see `_exchange_minimum`)
        self.min_val_at_last = (
            inst.min_val / last if inst.min_val and last is not None and last > 0 else None
        )
        # the same in integers (domain.ticks): prices in ticks, sizes in lots
        self.grid = grid = _grid(inst) if grid is None else grid
        self.scale = grid.scale
        self.away_rounding = FLOOR if self.is_bid else CEIL  # ``away``: bids down, asks up
        # in the band: ticks >= this (bids), <= this (asks); rounded toward mid
        self.band_edge_ticks = whole(self.band_edge, self.tick, CEIL if self.is_bid else FLOOR,
                                     "price")
        self.min_lots = grid.min_lots
        self.min_val_units = grid.min_val_units
        self.min_lots_at_last = (None if self.min_val_at_last is None
                                 else grid.lots_at_last(self.min_val_at_last))

    def away(self, price: Decimal) -> Decimal:
        """Round away from mid (the side's own safe direction)."""
        return self.inst.round_price(price, self.side)

    def closer(self, a: Decimal, b: Decimal) -> Decimal:
        """max(a, b) for bids, min(a, b) for asks (`a` on a tie, as the builtins)."""
        if self.is_bid:
            return b if b > a else a
        return b if b < a else a

    def inner_limit(self, half_spread: Decimal | None) -> Decimal | None:
        """Farthest on-tick price for the innermost level: within max_spread/2 of mid, and
        inside the depth band when a minimum depth is required (else it could not count).
        Both limits are rounded toward mid, to stay inside them.
        `half_spread`: `mid * max_spread_pct / 200`, None without obligations."""
        obl = self.ctx.obligations
        if obl is None or half_spread is None:
            return None
        mid, round_price, toward = self.ctx.mid, self.inst.round_price, self.other
        limit = round_price(mid - half_spread if self.is_bid else mid + half_spread, toward)
        if obl.min_depth_2pct_quote > ZERO:
            limit = self.closer(limit, round_price(self.band_edge, toward))
        return limit

    def minimum(self, price: Decimal) -> Decimal:
        """`_exchange_minimum(inst, price, last_price)`: the same value, per-side parts hoisted
        (only the value of the largest requirement matters: it is rounded up to the step)."""
        inst = self.inst
        need = inst.min_qty
        min_val = inst.min_val
        if min_val and price > ZERO:
            at_price = min_val / price
            if at_price > need:
                need = at_price
            at_last = self.min_val_at_last
            if at_last is not None and at_last > need:
                need = at_last
        rounded = inst.round_qty(need)  # ceil_qty(inst, need), written out
        return rounded if rounded >= need else rounded + inst.step

    def minimum_lots(self, ticks: int) -> int:
        """``minimum`` of the price ``ticks``, in lots."""
        need = self.min_lots
        if self.min_val_units and ticks > 0:
            at_price = -(-self.min_val_units // ticks)
            if at_price > need:
                need = at_price
            at_last = self.min_lots_at_last
            if at_last is not None and at_last > need:
                need = at_last
        return need

    def inner_limit_ticks(self, half_spread: Decimal | None) -> int | None:
        """``inner_limit`` in ticks."""
        obl = self.ctx.obligations
        if obl is None or half_spread is None:
            return None
        mid, is_bid = self.ctx.mid, self.is_bid
        limit = whole(mid - half_spread if is_bid else mid + half_spread, self.tick,
                      CEIL if is_bid else FLOOR, "price")
        if obl.min_depth_2pct_quote > ZERO:
            edge = self.band_edge_ticks
            if (edge > limit) if is_bid else (edge < limit):
                limit = edge
        return limit


def ceil_qty(inst: InstrumentLike, qty: Decimal) -> Decimal:
    """Smallest on-step quantity >= qty."""
    rounded = inst.round_qty(qty)
    return rounded if rounded >= qty else rounded + inst.step


def _exchange_minimum(
    inst: InstrumentLike, price: Decimal, last_price: Decimal | None = None
) -> Decimal:
    """Smallest on-step quantity the exchange accepts at `price` (minQty and minVal, the latter
    also at the last trade price when known: `Instrument.check` requires both).

    The definition; shaping uses `_Side.minimum`, the same with the per-side parts hoisted."""
    need = inst.min_qty
    if inst.min_val and price > 0:
        need = max(need, inst.min_val / price)
        if last_price is not None and last_price > 0:
            need = max(need, inst.min_val / last_price)
    return ceil_qty(inst, need)


exchange_minimum = _exchange_minimum  # the public name (the order planner sizes top-ups by it)


def centre(top: TopOfBook, reference: Decimal | None) -> tuple[Decimal | None, str | None]:
    """The price to quote around: the book mid, else the reference; None with the reason."""
    if top.bid is not None and top.ask is not None and top.bid >= top.ask:
        return None, (
            f"no quotes: the book is crossed (bid {top.bid} >= ask {top.ask}); "
            "a stale or broken feed must not be quoted into"
        )
    mid = top.mid
    if mid is None:
        mid = reference
    if mid is None or mid <= 0:
        return None, "no quotes: the book has no mid and no reference price was given"
    return mid, None


def _prices(
    s: _Side, plans: Sequence[LevelPlan], half_spread: Decimal | None, warnings: list[str]
) -> list[int]:
    """One price per level, in ticks (see the module docstring for the rules' order)."""
    ctx = s.ctx
    side, is_bid, away = s.side, s.is_bid, s.away_rounding  # away from mid: bids down, asks up
    tick = s.tick
    # 1. obligation: the innermost level within max_spread/2 of mid (and inside the band)
    innermost = whole(plans[0].price, tick, away, "price")
    limit = s.inner_limit_ticks(half_spread)
    if limit is not None and ((limit > innermost) if is_bid else (limit < innermost)):
        innermost = limit
    # 2. hard price ceiling (bids) / floor (asks): shift the whole side, keeping its shape
    shift = 0
    hard = ctx.bid_ceiling if is_bid else ctx.ask_floor
    if hard is not None:
        bound = whole(hard, tick, away, "price")
        if (innermost > bound) if is_bid else (innermost < bound):
            shift = innermost - bound
            what = "ceiling" if is_bid else "floor"
            warnings.append(f"{side} side held at the price {what} {hard}")
    # 3. never cross the opposite best price of the book (rounding away keeps a tick of room)
    opposite = ctx.top.ask if is_bid else ctx.top.bid
    safe = None
    if opposite is not None:
        safe = whole(opposite, tick, away, "price") + (-1 if is_bid else 1)
    # 4. one price per level, strictly moving away from mid
    # (3 and 4 keep the price further from mid, the price itself on a tie, as min/max would)
    price = innermost - shift
    if safe is not None and ((safe < price) if is_bid else (safe > price)):
        price = safe
    prices = [price]
    for plan in plans[1:]:
        here = whole(plan.price, tick, away, "price") - shift
        if is_bid:
            if safe is not None and safe < here:
                here = safe
            if price - 1 < here:
                here = price - 1
        else:
            if safe is not None and safe > here:
                here = safe
            if price + 1 > here:
                here = price + 1
        prices.append(here)
        price = here
    return prices


def _shape_side(
    s: _Side, plans: Sequence[LevelPlan], prices: list[int], warnings: list[str]
) -> list[DesiredQuote]:
    """The side's quotes: sizes in lots (depth and balances in notional units), checked."""
    if not plans:
        return []
    ctx, inst, is_bid, scale, grid = s.ctx, s.inst, s.is_bid, s.scale, s.grid
    units_floor = grid.units_floor
    if min(prices) <= 0:
        keep = [i for i, p in enumerate(prices) if p > 0]
        plans = [plans[i] for i in keep]
        prices = [prices[i] for i in keep]
    count = len(prices)
    obl = ctx.obligations
    need = obl.min_depth_2pct_quote if obl is not None else ZERO
    need_units = grid.units_ceil(need) if need > ZERO else 0  # depth >= need <=> units >= this
    # Prices move strictly away from mid (`_prices`): the levels inside the depth band are the
    # innermost `in_band`, and so are the obligation-critical ones (`critical`).
    edge = s.band_edge_ticks
    in_band = 0
    depth = 0
    # the strategy's size, at least the exchange minimum (which depends on the price only: once
    # per level, it is needed again below)
    minimum = s.minimum_lots
    qtys: list[int] = []
    minimums: list[int] = []
    size = size_units = None  # a side's levels mostly share one size: converted once
    for i in range(count):
        price = prices[i]
        least = minimum(price)
        wanted = plans[i].size_quote
        if wanted is not size:
            size, size_units = wanted, (units_floor(wanted) if wanted > ZERO else 0)
        qty = size_units // price  # floor(size / price / step)
        if qty > 0:
            if least > qty:
                qty = least
        elif obl is not None and i == 0:
            # two-sided uptime: with obligations the innermost level is never left empty
            qty = least
        qtys.append(qty)
        minimums.append(least)
        if in_band == i and (price >= edge if is_bid else price <= edge):  # all so far inside
            in_band += 1
            depth += price * qty
    # obligation depth (the levels inside the band topped up) and the critical levels
    critical = 0
    if obl is not None and count:
        critical = _top_up(scale, prices, qtys, minimums, in_band, depth, need, need_units)

    # what the balance can pay for, most important (innermost) levels first; then the exchange
    # filters, a last check
    left = (units_floor(ctx.inventory.quote) if is_bid
            else scale.lots(ctx.inventory.base, FLOOR))
    qty_cap = grid.max_lots
    side, last_price = s.side, ctx.last_price
    passes = tick_filters(inst, side, last_price).passes
    tick, step = s.tick, inst.step  # ``scale.price`` / ``scale.qty`` written out
    short = False
    dropped: list[str] = []
    quotes: list[DesiredQuote] = []
    for i in range(count):
        price, qty = prices[i], qtys[i]
        if qty <= 0:
            continue
        if qty_cap is not None and qty_cap < qty:
            qty = qty_cap
        cost = price * qty if is_bid else qty
        if cost > left:
            qty = left // price if is_bid else left
            short = True
            if qty < minimums[i]:
                continue
            cost = price * qty if is_bid else qty
        left -= cost
        level = plans[i].level
        price_d, qty_d = price * tick, qty * step
        if not passes(price, qty):  # the Decimal check says why (and has the last word)
            problems = inst.check(side, price_d, qty_d, last_price)
            if problems:
                dropped.append(
                    f"{side} level {level} at {price_d} dropped by exchange filters: "
                    + "; ".join(str(getattr(p, "message", p)) for p in problems)
                )
                continue
        is_critical = i < critical
        priority = level if is_critical else level + CRITICAL_PRIORITY_LIMIT
        quotes.append(DesiredQuote(side, price_d, qty_d, priority, level, is_critical))
    if short:
        asset = "quote" if is_bid else "base"
        warnings.append(f"{side} side reduced: not enough {asset} balance for every level")
    warnings.extend(dropped)
    return quotes


def _top_up(scale: TickScale, prices: list[int], qtys: list[int], minimums: list[int],
            in_band: int, depth: int, need: Decimal, need_units: int) -> int:
    """Obligation depth: the side's innermost ``in_band`` levels (inside the depth band, whose
    depth is ``depth`` units) topped up evenly to ``need`` (``qtys`` changed in place, each at
    least its exchange minimum). Returns how many levels are obligation-critical: the innermost
    (max spread) and, from the inside out, the in-band ones needed to reach the minimum."""
    if depth < need_units and in_band:
        share = (need - scale.notional(depth)) / in_band
        share_units = scale.notional_units(share, CEIL)
        for i in range(in_band):
            topped = qtys[i] + -(-share_units // prices[i])  # ceil(share / price / step)
            qtys[i] = minimums[i] if minimums[i] > topped else topped
    critical = 1
    running = 0
    for i in range(in_band):
        if running >= need_units:
            break
        critical = i + 1
        running += prices[i] * qtys[i]
    return critical


def _check_obligations(
    bids: tuple[DesiredQuote, ...],
    asks: tuple[DesiredQuote, ...],
    ctx: ShapingContext,
    warnings: list[str],
) -> None:
    obl = ctx.obligations
    if obl is None:
        return
    mid = ctx.mid
    max_distance = obl.max_spread_pct * mid  # x 1/200: half the spread, in percent
    for side, quotes in ((BUY, bids), (SELL, asks)):
        depth = depth_within(quotes, side, mid, ctx.band_pct)
        if depth < obl.min_depth_2pct_quote:
            warnings.append(
                f"obligation unmet: {side} depth within {ctx.band_pct}% is {depth}, "
                f"minimum {obl.min_depth_2pct_quote}"
            )
        if not quotes:
            warnings.append(f"obligation unmet: no {side} quote (two-sided uptime)")
            continue
        inner = quotes[0].price
        if abs(inner - mid) * TWO_HUNDRED > max_distance:
            warnings.append(
                f"obligation unmet: innermost {side} {inner} is farther than "
                f"max_spread_pct/2 ({obl.max_spread_pct / 2}%) from mid {ctx.mid}"
            )


def shape_quotes(
    plans: Sequence[LevelPlan],
    ctx: ShapingContext,
    *,
    symbol: str,
    now_ms: int,
    diagnostics: dict[str, Decimal] | None = None,
    warnings: Sequence[str] = (),
) -> QuoteSet:
    """Apply every invariant (see the module docstring) and return the quote set."""
    notes = list(warnings)
    mid, obl = ctx.mid, ctx.obligations
    band = mid * ctx.band_pct / HUNDRED
    half_spread = None if obl is None else mid * obl.max_spread_pct / TWO_HUNDRED
    grid = _grid(ctx.instrument)
    bid_side, ask_side = _Side(BUY, ctx, band, grid), _Side(SELL, ctx, band, grid)
    bid_plans: list[LevelPlan] = []
    ask_plans: list[LevelPlan] = []
    for p in plans:  # (one loop, no comprehension per side: this runs inside tick-to-order)
        if p.side == BUY:
            bid_plans.append(p)
        elif p.side == SELL:
            ask_plans.append(p)
    bid_plans.sort(key=_by_level)
    ask_plans.sort(key=_by_level)
    bid_prices = _prices(bid_side, bid_plans, half_spread, notes) if bid_plans else []
    ask_prices = _prices(ask_side, ask_plans, half_spread, notes) if ask_plans else []
    # our own two sides must not touch either (a zero target spread on an on-tick mid)
    if bid_prices and ask_prices and bid_prices[0] >= ask_prices[0]:
        gap = bid_prices[0] - ask_prices[0] + 1
        bid_prices = [p - gap for p in bid_prices]
    bids = tuple(_shape_side(bid_side, bid_plans, bid_prices, notes))
    asks = tuple(_shape_side(ask_side, ask_plans, ask_prices, notes))
    _check_obligations(bids, asks, ctx, notes)
    return QuoteSet(
        symbol=symbol,
        now_ms=now_ms,
        bids=bids,
        asks=asks,
        mid=ctx.mid,
        warnings=tuple(notes),
        diagnostics=dict(diagnostics or {}),
    )


def shape_even(
    bid_prices: Sequence[Decimal],
    ask_prices: Sequence[Decimal],
    bid_size: Decimal,
    ask_size: Decimal,
    snapshot: MarketSnapshot,
    instrument: InstrumentLike,
    top: TopOfBook,
    mid: Decimal,
    obligations: ObligationsLike | None,
    band_pct: Decimal,
    diagnostics: dict[str, Decimal],
    bid_ceiling: Decimal | None = None,
    ask_floor: Decimal | None = None,
) -> QuoteSet | None:
    """``shape_plan`` of the common plan, in one function: levels 0, 1, ... per side with one
    size per side (``bid_prices[i]``: level i's unrounded price), obligations with a minimum
    depth, no price ceiling or floor, a two-sided book. None, nothing done, when shaping would
    do anything but round, keep off the book, size, top up and check: a side moved off our
    other side, cut to the balance or stripped by a filter, or a warning; the
    caller then shapes the plan in full (``shape_plan``, the definition, to which this is held
    equal by ``tests/unit/test_shape_even.py``). A pass's quotes are its first Python after
    the book: this runs no helper per level or side (cold, each distinct function costs)."""
    obl = obligations
    bid_top, ask_top = top.bid, top.ask
    if (obl is None or bid_top is None or ask_top is None or not bid_prices
            or len(bid_prices) != len(ask_prices) or bid_ceiling is not None
            or ask_floor is not None):
        return None
    need = obl.min_depth_2pct_quote
    if not need > ZERO:
        return None
    grid = _grid(instrument)
    scale, tick, step = grid.scale, instrument.tick, instrument.step
    band = mid * band_pct / HUNDRED
    half_spread = mid * obl.max_spread_pct / TWO_HUNDRED
    need_units = grid.units_ceil(need)
    min_lots, min_val_units, qty_cap = grid.min_lots, grid.min_val_units, grid.max_lots
    last = snapshot.last_price
    min_val = instrument.min_val
    at_last = (grid.lots_at_last(min_val / last)
               if min_val and last is not None and last > 0 else None)
    inventory = snapshot.inventory
    count = len(bid_prices)
    sides = []
    for is_bid in (True, False):
        # ``_prices``: the innermost level within max_spread/2 and the band, every level off
        # the opposite best price and strictly away from mid
        if is_bid:
            away, toward, raw, opposite = FLOOR, CEIL, bid_prices, ask_top
            edge = whole(mid - band, tick, CEIL, "price")
            limit = whole(mid - half_spread, tick, CEIL, "price")
            if edge > limit:
                limit = edge
            safe = whole(opposite, tick, FLOOR, "price") - 1
        else:
            away, toward, raw, opposite = CEIL, FLOOR, ask_prices, bid_top
            edge = whole(mid + band, tick, FLOOR, "price")
            limit = whole(mid + half_spread, tick, FLOOR, "price")
            if edge < limit:
                limit = edge
            safe = whole(opposite, tick, CEIL, "price") + 1
        price = whole(raw[0], tick, away, "price")
        if (limit > price) if is_bid else (limit < price):
            price = limit
        if (safe < price) if is_bid else (safe > price):
            price = safe
        prices = [price]
        for i in range(1, count):
            here = whole(raw[i], tick, away, "price")
            if is_bid:
                if safe < here:
                    here = safe
                if price - 1 < here:
                    here = price - 1
            else:
                if safe > here:
                    here = safe
                if price + 1 > here:
                    here = price + 1
            prices.append(here)
            price = here
        if (prices[-1] if is_bid else prices[0]) <= 0:
            return None
        sides.append((is_bid, prices, edge, toward))
    if sides[0][1][0] >= sides[1][1][0]:
        return None  # our own two sides touch: the bids move down (``shape_quotes``)
    out = []
    for is_bid, prices, edge, _ in sides:
        # ``_shape_side``: sizes in lots, at least the exchange minimum; the band's depth
        size = bid_size if is_bid else ask_size
        size_units = 0
        if size > ZERO:
            size_units = grid.units_floor(size)
        qtys = []
        minimums = []
        in_band = depth = 0
        for i in range(count):
            price = prices[i]
            least = min_lots
            if min_val_units:
                at_price = -(-min_val_units // price)
                if at_price > least:
                    least = at_price
                if at_last is not None and at_last > least:
                    least = at_last
            qty = size_units // price
            if qty > 0:
                if least > qty:
                    qty = least
            elif i == 0:
                qty = least  # two-sided uptime: the innermost level is never left empty
            qtys.append(qty)
            minimums.append(least)
            if in_band == i and (price >= edge if is_bid else price <= edge):
                in_band += 1
                depth += price * qty
        critical = _top_up(scale, prices, qtys, minimums, in_band, depth, need, need_units)
        if is_bid:
            left = grid.units_floor(inventory.quote)
        else:
            left = scale.lots(inventory.base, FLOOR)
        side = BUY if is_bid else SELL
        passes = tick_filters(instrument, side, last).passes
        quotes = []
        for i in range(count):
            price, qty = prices[i], qtys[i]
            if qty <= 0:
                continue
            if qty_cap is not None and qty_cap < qty:
                qty = qty_cap
            cost = price * qty if is_bid else qty
            if cost > left or not passes(price, qty):
                return None  # cut to the balance, or a filter's reason to say
            left -= cost
            is_critical = i < critical
            quotes.append(DesiredQuote(side, price * tick, qty * step,
                                       i if is_critical else i + CRITICAL_PRIORITY_LIMIT, i,
                                       is_critical))
        # ``_check_obligations``, which must find nothing to say
        if not quotes:
            return None
        total = ZERO
        if is_bid:
            band_edge = mid * (_ONE - band_pct / HUNDRED)
            for q in quotes:
                if q.price >= band_edge:
                    total += q.price * q.qty
        else:
            band_edge = mid * (_ONE + band_pct / HUNDRED)
            for q in quotes:
                if q.price <= band_edge:
                    total += q.price * q.qty
        if total < need or abs(quotes[0].price - mid) * TWO_HUNDRED > obl.max_spread_pct * mid:
            return None
        out.append(tuple(quotes))
    return QuoteSet(symbol=instrument.symbol, now_ms=snapshot.now_ms, bids=out[0], asks=out[1],
                    mid=mid, warnings=(), diagnostics=diagnostics)


def quote_around_centre(
    snapshot: MarketSnapshot,
    instrument: InstrumentLike,
    plan: Callable[[MarketSnapshot, Decimal], QuotePlan],
    *,
    obligations: ObligationsLike | None,
    band_pct: Decimal,
    bid_ceiling: Decimal | None = None,
    ask_floor: Decimal | None = None,
) -> QuoteSet:
    """A strategy's whole `quote`, but for `plan(snapshot, mid)`: where it wants its levels.

    Without a centre (crossed book, no mid and no reference) there is nothing to plan around:
    the quote set is empty and says why.
    """
    top = top_of_book(snapshot.book)
    mid, why_not = centre(top, snapshot.reference_price)
    if mid is None:
        return no_centre(instrument, snapshot, why_not)
    return shape_plan(plan(snapshot, mid), snapshot, instrument, top, mid,
                      obligations=obligations, band_pct=band_pct, bid_ceiling=bid_ceiling,
                      ask_floor=ask_floor)


def no_centre(instrument: InstrumentLike, snapshot: MarketSnapshot, why_not: str | None
              ) -> QuoteSet:
    """The empty quote set of a snapshot with nothing to quote around, saying why."""
    return QuoteSet(symbol=instrument.symbol, now_ms=snapshot.now_ms, warnings=(str(why_not),))


def shape_plan(
    wanted: QuotePlan,
    snapshot: MarketSnapshot,
    instrument: InstrumentLike,
    top: TopOfBook,
    mid: Decimal,
    *,
    obligations: ObligationsLike | None,
    band_pct: Decimal,
    bid_ceiling: Decimal | None = None,
    ask_floor: Decimal | None = None,
) -> QuoteSet:
    """`shape_quotes` of a strategy's plan around ``mid`` of the book top ``top``."""
    ctx = ShapingContext(
        instrument=instrument,
        top=top,
        mid=mid,
        inventory=snapshot.inventory,
        obligations=obligations,
        last_price=snapshot.last_price,
        bid_ceiling=bid_ceiling,
        ask_floor=ask_floor,
        band_pct=band_pct,
    )
    return shape_quotes(
        wanted.levels,
        ctx,
        symbol=instrument.symbol,
        now_ms=snapshot.now_ms,
        diagnostics=wanted.diagnostics,
        warnings=wanted.warnings,
    )


class QuoteMemo:
    """A strategy's last quote set and everything it was computed from (its ``key``).

    Shaping reads of a snapshot only the best bid and ask (not their sizes), the centre, the
    inventory and the last trade price, besides the plan; a strategy whose plan is a function of
    a few rounded numbers keys its last answer on those and, when they repeat, gives the same
    quotes again without planning or shaping (`again`): equal to what recomputing gives, but
    for ``now_ms`` and the diagnostics, which are this snapshot's.
    """

    __slots__ = ("key", "quotes", "reused")

    def __init__(self) -> None:
        self.key: tuple[object, ...] | None = None
        self.quotes: QuoteSet | None = None
        self.reused = 0  # quote sets given again

    def again(self, key: tuple[object, ...], now_ms: int, mid: Decimal,
              diagnostics: dict[str, Decimal] | None = None) -> QuoteSet | None:
        """The last quote set, refreshed, when ``key`` is the last one's; else None.
        ``diagnostics``: this snapshot's (None: the last ones still hold)."""
        known = self.quotes
        if known is None or key != self.key:
            return None
        self.reused += 1
        return QuoteSet(symbol=known.symbol, now_ms=now_ms, bids=known.bids, asks=known.asks,
                        mid=mid, warnings=known.warnings,
                        diagnostics=known.diagnostics if diagnostics is None else diagnostics)

    def keep(self, key: tuple[object, ...], quotes: QuoteSet) -> QuoteSet:
        """Remember ``quotes`` as the answer to ``key``; returns them."""
        self.key, self.quotes = key, quotes
        return quotes
