"""A strategy that gives its last quote set again (`QuoteMemo`) answers exactly as one that
recomputes every time: same quotes, mid, warnings and diagnostics, down to each Decimal's
exponent (repr), over sequences of snapshots in which what the strategy reads moves a little,
a lot, or not at all (only the sizes at the top, the unused estimates, the reference price
while the book has a mid)."""

from __future__ import annotations

from decimal import Decimal as D

from hypothesis import given, settings
from hypothesis import strategies as st

from liquidity_bot.config import AvellanedaParams, LadderParams, ObligationsConfig
from liquidity_bot.domain.instrument import Instrument
from liquidity_bot.strategies.avellaneda import AvellanedaStrategy
from liquidity_bot.strategies.base import Inventory, MarketEstimates, MarketSnapshot, TopOfBook
from liquidity_bot.strategies.ladder import LadderStrategy

TICK = D("0.0001")


def instrument(min_val: str) -> Instrument:
    return Instrument(symbol="XRPUSDT", base="XRP", quote="USDT", tick=TICK, step=D("0.1"),
                      price_scale=None, volume_scale=None, min_price=TICK, max_price=None,
                      min_qty=D("0.1"), max_qty=None, min_val=D(min_val))


OBLIGATIONS = st.sampled_from([
    None,
    ObligationsConfig(max_spread_pct=D("1"), min_depth_2pct_quote=D("300")),
    ObligationsConfig(max_spread_pct=D("0.2"), min_depth_2pct_quote=D("5000")),
])
LADDERS = st.builds(
    lambda levels, spread, skew, target, floor, ceiling: LadderParams(
        level_size_quote=D("300"), levels=levels, base_spread_pct=D(spread),
        level_spacing_pct=D("0.1"), skew_strength=D(skew), target_base_qty=target,
        vol_spread_mult=D("1"), price_ceiling=ceiling, price_floor=floor),
    st.integers(min_value=1, max_value=4),
    st.sampled_from(["0.05", "0.6", "2"]),
    st.sampled_from(["0", "1", "3"]),
    st.sampled_from([None, D("1000"), D("50000")]),
    st.sampled_from([None, None, D("0.5")]),
    st.sampled_from([None, None, D("0.5")]),
)
GLFTS = st.builds(
    lambda levels, gamma, half_life, target: AvellanedaParams(
        order_size_quote=D("300"), levels=levels, gamma=gamma,
        inventory_half_life_s=half_life, max_spread_pct=D("2"), target_base_qty=target),
    st.integers(min_value=1, max_value=3),
    st.sampled_from([None, D("0.01"), D("0.5")]),
    st.sampled_from([60.0, 600.0]),
    st.sampled_from([None, D("12000")]),
)


@st.composite
def snapshots(draw: st.DrawFn) -> list[MarketSnapshot]:
    """A walk: each step changes one thing the strategy may or may not read."""
    bid, ask = 4990, 5010  # ticks
    base, quote = D("12000"), D("6000")
    sigma, a, kappa = 0.02, 1.0, 1.5
    bid_qty, ask_qty = D("100"), D("100")
    reference, last = D("0.5"), None
    out = []
    for now in range(draw(st.integers(min_value=2, max_value=25))):
        move = draw(st.sampled_from(["top_qty", "sigma", "sigma_big", "arrivals", "reference",
                                     "tick", "jump", "base", "quote", "last", "one_sided",
                                     "crossed", "nothing", "nothing"]))
        if move == "top_qty":
            bid_qty += draw(st.integers(min_value=1, max_value=50))
        elif move == "sigma":
            sigma *= draw(st.sampled_from([0.999, 1.001, 1.0000001]))
        elif move == "sigma_big":
            sigma = draw(st.sampled_from([0.001, 0.02, 0.3, 1.0]))
        elif move == "arrivals":
            a *= 1.01
            kappa *= 0.99
        elif move == "reference":
            reference += TICK
        elif move == "tick":
            bid += draw(st.sampled_from([-1, 1]))
            ask = max(ask + draw(st.sampled_from([-1, 0, 1])), bid + 1)
        elif move == "jump":
            bid += draw(st.integers(min_value=-300, max_value=300))
            ask = bid + draw(st.integers(min_value=1, max_value=40))
        elif move == "base":
            base += draw(st.sampled_from([D("-900.5"), D("0.1"), D("3000")]))
        elif move == "quote":
            quote += draw(st.sampled_from([D("-2000"), D("0.01"), D("500")]))
        elif move == "last":
            last = draw(st.sampled_from([None, D("0.45"), D("0.5"), D("0.55")]))
        top = TopOfBook(bid=bid * TICK, bid_qty=bid_qty, ask=ask * TICK, ask_qty=ask_qty)
        if move == "one_sided":
            top = TopOfBook(bid=bid * TICK, bid_qty=bid_qty, ask=None, ask_qty=None)
        elif move == "crossed":
            top = TopOfBook(bid=ask * TICK, bid_qty=bid_qty, ask=bid * TICK, ask_qty=ask_qty)
        estimates = MarketEstimates(sigma_pct=sigma, a=a, kappa=kappa, sigma_warm=True)
        out.append(MarketSnapshot(book=top, inventory=Inventory(base=max(base, D(0)),
                                                                quote=max(quote, D(0))),
                                  now_ms=1_000 * now, estimates=estimates, last_price=last,
                                  reference_price=reference))
    return out


