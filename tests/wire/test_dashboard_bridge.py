"""EngineBridge: an engine's public objects -> KPI samplers, dashboard state, metrics, store.

The engine here is made of the real domain pieces (OrderBook, Order, Balances, OrderBudget)
with the runner and session reduced to the attributes the bridge reads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal as D
from types import SimpleNamespace

from liquidity_bot.domain.book import OrderBook
from liquidity_bot.domain.order import Order, OrderEvent, Side
from liquidity_bot.engine.budget import OrderBudget
from liquidity_bot.engine.order_manager import Balances
from liquidity_bot.reporting.kpi import breach_from_audit
from liquidity_bot.web.bridge import EngineBridge, live_quotes
from liquidity_bot.web.dashboard import DashboardState
from liquidity_bot.web.metrics import BotMetrics


class Obl:
    max_spread_pct = D("1")
    min_depth_2pct_quote = D("100")
    min_rest_s = None


@dataclass
class Stats:
    placed: int = 0
    budget_skipped: int = 0
    rejected_by_risk: int = 0
    fills: int = 0
    latencies_ns: list[int] = field(default_factory=list)


class Risk:
    killed = False

    def __init__(self):
        self._counts: dict[str, int] = {}

    def counts(self):
        return dict(self._counts)


def live_order(cid: str, side: Side, price: str, qty: str) -> SimpleNamespace:
    o = Order(client_order_id=cid, symbol="XRPUSDT", side=side, price=D(price), qty=D(qty))
    o.apply(OrderEvent.SUBMIT)
    o.apply(OrderEvent.ACK)
    return SimpleNamespace(order=o, created_ms=1_000)


class Store:
    def __init__(self):
        self.events, self.samples = [], []

    def add_audit_event(self, ev):
        self.events.append(ev)

    def add_kpi_sample(self, s):
        self.samples.append(s)

    def fills(self, symbol, since=None):
        return []


def make_engine():
    book = OrderBook("XRPUSDT")
    book.apply_snapshot([(D("0.4990"), D("5000"))], [(D("0.5010"), D("5000"))], 1)
    orders = {
        "a": live_order("a", Side.BUY, "0.4980", "400"),
        "b": live_order("b", Side.SELL, "0.5020", "400"),
    }
    om = SimpleNamespace(
        orders=orders,
        stats=Stats(),
        base_traded=D(0),
        quote_traded=D(0),
        pnl=lambda mid: D(0) if mid is not None else None,
    )
    runner = SimpleNamespace(
        symbol="XRPUSDT",
        book=book,
        om=om,
        risk=Risk(),
        status="quoting",
        stale=False,
        errors=0,
        config=SimpleNamespace(obligations=Obl()),
        instrument=SimpleNamespace(base="XRP", quote="USDT"),
    )
    balances = Balances()
    balances.set("XRP", D("1000"), D(0))
    balances.set("USDT", D("500"), D(0))
    rest = SimpleNamespace(headroom=lambda: {"orders_user_seconds": (12, 100)})
    session = SimpleNamespace(
        label="client-a",
        budget=OrderBudget(),
        balances=balances,
        venue=SimpleNamespace(rest=rest),
        runners={"XRPUSDT": runner},
        failed={},
    )
    store = Store()
    engine = SimpleNamespace(sessions=[session], store=store, writer=None)
    return engine, runner, store


def test_bridge_feeds_state_metrics_and_records_breaches_with_causes(monkeypatch):
    clock = [1_795_000_000.0]
    monkeypatch.setattr("liquidity_bot.web.bridge.time.time", lambda: clock[0])
    engine, runner, store = make_engine()
    state, metrics = DashboardState(), BotMetrics()
    ticks = []
    bridge = EngineBridge(state, metrics).chain(ticks.append)

    bridge.on_tick(engine)
    snap = state.snapshot()
    (m,) = snap["markets"]
    assert m["kpi"]["met"] is True and m["kpi"]["our_bid"] == "0.4980"
    assert [q["price"] for q in m["quotes"]] == ["0.4980", "0.5020"]
    assert snap["budgets"]["client-a"]["capacity"] == 90
    assert snap["rate_limits"]["orders_user_seconds"] == {"used": 12, "limit": 100}
    assert m["pnl"]["inventory_base"] == "1000" and ticks == [engine]

    # the ask is filled away and the budget refuses a replacement: a breach, cause budget
    del runner.om.orders["b"]
    runner.om.stats.budget_skipped = 3
    clock[0] += 1
    bridge.on_tick(engine)
    assert state.snapshot()["markets"][0]["kpi"]["broken"] == ["two_sided", "min_depth_ask"]
    runner.om.orders["c"] = live_order("c", Side.SELL, "0.5015", "400")
    clock[0] += 1
    bridge.on_tick(engine)

    (breach,) = bridge.samplers["XRPUSDT"].breaches
    assert breach.causes == ("budget",) and breach.rules == ("two_sided", "min_depth_ask")
    assert [breach_from_audit(e) for e in store.events] == [breach]  # via the engine's store
    assert store.samples == []  # samples are the market runner's job unless asked
    assert any(e["kind"] == "breach" for e in state.snapshot()["events"])
    text = metrics.render()[0].decode()
    assert 'lb_obligation_breaches_total{rule="two_sided",symbol="XRPUSDT"} 1.0' in text
    assert 'lb_ratelimit_headroom{policy="orders_user_seconds"} 88.0' in text


def test_live_quotes_only_open_orders():
    engine, runner, _ = make_engine()
    runner.om.orders["a"].order.apply(OrderEvent.CANCEL_REQUEST)
    runner.om.orders["a"].order.apply(OrderEvent.CANCEL_ACK)
    assert [q.side for q in live_quotes(runner.om)] == ["SELL"]
