"""The venue port over Bitrue, end to end against the simulator.

C26 port basics: instruments, balances, place/query/open orders/cancel, a refused cancel is a
    CancelReject (not an exception), book events carry Decimal levels
C27 unknown outcome through the port: place raises, query by client id resolves it, and the
    order's fill is then delivered once
C42 keep-warm: after a quiet spell longer than the order connections' idle limit, an order
    still goes out on a connection that is already open (without the keep-warm: a new one)
C41 book listeners: called as each frame is handled, with the frame's receipt time; a failing
    listener does not stop the stream; leaving the context stops the calls
C43 asset case: the account answer (upper case, "XRP") and the user stream (lower case, "xrp")
    name one asset: a stream entry carrying only the free side keeps the locked side the
    account answer gave
"""

from __future__ import annotations

import asyncio
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from liquidity_bot.domain.events import (
    BalanceChange,
    BookUpdate,
    CancelAck,
    CancelReject,
    Fill,
    OrderAck,
)
from liquidity_bot.domain.order import Side
from liquidity_bot.testing import fill_events
from liquidity_bot.venues.bitrue.errors import UnknownOutcome
from liquidity_bot.venues.bitrue.urls import BitrueUrls
from liquidity_bot.venues.bitrue.venue import BitrueVenue
from liquidity_bot.venues.port import Venue

sys.path.insert(0, str(Path(__file__).parent))
from _connector_helpers import (  # noqa: E402
    SYMBOL,
    TICK,
    best_bid_ask,
    client_for,
    hub_of,
    wait_for,
)
from conftest import admin_call  # noqa: E402


async def test_c26_port_basics(sim, make_key):
    _, key, secret = await make_key(sim)
    venue = BitrueVenue(BitrueUrls.single(sim.base_url), key, secret, [SYMBOL])
    assert isinstance(venue, Venue)
    async with venue:
        books = venue.book_events()
        first = await asyncio.wait_for(anext(books), 5)
        assert isinstance(first, BookUpdate) and first.symbol == SYMBOL
        assert type(first.bids[0][0]) is Decimal and first.bids[0][0] < first.asks[0][0]
        inst = (await venue.instruments())[SYMBOL]
        assert inst.base == "XRP" and inst.quote == "USDT" and inst.tick == TICK
        bal = await venue.balances()
        assert bal["USDT"].free == Decimal(10000)
        price = first.bids[0][0] + TICK
        ack = await venue.place(SYMBOL, Side.BUY, Decimal(10), price, "c26")
        assert isinstance(ack, OrderAck) and int(ack.exchange_order_id) > 2**53
        snap = await venue.query(SYMBOL, client_order_id="c26")
        assert snap is not None and snap.status == "NEW" and snap.side is Side.BUY
        assert [o.client_order_id for o in await venue.open_orders(SYMBOL)] == ["c26"]
        assert (await venue.balances())["USDT"].locked == price * 10
        cancelled = await venue.cancel(SYMBOL, exchange_order_id=ack.exchange_order_id)
        assert isinstance(cancelled, CancelAck) and cancelled.client_order_id == "c26"
        again = await venue.cancel(SYMBOL, client_order_id="c26")
        assert isinstance(again, CancelReject) and again.code == -2013
        assert await venue.query(SYMBOL, client_order_id="nope") is None
        await books.aclose()


async def test_c27_unknown_outcome_through_the_port(sim, make_key):
    _, key, secret = await make_key(sim)
    _, tkey, tsecret = await make_key(sim)
    venue = BitrueVenue(BitrueUrls.single(sim.base_url), key, secret, [SYMBOL])
    fills: list[Fill] = []

    async def collect():
        async for f in fill_events(venue):
            fills.append(f)

    async with venue, client_for(sim, tkey, tsecret) as taker:
        reader = asyncio.create_task(collect())
        bid, _ = await best_bid_ask(taker)
        await admin_call(
            sim,
            "POST",
            "/sim/admin/faults",
            {"unknown_outcome": {"probability": 1.0, "accepted_probability": 1.0}},
        )
        with pytest.raises(UnknownOutcome):
            await venue.place(SYMBOL, Side.BUY, Decimal(10), bid + TICK, "c27")
        await admin_call(sim, "POST", "/sim/admin/faults", {})
        snap = await venue.query(SYMBOL, client_order_id="c27")
        assert snap is not None and snap.status == "NEW"
        await taker.place_order(SYMBOL, "SELL", Decimal(10), bid + TICK)
        await wait_for(lambda: len(fills) == 1, what="fill of the resolved order")
        await asyncio.sleep(0.1)
        reader.cancel()
        assert len(fills) == 1 and fills[0].client_order_id == "c27"


