"""``liquidity-bot demo --two-exchanges``: one token quoted on two simulated exchanges at once,
Bitrue through the native venue and Binance's spot API through ccxt, each with its own account
and key verified by that exchange's prober; the store, the summary and the report keep the two
markets apart and group them by exchange, and every order is cancelled at the end."""

from __future__ import annotations

import asyncio
import json
import os
import sys

import pytest

from liquidity_bot.store import Store

pytest.importorskip("ccxt.pro")


async def test_demo_quotes_one_token_on_two_exchanges(tmp_path):
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    env = dict(os.environ, LIQUIDITY_BOT_PASSPHRASE="demo passphrase", LIQUIDITY_BOT_HOME=str(home))
    demo = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "liquidity_bot.cli", "demo", "--duration", "4", "--two-exchanges",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env)
    out, err = await asyncio.wait_for(demo.communicate(), 180)
    text = out.decode()
    assert demo.returncode == 0, (out + err).decode()[-3000:]
    assert "key 'Liquidity Bot' passed the gate" in text
    assert "key 'Liquidity Bot Binance' passed the gate" in text
    assert "apiRestrictions" in text or "enableWithdrawals=false" in text, \
        "the Binance key was judged from the exchange's own answer"
    assert "quoting XRPUSDT on bitrue and binance" in text

    doc = json.loads(sorted((home / "reports").glob("*.json"))[-1].read_text())
    assert doc["exchanges"] == {"binance": ["XRPUSDT"], "bitrue": ["XRPUSDT"]}
    for name in ("XRPUSDT", "binance:XRPUSDT"):
        figures = doc["symbols"][name]
        assert figures["samples"] > 0 and figures["orders_sent"] > 0, name
    assert doc["symbols"]["binance:XRPUSDT"]["exchange"] == "binance"

    store = Store(f"sqlite:///{home / 'liquidity-bot.db'}")
    try:
        assert store.kpi_markets() == [("binance", "XRPUSDT"), ("bitrue", "XRPUSDT")]
        bitrue = store.orders(exchange="bitrue")
        binance = store.orders(exchange="binance")
        assert bitrue and binance
        assert all(o.client_order_id.startswith("lbdemob") for o in binance)
        assert not any(o.client_order_id.startswith("lbdemob") for o in bitrue)
        assert store.orders(open_only=True) == [], "every order on both exchanges was cancelled"
    finally:
        store.close()
