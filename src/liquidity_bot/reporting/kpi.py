"""Obligation KPIs: what a token project pays its market maker for, measured from the book.

A market-making agreement is checked on snapshots: our own best spread must stay under a
maximum, our resting depth within +-2 % of mid must reach a minimum on each side, and (in some
agreements) an order only counts once it has rested a minimum time. ``measure`` turns one book
snapshot plus our live quotes into a ``KpiReading``; ``KpiSampler`` does that at an interval for
the runner, keeps the running time-weighted uptime, opens and closes breaches (with the rules
broken and the likely causes the caller reports), and stores samples and breaches.

Uptime is time-weighted, not a share of samples: each sample vouches for the time until the
next one. A pause in sampling longer than ``GAP_INTERVALS`` intervals is a gap: the sample before
it vouches for one interval only and the rest of the pause counts as NOT met (rule
``sampling_gap``) -- nobody can prove the quotes were there, and a client's own snapshots would
not have seen them either. Everything is Decimal; nothing goes through float.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from enum import StrEnum
from typing import Any, Protocol

from liquidity_bot.domain.book import OrderBook
from liquidity_bot.domain.market_id import DEFAULT_EXCHANGE
from liquidity_bot.domain.slot_init import slot_init
from liquidity_bot.store import AuditEvent, KpiSample

log = logging.getLogger(__name__)

ZERO = Decimal(0)
HUNDRED = Decimal(100)
BPS = Decimal(10_000)
TWO = Decimal(2)
OBLIGATION_BAND_PCT = Decimal(2)
DEPTH_BANDS_PCT: tuple[Decimal, ...] = (Decimal("0.5"), Decimal(1), Decimal(2), Decimal(5))
GAP_INTERVALS = 2
AUDIT_CATEGORY = "obligation"
RISK_AUDIT_CATEGORY = "risk"  # what a risk limit did to a market's quoting (the report lists it)


class Rule(StrEnum):
    """One obligation rule a sample can break."""

    NO_MARKET = "no_market"  # the book has no mid: nothing can be measured
    TWO_SIDED = "two_sided"  # we do not quote both sides
    MAX_SPREAD = "max_spread"  # our best spread is wider than allowed
    MIN_DEPTH_BID = "min_depth_bid"  # our bid depth within +-2 % is below the minimum
    MIN_DEPTH_ASK = "min_depth_ask"
    SAMPLING_GAP = "sampling_gap"  # no sample for more than GAP_INTERVALS intervals


class Cause(StrEnum):
    """Likely causes of a breach, as the caller knows them when it samples."""

    BUDGET = "budget"  # order-rate budget exhausted, orders could not be sent
    RISK = "risk_refusal"  # the risk gate refused orders (limits, kill switch)
    STALE = "stale_data"  # market data stale or book crossed: quotes pulled
    BALANCE = "balance"  # not enough base or quote to quote a side
    NO_SAMPLES = "no_samples"  # the sampler was not called: the loop or the feed stalled
    UNKNOWN = "unknown"


class Obligations(Protocol):
    """What ``config.ObligationsConfig`` provides (a Protocol keeps this module config-free)."""

    max_spread_pct: Decimal
    min_depth_2pct_quote: Decimal
    min_rest_s: float | None


@slot_init
@dataclass(frozen=True, slots=True)
class OurQuote:
    """One of our resting orders as the KPIs see it: side, price, remaining size, rest start."""

    side: str  # "BUY" or "SELL"
    price: Decimal
    qty: Decimal  # remaining quantity, base asset
    since_ms: int | None = None  # when it started resting (None: unknown, counts as rested)

    @property
    def is_bid(self) -> bool:
        return self.side == "BUY"


def quotes_from_orders(
    orders: Iterable[Any], since_ms: Callable[[Any], int | None]
) -> list[OurQuote]:
    """``OurQuote`` list from domain ``Order`` objects (``side``, ``price``, ``remaining_qty``).

    ``since_ms(order)`` gives when the order started resting (e.g. the order manager's
    ``Tracked.created_ms``).
    """
    out = []
    for o in orders:
        side = o.side.value if hasattr(o.side, "value") else str(o.side)
        out.append(OurQuote(str(side).upper(), o.price, o.remaining_qty, since_ms(o)))
    return out


@slot_init
@dataclass(frozen=True, slots=True)
class BandDepth:
    """Our resting size (quote currency) within +-``pct`` % of mid, per side."""

    pct: Decimal
    bid: Decimal
    ask: Decimal


@slot_init
@dataclass(frozen=True, slots=True)
class KpiReading:
    """One sample of one market: the book, our quotes, and the obligation verdict."""

    symbol: str
    ts_ms: int
    mid: Decimal | None
    best_bid: Decimal | None
    best_ask: Decimal | None
    spread_bps: Decimal | None  # the whole market's spread (us included)
    our_bid: Decimal | None
    our_ask: Decimal | None
    our_spread_bps: Decimal | None  # our best ask minus our best bid, relative to mid
    depth: tuple[BandDepth, ...]
    broken: tuple[Rule, ...]  # empty: obligations met
    market_depth: BandDepth | None = None
    """The whole book's depth (everyone, us included) within +-2 %: what listing sites show."""

    @property
    def met(self) -> bool:
        return not self.broken

    @property
    def two_sided(self) -> bool:
        return self.our_bid is not None and self.our_ask is not None

    @property
    def spread_pct(self) -> Decimal | None:
        return None if self.spread_bps is None else self.spread_bps / HUNDRED

    @property
    def our_spread_pct(self) -> Decimal | None:
        return None if self.our_spread_bps is None else self.our_spread_bps / HUNDRED

    def band(self, pct: Decimal | int) -> BandDepth:
        for b in self.depth:
            if b.pct == pct:
                return b
        raise KeyError(
            f"no depth band of {pct} %: measured bands are {[b.pct for b in self.depth]}"
        )

    def to_store(self) -> KpiSample:
        """The store's row: depth is the +-2 % obligation band; spreads in percent of mid."""
        two = self.band(OBLIGATION_BAND_PCT)
        whole = self.market_depth
        return KpiSample(
            symbol=self.symbol,
            ts_ms=self.ts_ms,
            bid_depth_quote=_storable(two.bid),
            ask_depth_quote=_storable(two.ask),
            two_sided=self.two_sided,
            obligations_met=self.met,
            mid=_storable(self.mid),
            best_bid=self.best_bid,
            best_ask=self.best_ask,
            spread_pct=_storable(self.spread_pct),
            our_spread_pct=_storable(self.our_spread_pct),
            market_bid_depth_quote=None if whole is None else _storable(whole.bid),
            market_ask_depth_quote=None if whole is None else _storable(whole.ask),
        )

    def to_json(self) -> dict[str, Any]:
        """Decimals as strings, for the dashboard and the JSON report."""
        return {
            "symbol": self.symbol,
            "ts_ms": self.ts_ms,
            "mid": _s(self.mid),
            "best_bid": _s(self.best_bid),
            "best_ask": _s(self.best_ask),
            "spread_bps": _s(self.spread_bps),
            "our_bid": _s(self.our_bid),
            "our_ask": _s(self.our_ask),
            "our_spread_bps": _s(self.our_spread_bps),
            "depth": [
                {"band_pct": str(b.pct), "bid": _s(b.bid), "ask": _s(b.ask)}
                for b in sorted(self.depth, key=lambda b: b.pct)
            ],
            "met": self.met,
            "broken": [str(r) for r in self.broken],
            "market_depth": None if self.market_depth is None else {
                "band_pct": str(self.market_depth.pct), "bid": _s(self.market_depth.bid),
                "ask": _s(self.market_depth.ask)},
        }


