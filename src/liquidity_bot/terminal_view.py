"""The live terminal view of a running engine: one panel per market, or plain lines without a TTY.

Per market: the top of the book, our quotes, inventory, PnL of our trades, obligation status
(our spread, our depth within +-2 % of mid, uptime so far) and the key's order budget.
``PlainView`` prints one progress line per market every few seconds (CI logs, pipes).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from liquidity_bot.domain.order import Side


def _d(value: Decimal | None, places: int = 4) -> str:
    if value is None:
        return "-"
    return f"{value:,.{places}f}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f} %"


def market_facts(engine: Any) -> list[dict[str, Any]]:
    """What both views show, per market, as plain values."""
    out = []
    for s in engine.sessions:
        for r in s.runners.values():
            om = r.om
            inst = r.instrument
            bid, ask = r.book.best_bid, r.book.best_ask
            ob = r.obligation
            out.append(
                {
                    "symbol": getattr(r, "name", r.symbol),  # exchange:SYMBOL off Bitrue
                    "key": s.label,
                    "status": r.status,
                    "bid": bid,
                    "ask": ask,
                    "mid": r.book.mid,
                    "our_bids": sorted(
                        ((o.price, o.remaining_qty) for o in om.resting(Side.BUY)), reverse=True
                    ),
                    "our_asks": sorted((o.price, o.remaining_qty) for o in om.resting(Side.SELL)),
                    "base": (inst.base, s.balances.total(inst.base)),
                    "quote": (inst.quote, s.balances.total(inst.quote)),
                    "base_traded": om.base_traded,
                    "pnl": om.pnl(r.book.mid),
                    "fills": om.stats.fills,
                    "placed": om.stats.placed,
                    "cancels": om.stats.cancel_requests,
                    "spread_pct": ob.spread_pct,
                    "bid_depth": ob.bid_depth,
                    "ask_depth": ob.ask_depth,
                    "met": ob.met,
                    "uptime": ob.uptime,
                    "max_spread_pct": r.config.obligations.max_spread_pct,
                    "min_depth": r.config.obligations.min_depth_2pct_quote,
                    "budget_used": s.budget.used(),
                    "budget_capacity": s.budget.target,  # what quoting aims under
                    "budget_skipped": om.stats.budget_skipped,
                    "errors": r.errors,
                }
            )
    return out


def alerts_panel(alerts: Any, note: str | None = None, last: int = 5) -> Panel:
    """Where alerts go and the latest ones sent (``alerts`` is an ``AlertDispatcher``)."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column()
    where = ", ".join(f"{s.channel.name} ({s.channel.kind})" for s in alerts.senders)
    grid.add_row(f"to: {where or 'the log only (no [[alerts.channels]])'}"
                 + (f"  {note}" if note else ""))
    colour = {"firing": "red", "reminder": "yellow", "resolved": "green", "test": "cyan"}
    for n in list(alerts.history)[-last:]:
        grid.add_row(f"[{colour.get(n.status, 'white')}]{escape(n.headline())}[/]")
    if not alerts.history:
        grid.add_row("none so far")
    return Panel(grid, title="alerts", expand=False)


