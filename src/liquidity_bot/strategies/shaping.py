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
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from liquidity_bot.strategies.base import (
    CRITICAL_PRIORITY_LIMIT,
    DesiredQuote,
    InstrumentLike,
    Inventory,
    MarketSnapshot,
    QuoteSet,
    Side,
    TopOfBook,
    top_of_book,
)

DEPTH_BAND_PCT = Decimal(2)
ZERO = Decimal(0)


class ObligationsLike(Protocol):
    """`config.ObligationsConfig`: percent of mid and quote currency per side."""

    max_spread_pct: Decimal
    min_depth_2pct_quote: Decimal


@dataclass(frozen=True, slots=True)
class LevelPlan:
    """A strategy's wish for one level: unrounded price, size in quote currency."""

    side: Side
    level: int
    price: Decimal
    size_quote: Decimal


@dataclass(frozen=True, slots=True)
class QuotePlan:
    """What a strategy wants around one centre: its levels, the numbers behind them, warnings."""

    levels: Sequence[LevelPlan]
    diagnostics: dict[str, Decimal]
    warnings: Sequence[str] = ()


@dataclass(frozen=True, slots=True)
class ShapingContext:
    instrument: InstrumentLike
    top: TopOfBook
    mid: Decimal
    inventory: Inventory
    obligations: ObligationsLike | None = None
    last_price: Decimal | None = None
    bid_ceiling: Decimal | None = None
    ask_floor: Decimal | None = None
    band_pct: Decimal = DEPTH_BAND_PCT


class _Side:
    """Side-aware arithmetic so the bid and ask code paths are one."""

    def __init__(self, side: Side, ctx: ShapingContext) -> None:
        self.side = side
        self.ctx = ctx
        self.inst = ctx.instrument
        self.tick = ctx.instrument.tick
        self.is_bid = side == Side.BUY
        self.other = Side.SELL if self.is_bid else Side.BUY

    def away(self, price: Decimal) -> Decimal:
        """Round away from mid (the side's own safe direction)."""
        return self.inst.round_price(price, self.side)

    def toward(self, price: Decimal) -> Decimal:
        """Round toward mid (used only to stay inside an obligation limit)."""
        return self.inst.round_price(price, self.other)

    def further(self, a: Decimal, b: Decimal) -> Decimal:
        return min(a, b) if self.is_bid else max(a, b)

    def closer(self, a: Decimal, b: Decimal) -> Decimal:
        return max(a, b) if self.is_bid else min(a, b)

    def outward(self, price: Decimal, ticks: int = 1) -> Decimal:
        return price - self.tick * ticks if self.is_bid else price + self.tick * ticks

    def inner_limit(self) -> Decimal | None:
        """Farthest on-tick price for the innermost level: within max_spread/2 of mid, and
        inside the depth band when a minimum depth is required (else it could not count)."""
        obl = self.ctx.obligations
        if obl is None:
            return None
        mid = self.ctx.mid
        half = mid * obl.max_spread_pct / 200
        limit = self.toward(mid - half if self.is_bid else mid + half)
        if obl.min_depth_2pct_quote > 0:
            band = mid * self.ctx.band_pct / 100
            limit = self.closer(limit, self.toward(mid - band if self.is_bid else mid + band))
        return limit

    def in_band(self, price: Decimal) -> bool:
        band = self.ctx.mid * self.ctx.band_pct / 100
        if self.is_bid:
            return price >= self.ctx.mid - band
        return price <= self.ctx.mid + band


def ceil_qty(inst: InstrumentLike, qty: Decimal) -> Decimal:
    """Smallest on-step quantity >= qty."""
    rounded = inst.round_qty(qty)
    return rounded if rounded >= qty else rounded + inst.step


def _exchange_minimum(
    inst: InstrumentLike, price: Decimal, last_price: Decimal | None = None
) -> Decimal:
    """Smallest on-step quantity the exchange accepts at `price` (minQty and minVal, the latter
    also at the last trade price when known: `Instrument.check` requires both)."""
    need = inst.min_qty
    if inst.min_val and price > 0:
        need = max(need, inst.min_val / price)
        if last_price is not None and last_price > 0:
            need = max(need, inst.min_val / last_price)
    return ceil_qty(inst, need)


