"""The connector's stream cases (spec continued), over loopback against the simulator's sockets.

C16 market stream: many symbols, gzip snapshots into OrderBooks, pings answered
C17 market-stream stall: detected, reconnected, books re-seeded from REST /depth
C18 listen-key expiry: a new key is created and the stream recovers (fills still arrive)
C19a user-stream silence: the REST fallback delivers the fills
C19b the stream's late copies of fills already taken from REST are not counted twice
C19c a fill during a reconnect gap is found by the REST pass after the reconnect
C20 user stream: keep-alive on the listen-key host, connection renewed before its lifetime
"""

from __future__ import annotations

import sys
from decimal import Decimal
from pathlib import Path

from liquidity_bot.domain.events import Fill
from liquidity_bot.domain.order import Side
from liquidity_bot.testing import fill_events
from liquidity_bot.venues.bitrue.market_stream import MarketStream
from liquidity_bot.venues.bitrue.urls import BitrueUrls
from liquidity_bot.venues.bitrue.venue import BitrueVenue

sys.path.insert(0, str(Path(__file__).parent))
from _connector_helpers import SYMBOL, TICK, best_bid_ask, client_for, hub_of, wait_for  # noqa: E402


def venue_for(sim, key, secret, **kw) -> BitrueVenue:
    return BitrueVenue(BitrueUrls.single(sim.base_url), key, secret, [SYMBOL], **kw)


async def collect(it, sink: list, stop_after: int | None = None):
    async for item in it:
        sink.append(item)
        if stop_after is not None and len(sink) >= stop_after:
            return


async def test_c16_market_stream_snapshots_and_pings(sim, make_key):
    """C16 two symbols subscribed; pushes land in the books; server pings are answered, so the
    server never closes the socket (one connection throughout)."""
    hub = hub_of(sim)
    hub.configure(ping_interval_s=0.05, pong_timeout_s=0.5, depth_min_interval_ms=0)
    _, key, secret = await make_key(sim)
    async with client_for(sim, key, secret) as rest:
        stream = MarketStream(BitrueUrls.single(sim.base_url), [SYMBOL, "BTCUSDT"], rest=rest)
        await stream.start()
        try:
            await wait_for(lambda: all(b.ts_ms for b in stream.books.values()), what="books")
            bid, ask = await best_bid_ask(rest)
            assert stream.books[SYMBOL].best_bid[0] == bid
            # A change of the book is pushed: our own new best bid shows up.
            await rest.place_order(SYMBOL, "BUY", Decimal(10), bid + TICK)
            await wait_for(lambda: stream.books[SYMBOL].best_bid[0] == bid + TICK, what="push")
            await wait_for(lambda: stream.pings_answered >= 10, what="pings")
            assert stream.connects == 1 and stream.reconnects == 0
        finally:
            await stream.stop()


async def test_c17_market_stream_stall_and_reconnect(sim, make_key):
    """C17 the server goes silent: stale detection replaces the socket, REST re-seeds the book."""
    hub = hub_of(sim)
    hub.configure(ping_interval_s=60, depth_min_interval_ms=0)
    _, key, secret = await make_key(sim)
    async with client_for(sim, key, secret) as rest:
        stream = MarketStream(
            BitrueUrls.single(sim.base_url), [SYMBOL], rest=rest, stale_after_s=0.3
        )
        stream.backoff.initial_s = stream.backoff.max_s = 0.05
        await stream.start()
        try:
            await wait_for(lambda: stream.books[SYMBOL].ts_ms is not None, what="first book")
            for conn in list(hub.market.connections):
                conn.stall(30)
            bid, _ = await best_bid_ask(rest)
            await rest.place_order(SYMBOL, "BUY", Decimal(10), bid + TICK)  # a change we miss
            await wait_for(lambda: stream.stale_events >= 1, what="stale detected")
            await wait_for(lambda: stream.connects >= 2 and stream.resyncs >= 1, what="resync")
            assert stream.books[SYMBOL].best_bid[0] == bid + TICK
        finally:
            await stream.stop()


