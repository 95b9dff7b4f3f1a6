"""Accounts without history (synthetic participants) and accounts whose events are off.

H01 an account without history forgets closed orders and fills; open ones stay usable
H02 without history, balances and the other side's history are exactly as with history
H03 account events off: no OrderChanged/BalanceChanged for that account, market events stay,
    and the exchange ends in the same state as with events on
H04 a long participants' run keeps only open orders in memory (the 24 h memory fix)
H05 random flows: with a listener (all accounts, or one account's events off, or one account
    without history) every call returns the same snapshot and leaves the same balances and
    books as without; each order's last event is its returned (final) snapshot
"""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bitrue_sim.core import BalanceChanged, BookChanged, Exchange, ManualClock, OrderChanged
from bitrue_sim.core.model import TradeHappened
from bitrue_sim.errors import ExchangeError
from bitrue_sim.virtual import VirtualVenue

SYM = "XRPUSDT"
T0 = 1_700_000_000_000
FUNDS = {"USDT": D("10000"), "XRP": D("10000")}


def _pair(history: bool, maker_fee: str = "0.001") -> tuple[Exchange, int, int]:
    ex = Exchange(clock=ManualClock(T0), seed=5)
    quiet = ex.create_account(FUNDS, maker_commission=D(maker_fee), keep_history=history)
    real = ex.create_account(FUNDS)
    return ex, quiet, real


def _story(ex: Exchange, quiet: int, real: int) -> list[int]:
    """quiet rests two asks; real takes one and a half; quiet cancels the rest; returns ids."""
    a = ex.place_order(quiet, SYM, "SELL", "LIMIT", D("100.0"), D("0.5010")).order_id
    b = ex.place_order(quiet, SYM, "SELL", "LIMIT", D("100.0"), D("0.5020")).order_id
    ex.place_order(real, SYM, "BUY", "LIMIT", D("150.0"), D("0.5020"))
    return [a, b]


def test_h01_no_history_forgets_closed_orders_and_fills():
    ex, quiet, real = _pair(history=False)
    filled, partial = _story(ex, quiet, real)
    with pytest.raises(ExchangeError) as err:
        ex.get_order(quiet, SYM, order_id=filled)
    assert (err.value.http_status, err.value.code) == (200, -2013)
    still_open = ex.get_order(quiet, SYM, order_id=partial)
    assert still_open.status == "PARTIALLY_FILLED" and still_open.executed_qty == D("50.0")
    assert [o.order_id for o in ex.all_orders(quiet, SYM)] == [partial]
    assert ex.my_trades(quiet, SYM) == []
    assert [o.order_id for o in ex.ledger(quiet)["orders"]] == [partial]
    assert ex.cancel_order(quiet, SYM, order_id=partial).status == "CANCELED"
    assert ex.ledger(quiet) == {"orders": [], "fills": []}
    assert ex._orders.keys().isdisjoint({filled, partial})  # nothing kept for it
    # the maker fees it paid are still counted
    assert ex.fees_collected()["USDT"] == D("0.001") * (D("50.10") + D("25.10"))


def test_h02_balances_and_the_real_account_are_unchanged_by_the_option():
    results = []
    for history in (True, False):
        ex, quiet, real = _pair(history=history)
        _, partial = _story(ex, quiet, real)
        ex.cancel_order(quiet, SYM, order_id=partial)
        results.append((ex.balances(quiet), ex.balances(real), ex.ledger(real), ex.depth(SYM)))
    assert results[0] == results[1]


def _recorded(emit: bool) -> tuple[list[object], Exchange, int, int]:
    ex, quiet, real = _pair(history=True)
    seen: list[object] = []
    ex.subscribe(seen.append)
    if not emit:
        ex.set_account_events(quiet, False)
    _, partial = _story(ex, quiet, real)
    ex.cancel_order(quiet, SYM, order_id=partial)
    return seen, ex, quiet, real


def _account_of(event: object) -> int | None:
    if isinstance(event, OrderChanged):
        return event.order.account_id
    if isinstance(event, BalanceChanged):
        return event.account_id
    return None


def test_h03_account_events_off():
    on, ex_on, quiet, real = _recorded(emit=True)
    off, ex_off, _, _ = _recorded(emit=False)
    assert any(_account_of(e) == quiet for e in on)
    assert not any(_account_of(e) == quiet for e in off)
    # the other account's events and the market events are exactly the same
    assert [e for e in on if _account_of(e) != quiet] == off
    assert sum(isinstance(e, BookChanged) for e in off) == 4
    for ex in (ex_on, ex_off):
        assert ex.balances(quiet) == ex_on.balances(quiet)
        assert ex.ledger(quiet) == ex_on.ledger(quiet)
        assert ex.ledger(real) == ex_on.ledger(real)
    with pytest.raises(KeyError):
        ex_off.set_account_events(99, False)


