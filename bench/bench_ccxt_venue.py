"""The venue port through ccxt against our native Bitrue venue: wall time and client CPU per
place + cancel round trip, over loopback to the simulator running in a separate process.

    .venv/bin/python bench/bench_ccxt_venue.py [--orders 200] [--runs 3]

Three lines: the native Bitrue venue and the ccxt venue on the Bitrue dialect (ccxt's
``bitrue``), and the ccxt venue on the Binance dialect (ccxt's ``binance``). Rate limits are
off in the simulator and ccxt's own throttle is off, so the figures are the clients' cost, not
the exchanges' limits. The machine may be shared: every run is printed, then the best.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
from decimal import Decimal

ADMIN = "bench-admin"
SYMBOL = "XRPUSDT"


async def _serve(dialect: str) -> None:
    from bitrue_sim.server.runner import SimServer

    async with SimServer(port=0, seed=0, admin_token=ADMIN, rate_limits=False,
                         dialect=dialect) as sim:
        print(sim.base_url, flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


async def _key(base: str) -> tuple[str, str]:
    import aiohttp

    async with aiohttp.ClientSession(headers={"X-Sim-Admin": ADMIN}) as s:
        async with s.post(base + "/sim/admin/accounts",
                          json={"balances": {"USDT": "10000000", "XRP": "10000000"}}) as r:
            account = (await r.json())["account_id"]
        async with s.post(base + "/sim/admin/keys",
                          json={"account_id": account, "permissions": ["read", "trade"],
                                "ip_allowlist": []}) as r:
            key = await r.json()
    return key["api_key"], key["secret"]


def _venue(kind: str, base: str, key: str, secret: str):
    if kind == "native":
        from liquidity_bot.venues.bitrue.urls import BitrueUrls
        from liquidity_bot.venues.bitrue.venue import BitrueVenue

        return BitrueVenue(BitrueUrls.single(base), key, secret, [SYMBOL])
    from liquidity_bot.venues.ccxt.venue import CcxtVenue

    return CcxtVenue(kind, key, secret, [SYMBOL], http_base=base, enable_rate_limit=False)


async def _run(kind: str, base: str, n: int) -> tuple[list[float], float]:
    key, secret = await _key(base)
    venue = _venue(kind, base, key, secret)
    await venue.start()
    try:
        walls: list[float] = []
        cpu0 = time.process_time()
        for i in range(n):
            cid = f"b{i:06d}{int(time.time()) % 100000}"
            t0 = time.perf_counter()
            await venue.place(SYMBOL, "BUY", Decimal("10"), Decimal("0.4600"), cid)
            await venue.cancel(SYMBOL, client_order_id=cid)
            walls.append(time.perf_counter() - t0)
        cpu = (time.process_time() - cpu0) / n
    finally:
        await venue.stop()
    return walls, cpu


async def _main(orders: int, runs: int) -> None:
    rows: dict[str, list[tuple[float, float, float]]] = {}
    for dialect, kinds in (("bitrue", ("native", "bitrue")), ("binance", ("binance",))):
        proc = subprocess.Popen([sys.executable, __file__, "--serve", dialect],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            base = proc.stdout.readline().strip()
            for r in range(runs):
                for kind in (kinds if r % 2 == 0 else kinds[::-1]):
                    walls, cpu = await _run(kind, base, orders)
                    who = "native Bitrue venue" if kind == "native" else f"ccxt venue ({kind})"
                    label = f"{who}, {dialect} dialect"
                    p50 = statistics.median(walls) * 1000
                    p95 = sorted(walls)[int(len(walls) * 0.95) - 1] * 1000
                    rows.setdefault(label, []).append((p50, p95, cpu * 1000))
                    print(f"run {r + 1}: {label}: p50 {p50:.2f} ms, p95 {p95:.2f} ms, "
                          f"client CPU {cpu * 1000:.2f} ms per place+cancel", flush=True)
        finally:
            proc.stdin.close()
            proc.wait(10)
    print("\nbest of runs (place + cancel round trip, loopback):")
    for label, results in rows.items():
        p50 = min(r[0] for r in results)
        p95 = min(r[1] for r in results)
        cpu = min(r[2] for r in results)
        print(f"  {label:40s} p50 {p50:6.2f} ms  p95 {p95:6.2f} ms  CPU {cpu:5.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--serve", default=None)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(_serve(args.serve))
    else:
        asyncio.run(_main(args.orders, args.runs))


if __name__ == "__main__":
    main()
