"""Tick-to-order probes on a running engine, for any number of markets and keys.

A depth frame arrives on a venue's market WebSocket (stamped by the stream on entry to its frame
handler, before decompression and parsing) -> the first order request of the quoting pass that
answers that book is written to the socket. Only passes woken by a new book count (the order
manager records which book a pass answered: ``stats.latency_trigger_ns``). Also taken, per order:
the engine thread's CPU time over the same interval, and the time from the exchange's push
(the frame's ``ts``, the simulator's wall clock in whole milliseconds) to the request: it
includes what waited in the socket and in aiohttp's buffer behind other frames, which the
handler's stamp cannot see (millisecond resolution: up to 1 ms too long).

Hooks are installed on the venues (``handle_frame`` of each market stream, ``place``) and on
``lean_http._Connection.send``, and removed by ``remove``.
"""

from __future__ import annotations

import contextvars
import time
from dataclasses import dataclass, field
from typing import Any

from liquidity_bot.venues import lean_http


@dataclass
class Probe:
    """Per order (ms): tick -> written, the engine thread's CPU in between, push -> written;
    with the market of each; tick -> handed to the venue from the order managers."""

    symbols: list[str] = field(default_factory=list)
    written_ms: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)
    push_ms: list[float] = field(default_factory=list)
    handed_ms: list[float] = field(default_factory=list)
    rtt_ms: list[float] = field(default_factory=list)


# Set in the task that sends an order: (frame receipt perf ns, thread CPU ns then, the book's
# exchange ts in ms, symbol).
_trigger: contextvars.ContextVar[tuple[int, int, int | None, str] | None] = \
    contextvars.ContextVar("trigger", default=None)


class TickToOrder:
    """Install on an ``Engine`` before ``run``; read ``probe`` after it (see the module doc)."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.probe = Probe()
        self._undo: list[Any] = []
        self._runners: dict[str, Any] = {}
        self._seen: dict[str, int] = {}

    def install(self) -> TickToOrder:
        for session in self.engine.sessions:
            self._hook_venue(session.venue)
        send = lean_http._Connection.send
        probe = self.probe

        def timed_send(conn, data, timeout_s):  # noqa: ANN001, ANN202
            # Stamped as the request's bytes go to the socket, not when the write call
            # returns: on loopback the kernel may run the simulator (woken by those bytes)
            # before it lets the write call return, and that is not the engine's time.
            trigger = _trigger.get()
            if trigger is not None:
                probe.written_ms.append((time.perf_counter_ns() - trigger[0]) / 1e6)
                probe.cpu_ms.append((time.thread_time_ns() - trigger[1]) / 1e6)
                probe.push_ms.append(float("nan") if trigger[2] is None
                                     else time.time() * 1000 - trigger[2])
                probe.symbols.append(trigger[3])
                _trigger.set(None)
            return send(conn, data, timeout_s)

        lean_http._Connection.send = timed_send  # type: ignore[method-assign]
        self._undo.append(lambda: setattr(lean_http._Connection, "send", send))
        return self

    def _hook_venue(self, venue: Any) -> None:
        market = venue.market
        handle = market.handle_frame
        frame_cpu: dict[int, int] = {}  # frame receipt (perf ns) -> thread CPU time then
        entry_cpu = [0]  # of the frame being handled (its pass may run inside the handler)

        def stamped(data):  # noqa: ANN001, ANN202
            entry_cpu[0] = cpu = time.thread_time_ns()
            reply = handle(data)
            frame_cpu[market.frame_ns] = cpu
            if len(frame_cpu) > 100_000:
                frame_cpu.clear()
            return reply

        place = venue.place
        probe, runners, seen = self.probe, self._runners, self._seen

        async def timed_place(symbol, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
            start = time.perf_counter_ns()
            runner = runners.get(symbol)
            if runner is None:
                runner = runners[symbol] = self.engine.runner(symbol)
            stats = runner.om.stats
            if stats.latencies_ns.total != seen.get(symbol, 0):  # a pass's first order
                seen[symbol] = stats.latencies_ns.total
                trigger = stats.latency_trigger_ns
                cpu = frame_cpu.get(trigger)  # type: ignore[arg-type]
                if cpu is None and trigger == market.frame_ns:  # the frame being handled
                    cpu = entry_cpu[0]
                if cpu is not None:  # (not a book from a REST answer: no CPU stamp)
                    _trigger.set((trigger, cpu, runner.book.ts_ms, symbol))
            try:
                return await place(symbol, *args, **kwargs)
            finally:
                probe.rtt_ms.append((time.perf_counter_ns() - start) / 1e6)

        market.handle_frame = stamped
        venue.place = timed_place
        self._undo.append(lambda: (setattr(market, "handle_frame", handle),
                                   setattr(venue, "place", place)))

    def remove(self) -> Probe:
        """Undo the hooks; the probe, with every order manager's tick -> handed samples."""
        for undo in reversed(self._undo):
            undo()
        self._undo.clear()
        self.probe.handed_ms = [ns / 1e6 for r in self.engine.runners
                                for ns in r.om.stats.latencies_ns]
        return self.probe
