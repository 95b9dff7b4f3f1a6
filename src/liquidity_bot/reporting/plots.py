"""Plots for the client report, written as inline SVG by hand.

Why not matplotlib: the report must be one self-contained file, and SVG text is the smallest,
sharpest way to put a chart inside HTML (it scales, prints and zooms cleanly). Line charts of
time series are a few hundred lines of code; matplotlib would add numpy and a 40 MB dependency
to a trading bot for that, and would turn our exact Decimals into floats. Here pixel
coordinates are computed in Decimal and rounded to 0.1 px; values are never floats.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import TYPE_CHECKING

from liquidity_bot.reporting.pnl import AverageCostBook, split_symbol

if TYPE_CHECKING:
    from liquidity_bot.reporting.report import SymbolReport

ZERO = Decimal(0)
PX = Decimal("0.1")
GREEN = "#1b9e4b"
RED = "#d0342c"
BLUE = "#2f6fdb"
GREY = "#9aa3b2"
DARK = "#2c3446"
AMBER = "#e08e0b"
MAX_POINTS = 600


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
    if len(points) <= 2 * n:
        return list(points)
    width = max(1, (t1 - t0) // n + 1)
    buckets: dict[int, list[tuple[int, Decimal | None]]] = {}
    for p in points:
        buckets.setdefault((p[0] - t0) // width, []).append(p)
    out: list[tuple[int, Decimal | None]] = []
    for key in sorted(buckets):
        group = buckets[key]
        values = [p for p in group if p[1] is not None]
        if len(values) < len(group):  # keep a hole visible
            out.append((group[0][0], None))
        if not values:
            continue
        lo = min(values, key=lambda p: p[1])  # type: ignore[arg-type, return-value]
        hi = max(values, key=lambda p: p[1])  # type: ignore[arg-type, return-value]
        out.extend(sorted({lo, hi}, key=lambda p: p[0]))
    return out


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
    for seg in segments:
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


def symbol_charts(r: SymbolReport) -> dict[str, str]:
    """The report's charts of one market, as SVG strings keyed by name."""
    t0, t1 = r.start_ms, r.end_ms
    s = r.samples

    def pts(attr: str) -> list[tuple[int, Decimal | None]]:
        return downsample([(x.ts_ms, getattr(x, attr)) for x in s], t0, t1)

    times = [x.ts_ms for x in s]
    if len(times) > MAX_POINTS:
        times = sample_times(times[0], times[-1])
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
    inv, pnl = _inventory_and_pnl(r, times)
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
    r: SymbolReport, times: Sequence[int]
) -> tuple[list[tuple[int, Decimal | None]], list[tuple[int, Decimal | None, Decimal | None]]]:
    """Base held, total PnL and value against holding at each time (fills replayed in order)."""
    try:
        base_asset, quote_asset = split_symbol(r.symbol)
    except ValueError:
        return [], []
    book = AverageCostBook(base_asset, quote_asset)
    # inventory.base = start + base_flow (base_flow differs from position by base-asset fees)
    start_base = (r.pnl.inventory.base if r.pnl.inventory else ZERO) - _base_flow(r)
    mids = [(x.ts_ms, x.mid) for x in r.samples if x.mid is not None]
    fills = r.fills
    inv: list[tuple[int, Decimal | None]] = []
    pnl: list[tuple[int, Decimal | None, Decimal | None]] = []
    i = j = 0
    mid: Decimal | None = None
    for t in times:
        while i < len(fills) and fills[i].ts_ms <= t:
            f = fills[i]
            book.apply(f.side, f.price, f.qty, f.fee, f.fee_asset)
            i += 1
        while j < len(mids) and mids[j][0] <= t:
            mid = mids[j][1]
            j += 1
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
