"""Accounts without history (synthetic participants) and accounts whose events are off.

H01 an account without history forgets closed orders and fills; open ones stay usable
H02 without history, balances and the other side's history are exactly as with history
H03 account events off: no OrderChanged/BalanceChanged for that account, market events stay,
    and the exchange ends in the same state as with events on
H04 a long participants' run keeps only open orders in memory (the 24 h memory fix)
"""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from bitrue_sim.core import BalanceChanged, BookChanged, Exchange, ManualClock, OrderChanged
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
