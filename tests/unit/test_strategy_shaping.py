"""`quote_around_centre`, the frame both strategies quote in: centre, plan, shape."""

from __future__ import annotations

from decimal import Decimal as D

from liquidity_bot.config import ObligationsConfig
from liquidity_bot.domain.book import OrderBook
from liquidity_bot.domain.instrument import Instrument
from liquidity_bot.strategies.base import Inventory, MarketSnapshot, Side, TopOfBook
from liquidity_bot.strategies.shaping import (
    LevelPlan,
    QuotePlan,
    ShapingContext,
    quote_around_centre,
    shape_quotes,
)

INST = Instrument(
    symbol="XRPUSDT",
    base="XRP",
    quote="USDT",
    tick=D("0.0001"),
    step=D("0.1"),
    price_scale=None,
    volume_scale=None,
    min_price=D("0.0001"),
    max_price=None,
    min_qty=D("0.1"),
    max_qty=None,
    min_val=D("1"),
)
RICH = Inventory(base=D("1000000"), quote=D("500000"))


def book(bid: str, ask: str) -> OrderBook:
    b = OrderBook("XRPUSDT")
    b.apply_snapshot([[D(bid), D("1000")]], [[D(ask), D("1000")]], ts_ms=1)
    return b


class Planner:
    """Plans one level per side at +-offset percent of the mid it is given; records the calls."""

    def __init__(self, offset_pct: str = "0.5", warnings: tuple[str, ...] = ()) -> None:
        self.offset = D(offset_pct)
        self.warnings = warnings
        self.calls: list[tuple[MarketSnapshot, D]] = []

    def __call__(self, snapshot: MarketSnapshot, mid: D) -> QuotePlan:
        self.calls.append((snapshot, mid))
        levels = [
            LevelPlan(Side.BUY, 0, mid * (1 - self.offset / 100), D("50")),
            LevelPlan(Side.SELL, 0, mid * (1 + self.offset / 100), D("50")),
        ]
        return QuotePlan(levels, {"offset_pct": self.offset}, self.warnings)


def test_plan_gets_the_book_mid_and_its_diagnostics_and_warnings_reach_the_quote_set():
    planner = Planner(warnings=("strategy note",))
    snap = MarketSnapshot(book=book("0.4990", "0.5010"), inventory=RICH, now_ms=7)
    qs = quote_around_centre(snap, INST, planner, obligations=None, band_pct=D(2))
    assert planner.calls == [(snap, D("0.5000"))]
    assert qs.symbol == "XRPUSDT" and qs.now_ms == 7 and qs.mid == D("0.5000")
    assert [q.price for q in qs.bids] == [D("0.4975")]
    assert [q.price for q in qs.asks] == [D("0.5025")]
    assert qs.diagnostics == {"offset_pct": D("0.5")}
    assert qs.warnings == ("strategy note",)


def test_same_as_shaping_the_plan_by_hand():
    """The frame adds nothing of its own: it is shape_quotes on the plan, in the right context."""
    obligations = ObligationsConfig(max_spread_pct=D("0.6"), min_depth_2pct_quote=D("400"))
    snap = MarketSnapshot(
        book=book("0.4990", "0.5010"),
        inventory=RICH,
        now_ms=9,
        last_price=D("0.5003"),
    )
    planner = Planner(offset_pct="0.9", warnings=("w",))
    framed = quote_around_centre(
        snap,
        INST,
        planner,
        obligations=obligations,
        band_pct=D("1.5"),
        bid_ceiling=D("0.4960"),
        ask_floor=D("0.5060"),
    )
    wanted = Planner(offset_pct="0.9", warnings=("w",))(snap, D("0.5000"))
    ctx = ShapingContext(
        instrument=INST,
        top=TopOfBook(D("0.4990"), D("1000"), D("0.5010"), D("1000")),
        mid=D("0.5000"),
        inventory=RICH,
        obligations=obligations,
        last_price=D("0.5003"),
        bid_ceiling=D("0.4960"),
        ask_floor=D("0.5060"),
        band_pct=D("1.5"),
    )
    by_hand = shape_quotes(
        wanted.levels,
        ctx,
        symbol="XRPUSDT",
        now_ms=9,
        diagnostics=wanted.diagnostics,
        warnings=wanted.warnings,
    )
    assert framed == by_hand
    # the ceiling, the floor and the obligations did act (else the comparison proves little)
    assert framed.best_bid == D("0.4960") and framed.best_ask == D("0.5060")
    assert any("ceiling" in w for w in framed.warnings)
    assert any(w.startswith("obligation unmet") for w in framed.warnings)


def test_one_sided_book_is_planned_around_the_reference_price():
    planner = Planner()
    one_sided = TopOfBook(D("0.4990"), D("10"), None, None)
    snap = MarketSnapshot(book=one_sided, inventory=RICH, now_ms=1, reference_price=D("0.6"))
    qs = quote_around_centre(snap, INST, planner, obligations=None, band_pct=D(2))
    assert [mid for _, mid in planner.calls] == [D("0.6")]
    assert qs.mid == D("0.6") and qs.bids and qs.asks


def test_without_a_centre_nothing_is_planned_and_the_quote_set_says_why():
    cases = [
        (TopOfBook(D("0.5010"), D("1"), D("0.4990"), D("1")), None, "crossed"),
        (TopOfBook(None, None, None, None), None, "no mid and no reference"),
        (TopOfBook(None, None, None, None), D(0), "no mid and no reference"),
    ]
    for top, reference, reason in cases:
        planner = Planner()
        snap = MarketSnapshot(book=top, inventory=RICH, now_ms=5, reference_price=reference)
        qs = quote_around_centre(snap, INST, planner, obligations=None, band_pct=D(2))
        assert planner.calls == []
        assert qs.symbol == "XRPUSDT" and qs.now_ms == 5
        assert qs.quotes == () and qs.mid is None and qs.diagnostics == {}
        assert len(qs.warnings) == 1 and reason in qs.warnings[0], (top, qs.warnings)
