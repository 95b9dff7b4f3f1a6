"""MarketRunner's quoting pass: the strategy is asked again only when its inputs changed, and
tick-to-order latency is sampled only by passes that answer a new book."""

from __future__ import annotations

import time
from decimal import Decimal as D

from test_order_manager import INSTRUMENT, SYMBOL, FakeVenue, manager

from liquidity_bot.config import parse_config
from liquidity_bot.domain.events import BookUpdate
from liquidity_bot.engine.market_runner import MarketRunner
from liquidity_bot.strategies import make_strategy

CONFIG = f"""
[[markets]]
symbol = "{SYMBOL}"
key_label = "k"
client_id_prefix = "lb"
strategy = "ladder"
[markets.ladder]
levels = 2
base_spread_pct = "0.4"
level_spacing_pct = "0.2"
level_size_quote = "20"
[markets.obligations]
max_spread_pct = "2"
min_depth_2pct_quote = "20"
[markets.risk]
max_order_notional = "500"
max_open_notional_per_side = "1000"
max_base_inventory = "100000"
daily_loss_limit = "1000"
"""


class Counting:
    """The real ladder, counting how often it is asked."""

    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.calls = 0

    def quote(self, snapshot):  # noqa: ANN001, ANN201
        self.calls += 1
        return self.inner.quote(snapshot)  # type: ignore[attr-defined]


def runner() -> tuple[MarketRunner, Counting, FakeVenue]:
    market = parse_config(CONFIG).markets[0]
    venue = FakeVenue()
    strategy = Counting(make_strategy(market, INSTRUMENT))
    om = manager(venue)
    r = MarketRunner(market, INSTRUMENT, strategy, om, om.risk, store_kpis=False)
    return r, strategy, venue


def book(bid: str, ask: str, ts: int, recv_ns: int | None = None) -> BookUpdate:
    return BookUpdate(ts_ms=ts, symbol=SYMBOL, bids=((D(bid), D("1000")),),
                      asks=((D(ask), D("1000")),), recv_ns=recv_ns)


async def test_the_strategy_is_asked_again_only_when_its_inputs_change() -> None:
    r, strategy, venue = runner()
    r.wait_for_answers = True
    r.on_book(book("0.4990", "0.5010", 1))
    await r.step()
    assert strategy.calls == 1 and venue.places() == 4
    await r.step()  # woken by the acknowledgements: same book, same inventory
    assert strategy.calls == 1 and venue.places() == 4
    r.on_book(book("0.4990", "0.5010", 2))  # a new frame, same top of book
    await r.step()
    assert strategy.calls == 1
    r.on_book(book("0.4980", "0.5000", 3))  # the top moved
    await r.step()
    assert strategy.calls == 2 and venue.places() > 4
    r.om.balances.set("XRP", D("1"), D(0))  # inventory changed
    await r.step()
    assert strategy.calls == 3


async def test_latency_is_sampled_by_passes_that_answer_a_new_book_only() -> None:
    r, _, venue = runner()
    r.wait_for_answers = True
    received = time.perf_counter_ns()
    r.on_book(book("0.4990", "0.5010", 1, recv_ns=received))
    await r.step()
    log = r.om.stats.latencies_ns
    assert log.total == 1 and log[-1] >= 0
    r.om.orders[next(iter(r.om.orders))].order.price = D("0.3")  # force a re-quote
    await r.step()  # a pass woken by something else: places, but samples nothing
    assert venue.places() > 4 and log.total == 1
