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
from liquidity_bot.strategies.avellaneda import (
    AvellanedaStrategy,
    gamma_for_half_life,
    glft_half_spread_and_skew,
    glft_terms,
)
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
    base = dict(order_size_quote=D("50"), gamma=D("0.01"), kappa_default=D("1.5"), levels=1)
    base.update(kw)
    return AvellanedaParams(**base)


def snap(inv=BALANCED, b=BOOK, est=None) -> MarketSnapshot:
    return MarketSnapshot(book=b, inventory=inv, now_ms=5, estimates=est)


# Guéant, Lehalle, Fernandez-Tapia (2013), asymptotic quotes, written out as in the paper:
#   delta_b(q) = 1/gamma ln(1 + gamma/kappa) + (2q + 1)/2 sqrt(sigma^2 gamma / (2 kappa A)
#                                                               (1 + gamma/kappa)^(1 + kappa/gamma))
#   delta_a(q) = 1/gamma ln(1 + gamma/kappa) - (2q - 1)/2 sqrt(...the same...)
def paper_quotes(q, gamma, kappa, a, sigma):
    c = (1 / gamma) * math.log(1 + gamma / kappa)
    w = math.sqrt(sigma**2 * gamma / (2 * kappa * a) * (1 + gamma / kappa) ** (1 + kappa / gamma))
    return c + (2 * q + 1) / 2 * w, c - (2 * q - 1) / 2 * w


def test_glft_terms_match_values_worked_by_hand():
    # gamma = 0.01 per bps per lot, kappa = 0.05 per bps, A = 0.5 /s, sigma = 3 bps/sqrt(s):
    # c1 = 100 ln 1.2 = 18.2321557 bps; sigma^2 gamma / (2 kappa A) = 0.09 / 0.05 = 1.8,
    # (1.2)^6 = 2.985984, omega = sqrt(1.8 x 2.985984) = sqrt(5.3747712) = 2.3183553 bps
    c1, omega = glft_terms(0.01, 0.05, 0.5, 3.0)
    assert c1 == pytest.approx(18.2321557, abs=1e-6)
    assert omega == pytest.approx(2.3183553, abs=1e-6)
    for q in (-4, -1, 0, 2, 7):
        bid, ask = paper_quotes(q, 0.01, 0.05, 0.5, 3.0)
        assert c1 + (2 * q + 1) / 2 * omega == pytest.approx(bid, rel=1e-12)
        assert c1 - (2 * q - 1) / 2 * omega == pytest.approx(ask, rel=1e-12)


def test_glft_tends_to_the_risk_neutral_spread_as_gamma_vanishes():
    half, skew = glft_half_spread_and_skew(1e-9, 2.0, 1.0, 0.0)
    assert half == pytest.approx(1 / 2.0, rel=1e-6)  # 1/kappa
    assert skew == 0.0


def test_glft_monotonicity():
    base = glft_half_spread_and_skew(0.1, 1.5, 1.0, 0.02)
    more_vol = glft_half_spread_and_skew(0.1, 1.5, 1.0, 0.08)
    more_flow = glft_half_spread_and_skew(0.1, 1.5, 4.0, 0.02)
    assert more_vol[0] > base[0] and more_vol[1] > base[1]
    assert more_flow[1] < base[1]  # more arrivals: less inventory risk
    with pytest.raises(ValueError):
        glft_half_spread_and_skew(0.0, 1.5, 1.0, 0.02)


WORKED = dict(order_size_quote=D("100"), gamma=D("0.01"), target_base_qty=D("1000"),
              max_base_deviation=D("1000"), max_spread_pct=D("5"))
# sigma 0.03 %/sqrt(s) = 3 bps; kappa 5 per % = 0.05 per bps
WORKED_EST = MarketEstimates(sigma_pct=0.03, a=0.5, kappa=5.0)


