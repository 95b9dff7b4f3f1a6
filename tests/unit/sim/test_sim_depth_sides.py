"""``Exchange.depth_sides`` gives a side's last tuple again only while its best levels are the
same: after any sequence of places, cancels and trades, with any limits, it equals the depth
worked out afresh from the book (the change counts and their watch levels lose nothing)."""

from __future__ import annotations

from decimal import Decimal as D

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bitrue_sim.core import Exchange, ManualClock
from bitrue_sim.errors import ExchangeError

SYM = "XRPUSDT"
FUNDS = {"USDT": D("1000000"), "XRP": D("1000000")}


def _fresh(ex: Exchange, limit: int | None):
    """The depth from the book's levels, nothing kept."""
    m = ex._market(SYM)
    return tuple(tuple((m.tick * t, m.step * q) for t, q in m.book.levels(is_bid, limit))
                 for is_bid in (True, False))


ops = st.lists(st.one_of(
    st.tuples(st.just("place"), st.booleans(), st.integers(4990, 5010), st.integers(20, 60)),
    st.tuples(st.just("cancel"), st.integers(0, 40)),
    st.tuples(st.just("take"), st.booleans(), st.integers(20, 120)),
    st.tuples(st.just("depth"), st.sampled_from([1, 2, 3, 5, 20, None])),
), min_size=1, max_size=80)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops, st.sampled_from([1, 2, 3, 5, 20, None]))
def test_depth_sides_always_equal_the_book(sequence, limit: int | None) -> None:
    ex = Exchange(clock=ManualClock(1_700_000_000_000), seed=3)
    maker = ex.create_account(FUNDS)
    taker = ex.create_account(FUNDS)
    placed: list[int] = []
    for op in sequence:
        try:
            if op[0] == "place":
                _, is_buy, ticks, lots = op
                o = ex.place_order(maker, SYM, "BUY" if is_buy else "SELL", "LIMIT",
                                   D(lots) * D("0.1"), D(ticks) * D("0.0001"))
                placed.append(o.order_id)
            elif op[0] == "cancel" and placed:
                ex.cancel_order(maker, SYM, order_id=placed[op[1] % len(placed)])
            elif op[0] == "take":
                _, is_buy, lots = op
                ex.place_order(taker, SYM, "BUY" if is_buy else "SELL", "MARKET",
                               D(lots) * D("0.1"), None)
            elif op[0] == "depth":
                assert ex.depth_sides(SYM, op[1]) == _fresh(ex, op[1])
        except ExchangeError:
            pass  # a refused order (filters, nothing to take, already gone)
        # (one limit for the run, as a backtest's pushes; "depth" steps mix in others)
        assert ex.depth_sides(SYM, limit) == _fresh(ex, limit)
    assert ex.depth(SYM, limit) == tuple(map(list, _fresh(ex, limit)))
