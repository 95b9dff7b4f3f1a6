"""Quoting efficiency: obligation uptime and order requests, our order manager vs a naive baseline.

Both run the SAME ladder strategy, risk gate, engine loop and measurement on the same simulated
market (scenario and seed) through the backtest venue, which enforces Bitrue's documented order
limit (100 order requests per 60 s per user; cancels count) and answers 429 beyond it. Only the
order management differs:
- ours: keep live orders within tolerance, spend the key's budget by obligation priority;
- baseline: Hummingbot-style pure market making, every quote cancelled and replaced on a 10 s
  timer with no tolerance (``liquidity_bot.backtest.baseline``), its requests waiting for room.

The "ours" run is also the backtest-speed figure (wall time for the simulated hours) and
carries RSS samples (memory over a long accelerated run).

    .venv/bin/python bench/bench_quoting.py [--hours 24] [--scenario volatile] [--seed 1]
        [--manager both|ours|baseline] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import tempfile
from pathlib import Path

# Our side's configuration (tuned for this benchmark; the baseline uses the same strategy,
# obligations and risk limits). Obligations: spread <= 1 %, >= 300 USDT within 2 % per side.
BENCH_CONFIG = """
kpi_interval_s = 1
[[markets]]
symbol = "XRPUSDT"
key_label = "bench"
client_id_prefix = "lb"
strategy = "ladder"
[markets.ladder]
levels = 3
base_spread_pct = "0.6"
level_spacing_pct = "0.1"
level_size_quote = "300"
min_spread_pct = "0.1"
[markets.obligations]
max_spread_pct = "1"
min_depth_2pct_quote = "300"
[markets.risk]
max_order_notional = "500"
max_open_notional_per_side = "2000"
max_base_inventory = "20000"
daily_loss_limit = "5000"
max_fills_per_minute = 120
[markets.order_manager]
price_tolerance_pct = "0.25"
size_tolerance_pct = "60"
refresh_interval_ms = 1000
"""

BITRUE_ORDER_LIMIT_PER_MIN = 100


def run_one(manager: str, hours: float, scenario: str, seed: int) -> dict:
    from liquidity_bot.backtest import run_backtest
    from liquidity_bot.config import parse_config

    config = parse_config(BENCH_CONFIG, source="bench_quoting config")
    r = run_backtest(config, scenario=scenario, hours=hours, seed=seed, manager=manager,
                     sample_every_s=1800.0)
    m = r.markets[0]
    return {
        "manager": manager, "scenario": scenario, "seed": seed, "hours": hours,
        "wall_s": r.wall_s, "uptime": m.uptime, "order_requests": r.order_requests,
        "requests_per_min": r.order_requests_per_minute,
        "budget_share": r.order_requests_per_minute / BITRUE_ORDER_LIMIT_PER_MIN,
        "max_per_window": r.max_order_requests_per_window, "rate_limited": r.rate_limited,
        "placed": m.orders_placed, "cancel_requests": m.cancel_requests, "fills": m.fills,
        "pnl_quote": m.pnl_quote, "errors": m.errors, "budget_skipped": m.budget_skipped,
        "open_after_shutdown": m.open_after_shutdown, "rss_samples": list(r.rss_samples),
        "book_pushes": r.book_pushes,
    }


def show(res: dict) -> None:
    up = "n/a" if res["uptime"] is None else f"{res['uptime'] * 100:.2f} %"
    print(f"{res['manager']}: uptime {up}; order requests {res['order_requests']:,} "
          f"({res['requests_per_min']:.1f}/min = {res['budget_share'] * 100:.1f} % of the "
          f"100/min limit; max {res['max_per_window']} in any 60 s; 429s {res['rate_limited']}); "
          f"placed {res['placed']:,}, cancels {res['cancel_requests']:,}, fills {res['fills']:,}, "
          f"PnL {res['pnl_quote']} USDT; {res['hours']:g} simulated h in {res['wall_s']:.1f} s "
          "wall")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--scenario", default="volatile")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--manager", choices=("both", "ours", "baseline"), default="both")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.CRITICAL)  # the engine's warnings are not the output

    if args.manager != "both":
        res = run_one(args.manager, args.hours, args.scenario, args.seed)
        show(res)
        if args.json is not None:
            args.json.write_text(json.dumps(res, indent=2), encoding="utf-8")
        return 0
    # Both at once, one process each (two cores): same scenario, same seed.
    with tempfile.TemporaryDirectory() as tmp:
        procs = {}
        for manager in ("ours", "baseline"):
            out = Path(tmp) / f"{manager}.json"
            procs[manager] = (out, subprocess.Popen(
                [sys.executable, __file__, "--manager", manager, "--hours", str(args.hours),
                 "--scenario", args.scenario, "--seed", str(args.seed), "--json", str(out)],
                stdout=subprocess.DEVNULL))
        results = {}
        for manager, (out, proc) in procs.items():
            if proc.wait() != 0:
                print(f"{manager} run failed with exit code {proc.returncode}", file=sys.stderr)
                return 1
            results[manager] = json.loads(out.read_text(encoding="utf-8"))
    for manager in ("ours", "baseline"):
        show(results[manager])
    ours, base = results["ours"], results["baseline"]
    print(f"target: uptime >= 99 % with <= 60 % of the order budget, better than the baseline: "
          f"uptime {'met' if (ours['uptime'] or 0) >= 0.99 else 'NOT met'}, budget "
          f"{'met' if ours['budget_share'] <= 0.60 else 'NOT met'}, vs baseline "
          f"{'better' if (ours['uptime'] or 0) > (base['uptime'] or 0) else 'NOT better'}")
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
