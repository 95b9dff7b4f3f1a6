"""The quoting planner alone, on the inputs a real backtest gives it (issue 20, item 1).

``record`` runs a backtest of a config (in process, no store) and keeps the arguments of the
first ``--calls`` calls of ``engine.planner.plan`` (quotes, live orders, mid, rules, allowance,
instrument) in a pickle. ``time`` replays them through the ``plan`` of the tree on PYTHONPATH:
CPU µs per call (median of ``--repeats`` passes over all of them) and, with ``--out``, the plans it
made. ``compare`` says whether two trees made the same plans from the same inputs, so an old
and a new planner are compared on the same calls, in the same run:

    PYTHONPATH=OLD/src python bench/bench_planner.py record --out /tmp/calls.pickle
    PYTHONPATH=OLD/src python bench/bench_planner.py time /tmp/calls.pickle --out /tmp/old.pickle
    PYTHONPATH=NEW/src python bench/bench_planner.py time /tmp/calls.pickle --out /tmp/new.pickle
    python bench/bench_planner.py compare /tmp/old.pickle /tmp/new.pickle

Numbers are printed, never asserted. Record with the older tree (the pickle names its classes).
"""

from __future__ import annotations

import argparse
import pickle
import statistics
import sys
import tempfile
import time
from pathlib import Path


def record(args: argparse.Namespace) -> None:
    from liquidity_bot.backtest.runner import run_backtest
    from liquidity_bot.config import load_config
    from liquidity_bot.engine import order_manager
    from liquidity_bot.strategies.avellaneda import AvellanedaStrategy
    from liquidity_bot.strategies.ladder import LadderStrategy

    calls: dict[str, list[tuple[object, ...]]] = {"plan": [], "quote": []}
    real_plan = order_manager.plan

    def recording_plan(*a: object) -> object:
        if len(calls["plan"]) < args.calls:
            calls["plan"].append(a)
        return real_plan(*a)

    def recording(cls: type) -> None:
        real = cls.quote

        def quote(self: object, snapshot: object) -> object:
            if len(calls["quote"]) < args.calls:
                calls["quote"].append((self, snapshot))
            return real(self, snapshot)

        cls.quote = quote

    order_manager.plan = recording_plan  # type: ignore[assignment]
    recording(LadderStrategy)
    recording(AvellanedaStrategy)
    with tempfile.TemporaryDirectory() as home:
        config = load_config(Path(args.config), home=Path(home))
        run_backtest(config, scenario=args.scenario, hours=args.hours, seed=args.seed,
                     store_url=None)
    Path(args.out).write_bytes(pickle.dumps(calls))
    print(f"recorded {len(calls['plan'])} planner and {len(calls['quote'])} strategy calls "
          f"-> {args.out}")


def timed(args: argparse.Namespace) -> None:
    from liquidity_bot.engine.planner import plan

    recorded = pickle.loads(Path(args.calls_file).read_bytes())
    paths = {"plan": lambda c: plan(*c), "quote": lambda c: c[0].quote(c[1])}
    answers = {}
    for name, run in paths.items():
        calls = recorded[name]
        answers[name] = [run(c) for c in calls]  # warm (and what --out keeps)
        per_call = []
        for _ in range(args.repeats):
            start = time.process_time()  # CPU: the machine may be shared
            for c in calls:
                run(c)
            per_call.append((time.process_time() - start) / len(calls) * 1e6)
        print(f"{name}: {statistics.median(per_call):.1f} CPU µs per call (median of "
              f"{args.repeats} passes over {len(calls)} recorded calls; passes "
              f"{', '.join(f'{x:.1f}' for x in per_call)})")
    if args.out:
        Path(args.out).write_bytes(pickle.dumps(answers))


def compare(args: argparse.Namespace) -> None:
    a = pickle.loads(Path(args.a).read_bytes())
    b = pickle.loads(Path(args.b).read_bytes())
    failed = False
    for name in a:
        # the same values down to each Decimal's exponent (the wire text depends on it)
        differ = [i for i, (x, y) in enumerate(zip(a[name], b[name], strict=True))
                  if x != y or repr(x) != repr(y)]
        failed = failed or bool(differ)
        print(f"{name}: {len(a[name])} answers, {len(differ)} differ"
              + (f" (first: call {differ[0]})" if differ else ""))
    sys.exit(1 if failed else 0)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("record")
    r.add_argument("--config", default=str(Path(__file__).resolve().parent.parent
                                           / "examples" / "bot.toml"))
    r.add_argument("--scenario", default="volatile")
    r.add_argument("--hours", type=float, default=0.5)
    r.add_argument("--seed", type=int, default=3)
    r.add_argument("--calls", type=int, default=20000)
    r.add_argument("--out", required=True)
    t = sub.add_parser("time")
    t.add_argument("calls_file")
    t.add_argument("--repeats", type=int, default=5)
    t.add_argument("--out")
    c = sub.add_parser("compare")
    c.add_argument("a")
    c.add_argument("b")
    args = p.parse_args()
    {"record": record, "time": timed, "compare": compare}[args.cmd](args)


if __name__ == "__main__":
    main()
