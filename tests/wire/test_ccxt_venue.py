"""The ccxt venue's numbered spec (X01...), each case over loopback against the simulator on
both dialects: ccxt's ``bitrue`` client on the Bitrue dialect and ccxt's ``binance`` client on
the Binance dialect (the same venue code, only ``exchange_id`` differs).

X01 start: instruments from ccxt markets, exact      X02 book stream: exact Decimals, on grid
X03 place / query / open orders / cancel             X04 fill from another account: exact, once
X05 cancel of a finished order -> CancelReject       X06 errors through the one table
X07 no float reaches our code                        X08 unknown outcome settled by client id
X09 client-id rules and post-only capability         X10 REST fallback when streams are off
X11 no credential in any log or error               X12 fills arrive once through stream drops
X13 an order from before the start still reports its fill   X14 the config table builds the venue
"""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import create_key  # noqa: E402  (tests/wire is on sys.path)

from bitrue_sim.server.runner import SimServer
from liquidity_bot.domain.events import BookUpdate, CancelAck, CancelReject, Fill, OrderAck
from liquidity_bot.domain.order import Side
from liquidity_bot.venues import errors as venue_errors
from liquidity_bot.venues.ccxt.venue import CcxtVenue

pytest.importorskip("ccxt.pro")

DIALECTS = {"bitrue": "bitrue", "binance": "binance"}  # sim dialect -> ccxt exchange id
SYMBOL = "XRPUSDT"


@pytest.fixture(params=sorted(DIALECTS))
async def dsim(request):
    async with SimServer(dialect=request.param) as server:
        server.exchange_id = DIALECTS[request.param]
        yield server


def venue_for(sim, key: str, secret: str, **kw) -> CcxtVenue:
    kw.setdefault("poll_interval_s", 0.3)
    return CcxtVenue(sim.exchange_id, key, secret, [SYMBOL, "NOVAUSDT"],
                     http_base=sim.base_url, ws_base=sim.ws_url, **kw)


async def next_of(it, kind, timeout: float = 5.0, where=lambda e: True):
    async def pick():
        async for event in it:
            if isinstance(event, kind) and where(event):
                return event
    return await asyncio.wait_for(pick(), timeout)


async def test_x01_start_builds_exact_instruments(dsim):
    """X01 start loads ccxt's markets; the instruments carry the sim's exact grids/limits."""
    _, key, secret = await create_key(dsim)
    async with venue_for(dsim, key, secret) as venue:
        inst = (await venue.instruments())[SYMBOL]
        assert (inst.tick, inst.step) == (Decimal("0.0001"), Decimal("0.1"))
        assert inst.min_qty == Decimal("0.1") and inst.min_val == Decimal("1")
        nova = (await venue.instruments())["NOVAUSDT"]
        assert (nova.tick, nova.step) == (Decimal("0.000001"), Decimal("1"))
        assert venue.order_rate_limit.requests == 100
        assert venue.capabilities.post_only is (dsim.exchange_id == "binance")


async def test_x02_book_stream_is_exact_and_current(dsim):
    """X02 The book stream gives Decimal levels on the grid, equal to the sim's own book."""
    _, key, secret = await create_key(dsim)
    async with venue_for(dsim, key, secret) as venue:
        books = venue.book_events()
        update = await next_of(books, BookUpdate, where=lambda b: b.symbol == SYMBOL)
        bids, asks = dsim.exchange.depth(SYMBOL, 50)
        assert list(update.bids) == [(p, q) for p, q in bids]
        assert list(update.asks) == [(p, q) for p, q in asks]
        assert all(type(p) is Decimal and type(q) is Decimal for p, q in update.bids)


async def test_x03_place_query_cancel(dsim):
    """X03 place acks with our client id; query by either id and open orders agree; cancel
    acks, and the order stream says so too."""
    _, key, secret = await create_key(dsim)
    async with venue_for(dsim, key, secret) as venue:
        events = venue.order_events()
        ack = await venue.place(SYMBOL, Side.BUY, Decimal("10"), Decimal("0.4900"), "x03a")
        assert ack.client_order_id == "x03a" and ack.exchange_order_id.isdigit()
        by_cid = await venue.query(SYMBOL, client_order_id="x03a")
        by_id = await venue.query(SYMBOL, exchange_order_id=ack.exchange_order_id)
        assert by_cid == by_id
        assert by_cid.status == "NEW" and by_cid.price == Decimal("0.4900")
        assert by_cid.qty == Decimal("10") and by_cid.client_order_id == "x03a"
        assert [o.client_order_id for o in await venue.open_orders(SYMBOL)] == ["x03a"]
        answer = await venue.cancel(SYMBOL, client_order_id="x03a")
        assert isinstance(answer, CancelAck) and answer.client_order_id == "x03a"
        streamed = await next_of(events, CancelAck)
        assert streamed.client_order_id == "x03a"
        assert (await venue.query(SYMBOL, client_order_id="x03a")).status == "CANCELED"
        assert await venue.open_orders(SYMBOL) == []


