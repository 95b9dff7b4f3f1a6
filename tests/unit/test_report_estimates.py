"""The report's period estimates: volatility from the samples, per-side arrivals from our fills."""

from __future__ import annotations

import math
import random
from decimal import Decimal as D

import pytest

from liquidity_bot.reporting.estimates import PeriodEstimates


def test_period_estimates_recover_sigma_and_each_sides_arrivals():
    rng = random.Random(9)
    est = PeriodEstimates()
    mid = 1.0
    fills = []  # (ts_ms, side, depth_pct)
    for side, rate, kappa in (("BUY", 0.05, 4.0), ("SELL", 0.02, 8.0)):
        t = 0.0
        while True:
            t += rng.expovariate(rate)
            if t >= 20_000:
                break
            fills.append((int(t * 1000) + 1, side, rng.expovariate(kappa)))
    fills.sort()
    i = 0
    for second in range(20_000):
        ts = second * 1000
        while i < len(fills) and fills[i][0] <= ts:
            f_ts, side, depth = fills[i]
            sign = -1 if side == "BUY" else 1
            est.on_fill(side, D(repr(mid * (1 + sign * depth / 100))), f_ts)
            i += 1
        mid *= math.exp(rng.gauss(0, 0.0003))  # 0.03 % per sqrt(s)
        est.on_mid(ts, D(repr(mid)))
    got = est.to_json()
    assert got["sigma_pct"] == pytest.approx(0.03, rel=0.05)
    assert got["bid"]["a"] == pytest.approx(0.05, rel=0.3)
    assert got["bid"]["kappa"] == pytest.approx(4.0, rel=0.25)
    assert got["ask"]["kappa"] == pytest.approx(8.0, rel=0.3)
    assert got["bid"]["fills"] > got["ask"]["fills"] > 300


def test_too_few_fills_give_no_fit():
    est = PeriodEstimates()
    est.on_mid(0, D("1"))
    for k in range(5):
        est.on_fill("BUY", D("0.999"), k)
    got = est.to_json()
    assert got["bid"] == {"fills": 5, "a": None, "kappa": None} and got["sigma_pct"] is None
