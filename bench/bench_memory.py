"""Memory over a long accelerated run: RSS of the engine during a backtest, flat or not.

Runs the bench_quoting configuration on the virtual-time driver and samples the resident set
size every ``--sample-min`` simulated minutes. Prints the samples, the growth over the second
half of the run (after warm-up) and a verdict. The order manager drops finished orders two
minutes after they finish (``OrderManager.prune_finished``); ``--no-prune`` turns that off, to
see what memory does without it.

    .venv/bin/python bench/bench_memory.py [--hours 6] [--no-prune] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

MB = 1024 * 1024


def verdict(samples: list[tuple[float, int]]) -> tuple[float, float, str]:
    """(RSS MB at half time, growth MB per simulated hour over the second half, verdict)."""
    if len(samples) < 3:
        return 0.0, 0.0, "too few samples"
    half = samples[len(samples) // 2:]
    (h0, r0), (h1, r1) = half[0], half[-1]
    slope = (r1 - r0) / MB / (h1 - h0) if h1 > h0 else 0.0
    flat = abs(slope) <= 0.5 or (r1 - r0) <= 0.02 * r0
    return r0 / MB, slope, "flat" if flat else "GROWING"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=6.0)
    parser.add_argument("--scenario", default="volatile")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--sample-min", type=float, default=15.0)
    parser.add_argument("--no-prune", action="store_true")
    parser.add_argument("--sim-only", action="store_true",
                        help="the simulator alone (same scenario, seed and symbol), no engine: "
                             "the part of the growth that is the simulator's ledger")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.CRITICAL)
    from bench_quoting import BENCH_CONFIG

    from liquidity_bot.backtest import run_backtest
    from liquidity_bot.config import parse_config

    config = parse_config(BENCH_CONFIG, source="bench_memory config")
    if args.sim_only:
        import time

        from bitrue_sim.virtual import VirtualVenue
        from liquidity_bot.backtest.runner import rss_bytes

        started = time.perf_counter()
        sim = VirtualVenue(scenario=args.scenario, seed=args.seed,
                           symbols=[m.symbol for m in config.markets])
        t0, step = sim.now_ms(), int(args.sample_min * 60_000)
        samples = [(0.0, rss_bytes())]
        for k in range(1, int(args.hours * 3_600_000 / step) + 1):
            sim.run_until(t0 + k * step)
            samples.append((round(k * step / 3_600_000, 3), rss_bytes()))
        wall = time.perf_counter() - started
        print(f"simulator alone: {args.hours:g} simulated h of {args.scenario} in {wall:.1f} s")
        pruned = False
    else:
        r = run_backtest(config, scenario=args.scenario, hours=args.hours, seed=args.seed,
                         sample_every_s=args.sample_min * 60, prune_finished=not args.no_prune)
        samples = list(r.rss_samples)
        wall = r.wall_s
        pruned = not args.no_prune
        print(f"{args.hours:g} simulated h of {args.scenario} in {r.wall_s:.1f} s wall; "
              f"finished orders {'kept' if args.no_prune else 'dropped by the engine after 2 min'} "
              f"({r.pruned_orders:,} dropped)")
    print("simulated h   RSS MB")
    for hours, rss in samples:
        print(f"{hours:>11.2f}   {rss / MB:6.1f}")
    mid, slope, word = verdict(samples)
    print(f"RSS {mid:.1f} MB at half time, {slope:+.2f} MB per simulated hour over the second "
          f"half: {word}")
    if args.json is not None:
        args.json.write_text(json.dumps({"samples": samples, "slope_mb_per_h": slope,
                                         "verdict": word, "wall_s": wall,
                                         "hours": args.hours, "pruned": pruned,
                                         "sim_only": args.sim_only}),
                             encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