def same(a: object, b: object) -> bool:
    return a == b and repr(a) == repr(b)


@settings(max_examples=150, deadline=None)
@given(params=LADDERS, obligations=OBLIGATIONS, walk=snapshots(),
       min_val=st.sampled_from(["1", "5"]))
def test_the_ladder_remembering_its_last_answer_answers_as_one_that_recomputes(
        params, obligations, walk, min_val):
    inst = instrument(min_val)
    remembering = LadderStrategy(inst, params, obligations)
    for snapshot in walk:
        fresh = LadderStrategy(inst, params, obligations).quote(snapshot)
        assert same(remembering.quote(snapshot), fresh)


@settings(max_examples=100, deadline=None)
@given(params=GLFTS, obligations=OBLIGATIONS, walk=snapshots())
def test_glft_remembering_its_last_answer_answers_as_one_that_recomputes(
        params, obligations, walk):
    inst = instrument("1")
    remembering = AvellanedaStrategy(inst, params, obligations)
    for snapshot in walk:
        fresh = AvellanedaStrategy(inst, params, obligations).quote(snapshot)
        assert same(remembering.quote(snapshot), fresh)


def test_what_the_ladder_does_not_read_costs_no_plan():
    inst = instrument("1")
    ladder = LadderStrategy(inst, LadderParams(level_size_quote=D("300"), levels=3,
                                               base_spread_pct=D("0.6")))
    top = TopOfBook(bid=D("0.4990"), bid_qty=D("5"), ask=D("0.5010"), ask_qty=D("5"))
    inv = Inventory(base=D("12000"), quote=D("6000"))

    def snap(top: TopOfBook, sigma: float, reference: D, now: int) -> MarketSnapshot:
        return MarketSnapshot(book=top, inventory=inv, now_ms=now, reference_price=reference,
                              estimates=MarketEstimates(sigma_pct=sigma, a=1.0, kappa=1.5))

    first = ladder.quote(snap(top, 0.02, D("0.5"), 1))
    # other sizes at the top, a sigma whose floor stays under the spread, another reference
    moved = TopOfBook(bid=D("0.4990"), bid_qty=D("9"), ask=D("0.5010"), ask_qty=D("1"))
    again = ladder.quote(snap(moved, 0.021, D("0.51"), 2))
    assert ladder.reused == 1
    assert again.bids is first.bids and again.asks is first.asks and again.now_ms == 2
    assert again.diagnostics["vol_floor_pct"] != first.diagnostics["vol_floor_pct"]
    # a sigma whose floor binds moves the quotes: planned again
    wide = ladder.quote(snap(moved, 0.5, D("0.51"), 3))
    assert ladder.reused == 1 and wide.bids[0].price < first.bids[0].price
