"""Engine latency against the simulator over loopback: tick-to-order and start-to-quote.

The simulator runs in a child process (an exchange is another machine: in one process its
work would run on the engine's event loop and show up as engine latency). The engine writes
its SQLite store meanwhile (by its thread), as ``run`` does.

- tick-to-order: a depth frame arrives on the market WebSocket (stamped on entry to the
  stream's frame handler, before decompression and parsing) -> the first order request of the
  quoting pass that answers that book goes to the socket (book update, strategy,
  reconciliation, risk gate, store hand-off, signing in between). Only passes woken by a new
  book count (not those woken by an acknowledgement, a fill or the timer). Also shown: the
  engine thread's CPU time over the same interval (what the latency would be on an idle
  machine with nothing else queued; these machines are shared).
  Two loads, each in its own runs:
  * ``production``: the engine as configured for a client (1-tick price tolerance, Bitrue's
    100-per-minute order limit with the engine's 10 % headroom, the simulator's rate limits
    on), on the ``volatile`` scenario, with the engine process's CPU time. Each segment runs
    in a child process; ``--old-src DIR`` (another checkout's ``src``, e.g. before issue 20)
    runs that tree's engine in alternating segments beside this one's (a tree that still has
    rehearsals: with them every 2 ms, as it shipped, and without);
  * ``stress``: zero price tolerance, no order or rate limits: most moves of the book ask for
    a re-quote, so acknowledgements and fills of earlier requests compete with every book for
    the event loop (about 100 times the request rate Bitrue allows).
  Under ``stress`` it is also measured with passes that wait for their requests' answers
  and run in the market loop, woken by the book (the design before), side by side.
- place round trip: ``place`` called -> acknowledgement back (signed REST over loopback).
- start-to-quote: ``Engine.run`` called -> both sides of the ladder acknowledged on the exchange
  (venue start, clock sync, rules, balances, orphan scan, first book, first orders).

The engine runs on the event loop ``liquidity-bot run`` uses (uvloop when installed, see
``engine.runtime``); the stress load is also run on the standard asyncio loop, side by side.

    .venv/bin/python bench/bench_engine.py [--seconds 120] [--segment-seconds 60]
        [--stress-seconds 30] [--starts 5] [--production-only] [--old-src DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import aiohttp
from tick_probe import TickToOrder

from liquidity_bot.config import parse_config
from liquidity_bot.engine.budget import OrderBudget
from liquidity_bot.engine.market_runner import MarketRunner
from liquidity_bot.engine.runner import Engine, EngineParts, KeySession
from liquidity_bot.engine.runtime import event_loop_name, run
from liquidity_bot.store import Store
from liquidity_bot.testing.runners import LoopPasses
from liquidity_bot.venues.bitrue.factory import bitrue_venue
from liquidity_bot.venues.bitrue.ratelimit import Policy
from liquidity_bot.venues.bitrue.weights import ORDERS, REQUEST_WEIGHT

CONFIG = """
[bitrue]
base_url = "{base_url}"
[[markets]]
symbol = "XRPUSDT"
key_label = "bench"
client_id_prefix = "lbb"
strategy = "ladder"
[markets.ladder]
levels = 3
base_spread_pct = "0.1"
level_spacing_pct = "0.05"
level_size_quote = "20"
min_spread_pct = "0.02"
[markets.obligations]
max_spread_pct = "1"
min_depth_2pct_quote = "20"
[markets.risk]
max_order_notional = "500"
max_open_notional_per_side = "2000"
max_base_inventory = "10000000"
daily_loss_limit = "100000"
max_fills_per_minute = 100000
[markets.order_manager]
price_tolerance_ticks = {tolerance_ticks}
size_tolerance_pct = "{size_tolerance_pct}"
refresh_interval_ms = 1000
"""


async def _key(sim: SimpleNamespace) -> tuple[str, str]:
    headers = {"X-Sim-Admin": sim.admin_token or ""}
    async with aiohttp.ClientSession(headers=headers) as s:
        async with s.post(sim.base_url + "/sim/admin/accounts",
                          json={"balances": {"USDT": "1000000", "XRP": "2000000"}}) as r:
            account = (await r.json())["account_id"]
        async with s.post(sim.base_url + "/sim/admin/keys", json={
            "account_id": account, "label": "bench", "permissions": ["read", "trade"],
            "ip_allowlist": ["127.0.0.1"],
        }) as r:
            body = await r.json()
    return body["api_key"], body["secret"]


def _engine(
    sim: SimpleNamespace, key: str, secret: str, db: Path | None = None, *, stress: bool = True,
    runner: type[MarketRunner] = MarketRunner, rehearsal_ms: int = 0,
) -> Engine:
    """The engine as ``run`` builds it, with an SQLite store in ``db`` (written by its thread).

    ``stress`` lifts every limit (see the module docstring); otherwise the defaults apply.
    ``rehearsal_ms``: only for an older tree that still rehearses (``--old-src``)."""
    cfg = parse_config(CONFIG.format(base_url=sim.base_url,
                                     tolerance_ticks=0 if stress else 1,
                                     size_tolerance_pct="50" if stress else "10"))
    venue = bitrue_venue(cfg, key, secret, ["XRPUSDT"])
    budget = None
    if stress:
        # The simulator runs without rate limits here; lift the connector's own pacing too, so
        # the numbers are the engine's and not the 100-per-minute order limit's.
        governor = venue.rest.governor  # type: ignore[attr-defined]
        governor.configure([Policy(REQUEST_WEIGHT, REQUEST_WEIGHT, 10**9, 60.0),
                            Policy(ORDERS, ORDERS, 10**9, 60.0)])
        governor.configure_from_exchange_info = lambda _limits: None
        budget = OrderBudget(limit=1_000_000, headroom=Decimal(0))
    session = KeySession("bench", venue, list(cfg.markets), budget=budget or OrderBudget())
    store = None
    if db is not None:
        store = Store(f"sqlite:///{db}")
        store.create_schema()
    older = {"rehearsal_interval_s": rehearsal_ms / 1000} if rehearsal_ms else {}
    return Engine([session], all_markets=cfg.markets, store=store, stale_after_s=30.0,
                  parts=EngineParts(market_runner=runner), **older)


class SimProcess:
    """The simulator in a child process (this file with ``--serve``), on a free loopback port."""

    def __init__(self, scenario: str, seed: int, *, rate_limits: bool = False) -> None:
        self.args = [sys.executable, str(Path(__file__).resolve()), "--serve",
                     "--scenario", scenario, "--seed", str(seed)]
        if rate_limits:
            self.args.append("--rate-limits")

    def __enter__(self) -> SimpleNamespace:
        self.child = subprocess.Popen(self.args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      text=True)
        line = self.child.stdout.readline().split()  # type: ignore[union-attr]
        if len(line) != 2 or not line[0].startswith("http://127.0.0.1:"):
            self.child.kill()
            raise SystemExit(f"simulator did not start (got {line!r})")
        return SimpleNamespace(base_url=line[0], admin_token=line[1])

    def __exit__(self, *exc: object) -> None:
        self.child.stdin.close()  # type: ignore[union-attr]
        try:
            self.child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.child.kill()


async def serve(scenario: str, seed: int, rate_limits: bool) -> None:
    from bitrue_sim.server.runner import SimServer

    async with SimServer(port=0, seed=seed, scenario=scenario, rate_limits=rate_limits) as sim:
        print(sim.base_url, sim.admin_token, flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until closed


@dataclass
class Sample:
    """One or more runs' measurements (see ``tick_to_order``)."""

    written_ms: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)
    handed_ms: list[float] = field(default_factory=list)
    rtt_ms: list[float] = field(default_factory=list)
    process_cpu_s: float = 0.0  # the engine process's CPU time (all threads) ...
    wall_s: float = 0.0  # ... over this much time

    def add(self, other: Sample) -> None:
        for name in ("written_ms", "cpu_ms", "handed_ms", "rtt_ms"):
            getattr(self, name).extend(getattr(other, name))
        self.process_cpu_s += other.process_cpu_s
        self.wall_s += other.wall_s