async def test_c41_book_listeners(sim, make_key):
    import time

    _, key, secret = await make_key(sim)
    venue = BitrueVenue(BitrueUrls.single(sim.base_url), key, secret, [SYMBOL])
    got: list[BookUpdate] = []
    calls = {"broken": 0}

    def broken(update: BookUpdate) -> None:
        calls["broken"] += 1
        raise RuntimeError("a bug in a reader")

    async with venue:
        with venue.listen_books(broken), venue.listen_books(got.append):
            await wait_for(lambda: len(got) >= 1, 10, "a first book")
            price = got[0].bids[0][0] + TICK  # our own bid changes the book: another push
            await venue.place(SYMBOL, Side.BUY, Decimal(10), price, "c41")
            await wait_for(lambda: len(got) >= 2, 10, "a second book")
            await venue.cancel(SYMBOL, client_order_id="c41")
            await wait_for(lambda: len(got) >= 3, 10, "a third book")
        assert calls["broken"] == len(got)  # called every time, and the stream kept going
        first = got[0]
        assert first.symbol == SYMBOL and type(first.bids[0][0]) is Decimal
        assert first.recv_ns is not None and 0 < time.perf_counter_ns() - first.recv_ns < 60e9
        assert all(a.recv_ns < b.recv_ns for a, b in zip(got, got[1:], strict=False))  # type: ignore[operator]
        seen = len(got)
        books = venue.book_events()  # the stream still delivers, to the other readers too
        waiting = asyncio.ensure_future(anext(books))
        await asyncio.sleep(0)
        await venue.place(SYMBOL, Side.BUY, Decimal(10), price, "c41b")
        await asyncio.wait_for(waiting, 10)
        await venue.cancel(SYMBOL, client_order_id="c41b")
        await books.aclose()
        assert len(got) == seen  # no calls after the context closed


async def test_c42_keep_warm_spares_the_first_order_a_new_connection(sim, make_key):
    from liquidity_bot.venues.bitrue.rest import BitrueRestClient

    _, key, secret = await make_key(sim)
    urls = BitrueUrls.single(sim.base_url)
    opened: dict[bool, int] = {}
    for warm in (True, False):
        rest = BitrueRestClient(urls, key, secret, order_conn_max_idle_s=0.4)
        venue = BitrueVenue(urls, key, secret, [SYMBOL], rest=rest, keep_warm=warm)
        async with venue:
            bid = (await asyncio.wait_for(anext(venue.book_events()), 5)).bids[0][0]
            await venue.place(SYMBOL, Side.BUY, Decimal(10), bid - TICK * 50, f"c42a{warm:d}")
            origin = rest._http.origin(urls.spot)  # type: ignore[union-attr]
            before = origin.connects
            await asyncio.sleep(1.2)  # three times the idle limit, nothing else to send
            await venue.place(SYMBOL, Side.BUY, Decimal(10), bid - TICK * 51, f"c42b{warm:d}")
            opened[warm] = origin.connects - before
            for cid in (f"c42a{warm:d}", f"c42b{warm:d}"):
                await venue.cancel(SYMBOL, client_order_id=cid)
    assert opened == {True: 0, False: 1}


async def test_c43_rest_and_stream_asset_names_join_whatever_their_case(sim, make_key):
    account, key, secret = await make_key(sim)
    ex = sim.exchange
    ask = ex.depth(SYMBOL, 1)[1][0][0]
    ex.place_order(account, SYMBOL, "SELL", "LIMIT", Decimal(100), ask + TICK * 20)  # locks XRP
    hub_of(sim).configure(balance_partial_probability=1.0)  # one-sided moves: partial entries
    venue = BitrueVenue(BitrueUrls.single(sim.base_url), key, secret, [SYMBOL])
    changes: list[BalanceChange] = []

    async def collect():
        async for c in venue.balance_events():
            changes.append(c)

    async with venue:
        seeded = await venue.balances()
        assert seeded["XRP"].locked == Decimal(100) and "xrp" not in seeded
        reader = asyncio.create_task(collect())
        await wait_for(venue.user.connected.is_set, what="user stream")
        bid = ex.depth(SYMBOL, 1)[0][0][0]
        for n in range(25):  # resting bids move USDT until the stream is surely subscribed
            await venue.place(SYMBOL, Side.BUY, Decimal(10), bid - TICK * 30, f"c43-{n}")
            await asyncio.sleep(0.2)
            if changes:
                break
        assert changes and {c.asset for c in changes} == {"USDT"}
        await venue.place(SYMBOL, Side.BUY, Decimal(10), ask, "c43")  # takes: XRP free moves
        await wait_for(lambda: any(c.asset == "XRP" for c in changes), 10, "an XRP balance event")
        reader.cancel()
    xrp = [c for c in changes if c.asset == "XRP"][-1]
    assert xrp.free == ex.balances(account)["XRP"].free > Decimal(4900)
    assert xrp.locked == Decimal(100)  # from the account answer: the stream entry had no L
    assert {c.asset for c in changes} <= {"XRP", "USDT"}
