"""Instrument: building from exchangeInfo as Bitrue serves it, rounding, and order checks."""

from __future__ import annotations

import copy
import json
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liquidity_bot.domain.instrument import (
    Instrument,
    InstrumentError,
    Rule,
    grid_lcm,
)
from liquidity_bot.domain.order import Order, Side
from liquidity_bot.venues.bitrue.instruments import (
    CODE_INVALID_SYMBOL,
    CODE_INVALID_VOLUME_OR_PRICE,
    CODE_REJECTED,
    RULE_CODES,
    instrument_from_exchange_info,
)

D = Decimal

# The example of Bitrue's spot docs (as quoted by Hummingbot's connector), with the lowercase
# assets the live API returns.
DOCS_SYMBOL_JSON = """
{"symbol": "XRPUSDT", "status": "TRADING", "baseAsset": "xrp", "baseAssetPrecision": 8,
 "quoteAsset": "usdt", "quotePrecision": 8, "orderTypes": ["LIMIT", "MARKET"],
 "icebergAllowed": false,
 "filters": [
   {"filterType": "PRICE_FILTER", "minPrice": "0.666", "maxPrice": "66.600",
    "tickSize": "0.01", "priceScale": 2},
   {"filterType": "PERCENT_PRICE_BY_SIDE", "bidMultiplierUp": "1.3", "bidMultiplierDown": "0.1",
    "askMultiplierUp": "10.0", "askMultiplierDown": "0.7", "avgPriceMins": "1"},
   {"filterType": "LOT_SIZE", "minQty": "0.1", "minVal": "10.0", "maxQty": "999999999999999",
    "stepSize": "0.01", "volumeScale": 2}]}
"""
# The same rules with JSON numbers instead of strings.
NUMBERS_SYMBOL_JSON = """
{"symbol": "XRPUSDT", "status": "TRADING", "baseAsset": "XRP", "quoteAsset": "USDT",
 "filters": [
   {"filterType": "PRICE_FILTER", "minPrice": 0.666, "maxPrice": 66.6, "tickSize": 0.01,
    "priceScale": 2},
   {"filterType": "PERCENT_PRICE_BY_SIDE", "bidMultiplierUp": 1.3, "bidMultiplierDown": 0.1,
    "askMultiplierUp": 10, "askMultiplierDown": 0.7, "avgPriceMins": 1},
   {"filterType": "LOT_SIZE", "minQty": 0.1, "minVal": 10, "maxQty": 999999999999999,
    "stepSize": 0.01, "volumeScale": 2}]}
"""
# A live answer captured by ccxt (bitrue.fetch_markets): no tickSize, no stepSize.
SCALE_ONLY_SYMBOL = {
    "symbol": "SHABTC",
    "status": "TRADING",
    "baseAsset": "sha",
    "baseAssetPrecision": 0,
    "quoteAsset": "btc",
    "quotePrecision": 10,
    "orderTypes": ["MARKET", "LIMIT"],
    "icebergAllowed": False,
    "filters": [
        {
            "filterType": "PRICE_FILTER",
            "minPrice": "0.00000001349",
            "maxPrice": "0.00000017537",
            "priceScale": 10,
        },
        {
            "filterType": "LOT_SIZE",
            "minQty": "1.0",
            "minVal": "0.00020",
            "maxQty": "1000000000",
            "volumeScale": 0,
        },
    ],
    "defaultPrice": "0.0000006100",
}


def docs_dict() -> dict:
    return json.loads(DOCS_SYMBOL_JSON, parse_float=Decimal)


@pytest.fixture
def xrp() -> Instrument:
    return instrument_from_exchange_info(docs_dict())


def with_filter(data: dict, filter_type: str, **changes) -> dict:
    data = copy.deepcopy(data)
    for entry in data["filters"]:
        if entry["filterType"] == filter_type:
            for key, value in changes.items():
                if value is None:
                    entry.pop(key, None)
                else:
                    entry[key] = value
    return data


# --- building -----------------------------------------------------------------------------------


def test_from_docs_example(xrp: Instrument):
    assert (xrp.symbol, xrp.base, xrp.quote, xrp.status) == ("XRPUSDT", "XRP", "USDT", "TRADING")
    assert (xrp.tick, xrp.step, xrp.price_scale, xrp.volume_scale) == (D("0.01"), D("0.01"), 2, 2)
    assert (xrp.min_price, xrp.max_price) == (D("0.666"), D("66.600"))
    assert (xrp.min_qty, xrp.max_qty, xrp.min_val) == (D("0.1"), D("999999999999999"), D("10.0"))
    assert (xrp.bid_multiplier_up, xrp.bid_multiplier_down) == (D("1.3"), D("0.1"))
    assert (xrp.ask_multiplier_up, xrp.ask_multiplier_down) == (D("10.0"), D("0.7"))


