"""The client report: obligations, PnL and activity of a period, read back from the store.

``build_report`` gathers the figures (one ``SymbolReport`` per market) and the renderers turn them
into JSON (figures only, Decimals as strings), CSV (the raw samples) or ONE self-contained HTML
file a market maker can send to a token project: no external asset, plots as inline SVG
(``plots.py``), so it opens offline and survives being attached to an e-mail.

Samples are never loaded as a list: a month at one-second sampling is millions of rows. The
figures come from one streaming pass (``figures.SampleFold`` over ``Store.iter_kpi_samples``)
plus two SQL aggregates (count and time span; the spacing histogram when the interval must be
inferred); the CSV reads the samples again, streaming, when it is written (``write``).

Uptime in the report follows the same rules as the live sampler (``kpi.compute_uptime``):
time-weighted, and sampling gaps longer than two intervals count as not met.
"""

from __future__ import annotations

import csv
import html
import io
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TextIO

from liquidity_bot.domain.market_id import DEFAULT_EXCHANGE, market_name
from liquidity_bot.reporting import plots
from liquidity_bot.reporting.estimates import PeriodEstimates
from liquidity_bot.reporting.figures import SampleFold
from liquidity_bot.reporting.kpi import (
    AUDIT_CATEGORY,
    RISK_AUDIT_CATEGORY,
    Breach,
    Obligations,
    Rule,
    Uptime,
    breach_from_audit,
    breaches_from_segments,
    rules_of_sample,
)
from liquidity_bot.reporting.markouts import Markouts, MarkoutTracker, position_range
from liquidity_bot.reporting.order_flow import MinuteFlow, order_flow
from liquidity_bot.reporting.pnl import (
    Activity,
    Inventory,
    PnlSummary,
    activity,
    pnl_from_fills,
    split_symbol,
)
from liquidity_bot.store import FillRecord, KpiSample, OrderRecord, Store

ZERO = Decimal(0)
HUNDRED = Decimal(100)
FORMATS = ("html", "json", "csv")


@dataclass(frozen=True, slots=True)
class QuoteInterval:
    """When one of our orders rested at one price (from the orders table)."""

    side: str
    price: Decimal
    start_ms: int
    end_ms: int


