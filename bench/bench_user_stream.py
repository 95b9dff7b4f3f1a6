"""The user stream's order updates: fill-to-order over loopback, and CPU per order update.

- fill-to-order: an execution report of one of our orders with a trade in it (a fill) arrives on
  the user WebSocket (stamped on entry to the stream's frame handler, ``UserStream.handle_text``,
  before decoding; the simulator sends this stream as JSON text, nothing to gunzip) -> the
  first order request of the quoting pass that reacts to it is written to the socket (the
  replacement of the filled level, or a cancel the plan puts first). "The pass that reacts":
  the first quoting pass of that market planned after the order manager applied the fill
  (woken by the fill, or by a book that came first: both are shown). Also taken: the engine
  thread's CPU time over the same interval. A pass that sends nothing (the budget waits, the
  level is kept) gives no sample and is counted. Production load as ``bench_engine``'s: 1-tick
  tolerance, Bitrue's 100-per-minute order limit with the engine's headroom, the simulator's
  rate limits, the ``volatile`` scenario (seed 7), an SQLite store written by its thread. Each
  segment runs in a child process; ``--old-src DIR`` runs another tree's engine in alternating
  segments.
- CPU per order-update message: the user-stream frames of a real run (captured in the first
  segment of this tree) replayed warm, back to back, in one process: ``handle_text`` (decode,
  the venue's event mapping, the hand-off to the engine's queue) -> the engine's order pump
  (``Engine._pump_orders``: ``OrderManager.on_message``, the fill's accounting and store
  hand-off, the market runner's wake-up) -> state applied. A market runner waits on its wake-up
  event as live (its pass is not run: that is the place path's). Thread CPU time per message,
  by kind (ack, fill, cancel, balance), each tree in its own child processes, alternating;
  then cProfile's top over the same replay (this tree).

    .venv/bin/python bench/bench_user_stream.py [--seconds 240] [--segment-seconds 60]
        [--rounds 20] [--runs 3] [--old-src DIR] [--replay-only FRAMES.json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"


# ---------------------------------------------------------------------------- fill -> order


@dataclass
class Reaction:
    """A quoting pass planned after fills were applied: their stamps, until its first write."""

    stamps: list[tuple[int, int, bool]]  # (frame entry perf ns, thread CPU ns, order filled)
    by_book: bool  # the pass answered a new book (else woken by the fill or the timer)
    written: bool = False


@dataclass
class Sample:
    """Per fill with a reaction written (ms); counts; the engine process's CPU time."""

    wall_ms: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)
    by_book: list[bool] = field(default_factory=list)
    first_is_place: list[bool] = field(default_factory=list)
    full: list[bool] = field(default_factory=list)  # the fill completed the order
    fills: int = 0  # fills of ours seen on the stream
    reactions: int = 0  # passes planned after fills
    silent: int = 0  # of those, passes that wrote no request
    process_cpu_s: float = 0.0
    wall_s: float = 0.0

    def add(self, other: Sample) -> None:
        for name, value in asdict(other).items():
            mine = getattr(self, name)
            setattr(self, name, mine + value)


_reaction: contextvars.ContextVar[Reaction | None] = contextvars.ContextVar("reaction",
                                                                            default=None)