def test_json_numbers_give_the_same_rules_when_decoded_as_decimal(xrp: Instrument):
    from_numbers = instrument_from_exchange_info(
        json.loads(NUMBERS_SYMBOL_JSON, parse_float=Decimal)
    )
    assert from_numbers == xrp  # Decimal equality: 66.6 == 66.600, 10 == 10.0


def test_floats_are_refused_with_a_hint():
    with pytest.raises(TypeError, match="parse_float=Decimal"):
        instrument_from_exchange_info(json.loads(NUMBERS_SYMBOL_JSON))


def test_scale_only_symbol_from_the_live_api():
    sha = instrument_from_exchange_info(SCALE_ONLY_SYMBOL)
    assert (sha.symbol, sha.base, sha.quote) == ("SHABTC", "SHA", "BTC")
    assert sha.tick == D("1E-10") and sha.step == D(1)
    assert sha.bid_multiplier_up is None  # no PERCENT_PRICE_BY_SIDE filter: no band


@pytest.mark.parametrize(
    ("tick_size", "price_scale", "expected"),
    [
        ("0.01", 2, "0.01"),  # agree
        ("0.05", 2, "0.05"),  # tickSize coarser
        ("0.001", 2, "0.01"),  # scale coarser: 0.001-steps would need 3 places
        ("0.01000000", 2, "0.01"),  # trailing zeros
        ("0.003", 2, "0.03"),  # neither divides the other: the grid both accept
        ("0.01", None, "0.01"),
        (None, 4, "0.0001"),
        ("0", 3, "0.001"),  # tickSize 0 = not enforced
        ("10", 0, "10"),
    ],
)
def test_tick_is_the_grid_both_tick_size_and_price_scale_accept(tick_size, price_scale, expected):
    data = with_filter(docs_dict(), "PRICE_FILTER", tickSize=tick_size, priceScale=price_scale)
    tick = instrument_from_exchange_info(data).tick
    assert tick == D(expected) and str(tick) == expected


def test_step_follows_the_same_rule():
    data = with_filter(docs_dict(), "LOT_SIZE", stepSize="0.5", volumeScale="0")
    assert instrument_from_exchange_info(data).step == D(1)


@pytest.mark.parametrize(("a", "b", "lcm"), [("0.003", "0.01", "0.03"), ("0.25", "0.1", "0.5"),
                                            ("2", "0.5", "2"), ("1E-8", "1E-2", "0.01")])
def test_grid_lcm(a, b, lcm):
    assert grid_lcm(D(a), D(b)) == D(lcm)


def test_missing_filters_are_refused_by_name():
    data = docs_dict()
    data["filters"] = [f for f in data["filters"] if f["filterType"] != "LOT_SIZE"]
    with pytest.raises(InstrumentError, match="XRPUSDT: exchangeInfo lacks LOT_SIZE"):
        instrument_from_exchange_info(data)


def test_no_tick_information_at_all_is_refused():
    data = with_filter(docs_dict(), "PRICE_FILTER", tickSize=None, priceScale=None)
    with pytest.raises(InstrumentError, match="neither a positive tickSize nor a priceScale"):
        instrument_from_exchange_info(data)


@pytest.mark.parametrize("bad", ["abc", [1], "NaN", "-1"])
def test_malformed_numbers_are_refused(bad):
    data = with_filter(docs_dict(), "PRICE_FILTER", priceScale=bad)
    with pytest.raises(InstrumentError, match="priceScale"):
        instrument_from_exchange_info(data)


def test_zero_maximum_means_no_limit(xrp: Instrument):
    data = with_filter(docs_dict(), "PRICE_FILTER", maxPrice="0")
    data = with_filter(data, "LOT_SIZE", maxQty="0")
    inst = instrument_from_exchange_info(data)
    assert inst.max_price is None and inst.max_qty is None
    assert inst.check(Side.SELL, D("100000.00"), D("1000000000000000000.00")) == []


def test_instrument_is_frozen(xrp: Instrument):
    with pytest.raises(AttributeError):
        xrp.tick = D("1")  # type: ignore[misc]