def centre(top: TopOfBook, reference: Decimal | None) -> tuple[Decimal | None, str | None]:
    """The price to quote around: the book mid, else the reference; None with the reason."""
    if top.bid is not None and top.ask is not None and top.bid >= top.ask:
        return None, (
            f"no quotes: the book is crossed (bid {top.bid} >= ask {top.ask}); "
            "a stale or broken feed must not be quoted into"
        )
    mid = top.mid if top.mid is not None else reference
    if mid is None or mid <= 0:
        return None, "no quotes: the book has no mid and no reference price was given"
    return mid, None


def _prices(s: _Side, plans: Sequence[LevelPlan], warnings: list[str]) -> list[Decimal]:
    ctx = s.ctx
    prices = [s.away(p.price) for p in plans]
    # 1. obligation: the innermost level within max_spread/2 of mid (and inside the band)
    limit = s.inner_limit()
    if limit is not None:
        prices[0] = s.closer(prices[0], limit)
    # 2. hard price ceiling (bids) / floor (asks): shift the whole side, keeping its shape
    hard = ctx.bid_ceiling if s.is_bid else ctx.ask_floor
    if hard is not None:
        bound = s.away(hard)
        if (prices[0] > bound) if s.is_bid else (prices[0] < bound):
            shift = prices[0] - bound
            prices = [p - shift for p in prices]
            what = "ceiling" if s.is_bid else "floor"
            warnings.append(f"{s.side} side held at the price {what} {hard}")
    # 3. never cross the opposite best price of the book (rounding away keeps a tick of room)
    opposite = ctx.top.ask if s.is_bid else ctx.top.bid
    if opposite is not None:
        safe = s.away(opposite - s.tick if s.is_bid else opposite + s.tick)
        prices = [s.further(p, safe) for p in prices]
    # 4. one price per level, strictly moving away from mid
    for i in range(1, len(prices)):
        prices[i] = s.further(prices[i], s.outward(prices[i - 1]))
    return prices


def _shape_side(
    s: _Side, plans: Sequence[LevelPlan], prices: list[Decimal], warnings: list[str]
) -> list[DesiredQuote]:
    if not plans:
        return []
    ctx, inst = s.ctx, s.inst
    keep = [i for i, p in enumerate(prices) if p > 0]
    plans = [plans[i] for i in keep]
    prices = [prices[i] for i in keep]
    qtys: list[Decimal] = []
    for plan, price in zip(plans, prices, strict=True):
        qty = inst.round_qty(plan.size_quote / price) if plan.size_quote > 0 else ZERO
        if qty > 0:
            qty = max(qty, _exchange_minimum(inst, price, ctx.last_price))
        qtys.append(qty)

    obl = ctx.obligations
    # two-sided uptime: with obligations the innermost level is never left empty
    if obl is not None and qtys and qtys[0] <= 0:
        qtys[0] = _exchange_minimum(inst, prices[0], ctx.last_price)
    # obligation depth: top up the levels inside the band, evenly
    need = obl.min_depth_2pct_quote if obl is not None else ZERO
    in_band = [i for i, p in enumerate(prices) if s.in_band(p)]
    depth = sum((prices[i] * qtys[i] for i in in_band), ZERO)
    if need > depth and in_band:
        share = (need - depth) / len(in_band)
        for i in in_band:
            extra = ceil_qty(inst, share / prices[i])
            qtys[i] = max(qtys[i] + extra, _exchange_minimum(inst, prices[i], ctx.last_price))

    # obligation-critical: the innermost level (max spread) and, from the inside out, the in-band
    # levels needed to reach the minimum depth
    critical: set[int] = set()
    if obl is not None and prices:
        critical.add(0)
        running = ZERO
        for i in in_band:
            if running >= need:
                break
            critical.add(i)
            running += prices[i] * qtys[i]

    # what the balance can pay for, most important levels first
    order = sorted(range(len(prices)), key=lambda i: (i not in critical, i))
    left = ctx.inventory.quote if s.is_bid else ctx.inventory.base
    out: dict[int, Decimal] = {}
    short = False
    for i in order:
        price, qty = prices[i], qtys[i]
        if qty <= 0:
            continue
        if inst.max_qty is not None:
            qty = min(qty, inst.round_qty(inst.max_qty))
        cost = price * qty if s.is_bid else qty
        if cost > left:
            qty = inst.round_qty(left / price if s.is_bid else left)
            short = True
            if qty < _exchange_minimum(inst, price, ctx.last_price):
                continue
            cost = price * qty if s.is_bid else qty
        out[i] = qty
        left -= cost
    if short:
        asset = "quote" if s.is_bid else "base"
        warnings.append(f"{s.side} side reduced: not enough {asset} balance for every level")

    quotes: list[DesiredQuote] = []
    for i in sorted(out):
        problems = inst.check(s.side, prices[i], out[i], last_price=ctx.last_price)
        if problems:
            warnings.append(
                f"{s.side} level {plans[i].level} at {prices[i]} dropped by exchange filters: "
                + "; ".join(str(getattr(p, "message", p)) for p in problems)
            )
            continue
        is_critical = i in critical
        quotes.append(
            DesiredQuote(
                side=s.side,
                price=prices[i],
                qty=out[i],
                priority=plans[i].level + (0 if is_critical else CRITICAL_PRIORITY_LIMIT),
                level=plans[i].level,
                obligation_critical=is_critical,
            )
        )
    return quotes


