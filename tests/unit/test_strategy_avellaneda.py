"""Avellaneda-Stoikov / GLFT strategy: formula limits, skew, caps, obligations, properties."""

from __future__ import annotations

import math
from decimal import Decimal as D

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from liquidity_bot.config import AvellanedaParams, ObligationsConfig
from liquidity_bot.domain.book import OrderBook
from liquidity_bot.domain.instrument import Instrument
from liquidity_bot.strategies.avellaneda import AvellanedaStrategy, glft_half_spread_and_skew
from liquidity_bot.strategies.base import (
    Inventory,
    MarketEstimates,
    MarketSnapshot,
    Side,
    Strategy,
)


def instrument(tick="0.0001", step="0.1") -> Instrument:
    return Instrument(
        symbol="XRPUSDT",
        base="XRP",
        quote="USDT",
        tick=D(tick),
        step=D(step),
        price_scale=None,
        volume_scale=None,
        min_price=D(tick),
        max_price=None,
        min_qty=D(step),
        max_qty=None,
        min_val=D("1"),
    )


def book(bid="0.4990", ask="0.5010") -> OrderBook:
    b = OrderBook("XRPUSDT")
    b.apply_snapshot([[D(bid), D("1000")]], [[D(ask), D("1000")]], ts_ms=1)
    return b


BOOK = book()
BALANCED = Inventory(base=D("10000"), quote=D("5000"))  # 50 % at mid 0.5


def params(**kw) -> AvellanedaParams:
    base = dict(order_size_quote=D("50"), gamma=D("0.1"), kappa_default=D("1.5"), levels=1)
    base.update(kw)
    return AvellanedaParams(**base)


def snap(inv=BALANCED, b=BOOK, est=None) -> MarketSnapshot:
    return MarketSnapshot(book=b, inventory=inv, now_ms=5, estimates=est)


def test_glft_tends_to_the_risk_neutral_spread_as_gamma_vanishes():
    half, skew = glft_half_spread_and_skew(1e-9, 2.0, 1.0, 0.0)
    assert half == pytest.approx(1 / 2.0, rel=1e-6)  # 1/kappa
    assert skew == 0.0


def test_glft_matches_its_closed_form():
    g, k, a, s = 0.3, 1.5, 0.8, 0.05
    half, skew = glft_half_spread_and_skew(g, k, a, s)
    c1 = math.log(1 + g / k) / g
    c2 = math.sqrt(g / (2 * a * k) * (1 + g / k) ** (k / g + 1))
    assert half == pytest.approx(c1 + 0.5 * s * c2)
    assert skew == pytest.approx(s * c2)


def test_glft_monotonicity():
    base = glft_half_spread_and_skew(0.1, 1.5, 1.0, 0.02)
    more_vol = glft_half_spread_and_skew(0.1, 1.5, 1.0, 0.08)
    more_flow = glft_half_spread_and_skew(0.1, 1.5, 4.0, 0.02)
    assert more_vol[0] > base[0] and more_vol[1] > base[1]
    assert more_flow[1] < base[1]  # more arrivals: less inventory risk
    with pytest.raises(ValueError):
        glft_half_spread_and_skew(0.0, 1.5, 1.0, 0.02)


def test_balanced_inventory_quotes_symmetrically_around_mid():
    inst = instrument()
    s = AvellanedaStrategy(inst, params())
    assert isinstance(s, Strategy)
    qs = s.quote(snap())
    half_pct, _ = glft_half_spread_and_skew(0.1, 1.5, 1.0, 0.01)
    bid, ask = qs.bids[0].price, qs.asks[0].price
    assert bid == inst.round_price(D("0.5") * (1 - D(repr(half_pct)) / 100), Side.BUY)
    assert ask == inst.round_price(D("0.5") * (1 + D(repr(half_pct)) / 100), Side.SELL)
    assert abs((D("0.5") - bid) - (ask - D("0.5"))) <= inst.tick
    assert qs.diagnostics["kappa"] == D("1.5")  # defaults without estimates


def test_inventory_moves_the_reservation_price():
    inst = instrument(tick="0.00001")
    s = AvellanedaStrategy(inst, params(gamma=D("5")))
    est = MarketEstimates(sigma_pct=0.05, a=1.0, kappa=1.5)
    neutral = s.quote(snap(est=est))
    long_base = s.quote(snap(Inventory(base=D("14000"), quote=D("3000")), est=est))
    short_base = s.quote(snap(Inventory(base=D("6000"), quote=D("7000")), est=est))
    assert long_base.diagnostics["inventory_lots"] > 0 > short_base.diagnostics["inventory_lots"]
    assert long_base.diagnostics["reservation_price"] < D("0.5")
    assert long_base.best_bid < neutral.best_bid and long_base.best_ask < neutral.best_ask
    assert short_base.best_bid > neutral.best_bid and short_base.best_ask > neutral.best_ask
    for qs in (long_base, short_base):
        assert qs.best_bid <= D("0.5") <= qs.best_ask