class FillToOrder:
    """Hooks on a running engine (see the module doc); ``remove`` returns the ``Sample``."""

    def __init__(self, engine: Any, keep_frames: int = 0) -> None:
        self.engine = engine
        self.sample = Sample()
        self.frames: list[str] = []
        self.keep_frames = keep_frames
        self._undo: list[Any] = []
        self._pending: dict[tuple[str, str], tuple[int, int, bool]] = {}  # (sym, trade id)
        self._applied: dict[str, list[tuple[int, int, bool]]] = {}  # symbol -> stamps
        self._reactions: list[Reaction] = []

    def install(self) -> FillToOrder:
        from liquidity_bot.engine.order_manager import OrderManager
        from liquidity_bot.venues import lean_http

        for session in self.engine.sessions:
            self._hook_stream(session.venue.user)
        sample, pending, applied, reactions = (self.sample, self._pending, self._applied,
                                               self._reactions)
        on_fill, start_pass = OrderManager.on_fill, OrderManager._start_pass
        send = lean_http._Connection.send

        def applied_fill(om, fill):  # noqa: ANN001, ANN202
            stamp = pending.pop((fill.symbol, fill.trade_id), None)
            on_fill(om, fill)
            if stamp is not None:
                applied.setdefault(om.symbol, []).append(stamp)

        def planned(om, quotes, trigger_ns):  # noqa: ANN001, ANN202
            stamps = applied.get(om.symbol)
            if not stamps:
                return start_pass(om, quotes, trigger_ns)
            reaction = Reaction(list(stamps), by_book=trigger_ns is not None)
            stamps.clear()
            reactions.append(reaction)
            token = _reaction.set(reaction)  # (the pass's request tasks copy this context)
            try:
                return start_pass(om, quotes, trigger_ns)
            finally:
                _reaction.reset(token)

        def written(conn, data, timeout_s):  # noqa: ANN001, ANN202
            # stamped as the request's bytes go to the socket (see ``tick_probe``)
            reaction = _reaction.get()
            if reaction is not None and not reaction.written:
                reaction.written = True
                now, cpu = time.perf_counter_ns(), time.thread_time_ns()
                for t0, cpu0, full in reaction.stamps:
                    sample.wall_ms.append((now - t0) / 1e6)
                    sample.cpu_ms.append((cpu - cpu0) / 1e6)
                    sample.by_book.append(reaction.by_book)
                    sample.first_is_place.append(bytes(data[:4]) == b"POST")
                    sample.full.append(full)
            return send(conn, data, timeout_s)

        OrderManager.on_fill = applied_fill  # type: ignore[method-assign]
        OrderManager._start_pass = planned  # type: ignore[method-assign]
        lean_http._Connection.send = written  # type: ignore[method-assign]
        self._undo.append(lambda: (setattr(OrderManager, "on_fill", on_fill),
                                   setattr(OrderManager, "_start_pass", start_pass),
                                   setattr(lean_http._Connection, "send", send)))
        return self

    def _hook_stream(self, user: Any) -> None:
        handle, on_order = user.handle_text, user.on_order
        entry = [0, 0]
        frames, keep, pending, sample = self.frames, self.keep_frames, self._pending, self.sample

        def stamped(data):  # noqa: ANN001, ANN202
            entry[0], entry[1] = time.perf_counter_ns(), time.thread_time_ns()
            if len(frames) < keep:
                frames.append(data if isinstance(data, str) else data.decode())
            return handle(data)

        def seen(u):  # noqa: ANN001, ANN202
            if str(u.x) in ("3", "TRADE") and u.t is not None and u.t >= 0 and u.l:
                sample.fills += 1
                pending[((u.s or "").upper(), str(u.t))] = (
                    entry[0], entry[1], str(u.X) in ("2", "FILLED"))
            return on_order(u)

        user.handle_text, user.on_order = stamped, seen
        self._undo.append(lambda: (setattr(user, "handle_text", handle),
                                   setattr(user, "on_order", on_order)))

    def remove(self) -> Sample:
        for undo in reversed(self._undo):
            undo()
        self._undo.clear()
        self.sample.reactions = len(self._reactions)
        self.sample.silent = sum(not r.written for r in self._reactions)
        return self.sample


