"""The in-process exchange: orders, matching, balances, fees, errors, history and events."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from bitrue_sim.core import (
    BalanceChanged,
    BookChanged,
    Exchange,
    ManualClock,
    OrderChanged,
    TradeHappened,
)
from bitrue_sim.errors import ExchangeError

SYM = "XRPUSDT"
T0 = 1_700_000_000_000


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def ex(clock: ManualClock) -> Exchange:
    return Exchange(clock=clock, seed=11)


def rich(ex: Exchange, maker: str = "0.001", taker: str = "0.002") -> int:
    return ex.create_account(
        {"USDT": D("10000"), "XRP": D("10000"), "BTC": D("1")},
        maker_commission=D(maker),
        taker_commission=D(taker),
    )


def bal(ex: Exchange, account: int, asset: str) -> tuple[D, D]:
    b = ex.balances(account)[asset]
    return b.free, b.locked


def limit(ex: Exchange, acct: int, side: str, qty: str, price: str, cid: str | None = None):
    return ex.place_order(acct, SYM, side, "LIMIT", D(qty), D(price), cid)


def expect_error(http: int, code: int, fragment: str = ""):
    class _Ctx:
        def __enter__(self):
            self.cm = pytest.raises(ExchangeError)
            self.info = self.cm.__enter__()
            return self.info

        def __exit__(self, *exc):
            result = self.cm.__exit__(*exc)
            err = self.info.value
            assert (err.http_status, err.code) == (http, code), err
            assert fragment in err.msg, err.msg
            return result

    return _Ctx()


# ----------------------------------------------------------------------------- resting orders
def test_limit_order_rests_and_locks_quote(ex: Exchange) -> None:
    a = rich(ex)
    o = limit(ex, a, "BUY", "10", "0.4900", "mine-1")
    assert o.status == "NEW" and o.type == "LIMIT" and o.side == "BUY"
    assert o.order_id > 2**53
    assert o.client_order_id == "mine-1"
    assert o.orig_qty == D("10") and o.executed_qty == 0 and o.cummulative_quote_qty == 0
    assert o.time == o.update_time == T0
    assert bal(ex, a, "USDT") == (D("9995.1"), D("4.9"))
    assert ex.depth(SYM, 10) == ([(D("0.4900"), D("10.0"))], [])
    assert [x.order_id for x in ex.open_orders(a, SYM)] == [o.order_id]


def test_sell_order_locks_base_and_cancel_releases_it(ex: Exchange) -> None:
    a = rich(ex)
    o = limit(ex, a, "SELL", "12.3", "0.5100")
    assert bal(ex, a, "XRP") == (D("9987.7"), D("12.3"))
    c = ex.cancel_order(a, SYM, order_id=o.order_id)
    assert c.status == "CANCELED" and c.order_id == o.order_id
    assert bal(ex, a, "XRP") == (D("10000"), D("0"))
    assert ex.depth(SYM, 10) == ([], [])
    assert ex.open_orders(a, SYM) == []


def test_generated_client_ids_are_unique(ex: Exchange) -> None:
    a = rich(ex)
    ids = {limit(ex, a, "BUY", "10", "0.4900").client_order_id for _ in range(5)}
    assert len(ids) == 5 and all(ids)


def test_depth_aggregates_levels_best_first(ex: Exchange) -> None:
    a = rich(ex)
    for qty, price in [("10", "0.4900"), ("5", "0.4950"), ("2.5", "0.4900")]:
        limit(ex, a, "BUY", qty, price)
    for qty, price in [("3", "0.5200"), ("4", "0.5050")]:
        limit(ex, a, "SELL", qty, price)
    bids, asks = ex.depth(SYM, 100)
    assert bids == [(D("0.4950"), D("5.0")), (D("0.4900"), D("12.5"))]
    assert asks == [(D("0.5050"), D("4.0")), (D("0.5200"), D("3.0"))]
    assert ex.depth(SYM, 1) == (bids[:1], asks[:1])
    assert ex.book_ticker(SYM) == {
        "symbol": SYM,
        "bidPrice": "0.4950",
        "bidQty": "5.0",
        "askPrice": "0.5050",
        "askQty": "4.0",
    }


# ----------------------------------------------------------------------------- matching
def test_crossing_limit_takes_at_maker_prices_and_rests_the_rest(ex: Exchange) -> None:
    mk, tk = rich(ex), rich(ex)
    s1 = limit(ex, mk, "SELL", "10", "0.5010")
    s2 = limit(ex, mk, "SELL", "10", "0.5020")
    t = limit(ex, tk, "BUY", "25", "0.5020")
    assert t.status == "PARTIALLY_FILLED"
    assert t.executed_qty == D("20") and t.cummulative_quote_qty == D("10.0300")
    assert ex.get_order(mk, SYM, s1.order_id).status == "FILLED"
    assert ex.get_order(mk, SYM, s2.order_id).status == "FILLED"
    # the rest (5 XRP) now rests as the best bid at the taker's limit price
    assert ex.depth(SYM, 10) == ([(D("0.5020"), D("5.0"))], [])
    fills = ex.my_trades(tk, SYM)
    assert [(f.price, f.qty, f.is_maker) for f in fills] == [
        (D("0.5010"), D("10.0"), False),
        (D("0.5020"), D("10.0"), False),
    ]
    assert ex.last_price(SYM) == D("0.5020")


def test_queue_position_is_real_time_priority(ex: Exchange) -> None:
    a, b, c, tk = rich(ex), rich(ex), rich(ex), rich(ex)
    oa = limit(ex, a, "SELL", "10", "0.5100")
    ob = limit(ex, b, "SELL", "20", "0.5100")
    oc = limit(ex, c, "SELL", "5", "0.5100")
    assert ex.queue_position(a, SYM, oa.order_id) == 0
    assert ex.queue_position(b, SYM, ob.order_id) == D("10")
    assert ex.queue_position(c, SYM, oc.order_id) == D("30")
    ex.cancel_order(a, SYM, order_id=oa.order_id)
    assert ex.queue_position(c, SYM, oc.order_id) == D("20")
    limit(ex, tk, "BUY", "15", "0.5100")
    assert ex.get_order(b, SYM, ob.order_id).executed_qty == D("15")
    assert ex.get_order(c, SYM, oc.order_id).executed_qty == 0
    assert ex.queue_position(c, SYM, oc.order_id) == D("5")
    assert ex.queue_position(a, SYM, oa.order_id) is None  # cancelled: not resting


def test_partial_fills_update_maker_step_by_step(ex: Exchange) -> None:
    mk, tk = rich(ex), rich(ex)
    o = limit(ex, mk, "BUY", "30", "0.5000")
    for i, qty in enumerate(["10", "5", "15"]):
        ex.place_order(tk, SYM, "SELL", "LIMIT", D(qty), D("0.5000"))
        snap = ex.get_order(mk, SYM, o.order_id)
        assert snap.status == ("FILLED" if i == 2 else "PARTIALLY_FILLED")
    snap = ex.get_order(mk, SYM, o.order_id)
    assert snap.executed_qty == D("30") and snap.cummulative_quote_qty == D("15")
    assert ex.open_orders(mk, SYM) == []
    assert bal(ex, mk, "USDT") == (D("9985"), D("0"))


def test_fees_are_charged_in_the_received_asset(ex: Exchange) -> None:
    mk = rich(ex, maker="0.001", taker="0.009")
    tk = rich(ex, maker="0.009", taker="0.002")
    limit(ex, mk, "SELL", "100", "0.5000")
    limit(ex, tk, "BUY", "100", "0.5000")
    # maker sold 100 XRP for 50 USDT and pays 0.1 % of the USDT it received
    assert bal(ex, mk, "XRP") == (D("9900"), D("0"))
    assert bal(ex, mk, "USDT") == (D("10049.95"), D("0"))
    # taker bought 100 XRP for 50 USDT and pays 0.2 % of the XRP it received
    assert bal(ex, tk, "XRP") == (D("10099.8"), D("0"))
    assert bal(ex, tk, "USDT") == (D("9950"), D("0"))
    (mf,) = ex.my_trades(mk, SYM)
    (tf,) = ex.my_trades(tk, SYM)
    assert (mf.commission, mf.commission_asset, mf.is_maker) == (D("0.05"), "USDT", True)
    assert (tf.commission, tf.commission_asset, tf.is_maker) == (D("0.2"), "XRP", False)
    assert mf.trade_id == tf.trade_id
    assert ex.fees_collected() == {"USDT": D("0.05"), "XRP": D("0.2")}


def test_sell_taker_pays_fee_in_quote_and_buy_maker_in_base(ex: Exchange) -> None:
    mk = rich(ex, maker="0.001")
    tk = rich(ex, taker="0.003")
    limit(ex, mk, "BUY", "10", "0.5000")
    limit(ex, tk, "SELL", "10", "0.4900")  # crosses at the maker's 0.5000
    assert bal(ex, mk, "XRP") == (D("10009.99"), D("0"))
    assert bal(ex, mk, "USDT") == (D("9995"), D("0"))
    assert bal(ex, tk, "USDT") == (D("10004.985"), D("0"))
    assert bal(ex, tk, "XRP") == (D("9990"), D("0"))


def test_buy_taker_pays_trade_prices_not_its_limit(ex: Exchange) -> None:
    mk, tk = rich(ex), rich(ex, taker="0")
    limit(ex, mk, "SELL", "10", "0.4950")
    t = limit(ex, tk, "BUY", "20", "0.5050")  # 10 fill at 0.4950, 10 rest at 0.5050
    assert t.status == "PARTIALLY_FILLED"
    # paid 4.95 for the fill, 5.05 locked for the resting half
    assert bal(ex, tk, "USDT") == (D("10000") - D("4.95") - D("5.05"), D("5.05"))
    ex.cancel_order(tk, SYM, order_id=t.order_id)
    assert bal(ex, tk, "USDT") == (D("9995.05"), D("0"))
    assert bal(ex, tk, "XRP") == (D("10010"), D("0"))


def test_locked_is_released_exactly_after_partial_fill_and_cancel(ex: Exchange) -> None:
    mk, tk = rich(ex, maker="0"), rich(ex)
    o = limit(ex, mk, "BUY", "33.3", "0.4567")
    assert bal(ex, mk, "USDT") == (D("10000") - D("15.20811"), D("15.20811"))
    ex.place_order(tk, SYM, "SELL", "LIMIT", D("11.1"), D("0.4567"))
    assert bal(ex, mk, "USDT")[1] == D("22.2") * D("0.4567")
    ex.cancel_order(mk, SYM, order_id=o.order_id)
    assert bal(ex, mk, "USDT") == (D("10000") - D("11.1") * D("0.4567"), D("0"))
    assert bal(ex, mk, "XRP") == (D("10011.1"), D("0"))


def test_self_trade_is_allowed(ex: Exchange) -> None:
    # Bitrue documents no self-trade prevention; both sides are the same account.
    a = rich(ex, maker="0", taker="0")
    limit(ex, a, "SELL", "10", "0.5000")
    t = limit(ex, a, "BUY", "10", "0.5000")
    assert t.status == "FILLED"
    assert bal(ex, a, "USDT") == (D("10000"), D("0"))
    assert bal(ex, a, "XRP") == (D("10000"), D("0"))
    assert {f.is_maker for f in ex.my_trades(a, SYM)} == {True, False}


# ----------------------------------------------------------------------------- market orders
def test_market_buy_by_quantity_fills_across_levels(ex: Exchange) -> None:
    mk, tk = rich(ex), rich(ex, taker="0")
    limit(ex, mk, "SELL", "10", "0.5000")
    limit(ex, mk, "SELL", "10", "0.5100")
    o = ex.place_order(tk, SYM, "BUY", "MARKET", D("15"), None)
    assert o.status == "FILLED" and o.type == "MARKET" and o.price == 0
    assert o.executed_qty == D("15") and o.cummulative_quote_qty == D("7.55")
    assert bal(ex, tk, "USDT") == (D("9992.45"), D("0"))
    assert ex.depth(SYM, 5)[1] == [(D("0.5100"), D("5.0"))]


def test_market_buy_that_exhausts_the_book_is_cancelled_for_the_rest(ex: Exchange) -> None:
    mk, tk = rich(ex), rich(ex, taker="0")
    limit(ex, mk, "SELL", "4", "0.5000")
    limit(ex, mk, "SELL", "6", "0.5100")
    o = ex.place_order(tk, SYM, "BUY", "MARKET", D("50"), None)
    assert o.status == "CANCELED"
    assert o.executed_qty == D("10") and o.orig_qty == D("50")
    assert o.cummulative_quote_qty == D("5.06")
    assert bal(ex, tk, "USDT") == (D("9994.94"), D("0"))
    assert ex.depth(SYM, 5) == ([], [])
    assert ex.open_orders(tk, SYM) == []


def test_market_sell_that_exhausts_the_book(ex: Exchange) -> None:
    mk, tk = rich(ex), rich(ex, taker="0")
    limit(ex, mk, "BUY", "4", "0.5000")
    o = ex.place_order(tk, SYM, "SELL", "MARKET", D("10"), None)
    assert o.status == "CANCELED" and o.executed_qty == D("4")
    assert bal(ex, tk, "XRP") == (D("9996"), D("0"))
    assert bal(ex, tk, "USDT") == (D("10002"), D("0"))


def test_market_order_on_an_empty_book_is_cancelled_by_the_engine(ex: Exchange) -> None:
    tk = rich(ex)
    seen: list = []
    ex.subscribe(seen.append)
    o = ex.place_order(tk, SYM, "BUY", "MARKET", D("10"), None)
    assert o.status == "CANCELED" and o.executed_qty == 0
    assert [(e.reason, e.order.status) for e in seen] == [
        ("NEW", "NEW"),
        ("CANCELED_BY_ENGINE", "CANCELED"),
    ]
    assert bal(ex, tk, "USDT") == (D("10000"), D("0"))


def test_market_buy_by_quote_amount(ex: Exchange) -> None:
    mk, tk = rich(ex), rich(ex, taker="0")
    limit(ex, mk, "SELL", "10", "0.5000")
    limit(ex, mk, "SELL", "10", "0.5500")
    # 7 USDT: 10 XRP for 5 at 0.5, then 2 USDT buys 3.6 XRP at 0.55 (1.98), 0.02 left over
    o = ex.place_order(tk, SYM, "BUY", "MARKET", None, None, quote_order_qty=D("7"))
    assert o.status == "FILLED"
    assert o.executed_qty == D("13.6") and o.orig_qty == D("13.6")
    assert o.cummulative_quote_qty == D("6.98")
    assert bal(ex, tk, "USDT") == (D("9993.02"), D("0"))
    assert bal(ex, tk, "XRP") == (D("10013.6"), D("0"))
    assert ex.depth(SYM, 5)[1] == [(D("0.5500"), D("6.4"))]


def test_market_sell_needs_free_base(ex: Exchange) -> None:
    poor = ex.create_account({"XRP": D("5")})
    mk = rich(ex)
    limit(ex, mk, "BUY", "10", "0.5000")
    with expect_error(406, -2010, "Insufficient account balance"):
        ex.place_order(poor, SYM, "SELL", "MARKET", D("6"), None)


def test_market_buy_checks_the_cost_of_the_sweep(ex: Exchange) -> None:
    poor = ex.create_account({"USDT": D("5")})
    mk = rich(ex)
    limit(ex, mk, "SELL", "10", "0.5000")
    limit(ex, mk, "SELL", "10", "0.5500")
    with expect_error(406, -2010, "Insufficient account balance"):
        ex.place_order(poor, SYM, "BUY", "MARKET", D("11"), None)  # costs 5.55
    o = ex.place_order(poor, SYM, "BUY", "MARKET", D("10"), None)  # costs exactly 5
    assert o.status == "FILLED"
    assert bal(ex, poor, "USDT") == (D("0"), D("0"))


# ----------------------------------------------------------------------------- client order ids
def test_duplicate_client_order_id_among_open_orders_is_rejected(ex: Exchange) -> None:
    a, b = rich(ex), rich(ex)
    first = limit(ex, a, "BUY", "10", "0.4900", "dup")
    with expect_error(406, -2010, "Duplicate order sent"):
        limit(ex, a, "BUY", "10", "0.4800", "dup")
    assert len(ex.open_orders(a, SYM)) == 1
    assert bal(ex, a, "USDT") == (D("9995.1"), D("4.9"))  # the rejected order locked nothing
    limit(ex, b, "BUY", "10", "0.4900", "dup")  # another account may use it
    ex.cancel_order(a, SYM, client_order_id="dup")
    again = limit(ex, a, "BUY", "10", "0.4800", "dup")  # no longer open: reusable
    assert again.order_id != first.order_id
    assert ex.get_order(a, SYM, client_order_id="dup").order_id == again.order_id
    assert ex.get_order(a, SYM, order_id=first.order_id).status == "CANCELED"


def test_query_and_cancel_by_client_order_id(ex: Exchange) -> None:
    mk, tk = rich(ex), rich(ex)
    limit(ex, mk, "SELL", "10", "0.5000", "s-1")
    limit(ex, tk, "BUY", "10", "0.5000", "b-1")
    assert ex.get_order(mk, SYM, client_order_id="s-1").status == "FILLED"
    assert ex.get_order(tk, SYM, client_order_id="b-1").status == "FILLED"
    with expect_error(200, -2013, "Order does not exist."):
        ex.cancel_order(mk, SYM, client_order_id="s-1")


# ----------------------------------------------------------------------------- errors
def test_cancel_of_filled_cancelled_and_unknown_orders(ex: Exchange) -> None:
    mk, tk = rich(ex), rich(ex)
    filled = limit(ex, mk, "SELL", "10", "0.5000")
    limit(ex, tk, "BUY", "10", "0.5000")
    with expect_error(200, -2013, "Order does not exist."):
        ex.cancel_order(mk, SYM, order_id=filled.order_id)
    resting = limit(ex, mk, "SELL", "10", "0.5100")
    ex.cancel_order(mk, SYM, order_id=resting.order_id)
    with expect_error(200, -2013, "Order does not exist."):
        ex.cancel_order(mk, SYM, order_id=resting.order_id)
    with expect_error(200, -2013, "Order does not exist."):
        ex.cancel_order(mk, SYM, order_id=2**60 + 12345)
    with expect_error(200, -2013, "Order does not exist."):
        ex.get_order(mk, SYM, client_order_id="never-sent")
    with expect_error(412, -1102, "orderId"):
        ex.cancel_order(mk, SYM)


def test_other_accounts_and_other_symbols_do_not_see_an_order(ex: Exchange) -> None:
    a, b = rich(ex), rich(ex)
    o = limit(ex, a, "BUY", "10", "0.4900", "x")
    with expect_error(200, -2013):
        ex.get_order(b, SYM, order_id=o.order_id)
    with expect_error(200, -2013):
        ex.cancel_order(b, SYM, order_id=o.order_id)
    with expect_error(200, -2013):
        ex.get_order(a, "BTCUSDT", order_id=o.order_id)
    assert ex.get_order(a, SYM, order_id=o.order_id).status == "NEW"


@pytest.mark.parametrize("call", ["place", "cancel", "get", "depth", "market", "trades"])
def test_unknown_symbol(ex: Exchange, call: str) -> None:
    a = rich(ex)
    with expect_error(412, -1121, "Invalid symbol."):
        if call == "place":
            ex.place_order(a, "DOGEUSDT", "BUY", "LIMIT", D("1"), D("1"))
        elif call == "cancel":
            ex.cancel_order(a, "DOGEUSDT", order_id=1)
        elif call == "get":
            ex.get_order(a, "DOGEUSDT", order_id=1)
        elif call == "depth":
            ex.depth("DOGEUSDT", 5)
        elif call == "market":
            ex.market("DOGEUSDT")
        else:
            ex.recent_trades("DOGEUSDT")


def test_lowercase_symbol_is_accepted(ex: Exchange) -> None:
    a = rich(ex)
    o = ex.place_order(a, "xrpusdt", "BUY", "LIMIT", D("10"), D("0.4900"))
    assert o.symbol == SYM


# XRPUSDT: tick 0.0001, step 0.1, minQty 0.1, maxQty 10 000 000, minVal 1, min/max price
# 0.0001/100, bid and ask band 0.9..1.1 x last price 0.5000 -> [0.4500, 0.5500].
FILTER_CASES = [
    ("BUY", "10", "0.49005", "PRICE_FILTER", "tickSize"),
    ("BUY", "10", "0", "PRICE_FILTER", "> 0"),
    ("BUY", "10", "-0.5", "PRICE_FILTER", "> 0"),
    ("BUY", "10", "0.4499", "PERCENT_PRICE_BY_SIDE", "bid"),
    ("BUY", "10", "0.5501", "PERCENT_PRICE_BY_SIDE", "bid"),
    ("SELL", "10", "0.4499", "PERCENT_PRICE_BY_SIDE", "ask"),
    ("SELL", "10", "0.5501", "PERCENT_PRICE_BY_SIDE", "ask"),
    ("BUY", "10.05", "0.5000", "LOT_SIZE", "stepSize"),
    ("BUY", "0", "0.5000", "LOT_SIZE", "> 0"),
    ("BUY", "-1", "0.5000", "LOT_SIZE", "> 0"),
    ("BUY", "20000000", "0.5000", "LOT_SIZE", "maxQty"),
    ("BUY", "1.9", "0.5000", "LOT_SIZE", "minVal"),
]


@pytest.mark.parametrize(("side", "qty", "price", "name", "detail"), FILTER_CASES)
def test_filter_violations_answer_1111_naming_the_filter(
    ex: Exchange, side: str, qty: str, price: str, name: str, detail: str
) -> None:
    a = rich(ex)
    before = ex.balances(a)
    with expect_error(412, -1111, name) as info:
        limit(ex, a, side, qty, price)
    assert detail in info.value.msg
    assert ex.balances(a) == before
    assert ex.ledger(a) == {"orders": [], "fills": []}


def test_min_qty_and_price_bounds_on_a_market_with_room_for_them() -> None:
    from dataclasses import replace

    from bitrue_sim.core import DEFAULT_MARKETS

    base = next(m for m in DEFAULT_MARKETS if m.symbol == SYM)
    spec = replace(
        base,
        min_qty=D("5"),
        min_val=D("0.0001"),
        min_price=D("0.4600"),
        max_price=D("0.5400"),
    )
    ex = Exchange(markets=[spec], clock=ManualClock(T0))
    a = rich(ex)
    with expect_error(412, -1111, "quantity less then minQty"):
        limit(ex, a, "BUY", "4.9", "0.5000")
    with expect_error(412, -1111, "minPrice"):
        limit(ex, a, "BUY", "10", "0.4599")
    with expect_error(412, -1111, "maxPrice"):
        limit(ex, a, "SELL", "10", "0.5401")
    assert limit(ex, a, "BUY", "5", "0.4600").status == "NEW"


def test_market_order_filters(ex: Exchange) -> None:
    a = rich(ex)
    with expect_error(412, -1111, "minVal"):  # 1.9 XRP x last price 0.5 < 1 USDT
        ex.place_order(a, SYM, "SELL", "MARKET", D("1.9"), None)
    with expect_error(412, -1111, "minVal"):
        ex.place_order(a, SYM, "BUY", "MARKET", None, None, quote_order_qty=D("0.5"))
    with expect_error(412, -1102, "quantity"):
        ex.place_order(a, SYM, "SELL", "MARKET", None, None)


def test_percent_price_band_follows_the_last_price(ex: Exchange) -> None:
    mk, tk = rich(ex), rich(ex)
    with expect_error(412, -1111, "PERCENT_PRICE_BY_SIDE"):
        limit(ex, mk, "SELL", "10", "0.5600")
    limit(ex, mk, "SELL", "10", "0.5400")
    limit(ex, tk, "BUY", "10", "0.5400")
    assert ex.last_price(SYM) == D("0.5400")
    assert limit(ex, mk, "SELL", "10", "0.5900").status == "NEW"  # 0.54 x 1.1 = 0.594
    with expect_error(412, -1111, "PERCENT_PRICE_BY_SIDE"):
        limit(ex, mk, "BUY", "10", "0.4800")  # 0.54 x 0.9 = 0.486


def test_missing_or_illegal_parameters(ex: Exchange) -> None:
    a = rich(ex)
    with expect_error(412, -1102, "price"):
        ex.place_order(a, SYM, "BUY", "LIMIT", D("10"), None)
    with expect_error(412, -1102, "side"):
        ex.place_order(a, SYM, "HOLD", "LIMIT", D("10"), D("0.5"))
    with expect_error(412, -1102, "type"):
        ex.place_order(a, SYM, "BUY", "STOP", D("10"), D("0.5"))
    with expect_error(412, -1102, "newClientOrderId"):
        ex.place_order(a, SYM, "BUY", "LIMIT", D("10"), D("0.5"), "")
    with pytest.raises(TypeError, match="float"):
        ex.place_order(a, SYM, "BUY", "LIMIT", 10.0, D("0.5"))  # type: ignore[arg-type]
    assert ex.ledger(a)["orders"] == []


def test_insufficient_balance_rejects_without_side_effects(ex: Exchange) -> None:
    a = ex.create_account({"USDT": D("4.99"), "XRP": D("9.9")})
    with expect_error(406, -2010, "Insufficient account balance") as info:
        limit(ex, a, "BUY", "10", "0.5000")
    assert "USDT" in info.value.msg
    with expect_error(406, -2010, "Insufficient account balance") as info:
        limit(ex, a, "SELL", "10", "0.5000")
    assert "XRP" in info.value.msg
    with expect_error(406, -2010, "Insufficient account balance"):
        ex.place_order(a, "BTCUSDT", "BUY", "LIMIT", D("0.001"), D("60000"))  # no USDT? 60 > 4.99
    assert bal(ex, a, "USDT") == (D("4.99"), D("0"))
    assert ex.ledger(a)["orders"] == []
    assert ex.depth(SYM, 5) == ([], [])


def test_funds_locked_by_open_orders_are_not_spendable(ex: Exchange) -> None:
    a = ex.create_account({"USDT": D("10")})
    limit(ex, a, "BUY", "10", "0.5000")
    limit(ex, a, "BUY", "10", "0.5000")
    with expect_error(406, -2010):
        limit(ex, a, "BUY", "2", "0.5000")
    assert bal(ex, a, "USDT") == (D("0"), D("10"))


# ----------------------------------------------------------------------------- history
def test_all_orders_and_my_trades_windows(ex: Exchange, clock: ManualClock) -> None:
    mk, tk = rich(ex), rich(ex)
    ids = []
    for _ in range(5):
        ids.append(limit(ex, mk, "SELL", "10", "0.5000").order_id)
        limit(ex, tk, "BUY", "10", "0.5000")
        clock.advance(1_000)
    assert [o.order_id for o in ex.all_orders(mk, SYM)] == ids
    assert [o.order_id for o in ex.all_orders(mk, SYM, limit=2)] == ids[-2:]
    assert [o.order_id for o in ex.all_orders(mk, SYM, order_id=ids[1], limit=2)] == ids[1:3]
    window = ex.all_orders(mk, SYM, start_time=T0 + 1_000, end_time=T0 + 3_000)
    assert [o.order_id for o in window] == ids[1:4]
    trades = ex.my_trades(mk, SYM)
    assert len(trades) == 5 and all(t.is_maker for t in trades)
    assert [t.trade_id for t in ex.my_trades(mk, SYM, from_id=trades[2].trade_id)] == [
        t.trade_id for t in trades[2:]
    ]
    assert len(ex.my_trades(mk, SYM, limit=3)) == 3
    assert ex.my_trades(mk, SYM, start_time=T0 + 4_000)[0].trade_id == trades[4].trade_id
    assert ex.my_trades(mk, "BTCUSDT") == []
    assert ex.all_orders(mk, "BTCUSDT") == []


def test_public_trades_ticker_and_last_price(ex: Exchange, clock: ManualClock) -> None:
    mk, tk = rich(ex), rich(ex)
    assert ex.last_price(SYM) == D("0.5000")  # the market's initial price
    assert ex.recent_trades(SYM) == []
    limit(ex, mk, "BUY", "10", "0.4900")
    limit(ex, mk, "SELL", "10", "0.5100")
    limit(ex, mk, "SELL", "20", "0.5200")
    limit(ex, tk, "BUY", "10", "0.5100")
    clock.advance(60_000)
    limit(ex, tk, "BUY", "5", "0.5200")
    trades = ex.recent_trades(SYM)
    assert [(t.price, t.qty, t.is_buyer_maker) for t in trades] == [
        (D("0.5100"), D("10.0"), False),
        (D("0.5200"), D("5.0"), False),
    ]
    assert trades[1].trade_id == trades[0].trade_id + 1
    assert ex.recent_trades(SYM, limit=1) == trades[1:]
    t = ex.ticker_24h(SYM)
    assert t["lastPrice"] == "0.5200" and t["openPrice"] == "0.5100"
    assert t["highPrice"] == "0.5200" and t["lowPrice"] == "0.5100"
    assert t["volume"] == "15.0" and t["quoteVolume"] == "7.70000"
    assert t["priceChange"] == "0.0100" and t["priceChangePercent"] == "1.961"
    assert t["bidPrice"] == "0.4900" and t["askPrice"] == "0.5200"
    assert t["count"] == 2 and t["firstId"] == trades[0].trade_id
    assert t["closeTime"] == T0 + 60_000
    clock.advance(25 * 3_600_000)  # the trades leave the 24 h window
    t = ex.ticker_24h(SYM)
    assert t["count"] == 0 and t["volume"] == "0" and t["lastPrice"] == "0.5200"


def test_ledger_lists_everything(ex: Exchange) -> None:
    mk, tk = rich(ex), rich(ex)
    a = limit(ex, mk, "SELL", "10", "0.5000")
    b = limit(ex, mk, "SELL", "10", "0.5100")
    ex.cancel_order(mk, SYM, order_id=b.order_id)
    limit(ex, tk, "BUY", "10", "0.5000")
    led = ex.ledger(mk)
    assert [(o.order_id, o.status) for o in led["orders"]] == [
        (a.order_id, "FILLED"),
        (b.order_id, "CANCELED"),
    ]
    assert [f.order_id for f in led["fills"]] == [a.order_id]


def test_same_seed_same_story() -> None:
    def run() -> tuple:
        ex = Exchange(clock=ManualClock(T0), seed=99)
        mk, tk = rich(ex), rich(ex)
        limit(ex, mk, "SELL", "10", "0.5000")
        limit(ex, tk, "BUY", "4", "0.5000")
        return tuple(ex.ledger(mk)["orders"]), tuple(ex.ledger(tk)["fills"])

    assert run() == run()
    other = Exchange(clock=ManualClock(T0), seed=100)
    acct = rich(other)
    assert limit(other, acct, "SELL", "10", "0.5000").order_id != run()[0][0].order_id


def test_deposit_and_account_terms(ex: Exchange) -> None:
    a = ex.create_account({"usdt": D("1")}, maker_commission=D("0.001"))
    ex.deposit(a, "xrp", D("2.5"))
    assert bal(ex, a, "USDT") == (D("1"), D("0"))
    assert bal(ex, a, "XRP") == (D("2.5"), D("0"))
    acct = ex.account(a)
    assert (acct.account_id, acct.maker_commission, acct.taker_commission) == (
        a,
        D("0.001"),
        D("0.002"),
    )
    with pytest.raises(ValueError):
        ex.deposit(a, "XRP", D("-1"))
    with pytest.raises(KeyError):
        ex.balances(999)


# ----------------------------------------------------------------------------- events
def test_events_of_a_crossing_order_in_order(ex: Exchange) -> None:
    mk, tk = rich(ex), rich(ex)
    resting = limit(ex, mk, "SELL", "10", "0.5000")
    seen: list = []
    ex.subscribe(seen.append)
    t = limit(ex, tk, "BUY", "15", "0.5000")
    kinds = [
        (type(e).__name__, getattr(e, "reason", None) or getattr(e, "asset", None)) for e in seen
    ]
    assert kinds == [
        ("OrderChanged", "NEW"),  # taker accepted
        ("OrderChanged", "TRADE"),  # maker filled
        ("BalanceChanged", "XRP"),  # maker's locked XRP delivered
        ("BalanceChanged", "USDT"),  # maker receives USDT less fee
        ("OrderChanged", "TRADE"),  # taker partially filled
        ("BalanceChanged", "USDT"),  # taker pays USDT
        ("BalanceChanged", "XRP"),  # taker receives XRP less fee
        ("TradeHappened", None),
        ("BalanceChanged", "USDT"),  # taker's rest locks USDT
        ("BookChanged", None),
    ]
    maker_trade, taker_trade = seen[1], seen[4]
    assert isinstance(maker_trade, OrderChanged) and isinstance(taker_trade, OrderChanged)
    assert maker_trade.order.order_id == resting.order_id
    assert maker_trade.order.status == "FILLED" and maker_trade.fill.is_maker
    assert taker_trade.order.status == "PARTIALLY_FILLED"
    assert taker_trade.fill.qty == D("10") and taker_trade.order.order_id == t.order_id
    lock = seen[8]
    assert isinstance(lock, BalanceChanged)
    assert (lock.free_delta, lock.locked_delta) == (D("-2.5"), D("2.5"))
    trade = seen[7]
    assert isinstance(trade, TradeHappened) and not trade.trade.is_buyer_maker
    assert isinstance(seen[-1], BookChanged) and seen[-1].symbol == SYM


def test_balance_events_carry_the_resulting_balances(ex: Exchange) -> None:
    a = rich(ex)
    seen: list = []
    ex.subscribe(seen.append)
    o = limit(ex, a, "BUY", "10", "0.5000")
    ex.cancel_order(a, SYM, order_id=o.order_id)
    changes = [e for e in seen if isinstance(e, BalanceChanged)]
    assert [(c.free, c.locked, c.free_delta, c.locked_delta) for c in changes] == [
        (D("9995"), D("5"), D("-5"), D("5")),
        (D("10000"), D("0"), D("5"), D("-5")),
    ]
    assert [e.reason for e in seen if isinstance(e, OrderChanged)] == [
        "NEW",
        "CANCELED_BY_USER",
    ]


def test_listeners_see_a_consistent_exchange_and_errors_do_not_starve_others(
    ex: Exchange,
) -> None:
    a = rich(ex)
    observed: list = []

    def reader(event: object) -> None:
        observed.append(len(ex.open_orders(a, SYM)))

    def broken(event: object) -> None:
        raise RuntimeError("listener bug")

    ex.subscribe(broken)
    ex.subscribe(reader)
    with pytest.raises(RuntimeError, match="listener bug"):
        limit(ex, a, "BUY", "10", "0.5000")
    # the order was placed and every event reached the good listener, after the state change
    assert len(ex.open_orders(a, SYM)) == 1
    assert observed == [1, 1, 1]
    ex.unsubscribe(broken)
    limit(ex, a, "BUY", "10", "0.5000")
    assert observed[-1] == 2


def test_events_and_results_are_the_same_with_and_without_listeners() -> None:
    def run(listen: bool) -> tuple:
        ex = Exchange(clock=ManualClock(T0), seed=5)
        if listen:
            ex.subscribe(lambda e: None)
        mk, tk = rich(ex), rich(ex)
        limit(ex, mk, "SELL", "10", "0.5000")
        limit(ex, mk, "BUY", "7", "0.4900")
        limit(ex, tk, "BUY", "12", "0.5050")
        ex.place_order(tk, SYM, "SELL", "MARKET", D("9"), None)
        return (
            ex.balances(mk),
            ex.balances(tk),
            ex.ledger(mk),
            ex.ledger(tk),
            ex.depth(SYM, 10),
        )

    assert run(True) == run(False)


def test_quote_sized_market_buy_that_exhausts_the_book_is_cancelled(ex: Exchange) -> None:
    mk, tk = rich(ex), rich(ex, taker="0")
    limit(ex, mk, "SELL", "4", "0.5000")
    o = ex.place_order(tk, SYM, "BUY", "MARKET", None, None, quote_order_qty=D("100"))
    assert o.status == "CANCELED"
    assert o.executed_qty == D("4") and o.cummulative_quote_qty == D("2")
    assert bal(ex, tk, "USDT") == (D("9998"), D("0"))


def test_thin_small_cap_market_keeps_exact_tiny_amounts() -> None:
    ex = Exchange(clock=ManualClock(T0), seed=2)
    mk = ex.create_account({"NOVA": D("100000")}, maker_commission=D("0.0015"))
    tk = ex.create_account({"USDT": D("100")}, taker_commission=D("0.0025"))
    ex.place_order(mk, "NOVAUSDT", "SELL", "LIMIT", D("1234"), D("0.012345"))
    o = ex.place_order(tk, "NOVAUSDT", "BUY", "LIMIT", D("1000"), D("0.012400"))
    assert o.status == "FILLED" and o.cummulative_quote_qty == D("12.345")
    assert ex.balances(tk)["USDT"].free == D("100") - D("12.345")
    assert ex.balances(tk)["NOVA"].free == D("1000") - D("2.5")  # 0.25 % of the NOVA received
    assert ex.balances(mk)["USDT"].free == D("12.345") * (1 - D("0.0015"))
    assert ex.balances(mk)["NOVA"].locked == D("234")
    with expect_error(412, -1111, "stepSize"):
        ex.place_order(tk, "NOVAUSDT", "BUY", "LIMIT", D("100.5"), D("0.012400"))


def test_only_the_latest_public_trades_are_kept_and_the_ticker_does_not_need_them(
    clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bitrue_sim.core.exchange as exchange_module

    monkeypatch.setattr(exchange_module, "_KEEP_TRADES", 3)
    ex = Exchange(clock=clock, seed=11)  # built after the patch: its trade log holds 3
    mk, tk = rich(ex), rich(ex)
    start = T0 - T0 % 60_000 + 60_000  # a minute boundary
    clock.set(start)
    for _ in range(5):  # minutes: 2 trades, 2 trades, 1 trade
        limit(ex, mk, "SELL", "10", "0.5000")
        limit(ex, tk, "BUY", "10", "0.5000")
        clock.advance(30_000)
    trades = ex.recent_trades(SYM, 100)
    assert len(trades) == 3 and trades[-1].time == start + 4 * 30_000
    t = ex.ticker_24h(SYM)  # the 24 h statistics still count all five
    assert t["count"] == 5 and t["volume"] == "50.0" and t["quoteVolume"] == "25.00000"
    assert t["lastId"] - t["firstId"] == 4 and t["lastId"] == trades[-1].trade_id
    # the window has minute resolution: a trade leaves it once its whole minute is 24 h old
    clock.set(start + 24 * 3_600_000 + 59_999)
    assert ex.ticker_24h(SYM)["count"] == 5
    clock.set(start + 24 * 3_600_000 + 60_000)
    assert ex.ticker_24h(SYM)["count"] == 3
    clock.advance(25 * 3_600_000)
    limit(ex, mk, "SELL", "10", "0.5000")
    limit(ex, tk, "BUY", "10", "0.5000")
    assert ex.ticker_24h(SYM)["count"] == 1
    assert len(ex._markets[SYM].minutes) == 1  # old minutes are dropped


def test_a_listener_may_trade_and_its_events_queue_behind(ex: Exchange) -> None:
    mk, tk, echo = rich(ex), rich(ex), rich(ex)
    limit(ex, mk, "SELL", "20", "0.5000")
    seen: list = []

    def follow_the_trade(event: object) -> None:
        seen.append(event)
        if isinstance(event, TradeHappened) and event.trade.qty == D("10"):
            limit(ex, echo, "BUY", "5", "0.5000")  # nested: trades against the rest

    ex.subscribe(follow_the_trade)
    limit(ex, tk, "BUY", "10", "0.5000")
    trades = [e.trade.qty for e in seen if isinstance(e, TradeHappened)]
    assert trades == [D("10"), D("5")]
    # the outer operation's BookChanged comes before anything of the nested one
    first_book = next(i for i, e in enumerate(seen) if isinstance(e, BookChanged))
    nested_new = [
        i
        for i, e in enumerate(seen)
        if isinstance(e, OrderChanged) and e.reason == "NEW" and e.order.account_id == echo
    ]
    assert nested_new and nested_new[0] > first_book
    assert ex.depth(SYM, 5)[1] == [(D("0.5000"), D("5.0"))]


def test_quote_order_qty_takes_precedence_and_only_for_market_buys(ex: Exchange) -> None:
    mk, tk = rich(ex), rich(ex, taker="0")
    limit(ex, mk, "SELL", "100", "0.5000")
    o = ex.place_order(tk, SYM, "BUY", "MARKET", D("50"), None, quote_order_qty=D("2"))
    assert o.executed_qty == D("4") and o.cummulative_quote_qty == D("2")
    with expect_error(412, -1102, "quoteOrderQty"):
        ex.place_order(tk, SYM, "SELL", "MARKET", D("5"), None, quote_order_qty=D("2"))
    with expect_error(412, -1102, "quoteOrderQty"):
        ex.place_order(tk, SYM, "BUY", "LIMIT", D("5"), D("0.5"), quote_order_qty=D("2"))


def test_prices_and_quantities_with_hidden_digits_are_rejected(ex: Exchange) -> None:
    a = rich(ex)
    # 30 significant digits: the quotient by the tick would round to a whole number of ticks
    with expect_error(412, -1111, "PRICE_FILTER"):
        limit(ex, a, "BUY", "10", "0.50000000000000000000000000001")
    with expect_error(412, -1111, "LOT_SIZE"):
        limit(ex, a, "BUY", "10.0000000000000000000000000001", "0.5000")


def test_history_paging_by_id_time_and_limit(ex: Exchange, clock: ManualClock) -> None:
    a = rich(ex)
    ids = []
    for _ in range(6):
        ids.append(limit(ex, a, "BUY", "10", "0.4900").order_id)
        clock.advance(10)
    # an id between two real ones starts at the next order
    assert [o.order_id for o in ex.all_orders(a, SYM, order_id=ids[2] - 1)] == ids[2:]
    assert [o.order_id for o in ex.all_orders(a, SYM, order_id=ids[-1] + 1)] == []
    # the latest ``limit`` inside a time window
    window = ex.all_orders(a, SYM, start_time=T0 + 10, end_time=T0 + 40, limit=2)
    assert [o.order_id for o in window] == ids[3:5]
    # from an id, the first ``limit`` inside a time window
    window = ex.all_orders(a, SYM, order_id=ids[0], start_time=T0 + 20, limit=2)
    assert [o.order_id for o in window] == ids[2:4]
    assert ex.all_orders(a, SYM, limit=0) == []


def test_best_ticks_and_depth_agree_with_the_book_levels(ex: Exchange) -> None:
    """``best_ticks`` (what the participants read) is ``depth``'s best prices in ticks, and
    ``depth`` is every level of ``Book.levels`` as exact Decimals, on a book built at random."""
    import random

    rng = random.Random(5)
    acct = rich(ex)
    spec = ex.market(SYM)
    tick, step = spec.tick_size, spec.step_size
    mid = int(spec.initial_price / tick)
    assert ex.best_ticks(SYM) == (None, None)
    for _ in range(300):
        side = rng.choice(("BUY", "SELL"))
        ticks = rng.randrange(mid * 96 // 100, mid * 104 // 100)
        try:
            ex.place_order(acct, SYM, side, "LIMIT", step * rng.randrange(200, 600), tick * ticks)
        except ExchangeError:
            pass
        bids, asks = ex.depth(SYM, 1)
        best_bid, best_ask = ex.best_ticks(SYM)
        assert (best_bid is None) == (not bids) and (best_ask is None) == (not asks)
        if bids:
            assert bids[0][0] == tick * best_bid
        if asks:
            assert asks[0][0] == tick * best_ask
        book = ex._market(SYM).book
        for limit in (1, 5, None):
            bids, asks = ex.depth(SYM, limit)
            for got, want in ((bids, book.levels(True, limit)), (asks, book.levels(False, limit))):
                assert got == [(tick * t, step * q) for t, q in want]


def _state(ex: Exchange, acct: int) -> tuple[object, ...]:
    bal = ex.balances(acct)
    return (
        ex.depth(SYM, None),
        sorted((o.order_id, o.side, o.price, o.orig_qty, o.executed_qty, o.status)
               for o in ex.open_orders(acct, SYM)),
        sorted((a, b.free, b.locked) for a, b in bal.items()),
        ex.last_price(SYM),
    )


@pytest.mark.parametrize("seed", range(6))
def test_integer_place_and_quiet_cancel_do_what_place_order_and_cancel_order_do(seed: int) -> None:
    """The participants' way in (``place_limit_lots``, ``cancel_quietly``) against the
    Decimal one on a twin exchange: the same outcome (order id and still open, or the same
    error) and the same book, orders and balances after every step, with orders that cross,
    rest, or break a filter (price band, tiny or huge size, zero or negative ticks)."""
    import random

    rng = random.Random(seed)
    twins = [Exchange(clock=ManualClock(T0), seed=11) for _ in range(2)]
    accts = [rich(ex) for ex in twins]
    spec = twins[0].market(SYM)
    tick, step = spec.tick_size, spec.step_size
    mid = int(spec.initial_price / tick)
    placed: list[int] = []
    for _ in range(400):
        outcomes = []
        if placed and rng.random() < 0.3:
            order_id = placed.pop(rng.randrange(len(placed)))
            for i, ex in enumerate(twins):
                try:
                    if i == 0:
                        ex.cancel_order(accts[0], SYM, order_id=order_id)
                    else:
                        ex.cancel_quietly(accts[1], SYM, order_id)
                    outcomes.append("cancelled")
                except ExchangeError as exc:
                    outcomes.append((type(exc).__name__, str(exc)))
        else:
            is_buy = rng.random() < 0.5
            ticks = rng.choice([rng.randrange(mid * 9 // 10, mid * 11 // 10),
                                rng.randrange(-2, mid * 3), mid])
            lots = rng.choice([rng.randrange(1, 400), rng.randrange(-1, 3), 10**9])
            for i, ex in enumerate(twins):
                try:
                    if i == 0:
                        order = ex.place_order(accts[0], SYM, "BUY" if is_buy else "SELL",
                                               "LIMIT", step * lots, tick * ticks)
                        got = (order.order_id, order.status in ("NEW", "PARTIALLY_FILLED"))
                    else:
                        got = ex.place_limit_lots(accts[1], SYM, is_buy, ticks, lots)
                    outcomes.append(got)
                except ExchangeError as exc:
                    outcomes.append((type(exc).__name__, str(exc)))
            if outcomes[0][1] is True:
                placed.append(outcomes[0][0])
        assert outcomes[0] == outcomes[1]
        assert _state(twins[0], accts[0]) == _state(twins[1], accts[1])