# --- rounding -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("price", "side", "expected"),
    [
        ("1.234", Side.BUY, "1.23"),
        ("1.234", Side.SELL, "1.24"),
        ("1.23", Side.BUY, "1.23"),
        ("1.23", Side.SELL, "1.23"),
        ("1.2300001", "SELL", "1.24"),
        ("1.2399999", "buy", "1.23"),
        ("0.009", Side.BUY, "0.00"),
    ],
)
def test_round_price_examples(xrp: Instrument, price, side, expected):
    rounded = xrp.round_price(D(price), side)
    assert rounded == D(expected) and str(rounded) == expected


@pytest.mark.parametrize(("qty", "expected"), [("3.999", "3.99"), ("4", "4.00"), ("0.001", "0.00")])
def test_round_qty_examples(xrp: Instrument, qty, expected):
    rounded = xrp.round_qty(D(qty))
    assert rounded == D(expected) and str(rounded) == expected


TICKS = st.sampled_from([D("1E-8"), D("0.0001"), D("0.01"), D("0.03"), D("0.05"), D("0.5"),
                         D("1"), D("10"), D("25")])
PRICES = st.decimals(min_value=D("1E-8"), max_value=D("1E7"), places=10, allow_nan=False,
                     allow_infinity=False)


def instrument_with(tick: Decimal, step: Decimal) -> Instrument:
    data = with_filter(docs_dict(), "PRICE_FILTER", tickSize=str(tick), priceScale=None,
                       minPrice="0", maxPrice="0")
    data = with_filter(data, "LOT_SIZE", stepSize=str(step), volumeScale=None, minQty="0",
                       maxQty="0", minVal="0")
    inst = instrument_from_exchange_info(data)
    assert inst.tick == tick and inst.step == step
    return inst


@settings(derandomize=True, deadline=None)
@given(tick=TICKS, price=PRICES)
def test_rounded_prices_are_on_tick_and_never_more_aggressive(tick, price):
    inst = instrument_with(tick, D("0.01"))
    bid = inst.round_price(price, Side.BUY)
    ask = inst.round_price(price, Side.SELL)
    assert bid % tick == 0 and ask % tick == 0
    assert bid <= price <= ask
    assert price - bid < tick and ask - price < tick
    assert inst.is_on_tick(bid) and inst.is_on_tick(ask)
    if price % tick == 0:
        assert bid == ask == price


@settings(derandomize=True, deadline=None)
@given(step=TICKS, qty=PRICES)
def test_rounded_qty_is_on_step_and_never_more(step, qty):
    inst = instrument_with(D("0.01"), step)
    rounded = inst.round_qty(qty)
    assert rounded % step == 0
    assert rounded <= qty and qty - rounded < step


@settings(derandomize=True, deadline=None)
@given(price=PRICES, qty=PRICES, side=st.sampled_from(list(Side)))
def test_rounded_orders_never_break_the_grid_rules(price, qty, side):
    inst = instrument_from_exchange_info(docs_dict())
    rules = {v.rule for v in inst.check(side, inst.round_price(price, side), inst.round_qty(qty))}
    assert Rule.TICK_SIZE not in rules and Rule.STEP_SIZE not in rules


# --- checks -------------------------------------------------------------------------------------


def rules_of(violations) -> set[Rule]:
    return {v.rule for v in violations}


def test_a_good_order_passes(xrp: Instrument):
    assert xrp.check(Side.BUY, D("1.23"), D("100.00"), last_price=D("1.25")) == []
    assert xrp.check(Side.SELL, D("1.30"), D("8"), last_price=D("1.25")) == []


@pytest.mark.parametrize(
    ("side", "price", "qty", "rule", "code"),
    [
        (Side.BUY, "0.60", "100", Rule.MIN_PRICE, CODE_INVALID_VOLUME_OR_PRICE),
        (Side.SELL, "66.61", "100", Rule.MAX_PRICE, CODE_INVALID_VOLUME_OR_PRICE),
        (Side.BUY, "1.234", "100", Rule.TICK_SIZE, CODE_INVALID_VOLUME_OR_PRICE),
        (Side.BUY, "0", "100", Rule.PRICE_NOT_POSITIVE, CODE_INVALID_VOLUME_OR_PRICE),
        (Side.BUY, "1.00", "1000000000000000", Rule.MAX_QTY, CODE_INVALID_VOLUME_OR_PRICE),
        (Side.BUY, "1.00", "100.001", Rule.STEP_SIZE, CODE_INVALID_VOLUME_OR_PRICE),
        (Side.BUY, "1.00", "-1", Rule.QTY_NOT_POSITIVE, CODE_INVALID_VOLUME_OR_PRICE),
        (Side.BUY, "1.00", "9.99", Rule.MIN_NOTIONAL, CODE_INVALID_VOLUME_OR_PRICE),
    ],
)
def test_each_rule_alone(xrp: Instrument, side, price, qty, rule, code):
    violations = xrp.check(side, D(price), D(qty))
    assert [(v.rule, RULE_CODES[v.rule]) for v in violations] == [(rule, code)]
    assert violations[0].message.startswith("XRPUSDT: ")


