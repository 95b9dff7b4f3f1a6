"""Many markets in one engine process: 1, 10 and 50 markets over 5 keys at the production load.

For each market count the engine quotes the simulator's synthetic markets (``MK01USDT``...,
varied prices and ticks, each with the ``volatile`` scenario's own flow: makers, takers, jumps)
with the production settings of ``bench_engine.py`` (its market, on another symbol): a three-level
ladder, 1-tick price tolerance,
Bitrue's 100 order requests per 60 s per key with the engine's 10 % headroom and its quoting
target, the simulator's rate limits on. One market runs on one key; more markets are spread
over 5 keys. Each key sends from its own loopback address (127.0.0.2..., ``[bitrue]
key_source_addresses``) with its own allow list: Bitrue counts orders per user and per IP, so keys on one address would share one 100 per
minute (the engine then splits it, ``share_ip_order_limit``) and 50 markets could hardly quote.

Measured after a warm-up (start-up and the first ladders excluded), per market count:
tick-to-order p50/p99 (``tick_probe``: depth frame handled -> order request written), the same
from the exchange's push (frame ``ts``, whole ms: includes waiting behind other frames), the
engine process's CPU (% of one core, all threads) and its memory (RSS now and peak). Each count
runs in a process of its own (the simulator in another), so memory is that engine's alone.

``--flood`` also measures the fairness fix: 10 markets, one of which (MK01USDT) gets bursts of
depth frames (50 at once every 200 ms), with the market stream coalescing a backlog's books and
without (every stale frame answered, the design before), alternating; the other markets'
tick-to-order is compared.

    .venv/bin/python bench/bench_markets.py [--markets 1,10,50] [--seconds 45] [--warmup 20]
        [--flood]
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import gzip
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp

HERE = Path(__file__).resolve()
KEYS = 5
FLOODED = "MK01USDT"


def _market(symbol: str, label: str, index: int, share: Decimal) -> str:
    """One ``[[markets]]`` entry: ``bench_engine``'s production market on another symbol and
    key, with the key's order budget split evenly among its markets."""
    from bench_engine import CONFIG

    block = "[[markets]]" + CONFIG.split("[[markets]]", 1)[1].format(
        tolerance_ticks=1, size_tolerance_pct="10")
    for old, new in (('symbol = "XRPUSDT"', f'symbol = "{symbol}"'),
                     ('key_label = "bench"', f'key_label = "{label}"'),
                     ('client_id_prefix = "lbb"', f'client_id_prefix = "m{index}"'),
                     # the balances below hold 10 million USDT's worth of each base
                     ('max_base_inventory = "10000000"', 'max_base_inventory = "1e12"')):
        assert old in block, old
        block = block.replace(old, new)
    return block + f'order_budget_share = "{share:f}"\n'


def _symbols(n: int) -> list[str]:
    from bitrue_sim.core.synthetic import synthetic_markets

    return [m.symbol for m in synthetic_markets(n)]


def _address(key_index: int) -> str:
    return f"127.0.0.{2 + key_index}"


# --- the simulator (a child process) ------------------------------------------------------------
def _sim_process(markets: int, seed: int, flood: bool) -> Any:
    from bench_engine import SimProcess

    sim = SimProcess("volatile", seed, rate_limits=True)
    sim.args = [sys.executable, str(HERE), "--serve", "--markets", str(markets),
                "--seed", str(seed)] + (["--flood"] if flood else [])
    return sim