def render(engine: Any, title: str = "liquidity-bot", alerts: Any = None,
           alerts_note: Callable[[], str] | None = None) -> Group:
    panels = []
    for f in market_facts(engine):
        book = Table.grid(padding=(0, 2))
        book.add_column(justify="right")
        book.add_column(justify="right")
        book.add_column(justify="right")
        book.add_row("[b]our bids[/b]", "[b]book[/b]", "[b]our asks[/b]")
        depth = max(len(f["our_bids"]), len(f["our_asks"]), 1)
        for i in range(depth):
            ob = f["our_bids"][i] if i < len(f["our_bids"]) else None
            oa = f["our_asks"][i] if i < len(f["our_asks"]) else None
            middle = ""
            if i == 0:
                bid = f["bid"][0] if f["bid"] else None
                ask = f["ask"][0] if f["ask"] else None
                middle = f"{_d(bid)} / {_d(ask)}"
            book.add_row(
                f"[green]{_d(ob[1], 1)} @ {_d(ob[0])}[/green]" if ob else "",
                middle,
                f"[red]{_d(oa[0])} x {_d(oa[1], 1)}[/red]" if oa else "",
            )
        facts = Table.grid(padding=(0, 2))
        facts.add_column(style="bold")
        facts.add_column()
        base_asset, base = f["base"]
        quote_asset, quote = f["quote"]
        facts.add_row("status", f["status"])
        facts.add_row("inventory", f"{_d(base, 1)} {base_asset}   {_d(quote, 2)} {quote_asset}")
        facts.add_row(
            "our trades", f"{f['fills']} fills, net {_d(f['base_traded'], 1)} {base_asset}"
        )
        facts.add_row("PnL (at mid)", f"{_d(f['pnl'], 4)} {quote_asset}")
        met = "[green]met[/green]" if f["met"] else "[yellow]not met[/yellow]"
        facts.add_row(
            "obligations",
            f"{met}: spread {_d(f['spread_pct'], 3)} % (max {f['max_spread_pct']} %), depth "
            f"{_d(f['bid_depth'], 0)}/{_d(f['ask_depth'], 0)} (min {f['min_depth']}), "
            f"uptime {_pct(f['uptime'])}",
        )
        facts.add_row(
            "order budget",
            f"{f['budget_used']}/{f['budget_capacity']} in the last 60 s; "
            f"{f['placed']} placed, {f['cancels']} cancels, {f['budget_skipped']} deferred",
        )
        if f["errors"]:
            facts.add_row("errors", str(f["errors"]))
        panels.append(
            Panel(Group(book, facts), title=f"{f['symbol']}  (key {f['key']})", expand=False)
        )
    if not panels:
        panels.append(Panel("starting..."))
    if alerts is not None:
        panels.append(alerts_panel(alerts, alerts_note() if alerts_note else None))
    return Group(*panels)


class LiveView:
    """rich Live view, refreshed by ``update(engine)`` (call it from the engine's tick)."""

    def __init__(self, console: Console, title: str = "liquidity-bot", alerts: Any = None,
                 alerts_note: Callable[[], str] | None = None) -> None:
        self.console = console
        self.title = title
        self.alerts = alerts
        self.alerts_note = alerts_note
        self._live: Live | None = None

    def __enter__(self) -> LiveView:
        self._live = Live(console=self.console, refresh_per_second=4, transient=False)
        self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.__exit__(None, None, None)

    def update(self, engine: Any) -> None:
        if self._live is not None:
            self._live.update(render(engine, self.title, self.alerts, self.alerts_note))


class PlainView:
    """One progress line per market every ``every_s`` seconds (no TTY: CI, pipes)."""

    def __init__(self, console: Console, every_s: float = 5.0, alerts: Any = None) -> None:
        self.console = console
        self.every_s = every_s
        self.alerts = alerts
        self._alerts_shown = 0  # alerts printed so far
        self._next = 0.0
        self._t0 = time.monotonic()

    def __enter__(self) -> PlainView:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def update(self, engine: Any) -> None:
        now = time.monotonic()
        if self.alerts is not None and self.alerts.notices > self._alerts_shown:
            fresh = min(self.alerts.notices - self._alerts_shown, len(self.alerts.history))
            for n in list(self.alerts.history)[-fresh:]:
                self.console.print(f"[{now - self._t0:5.0f} s] alert: {n.headline()}",
                                   markup=False, highlight=False)
            self._alerts_shown = self.alerts.notices
        if now < self._next:
            return
        self._next = now + self.every_s
        for f in market_facts(engine):
            bid = f["our_bids"][0][0] if f["our_bids"] else None
            ask = f["our_asks"][0][0] if f["our_asks"] else None
            self.console.print(
                f"[{now - self._t0:5.0f} s] {f['symbol']} {f['status']}: "
                f"book {_d(f['bid'][0] if f['bid'] else None)}/"
                f"{_d(f['ask'][0] if f['ask'] else None)}, "
                f"ours {_d(bid)}/{_d(ask)} ({len(f['our_bids'])}+{len(f['our_asks'])} orders), "
                f"fills {f['fills']}, pnl {_d(f['pnl'])}, "
                f"obligations {'met' if f['met'] else 'not met'} "
                f"(uptime {_pct(f['uptime'])}), budget {f['budget_used']}/{f['budget_capacity']}",
                markup=False,
                highlight=False,
            )


def view_for(console: Console, alerts: Any = None,
             alerts_note: Callable[[], str] | None = None) -> LiveView | PlainView:
    """A live view on a terminal, progress lines otherwise; ``alerts`` (an ``AlertDispatcher``)
    adds where alerts go and the latest ones."""
    if console.is_terminal:
        return LiveView(console, alerts=alerts, alerts_note=alerts_note)
    return PlainView(console, alerts=alerts)
