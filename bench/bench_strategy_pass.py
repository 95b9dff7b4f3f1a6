"""The strategy's part of a quoting pass, old tree beside new, on the snapshots a backtest made.

A backtest of one market (cut from ``--config``, default XRPUSDT of examples/bot.toml) runs
once, in a child on ``--old-src`` (or this tree), and every snapshot ``MarketRunner._snapshot``
hands the strategy is kept, in order, with the strategy's instrument, parameters and
obligations. Each tree then replays all of them, in alternating fresh children, the way its own
market runner asks its strategy:

- a tree whose strategies remember their last answer (``QuoteMemo``: they have ``reused``) is
  asked on every pass, as its runner does;
- an older tree is asked only when the runner's inputs tuple (strategy, book top, inventory,
  reference price, estimates, last price) differs from the last pass's, as its runner did.

It prints CPU µs per pass (median of ``--runs``), how many passes planned, the ratio old / new,
the cold cost of a pass that plans (thread CPU, caches evicted before it, as a live pass's are),
and whether both trees gave the same quotes pass by pass (bids, asks and mid; warnings too).
``--strategy avellaneda`` quotes the same market with GLFT instead of the ladder.

    PYTHONPATH=src .venv/bin/python bench/bench_strategy_pass.py --old-src OLD/src \\
        [--hours 1] [--scenario volatile] [--seed 1] [--runs 5] [--strategy ladder]

Numbers are printed, never asserted.
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
GLFT_BLOCK = {"order_size_quote": "300", "levels": 3, "max_spread_pct": "1"}


def _record(args: argparse.Namespace) -> None:
    """Child: run the backtest, keep every snapshot the runner builds."""
    import logging

    sys.path.insert(0, str(ROOT / "bench"))
    import bench_backtest

    from liquidity_bot.backtest.runner import run_backtest
    from liquidity_bot.engine.market_runner import MarketRunner

    logging.getLogger("liquidity_bot").setLevel(logging.ERROR)
    config = bench_backtest._one_market_config(Path(args.config), args.symbol)
    if args.strategy == "avellaneda":
        import msgspec

        from liquidity_bot.config import AvellanedaParams

        market = config.markets[0]
        glft = msgspec.convert(GLFT_BLOCK, AvellanedaParams, strict=False)
        config = msgspec.structs.replace(config, markets=[msgspec.structs.replace(
            market, strategy="avellaneda", avellaneda=glft, ladder=None)])
    snapshots: list[object] = []
    strategies: list[object] = []
    real = MarketRunner._snapshot

    def recording(self: MarketRunner, book: object) -> object:
        snapshot = real(self, book)
        snapshots.append(snapshot)
        if not strategies:
            strategies.append(self.strategy)
        return snapshot

    MarketRunner._snapshot = recording  # type: ignore[method-assign]
    run_backtest(config, scenario=args.scenario, hours=args.hours, seed=args.seed,
                 store_url=None)
    strategy = strategies[0]
    made = (args.strategy, strategy.instrument, strategy.params, strategy.obligations)
    Path(args.out).write_bytes(pickle.dumps((made, snapshots)))


def _build(made: tuple[object, ...]) -> object:
    kind, instrument, params, obligations = made
    if kind == "avellaneda":
        from liquidity_bot.strategies.avellaneda import AvellanedaStrategy

        return AvellanedaStrategy(instrument, params, obligations)
    from liquidity_bot.strategies.ladder import LadderStrategy

    return LadderStrategy(instrument, params, obligations)


def _passes(strategy: object, snapshots: list[object]) -> tuple[list[object], int]:
    """The quote set of every pass, as this tree's runner gets it, and how many planned."""
    out = []
    if hasattr(strategy, "reused"):  # the strategy remembers: asked on every pass
        for s in snapshots:
            out.append(strategy.quote(s))  # type: ignore[attr-defined]
        return out, len(snapshots) - strategy.reused  # type: ignore[attr-defined]
    last_inputs, last, planned = None, None, 0
    for s in snapshots:
        inputs = (strategy, s.book, s.inventory, s.reference_price, s.estimates, s.last_price)
        if inputs != last_inputs or last is None:
            last, last_inputs = strategy.quote(s), inputs  # type: ignore[attr-defined]
            planned += 1
        out.append(last)
    return out, planned


def _replay(args: argparse.Namespace) -> None:
    """Child: replay the recorded snapshots through this tree, timed."""
    made, snapshots = pickle.loads(Path(args.snapshots).read_bytes())
    answers, planned = _passes(_build(made), snapshots)  # warm-up, and the answers kept
    timings = []
    for _ in range(args.repeats):
        strategy = _build(made)  # nothing remembered from the last replay
        start = time.process_time()
        _passes(strategy, snapshots)
        timings.append((time.process_time() - start) / len(snapshots) * 1e6)
    if args.answers:
        keep = [(q.bids, q.asks, q.mid, q.warnings) for q in answers]
        Path(args.answers).write_bytes(pickle.dumps(keep))
    print(json.dumps({"us_per_pass": min(timings), "passes": len(snapshots),
                      "planned": planned, "cold_us": _cold(made, snapshots)}))


