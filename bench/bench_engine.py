"""Engine latency against the simulator over loopback: tick-to-order and start-to-quote.

- tick-to-order: a depth frame arrives on the market WebSocket (stamped on entry to the
  stream's frame handler, before decompression and parsing) -> the order request is handed to
  the venue's ``place`` (book update, strategy, reconciliation, risk gate, store hand-off in
  between). Measured on the frames that lead to a new order; the simulator runs the
  ``volatile`` scenario with rate limits off and the engine gets a large order budget and zero
  price tolerance, so most moves of the book ask for a re-quote.
- place round trip: ``place`` called -> acknowledgement back (signed REST over loopback).
- start-to-quote: ``Engine.run`` called -> both sides of the ladder acknowledged on the exchange
  (venue start, clock sync, rules, balances, orphan scan, first book, first orders).

    .venv/bin/python bench/bench_engine.py [--seconds 8] [--starts 5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

import aiohttp

from bitrue_sim.server.runner import SimServer
from liquidity_bot.config import parse_config
from liquidity_bot.engine.budget import OrderBudget
from liquidity_bot.engine.runner import Engine, KeySession, bitrue_venue
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
price_tolerance_ticks = 0
size_tolerance_pct = "50"
refresh_interval_ms = 1000
"""


async def _key(sim: SimServer) -> tuple[str, str]:
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


def _engine(sim: SimServer, key: str, secret: str) -> Engine:
    cfg = parse_config(CONFIG.format(base_url=sim.base_url))
    venue = bitrue_venue(cfg, key, secret, ["XRPUSDT"])
    # The simulator runs without rate limits here; lift the connector's own pacing too, so the
    # numbers are the engine's and not the 100-per-minute order limit's.
    governor = venue.rest.governor  # type: ignore[attr-defined]
    governor.configure([Policy(REQUEST_WEIGHT, REQUEST_WEIGHT, 10**9, 60.0),
                        Policy(ORDERS, ORDERS, 10**9, 60.0)])
    governor.configure_from_exchange_info = lambda _limits: None
    session = KeySession("bench", venue, list(cfg.markets),
                         budget=OrderBudget(limit=1_000_000, headroom=Decimal(0)))
    return Engine([session], all_markets=cfg.markets, store=None, stale_after_s=30.0)


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


async def tick_to_order(seconds: float) -> tuple[list[float], list[float]]:
    async with SimServer(port=0, seed=7, scenario="volatile", rate_limits=False) as sim:
        key, secret = await _key(sim)
        engine = _engine(sim, key, secret)
        venue = engine.sessions[0].venue
        frame_ns: list[int] = [0]
        handle = venue.market.handle_frame  # type: ignore[attr-defined]

        def stamped(data):  # noqa: ANN001, ANN202
            frame_ns[0] = time.perf_counter_ns()
            return handle(data)

        venue.market.handle_frame = stamped  # type: ignore[attr-defined]
        tick_ms: list[float] = []
        rtt_ms: list[float] = []
        place = venue.place
        last_used = [0]

        async def timed_place(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            start = time.perf_counter_ns()
            if frame_ns[0] and frame_ns[0] != last_used[0]:  # first order after this frame
                tick_ms.append((start - frame_ns[0]) / 1e6)
                last_used[0] = frame_ns[0]
            try:
                return await place(*args, **kwargs)
            finally:
                rtt_ms.append((time.perf_counter_ns() - start) / 1e6)

        venue.place = timed_place  # type: ignore[method-assign]
        await engine.run(seconds, handle_signals=False)
        return tick_ms, rtt_ms


async def start_to_quote(starts: int) -> list[float]:
    out: list[float] = []
    async with SimServer(port=0, seed=8, scenario="calm", rate_limits=False) as sim:
        key, secret = await _key(sim)
        for _ in range(starts):
            engine = _engine(sim, key, secret)
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


def _line(name: str, values: list[float]) -> str:
    if not values:
        return f"{name}: no samples"
    return (f"{name}: n={len(values)} p50={statistics.median(values):.2f} ms "
            f"p99={_pct(values, 99):.2f} ms max={max(values):.2f} ms")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--starts", type=int, default=5)
    args = parser.parse_args()
    tick_ms, rtt_ms = await tick_to_order(args.seconds)
    print(_line("tick-to-order (depth frame received -> order request handed to venue)", tick_ms))
    print(_line("place round trip (request -> acknowledgement, loopback REST)", rtt_ms))
    print(_line("start -> first two-sided quote acknowledged", await start_to_quote(args.starts)))


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
    asyncio.run(main())