async def test_x04_fill_is_exact_and_delivered_once(dsim):
    """X04 Another account takes part of our order: one Fill per trade with the exact price,
    quantity and fee, on both the order and the fill streams; a REST poll does not repeat it."""
    _, key, secret = await create_key(dsim)
    taker_account, _, _ = await create_key(dsim)
    async with venue_for(dsim, key, secret) as venue:
        fills = venue.fill_events()
        await venue.place(SYMBOL, Side.SELL, Decimal("20"), Decimal("0.5002"), "x04")
        dsim.exchange.place_order(taker_account, SYMBOL, "BUY", "LIMIT", Decimal("7.5"),
                                  Decimal("0.5002"))
        fill = await next_of(fills, Fill)
        assert fill.client_order_id == "x04" and fill.side is Side.SELL
        assert (fill.price, fill.qty) == (Decimal("0.5002"), Decimal("7.5"))
        assert type(fill.fee) is Decimal and fill.fee > 0
        await venue.poll_once()
        assert venue.fills_from_stream + venue.fills_from_rest == 1
        assert (await venue.query(SYMBOL, client_order_id="x04")).filled_qty == Decimal("7.5")
        trades = await venue.fills_since(SYMBOL)
        assert [(t.trade_id, t.qty) for t in trades] == [(fill.trade_id, Decimal("7.5"))]


async def test_x05_cancel_of_a_finished_order_is_a_reject(dsim):
    """X05 Cancelling an order that already filled answers CancelReject, not an exception."""
    _, key, secret = await create_key(dsim)
    async with venue_for(dsim, key, secret) as venue:
        await venue.place(SYMBOL, Side.BUY, Decimal("10"), Decimal("0.5100"), "x05")
        answer = await venue.cancel(SYMBOL, client_order_id="x05")
        assert isinstance(answer, CancelReject) and answer.client_order_id == "x05"


async def test_x06_errors_map_through_the_table(dsim):
    """X06 insufficient balance, a filter failure, a read-only key: each becomes the venue
    error the engine catches."""
    _, key, secret = await create_key(dsim, balances={"USDT": "10", "XRP": "10"})
    async with venue_for(dsim, key, secret) as venue:
        with pytest.raises(venue_errors.InsufficientBalance):
            await venue.place(SYMBOL, Side.BUY, Decimal("1000"), Decimal("0.4900"), "x06a")
        with pytest.raises(venue_errors.InvalidOrder):  # below the minimum order value
            await venue.place(SYMBOL, Side.BUY, Decimal("1"), Decimal("0.4900"), "x06b")
    _, ro_key, ro_secret = await create_key(dsim, permissions=("read",))
    async with venue_for(dsim, ro_key, ro_secret) as venue:
        with pytest.raises((venue_errors.AuthError, venue_errors.PermissionDenied)):
            await venue.place(SYMBOL, Side.BUY, Decimal("10"), Decimal("0.4900"), "x06c")


async def test_x07_no_float_reaches_our_code(dsim):
    """X07 Every number the venue hands over is a Decimal, and the ccxt client that serves
    REST and the user stream runs with number = str (floats are refused at the boundary)."""
    from liquidity_bot.venues.ccxt.numbers import InexactNumber, book_decimal, exact

    _, key, secret = await create_key(dsim)
    async with venue_for(dsim, key, secret) as venue:
        assert venue.client.number is str
        await venue.place(SYMBOL, Side.BUY, Decimal("10"), Decimal("0.4900"), "x07")
        snap = await venue.query(SYMBOL, client_order_id="x07")
        numbers = [snap.price, snap.qty, snap.filled_qty, snap.filled_quote]
        numbers += [v for b in (await venue.balances()).values() for v in (b.free, b.locked)]
        assert all(type(n) is Decimal for n in numbers)
    with pytest.raises(InexactNumber):
        exact(0.49, "price")
    assert book_decimal(0.4995) == Decimal("0.4995")
    assert book_decimal(60000.01) == Decimal("60000.01")
    with pytest.raises(InexactNumber):
        book_decimal(0.1 + 0.2)  # 0.30000000000000004: 17 digits


