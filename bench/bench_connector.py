"""Connector benchmark: client CPU per signed order round trip (ours vs ccxt), depth decode rate.

    .venv/bin/python bench/bench_connector.py [--orders 400] [--snapshot-seconds 1.0]

The simulator runs in a SEPARATE process (this script re-executes itself with ``--serve``), so
``time.process_time()`` of this process counts only client work: building, signing, sending and
decoding. Rate limits are off in the simulator and the client's governor is given huge limits
(the governor still runs on every request, so its cost is included). ccxt's async ``bitrue``
is pointed at the same simulator and does the same calls in the same run.

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


def round_trips(n: int) -> None:
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
            ours = await _ours(base, n, price)
            try:
                theirs = await _ccxt(base, n, price)
            except ImportError:
                theirs = None
            print(f"\nSigned order round trips against the simulator ({n} each, loopback)")
            print(f"{'client':<10}{'call':<8}{'CPU us/req':>12}{'wall us/req':>13}")
            rows = [("ours", ours)] + ([("ccxt", theirs)] if theirs else [])
            for name, r in rows:
                print(f"{name:<10}{'place':<8}{r[0] * 1e6:>12.0f}{r[1] * 1e6:>13.0f}")
                print(f"{name:<10}{'cancel':<8}{r[2] * 1e6:>12.0f}{r[3] * 1e6:>13.0f}")
            if theirs:
                print(
                    f"CPU ratio ccxt/ours: place {theirs[0] / ours[0]:.1f}x, "
                    f"cancel {theirs[2] / ours[2]:.1f}x"
                )
            else:
                print("ccxt not installed: pip install 'ccxt>=4.3' to compare")

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
    parser.add_argument("--snapshot-seconds", type=float, default=1.0)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(_serve())
        return
    round_trips(args.orders)
    depth_rates(args.snapshot_seconds)


if __name__ == "__main__":
    main()
