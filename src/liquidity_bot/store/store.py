"""Persistence: orders, order events, fills, balances, KPI samples and audit events.

One `Store` per process, built from a SQLAlchemy URL: an SQLite file by default (WAL mode, so the
dashboard can read while the engine writes), PostgreSQL with `postgresql://...` (the psycopg 3
driver is selected when the URL names none). Every public write is one transaction: it is
written whole or not at all. Money is Decimal end to end (see `schema.py` for how it is stored).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from enum import Enum
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy import Connection, Engine, create_engine, event, func, inspect, or_, select
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import make_url

from liquidity_bot.domain.market_id import DEFAULT_EXCHANGE  # rows from before: Bitrue's
from liquidity_bot.store import schema

log = logging.getLogger(__name__)

DEFAULT_URL = "sqlite:///liquidity-bot.db"
_AVG_PLACES = Decimal(1).scaleb(-schema.MAX_FRACTION_DIGITS)
# What an upsert of a known order may change (not its identity or creation time).
_ORDER_MUTABLE = frozenset(
    {"exchange_order_id", "symbol", "side", "price", "qty", "filled_qty", "avg_price", "status",
     "key_label", "updated_ms"}
)

# Statuses (as the domain Order state machine names them, upper case) that still rest or may rest
# on the book. UNKNOWN counts as open: the order may exist until reconciliation says otherwise.
OPEN_STATUSES = frozenset({"PENDING_NEW", "NEW", "PARTIALLY_FILLED", "PENDING_CANCEL", "UNKNOWN"})


class StoreError(RuntimeError):
    """A persistence problem the caller should surface (bad URL, missing driver...)."""


Timestamp = int | datetime


def to_ms(ts: Timestamp) -> int:
    """Milliseconds since the epoch from an int (already ms) or an aware datetime."""
    if isinstance(ts, bool):
        raise TypeError("timestamp must be int milliseconds or an aware datetime, not bool")
    if isinstance(ts, int):
        return ts
    if isinstance(ts, datetime):
        if ts.tzinfo is None:
            raise ValueError("naive datetime: pass an aware datetime (UTC) or int milliseconds")
        return int(ts.timestamp() * 1000)
    raise TypeError(f"timestamp must be int milliseconds or an aware datetime, got {ts!r}")


@dataclass(frozen=True, slots=True)
class OrderRecord:
    client_order_id: str
    symbol: str
    side: str  # "BUY" | "SELL"
    price: Decimal
    qty: Decimal
    status: str
    created_ms: int
    updated_ms: int
    filled_qty: Decimal = Decimal(0)
    avg_price: Decimal | None = None
    exchange_order_id: str | None = None
    key_label: str | None = None
    exchange: str = DEFAULT_EXCHANGE

    @property
    def is_open(self) -> bool:
        return _name(self.status) in OPEN_STATUSES

    @classmethod
    def from_order(
        cls,
        order: Any,
        *,
        updated_ms: int,
        created_ms: int | None = None,
        key_label: str | None = None,
        exchange: str = DEFAULT_EXCHANGE,
    ) -> OrderRecord:
        """From a `domain.order.Order` (its `state`, `filled_qty`, `avg_price`...)."""
        avg = order.avg_price
        return cls(
            client_order_id=order.client_order_id,
            symbol=order.symbol,
            side=_name(order.side),
            price=order.price,
            qty=order.qty,
            status=_name(order.state),
            created_ms=updated_ms if created_ms is None else created_ms,
            updated_ms=updated_ms,
            filled_qty=order.filled_qty,
            avg_price=avg() if callable(avg) else avg,
            exchange_order_id=_id_text(order.exchange_order_id),
            key_label=key_label,
            exchange=exchange,
        )


@dataclass(frozen=True, slots=True)
class OrderEventRecord:
    client_order_id: str
    event: str
    ts_ms: int
    status: str | None = None
    detail: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class FillRecord:
    symbol: str
    trade_id: str
    side: str
    price: Decimal
    qty: Decimal
    ts_ms: int
    fee: Decimal = Decimal(0)
    fee_asset: str | None = None
    client_order_id: str | None = None
    exchange_order_id: str | None = None
    is_maker: bool | None = None
    exchange: str = DEFAULT_EXCHANGE

    @classmethod
    def from_event(cls, fill: Any, exchange: str = DEFAULT_EXCHANGE) -> FillRecord:
        """From a `domain.events.Fill`."""
        return cls(
            symbol=fill.symbol,
            trade_id=str(fill.trade_id),
            side=_name(fill.side),
            price=fill.price,
            qty=fill.qty,
            ts_ms=fill.ts_ms,
            fee=fill.fee,
            fee_asset=fill.fee_asset,
            client_order_id=fill.client_order_id,
            exchange_order_id=_id_text(fill.exchange_order_id),
            is_maker=fill.is_maker,
            exchange=exchange,
        )


@dataclass(frozen=True, slots=True)
class BalanceSnapshot:
    ts_ms: int
    asset: str
    free: Decimal
    locked: Decimal
    key_label: str | None = None
    exchange: str = DEFAULT_EXCHANGE


@dataclass(frozen=True, slots=True)
class KpiSample:
    """One obligation sample of one market (spreads as percent of mid, depth in quote)."""

    symbol: str
    ts_ms: int
    bid_depth_quote: Decimal
    ask_depth_quote: Decimal
    two_sided: bool
    obligations_met: bool
    mid: Decimal | None = None
    best_bid: Decimal | None = None
    best_ask: Decimal | None = None
    spread_pct: Decimal | None = None
    our_spread_pct: Decimal | None = None
    market_bid_depth_quote: Decimal | None = None  # the whole book's, us included
    market_ask_depth_quote: Decimal | None = None
    exchange: str = DEFAULT_EXCHANGE


class KpiSpan(NamedTuple):
    """What one aggregate query says about a market's samples in a period."""

    count: int
    first_ts: int | None
    last_ts: int | None
    last_id: int | None  # the highest row id: later rows are left out of a second pass