def test_spread_is_capped_by_max_spread_pct():
    inst = instrument()
    s = AvellanedaStrategy(inst, params(gamma=D("50"), max_spread_pct=D("1")))
    qs = s.quote(snap(Inventory(base=D("30000"), quote=D("500")), est=MarketEstimates(1.0, 0.1, 0.5)))
    assert qs.bids and qs.asks
    # rounding away from mid can add at most one tick per side
    assert qs.best_ask - qs.best_bid <= D("0.5") * D("0.01") + 2 * inst.tick


def test_obligations_win_over_the_model():
    inst = instrument()
    obl = ObligationsConfig(max_spread_pct=D("0.4"), min_depth_2pct_quote=D("800"))
    s = AvellanedaStrategy(inst, params(levels=3, level_spacing_pct=D("0.5")), obl)
    qs = s.quote(snap(Inventory(base=D("100000"), quote=D("50000"))))
    assert qs.spread_pct() <= D("0.4")
    for side in (Side.BUY, Side.SELL):
        assert qs.depth_within(side) >= D("800")
    assert qs.bids[0].obligation_critical and qs.asks[0].obligation_critical
    assert not [w for w in qs.warnings if "unmet" in w]


def test_levels_step_outward():
    inst = instrument()
    s = AvellanedaStrategy(inst, params(levels=4, level_spacing_pct=D("0.2")))
    qs = s.quote(snap())
    assert [q.level for q in qs.bids] == [0, 1, 2, 3]
    gaps = [a.price - b.price for a, b in zip(qs.bids, qs.bids[1:], strict=False)]
    assert all(g >= D("0.0009") for g in gaps)  # 0.2 % of 0.5 = 0.001, less rounding


def test_empty_book_gives_no_quotes():
    s = AvellanedaStrategy(instrument(), params())
    qs = s.quote(snap(b=OrderBook("XRPUSDT")))
    assert qs.quotes == () and qs.warnings


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    tick=st.sampled_from(["0.0001", "0.001", "0.01"]),
    mid_ticks=st.integers(min_value=100, max_value=100_000),
    spread_ticks=st.integers(min_value=1, max_value=40),
    gamma=st.decimals(min_value=D("0.001"), max_value=D("100"), places=3),
    sigma=st.floats(min_value=0.0, max_value=5.0),
    a=st.floats(min_value=0.01, max_value=100.0),
    kappa=st.floats(min_value=0.05, max_value=500.0),
    share=st.decimals(min_value=D("0"), max_value=D("1"), places=2),
    levels=st.integers(min_value=1, max_value=4),
)
def test_property_on_tick_and_never_crossing(
    tick, mid_ticks, spread_ticks, gamma, sigma, a, kappa, share, levels
):
    inst = instrument(tick=tick, step="0.01")
    t = D(tick)
    bid = t * mid_ticks
    b = book(str(bid), str(bid + t * spread_ticks))
    mid = bid + t * spread_ticks / 2
    value = D("100000") * max(mid, D(1))
    inv = Inventory(base=value * share / mid, quote=value * (1 - share))
    obl = ObligationsConfig(max_spread_pct=D("2"), min_depth_2pct_quote=D("100"))
    s = AvellanedaStrategy(inst, params(gamma=gamma, levels=levels), obl)
    qs = s.quote(snap(inv, b, MarketEstimates(sigma_pct=sigma, a=a, kappa=kappa)))
    for q in qs.quotes:
        assert q.price % t == 0 and q.qty % inst.step == 0 and q.qty > 0
        assert inst.check(q.side, q.price, q.qty) == []
    assert all(q.price < bid + t * spread_ticks for q in qs.bids)
    assert all(q.price > bid for q in qs.asks)
    if qs.bids and qs.asks:
        assert qs.best_bid < qs.best_ask
    if mid * D("0.01") >= 2 * t and D("0.05") <= share <= D("0.95"):
        for side in (Side.BUY, Side.SELL):
            assert qs.depth_within(side) >= D("100")
        assert abs(qs.best_bid - mid) <= mid * D("0.01")
        assert abs(qs.best_ask - mid) <= mid * D("0.01")
