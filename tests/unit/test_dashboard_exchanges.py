"""The dashboard's state keeps one token's markets on two exchanges apart and groups them by
exchange (a market is (exchange, symbol); its name is ``exchange:SYMBOL`` off Bitrue)."""

from __future__ import annotations

from liquidity_bot.reporting.kpi import Breach
from liquidity_bot.web.dashboard import DashboardState


def test_markets_of_two_exchanges_are_apart_and_grouped() -> None:
    state = DashboardState()
    state.update_market("XRPUSDT", status="quoting", exchange="bitrue")
    state.update_market("binance:XRPUSDT", status="stale", exchange="binance")
    state.add_breach(Breach("XRPUSDT", 1, 2, ("two_sided",), ()), "binance:XRPUSDT")
    snap = state.snapshot()
    assert snap["exchanges"] == {"binance": ["binance:XRPUSDT"], "bitrue": ["XRPUSDT"]}
    by_name = {m["symbol"]: m for m in snap["markets"]}
    assert by_name["binance:XRPUSDT"]["exchange"] == "binance"
    assert by_name["binance:XRPUSDT"]["status"] == "stale"
    assert by_name["XRPUSDT"]["status"] == "quoting"
    assert len(by_name["binance:XRPUSDT"]["breaches"]) == 1
    assert by_name["XRPUSDT"]["breaches"] == [], "a breach stays with its own exchange's market"
