"""The live dashboard: book and our quotes, KPIs against obligations, PnL, budgets, keys, events.

The runner owns a ``DashboardState`` and updates it as things happen (from the event loop
thread); ``start_dashboard`` serves it with aiohttp. The page is plain HTML + JS served by this
process (no CDN, nothing fetched elsewhere): it loads ``/api/state`` once, then receives a fresh
state over Server-Sent Events (``/events``) at most every ``push_interval_s``, without reloading.
``/metrics`` serves the Prometheus metrics when a ``BotMetrics`` is given.

Security, because this page shows a trading account:
- it binds to 127.0.0.1 by default; any other address requires a token
  ($LIQUIDITY_BOT_DASHBOARD_TOKEN) and ``start_dashboard`` refuses to start without one;
- with a token, every route but ``/healthz`` needs it: ``Authorization: Bearer``, or
  ``?token=`` once (the browser is then given an HttpOnly, SameSite=Strict cookie and redirected
  to a URL without the token);
- on loopback without a token the Host header must name a loopback host (blocks DNS rebinding);
- no access log (query strings could carry the token), a strict Content-Security-Policy, and
  the page renders data with ``textContent`` only, never as HTML.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
import logging
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from importlib import resources
from typing import Any

from aiohttp import web

from liquidity_bot.domain.book import OrderBook
from liquidity_bot.domain.market_id import DEFAULT_EXCHANGE
from liquidity_bot.reporting.kpi import Breach, KpiReading, Obligations, OurQuote
from liquidity_bot.web.metrics import BotMetrics

log = logging.getLogger(__name__)

TOKEN_COOKIE = "lb_dashboard"
BOOK_LEVELS = 12
_LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})


# live dashboards at once (SSE streams); [dashboard] max_sse_clients
DEFAULT_MAX_SSE_CLIENTS = 32


class DashboardError(RuntimeError):
    """The dashboard cannot start as configured (the message says what to do)."""


def _s(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def is_loopback(host: str) -> bool:
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass
class MarketView:
    """What the dashboard shows of one market (JSON-ready on demand)."""

    symbol: str
    status: str = "starting"
    bids: list[tuple[Decimal, Decimal]] = field(default_factory=list)
    asks: list[tuple[Decimal, Decimal]] = field(default_factory=list)
    quotes: list[OurQuote] = field(default_factory=list)
    reading: KpiReading | None = None
    uptime_pct: Decimal | None = None
    obligations: Obligations | None = None
    pnl: dict[str, Any] = field(default_factory=dict)
    breaches: list[Breach] = field(default_factory=list)
    book_ts_ms: int | None = None
    markouts: dict[str, Any] | None = None  # `Markouts.to_json()`
    estimates: dict[str, Any] | None = None  # `estimates_view`
    exchange: str = DEFAULT_EXCHANGE  # ``symbol`` is the market's name: exchange:SYMBOL off Bitrue

    def to_json(self) -> dict[str, Any]:
        ours = {(q.side, q.price) for q in self.quotes}
        o = self.obligations
        return {
            "symbol": self.symbol,
            "exchange": self.exchange,
            "status": self.status,
            "book_ts_ms": self.book_ts_ms,
            "bids": [[str(p), str(q), ("BUY", p) in ours] for p, q in self.bids],
            "asks": [[str(p), str(q), ("SELL", p) in ours] for p, q in self.asks],
            "quotes": [
                {"side": q.side, "price": str(q.price), "qty": str(q.qty), "since_ms": q.since_ms}
                for q in sorted(
                    self.quotes, key=lambda q: (q.side, q.price if q.side == "SELL" else -q.price)
                )
            ],
            "kpi": None if self.reading is None else self.reading.to_json(),
            "uptime_pct": _s(self.uptime_pct),
            "obligations": None
            if o is None
            else {
                "max_spread_pct": str(o.max_spread_pct),
                "min_depth_2pct_quote": str(o.min_depth_2pct_quote),
                "min_rest_s": o.min_rest_s,
            },
            "pnl": self.pnl,
            "breaches": [b.to_json() for b in self.breaches[-10:]],
            "markouts": self.markouts,
            "estimates": self.estimates,
        }


class DashboardState:
    """Everything the dashboard shows; the runner updates it, the server pushes it.

    Call the update methods from the event loop's thread. Each update bumps ``version`` and
    wakes the SSE streams, which send at most one snapshot per ``push_interval_s``.
    """

    def __init__(self, title: str = "liquidity-bot", max_events: int = 50) -> None:
        self.title = title
        self.started_ms = int(time.time() * 1000)
        self.markets: dict[str, MarketView] = {}
        self.budgets: dict[str, dict[str, int]] = {}
        self.rate_limits: dict[str, dict[str, int]] = {}
        self.keys: list[dict[str, Any]] = []
        self.events: deque[dict[str, Any]] = deque(maxlen=max_events)
        self.mode = ""
        self.version = 0
        self._changed: asyncio.Event | None = None

    # --- updates -------------------------------------------------------------------------------
    def market(self, symbol: str) -> MarketView:
        view = self.markets.get(symbol)
        if view is None:
            view = self.markets[symbol] = MarketView(symbol)
        return view

    def update_market(
        self,
        symbol: str,
        *,
        book: OrderBook | None = None,
        quotes: Sequence[OurQuote] | None = None,
        reading: KpiReading | None = None,
        uptime_pct: Decimal | None = None,
        obligations: Obligations | None = None,
        status: str | None = None,
        exchange: str | None = None,
    ) -> None:
        """Update what is given; leave the rest as it was."""
        v = self.market(symbol)
        if exchange is not None:
            v.exchange = exchange
        if book is not None:
            v.bids = list(book.bids[:BOOK_LEVELS])
            v.asks = list(book.asks[:BOOK_LEVELS])
            v.book_ts_ms = book.ts_ms
        if quotes is not None:
            v.quotes = list(quotes)
        if reading is not None:
            v.reading = reading
        if uptime_pct is not None:
            v.uptime_pct = uptime_pct
        if obligations is not None:
            v.obligations = obligations
        if status is not None:
            v.status = status
        self.changed()

    def update_analytics(
        self, symbol: str, markouts: dict[str, Any] | None, estimates: dict[str, Any] | None
    ) -> None:
        """Markouts of our fills and the strategy's estimates (JSON-ready)."""
        v = self.market(symbol)
        v.markouts, v.estimates = markouts, estimates
        self.changed()

    def update_pnl(self, symbol: str, pnl: Mapping[str, Any]) -> None:
        """``PnlSummary.to_json()`` or any dict of strings (inventory, PnL, fees...)."""
        self.market(symbol).pnl = dict(pnl)
        self.changed()

    def add_breach(self, breach: Breach, market: str | None = None) -> None:
        """A closed breach of ``market`` (its name; the breach's symbol when not given)."""
        v = self.market(market or breach.symbol)
        v.breaches.append(breach)
        del v.breaches[:-50]
        rules = ", ".join(breach.rules)
        causes = ", ".join(breach.causes)
        self.add_event(
            "breach", f"{breach.symbol}: obligations not met ({rules}; {causes})", level="warning"
        )

    def set_budget(self, key: str, used: int, capacity: int) -> None:
        self.budgets[key] = {"used": used, "capacity": capacity}
        self.changed()

    def set_rate_limits(self, headroom: Mapping[str, tuple[int, int]]) -> None:
        """From ``RateGovernor.headroom()``: ``{policy: (used, limit)}``."""
        self.rate_limits = {p: {"used": u, "limit": lim} for p, (u, lim) in headroom.items()}
        self.changed()

    def set_keys(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Key status rows (``keys.hygiene.KeyRow.to_json()``; never a secret)."""
        allowed = (
            "label",
            "status",
            "last_verdict",
            "age_days",
            "review_due",
            "review_overdue",
            "last_verified_at",
            "api_key_hint",
            "markets",
        )
        self.keys = [{k: r.get(k) for k in allowed} for r in rows]
        self.changed()

    def add_event(
        self, kind: str, message: str, *, ts_ms: int | None = None, level: str = "info"
    ) -> None:
        self.events.appendleft(
            {
                "ts_ms": ts_ms if ts_ms is not None else int(time.time() * 1000),
                "kind": kind,
                "level": level,
                "message": message,
            }
        )
        self.changed()

    def changed(self) -> None:
        self.version += 1
        if self._changed is not None:
            self._changed.set()

    # --- reading -------------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "mode": self.mode,
            "version": self.version,
            "now_ms": int(time.time() * 1000),
            "started_ms": self.started_ms,
            "markets": [v.to_json() for v in sorted(self.markets.values(),
                                                    key=lambda v: (v.exchange, v.symbol))],
            "exchanges": {ex: sorted(n for n, v in self.markets.items() if v.exchange == ex)
                          for ex in sorted({v.exchange for v in self.markets.values()})},
            "budgets": self.budgets,
            "rate_limits": self.rate_limits,
            "keys": self.keys,
            "events": list(self.events),
        }

    async def wait_changed(self, version: int, timeout: float) -> bool:
        """Wait until ``version`` is outdated (True) or ``timeout`` passes (False)."""
        if self.version != version:
            return True
        if self._changed is None:
            self._changed = asyncio.Event()
        self._changed.clear()
        try:
            await asyncio.wait_for(self._changed.wait(), timeout)
        except TimeoutError:
            return self.version != version
        return True


# ---------------------------------------------------------------------------------------------
# The server.


def _static(name: str) -> bytes:
    return resources.files("liquidity_bot.web").joinpath("static", name).read_bytes()


_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


@dataclass
class DashboardServer:
    """A running dashboard: ``url`` to open, ``stop()`` to end it."""

    runner: web.AppRunner
    host: str
    port: int

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    async def stop(self) -> None:
        await self.runner.cleanup()


def build_app(
    state: DashboardState,
    *,
    token: str | None,
    metrics: BotMetrics | None = None,
    loopback_only: bool = True,
    push_interval_s: float = 0.25,
    heartbeat_s: float = 15.0,
    max_sse_clients: int = DEFAULT_MAX_SSE_CLIENTS,
) -> web.Application:
    """The aiohttp application (``start_dashboard`` runs it; tests may use it directly).

    ``max_sse_clients`` caps the open ``/events`` streams: each one serialises a snapshot on the
    engine's own event loop, so hundreds of them (a forgotten tab farm, a hostile local client)
    would slow quoting; the one over the cap gets 503 and ``Retry-After``."""
    streams = 0

    def authorised(request: web.Request) -> bool:
        if token is None:
            return True
        header = request.headers.get("Authorization", "")
        candidates = [
            header[7:] if header.startswith("Bearer ") else "",
            request.cookies.get(TOKEN_COOKIE, ""),
            request.query.get("token", ""),
        ]
        return any(c and hmac.compare_digest(c.encode(), token.encode()) for c in candidates)

    @web.middleware
    async def guard(request: web.Request, handler: Any) -> web.StreamResponse:
        if loopback_only and token is None:
            host = (
                request.host.rsplit(":", 1)[0] if not request.host.endswith("]") else request.host
            )
            if not is_loopback(host):
                return web.Response(status=403, text="forbidden: unexpected Host header\n")
        if request.path != "/healthz" and not authorised(request):
            return web.Response(
                status=401,
                text="unauthorised: open the dashboard with ?token=<LIQUIDITY_BOT_DASHBOARD_TOKEN> "
                "or send 'Authorization: Bearer <token>'\n",
            )
        if token is not None and "token" in request.query and request.method == "GET":
            # Trade the URL token for a cookie, and drop it from the address bar and history.
            query = {k: v for k, v in request.query.items() if k != "token"}
            target = request.rel_url.with_query(query)
            resp: web.StreamResponse = web.Response(status=303, headers={"Location": str(target)})
            resp.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="Strict", path="/")
            return resp
        resp = await handler(request)
        for k, v in _HEADERS.items():
            resp.headers.setdefault(k, v)
        return resp

    async def index(_: web.Request) -> web.Response:
        return web.Response(
            body=_static("dashboard.html"), content_type="text/html", charset="utf-8"
        )

    async def asset(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        types = {"dashboard.js": "application/javascript", "dashboard.css": "text/css"}
        if name not in types:
            raise web.HTTPNotFound()
        return web.Response(body=_static(name), content_type=types[name], charset="utf-8")

    async def api_state(_: web.Request) -> web.Response:
        return web.json_response(state.snapshot())

    async def events(request: web.Request) -> web.StreamResponse:
        nonlocal streams
        if streams >= max_sse_clients:
            return web.Response(
                status=503,
                headers={"Retry-After": "30"},
                text=f"too many live dashboards ({max_sse_clients}): close one, or raise "
                "[dashboard] max_sse_clients\n",
            )
        streams += 1
        try:
            return await _stream(request)
        finally:
            streams -= 1

    async def _stream(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-store",
                "X-Accel-Buffering": "no",
            }
        )
        await resp.prepare(request)
        sent = -1
        try:
            while True:
                if state.version != sent:
                    sent = state.version
                    data = json.dumps(state.snapshot(), separators=(",", ":"))
                    await resp.write(f"event: state\ndata: {data}\n\n".encode())
                    await asyncio.sleep(push_interval_s)  # throttle: the book moves fast
                    continue
                if not await state.wait_changed(sent, heartbeat_s):
                    await resp.write(b": keep-alive\n\n")
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        return resp

    async def metrics_view(_: web.Request) -> web.Response:
        if metrics is None:
            raise web.HTTPNotFound(text="metrics are not enabled\n")
        body, ctype = metrics.render()
        resp = web.Response(body=body)
        resp.headers["Content-Type"] = ctype
        return resp

    async def health(_: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    app = web.Application(middlewares=[guard])
    app.router.add_get("/", index)
    app.router.add_get("/static/{name}", asset)
    app.router.add_get("/api/state", api_state)
    app.router.add_get("/events", events)
    app.router.add_get("/metrics", metrics_view)
    app.router.add_get("/healthz", health)
    return app


async def start_dashboard(
    state: DashboardState,
    host: str = "127.0.0.1",
    port: int = 8787,
    token: str | None = None,
    *,
    metrics: BotMetrics | None = None,
    push_interval_s: float = 0.25,
    max_sse_clients: int = DEFAULT_MAX_SSE_CLIENTS,
) -> DashboardServer:
    """Serve the dashboard; ``port=0`` picks a free port (see ``DashboardServer.port``).

    Refuses a non-loopback ``host`` without ``token`` (pass ``config.dashboard_token_from_env()``).
    """
    if not is_loopback(host) and not token:
        raise DashboardError(
            f"the dashboard would listen on {host}, which is reachable from other machines: set "
            "LIQUIDITY_BOT_DASHBOARD_TOKEN to a long random value (e.g. `openssl rand -hex 32`) "
            "or bind to 127.0.0.1"
        )
    if token is not None and len(token) < 16:
        raise DashboardError(
            "LIQUIDITY_BOT_DASHBOARD_TOKEN is too short: use at least 16 random characters "
            "(e.g. `openssl rand -hex 32`)"
        )
    app = build_app(
        state,
        token=token,
        metrics=metrics,
        loopback_only=is_loopback(host),
        push_interval_s=push_interval_s,
        max_sse_clients=max_sse_clients,
    )
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = port
    server = getattr(site, "_server", None)
    sockets = getattr(server, "sockets", None) or []
    if sockets:
        bound = sockets[0].getsockname()[1]
    log.info(
        "dashboard on http://%s:%s/ (token %s)",
        host,
        bound,
        "required" if token else "not required: loopback only",
    )
    return DashboardServer(runner, host, bound)
