"""Where a production quoting pass spends its time, stage by stage, cold (issue 20, item 2).

``bench_engine.py`` gives the whole tick-to-order figure; this splits it. The engine runs the
production load (``bench_engine``'s: the ``volatile`` scenario in a simulator child process,
Bitrue's order limit, a 1-tick price tolerance) and, for each pass woken by a depth frame whose
first order request reaches the socket, the engine thread's CPU time is stamped at:

- ``frame``: the market stream's frame handler is entered (before gunzip and decode);
- ``on_book``: the market runner is handed the book;
- ``step``: the quoting pass starts;
- ``quotes``: the strategy has answered (or its last answer was reused);
- ``sync``: the order manager is handed the quotes;
- ``place``: the first order is handed to the venue (planning, risk gate and registration
  done, before signing);
- ``written``: its request's bytes go to the socket.

It prints the median and p90 of each stage (µs of thread CPU) and of the whole. Each
``--old-src`` tree (another checkout's ``src``) runs in segments alternating with this tree's,
each segment a fresh child process, and the ratios old / new per stage are printed. The
stamps cost about a microsecond each; passes run on cold caches (a book every ~150 ms), which is
what the figures are about: the same code costs a fraction of this in a backtest's tight loop.

    .venv/bin/python bench/pass_stages.py [--seconds 120] [--segment-seconds 60] [--old-src DIR]
        [--fine] [--calls]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

STAGES = ("on_book", "step", "quotes", "sync", "place", "written")
# ``--fine``: more stamps inside the stages (each where the tree has that function; a stamp
# missing from a pass makes its stage 0 and the next stage longer)
FINE = ("on_book", "applied", "risk_mid", "estimator", "step", "snapshot", "quotes", "sync",
        "safe_quotes", "live_budget", "planned", "risk_gate", "budget_spent", "registered",
        "place", "written")


def _install(marks: list[tuple[str, int]], passes: list[list[tuple[str, int]]],
             fine: bool = False, calls: list[dict[str, int]] | None = None) -> None:
    """Wrap the stage boundaries of the tree on ``sys.path`` (class attributes, before the
    engine is built). ``calls``: also count the function calls from each frame to its pass's
    write (``sys.setprofile``: the timings are then not worth reading)."""
    import inspect

    from liquidity_bot.domain import book
    from liquidity_bot.engine import budget, market_runner, order_manager, risk
    from liquidity_bot.strategies import avellaneda, ladder
    from liquidity_bot.venues import lean_http
    from liquidity_bot.venues.bitrue import market_stream, venue

    clock = time.thread_time_ns

    def stamp(stage: str) -> None:
        # A second pass after the frame's (woken by an answer, a fill or the timer: the
        # frame's own pass sent nothing) is not the frame's reaction: its write would count
        # whatever ran in between. Dropped, as ``bench_engine``'s probe counts only passes
        # that answer a new book.
        if stage == "step" and any(name == "step" for name, _ in marks):
            marks.clear()
            counted.clear()
            return
        marks.append((stage, clock()))

    def wrap(cls: object, name: str, stage: str, *, after: bool = False) -> None:
        inner = getattr(cls, name, None)
        if inner is None:
            return
        if inspect.iscoroutinefunction(inner):
            async def stamped(*a, **kw):  # noqa: ANN002, ANN003, ANN202
                if marks and not after:
                    stamp(stage)
                return await inner(*a, **kw)
        else:
            def stamped(*a, **kw):  # noqa: ANN002, ANN003, ANN202
                if marks and not after:
                    stamp(stage)
                out = inner(*a, **kw)
                if marks and after:
                    marks.append((stage, clock()))
                return out
        setattr(cls, name, stamped)

    handle = market_stream.MarketStream.handle_frame

    counted: dict[str, int] = {}

    here = str(Path(__file__).resolve())

    def count(frame, event, arg):  # noqa: ANN001, ANN202
        if not marks or frame.f_code.co_filename == here:  # (not the stamps' own calls)
            return
        if event == "call":
            code = frame.f_code
            key = f"{Path(code.co_filename).name}:{code.co_firstlineno} {code.co_name}"
        elif event == "c_call":
            key = "C " + getattr(arg, "__qualname__", repr(arg))
        else:
            return
        counted[key] = counted.get(key, 0) + 1

    def frame(self, data):  # noqa: ANN001, ANN202
        marks.clear()
        counted.clear()
        marks.append(("frame", clock()))
        if calls is not None:
            sys.setprofile(count)
        return handle(self, data)

    market_stream.MarketStream.handle_frame = frame
    wrap(market_runner.MarketRunner, "on_book", "on_book")
    wrap(market_runner.MarketRunner, "step", "step")
    wrap(ladder.LadderStrategy, "quote", "quotes", after=True)
    wrap(avellaneda.AvellanedaStrategy, "quote", "quotes", after=True)
    wrap(order_manager.OrderManager, "sync", "sync")
    wrap(venue.BitrueVenue, "place", "place")
    if fine:
        wrap(book.OrderBook, "apply", "applied", after=True)
        wrap(risk.RiskGate, "on_mid", "risk_mid", after=True)
        wrap(market_runner.MarketRunner, "_feed_estimator", "estimator", after=True)
        wrap(market_runner.MarketRunner, "_snapshot", "snapshot", after=True)
        wrap(order_manager.OrderManager, "_safe_quotes", "safe_quotes", after=True)
        wrap(order_manager, "plan", "live_budget")
        wrap(order_manager, "plan", "planned", after=True)
        wrap(order_manager.OrderManager, "_risk_allows", "risk_gate", after=True)
        wrap(budget.OrderBudget, "spend", "budget_spent", after=True)
        wrap(order_manager.OrderManager, "_register", "registered", after=True)
    send = lean_http._Connection.send

    def written(conn, data, timeout_s):  # noqa: ANN001, ANN202
        if marks and any(stage == "place" for stage, _ in marks):
            marks.append(("written", clock()))
            passes.append(list(marks))
            marks.clear()
            if calls is not None:
                calls.append(dict(counted))
                counted.clear()
        return send(conn, data, timeout_s)

    lean_http._Connection.send = written
    _count_paths()


PATHS: dict[str, int] = {}  # how often each fast path answered / declined (``_count_paths``)


def _count_paths() -> None:
    """Count the one-function fast paths of the tree, where it has them: taken (answered) or
    declined (None: the general path ran)."""
    from liquidity_bot.strategies import ladder

    def counting(module: object, name: str) -> None:
        inner = getattr(module, name, None)
        if inner is None:
            return

        def counted(*a, **kw):  # noqa: ANN002, ANN003, ANN202
            out = inner(*a, **kw)
            key = f"{name} {'declined' if out is None else 'taken'}"
            PATHS[key] = PATHS.get(key, 0) + 1
            return out
        setattr(module, name, counted)

    counting(ladder, "shape_even")


def _stages(marks: list[tuple[str, int]], stages: tuple[str, ...] = STAGES,
            ) -> dict[str, float] | None:
    """µs per stage of one pass: from the previous stamp to the first stamp of each stage
    after it (a pass reusing its quotes has no ``quotes`` stamp: that stage is then 0)."""
    names = [stage for stage, _ in marks]
    if not names or names[0] != "frame" or "written" not in names or "step" not in names:
        return None
    out, at, prev = {}, 0, marks[0][1]
    for stage in stages:
        try:
            at = names.index(stage, at)
        except ValueError:
            out[stage] = 0.0
            continue
        ns = marks[at][1]
        out[stage] = (ns - prev) / 1000
        prev = ns
    out["total"] = (prev - marks[0][1]) / 1000
    return out


def _segment(seconds: float, fine: bool = False, calls: bool = False) -> dict[str, object]:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import bench_engine

    from liquidity_bot.engine.runtime import event_loop_name, run

    marks: list[tuple[str, int]] = []
    passes: list[list[tuple[str, int]]] = []
    counts: list[dict[str, int]] | None = [] if calls else None
    _install(marks, passes, fine, counts)
    run(bench_engine.tick_to_order(seconds, stress=False), event_loop_name())
    sys.setprofile(None)
    stages = FINE if fine else STAGES
    out: dict[str, object] = {
        "passes": [s for s in (_stages(p, stages) for p in passes) if s is not None],
        "paths": PATHS}
    if counts is not None:
        out["calls"] = counts
    return out


def _child(src: str, seconds: float, fine: bool = False, calls: bool = False,
           ) -> dict[str, object]:
    env = dict(os.environ, PYTHONPATH=src)
    out = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--segment",
                          str(seconds), *(["--fine"] if fine else []),
                          *(["--calls"] if calls else [])], env=env, check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def _print_calls(calls: dict[str, list[dict[str, int]]], top: int = 20) -> None:
    """Per pass (frame -> its first order written): Python and C calls, distinct Python
    functions (each one's code is touched: with cold caches, each costs), and the most called."""
    for label, per_pass in calls.items():
        if not per_pass:
            print(f"{label}: no pass recorded")
            continue
        python = [sum(n for k, n in p.items() if not k.startswith("C ")) for p in per_pass]
        native = [sum(n for k, n in p.items() if k.startswith("C ")) for p in per_pass]
        distinct = [sum(1 for k in p if not k.startswith("C ")) for p in per_pass]
        print(f"{label}: {len(per_pass)} passes; per pass (median): Python calls "
              f"{statistics.median(python):.0f}, C calls {statistics.median(native):.0f}, "
              f"distinct Python functions {statistics.median(distinct):.0f}")
        total: dict[str, int] = {}
        for p in per_pass:
            for key, n in p.items():
                total[key] = total.get(key, 0) + n
        for key, n in sorted(total.items(), key=lambda kv: -kv[1])[:top]:
            print(f"  {n / len(per_pass):7.1f}  {key}")


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=120.0, help="each tree, in all")
    parser.add_argument("--segment-seconds", type=float, default=60.0)
    parser.add_argument("--old-src", default=None, help="another checkout's src, beside this")
    parser.add_argument("--fine", action="store_true",
                        help="stamp inside the stages too (book apply, risk mid, estimator, "
                             "snapshot, safe quotes, plan, risk gate, budget, registration)")
    parser.add_argument("--calls", action="store_true",
                        help="count the function calls per pass instead (Python and C, from "
                             "the frame to the write; the timings are then the profiler's)")
    parser.add_argument("--segment", type=float, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    stages = FINE if args.fine else STAGES
    if args.segment is not None:
        print(json.dumps(_segment(args.segment, args.fine, args.calls)))
        return
    trees = {"this tree": str(Path(__file__).resolve().parent.parent / "src")}
    if args.old_src:
        trees["old tree"] = args.old_src
    got: dict[str, list[dict[str, float]]] = {label: [] for label in trees}
    paths: dict[str, dict[str, int]] = {label: {} for label in trees}
    calls: dict[str, list[dict[str, int]]] = {label: [] for label in trees}
    segments = max(1, round(args.seconds / args.segment_seconds))
    for _ in range(segments):
        for label, src in trees.items():
            child = _child(src, args.seconds / segments, args.fine, args.calls)
            got[label].extend(child["passes"])  # type: ignore[arg-type]
            calls[label].extend(child.get("calls", ()))  # type: ignore[arg-type]
            for key, n in child["paths"].items():  # type: ignore[union-attr]
                paths[label][key] = paths[label].get(key, 0) + n
    if args.calls:
        _print_calls(calls)
        return
    medians: dict[str, dict[str, float]] = {}
    header = f"{'stage (thread CPU, µs)':28s}" + "".join(f"{lbl + ' p50':>16s}{'p90':>8s}"
                                                        for lbl in trees)
    print(header)
    for stage in (*stages, "total"):
        row = f"{stage:28s}"
        for label in trees:
            values = [p[stage] for p in got[label]]
            if not values:
                row += f"{'-':>16s}{'-':>8s}"
                continue
            medians.setdefault(label, {})[stage] = statistics.median(values)
            row += f"{statistics.median(values):16.0f}{_pct(values, 90):8.0f}"
        print(row)
    print("passes: " + ", ".join(f"{label} {len(v)}" for label, v in got.items()))
    for label, counts in paths.items():
        if counts:
            print(f"fast paths, {label} (every pass, not only those above): "
                  + ", ".join(f"{k} {n}" for k, n in sorted(counts.items())))
    if args.old_src and medians.get("this tree") and medians.get("old tree"):
        new, old = medians["this tree"], medians["old tree"]
        print("old / new, median per stage: " + ", ".join(
            f"{s} {old[s] / new[s]:.2f}x" for s in (*stages, "total") if new.get(s)))


if __name__ == "__main__":
    main()
