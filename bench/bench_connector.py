"""Connector benchmark: client CPU per signed order round trip (ours vs ccxt), depth decode rate.

    .venv/bin/python bench/bench_connector.py [--orders 400] [--runs 3] [--loops uvloop,asyncio]
        [--old-src OLD/src] [--syscalls] [--floor] [--warm] [--snapshot-seconds 1.0]

The simulator runs in a SEPARATE process (this script re-executes itself with ``--serve``).
Every measurement runs in its own fresh child process (``--child``) with its own event loop,
so ``time.process_time()`` of that child counts only one client's work: building, signing,
sending and decoding, plus the event loop and the kernel under it. Rate limits are off in the
simulator and our client's governor is given huge limits (it still runs on every request, so
its cost is included; ccxt's own throttle is off). ccxt's async ``bitrue`` is pointed at the
same simulator and does the same calls in the same run.

Both clients are measured on each event loop of ``--loops``: uvloop (what ``liquidity-bot
run`` uses when installed, see ``engine.runtime``) and the default asyncio loop. The machine may
be shared, so each run visits every (loop, client) pair in a rotated order; the script prints
every measurement, then per loop the median of each client and the ratio ccxt / ours per run
(median and range): compare ratios, not absolute figures. ``--old-src`` adds an "old" client
(our REST client imported from another tree, e.g. ``main``) to the same runs, for before/after.

``--floor`` adds a bare protocol's round trip (a fixed GET, no HTTP client at all): what the
event loop and the kernel cost per request whoever the client is. ``--warm`` then measures the
order path warm, in one process, per tree (see ``_warm``).

``--syscalls`` then runs each (loop, client) once more under ``strace -c`` (attached to the
child for the timed requests only) and prints syscalls per request.

Our REST calls go through ``liquidity_bot.venues.lean_http`` (plain asyncio keep-alive
HTTP/1.1); ccxt uses aiohttp.

Depth: gzip frames as the market WebSocket sends them, for 20, 100 and 1000 levels per side;
"decode+apply" is what the stream does per push (gunzip, typed decode, O(1) book replace);
"+read" also converts both sides to Decimal the way the first reader of a snapshot does.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import importlib.util
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import aiohttp

ADMIN = "bench-admin"
SYMBOL = "XRPUSDT"
SRC = Path(__file__).resolve().parent.parent / "src"


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


Hooks = tuple[Callable[[], None], Callable[[], None]]
_NO_HOOKS: Hooks = (lambda: None, lambda: None)


async def _ours(
    base: str, n: int, price: Decimal, hooks: Hooks = _NO_HOOKS
) -> tuple[float, float, float, float]:
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
        hooks[0]()
        cpu0, wall0 = time.process_time(), time.perf_counter()
        for i in range(n):
            ack = await c.place_order(SYMBOL, "BUY", Decimal(3), price, client_order_id=f"o{i}")
            ids.append(ack.orderId)
        cpu1, wall1 = time.process_time(), time.perf_counter()
        for oid in ids:
            await c.cancel_order(SYMBOL, order_id=oid)
        cpu2, wall2 = time.process_time(), time.perf_counter()
        hooks[1]()
    return (cpu1 - cpu0) / n, (wall1 - wall0) / n, (cpu2 - cpu1) / n, (wall2 - wall1) / n


async def _ccxt(
    base: str, n: int, price: Decimal, hooks: Hooks = _NO_HOOKS
) -> tuple[float, float, float, float]:
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
        hooks[0]()
        cpu0, wall0 = time.process_time(), time.perf_counter()
        for _ in range(n):
            o = await ex.create_order(market, "limit", "buy", 3, float(price))
            ids.append(o["id"])
        cpu1, wall1 = time.process_time(), time.perf_counter()
        for oid in ids:
            await ex.cancel_order(oid, market)
        cpu2, wall2 = time.process_time(), time.perf_counter()
        hooks[1]()
    finally:
        await ex.close()
    return (cpu1 - cpu0) / n, (wall1 - wall0) / n, (cpu2 - cpu1) / n, (wall2 - wall1) / n


async def _best_bid(base: str) -> Decimal:
    async with aiohttp.ClientSession() as s:
        async with s.get(f"{base}/api/v1/depth?symbol={SYMBOL}&limit=5") as r:
            data = json.loads(await r.text(), parse_float=Decimal)
    return Decimal(data["bids"][0][0])


async def _floor(base: str, n: int, price: Decimal, hooks: Hooks = _NO_HOOKS
                 ) -> tuple[float, float, float, float]:
    """The floor under any client: a bare ``BufferedProtocol`` writing one fixed request
    (``GET /api/v1/time``) and waiting for its Content-Length answer, nothing else: the event
    loop's and the kernel's share of a round trip (place and cancel columns alike)."""
    from urllib.parse import urlsplit

    url = urlsplit(base)
    request = (f"GET /api/v1/time HTTP/1.1\r\nHost: {url.hostname}:{url.port}\r\n"
               "User-Agent: floor\r\n\r\n").encode()
    loop = asyncio.get_running_loop()

    class Bare(asyncio.BufferedProtocol):
        def __init__(self) -> None:
            self.view = memoryview(bytearray(65536))
            self.got = b""
            self.waiter: asyncio.Future[None] | None = None

        def get_buffer(self, sizehint: int) -> memoryview:
            return self.view

        def buffer_updated(self, nbytes: int) -> None:
            data = self.got + bytes(self.view[:nbytes])
            end = data.find(b"\r\n\r\n")
            if end >= 0:
                i = data.lower().find(b"content-length:")
                if len(data) >= end + 4 + int(data[i + 15 : data.find(b"\r\n", i)]):
                    self.got = b""
                    self.waiter.set_result(None)  # type: ignore[union-attr]
                    return
            self.got = data

    transport, bare = await loop.create_connection(Bare, url.hostname, url.port)

    async def one() -> None:
        bare.waiter = loop.create_future()
        transport.write(request)
        await bare.waiter

    for _ in range(20):
        await one()
    hooks[0]()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for _ in range(2 * n):
        await one()
    cpu, wall = (time.process_time() - cpu0) / (2 * n), (time.perf_counter() - wall0) / (2 * n)
    hooks[1]()
    transport.close()
    return cpu, wall, cpu, wall


# ------------------------------------------------------------------ one measurement (child)


def _strace_hooks(out: Path) -> tuple[Hooks, Callable[[], dict[str, int]]]:
    """Attach ``strace -c`` to this process for the timed requests only."""
    state: dict[str, subprocess.Popen[str]] = {}

    def start() -> None:
        tracer = subprocess.Popen(
            ["strace", "-f", "-c", "-o", str(out), "-p", str(os.getpid())],
            stderr=subprocess.PIPE,
            text=True,
        )
        tracer.stderr.readline()  # type: ignore[union-attr]  # "Process N attached"
        time.sleep(0.2)
        state["tracer"] = tracer

    def stop() -> None:
        tracer = state["tracer"]
        tracer.send_signal(signal.SIGINT)
        tracer.wait(timeout=10)

    def counts() -> dict[str, int]:
        got: dict[str, int] = {}
        for line in out.read_text().splitlines():
            parts = line.split()
            if len(parts) >= 5 and parts[0][0].isdigit() and parts[-1] != "total":
                got[parts[-1]] = int(parts[3])
        return got

    return (start, stop), counts


def child(client: str, loop: str, base: str, price: Decimal, n: int, syscalls: bool) -> None:
    """One client on one fresh event loop; prints its result as one JSON line."""
    hooks, counts = _NO_HOOKS, None
    if syscalls:
        hooks, counts = _strace_hooks(Path(tempfile.mkdtemp()) / "strace.txt")
    measure = {"ccxt": _ccxt, "floor": _floor}.get(client, _ours)
    coro = measure(base, n, price, hooks)
    if loop == "uvloop":
        import uvloop

        r = uvloop.run(coro)
    else:
        r = asyncio.run(coro)
    out: dict[str, object] = {"place": r[0], "place_wall": r[1], "cancel": r[2],
                              "cancel_wall": r[3]}
    if counts is not None:
        out["syscalls"] = counts()
    print(json.dumps(out), flush=True)


# ------------------------------------------------------------------ the comparison (parent)


def _measure(
    client: str, src: Path, loop: str, base: str, price: Decimal, n: int, syscalls: bool = False
) -> dict | None:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child",
           client if client in ("ccxt", "floor") else "ours", "--loop", loop, "--base", base, "--price", str(price), "--orders", str(n)]
    if syscalls:
        cmd.append("--syscalls")
    env = {**os.environ, "PYTHONPATH": str(src)}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    if done.returncode != 0:
        if client == "ccxt" and "No module named 'ccxt'" in done.stderr:
            return None
        raise SystemExit(f"{client} on {loop} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _med(values: list[float]) -> float:
    return statistics.median(values)


def round_trips(
    n: int, runs: int, loops: list[str], old_src: Path | None, syscalls: bool,
    floor: bool = False,
) -> None:
    server = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "--serve"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        base = server.stdout.readline().strip()  # type: ignore[union-attr]
        if not base.startswith("http://127.0.0.1:"):
            raise SystemExit(f"simulator did not start (got {base!r})")
        # A resting bid well inside the allowed band, never filled.
        price = (asyncio.run(_best_bid(base)) * Decimal("0.97")).quantize(Decimal("0.0001"))
        clients = {"ours": SRC, "ccxt": SRC}
        if old_src is not None:
            clients["old"] = old_src
        if floor:
            clients["floor"] = SRC
        pairs = [(loop, name) for loop in loops for name in clients]
        results: dict[tuple[str, str], list[dict]] = {pair: [] for pair in pairs}
        print(
            f"\nSigned order round trips against the simulator ({n} each, loopback; "
            f"each measurement a fresh process on a fresh event loop)"
        )
        print(f"{'run':<5}{'loop':<9}{'client':<8}{'place CPU':>10}{'cancel CPU':>12}"
              f"{'place wall':>12}{'cancel wall':>13}   (us per request)")
        for k in range(runs):
            # Rotate the order so that drift in machine load hits every pair alike.
            shift = k % len(pairs)
            for loop, name in pairs[shift:] + pairs[:shift]:
                r = _measure(name, clients[name], loop, base, price, n)
                if r is None:
                    clients.pop("ccxt", None)
                    continue
                results[(loop, name)].append(r)
                print(f"{k + 1:<5}{loop:<9}{name:<8}{r['place'] * 1e6:>10.0f}"
                      f"{r['cancel'] * 1e6:>12.0f}{r['place_wall'] * 1e6:>12.0f}"
                      f"{r['cancel_wall'] * 1e6:>13.0f}")
        print(f"\nMedian of {runs} runs, client CPU us per request [min-max]; "
              "ratio = ccxt / ours per run, median [min-max]")
        for loop in loops:
            for name in clients:
                got = results[(loop, name)]
                if not got:
                    continue
                line = f"{loop:<9}{name:<6}"
                for call in ("place", "cancel"):
                    v = [r[call] * 1e6 for r in got]
                    line += f"{call} {_med(v):.0f} [{min(v):.0f}-{max(v):.0f}]  "
                print(line.rstrip())
            theirs = results.get((loop, "ccxt"))
            if not theirs:
                print(f"{loop:<9}ccxt not installed: pip install 'ccxt>=4.3' to compare")
                continue
            for name in [c for c in clients if c not in ("ccxt", "floor")]:
                mine = results[(loop, name)]
                parts = []
                for call in ("place", "cancel"):
                    ratios = [t[call] / o[call] for o, t in zip(mine, theirs, strict=False)]
                    verdict = "meets" if _med(ratios) >= 5 else "misses"
                    parts.append(f"{call} {_med(ratios):.1f}x [{min(ratios):.1f}-"
                                 f"{max(ratios):.1f}] ({verdict} 5x)")
                print(f"{loop:<9}ccxt/{name:<5}" + ", ".join(parts))
            if "old" in clients:
                mine, old = results[(loop, "ours")], results[(loop, "old")]
                parts = []
                for call in ("place", "cancel"):
                    ratios = [b[call] / a[call] for a, b in zip(mine, old, strict=False)]
                    parts.append(f"{call} {_med(ratios):.2f}x [{min(ratios):.2f}-"
                                 f"{max(ratios):.2f}]")
                print(f"{loop:<9}old/ours  " + ", ".join(parts))
        if syscalls:
            print("\nSyscalls per request (strace -c over the timed place and cancel requests)")
            for loop, name in pairs:
                if name not in clients:
                    continue
                r = _measure(name, clients[name], loop, base, price, n, syscalls=True)
                calls = (r or {}).get("syscalls", {})
                shown = ", ".join(
                    f"{sys_name} {count / (2 * n):.2f}"
                    for sys_name, count in sorted(calls.items(), key=lambda kv: -kv[1])
                    if count >= n / 10
                )
                total = sum(calls.values()) / (2 * n)
                print(f"{loop:<9}{name:<6}total {total:.2f}: {shown}")
    finally:
        server.stdin.close()  # type: ignore[union-attr]
        server.wait(timeout=10)


# ------------------------------------------------------------------ warm, in one process


_WARM_HEAD = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
              b"Date: Mon, 07 Dec 2026 17:39:28 GMT\r\nServer: Python/3.11 aiohttp/3.14.5\r\n\r\n")
_WARM_PLACE = (b'{"symbol":"XRPUSDT","orderId":231085998819029958,"orderIdStr":"231085998819029958",'
               b'"clientOrderId":"o1","transactTime":1796665168018}')
_WARM_CANCEL = (b'{"symbol":"XRPUSDT","origClientOrderId":"o1","orderId":231085998819029958,'
                b'"orderIdStr":"231085998819029958","clientOrderId":"o1"}')


async def _warm(n: int, batches: int) -> tuple[float, float]:
    """Client CPU per place and per cancel, warm: the REST client (governor, signing, lean_http,
    decoding) on a fake transport that answers each request on the next loop turn with the
    simulator's answer bytes. No kernel, no other process: the figures are the code's cost,
    a third to a half of what the same code costs in a real round trip (cold caches)."""
    from liquidity_bot.venues import lean_http
    from liquidity_bot.venues.bitrue.ratelimit import Policy, RateGovernor
    from liquidity_bot.venues.bitrue.rest import BitrueRestClient
    from liquidity_bot.venues.bitrue.urls import BitrueUrls
    from liquidity_bot.venues.bitrue.weights import ORDERS, REQUEST_WEIGHT

    loop = asyncio.get_running_loop()

    class Answering(asyncio.Transport):
        def write(self, data: bytes) -> None:  # type: ignore[override]
            body = _WARM_PLACE if data.startswith(b"POST") else _WARM_CANCEL
            loop.call_soon(self.answer, _WARM_HEAD % len(body) + body)

        def answer(self, data: bytes) -> None:
            view = conn.get_buffer(-1)
            view[: len(data)] = data
            conn.buffer_updated(len(data))

        def is_closing(self) -> bool:
            return False

        def abort(self) -> None:
            pass

    governor = RateGovernor(
        (Policy("w", REQUEST_WEIGHT, 10**9, 60.0), Policy("o", ORDERS, 10**9, 60.0))
    )
    c = BitrueRestClient(BitrueUrls.single("http://127.0.0.1:9"), "K" * 64, "S" * 64,
                         governor=governor)
    http = c._ensure_session()
    origin = http.origin(c.urls.spot)
    conn = lean_http._Connection(http.watchdog(loop))
    conn.connection_made(Answering())
    origin._idle.append(conn)
    c.clock.synced_at = time.monotonic()
    qty, price = Decimal(3), Decimal("0.5123")
    place, cancel = [], []
    for _ in range(batches):
        conn.last_used = time.monotonic()
        t0 = time.process_time()
        for i in range(n):
            ack = await c.place_order(SYMBOL, "BUY", qty, price, client_order_id=f"o{i}")
        t1 = time.process_time()
        for _ in range(n):
            await c.cancel_order(SYMBOL, order_id=ack.orderId)
        t2 = time.process_time()
        place.append((t1 - t0) / n)
        cancel.append((t2 - t1) / n)
    await http.close()
    return statistics.median(place), statistics.median(cancel)


def warm_child(loop: str, n: int) -> None:
    coro = _warm(n, 7)
    if loop == "uvloop":
        import uvloop

        r = uvloop.run(coro)
    else:
        r = asyncio.run(coro)
    print(json.dumps({"place": r[0], "cancel": r[1]}), flush=True)


def warm(n: int, runs: int, loops: list[str], old_src: Path | None) -> None:
    trees = {"ours": SRC, **({"old": old_src} if old_src is not None else {})}
    print(f"\nWarm, in one process (fake transport answering at once; {n} of each, median of "
          f"7 batches per run, {runs} runs alternating trees): client CPU us per request")
    for loop in loops:
        got: dict[str, list[dict]] = {name: [] for name in trees}
        for _ in range(runs):
            for name, src in trees.items():
                cmd = [sys.executable, str(Path(__file__).resolve()), "--warm-child",
                       "--loop", loop, "--orders", str(n)]
                done = subprocess.run(cmd, capture_output=True, text=True, check=True,
                                      env={**os.environ, "PYTHONPATH": str(src)})
                got[name].append(json.loads(done.stdout.strip().splitlines()[-1]))
        line = f"{loop:<9}"
        for name in trees:
            line += f"{name} place {_med([r['place'] * 1e6 for r in got[name]]):.2f} cancel " \
                    f"{_med([r['cancel'] * 1e6 for r in got[name]]):.2f}   "
        if "old" in trees:
            ratios = [
                f"{call} {_med([o[call] / n_[call] for o, n_ in zip(got['old'], got['ours'], strict=True)]):.2f}x"
                for call in ("place", "cancel")
            ]
            line += "old/ours " + ", ".join(ratios)
        print(line.rstrip())


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
    parser.add_argument("--runs", type=int, default=3, help="runs over every (loop, client)")
    parser.add_argument(
        "--loops",
        default="uvloop,asyncio",
        help="event loops to measure on, comma separated (uvloop is skipped if not installed)",
    )
    parser.add_argument("--old-src", type=Path, help="also measure our client from this src")
    parser.add_argument("--syscalls", action="store_true", help="strace -c syscalls per request")
    parser.add_argument("--snapshot-seconds", type=float, default=1.0)
    parser.add_argument("--no-round-trips", action="store_true", help="depth decoding only")
    parser.add_argument("--warm", action="store_true",
                        help="also the warm cost in one process (fake transport), per tree")
    parser.add_argument("--warm-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--floor", action="store_true",
                        help="also a bare protocol's round trip: the loop's and kernel's share")
    parser.add_argument("--child", choices=("ours", "ccxt", "floor"), help=argparse.SUPPRESS)
    parser.add_argument("--loop", default="asyncio", help=argparse.SUPPRESS)
    parser.add_argument("--base", help=argparse.SUPPRESS)
    parser.add_argument("--price", type=Decimal, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(_serve())
        return
    if args.child:
        child(args.child, args.loop, args.base, args.price, args.orders, args.syscalls)
        return
    if args.warm_child:
        warm_child(args.loop, args.orders)
        return
    loops = [loop.strip() for loop in args.loops.split(",") if loop.strip()]
    if "uvloop" in loops and importlib.util.find_spec("uvloop") is None:
        print("uvloop not installed: measuring the asyncio loop only")
        loops.remove("uvloop")
    if not args.no_round_trips:
        round_trips(args.orders, args.runs, loops, args.old_src, args.syscalls, args.floor)
    if args.warm:
        warm(args.orders * 10, args.runs, loops, args.old_src)
    depth_rates(args.snapshot_seconds)


if __name__ == "__main__":
    main()
