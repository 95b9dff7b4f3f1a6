"""The sample figures of one market's report, folded in one pass over a stream of samples.

A month of one-second samples is 2.6 million rows per market: as Python objects that is
gigabytes, so the report never holds them. ``SampleFold`` takes the samples one at a time (from
``Store.iter_kpi_samples``) and keeps only running sums, minima and maxima, the uptime's merged
segments (one per change of state, see ``kpi.UptimeBuilder``) and the plots' bounded buckets
(``plots.PlotCollector``). Memory is O(breaches + plot points), whatever the period.

The figures are the ones the report always printed, computed the same way, so they are equal to
the last digit: spreads and depths are means over samples (each sample counts once, as in the
client's own snapshots), summed in time order from Decimal zero with the default context;
two-sided quoting is a share of samples; uptime alone is time-weighted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from liquidity_bot.reporting.kpi import Uptime, UptimeBuilder
from liquidity_bot.reporting.plots import PlotCollector, PlotData
from liquidity_bot.store import KpiSample

ZERO = Decimal(0)
HUNDRED = Decimal(100)


class _Mean:
    """Sum and count of Decimals; ``value`` is the same number as ``sum(values, 0) / n``."""

    __slots__ = ("n", "total")

    def __init__(self) -> None:
        self.total = ZERO
        self.n = 0

    def add(self, value: Decimal) -> None:
        self.total += value
        self.n += 1

    @property
    def value(self) -> Decimal | None:
        return None if not self.n else self.total / Decimal(self.n)


@dataclass(frozen=True, slots=True)
class SampleFigures:
    """What the report says about one market's samples."""

    count: int
    uptime: Uptime
    avg_spread_pct: Decimal | None  # our quoted spread
    avg_market_spread_pct: Decimal | None
    max_spread_seen_pct: Decimal | None
    avg_depth_2pct_bid: Decimal | None
    avg_depth_2pct_ask: Decimal | None
    min_depth_2pct_bid: Decimal | None
    min_depth_2pct_ask: Decimal | None
    avg_market_depth_2pct_bid: Decimal | None  # the whole book's, us included
    avg_market_depth_2pct_ask: Decimal | None
    two_sided_pct: Decimal | None
    last_mid: Decimal | None
    plot: PlotData


class SampleFold:
    """One pass over one market's samples in time order (``add`` each, then ``finish``).

    ``count``, ``first_ts`` and ``last_ts`` describe the stream that will be fed (the plots
    choose their times and bucket sizes from them); ``rules_of`` names the rules an unmet
    sample broke.
    """

    def __init__(
        self,
        *,
        interval_ms: int,
        start_ms: int,
        end_ms: int,
        count: int,
        first_ts: int | None,
        last_ts: int | None,
        rules_of: Callable[[KpiSample], tuple[str, ...]],
    ) -> None:
        self._rules_of = rules_of
        self._uptime = UptimeBuilder(interval_ms, start_ms, end_ms)
        self._plot = PlotCollector(start_ms, end_ms, count, first_ts, last_ts)
        self._ours = _Mean()
        self._market = _Mean()
        self._bid = _Mean()
        self._ask = _Mean()
        self._book_bid = _Mean()
        self._book_ask = _Mean()
        self._max_ours: Decimal | None = None
        self._min_bid: Decimal | None = None
        self._min_ask: Decimal | None = None
        self._count = 0
        self._two_sided = 0
        self._last_mid: Decimal | None = None

    def add(self, s: KpiSample) -> None:
        self._count += 1
        met = s.obligations_met
        self._uptime.add(s.ts_ms, met, () if met else self._rules_of(s))
        ours = s.our_spread_pct
        if ours is not None:
            self._ours.add(ours)
            if self._max_ours is None or ours > self._max_ours:
                self._max_ours = ours
        if s.spread_pct is not None:
            self._market.add(s.spread_pct)
        if s.mid is not None:
            bid, ask = s.bid_depth_quote, s.ask_depth_quote
            self._bid.add(bid)
            self._ask.add(ask)
            if self._min_bid is None or bid < self._min_bid:
                self._min_bid = bid
            if self._min_ask is None or ask < self._min_ask:
                self._min_ask = ask
            self._last_mid = s.mid
        if s.market_bid_depth_quote is not None and s.market_ask_depth_quote is not None:
            self._book_bid.add(s.market_bid_depth_quote)  # samples stored before the
            self._book_ask.add(s.market_ask_depth_quote)  # column existed have none
        if s.two_sided:
            self._two_sided += 1
        self._plot.add(s)

    def finish(self) -> SampleFigures:
        n = self._count
        return SampleFigures(
            count=n,
            uptime=self._uptime.finish(),
            avg_spread_pct=self._ours.value,
            avg_market_spread_pct=self._market.value,
            max_spread_seen_pct=self._max_ours,
            avg_depth_2pct_bid=self._bid.value,
            avg_depth_2pct_ask=self._ask.value,
            min_depth_2pct_bid=self._min_bid,
            min_depth_2pct_ask=self._min_ask,
            avg_market_depth_2pct_bid=self._book_bid.value,
            avg_market_depth_2pct_ask=self._book_ask.value,
            two_sided_pct=None if not n else Decimal(self._two_sided) * HUNDRED / Decimal(n),
            last_mid=self._last_mid,
            plot=self._plot.finish(),
        )