async def tick_to_order(  # noqa: ANN201
    seconds: float, *, stress: bool, wait_for_answers: bool = False, rehearsal_ms: int = 0,
):
    """Milliseconds: tick -> request written (wall, and the engine thread's CPU time in
    between), tick -> handed to the venue, place round trips; the process's CPU time."""
    with SimProcess("volatile", 7, rate_limits=not stress) as sim, \
            tempfile.TemporaryDirectory() as tmp:
        key, secret = await _key(sim)
        engine = _engine(sim, key, secret, Path(tmp) / "bench.db", stress=stress,
                         rehearsal_ms=rehearsal_ms,
                         # the design before: passes in the loop, waiting for their answers
                         runner=LoopPasses if wait_for_answers else MarketRunner)
        probe = TickToOrder(engine).install()  # any number of markets: bench_markets too
        try:
            cpu_start, wall_start = time.process_time(), time.perf_counter()
            task = asyncio.get_running_loop().create_task(
                engine.run(seconds, handle_signals=False))
            while not engine.runners and not task.done():
                await asyncio.sleep(0.001)
            await task
            cpu_s, wall_s = time.process_time() - cpu_start, time.perf_counter() - wall_start
        finally:
            got = probe.remove()
        return Sample(got.written_ms, got.cpu_ms, got.handed_ms, got.rtt_ms, cpu_s, wall_s)


