"""PnL (average cost), inventory against holding, and activity figures."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st

from liquidity_bot.reporting.pnl import (
    AverageCostBook,
    Inventory,
    activity,
    peak_in_window,
    pnl_from_fills,
    split_symbol,
)
from liquidity_bot.store import FillRecord, OrderRecord


def fill(
    side: str,
    price: str,
    qty: str,
    fee: str = "0",
    asset: str | None = "USDT",
    t: int = 0,
    tid: str = "1",
) -> FillRecord:
    return FillRecord("XRPUSDT", tid, side, D(price), D(qty), t, D(fee), asset)


def test_split_symbol():
    assert split_symbol("XRPUSDT") == ("XRP", "USDT")
    assert split_symbol("btrxrp") == ("BTR", "XRP")
    assert split_symbol("ABCDEF", quote="DEF") == ("ABC", "DEF")
    with pytest.raises(ValueError, match="quote asset"):
        split_symbol("ABCDEF")


def test_average_cost_realized_and_unrealized():
    b = AverageCostBook("XRP", "USDT")
    b.apply("BUY", D("10"), D("2"))
    b.apply("BUY", D("13"), D("1"))  # avg (20 + 13) / 3 = 11
    assert b.avg_price == D(11) and b.position == D(3)
    b.apply("SELL", D("12"), D("2"))  # realize (12 - 11) * 2
    assert b.realized == D(2) and b.position == D(1) and b.avg_price == D(11)
    assert b.unrealized(D("15")) == D(4)
    b.apply("SELL", D("9"), D("3"))  # close 1 at 9 (-2), open short 2 at 9
    assert b.realized == D(0) and b.position == D(-2) and b.avg_price == D(9)
    b.apply("BUY", D("8"), D("1"))  # short profits 1
    assert b.realized == D(1) and b.position == D(-1)
    assert b.unrealized(D("10")) == D(-1)


def test_fees_by_asset():
    b = AverageCostBook("XRP", "USDT")
    b.apply("BUY", D("2"), D("10"), D("0.02"), "USDT")
    b.apply("BUY", D("2"), D("10"), D("0.01"), "XRP")  # valued at fill price: 0.02
    b.apply("SELL", D("2"), D("10"), D("5"), "BTR")
    assert b.fees_quote == D("0.04")
    assert b.fees_other == {"BTR": D(5)}
    assert b.base_flow == D("9.99") and b.quote_flow == D("-20.02")


def test_summary_against_holding():
    fills = [fill("BUY", "1.00", "100", "0.1"), fill("SELL", "1.02", "50", "0.05", tid="2")]
    start = Inventory(D("1000"), D("500"))
    s, _ = pnl_from_fills("XRPUSDT", fills, D("1.01"), start)
    assert s.realized == D("1.00")  # (1.02 - 1.00) * 50
    assert s.unrealized == D("0.50")  # (1.01 - 1.00) * 50
    assert s.fees_quote == D("0.15")
    assert s.total == D("1.35")
    assert s.inventory == Inventory(D("1050"), D("500") - D("100.1") + D("50.95"))
    assert s.vs_hold == s.inventory_value - s.hold_value == D("1.35")
    assert s.to_json()["vs_hold"] == "1.35"


def test_no_mid_means_no_mark():
    s, _ = pnl_from_fills("XRPUSDT", [fill("BUY", "1", "1")], None)
    assert s.unrealized is None and s.total is None and s.vs_hold is None


_price = st.decimals(min_value=D("0.01"), max_value=D("100"), places=2)
_qty = st.decimals(min_value=D("0.1"), max_value=D("50"), places=1)


@given(st.lists(st.tuples(st.sampled_from(["BUY", "SELL"]), _price, _qty), max_size=30), _price)
def test_total_pnl_equals_cash_flow_identity(trades, mid):
    """realized + unrealized - fees == quote flow + base flow at mid, whatever the trades."""
    b = AverageCostBook("XRP", "USDT")
    for side, price, qty in trades:
        b.apply(side, price, qty, (price * qty / 1000).quantize(D("0.0001")), "USDT")
    unrealized = b.unrealized(mid)
    assert unrealized is not None
    lhs = b.realized + unrealized - b.fees_quote
    rhs = b.quote_flow + b.base_flow * mid
    assert abs(lhs - rhs) < D("1e-15")


def order(cid: str, status: str, created: int, filled: str = "0") -> OrderRecord:
    return OrderRecord(cid, "XRPUSDT", "BUY", D("1"), D("10"), status, created, created, D(filled))


def test_activity_and_budget_use():
    orders = [
        order("a", "CANCELED", 0),
        order("b", "FILLED", 1000, "10"),
        order("c", "PARTIALLY_FILLED", 2000, "3"),
        order("d", "NEW", 70_000),
    ]
    fills = [fill("BUY", "1", "10"), fill("BUY", "1", "3", tid="2")]
    a = activity(orders, fills, cancel_request_times_ms=[500, 65_000], budget_limit_per_min=100)
    assert (a.orders_sent, a.orders_cancelled, a.orders_filled) == (4, 1, 2)
    assert a.fill_ratio == D("0.5")
    assert a.volume_quote == D(13) and a.trades == 2
    assert a.requests == 6
    assert a.peak_requests_per_min == 4  # 0, 500, 1000, 2000 ms
    assert a.budget_peak_use_pct == D(4)


def test_peak_window_edges():
    assert peak_in_window([]) == 0
    assert peak_in_window([0, 59_999]) == 2
    assert peak_in_window([0, 60_000]) == 1  # a sliding 60 s window: the first has left
