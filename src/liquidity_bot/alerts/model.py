"""What an alert is: a condition worth waking someone for, and the message that says so.

An ``Alert`` names its market and key *label* (never a key), says what is wrong, why it is
likely so, and what to do. Alerts with the same ``group`` are one condition: the dispatcher sends
it once ("firing"), counts repeats, reminds while it lasts and says "resolved" when it clears.
A ``Notice`` is one such message as the channels format it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

__all__ = ["Alert", "Kind", "Notice", "Severity", "Status"]


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.CRITICAL: 2}


class Kind(StrEnum):
    """Every alert the bot sends; the Prometheus rules in examples/prometheus use the same names."""

    BREACH = "obligation_breach"
    SIDE_EMPTY = "side_empty"
    KILL_SWITCH = "kill_switch"
    LOSS_LIMIT = "loss_limit"  # minimum-obligation quoting until reset
    STALE_DATA = "stale_market_data"
    KEY_REFUSED = "key_refused"
    KEY_REVIEW = "key_review_due"
    KEY_UNUSED = "key_unused"
    RATE_LIMITED = "rate_limited"
    IP_BANNED = "ip_banned"
    MARKET_FAILED = "market_failed"
    LEFT_OPEN = "orders_left_open"
    BOT_STOPPING = "bot_stopping"
    TEST = "test"


Status = Literal["firing", "reminder", "resolved", "test"]


def _now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True, slots=True)
class Alert:
    """One occurrence of a condition (see the module docstring).

    ``one_shot``: an event rather than a state (a 429, the bot stopping): repeats are grouped
    but no "resolved" follows.
    """

    kind: Kind
    severity: Severity
    summary: str
    action: str
    market: str | None = None
    key_label: str | None = None
    subject: str | None = None  # what else tells two alerts of a kind apart (a side, a finding)
    detail: str = ""
    one_shot: bool = False
    ts_ms: int = field(default_factory=_now_ms)

    @property
    def group(self) -> tuple[str, str | None, str | None, str | None]:
        return (str(self.kind), self.market, self.key_label, self.subject)


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="seconds").replace(
        "+00:00", "Z")


def _duration(ms: int) -> str:
    s = max(0, ms // 1000)
    if s < 120:
        return f"{s} s"
    if s < 7200:
        return f"{s // 60} min"
    return f"{s // 3600} h {s % 3600 // 60} min"


@dataclass(frozen=True, slots=True)
class Notice:
    """One message about one alert group: it started, it still lasts, it cleared, or a test."""

    alert: Alert
    status: Status
    repeats: int = 0  # occurrences grouped since the previous message about this group
    since_ms: int = 0  # when the condition was first seen
    ts_ms: int = field(default_factory=_now_ms)

    @property
    def severity(self) -> Severity:
        return Severity.INFO if self.status == "resolved" else self.alert.severity

    def headline(self) -> str:
        """One line: status, severity, where, what."""
        a = self.alert
        where = " ".join(x for x in (a.market, f"key {a.key_label!r}" if a.key_label else None)
                         if x)
        tag = {"firing": a.severity.upper(), "reminder": f"STILL {a.severity.upper()}",
               "resolved": "RESOLVED", "test": "TEST"}[self.status]
        text = f"[{tag}] {where + ': ' if where else ''}{a.summary}"
        if self.status == "resolved":
            text += f" (lasted {_duration(self.ts_ms - self.since_ms)})"
        elif self.status == "reminder":
            text += f" (for {_duration(self.ts_ms - self.since_ms)}"
            text += f", {self.repeats} more since the last message)" if self.repeats else ")"
        elif self.repeats:
            text += f" ({self.repeats} repeats)"
        return text

    def lines(self) -> list[str]:
        """The body: detail and what to do (not for "resolved": nothing to do any more)."""
        a = self.alert
        out = []
        if a.detail and self.status != "resolved":
            out.append(a.detail)
        if a.action and self.status in ("firing", "reminder"):
            out.append(f"What to do: {a.action}")
        return out

    def text(self) -> str:
        return "\n".join([self.headline(), *self.lines()])

    def to_json(self) -> dict[str, Any]:
        a = self.alert
        return {
            "status": self.status,
            "severity": str(self.severity),
            "kind": str(a.kind),
            "market": a.market,
            "key_label": a.key_label,
            "subject": a.subject,
            "summary": a.summary,
            "detail": a.detail,
            "action": a.action if self.status in ("firing", "reminder") else "",
            "repeats": self.repeats,
            "since": _iso(self.since_ms or a.ts_ms),
            "at": _iso(self.ts_ms),
            "headline": self.headline(),
            "text": self.text(),
        }
