"""Throughput of the simulator's in-process matching core (bitrue_sim.core.Exchange).

Prints operations per second for: adding non-crossing LIMIT orders, cancelling them, crossing
orders that match resting ones, and a mixed workload; with no listeners and with one listener.
Measured in process CPU time (the machine may be shared), best of --repeat runs. Deterministic
(seeded) workload; runs in well under 30 s:  python bench/bench_matching.py [--n N]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from bitrue_sim.core import Exchange, ManualClock  # noqa: E402
from bitrue_sim.errors import ExchangeError  # noqa: E402

SYMBOL = "XRPUSDT"
TICK = Decimal("0.0001")
STEP = Decimal("0.1")
MID_TICKS = 5000  # 0.5000 USDT, the market's initial (last) price
RICH = {"USDT": Decimal("1000000000"), "XRP": Decimal("1000000000")}


def _new_exchange(listener: bool, quiet_maker: bool = False) -> tuple[Exchange, int, int, list]:
    ex = Exchange(clock=ManualClock(1_700_000_000_000), seed=7)
    maker = ex.create_account(RICH)
    taker = ex.create_account(RICH)
    if quiet_maker:  # as the drivers do for synthetic participants nobody streams
        ex.set_account_events(maker, False)
    counter: list[int] = [0]
    if listener:
        # counts and drops events, as a stream fan-out would after serialising them
        def count(_event: object) -> None:
            counter[0] += 1

        ex.subscribe(count)
    return ex, maker, taker, counter


def _prices(rng: random.Random, n: int) -> list[tuple[str, Decimal, Decimal]]:
    """Non-crossing quotes: bids below the mid, asks above it, within the percent band."""
    out = []
    for _ in range(n):
        offset = rng.randint(1, 300)
        if rng.random() < 0.5:
            out.append(("BUY", (MID_TICKS - offset) * TICK, rng.randint(40, 500) * STEP))
        else:
            out.append(("SELL", (MID_TICKS + offset) * TICK, rng.randint(40, 500) * STEP))
    return out


def _clock() -> float:
    """CPU time of this process: the machine may be shared, wall time would measure others."""
    return time.process_time()


def bench_add_cancel_match(
    n: int, listener: bool, quiet_maker: bool = False
) -> tuple[float, float, float]:
    """Seconds for n adds (non-crossing), n cancels of them, n crossing orders (1 fill each)."""
    rng = random.Random(1)
    ex, maker, taker, _ = _new_exchange(listener, quiet_maker)
    place = ex.place_order
    quotes = _prices(rng, n)

    t0 = _clock()
    ids = [place(maker, SYMBOL, side, "LIMIT", qty, price).order_id for side, price, qty in quotes]
    t_add = _clock() - t0

    t0 = _clock()
    for order_id in ids:
        ex.cancel_order(maker, SYMBOL, order_id)
    t_cancel = _clock() - t0
    assert ex.depth(SYMBOL, 0) == ([], []), "every added order should have been cancelled"

    # match, on a fresh exchange so each phase runs against its own history: rest n asks at
    # one price, then n crossing buys each filling one of them
    ex, maker, taker, _ = _new_exchange(listener, quiet_maker)
    place = ex.place_order
    ask = (MID_TICKS + 1) * TICK
    qty = Decimal("10.0")
    for _ in range(n):
        place(maker, SYMBOL, "SELL", "LIMIT", qty, ask)
    t0 = _clock()
    for _ in range(n):
        place(taker, SYMBOL, "BUY", "LIMIT", qty, ask)
    t_match = _clock() - t0
    assert ex.depth(SYMBOL, 0) == ([], []), "every crossing order should have filled one ask"
    assert len(ex.my_trades(taker, SYMBOL, limit=n)) == n
    return t_add, t_cancel, t_match


def bench_mixed(n: int, listener: bool, quiet_maker: bool = False) -> float:
    """Seconds for n operations: 60 % add, 30 % cancel of a random open order, 10 % crossing
    LIMIT orders that sweep 1-3 resting orders."""
    rng = random.Random(2)
    ex, maker, taker, _ = _new_exchange(listener, quiet_maker)
    place = ex.place_order
    open_ids: list[int] = []
    quotes = _prices(rng, n)
    kinds = [rng.random() for _ in range(n)]
    t0 = _clock()
    for i in range(n):
        k = kinds[i]
        if k < 0.6 or not open_ids:
            side, price, qty = quotes[i]
            open_ids.append(place(maker, SYMBOL, side, "LIMIT", qty, price).order_id)
        elif k < 0.9:
            j = rng.randrange(len(open_ids))
            open_ids[j], open_ids[-1] = open_ids[-1], open_ids[j]
            order_id = open_ids.pop()
            try:
                ex.cancel_order(maker, SYMBOL, order_id)
            except ExchangeError:  # filled meanwhile by a crossing order: -2013, as on Bitrue
                pass
        else:
            side = "BUY" if k < 0.95 else "SELL"
            price = (MID_TICKS + 30) * TICK if side == "BUY" else (MID_TICKS - 30) * TICK
            place(taker, SYMBOL, side, "LIMIT", Decimal("60.0"), price)
    return _clock() - t0


def _line(name: str, n: int, seconds: float) -> None:
    print(f"  {name:<26}{n / seconds:>12,.0f} ops/s   ({n:,} ops in {seconds:.3f} s CPU)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=60_000, help="operations per phase")
    parser.add_argument("--repeat", type=int, default=3, help="runs; the best one is shown")
    args = parser.parse_args()
    started = time.perf_counter()
    n = args.n
    print(
        f"bitrue_sim matching core: {n:,} ops per phase, best of {args.repeat} runs, "
        f"CPU time, Python {sys.version.split()[0]}"
    )
    runs = [bench_add_cancel_match(n, False) for _ in range(args.repeat)]
    best = [min(run[i] for run in runs) for i in range(3)]
    mixed = min(bench_mixed(n, False) for _ in range(args.repeat))
    print("[no listeners]")
    _line("add (non-crossing LIMIT)", n, best[0])
    _line("cancel", n, best[1])
    _line("match (crossing LIMIT)", n, best[2])
    _line("mixed 60/30/10", n, mixed)
    m = max(n // 4, 1)
    for title, quiet in (
        ("[one listener receiving every event]", False),
        ("[one listener; the maker's account events off, as for synthetic participants]", True),
    ):
        runs = [bench_add_cancel_match(m, True, quiet) for _ in range(args.repeat)]
        best = [min(run[i] for run in runs) for i in range(3)]
        mixed = min(bench_mixed(m, True, quiet) for _ in range(args.repeat))
        print(title)
        _line("add (non-crossing LIMIT)", m, best[0])
        _line("cancel", m, best[1])
        _line("match (crossing LIMIT)", m, best[2])
        _line("mixed 60/30/10", m, mixed)
    print(f"total wall time {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
