"""Ladder strategy on hand-made books: tick/step, never crossing, skew, obligations, balances."""

from __future__ import annotations

import dataclasses
import math
from decimal import Decimal as D

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from liquidity_bot.config import LadderParams, ObligationsConfig
from liquidity_bot.domain.book import OrderBook
from liquidity_bot.domain.instrument import Instrument
from liquidity_bot.strategies.base import (
    CRITICAL_PRIORITY_LIMIT,
    Inventory,
    MarketEstimates,
    MarketSnapshot,
    QuoteSet,
    Side,
    Strategy,
)
from liquidity_bot.strategies.ladder import LadderStrategy

RICH = Inventory(base=D("1000000"), quote=D("500000"))  # 50 % base at mid 0.5


def instrument(tick="0.0001", step="0.1", min_qty="0.1", min_val="1") -> Instrument:
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
        min_qty=D(min_qty),
        max_qty=None,
        min_val=D(min_val),
    )


def book(bids, asks) -> OrderBook:
    b = OrderBook("XRPUSDT")
    b.apply_snapshot([[D(p), D(q)] for p, q in bids], [[D(p), D(q)] for p, q in asks], ts_ms=1)
    return b


def params(**kw) -> LadderParams:
    base = dict(level_size_quote=D("50"), levels=3)
    base.update(kw)
    return LadderParams(**base)


def snap(b: OrderBook, inv: Inventory = RICH, **kw) -> MarketSnapshot:
    return MarketSnapshot(book=b, inventory=inv, now_ms=1_000, **kw)


WIDE = book([("0.4990", "1000"), ("0.4980", "1000")], [("0.5010", "1000"), ("0.5020", "1000")])


def assert_exchange_ready(qs: QuoteSet, inst: Instrument, b: OrderBook) -> None:
    for q in qs.quotes:
        assert q.price % inst.tick == 0, q
        assert q.qty % inst.step == 0, q
        assert q.qty >= inst.min_qty
        assert q.price * q.qty >= inst.min_val
        assert inst.check(q.side, q.price, q.qty) == []
    if b.best_ask is not None:
        assert all(q.price < b.best_ask[0] for q in qs.bids)
    if b.best_bid is not None:
        assert all(q.price > b.best_bid[0] for q in qs.asks)
    if qs.bids and qs.asks:
        assert qs.best_bid < qs.best_ask
    # levels move strictly away from mid
    assert [q.price for q in qs.bids] == sorted({q.price for q in qs.bids}, reverse=True)
    assert [q.price for q in qs.asks] == sorted({q.price for q in qs.asks})


def test_is_a_strategy_and_quotes_a_symmetric_ladder():
    inst = instrument()
    s = LadderStrategy(inst, params(base_spread_pct=D("1"), level_spacing_pct=D("0.5")))
    assert isinstance(s, Strategy)
    qs = s.quote(snap(WIDE))
    assert_exchange_ready(qs, inst, WIDE)
    assert len(qs.bids) == 3 and len(qs.asks) == 3
    # mid 0.5, half spread 0.5 % -> 0.4975 / 0.5025, spacing 0.5 % = 0.0025
    assert [q.price for q in qs.bids] == [D("0.4975"), D("0.4950"), D("0.4925")]
    assert [q.price for q in qs.asks] == [D("0.5025"), D("0.5050"), D("0.5075")]
    # 50 USDT per level, rounded down to the step
    assert qs.bids[0].qty == D("100.5")  # 50 / 0.4975 = 100.50...
    assert qs.asks[0].qty == D("99.5")  # 50 / 0.5025 = 99.50...
    assert not any(q.obligation_critical for q in qs.quotes)  # no obligations configured
    assert all(q.priority >= CRITICAL_PRIORITY_LIMIT for q in qs.quotes)
    assert qs.warnings == ()


def test_prices_round_away_from_mid():
    inst = instrument(tick="0.001")
    s = LadderStrategy(inst, params(base_spread_pct=D("0.3"), levels=1))
    b = book([("0.4950", "1")], [("0.5050", "1")])  # mid 0.5, targets 0.49925 / 0.50075
    qs = s.quote(snap(b))
    assert qs.bids[0].price == D("0.499")
    assert qs.asks[0].price == D("0.501")


def test_never_crosses_a_one_tick_book():
    inst = instrument()
    b = book([("0.5000", "10")], [("0.5001", "10")])
    s = LadderStrategy(
        inst, params(base_spread_pct=D("0.001"), min_spread_pct=D("0"), vol_spread_mult=D("0"))
    )
    qs = s.quote(snap(b))
    assert_exchange_ready(qs, inst, b)
    assert qs.bids[0].price == D("0.5000")
    assert qs.asks[0].price == D("0.5001")


