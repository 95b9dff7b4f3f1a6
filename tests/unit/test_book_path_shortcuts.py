"""The book path's shortcuts give the old path's answers: best levels and mid kept per snapshot
(OrderBook), the text check of a side whose prices passed it before checking only the
quantities, the ladder's estimator fed the book's mid (``MarketEstimator.on_mid``), the risk
gate marking PnL only when the mark can differ, the backtest taking the simulator's depth as
normalised, and the virtual clock's leaner loop."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bitrue_sim.virtual import VirtualVenue
from liquidity_bot.config import RiskConfig
from liquidity_bot.domain.book import BookSide, OrderBook, _clean_text_columns, normalise_side
from liquidity_bot.domain.events import BookUpdate
from liquidity_bot.engine.risk import RiskGate
from liquidity_bot.strategies.estimators import MarketEstimator

D = Decimal

prices = st.integers(min_value=-3, max_value=60).map(lambda t: D(t).scaleb(-2))
quantities = st.sampled_from(["0", "0.0", "1", "2.5", "10.25", "0.001"]).map(D)
raw_side = st.lists(st.tuples(prices, quantities), max_size=8)
as_text = st.booleans()


def _old_best(raw, bids: bool):  # noqa: ANN001, ANN202
    """The answer before: the normalised side's first level (or what normalising raises)."""
    side = normalise_side(raw, bids=bids)
    return side[0] if side else None


def _old_mid(bids, asks):  # noqa: ANN001, ANN202
    bid, ask = _old_best(bids, True), _old_best(asks, False)
    return None if bid is None or ask is None else (bid[0] + ask[0]) / D(2)


def _outcome(read):  # noqa: ANN001, ANN202
    try:
        return ("ok", read())
    except (ValueError, TypeError, ArithmeticError) as exc:
        return (type(exc).__name__, str(exc))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(raw_side, raw_side, as_text, st.integers(-2, 3)), min_size=1,
                max_size=6), st.sampled_from(["apply_snapshot", "apply", "apply_normalised"]))
def test_best_levels_and_mid_per_snapshot_are_the_normalised_sides(snapshots, how) -> None:
    book = OrderBook("X")
    ts, current = 0, ((), ())
    for bids, asks, text, step in snapshots:
        if text:  # exchange text, the stream's case
            bids = tuple((str(p), str(q)) for p, q in bids)
            asks = tuple((str(p), str(q)) for p, q in asks)
        ts += step  # a step back is a stale snapshot: the book keeps the one before
        if how == "apply_normalised":
            try:  # a venue hands on normalised sides only
                update = BookUpdate(ts_ms=ts, symbol="X", bids=normalise_side(bids, True),
                                    asks=normalise_side(asks, False), normalised=True)
            except ValueError:
                continue
        else:
            update = BookUpdate(ts_ms=ts, symbol="X", bids=bids, asks=asks)
        applied = (book.apply_snapshot(bids, asks, ts) if how == "apply_snapshot"
                   else book.apply(update))
        if applied:
            current = (update.bids, update.asks) if how == "apply_normalised" else (bids, asks)
        else:
            ts -= step
        bids_now, asks_now = current
        for _ in range(2):  # the second read is the kept answer
            assert _outcome(lambda: book.best_bid) == _outcome(
                lambda: _old_best(bids_now, True))  # noqa: B023 - called at once
            assert _outcome(lambda: book.best_ask) == _outcome(
                lambda: _old_best(asks_now, False))  # noqa: B023
            assert _outcome(lambda: book.mid) == _outcome(
                lambda: _old_mid(bids_now, asks_now))  # noqa: B023


price_columns = st.sampled_from([
    ["0.5125", "0.5124", "0.5123"], ["0.5123", "0.5124", "0.5125"], ["10.00", "9.99", "9.98"],
    ["9.98", "9.99", "10.00"], ["0.5125", "0.5125", "0.5124"], ["0.5", "0.50", "0.4"],
    ["0.0002", "0.0001", "0.0000"], ["1", "2", "3"], ["3", "2", "1"], ["-1", "-2", "-3"],
])
qty_text = st.sampled_from(["1", "0", "0.0", "2.5", "1.2.3", "", ".", "1e3", " 1", "-1", "7,5",
                            "0.001", "00", "12.", ".5", "\u0661"])