@dataclass
class SymbolReport:
    """Everything the report says about one market over the period."""

    symbol: str
    start_ms: int
    end_ms: int
    interval_ms: int
    obligations: Obligations | None
    sample_count: int
    uptime: Uptime
    breaches: list[Breach]
    avg_spread_pct: Decimal | None  # our quoted spread
    avg_market_spread_pct: Decimal | None
    max_spread_seen_pct: Decimal | None
    avg_depth_2pct_bid: Decimal | None
    avg_depth_2pct_ask: Decimal | None
    min_depth_2pct_bid: Decimal | None
    min_depth_2pct_ask: Decimal | None
    two_sided_pct: Decimal | None
    pnl: PnlSummary
    activity: Activity
    fills: list[FillRecord]
    plot: plots.PlotData
    quotes: list[QuoteInterval] = field(default_factory=list)
    # what the risk limits did (the loss limit's fallback to minimum quoting, or its stop)
    risk_events: list[dict[str, Any]] = field(default_factory=list)
    markouts: Markouts = field(default_factory=Markouts)
    """Volume-weighted markouts of our fills per side at 0, 1, 5 and 60 s (`markouts`)."""
    estimates: dict[str, Any] = field(default_factory=dict)
    """The period's volatility and per-side arrival fit from our fills (`reporting.estimates`)."""
    position_range: tuple[Decimal, Decimal, Decimal] = (ZERO, ZERO, ZERO)
    """(lowest, highest, final) net base position from the period's fills."""
    market_depth_2pct: tuple[Decimal | None, Decimal | None] = (None, None)
    """The whole book's average bid and ask depth within +-2 % (everyone, us included)."""
    # orders placed / cancelled / filled per minute (minutes with activity only)
    order_flow: list[MinuteFlow] = field(default_factory=list)
    # the period's samples again, streamed from the store (for the CSV); never held
    rows: Callable[[], Iterable[KpiSample]] = field(default=lambda: (), repr=False, compare=False)
    exchange: str = DEFAULT_EXCHANGE

    @property
    def name(self) -> str:
        """The market's name in the report (``exchange:SYMBOL`` off Bitrue)."""
        return market_name(self.exchange, self.symbol)

    def to_json(self) -> dict[str, Any]:
        obl = self.obligations
        return {
            "symbol": self.symbol,
            "exchange": self.exchange,
            "from_ms": self.start_ms,
            "to_ms": self.end_ms,
            "samples": self.sample_count,
            "interval_s": str(Decimal(self.interval_ms) / 1000),
            "obligations": None
            if obl is None
            else {
                "max_spread_pct": str(obl.max_spread_pct),
                "min_depth_2pct_quote": str(obl.min_depth_2pct_quote),
                "min_rest_s": None if obl.min_rest_s is None else str(obl.min_rest_s),
            },
            "uptime_pct": _s(self.uptime.pct),
            "uptime_met_s": str(Decimal(self.uptime.met_ms) / 1000),
            "uptime_total_s": str(Decimal(self.uptime.total_ms) / 1000),
            "sampling_gap_s": str(Decimal(self.uptime.gap_ms) / 1000),
            "two_sided_pct": _s(self.two_sided_pct),
            "avg_spread_pct": _s(self.avg_spread_pct),
            "avg_market_spread_pct": _s(self.avg_market_spread_pct),
            "max_spread_pct_seen": _s(self.max_spread_seen_pct),
            "avg_depth_2pct_bid": _s(self.avg_depth_2pct_bid),
            "avg_depth_2pct_ask": _s(self.avg_depth_2pct_ask),
            "min_depth_2pct_bid": _s(self.min_depth_2pct_bid),
            "min_depth_2pct_ask": _s(self.min_depth_2pct_ask),
            "avg_market_depth_2pct_bid": _s(self.market_depth_2pct[0]),
            "avg_market_depth_2pct_ask": _s(self.market_depth_2pct[1]),
            "breaches": [b.to_json() for b in self.breaches],
            "pnl": self.pnl.to_json(),
            "volume": str(self.activity.volume_quote),
            "volume_base": str(self.activity.volume_base),
            "orders_sent": self.activity.orders_sent,
            "activity": self.activity.to_json(),
            "orders_per_minute": [f.to_json() for f in self.order_flow],
            "risk_events": self.risk_events,
            "markouts": self.markouts.to_json(),
            "estimates": self.estimates,
            "position_range_base": {
                "low": str(self.position_range[0]),
                "high": str(self.position_range[1]),
                "final": str(self.position_range[2]),
            },
        }


@dataclass
class Report:
    generated_ms: int
    start_ms: int | None
    end_ms: int | None
    symbols: list[SymbolReport]

    def to_json(self) -> dict[str, Any]:
        return {
            "generated_ms": self.generated_ms,
            "from_ms": self.start_ms,
            "to_ms": self.end_ms,
            "symbols": {r.name: r.to_json() for r in self.symbols},
            "exchanges": {ex: sorted(r.symbol for r in self.symbols if r.exchange == ex)
                          for ex in sorted({r.exchange for r in self.symbols})},
        }