def test_zero_spread_on_tick_mid_does_not_touch_itself():
    inst = instrument()
    b = book([("0.4999", "10")], [("0.5001", "10")])  # mid 0.5000 exactly on tick
    s = LadderStrategy(inst, params(base_spread_pct=D("0"), min_spread_pct=D("0"), levels=1))
    qs = s.quote(snap(b))
    assert_exchange_ready(qs, inst, b)


def test_skew_moves_prices_and_sizes_toward_target():
    inst = instrument()
    s = LadderStrategy(inst, params(base_spread_pct=D("1"), skew_strength=D("1"),
                                    target_base_qty=D("10000"), max_base_deviation=D("8000")))
    neutral = s.quote(snap(WIDE, Inventory(base=D("10000"), quote=D("5000"))))
    heavy_base = s.quote(snap(WIDE, Inventory(base=D("14000"), quote=D("2000"))))  # half-way
    heavy_quote = s.quote(snap(WIDE, Inventory(base=D("6000"), quote=D("8000"))))
    assert heavy_base.diagnostics["inventory_ratio"] == D("0.5")
    assert heavy_base.diagnostics["skew_shift_pct"] == D("-0.25")  # k x ratio x half-spread
    # too much base: everything lower (sell more readily, buy less eagerly), bigger asks
    assert heavy_base.best_ask < neutral.best_ask
    assert heavy_base.best_bid < neutral.best_bid
    assert heavy_base.asks[0].qty > heavy_base.bids[0].qty
    # too much quote: the mirror image
    assert heavy_quote.best_bid > neutral.best_bid
    assert heavy_quote.best_ask > neutral.best_ask
    assert heavy_quote.bids[0].qty > heavy_quote.asks[0].qty
    # the shift is capped: bids never above mid, asks never below it
    for qs in (heavy_base, heavy_quote):
        assert qs.best_bid <= qs.mid <= qs.best_ask
        assert_exchange_ready(qs, inst, WIDE)


def test_a_fill_moves_the_skew_and_a_price_move_does_not():
    """The target is a base quantity: one level's fill is a visible deviation (one third of
    the default maximum, one side of the ladder), however large the account."""
    inst = instrument()
    s = LadderStrategy(inst, params(target_base_qty=D("1000000")))
    after_fill = s.quote(snap(WIDE, Inventory(base=D("1000100"), quote=D("499950"))))
    assert after_fill.diagnostics["inventory_ratio"] == D("100") / D("300")  # 3 x 50 / 0.5
    assert after_fill.diagnostics["skew_shift_pct"] < D("-0.08")
    higher = book([("0.5490", "1000")], [("0.5510", "1000")])  # +10 %, same holdings
    assert s.quote(snap(higher)).diagnostics["inventory_ratio"] == 0


def test_at_the_maximum_the_side_taking_more_inventory_shows_only_the_obligation():
    inst = instrument()
    p = params(target_base_qty=D("1000"), max_base_deviation=D("500"), skew_strength=D("1"))
    long_base = LadderStrategy(inst, p).quote(snap(WIDE, Inventory(base=D("1500"), quote=D("900"))))
    assert not long_base.bids and len(long_base.asks) == 3
    obl = ObligationsConfig(max_spread_pct=D("1"), min_depth_2pct_quote=D("30"))
    held = LadderStrategy(inst, p, obl).quote(snap(WIDE, Inventory(base=D("1500"), quote=D("900"))))
    # only what the obligation needs
    assert held.bids and D("30") <= held.depth_within(Side.BUY) < D("31")
    assert held.depth_within(Side.SELL) >= D("149")
    assert held.bids[0].price >= held.mid * D("0.995")  # within the max spread, obligations win


def test_volatility_floor_widens_the_spread():
    inst = instrument()
    s = LadderStrategy(inst, params(base_spread_pct=D("0.2"), vol_spread_mult=D("2"),
                                    vol_horizon_s=4.0))
    calm = s.quote(snap(WIDE, estimates=MarketEstimates(sigma_pct=0.01, a=1, kappa=1)))
    wild = s.quote(snap(WIDE, estimates=MarketEstimates(sigma_pct=0.2, a=1, kappa=1)))
    assert calm.diagnostics["half_spread_pct"] == D("0.1")  # the floor 2 x 0.01 x 2 is below
    assert wild.diagnostics["half_spread_pct"] == D("0.8")  # 2 x 0.2 x sqrt(4)
    assert wild.spread_pct() > D("1.5")