async def fill_to_order(seconds: float, frames_out: str | None) -> Sample:
    from bench_engine import SimProcess, _engine, _key

    with SimProcess("volatile", 7, rate_limits=True) as sim, \
            tempfile.TemporaryDirectory() as tmp:
        key, secret = await _key(sim)
        engine = _engine(sim, key, secret, Path(tmp) / "bench.db", stress=False)
        probe = FillToOrder(engine, keep_frames=50_000 if frames_out else 0).install()
        try:
            cpu_start, wall_start = time.process_time(), time.perf_counter()
            await engine.run(seconds, handle_signals=False)
            cpu_s, wall_s = time.process_time() - cpu_start, time.perf_counter() - wall_start
        finally:
            got = probe.remove()
        if frames_out:
            Path(frames_out).write_text(json.dumps(probe.frames))
        got.process_cpu_s, got.wall_s = cpu_s, wall_s
        return got


def _segment(src: str, seconds: float, frames_out: str | None) -> Sample:
    env = dict(os.environ, PYTHONPATH=f"{src}{os.pathsep}{HERE}")
    cmd = [sys.executable, str(Path(__file__).resolve()), "--segment", str(seconds)]
    if frames_out:
        cmd += ["--frames-out", frames_out]
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
    return Sample(**json.loads(out.strip().splitlines()[-1]))


# ---------------------------------------------------------------------------- replay


def _kind(frame: str) -> str:
    head = json.loads(frame)
    if head.get("e") in ("ORDER", "executionReport"):
        return {"1": "ack", "2": "cancel", "3": "fill", "4": "expire"}.get(str(head.get("x")),
                                                                          "other")
    if head.get("e") in ("BALANCE", "outboundAccountPosition"):
        return "balance"
    return "other"


def _market() -> Any:  # noqa: ANN401 - the tree's own types
    """The production market as ``bench_book_path`` builds it (venue never connected), with
    the engine's store writer and pumps; its runner waits on its wake-up event, as live."""
    from bench_book_path import _runner

    from liquidity_bot.engine.persistence import StoreWriter
    from liquidity_bot.engine.runner import Engine
    from liquidity_bot.store import Store

    _stream, runner = _runner()
    tmp = tempfile.mkdtemp()
    store = Store(f"sqlite:///{tmp}/replay.db")
    store.create_schema()
    runner.om.writer = StoreWriter(store)
    venue = runner.om.venue
    session = SimpleNamespace(venue=venue, runners={runner.symbol: runner},
                              balances=runner.om.balances)
    return SimpleNamespace(venue=venue, runner=runner, session=session, engine=Engine)


def _track_all(om: Any, frames: list[str]) -> None:  # noqa: ANN401
    """Every order the frames name, tracked as just sent (the replay's acks find them)."""
    from liquidity_bot.domain.order import Order, OrderEvent
    from liquidity_bot.engine.order_manager import Tracked
    from liquidity_bot.venues.bitrue.models import side_of

    for frame in frames:
        msg = json.loads(frame)
        cid = msg.get("c")
        if msg.get("e") != "ORDER" or not cid or cid in om.orders:
            continue
        order = Order(client_order_id=cid, symbol=om.symbol, side=side_of(msg["S"]),
                      price=_dec(msg["p"]), qty=_dec(msg["q"]))
        order.apply(OrderEvent.SUBMIT)
        om._track(Tracked(order=order, created_ms=int(msg.get("O") or msg["E"])))


def _dec(text: str) -> Any:  # noqa: ANN401
    from decimal import Decimal

    return Decimal(text)


