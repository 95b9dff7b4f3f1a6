"""Plots for the client report, written as inline SVG by hand.

Why not matplotlib: the report must be one self-contained file, and SVG text is the smallest,
sharpest way to put a chart inside HTML (it scales, prints and zooms cleanly). Line charts of
time series are a few hundred lines of code; matplotlib would add numpy and a 40 MB dependency
to a trading bot for that, and would turn our exact Decimals into floats. Here pixel
coordinates are computed in Decimal and rounded to 0.1 px; values are never floats.
"""

from __future__ import annotations

import html
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import TYPE_CHECKING

from liquidity_bot.reporting.kpi import Segment
from liquidity_bot.reporting.markouts import Markouts
from liquidity_bot.reporting.pnl import AverageCostBook, split_symbol

if TYPE_CHECKING:
    from liquidity_bot.reporting.report import SymbolReport
    from liquidity_bot.store import KpiSample

ZERO = Decimal(0)
PX = Decimal("0.1")
GREEN = "#1b9e4b"
RED = "#d0342c"
BLUE = "#2f6fdb"
GREY = "#9aa3b2"
DARK = "#2c3446"
AMBER = "#e08e0b"
MAX_POINTS = 600
# A downsampled series has at most MAX_POINTS buckets of (hole marker, minimum, maximum).
MAX_SERIES_POINTS = 3 * MAX_POINTS


@dataclass
class Series:
    name: str
    color: str
    points: list[tuple[int, Decimal | None]]
    step: bool = False
    dash: str | None = None
    width: str = "1.6"


@dataclass
class HLine:
    value: Decimal
    label: str
    color: str = RED


@dataclass
class Frame:
    """Maps (time ms, Decimal value) to pixels inside the plot area."""

    t0: int
    t1: int
    lo: Decimal
    hi: Decimal
    width: int = 520
    height: int = 210
    left: int = 64
    right: int = 12
    top: int = 22
    bottom: int = 26
    extra: list[str] = field(default_factory=list)

    def x(self, t: int) -> Decimal:
        span = max(1, self.t1 - self.t0)
        inner = Decimal(self.width - self.left - self.right)
        return (Decimal(self.left) + Decimal(t - self.t0) * inner / Decimal(span)).quantize(PX)

    def y(self, v: Decimal) -> Decimal:
        rng = self.hi - self.lo
        inner = Decimal(self.height - self.top - self.bottom)
        frac = (v - self.lo) / rng if rng else Decimal("0.5")
        return (Decimal(self.height - self.bottom) - frac * inner).quantize(PX)