async def test_x08_unknown_outcome_is_settled_by_client_id(tmp_path: Path):
    """X08 A placement answered 5xx although the sim executed it raises UnknownOutcome; the
    query by client id then finds the order (both dialects use one Bitrue-path profile)."""
    profile = tmp_path / "uo.toml"
    profile.write_text('[unknown_outcome]\nprobability = 1.0\naccepted_probability = 1.0\n'
                       'statuses = [503]\nmethods = ["POST"]\n'
                       'paths = ["/api/v1/order"]\n')
    for dialect, exchange_id in DIALECTS.items():
        async with SimServer(dialect=dialect, faults_path=profile) as sim:
            sim.exchange_id = exchange_id
            _, key, secret = await create_key(sim)
            async with venue_for(sim, key, secret) as venue:
                with pytest.raises(venue_errors.UnknownOutcome):
                    await venue.place(SYMBOL, Side.BUY, Decimal("10"), Decimal("0.4900"),
                                      "x08")
                snap = await venue.query(SYMBOL, client_order_id="x08")
                assert snap is not None and snap.status == "NEW", dialect


async def test_x09_client_ids_and_post_only(dsim):
    """X09 A client id longer than the exchange allows is refused before sending; post-only
    is sent where the exchange has it (a crossing one is refused) and refused where not."""
    _, key, secret = await create_key(dsim)
    async with venue_for(dsim, key, secret) as venue:
        too_long = "a" * (venue.support.client_id_max_len + 1)
        with pytest.raises(venue_errors.InvalidOrder, match="client order id"):
            await venue.place(SYMBOL, Side.BUY, Decimal("10"), Decimal("0.4900"), too_long)
        if venue.capabilities.post_only:
            ack = await venue.place(SYMBOL, Side.BUY, Decimal("10"), Decimal("0.4900"),
                                    "x09pm", order_type="LIMIT_MAKER")
            assert isinstance(ack, OrderAck)
            with pytest.raises(venue_errors.InvalidOrder):
                await venue.place(SYMBOL, Side.BUY, Decimal("10"), Decimal("0.5100"),
                                  "x09x", order_type="LIMIT_MAKER")
        else:
            with pytest.raises(venue_errors.InvalidOrder, match="post-only"):
                await venue.place(SYMBOL, Side.BUY, Decimal("10"), Decimal("0.4900"),
                                  "x09pm", order_type="LIMIT_MAKER")
        assert dsim.exchange.open_orders(dsim.keys.get(key).account_id, SYMBOL) == [] or \
            venue.capabilities.post_only


async def test_x10_rest_fallback_without_streams(dsim):
    """X10 With streams off, books come from REST and a cancel by someone else (the sim's
    admin side) still reaches the order stream through the fallback poll."""
    account, key, secret = await create_key(dsim)
    async with venue_for(dsim, key, secret, streams=False, book_poll_s=0.2) as venue:
        await next_of(venue.book_events(), BookUpdate)
        events = venue.order_events()
        await venue.place(SYMBOL, Side.BUY, Decimal("10"), Decimal("0.4900"), "x10")
        dsim.exchange.cancel_order(account, SYMBOL, client_order_id="x10")
        cancel = await next_of(events, CancelAck)
        assert cancel.client_order_id == "x10" and venue.fallback_polls >= 1


async def test_x11_no_credential_in_logs_or_errors(dsim, caplog):
    """X11 A canary secret never shows in a log line or an error message, even when the
    key is refused."""
    caplog.set_level(logging.DEBUG)
    _, key, secret = await create_key(dsim, ip_allowlist=("10.9.9.9",))
    venue = venue_for(dsim, key, secret)
    with pytest.raises(venue_errors.VenueError) as info:
        async with venue:
            await venue.balances()
    text = caplog.text + str(info.value) + repr(info.value)
    assert secret not in text


async def test_x12_fills_arrive_once_through_user_stream_drops(tmp_path: Path):
    """X12 With the user stream dropped again and again (and listen keys invalidated), every
    fill still reaches the venue exactly once, by reconnection or the REST fallback."""
    profile = tmp_path / "drops.toml"
    profile.write_text('[ws_disconnect]\nper_minute = 40\nstreams = ["user"]\n'
                       '[listen_key_invalidation]\nper_minute = 10\n')
    for dialect, exchange_id in DIALECTS.items():
        async with SimServer(dialect=dialect, faults_path=profile) as sim:
            sim.exchange_id = exchange_id
            _, key, secret = await create_key(sim)
            taker, _, _ = await create_key(sim)
            async with venue_for(sim, key, secret) as venue:
                fills = venue.fill_events()
                got: list[Fill] = []
                for i in range(4):
                    await venue.place(SYMBOL, Side.SELL, Decimal("10"), Decimal("0.5002"),
                                      f"x12n{i}")
                    sim.exchange.place_order(taker, SYMBOL, "BUY", "LIMIT", Decimal("10"),
                                             Decimal("0.5002"))
                    got.append(await next_of(fills, Fill, timeout=20))
                    await asyncio.sleep(0.5)
                await venue.poll_once()
                assert sorted(f.client_order_id for f in got) == [f"x12n{i}" for i in range(4)]
                assert venue.fills_from_stream + venue.fills_from_rest == 4, dialect
                counts = sim.state.faults.snapshot()["counts"]
                assert counts["ws_disconnect"] + counts["listen_key_invalidation"] >= 1, \
                    "the user stream was really dropped"


