"""Estimators on synthetic series: known volatility and intensity recovered (wide tolerances)."""

from __future__ import annotations

import math
import random
from decimal import Decimal as D

import pytest

from liquidity_bot.domain.book import OrderBook
from liquidity_bot.domain.order import Side
from liquidity_bot.strategies.estimators import (
    EwmaVolatility,
    IntensityEstimator,
    MarketEstimator,
)


def gbm_mids(sigma_pct: float, n: int, seed: int, start_ms: int = 0):
    """(ts_ms, mid) with irregular spacing and log returns of sigma_pct % per sqrt(second)."""
    rng = random.Random(seed)
    ts, mid = start_ms, 100.0
    out = [(ts, D(repr(mid)))]
    for _ in range(n):
        dt_ms = rng.randint(100, 3000)
        ts += dt_ms
        mid *= math.exp(rng.gauss(0.0, sigma_pct / 100 * math.sqrt(dt_ms / 1000)))
        out.append((ts, D(repr(round(mid, 10)))))
    return out


def test_volatility_recovers_a_known_sigma_from_irregular_samples():
    est = EwmaVolatility(window_s=3600, default_sigma_pct=9.9, min_samples=30)
    for ts, mid in gbm_mids(0.02, 4000, seed=7):
        est.update(ts, mid)
    assert est.warm
    assert est.sigma_pct == pytest.approx(0.02, rel=0.2)


def test_volatility_follows_a_regime_change_within_its_window():
    est = EwmaVolatility(window_s=120, default_sigma_pct=0.0, min_samples=10)
    calm = gbm_mids(0.01, 2000, seed=1)
    for ts, mid in calm:
        est.update(ts, mid)
    calm_sigma = est.sigma_pct
    last_ts = calm[-1][0]
    for ts, mid in gbm_mids(0.08, 2000, seed=2, start_ms=last_ts + 1000):
        est.update(ts, mid)
    assert calm_sigma == pytest.approx(0.01, rel=0.35)
    assert est.sigma_pct == pytest.approx(0.08, rel=0.35)


def test_volatility_falls_back_to_default_until_enough_samples():
    est = EwmaVolatility(window_s=60, default_sigma_pct=0.05, min_samples=30)
    for ts, mid in gbm_mids(0.5, 29, seed=3):
        est.update(ts, mid)
    assert not est.warm
    assert est.sigma_pct == 0.05
    est.update(10**9, D("100"))
    est.update(10**9, D("101"))  # same instant: ignored, no division by zero
    est.update(10**9 + 1000, D("0"))  # nonsense mid: ignored
    assert est.samples == 30 and est.warm


def test_intensity_recovers_a_and_kappa_from_synthetic_hits():
    rng = random.Random(11)
    a_true, kappa_true = 2.0, 5.0  # per second; per percent of mid
    est = IntensityEstimator(window_s=10_000, kappa_default=1.0, a_default=0.1, min_hits=50)
    ts = 0.0
    for _ in range(4000):
        ts += rng.expovariate(a_true)
        est.record_hit(int(ts * 1000), rng.expovariate(kappa_true))
    a, kappa, warm = est.fit(int(ts * 1000))
    assert warm
    assert kappa == pytest.approx(kappa_true, rel=0.2)
    assert a == pytest.approx(a_true, rel=0.25)


def test_intensity_defaults_until_enough_hits_and_outside_the_window():
    est = IntensityEstimator(window_s=60, kappa_default=1.5, a_default=0.7, min_hits=30)
    for i in range(29):
        est.record_hit(i * 100, 0.1 * (i % 5))
    assert est.fit(3_000) == (0.7, 1.5, False)
    est.record_hit(3_000, 0.3)
    assert est.fit(3_000)[2] is True
    # a minute later the hits have left the window
    assert est.fit(200_000) == (0.7, 1.5, False)
    assert est.hits == 0


def test_intensity_reused_fit_is_the_fit_of_the_window_as_it_is_now():
    """A pass reuses the last fit while the window is unchanged; every hit in, every hit out and
    every move of the observed time gives the fit a fresh estimator makes of the same hits."""
    rng = random.Random(20)
    est = IntensityEstimator(window_s=30, kappa_default=1.5, a_default=0.7, min_hits=5)
    hits: list[tuple[int, float]] = []
    now = 0
    for _ in range(600):
        now += rng.choice((0, 0, 50, 400, 3_000))
        if rng.random() < 0.4:
            depth = rng.expovariate(4.0)
            est.record_hit(now, depth)
            hits.append((now, depth))
        got = est.fit(now)
        again = est.fit(now)  # the reused answer
        fresh_est = IntensityEstimator(window_s=30, kappa_default=1.5, a_default=0.7, min_hits=5)
        fresh_est.start(est._first_ms if est._first_ms is not None else now)
        for ts, depth in hits:
            if ts >= now - 30_000:
                fresh_est.record_hit(ts, depth)
        assert got == again == fresh_est.fit(now)