async def start_to_quote(starts: int) -> list[float]:
    out: list[float] = []
    with SimProcess("calm", 8, rate_limits=True) as sim:
        key, secret = await _key(sim)
        for _ in range(starts):
            engine = _engine(sim, key, secret, stress=False)
            t0 = time.perf_counter()
            task = asyncio.get_running_loop().create_task(engine.run(handle_signals=False))
            while True:
                runners = engine.runners
                if runners and {o.side for o in runners[0].om.resting()} == {"BUY", "SELL"}:
                    out.append((time.perf_counter() - t0) * 1000)
                    break
                if task.done():
                    task.result()
                    raise RuntimeError("engine stopped before quoting")
                await asyncio.sleep(0.0005)
            engine.stop()
            await task
    return out


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def _line(name: str, values: list[float]) -> str:
    if not values:
        return f"{name}: no samples"
    return (f"{name}: n={len(values)} p50={statistics.median(values):.2f} ms "
            f"p99={_pct(values, 99):.2f} ms max={max(values):.2f} ms")


def _p99_p50(values: list[float]) -> tuple[float, float]:
    if not values:
        return float("nan"), float("nan")
    return _pct(values, 99), statistics.median(values)


def _cpu_pct(sample: Sample) -> float:
    return sample.process_cpu_s / sample.wall_s * 100 if sample.wall_s else float("nan")


def _segment(src: str, seconds: float, rehearsal_ms: int) -> Sample:
    """One production segment of the engine in ``src`` (a checkout's src directory), in a child
    process of its own: its imports, caches and CPU time are that tree's alone."""
    env = dict(os.environ, PYTHONPATH=src)
    out = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--segment", str(seconds),
                          "--rehearsal-ms", str(rehearsal_ms)],
                         env=env, check=True, capture_output=True, text=True).stdout
    return Sample(**json.loads(out.strip().splitlines()[-1]))


