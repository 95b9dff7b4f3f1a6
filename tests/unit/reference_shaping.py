"""The tick shaping of a side as it was before its conversions were written out (issue 20):
the reference ``test_shaping_reference`` holds the shaping of today to. Kept verbatim (but for
the names) so that any difference is the new code's."""

# ruff: noqa
from __future__ import annotations

from collections.abc import Sequence

from liquidity_bot.domain.tick_filters import tick_filters
from liquidity_bot.domain.ticks import CEIL, FLOOR
from liquidity_bot.strategies.base import CRITICAL_PRIORITY_LIMIT, DesiredQuote
from liquidity_bot.strategies.shaping import ZERO, LevelPlan, _Side
from decimal import Decimal


def reference_prices(
    s: _Side, plans: Sequence[LevelPlan], half_spread: Decimal | None, warnings: list[str]
) -> list[int]:
    """One price per level, in ticks (see the module docstring for the rules' order)."""
    ctx = s.ctx
    side, is_bid, away = s.side, s.is_bid, s.away_rounding
    ticks_of = s.scale.ticks
    # 1. obligation: the innermost level within max_spread/2 of mid (and inside the band)
    innermost = ticks_of(plans[0].price, away)
    limit = s.inner_limit_ticks(half_spread)
    if limit is not None and ((limit > innermost) if is_bid else (limit < innermost)):
        innermost = limit
    # 2. hard price ceiling (bids) / floor (asks): shift the whole side, keeping its shape
    shift = None
    hard = ctx.bid_ceiling if is_bid else ctx.ask_floor
    if hard is not None:
        bound = ticks_of(hard, away)
        if (innermost > bound) if is_bid else (innermost < bound):
            shift = innermost - bound
            what = "ceiling" if is_bid else "floor"
            warnings.append(f"{side} side held at the price {what} {hard}")
    # 3. never cross the opposite best price of the book (rounding away keeps a tick of room)
    opposite = ctx.top.ask if is_bid else ctx.top.bid
    safe = None
    if opposite is not None:
        safe = ticks_of(opposite, away) - 1 if is_bid else ticks_of(opposite, away) + 1
    # 4. one price per level, strictly moving away from mid
    # (3 and 4 keep the price further from mid, the price itself on a tie, as min/max would)
    prices: list[int] = []
    for plan in plans:
        price = ticks_of(plan.price, away) if prices else innermost
        if shift is not None:
            price -= shift
        if is_bid:
            if safe is not None and safe < price:
                price = safe
            if prices and prices[-1] - 1 < price:
                price = prices[-1] - 1
        else:
            if safe is not None and safe > price:
                price = safe
            if prices and prices[-1] + 1 > price:
                price = prices[-1] + 1
        prices.append(price)
    return prices


def reference_shape_side(
    s: _Side, plans: Sequence[LevelPlan], prices: list[int], warnings: list[str]
) -> list[DesiredQuote]:
    """The side's quotes: sizes in lots (depth and balances in notional units), checked."""
    if not plans:
        return []
    ctx, inst, is_bid, scale, grid = s.ctx, s.inst, s.is_bid, s.scale, s.grid
    units_floor, minimum = grid.units_floor, s.minimum_lots
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
    qtys: list[int] = []
    minimums: list[int] = []
    for i, (plan, price) in enumerate(zip(plans, prices, strict=True)):
        size = plan.size_quote
        qty = units_floor(size) // price if size > ZERO else 0  # floor(size / price / step)
        least = minimum(price)
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
    # obligation depth: top up the levels inside the band, evenly
    if need > ZERO and depth < need_units and in_band:
        share = (need - scale.notional(depth)) / in_band
        share_units = scale.notional_units(share, CEIL)
        for i in range(in_band):
            topped = qtys[i] + -(-share_units // prices[i])  # ceil(share / price / step)
            qtys[i] = minimums[i] if minimums[i] > topped else topped

    # obligation-critical: the innermost level (max spread) and, from the inside out, the in-band
    # levels needed to reach the minimum depth
    critical = 0
    if obl is not None and count:
        critical = 1
        running = 0
        for i in range(in_band):
            if running >= need_units:
                break
            critical = i + 1
            running += prices[i] * qtys[i]

    # what the balance can pay for, most important (innermost) levels first; then the exchange
    # filters, a last check
    left = (units_floor(ctx.inventory.quote) if is_bid
            else scale.lots(ctx.inventory.base, FLOOR))
    qty_cap = grid.max_lots
    side, last_price = s.side, ctx.last_price
    passes = tick_filters(inst, side, last_price).passes
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
        price_d, qty_d = scale.price(price), scale.qty(qty)
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