@settings(max_examples=500, deadline=None)
@given(st.lists(st.tuples(price_columns, st.lists(qty_text, min_size=3, max_size=3)),
                min_size=1, max_size=8), st.booleans())
def test_a_price_column_checked_before_leaves_the_quantities(sides, bids) -> None:
    """What the text check says with the last passed price column as its memo is what it says
    with none, snapshot after snapshot; and a book's reads stay the normalised side's."""
    memo: list[str] | None = None
    book = OrderBook("X")
    for ts, (prices, qtys) in enumerate(sides):
        levels = tuple(zip(list(prices), qtys, strict=True))
        fresh = _clean_text_columns(levels, bids)
        assert _clean_text_columns(levels, bids, memo) == fresh
        if fresh is not None:
            memo = fresh[0]
        book.apply_snapshot(levels if bids else (), () if bids else levels, ts)
        side = book.bid_side if bids else book.ask_side
        expected = _outcome(lambda: normalise_side(levels, bids=bids))  # noqa: B023
        best = _outcome(lambda: side.best)  # noqa: B023 - (the text check, with the memo)
        assert best == (expected if expected[0] != "ok" else ("ok", (expected[1] or [None])[0]))
        assert _outcome(lambda: side.levels) == expected  # noqa: B023


def test_a_side_that_raises_raises_on_every_read() -> None:
    book = OrderBook("X")
    book.apply_snapshot((("1.5", "1"), ("0", "1")), (("2", "1"),), 1)  # a zero price
    for _ in range(2):
        with pytest.raises(ValueError):
            book.mid  # noqa: B018
        with pytest.raises(ValueError):
            book.best_bid  # noqa: B018
    assert book.best_ask == (D(2), D(1))


def test_a_shared_side_read_first_by_the_other_book_gives_the_same_best() -> None:
    venue, engine = OrderBook("X"), OrderBook("X")
    venue.apply_snapshot((("1.50", "2"), ("1.49", "1")), (("1.52", "3"),), 1)
    engine.apply(BookUpdate(ts_ms=1, symbol="X", bids=venue.bid_side, asks=venue.ask_side,
                            normalised=True))
    assert engine.mid == D("1.51") and venue.best_bid == (D("1.50"), D(2))
    assert type(engine.bid_side) is BookSide and engine.bid_side is venue.bid_side


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(raw_side, raw_side, st.integers(0, 2000)), max_size=40))
def test_the_ladders_estimator_fed_the_mid_learns_what_it_learnt_from_the_book(books) -> None:
    by_book = MarketEstimator(vol_window_s=30, kappa_default=1.5, min_vol_samples=3,
                              arrivals=False)
    by_mid = MarketEstimator(vol_window_s=30, kappa_default=1.5, min_vol_samples=3,
                             arrivals=False)
    ts = 0
    for bids, asks, dt in books:
        ts += dt
        book = OrderBook("X")
        try:
            book.apply_snapshot(bids, asks, ts)
            mid = book.mid
        except ValueError:
            continue
        by_book.on_book(ts, book)
        if mid is not None:  # what the runner does
            by_mid.on_mid(ts, mid)
        assert by_mid.estimates(ts) == by_book.estimates(ts)
        assert by_mid.volatility.samples == by_book.volatility.samples


@pytest.mark.parametrize("scenario", ["volatile", "altcoin", "trending", "calm"])
def test_the_simulators_depth_is_already_normalised(scenario: str) -> None:
    """What lets the backtest hand its pushes on as ``normalised``: one level per price,
    best first, every price and quantity positive, Decimal."""
    venue = VirtualVenue(scenario=scenario, seed=3)
    checked = 0
    for _ in range(300):
        venue.run_for(997)
        for symbol in venue.symbols:
            for depth in (20, 100):
                bids, asks = venue.depth(symbol, depth)
                assert tuple(bids) == normalise_side(bids, bids=True)
                assert tuple(asks) == normalise_side(asks, bids=False)
                assert all(type(v) is Decimal for level in (*bids, *asks) for v in level)
                checked += bool(bids) + bool(asks)
    assert checked > 0


