"""The venue port's contract: numbered cases every venue passes (``conftest.VENUES``).

V01 a venue declares itself: a ``Venue``, its capabilities, its order limit, no refused symbol
V02 instruments: the configured symbol's rules, upper-case assets, positive grids
V03 balances: exact Decimal amounts per upper-case asset, as funded
V04 book events: full snapshots with Decimal levels, best first, not crossed
V05 initial book: None, or a snapshot of the symbol like V04's
V06 place: an ack with our client id and the exchange's text id; the order rests (query, open
    orders)
V07 cancel by client id: a CancelAck (as the answer and on the order stream); the order is
    CANCELED and no longer listed
V08 cancel by the exchange's id works as well
V09 a cancel of an unknown order is a CancelReject (not an exception); a query of it is None
V10 a full fill: one Fill on the order stream with our client id, side, price and quantity;
    the order is FILLED; ``fills_since`` lists the trade once; the stream never repeats it
V11 a partial fill: the order stays open, PARTIALLY_FILLED with the filled quantity; it can
    be cancelled
V12 an order breaking a rule raises the neutral ``InvalidOrder`` (a ``Rejected``); nothing rests
V13 balance events: placing an order shows the quote asset locked
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from liquidity_bot.domain.events import (
    BalanceChange,
    BookUpdate,
    CancelAck,
    CancelReject,
    Fill,
    OrderAck,
    OrderMessage,
)
from liquidity_bot.domain.instrument import Instrument
from liquidity_bot.domain.order import Side
from liquidity_bot.venues.errors import InvalidOrder, Rejected
from liquidity_bot.venues.port import (
    AssetBalance,
    Capabilities,
    OrderRateLimit,
    OrderSnapshot,
    OrderStatus,
    Venue,
)

from .conftest import FUNDS, Harness

D = Decimal


async def a_book(h: Harness) -> BookUpdate:
    books = h.venue.book_events()
    nxt = asyncio.ensure_future(anext(books))
    await asyncio.sleep(0)  # subscribed before the market is let to publish
    try:
        await h.wait_for(nxt.done, "a book event")
        return nxt.result()
    finally:
        nxt.cancel()
        await asyncio.gather(nxt, return_exceptions=True)
        await books.aclose()


async def resting_bid(h: Harness) -> tuple[Instrument, Decimal, Decimal]:
    """A price that improves the best bid without crossing, and a quantity worth ~6x the
    minimum notional: an order that rests and is the first to be hit."""
    inst = (await h.venue.instruments())[h.symbol]
    book = await a_book(h)
    bid, ask = book.bids[0][0], book.asks[0][0]
    price = bid + inst.tick if bid + inst.tick < ask else bid
    qty = max(inst.round_qty(max(inst.min_val, D(1)) * 6 / price), inst.min_qty)
    return inst, price, qty


class Recorder:
    """Everything the order stream says, from now on."""

    def __init__(self, venue: Venue) -> None:
        self.messages: list[OrderMessage] = []
        self._stream = venue.order_events()
        self._task = asyncio.ensure_future(self._run())

    @classmethod
    async def open(cls, venue: Venue) -> Recorder:
        recorder = cls(venue)
        await asyncio.sleep(0)  # subscribed before anything is sent
        return recorder

    async def _run(self) -> None:
        async for m in self._stream:
            self.messages.append(m)

    def of(self, kind: type, cid: str) -> list[OrderMessage]:
        return [m for m in self.messages if isinstance(m, kind) and m.client_order_id == cid]

    async def close(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


async def test_v01_a_venue_declares_itself(harness: Harness) -> None:
    v = harness.venue
    assert isinstance(v, Venue)
    assert isinstance(v.capabilities, Capabilities)
    assert isinstance(v.order_rate_limit, OrderRateLimit)
    assert v.order_rate_limit.requests > 0 and v.order_rate_limit.window_s > 0
    assert v.refused_symbols == {}


async def test_v02_instruments(harness: Harness) -> None:
    inst = (await harness.venue.instruments())[harness.symbol]
    assert inst.symbol == harness.symbol and (inst.base, inst.quote) == ("XRP", "USDT")
    assert type(inst.tick) is Decimal and inst.tick > 0 and inst.step > 0
    assert inst.round_price(D("0.123456789"), Side.BUY) % inst.tick == 0


async def test_v03_balances(harness: Harness) -> None:
    balances = await harness.venue.balances()
    for asset, amount in FUNDS.items():
        b = balances[asset]
        assert isinstance(b, AssetBalance) and b.asset == asset
        assert type(b.free) is Decimal and b.free == D(amount) and b.locked == 0


async def test_v04_book_events(harness: Harness) -> None:
    book = await a_book(harness)
    assert book.symbol == harness.symbol and book.bids and book.asks
    prices = [p for p, _ in book.bids]
    assert all(type(p) is Decimal for p in prices) and prices == sorted(prices, reverse=True)
    assert [p for p, _ in book.asks] == sorted(p for p, _ in book.asks)
    assert book.bids[0][0] < book.asks[0][0] and all(q > 0 for _, q in book.bids)


async def test_v05_initial_book(harness: Harness) -> None:
    book = await harness.venue.initial_book(harness.symbol)
    if book is None:
        return  # allowed: the stream sends one on subscribing (V04)
    assert book.symbol == harness.symbol and book.bids[0][0] < book.asks[0][0]
    assert type(book.bids[0][0]) is Decimal


async def test_v06_place_rests(harness: Harness) -> None:
    v = harness.venue
    _, price, qty = await resting_bid(harness)
    ack = await v.place(harness.symbol, Side.BUY, qty, price, "ctr06")
    assert isinstance(ack, OrderAck) and ack.client_order_id == "ctr06"
    assert isinstance(ack.exchange_order_id, str) and ack.exchange_order_id
    snap = await v.query(harness.symbol, client_order_id="ctr06")
    assert isinstance(snap, OrderSnapshot) and snap.status is OrderStatus.NEW and snap.is_open
    assert (snap.side, snap.price, snap.qty, snap.filled_qty) == (Side.BUY, price, qty, 0)
    assert snap.exchange_order_id == ack.exchange_order_id
    listed = await v.open_orders(harness.symbol)
    assert [s.client_order_id for s in listed] == ["ctr06"]


async def test_v07_cancel_by_client_id(harness: Harness) -> None:
    v = harness.venue
    _, price, qty = await resting_bid(harness)
    stream = await Recorder.open(v)
    try:
        await v.place(harness.symbol, Side.BUY, qty, price, "ctr07")
        answer = await v.cancel(harness.symbol, client_order_id="ctr07")
        assert isinstance(answer, CancelAck) and answer.client_order_id == "ctr07"
        await harness.wait_for(lambda: stream.of(CancelAck, "ctr07"), "a CancelAck on the stream")
    finally:
        await stream.close()
    snap = await v.query(harness.symbol, client_order_id="ctr07")
    assert snap is not None and snap.status is OrderStatus.CANCELED and not snap.is_open
    assert await v.open_orders(harness.symbol) == []


async def test_v08_cancel_by_exchange_id(harness: Harness) -> None:
    v = harness.venue
    _, price, qty = await resting_bid(harness)
    ack = await v.place(harness.symbol, Side.BUY, qty, price, "ctr08")
    answer = await v.cancel(harness.symbol, exchange_order_id=ack.exchange_order_id)
    assert isinstance(answer, CancelAck) and answer.client_order_id == "ctr08"
    snap = await v.query(harness.symbol, exchange_order_id=ack.exchange_order_id)
    assert snap is not None and snap.status is OrderStatus.CANCELED


async def test_v09_unknown_orders(harness: Harness) -> None:
    v = harness.venue
    answer = await v.cancel(harness.symbol, client_order_id="ctr09never")
    assert isinstance(answer, CancelReject) and answer.reason
    assert await v.query(harness.symbol, client_order_id="ctr09never") is None


async def test_v10_a_full_fill_is_delivered_once(harness: Harness) -> None:
    v = harness.venue
    _, price, qty = await resting_bid(harness)
    stream = await Recorder.open(v)
    try:
        await v.place(harness.symbol, Side.BUY, qty, price, "ctr10")
        await harness.take(Side.SELL, qty, price)
        await harness.wait_for(lambda: sum(f.qty for f in stream.of(Fill, "ctr10")) == qty,
                               "fills of the whole order on the stream")
        for _ in range(10):  # a while longer: no repeat may follow
            harness.pulse()
            await asyncio.sleep(0.05)
        fills = stream.of(Fill, "ctr10")
    finally:
        await stream.close()
    assert len({f.trade_id for f in fills}) == len(fills), "a fill was delivered twice"
    for f in fills:
        assert (f.symbol, f.side, f.price) == (harness.symbol, Side.BUY, price)
        assert type(f.qty) is Decimal and f.trade_id
    snap = await v.query(harness.symbol, client_order_id="ctr10")
    assert snap is not None and snap.status is OrderStatus.FILLED and snap.filled_qty == qty
    listed = [f for f in await v.fills_since(harness.symbol) if f.client_order_id == "ctr10"]
    assert sorted(f.trade_id for f in listed) == sorted(f.trade_id for f in fills)


async def test_v11_a_partial_fill(harness: Harness) -> None:
    v = harness.venue
    inst, price, qty = await resting_bid(harness)
    part = inst.round_qty(qty / 2)
    stream = await Recorder.open(v)
    try:
        await v.place(harness.symbol, Side.BUY, qty, price, "ctr11")
        await harness.take(Side.SELL, part, price)
        await harness.wait_for(lambda: stream.of(Fill, "ctr11"), "the partial fill")
    finally:
        await stream.close()
    assert sum(f.qty for f in stream.of(Fill, "ctr11")) == part
    snap = await v.query(harness.symbol, client_order_id="ctr11")
    assert snap is not None and snap.status is OrderStatus.PARTIALLY_FILLED and snap.is_open
    assert snap.filled_qty == part
    assert isinstance(await v.cancel(harness.symbol, client_order_id="ctr11"), CancelAck)


async def test_v12_an_order_breaking_a_rule_is_rejected(harness: Harness) -> None:
    v = harness.venue
    inst, price, _ = await resting_bid(harness)
    too_small = inst.step  # far below the minimum notional
    with pytest.raises(InvalidOrder) as refused:
        await v.place(harness.symbol, Side.BUY, too_small, price, "ctr12")
    assert isinstance(refused.value, Rejected)
    snap = await v.query(harness.symbol, client_order_id="ctr12")
    assert snap is None or not snap.is_open
    assert await v.open_orders(harness.symbol) == []


async def test_v13_balance_events(harness: Harness) -> None:
    v = harness.venue
    _, price, qty = await resting_bid(harness)
    changes: list[BalanceChange] = []

    async def read() -> None:
        async for c in v.balance_events():
            changes.append(c)

    reader = asyncio.ensure_future(read())
    try:
        await asyncio.sleep(0)
        await v.place(harness.symbol, Side.BUY, qty, price, "ctr13")
        await harness.wait_for(lambda: any(c.asset == "USDT" and c.locked > 0 for c in changes),
                               "USDT locked by the order")
    finally:
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)
    usdt = [c for c in changes if c.asset == "USDT"][-1]
    assert type(usdt.free) is Decimal and usdt.free + usdt.locked == D(FUNDS["USDT"])