async def serve(markets: int, seed: int, flood: bool) -> None:
    from bitrue_sim.server.runner import SimServer
    from bitrue_sim.ws import HUB_KEY

    async with SimServer(port=0, seed=seed, scenario="volatile", rate_limits=True,
                         synthetic_markets=markets, symbols=tuple(_symbols(markets))) as sim:
        if flood:
            asyncio.get_running_loop().create_task(_flood(sim.app[HUB_KEY]))
        print(sim.base_url, sim.admin_token, flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until closed


async def _flood(hub: Any, frames: int = 50, every_s: float = 0.2) -> None:
    """Bursts of FLOODED's depth, each frame with another top-of-book quantity, written at once
    (as an exchange pushing a burst): the market stream has a backlog to get through."""
    while True:
        await asyncio.sleep(every_s)
        subscribers = hub.market._subscribers.get(FLOODED, {})
        if not subscribers:
            continue
        base = hub.market.snapshot(FLOODED)
        buys = base["tick"]["buys"]
        if not buys:
            continue
        for k in range(frames):
            push = copy.deepcopy(base)
            push["tick"]["buys"][0][1] = f"{Decimal(buys[0][1]) + 1 + k:f}"
            frame = gzip.compress(json.dumps(push).encode(), 5, mtime=0)
            for conn in list(subscribers):
                conn.send(frame)


async def _keys(sim: SimpleNamespace, symbols: list[str], n_keys: int) -> list[tuple[str, str]]:
    """One account and key per key index, its allow list the key's own loopback address."""
    from bitrue_sim.core.synthetic import synthetic_markets

    headers = {"X-Sim-Admin": sim.admin_token or ""}
    # as much of each base as of USDT, by value: the ladder's inventory skew starts at zero
    balances = {"USDT": "10000000", **{
        m.base_asset: f"{(10_000_000 / m.initial_price).quantize(m.step_size):f}"
        for m in synthetic_markets(len(symbols))}}
    out = []
    async with aiohttp.ClientSession(headers=headers) as s:
        for k in range(n_keys):
            async with s.post(sim.base_url + "/sim/admin/accounts",
                              json={"balances": balances}) as r:
                account = (await r.json())["account_id"]
            async with s.post(sim.base_url + "/sim/admin/keys", json={
                "account_id": account, "label": f"k{k}", "permissions": ["read", "trade"],
                "ip_allowlist": [_address(k)],
            }) as r:
                body = await r.json()
            out.append((body["api_key"], body["secret"]))
    return out


# --- one market count, in this process ----------------------------------------------------------
def _engine(base_url: str, symbols: list[str], keys: list[tuple[str, str]], db: Path) -> Any:
    from liquidity_bot.app import venue_for
    from liquidity_bot.config import parse_config
    from liquidity_bot.engine.runner import Engine, KeySession, share_ip_order_limit
    from liquidity_bot.store import Store

    labels = [f"k{i % len(keys)}" for i in range(len(symbols))]
    share = 1 / Decimal(-(-len(symbols) // len(keys)))  # each key's budget split evenly
    # each key on its own address, as a production config says it
    addresses = ", ".join(f'k{k} = "{_address(k)}"' for k in range(len(keys))
                          if f"k{k}" in labels)
    cfg = parse_config(f'[bitrue]\nbase_url = "{base_url}"\n'
                       f"key_source_addresses = {{ {addresses} }}\n" + "".join(
        _market(s, label, i, share) for i, (s, label) in enumerate(zip(symbols, labels,
                                                                      strict=True))))
    sessions = []
    for k, (api_key, secret) in enumerate(keys):
        markets = [m for m in cfg.markets if m.key_label == f"k{k}"]
        if not markets:
            continue
        venue = venue_for(cfg, api_key, secret, [m.symbol for m in markets], key_label=f"k{k}")
        sessions.append(KeySession(f"k{k}", venue, markets))
    share_ip_order_limit(sessions)  # as open_sessions: one key per address keeps its limit
    store = Store(f"sqlite:///{db}")
    store.create_schema()
    return Engine(sessions, all_markets=cfg.markets, store=store, stale_after_s=30.0,
                  order_target=cfg.order_target_per_minute)


def _memory_kib() -> dict[str, int]:
    out = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            out[name] = int(value.split()[0])
    return out


def _cpu_s(pid: int) -> float:
    """A process's CPU time so far (user + system), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _segment(engine: Any, seconds: float, skip: set[str], sim_pid: int) -> dict[str, Any]:
    """Run ``seconds`` more of a running engine: samples taken in them, CPU over them, the
    share of market-seconds quoted on both sides (looked at every second)."""
    probe = engine.probe.probe
    start = len(probe.written_ms)
    cpu0, wall0, sim0 = time.process_time(), time.perf_counter(), _cpu_s(sim_pid)
    looks = two_sided = 0
    while time.perf_counter() - wall0 < seconds:
        await asyncio.sleep(min(1.0, max(0.0, seconds - (time.perf_counter() - wall0))))
        looks += len(engine.runners)
        two_sided += sum(1 for r in engine.runners
                         if {o.side for o in r.om.resting()} == {"BUY", "SELL"})
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    rows = [row for row in zip(probe.symbols[start:], probe.written_ms[start:],
                               probe.cpu_ms[start:], probe.push_ms[start:], strict=True)
            if row[0] not in skip]
    return {
        "written_ms": [row[1] for row in rows],
        "cpu_ms": [row[2] for row in rows],
        "push_ms": [row[3] for row in rows if row[3] == row[3]],  # (NaN: a book without ts)
        "cpu_s": cpu, "wall_s": wall, "sim_cpu_s": _cpu_s(sim_pid) - sim0,
        "two_sided": two_sided / looks if looks else 0.0,
    }


def _switch(name: str, on: bool) -> None:
    """Turn one of the fairness measures on or off in this process."""
    from liquidity_bot.venues.bitrue.market_stream import MarketStream

    assert name == "coalesce", name
    MarketStream.coalesce_backlog = on


async def one(n: int, seconds: float, warmup: float, segments: int,
              compare: str | None) -> dict[str, Any]:
    """One market count; with ``compare``, that measure off and on in ``segments`` pairs of
    alternating segments (results under "False" and "True")."""
    from tick_probe import TickToOrder

    symbols = _symbols(n)
    n_keys = 1 if n == 1 else KEYS
    flood = compare == "coalesce"
    process = _sim_process(n, 11, flood)
    with process as sim, tempfile.TemporaryDirectory() as tmp:
        keys = await _keys(sim, symbols, n_keys)
        engine = _engine(sim.base_url, symbols, keys, Path(tmp) / "bench.db")
        engine.probe = TickToOrder(engine).install()
        task = asyncio.get_running_loop().create_task(engine.run(handle_signals=False))
        pid = process.child.pid
        skip = {FLOODED} if flood else set()
        try:
            await asyncio.sleep(warmup)
            if compare is None:
                result = await _segment(engine, seconds, skip, pid)
            else:
                result = {}
                for _ in range(segments):
                    for on in (False, True):
                        _switch(compare, on)
                        seg = await _segment(engine, seconds / segments, skip, pid)
                        got = result.setdefault(str(on), {})
                        for name in ("written_ms", "cpu_ms", "push_ms"):
                            got[name] = got.get(name, []) + seg[name]
                        for name in ("cpu_s", "wall_s"):
                            got[name] = got.get(name, 0.0) + seg[name]
                _switch(compare, True)
        finally:
            engine.stop()
            await task
            engine.probe.remove()
        streams = [s.venue.market for s in engine.sessions]
        result.update(_memory_kib())
        result.update(markets=n, keys=n_keys,
                      placed=sum(r.om.stats.placed for r in engine.runners),
                      failed={k: v for s in engine.sessions for k, v in s.failed.items()},
                      coalesced=sum(s.coalesced for s in streams),
                      snapshots=sum(s.snapshots for s in streams),
                      errors=sum(r.errors for r in engine.runners))
        return result


# --- the table -----------------------------------------------------------------------------------
def _pct(values: list[float], p: float) -> float:
    from bench_engine import _pct as pct

    return pct(values, p) if values else float("nan")


def _p50_p99(values: list[float], digits: int = 2) -> str:
    if not values:
        return "no samples"
    return f"{statistics.median(values):.{digits}f} / {_pct(values, 99):.{digits}f} ms"


def _child(n: int, args: argparse.Namespace, compare: str | None = None) -> dict[str, Any]:
    seconds = args.seconds * 2 if compare else args.seconds  # each mode as long as one count
    cmd = [sys.executable, str(HERE), "--one", str(n), "--seconds", str(seconds),
           "--warmup", str(args.warmup)] + (["--compare", compare] if compare else [])
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds * 3 + 300)
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
    if done.returncode != 0 or not lines:
        raise SystemExit(f"{n} markets: the run failed\n{done.stderr[-3000:]}")
    return json.loads(lines[-1])


def _compared(r: dict[str, Any], labels: tuple[str, str]) -> None:
    """The off and on halves of a ``--compare`` run, and their p99 ratios."""
    for key, label in zip(("False", "True"), labels, strict=True):
        got = r[key]
        print(f"  {label}: tick-to-order {_p50_p99(got['written_ms'])}, engine thread CPU "
              f"{_p50_p99(got['cpu_ms'])}, push-to-order {_p50_p99(got['push_ms'], 1)} "
              f"(n={len(got['written_ms'])}), engine CPU "
              f"{got['cpu_s'] / got['wall_s'] * 100:.1f} %")
    off, on = r["False"], r["True"]
    print(f"  p99 off / on: tick-to-order "
          f"{_pct(off['written_ms'], 99) / _pct(on['written_ms'], 99):.2f}x, push-to-order "
          f"{_pct(off['push_ms'], 99) / _pct(on['push_ms'], 99):.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markets", default="1,10,50", help="market counts, comma-separated")
    parser.add_argument("--seconds", type=float, default=45.0, help="measured, each count")
    parser.add_argument("--warmup", type=float, default=20.0, help="before measuring")
    parser.add_argument("--flood", action="store_true",
                        help="also: 10 markets, one flooded, coalescing off/on alternating")
    parser.add_argument("--compare", choices=("coalesce",), help=argparse.SUPPRESS)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=11, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve(int(args.markets), args.seed, args.flood))
        return
    from liquidity_bot.engine.runtime import event_loop_name, run

    if args.one is not None:
        print(json.dumps(run(one(args.one, args.seconds, args.warmup, 3, args.compare),
                             event_loop_name())))
        return
    print(f"event loop: {event_loop_name()}; {args.warmup:g} s warm-up, {args.seconds:g} s "
          "measured per count; each count in its own process")
    header = ("| markets | keys | two-sided | tick-to-order p50 / p99 | engine thread CPU in "
              "between p50 / p99 | push-to-order p50 / p99 (whole ms) | orders | engine CPU | "
              "simulator CPU | RSS / peak |")
    rows = [header, "|" + "---|" * 10]
    for n in (int(x) for x in args.markets.split(",")):
        r = _child(n, args)
        rows.append(
            f"| {n} | {r['keys']} | {r['two_sided'] * 100:.0f} % | {_p50_p99(r['written_ms'])} | "
            f"{_p50_p99(r['cpu_ms'])} | {_p50_p99(r['push_ms'], 1)} | {len(r['written_ms'])} | "
            f"{r['cpu_s'] / r['wall_s'] * 100:.1f} % | {r['sim_cpu_s'] / r['wall_s'] * 100:.0f} % | "
            f"{r['VmRSS'] / 1024:.0f} / {r['VmHWM'] / 1024:.0f} MiB |")
        print(rows[-1], flush=True)
    print("\n".join(rows))
    if args.flood:
        r = _child(10, args, "coalesce")
        print(f"\n10 markets, {FLOODED} flooded (50 frames at once every 200 ms); the other "
              "9 markets, coalescing off and on in alternating segments of one run:")
        _compared(r, ("every frame answered (before)", "backlog coalesced (now)"))
        print(f"  books coalesced: {r['coalesced']} of {r['snapshots']}")

if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parent.parent / "src"))
    sys.path.insert(0, str(HERE.parent))
    main()
