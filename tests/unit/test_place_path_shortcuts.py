"""The place path's shortcuts give the old path's answers: ``Order`` checks a Decimal price and
quantity and a ``Side`` inline (``_positive_decimal`` and ``Side.parse`` only for the rest), and
``AccountState`` is a frozen struct that holds, compares and refuses changes as the frozen
dataclass did."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liquidity_bot.domain.order import Order, Side, _positive_decimal
from liquidity_bot.engine.risk import AccountState


class _SubDecimal(D):
    pass


def _outcome(make):  # noqa: ANN001, ANN202
    try:
        return ("ok", make())
    except Exception as exc:  # noqa: BLE001 - the error is the answer compared
        return (type(exc), str(exc))


def _old_order(cid: str, side: object, price: object, qty: object) -> object:
    """``Order.__post_init__``'s checks as written before: ``Side.parse`` and
    ``_positive_decimal`` called for every order."""
    parsed = Side.parse(side)
    _positive_decimal(price, f"order {cid} price")
    _positive_decimal(qty, f"order {cid} qty")
    return (parsed, price, qty)


values = st.one_of(
    st.decimals(allow_nan=True, allow_infinity=True, places=6),
    st.sampled_from([D(0), D("-0"), D("-1.5"), D("0.0001"), D("NaN"), D("sNaN"), D("Infinity"),
                     D("-Infinity"), _SubDecimal("0.5"), _SubDecimal("-2"), _SubDecimal("NaN"),
                     1, 0, 1.5, "0.5", None]),
)
sides = st.sampled_from([Side.BUY, Side.SELL, "BUY", "sell", " Buy ", "HOLD", 1, None])


@settings(max_examples=600, deadline=None)
@given(side=sides, price=values, qty=values)
def test_an_order_accepts_and_refuses_what_the_old_checks_did(side, price, qty) -> None:  # noqa: ANN001
    old = _outcome(lambda: _old_order("c1", side, price, qty))
    new = _outcome(lambda: Order(client_order_id="c1", symbol="XRPUSDT", side=side,
                                 price=price, qty=qty))
    assert old[0] == new[0]
    if old[0] == "ok":
        order = new[1]
        assert (order.side, order.price, order.qty) == old[1]
        assert type(order.side) is Side
    else:
        assert old[1] == new[1]


def test_account_state_holds_compares_and_stays_frozen() -> None:
    one = AccountState(D(1), D(2), D(3), open_buy_notional=D("4.5"))
    assert (one.base_free, one.quote_free, one.base_total) == (D(1), D(2), D(3))
    assert (one.open_buy_notional, one.open_sell_notional, one.open_buy_qty,
            one.open_sell_qty) == (D("4.5"), D(0), D(0), D(0))
    same = AccountState(base_free=D(1), quote_free=D(2), base_total=D(3),
                        open_buy_notional=D("4.50"))
    assert one == same and hash(one) == hash(same)
    assert one != AccountState(D(1), D(2), D(3))
    with pytest.raises(AttributeError):
        one.base_free = D(5)  # type: ignore[misc]
    with pytest.raises(TypeError):
        AccountState(D(1), D(2))  # type: ignore[call-arg]
