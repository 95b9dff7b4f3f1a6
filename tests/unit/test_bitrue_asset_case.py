"""Asset names in any case decode to one upper-case name, wherever Bitrue sends them.

Live Bitrue mixes cases: the account answer in upper case (the docs' "BTC"), the user stream's
BALANCE entries, exchangeInfo assets and some fee assets in lower case ("usdt"). One asset must
be one key whichever of them a balance or a fill came from (issue 23).
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from liquidity_bot.venues.bitrue import models as m

CASES = ["usdt", "USDT", "Usdt"]
BASE = {"usdt": "xrp", "USDT": "XRP", "Usdt": "Xrp"}


def wire(obj: object) -> bytes:
    return json.dumps(obj).encode()


@pytest.mark.parametrize("name", CASES)
def test_account_balance_names(name: str) -> None:
    a = m.decoder(m.Account).decode(
        wire({"balances": [{"asset": name, "free": "1.5", "locked": "2"}]})
    )
    assert [b.asset for b in a.balances] == ["USDT"]
    for lookup in CASES:
        assert a.balance(lookup).total == Decimal("3.5")


@pytest.mark.parametrize("name", CASES)
def test_stream_balance_entry_names(name: str) -> None:
    u = m.decoder(m.BalanceUpdate).decode(
        wire({"e": "BALANCE", "B": [{"a": name, "F": "1", "T": 5, "f": "1", "t": 0}]})
    )
    assert u.B[0].a == "USDT" and u.B[0].F == Decimal(1) and u.B[0].L is None


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("field", ["commissionAsset", "commissionAssert"])
def test_trade_fee_asset_names(name: str, field: str) -> None:
    trade = {"symbol": "xrpusdt", "id": 1, "orderId": 2, "price": "0.5", "qty": "3",
             "commission": "0.01", field: name, "time": 9, "isBuyer": True, "isMaker": False}
    assert m.decoder(m.Trade).decode(wire(trade)).commissionAsset == "USDT"


@pytest.mark.parametrize("name", CASES)
def test_order_event_fee_asset_names(name: str) -> None:
    event = {"e": "ORDER", "s": "xrpusdt", "c": "c1", "S": 1, "o": 1, "q": "1", "p": "0.5",
             "x": 3, "X": 2, "i": 7, "l": "1", "L": "0.5", "z": "1", "n": "0.001", "N": name,
             "t": 3, "T": 4}
    u = m.decoder(m.OrderUpdate).decode(wire(event))
    assert u.N == "USDT" and u.s == "XRPUSDT"


@pytest.mark.parametrize("name", CASES)
def test_exchange_info_asset_names(name: str) -> None:
    info = {"symbols": [{"symbol": "XRPUSDT", "baseAsset": BASE[name], "quoteAsset": name,
                         "filters": []}]}
    s = m.decoder(m.ExchangeInfo).decode(wire(info)).symbol("xrpusdt")
    assert s is not None and (s.baseAsset, s.quoteAsset) == ("XRP", "USDT")
