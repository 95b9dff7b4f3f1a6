"""Risk gate: every refusal reason, counting and logging, and the kill-switch latch."""

from __future__ import annotations

import logging
from decimal import Decimal as D

import pytest

from liquidity_bot.config import RiskConfig
from liquidity_bot.domain.order import Side
from liquidity_bot.engine.risk import (
    AccountState,
    RiskGate,
    RiskReason,
    allow_list_from_markets,
)

T0 = 1_700_000_000_000 - (1_700_000_000_000 % 86_400_000) + 3_600_000  # 01:00 UTC on some day

LIMITS = RiskConfig(
    max_order_notional=D("100"),
    max_open_notional_per_side=D("300"),
    max_base_inventory=D("5000"),
    min_base_inventory=D("100"),
    daily_loss_limit=D("50"),
    price_band_pct=D("5"),
    ema_halflife_s=60.0,
    max_fills_per_minute=5,
)

ACCOUNT = AccountState(base_free=D("1000"), quote_free=D("1000"), base_total=D("1000"))


def gate(**kw) -> RiskGate:
    g = RiskGate("XRPUSDT", kw.pop("limits", LIMITS), {"main": ["xrpusdt"], "other": ["BTCUSDT"]})
    g.on_mid(T0, D("0.5"))
    return g


def check(g: RiskGate, side=Side.BUY, price="0.5", qty="100", account=ACCOUNT, key="main", **kw):
    return g.check(side, D(price), D(qty), account, key_label=key, **kw)


def test_a_sane_order_passes():
    g = gate()
    d = check(g)
    assert d.allowed and bool(d) and d.reason is None
    assert check(g, Side.SELL).allowed
    assert g.counts() == {}


@pytest.mark.parametrize(
    ("kwargs", "reason", "words"),
    [
        (dict(price="0"), RiskReason.INVALID_ORDER, "positive"),
        (dict(qty="-1"), RiskReason.INVALID_ORDER, "positive"),
        (dict(key="other"), RiskReason.SYMBOL_NOT_ALLOWED, "not allowed"),
        (dict(key="unknown"), RiskReason.SYMBOL_NOT_ALLOWED, "key_label"),
        (dict(symbol="BTCUSDT"), RiskReason.SYMBOL_NOT_ALLOWED, "BTCUSDT"),
        (dict(qty="201"), RiskReason.MAX_ORDER_NOTIONAL, "max_order_notional"),
        (
            dict(account=AccountState(D("1000"), D("1000"), D("1000"), open_buy_notional=D("251"))),
            RiskReason.MAX_OPEN_NOTIONAL,
            "max_open_notional_per_side",
        ),
        (
            dict(
                side=Side.SELL,
                account=AccountState(D("1000"), D("1000"), D("1000"), open_sell_notional=D("251")),
            ),
            RiskReason.MAX_OPEN_NOTIONAL,
            "SELL",
        ),
        (
            dict(account=AccountState(D("1000"), D("1000"), D("4950"))),
            RiskReason.INVENTORY_BOUND,
            "max_base_inventory",
        ),
        (
            dict(account=AccountState(D("1000"), D("1000"), D("4900"), open_buy_qty=D("50"))),
            RiskReason.INVENTORY_BOUND,
            "open buys",
        ),
        (
            dict(side=Side.SELL, account=AccountState(D("1000"), D("1000"), D("150"))),
            RiskReason.INVENTORY_BOUND,
            "min_base_inventory",
        ),
        (dict(price="0.53", qty="10"), RiskReason.PRICE_BAND, "price_band_pct"),
        (dict(side=Side.SELL, price="0.47", qty="10"), RiskReason.PRICE_BAND, "reference"),
        (
            dict(account=AccountState(D("1000"), D("49.99"), D("1000"))),
            RiskReason.INSUFFICIENT_BALANCE,
            "quote",
        ),
        (
            dict(side=Side.SELL, account=AccountState(D("99"), D("1000"), D("1000"))),
            RiskReason.INSUFFICIENT_BALANCE,
            "base",
        ),
    ],
)
def test_each_refusal_has_a_reason_message_count_and_log(kwargs, reason, words, caplog):
    g = gate()
    with caplog.at_level(logging.WARNING, logger="liquidity_bot.engine.risk"):
        d = check(g, **kwargs)
    assert not d.allowed
    assert d.reason is reason
    assert words in d.message
    assert g.counts() == {reason.value: 1}
    assert any(reason.value in r.getMessage() for r in caplog.records)


