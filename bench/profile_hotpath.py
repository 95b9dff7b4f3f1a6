"""Profile: where the place path and the book path spend their time (issue 20, item 2).

The engine runs against the simulator (a child process, as in ``bench_engine``) until it quotes;
then, on its event loop, this script times and profiles (cProfile) two paths, each ``--calls``
times back to back (warm caches: the figures are the code's cost, not the cold-cache latency):

- place: what ``place`` does before the socket, for a LIMIT order: parameters, rate-limit cost,
  signing and the request's bytes (``place_order``'s steps, called one by one: ``_place_step``);
- book: the latest depth frame of the market decoded (gunzip, typed decode) into a scratch book
  and its best prices read (``_book_step``: the market stream's ``handle_frame`` minus the pass
  it would start).

It prints µs per call (median of ``--repeats`` timed batches, no profiler) and the top of each
profile by own time. Numbers are printed, never asserted.

    .venv/bin/python bench/profile_hotpath.py [--calls 20000] [--repeats 5] [--top 15]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import pstats
import statistics
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from bench_engine import SimProcess, _engine, _key  # noqa: E402

from liquidity_bot.domain.book import OrderBook  # noqa: E402
from liquidity_bot.venues.bitrue import market_stream  # noqa: E402
from liquidity_bot.venues.bitrue import rest as bitrue_rest


def _place_step(rest: bitrue_rest.BitrueRestClient) -> Callable[[], object]:
    """``place_order`` up to the socket for one LIMIT order, sending nothing."""
    def step() -> bytes:
        query = bitrue_rest._place_query("XRPUSDT", "BUY", Decimal("123.4"), Decimal("0.5123"),
                                         "LIMIT", "lbb0000000000000000", None)
        bitrue_rest.endpoint_costs("POST", "/api/v1/order", query)
        target, headers, _ = rest._target("POST", "/api/v1/order", query, True, False, False, "")
        return rest._http.origin(rest.urls.spot).encode("POST", target, headers)
    return step


def _book_step(frame: bytes | str) -> Callable[[], object]:
    """One depth frame handled into a scratch book and its top read."""
    def step() -> object:
        raw = (market_stream.gunzip(frame) if isinstance(frame, bytes | bytearray)
               else frame.encode())
        tick = market_stream._DECODE.decode(raw).tick
        book = OrderBook("XRPUSDT")
        book.apply_snapshot(tick.buys, tick.asks, 0)
        return book.mid
    return step


def _timed(fn: Callable[[], object], calls: int, repeats: int) -> float:
    """µs per call, median of ``repeats`` batches."""
    per_call = []
    for _ in range(repeats):
        t0 = time.perf_counter_ns()
        for _ in range(calls):
            fn()
        per_call.append((time.perf_counter_ns() - t0) / calls / 1000)
    return statistics.median(per_call)


def _profile(fn: Callable[[], object], calls: int, top: int) -> str:
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(calls):
        fn()
    prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).strip_dirs().sort_stats("tottime").print_stats(top)
    return out.getvalue()


async def measure(calls: int, repeats: int, top: int) -> None:
    with SimProcess("volatile", 7, rate_limits=False) as sim:
        key, secret = await _key(sim)
        engine = _engine(sim, key, secret, stress=False)
        venue = engine.sessions[0].venue
        market = venue.market  # type: ignore[attr-defined]
        frames: list[bytes | str] = []
        handle = market.handle_frame

        def keep_depth_frames(data):  # noqa: ANN001, ANN202
            before = market.snapshots
            reply = handle(data)
            if market.snapshots != before:
                frames.append(data)
            return reply

        market.handle_frame = keep_depth_frames
        task = asyncio.get_running_loop().create_task(engine.run(handle_signals=False))
        deadline = time.monotonic() + 30
        while not (engine.runners and frames):
            if task.done() or time.monotonic() > deadline:
                task.cancel()
                raise SystemExit("the engine did not start quoting")
            await asyncio.sleep(0.01)
        rest = venue.rest  # type: ignore[attr-defined]
        paths: dict[str, Callable[[], object]] = {
            "place (params, cost, signing, bytes)": _place_step(rest),
            "book (gunzip, decode, apply, best prices)": _book_step(frames[-1]),
        }
        try:
            for label, fn in paths.items():
                fn()
                print(f"{label}: {_timed(fn, calls, repeats):.1f} µs per call "
                      f"(median of {repeats} x {calls})")
                print(_profile(fn, calls, top))
        finally:
            engine.stop()
            await task


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()
    asyncio.run(measure(args.calls, args.repeats, args.top))


if __name__ == "__main__":
    main()
