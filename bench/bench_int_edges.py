"""Bench: would integer ticks and lots pay at the risk gate, the order encoding and the book's
best prices? (issue 20, item 1's remainder). Warm, in one process, this tree only.

Prints, per call (best of ``--repeats``):

- the risk gate's per-order check as it is (``RiskGate.check``, Decimal), and the same checks
  written on ints (ticks x lots against limits in notional units) for orders whose ints are
  already at hand, and with the Decimal -> ticks / lots conversions (the scale's memo) a gate
  fed today's Decimals would need first;
- the order's query text: ``str`` of the Decimal price and quantity (what ``rest._place_query``
  writes) against ``TickScale.price_text`` / ``qty_text`` from ticks and lots;
- the book's text check of one 100-level side (``_clean_text_columns``: the price column new,
  and the same column again, as in ~75 % of live frames) beside the typed decode of a frame.

The point of it: in these three places the values arrive as Decimal (the order manager's
quotes and account sums, the wire's text), so ints pay only where they already flow; a Decimal's
``str`` is one C call, while exact integer formatting is several Python-level steps.

    .venv/bin/python bench/bench_int_edges.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import sys
import timeit
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

D = Decimal


class _Limits:
    max_order_notional = D(1000)
    max_open_notional_per_side = D(5000)
    max_base_inventory = D(1_000_000)
    daily_loss_limit = D(100)
    min_base_inventory = D(0)
    price_band_pct = D(5)
    ema_halflife_s = 300.0
    max_fills_per_minute = 100
    on_loss_limit = "minimum"


def _per_call(fn, number: int, repeats: int) -> float:  # noqa: ANN001
    return min(timeit.repeat(fn, number=number, repeat=repeats)) / number * 1e9


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    from bench_book_path import frames

    from liquidity_bot.domain.book import _clean_text_columns
    from liquidity_bot.domain.order import Side
    from liquidity_bot.domain.ticks import CEIL, FLOOR, TickScale
    from liquidity_bot.engine.risk import AccountState, RiskGate
    from liquidity_bot.venues.bitrue.market_stream import _DECODE, gunzip

    rows: list[tuple[str, float]] = []
    n, r = 100_000, args.repeats

    # --- the risk gate ---------------------------------------------------------------------
    scale = TickScale(D("0.0001"), D("0.1"))
    gate = RiskGate("XRPUSDT", _Limits, {"k": ["XRPUSDT"]}, initial_base=D(1000),
                    initial_quote=D(1000))
    gate.on_mid(1_000, D("0.51235"))
    gate.on_mid(1_150, D("0.51245"))
    acct = AccountState(base_free=D(1000), quote_free=D(1000), base_total=D(1000),
                        open_buy_notional=D("51.2300"), open_sell_notional=D("77.10000"),
                        open_buy_qty=D("100.0"), open_sell_qty=D("150.5"))
    price, qty = D("0.5121"), D("120.5")
    rows.append(("risk check, Decimal (as it is)", _per_call(
        lambda: gate.check(Side.BUY, price, qty, acct, key_label="k", symbol="XRPUSDT"), n, r)))
    # the same checks on ints: limits in notional units (floored: <= stays exact), the band
    # as ticks around the reference, exposures and balances in units and lots
    max_order = scale.notional_units(_Limits.max_order_notional, FLOOR)
    max_open = scale.notional_units(_Limits.max_open_notional_per_side, FLOOR)
    ref = gate.reference_price
    assert ref is not None
    band = ref * _Limits.price_band_pct / 100
    low, high = scale.ticks(ref - band, CEIL), scale.ticks(ref + band, FLOOR)
    open_units, open_lots = scale.notional_units(acct.open_buy_notional, FLOOR), 1005
    total_lots, max_lots = 10_000, scale.lots(_Limits.max_base_inventory)
    quote_units = scale.notional_units(acct.quote_free, FLOOR)

    def int_checks(ticks: int, lots: int) -> bool:
        if ticks <= 0 or lots <= 0:
            return False
        units = ticks * lots
        if units > max_order or open_units + units > max_open:
            return False
        if total_lots + open_lots + lots > max_lots:
            return False
        if not low <= ticks <= high:
            return False
        return units <= quote_units

    ticks, lots = scale.ticks(price), scale.lots(qty)
    assert int_checks(ticks, lots) and gate.check(Side.BUY, price, qty, acct, key_label="k")
    def decimal_checks(price: Decimal, qty: Decimal) -> bool:  # int_checks' twin, in Decimal
        if price <= 0 or qty <= 0:
            return False
        notional = price * qty
        if notional > _Limits.max_order_notional:
            return False
        if acct.open_buy_notional + notional > _Limits.max_open_notional_per_side:
            return False
        if acct.base_total + acct.open_buy_qty + qty > _Limits.max_base_inventory:
            return False
        if abs(price - ref) / ref * 100 > _Limits.price_band_pct:
            return False
        return notional <= acct.quote_free

    assert decimal_checks(price, qty)
    rows.append(("  the same checks alone, Decimal", _per_call(
        lambda: decimal_checks(price, qty), n, r)))
    rows.append(("  the same checks alone, ints at hand", _per_call(
        lambda: int_checks(ticks, lots), n, r)))
    rows.append(("  ints, + ticks/lots of the Decimals (memo)", _per_call(
        lambda: int_checks(scale.ticks(price), scale.lots(qty)), n, r)))

    # --- the order's query text ------------------------------------------------------------
    assert (str(price), str(qty)) == (scale.price_text(ticks), scale.qty_text(lots))
    rows.append(("order text: str(Decimal) x2 (as it is)",
                 _per_call(lambda: (str(price), str(qty)), n, r)))
    rows.append(("order text: price_text/qty_text of ints",
                 _per_call(lambda: (scale.price_text(ticks), scale.qty_text(lots)), n, r)))

    # --- the book's text check -------------------------------------------------------------
    raws = [gunzip(f) for f in frames(200)]
    sides = [_DECODE.decode(raw).tick.buys for raw in raws]
    first = {id(s): _clean_text_columns(s, True) for s in sides}
    m = len(sides)
    def each(fn, items) -> None:  # noqa: ANN001 - answers dropped as made, as in the stream
        for item in items:
            fn(*item)

    decode = _DECODE.decode
    rows.append(("frame decode (typed, both sides)", _per_call(
        lambda: each(decode, [(raw,) for raw in raws]), 1, r) / m))
    rows.append(("text check of a side, new prices", _per_call(
        lambda: each(_clean_text_columns, [(s, True) for s in sides]), 1, r) / m))
    # an equal price column of other str objects (as a new frame's decode makes them)
    memo = [[(" " + p)[1:] for p in first[id(s)][0]] for s in sides]
    again = [(s, True, c) for s, c in zip(sides, memo, strict=True)]
    rows.append(("text check of a side, prices as before", _per_call(
        lambda: each(_clean_text_columns, again), 1, r) / m))

    for label, ns in rows:
        print(f"{label:44s} {ns / 1000:8.3f} us")
    return 0


if __name__ == "__main__":
    sys.exit(main())
