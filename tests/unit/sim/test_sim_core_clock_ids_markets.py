"""Clock, id source and market listing of the simulator core."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from bitrue_sim.core import DEFAULT_MARKETS, IdSource, ManualClock, MarketSpec, WallClock
from bitrue_sim.core.markets import exchange_info_symbol


def test_manual_clock_moves_only_when_told() -> None:
    clock = ManualClock(1_000)
    assert clock.now_ms() == 1_000
    assert clock.advance(250) == 1_250
    assert clock.now_ms() == 1_250
    clock.set(500)
    assert clock.now_ms() == 500
    with pytest.raises(ValueError, match="advance"):
        clock.advance(-1)


def test_wall_clock_applies_skew() -> None:
    plain, skewed = WallClock(), WallClock(skew_ms=60_000)
    before = time.time_ns() // 1_000_000
    a, b = plain.now_ms(), skewed.now_ms()
    after = time.time_ns() // 1_000_000
    assert before <= a <= after
    assert before + 60_000 <= b <= after + 60_000
    skewed.skew_ms = -5_000
    assert skewed.now_ms() <= time.time_ns() // 1_000_000 - 5_000 + 1


def test_order_ids_exceed_2_53_increase_and_are_seeded() -> None:
    ids = IdSource(seed=3)
    seq = [ids.next_order_id() for _ in range(1_000)]
    assert all(i > 2**53 for i in seq)
    assert all(i < 2**63 for i in seq)
    assert all(b > a for a, b in zip(seq, seq[1:], strict=False))
    assert any(b - a > 1 for a, b in zip(seq, seq[1:], strict=False)), "ids must not be contiguous"
    again = IdSource(seed=3)
    assert [again.next_order_id() for _ in range(1_000)] == seq
    other = IdSource(seed=4)
    assert [other.next_order_id() for _ in range(10)] != seq[:10]
    # a float cannot carry them: this is the point of ids above 2**53
    assert any(int(float(i)) != i for i in seq)


def test_trade_ids_increase_by_one() -> None:
    ids = IdSource(seed=0)
    first = ids.next_trade_id()
    assert [ids.next_trade_id() for _ in range(3)] == [first + 1, first + 2, first + 3]


def test_default_markets_cover_liquid_thin_and_btc() -> None:
    by_symbol = {m.symbol: m for m in DEFAULT_MARKETS}
    assert {"XRPUSDT", "NOVAUSDT", "BTCUSDT"} <= set(by_symbol)
    assert Decimal("0.4") <= by_symbol["XRPUSDT"].initial_price <= Decimal("0.6")
    assert by_symbol["NOVAUSDT"].initial_price == Decimal("0.0123")
    for m in DEFAULT_MARKETS:
        assert m.tick_size == Decimal(1).scaleb(-m.price_scale)
        assert m.step_size == Decimal(1).scaleb(-m.volume_scale)
        assert m.initial_price % m.tick_size == 0


def test_exchange_info_symbol_has_bitrue_filters() -> None:
    spec = next(m for m in DEFAULT_MARKETS if m.symbol == "XRPUSDT")
    entry = exchange_info_symbol(spec)
    assert entry["symbol"] == "XRPUSDT"
    assert entry["baseAsset"] == "xrp" and entry["quoteAsset"] == "usdt"  # lowercase as live
    filters = {f["filterType"]: f for f in entry["filters"]}
    assert filters["PRICE_FILTER"] == {
        "filterType": "PRICE_FILTER",
        "minPrice": "0.0001",
        "maxPrice": "100",
        "tickSize": "0.0001",
        "priceScale": 4,
    }
    assert filters["LOT_SIZE"]["minQty"] == "0.1"
    assert filters["LOT_SIZE"]["stepSize"] == "0.1"
    assert filters["LOT_SIZE"]["volumeScale"] == 1
    assert filters["LOT_SIZE"]["minVal"] == "1"
    assert filters["PERCENT_PRICE_BY_SIDE"]["bidMultiplierUp"] == "1.1"
    assert filters["PERCENT_PRICE_BY_SIDE"]["askMultiplierDown"] == "0.9"
    assert entry["orderTypes"] == ["MARKET", "LIMIT"]


def test_exchange_info_never_uses_exponent_notation() -> None:
    spec = next(m for m in DEFAULT_MARKETS if m.symbol == "NOVAUSDT")
    text = repr(exchange_info_symbol(spec))
    assert "E-" not in text and "e-" not in text
    assert "'tickSize': '0.000001'" in text


def test_market_spec_rejects_lowercase_and_off_tick_price() -> None:
    base = next(m for m in DEFAULT_MARKETS if m.symbol == "XRPUSDT")
    fields = {k: getattr(base, k) for k in base.__dataclass_fields__}
    with pytest.raises(ValueError, match="upper case"):
        MarketSpec(**{**fields, "symbol": "xrpusdt"})
    with pytest.raises(ValueError, match="tick_size"):
        MarketSpec(**{**fields, "initial_price": Decimal("0.50005")})