@pytest.mark.parametrize("base, q", [("1000", 0), ("1300", 3), ("800", -2)])
def test_quotes_are_the_papers_in_bps_with_inventory_in_lots(base, q):
    """Mid 1, lot = 100 USDT = 100 base: q = (base - 1000) / 100; a fine tick so that rounding
    (bids down, asks up) is the only difference from the paper."""
    inst = instrument(tick="0.000001")
    s = AvellanedaStrategy(inst, params(**WORKED))
    b = book("0.999999", "1.000001")
    qs = s.quote(snap(Inventory(base=D(base), quote=D("5000")), b, WORKED_EST))
    bid_bps, ask_bps = paper_quotes(q, 0.01, 0.05, 0.5, 3.0)
    assert qs.diagnostics["inventory_lots"] == q
    assert qs.bids[0].price == inst.round_price(D(1) - D(repr(bid_bps)) / 10_000, Side.BUY)
    assert qs.asks[0].price == inst.round_price(D(1) + D(repr(ask_bps)) / 10_000, Side.SELL)
    if q == 3:  # by hand: 18.2321557 + 3.5 x 2.3183553 and 18.2321557 - 2.5 x 2.3183553
        assert qs.bids[0].price == D("0.997365")  # 1 - 0.00263464, rounded down
        assert qs.asks[0].price == D("1.001244")  # 1 + 0.00124363, rounded up


def test_each_side_uses_its_own_arrivals():
    inst = instrument(tick="0.000001")
    s = AvellanedaStrategy(inst, params(**WORKED))
    b = book("0.999999", "1.000001")
    est = MarketEstimates(sigma_pct=0.03, a=0.5, kappa=5.0, a_bid=2.0, kappa_bid=5.0,
                          a_ask=0.5, kappa_ask=2.5)
    qs = s.quote(snap(Inventory(base=D("1000"), quote=D("5000")), b, est))
    bid_bps, _ = paper_quotes(0, 0.01, 0.05, 2.0, 3.0)
    _, ask_bps = paper_quotes(0, 0.01, 0.025, 0.5, 3.0)
    assert qs.bids[0].price == inst.round_price(D(1) - D(repr(bid_bps)) / 10_000, Side.BUY)
    assert qs.asks[0].price == inst.round_price(D(1) + D(repr(ask_bps)) / 10_000, Side.SELL)


def test_worked_example_of_the_docstring():
    gamma, reached = gamma_for_half_life(600, 0.05, 0.05, 2.0)
    assert reached and gamma == pytest.approx(1.86e-4, rel=0.01)
    c1, omega = glft_terms(gamma, 0.05, 0.05, 2.0)
    assert c1 == pytest.approx(19.96, abs=0.01) and omega == pytest.approx(0.64, abs=0.01)
    assert gamma_for_half_life(60, 0.05, 0.05, 2.0)[0] == pytest.approx(0.0165, rel=0.01)


@pytest.mark.parametrize("half_life_s", [60.0, 600.0, 3600.0])
def test_gamma_from_half_life_halves_inventory_in_that_time(half_life_s):
    """Integrate the expected inventory d q/dt = A e^{-kappa delta_b(q)} - A e^{-kappa delta_a(q)}
    under the paper's quotes with the chosen gamma: q halves in about the half-life."""
    kappa, a, sigma = 0.05, 0.05, 2.0
    gamma, reached = gamma_for_half_life(half_life_s, kappa, a, sigma)
    assert reached
    q, t, dt = 0.2, 0.0, half_life_s / 20_000
    while q > 0.1:
        bid, ask = paper_quotes(q, gamma, kappa, a, sigma)
        q += (a * math.exp(-kappa * bid) - a * math.exp(-kappa * ask)) * dt
        t += dt
    assert t == pytest.approx(half_life_s, rel=0.03)


def test_an_unreachable_half_life_says_so():
    gamma, reached = gamma_for_half_life(1.0, 0.05, 0.05, 2.0)
    assert not reached and gamma > 0
    s = AvellanedaStrategy(instrument(), params(gamma=None, inventory_half_life_s=1.0))
    qs = s.quote(snap(est=MarketEstimates(sigma_pct=0.02, a=0.05, kappa=5.0)))
    assert any("half-life" in w for w in qs.warnings)
    assert qs.bids and qs.asks


