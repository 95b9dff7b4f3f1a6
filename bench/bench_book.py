"""Bench: OrderBook snapshot apply (the connector's hot path) and a full read per snapshot."""

import time
from decimal import Decimal

from liquidity_bot.domain.book import OrderBook
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


if __name__ == "__main__":
    for as_str in (False, True):
        kind = "str levels" if as_str else "Decimal levels"
        snaps = [make(100, k, as_str) for k in range(50)]
        run(f"apply only, 100+100 {kind}", snaps, None, 200_000)
        run(f"apply + mid (normalises both sides), {kind}", snaps, "mid", 20_000)
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
