"""Property tests: whatever sequence of orders and cancels, money is conserved and consistent."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal as D

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bitrue_sim.core import Exchange, ManualClock
from bitrue_sim.errors import ExchangeError

START = {"USDT": D("500"), "NOVA": D("40000")}
SYM = "NOVAUSDT"  # tick 0.000001, step 1, minVal 1: exercises small prices and whole lots

op = st.one_of(
    st.tuples(
        st.just("limit"),
        st.integers(0, 2),  # account
        st.booleans(),  # is_buy
        st.integers(-1500, 1500),  # price offset in ticks from the last price
        st.integers(1, 30_000),  # quantity in lots
    ),
    st.tuples(st.just("market"), st.integers(0, 2), st.booleans(), st.integers(1, 20_000)),
    st.tuples(st.just("quote"), st.integers(0, 2), st.integers(1, 200)),
    st.tuples(st.just("cancel"), st.integers(0, 2), st.integers(0, 50)),
)


def _check(ex: Exchange, accounts: list[int]) -> None:
    spec = ex.market(SYM)
    fees = ex.fees_collected()
    for asset in START:
        total = sum(
            (ex.balances(a)[asset].free + ex.balances(a)[asset].locked for a in accounts), D(0)
        )
        assert total + fees.get(asset, D(0)) == START[asset] * len(accounts), asset
    depth_bids: dict[D, D] = defaultdict(D)
    depth_asks: dict[D, D] = defaultdict(D)
    for a in accounts:
        need = {"USDT": D(0), "NOVA": D(0)}
        for o in ex.open_orders(a, SYM):
            rest = o.orig_qty - o.executed_qty
            assert rest > 0 and o.status in ("NEW", "PARTIALLY_FILLED")
            if o.side == "BUY":
                need["USDT"] += rest * o.price
                depth_bids[o.price] += rest
            else:
                need["NOVA"] += rest
                depth_asks[o.price] += rest
        for asset, amount in need.items():
            b = ex.balances(a)[asset]
            assert b.locked == amount, (a, asset, b.locked, amount)
            assert b.free >= 0
    bids, asks = ex.depth(SYM, 0)
    assert bids == sorted(depth_bids.items(), reverse=True)
    assert asks == sorted(depth_asks.items())
    if bids and asks:
        assert bids[0][0] < asks[0][0], "the book must never stay crossed"
    for o in (o for a in accounts for o in ex.ledger(a)["orders"]):
        assert o.executed_qty <= o.orig_qty or o.type == "MARKET"
        assert o.order_id > 2**53
    assert spec.symbol == SYM


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(op, min_size=1, max_size=60), st.booleans())
def test_random_flow_conserves_money_and_keeps_locks_exact(ops: list, listen: bool) -> None:
    ex = Exchange(clock=ManualClock(1_700_000_000_000), seed=1)
    seen: list = []
    if listen:
        ex.subscribe(seen.append)
    rates = [("0.002", "0.002"), ("0", "0.001"), ("0.0015", "0.0035")]
    accounts = [
        ex.create_account(START, maker_commission=D(m), taker_commission=D(t)) for m, t in rates
    ]
    spec = ex.market(SYM)
    for item in ops:
        kind, who = item[0], accounts[item[1]]
        try:
            if kind == "limit":
                _, _, is_buy, offset, lots = item
                last_ticks = int(ex.last_price(SYM) / spec.tick_size)
                price = max(1, last_ticks + offset) * spec.tick_size
                ex.place_order(
                    who, SYM, "BUY" if is_buy else "SELL", "LIMIT", lots * spec.step_size, price
                )
            elif kind == "market":
                _, _, is_buy, lots = item
                side = "BUY" if is_buy else "SELL"
                ex.place_order(who, SYM, side, "MARKET", lots * spec.step_size, None)
            elif kind == "quote":
                ex.place_order(who, SYM, "BUY", "MARKET", None, None, quote_order_qty=D(item[2]))
            else:
                open_orders = ex.open_orders(who, SYM)
                if open_orders:
                    target = open_orders[item[2] % len(open_orders)]
                    ex.cancel_order(who, SYM, order_id=target.order_id)
        except ExchangeError as err:
            # only documented rejections may happen, and they change nothing
            assert (err.http_status, err.code) in {(412, -1111), (406, -2010)}, err
        _check(ex, accounts)
    if listen:
        # every fill reported by an event is in the ledger, in the same order
        from bitrue_sim.core import OrderChanged

        fills = [e.fill for e in seen if isinstance(e, OrderChanged) and e.fill is not None]
        ledger = sorted(
            (f for a in accounts for f in ex.ledger(a)["fills"]),
            key=lambda f: (f.trade_id, not f.is_maker),
        )
        assert fills == ledger
