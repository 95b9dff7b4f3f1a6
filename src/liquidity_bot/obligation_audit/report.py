"""The audit's report: the bot's report (``reporting.report``) built from the audit's store.

The figures are the same code's (uptime, spreads, depth within 2 %, breaches, and orders per
minute); the PnL is left out, since a read-only audit does not follow fills. Added per market:
how many of the market maker's orders the samples saw resting, and how many came and went
between two samples (known only from the order history).
"""

from __future__ import annotations

import json
from typing import Any, TextIO

from liquidity_bot.obligation_audit.orders import SAMPLED_EVENT
from liquidity_bot.reporting.report import (
    FORMATS,
    Report,
    SymbolReport,
    fmt_time,
    iter_csv,
    render_html,
)
from liquidity_bot.store import Store

TITLE = "Obligation audit report"
METHOD_NOTE = (
    "Measured by the token project itself, with a read-only API key of the account: every "
    "interval the public order book and the account's open orders were read from the exchange, "
    "and the market maker's resting orders were measured against the obligations by the same "
    "code as the market maker's own report. Uptime is the time-weighted share of the period "
    "during which both sides met every obligation at once (spread at or under the maximum, "
    "depth within &plusmn;2 % of mid at or over the minimum on each side); a pause in sampling "
    "longer than two intervals counts as <b>not met</b>. Orders placed and cancelled are the "
    "exchange's own records (its creation and update times). PnL is not audited."
)


def sampled_ids(store: Store) -> set[str]:
    return {e.client_order_id for e in store.order_events() if e.event == SAMPLED_EVENT}


def _sightings(store: Store, r: SymbolReport) -> dict[str, int]:
    seen = sampled_ids(store)
    placed = [
        o
        for o in store.orders(symbol=r.symbol)
        if r.start_ms <= o.created_ms < r.end_ms
    ]
    unseen = sum(1 for o in placed if o.client_order_id not in seen)
    return {"orders_placed": len(placed), "orders_seen_resting": len(placed) - unseen,
            "orders_not_seen_by_samples": unseen}


def audit_json(report: Report, store: Store) -> dict[str, Any]:
    doc = report.to_json()
    doc["kind"] = "obligation_audit"
    for r in report.symbols:
        entry = doc["symbols"][r.name]
        for key in ("pnl", "volume", "volume_base"):
            entry.pop(key, None)
        entry["audit"] = _sightings(store, r)
    return doc


def _flow_section(store: Store) -> Any:
    def section(r: SymbolReport) -> str:
        s = _sightings(store, r)
        hours: dict[int, list[int]] = {}
        for f in r.order_flow:
            h = hours.setdefault(f.minute_ms - f.minute_ms % 3_600_000, [0, 0, 0, 0])
            h[0] += f.placed
            h[1] += f.cancelled
            h[2] += f.filled
            h[3] = max(h[3], f.placed + f.cancelled)
        rows = "".join(
            f"<tr><td>{fmt_time(h, seconds=False)}</td><td class=\"num\">{v[0]}</td>"
            f"<td class=\"num\">{v[1]}</td><td class=\"num\">{v[2]}</td>"
            f"<td class=\"num\">{v[3]}</td></tr>"
            for h, v in sorted(hours.items())
        )
        head = (
            "<tr><th>Hour</th><th>Placed</th><th>Cancelled</th><th>Filled</th>"
            "<th>Busiest minute (placed + cancelled)</th></tr>"
        )
        return (
            "<h3>The market maker's orders, as the exchange recorded them</h3>"
            f"<table>{head}{rows}</table>"
            f'<p class="note">{s["orders_placed"]} orders placed in the period; the samples saw '
            f'{s["orders_seen_resting"]} of them resting; {s["orders_not_seen_by_samples"]} came '
            "and went between two samples (known from the exchange's order history).</p>"
        )

    return section


def write_audit(report: Report, fmt: str, out: TextIO, store: Store) -> None:
    if fmt == "csv":
        for chunk in iter_csv(report):
            out.write(chunk)
    elif fmt == "json":
        out.write(json.dumps(audit_json(report, store), indent=2))
    elif fmt == "html":
        out.write(
            render_html(
                report,
                TITLE,
                show_pnl=False,
                extra=_flow_section(store),
                method_note=METHOD_NOTE,
            )
        )
    else:
        raise ValueError(f"unknown report format {fmt!r}; choose one of: {', '.join(FORMATS)}")