def _est(sigma: float) -> MarketEstimates:
    return MarketEstimates(sigma_pct=sigma, a=1, kappa=1)


@settings(max_examples=300, deadline=None)
@given(
    spread=st.decimals(min_value=D("0.001"), max_value=D("5"), places=3),
    mult=st.decimals(min_value=D("0"), max_value=D("10"), places=2),
    horizon=st.floats(min_value=0.01, max_value=3600),
    sigmas=st.lists(st.floats(min_value=0, max_value=10), min_size=1, max_size=20),
)
def test_property_quiet_sigma_cap_gives_the_same_key(spread, mult, horizon, sigmas):
    """Every sigma up to ``quiet_sigma_cap`` gives the key again (the quiet check compares
    sigma with the cap instead of working the key out); just past it the key is another,
    so the cap is tight up to the floor's rounding."""
    s = LadderStrategy(instrument(), params(base_spread_pct=spread, min_spread_pct=D(0),
                                            vol_spread_mult=mult, vol_horizon_s=horizon))
    for sigma in sigmas:
        key = s.quiet_key(_est(sigma))
        cap = s.quiet_sigma_cap(key)
        if cap == -math.inf:  # the floor binds: the key moves with sigma
            assert key[0] > spread / 2
            continue
        assert key[0] == spread / 2
        assert sigma <= cap  # the floor does not bind here, so the cap lies beyond
        for under in (0.0, sigma, cap, cap / 2, (sigma + cap) / 2, 1e6):
            if under <= cap and math.isfinite(under):
                assert s.quiet_key(_est(under)) == key
        if mult > 0 and math.isfinite(cap):
            # past the floor's rounding (10 places of sigma x sqrt(horizon)) it binds
            assert s.quiet_key(_est(cap * (1 + 1e-9) + 1e-10 / math.sqrt(horizon))) != key
        else:
            assert cap == math.inf


def test_quiet_sigma_cap_is_none_for_another_key():
    s = LadderStrategy(instrument(), params(base_spread_pct=D("0.2"), vol_spread_mult=D("2"),
                                            vol_horizon_s=4.0))
    wild = s.quiet_key(_est(0.2))  # the floor (0.8) binds
    assert s.quiet_sigma_cap(wild) == -math.inf
    calm = s.quiet_key(_est(0.01))
    assert 0.01 < s.quiet_sigma_cap(calm) <= 0.025  # 2 x sigma x 2 reaches 0.1 at 0.025
    assert s.quiet_sigma_cap(calm) > 0.025 * (1 - 1e-12)


def test_obligations_clamp_spread_and_top_up_depth():
    inst = instrument()
    obl = ObligationsConfig(max_spread_pct=D("0.6"), min_depth_2pct_quote=D("1000"))
    # strategy alone: 2 % spread, 20 USDT levels, 1.5 % spacing (second level outside the band)
    s = LadderStrategy(
        inst,
        params(base_spread_pct=D("2"), level_size_quote=D("20"), level_spacing_pct=D("1.5")),
        obl,
    )
    qs = s.quote(snap(WIDE))
    assert_exchange_ready(qs, inst, WIDE)
    assert qs.spread_pct() <= D("0.6")
    assert abs(qs.bids[0].price - qs.mid) <= qs.mid * D("0.003")
    for side in (Side.BUY, Side.SELL):
        assert qs.depth_within(side) >= D("1000")
    assert qs.bids[0].obligation_critical and qs.asks[0].obligation_critical
    assert qs.bids[0].priority < CRITICAL_PRIORITY_LIMIT
    # levels outside the +-2 % band add nothing to the obligation and are not critical
    outside = [q for q in qs.bids if q.price < qs.mid * D("0.98")]
    assert outside and not any(q.obligation_critical for q in outside)
    assert all(q.priority >= CRITICAL_PRIORITY_LIMIT for q in outside)
    assert not [w for w in qs.warnings if "unmet" in w]


def test_obligations_hold_under_full_skew():
    inst = instrument()
    obl = ObligationsConfig(max_spread_pct=D("1"), min_depth_2pct_quote=D("300"))
    s = LadderStrategy(inst, params(base_spread_pct=D("0.8"), skew_strength=D("10")), obl)
    qs = s.quote(snap(WIDE, Inventory(base=D("100000"), quote=D("1000"))))  # ~98 % base
    assert_exchange_ready(qs, inst, WIDE)
    for side in (Side.BUY, Side.SELL):
        assert qs.depth_within(side) >= D("300")
    for q in (qs.bids[0], qs.asks[0]):
        assert abs(q.price - qs.mid) <= qs.mid * D("0.005")


