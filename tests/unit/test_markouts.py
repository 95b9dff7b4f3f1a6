"""Markouts: sign, volume weighting, horizons, and the live tracker against the batch figure."""

from __future__ import annotations

import random
from decimal import Decimal as D
from typing import NamedTuple

from liquidity_bot.reporting.markouts import (
    MarkoutTracker,
    compute_markouts,
    markout_bps,
    position_range,
)


class F(NamedTuple):
    side: str
    price: D
    qty: D
    ts_ms: int


def test_sign_is_in_our_favour_when_the_market_moves_our_way():
    assert markout_bps("BUY", D("100"), D("100.1")) == D("10")
    assert markout_bps("SELL", D("100"), D("100.1")) == D("-10")


def test_volume_weighted_per_side_and_horizon_with_the_first_sample_at_or_after():
    mids = [(0, D("100")), (1000, D("100")), (2000, D("99.9")), (6000, D("99.8"))]
    fills = [
        F("BUY", D("99.95"), D("3"), 0),  # 299.85 quote
        F("BUY", D("99.99"), D("1"), 500),  # 99.99 quote: its 1 s mid is the 2000 sample
        F("SELL", D("100.05"), D("2"), 0),
    ]
    m = compute_markouts(fills, mids, horizons_s=(0, 1, 5, 60))
    b0 = (D("299.85") * markout_bps("BUY", D("99.95"), D("100"))
          + D("99.99") * markout_bps("BUY", D("99.99"), D("100"))) / (D("299.85") + D("99.99"))
    assert m.bps("BUY", 0) == b0
    b1 = (D("299.85") * markout_bps("BUY", D("99.95"), D("100"))
          + D("99.99") * markout_bps("BUY", D("99.99"), D("99.9"))) / (D("299.85") + D("99.99"))
    assert m.bps("BUY", 1) == b1
    assert m.bps("SELL", 5) == markout_bps("SELL", D("100.05"), D("99.8"))
    assert m.bps("ALL", 60) is None and m.fills("ALL", 60) == 0  # beyond the last sample
    assert m.fills("ALL", 0) == 3


def test_the_live_tracker_agrees_with_the_batch_figures():
    rng = random.Random(4)
    mids, mid = [], D("1")
    for i in range(600):
        mid += D(rng.randint(-5, 5)) / 10_000
        mids.append((i * 1000, mid))
    fills = sorted((F(rng.choice(["BUY", "SELL"]), mids[i][1] + D(rng.randint(-9, 9)) / 10_000,
                      D(rng.randint(1, 50)), mids[i][0] + rng.randint(0, 999))
                    for i in rng.sample(range(590), 80)), key=lambda f: f.ts_ms)
    tracker = MarkoutTracker()
    pending = iter(fills)
    nxt = next(pending, None)
    for ts, m in mids:
        while nxt is not None and nxt.ts_ms <= ts:
            tracker.on_fill(nxt.side, nxt.price, nxt.qty, nxt.ts_ms)
            nxt = next(pending, None)
        tracker.on_mid(ts, m)
    assert tracker.markouts.rows() == compute_markouts(fills, mids).rows()


def test_position_range():
    fills = [F("BUY", D(1), D(5), 1), F("SELL", D(1), D(8), 2), F("BUY", D(1), D(1), 3)]
    assert position_range(fills) == (D(-3), D(5), D(-2))