def _s(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def interval_from_spacings(histogram: Iterable[tuple[int, int]], default_ms: int = 1000) -> int:
    """The sampling interval: the median spacing of the samples (robust to gaps).

    ``histogram`` is (spacing ms, count) sorted by spacing (``Store.kpi_spacings``): the exact
    median of the positive spacings, as ``int(statistics.median(spacings))`` gives it (the mean
    of the two middle spacings, rounded down, when their number is even).
    """
    hist = [(d, n) for d, n in histogram if n > 0]
    total = sum(n for _, n in hist)
    if not total:
        return default_ms
    lower, upper = (total - 1) // 2, total // 2  # 0-based ranks of the middle spacing(s)
    lo = hi = None
    seen = 0
    for d, n in hist:
        if lo is None and lower < seen + n:
            lo = d
        if upper < seen + n:
            hi = d
            break
        seen += n
    assert lo is not None and hi is not None
    return (lo + hi) // 2


def quote_intervals(orders: Iterable[OrderRecord], end_ms: int) -> list[QuoteInterval]:
    """When each order rested: from creation to its last update if finished, else ``end_ms``.

    An approximation from the orders table (a partial fill also moves ``updated_ms``, which is
    harmless here because the order still rests afterwards only when it is still open).
    """
    out = []
    for o in orders:
        if o.status.upper() in ("REJECTED", "PENDING_NEW", "INITIALIZED"):
            continue
        stop = end_ms if o.is_open else o.updated_ms
        if stop > o.created_ms:
            out.append(QuoteInterval(o.side.upper(), o.price, o.created_ms, stop))
    return out


def our_best_at(
    quotes: Sequence[QuoteInterval], ts_ms: int
) -> tuple[Decimal | None, Decimal | None]:
    bids = [q.price for q in quotes if q.side == "BUY" and q.start_ms <= ts_ms < q.end_ms]
    asks = [q.price for q in quotes if q.side == "SELL" and q.start_ms <= ts_ms < q.end_ms]
    return max(bids, default=None), min(asks, default=None)


def starting_inventory(store: Store, symbol: str, from_ms: int | None,
                       exchange: str | None = None) -> Inventory | None:
    """Base and quote held at the first balance snapshot of the period (all keys of the
    exchange summed; of every exchange when none is named)."""
    try:
        base, quote = split_symbol(symbol)
    except ValueError:
        return None
    snaps = [s for s in store.balance_snapshots(since=from_ms) if s.asset in (base, quote)
             and (exchange is None or s.exchange == exchange)]
    if not snaps:
        return None
    first_ts = snaps[0].ts_ms
    at_first = [s for s in snaps if s.ts_ms == first_ts]
    b = sum((s.free + s.locked for s in at_first if s.asset == base), ZERO)
    q = sum((s.free + s.locked for s in at_first if s.asset == quote), ZERO)
    return Inventory(b, q)


def build_symbol_report(
    store: Store,
    symbol: str,
    *,
    from_ms: int | None,
    to_ms: int | None,
    obligations: Obligations | None,
    interval_ms: int | None,
    recorded_breaches: Sequence[Breach] = (),
    cancel_times: dict[str, list[int]] | None = None,
    exchange: str | None = None,
) -> SymbolReport:
    """One market's report (of ``exchange``'s ``symbol``; any exchange's when none is named);
    its samples are streamed from ``store``, never held."""
    count, first_ts, last_ts, last_id = store.kpi_sample_span(symbol, from_ms, to_ms, exchange)
    interval = interval_ms or interval_from_spacings(
        store.kpi_spacings(symbol, from_ms, to_ms, exchange))
    start = from_ms if from_ms is not None else (first_ts if first_ts is not None else 0)
    end = to_ms if to_ms is not None else (last_ts + interval if last_ts is not None else start)

    def rules(s: KpiSample) -> tuple[str, ...]:
        if obligations is not None:
            return tuple(str(r) for r in rules_of_sample(s, obligations))
        if s.mid is None:
            return (str(Rule.NO_MARKET),)
        return () if s.two_sided else (str(Rule.TWO_SIDED),)

    def rows() -> Iterator[KpiSample]:
        """The samples counted above (not those a live bot wrote since: ids above last_id)."""
        if not count:
            return iter(())
        return store.iter_kpi_samples(symbol, from_ms, to_ms, until_id=last_id,
                                      exchange=exchange)

    fold = SampleFold(
        interval_ms=interval,
        start_ms=start,
        end_ms=end,
        count=count,
        first_ts=first_ts,
        last_ts=last_ts,
        rules_of=rules,
    )
    fills = [
        f for f in store.fills(symbol=symbol, since=from_ms, exchange=exchange)
        if to_ms is None or f.ts_ms < to_ms
    ]
    # markouts in the same pass over the samples (they are streamed, never held)
    tracker = MarkoutTracker(max_pending=max(1, len(fills)))
    estimates = PeriodEstimates()
    pending = iter(sorted(fills, key=lambda f: f.ts_ms))
    upcoming = next(pending, None)
    for s in rows():
        fold.add(s)
        while upcoming is not None and upcoming.ts_ms <= s.ts_ms:
            tracker.on_fill(upcoming.side, upcoming.price, upcoming.qty, upcoming.ts_ms)
            estimates.on_fill(upcoming.side, upcoming.price, upcoming.ts_ms)
            upcoming = next(pending, None)
        tracker.on_mid(s.ts_ms, s.mid)
        estimates.on_mid(s.ts_ms, s.mid)
    fig = fold.finish()
    up = fig.uptime
    breaches = [
        _with_causes(b, recorded_breaches) for b in breaches_from_segments(symbol, up.segments)
    ]

    orders = [
        o
        for o in store.orders(symbol=symbol, exchange=exchange)
        if (from_ms is None or o.created_ms >= from_ms) and (to_ms is None or o.created_ms < to_ms)
    ]
    cancels = [
        t
        for o in orders
        for t in (cancel_times or {}).get(o.client_order_id, [])
        if (from_ms is None or t >= from_ms) and (to_ms is None or t < to_ms)
    ]
    pnl, _ = pnl_from_fills(symbol, fills, fig.last_mid,
                            starting_inventory(store, symbol, from_ms, exchange))
    return SymbolReport(
        symbol=symbol,
        exchange=exchange or DEFAULT_EXCHANGE,
        start_ms=start,
        end_ms=end,
        interval_ms=interval,
        obligations=obligations,
        sample_count=fig.count,
        uptime=up,
        breaches=breaches,
        avg_spread_pct=fig.avg_spread_pct,
        avg_market_spread_pct=fig.avg_market_spread_pct,
        max_spread_seen_pct=fig.max_spread_seen_pct,
        avg_depth_2pct_bid=fig.avg_depth_2pct_bid,
        avg_depth_2pct_ask=fig.avg_depth_2pct_ask,
        min_depth_2pct_bid=fig.min_depth_2pct_bid,
        min_depth_2pct_ask=fig.min_depth_2pct_ask,
        market_depth_2pct=(fig.avg_market_depth_2pct_bid, fig.avg_market_depth_2pct_ask),
        two_sided_pct=fig.two_sided_pct,
        pnl=pnl,
        activity=activity(orders, fills, cancels),
        fills=fills,
        plot=fig.plot,
        quotes=quote_intervals(orders, end),
        order_flow=order_flow(store.orders(symbol=symbol, exchange=exchange), from_ms, to_ms),
        risk_events=[
            {"ts_ms": e.ts_ms, "action": e.action, "message": e.message}
            for e in store.audit_events(RISK_AUDIT_CATEGORY)
            if (e.detail or {}).get("symbol") == symbol
            and (from_ms is None or e.ts_ms >= from_ms) and (to_ms is None or e.ts_ms < to_ms)
        ],
        rows=rows,
        markouts=tracker.markouts,
        estimates=estimates.to_json(),
        position_range=position_range(fills),
    )


def _with_causes(breach: Breach, recorded: Sequence[Breach]) -> Breach:
    """Attach the causes the live sampler recorded for overlapping breaches."""
    causes: list[str] = []
    end = breach.end_ms if breach.end_ms is not None else breach.start_ms
    for r in recorded:
        r_end = r.end_ms if r.end_ms is not None else r.start_ms
        if r.symbol == breach.symbol and r.start_ms <= end and r_end >= breach.start_ms:
            causes += [c for c in r.causes if c not in causes]
    return Breach(breach.symbol, breach.start_ms, breach.end_ms, breach.rules, tuple(causes))


def build_report(
    store: Store,
    *,
    from_ms: int | None = None,
    to_ms: int | None = None,
    symbols: Sequence[str] | None = None,
    obligations: dict[str, Obligations] | None = None,
    interval_ms: int | None = None,
    now_ms: int | None = None,
) -> Report:
    """Gather the report of ``symbols`` (default: every symbol with samples) over [from, to),
    one section per (exchange, symbol), grouped by exchange."""
    markets = store.kpi_markets(from_ms, to_ms)
    if symbols:
        named = [s.upper() for s in symbols]
        wanted = [(e, s) for e, s in markets if s in named]
        wanted += [(DEFAULT_EXCHANGE, s) for s in named if s not in {m for _, m in wanted}]
    else:
        wanted = markets
    recorded = [b for e in store.audit_events(AUDIT_CATEGORY) if (b := breach_from_audit(e))]
    cancel_times: dict[str, list[int]] = {}
    for ev in store.order_events():
        if ev.event == "CANCEL_REQUEST":
            cancel_times.setdefault(ev.client_order_id, []).append(ev.ts_ms)
    reports = [
        build_symbol_report(
            store,
            sym,
            from_ms=from_ms,
            to_ms=to_ms,
            obligations=(obligations or {}).get(market_name(ex, sym), (obligations or {}).get(sym)),
            interval_ms=interval_ms,
            recorded_breaches=recorded,
            cancel_times=cancel_times,
            exchange=ex,
        )
        for ex, sym in wanted
    ]
    generated = now_ms if now_ms is not None else int(datetime.now(UTC).timestamp() * 1000)
    return Report(generated, from_ms, to_ms, reports)


# ---------------------------------------------------------------------------------------------
# Renderers.


def render_json(report: Report) -> str:
    return json.dumps(report.to_json(), indent=2)


CSV_COLUMNS = (
    "symbol",
    "ts_ms",
    "time_utc",
    "mid",
    "best_bid",
    "best_ask",
    "spread_pct",
    "our_spread_pct",
    "bid_depth_2pct_quote",
    "ask_depth_2pct_quote",
    "two_sided",
    "obligations_met",
    "market_bid_depth_2pct_quote",
    "market_ask_depth_2pct_quote",
    "exchange",  # last, so that readers by position keep working
)


def render_csv(report: Report) -> str:
    """The KPI samples of the period, one row per sample, Decimals written exactly."""
    return "".join(iter_csv(report))


def iter_csv(report: Report, rows_per_chunk: int = 2000) -> Iterator[str]:
    """``render_csv`` in chunks of text, streaming the samples from the store again."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    n = 0
    for r in report.symbols:
        for s in r.rows():
            n += 1
            if n % rows_per_chunk == 0:
                yield buf.getvalue()
                buf.seek(0)
                buf.truncate()
            w.writerow(
                [
                    s.symbol,
                    s.ts_ms,
                    fmt_time(s.ts_ms),
                    _cell(s.mid),
                    _cell(s.best_bid),
                    _cell(s.best_ask),
                    _cell(s.spread_pct),
                    _cell(s.our_spread_pct),
                    _cell(s.bid_depth_quote),
                    _cell(s.ask_depth_quote),
                    int(s.two_sided),
                    int(s.obligations_met),
                    _cell(s.market_bid_depth_quote),
                    _cell(s.market_ask_depth_quote),
                    r.exchange,
                ]
            )
    yield buf.getvalue()


def _cell(value: Decimal | None) -> str:
    return "" if value is None else format(value, "f")


def fmt_time(ts_ms: int | None, seconds: bool = True) -> str:
    if ts_ms is None:
        return "-"
    dt = datetime.fromtimestamp(ts_ms / 1000, UTC)
    return dt.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M") + " UTC"


def fmt_dec(value: Decimal | None, places: int = 2) -> str:
    """Human rounding for the HTML only (JSON and CSV carry the exact values)."""
    if value is None:
        return "-"
    q = Decimal(1).scaleb(-places)
    return f"{value.quantize(q):,}"


def fmt_duration(ms: int | None) -> str:
    if ms is None:
        return "ongoing"
    s = ms // 1000
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}h {m:02d}m {sec:02d}s" if h else (f"{m}m {sec:02d}s" if m else f"{sec}s")


_CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:0;background:#f5f6f8;
color:#1d2330}
header{background:#14213d;color:#fff;padding:22px 32px}
header h1{margin:0;font-size:22px} header p{margin:4px 0 0;color:#c9d2e3;font-size:13px}
main{padding:16px 32px 40px;max-width:1100px}
section{background:#fff;border-radius:8px;box-shadow:0 1px 3px rgba(0,0,0,.08);margin:18px 0;
padding:18px 22px}
h2{font-size:18px;margin:0 0 12px} h3{font-size:14px;margin:18px 0 6px;color:#44506a}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{text-align:left;padding:6px 8px;border-bottom:1px solid #e6e8ee}
th{color:#5b6478;font-weight:600;background:#fafbfc}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.ok{color:#137333;font-weight:600} .bad{color:#b3261e;font-weight:600} .na{color:#777}
.grid{display:grid;grid-template-columns:1fr 1fr;gap:12px}
.note{font-size:12px;color:#5b6478;margin-top:8px}
svg{width:100%;height:auto;background:#fff}
"""


def _status(ok: bool | None) -> str:
    if ok is None:
        return '<span class="na">no limit</span>'
    return '<span class="ok">met</span>' if ok else '<span class="bad">not met</span>'


def _row(cells: Sequence[str], num_from: int = 1) -> str:
    tds = "".join(
        f'<td class="num">{c}</td>' if i >= num_from else f"<td>{c}</td>"
        for i, c in enumerate(cells)
    )
    return f"<tr>{tds}</tr>"


def _summary_table(r: SymbolReport) -> str:
    o = r.obligations
    rows = [
        _row(
            [
                "Uptime (both sides met all obligations)",
                fmt_dec(r.uptime.pct) + " %",
                "time-weighted",
                "",
            ]
        )
    ]
    if o is not None:
        spread_ok = None if r.avg_spread_pct is None else r.avg_spread_pct <= o.max_spread_pct
        bid_ok = (
            None if r.avg_depth_2pct_bid is None else r.avg_depth_2pct_bid >= o.min_depth_2pct_quote
        )
        ask_ok = (
            None if r.avg_depth_2pct_ask is None else r.avg_depth_2pct_ask >= o.min_depth_2pct_quote
        )
        limit_spread = f"&le; {o.max_spread_pct} %"
        limit_depth = f"&ge; {fmt_dec(o.min_depth_2pct_quote)}"
    else:
        spread_ok = bid_ok = ask_ok = None
        limit_spread = limit_depth = "not configured"
    rows += [
        _row(
            [
                "Average quoted spread",
                fmt_dec(r.avg_spread_pct, 3) + " %",
                limit_spread,
                _status(spread_ok),
            ]
        ),
        _row(["Widest quoted spread", fmt_dec(r.max_spread_seen_pct, 3) + " %", limit_spread, ""]),
        _row(["Average market spread", fmt_dec(r.avg_market_spread_pct, 3) + " %", "", ""]),
        _row(
            [
                "Average bid depth within 2 %",
                fmt_dec(r.avg_depth_2pct_bid),
                limit_depth,
                _status(bid_ok),
            ]
        ),
        _row(
            [
                "Average ask depth within 2 %",
                fmt_dec(r.avg_depth_2pct_ask),
                limit_depth,
                _status(ask_ok),
            ]
        ),
        _row(
            [
                "Lowest bid / ask depth within 2 %",
                f"{fmt_dec(r.min_depth_2pct_bid)} / {fmt_dec(r.min_depth_2pct_ask)}",
                "",
                "",
            ]
        ),
        _row(
            [
                "Whole book's bid / ask depth within 2 % (everyone, us included)",
                f"{fmt_dec(r.market_depth_2pct[0])} / {fmt_dec(r.market_depth_2pct[1])}",
                "what listing sites show",
                "",
            ]
        ),
        _row(["Two-sided quoting (share of samples)", fmt_dec(r.two_sided_pct) + " %", "", ""]),
        _row(["Breaches", str(len(r.breaches)), "", ""]),
        *(_row(["Loss limit", html.escape(e["message"]), "", _status(False)])
          for e in r.risk_events),
        _row(["Sampling gaps (counted as not met)", fmt_duration(r.uptime.gap_ms), "", ""]),
    ]
    head = "<tr><th>Figure</th><th>Value</th><th>Obligation</th><th>Status</th></tr>"
    return f"<table>{head}{''.join(rows)}</table>"


def _pnl_table(r: SymbolReport) -> str:
    p, a, q = r.pnl, r.activity, r.pnl.quote_asset
    rows = [
        ["Realized PnL (average cost)", f"{fmt_dec(p.realized, 4)} {q}"],
        ["Unrealized PnL (at last mid)", f"{fmt_dec(p.unrealized, 4)} {q}"],
        [
            "Fees",
            f"{fmt_dec(p.fees_quote, 4)} {q}"
            + "".join(f" + {v} {k}" for k, v in p.fees_other.items()),
        ],
        ["Total PnL", f"{fmt_dec(p.total, 4)} {q}"],
        [
            "Inventory" if p.start_known else "Inventory change (no starting balance stored)",
            f"{fmt_dec(p.inventory.base if p.inventory else None, 4)} {p.base_asset}, "
            f"{fmt_dec(p.inventory.quote if p.inventory else None, 2)} {q}",
        ],
    ]
    if p.start_known:
        rows += [
            ["Inventory value (at last mid)", f"{fmt_dec(p.inventory_value)} {q}"],
            ["Starting inventory at the same mid", f"{fmt_dec(p.hold_value)} {q}"],
            ["Against holding the starting inventory", f"{fmt_dec(p.vs_hold, 4)} {q}"],
        ]
    else:
        rows += [
            [
                "Against holding (no starting balance: equals the trading result)",
                f"{fmt_dec(p.vs_hold, 4)} {q}",
            ]
        ]
    rows += [
        ["Traded volume", f"{fmt_dec(a.volume_quote)} {q} ({a.trades} trades)"],
        ["Orders sent / cancelled", f"{a.orders_sent} / {a.orders_cancelled}"],
        [
            "Fill ratio (orders with a fill)",
            "-" if a.fill_ratio is None else fmt_dec(a.fill_ratio * HUNDRED) + " %",
        ],
        [
            "Order budget: busiest minute",
            f"{a.peak_requests_per_min} of {a.budget_limit_per_min} "
            f"requests ({fmt_dec(a.budget_peak_use_pct)} %)",
        ],
    ]
    # asset names and fee assets are the exchange's text (a commissionAsset may be anything):
    # every cell of this table is plain text, so all of it is escaped
    return "<table>" + "".join(_row([html.escape(c) for c in cells]) for cells in rows) + "</table>"


def _breach_table(r: SymbolReport, limit: int = 50) -> str:
    if not r.breaches:
        return '<p class="ok">No breach in this period.</p>'
    head = "<tr><th>Start</th><th>End</th><th>Duration</th><th>Rules broken</th><th>Likely cause</th></tr>"
    worst = sorted(r.breaches, key=lambda b: -(b.duration_ms or 0))[:limit]
    rows = "".join(
        f"<tr><td>{fmt_time(b.start_ms)}</td><td>{fmt_time(b.end_ms)}</td>"
        f'<td class="num">{fmt_duration(b.duration_ms)}</td>'
        f"<td>{html.escape(', '.join(b.rules))}</td>"
        f"<td>{html.escape(', '.join(b.causes) or 'not recorded')}</td></tr>"
        for b in sorted(worst, key=lambda b: b.start_ms)
    )
    more = (
        f'<p class="note">Showing the {limit} longest of {len(r.breaches)} breaches.</p>'
        if len(r.breaches) > limit
        else ""
    )
    return f"<table>{head}{rows}</table>{more}"


def _symbol_section(
    r: SymbolReport, show_pnl: bool = True, extra: Callable[[SymbolReport], str] | None = None
) -> str:
    charts = plots.symbol_charts(r)
    pnl = f"""
<h3>PnL</h3>
{charts["pnl"]}
{_pnl_table(r)}""" if show_pnl else ""
    return f"""
<section>
<h2>{html.escape(r.symbol)} <small>on {html.escape(r.exchange)}</small></h2>
<p class="note">{fmt_time(r.start_ms)} &ndash; {fmt_time(r.end_ms)} &middot; {r.sample_count} samples
every {Decimal(r.interval_ms) / 1000} s</p>
<h3>Obligations</h3>
{_summary_table(r)}
<h3>Uptime</h3>
{charts["uptime"]}
<div class="grid">
<div><h3>Price and our quotes</h3>{charts["price"]}</div>
<div><h3>Spread against its limit</h3>{charts["spread"]}</div>
<div><h3>Depth within &plusmn;2 % against its limit</h3>{charts["depth"]}</div>
{f'<div><h3>Inventory</h3>{charts["inventory"]}</div>' if show_pnl else ""}
</div>{pnl}{_markout_section(r) if show_pnl else ""}
<h3>Breaches</h3>
{_breach_table(r)}{extra(r) if extra is not None else ""}
</section>"""


def _markout_section(r: SymbolReport) -> str:
    return f"""
<h3>Markouts (adverse selection)</h3>
<p class="note">Mid after each fill against its price, in basis points, weighted by the fill's
value: positive is in our favour. Most of a captured half-spread that is gone within seconds
was taken by better-informed takers.</p>
<div class="grid"><div>{plots.markout_chart(r.markouts)}</div><div>{_markout_table(r)}
{_estimates_table(r)}</div></div>"""


def _markout_table(r: SymbolReport) -> str:
    m = r.markouts
    head = "<tr><th>Side</th>" + "".join(f"<th>{h} s</th>" for h in m.horizons_s) + "</tr>"
    rows = []
    for side, name in (("BUY", "Our buys"), ("SELL", "Our sells"), ("ALL", "All fills")):
        cells = [name] + [
            "-" if (v := m.bps(side, h)) is None else f"{fmt_dec(v, 2)} bps"
            for h in m.horizons_s
        ]
        rows.append(_row(cells))
    low, high, final = r.position_range
    rows.append(_row(["Net position (base): low / high / final",
                      f"{fmt_dec(low, 4)} / {fmt_dec(high, 4)} / {fmt_dec(final, 4)}"]
                     + [""] * (len(m.horizons_s) - 1)))
    return f"<table>{head}{''.join(rows)}</table>"


def _estimates_table(r: SymbolReport) -> str:
    e = r.estimates
    if not e:
        return ""

    def num(v: Any, unit: str) -> str:
        return "-" if v is None else f"{v:g} {unit}"

    rows = [_row(["Volatility of mid", num(e.get("sigma_pct"), "% per &radic;s")])]
    for key, name in (("bid", "Market sells reaching our bids"), ("ask", "Market buys reaching our asks")):
        side = e.get(key) or {}
        rows.append(_row([name, f"{side.get('fills', 0)} fills; A {num(side.get('a'), '/s')}, "
                                f"&kappa; {num(side.get('kappa'), 'per %')}"]))
    return ("<table><tr><th>Model input over the period</th><th>Estimate</th></tr>"
            + "".join(rows) + "</table>")


def markouts_csv(report: Report) -> str:
    """The markouts of every market: symbol, side, horizon, bps (exact), fills, exchange."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["symbol", "side", "horizon_s", "markout_bps", "fills", "exchange"])
    for r in report.symbols:
        for side, h, bps, n in r.markouts.rows():
            w.writerow([r.symbol, side, h, _cell(bps), n, r.exchange])
    return buf.getvalue()


def render_html(
    report: Report,
    title: str = "Market-making report",
    *,
    show_pnl: bool = True,
    extra: Callable[[SymbolReport], str] | None = None,
    method_note: str | None = None,
) -> str:
    """One self-contained HTML page: inline CSS, inline SVG plots, no script, no external URL.

    ``show_pnl=False``, ``extra`` (more HTML per market) and ``method_note`` (how the figures
    were measured) serve reports from other vantage points (the obligation audit's)."""
    period = f"{fmt_time(report.start_ms)} to {fmt_time(report.end_ms)}"
    if report.start_ms is None and report.symbols:
        period = (
            f"{fmt_time(min(r.start_ms for r in report.symbols))} to "
            f"{fmt_time(max(r.end_ms for r in report.symbols))}"
        )
    body = "".join(_symbol_section(r, show_pnl, extra) for r in report.symbols) or (
        "<section><p>No KPI samples in this period.</p></section>"
    )
    notes = (
        '<section><h2>How these figures are measured</h2><p class="note">'
        + method_note
        + "</p></section>"
        if method_note is not None
        else '<section><h2>How these figures are measured</h2><p class="note">'
        "Spreads and depth are our own resting orders, sampled from the order book at a fixed "
        "interval. Uptime is the time-weighted share of the period during which both sides met "
        "every obligation at once (spread at or under the maximum, depth within &plusmn;2 % of mid "
        "at or over the minimum on each side). A pause in sampling longer than two intervals "
        "counts as <b>not met</b>. PnL uses the average-cost method; fees in other assets are "
        "listed, not valued.</p></section>"
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>{html.escape(title)}</title><style>{_CSS}</style></head>
<body><header><h1>{html.escape(title)}</h1>
<p>{period} &middot; generated {fmt_time(report.generated_ms)}</p></header>
<main>{body}{notes}</main></body></html>
"""


def write(report: Report, fmt: str, out: TextIO) -> None:
    """Write the report to a text stream; the CSV goes out in chunks, never whole in memory."""
    if fmt == "csv":
        for chunk in iter_csv(report):
            out.write(chunk)
        return
    out.write(render(report, fmt))


def render(report: Report, fmt: str) -> str:
    if fmt == "json":
        return render_json(report)
    if fmt == "csv":
        return render_csv(report)
    if fmt == "html":
        return render_html(report)
    raise ValueError(f"unknown report format {fmt!r}; choose one of: {', '.join(FORMATS)}")