def test_h03b_trade_events_only_for_a_listener_that_wants_them():
    """A listener subscribed with ``trades=False`` hears everything else exactly as before;
    no TradeHappened is built while no listener wants them, and the exchange does the same."""
    heard = []
    for trades in (True, False):
        ex, quiet, real = _pair(history=True)
        seen: list[object] = []
        ex.subscribe(seen.append, trades=trades)
        _, partial = _story(ex, quiet, real)
        ex.cancel_order(quiet, SYM, order_id=partial)
        heard.append((seen, ex.balances(quiet), ex.balances(real), ex.ledger(real),
                      ex.depth(SYM), ex.recent_trades(SYM, 10)))
    (with_trades, *state_a), (without, *state_b) = heard
    assert sum(isinstance(e, TradeHappened) for e in with_trades) == 2
    assert not any(isinstance(e, TradeHappened) for e in without)
    assert [e for e in with_trades if not isinstance(e, TradeHappened)] == without
    assert state_a == state_b
    # one listener that wants them is enough for every listener to hear them
    ex, quiet, real = _pair(history=True)
    first: list[object] = []
    second: list[object] = []
    ex.subscribe(first.append, trades=False)
    ex.subscribe(second.append)
    _story(ex, quiet, real)
    assert first == second and any(isinstance(e, TradeHappened) for e in first)
    ex.unsubscribe(second.append)
    ex.place_order(real, SYM, "BUY", "LIMIT", D("10.0"), D("0.5020"))
    assert not any(isinstance(e, TradeHappened) for e in first[len(second):])


def test_h04_participants_keep_only_open_orders():
    venue = VirtualVenue("volatile", seed=4, symbols=["XRPUSDT"])
    venue.run_for(30 * 60_000)
    stats = venue.participants.stats()
    assert stats.requotes > 5_000 and stats.taker_orders > 1_000
    ex = venue.exchange
    maker, taker = venue.participants.maker_account, venue.participants.taker_account
    open_ids = {o.order_id for o in ex.open_orders(maker)}
    assert set(ex._orders) == open_ids  # no closed order of theirs is kept
    assert ex.my_trades(taker, SYM) == [] and ex.all_orders(taker, SYM) == []


NOVA = "NOVAUSDT"  # tick 0.000001, step 1: small prices, whole lots
START = {"USDT": D("500"), "NOVA": D("40000")}
flow_op = st.one_of(
    st.tuples(st.just("limit"), st.integers(0, 2), st.booleans(), st.integers(-1500, 1500),
              st.integers(1, 30_000)),
    st.tuples(st.just("market"), st.integers(0, 2), st.booleans(), st.integers(1, 20_000)),
    st.tuples(st.just("quote"), st.integers(0, 2), st.integers(1, 200)),
    st.tuples(st.just("cancel"), st.integers(0, 2), st.integers(0, 50)),
)


def _flow(ops: list, mode: str) -> tuple:
    """Run ``ops``; mode: "none" (no listener), "all", "quiet" (account 0's events off),
    "forget" (account 0 without history). Returns what every call answered and the end state,
    plus the recorded events and the exchange."""
    ex = Exchange(clock=ManualClock(T0), seed=3)
    seen: list[object] = []
    if mode != "none":
        ex.subscribe(seen.append)
    rates = [("0.002", "0.002"), ("0", "0.001"), ("0.0015", "0.0035")]
    accounts = [
        ex.create_account(START, maker_commission=D(m), taker_commission=D(t),
                          keep_history=not (mode == "forget" and i == 0))
        for i, (m, t) in enumerate(rates)
    ]
    if mode == "quiet":
        ex.set_account_events(accounts[0], False)
    tick = ex.market(NOVA).tick_size
    answers: list[object] = []
    for item in ops:
        kind, who = item[0], accounts[item[1]]
        try:
            if kind == "limit":
                _, _, is_buy, offset, lots = item
                price = max(1, int(ex.last_price(NOVA) / tick) + offset) * tick
                answers.append(ex.place_order(who, NOVA, "BUY" if is_buy else "SELL", "LIMIT",
                                              D(lots), price))
            elif kind == "market":
                answers.append(ex.place_order(who, NOVA, "BUY" if item[2] else "SELL", "MARKET",
                                              D(item[3]), None))
            elif kind == "quote":
                answers.append(ex.place_order(who, NOVA, "BUY", "MARKET", None, None,
                                              quote_order_qty=D(item[2])))
            else:
                open_orders = ex.open_orders(who, NOVA)
                if open_orders:
                    target = open_orders[item[2] % len(open_orders)]
                    answers.append(ex.cancel_order(who, NOVA, order_id=target.order_id))
        except ExchangeError as err:
            answers.append((err.http_status, err.code))
    state = (answers, [ex.balances(a) for a in accounts], ex.depth(NOVA, 0),
             ex.fees_collected(), [ex.ledger(a) for a in accounts[1:]])
    return state, seen, ex


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(flow_op, min_size=1, max_size=50))
def test_h05_listeners_and_options_never_change_what_the_exchange_does(ops: list) -> None:
    plain, _, _ = _flow(ops, "none")
    for mode in ("all", "quiet", "forget"):
        state, seen, ex = _flow(ops, mode)
        assert state == plain, mode
        last = {e.order.order_id: e.order for e in seen if isinstance(e, OrderChanged)}
        if mode == "quiet":
            assert all(o.account_id != 1 for o in last.values())
        # every order's latest event is its final state (the answer of the call that made it)
        for account_id in (1, 2, 3) if mode == "all" else (2, 3):
            for order in ex.ledger(account_id)["orders"]:
                assert last[order.order_id] == order, (mode, order)
