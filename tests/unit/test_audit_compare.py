"""Comparing the bot's report with the audit's: hourly uptimes from the breaches, and every
stretch where one side says not met and the other does not, with its reason."""

from __future__ import annotations

from decimal import Decimal

import pytest

from liquidity_bot.obligation_audit.compare import CompareError, compare_reports

H = 3_600_000
T0 = 1_700_002_800_000 - 1_700_002_800_000 % H  # an hour boundary


def _doc(breaches, *, start=T0, end=T0 + 2 * H, interval="1", placed=None, rest=None, symbol="XRPUSDT"):
    return {
        "symbols": {
            symbol: {
                "from_ms": start,
                "to_ms": end,
                "interval_s": interval,
                "obligations": {"max_spread_pct": "1", "min_depth_2pct_quote": "100",
                                "min_rest_s": rest},
                "breaches": [
                    {"symbol": symbol, "start_ms": s, "end_ms": e, "rules": list(r), "causes": []}
                    for s, e, r in breaches
                ],
                "orders_per_minute": [
                    {"minute_ms": m, "placed": n, "cancelled": 0, "filled": 0}
                    for m, n in (placed or {}).items()
                ],
            }
        }
    }


def test_identical_reports_agree_hour_by_hour() -> None:
    doc = _doc([(T0 + 60_000, T0 + 120_000, ("two_sided",))])
    result = compare_reports(doc, doc)
    assert [h.hour_ms for h in result.hours] == [T0, T0 + H]
    first = result.hours[0]
    assert first.uptime_ours == first.uptime_theirs == Decimal(3540) * 100 / Decimal(3600)
    assert result.hours[1].uptime_ours == 100
    assert result.disagreements == () and result.worst_difference() == 0


def test_a_gap_on_one_side_is_named_as_the_reason() -> None:
    ours = _doc([(T0 + 600_000, T0 + 660_000, ("sampling_gap",))])
    theirs = _doc([])
    result = compare_reports(ours, theirs)
    (d,) = result.disagreements
    assert (d.start_ms, d.end_ms, d.unmet_by) == (T0 + 600_000, T0 + 660_000, "ours")
    assert d.reason.startswith("sampling gap: our bot")
    assert abs(result.hours[0].diff + Decimal(60_000) * 100 / H) < Decimal("1e-20")


def test_short_disagreements_blame_min_rest_then_unseen_orders_then_timing() -> None:
    rest = _doc([(T0 + 10_000, T0 + 14_000, ("min_depth_bid",))], rest="5")
    assert "min rest time" in compare_reports(rest, _doc([], rest="5")).disagreements[0].reason
    unseen = _doc([], placed={T0: 3})
    theirs = _doc([(T0 + 10_000, T0 + 11_000, ("two_sided",))], placed={T0: 2})
    reason = compare_reports(unseen, theirs).disagreements[0].reason
    assert "did not see" in reason and "counted 3" in reason and "audit 2" in reason
    same = _doc([], placed={T0: 2})
    timing = compare_reports(same, theirs).disagreements[0]
    assert timing.unmet_by == "theirs" and timing.reason.startswith("sampling timing")
    long = _doc([(T0 + 10_000, T0 + 70_000, ("max_spread",))])
    assert compare_reports(long, _doc([])).disagreements[0].reason.startswith("unexplained")
    hidden = compare_reports(long, _doc([]), min_s=61)
    assert hidden.disagreements == () and hidden.shorter_left_out == 1


def test_only_the_common_window_and_markets_are_compared() -> None:
    ours = _doc([(T0, T0 + 30 * 60_000, ("sampling_gap",))], end=T0 + H)
    theirs = _doc([], start=T0 + 30 * 60_000, end=T0 + 2 * H)
    theirs["symbols"]["BTCUSDT"] = theirs["symbols"]["XRPUSDT"]
    result = compare_reports(ours, theirs)
    (hour,) = result.hours
    assert hour.span_ms == 30 * 60_000 and hour.uptime_ours == hour.uptime_theirs == 100
    assert result.only_theirs == ("BTCUSDT",) and result.only_ours == ()


def test_a_document_that_is_not_a_report_is_refused_clearly() -> None:
    with pytest.raises(CompareError, match="--theirs document is not a report"):
        compare_reports(_doc([]), {"uptime": 99})
    broken = _doc([])
    del broken["symbols"]["XRPUSDT"]["interval_s"]
    with pytest.raises(CompareError, match="--ours report, market XRPUSDT: malformed"):
        compare_reports(broken, _doc([]))
