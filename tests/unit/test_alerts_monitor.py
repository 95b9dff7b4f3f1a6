"""The alert monitor over a hand-built engine: which conditions alert, after which grace, with
which market, key label and action, and when they clear; the matching metrics."""

from __future__ import annotations

from decimal import Decimal as D
from types import SimpleNamespace

from prometheus_client.parser import text_string_to_metric_families

from liquidity_bot.alerts import AlertDispatcher, AlertMonitor
from liquidity_bot.alerts.model import Kind, Severity
from liquidity_bot.config import AlertsConfig
from liquidity_bot.domain.book import OrderBook
from liquidity_bot.domain.order import Side
from liquidity_bot.web.metrics import BotMetrics


class Clock:
    def __init__(self) -> None:
        self.t = 500.0

    def __call__(self) -> float:
        return self.t

    def ms(self) -> int:
        return int(self.t * 1000)


class Governor:
    def __init__(self) -> None:
        self.rate_limited_count = 0
        self.ban_s = 0.0

    def banned(self) -> bool:
        return self.ban_s > 0

    def ban_remaining_s(self) -> float:
        return self.ban_s


def make_engine() -> SimpleNamespace:
    book = OrderBook("XRPUSDT")
    book.apply_snapshot([(D("99"), D("10"))], [(D("101"), D("10"))], 0)
    om = SimpleNamespace(sides={Side.BUY: ["b"], Side.SELL: ["a"]}, orders={})
    om.resting = lambda side=None: (om.sides[side] if side is not None
                                    else om.sides[Side.BUY] + om.sides[Side.SELL])
    risk = SimpleNamespace(killed=False, kill_reason=None, counts=lambda: {})
    obligations = SimpleNamespace(max_spread_pct=D("1"), min_depth_2pct_quote=D("0"),
                                  min_rest_s=None)
    runner = SimpleNamespace(symbol="XRPUSDT", config=SimpleNamespace(obligations=obligations),
                             status="quoting", om=om, risk=risk, stale=False,
                             last_book_mono=None, book=book)
    session = SimpleNamespace(label="Liquidity Bot", refused=None, failed={},
                              venue=SimpleNamespace(rest=SimpleNamespace(governor=Governor())),
                              runners={"XRPUSDT": runner})
    return SimpleNamespace(sessions=[session], left_open={})


def setup(**config: float):
    clock = Clock()
    d = AlertDispatcher(clock=clock, wall_ms=clock.ms, clear_after_s=0, reminder_s=3600)
    metrics = BotMetrics()
    monitor = AlertMonitor(d, AlertsConfig(**config), samplers={}, metrics=metrics, clock=clock,
                           wall_ms=clock.ms)
    return clock, d, monitor, make_engine(), metrics


def run(clock: Clock, d: AlertDispatcher, monitor: AlertMonitor, engine, seconds: float):
    for _ in range(int(seconds * 4)):
        monitor.on_tick(engine)
        d.process()
        clock.t += 0.25
    return [(n.status, n.alert.kind) for n in d.history]


def metric(metrics: BotMetrics, name: str, **labels: str) -> float:
    text = metrics.render()[0].decode()
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    raise KeyError(name)


def test_a_side_empty_alerts_after_its_grace_and_resolves_when_orders_are_back():
    clock, d, monitor, engine, metrics = setup(side_empty_grace_s=30)
    runner = engine.sessions[0].runners["XRPUSDT"]
    runner.om.sides[Side.SELL] = []
    assert run(clock, d, monitor, engine, 29) == []
    assert run(clock, d, monitor, engine, 2) == [("firing", Kind.SIDE_EMPTY)]
    alert = d.history[-1].alert
    assert (alert.market, alert.key_label, alert.subject) == ("XRPUSDT", "Liquidity Bot", "ask")
    assert "no base left to sell" in alert.action
    assert metric(metrics, "lb_open_orders", symbol="XRPUSDT", side="ask") == 0
    runner.om.sides[Side.SELL] = ["a"]
    assert run(clock, d, monitor, engine, 1)[-1] == ("resolved", Kind.SIDE_EMPTY)


def test_a_side_empty_while_quotes_are_pulled_is_not_a_side_alert():
    clock, d, monitor, engine, _ = setup(side_empty_grace_s=1, stale_grace_s=5)
    runner = engine.sessions[0].runners["XRPUSDT"]
    runner.status, runner.stale = "pulled", True
    runner.om.sides = {Side.BUY: [], Side.SELL: []}
    assert run(clock, d, monitor, engine, 10) == [("firing", Kind.STALE_DATA)]
    assert d.history[-1].alert.severity is Severity.WARNING