def test_min_qty_alone():
    # Below minQty the notional is below minVal too for this symbol; take minVal away.
    inst = instrument_from_exchange_info(with_filter(docs_dict(), "LOT_SIZE", minVal="0"))
    violations = inst.check(Side.BUY, D("66.00"), D("0.09"))
    assert [(v.rule, RULE_CODES[v.rule]) for v in violations] == [(Rule.MIN_QTY, CODE_INVALID_VOLUME_OR_PRICE)]


def test_every_violation_is_reported_at_once(xrp: Instrument):
    violations = xrp.check(Side.BUY, D("70.001"), D("0.001"), last_price=D("1"))
    assert rules_of(violations) == {
        Rule.MAX_PRICE,
        Rule.TICK_SIZE,
        Rule.MIN_QTY,
        Rule.STEP_SIZE,
        Rule.MIN_NOTIONAL,
        Rule.PERCENT_PRICE_BY_SIDE,
    }
    tick = next(v for v in violations if v.rule is Rule.TICK_SIZE)
    assert "round_price" in tick.message and "70.00" in tick.message


def test_min_notional_edge_is_inclusive(xrp: Instrument):
    assert xrp.check(Side.BUY, D("1.00"), D("10.00")) == []  # exactly minVal
    assert rules_of(xrp.check(Side.BUY, D("1.00"), D("9.99"))) == {Rule.MIN_NOTIONAL}


def test_min_notional_is_also_checked_at_the_last_price(xrp: Instrument):
    # 10 x 1.10 = 11 passes at the order price, but 10 x 0.90 = 9 < minVal at the last price
    violations = xrp.check(Side.SELL, D("1.10"), D("10"), last_price=D("0.90"))
    assert rules_of(violations) == {Rule.MIN_NOTIONAL}
    assert "last price" in violations[0].message


# Band for last price 2: bids within [0.2, 2.6], asks within [1.4, 20.0]; edges inclusive.
@pytest.mark.parametrize(
    ("side", "price", "ok"),
    [
        (Side.BUY, "2.60", True),
        (Side.BUY, "2.61", False),
        (Side.BUY, "0.70", True),  # above 0.2 (0.666 minPrice also holds)
        (Side.SELL, "1.40", True),
        (Side.SELL, "1.39", False),
        (Side.SELL, "20.00", True),
        (Side.SELL, "20.01", False),
    ],
)
def test_percent_price_band_by_side(xrp: Instrument, side, price, ok):
    violations = xrp.check(side, D(price), D("100"), last_price=D("2"))
    if ok:
        assert violations == []
    else:
        assert [(v.rule, RULE_CODES[v.rule]) for v in violations] == [
            (Rule.PERCENT_PRICE_BY_SIDE, CODE_REJECTED)
        ]


def test_bid_band_lower_edge():
    data = with_filter(docs_dict(), "PRICE_FILTER", minPrice="0.01")
    inst = instrument_from_exchange_info(data)
    last = D("10")
    assert inst.price_band(Side.BUY, last) == (D("1.0"), D("13.0"))
    assert inst.check(Side.BUY, D("1.00"), D("100"), last_price=last) == []
    assert rules_of(inst.check(Side.BUY, D("0.99"), D("100"), last_price=last)) == {
        Rule.PERCENT_PRICE_BY_SIDE
    }


def test_band_is_skipped_without_a_last_price(xrp: Instrument):
    assert xrp.check(Side.BUY, D("66.00"), D("100")) == []


def test_check_order_checks_the_symbol(xrp: Instrument):
    order = Order("cid", "btcusdt", Side.BUY, D("1.23"), D("100"))
    assert [(v.rule, RULE_CODES[v.rule]) for v in xrp.check_order(order)] == [
        (Rule.SYMBOL, CODE_INVALID_SYMBOL)
    ]
    good = Order("cid", "xrpusdt", Side.BUY, D("1.23"), D("100"))
    assert xrp.check_order(good, last_price=D("1.2")) == []


def test_halted_symbol_is_rejected():
    data = docs_dict()
    data["status"] = "HALT"
    inst = instrument_from_exchange_info(data)
    assert [(v.rule, RULE_CODES[v.rule]) for v in inst.check(Side.BUY, D("1.23"), D("100"))] == [
        (Rule.STATUS, CODE_REJECTED)
    ]
