"""Signed order placements per second against the simulator over loopback REST.

Runs an in-process ``SimServer`` (rate limits off), then sends signed ``POST /api/v1/order``
requests (resting LIMIT orders, each signed with HMAC-SHA256 over the exact query string):
first one at a time on one keep-alive connection, then with several requests in flight.
Prints the numbers; finishes well under 30 s.

    .venv/bin/python bench/bench_sim_rest.py [--orders 5000] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import time
from decimal import Decimal
from urllib.parse import urlencode

import aiohttp
from yarl import URL

from bitrue_sim.server.runner import SimServer


def _signed_url(base: str, secret: str, params: dict) -> URL:
    query = urlencode(params)
    sig = hmac.new(secret.encode(), query.encode(), hashlib.sha256).hexdigest()
    return URL(f"{base}/api/v1/order?{query}&signature={sig}", encoded=True)


async def _place(session, base, key, secret, i: int) -> None:
    price = Decimal("0.4500") + Decimal(i % 400) / Decimal(10000)
    params = {
        "symbol": "XRPUSDT",
        "side": "BUY",
        "type": "LIMIT",
        "quantity": "10",
        "price": str(price),
        "newClientOrderId": f"bench-{i}",
        "timestamp": int(time.time() * 1000),
    }
    async with session.post(
        _signed_url(base, secret, params), headers={"X-MBX-APIKEY": key}
    ) as resp:
        body = await resp.read()
        if resp.status != 200:
            raise RuntimeError(f"order {i} failed: {resp.status} {body[:200]!r}")


async def main(orders: int, concurrency: int) -> None:
    async with SimServer(rate_limits=False, seed_books=True) as sim:
        account = sim.exchange.create_account({"USDT": Decimal("100000000")})
        key, secret = sim.keys.create(account, "bench", ("read", "trade"), ("127.0.0.1",))
        async with aiohttp.ClientSession() as session:
            await _place(session, sim.base_url, key, secret, -1)  # warm up
            t0 = time.perf_counter()
            for i in range(orders):
                await _place(session, sim.base_url, key, secret, i)
            seq = orders / (time.perf_counter() - t0)
            print(f"sequential (1 in flight): {seq:,.0f} signed orders/s over {orders} orders")

            sem = asyncio.Semaphore(concurrency)

            async def one(i: int) -> None:
                async with sem:
                    await _place(session, sim.base_url, key, secret, orders + i)

            t0 = time.perf_counter()
            await asyncio.gather(*(one(i) for i in range(orders)))
            par = orders / (time.perf_counter() - t0)
            print(
                f"concurrent ({concurrency} in flight): {par:,.0f} signed orders/s "
                f"over {orders} orders"
            )
        print(f"open orders on the book: {len(sim.exchange.open_orders(account, 'XRPUSDT'))}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--orders", type=int, default=5000)
    ap.add_argument("--concurrency", type=int, default=16)
    a = ap.parse_args()
    asyncio.run(main(a.orders, a.concurrency))