def test_balanced_inventory_quotes_symmetrically_around_mid():
    inst = instrument()
    s = AvellanedaStrategy(inst, params(target_base_qty=D("10000")))
    assert isinstance(s, Strategy)
    qs = s.quote(snap())
    c1, omega = glft_terms(0.01, 0.015, 1.0, 1.0)  # defaults: kappa 1.5 %, sigma 0.01 %
    half_pct = (c1 + omega / 2) / 100
    bid, ask = qs.bids[0].price, qs.asks[0].price
    assert bid == inst.round_price(D("0.5") * (1 - D(repr(half_pct)) / 100), Side.BUY)
    assert ask == inst.round_price(D("0.5") * (1 + D(repr(half_pct)) / 100), Side.SELL)
    assert abs((D("0.5") - bid) - (ask - D("0.5"))) <= inst.tick
    assert qs.diagnostics["kappa"] == D("1.5")  # defaults without estimates


def test_configured_defaults_are_used_until_estimates_exist():
    inst = instrument(tick="0.000001")
    p = params(**WORKED, a_default=D("0.5"), sigma_default_pct=D("0.03"), kappa_default=D("5"))
    s = AvellanedaStrategy(inst, p)
    b = book("0.999999", "1.000001")
    cold = s.quote(snap(Inventory(base=D("1000"), quote=D("5000")), b))
    warm = s.quote(snap(Inventory(base=D("1000"), quote=D("5000")), b, WORKED_EST))
    assert (cold.bids[0].price, cold.asks[0].price) == (warm.bids[0].price, warm.asks[0].price)
    assert cold.diagnostics["a"] == D("0.5") and cold.diagnostics["sigma_pct"] == D("0.03")


def test_inventory_moves_the_reservation_price():
    inst = instrument(tick="0.00001")
    s = AvellanedaStrategy(inst, params(gamma=D("0.5"), target_base_qty=D("10000")))
    est = MarketEstimates(sigma_pct=0.05, a=1.0, kappa=1.5)
    neutral = s.quote(snap(est=est))
    long_base = s.quote(snap(Inventory(base=D("10300"), quote=D("3000")), est=est))
    short_base = s.quote(snap(Inventory(base=D("9700"), quote=D("7000")), est=est))
    assert long_base.diagnostics["inventory_lots"] == 3 == -short_base.diagnostics["inventory_lots"]
    assert long_base.diagnostics["reservation_price"] < D("0.5")
    assert long_base.best_bid < neutral.best_bid and long_base.best_ask < neutral.best_ask
    assert short_base.best_bid > neutral.best_bid and short_base.best_ask > neutral.best_ask
    for qs in (long_base, short_base):
        assert qs.best_bid <= D("0.5") <= qs.best_ask


def test_beyond_the_maximum_the_side_taking_more_inventory_has_no_size_of_its_own():
    inst = instrument()
    p = params(target_base_qty=D("10000"), max_base_deviation=D("500"), order_size_quote=D("200"))
    s = AvellanedaStrategy(inst, p)
    long_base = s.quote(snap(Inventory(base=D("10600"), quote=D("5000"))))
    assert not long_base.bids and long_base.asks  # without obligations: no bid at all
    obl = ObligationsConfig(max_spread_pct=D("2"), min_depth_2pct_quote=D("20"))
    held = AvellanedaStrategy(inst, p, obl).quote(snap(Inventory(base=D("10600"), quote=D("5000"))))
    # with obligations the bid is only what they need, at the spread cap
    assert held.bids and D("20") <= held.depth_within(Side.BUY) < D("21")
    assert held.depth_within(Side.SELL) >= D("199")
    assert held.bids[0].price == D("0.4950")  # pushed out as far as the obligations allow: 1 %


def test_spread_is_capped_by_max_spread_pct():
    inst = instrument()
    p = params(gamma=D("50"), max_spread_pct=D("1"), target_base_qty=D("10000"))  # per bps x lot
    qs = s_quote = AvellanedaStrategy(inst, p).quote(
        snap(Inventory(base=D("10500"), quote=D("500")), est=MarketEstimates(1.0, 0.1, 0.5))
    )
    assert s_quote.diagnostics["inventory_lots"] == 5
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
    gamma=st.decimals(min_value=D("0.00001"), max_value=D("100"), places=5),
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
