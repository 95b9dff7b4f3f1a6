"""A backtest of one market beside the simulator alone: wall and CPU for N simulated hours.

Issue 20's figure: a 24 h backtest of one market in at most 45 s, beside the simulator alone.
Each measurement runs in a fresh interpreter (a child of this script), in this order, repeated
``--runs`` times so that the machine's load falls on every variant alike:

- ``sim``: the simulator alone (``bitrue_sim.virtual.VirtualVenue``: the scenario's market
  makers and takers on the one symbol, no engine, no depth pushes), same scenario and seed;
- ``new``: ``run_backtest`` of a one-market config cut from ``--config`` (this tree);
- ``old``: the same with ``--old-src`` first on the path (a checkout of the tree before), when
  given.

Each prints wall and CPU (user + sys of the child), quoting passes and how many of them reused
the last pass's quotes and plan (``MarketRunner.passes``, ``quotes_reused`` and the order
manager's ``stats.plans_reused``, when the tree counts them), order requests, fills, book
pushes, and the ratios backtest / sim and old / new (medians). No store is written unless
``--store`` (a store adds the batched SQLite writes a CLI backtest makes).

    PYTHONPATH=src .venv/bin/python bench/bench_backtest.py                 # 24 h, XRPUSDT volatile
    PYTHONPATH=src .venv/bin/python bench/bench_backtest.py --hours 1       # quick
    PYTHONPATH=src .venv/bin/python bench/bench_backtest.py --hours 1 --scenario altcoin \\
        --old-src /tmp/old/src --runs 3
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOUR_MS = 3_600_000
TARGET_S = 45.0  # issue 20: a 24 h backtest of one market


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _child_sim(args: argparse.Namespace) -> dict[str, object]:
    from bitrue_sim.virtual import VirtualVenue

    started, cpu0 = time.perf_counter(), _cpu_s()
    venue = VirtualVenue(scenario=args.scenario, seed=args.seed, symbols=[args.symbol])
    end_ms = venue.now_ms() + int(args.hours * HOUR_MS)
    actions = 0
    while venue.now_ms() < end_ms:
        actions += venue.run_until(min(end_ms, venue.now_ms() + HOUR_MS))
    return {"wall_s": time.perf_counter() - started, "cpu_s": _cpu_s() - cpu0,
            "actions": actions, "exchange_events": venue.exchange_events}


def _one_market_config(path: Path, symbol: str):
    import msgspec

    from liquidity_bot.config import load_config

    cfg = load_config(path, home=Path(tempfile.gettempdir()))
    market = cfg.market(symbol)
    return msgspec.structs.replace(cfg, markets=(market,))


def _child_backtest(args: argparse.Namespace) -> dict[str, object]:
    import logging

    from liquidity_bot.backtest import runner as backtest_runner
    from liquidity_bot.engine.market_runner import MarketRunner

    logging.getLogger("liquidity_bot").setLevel(logging.ERROR)
    cfg = _one_market_config(Path(args.config), args.symbol)
    runners: list[MarketRunner] = []
    original_init = MarketRunner.__init__

    def tracking_init(self, *a, **kw):  # the runners, to read their pass counters at the end
        original_init(self, *a, **kw)
        runners.append(self)

    MarketRunner.__init__ = tracking_init  # type: ignore[method-assign]
    with tempfile.TemporaryDirectory() as tmp:
        store_url = f"sqlite:///{tmp}/bench.db" if args.store else None
        started, cpu0 = time.perf_counter(), _cpu_s()
        result = backtest_runner.run_backtest(cfg, scenario=args.scenario, hours=args.hours,
                                              seed=args.seed, store_url=store_url)
        wall, cpu = time.perf_counter() - started, _cpu_s() - cpu0
    m = result.markets[0]
    return {
        "wall_s": wall, "cpu_s": cpu,
        "passes": sum(getattr(r, "passes", 0) for r in runners) or None,
        "quotes_reused": sum(getattr(r, "quotes_reused", 0) for r in runners) or None,
        "plans_reused": sum(getattr(r.om.stats, "plans_reused", 0) for r in runners) or None,
        "quiet_passes": sum(getattr(r, "quiet_passes", 0) for r in runners) or None,
        "order_requests": result.order_requests, "fills": m.fills, "placed": m.orders_placed,
        "uptime": m.uptime, "pnl": m.pnl_quote, "book_pushes": result.book_pushes,
        "loop_steps": result.loop_steps,
    }


def _run_child(kind: str, src: Path, args: argparse.Namespace) -> dict[str, object]:
    env = dict(os.environ, PYTHONPATH=str(src))
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", kind,
           "--hours", str(args.hours), "--scenario", args.scenario, "--seed", str(args.seed),
           "--symbol", args.symbol, "--config", str(args.config)]
    if args.store:
        cmd.append("--store")
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def _fmt(v: object) -> str:
    if isinstance(v, float):
        return f"{v:.4f}" if v < 1 else f"{v:.1f}"
    return "-" if v is None else str(v)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--scenario", default="volatile")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--symbol", default="XRPUSDT")
    parser.add_argument("--config", type=Path, default=ROOT / "examples" / "bot.toml",
                        help="the bot config the one market is cut from")
    parser.add_argument("--old-src", type=Path, default=None,
                        help="a src/ directory of the tree before, run beside this one")
    parser.add_argument("--runs", type=int, default=1, help="interleaved repetitions")
    parser.add_argument("--store", action="store_true",
                        help="backtests write a SQLite store (as the CLI does)")
    parser.add_argument("--no-sim", action="store_true", help="skip the simulator alone")
    parser.add_argument("--child", choices=("sim", "backtest"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        fn = _child_sim if args.child == "sim" else _child_backtest
        print(json.dumps(fn(args)))
        return 0

    new_src = ROOT / "src"
    variants: list[tuple[str, str, Path]] = []
    if not args.no_sim:
        variants.append(("sim", "sim", new_src))
    variants.append(("new", "backtest", new_src))
    if args.old_src is not None:
        variants.append(("old", "backtest", args.old_src.resolve()))
    print(f"{args.symbol} on {args.scenario!r}, seed {args.seed}, {args.hours:g} simulated h, "
          f"{args.runs} interleaved run(s); load average {os.getloadavg()[0]:.2f}")
    results: dict[str, list[dict[str, object]]] = {name: [] for name, _, _ in variants}
    for run in range(args.runs):
        for name, kind, src in variants:
            r = _run_child(kind, src, args)
            results[name].append(r)
            extra = "" if kind == "sim" else (
                f" passes={_fmt(r['passes'])} quotes/plans reused={_fmt(r['quotes_reused'])}/"
                f"{_fmt(r['plans_reused'])} quiet={_fmt(r.get('quiet_passes'))}"
                f" requests={r['order_requests']} fills={r['fills']} uptime={_fmt(r['uptime'])}"
                f" pnl={r['pnl']} pushes={r['book_pushes']}")
            print(f"  run {run + 1} {name:>3}: wall {r['wall_s']:7.1f} s  cpu {r['cpu_s']:7.2f} s"
                  + extra, flush=True)

    def med(name: str, key: str) -> float:
        return statistics.median(float(r[key]) for r in results[name])  # type: ignore[arg-type]

    print("medians:")
    for name, _, _ in variants:
        day = med(name, "wall_s") * 24 / args.hours
        print(f"  {name:>3}: wall {med(name, 'wall_s'):.1f} s, cpu {med(name, 'cpu_s'):.2f} s; "
              f"24 h at this rate: {day:.0f} s wall")
    if "sim" in results:
        for name in ("new", "old"):
            if name in results:
                print(f"  {name} / sim: wall {med(name, 'wall_s') / med('sim', 'wall_s'):.2f}x, "
                      f"cpu {med(name, 'cpu_s') / med('sim', 'cpu_s'):.2f}x")
    if "old" in results:
        print(f"  old / new: wall {med('old', 'wall_s') / med('new', 'wall_s'):.2f}x, "
              f"cpu {med('old', 'cpu_s') / med('new', 'cpu_s'):.2f}x")
        same = all(
            {k: a[k] for k in ("order_requests", "fills", "uptime", "pnl")}
            == {k: b[k] for k in ("order_requests", "fills", "uptime", "pnl")}
            for a, b in zip(results["new"], results["old"], strict=True))
        print(f"  old and new results (requests, fills, uptime, PnL): "
              f"{'identical' if same else 'DIFFERENT'}")
    new_day = med("new", "wall_s") * 24 / args.hours
    verdict = "meets" if new_day <= TARGET_S else "misses"
    print(f"new: {new_day:.0f} s wall for 24 simulated hours ({verdict} the {TARGET_S:.0f} s target)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
