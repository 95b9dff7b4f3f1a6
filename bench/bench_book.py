"""Bench: OrderBook snapshot apply (the connector's hot path) and reads per snapshot.

The second part compares, in the same run, reading a 100-level text frame the old way (both
sides normalised to Decimal on the first read: ``normalise_side``) with the new one (checked on
the text, converted only as far as it is read): the quoting path's read (best bid/ask and the
first 5 levels of each side), a full read, and the venue-to-engine hand-off.
"""

import gc
import statistics
import time
from decimal import Decimal

import msgspec

from liquidity_bot.domain.book import OrderBook, normalise_side
from liquidity_bot.domain.events import BookUpdate


def make(n: int, shift: int, as_str: bool):
    mid = 10_000 + shift
    bids = [(f"{mid - 1 - i}.{i % 100:02d}", f"{1 + i % 7}.5") for i in range(n)]
    asks = [(f"{mid + 1 + i}.{i % 100:02d}", f"{1 + i % 5}.25") for i in range(n)]
    if not as_str:
        bids = tuple((Decimal(p), Decimal(q)) for p, q in bids)
        asks = tuple((Decimal(p), Decimal(q)) for p, q in asks)
    return bids, asks


def run(label, snapshots, read, count):
    book = OrderBook("BTCUSDT")
    t0 = time.perf_counter()
    for i in range(count):
        b, a = snapshots[i % len(snapshots)]
        book.apply_snapshot(b, a, i)
        if read == "mid":
            _ = book.mid
        elif read == "all":
            _ = (book.mid, book.microprice, book.spread_bps, book.depth_quote(2))
    dt = time.perf_counter() - t0
    print(f"{label:55s} {count / dt:12,.0f} snapshots/s  ({dt / count * 1e6:7.2f} us each)")


# --- old vs new on exchange frames ---------------------------------------------------------------

_LEVELS = msgspec.json.Decoder(tuple[tuple[str, str], ...])


def exchange_frames(count: int, levels: int = 100):
    """Depth frames as the exchange sends their levels (JSON): one price scale (4 decimals),
    one volume scale (1 decimal), a moving mid, quantities that change from frame to frame."""
    frames = []
    for k in range(count):
        mid = 51_230 + (k % 7) - 3  # in ticks of 0.0001
        bids = [[f"{Decimal(mid - 1 - i).scaleb(-4)}", f"{Decimal(15_203 + 71 * i + 13 * k).scaleb(-1)}"]
                for i in range(levels)]
        asks = [[f"{Decimal(mid + 1 + i).scaleb(-4)}", f"{Decimal(9_011 + 37 * i + 11 * k).scaleb(-1)}"]
                for i in range(levels)]
        frames.append((msgspec.json.encode(bids), msgspec.json.encode(asks)))
    return frames


def decoded(frames):
    return [(_LEVELS.decode(b), _LEVELS.decode(a)) for b, a in frames]


def decode_only(bids, asks):
    return bids, asks


def old_hot(bids, asks):
    """What reading the top cost before: both whole sides, then the first levels."""
    b, a = normalise_side(bids, bids=True), normalise_side(asks, bids=False)
    return (b[0][0] + a[0][0]) / 2, b[:5], a[:5]


def new_hot(book, bids, asks, ts):
    book.apply_snapshot(bids, asks, ts)
    return book.mid, book.bid_side.top(5), book.ask_side.top(5)


def old_full(bids, asks):
    return normalise_side(bids, bids=True), normalise_side(asks, bids=False)


def new_full(book, bids, asks, ts):
    book.apply_snapshot(bids, asks, ts)
    return book.bids, book.asks


def old_handoff(venue, engine, bids, asks, ts):
    """Today: the venue's ``_update_of`` converts both sides; the engine takes them as they are
    and reads its quoting inputs (mid, the first levels)."""
    venue.apply_snapshot(bids, asks, ts)
    engine.apply(BookUpdate(ts_ms=ts, symbol="X", bids=venue.bids, asks=venue.asks,
                            normalised=True))
    return engine.mid, engine.bid_side.top(5), engine.ask_side.top(5)