def lv(*pairs):
    return [(D(p), D(q)) for p, q in pairs]


class Book:
    """Best-first levels, as the estimator reads them."""

    def __init__(self, bids, asks):
        self.bids, self.asks = bids, asks


def fresh(min_hits=1):
    return MarketEstimator(vol_window_s=600, kappa_default=1, a_default=1, min_hits=min_hits)


def test_book_depletion_gives_the_deepest_consumed_level_on_its_side():
    est = fresh()
    bids = lv(("99", "5"))
    est.on_book(0, Book(bids, lv(("101", "5"), ("102", "5"), ("103", "5"))))  # mid 100
    # a buy swept 101 and 102 and part of 103: an arrival on the ask side
    est.on_book(1000, Book(bids, lv(("103", "2"), ("104", "5"))))
    assert list(est.ask._hits) == [(1000, pytest.approx(3.0))] and est.bid.hits == 0
    # a sell took part of the best bid (mid is now 101): the bid side
    est.on_book(2000, Book(lv(("99", "1")), lv(("103", "2"), ("104", "5"))))
    assert list(est.bid._hits) == [(2000, pytest.approx((101 - 99) / 101 * 100))]
    assert est.ask.hits == 1


def test_book_changes_that_are_not_trades_give_no_arrival():
    est = fresh()
    est.on_book(0, Book(lv(("99", "5")), lv(("101", "5"))))
    est.on_book(1, Book(lv(("99.5", "1"), ("99", "5")), lv(("100.5", "1"), ("101", "5"))))
    est.on_book(2, Book(lv(("99.5", "3"), ("99", "5")), lv(("100.5", "4"), ("101", "5"))))
    assert est.bid.hits == est.ask.hits == 0
    est.on_book(3, Book([], lv(("101", "5"))))  # one-sided: no mid, no comparison across it
    est.on_book(4, Book(lv(("90", "5")), lv(("110", "5"))))
    assert est.bid.hits == est.ask.hits == 0


def test_a_makers_requote_is_not_a_trade():
    est = fresh()
    est.on_book(0, Book(lv(("99", "5"), ("98", "5"), ("97", "1")),
                        lv(("101", "5"), ("102", "5"), ("103", "1"))))
    # the best ask was cancelled and replaced further out (103 grew); the best bid likewise
    est.on_book(1, Book(lv(("98", "5"), ("97", "5")), lv(("102", "5"), ("103", "4"))))
    # the same asks again, but the 102 level grew: liquidity added, not a trade either
    est.on_book(2, Book(lv(("98", "5"), ("97", "5")), lv(("102", "9"), ("103", "4"))))
    assert est.bid.hits == est.ask.hits == 0
    # a sell consumed the best bid and nothing was added: a trade
    est.on_book(3, Book(lv(("97", "5")), lv(("102", "9"), ("103", "4"))))
    assert est.bid.hits == 1 and est.ask.hits == 0


def test_our_own_cancels_are_not_taken_for_arrivals_and_our_fills_are():
    est = fresh()
    own_ask = {D("100.5"): D("2")}
    est.on_book(0, Book(lv(("99", "5")), lv(("100.5", "2"), ("101", "5"))), own_asks=own_ask)
    est.on_book(1, Book(lv(("99", "5")), lv(("101", "5"))))  # we cancelled our 100.5 ask
    assert est.bid.hits == est.ask.hits == 0
    est.on_own_fill(2, D("101"), D("100"), Side.SELL)  # our ask filled: a market buy
    assert list(est.ask._hits) == [(2, pytest.approx(1.0))]
    est.on_own_fill(3, D("99.5"), D("100"), Side.BUY)
    assert list(est.bid._hits) == [(3, pytest.approx(0.5))]


def test_sides_are_fitted_separately():
    rng = random.Random(3)
    est = MarketEstimator(vol_window_s=600, kappa_default=1.0, a_default=0.1, min_hits=50,
                          intensity_window_s=100_000)
    est.on_book(0, Book(lv(("99", "5")), lv(("101", "5"))))
    for side, rate, kappa in ((Side.BUY, 2.0, 5.0), (Side.SELL, 0.5, 10.0)):
        t = 0.0
        while t < 4000:
            t += rng.expovariate(rate)
            reach = D(repr(rng.expovariate(kappa)))
            price = D(100) * (1 - reach / 100) if side == Side.BUY else D(100) * (1 + reach / 100)
            est.on_own_fill(int(t * 1000), price, D(100), side)
    got = est.estimates(4_000_000)
    assert got.intensity_warm and got.bid_trades > got.ask_trades > 1000
    assert got.a_bid == pytest.approx(2.0, rel=0.25) and got.kappa_bid == pytest.approx(5, rel=0.2)
    assert got.a_ask == pytest.approx(0.5, rel=0.25) and got.kappa_ask == pytest.approx(10, rel=0.2)


