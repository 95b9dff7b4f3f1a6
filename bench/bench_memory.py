"""Memory over a long accelerated run: RSS of the engine during a backtest, flat or not.

Runs the bench_quoting configuration on the virtual-time driver and samples the resident set
size every ``--sample-min`` simulated minutes. Prints the samples, the growth over the second
half of the run (after warm-up) and a verdict: flat when it grows by at most 0.5 MB per
simulated hour or 2 % over the second half. The order manager drops finished orders two
minutes after they finish (``OrderManager.prune_finished``); ``--no-prune`` turns that off, to
see what memory does without it. The simulator keeps the latest 2,000 orders and fills per
symbol of our account (``bitrue_sim.virtual.HISTORY_LIMIT``); ``--full-history`` keeps all of
them, as before that bound. ``--sim-only`` runs the simulator alone.

``--trace`` also says who grows: tracemalloc (one frame per allocation) is snapshotted at the
samples of the second half, and the growth of traced memory between the same two samples the
verdict uses is split by package: engine (``liquidity_bot``), simulator (``bitrue_sim``) and
other (stdlib, third-party), with the lines that grew most. Memory is attributed to the line
that allocated it, not to the object that keeps it alive: a client order id made by the engine
and held in the simulator's ledger counts as the engine's, so read the lines, not only the
totals; two moments of a live run also differ by whatever is in flight (books, events), some
tens of KiB per line. Cost: 3-8x the wall time (6 simulated h: 200-500 s instead of 40-70 s
on 2 busy cores) and tracemalloc's own tables in the RSS. Snapshots are taken in a forked
child so they leave the measured heap alone; the traced run's verdict is on RSS less
tracemalloc's tables (``tracemalloc.get_tracemalloc_memory``), but tracing still moves the
allocator: judge flatness on an untraced run, read the traced one for the split.

    .venv/bin/python bench/bench_memory.py [--hours 6] [--no-prune] [--sim-only] [--trace]
        [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

MB = 1024 * 1024
KIB = 1024
PACKAGES = (
    ("engine (liquidity_bot)", "/liquidity_bot/"),
    ("simulator (bitrue_sim)", "/bitrue_sim/"),
)
OTHER = "other (stdlib, third-party)"


def verdict(samples: list[tuple[float, int]]) -> tuple[float, float, str]:
    """(RSS MB at half time, growth MB per simulated hour over the second half, verdict)."""
    if len(samples) < 3:
        return 0.0, 0.0, "too few samples"
    half = samples[len(samples) // 2 :]
    (h0, r0), (h1, r1) = half[0], half[-1]
    slope = (r1 - r0) / MB / (h1 - h0) if h1 > h0 else 0.0
    flat = abs(slope) <= 0.5 or (r1 - r0) <= 0.02 * r0
    return r0 / MB, slope, "flat" if flat else "GROWING"


def package_of(filename: str) -> str:
    path = filename.replace("\\", "/")
    for name, marker in PACKAGES:
        if marker in path:
            return name
    return OTHER


def short_path(filename: str) -> str:
    path = filename.replace("\\", "/")
    for marker in ("/src/", "/site-packages/", "/lib/python"):
        if marker in path:
            return path.split(marker, 1)[1]
    return path


def _write_line_sizes(path: Path) -> None:
    """Traced bytes per allocating line, tracemalloc's and this file's own left out."""
    ignore = [tracemalloc.Filter(False, tracemalloc.__file__), tracemalloc.Filter(False, __file__)]
    snap = tracemalloc.take_snapshot().filter_traces(ignore)
    rows = [
        [s.traceback[0].filename, s.traceback[0].lineno, s.size] for s in snap.statistics("lineno")
    ]
    path.write_text(json.dumps(rows), encoding="utf-8")


def _read_line_sizes(path: Path) -> dict[tuple[str, int], int]:
    return {(f, n): size for f, n, size in json.loads(path.read_text(encoding="utf-8"))}


class TraceProbe:
    """Called after each RSS sample: records tracemalloc's own memory, and from half time on
    the traced size per allocating line, written to ``out_dir`` (one JSON file per sample).

    A snapshot makes hundreds of thousands of objects, and freed memory does not leave the
    RSS: taken in the measured process it would add megabytes to every later sample. So
    where the OS can fork, a child takes it (it sees the parent's traces; copy-on-write keeps
    the parent's heap untouched) and the parent holds nothing but file names."""

    def __init__(self, half_h: float, out_dir: Path) -> None:
        self.half_h = half_h
        self.out_dir = out_dir
        self.overhead: dict[float, int] = {}
        self.files: dict[float, Path] = {}
        self.forked = hasattr(os, "fork")

    def __call__(self, hours: float, rss: int) -> None:
        self.overhead[hours] = tracemalloc.get_tracemalloc_memory()
        if hours + 1e-9 < self.half_h:
            return
        path = self.out_dir / f"{len(self.files):04d}.json"
        if not self.forked:
            _write_line_sizes(path)
        else:
            sys.stdout.flush()
            pid = os.fork()
            if pid == 0:  # the child: write and leave without running any cleanup
                code = 1
                try:
                    _write_line_sizes(path)
                    code = 0
                finally:
                    os._exit(code)
            _, status = os.waitpid(pid, 0)
            if status != 0:
                raise RuntimeError(f"the tracemalloc snapshot child failed ({status})")
        self.files[hours] = path

    def growth(self, h0: float, h1: float) -> dict:
        """Traced growth per simulated hour between two probed samples, by package and line."""
        a, b = _read_line_sizes(self.files[h0]), _read_line_sizes(self.files[h1])
        dh = h1 - h0
        per_line = {k: (b.get(k, 0) - a.get(k, 0)) / dh for k in a.keys() | b.keys()}
        per_package = {name: 0.0 for name, _ in PACKAGES} | {OTHER: 0.0}
        for (filename, _), rate in per_line.items():
            per_package[package_of(filename)] += rate
        top = sorted(per_line.items(), key=lambda kv: -abs(kv[1]))[:12]
        return {
            "window_h": [h0, h1],
            "kib_per_h": {k: round(v / KIB, 1) for k, v in per_package.items()},
            "total_kib_per_h": round(sum(per_package.values()) / KIB, 1),
            "traced_mb": [round(sum(a.values()) / MB, 2), round(sum(b.values()) / MB, 2)],
            "top_lines": [[f"{short_path(f)}:{n}", round(v / KIB, 1)] for (f, n), v in top],
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=6.0)
    parser.add_argument("--scenario", default="volatile")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--sample-min", type=float, default=15.0)
    parser.add_argument("--no-prune", action="store_true")
    parser.add_argument(
        "--full-history",
        action="store_true",
        help="the simulator keeps every order and fill of our account",
    )
    parser.add_argument(
        "--sim-only",
        action="store_true",
        help="the simulator alone (same scenario, seed and symbol), no engine",
    )
    parser.add_argument(
        "--trace",
        action="store_true",
        help="tracemalloc split of the growth by package (about 5x slower)",
    )
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.CRITICAL)
    from bench_quoting import BENCH_CONFIG

    from liquidity_bot.backtest import run_backtest
    from liquidity_bot.backtest.runner import rss_bytes
    from liquidity_bot.config import parse_config

    config = parse_config(BENCH_CONFIG, source="bench_memory config")
    scratch = tempfile.TemporaryDirectory(prefix="bench-memory-")
    probe = TraceProbe(args.hours / 2, Path(scratch.name)) if args.trace else None
    if probe is not None:
        tracemalloc.start(1)
    if args.sim_only:
        from bitrue_sim.virtual import VirtualVenue

        started = time.perf_counter()
        sim = VirtualVenue(
            scenario=args.scenario, seed=args.seed, symbols=[m.symbol for m in config.markets]
        )
        t0, step = sim.now_ms(), int(args.sample_min * 60_000)
        samples = [(0.0, rss_bytes())]
        if probe is not None:
            probe(*samples[0])
        for k in range(1, int(args.hours * 3_600_000 / step) + 1):
            sim.run_until(t0 + k * step)
            samples.append((round(k * step / 3_600_000, 3), rss_bytes()))
            if probe is not None:
                probe(*samples[-1])
        wall = time.perf_counter() - started
        print(f"simulator alone: {args.hours:g} simulated h of {args.scenario} in {wall:.1f} s")
        pruned = False
    else:
        r = run_backtest(
            config,
            scenario=args.scenario,
            hours=args.hours,
            seed=args.seed,
            sample_every_s=args.sample_min * 60,
            prune_finished=not args.no_prune,
            on_sample=probe,
            **({"sim_history_limit": None} if args.full_history else {}),
        )
        samples = list(r.rss_samples)
        wall = r.wall_s
        pruned = not args.no_prune
        print(
            f"{args.hours:g} simulated h of {args.scenario} in {r.wall_s:.1f} s wall"
            f"{' (traced)' if probe else ''}; finished orders "
            f"{'kept' if args.no_prune else 'dropped by the engine after 2 min'} "
            f"({r.pruned_orders:,} dropped); the simulator keeps "
            f"{'all our orders and fills' if args.full_history else 'our latest ones'}"
        )
    if probe is not None:
        tracemalloc.stop()
        print("simulated h   RSS MB   less tracing's own MB")
        judged = [(h, rss - probe.overhead.get(h, 0)) for h, rss in samples]
        for (hours, rss), (_, net) in zip(samples, judged, strict=True):
            print(f"{hours:>11.2f}   {rss / MB:6.1f}   {net / MB:6.1f}")
    else:
        print("simulated h   RSS MB")
        judged = samples
        for hours, rss in samples:
            print(f"{hours:>11.2f}   {rss / MB:6.1f}")
    mid, slope, word = verdict(judged)
    what = "RSS less tracing's own memory" if probe is not None else "RSS"
    print(
        f"{what} {mid:.1f} MB at half time, {slope:+.2f} MB per simulated hour over the second "
        f"half: {word}"
    )
    trace = None
    if probe is not None and len(samples) >= 3:
        h0, h1 = judged[len(judged) // 2][0], judged[-1][0]
        if h0 in probe.files and h1 in probe.files and h1 > h0:
            trace = probe.growth(h0, h1)
            print(
                f"traced memory {trace['traced_mb'][0]:.2f} -> {trace['traced_mb'][1]:.2f} MB; "
                f"growth {h0:g} h -> {h1:g} h by the package that allocated it:"
            )
            for name, rate in trace["kib_per_h"].items():
                print(f"  {name:<28} {rate:+9.1f} KiB/h")
            print(f"  {'total traced':<28} {trace['total_kib_per_h']:+9.1f} KiB/h")
            print("lines that grew most (KiB per simulated hour):")
            for where, rate in trace["top_lines"]:
                print(f"  {rate:+9.1f}  {where}")
        else:
            print(f"(no traced split: the samples at {h0:g} h and {h1:g} h were not probed)")
    if args.json is not None:
        args.json.write_text(
            json.dumps(
                {
                    "samples": samples,
                    "slope_mb_per_h": slope,
                    "verdict": word,
                    "wall_s": wall,
                    "hours": args.hours,
                    "pruned": pruned,
                    "sim_only": args.sim_only,
                    "full_history": args.full_history,
                    "traced": probe is not None,
                    "judged_samples": judged,
                    "trace": trace,
                }
            ),
            encoding="utf-8",
        )
    scratch.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