def test_the_kill_switch_alerts_at_once_and_says_why():
    clock, d, monitor, engine, metrics = setup()
    risk = engine.sessions[0].runners["XRPUSDT"].risk
    risk.killed, risk.kill_reason = True, "daily loss 250 reached daily_loss_limit 200"
    assert run(clock, d, monitor, engine, 1) == [("firing", Kind.KILL_SWITCH)]
    alert = d.history[-1].alert
    assert alert.severity is Severity.CRITICAL and "daily_loss_limit" in alert.detail
    assert metric(metrics, "lb_kill_switch", symbol="XRPUSDT") == 1


def test_429s_are_one_shot_and_a_ban_is_a_condition():
    clock, d, monitor, engine, metrics = setup()
    governor = engine.sessions[0].venue.rest.governor
    run(clock, d, monitor, engine, 1)
    governor.rate_limited_count = 3
    assert run(clock, d, monitor, engine, 1) == [("firing", Kind.RATE_LIMITED)]
    assert "3 time(s)" in d.history[-1].alert.summary
    governor.rate_limited_count = 4
    run(clock, d, monitor, engine, 1)
    assert len(d.history) == 1  # grouped with the first: a repeat, not a new message
    assert metric(metrics, "lb_rate_limited_total", key="Liquidity Bot") == 4
    governor.ban_s = 120
    assert run(clock, d, monitor, engine, 1)[-1] == ("firing", Kind.IP_BANNED)
    assert metric(metrics, "lb_ip_ban_remaining_seconds", key="Liquidity Bot") == 120
    governor.ban_s = 0
    assert run(clock, d, monitor, engine, 1)[-1] == ("resolved", Kind.IP_BANNED)


def test_a_key_refused_while_running_names_the_label_and_the_fix():
    clock, d, monitor, engine, metrics = setup()
    s = engine.sessions[0]
    s.refused = "check withdraw_disabled failed: the key can withdraw\nmore detail"
    s.failed["XRPUSDT"] = "key refused while running: check withdraw_disabled failed"
    assert run(clock, d, monitor, engine, 1) == [("firing", Kind.KEY_REFUSED)]
    alert = d.history[-1].alert
    assert alert.key_label == "Liquidity Bot" and alert.severity is Severity.CRITICAL
    assert "keys verify 'Liquidity Bot'" in alert.action
    assert metric(metrics, "lb_key_refused", key="Liquidity Bot") == 1


def test_stopping_reports_orders_left_open_and_the_stop():
    clock, d, monitor, engine, _ = setup()
    engine.left_open = {"XRPUSDT": 3}
    monitor.stopping(engine, "stop signal")
    d.process()
    kinds = [(n.alert.kind, n.alert.severity) for n in d.history]
    assert kinds == [(Kind.LEFT_OPEN, Severity.CRITICAL), (Kind.BOT_STOPPING, Severity.CRITICAL)]
    assert d.history[0].alert.market == "XRPUSDT" and "3 order(s)" in d.history[0].alert.summary


def test_key_review_findings_alert_from_the_vault(tmp_path, monkeypatch):
    clock, d, monitor, engine, metrics = setup()
    finding = SimpleNamespace(label="old key", kind="review_overdue",
                              message="review was due on 2026-01-01 (every 90 days)",
                              action="rotate it or `keys review --ack`")
    monkeypatch.setattr(AlertMonitor, "review_findings", staticmethod(lambda home: [finding]))
    monitor.keys_home = tmp_path
    assert run(clock, d, monitor, engine, 1) == [("firing", Kind.KEY_REVIEW)]
    assert d.history[-1].alert.key_label == "old key"
    assert metric(metrics, "lb_key_finding", key="old key", kind="review_overdue") == 1


def test_the_monitor_never_raises_into_the_engine():
    clock, d, monitor, engine, _ = setup()
    engine.sessions[0].runners["XRPUSDT"].om = None  # a broken engine object
    monitor.on_tick(engine)
    assert monitor.errors == 1


def test_an_inconclusive_re_verification_warns_before_the_key_is_refused():
    clock, d, monitor, engine, _ = setup()
    s = engine.sessions[0]
    s.reverify_unsure = 1
    assert run(clock, d, monitor, engine, 1) == [("firing", Kind.KEY_REFUSED)]
    assert d.history[-1].alert.severity is Severity.WARNING
    assert "inconclusive (1 in a row)" in d.history[-1].alert.summary
    s.reverify_unsure = 0
    assert run(clock, d, monitor, engine, 1)[-1] == ("resolved", Kind.KEY_REFUSED)


def test_messages_are_listed_on_the_dashboard():
    from liquidity_bot.web.dashboard import DashboardState

    clock, d, monitor, engine, _ = setup()
    state = DashboardState()
    d.show_on(state)
    engine.sessions[0].runners["XRPUSDT"].risk.killed = True
    run(clock, d, monitor, engine, 1)
    event = state.events[0]
    assert (event["kind"], event["level"]) == ("alert", "error")
    assert "kill switch" in event["message"]