def _cold(made: tuple[object, ...], snapshots: list[object]) -> float | None:
    """Median µs of single passes that plan (the memo misses, as on a live pass that sends
    orders) after evicting the caches (64 MiB copied, as the ~150 ms between two live books
    do), up to 400 of them spread over the run; None for a strategy without a memo."""
    strategy = _build(made)
    if not hasattr(strategy, "reused"):
        return None
    plans = []  # the passes that plan, found by a first replay
    for i, s in enumerate(snapshots):
        before = strategy.reused  # type: ignore[attr-defined]
        strategy.quote(s)  # type: ignore[attr-defined]
        if strategy.reused == before:  # type: ignore[attr-defined]
            plans.append(i)
    timed = set(plans[:: max(1, len(plans) // 400)])
    src, dst = bytearray(64 << 20), bytearray(64 << 20)
    strategy = _build(made)
    cold = []
    for i, s in enumerate(snapshots):
        if i in timed:
            dst[:] = src
            t0 = time.thread_time_ns()
            strategy.quote(s)  # type: ignore[attr-defined]
            cold.append(time.thread_time_ns() - t0)
        else:
            strategy.quote(s)  # type: ignore[attr-defined]
    return statistics.median(cold) / 1e3 if cold else None


def _child(src: Path, *argv: str) -> dict[str, object]:
    env = dict(os.environ, PYTHONPATH=str(src))
    out = subprocess.run([sys.executable, __file__, *argv], env=env, capture_output=True,
                         text=True, check=True)
    lines = out.stdout.strip().splitlines()
    return json.loads(lines[-1]) if lines else {}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--old-src", type=Path, help="the tree before (its src directory)")
    p.add_argument("--config", default=str(ROOT / "examples" / "bot.toml"))
    p.add_argument("--symbol", default="XRPUSDT")
    p.add_argument("--strategy", choices=["ladder", "avellaneda"], default="ladder")
    p.add_argument("--scenario", default="volatile")
    p.add_argument("--hours", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--repeats", type=int, default=3, help="timed replays per child (min)")
    p.add_argument("--child", choices=["record", "replay"], help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    p.add_argument("--snapshots", help=argparse.SUPPRESS)
    p.add_argument("--answers", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child == "record":
        _record(args)
        return
    if args.child == "replay":
        _replay(args)
        return
    new_src = ROOT / "src"
    old_src = args.old_src
    with tempfile.TemporaryDirectory() as tmp:
        snaps = f"{tmp}/snapshots.pickle"
        common = ["--config", args.config, "--symbol", args.symbol, "--strategy", args.strategy,
                  "--scenario", args.scenario, "--hours", str(args.hours), "--seed",
                  str(args.seed)]
        _child(old_src or new_src, "--child", "record", "--out", snaps, *common)
        trees = {"new": new_src} | ({"old": old_src} if old_src else {})
        results: dict[str, list[dict[str, object]]] = {name: [] for name in trees}
        for run in range(args.runs):
            for name, src in (trees.items() if run % 2 == 0 else reversed(trees.items())):
                r = _child(src, "--child", "replay", "--snapshots", snaps, "--repeats",
                           str(args.repeats), "--answers", f"{tmp}/{name}.pickle")
                results[name].append(r)
                print(f"  run {run + 1} {name}: {r['us_per_pass']:.2f} CPU µs per pass, "
                      f"{r['planned']} of {r['passes']} passes planned")
        load = os.getloadavg()[0]
        print(f"{args.symbol} {args.strategy} on '{args.scenario}', seed {args.seed}, "
              f"{args.hours:g} simulated h: {results['new'][0]['passes']} passes "
              f"(recorded on {'old' if old_src else 'new'}); load average {load:.2f}")
        medians = {n: statistics.median(float(r["us_per_pass"]) for r in rs)
                   for n, rs in results.items()}
        for name, value in medians.items():
            print(f"  {name}: {value:.2f} CPU µs per pass (median of {args.runs}), "
                  f"{results[name][0]['planned']} passes planned")
        if old_src:
            print(f"  old / new: {medians['old'] / medians['new']:.2f}x")
        cold = {n: [float(r["cold_us"]) for r in rs if r.get("cold_us") is not None]
                for n, rs in results.items()}
        if all(cold.values()):
            print("  cold (a pass that plans, caches evicted before it; median of the runs' "
                  "medians): " + ", ".join(f"{n} {statistics.median(v):.1f} µs"
                                           for n, v in cold.items()))
            if old_src:
                print(f"  cold old / new: {statistics.median(cold['old']) / statistics.median(cold['new']):.2f}x")
            a = pickle.loads(Path(f"{tmp}/old.pickle").read_bytes())
            b = pickle.loads(Path(f"{tmp}/new.pickle").read_bytes())
            differ = [i for i, (x, y) in enumerate(zip(a, b, strict=True))
                      if x != y or repr(x) != repr(y)]
            print(f"  quotes pass by pass (bids, asks, mid, warnings): {len(a)} compared, "
                  f"{len(differ)} differ" + (f" (first: pass {differ[0]})" if differ else ""))


if __name__ == "__main__":
    main()
