"""Stream message handling without sockets: gzip, ping/pong, snapshots, order/balance events,
fill de-duplication and partial balances in the venue."""

import asyncio
import gzip
import json
from decimal import Decimal

import pytest

from liquidity_bot.domain.events import BalanceChange, CancelAck, Expired, Fill, OrderAck
from liquidity_bot.domain.order import Side
from liquidity_bot.venues.bitrue.backoff import Backoff
from liquidity_bot.venues.bitrue.market_stream import MarketStream, depth_channel
from liquidity_bot.venues.bitrue.models import OrderUpdate, decoder
from liquidity_bot.venues.bitrue.urls import BitrueUrls
from liquidity_bot.venues.bitrue.venue import BitrueVenue


def gz(obj) -> bytes:
    return gzip.compress(json.dumps(obj).encode())


def test_market_ping_is_answered_with_the_same_value():
    s = MarketStream(BitrueUrls(), ["XRPUSDT"])
    assert json.loads(s.handle_frame(gz({"ping": 1700000000123}))) == {"pong": 1700000000123}
    assert json.loads(s.handle_frame(gz({"ping": "17"}))) == {"pong": "17"}


def test_market_snapshot_replaces_the_book_and_reads_as_decimal():
    seen = []
    s = MarketStream(BitrueUrls(), ["XRPUSDT", "BTCUSDT"], on_book=seen.append)
    ch = depth_channel("XRPUSDT")
    assert ch == "market_xrpusdt_simple_depth_step0"
    s.handle_frame(
        gz(
            {
                "channel": ch,
                "ts": 5,
                "tick": {"buys": [["0.5", "10"], ["0.4", "1"]], "asks": [["0.6", "2"]]},
            }
        )
    )
    s.handle_frame(gz({"channel": ch, "ts": 6, "tick": {"buys": [["0.45", "3"]], "asks": []}}))
    book = s.books["XRPUSDT"]
    assert book.bids == ((Decimal("0.45"), Decimal(3)),) and book.asks == ()
    assert type(book.bids[0][0]) is Decimal
    assert len(seen) == 2 and seen[-1] is book
    s.handle_frame(gz({"channel": ch, "ts": 4, "tick": {"buys": [], "asks": []}}))  # stale
    assert book.ts_ms == 6 and s.snapshots == 2
    assert (
        s.handle_frame(
            gz(
                {
                    "channel": "market_unknown_simple_depth_step0",
                    "ts": 9,
                    "tick": {"buys": [], "asks": []},
                }
            )
        )
        is None
    )
    assert s.handle_frame(gz({"event_rep": "subed", "status": "ok", "channel": ch})) is None


def test_backoff_grows_with_jitter_and_resets():
    import random

    b = Backoff(initial_s=1, max_s=8, rng=random.Random(1))
    delays = [b.next() for _ in range(6)]
    assert all(0.5 <= d <= 8 for d in delays)
    assert max(delays[3:]) > 2  # grew
    b.reset()
    assert b.next() <= 1


def _venue() -> BitrueVenue:
    return BitrueVenue(BitrueUrls(), "k" * 64, "s" * 64, ["XRPUSDT"], streams=False)


def order_update(**fields) -> OrderUpdate:
    base = {
        "e": "ORDER",
        "s": "xrpusdt",
        "c": "cid1",
        "S": 1,
        "o": 1,
        "q": "10",
        "p": "0.5",
        "i": 2**60,
        "T": 1000,
    }
    base.update(fields)
    return decoder(OrderUpdate).decode(json.dumps(base).encode())


async def _drain(it, n):
    out = []
    async for x in it:
        out.append(x)
        if len(out) == n:
            return out


async def test_venue_turns_pushes_into_domain_events_and_dedupes_fills():
    v = _venue()
    orders = v.order_events()
    task = asyncio.create_task(_drain(orders, 5))
    await asyncio.sleep(0)
    v._on_order_update(order_update(x=1, X=1))
    fill = dict(x=3, X=3, l="4", L="0.5", z="4", n="0.004", N="xrp", t=77)
    v._on_order_update(order_update(**fill))
    v._on_order_update(order_update(**fill))  # the same trade again: dropped
    v._on_order_update(order_update(x=3, X=2, l="6", L="0.5", z="10", t=78))
    v._on_order_update(order_update(c="cid2", x=2, X=4))
    v._on_order_update(order_update(c="cid3", x=4, X=4))
    events = await asyncio.wait_for(task, 1)
    assert [type(e) for e in events] == [OrderAck, Fill, Fill, CancelAck, Expired]
    f = events[1]
    assert (f.trade_id, f.qty, f.price, f.side, f.fee_asset) == (
        "77",
        Decimal(4),
        Decimal("0.5"),
        Side.BUY,
        "XRP",
    )
    assert f.exchange_order_id == str(2**60) and f.symbol == "XRPUSDT"
    assert v.duplicate_fills == 1 and v.fills_from_stream == 2


async def test_partial_balance_entries_keep_the_other_side():
    v = _venue()
    v._last_balance["USDT"] = (Decimal(100), Decimal(5))
    got = []
    task = asyncio.create_task(_drain(v.balance_events(), 2))
    await asyncio.sleep(0)
    from liquidity_bot.venues.bitrue.models import BalanceUpdate

    msg = decoder(BalanceUpdate).decode(
        json.dumps(
            {
                "e": "BALANCE",
                "E": 9,
                "B": [
                    {"a": "usdt", "F": "90", "T": 9, "t": 0},
                    {"a": "xrp", "L": "3", "t": 9, "T": 0},
                ],
            }
        ).encode()
    )
    v._on_balance_update(msg)
    got = await asyncio.wait_for(task, 1)
    assert got[0] == BalanceChange(ts_ms=9, asset="USDT", free=Decimal(90), locked=Decimal(5))
    assert got[1].asset == "XRP" and got[1].free == 0 and got[1].locked == Decimal(3)


def test_user_stream_dispatch():
    from liquidity_bot.venues.bitrue.rest import BitrueRestClient
    from liquidity_bot.venues.bitrue.user_stream import UserStream

    orders, balances = [], []
    us = UserStream(
        BitrueRestClient(BitrueUrls()),
        BitrueUrls(),
        on_order=orders.append,
        on_balance=balances.append,
    )
    us.handle_text('{"e":"executionReport","s":"XRPUSDT","x":1,"X":1,"i":1}')
    us.handle_text('{"e":"ORDER","s":"XRPUSDT","x":1,"X":1,"i":2}')
    us.handle_text('{"e":"BALANCE","B":[{"a":"usdt","F":"1"}]}')
    assert (
        us.handle_text('{"event_rep":"subed","status":"ok","channel":"user_order_update"}') is None
    )
    assert json.loads(us.handle_text('{"ping": 5}')) == {"pong": 5}
    assert [o.i for o in orders] == [1, 2] and balances[0].B[0].a == "USDT"
    assert "listen_key=<hidden>" in repr(us)


@pytest.mark.parametrize("bad", [b"not json", b'{"e":"ORDER","i":"x"}'])
def test_user_stream_rejects_garbage_loudly(bad):
    import msgspec

    from liquidity_bot.venues.bitrue.rest import BitrueRestClient
    from liquidity_bot.venues.bitrue.user_stream import UserStream

    us = UserStream(
        BitrueRestClient(BitrueUrls()),
        BitrueUrls(),
        on_order=lambda u: None,
        on_balance=lambda u: None,
    )
    with pytest.raises(msgspec.DecodeError):
        us.handle_text(bad)