async def test_c18_listen_key_expiry_and_recovery(sim, make_key):
    """C18 the exchange drops our listen key: the venue creates a new one, reconnects, and
    fills keep arriving over the stream (the REST fallback is off for this case)."""
    account_id, key, secret = await make_key(sim)
    _, tkey, tsecret = await make_key(sim)
    venue = venue_for(sim, key, secret, poll_interval_s=3600)
    venue.user.backoff.initial_s = venue.user.backoff.max_s = 0.05
    fills: list[Fill] = []
    async with venue, client_for(sim, tkey, tsecret) as taker:
        await wait_for(venue.user.connected.is_set, what="user stream")
        import asyncio

        reader = asyncio.create_task(collect(fill_events(venue), fills))
        old = sim.listen_keys.active_key(account_id)
        sim.listen_keys.invalidate(old)
        await wait_for(lambda: venue.user.keys_created >= 2, what="new listen key")
        await wait_for(venue.user.connected.is_set, what="reconnected")
        assert sim.listen_keys.active_key(account_id) not in (None, old)
        bid, _ = await best_bid_ask(taker)
        await venue.place(SYMBOL, Side.BUY, Decimal(10), bid + TICK, "c18")
        await taker.place_order(SYMBOL, "SELL", Decimal(10), bid + TICK)
        await wait_for(lambda: len(fills) == 1, what="fill over the new stream")
        reader.cancel()
        assert fills[0].client_order_id == "c18" and fills[0].qty == Decimal(10)
        assert venue.fallback_polls == 0


async def test_c19a_user_stream_silent_rest_fallback_delivers(sim, make_key):
    """C19a the user stream goes silent (stalled 30 s) with an order open: the venue notices
    and polls REST; both fills arrive although the stream delivers nothing."""
    import asyncio

    _, key, secret = await make_key(sim)
    _, tkey, tsecret = await make_key(sim)
    venue = venue_for(sim, key, secret, poll_interval_s=0.05, user_silence_s=0.2)
    fills: list[Fill] = []
    async with venue, client_for(sim, tkey, tsecret) as taker:
        await wait_for(venue.user.connected.is_set, what="user stream")
        reader = asyncio.create_task(collect(fill_events(venue), fills))
        bid, _ = await best_bid_ask(taker)
        await venue.place(SYMBOL, Side.BUY, Decimal(10), bid + TICK, "c19a")
        for conn in list(hub_of(sim).user.connections):
            conn.stall(30)
        await taker.place_order(SYMBOL, "SELL", Decimal(4), bid + TICK)
        await taker.place_order(SYMBOL, "SELL", Decimal(6), bid + TICK)
        await wait_for(lambda: len(fills) == 2, timeout=10, what="both fills via REST")
        reader.cancel()
        assert venue.fills_from_rest == 2 and venue.fills_from_stream == 0
        assert sorted(f.qty for f in fills) == [Decimal(4), Decimal(6)]
        assert {f.client_order_id for f in fills} == {"c19a"}
        assert all(f.side is Side.BUY and f.is_maker for f in fills)


