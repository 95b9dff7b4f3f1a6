"""Virtual-time driver speed: market events per second and wall time for 24 simulated hours.

Runs the ``volatile`` scenario (default symbols) on a ManualClock with no sockets. Prints
participant actions/s, exchange events/s and the wall time of a simulated day (target: <= 60 s).

    .venv/bin/python bench/bench_virtual_time.py [--hours 24] [--scenario volatile] [--seed 1]
"""

from __future__ import annotations

import argparse
import resource
import sys
import time

from bitrue_sim.virtual import VirtualVenue

HOUR_MS = 3_600_000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--scenario", default="volatile")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--time-limit-s", type=float, default=110.0,
                        help="stop early (and say so) rather than run past this")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    cpu_started = time.process_time()
    venue = VirtualVenue(scenario=args.scenario, seed=args.seed)
    total_ms = int(args.hours * HOUR_MS)
    end_ms = venue.now_ms() + total_ms
    actions = 0
    simulated_ms = 0
    while venue.now_ms() < end_ms:
        actions += venue.run_until(min(end_ms, venue.now_ms() + HOUR_MS))
        simulated_ms = total_ms - (end_ms - venue.now_ms())
        if time.perf_counter() - started > args.time_limit_s:
            print(f"stopped early after {simulated_ms / HOUR_MS:.2f} simulated hours "
                  f"(time limit {args.time_limit_s:.0f} s)")
            break
    wall = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    hours = simulated_ms / HOUR_MS
    stats = venue.participants.stats()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"scenario={args.scenario} seed={args.seed} symbols={','.join(venue.symbols)}")
    print(f"simulated: {hours:.2f} h in {wall:.1f} s wall ({cpu:.1f} s CPU): "
          f"{hours * 3600 / wall:,.0f}x real time")
    print(f"participant actions: {actions:,} ({actions / wall:,.0f}/s); "
          f"exchange events: {venue.exchange_events:,} ({venue.exchange_events / wall:,.0f}/s)")
    print(f"taker orders: {stats.taker_orders:,}; requotes: {stats.requotes:,}; "
          f"rejected: {stats.rejected:,}; peak RSS {rss_mb:,.0f} MB")
    if hours > 0:
        day = wall * 24 / hours
        verdict = "meets" if day <= 60 else "MISSES"
        print(f"wall time for 24 simulated hours: {day:.1f} s ({verdict} the 60 s target)")
    for symbol in venue.symbols:
        state = venue.market_state(symbol, levels=1)
        print(f"{symbol}: last {state.last_price}, best bid {state.bids[:1]}, "
              f"best ask {state.asks[:1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