_STORE_PLACES = Decimal(1).scaleb(-18)


def _storable(value: Decimal | None) -> Decimal | None:
    """Derived ratios can have any number of digits; the store holds 18 fractional places."""
    if value is None:
        return None
    return value.quantize(_STORE_PLACES) if value.as_tuple().exponent < -18 else value  # type: ignore[operator]


def _s(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


@functools.lru_cache(maxsize=64)
def _rest_ms(min_rest_s: float) -> Decimal:
    """``min_rest_s`` in milliseconds, exactly as written (its shortest repr)."""
    return Decimal(str(min_rest_s)) * 1000


def measure(
    symbol: str,
    book: OrderBook,
    quotes: Sequence[OurQuote],
    obligations: Obligations,
    ts_ms: int,
    bands: Sequence[Decimal] = DEPTH_BANDS_PCT,
    *,
    market_depth: bool = True,
) -> KpiReading:
    """Measure one snapshot against the obligations (pure: no clock, no I/O).

    Our depth in a band counts our bids priced at or above ``mid * (1 - pct/100)`` and our asks
    at or below ``mid * (1 + pct/100)`` (edges inclusive, as ``OrderBook.depth_quote``), valued
    at their own price. With ``min_rest_s`` set, an order counts towards depth and our best
    prices only once it has rested that long. ``market_depth=False``: the whole book's depth in
    the obligation band is not measured (``market_depth`` None; a sample nobody stores).
    """
    if OBLIGATION_BAND_PCT not in bands:
        bands = (*bands, OBLIGATION_BAND_PCT)
    min_rest_ms = None
    if obligations.min_rest_s is not None:
        min_rest_ms = _rest_ms(obligations.min_rest_s)
    # (one loop, no comprehensions: a market samples itself every second)
    bids: list[OurQuote] = []
    asks: list[OurQuote] = []
    our_bid = our_ask = None  # the first best price of each side (as ``max`` and ``min``)
    for q in quotes:
        if q.qty > 0 and (min_rest_ms is None or q.since_ms is None
                          or ts_ms - q.since_ms >= min_rest_ms):
            price = q.price
            if q.side == "BUY":  # (``is_bid``)
                bids.append(q)
                if our_bid is None or price > our_bid:
                    our_bid = price
            else:
                asks.append(q)
                if our_ask is None or price < our_ask:
                    our_ask = price

    mid = book.mid
    top_bid, top_ask = book.best_bid, book.best_ask
    depth: list[BandDepth] = []
    our_spread_bps = None
    broken: list[Rule] = []
    if mid is None or mid <= 0:
        depth = [BandDepth(pct, ZERO, ZERO) for pct in bands]
        broken.append(Rule.NO_MARKET)
    else:
        for pct in bands:
            low = mid * (1 - pct / HUNDRED)
            high = mid * (1 + pct / HUNDRED)
            bid_depth = ask_depth = ZERO  # (``sum`` from ZERO, in order)
            for q in bids:
                if q.price >= low:
                    bid_depth += q.price * q.qty
            for q in asks:
                if q.price <= high:
                    ask_depth += q.price * q.qty
            depth.append(BandDepth(pct, bid_depth, ask_depth))
        if our_bid is not None and our_ask is not None:
            our_spread_bps = (our_ask - our_bid) / mid * BPS
    two = next(b for b in depth if b.pct == OBLIGATION_BAND_PCT)
    whole = (book.depth_quote(OBLIGATION_BAND_PCT)
             if market_depth and mid is not None and mid > 0 else None)
    if mid is not None and mid > 0:
        if our_bid is None or our_ask is None:
            broken.append(Rule.TWO_SIDED)
        elif our_spread_bps is not None and our_spread_bps > obligations.max_spread_pct * HUNDRED:
            broken.append(Rule.MAX_SPREAD)
        if two.bid < obligations.min_depth_2pct_quote:
            broken.append(Rule.MIN_DEPTH_BID)
        if two.ask < obligations.min_depth_2pct_quote:
            broken.append(Rule.MIN_DEPTH_ASK)
    return KpiReading(
        symbol=symbol,
        ts_ms=ts_ms,
        mid=mid,
        best_bid=None if top_bid is None else top_bid[0],
        best_ask=None if top_ask is None else top_ask[0],
        spread_bps=book.spread_bps,
        our_bid=our_bid,
        our_ask=our_ask,
        our_spread_bps=our_spread_bps,
        depth=tuple(depth),
        broken=tuple(broken),
        market_depth=None if whole is None else BandDepth(OBLIGATION_BAND_PCT, *whole),
    )


def rules_of_sample(sample: KpiSample, obligations: Obligations) -> tuple[Rule, ...]:
    """The rules a stored sample broke, re-derived from its columns (the store keeps a bool).

    Used by the report to label breaches; the verdict itself is the stored ``obligations_met``.
    """
    if sample.mid is None:
        return (Rule.NO_MARKET,)
    out: list[Rule] = []
    if not sample.two_sided:
        out.append(Rule.TWO_SIDED)
    elif sample.our_spread_pct is not None and sample.our_spread_pct > obligations.max_spread_pct:
        out.append(Rule.MAX_SPREAD)
    if sample.bid_depth_quote < obligations.min_depth_2pct_quote:
        out.append(Rule.MIN_DEPTH_BID)
    if sample.ask_depth_quote < obligations.min_depth_2pct_quote:
        out.append(Rule.MIN_DEPTH_ASK)
    return tuple(out)


# ---------------------------------------------------------------------------------------------
# Uptime over a sequence of samples.


@dataclass(frozen=True, slots=True)
class Segment:
    """A stretch of time with one state: met, breach (with the rules broken) or gap."""

    start_ms: int
    end_ms: int
    met: bool
    rules: tuple[str, ...] = ()

    @property
    def duration_ms(self) -> int:
        return self.end_ms - self.start_ms


@dataclass(frozen=True, slots=True)
class Breach:
    """One continuous stretch of unmet obligations (``end_ms`` None while it lasts)."""

    symbol: str
    start_ms: int
    end_ms: int | None
    rules: tuple[str, ...]
    causes: tuple[str, ...] = ()

    @property
    def duration_ms(self) -> int | None:
        return None if self.end_ms is None else self.end_ms - self.start_ms

    def to_json(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "start_ms": self.start_ms,
            "end_ms": self.end_ms,
            "duration_s": None
            if self.end_ms is None
            else str(Decimal(self.duration_ms or 0) / 1000),
            "rules": list(self.rules),
            "causes": list(self.causes),
        }


@dataclass(frozen=True, slots=True)
class Uptime:
    """Time-weighted uptime over a window, with its segments (for the uptime strip)."""

    start_ms: int
    end_ms: int
    met_ms: int
    gap_ms: int
    segments: tuple[Segment, ...]

    @property
    def total_ms(self) -> int:
        return self.end_ms - self.start_ms

    @property
    def pct(self) -> Decimal | None:
        """Share of the window during which the obligations were met, in percent."""
        if self.total_ms <= 0:
            return None
        return Decimal(self.met_ms) * HUNDRED / Decimal(self.total_ms)


_GAP_RULES = (str(Rule.SAMPLING_GAP),)


def compute_uptime(
    points: Iterable[tuple[int, bool, tuple[str, ...]]],
    interval_ms: int,
    start_ms: int | None = None,
    end_ms: int | None = None,
) -> Uptime:
    """Time-weighted uptime of ``(ts_ms, met, rules)`` points sorted by time.

    Each point's state holds until the next point. When the next point (or ``end_ms``) is more
    than ``GAP_INTERVALS * interval_ms`` away, the point holds for ``interval_ms`` only and the
    rest is a gap, counted as not met. Before the first point, time from ``start_ms`` is a gap.
    Without ``end_ms`` the window ends one interval after the last point. Adjacent segments
    with the same state and rules are merged.
    """
    builder = UptimeBuilder(interval_ms, start_ms, end_ms)
    for ts, met, rules in points:
        builder.add(ts, met, rules)
    return builder.finish()


class UptimeBuilder:
    """``compute_uptime`` fed one point at a time (time order), for a stream of samples.

    Memory is the merged segments (one per change of state), never the points: a month of
    one-second samples is folded without keeping them.
    """

    def __init__(
        self, interval_ms: int, start_ms: int | None = None, end_ms: int | None = None
    ) -> None:
        if interval_ms <= 0:
            raise ValueError(f"interval_ms must be positive, got {interval_ms}")
        self.interval_ms = interval_ms
        self._start_ms = start_ms
        self._end_ms = end_ms
        self._limit = GAP_INTERVALS * interval_ms
        self._start: int | None = None  # the window's start, known at the first point
        self._last_ts: int | None = None
        self._pending: tuple[int, bool, tuple[str, ...]] | None = None  # holds until the next
        self._closed = False  # a point at or after end_ms ended the window
        self._segments: list[Segment] = []

    def add(self, ts: int, met: bool, rules: tuple[str, ...] = ()) -> None:
        """The next point; its state holds until the next point (or the window's end)."""
        if self._start is None:
            self._start = ts if self._start_ms is None else min(self._start_ms, ts)
            if ts - self._start > 0:
                self._append(Segment(self._start, ts, False, _GAP_RULES))
        self._last_ts = ts
        if self._closed:
            return
        end = self._end_ms
        if self._pending is not None:
            self._hold(self._pending, ts if end is None else min(ts, end))
            self._pending = None
        if end is not None and ts >= end:
            self._closed = True
            return
        self._pending = (ts, met, rules)

    def finish(self) -> Uptime:
        """The uptime of the window (ends at ``end_ms``, else one interval after the last point)."""
        if self._start is None or self._last_ts is None:
            start_ms, end_ms = self._start_ms, self._end_ms
            if start_ms is None or end_ms is None or end_ms <= start_ms:
                s = start_ms or 0
                return Uptime(s, s, 0, 0, ())
            return Uptime(
                start_ms,
                end_ms,
                0,
                end_ms - start_ms,
                (Segment(start_ms, end_ms, False, _GAP_RULES),),
            )
        end = self._last_ts + self.interval_ms if self._end_ms is None else self._end_ms
        if self._pending is not None:
            self._hold(self._pending, end)
            self._pending = None
        merged = tuple(self._segments)
        met_ms = sum(s.duration_ms for s in merged if s.met)
        gap_ms = sum(s.duration_ms for s in merged if s.rules == _GAP_RULES)
        return Uptime(self._start, end, met_ms, gap_ms, merged)

    def _hold(self, point: tuple[int, bool, tuple[str, ...]], nxt: int) -> None:
        ts, met, rules = point
        if nxt <= ts:  # a later point at the same instant replaces this one
            return
        rules = () if met else tuple(rules)
        if nxt - ts > self._limit:
            self._append(Segment(ts, ts + self.interval_ms, met, rules))
            self._append(Segment(ts + self.interval_ms, nxt, False, _GAP_RULES))
        else:
            self._append(Segment(ts, nxt, met, rules))

    def _append(self, seg: Segment) -> None:
        merged = self._segments
        if (
            merged
            and merged[-1].met == seg.met
            and merged[-1].rules == seg.rules
            and merged[-1].end_ms == seg.start_ms
        ):
            merged[-1] = Segment(merged[-1].start_ms, seg.end_ms, seg.met, seg.rules)
        else:
            merged.append(seg)


def breaches_from_segments(symbol: str, segments: Iterable[Segment]) -> list[Breach]:
    """Join consecutive unmet segments into breaches; a breach lists every rule it broke."""
    out: list[Breach] = []
    current: tuple[int, int, list[str]] | None = None
    for seg in segments:
        if seg.met:
            if current is not None:
                out.append(Breach(symbol, current[0], current[1], tuple(current[2])))
                current = None
            continue
        if current is None:
            current = (seg.start_ms, seg.end_ms, list(seg.rules))
        else:
            rules = current[2] + [r for r in seg.rules if r not in current[2]]
            current = (current[0], seg.end_ms, rules)
    if current is not None:
        out.append(Breach(symbol, current[0], current[1], tuple(current[2])))
    return out


# ---------------------------------------------------------------------------------------------
# The live sampler the runner drives.


class KpiStore(Protocol):
    def add_kpi_sample(self, sample: KpiSample) -> None: ...
    def add_audit_event(self, ev: AuditEvent) -> None: ...


@dataclass
class _OpenBreach:
    start_ms: int
    rules: list[str]
    causes: list[str]


@dataclass
class KpiSampler:
    """Samples one market at ``interval_s`` and keeps the running uptime and breaches.

    The runner calls ``maybe_sample(book, quotes, now_ms, causes)`` on every pass (it samples
    only when an interval has elapsed) or ``sample(...)`` from its own timer. ``causes`` are the
    runner's current hints (``Cause`` values: budget exhausted, risk refusals, stale data,
    balance); a breach remembers every hint seen while it lasted. Samples go to ``store`` (via
    ``submit`` when given, e.g. ``StoreWriter.submit``, so the loop never waits on the disk);
    a closed breach becomes an audit event of category ``obligation``.
    """

    symbol: str
    obligations: Obligations
    interval_s: float = 1.0
    store: KpiStore | None = None
    submit: Callable[[Callable[[], None]], None] | None = None
    on_breach: Callable[[Breach], None] | None = None
    store_samples: bool = True  # False: only breaches go to the store (samples written elsewhere)
    keep_breaches: int = 100
    exchange: str = DEFAULT_EXCHANGE  # whose market (a market is (exchange, symbol))
    latest: KpiReading | None = None
    breaches: list[Breach] = field(default_factory=list)
    samples: int = 0
    met_ms: int = 0
    gap_ms: int = 0
    total_ms: int = 0
    _last_ts: int | None = None
    _last_met: bool = False
    _open: _OpenBreach | None = None

    @property
    def interval_ms(self) -> int:
        return max(1, int(Decimal(str(self.interval_s)) * 1000))

    @property
    def uptime_pct(self) -> Decimal | None:
        """Time-weighted uptime since the first sample (percent), same rules as the report."""
        if self.total_ms <= 0:
            return None
        return Decimal(self.met_ms) * HUNDRED / Decimal(self.total_ms)

    @property
    def open_breach(self) -> Breach | None:
        if self._open is None:
            return None
        return Breach(
            self.symbol,
            self._open.start_ms,
            None,
            tuple(self._open.rules),
            tuple(self._open.causes),
        )

    def due(self, now_ms: int) -> bool:
        return self._last_ts is None or now_ms - self._last_ts >= self.interval_ms

    def maybe_sample(
        self, book: OrderBook, quotes: Sequence[OurQuote], now_ms: int, causes: Iterable[str] = ()
    ) -> KpiReading | None:
        """``sample`` if an interval has elapsed since the last one, else None."""
        if not self.due(now_ms):
            return None
        return self.sample(book, quotes, now_ms, causes)

    def sample(
        self, book: OrderBook, quotes: Sequence[OurQuote], now_ms: int, causes: Iterable[str] = ()
    ) -> KpiReading:
        reading = measure(self.symbol, book, quotes, self.obligations, now_ms)
        hints = [str(c) for c in causes]
        if Rule.NO_MARKET in reading.broken and str(Cause.STALE) not in hints:
            hints.append(str(Cause.STALE))
        self._account(now_ms, reading, hints)
        self.latest = reading
        self.samples += 1
        self._persist_sample(reading)
        return reading

    def _account(self, now_ms: int, reading: KpiReading, hints: list[str]) -> None:
        last = self._last_ts
        if last is not None and now_ms > last:
            dt = now_ms - last
            limit = GAP_INTERVALS * self.interval_ms
            if dt > limit:
                covered = self.interval_ms
                self.gap_ms += dt - covered
                if self._last_met:
                    self.met_ms += covered
                    # the gap opens a breach from the end of the vouched interval
                    self._open_or_extend(
                        last + covered, [str(Rule.SAMPLING_GAP)], [str(Cause.NO_SAMPLES)]
                    )
                else:
                    self._open_or_extend(last, [str(Rule.SAMPLING_GAP)], [str(Cause.NO_SAMPLES)])
            elif self._last_met:
                self.met_ms += dt
            self.total_ms += dt
        if last is None or now_ms > last:
            self._last_ts = now_ms
            self._last_met = reading.met
        if reading.met:
            self._close(now_ms)
        else:
            self._open_or_extend(now_ms, [str(r) for r in reading.broken], hints)

    def _open_or_extend(self, start_ms: int, rules: list[str], causes: list[str]) -> None:
        if self._open is None:
            self._open = _OpenBreach(start_ms, list(rules), list(causes))
            return
        self._open.rules += [r for r in rules if r not in self._open.rules]
        self._open.causes += [c for c in causes if c not in self._open.causes]

    def _close(self, end_ms: int) -> None:
        if self._open is None:
            return
        if end_ms <= self._open.start_ms:  # opened and closed at the same instant: no time lost
            self._open = None
            return
        breach = Breach(
            self.symbol,
            self._open.start_ms,
            end_ms,
            tuple(self._open.rules),
            tuple(self._open.causes) or (str(Cause.UNKNOWN),),
        )
        self._open = None
        self.breaches.append(breach)
        del self.breaches[: -self.keep_breaches]
        self._persist_breach(breach)
        if self.on_breach is not None:
            self.on_breach(breach)

    def close(self, now_ms: int) -> None:
        """End of the session: close an open breach at ``now_ms`` so it is recorded."""
        self._close(now_ms)

    def _run(self, fn: Callable[[], None]) -> None:
        if self.submit is not None:
            self.submit(fn)
        else:
            try:
                fn()
            except Exception:  # the KPI trail must never stop quoting
                log.exception("%s: could not store a KPI record", self.symbol)

    def _persist_sample(self, reading: KpiReading) -> None:
        store = self.store
        if store is None or not self.store_samples:
            return
        row = reading.to_store()
        if self.exchange != DEFAULT_EXCHANGE:
            row = replace(row, exchange=self.exchange)
        self._run(lambda: store.add_kpi_sample(row))

    def _persist_breach(self, breach: Breach) -> None:
        store = self.store
        if store is None:
            return
        ev = breach_audit_event(breach)
        self._run(lambda: store.add_audit_event(ev))


def breach_audit_event(breach: Breach) -> AuditEvent:
    """A closed breach as an audit event (the report reads the causes back from these)."""
    seconds = Decimal(breach.duration_ms or 0) / 1000
    return AuditEvent(
        ts_ms=breach.end_ms if breach.end_ms is not None else breach.start_ms,
        category=AUDIT_CATEGORY,
        action="breach",
        message=(
            f"{breach.symbol}: obligations not met for {seconds} s "
            f"({', '.join(breach.rules)}; causes: {', '.join(breach.causes) or 'unknown'})"
        ),
        actor="kpi",
        detail=breach.to_json(),
    )


def breach_from_audit(ev: AuditEvent) -> Breach | None:
    """Inverse of ``breach_audit_event`` (None for other audit events)."""
    if ev.category != AUDIT_CATEGORY or ev.action != "breach" or not ev.detail:
        return None
    d = ev.detail
    try:
        return Breach(
            str(d["symbol"]),
            int(d["start_ms"]),
            None if d.get("end_ms") is None else int(d["end_ms"]),
            tuple(d.get("rules") or ()),
            tuple(d.get("causes") or ()),
        )
    except (KeyError, TypeError, ValueError):
        return None
