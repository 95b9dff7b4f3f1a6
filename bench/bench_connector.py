"""Connector benchmark: client CPU per signed order round trip (ours vs ccxt), depth decode rate.

    .venv/bin/python bench/bench_connector.py [--orders 400] [--runs 5] [--snapshot-seconds 1.0]

The simulator runs in a SEPARATE process (this script re-executes itself with ``--serve``), so
``time.process_time()`` of this process counts only client work: building, signing, sending and
decoding. Rate limits are off in the simulator and the client's governor is given huge limits
(the governor still runs on every request, so its cost is included). ccxt's async ``bitrue``
is pointed at the same simulator and does the same calls in the same run. The machine may be
shared, so each client runs ``--runs`` times (alternating which goes first) and the script
prints every run, the best of each, and the min-max spread.

Our REST calls go through ``liquidity_bot.venues.lean_http`` (plain asyncio keep-alive
HTTP/1.1); ccxt uses aiohttp. Both run on the default asyncio event loop (``--loop uvloop``
runs both on uvloop instead, when it is installed).

Depth: gzip frames as the market WebSocket sends them, for 20, 100 and 1000 levels per side;
"decode+apply" is what the stream does per push (gunzip, typed decode, O(1) book replace);
"+read" also converts both sides to Decimal the way the first reader of a snapshot does.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import random
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import aiohttp

ADMIN = "bench-admin"
SYMBOL = "XRPUSDT"


# ------------------------------------------------------------------ simulator process


async def _serve() -> None:
    from bitrue_sim.server.runner import SimServer

    async with SimServer(port=0, seed=0, admin_token=ADMIN, rate_limits=False) as sim:
        print(sim.base_url, flush=True)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, sys.stdin.read)  # until the parent closes stdin


async def _admin(base: str, path: str, body: dict) -> dict:
    async with aiohttp.ClientSession() as s:
        async with s.post(base + path, json=body, headers={"X-Sim-Admin": ADMIN}) as r:
            data = await r.json(content_type=None)
            if r.status != 200:
                raise RuntimeError(f"admin {path}: {r.status} {data}")
            return data


async def _key(base: str) -> tuple[str, str]:
    acct = await _admin(
        base, "/sim/admin/accounts", {"balances": {"USDT": "10000000", "XRP": "10000000"}}
    )
    key = await _admin(
        base,
        "/sim/admin/keys",
        {"account_id": acct["account_id"], "permissions": ["read", "trade"], "ip_allowlist": []},
    )
    return key["api_key"], key["secret"]


# ------------------------------------------------------------------ round trips


async def _ours(base: str, n: int, price: Decimal) -> tuple[float, float, float, float]:
    from liquidity_bot.venues.bitrue.ratelimit import Policy, RateGovernor
    from liquidity_bot.venues.bitrue.rest import BitrueRestClient
    from liquidity_bot.venues.bitrue.urls import BitrueUrls
    from liquidity_bot.venues.bitrue.weights import ORDERS, REQUEST_WEIGHT

    key, secret = await _key(base)
    governor = RateGovernor(
        (Policy("w", REQUEST_WEIGHT, 10**9, 60.0), Policy("o", ORDERS, 10**9, 60.0))
    )
    async with BitrueRestClient(BitrueUrls.single(base), key, secret, governor=governor) as c:
        await c.sync_clock()
        for i in range(20):  # warm-up: connection, caches
            ack = await c.place_order(SYMBOL, "BUY", Decimal(3), price, client_order_id=f"w{i}")
            await c.cancel_order(SYMBOL, order_id=ack.orderId)
        ids = []
        cpu0, wall0 = time.process_time(), time.perf_counter()
        for i in range(n):
            ack = await c.place_order(SYMBOL, "BUY", Decimal(3), price, client_order_id=f"o{i}")
            ids.append(ack.orderId)
        cpu1, wall1 = time.process_time(), time.perf_counter()
        for oid in ids:
            await c.cancel_order(SYMBOL, order_id=oid)
        cpu2, wall2 = time.process_time(), time.perf_counter()
    return (cpu1 - cpu0) / n, (wall1 - wall0) / n, (cpu2 - cpu1) / n, (wall2 - wall1) / n


async def _ccxt(base: str, n: int, price: Decimal) -> tuple[float, float, float, float]:
    import ccxt.async_support as ccxt

    key, secret = await _key(base)
    ex = ccxt.bitrue(
        {
            "apiKey": key,
            "secret": secret,
            "enableRateLimit": False,
        }
    )

    async def no_contracts(params=None):  # the simulator is spot only
        return []

    # ccxt 4.5 cannot load spot alone (concatenates None), so answer its contract calls empty.
    ex.fapiV1PublicGetContracts = no_contracts
    ex.dapiV1PublicGetContracts = no_contracts
    ex.urls["api"] = {
        "spot": base + "/api",
        "fapi": base + "/fapi",
        "dapi": base + "/dapi",
        "kline": base + "/kline-api",
        "open": base,
    }
    try:
        await ex.load_markets()
        market = ex.market(SYMBOL)["symbol"]
        for _ in range(20):
            o = await ex.create_order(market, "limit", "buy", 3, float(price))
            await ex.cancel_order(o["id"], market)
        ids = []
        cpu0, wall0 = time.process_time(), time.perf_counter()
        for _ in range(n):
            o = await ex.create_order(market, "limit", "buy", 3, float(price))
            ids.append(o["id"])
        cpu1, wall1 = time.process_time(), time.perf_counter()
        for oid in ids:
            await ex.cancel_order(oid, market)
        cpu2, wall2 = time.process_time(), time.perf_counter()
    finally:
        await ex.close()
    return (cpu1 - cpu0) / n, (wall1 - wall0) / n, (cpu2 - cpu1) / n, (wall2 - wall1) / n


async def _best_bid(base: str) -> Decimal:
    async with aiohttp.ClientSession() as s:
        async with s.get(f"{base}/api/v1/depth?symbol={SYMBOL}&limit=5") as r:
            data = json.loads(await r.text(), parse_float=Decimal)
    return Decimal(data["bids"][0][0])


def _spread(values: list[float]) -> str:
    lo, hi = min(values), max(values)
    return f"{lo * 1e6:.0f}-{hi * 1e6:.0f}"


def round_trips(n: int, runs: int, loop: str = "asyncio") -> None:
    child = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "--serve"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        base = child.stdout.readline().strip()  # type: ignore[union-attr]
        if not base.startswith("http://127.0.0.1:"):
            raise SystemExit(f"simulator did not start (got {base!r})")

        async def run() -> None:
            # A resting bid well inside the allowed band, never filled.
            price = (await _best_bid(base) * Decimal("0.97")).quantize(Decimal("0.0001"))
            results: dict[str, list[tuple[float, float, float, float]]] = {"ours": [], "ccxt": []}
            have_ccxt = True
            print(
                f"\nSigned order round trips against the simulator ({n} each, loopback, "
                f"{loop} event loop for both clients)"
            )
            print(f"{'run':<5}{'client':<8}{'call':<8}{'CPU us/req':>12}{'wall us/req':>13}")
            for k in range(runs):
                # Alternate who goes first so that drift in machine load hits both alike.
                order = ["ours", "ccxt"] if k % 2 == 0 else ["ccxt", "ours"]
                for name in order:
                    if name == "ccxt":
                        if not have_ccxt:
                            continue
                        try:
                            r = await _ccxt(base, n, price)
                        except ImportError:
                            have_ccxt = False
                            continue
                    else:
                        r = await _ours(base, n, price)
                    results[name].append(r)
                    print(f"{k + 1:<5}{name:<8}{'place':<8}{r[0] * 1e6:>12.0f}{r[1] * 1e6:>13.0f}")
                    print(f"{'':<5}{name:<8}{'cancel':<8}{r[2] * 1e6:>12.0f}{r[3] * 1e6:>13.0f}")
            print(f"\nBest of {runs} runs (CPU us/req; min-max over the runs in brackets)")
            ours = results["ours"]
            best_ours = (min(r[0] for r in ours), min(r[2] for r in ours))
            print(
                f"ours  place {best_ours[0] * 1e6:.0f} [{_spread([r[0] for r in ours])}]  "
                f"cancel {best_ours[1] * 1e6:.0f} [{_spread([r[2] for r in ours])}]"
            )
            theirs = results["ccxt"]
            if not theirs:
                print("ccxt not installed: pip install 'ccxt>=4.3' to compare")
                return
            best_theirs = (min(r[0] for r in theirs), min(r[2] for r in theirs))
            print(
                f"ccxt  place {best_theirs[0] * 1e6:.0f} [{_spread([r[0] for r in theirs])}]  "
                f"cancel {best_theirs[1] * 1e6:.0f} [{_spread([r[2] for r in theirs])}]"
            )
            print(
                f"CPU ratio ccxt/ours (best vs best): place {best_theirs[0] / best_ours[0]:.1f}x, "
                f"cancel {best_theirs[1] / best_ours[1]:.1f}x (target >= 3x)"
            )
            ratios_p = [t[0] / o[0] for o, t in zip(ours, theirs, strict=False)]
            ratios_c = [t[2] / o[2] for o, t in zip(ours, theirs, strict=False)]
            print(
                f"per-run ratios: place {min(ratios_p):.1f}-{max(ratios_p):.1f}x, "
                f"cancel {min(ratios_c):.1f}-{max(ratios_c):.1f}x"
            )

        if loop == "uvloop":
            import uvloop  # optional: pip install uvloop

            uvloop.run(run())
        else:
            asyncio.run(run())
    finally:
        child.stdin.close()  # type: ignore[union-attr]
        child.wait(timeout=10)


# ------------------------------------------------------------------ depth decoding


def depth_rates(seconds: float) -> None:
    from liquidity_bot.venues.bitrue.market_stream import MarketStream, depth_channel
    from liquidity_bot.venues.bitrue.urls import BitrueUrls

    rng = random.Random(0)
    print(f"\nDepth snapshots: gunzip + decode + apply (one core, {seconds:.1f} s each)")
    print(f"{'levels/side':<12}{'decode+apply /s':>17}{'+read as Decimal /s':>21}")
    for levels in (20, 100, 1000):
        frames = []
        for k in range(32):
            bids = [
                [f"{0.5 - i * 0.0001:.4f}", f"{rng.uniform(1, 500):.1f}"] for i in range(levels)
            ]
            asks = [
                [f"{0.5001 + i * 0.0001:.4f}", f"{rng.uniform(1, 500):.1f}"] for i in range(levels)
            ]
            push = {"channel": depth_channel(SYMBOL), "ts": k, "tick": {"buys": bids, "asks": asks}}
            frames.append(gzip.compress(json.dumps(push).encode()))
        rates = []
        for read in (False, True):
            stream = MarketStream(BitrueUrls(), [SYMBOL])
            book = stream.books[SYMBOL]
            count, ts = 0, 0
            start = time.process_time()
            while True:
                for frame in frames:
                    stream.handle_frame(frame)
                    book.ts_ms = None  # frames repeat: let every one count as new
                    if read:
                        _ = (book.bids, book.asks)
                count += len(frames)
                ts = time.process_time() - start
                if ts >= seconds:
                    break
            rates.append(count / ts)
        print(f"{levels:<12}{rates[0]:>17,.0f}{rates[1]:>21,.0f}")
    print("target: >= 20,000 snapshots/s of 100 levels (decode+apply)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=400)
    parser.add_argument("--runs", type=int, default=5, help="round-trip runs per client")
    parser.add_argument(
        "--loop", choices=("asyncio", "uvloop"), default="asyncio", help="client event loop"
    )
    parser.add_argument("--snapshot-seconds", type=float, default=1.0)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(_serve())
        return
    round_trips(args.orders, args.runs, args.loop)
    depth_rates(args.snapshot_seconds)


if __name__ == "__main__":
    main()