async def _replay(frames: list[str], rounds: int, profile: bool) -> dict:
    kinds = [_kind(f) for f in frames]
    clock = time.thread_time_ns
    per_kind: dict[str, list[float]] = {}
    totals = []
    fills_applied = 0
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
    for _ in range(rounds + 1):  # the first round warms up and is not kept
        m = _market()
        om, runner = m.runner.om, m.runner
        _track_all(om, frames)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        pumps = [loop.create_task(m.engine._pump_orders(None, m.session)),
                 loop.create_task(m.engine._pump_balances(None, m.session)),
                 loop.create_task(runner.run(stop))]
        await asyncio.sleep(0.01)  # the pumps subscribe, the runner waits
        handle = m.venue.user.handle_text
        got: list[tuple[str, float]] = []
        fills_before = om.stats.fills
        start = clock()
        for frame, kind in zip(frames, kinds, strict=True):
            if profiler is not None:
                profiler.enable()
            t0 = clock()
            handle(frame)
            await asyncio.sleep(0)  # one loop turn: the pumps apply what it handed on
            t1 = clock()
            if profiler is not None:
                profiler.disable()
            got.append((kind, (t1 - t0) / 1000))
            await asyncio.sleep(0)  # the woken runner's pass (not timed: not this path)
        total = clock() - start
        stop.set()
        runner.wake()
        for task in pumps:
            task.cancel()
        await asyncio.gather(*pumps, return_exceptions=True)
        om.writer.flush()
        if _ == 0:
            fills_applied = om.stats.fills - fills_before
            continue
        totals.append(total / 1000 / len(frames))
        for kind, us in got:
            per_kind.setdefault(kind, []).append(us)
    out: dict[str, Any] = {
        "messages": len(frames), "rounds": rounds, "fills_applied": fills_applied,
        "fills": kinds.count("fill"),
        "mean_us": statistics.median(totals),  # whole loop per message, incl. the runner's turn
        "per_kind": {k: [len(v) // rounds, statistics.median(v), statistics.mean(v)]
                     for k, v in per_kind.items()},
        "all_us": statistics.mean(us for v in per_kind.values() for us in v),
    }
    if profiler is not None:
        import io
        import pstats

        text = io.StringIO()
        stats = pstats.Stats(profiler, stream=text)
        stats.sort_stats("tottime").print_stats(18)
        out["profile"] = text.getvalue()
    return out


def _replay_child(src: str, frames_file: str, rounds: int, profile: bool = False) -> dict:
    env = dict(os.environ, PYTHONPATH=f"{src}{os.pathsep}{HERE}")
    cmd = [sys.executable, str(Path(__file__).resolve()), "--replay", frames_file,
           "--rounds", str(rounds)] + (["--profile"] if profile else [])
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


# ---------------------------------------------------------------------------- report


def _line(name: str, values: list[float]) -> str:
    from bench_engine import _pct

    if not values:
        return f"{name}: no samples"
    cuts = " ".join(f"p{p}={_pct(values, p):.3f} ms" for p in (50, 90, 99))
    return f"{name}: n={len(values)} {cuts} max={max(values):.3f} ms"


def _report(label: str, s: Sample) -> None:
    print(f"{label}:")
    print(f"  fills of ours on the stream: {s.fills}; passes planned after fills: "
          f"{s.reactions}, of which {s.silent} wrote no request")
    print("  " + _line("fill-to-order (fill frame received -> first request written)",
                       s.wall_ms))
    print("  " + _line("the same, engine thread CPU time in between", s.cpu_ms))
    for name, keep in (("passes woken by the fill (or the timer)", False),
                       ("passes answering a book that came first", True)):
        for what, values in (("", s.wall_ms), (", thread CPU", s.cpu_ms)):
            print("    " + _line(name + what, [v for v, b in zip(values, s.by_book, strict=True)
                                               if b is keep]))
    places = sum(s.first_is_place)
    print(f"  first request a place: {places}, a cancel: {len(s.wall_ms) - places}; "
          f"fills that completed their order: {sum(s.full)}")
    if s.wall_s:
        print(f"  engine process CPU: {s.process_cpu_s / s.wall_s * 100:.1f} % of one core "
              f"({s.process_cpu_s:.1f} s in {s.wall_s:.0f} s)")


def _replay_report(label: str, runs: list[dict]) -> dict[str, float]:
    first = runs[0]
    mean = statistics.median(r["all_us"] for r in runs)
    print(f"{label}: {first['messages']} messages x {first['rounds']} rounds x {len(runs)} "
          f"runs ({first['fills']} fills a round, {first['fills_applied']} applied as fills)")
    print(f"  CPU per message, frame -> applied: mean {mean:.1f} us "
          f"(whole replay incl. the runner's wake-up turn: "
          f"{statistics.median(r['mean_us'] for r in runs):.1f} us)")
    got = {"all": mean}
    for kind in sorted(first["per_kind"]):
        med = statistics.median(r["per_kind"][kind][1] for r in runs)
        avg = statistics.median(r["per_kind"][kind][2] for r in runs)
        got[kind] = med
        print(f"    {kind:8s} n={first['per_kind'][kind][0]:5d}/round  median {med:6.1f} us  "
              f"mean {avg:6.1f} us")
    return got


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=240.0, help="each tree, production")
    parser.add_argument("--segment-seconds", type=float, default=60.0)
    parser.add_argument("--old-src", default=None, help="another checkout's src directory")
    parser.add_argument("--rounds", type=int, default=20, help="replay rounds per run")
    parser.add_argument("--runs", type=int, default=3, help="replay runs per tree")
    parser.add_argument("--replay-only", default=None,
                        help="a frames file from an earlier run (the live part is skipped)")
    parser.add_argument("--segment", type=float, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--frames-out", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--replay", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--profile", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    from liquidity_bot.engine.runtime import event_loop_name, run

    if args.segment is not None:
        sample = run(fill_to_order(args.segment, args.frames_out), event_loop_name())
        print(json.dumps(asdict(sample)))
        return
    if args.replay is not None:
        frames = json.loads(Path(args.replay).read_text())
        print(json.dumps(run(_replay(frames, args.rounds, args.profile), event_loop_name())))
        return
    print(f"event loop: {event_loop_name()}; load: {os.getloadavg()[0]:.2f} (1 min)")
    trees = {"this tree": str(SRC)}
    if args.old_src:
        trees["old tree"] = str(Path(args.old_src).resolve())
    frames_file = args.replay_only
    if frames_file is None:
        frames_file = str(Path(tempfile.mkdtemp()) / "user-frames.json")
        pooled = {label: Sample() for label in trees}
        segments = max(1, round(args.seconds / args.segment_seconds))
        for k in range(segments):
            for label, src in trees.items():
                out = frames_file if k == 0 and label == "this tree" else None
                pooled[label].add(_segment(src, args.seconds / segments, out))
        for label, sample in pooled.items():
            _report(f"production load, {label}", sample)
        if args.old_src:
            new, old = pooled["this tree"], pooled["old tree"]
            if new.wall_ms and old.wall_ms:
                from bench_engine import _pct

                print(f"old / this tree: fill-to-order p50 "
                      f"{statistics.median(old.wall_ms) / statistics.median(new.wall_ms):.2f}x,"
                      f" p99 {_pct(old.wall_ms, 99) / _pct(new.wall_ms, 99):.2f}x; thread CPU "
                      f"p50 {statistics.median(old.cpu_ms) / statistics.median(new.cpu_ms):.2f}x")
        print(f"(user-stream frames of the first segment: {frames_file})")
    runs: dict[str, list[dict]] = {label: [] for label in trees}
    for k in range(args.runs):
        for label, src in (list(trees.items()) if k % 2 == 0 else list(trees.items())[::-1]):
            runs[label].append(_replay_child(src, frames_file, args.rounds))
    got = {label: _replay_report(f"replay, {label}", r) for label, r in runs.items()}
    if args.old_src:
        new, old = got["this tree"], got["old tree"]
        print("old / this tree, CPU per message: " + ", ".join(
            f"{k} {old[k] / new[k]:.2f}x" for k in new if k in old))
    prof = _replay_child(str(SRC), frames_file, max(1, args.rounds // 2), profile=True)
    print("cProfile of the replay (this tree), top by own time:")
    print("\n".join(line for line in prof["profile"].splitlines() if line.strip()))


if __name__ == "__main__":
    sys.path.insert(0, str(SRC))
    sys.path.insert(0, str(HERE))
    main()