async def test_c19b_late_stream_copies_are_not_counted_twice(sim, make_key):
    """C19b fills taken from REST while the stream lagged; when the stream's delayed copies
    arrive they are recognised by trade id: still exactly two fills, nothing lost."""
    import asyncio

    _, key, secret = await make_key(sim)
    _, tkey, tsecret = await make_key(sim)
    venue = venue_for(sim, key, secret, poll_interval_s=3600)  # REST pass only when asked
    fills: list[Fill] = []
    async with venue, client_for(sim, tkey, tsecret) as taker:
        await wait_for(venue.user.connected.is_set, what="user stream")
        reader = asyncio.create_task(collect(fill_events(venue), fills))
        bid, _ = await best_bid_ask(taker)
        await venue.place(SYMBOL, Side.BUY, Decimal(10), bid + TICK, "c19b")
        for conn in list(hub_of(sim).user.connections):
            conn.stall(2.0)
        await taker.place_order(SYMBOL, "SELL", Decimal(4), bid + TICK)
        await taker.place_order(SYMBOL, "SELL", Decimal(6), bid + TICK)
        await venue.poll_once()
        await wait_for(lambda: venue.stream_fill_messages >= 2, timeout=10, what="late copies")
        await asyncio.sleep(0.05)
        reader.cancel()
        assert len(fills) == 2 and len({f.trade_id for f in fills}) == 2
        assert sum(f.qty for f in fills) == Decimal(10)
        assert venue.fills_from_rest + venue.fills_from_stream == 2
        # Normally REST came first (the stream was held back 2 s) and both copies were dupes.
        assert venue.duplicate_fills == venue.stream_fill_messages - venue.fills_from_stream


async def test_c19c_fill_during_a_reconnect_gap_is_not_lost(sim, make_key):
    """C19c the user socket is cut and the order fills before the stream is back: the REST
    pass made after every reconnect finds the fill; it is delivered exactly once."""
    import asyncio

    _, key, secret = await make_key(sim)
    _, tkey, tsecret = await make_key(sim)
    venue = venue_for(sim, key, secret, poll_interval_s=0.05, user_silence_s=3600)
    venue.user.backoff.initial_s = venue.user.backoff.max_s = 0.3
    fills: list[Fill] = []
    async with venue, client_for(sim, tkey, tsecret) as taker:
        await wait_for(venue.user.connected.is_set, what="user stream")
        reader = asyncio.create_task(collect(fill_events(venue), fills))
        bid, _ = await best_bid_ask(taker)
        await venue.place(SYMBOL, Side.BUY, Decimal(10), bid + TICK, "c19c")
        connects = venue.user.connects
        for conn in list(hub_of(sim).user.connections):
            conn.abort()
        await taker.place_order(SYMBOL, "SELL", Decimal(10), bid + TICK)
        await wait_for(lambda: venue.user.connects > connects, what="reconnected")
        await wait_for(lambda: len(fills) == 1, what="the fill")
        await asyncio.sleep(0.2)  # further polls must not repeat it
        reader.cancel()
        assert len(fills) == 1 and fills[0].qty == Decimal(10)
        assert fills[0].client_order_id == "c19c"
        assert venue.fills_from_rest + venue.fills_from_stream == 1


async def test_c20_keepalive_on_listen_key_host_and_renewal(sim, make_key):
    """C20 keep-alives go to the LISTEN-KEY host (the spot host here is dead), and the socket is
    renewed before its lifetime with the same key."""
    from liquidity_bot.venues.bitrue.rest import BitrueRestClient
    from liquidity_bot.venues.bitrue.user_stream import UserStream

    _, key, secret = await make_key(sim)
    ws = sim.base_url.replace("http://", "ws://")
    urls = BitrueUrls(
        spot="http://127.0.0.1:9",  # discard port: nothing listens
        listen_key=sim.base_url,
        futures="http://127.0.0.1:9",
        ws_market=ws,
        ws_user=ws,
    )
    async with BitrueRestClient(urls, key, secret) as rest:
        stream = UserStream(
            rest,
            urls,
            on_order=lambda u: None,
            on_balance=lambda u: None,
            keepalive_s=0.1,
            max_connection_s=0.4,
        )
        stream.backoff.initial_s = stream.backoff.max_s = 0.05
        await stream.start()
        try:
            await wait_for(lambda: stream.keepalives_sent >= 2, what="keep-alives")
            await wait_for(lambda: stream.connects >= 2, what="renewed connection")
            assert stream.keys_created == 1
        finally:
            await stream.stop()
    assert "listen_key=<hidden>" in repr(stream)
