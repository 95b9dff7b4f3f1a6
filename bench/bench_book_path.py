"""Bench: a depth frame -> the point where its quoting pass starts (the book path), old vs new.

Per frame, what runs live: ``MarketStream.handle_frame`` (gunzip, typed decode, the stream's
book) -> the Bitrue venue's hand-off (``BookUpdate`` of the shared sides) -> the engine's
route -> ``MarketRunner.on_book`` (the runner's book, the mid, the risk gate's reference and
loss mark, the estimator's feed) -> the eager pass starting -> ``MarketRunner.step`` entered.
The pass's content (strategy, order manager) is not run: ``step`` is replaced by one that
notes the time and waits once, as a pass waits for its first request's answer; the figure is
the book path's own cost, frame received -> step entered (thread CPU time), on the event loop
``run`` uses. The frames are 100+100-level XRPUSDT depth pushes, gzip'ed as the
exchange sends them, quantities changing every frame and prices every fourth (``frames``).

- warm: frames back to back;
- cold: before each frame ~40 MiB of memory is written and read and unrelated Python runs (a
  JSON round trip, sorting), evicting the caches as the ~150 ms between two live ticks do; only
  the frame's own handling is timed (thread CPU time).

Each tree runs in child processes (``--old-src DIR``: another checkout's ``src``, e.g. ``main``),
old and new alternating, so their ratio is measured under the same load.

    .venv/bin/python bench/bench_book_path.py [--frames 2000] [--cold 300] [--runs 3]
        [--old-src DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import statistics
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"



def frames(count: int, levels: int = 100) -> list[bytes]:
    """gzip'ed depth pushes: 4-decimal prices around 0.5123, 1-decimal quantities that change
    every frame, a top that moves by a tick or more every fourth frame (in the simulator's
    ``volatile`` XRPUSDT, 100 levels pushed every 150 ms keep their prices in ~75 % of
    frames)."""
    out = []
    for k in range(count):
        mid = 5_123 + (k // 4 % 7) - 3  # ticks of 0.0001
        bids = [[str(Decimal(mid - 1 - i).scaleb(-4)), str(Decimal(15_203 + 71 * i + 13 * k).scaleb(-1))]
                for i in range(levels)]
        asks = [[str(Decimal(mid + 1 + i).scaleb(-4)), str(Decimal(9_011 + 37 * i + 11 * k).scaleb(-1))]
                for i in range(levels)]
        msg = {"channel": "market_xrpusdt_simple_depth_step0", "ts": 1_700_000_000_000 + 150 * k,
               "tick": {"buys": bids, "asks": asks}}
        out.append(gzip.compress(json.dumps(msg, separators=(",", ":")).encode()))
    return out


def _runner():  # noqa: ANN202 - the tree's own types
    """``bench_engine``'s production market: the Bitrue venue's stream (never connected)
    feeding a ladder market runner, as ``Engine`` wires them."""
    from bench_engine import CONFIG  # the production market

    from liquidity_bot.config import parse_config
    from liquidity_bot.domain.instrument import Instrument
    from liquidity_bot.engine.budget import OrderBudget
    from liquidity_bot.engine.market_runner import MarketRunner
    from liquidity_bot.engine.order_manager import Balances, ClientIds, OrderManager
    from liquidity_bot.engine.risk import RiskGate
    from liquidity_bot.engine.runner import build_estimator, build_strategy
    from liquidity_bot.venues.bitrue.factory import bitrue_venue

    cfg = parse_config(CONFIG.format(base_url="http://127.0.0.1:9", tolerance_ticks=1,
                                     size_tolerance_pct="10"))
    market = cfg.markets[0]
    inst = Instrument(symbol="XRPUSDT", base="XRP", quote="USDT", tick=Decimal("0.0001"),
                      step=Decimal("0.1"), price_scale=4, volume_scale=1,
                      min_price=Decimal("0.0001"), max_price=None, min_qty=Decimal("0.1"),
                      max_qty=None, min_val=Decimal("1"))
    venue = bitrue_venue(cfg, "k" * 64, "s" * 64, ["XRPUSDT"])
    balances = Balances()
    balances.set("XRP", Decimal(10_000), Decimal(0))
    balances.set("USDT", Decimal(10_000), Decimal(0))
    risk = RiskGate("XRPUSDT", market.risk, {"bench": ["XRPUSDT"]},
                    initial_base=Decimal(10_000), initial_quote=Decimal(10_000))
    om = OrderManager(venue, inst, budget=OrderBudget(), risk=risk, writer=None,
                      balances=balances, key_label="bench", client_ids=ClientIds("lbb"))
    runner = MarketRunner(market, inst, build_strategy(market, inst), om, risk,
                          store_kpis=False, estimator=build_estimator(market))
    runner._waiting = True  # the loop waits: each book starts a pass itself
    entered: list[int] = []

    async def step() -> None:  # the pass's content is not the book path's
        entered.append(time.thread_time_ns())
        await asyncio.sleep(0)

    runner.step = step
    runner.entered = entered

    def route(update):  # noqa: ANN001, ANN202 - the engine's ``_pump_books`` route
        if update.symbol == "XRPUSDT":
            runner.on_book(update)

    listening = venue.listen_books(route)
    listening.__enter__()
    runner.listening = listening  # kept: a collected context would stop the listening
    return venue.market, runner


def _evict(buffer: bytearray) -> None:
    """Write and read the buffer and run unrelated Python: caches as after ~150 ms of others."""
    buffer[::64] = bytes(len(buffer) // 64)
    sum(buffer[::4096])
    sorted(json.loads(json.dumps({str(i): [i, str(i)] for i in range(2000)})).items())


async def _frames(mode: str, count: int) -> dict:
    stream, runner = _runner()
    data = frames(200 + count)  # (each frame newer than the last: none is stale)
    handle, entered = stream.handle_frame, runner.entered
    for frame in data[:200]:
        handle(frame)
        while runner._in_pass:  # the pass ends
            await asyncio.sleep(0)
    assert runner.book.mid is not None and len(entered) == 200, "each book starts a pass"
    buffer = bytearray(40 << 20) if mode == "cold" else None
    clock = time.thread_time_ns
    us = []
    for frame in data[200:]:
        if buffer is not None:
            _evict(buffer)
        t0 = clock()
        handle(frame)
        us.append((entered[-1] - t0) / 1000)
        while runner._in_pass:
            await asyncio.sleep(0)
    assert len(entered) == 200 + count, "each book started a pass"
    return {"us": us, "mid": str(runner.book.mid)}


def child(mode: str, count: int) -> None:
    from liquidity_bot.engine.runtime import event_loop_name, run

    print(json.dumps(run(_frames(mode, count), event_loop_name())))


def run_child(src: Path, mode: str, count: int) -> dict:
    env = dict(os.environ, PYTHONPATH=f"{src}{os.pathsep}{HERE}")
    out = subprocess.run([sys.executable, __file__, "--child", mode, "--frames", str(count)],
                         env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=2000, help="warm frames per run")
    parser.add_argument("--cold", type=int, default=300, help="cold frames per run")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--old-src", type=Path, default=None)
    parser.add_argument("--child", choices=("warm", "cold"), default=None)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.frames)
        return 0
    trees = [("new", SRC)] + ([("old", args.old_src.resolve())] if args.old_src else [])
    results: dict[tuple[str, str], list[float]] = {}
    for run in range(args.runs):
        for mode, count in (("warm", args.frames), ("cold", args.cold)):
            for name, src in trees if run % 2 == 0 else trees[::-1]:
                got = run_child(src, mode, count)
                value = statistics.median(got["us"])
                results.setdefault((name, mode), []).append(value)
                if mode == "cold":
                    ordered = sorted(got["us"])
                    results.setdefault((name, "cold p90"), []).append(
                        ordered[int(0.9 * (len(ordered) - 1))])
                print(f"  run {run + 1} {name} {mode}: {value:7.2f} us per frame", flush=True)
    print(f"frame -> pass start, per frame (median of {args.runs} runs of the per-frame "
          f"medians, {args.frames} warm frames and {args.cold} cold ones a run; cold p90: "
          f"of each run's cold frames):")
    for mode in ("warm", "cold", "cold p90"):
        new = statistics.median(results[("new", mode)])
        line = f"  {mode:9s} new {new:7.2f} us"
        if args.old_src:
            old = statistics.median(results[("old", mode)])
            line += f"   old {old:7.2f} us   old/new {old / new:5.2f}x"
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