def test_virtual_timers_run_after_a_market_action_due_at_the_same_time() -> None:
    venue = VirtualVenue(scenario="volatile", seed=1)
    fired: list[tuple[int, int]] = []
    for _ in range(50):
        nxt = venue.participants.next_event_ms()
        before = venue.participants.events
        venue.call_at(nxt, lambda: fired.append((venue.now_ms(), venue.participants.events)))
        venue.run_until(nxt)
        assert fired[-1][0] == nxt and fired[-1][1] > before  # the market's action came first


class _AlwaysMarks(RiskGate):
    """The risk gate before the shortcut: every mid marks PnL and checks the loss limit."""

    def on_mid(self, ts_ms: int, mid: Decimal) -> None:
        self._marked = None
        super().on_mid(ts_ms, mid)


_RISK = {"max_order_notional": D(1000), "max_open_notional_per_side": D(1000),
         "max_base_inventory": D(1000), "daily_loss_limit": D(3), "ema_halflife_s": 30.0,
         "max_fills_per_minute": 100_000}

_risk_calls = st.one_of(
    st.tuples(st.just("mid"), st.integers(0, 40_000_000), st.sampled_from(
        ["0.50", "0.5", "0.49", "0.51", "0.4", "0.6", "0.45"])),
    st.tuples(st.just("fill"), st.integers(0, 40_000_000), st.sampled_from(
        ["BUY", "SELL"]), st.sampled_from(["0.5", "0.45", "0.55"]), st.sampled_from(["1", "7"])),
    st.tuples(st.just("reset")),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(_risk_calls, max_size=60), st.sampled_from(["minimum", "stop"]))
def test_the_risk_gate_skips_only_marks_that_decide_the_same(calls, on_loss_limit) -> None:
    limits = RiskConfig(**_RISK, on_loss_limit=on_loss_limit)
    gates = [cls("XRPUSDT", limits, {"k": ["XRPUSDT"]}, initial_base=D(10), initial_quote=D(5))
             for cls in (RiskGate, _AlwaysMarks)]
    ts = 1_700_000_000_000
    for call in calls:
        for gate in gates:
            if call[0] == "mid":
                gate.on_mid(ts + call[1], D(call[2]))
            elif call[0] == "fill":
                gate.on_fill(ts + call[1], call[2], D(call[3]), D(call[4]))
            else:
                gate.reset_kill_switch()
        new, old = gates
        assert (new.killed, new.loss_limited, new.kill_reason, new.loss_limit_state,
                new.daily_pnl, new.reference_price) == (
                    old.killed, old.loss_limited, old.kill_reason, old.loss_limit_state,
                    old.daily_pnl, old.reference_price)
        assert str(new.daily_pnl) == str(old.daily_pnl)


class _Text(str):
    """A str subclass whose comparisons lie: the text check leaves it to ``normalise_side``."""

    def __eq__(self, other: object) -> bool:
        return True

    def __lt__(self, other: object) -> bool:
        return True

    def __gt__(self, other: object) -> bool:
        return True

    __hash__ = str.__hash__


@pytest.mark.parametrize("bids", [True, False])
def test_text_in_a_str_subclass_gives_what_normalise_side_gives(bids: bool) -> None:
    prices = ["0.5", "0.7", "0.6"]  # not best-first either way
    side = tuple((_Text(p), _Text("2")) for p in prices)
    assert _clean_text_columns(side, bids) is None
    assert BookSide(side, bids).levels == normalise_side(side, bids=bids)
    ordered = tuple((_Text(p), _Text("2")) for p in sorted(prices, reverse=bids))
    assert BookSide(ordered, bids).best == normalise_side(ordered, bids=bids)[0]
    assert BookSide(ordered, bids).levels == normalise_side(ordered, bids=bids)