def sample_times(t0: int, t1: int, n: int = MAX_POINTS) -> list[int]:
    if t1 <= t0:
        return [t0]
    step = max(1, (t1 - t0) // n)
    return list(range(t0, t1 + 1, step))


def downsample(
    points: Sequence[tuple[int, Decimal | None]], t0: int, t1: int, n: int = MAX_POINTS
) -> list[tuple[int, Decimal | None]]:
    """At most ~2n points: per time bucket the minimum and maximum (spikes stay visible)."""
    sampler = Downsampler(t0, t1, len(points), n)
    for ts, value in points:
        sampler.add(ts, value)
    return sampler.points()


class Downsampler:
    """``downsample`` fed one point at a time: memory is at most ``n`` buckets, not the points.

    Up to ``2n`` points are drawn as they are; beyond that each of ``n`` time buckets keeps its
    minimum and maximum (and a hole when a value is missing), so a spike is never averaged
    away. Which of the two applies depends on how many points there will be: the caller says
    it up front (``total``: the report gets it from one SQL count).
    """

    def __init__(self, t0: int, t1: int, total: int, n: int = MAX_POINTS) -> None:
        self._n = n
        self._t0 = t0
        self._width = max(1, (t1 - t0) // n + 1)
        self._raw: list[tuple[int, Decimal | None]] | None = [] if total <= 2 * n else None
        self._buckets: dict[int, _Bucket] = {}

    def add(self, ts: int, value: Decimal | None) -> None:
        if self._raw is not None:
            self._raw.append((ts, value))
            if len(self._raw) <= 2 * self._n:
                return
            raw, self._raw = self._raw, None  # more points than announced: bucket them all
            for p in raw:
                self._bucket(*p)
            return
        self._bucket(ts, value)

    def _bucket(self, ts: int, value: Decimal | None) -> None:
        key = (ts - self._t0) // self._width
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(ts)
        bucket.add(ts, value)

    def points(self) -> list[tuple[int, Decimal | None]]:
        if self._raw is not None:
            return list(self._raw)
        out: list[tuple[int, Decimal | None]] = []
        for key in sorted(self._buckets):
            out.extend(self._buckets[key].points())
        return out


class _Bucket:
    """One time bucket of a ``Downsampler``: its first time, a hole flag, its lowest and highest
    point (the first of equals, as ``min``/``max`` pick them)."""

    __slots__ = ("first_ts", "hole", "hi", "lo")

    def __init__(self, first_ts: int) -> None:
        self.first_ts = first_ts
        self.hole = False
        self.lo: tuple[int, Decimal] | None = None
        self.hi: tuple[int, Decimal] | None = None

    def add(self, ts: int, value: Decimal | None) -> None:
        if value is None:
            self.hole = True
            return
        if self.lo is None or value < self.lo[1]:
            self.lo = (ts, value)
        if self.hi is None or value > self.hi[1]:
            self.hi = (ts, value)

    def points(self) -> list[tuple[int, Decimal | None]]:
        out: list[tuple[int, Decimal | None]] = [(self.first_ts, None)] if self.hole else []
        if self.lo is None or self.hi is None:
            return out
        return out + sorted({self.lo, self.hi}, key=lambda p: p[0])


class ValuesAt:
    """The last non-None value at or before each of a set of times, fed points in time order.

    ``times`` None: the times are the points' own (for a short series drawn point by point).
    """

    def __init__(self, times: Sequence[int] | None = None) -> None:
        self._collect = times is None
        self._pending: deque[int] = deque(times or ())
        self._done: list[tuple[int, Decimal | None]] = []
        self._value: Decimal | None = None

    def add(self, ts: int, value: Decimal | None) -> None:
        while self._pending and self._pending[0] < ts:
            self._done.append((self._pending.popleft(), self._value))
        if value is not None:
            self._value = value
        if self._collect:
            self._pending.append(ts)

    def points(self) -> list[tuple[int, Decimal | None]]:
        return self._done + [(t, self._value) for t in self._pending]


# The sample columns the charts draw (downsampled), and the plot data of one market.
PLOTTED = (
    "best_bid",
    "best_ask",
    "our_spread_pct",
    "spread_pct",
    "bid_depth_quote",
    "ask_depth_quote",
)


@dataclass
class PlotData:
    """What the charts need from one market's samples: a bounded number of points per series."""

    series: dict[str, list[tuple[int, Decimal | None]]]  # PLOTTED column -> downsampled points
    mids: list[tuple[int, Decimal | None]]  # mid in effect at each time of the quote/PnL charts


class PlotCollector:
    """Builds ``PlotData`` from a stream of samples; ``count``/``first_ts``/``last_ts`` of the
    stream are known up front (one SQL aggregate)."""

    def __init__(
        self, t0: int, t1: int, count: int, first_ts: int | None, last_ts: int | None
    ) -> None:
        self._series = {name: Downsampler(t0, t1, count) for name in PLOTTED}
        times = None
        if count > MAX_POINTS and first_ts is not None and last_ts is not None:
            times = sample_times(first_ts, last_ts)
        self._mids = ValuesAt(times)

    def add(self, sample: KpiSample) -> None:
        ts = sample.ts_ms
        for name, sampler in self._series.items():
            sampler.add(ts, getattr(sample, name))
        self._mids.add(ts, sample.mid)

    def finish(self) -> PlotData:
        return PlotData({k: v.points() for k, v in self._series.items()}, self._mids.points())


def nice_step(span: Decimal, ticks: int = 4) -> Decimal:
    if span <= 0:
        return Decimal(1)
    raw = span / ticks
    exp = raw.adjusted()
    base = Decimal(1).scaleb(exp)
    for m in (1, 2, Decimal("2.5"), 5, 10):
        if base * m >= raw:
            return base * m
    return base * 10


def value_range(
    values: Sequence[Decimal], include: Sequence[Decimal] = ()
) -> tuple[Decimal, Decimal, Decimal]:
    """(lo, hi, step) rounded to nice numbers, covering ``values`` and ``include``."""
    vals = [*values, *include]
    if not vals:
        return ZERO, Decimal(1), Decimal("0.25")
    lo, hi = min(vals), max(vals)
    if lo == hi:
        pad = abs(lo) / 100 if lo else Decimal(1)
        lo, hi = lo - pad, hi + pad
    step = nice_step(hi - lo)
    lo = (lo / step).to_integral_value(ROUND_FLOOR) * step
    hi = (hi / step).to_integral_value(ROUND_CEILING) * step
    return lo, hi, step


def fmt_axis(v: Decimal, step: Decimal) -> str:
    places = max(0, -step.normalize().as_tuple().exponent)  # type: ignore[operator]
    q = v.quantize(Decimal(1).scaleb(-places)) if places else v.quantize(Decimal(1))
    text = f"{q:,}"
    return text


def fmt_tick_time(ts_ms: int, span_ms: int) -> str:
    dt = datetime.fromtimestamp(ts_ms / 1000, UTC)
    if span_ms > 2 * 86_400_000:
        return dt.strftime("%m-%d")
    if span_ms > 600_000:
        return dt.strftime("%H:%M")
    return dt.strftime("%H:%M:%S")


def _axes(f: Frame, step: Decimal) -> list[str]:
    parts = []
    v = f.lo
    while v <= f.hi:
        y = f.y(v)
        parts.append(
            f'<line x1="{f.left}" x2="{f.width - f.right}" y1="{y}" y2="{y}" '
            'stroke="#e6e8ee" stroke-width="1"/>'
        )
        parts.append(
            f'<text x="{f.left - 6}" y="{y + Decimal(4)}" text-anchor="end" '
            f'font-size="10" fill="#5b6478">{fmt_axis(v, step)}</text>'
        )
        v += step
    parts += _time_ticks(f)
    return parts


def _time_ticks(f: Frame, n: int = 5) -> list[str]:
    parts = []
    span = f.t1 - f.t0
    for i in range(n + 1):
        t = f.t0 + span * i // n
        x = f.x(t)
        anchor = "start" if i == 0 else ("end" if i == n else "middle")
        parts.append(
            f'<text x="{x}" y="{f.height - 8}" text-anchor="{anchor}" font-size="10" '
            f'fill="#5b6478">{fmt_tick_time(t, span)}</text>'
        )
    return parts


def _path(f: Frame, s: Series) -> str:
    cmds: list[str] = []
    pen_down = False
    last_y: Decimal | None = None
    for t, v in s.points:
        if v is None:
            pen_down = False
            continue
        x, y = f.x(t), f.y(v)
        if not pen_down:
            cmds.append(f"M{x} {y}")
            pen_down = True
        elif s.step and last_y is not None:
            cmds.append(f"L{x} {last_y}L{x} {y}")
        else:
            cmds.append(f"L{x} {y}")
        last_y = y
    if not cmds:
        return ""
    dash = f' stroke-dasharray="{s.dash}"' if s.dash else ""
    return (
        f'<path d="{"".join(cmds)}" fill="none" stroke="{s.color}" '
        f'stroke-width="{s.width}" stroke-linejoin="round"{dash}/>'
    )


def _legend(f: Frame, items: Sequence[tuple[str, str]]) -> list[str]:
    parts, x = [], f.left
    for name, color in items:
        parts.append(f'<rect x="{x}" y="6" width="10" height="10" rx="2" fill="{color}"/>')
        parts.append(
            f'<text x="{x + 14}" y="15" font-size="11" fill="#2c3446">{html.escape(name)}</text>'
        )
        x += 22 + 6 * len(name)
    return parts


def line_chart(
    series: Sequence[Series],
    t0: int,
    t1: int,
    hlines: Sequence[HLine] = (),
    width: int = 520,
    height: int = 210,
    empty: str = "no data",
) -> str:
    values = [v for s in series for _, v in s.points if v is not None]
    lo, hi, step = value_range(values, [h.value for h in hlines])
    f = Frame(t0, max(t1, t0 + 1), lo, hi, width, height)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        'role="img" font-family="Helvetica,Arial,sans-serif">'
    ]
    parts += _axes(f, step)
    for h in hlines:
        y = f.y(h.value)
        parts.append(
            f'<line x1="{f.left}" x2="{width - f.right}" y1="{y}" y2="{y}" '
            f'stroke="{h.color}" stroke-width="1.4" stroke-dasharray="6 4"/>'
        )
        parts.append(
            f'<text x="{width - f.right - 2}" y="{y - Decimal(4)}" text-anchor="end" '
            f'font-size="10" fill="{h.color}">{html.escape(h.label)}</text>'
        )
    for s in series:
        parts.append(_path(f, s))
    if not values:
        parts.append(
            f'<text x="{width // 2}" y="{height // 2}" text-anchor="middle" '
            f'font-size="12" fill="#999">{html.escape(empty)}</text>'
        )
    parts += _legend(f, [(s.name, s.color) for s in series])
    parts.append("</svg>")
    return "".join(p for p in parts if p)


def uptime_strip(
    segments: Sequence[object], t0: int, t1: int, width: int = 1040, height: int = 64
) -> str:
    """Green while met, red during a breach, grey during a sampling gap (also not met)."""
    f = Frame(
        t0, max(t1, t0 + 1), ZERO, Decimal(1), width, height, left=8, right=8, top=16, bottom=22
    )
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        'role="img" font-family="Helvetica,Arial,sans-serif">',
        f'<rect x="{f.left}" y="{f.top}" width="{width - f.left - f.right}" '
        f'height="{height - f.top - f.bottom}" fill="#eef0f4"/>',
    ]
    for seg in _strip_segments(segments, t0, t1, width - f.left - f.right):
        start, end = seg.start_ms, seg.end_ms  # type: ignore[attr-defined]
        met, rules = seg.met, seg.rules  # type: ignore[attr-defined]
        color = GREEN if met else (GREY if rules == ("sampling_gap",) else RED)
        x0, x1 = f.x(max(start, t0)), f.x(min(end, t1))
        w = max(x1 - x0, Decimal("0.6"))
        title = "met" if met else ", ".join(rules)
        parts.append(
            f'<rect x="{x0}" y="{f.top}" width="{w}" height="{height - f.top - f.bottom}" '
            f'fill="{color}"><title>{html.escape(title)}</title></rect>'
        )
    parts += _legend(f, [("met", GREEN), ("breach", RED), ("sampling gap", GREY)])
    parts += _time_ticks(f, 8)
    parts.append("</svg>")
    return "".join(parts)


