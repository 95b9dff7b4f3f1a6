"""``market_top``: the best bid and ask of everyone but us, exactly as the plain definition
(our resting quantity per (side, price) in one map, subtracted level by level) gives them."""

from __future__ import annotations

from decimal import Decimal as D

from hypothesis import given, settings
from hypothesis import strategies as st

from liquidity_bot.domain.book import OrderBook
from liquidity_bot.domain.order import Order, Side
from liquidity_bot.engine.market_runner import market_top, own_levels
from liquidity_bot.strategies.base import TopOfBook


def plain_market_top(book: OrderBook, orders: list[Order]) -> TopOfBook:
    ours: dict[tuple[Side, D], D] = {}
    for o in orders:
        ours[(o.side, o.price)] = ours.get((o.side, o.price), D(0)) + o.remaining_qty

    def first(levels, side):  # noqa: ANN001, ANN202
        for price, qty in levels:
            rest = qty - ours.get((side, price), D(0))
            if rest > 0:
                return price, rest
        return None, None

    bid, bid_qty = first(book.bids, Side.BUY)
    ask, ask_qty = first(book.asks, Side.SELL)
    return TopOfBook(bid=bid, bid_qty=bid_qty, ask=ask, ask_qty=ask_qty)


qtys = st.sampled_from(["0.5", "1", "2.5", "10", "100"])


@st.composite
def cases(draw: st.DrawFn) -> tuple[OrderBook, list[Order]]:
    n_bids, n_asks = draw(st.integers(0, 5)), draw(st.integers(0, 5))
    bids = [(f"0.{4999 - i}", draw(qtys)) for i in range(n_bids)]
    asks = [(f"0.{5001 + i}", draw(qtys)) for i in range(n_asks)]
    book = OrderBook("XRPUSDT")
    book.apply_snapshot([[D(p), D(q)] for p, q in bids], [[D(p), D(q)] for p, q in asks],
                        ts_ms=1)
    orders = []
    for k in range(draw(st.integers(0, 6))):
        side = draw(st.sampled_from([Side.BUY, Side.SELL]))
        levels = bids if side is Side.BUY else asks
        # at a level of the book (all of it, part of it, more than it) or off the book
        price = D(draw(st.sampled_from([p for p, _ in levels] + ["0.4000", "0.6000"])))
        at = dict(levels).get(str(price))
        qty = D(draw(st.sampled_from([at or "1", "0.5", "3"])))
        order = Order(client_order_id=f"lb-{k}", symbol="XRPUSDT", side=side, price=price,
                      qty=qty)
        if draw(st.booleans()):
            order.filled_qty = qty / 2
        orders.append(order)
    return book, orders


@settings(max_examples=400, deadline=None)
@given(case=cases())
def test_market_top_is_the_plain_definition(case):
    book, orders = case
    got, want = market_top(book, orders), plain_market_top(book, orders)
    assert got == want
    assert (got.bid, got.ask) == (want.bid, want.ask) and repr(got.bid) == repr(want.bid)
    assert market_top(book, orders, own_levels(orders)) == want  # (the snapshot's way)


def test_our_whole_best_level_is_skipped():
    book = OrderBook("XRPUSDT")
    book.apply_snapshot([[D("0.4999"), D("5")], [D("0.4998"), D("7")]],
                        [[D("0.5001"), D("5")]], ts_ms=1)
    ours = [Order(client_order_id="lb-1", symbol="XRPUSDT", side=Side.BUY, price=D("0.4999"),
                  qty=D("5"))]
    top = market_top(book, ours)
    assert (top.bid, top.bid_qty, top.ask, top.ask_qty) == (D("0.4998"), D("7"), D("0.5001"),
                                                            D("5"))