def test_limits_are_inclusive_at_the_edge():
    g = gate()
    assert check(g, qty="200").allowed  # notional exactly 100
    edge = AccountState(D("1000"), D("1000"), D("1000"), open_buy_notional=D("200"))
    assert check(g, qty="200", account=edge).allowed  # open exactly 300
    assert check(g, price="0.525", qty="10").allowed  # exactly 5 % from 0.5
    assert check(g, account=AccountState(D("1000"), D("50"), D("1000"))).allowed  # exact balance


def test_no_reference_price_refuses_fail_safe():
    g = RiskGate("XRPUSDT", LIMITS, {"main": ["XRPUSDT"]})
    d = check(g)
    assert d.reason is RiskReason.NO_REFERENCE_PRICE
    g.set_external_reference(D("0.5"))
    assert check(g).allowed


def test_external_reference_overrides_the_ema():
    g = gate()
    g.set_external_reference(D("0.6"))
    assert check(g, price="0.5", qty="10").reason is RiskReason.PRICE_BAND
    assert check(g, price="0.6", qty="10").allowed
    g.set_external_reference(None)
    assert g.reference_price == D("0.5")


def test_ema_reference_is_slow_with_the_configured_half_life():
    g = gate()  # EMA 0.5 at T0, half-life 60 s
    g.on_mid(T0 + 60_000, D("0.7"))  # one half-life later: half-way
    assert g.reference_price == D("0.6")
    g.on_mid(T0 + 60_000, D("0.9"))  # same instant: no extra weight
    assert g.reference_price == D("0.6")
    # a sudden jump of the mid does not drag the band along with it
    assert check(g, price="0.9", qty="10").reason is RiskReason.PRICE_BAND


def test_ema_weights_cached_by_interval_equal_the_formula_and_stay_bounded():
    cached, fresh = gate(), gate()
    t = T0
    for i in range(5000):  # more distinct intervals than the cache keeps
        t += 1 + i
        mid = D("0.5") + D(i % 13) / 1000
        cached.on_mid(t, mid)
        fresh._keep_cache.clear()  # every weight computed afresh
        fresh.on_mid(t, mid)
        assert cached.reference_price == fresh.reference_price
    assert len(cached._keep_cache) <= 4096
    for dt in (1, 137, 1000, 60_000, 3_600_000):  # the weight is 2 ** (-dt / half-life)
        power = D(2) ** (-(D(dt) / 1000) / D(60))
        assert abs(cached._ema_keep(dt) - power) <= power * D("1e-26")


def test_daily_loss_kill_switch_latches_until_reset():
    """``on_loss_limit = "stop"``: the loss of our trading (against holding) latches the kill
    switch."""
    import msgspec

    limits = msgspec.structs.replace(LIMITS, on_loss_limit="stop")
    g = RiskGate(
        "XRPUSDT", limits, {"main": ["XRPUSDT"]}, initial_base=D("1000"), initial_quote=D("500")
    )
    g.on_mid(T0, D("0.5"))
    g.on_fill(T0 + 1, Side.BUY, D("0.5"), D("1000"), fee_quote=D("0.05"))  # we bought 1000
    assert g.daily_pnl == D("-0.05")
    assert check(g).allowed
    g.on_mid(T0 + 2, D("0.46"))  # the 1000 we bought lose 0.04 each: -40.05
    assert not g.killed
    g.on_mid(T0 + 3, D("0.4495"))  # -50.55: limit reached
    assert g.killed and not g.loss_limited
    assert "daily loss" in (g.loss_limit_state or "")
    d = check(g)
    assert d.reason is RiskReason.KILL_SWITCH and "daily_loss_limit" in d.message
    # latched: the price recovering or a new UTC day does not clear it
    g.on_mid(T0 + 4, D("0.6"))
    g.on_mid(T0 + 86_400_000, D("0.6"))
    assert check(g).reason is RiskReason.KILL_SWITCH
    assert g.counts() == {"KILL_SWITCH": 2}
    g.reset_kill_switch()
    assert not g.killed
    g.set_external_reference(D("0.6"))
    assert check(g, price="0.6", qty="10").allowed


