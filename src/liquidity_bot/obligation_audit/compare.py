"""Two reports of the same markets side by side: the market maker's and the token project's.

Both are ``report --format json`` documents (the audit's adds an ``audit`` entry per market).
Over the period both cover, per market and per hour: each side's uptime (from its breaches: the
report's breaches are exactly its unmet time) and the orders each side counted. Every stretch
where one side says the obligations were met and the other does not is listed with the likely
reason: a sampling gap on one side, the minimum rest time (the two sides date an order's start
differently), orders one side did not see, or the two samplers' timing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

HOUR_MS = 3_600_000
HUNDRED = Decimal(100)
OURS, THEIRS = "ours", "theirs"


class CompareError(ValueError):
    """A document that is not a report; the message says which and what to do."""


@dataclass(frozen=True)
class Side:
    """One report's view of one market."""

    start_ms: int
    end_ms: int
    interval_ms: int
    unmet: tuple[tuple[int, int, tuple[str, ...]], ...]  # (start, end, rules)
    placed: dict[int, int]  # minute -> orders placed
    cancelled: dict[int, int]
    min_rest_s: Decimal | None
    not_seen_by_samples: int | None


@dataclass(frozen=True)
class HourRow:
    symbol: str
    hour_ms: int
    span_ms: int
    uptime_ours: Decimal | None
    uptime_theirs: Decimal | None
    placed_ours: int
    placed_theirs: int
    cancelled_ours: int
    cancelled_theirs: int

    @property
    def diff(self) -> Decimal | None:
        if self.uptime_ours is None or self.uptime_theirs is None:
            return None
        return self.uptime_ours - self.uptime_theirs

    def to_json(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "hour_ms": self.hour_ms,
            "covered_s": str(Decimal(self.span_ms) / 1000),
            "uptime_ours_pct": _s(self.uptime_ours),
            "uptime_theirs_pct": _s(self.uptime_theirs),
            "difference_pct": _s(self.diff),
            "placed_ours": self.placed_ours,
            "placed_theirs": self.placed_theirs,
            "cancelled_ours": self.cancelled_ours,
            "cancelled_theirs": self.cancelled_theirs,
        }


@dataclass(frozen=True)
class Disagreement:
    symbol: str
    start_ms: int
    end_ms: int
    unmet_by: str  # which side says the obligations were not met (ours | theirs)
    rules: tuple[str, ...]
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "start_ms": self.start_ms,
            "end_ms": self.end_ms,
            "duration_s": str(Decimal(self.end_ms - self.start_ms) / 1000),
            "unmet_by": self.unmet_by,
            "rules": list(self.rules),
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Comparison:
    hours: tuple[HourRow, ...]
    disagreements: tuple[Disagreement, ...]
    only_ours: tuple[str, ...]
    only_theirs: tuple[str, ...]
    shorter_left_out: int = 0  # disagreements shorter than ``min_s``, not listed

    def worst_difference(self) -> Decimal:
        return max((abs(h.diff) for h in self.hours if h.diff is not None), default=Decimal(0))

    def to_json(self) -> dict[str, Any]:
        return {
            "hours": [h.to_json() for h in self.hours],
            "disagreements": [d.to_json() for d in self.disagreements],
            "markets_only_in_ours": list(self.only_ours),
            "markets_only_in_theirs": list(self.only_theirs),
            "worst_hourly_difference_pct": str(self.worst_difference()),
            "shorter_disagreements_left_out": self.shorter_left_out,
        }


