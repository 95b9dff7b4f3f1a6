"""The order manager's part of a quoting pass, old tree vs new, over the same backtest.

Quotes -> requests: ``OrderManager.sync`` (the live view, the safe quotes, the budget, the
plan or its reuse, the risk gate, registration and the first step of each request up to the
venue) and the KPI sample that follows each pass (``MarketRunner._sample``). Each variant
runs the same one-market backtest (``bench_backtest``'s config cut, same scenario and seed:
the same passes, since results are identical) in a fresh interpreter, with both methods
timed (``perf_counter_ns`` around each call: in a backtest ``sync`` never waits, its
requests' first steps run inside it). Variants alternate ``--runs`` times so that the
machine's load falls on both alike. Prints µs per pass of each part, old and new, and the
ratio old / new (medians over the runs); the timing wrapper's own cost (~0.2 µs) is in both.

``--plans`` also replays the planner alone: the backtest's ``plan`` calls are recorded (this
tree, pickled), then each tree's ``plan`` answers the same recorded inputs back to back (warm),
in children alternating like the rest: µs and Python function calls per plan, and how many
answers differ from the recorded ones (0: the trees plan alike).

    PYTHONPATH=src .venv/bin/python bench/bench_order_pass.py --old-src /tmp/old/src
    PYTHONPATH=src .venv/bin/python bench/bench_order_pass.py --hours 0.5 --runs 3 \\
        --old-src /tmp/old/src --scenario altcoin --plans
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))


def _child(args: argparse.Namespace) -> dict[str, object]:
    import logging

    import bench_backtest as bb

    from liquidity_bot.backtest import runner as backtest_runner
    from liquidity_bot.engine.market_runner import MarketRunner
    from liquidity_bot.engine.order_manager import OrderManager

    logging.getLogger("liquidity_bot").setLevel(logging.ERROR)
    clock = time.perf_counter_ns
    spent = {"sync": 0, "sample": 0}
    calls = {"sync": 0, "sample": 0}
    sync, sample = OrderManager.sync, MarketRunner._sample

    async def timed_sync(self, *a, **kw):  # type: ignore[no-untyped-def]
        t0 = clock()
        try:
            return await sync(self, *a, **kw)
        finally:
            spent["sync"] += clock() - t0
            calls["sync"] += 1

    def timed_sample(self):  # type: ignore[no-untyped-def]
        t0 = clock()
        try:
            return sample(self)
        finally:
            spent["sample"] += clock() - t0
            calls["sample"] += 1

    OrderManager.sync = timed_sync  # type: ignore[method-assign]
    MarketRunner._sample = timed_sample  # type: ignore[method-assign]
    cfg = bb._one_market_config(Path(args.config), args.symbol)
    t0, cpu0 = time.perf_counter(), bb._cpu_s()
    result = backtest_runner.run_backtest(cfg, scenario=args.scenario, hours=args.hours,
                                          seed=args.seed, store_url=None)
    m = result.markets[0]
    return {"wall_s": time.perf_counter() - t0, "cpu_s": bb._cpu_s() - cpu0,
            "sync_ns": spent["sync"], "sync_calls": calls["sync"],
            "sample_ns": spent["sample"], "sample_calls": calls["sample"],
            "requests": result.order_requests, "fills": m.fills, "pnl": m.pnl_quote}


def _child_record(args: argparse.Namespace) -> dict[str, object]:
    """Run the backtest and pickle every ``plan`` call's inputs and answer to ``--record``."""
    import logging

    import bench_backtest as bb

    from liquidity_bot.backtest import runner as backtest_runner
    from liquidity_bot.engine import order_manager, planner

    logging.getLogger("liquidity_bot").setLevel(logging.ERROR)
    calls: list[tuple[tuple[object, ...], object]] = []
    plan = planner.plan

    def recording(*a):  # type: ignore[no-untyped-def]
        answer = plan(*a)
        calls.append((a, answer))
        return answer

    order_manager.plan = recording  # type: ignore[assignment]
    cfg = bb._one_market_config(Path(args.config), args.symbol)
    backtest_runner.run_backtest(cfg, scenario=args.scenario, hours=args.hours, seed=args.seed,
                                 store_url=None)
    with open(args.record, "wb") as f:
        pickle.dump(calls, f)
    return {"plans": len(calls)}


