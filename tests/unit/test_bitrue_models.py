"""Decoding: documented shapes plus live quirks, Decimal money, exact 64-bit ids."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from liquidity_bot.domain.order import Side
from liquidity_bot.venues.bitrue import models as m
from liquidity_bot.venues.bitrue.models import side_of

BIG = 2**53 + 1  # 9007199254740993: a float would round it


def test_order_ids_above_2_53_stay_exact():
    body = (
        b'{"symbol":"XRPUSDT","orderId":9007199254740993,"orderIdStr":"9007199254740993",'
        b'"clientOrderId":"c1","price":"0.50000000","origQty":"10","executedQty":"2.5",'
        b'"cummulativeQuoteQty":"1.25","status":"PARTIALLY_FILLED","type":"LIMIT","side":"BUY",'
        b'"time":1,"updateTime":2}'
    )
    o = m.decoder(m.Order).decode(body)
    assert o.orderId == BIG and type(o.orderId) is int
    assert o.executedQty == Decimal("2.5") and o.is_open


def test_order_id_str_wins_when_the_number_was_mangled():
    ack = m.decoder(m.OrderAck).decode(
        b'{"symbol":"X","orderId":9007199254740992,"orderIdStr":"9007199254740993"}'
    )
    assert ack.orderId == BIG


def test_trade_accepts_commission_assert_and_lowercase():
    t = m.decoder(m.Trade).decode(
        b'{"symbol":"XRPUSDT","id":"77","orderId":5,"price":"0.5","qty":"3","commission":"0.001",'
        b'"commissionAssert":"usdt","time":9,"isBuyer":false,"isMaker":true}'
    )
    assert t.id == 77 and t.commissionAsset == "USDT" and t.qty == Decimal(3)


def test_partial_balances_and_lowercase_assets():
    a = m.decoder(m.Account).decode(
        b'{"canTrade":true,"balances":[{"asset":"usdt","free":"10.5"},{"asset":"xrp","locked":"3"}]}'
    )
    assert a.balance("USDT").free == Decimal("10.5") and a.balance("usdt").locked == 0
    assert a.balance("XRP").total == Decimal(3)
    assert a.balance("BTC").total == 0


def test_ticker_object_or_array():
    dec = m.decoder(list[m.Ticker24hr] | m.Ticker24hr)
    one = dec.decode(b'{"symbol":"A","lastPrice":"1.5"}')
    many = dec.decode(b'[{"symbol":"A","lastPrice":"1.5"},{"symbol":"B"}]')
    assert isinstance(one, m.Ticker24hr) and one.lastPrice == Decimal("1.5")
    assert [t.symbol for t in many] == ["A", "B"]


def test_depth_levels_ignore_trailing_items_and_accept_numbers():
    d = m.decoder(m.Depth).decode(
        b'{"lastUpdateId":1,"bids":[["4.00000000","431.0",[]]],"asks":[[4.1,12]]}'
    )
    assert d.bids[0] == m.Level(Decimal("4.00000000"), Decimal("431.0"))
    assert d.asks[0].price == Decimal("4.1")


def test_user_order_update_both_event_names():
    dec = m.decoder(m.OrderUpdate)
    for e in ("executionReport", "ORDER"):
        u = dec.decode(
            b'{"e":"%s","s":"XRPUSDT","c":"c1","S":1,"o":1,"q":"10","p":"0.5","x":3,"X":3,'
            b'"i":9007199254740993,"l":"2","L":"0.5","z":"2","n":"0.001","N":"xrp","t":42,"T":7}'
            % e.encode()
        )
        assert u.e == e and u.i == BIG and u.l == Decimal(2) and u.N == "XRP" and u.t == 42


def test_balance_update_partial_entries():
    b = m.decoder(m.BalanceUpdate).decode(
        b'{"e":"BALANCE","B":[{"a":"usdt","F":"5"},{"a":"xrp","L":"1","l":"-1"}]}'
    )
    assert b.B[0].a == "USDT" and b.B[0].F == Decimal(5) and b.B[0].L is None
    assert b.B[1].l == Decimal(-1)


def test_exchange_info_filters_and_rate_limits():
    info = m.decoder(m.ExchangeInfo).decode(
        b'{"rateLimits":[{"rateLimitType":"REQUEST_WEIGHT","interval":"MINUTE","limit":1200}],'
        b'"symbols":[{"symbol":"XRPUSDT","baseAsset":"xrp","quoteAsset":"usdt","filters":['
        b'{"filterType":"PRICE_FILTER","tickSize":"0.0001","priceScale":4},'
        b'{"filterType":"LOT_SIZE","stepSize":"0.1","volumeScale":1,"minVal":"5"}]}]}'
    )
    s = info.symbol("xrpusdt")
    assert s is not None and s.baseAsset == "XRP"
    assert s.filter("PRICE_FILTER").priceScale == 4
    assert s.filter("LOT_SIZE").minVal == Decimal(5)
    assert info.rateLimits[0].limit == 1200


@pytest.mark.parametrize(
    ("raw", "side"),
    [("BUY", Side.BUY), ("sell", Side.SELL), (1, Side.BUY), (2, Side.SELL), ("1", Side.BUY),
     ("2", Side.SELL), (Side.SELL, Side.SELL)],
)
def test_bitrue_side_spellings(raw, side):
    """REST spells the side, the user stream numbers it (1 buy, 2 sell)."""
    assert side_of(raw) is side


@pytest.mark.parametrize("raw", ["HOLD", 0, 3, True, 1.0, None])
def test_bitrue_side_refuses_unknown(raw):
    with pytest.raises(ValueError, match="unknown order side"):
        side_of(raw)


@given(st.one_of(st.none(), st.integers(0, 2**63)),
       st.one_of(st.none(), st.integers(0, 2**63).map(str), st.text(max_size=8)))
def test_acks_prefer_order_id_str_as_order_id_of_does(order_id, order_id_str):
    """Place and cancel answers settle ``orderId`` by the rule: ``orderIdStr`` when present
    and a whole number, else ``orderId``."""
    import json

    from liquidity_bot.venues.bitrue import models

    fields = {"symbol": "X", "orderId": order_id, "orderIdStr": order_id_str}
    body = json.dumps({k: v for k, v in fields.items() if v is not None}).encode()
    want = order_id
    if order_id_str:
        try:
            want = int(order_id_str)
        except ValueError:
            pass
    assert models.decoder(models.OrderAck).decode(body).orderId == want
    assert models.decoder(models.CancelAck).decode(body).orderId == want