def test_the_loss_limit_falls_back_to_minimum_quoting_by_default():
    g = RiskGate("XRPUSDT", LIMITS, {"main": ["XRPUSDT"]}, initial_base=D("1000"))
    g.on_mid(T0, D("0.5"))
    g.on_fill(T0 + 1, Side.BUY, D("0.5"), D("1000"))
    g.on_mid(T0 + 2, D("0.449"))  # -51
    assert g.loss_limited and not g.killed
    assert "minimum obligation" in (g.loss_limit_state or "")
    assert check(g).allowed, "minimum-obligation quoting still places orders"
    g.reset_kill_switch()
    assert not g.loss_limited and g.loss_limit_state is None


def test_a_falling_market_alone_is_no_loss_against_holding():
    """The starting inventory is the client's: a 10 % drop with no trade of ours loses
    nothing here (the demo's inventory used to trip the limit on a 5 % move)."""
    g = RiskGate("XRPUSDT", LIMITS, {"main": ["XRPUSDT"]}, initial_base=D("100000"))
    g.on_mid(T0, D("0.5"))
    g.on_mid(T0 + 1000, D("0.45"))
    assert g.daily_pnl == 0 and not g.killed and not g.loss_limited


def test_new_utc_day_restarts_the_loss_baseline():
    g = RiskGate("XRPUSDT", LIMITS, {"main": ["XRPUSDT"]}, initial_base=D("1000"))
    g.on_mid(T0, D("0.5"))
    g.on_fill(T0 + 1, Side.BUY, D("0.5"), D("1000"))
    g.on_mid(T0 + 1000, D("0.46"))  # -40 today
    g.on_mid(T0 + 86_400_000, D("0.46"))  # next day starts at the current PnL
    assert g.daily_pnl == 0
    g.on_mid(T0 + 86_400_000 + 1000, D("0.42"))  # -40 today again, -80 in two days
    assert not g.killed and not g.loss_limited


def test_fill_rate_stop_latches():
    g = gate()
    for i in range(5):
        g.on_fill(T0 + i * 1000, Side.BUY, D("0.5"), D("1"))
    assert not g.killed and check(g).allowed
    g.on_fill(T0 + 5_000, Side.SELL, D("0.5"), D("1"))  # 6 fills within a minute
    assert g.killed
    d = check(g)
    assert d.reason is RiskReason.FILL_RATE and "max_fills_per_minute" in d.message
    g.on_mid(T0 + 600_000, D("0.5"))  # time passing does not clear it
    assert check(g).reason is RiskReason.FILL_RATE
    g.reset_kill_switch()
    assert check(g).allowed


def test_fills_spread_over_time_do_not_trip_the_rate_stop():
    g = gate()
    for i in range(50):
        g.on_fill(T0 + i * 15_000, Side.BUY if i % 2 else Side.SELL, D("0.5"), D("1"))
    assert not g.killed


def test_counts_accumulate_per_reason():
    g = gate()
    check(g, key="other")
    check(g, key="other")
    check(g, qty="1000")
    check(g)
    assert g.counts() == {"SYMBOL_NOT_ALLOWED": 2, "MAX_ORDER_NOTIONAL": 1}


def test_allow_list_from_config_markets():
    class M:
        def __init__(self, key_label, symbol):
            self.key_label, self.symbol = key_label, symbol

    allow = allow_list_from_markets([M("a", "xrpusdt"), M("a", "BTCUSDT"), M("b", "XRPUSDT")])
    assert allow == {"a": frozenset({"XRPUSDT", "BTCUSDT"}), "b": frozenset({"XRPUSDT"})}


def test_deterministic_same_calls_same_decisions():
    def run():
        g = gate()
        out = []
        for i, mid in enumerate(["0.5", "0.52", "0.49", "0.6", "0.61"]):
            g.on_mid(T0 + i * 10_000, D(mid))
            out.append(check(g, price=mid, qty="10"))
        return out, g.counts()

    assert run() == run()
