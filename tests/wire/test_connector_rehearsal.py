"""Rehearsing an order (``engine.rehearsal``): the request a real place would write, unsent."""

from __future__ import annotations

import re
import sys
from decimal import Decimal
from pathlib import Path

from liquidity_bot.domain.order import Side
from liquidity_bot.venues import lean_http
from liquidity_bot.venues.bitrue.urls import BitrueUrls
from liquidity_bot.venues.bitrue.venue import BitrueVenue

sys.path.insert(0, str(Path(__file__).parent))
from _connector_helpers import SYMBOL, client_for, wait_for  # noqa: E402

CANARY = "canary-secret-XYZZY-0123456789abcdef"


def _masked(request: bytes) -> bytes:
    """The request with what changes from one call to the next (time, signature) masked."""
    request = re.sub(rb"timestamp=\d+", b"timestamp=T", request)
    return re.sub(rb"signature=[0-9a-f]{64}", b"signature=S", request)


async def test_rehearse_place_encodes_what_place_order_writes_and_sends_nothing(
    sim, make_key, monkeypatch
) -> None:
    _, key, secret = await make_key(sim)
    encoded: list[bytes] = []
    written: list[bytes] = []
    encode, send = lean_http.Origin.encode, lean_http._Connection.send

    def spy_encode(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        encoded.append(data := encode(self, *args, **kwargs))
        return data

    def spy_send(self, data, timeout_s):  # noqa: ANN001, ANN202
        written.append(data)
        return send(self, data, timeout_s)

    monkeypatch.setattr(lean_http.Origin, "encode", spy_encode)
    monkeypatch.setattr(lean_http._Connection, "send", spy_send)
    async with client_for(sim, key, secret) as c:
        await c.sync_clock()
        price, qty = Decimal("0.5"), Decimal("12.3")
        written.clear()
        encoded.clear()
        c.rehearse_place(SYMBOL, "BUY", qty, price, "lbt0000000000000000")
        assert written == [] and len(encoded) == 1  # encoded, never written
        rehearsed = encoded[0]
        await c.place_order(SYMBOL, "BUY", qty, price, client_order_id="lbt0000000000000000")
        assert len(written) == 1
        assert _masked(rehearsed) == _masked(written[0])
        assert b"signature=" in rehearsed and secret.encode() not in rehearsed


async def test_a_venue_rehearses_an_order_and_a_book_without_changing_them(sim, make_key) -> None:
    _, key, secret = await make_key(sim)
    venue = BitrueVenue(BitrueUrls.single(sim.base_url), key, secret, [SYMBOL])
    async with venue:
        book = venue.market.books[SYMBOL]
        await wait_for(lambda: book.updates > 0, what="a depth frame")
        updates, top = book.updates, (book.best_bid, book.best_ask)
        update = venue.rehearse_book(SYMBOL)
        assert update is not None and update.symbol == SYMBOL
        # The scratch book read the same frame: the same top as the live book had it.
        assert update.bids[0] == top[0] and update.asks[0] == top[1]
        assert book.updates == updates
        venue.rehearse_place(SYMBOL, Side.SELL, Decimal(10), Decimal("9"), "lbt0000000000000000")
        orders = await venue.open_orders(SYMBOL)
        assert orders == []
    assert venue.rehearse_book("NOPEUSDT") is None


async def test_rehearsing_before_start_or_without_a_secret_encodes_nothing(
    sim, monkeypatch
) -> None:
    encoded: list[bytes] = []
    encode = lean_http.Origin.encode

    def spy_encode(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        encoded.append(data := encode(self, *args, **kwargs))
        return data

    monkeypatch.setattr(lean_http.Origin, "encode", spy_encode)
    not_started = client_for(sim, "k", CANARY)
    not_started.rehearse_place(SYMBOL, "BUY", Decimal(1), Decimal(1), "x")
    async with client_for(sim, "", "") as keyless:
        keyless.rehearse_place(SYMBOL, "BUY", Decimal(1), Decimal(1), "x")
    assert encoded == []
    async with client_for(sim, "k", CANARY) as started:
        started.rehearse_place(SYMBOL, "BUY", Decimal(1), Decimal(1), "x")
    assert len(encoded) == 1 and CANARY.encode() not in encoded[0]
    await not_started.close()
