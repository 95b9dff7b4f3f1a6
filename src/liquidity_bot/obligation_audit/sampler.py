"""The audit loop: every interval, the public book and the account's open orders, measured.

One task per market, on a fixed schedule (a late tick is skipped, never bunched: the gap then
shows in the uptime as the bot's own sampler would show it). Each sample costs 2 request weight
(depth at 100 levels, open orders), sent through the REST client's rate governor; an order that
leaves the book costs one look-up, and the order history (weight 5) is read every
``history_interval_s``. With ``book_source = "stream"`` the book comes from the market WebSocket instead (kept current
between samples; 1 weight a sample); a sample is skipped while the stream is down or stale.
The samples are measured by ``reporting.kpi`` (the bot's own KPI code)
and written to the audit's own store, with the orders and the breaches, so that a report of any
period can be written later.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from liquidity_bot.domain.book import OrderBook
from liquidity_bot.obligation_audit.config import AuditConfig, AuditMarket
from liquidity_bot.obligation_audit.orders import (
    GONE_STATUS,
    SAMPLED_EVENT,
    OrderWatch,
    order_key,
    record_of,
)
from liquidity_bot.reporting.kpi import KpiReading, KpiSampler, OurQuote
from liquidity_bot.store import OrderEventRecord, OrderRecord, Store
from liquidity_bot.venues.bitrue import errors as E

log = logging.getLogger(__name__)

DEPTH_LEVELS = 100  # weight 1 up to 100 levels
HISTORY_PAGE = 1000
HISTORY_PAGES_PER_ROUND = 5
STREAM_STALE_INTERVALS = 5  # a streamed book older than this many intervals (+1 s) is stale


# the causes a breach is given, as far as the exchange shows them (the bot's report knows more)
NO_ORDERS = "no_orders_on_book"  # the market maker had no order on the book at all
ONE_SIDE = "one_side_only"  # its orders were all on one side


class AuditStopped(Exception):
    """The audit cannot go on (the key was refused or deleted, or the address banned)."""


def quotes_of(orders: list[Any]) -> list[OurQuote]:
    """Open exchange orders as the KPI code sees them, resting since the exchange's time."""
    return [
        OurQuote(o.side.upper(), o.price, o.origQty - o.executedQty, o.time)
        for o in orders
        if o.origQty > o.executedQty
    ]


@dataclass
class MarketAudit:
    """One market: its KPI sampler (the bot's), its book and the orders it has seen."""

    market: AuditMarket
    client: Any  # BitrueRestClient with the audit key
    store: Store
    interval_s: float
    started_ms: int
    stream: Any = None  # a venues.bitrue MarketStream holding this market's book, or None
    kpi: KpiSampler = field(init=False)
    book: OrderBook = field(init=False)
    watch: OrderWatch = field(init=False)
    failures: int = 0

    def __post_init__(self) -> None:
        symbol = self.market.symbol
        self.kpi = KpiSampler(symbol, self.market.obligations, self.interval_s, store=self.store)
        self.book = OrderBook(symbol)
        self.watch = OrderWatch(symbol, self.market.client_id_prefix, self.started_ms)

    @property
    def symbol(self) -> str:
        return self.market.symbol

    async def sample(self) -> KpiReading | None:
        """One sample; None when the exchange did not answer (the pause becomes a gap)."""
        clock = self.client.clock
        asked = clock.now_ms()
        try:
            if self.stream is not None:
                depth, opens = None, await self.client.open_orders(self.symbol)
            else:
                depth, opens = await asyncio.gather(
                    self.client.depth(self.symbol, DEPTH_LEVELS),
                    self.client.open_orders(self.symbol),
                )
        except (E.AuthenticationError, E.PermissionDenied, E.IpBanned) as exc:
            raise AuditStopped(f"{self.symbol}: the exchange refused the audit key: {exc}") from exc
        except (TimeoutError, E.BitrueError, OSError) as exc:
            self.failures += 1
            log.warning("%s: sample skipped (%s)", self.symbol, exc)
            return None
        ts = (asked + clock.now_ms()) // 2
        if depth is not None:
            self.book.apply_snapshot(
                [(lv.price, lv.qty) for lv in depth.bids],
                [(lv.price, lv.qty) for lv in depth.asks],
                ts,
            )
        elif not self._stream_fresh(ts):
            self.failures += 1
            log.warning("%s: sample skipped (the market stream is down or stale)", self.symbol)
            return None
        ours = [o for o in opens if self.watch.counts(o)]
        sides = {o.side.upper() for o in ours}
        hints = [NO_ORDERS] if not sides else ([ONE_SIDE] if len(sides) == 1 else [])
        reading = self.kpi.sample(self.book, quotes_of(ours), ts, hints)
        new, gone = self.watch.observe_open(ours, asked)
        for o in new:
            self.store.upsert_order(record_of(o, fallback_ms=ts))
            self.store.record_order_event(OrderEventRecord(order_key(o), SAMPLED_EVENT, ts))
        for order_id in gone:
            await self._finish(order_id, ts)
        return reading

    def _stream_fresh(self, now_ms: int) -> bool:
        """The stream's book is current: connected, and a snapshot within a few intervals."""
        book = self.stream.books.get(self.symbol)
        if book is None or book.ts_ms is None or not self.stream.connected.is_set():
            return False
        self.book = book
        return now_ms - book.ts_ms <= STREAM_STALE_INTERVALS * self.kpi.interval_ms + 1000

    async def _finish(self, order_id: int, now_ms: int) -> None:
        """An order left the book: ask the exchange how (filled or cancelled, and when)."""
        try:
            order = await self.client.get_order(self.symbol, order_id=order_id)
        except E.OrderNotFound:
            self._mark_gone(order_id, now_ms)
            return
        except (TimeoutError, E.BitrueError, OSError) as exc:
            log.warning("%s: could not look up order %s (%s)", self.symbol, order_id, exc)
            return  # still watched: looked up again after the next sample
        if order.is_open:  # listed again by now (a slow replica): keep watching
            return
        self.watch.finish(order_id)
        self.store.upsert_order(record_of(order, fallback_ms=now_ms))

    def _mark_gone(self, order_id: int, now_ms: int) -> None:
        self.watch.finish(order_id)
        for rec in self.store.orders(symbol=self.symbol, open_only=True):
            if rec.exchange_order_id == str(order_id):
                self.store.upsert_order(_replace_status(rec, GONE_STATUS, now_ms))

    async def read_history(self, now_ms: int) -> int:
        """Orders placed since the last read, whether a sample saw them or not."""
        got = 0
        for _ in range(HISTORY_PAGES_PER_ROUND):
            try:
                page = await self.client.all_orders(
                    self.symbol, order_id=self.watch.history_cursor, limit=HISTORY_PAGE
                )
            except (TimeoutError, E.BitrueError, OSError) as exc:
                log.warning("%s: order history not read (%s)", self.symbol, exc)
                return got
            for o in self.watch.observe_history(page, now_ms):
                self.store.upsert_order(record_of(o, fallback_ms=now_ms))
                got += 1
            if len(page) < HISTORY_PAGE:
                break
        return got

    def close(self, now_ms: int) -> None:
        self.kpi.close(now_ms)


