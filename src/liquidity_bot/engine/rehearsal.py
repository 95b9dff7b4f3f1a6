"""Rehearsals: keep the tick-to-order path in the CPU caches between books.

A book arrives every 100-200 ms, and the pass that answers it finds its code and data gone
from the CPU caches by then (the simulator, the store writer, the kernel and, on a shared
machine, other tenants run in between). Measured live on the production load, each stage of
the path then costs two to four times what it costs when run again right away: the
strategy 160 against 80 us, decoding the frame 22 against 6 us.

A rehearsal is a quoting pass on the current data that acts on nothing: it handles the
market's latest frame again into a scratch book, asks the strategy for quotes, plans them
against the live orders, and risk-evaluates, signs and encodes the first order it would send.
Nothing is sent, stored, counted or changed (``MarketRunner.rehearsal``).

Every ``interval_s`` one market is rehearsed, round robin, so the CPU spent does not grow
with the number of markets. Its steps run as separate event-loop callbacks: a frame that
arrives meanwhile waits for one step at most. A market is skipped while a pass runs, while
quoting is off, and when its data is stale. A failing rehearsal is logged once and counted;
it never affects trading.

The price is CPU: at the default 2 ms, about 18 % of one core in ``bench_engine`` (against
1 % without). Longer intervals cost less and help less: the caches go cold within a few ms.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Generator, Sequence
from typing import Protocol

log = logging.getLogger(__name__)

DEFAULT_INTERVAL_S = 0.002


class Rehearsable(Protocol):
    symbol: str

    def rehearsal(self) -> Generator[None, None, None]: ...


class Rehearsals:
    """Runs the markets' rehearsals on the event loop (see the module docstring)."""

    def __init__(
        self, markets: Callable[[], Sequence[Rehearsable]], interval_s: float = DEFAULT_INTERVAL_S
    ) -> None:
        if interval_s <= 0:
            raise ValueError("the rehearsal interval must be positive")
        self.markets = markets
        self.interval_s = interval_s
        self.runs = 0  # rehearsals completed
        self.failures = 0
        self._next = 0  # round-robin position
        self._loop: asyncio.AbstractEventLoop | None = None
        self._handle: asyncio.TimerHandle | asyncio.Handle | None = None
        self._steps: Generator[None, None, None] | None = None
        self._logged = False

    def start(self) -> None:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
            self._handle = self._loop.call_later(self.interval_s, self._begin)

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._handle = None
        self._loop = None
        if self._steps is not None:
            self._steps.close()
            self._steps = None

    def _begin(self) -> None:
        markets = self.markets()
        if markets:
            market = markets[self._next % len(markets)]
            self._next += 1
            self._steps = market.rehearsal()
            self._step()
        else:
            self._again()

    def _step(self) -> None:
        assert self._loop is not None and self._steps is not None
        try:
            next(self._steps)
        except StopIteration:
            self.runs += 1
            self._steps = None
            self._again()
            return
        except Exception:
            self.failures += 1
            self._steps = None
            if not self._logged:
                self._logged = True
                log.exception("a rehearsal failed (trading is not affected; further failures "
                              "are counted, not logged)")
            self._again()
            return
        self._handle = self._loop.call_soon(self._step)

    def _again(self) -> None:
        if self._loop is not None:
            self._handle = self._loop.call_later(self.interval_s, self._begin)