@dataclass(frozen=True, slots=True)
class AuditEvent:
    ts_ms: int
    category: str
    action: str
    message: str
    actor: str | None = None
    detail: Mapping[str, Any] | None = None


def _id_text(value: object) -> str | None:
    """Ids become strings; ints are formatted exactly (never via float)."""
    if value is None:
        return None
    if isinstance(value, float):
        raise TypeError("ids must never be floats: pass the int or the string from the wire")
    return str(value)


def _name(value: object) -> str:
    """Upper-case text of a side/status given as a string or an enum member."""
    if isinstance(value, Enum):
        value = value.value if isinstance(value.value, str) else value.name
    return str(value).upper()


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _dump(detail: Mapping[str, Any] | None) -> str | None:
    if detail is None:
        return None
    return json.dumps(detail, default=_json_default, sort_keys=True)


def _load(text: str | None) -> dict[str, Any] | None:
    return None if text is None else json.loads(text)


def normalise_url(url: str) -> str:
    """Accept a plain file path for SQLite and pick the psycopg 3 driver for bare postgresql://."""
    if "://" not in url:
        return f"sqlite:///{Path(url).expanduser()}"
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()


class Store:
    """Transactional persistence over SQLAlchemy Core."""

    def __init__(self, url: str = DEFAULT_URL, *, echo: bool = False) -> None:
        self.url = normalise_url(url)
        try:
            self.engine: Engine = create_engine(self.url, echo=echo, future=True)
        except ModuleNotFoundError as exc:
            raise StoreError(
                f"database driver missing for this URL ({exc.name}); for PostgreSQL install "
                "'psycopg[binary]' into the virtualenv"
            ) from exc
        self.dialect = self.engine.dialect.name
        if self.dialect == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        elif self.dialect != "postgresql":
            raise StoreError(
                f"unsupported database {self.dialect!r}: use sqlite:///path or postgresql://..."
            )

        self._local = threading.local()
        # Write statements are built once: building one per call (``.values(...)``, the
        # ``excluded`` alias) cost the writer thread about 1 ms of CPU per order and left cyclic
        # garbage for the engine's collector. Executed with a parameter dict, each compiles once.
        self._upsert_order = self._order_upsert_statement()
        self._insert_fill = (
            self._insert(schema.fills)
            # no conflict target: a database from before several exchanges also keeps its old
            # (symbol, trade id) rule, and either rule means "already stored"
            .on_conflict_do_nothing()
            .returning(schema.fills.c.id)
        )

    @contextmanager
    def transaction(self) -> Iterator[Store]:
        """Group several writes into one atomic transaction (nested blocks join the outer one).

        `with store.transaction(): store.upsert_order(...); store.add_fill(...)`
        """
        if getattr(self._local, "conn", None) is not None:
            yield self
            return
        with self.engine.begin() as conn:
            self._local.conn = conn
            try:
                yield self
            finally:
                self._local.conn = None

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            yield conn
        else:
            with self.engine.begin() as fresh:
                yield fresh

    def __repr__(self) -> str:  # never show a password
        return f"Store({make_url(self.url).render_as_string(hide_password=True)!r})"

    def close(self) -> None:
        self.engine.dispose()

    def create_schema(self) -> None:
        """Create missing tables and indexes, and add the nullable columns a newer version
        brought to a table an older one created (idempotent; old rows keep NULL there)."""
        schema.metadata.create_all(self.engine)
        existing = inspect(self.engine)
        with self._write() as conn:
            for table in schema.metadata.sorted_tables:
                have = {c["name"] for c in existing.get_columns(table.name)}
                for column in table.columns:
                    if column.name in have:
                        continue
                    if not column.nullable:
                        raise StoreError(
                            f"table {table.name} lacks the required column {column.name}: "
                            "it was created by an incompatible version; export it and use a "
                            "new database")
                    kind = column.type.compile(dialect=self.engine.dialect)
                    conn.exec_driver_sql(
                        f"ALTER TABLE {table.name} ADD COLUMN {column.name} {kind}")
                    if column.name == "exchange":  # every row before it was Bitrue's
                        conn.exec_driver_sql(
                            f"UPDATE {table.name} SET exchange = '{DEFAULT_EXCHANGE}'")
            if "uq_fills_exchange_symbol_trade" not in {
                    c["name"] for c in existing.get_unique_constraints("fills")} | {
                    i["name"] for i in existing.get_indexes("fills")}:
                conn.exec_driver_sql("CREATE UNIQUE INDEX uq_fills_exchange_symbol_trade "
                                     "ON fills (exchange, symbol, trade_id)")

    def journal_mode(self) -> str | None:
        """SQLite journal mode (expect 'wal' for file databases); None on PostgreSQL."""
        if self.dialect != "sqlite":
            return None
        with self.engine.connect() as conn:
            return str(conn.exec_driver_sql("PRAGMA journal_mode").scalar()).lower()

    def _insert(self, table: schema.Table) -> Any:
        if self.dialect == "postgresql":
            # imported here: the PostgreSQL dialect costs 20 ms of every SQLite start-up
            from sqlalchemy.dialects import postgresql as pg_dialect

            return pg_dialect.insert(table)
        return sqlite_dialect.insert(table)

    # -- orders -------------------------------------------------------------------------------

    def upsert_order(self, order: OrderRecord) -> None:
        """Insert the order, or update every mutable field of the one with this client id."""
        row = {
            "client_order_id": order.client_order_id,
            "exchange_order_id": _id_text(order.exchange_order_id),
            "symbol": order.symbol,
            "side": _name(order.side),
            "price": order.price,
            "qty": order.qty,
            "filled_qty": order.filled_qty,
            # derived (a volume-weighted mean can have any number of digits): rounded to the
            # 18 places both back ends hold; exchange amounts are never rounded here
            "avg_price": None
            if order.avg_price is None
            else order.avg_price.quantize(
                _AVG_PLACES, rounding=ROUND_HALF_EVEN, context=schema.EXACT_CONTEXT
            ),
            "status": _name(order.status),
            "key_label": order.key_label,
            "created_ms": order.created_ms,
            "exchange": order.exchange,
            "updated_ms": order.updated_ms,
        }
        with self._write() as conn:
            conn.execute(self._upsert_order, row)

    def _order_upsert_statement(self) -> Any:
        stmt = self._insert(schema.orders)
        mutable = {
            c.name: stmt.excluded[c.name]
            for c in schema.orders.columns
            if c.name in _ORDER_MUTABLE
        }
        # A late exchange id must not be erased by an update that does not know it.
        mutable["exchange_order_id"] = _coalesce(
            stmt.excluded.exchange_order_id, schema.orders.c.exchange_order_id
        )
        return stmt.on_conflict_do_update(index_elements=["client_order_id"], set_=mutable)

    def orders(self, open_only: bool = False, symbol: str | None = None,
               exchange: str | None = None) -> list[OrderRecord]:
        query = select(schema.orders).order_by(schema.orders.c.id)
        if open_only:
            query = query.where(schema.orders.c.status.in_(sorted(OPEN_STATUSES)))
        if symbol is not None:
            query = query.where(schema.orders.c.symbol == symbol)
        if exchange is not None:
            query = query.where(schema.orders.c.exchange == exchange)
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [_record(OrderRecord, row) for row in rows]

    def order(self, client_order_id: str) -> OrderRecord | None:
        query = select(schema.orders).where(schema.orders.c.client_order_id == client_order_id)
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        return None if row is None else _record(OrderRecord, row)

    def record_order_event(self, ev: OrderEventRecord) -> None:
        with self._write() as conn:
            conn.execute(
                schema.order_events.insert(),
                {
                    "client_order_id": ev.client_order_id,
                    "event": ev.event,
                    "status": None if ev.status is None else _name(ev.status),
                    "ts_ms": ev.ts_ms,
                    "detail": _dump(ev.detail),
                },
            )

    def order_events(self, client_order_id: str | None = None) -> list[OrderEventRecord]:
        query = select(schema.order_events).order_by(schema.order_events.c.id)
        if client_order_id is not None:
            query = query.where(schema.order_events.c.client_order_id == client_order_id)
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [
            OrderEventRecord(
                client_order_id=r["client_order_id"],
                event=r["event"],
                ts_ms=r["ts_ms"],
                status=r["status"],
                detail=_load(r["detail"]),
            )
            for r in rows
        ]

    def order_requests_since(self, since_ms: int, exchange: str | None = None,
                             not_of_keys: Iterable[str] = ()) -> list[int]:
        """When (epoch ms) our order requests, placements and cancels (and the keys gate's
        cancel probes), went out since ``since_ms``: a restarted bot counts them, the exchange
        still does. With ``exchange``, only those sent to that exchange; ``not_of_keys`` leaves
        out those of these key labels (keys sending from another address: another per-IP
        window); a request whose key is not known still counts."""
        ev = schema.order_events.c
        orders = schema.orders.c
        skip = sorted(set(not_of_keys))
        query = (select(ev.ts_ms)
                 .where(ev.ts_ms >= since_ms, ev.event.in_(("SUBMIT", "CANCEL_REQUEST")))
                 .order_by(ev.ts_ms))
        if exchange is not None or skip:
            query = query.outerjoin_from(schema.order_events, schema.orders,
                                         ev.client_order_id == orders.client_order_id)
        if exchange is not None:
            # an event without its order row (none is known) counts as Bitrue's, as before
            query = query.where(func.coalesce(orders.exchange, DEFAULT_EXCHANGE) == exchange)
        if skip:
            query = query.where(func.coalesce(orders.key_label, "").not_in(skip))
        au = schema.audit_events.c
        probes = (select(au.ts_ms, au.detail)  # each key verification sends one cancel probe
                  .where(au.ts_ms >= since_ms, au.category == "keys", au.action == "verified"))
        if skip:
            probes = probes.where(func.coalesce(au.actor, "").not_in(skip))
        with self.engine.connect() as conn:
            sent = [int(r[0]) for r in conn.execute(query)]
            sent += [int(ts) for ts, detail in conn.execute(probes)
                     if exchange is None
                     or (_load(detail) or {}).get("exchange", DEFAULT_EXCHANGE) == exchange]
        return sorted(sent)

    # -- fills --------------------------------------------------------------------------------

    def add_fill(self, fill: FillRecord) -> bool:
        """Insert a fill; False (and nothing written) when (exchange, symbol, trade_id) is
        already stored."""
        row = {
            "exchange": fill.exchange,
            "symbol": fill.symbol,
            "trade_id": _id_text(fill.trade_id),
            "client_order_id": fill.client_order_id,
            "exchange_order_id": _id_text(fill.exchange_order_id),
            "side": _name(fill.side),
            "price": fill.price,
            "qty": fill.qty,
            "fee": fill.fee,
            "fee_asset": fill.fee_asset.upper() if fill.fee_asset else None,
            "is_maker": fill.is_maker,
            "ts_ms": fill.ts_ms,
        }
        # RETURNING yields a row only when a row was inserted (rowcount is unreliable across
        # drivers when the insert is skipped).
        with self._write() as conn:
            inserted = conn.execute(self._insert_fill, row).first() is not None
        if not inserted:
            log.debug("duplicate fill ignored: %s %s trade %s", fill.exchange, fill.symbol,
                      fill.trade_id)
        return inserted

    def fills(self, symbol: str | None = None, since: Timestamp | None = None,
              exchange: str | None = None) -> list[FillRecord]:
        """Fills in time order, optionally of one symbol (of one exchange) and at or after
        `since`."""
        query = select(schema.fills).order_by(schema.fills.c.ts_ms, schema.fills.c.id)
        if symbol is not None:
            query = query.where(schema.fills.c.symbol == symbol)
        if exchange is not None:
            query = query.where(schema.fills.c.exchange == exchange)
        if since is not None:
            query = query.where(schema.fills.c.ts_ms >= to_ms(since))
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [_record(FillRecord, row) for row in rows]

    # -- balances, KPIs, audit ----------------------------------------------------------------

    def add_balance_snapshot(self, balances: BalanceSnapshot | Iterable[BalanceSnapshot]) -> None:
        """Store one snapshot row, or all rows of one account snapshot in one transaction."""
        items = [balances] if isinstance(balances, BalanceSnapshot) else list(balances)
        if not items:
            return
        rows = [asdict(b) | {"asset": b.asset.upper()} for b in items]
        with self._write() as conn:
            conn.execute(schema.balance_snapshots.insert(), rows)

    def balance_snapshots(self, since: Timestamp | None = None) -> list[BalanceSnapshot]:
        t = schema.balance_snapshots
        query = select(t).order_by(t.c.ts_ms, t.c.id)
        if since is not None:
            query = query.where(t.c.ts_ms >= to_ms(since))
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [_record(BalanceSnapshot, row) for row in rows]

    def add_kpi_sample(self, sample: KpiSample | Iterable[KpiSample]) -> None:
        items = [sample] if isinstance(sample, KpiSample) else list(sample)
        if not items:
            return
        with self._write() as conn:
            # (flat records: a field-by-field dict, without ``asdict``'s deep copy; a day of
            # samples is ~100,000 rows)
            names = _KPI_FIELDS
            conn.execute(schema.kpi_samples.insert(),
                         [{n: getattr(s, n) for n in names} for s in items])

    def kpi_samples(
        self,
        symbol: str | None = None,
        from_ts: Timestamp | None = None,
        to_ts: Timestamp | None = None,
        exchange: str | None = None,
    ) -> list[KpiSample]:
        """KPI samples in time order, within [from_ts, to_ts) when given."""
        t = schema.kpi_samples
        query = select(t).order_by(t.c.ts_ms, t.c.id)
        if symbol is not None:
            query = query.where(t.c.symbol == symbol)
        if exchange is not None:
            query = query.where(t.c.exchange == exchange)
        if from_ts is not None:
            query = query.where(t.c.ts_ms >= to_ms(from_ts))
        if to_ts is not None:
            query = query.where(t.c.ts_ms < to_ms(to_ts))
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [_record(KpiSample, row) for row in rows]

    def iter_kpi_samples(
        self,
        symbol: str,
        from_ts: Timestamp | None = None,
        to_ts: Timestamp | None = None,
        *,
        until_id: int | None = None,
        chunk: int = 1000,
        exchange: str | None = None,
    ) -> Iterator[KpiSample]:
        """One market's samples in (ts_ms, id) order, like ``kpi_samples``, read ``chunk`` rows
        at a time; with ``until_id`` only rows stored up to that one (``KpiSpan.last_id``), so
        that two passes over a table a live bot keeps writing see the same rows.

        Keyset pagination: each chunk is a short query of its own on the (symbol, ts_ms) index
        that resumes after the last (ts_ms, id) seen, so memory holds one chunk and no read
        transaction stays open while the caller works (a long SQLite reader would keep the WAL
        from being checkpointed while the bot writes). The same SQL runs on PostgreSQL.
        """
        if chunk <= 0:
            raise ValueError(f"chunk must be positive, got {chunk}")
        t = schema.kpi_samples
        columns = (func.coalesce(t.c.exchange, DEFAULT_EXCHANGE) if name == "exchange"
                   else t.c[name] for name in _KPI_FIELDS)
        query = _market(select(t.c.id, *columns), t, symbol, exchange)
        query = _ts_range(query, t.c.ts_ms, from_ts, to_ts)
        if until_id is not None:
            query = query.where(t.c.id <= until_id)
        query = query.order_by(t.c.ts_ms, t.c.id).limit(chunk)
        after: tuple[int, int] | None = None
        while True:
            page = query
            if after is not None:
                ts, row_id = after
                # ts_ms >= ts is the index range; the OR keeps only rows after (ts, id)
                page = page.where(t.c.ts_ms >= ts, or_(t.c.ts_ms > ts, t.c.id > row_id))
            with self.engine.connect() as conn:
                rows = conn.execute(page).all()
            for row in rows:
                yield KpiSample(*row[1:])
            if len(rows) < chunk:
                return
            after = (rows[-1].ts_ms, rows[-1].id)

    def kpi_sample_span(
        self, symbol: str, from_ts: Timestamp | None = None, to_ts: Timestamp | None = None,
        exchange: str | None = None,
    ) -> KpiSpan:
        """Count, first and last ts_ms and highest row id of one market's samples within
        [from_ts, to_ts): one aggregate query on the (symbol, ts_ms) index."""
        t = schema.kpi_samples
        query = _market(select(
            func.count(), func.min(t.c.ts_ms), func.max(t.c.ts_ms), func.max(t.c.id)
        ), t, symbol, exchange)
        query = _ts_range(query, t.c.ts_ms, from_ts, to_ts)
        with self.engine.connect() as conn:
            count, first, last, last_id = conn.execute(query).one()
        return KpiSpan(int(count), first, last, last_id)

    def kpi_symbols(
        self, from_ts: Timestamp | None = None, to_ts: Timestamp | None = None
    ) -> list[str]:
        """Symbols with at least one sample within [from_ts, to_ts), sorted."""
        t = schema.kpi_samples
        query = _ts_range(select(t.c.symbol).distinct(), t.c.ts_ms, from_ts, to_ts)
        with self.engine.connect() as conn:
            return sorted(conn.execute(query).scalars())

    def kpi_markets(
        self, from_ts: Timestamp | None = None, to_ts: Timestamp | None = None
    ) -> list[tuple[str, str]]:
        """(exchange, symbol) of each market with a sample within [from_ts, to_ts), sorted."""
        t = schema.kpi_samples
        exchange = func.coalesce(t.c.exchange, DEFAULT_EXCHANGE)
        query = _ts_range(select(exchange, t.c.symbol).distinct(), t.c.ts_ms, from_ts, to_ts)
        with self.engine.connect() as conn:
            return sorted((str(e), str(s)) for e, s in conn.execute(query))

    def kpi_spacings(
        self, symbol: str, from_ts: Timestamp | None = None, to_ts: Timestamp | None = None,
        exchange: str | None = None,
    ) -> list[tuple[int, int]]:
        """Histogram of the positive spacings (ms) between consecutive samples: (spacing, count).

        Computed by the database (a LAG window over the (ts_ms, id) order, as ``kpi_samples``
        returns them), so finding the sampling interval never loads the samples. Sorted by
        spacing; as many rows as distinct spacings (a handful when the sampler runs on a timer).
        """
        t = schema.kpi_samples
        prev = func.lag(t.c.ts_ms).over(order_by=(t.c.ts_ms, t.c.id))
        inner = _ts_range(
            _market(select((t.c.ts_ms - prev).label("spacing")), t, symbol, exchange),
            t.c.ts_ms,
            from_ts,
            to_ts,
        ).subquery()
        query = (
            select(inner.c.spacing, func.count())
            .where(inner.c.spacing > 0)
            .group_by(inner.c.spacing)
            .order_by(inner.c.spacing)
        )
        with self.engine.connect() as conn:
            return [(int(d), int(n)) for d, n in conn.execute(query)]

    def add_audit_event(self, ev: AuditEvent) -> None:
        with self._write() as conn:
            conn.execute(
                schema.audit_events.insert(),
                {
                    "ts_ms": ev.ts_ms,
                    "category": ev.category,
                    "action": ev.action,
                    "actor": ev.actor,
                    "message": ev.message,
                    "detail": _dump(ev.detail),
                },
            )

    def audit_events(self, category: str | None = None) -> list[AuditEvent]:
        t = schema.audit_events
        query = select(t).order_by(t.c.ts_ms, t.c.id)
        if category is not None:
            query = query.where(t.c.category == category)
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [
            AuditEvent(
                ts_ms=r["ts_ms"],
                category=r["category"],
                action=r["action"],
                message=r["message"],
                actor=r["actor"],
                detail=_load(r["detail"]),
            )
            for r in rows
        ]

    # -- export -------------------------------------------------------------------------------

    def export_json(self, kind: str) -> str:
        """All rows of one table as a JSON array; Decimals as exact strings.

        kind: one of orders, order_events, fills, balances, kpi, audit.
        """
        table = schema.TABLES_BY_KIND.get(kind)
        if table is None:
            allowed = ", ".join(sorted(schema.TABLES_BY_KIND))
            raise ValueError(f"unknown export kind {kind!r}; choose one of: {allowed}")
        with self.engine.connect() as conn:
            rows = conn.execute(select(table).order_by(table.c.id)).mappings().all()
        out = []
        for row in rows:
            item = dict(row)
            if "detail" in item:
                item["detail"] = _load(item["detail"])
            out.append(item)
        return json.dumps(out, default=_json_default, indent=1)


_KPI_FIELDS = tuple(f.name for f in fields(KpiSample))


def _market(query: Any, table: Any, symbol: str, exchange: str | None) -> Any:
    """Rows of one symbol, and of one exchange when named (any exchange's when not)."""
    query = query.where(table.c.symbol == symbol)
    return query if exchange is None else query.where(table.c.exchange == exchange)


def _ts_range(query: Any, column: Any, from_ts: Timestamp | None, to_ts: Timestamp | None) -> Any:
    if from_ts is not None:
        query = query.where(column >= to_ms(from_ts))
    if to_ts is not None:
        query = query.where(column < to_ms(to_ts))
    return query


def _coalesce(first: Any, second: Any) -> Any:
    return func.coalesce(first, second)


def _record(cls: type, row: Mapping[str, Any]) -> Any:
    names = {f.name for f in fields(cls)}
    values = {k: v for k, v in row.items() if k in names}
    if "exchange" in values and values["exchange"] is None:
        values["exchange"] = DEFAULT_EXCHANGE
    return cls(**values)