def _s(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _symbols(doc: Any, which: str) -> Mapping[str, Any]:
    if not isinstance(doc, dict) or not isinstance(doc.get("symbols"), dict):
        raise CompareError(
            f"the {which} document is not a report: write it with `liquidity-bot report --format "
            f"json` (or `liquidity-bot audit report --format json`)"
        )
    return doc["symbols"]


def side_of(entry: Mapping[str, Any], symbol: str, which: str) -> Side:
    """One market of a report document."""
    try:
        start, end = int(entry["from_ms"]), int(entry["to_ms"])
        interval = int(Decimal(str(entry["interval_s"])) * 1000)
        unmet = tuple(
            (
                int(b["start_ms"]),
                end if b.get("end_ms") is None else int(b["end_ms"]),
                tuple(str(r) for r in b.get("rules") or ()),
            )
            for b in entry.get("breaches") or ()
        )
        placed: dict[int, int] = {}
        cancelled: dict[int, int] = {}
        for f in entry.get("orders_per_minute") or ():
            placed[int(f["minute_ms"])] = int(f["placed"])
            cancelled[int(f["minute_ms"])] = int(f["cancelled"])
        obligations = entry.get("obligations") or {}
        rest = obligations.get("min_rest_s")
        audit = entry.get("audit") or {}
    except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
        raise CompareError(f"{which} report, market {symbol}: malformed ({exc!r})") from None
    return Side(
        start,
        end,
        max(1, interval),
        unmet,
        placed,
        cancelled,
        None if rest is None else Decimal(str(rest)),
        audit.get("orders_not_seen_by_samples"),
    )


def _clip(spans: Iterable[tuple[int, int, tuple[str, ...]]], lo: int, hi: int) -> int:
    return sum(max(0, min(e, hi) - max(s, lo)) for s, e, _ in spans)


def _flags(spans: tuple[tuple[int, int, tuple[str, ...]], ...], cuts: list[int]) -> list[bool]:
    """For each stretch between consecutive cuts: is it inside an unmet span?"""
    out = []
    for a, b in zip(cuts, cuts[1:], strict=False):
        mid2 = a + b  # twice the midpoint, to stay in integers
        out.append(any(2 * s <= mid2 < 2 * e for s, e, _ in spans))
    return out


def _rules_at(spans: tuple[tuple[int, int, tuple[str, ...]], ...], a: int, b: int) -> tuple[str, ...]:
    rules: list[str] = []
    for s, e, r in spans:
        if s < b and e > a:
            rules += [x for x in r if x not in rules]
    return tuple(rules)


def _count(per_minute: Mapping[int, int], lo: int, hi: int) -> int:
    return sum(n for m, n in per_minute.items() if lo <= m < hi)


def _reason(
    a: int, b: int, unmet_by: str, rules: tuple[str, ...], ours: Side, theirs: Side
) -> str:
    tick = max(ours.interval_ms, theirs.interval_ms)
    if "sampling_gap" in rules:
        who = "our bot" if unmet_by == OURS else "the audit"
        return f"sampling gap: {who} took no sample here, which counts as not met"
    rest = ours.min_rest_s if ours.min_rest_s is not None else theirs.min_rest_s
    if rest is not None and b - a <= int(rest * 1000) + 2 * tick:
        return (
            f"min rest time ({rest} s): an order counts only once it has rested that long, and the "
            "bot dates an order from when it sent it, the exchange from when it booked it"
        )
    lo, hi = a - a % 60_000, b + 60_000
    po, pt = _count(ours.placed, lo, hi), _count(theirs.placed, lo, hi)
    if po != pt:
        return (
            f"orders the other side did not see: around here our bot counted {po} orders placed, "
            f"the exchange showed the audit {pt}"
        )
    if b - a <= 2 * tick:
        return (
            "sampling timing: the two sides sample at different instants, so a change is seen up "
            "to one interval apart"
        )
    return "unexplained: compare both sides' samples (CSV) around this time"


def compare_symbol(
    symbol: str, ours: Side, theirs: Side
) -> tuple[list[HourRow], list[Disagreement]]:
    start, end = max(ours.start_ms, theirs.start_ms), min(ours.end_ms, theirs.end_ms)
    hours: list[HourRow] = []
    if end <= start:
        return hours, []
    h = start - start % HOUR_MS
    while h < end:
        lo, hi = max(h, start), min(h + HOUR_MS, end)
        span = hi - lo

        def up(side: Side, lo: int = lo, hi: int = hi, span: int = span) -> Decimal:
            return Decimal(span - _clip(side.unmet, lo, hi)) * HUNDRED / Decimal(span)

        hours.append(
            HourRow(
                symbol,
                h,
                span,
                up(ours),
                up(theirs),
                _count(ours.placed, h, h + HOUR_MS),
                _count(theirs.placed, h, h + HOUR_MS),
                _count(ours.cancelled, h, h + HOUR_MS),
                _count(theirs.cancelled, h, h + HOUR_MS),
            )
        )
        h += HOUR_MS
    cuts = sorted(
        {start, end}
        | {t for s, e, _ in ours.unmet + theirs.unmet for t in (s, e) if start < t < end}
    )
    fo, ft = _flags(ours.unmet, cuts), _flags(theirs.unmet, cuts)
    disagreements: list[Disagreement] = []
    run: tuple[int, int, str] | None = None
    for (a, b), x, y in zip(zip(cuts, cuts[1:], strict=False), fo, ft, strict=False):
        who = None if x == y else (OURS if x else THEIRS)
        if run is not None and who == run[2] and a == run[1]:
            run = (run[0], b, run[2])
            continue
        if run is not None:
            disagreements.append(_disagreement(symbol, run, ours, theirs))
        run = None if who is None else (a, b, who)
    if run is not None:
        disagreements.append(_disagreement(symbol, run, ours, theirs))
    return hours, disagreements


def _disagreement(symbol: str, run: tuple[int, int, str], ours: Side, theirs: Side) -> Disagreement:
    a, b, who = run
    rules = _rules_at(ours.unmet if who == OURS else theirs.unmet, a, b)
    return Disagreement(symbol, a, b, who, rules, _reason(a, b, who, rules, ours, theirs))


def compare_reports(ours_doc: Any, theirs_doc: Any, *, min_s: float = 0.0) -> Comparison:
    """Compare two report documents market by market (markets in both), hour by hour."""
    ours_syms, theirs_syms = _symbols(ours_doc, "--ours"), _symbols(theirs_doc, "--theirs")
    hours: list[HourRow] = []
    found: list[Disagreement] = []
    for symbol in sorted(set(ours_syms) & set(theirs_syms)):
        h, d = compare_symbol(
            symbol,
            side_of(ours_syms[symbol], symbol, "--ours"),
            side_of(theirs_syms[symbol], symbol, "--theirs"),
        )
        hours += h
        found += d
    listed = [d for d in found if d.end_ms - d.start_ms >= min_s * 1000]
    return Comparison(
        tuple(hours),
        tuple(listed),
        tuple(sorted(set(ours_syms) - set(theirs_syms))),
        tuple(sorted(set(theirs_syms) - set(ours_syms))),
        len(found) - len(listed),
    )