def _strip_segments(segments: Sequence[object], t0: int, t1: int, pixels: int) -> list[object]:
    """The segments to draw: as they are, or (more segments than pixels) one per pixel run.

    A market that flaps for a month has more segments than the strip has pixels; each pixel
    column then shows the worst state it contains (breach, else gap, else met), so a short
    breach stays visible, and equal neighbours are joined.
    """
    if len(segments) <= pixels or t1 <= t0:
        return list(segments)
    span = t1 - t0
    worst: dict[int, tuple[int, tuple[str, ...]]] = {}  # column -> (rank, rules)
    for seg in segments:
        start, end = max(seg.start_ms, t0), min(seg.end_ms, t1)  # type: ignore[attr-defined]
        if end < start:
            continue
        met, rules = seg.met, tuple(seg.rules)  # type: ignore[attr-defined]
        rank = 0 if met else (1 if rules == ("sampling_gap",) else 2)
        first = min(pixels - 1, (start - t0) * pixels // span)
        last = min(pixels - 1, max(first, (end - t0 - 1) * pixels // span))
        for col in range(first, last + 1):
            have = worst.get(col)
            if have is None or rank > have[0]:
                worst[col] = (rank, () if met else rules)
            elif rank == have[0] and rank == 2:
                worst[col] = (rank, have[1] + tuple(r for r in rules if r not in have[1]))
    out: list[Segment] = []
    for col in sorted(worst):
        rank, rules = worst[col]
        start, end = t0 + col * span // pixels, t0 + (col + 1) * span // pixels
        if (
            out
            and out[-1].end_ms == start
            and out[-1].met == (rank == 0)
            and out[-1].rules == rules
        ):
            out[-1] = Segment(out[-1].start_ms, end, rank == 0, rules)
        else:
            out.append(Segment(start, end, rank == 0, rules))
    return list(out)


def symbol_charts(r: SymbolReport) -> dict[str, str]:
    """The report's charts of one market, as SVG strings keyed by name."""
    t0, t1 = r.start_ms, r.end_ms

    def pts(attr: str) -> list[tuple[int, Decimal | None]]:
        return r.plot.series[attr]

    times = [t for t, _ in r.plot.mids]
    ours = [(t, *_our_best(r, t)) for t in times]
    price = line_chart(
        [
            Series("best bid", GREY, pts("best_bid"), width="1"),
            Series("best ask", GREY, pts("best_ask"), width="1", dash="3 2"),
            Series("our bid", GREEN, [(t, b) for t, b, _ in ours], step=True),
            Series("our ask", RED, [(t, a) for t, _, a in ours], step=True),
        ],
        t0,
        t1,
    )
    o = r.obligations
    spread = line_chart(
        [
            Series("our spread %", BLUE, pts("our_spread_pct")),
            Series("market spread %", GREY, pts("spread_pct"), width="1"),
        ],
        t0,
        t1,
        [HLine(o.max_spread_pct, f"max {o.max_spread_pct} %")] if o is not None else [],
    )
    depth = line_chart(
        [
            Series("bid depth", GREEN, pts("bid_depth_quote")),
            Series("ask depth", RED, pts("ask_depth_quote")),
        ],
        t0,
        t1,
        [HLine(o.min_depth_2pct_quote, f"min {o.min_depth_2pct_quote}")] if o is not None else [],
    )
    inv, pnl = _inventory_and_pnl(r)
    base = r.pnl.base_asset
    inventory = line_chart(
        [
            Series(
                f"{base} held" if r.pnl.start_known else f"{base} net traded (no start balance)",
                AMBER,
                inv,
                step=True,
            )
        ],
        t0,
        t1,
        empty="no inventory data",
    )
    pnl_chart = line_chart(
        [
            Series(f"total PnL ({r.pnl.quote_asset})", BLUE, [(t, p) for t, p, _ in pnl]),
            Series("against holding", DARK, [(t, h) for t, _, h in pnl], dash="4 3"),
        ],
        t0,
        t1,
        [HLine(ZERO, "0", GREY)],
        width=1040,
        height=200,
    )
    return {
        "price": price,
        "spread": spread,
        "depth": depth,
        "inventory": inventory,
        "pnl": pnl_chart,
        "uptime": uptime_strip(r.uptime.segments, t0, t1),
    }


def _our_best(r: SymbolReport, t: int) -> tuple[Decimal | None, Decimal | None]:
    from liquidity_bot.reporting.report import our_best_at

    return our_best_at(r.quotes, t)


def _inventory_and_pnl(
    r: SymbolReport,
) -> tuple[list[tuple[int, Decimal | None]], list[tuple[int, Decimal | None, Decimal | None]]]:
    """Base held, total PnL and value against holding at each plot time (fills replayed)."""
    try:
        base_asset, quote_asset = split_symbol(r.symbol)
    except ValueError:
        return [], []
    book = AverageCostBook(base_asset, quote_asset)
    # inventory.base = start + base_flow (base_flow differs from position by base-asset fees)
    start_base = (r.pnl.inventory.base if r.pnl.inventory else ZERO) - _base_flow(r)
    fills = r.fills
    inv: list[tuple[int, Decimal | None]] = []
    pnl: list[tuple[int, Decimal | None, Decimal | None]] = []
    i = 0
    for t, mid in r.plot.mids:
        while i < len(fills) and fills[i].ts_ms <= t:
            f = fills[i]
            book.apply(f.side, f.price, f.qty, f.fee, f.fee_asset)
            i += 1
        inv.append((t, start_base + book.base_flow))
        if mid is None:
            pnl.append((t, None, None))
            continue
        unrealized = book.unrealized(mid) or ZERO
        pnl.append(
            (
                t,
                book.realized + unrealized - book.fees_quote,
                book.quote_flow + book.base_flow * mid,
            )
        )
    return inv, pnl


def _base_flow(r: SymbolReport) -> Decimal:
    try:
        base_asset, quote_asset = split_symbol(r.symbol)
    except ValueError:
        return ZERO
    book = AverageCostBook(base_asset, quote_asset)
    for f in r.fills:
        book.apply(f.side, f.price, f.qty, f.fee, f.fee_asset)
    return book.base_flow


def markout_chart(markouts: Markouts, width: int = 520, height: int = 210) -> str:
    """Volume-weighted markout (bps) against the horizon, one line per side and one for both;
    horizons are evenly spaced (0, 1, 5, 60 s are categories, not a time axis)."""
    horizons = markouts.horizons_s
    lines = [("buys", "BUY", GREEN), ("sells", "SELL", RED), ("all", "ALL", BLUE)]
    values = [v for _, side, _ in lines for h in horizons
              if (v := markouts.bps(side, h)) is not None]
    lo, hi, step = value_range(values, [ZERO])
    left, right, top, bottom = 48, 12, 12, 40
    span_x = (width - left - right) / max(1, len(horizons) - 1)

    def x(i: int) -> str:
        return f"{left + i * span_x:.1f}"

    def y(v: Decimal) -> str:
        frac = (v - lo) / (hi - lo) if hi > lo else Decimal("0.5")
        return f"{top + (1 - float(frac)) * (height - top - bottom):.1f}"

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        'role="img" font-family="Helvetica,Arial,sans-serif">',
        f'<line x1="{left}" x2="{width - right}" y1="{y(ZERO)}" y2="{y(ZERO)}" '
        f'stroke="{GREY}" stroke-width="1"/>',
        f'<text x="{left - 4}" y="{y(hi)}" text-anchor="end" font-size="10">'
        f"{fmt_axis(hi, step)}</text>",
        f'<text x="{left - 4}" y="{y(lo)}" text-anchor="end" font-size="10">'
        f"{fmt_axis(lo, step)}</text>",
        f'<text x="{left - 4}" y="{y(ZERO)}" text-anchor="end" font-size="10">0 bps</text>',
    ]
    for i, h in enumerate(horizons):
        parts.append(f'<text x="{x(i)}" y="{height - bottom + 14}" text-anchor="middle" '
                     f'font-size="10">{h} s</text>')
    for n, (name, side, color) in enumerate(lines):
        pts = [(i, v) for i, h in enumerate(horizons) if (v := markouts.bps(side, h)) is not None]
        if pts:
            path = " ".join(f"{'M' if k == 0 else 'L'}{x(i)},{y(v)}" for k, (i, v) in enumerate(pts))
            parts.append(f'<path d="{path}" fill="none" stroke="{color}" stroke-width="2"/>')
        parts.append(f'<text x="{left + 90 * n}" y="{height - 8}" font-size="11" '
                     f'fill="{color}">{name}</text>')
    if not values:
        parts.append(f'<text x="{width // 2}" y="{height // 2}" text-anchor="middle" '
                     'font-size="12" fill="#999">no fills</text>')
    parts.append("</svg>")
    return "".join(parts)
