"""Watching the running engine for what an operator must hear about, from one place.

``AlertMonitor.on_tick(engine)`` is chained to the engine's 250 ms tick (after the dashboard
bridge, so it reads the same KPI samplers the dashboard and ``/metrics`` show). It reads the
engine's public state and never changes it, and for each condition keeps "since when": a
condition present longer than its grace becomes ``dispatcher.emit``, and its end ``clear``.
The same readings go to ``/metrics`` (kill switch, data age, open orders per side, breach
duration, 429s, bans, key state), so the Prometheus rules in ``examples/prometheus/alerts.yml``
watch the same conditions.

Conditions (severity): obligation breach longer than ``breach_grace_s`` (warning; the rules
broken and likely causes from the sampler), a side with no order while quoting (warning), kill
switch or loss limit (critical), stale market data (warning), a key refused while running
(critical), a market that failed (critical), a 429 (warning, one-shot) or an IP ban
(critical), keys due for review, unused or not passing (from ``keys review``, warning/info).
``stopping(engine, why)`` adds orders left open (critical) and the bot stopping.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from liquidity_bot.alerts.dispatcher import AlertDispatcher
from liquidity_bot.alerts.model import Alert, Kind, Severity
from liquidity_bot.config import AlertsConfig
from liquidity_bot.domain.order import Side
from liquidity_bot.reporting.kpi import Cause, KpiSampler, quotes_from_orders

log = logging.getLogger(__name__)

__all__ = ["AlertMonitor", "breach_action"]

_CAUSE_ACTIONS = {
    str(Cause.STALE): "market data was stale or the book crossed, so quotes were pulled: check "
                      "the exchange's status and this host's network; quoting resumes by itself",
    str(Cause.RISK): "the risk gate refused orders: read the `risk refused` lines in the log; "
                     "widen the limit that refuses, or find why the kill switch fired",
    str(Cause.BALANCE): "not enough balance to quote a side: top up the key's account or "
                        "rebalance base and quote",
    str(Cause.BUDGET): "the order budget ran out: raise order_budget_share or the price "
                       "tolerance so fewer orders are replaced",
    str(Cause.NO_SAMPLES): "the market loop stalled: check the log for errors and the host's "
                           "CPU load",
}

_RULE_TEXT = {
    "two_sided": "not quoting both sides",
    "max_spread": "our spread is wider than allowed",
    "min_depth_bid": "bid depth within 2 % below the minimum",
    "min_depth_ask": "ask depth within 2 % below the minimum",
    "no_market": "no market to measure (empty book)",
    "sampling_gap": "no samples (loop stalled)",
}


def breach_action(causes: tuple[str, ...] | list[str]) -> str:
    """What to do about a breach, from its likely causes."""
    actions = [_CAUSE_ACTIONS[c] for c in causes if c in _CAUSE_ACTIONS]
    return "; ".join(actions) or ("cause unknown: open the dashboard (quotes against the book) "
                                  "and the log for this market")


def _fmt(value: Decimal | None, places: int = 3) -> str:
    return "-" if value is None else f"{value:.{places}f}"


class AlertMonitor:
    """See the module docstring. One per engine."""

    def __init__(
        self,
        dispatcher: AlertDispatcher,
        config: AlertsConfig | None = None,
        *,
        samplers: Mapping[str, KpiSampler] | None = None,
        metrics: Any = None,
        keys_home: Any = None,
        clock: Callable[[], float] = time.monotonic,
        wall_ms: Callable[[], int] = lambda: int(time.time() * 1000),
    ) -> None:
        self.dispatcher = dispatcher
        self.config = config or AlertsConfig()
        self.samplers = samplers  # the dashboard bridge's (None: this monitor samples itself)
        self.own_samplers: dict[str, KpiSampler] = {}
        self.metrics = metrics
        self.keys_home = keys_home
        self.clock = clock
        self.wall_ms = wall_ms
        self.since: dict[tuple[Any, ...], float] = {}  # condition -> first seen (monotonic)
        self.active: set[tuple[Any, ...]] = set()  # conditions emitted and not cleared
        self._groups: dict[tuple[Any, ...], tuple[Any, ...]] = {}  # condition -> Alert.group
        self._rate_seen: dict[str, tuple[int, int]] = {}  # key -> (id(governor), 429 count)
        self._findings: list[Any] | None = None
        self._findings_at = float("-inf")
        self._findings_task: asyncio.Task[Any] | None = None
        self.errors = 0

    # --- the tick ------------------------------------------------------------------------------
    def on_tick(self, engine: Any) -> None:
        """Read the engine, emit and clear; never raises (an alert bug must not stop quoting)."""
        try:
            self._tick(engine)
        except Exception:
            self.errors += 1
            log.exception("alerts: evaluating the engine failed")

    def _tick(self, engine: Any) -> None:
        now = self.clock()
        seen: set[tuple[Any, ...]] = set()
        for s in engine.sessions:
            self._session(s, now, seen)
            for symbol, r in list(s.runners.items()):
                if s.refused is None:  # a market's name: exchange:SYMBOL off Bitrue
                    self._market(getattr(r, "name", symbol), r, s.label, now, seen)
        self._keys(now, seen)
        for key in list(self.since):
            if key not in seen:
                self._gone(key)

    def _condition(self, seen: set[tuple[Any, ...]], now: float, grace_s: float,
                   make: Callable[[], Alert], key: tuple[Any, ...],
                   started: float | None = None) -> None:
        """The condition ``key`` holds now: alert once it has held ``grace_s``."""
        seen.add(key)
        first = self.since.setdefault(key, now if started is None else started)
        if key not in self.active and now - first >= grace_s:
            alert = make()
            self.active.add(key)
            self._groups[key] = alert.group
            self.dispatcher.emit(alert)

    def _gone(self, key: tuple[Any, ...]) -> None:
        self.since.pop(key, None)
        if key in self.active:
            self.active.discard(key)
            self.dispatcher.clear(self._groups.pop(key))

    # --- per key -------------------------------------------------------------------------------
    def _session(self, s: Any, now: float, seen: set[tuple[Any, ...]]) -> None:
        label = s.label
        if s.refused is not None:
            first = str(s.refused).splitlines()[0] if s.refused else "refused"
            self._condition(seen, now, 0, lambda: Alert(
                Kind.KEY_REFUSED, Severity.CRITICAL,
                f"key refused by the keys gate while running; its markets stopped ({first})",
                f"run `liquidity-bot keys verify {label!r}` to see which check fails; fix the "
                "key on Bitrue (permissions, IP allow list) or rotate it (`liquidity-bot keys "
                "rotate`), then start the bot again",
                key_label=label, detail=str(s.refused)[:1500],
            ), ("key_refused", label))
        unsure = int(getattr(s, "reverify_unsure", 0) or 0)
        if s.refused is None and unsure:
            self._condition(seen, now, 0, lambda: Alert(
                Kind.KEY_REFUSED, Severity.WARNING,
                f"key re-verification inconclusive ({unsure} in a row); it keeps trading on its "
                "last verification for now and is refused if this goes on",
                f"run `liquidity-bot keys verify {label!r}` by hand: an unknown check is often "
                "a timeout or a 429 during the probes; check the exchange and the network",
                key_label=label, subject="inconclusive",
            ), ("key_unsure", label))
        if self.metrics is not None:
            self.metrics.set_key_refused(label, s.refused is not None)
        for symbol, why in list(s.failed.items()):
            if s.refused is not None and str(why).startswith("key refused"):
                continue  # said by the key's own alert
            self._condition(seen, now, 0, lambda symbol=symbol, why=why: Alert(
                Kind.MARKET_FAILED, Severity.CRITICAL, f"market is not quoting: {why}",
                "read the log lines for this market; fix the cause and start the bot again",
                market=symbol, key_label=label,
            ), ("failed", symbol))
        governor = getattr(getattr(s.venue, "rest", None), "governor", None)
        if governor is None:
            return
        count = int(getattr(governor, "rate_limited_count", 0))
        ident, before = self._rate_seen.get(label, (id(governor), count))
        if ident != id(governor):  # a new venue (key rotation): its counter starts at 0
            before = 0
        self._rate_seen[label] = (id(governor), count)
        if count > before:
            if self.metrics is not None:
                self.metrics.rate_limited(label, count - before)
            self.dispatcher.emit(Alert(
                Kind.RATE_LIMITED, Severity.WARNING,
                f"Bitrue answered 429 (rate limit) {count - before} time(s)",
                "the connector paused as told; if it repeats, lower the request rate (fewer "
                "markets per key, a larger price tolerance, a smaller order_budget_share): "
                "Bitrue bans IP addresses that keep sending after a 429",
                key_label=label, one_shot=True,
            ))
        banned = bool(governor.banned()) if hasattr(governor, "banned") else False
        remaining = float(governor.ban_remaining_s()) if banned else 0.0
        if self.metrics is not None:
            self.metrics.set_ban(label, remaining)
        if banned:
            self._condition(seen, now, 0, lambda: Alert(
                Kind.IP_BANNED, Severity.CRITICAL,
                f"Bitrue banned this IP address for about {remaining:.0f} s; nothing is sent",
                "wait for the ban to end (the connector resumes by itself); then find what sent "
                "too much (the log's 429 lines) and slow it down before it happens again",
                key_label=label,
            ), ("banned", label))

    # --- per market ----------------------------------------------------------------------------
    def _sampler(self, symbol: str, r: Any) -> KpiSampler | None:
        if self.samplers is not None:
            return self.samplers.get(symbol)
        sampler = self.own_samplers.get(symbol)
        if sampler is None:
            sampler = self.own_samplers[symbol] = KpiSampler(
                symbol, r.config.obligations, interval_s=1.0, store=None, store_samples=False)
        now_ms = self.wall_ms()
        orders = r.om.orders
        quotes = quotes_from_orders(r.om.resting(),
                                    lambda o: orders[o.client_order_id].created_ms)
        causes = []
        if r.stale or r.book.is_crossed:
            causes.append(str(Cause.STALE))
        if r.risk.killed:
            causes.append(str(Cause.RISK))
        sampler.maybe_sample(r.book, quotes, now_ms, causes)
        return sampler

    def _market(self, symbol: str, r: Any, label: str, now: float,
                seen: set[tuple[Any, ...]]) -> None:
        cfg = self.config
        ob = r.config.obligations
        sampler = self._sampler(symbol, r)
        breach = None if sampler is None else sampler.open_breach
        if self.metrics is not None:
            self.metrics.set_breach_age(
                symbol, 0.0 if breach is None else (self.wall_ms() - breach.start_ms) / 1000)
        if breach is not None:
            started = now - (self.wall_ms() - breach.start_ms) / 1000

            def make_breach() -> Alert:
                b = sampler.open_breach if sampler is not None else None
                rules = tuple(b.rules if b is not None else breach.rules)
                causes = tuple(b.causes if b is not None else breach.causes) or ("unknown",)
                latest = sampler.latest if sampler is not None else None
                ours = "-" if latest is None else _fmt(latest.our_spread_pct)
                depth = latest.band(2) if latest is not None else None
                return Alert(
                    Kind.BREACH, Severity.WARNING,
                    "obligations not met for more than "
                    f"{cfg.breach_grace_s:g} s: " + "; ".join(_RULE_TEXT.get(x, x) for x in rules),
                    breach_action(causes),
                    market=symbol, key_label=label,
                    detail=(f"rules broken: {', '.join(rules)}; likely cause: "
                            f"{', '.join(causes)}; our spread {ours} % (max "
                            f"{ob.max_spread_pct} %), depth within 2 % "
                            f"{_fmt(depth.bid if depth else None, 0)} / "
                            f"{_fmt(depth.ask if depth else None, 0)} (min "
                            f"{ob.min_depth_2pct_quote} per side); status {r.status}"),
                )

            self._condition(seen, now, cfg.breach_grace_s, make_breach, ("breach", symbol),
                            started)
        if r.status == "quoting":
            for side, name in ((Side.BUY, "bid"), (Side.SELL, "ask")):
                if r.om.resting(side):
                    continue
                self._condition(seen, now, cfg.side_empty_grace_s, lambda name=name: Alert(
                    Kind.SIDE_EMPTY, Severity.WARNING,
                    f"no {name} of ours on the book for {cfg.side_empty_grace_s:g} s while "
                    "quoting",
                    ("look for `risk refused` and rejected orders in the log: an empty ask is "
                     "most often no base left to sell, an empty bid no quote currency"),
                    market=symbol, key_label=label, subject=name,
                    detail=f"risk refusals so far: {r.risk.counts() or 'none'}",
                ), ("side", symbol, name))
        if self.metrics is not None:
            self.metrics.set_open_orders(symbol, len(r.om.resting(Side.BUY)),
                                         len(r.om.resting(Side.SELL)))
            self.metrics.set_kill_switch(symbol, r.risk.killed)
            age = None if r.last_book_mono is None else time.monotonic() - r.last_book_mono
            self.metrics.set_data_age(symbol, age)
        if r.risk.killed:
            reason = getattr(r.risk, "kill_reason", None) or "risk latch"
            self._condition(seen, now, 0, lambda: Alert(
                Kind.KILL_SWITCH, Severity.CRITICAL,
                "kill switch: trading stopped and every order of ours cancelled",
                "find the cause (the detail says which limit: the day's loss or the fill "
                "rate); read the fills (`liquidity-bot export fills --json`); the latch holds "
                "until the bot is restarted",
                market=symbol, key_label=label, detail=str(reason),
            ), ("kill", symbol))
        if getattr(r.risk, "loss_limited", False):
            self._condition(seen, now, 0, lambda: Alert(
                Kind.LOSS_LIMIT, Severity.CRITICAL,
                "daily loss limit reached: quoting the minimum obligation only",
                "read the fills (`liquidity-bot export fills --json`) and the strategy's "
                "spread; the bot keeps the obligations with one order per side until the "
                "latch is reset (a restart), or set on_loss_limit = \"stop\"",
                market=symbol, key_label=label, detail=str(r.risk.loss_limit_state),
            ), ("loss", symbol))
        if r.stale:
            last = r.last_book_mono
            self._condition(seen, now, cfg.stale_grace_s, lambda: Alert(
                Kind.STALE_DATA, Severity.WARNING,
                "no market data for "
                + ("ever" if last is None else f"{time.monotonic() - last:.0f} s")
                + "; quotes pulled",
                "check the exchange's status page and this host's network; the market "
                "WebSocket reconnects by itself and quoting resumes with the first book",
                market=symbol, key_label=label,
            ), ("stale", symbol))

    # --- keys hygiene ----------------------------------------------------------------------------
    def _keys(self, now: float, seen: set[tuple[Any, ...]]) -> None:
        if self.keys_home is None:
            return
        if now - self._findings_at >= self.config.key_review_every_s and (
                self._findings_task is None or self._findings_task.done()):
            self._findings_at = now
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                self._findings = self.review_findings(self.keys_home)
            else:  # the vault file is read in a thread: the engine's loop never waits on it
                self._findings_task = loop.create_task(self._load_findings())
        if self.metrics is not None and self._findings is not None:
            self.metrics.set_key_findings([(f.label, f.kind) for f in self._findings])
        for f in self._findings or ():
            kind = Kind.KEY_UNUSED if f.kind == "unused" else Kind.KEY_REVIEW
            severity = Severity.WARNING if f.kind == "not_passing" else Severity.INFO
            self._condition(seen, now, 0, lambda f=f, kind=kind, severity=severity: Alert(
                kind, severity, f"key {f.kind.replace('_', ' ')}: {f.message}", f.action,
                key_label=f.label, subject=f.kind,
            ), ("keyfinding", f.label, f.kind))

    async def _load_findings(self) -> None:
        try:
            self._findings = await asyncio.to_thread(self.review_findings, self.keys_home)
        except Exception:
            log.exception("alerts: reading the keys for review failed")

    @staticmethod
    def review_findings(home: Any) -> list[Any]:
        """``keys review``'s findings from the vault's metadata (no passphrase needed)."""
        from liquidity_bot.keys.home import KeysHome
        from liquidity_bot.keys.hygiene import review
        from liquidity_bot.keys.policy import load_policy
        from liquidity_bot.keys.vault import Vault

        keys_home = home if isinstance(home, KeysHome) else KeysHome(Path(home))
        if not keys_home.vault.exists():
            return []
        return review(Vault.open(keys_home.vault), load_policy(keys_home.policy))

    # --- explicit events -------------------------------------------------------------------------
    def refused_at_start(self, label: str, why: str) -> None:
        """The keys gate refused a key before trading: its markets never start."""
        first = why.splitlines()[0] if why else "refused"
        self.dispatcher.emit(Alert(
            Kind.KEY_REFUSED, Severity.CRITICAL,
            f"key refused by the keys gate at start; its markets do not trade ({first})",
            f"run `liquidity-bot keys verify {label!r}` to see which check fails; fix the key "
            "on Bitrue (Read + Trade only, IP allow list) or rotate it, then start again",
            key_label=label, detail=why[:1500],
        ))

    def stopping(self, engine: Any, why: str, *, crashed: bool = False) -> None:
        """The bot is stopping: orders left open (critical) and the stop itself."""
        total = 0
        sessions = [] if engine is None else engine.sessions
        labels = {getattr(r, "name", r.symbol): s.label
                  for s in sessions for r in s.runners.values()}
        for symbol, left in sorted(getattr(engine, "left_open", {}).items()):  # None: {}
            if not left:
                continue
            total += left
            self.dispatcher.emit(Alert(
                Kind.LEFT_OPEN, Severity.CRITICAL,
                f"{left} order(s) of ours still open on the exchange after shutdown",
                "cancel them on Bitrue (Orders > Open orders) or start the bot again: it "
                "adopts and manages them",
                market=symbol, key_label=labels.get(symbol), one_shot=True,
            ))
        markets = ", ".join(sorted(labels)) or "none"
        self.dispatcher.emit(Alert(
            Kind.BOT_STOPPING, Severity.CRITICAL if crashed or total else Severity.WARNING,
            f"bot stopping ({why}); markets {markets} are no longer quoted",
            "if this was not planned, read the end of the log and start the bot again"
            + (f"; {total} order(s) are still open" if total else ""),
            one_shot=True,
        ))