def _check_obligations(qs: QuoteSet, ctx: ShapingContext, warnings: list[str]) -> None:
    obl = ctx.obligations
    if obl is None:
        return
    for side, quotes in ((Side.BUY, qs.bids), (Side.SELL, qs.asks)):
        depth = qs.depth_within(side, ctx.band_pct)
        if depth < obl.min_depth_2pct_quote:
            warnings.append(
                f"obligation unmet: {side} depth within {ctx.band_pct}% is {depth}, "
                f"minimum {obl.min_depth_2pct_quote}"
            )
        if not quotes:
            warnings.append(f"obligation unmet: no {side} quote (two-sided uptime)")
            continue
        inner = quotes[0].price
        if abs(inner - ctx.mid) * 200 > obl.max_spread_pct * ctx.mid:
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
    bid_side, ask_side = _Side(Side.BUY, ctx), _Side(Side.SELL, ctx)
    bid_plans = sorted((p for p in plans if p.side == Side.BUY), key=lambda p: p.level)
    ask_plans = sorted((p for p in plans if p.side == Side.SELL), key=lambda p: p.level)
    bid_prices = _prices(bid_side, bid_plans, notes) if bid_plans else []
    ask_prices = _prices(ask_side, ask_plans, notes) if ask_plans else []
    # our own two sides must not touch either (a zero target spread on an on-tick mid)
    if bid_prices and ask_prices and bid_prices[0] >= ask_prices[0]:
        gap = bid_prices[0] - ask_prices[0] + bid_side.tick
        bid_prices = [p - gap for p in bid_prices]
    bids = _shape_side(bid_side, bid_plans, bid_prices, notes)
    asks = _shape_side(ask_side, ask_plans, ask_prices, notes)
    qs = QuoteSet(
        symbol=symbol,
        now_ms=now_ms,
        bids=tuple(bids),
        asks=tuple(asks),
        mid=ctx.mid,
        diagnostics=dict(diagnostics or {}),
    )
    _check_obligations(qs, ctx, notes)
    return QuoteSet(
        symbol=qs.symbol,
        now_ms=qs.now_ms,
        bids=qs.bids,
        asks=qs.asks,
        mid=qs.mid,
        warnings=tuple(notes),
        diagnostics=qs.diagnostics,
    )


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
        return QuoteSet(symbol=instrument.symbol, now_ms=snapshot.now_ms, warnings=(str(why_not),))
    wanted = plan(snapshot, mid)
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