def _report(label: str, sample: Sample) -> None:
    print(f"{label}:")
    print("  " + _line("tick-to-order (depth frame received -> order request written)",
                       sample.written_ms))
    print("  " + _line("the same, engine thread CPU time in between", sample.cpu_ms))
    print("  " + _line("tick -> order handed to the venue (before signing)", sample.handed_ms))
    print("  " + _line("place round trip (request -> acknowledgement, loopback REST)",
                       sample.rtt_ms))
    if sample.wall_s:
        print(f"  engine process CPU: {sample.process_cpu_s / sample.wall_s * 100:.1f} % of one "
              f"core ({sample.process_cpu_s:.1f} s in {sample.wall_s:.0f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=120.0,
                        help="production load, each tree (few passes send orders: it needs "
                             "time)")
    parser.add_argument("--segment-seconds", type=float, default=60.0,
                        help="production load runs in segments of about this long (trees "
                             "alternate)")
    parser.add_argument("--old-src", default=None,
                        help="another checkout's src directory, measured beside this one")
    parser.add_argument("--stress-seconds", type=float, default=30.0,
                        help="each stress-load run")
    parser.add_argument("--starts", type=int, default=5)
    parser.add_argument("--production-only", action="store_true",
                        help="only the production load")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--scenario", default="volatile", help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=7, help=argparse.SUPPRESS)
    parser.add_argument("--rate-limits", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--segment", type=float, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--rehearsal-ms", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve(args.scenario, args.seed, args.rate_limits))
        return
    if args.segment is not None:  # a child of _segment: one production segment, as JSON
        sample = run(tick_to_order(args.segment, stress=False, rehearsal_ms=args.rehearsal_ms),
                     event_loop_name())
        print(json.dumps(asdict(sample)))
        return
    loop = event_loop_name()  # what `run` and `demo` use
    other = "asyncio" if loop == "uvloop" else None
    print(f"event loop: {loop} (as `liquidity-bot run` uses it)")
    # Production load, one child process per segment; with --old-src the older tree's engine
    # (with its rehearsals as shipped, and without) alternates with this one's, so the
    # machine's drift falls on all alike.
    here = str(Path(__file__).resolve().parent.parent / "src")
    modes = {"production load, this tree": (here, 0)}
    if args.old_src:
        if (Path(args.old_src) / "liquidity_bot" / "engine" / "rehearsal.py").exists():
            modes["production load, old tree, rehearsals every 2 ms"] = (args.old_src, 2)
            modes["production load, old tree, no rehearsals"] = (args.old_src, 0)
        else:  # a tree from after issue 20 removed them
            modes["production load, old tree"] = (args.old_src, 0)
    pooled = {label: Sample() for label in modes}
    segments = max(1, round(args.seconds / args.segment_seconds))
    for _ in range(segments):
        for label, (src, rehearsal_ms) in modes.items():
            pooled[label].add(_segment(src, args.seconds / segments, rehearsal_ms))
    for label, sample in pooled.items():
        _report(label, sample)
    new = pooled["production load, this tree"]
    new_p99, new_p50 = _p99_p50(new.written_ms)
    for label, sample in list(pooled.items())[1:]:
        p99, p50 = _p99_p50(sample.written_ms)
        print(f"{label} / this tree: tick-to-order p50 {p50 / new_p50:.2f}x, p99 "
              f"{p99 / new_p99:.2f}x; engine process CPU {_cpu_pct(sample):.1f} % / "
              f"{_cpu_pct(new):.1f} % of one core")
    if args.production_only:
        return
    p99 = {}
    runs = [("stress load, passes not waiting for answers (the engine)", False, loop),
            ("stress load, passes waiting for answers (before)", True, loop)]
    if other is not None:
        runs.append((f"stress load, the engine on the {other} event loop", False, other))
    for label, wait, on in runs:
        sample = run(tick_to_order(args.stress_seconds, stress=True, wait_for_answers=wait), on)
        _report(label, sample)
        p99[label] = _p99_p50(sample.written_ms)
    ours, before = p99[runs[0][0]][0], p99[runs[1][0]][0]
    print(f"stress load, p99 tick-to-order, waiting / not waiting: {before / ours:.1f}x")
    if other is not None:
        (o99, o50), (u99, u50) = p99[runs[2][0]], p99[runs[0][0]]
        print(f"stress load, tick-to-order {other} / {loop}: p50 {o50 / u50:.2f}x, "
              f"p99 {o99 / u99:.2f}x")
    print(_line("start -> first two-sided quote acknowledged",
                run(start_to_quote(args.starts), loop)))


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
    main()