def _replace_status(rec: OrderRecord, status: str, now_ms: int) -> OrderRecord:
    return replace(rec, status=status, updated_ms=now_ms)


class ObligationAudit:
    """Runs the audit of every configured market until ``stop()`` or the duration ends."""

    def __init__(
        self, config: AuditConfig, client: Any, store: Store, *, urls: Any = None
    ) -> None:
        """``urls`` (a ``BitrueUrls``) is needed for ``book_source = "stream"``."""
        self.config = config
        self.client = client
        self.store = store
        self.urls = urls
        self.stream: Any = None
        self.markets: list[MarketAudit] = []
        self._stop = asyncio.Event()
        self.samples = 0

    def stop(self) -> None:
        self._stop.set()

    async def run(self, duration_s: float | None = None) -> None:
        """Sample until stopped (or for ``duration_s``); open breaches are closed at the end."""
        if self.client.clock.age_s() is None:
            await self.client.sync_clock()
        started = self.client.clock.now_ms()
        if self.config.book_source == "stream":
            try:
                await self._start_stream()
            except BaseException:
                if self.stream is not None:
                    await self.stream.stop()
                raise
        self.markets = [
            MarketAudit(m, self.client, self.store, self.config.interval_s, started, self.stream)
            for m in self.config.markets
        ]
        loop = asyncio.get_running_loop()
        end = None if duration_s is None else loop.time() + duration_s
        tasks = [loop.create_task(self._sample_loop(m, end)) for m in self.markets]
        tasks += [loop.create_task(self._history_loop(m, end)) for m in self.markets]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            for t in done:
                if t.exception() is not None:
                    raise t.exception()  # type: ignore[misc]
        finally:
            self._stop.set()
            for t in tasks:
                t.cancel()
            for t in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await t
            now = self.client.clock.now_ms()
            for m in self.markets:
                with contextlib.suppress(Exception):
                    await m.read_history(now)
                m.close(now)
            if self.stream is not None:
                await self.stream.stop()

    async def _start_stream(self) -> None:
        from liquidity_bot.venues.bitrue.market_stream import MarketStream

        if self.urls is None:
            raise ValueError("book_source = 'stream' needs the exchange's addresses (urls=)")
        self.stream = MarketStream(
            self.urls,
            [m.symbol for m in self.config.markets],
            rest=self.client,
            source_address=self.config.bitrue.source_address,
        )
        await self.stream.start()
        await self.stream.wait_connected(10.0)

    async def _wait_until(self, when: float) -> bool:
        """Sleep until loop time ``when``; False when stopped meanwhile."""
        delay = when - asyncio.get_running_loop().time()
        if delay > 0:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stop.wait(), delay)
        return not self._stop.is_set()

    async def _sample_loop(self, market: MarketAudit, end: float | None) -> None:
        loop = asyncio.get_running_loop()
        interval = self.config.interval_s
        tick = loop.time()
        while not self._stop.is_set() and (end is None or tick < end):
            if await market.sample() is not None:
                self.samples += 1
            tick += interval
            now = loop.time()
            if tick < now:  # late: skip the missed ticks, keep the schedule
                tick += interval * int((now - tick) / interval + 1)
            if end is not None and tick >= end:
                await self._wait_until(end)
                self._stop.set()
                return
            if not await self._wait_until(tick):
                return

    async def _history_loop(self, market: MarketAudit, end: float | None) -> None:
        loop = asyncio.get_running_loop()
        every = self.config.history_interval_s
        while await self._wait_until(loop.time() + every):
            await market.read_history(self.client.clock.now_ms())


def interval_ms(config: AuditConfig) -> int:
    return max(1, int(Decimal(str(config.interval_s)) * 1000))
