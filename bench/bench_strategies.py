"""Strategies before and after inventory control: each strategy on each scenario, same seeds.

"before" is the code of another tree (``--before-src``, by default /work/main/src: the strategies
of ``main``), "after" this tree; both run on this tree's simulator (so the ``altcoin`` scenario
exists for both), each backtest in its own process with its own ``PYTHONPATH``. Every store is
measured here with this tree's report (the same figures for both): the net base position's range
from the fills (low / high, in XRP), PnL against holding the starting inventory, value-weighted
markouts of all fills at 0, 1, 5 and 60 s, the worst uptime and the busiest 60 s of requests.

    .venv/bin/python bench/bench_strategies.py [--hours 1] [--seeds 1,2,3] [--jobs 2]
        [--scenarios volatile,trending,altcoin] [--out bench/strategies.md]

One market (XRPUSDT, funded with 12 000 XRP and 6 000 USDT) per run. "after" sets the inventory
target to the funded 12 000 XRP with a maximum deviation of 1 500 XRP (the configs of "before"
have no such keys: it steers by value share); the ladder's skew_strength is 3 in both (the
shipped value; its unit changed, see strategies/ladder.py). The GLFT configs leave gamma unset on "after"
(chosen from the default 120 s half-life); "before" uses its default gamma 0.1.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# the configs of tests/scenarios/test_inventory_control.py, on half the order budget
sys.path.insert(0, str(ROOT))
from tests.scenarios.test_inventory_control import CONTROL, GLFT, LADDER  # noqa: E402
from tests.scenarios.test_inventory_control import MARKET as TEST_MARKET  # noqa: E402

MARKET = TEST_MARKET + 'order_budget_share = "0.5"\n'
CONFIGS = {
    ("ladder", "before"): ("ladder", LADDER + 'skew_strength = "3"\n'),
    ("ladder", "after"): ("ladder", LADDER + 'skew_strength = "3"\n' + CONTROL),
    ("glft", "before"): ("avellaneda", GLFT),
    ("glft", "after"): ("avellaneda", GLFT + CONTROL),
}
RUN = """
import json, sys
from decimal import Decimal
from liquidity_bot.backtest import run_backtest
from liquidity_bot.config import parse_config
cfg = parse_config(sys.argv[1], source="bench")
r = run_backtest(cfg, scenario=sys.argv[2], hours=float(sys.argv[3]), seed=int(sys.argv[4]),
                 store_url=sys.argv[5], funding={"XRP": Decimal(12000), "USDT": Decimal(6000)})
print(json.dumps({"uptime": r.markets[0].uptime, "busiest": r.max_order_requests_per_window}))
"""


def run_one(src: str, strategy: str, version: str, scenario: str, hours: float, seed: int,
            tmp: Path) -> dict:
    kind, block = CONFIGS[(strategy, version)]
    url = f"sqlite:///{tmp}/{strategy}-{version}-{scenario}-{seed}.db"
    env = dict(os.environ, PYTHONPATH=src, LIQUIDITY_BOT_HOME=str(tmp / "home"))
    out = subprocess.run(
        [sys.executable, "-c", RUN, MARKET.format(strategy=kind, block=block), scenario,
         str(hours), str(seed), url],
        env=env, capture_output=True, text=True, check=True,
    )
    head = json.loads(out.stdout.strip().splitlines()[-1])
    return {**head, **measure(url), "strategy": strategy, "version": version,
            "scenario": scenario, "seed": seed}


def measure(url: str) -> dict:
    from liquidity_bot.reporting.markouts import position_range
    from liquidity_bot.reporting.report import build_report
    from liquidity_bot.store import Store

    store = Store(url)
    try:
        (r,) = build_report(store).symbols
        low, high, _ = position_range(store.fills(symbol="XRPUSDT"))
    finally:
        store.close()
    return {"low": low, "high": high, "vs_hold": r.pnl.vs_hold, "fills": len(r.fills),
            **{f"m{h}": r.markouts.bps("ALL", h) for h in (0, 1, 5, 60)}}


def fmt(v: Decimal | None, places: int = 1) -> str:
    return "-" if v is None else f"{v:.{places}f}"


def table(rows: list[dict], hours: float, seeds: list[int]) -> str:
    lines = [
        "# Strategies before (main) and after (inventory control, GLFT in bps)", "",
        f"One market (XRPUSDT, 12 000 XRP + 6 000 USDT), {hours:g} simulated h per run, seeds "
        f"{', '.join(map(str, seeds))}, the same seeds for both. Position: net base from the "
        "fills (XRP), lowest / highest over all seeds; PnL against holding: median over seeds "
        "(USDT); markouts: median over seeds of each run's value-weighted mean (bps, positive "
        "in our favour); uptime: worst; busiest: most order requests in any 60 s.", "",
        "| strategy | scenario | version | position low / high | PnL vs hold | fills "
        "| markout 0 s | 1 s | 5 s | 60 s | worst uptime % | busiest 60 s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    keys = sorted({(r["strategy"], r["scenario"]) for r in rows})
    for strategy, scenario in keys:
        for version in ("before", "after"):
            rs = [r for r in rows if (r["strategy"], r["scenario"], r["version"])
                  == (strategy, scenario, version)]
            if not rs:
                continue

            def med(key: str, rs: list[dict] = rs) -> Decimal | None:
                vals = [r[key] for r in rs if r[key] is not None]
                return statistics.median(vals) if vals else None

            lines.append(
                f"| {strategy} | {scenario} | {version} | {min(r['low'] for r in rs):.0f} / "
                f"{max(r['high'] for r in rs):.0f} | {fmt(med('vs_hold'), 2)} "
                f"| {statistics.median(r['fills'] for r in rs):.0f} | {fmt(med('m0'))} "
                f"| {fmt(med('m1'))} | {fmt(med('m5'))} | {fmt(med('m60'))} "
                f"| {100 * min(r['uptime'] for r in rs):.2f} "
                f"| {max(r['busiest'] for r in rs)} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, default=1.0)
    ap.add_argument("--seeds", default="1,2,3")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--scenarios", default="volatile,trending,altcoin")
    ap.add_argument("--strategies", default="ladder,glft")
    ap.add_argument("--before-src", default="/work/main/src")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "strategies.md")
    args = ap.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    with tempfile.TemporaryDirectory(prefix="bench-strategies-") as tmp_dir:
        tmp = Path(tmp_dir)
        # "before": the other tree's liquidity_bot with this tree's simulator
        mixed = tmp / "before-src"
        mixed.mkdir()
        (mixed / "liquidity_bot").symlink_to(Path(args.before_src) / "liquidity_bot")
        (mixed / "bitrue_sim").symlink_to(ROOT / "src" / "bitrue_sim")
        srcs = {"before": str(mixed), "after": str(ROOT / "src")}
        todo = [(srcs[v], st, v, sc, args.hours, seed, tmp)
                for st in args.strategies.split(",") for sc in args.scenarios.split(",")
                for seed in seeds for v in ("before", "after")]
        print(f"{len(todo)} backtests of {args.hours:g} h, {args.jobs} at once", file=sys.stderr)
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            rows = list(pool.map(lambda a: run_one(*a), todo))
    text = table(rows, args.hours, seeds)
    args.out.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