def test_balance_shortfall_funds_critical_levels_first_and_warns():
    inst = instrument()
    obl = ObligationsConfig(max_spread_pct=D("1"), min_depth_2pct_quote=D("100"))
    s = LadderStrategy(inst, params(level_size_quote=D("100"), levels=5), obl)
    poor = Inventory(base=D("150"), quote=D("120"))
    qs = s.quote(snap(WIDE, poor))
    assert_exchange_ready(qs, inst, WIDE)
    assert sum((q.notional for q in qs.bids), D(0)) <= D("120")
    assert sum((q.qty for q in qs.asks), D(0)) <= D("150")
    assert qs.bids[0].level == 0 and qs.bids[0].obligation_critical
    assert any("not enough quote balance" in w for w in qs.warnings)
    assert any("not enough base balance" in w for w in qs.warnings)


def test_no_balance_no_quotes_and_obligation_warning():
    inst = instrument()
    obl = ObligationsConfig(max_spread_pct=D("1"), min_depth_2pct_quote=D("100"))
    s = LadderStrategy(inst, params(), obl)
    qs = s.quote(snap(WIDE, Inventory(base=D("0"), quote=D("1000"))))
    assert qs.asks == ()
    assert qs.bids
    assert any("no SELL quote" in w for w in qs.warnings)


def test_price_ceiling_and_floor_shift_sides():
    inst = instrument()
    s = LadderStrategy(
        inst,
        params(base_spread_pct=D("0.4"), price_ceiling=D("0.4900"), price_floor=D("0.5100")),
    )
    qs = s.quote(snap(WIDE))
    assert_exchange_ready(qs, inst, WIDE)
    assert qs.best_bid == D("0.4900")
    assert qs.best_ask == D("0.5100")
    # the ladder keeps its spacing (0.2 % of 0.5 = 0.001)
    assert [q.price for q in qs.bids] == [D("0.4900"), D("0.4890"), D("0.4880")]
    assert any("ceiling" in w for w in qs.warnings) and any("floor" in w for w in qs.warnings)


def test_min_spread_is_a_floor():
    inst = instrument()
    s = LadderStrategy(inst, params(base_spread_pct=D("0.1"), min_spread_pct=D("0.1"), levels=1))
    wide = LadderStrategy(inst, params(base_spread_pct=D("0.1"), min_spread_pct=D("0.1")))
    assert s.quote(snap(WIDE)).spread_pct() >= D("0.1")
    assert wide.quote(snap(WIDE)).spread_pct() >= D("0.1")


def test_exchange_minimums_are_respected():
    inst = instrument(step="1", min_qty="5", min_val="10")
    s = LadderStrategy(inst, params(level_size_quote=D("1"), levels=2))
    qs = s.quote(snap(WIDE))
    assert_exchange_ready(qs, inst, WIDE)
    assert all(q.qty >= 20 for q in qs.quotes)  # 10 USDT minVal at ~0.5


def test_percent_price_band_drops_levels_with_a_warning():
    inst = instrument()
    inst = dataclasses.replace(inst, ask_multiplier_up=D("1.002"))
    s = LadderStrategy(inst, params(base_spread_pct=D("0.2"), level_spacing_pct=D("0.2")))
    qs = s.quote(snap(WIDE, last_price=D("0.5")))
    assert all(q.price <= D("0.501") for q in qs.asks)
    assert len(qs.asks) < 3
    assert any("exchange filters" in w for w in qs.warnings)


def test_no_mid_means_no_quotes_unless_a_reference_is_given():
    inst = instrument()
    s = LadderStrategy(inst, params(levels=1))
    one_sided = book([("0.4990", "10")], [])
    qs = s.quote(snap(one_sided))
    assert qs.quotes == () and qs.warnings
    qs = s.quote(snap(one_sided, reference_price=D("0.5")))
    assert qs.bids and qs.asks
    assert qs.asks[0].price > D("0.4990")


def test_pure_same_input_same_output():
    inst = instrument()
    obl = ObligationsConfig(max_spread_pct=D("1"), min_depth_2pct_quote=D("200"))
    s = LadderStrategy(inst, params(), obl)
    assert s.quote(snap(WIDE)) == s.quote(snap(WIDE))


