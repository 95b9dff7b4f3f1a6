"""Markouts: how much of the captured spread is still ours some seconds after each fill.

For a fill at price p and the mid m(t + h) h seconds later, the markout in basis points is
(m(t + h) - p) / p x 10 000 for a buy and (p - m(t + h)) / p x 10 000 for a sell: positive means
the market moved our way (or we captured spread), negative that the taker knew better (adverse
selection). At h = 0 it is the half-spread captured against the mid at the fill. Averages are
weighted by the fill's quote value, per side and over both, at `HORIZONS_S`.

The mid comes from the KPI samples (one per `kpi_interval_s`): m(t + h) is the first sample at
or after t + h, so the resolution is the sampling interval; a fill whose horizon falls after the
last sample is left out of that horizon (it is counted in `fills` of the horizons it reached).
Exact Decimal arithmetic throughout.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

HORIZONS_S: tuple[int, ...] = (0, 1, 5, 60)
BPS = Decimal(10_000)
ZERO = Decimal(0)
SIDES = ("BUY", "SELL", "ALL")


class _FillLike(Protocol):
    """What is read of a fill (`store.FillRecord` and `domain.events.Fill` alike)."""

    @property
    def side(self) -> object: ...
    @property
    def price(self) -> Decimal: ...
    @property
    def qty(self) -> Decimal: ...
    @property
    def ts_ms(self) -> int: ...


def _side_name(side: object) -> str:
    return str(getattr(side, "value", side)).upper()


@dataclass
class _Sum:
    weighted_bps: Decimal = ZERO  # sum of value x markout
    value: Decimal = ZERO
    fills: int = 0

    def add(self, value: Decimal, bps: Decimal) -> None:
        self.weighted_bps += value * bps
        self.value += value
        self.fills += 1

    @property
    def mean(self) -> Decimal | None:
        return None if self.value <= 0 else self.weighted_bps / self.value


@dataclass
class Markouts:
    """Volume-weighted markouts per side ("BUY", "SELL", "ALL") and horizon (seconds)."""

    horizons_s: tuple[int, ...] = HORIZONS_S
    sums: dict[tuple[str, int], _Sum] = field(default_factory=dict)

    def add(self, side: str, value: Decimal, horizon_s: int, bps: Decimal) -> None:
        sums = self.sums
        for key in ((side, horizon_s), ("ALL", horizon_s)):
            total = sums.get(key)
            if total is None:  # (not ``setdefault``: a new _Sum for every call)
                total = sums[key] = _Sum()
            total.add(value, bps)

    def bps(self, side: str, horizon_s: int) -> Decimal | None:
        s = self.sums.get((side, horizon_s))
        return None if s is None else s.mean

    def fills(self, side: str, horizon_s: int) -> int:
        s = self.sums.get((side, horizon_s))
        return 0 if s is None else s.fills

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"horizons_s": list(self.horizons_s)}
        for side in SIDES:
            out[side.lower()] = {
                str(h): {
                    "bps": None if (v := self.bps(side, h)) is None else str(round(v, 4)),
                    "fills": self.fills(side, h),
                }
                for h in self.horizons_s
            }
        return out

    def rows(self) -> list[tuple[str, int, Decimal | None, int]]:
        """(side, horizon_s, bps, fills) for tables and CSV."""
        return [(s, h, self.bps(s, h), self.fills(s, h)) for s in SIDES for h in self.horizons_s]


def markout_bps(side: str, price: Decimal, mid: Decimal) -> Decimal:
    """One fill's markout against `mid`, in basis points (positive: in our favour)."""
    move = mid - price if side == "BUY" else price - mid
    return move / price * BPS


def compute_markouts(
    fills: Iterable[_FillLike],
    mids: Sequence[tuple[int, Decimal]],
    horizons_s: tuple[int, ...] = HORIZONS_S,
) -> Markouts:
    """Markouts of `fills` against `mids` ((ts_ms, mid), sorted by time)."""
    times = [t for t, _ in mids]
    out = Markouts(horizons_s)
    for f in fills:
        side = _side_name(f.side)
        value = f.price * f.qty
        if value <= 0:
            continue
        for h in horizons_s:
            i = bisect.bisect_left(times, f.ts_ms + h * 1000)
            if i >= len(times):
                continue
            out.add(side, value, h, markout_bps(side, f.price, mids[i][1]))
    return out


class MarkoutTracker:
    """The same figures live: fills wait until the mid `h` seconds later has been seen.

    Bounded: a fill is dropped once its longest horizon has been measured; at most
    `max_pending` fills wait (the oldest are measured against the latest mid when more come)."""

    def __init__(self, horizons_s: tuple[int, ...] = HORIZONS_S, max_pending: int = 10_000):
        self.markouts = Markouts(horizons_s)
        self.horizons_s = horizons_s
        self.max_pending = max_pending
        self._pending: list[list[Any]] = []  # [ts_ms, side, price, value, next horizon index]
        self._next_due_ms: int | None = None  # the earliest horizon pending (None: none)

    def on_fill(self, side: object, price: Decimal, qty: Decimal, ts_ms: int) -> None:
        value = price * qty
        if value > 0 and self.horizons_s:
            self._pending.append([ts_ms, _side_name(side), price, value, 0])
            if len(self._pending) > self.max_pending:
                self._pending.pop(0)
            due = ts_ms + self.horizons_s[0] * 1000
            if self._next_due_ms is None or due < self._next_due_ms:
                self._next_due_ms = due

    def on_mid(self, ts_ms: int, mid: Decimal | None) -> None:
        # every book comes here: be quick (nothing is due before ``_next_due_ms``)
        due = self._next_due_ms
        if due is None or ts_ms < due or mid is None or mid <= 0:
            return
        keep: list[list[Any]] = []
        horizons = self.horizons_s
        next_due = None
        for p in self._pending:
            while p[4] < len(horizons) and ts_ms >= p[0] + horizons[p[4]] * 1000:
                self.markouts.add(p[1], p[3], horizons[p[4]], markout_bps(p[1], p[2], mid))
                p[4] += 1
            if p[4] < len(horizons):
                keep.append(p)
                at = p[0] + horizons[p[4]] * 1000
                if next_due is None or at < next_due:
                    next_due = at
        self._pending = keep
        self._next_due_ms = next_due


def position_range(fills: Iterable[_FillLike]) -> tuple[Decimal, Decimal, Decimal]:
    """(lowest, highest, final) net base position from the fills, starting at zero."""
    pos = low = high = ZERO
    for f in sorted(fills, key=lambda f: f.ts_ms):
        pos += f.qty if _side_name(f.side) == "BUY" else -f.qty
        low = pos if pos < low else low
        high = pos if pos > high else high
    return low, high, pos