def _child_replay(args: argparse.Namespace) -> dict[str, object]:
    """Time this tree's ``plan`` over the recorded inputs (best of 5 passes over them)."""
    import cProfile
    import pstats

    from liquidity_bot.engine.planner import plan

    with open(args.replay, "rb") as f:
        calls = pickle.load(f)
    differ = sum(plan(*a) != answer for a, answer in calls)
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter_ns()
        for a, _answer in calls:
            plan(*a)
        best = min(best, time.perf_counter_ns() - t0)
    # cold: before each of up to 400 plans (spread over the run), 64 MiB are copied (twice the
    # last-level cache of the machines this runs on), which evicts the plan's code and data
    # from every cache level as the ~150 ms between two live books do
    src, dst = bytearray(64 << 20), bytearray(64 << 20)
    cold = []
    for a, _answer in calls[:: max(1, len(calls) // 400)]:
        dst[:] = src
        t0 = time.perf_counter_ns()
        plan(*a)
        cold.append(time.perf_counter_ns() - t0)
    prof = cProfile.Profile()
    prof.enable()
    for a, _answer in calls:
        plan(*a)
    prof.disable()
    return {"plan_us": best / len(calls) / 1e3, "plans": len(calls), "differ": differ,
            "cold_us": statistics.median(cold) / 1e3,
            "calls_per_plan": pstats.Stats(prof).total_calls / len(calls)}  # type: ignore[attr-defined]


def _replay(src: Path, path: str) -> dict[str, object]:
    env = dict(os.environ, PYTHONPATH=str(src))
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", "--replay", path]
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def _plans(variants: list[tuple[str, Path]], args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = f"{tmp}/plans.pkl"
        env = dict(os.environ, PYTHONPATH=str(variants[0][1]))
        cmd = [sys.executable, str(Path(__file__).resolve()), "--child", "--record", path,
               "--hours", str(args.hours), "--scenario", args.scenario, "--seed",
               str(args.seed), "--symbol", args.symbol, "--config", str(args.config)]
        subprocess.run(cmd, env=env, check=True, capture_output=True, text=True)
        res: dict[str, list[dict[str, object]]] = {name: [] for name, _ in variants}
        for _ in range(args.runs):
            for name, src in variants:
                res[name].append(_replay(src, path))
    print("the planner alone, on the backtest's recorded plan calls (warm: best of 5 runs "
          "through them; cold: median of single plans after evicting the caches):")

    def med(name: str, key: str) -> float:
        return statistics.median(float(r[key]) for r in res[name])  # type: ignore[arg-type]

    for name, _ in variants:
        r = res[name][0]
        print(f"  {name}: warm {med(name, 'plan_us'):.1f} µs, cold {med(name, 'cold_us'):.1f} µs "
              f"per plan, {float(r['calls_per_plan']):.0f} calls per plan, {r['plans']} "  # type: ignore[arg-type]
              f"plans, {r['differ']} answers differ from the recorded")
    if "old" in res:
        print(f"  old / new: warm {med('old', 'plan_us') / med('new', 'plan_us'):.2f}x, "
              f"cold {med('old', 'cold_us') / med('new', 'cold_us'):.2f}x")


def _run(src: Path, args: argparse.Namespace) -> dict[str, object]:
    env = dict(os.environ, PYTHONPATH=str(src))
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", "--hours", str(args.hours),
           "--scenario", args.scenario, "--seed", str(args.seed), "--symbol", args.symbol,
           "--config", str(args.config)]
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=1.0)
    parser.add_argument("--scenario", default="volatile")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--symbol", default="XRPUSDT")
    parser.add_argument("--config", type=Path, default=ROOT / "examples" / "bot.toml")
    parser.add_argument("--old-src", type=Path, default=None,
                        help="a checkout's src/ of the tree before (e.g. git archive of main)")
    parser.add_argument("--runs", type=int, default=3, help="interleaved repetitions")
    parser.add_argument("--plans", action="store_true", help="also replay the planner alone")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--record", help=argparse.SUPPRESS)
    parser.add_argument("--replay", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        fn = _child_record if args.record else _child_replay if args.replay else _child
        print(json.dumps(fn(args)))
        return 0
    variants = [("new", ROOT / "src")]
    if args.old_src is not None:
        variants.append(("old", args.old_src.resolve()))
    print(f"{args.symbol} on {args.scenario!r}, seed {args.seed}, {args.hours:g} simulated h, "
          f"{args.runs} interleaved run(s); load average {os.getloadavg()[0]:.2f}")
    res: dict[str, list[dict[str, object]]] = {name: [] for name, _ in variants}
    for run in range(args.runs):
        for name, src in variants:
            r = _run(src, args)
            res[name].append(r)
            print(f"  run {run + 1} {name}: cpu {r['cpu_s']:.1f} s; sync "
                  f"{r['sync_ns'] / r['sync_calls'] / 1e3:.2f} µs x {r['sync_calls']}, "
                  f"sample {r['sample_ns'] / r['sample_calls'] / 1e3:.2f} µs x "
                  f"{r['sample_calls']}; requests {r['requests']} fills {r['fills']} "
                  f"pnl {r['pnl']}", flush=True)

    def per_call(name: str, part: str) -> float:
        return statistics.median(float(r[f"{part}_ns"]) / float(r[f"{part}_calls"])  # type: ignore[arg-type]
                                 for r in res[name]) / 1e3

    def total(name: str) -> float:
        return statistics.median(
            (float(r["sync_ns"]) + float(r["sample_ns"])) / 1e9 for r in res[name])  # type: ignore[arg-type]

    print("medians (µs per call; seconds in both parts over the run):")
    for name, _ in variants:
        print(f"  {name}: sync {per_call(name, 'sync'):.2f} µs, sample "
              f"{per_call(name, 'sample'):.2f} µs, both {total(name):.2f} s, cpu "
              f"{statistics.median(float(r['cpu_s']) for r in res[name]):.1f} s")  # type: ignore[arg-type]
    if "old" in res:
        print(f"  old / new: sync {per_call('old', 'sync') / per_call('new', 'sync'):.2f}x, "
              f"sample {per_call('old', 'sample') / per_call('new', 'sample'):.2f}x, "
              f"both {total('old') / total('new'):.2f}x")
        keys = ("requests", "fills", "pnl", "sync_calls")
        same = all({k: a[k] for k in keys} == {k: b[k] for k in keys}
                   for a, b in zip(res["new"], res["old"], strict=True))
        print(f"  results and passes old vs new: {'identical' if same else 'DIFFERENT'}")
    if args.plans:
        _plans(variants, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