@st.composite
def market(draw):
    tick = draw(st.sampled_from([D("0.0001"), D("0.001"), D("0.01"), D("1")]))
    step = draw(st.sampled_from([D("0.01"), D("0.1"), D("1")]))
    mid_ticks = draw(st.integers(min_value=200, max_value=200_000))
    spread_ticks = draw(st.integers(min_value=1, max_value=60))
    bid = tick * (mid_ticks - spread_ticks // 2)
    ask = bid + tick * spread_ticks
    return tick, step, bid, ask


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    m=market(),
    base_spread=st.decimals(min_value=D("0"), max_value=D("5"), places=3),
    spacing=st.decimals(min_value=D("0"), max_value=D("2"), places=3),
    levels=st.integers(min_value=1, max_value=6),
    skew=st.decimals(min_value=D("0"), max_value=D("10"), places=2),
    share=st.decimals(min_value=D("0"), max_value=D("1"), places=3),
    max_spread=st.decimals(min_value=D("0.5"), max_value=D("5"), places=2),
    min_depth=st.decimals(min_value=D("0"), max_value=D("5000"), places=2),
)
def test_property_on_tick_never_crossing_obligations_met(
    m, base_spread, spacing, levels, skew, share, max_spread, min_depth
):
    tick, step, bid, ask = m
    inst = instrument(tick=str(tick), step=str(step), min_qty=str(step), min_val="1")
    b = book([(str(bid), "5")], [(str(ask), "5")])
    mid = (bid + ask) / 2
    total_value = D("1000000") * max(mid, D(1))  # ample at any price and step
    inv = Inventory(base=total_value * share / mid, quote=total_value * (1 - share))
    obl = ObligationsConfig(max_spread_pct=max_spread, min_depth_2pct_quote=min_depth)
    s = LadderStrategy(
        inst,
        params(
            base_spread_pct=base_spread,
            min_spread_pct=D("0"),
            level_spacing_pct=spacing,
            levels=levels,
            skew_strength=skew,
        ),
        obl,
    )
    qs = s.quote(snap(b, inv))
    assert_exchange_ready(qs, inst, b)
    # obligations are met whenever they are physically possible: the max-spread half-width
    # spans at least two ticks and both balances cover the minimum depth many times over
    half_width = mid * max_spread / 200
    if half_width >= 2 * tick and min(share, 1 - share) >= D("0.05"):
        assert qs.bids and qs.asks
        assert abs(qs.bids[0].price - mid) <= half_width
        assert abs(qs.asks[0].price - mid) <= half_width
        for side in (Side.BUY, Side.SELL):
            assert qs.depth_within(side) >= min_depth


@pytest.mark.parametrize("share", [D("0"), D("1")])
def test_one_sided_inventory_still_quotes_the_side_it_can(share):
    inst = instrument()
    mid = D("0.5")
    inv = Inventory(base=D("10000") * share / mid, quote=D("10000") * (1 - share))
    qs = LadderStrategy(inst, params()).quote(snap(WIDE, inv))
    if share == 0:
        assert qs.bids and not qs.asks
    else:
        assert qs.asks and not qs.bids


def test_crossed_book_is_never_quoted_into():
    inst = instrument()
    crossed = book([("0.5010", "10")], [("0.4990", "10")])
    qs = LadderStrategy(inst, params()).quote(snap(crossed, reference_price=D("0.5")))
    assert qs.quotes == ()
    assert "crossed" in qs.warnings[0]


def test_max_qty_caps_each_level():
    inst = dataclasses.replace(instrument(), max_qty=D("50"))
    obl = ObligationsConfig(max_spread_pct=D("1"), min_depth_2pct_quote=D("100"))
    qs = LadderStrategy(inst, params(level_size_quote=D("100"), levels=2), obl).quote(snap(WIDE))
    assert qs.quotes and all(q.qty <= D("50") for q in qs.quotes)
    assert_exchange_ready(qs, inst, WIDE)


def test_the_skew_moves_the_centre_at_most_max_skew_share_of_the_half_spread():
    inst = instrument()
    near_max = Inventory(base=D("10900"), quote=D("4500"))  # 0.9 of the maximum deviation
    for share, shift in ((D("0.5"), D("-0.25")), (D("1"), D("-0.5")), (D("0"), D("0"))):
        p = params(base_spread_pct=D("1"), skew_strength=D("3"), target_base_qty=D("10000"),
                   max_base_deviation=D("1000"), max_skew_share=share)
        qs = LadderStrategy(inst, p).quote(snap(WIDE, near_max))
        assert qs.diagnostics["skew_shift_pct"] == shift
        assert qs.best_ask >= qs.mid
