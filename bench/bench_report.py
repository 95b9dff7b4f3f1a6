"""Bench: the client report over a long period of one-second KPI samples, time and memory.

Writes ``--days`` of synthetic samples of one market (default 7 days at 1 s = 604,800 rows: a
seeded random walk with a depth breach every hour, a wide-spread breach every 5 hours and a
30 s sampling gap every 6 hours) into a temporary SQLite file with bulk inserts, timed on their
own. Then builds the report in each format and writes it to a file, each in a fresh subprocess
so that the peak resident set size belongs to that step alone (the parent stays small: on Linux
a child's max RSS starts from its parent's), and prints the wall time, the
``tracemalloc`` peak (a second, traced run of the same step: tracing slows Python down) and the
process's max RSS (``resource.getrusage``) next to that of the same subprocess before the step.

For comparison, the step the report did before it streamed, loading the period's samples as a
list (``Store.kpi_samples``), is measured the same way: that list was the old report's peak (the
other lists it built held references to the same objects), so the ratio printed is that of the
old report to the new one, to within a few percent. Numbers are printed, never asserted.

    .venv/bin/python bench/bench_report.py [--days 7] [--formats html,json,csv] [--no-compare]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

SYMBOL = "XRPUSDT"
T0 = 1_790_000_000_000
TICK = Decimal("0.0001")
BATCH = 20_000


@dataclass(frozen=True)
class Obligations:
    max_spread_pct: Decimal = Decimal("1")
    min_depth_2pct_quote: Decimal = Decimal("300")
    min_rest_s: float | None = None


OBL = Obligations()


def synthetic(days: float, interval_ms: int, seed: int = 1):
    """Batches of samples: a random walk in ticks, with breaches and gaps a report must show."""
    from liquidity_bot.store import KpiSample

    rng = random.Random(seed)
    total = int(days * 86_400_000 // interval_ms)
    per_s = 1000 // interval_ms or 1
    mid_ticks = 5200
    batch: list[KpiSample] = []
    for i in range(total):
        sec = i // per_s
        if sec % 21_600 < 30:  # a 30 s outage every 6 h: nothing sampled
            continue
        mid_ticks = max(1000, mid_ticks + rng.choice((-2, -1, 0, 0, 1, 2)))
        mid = Decimal(mid_ticks) * TICK
        half = 14 if sec % 18_000 >= 40 else 40  # wide quotes for 40 s every 5 h
        ours = (Decimal(2 * half) / Decimal(mid_ticks) * 100).quantize(Decimal("0.000001"))
        bid = Decimal(450 + rng.randrange(60))
        ask = Decimal(0) if sec % 3600 < 20 else Decimal(450 + rng.randrange(60))
        met = ours <= OBL.max_spread_pct and min(bid, ask) >= OBL.min_depth_2pct_quote
        batch.append(
            KpiSample(
                SYMBOL,
                T0 + i * interval_ms,
                bid,
                ask,
                True,
                met,
                mid=mid,
                best_bid=mid - 9 * TICK,
                best_ask=mid + 9 * TICK,
                spread_pct=(Decimal(18) / Decimal(mid_ticks) * 100).quantize(Decimal("0.000001")),
                our_spread_pct=ours,
            )
        )
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def write_samples(url: str, days: float, interval_ms: int) -> None:
    """Prints rows, seconds generating and seconds inserting (bulk inserts of BATCH rows)."""
    from liquidity_bot.store import Store

    store = Store(url)
    store.create_schema()
    rows = 0
    gen_s = ins_s = 0.0
    t = time.perf_counter()
    for batch in synthetic(days, interval_ms):
        t1 = time.perf_counter()
        gen_s += t1 - t
        store.add_kpi_sample(batch)
        t = time.perf_counter()
        ins_s += t - t1
        rows += len(batch)
    store.close()
    print(json.dumps({"rows": rows, "gen_s": gen_s, "ins_s": ins_s}))


def maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def step(url: str, what: str, out: Path) -> None:
    """What one child process does once: ``stream:<fmt>`` builds and writes the report,
    ``list`` loads the samples as a list (the old report's first step)."""
    from liquidity_bot.reporting.report import build_report, write
    from liquidity_bot.store import Store

    store = Store(url)
    if what == "list":
        samples = store.kpi_samples(SYMBOL)
        n = len(samples)
        del samples
    else:
        fmt = what.split(":", 1)[1]
        rep = build_report(store, obligations={SYMBOL: OBL}, interval_ms=1000)
        with out.open("w", encoding="utf-8") as fh:
            write(rep, fmt, fh)
        n = rep.symbols[0].sample_count
    store.close()
    if n <= 0:
        raise SystemExit("no samples read")


def child(url: str, what: str, out: Path, trace: bool) -> None:
    import liquidity_bot.reporting.report  # noqa: F401 - imports are not the step's memory

    before = maxrss_mb()
    started = time.perf_counter()
    step(url, what, out)
    wall = time.perf_counter() - started
    result = {"wall_s": wall, "rss_before_mb": before, "rss_max_mb": maxrss_mb()}
    if trace:
        tracemalloc.start()
        step(url, what, out)
        result["traced_peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    result["out_mb"] = out.stat().st_size / 2**20 if out.exists() else 0.0
    print(json.dumps(result))


def run_child(url: str, what: str, out: Path, trace: bool, extra: tuple[str, ...] = ()) -> dict:
    argv = [sys.executable, __file__, "--child", what, "--url", url, "--out", str(out), *extra]
    if not trace:
        argv.append("--no-trace")
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{what} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def line(label: str, r: dict) -> str:
    traced = f"{r['traced_peak_mb']:8.1f} MB" if "traced_peak_mb" in r else "       -   "
    out = f"  file {r['out_mb']:.1f} MB" if r.get("out_mb") else ""
    return (
        f"{label:34s} {r['wall_s']:7.2f} s  traced peak {traced}  max RSS "
        f"{r['rss_max_mb']:7.1f} MB (process before the step {r['rss_before_mb']:.1f} MB){out}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=float, default=7.0)
    parser.add_argument("--interval-ms", type=int, default=1000)
    parser.add_argument("--formats", default="html,json,csv")
    parser.add_argument("--no-compare", action="store_true", help="skip the list-load step")
    parser.add_argument("--no-trace", action="store_true", help="skip the tracemalloc runs")
    parser.add_argument("--keep", type=Path, default=None, help="write the database here")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--url", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child == "write":
        write_samples(args.url, args.days, args.interval_ms)
        return 0
    if args.child:
        child(args.url, args.child, args.out, not args.no_trace)
        return 0

    folder = args.keep or Path(tempfile.mkdtemp(prefix="bench-report-"))
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "report-bench.db"
    if db.exists():
        raise SystemExit(f"{db} exists: pass another --keep folder")
    url = f"sqlite:///{db}"
    w = run_child(
        url, "write", db, False, ("--days", str(args.days), "--interval-ms", str(args.interval_ms))
    )
    rows, gen_s, ins_s = w["rows"], w["gen_s"], w["ins_s"]
    print(
        f"samples: {rows:,} of {SYMBOL} ({args.days:g} days every {args.interval_ms} ms, minus gaps)"
    )
    print(
        f"bulk insert: {ins_s:.2f} s ({rows / ins_s:,.0f} rows/s, batches of {BATCH:,}); "
        f"generating them: {gen_s:.2f} s; database {db.stat().st_size / 2**20:.1f} MB"
    )
    trace = not args.no_trace
    results = {}
    for fmt in [f.strip() for f in args.formats.split(",") if f.strip()]:
        r = run_child(url, f"stream:{fmt}", folder / f"report.{fmt}", trace)
        results[fmt] = r
        print(line(f"streaming report, {fmt}", r))
    if not args.no_compare:
        r = run_child(url, "list", folder / "none", trace)
        print(line("list load only (old first step)", r))
        for fmt, s in results.items():
            parts = []
            if trace:
                parts.append(f"traced peak {r['traced_peak_mb'] / s['traced_peak_mb']:.1f}x")
            grow_list = r["rss_max_mb"] - r["rss_before_mb"]
            grow_stream = s["rss_max_mb"] - s["rss_before_mb"]
            if grow_stream > 0:
                parts.append(f"RSS growth {grow_list / grow_stream:.1f}x")
            print(f"  list load / streaming {fmt}: " + ", ".join(parts))
    if args.keep is None:
        for p in folder.iterdir():
            p.unlink()
        folder.rmdir()
    return 0


if __name__ == "__main__":
    sys.exit(main())
