"""A recorded, simulated market-making session: realistic data for the sample report and tests.

It drives the real ``KpiSampler`` over a synthetic book (a seeded random walk in integer ticks:
no float ever touches a price) with a three-level ladder of our quotes, re-quoted every 10 s,
occasional fills, and three scripted incidents a client report must show:
- an order-budget shortage that leaves the ask side empty for a while (cause ``budget``);
- a market-data outage: no samples for a stretch (a sampling gap, counted as not met);
- a risk refusal that widens our quotes beyond the maximum spread (cause ``risk_refusal``).
Everything goes through the ``Store`` exactly as a live run would write it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import Decimal

from liquidity_bot.domain.book import OrderBook
from liquidity_bot.reporting.kpi import Cause, KpiSampler, OurQuote
from liquidity_bot.store import BalanceSnapshot, FillRecord, OrderEventRecord, OrderRecord, Store

TICK = Decimal("0.0001")


@dataclass(frozen=True)
class SampleObligations:
    max_spread_pct: Decimal = Decimal("1")
    min_depth_2pct_quote: Decimal = Decimal("300")
    min_rest_s: float | None = None


def record_sample_session(
    store: Store,
    *,
    start_ms: int,
    minutes: int = 30,
    symbol: str = "XRPUSDT",
    seed: int = 7,
    obligations: SampleObligations | None = None,
) -> KpiSampler:
    """Write ``minutes`` of one-second KPI samples, orders, fills and balances to ``store``."""
    obl = obligations or SampleObligations()
    rng = random.Random(seed)
    sampler = KpiSampler(symbol, obl, interval_s=1.0, store=store)
    store.add_balance_snapshot(
        [
            BalanceSnapshot(start_ms, "XRP", Decimal("20000"), Decimal(0), "client-a"),
            BalanceSnapshot(start_ms, "USDT", Decimal("10000"), Decimal(0), "client-a"),
        ]
    )
    mid_ticks = 5200  # 0.5200
    live: list[OrderRecord] = []
    order_no = trade_no = 0
    total = minutes * 60
    budget_out = (int(total * 0.27), int(total * 0.27) + 75)
    outage = (int(total * 0.55), int(total * 0.55) + 40)
    risk_wide = (int(total * 0.8), int(total * 0.8) + 50)

    def requote(ts: int, half_ticks: int, sides: tuple[str, ...]) -> None:
        nonlocal order_no
        for o in live:
            store.record_order_event(OrderEventRecord(o.client_order_id, "CANCEL_REQUEST", ts))
            store.upsert_order(_replace_status(o, "CANCELED", ts))
        live.clear()
        for side in sides:
            for level in range(3):
                order_no += 1
                off = half_ticks + level * 12
                price = Decimal(mid_ticks - off if side == "BUY" else mid_ticks + off) * TICK
                qty = (Decimal(150) / price).quantize(Decimal(1))
                rec = OrderRecord(
                    f"lbs{order_no:08d}",
                    symbol,
                    side,
                    price,
                    qty,
                    "NEW",
                    ts,
                    ts,
                    key_label="client-a",
                )
                store.upsert_order(rec)
                store.record_order_event(OrderEventRecord(rec.client_order_id, "SUBMIT", ts))
                live.append(rec)

    for sec in range(total):
        ts = start_ms + sec * 1000
        mid_ticks += rng.choice((-2, -1, -1, 0, 0, 0, 1, 1, 2))
        causes: list[str] = []
        half, sides = 14, ("BUY", "SELL")  # 0.54 % wide at 0.52
        if budget_out[0] <= sec < budget_out[1]:
            sides, causes = ("BUY",), [str(Cause.BUDGET)]
        if risk_wide[0] <= sec < risk_wide[1]:
            half, causes = 32, [str(Cause.RISK)]
        if sec % 10 == 0 or sec in (budget_out[0], budget_out[1], risk_wide[0], risk_wide[1]):
            requote(ts, half, sides)
        if outage[0] <= sec < outage[1]:
            continue  # the feed is down: nothing is sampled
        if rng.randrange(25) == 0 and live:
            o = rng.choice(live)
            trade_no += 1
            qty = (o.qty / rng.choice((2, 3, 4))).quantize(Decimal(1))
            store.add_fill(
                FillRecord(
                    symbol,
                    f"t{trade_no}",
                    o.side,
                    o.price,
                    qty,
                    ts,
                    (o.price * qty * Decimal("0.001")).quantize(Decimal("0.000001")),
                    "USDT",
                    o.client_order_id,
                    None,
                    True,
                )
            )
            filled = _replace_status(o, "PARTIALLY_FILLED", ts, o.filled_qty + qty)
            store.upsert_order(filled)
            live[live.index(o)] = filled
        book = OrderBook(symbol)
        ours_bids = [(o.price, o.qty - o.filled_qty) for o in live if o.side == "BUY"]
        ours_asks = [(o.price, o.qty - o.filled_qty) for o in live if o.side == "SELL"]
        others_b = [
            (Decimal(mid_ticks - 9 - 10 * k) * TICK, Decimal(800 + 150 * k)) for k in range(8)
        ]
        others_a = [
            (Decimal(mid_ticks + 9 + 10 * k) * TICK, Decimal(800 + 150 * k)) for k in range(8)
        ]
        book.apply_snapshot(ours_bids + others_b, ours_asks + others_a, ts)
        quotes = [OurQuote(o.side, o.price, o.qty - o.filled_qty, o.created_ms) for o in live]
        sampler.sample(book, quotes, ts, causes)
    sampler.close(start_ms + total * 1000)
    return sampler


def _replace_status(
    o: OrderRecord, status: str, ts: int, filled: Decimal | None = None
) -> OrderRecord:
    return OrderRecord(
        o.client_order_id,
        o.symbol,
        o.side,
        o.price,
        o.qty,
        status,
        o.created_ms,
        ts,
        o.filled_qty if filled is None else filled,
        o.price if (filled or o.filled_qty) else None,
        o.exchange_order_id,
        o.key_label,
    )