def new_handoff(venue, engine, bids, asks, ts):
    """Proposed: the update carries the venue book's ``BookSide``s; both books share them."""
    venue.apply_snapshot(bids, asks, ts)
    engine.apply(BookUpdate(ts_ms=ts, symbol="X", bids=venue.bid_side, asks=venue.ask_side,
                            normalised=True))
    return engine.mid, engine.bid_side.top(5), engine.ask_side.top(5)


def per_frame_us(fn, books: int, frames) -> float:
    """Time decoding each frame (as the market stream does) and ``fn`` reading it, with
    ``books`` fresh OrderBooks (none: the old functions)."""
    extra = [OrderBook("X") for _ in range(books)]
    decode = _LEVELS.decode if type(frames[0][0]) is bytes else None
    t0 = time.perf_counter()
    for ts, (bids, asks) in enumerate(frames):
        if decode is not None:
            bids, asks = decode(bids), decode(asks)
        fn(*extra, bids, asks, ts) if books else fn(bids, asks)
    return (time.perf_counter() - t0) / len(frames) * 1e6


def compare(label, old, new, frames, repeats=7):
    """Old and new interleaved, ``repeats`` times over the frames: medians and their ratio.

    Automatic garbage collection is off while timing, as in the engine's latency mode (it
    collects at safe points instead), so neither side pays for the other's garbage.
    """
    olds, news = [], []
    for _ in range(repeats):
        for fn, books, times in ((*old, olds), (*new, news)):
            gc.collect()
            gc.disable()
            try:
                times.append(per_frame_us(fn, books, frames))
            finally:
                gc.enable()
    o, n = statistics.median(olds), statistics.median(news)
    print(f"{label:46s} old {o:7.2f} us   new {n:7.2f} us   new/old {n / o:5.2f}")


def compare_old_new() -> None:
    frames = exchange_frames(1_000)
    for bids, asks in decoded(frames[:50]):  # the new reads give exactly the old results
        book = OrderBook("X")
        book.apply_snapshot(bids, asks, 0)
        assert (book.mid, book.bid_side.top(5), book.ask_side.top(5)) == old_hot(bids, asks)
        assert (book.bids, book.asks) == old_full(bids, asks)
    print("100+100-level text frames, per frame, decoding included (medians of 7 interleaved"
          " runs):")
    compare("decoding alone (the same for both)", (decode_only, 0), (decode_only, 0), frames)
    compare("hot read: mid + best 5 bids + best 5 asks", (old_hot, 0), (new_hot, 1), frames)
    compare("full read: bids + asks", (old_full, 0), (new_full, 1), frames)
    compare("venue book -> BookUpdate -> engine hot read", (old_handoff, 2), (new_handoff, 2),
            frames)
    exact = [tuple(tuple((Decimal(p), Decimal(q)) for p, q in side) for side in frame)
             for frame in decoded(frames[:300])]
    print("The same frames as Decimal levels (REST resync, replays: no text to check):")
    compare("hot read: mid + best 5 bids + best 5 asks", (old_hot, 0), (new_hot, 1), exact)


if __name__ == "__main__":
    for as_str in (False, True):
        kind = "str levels" if as_str else "Decimal levels"
        snaps = [make(100, k, as_str) for k in range(50)]
        run(f"apply only, 100+100 {kind}", snaps, None, 200_000)
        run(f"apply + mid (best levels only), {kind}", snaps, "mid", 20_000)
        run(f"apply + mid/micro/spread/depth2%, {kind}", snaps, "all", 20_000)
    upd = [BookUpdate(ts_ms=k, symbol="BTCUSDT", bids=b, asks=a) for k, (b, a) in
           enumerate(make(100, k, False) for k in range(50))]
    book = OrderBook("BTCUSDT")
    t0 = time.perf_counter()
    n = 200_000
    for i in range(n):
        book.apply(upd[i % 50]) if False else book.apply_snapshot(upd[i % 50].bids, upd[i % 50].asks, i)
    dt = time.perf_counter() - t0
    print(f"{'apply(BookUpdate fields)':55s} {n / dt:12,.0f} snapshots/s")
    print()
    compare_old_new()