def test_market_estimator_recovers_kappa_from_a_depleted_book_series():
    """A static book (levels every 0.01 %) swept by market orders whose reach is Exp(kappa)."""
    rng = random.Random(5)
    kappa_true = 8.0  # per percent: mean reach 0.125 %
    mid0 = D("100")
    tick_pct = D("0.01")
    asks = [(mid0 * (1 + tick_pct * i / 100), D("10")) for i in range(1, 400)]
    bids = [(mid0 * (1 - tick_pct * i / 100), D("10")) for i in range(1, 400)]
    est = MarketEstimator(vol_window_s=600, kappa_default=1.0, a_default=0.1, min_hits=100)
    book = OrderBook("TEST")
    ts = 0
    book.apply_snapshot(bids, asks, ts)
    est.on_book(ts, book)
    for i in range(1500):
        reach = D(repr(rng.expovariate(kappa_true)))
        ts += 500
        if i % 2:
            edge = mid0 * (1 + reach / 100)
            swept = [lvl for lvl in asks if lvl[0] > edge]
            book.apply_snapshot(bids, swept, ts)
        else:
            edge = mid0 * (1 - reach / 100)
            swept = [lvl for lvl in bids if lvl[0] < edge]
            book.apply_snapshot(swept, asks, ts)
        est.on_book(ts, book)
        ts += 500
        book.apply_snapshot(bids, asks, ts)  # replenished
        est.on_book(ts, book)
    got = est.estimates(ts)
    assert got.intensity_warm
    # sweeps shallower than the first level leave no trace, so A is understated: kappa is the
    # shape and must come back on each side; A only within a factor of two of one order per
    # two seconds per side
    for a, kappa in ((got.a_bid, got.kappa_bid), (got.a_ask, got.kappa_ask)):
        assert kappa == pytest.approx(kappa_true, rel=0.3)
        assert 0.25 < a < 1.0
    assert got.sigma_warm and got.sigma_pct > 0


def test_market_estimator_defaults_when_cold():
    est = MarketEstimator(vol_window_s=300, kappa_default=1.5, a_default=0.4, sigma_default_pct=0.03)
    got = est.estimates(0)
    assert (got.sigma_pct, got.a, got.kappa) == (0.03, 0.4, 1.5)
    assert (got.a_bid, got.kappa_bid, got.a_ask, got.kappa_ask) == (0.4, 1.5, 0.4, 1.5)
    assert not got.sigma_warm and not got.intensity_warm


def test_estimates_are_reused_while_nothing_moved_and_fresh_when_something_did():
    """The same object while the inputs hold (a strategy's cache compares it by identity
    first), and always equal to what a twin estimator fed the same books computes anew."""
    rng = random.Random(3)
    est, twin = fresh(min_hits=2), fresh(min_hits=2)
    ts, last = 0, None
    for _ in range(400):
        ts += rng.choice((0, 50, 400, 2000))
        if rng.random() < 0.6:  # a new book (sometimes the same levels again)
            top = D(100) + D(rng.randint(-5, 5)) / 10
            book = Book(lv((str(top - D("0.1")), str(rng.randint(1, 3))), (str(top - 1), "5")),
                        lv((str(top + D("0.1")), str(rng.randint(1, 3))), (str(top + 1), "5")))
            est.on_book(ts, book)
            twin.on_book(ts, book)
        got = est.estimates(ts)
        twin._last_estimates = None  # the twin computes from scratch every time
        assert got == twin.estimates(ts)
        if last is not None and got == last:
            assert got is last
        last = got
    assert got.sigma_warm


def test_volatility_estimates_are_the_estimates_sigma_without_the_fits():
    est = MarketEstimator(vol_window_s=60, kappa_default=1.5, sigma_default_pct=0.01,
                          arrivals=False)
    seen = []
    for ts, mid in gbm_mids(0.05, 200, seed=3):
        book = OrderBook("XRPUSDT")
        book.apply_snapshot([[mid - D("0.0001"), D(1)]], [[mid + D("0.0001"), D(1)]], ts_ms=ts)
        est.on_book(ts, book)
        full, light = est.estimates(ts), est.volatility_estimates()
        assert (light.sigma_pct, light.sigma_warm) == (full.sigma_pct, full.sigma_warm)
        assert (light.a, light.kappa) == (1.0, 1.5)
        assert light is est.volatility_estimates()  # the same object while sigma holds
        seen.append(light.sigma_warm)
    assert seen[0] is False and seen[-1] is True