async def test_x13_an_order_from_before_the_start_still_reports_its_fill(dsim):
    """X13 An order left by an earlier run (placed by another venue, now stopped) fills: the
    new venue's order and fill streams still carry it, once."""
    _, key, secret = await create_key(dsim)
    taker, _, _ = await create_key(dsim)
    async with venue_for(dsim, key, secret) as earlier:
        await earlier.place(SYMBOL, Side.SELL, Decimal("10"), Decimal("0.5002"), "x13old")
    async with venue_for(dsim, key, secret) as venue:
        fills = venue.fill_events()
        await asyncio.sleep(0.3)  # the user stream is up
        dsim.exchange.place_order(taker, SYMBOL, "BUY", "LIMIT", Decimal("10"),
                                  Decimal("0.5002"))
        fill = await next_of(fills, Fill, timeout=10)
        assert (fill.client_order_id, fill.qty) == ("x13old", Decimal("10"))
        await venue.poll_once()
        assert venue.fills_from_stream + venue.fills_from_rest == 1


async def test_x14_the_config_table_builds_the_venue(tmp_path: Path):
    """X14 ``[exchanges.binance]`` (base_url, post_only) is what the factory builds the venue
    from: it reaches the simulator's Binance dialect and quotes post-only."""
    from liquidity_bot.config import parse_config
    from liquidity_bot.venues.ccxt.factory import ccxt_venue

    async with SimServer(dialect="binance") as sim:
        _, key, secret = await create_key(sim)
        config = parse_config(f'[exchanges.binance]\nbase_url = "{sim.base_url}"\n'
                              'post_only = true\n')
        venue = ccxt_venue(config, "binance", key, secret, [SYMBOL])
        async with venue:
            assert venue.want_post_only
            with pytest.raises(venue_errors.InvalidOrder):  # it would take: refused
                await venue.place(SYMBOL, Side.BUY, Decimal("10"), Decimal("0.5100"), "x14t")
            await venue.place(SYMBOL, Side.BUY, Decimal("10"), Decimal("0.4900"), "x14m")
            account = sim.keys.get(key).account_id
            assert [o.client_order_id for o in sim.exchange.open_orders(account, SYMBOL)] == \
                ["x14m"]


def _local_addresses_to(port: int) -> set[str]:
    """The local addresses of this machine's established TCP connections to ``port``
    (``/proc/net/tcp``): which address each of our sockets to the simulator went from."""
    seen = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, remote, state = line.split()[1:4]
        if state == "01" and int(remote.split(":")[1], 16) == port:
            raw = bytes.fromhex(local.split(":")[0])[::-1]  # little-endian on x86/arm
            seen.add(".".join(str(b) for b in raw))
    return seen


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads /proc/net/tcp")
async def test_x15_a_key_sends_from_its_own_address(dsim):
    """X15 ``source_address``: a key whose allow list holds only 127.0.0.3 trades when the venue
    sends from that address, REST and WebSockets alike (every socket to the simulator goes from
    it), and is refused from the system's default address."""
    from urllib.parse import urlsplit

    _, key, secret = await create_key(dsim, ip_allowlist=("127.0.0.3",))
    port = urlsplit(dsim.base_url).port
    async with venue_for(dsim, key, secret, source_address="127.0.0.3") as venue:
        await next_of(venue.book_events(), BookUpdate, where=lambda b: b.symbol == SYMBOL)
        ack = await venue.place(SYMBOL, Side.BUY, Decimal("10"), Decimal("0.4900"), "x15a")
        assert ack.client_order_id == "x15a"
        assert isinstance(await venue.cancel(SYMBOL, client_order_id="x15a"), CancelAck)
        assert _local_addresses_to(port) == {"127.0.0.3"}
    with pytest.raises((venue_errors.AuthError, venue_errors.PermissionDenied)):
        # refused at start (ccxt's binance signs a read there) or at the first order
        async with venue_for(dsim, key, secret) as venue:
            await venue.place(SYMBOL, Side.BUY, Decimal("10"), Decimal("0.4900"), "x15b")
