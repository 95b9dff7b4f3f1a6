"""Database schema (SQLAlchemy Core) shared by SQLite and PostgreSQL.

Representation choices, and why:
- Money (prices, quantities, fees, balances, KPI values) uses `ExactDecimal`: a real
  `NUMERIC(38, 18)` on PostgreSQL and TEXT on SQLite. SQLite has no decimal type (its NUMERIC
  affinity goes through a float and silently loses digits), so there the exact decimal string is
  stored. Values are validated on the way in (Decimal only, finite, at most 18 fractional digits,
  at most 20 integer digits) so both back ends can hold exactly the same set of values, and come
  back canonical (trailing fractional zeros stripped) so both back ends return identical Decimals.
- Exchange ids (order ids, trade ids) are strings: Bitrue's 64-bit ids exceed 2**53 and must never
  pass through a float; strings also accept any future venue's id format.
- Timestamps are integer milliseconds since the epoch (UTC), BigInteger: exact and portable.
"""

from __future__ import annotations

from decimal import Context, Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Dialect,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator, TypeEngine

MAX_FRACTION_DIGITS = 18
MAX_INTEGER_DIGITS = 20  # NUMERIC(38, 18) leaves 20 digits before the point


# Wide enough for NUMERIC(38, 18) without rounding (the default context keeps only 28 digits).
EXACT_CONTEXT = Context(prec=80)


class DecimalValueError(ValueError):
    """A value that cannot be stored exactly as money."""


def canonical_decimal(value: Decimal) -> Decimal:
    """Strip trailing fractional zeros, keep integers in plain (non-exponent) form.

    PostgreSQL returns NUMERIC(38, 18) values padded to 18 places; SQLite returns the stored text.
    Canonicalising both makes a round trip return the same Decimal on either back end.
    """
    if value == 0:
        return Decimal(0)
    normal = value.normalize(EXACT_CONTEXT)
    if normal.as_tuple().exponent > 0:  # e.g. 1E+2 -> 100
        normal = normal.quantize(Decimal(1), context=EXACT_CONTEXT)
    return normal


def check_storable(value: Any) -> Decimal:
    """Return `value` if it is a Decimal both back ends can hold exactly, else raise."""
    if isinstance(value, bool) or not isinstance(value, (Decimal, int)):
        raise DecimalValueError(
            f"money must be a Decimal (or int), got {type(value).__name__} {value!r}: "
            "convert with Decimal(str) at the edge, never via float"
        )
    value = Decimal(value)
    if not value.is_finite():
        raise DecimalValueError(f"money must be finite, got {value}")
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)
    if exponent < -MAX_FRACTION_DIGITS and value != value.quantize(
        Decimal(1).scaleb(-MAX_FRACTION_DIGITS), context=EXACT_CONTEXT
    ):
        raise DecimalValueError(
            f"{value} has more than {MAX_FRACTION_DIGITS} fractional digits and would be rounded "
            "by the database; round it (Instrument.round_price/round_qty) before storing"
        )
    if value != 0 and value.adjusted() >= MAX_INTEGER_DIGITS:
        raise DecimalValueError(
            f"{value} has more than {MAX_INTEGER_DIGITS} integer digits; NUMERIC(38, 18) "
            "cannot hold it"
        )
    return value


class ExactDecimal(TypeDecorator[Decimal]):
    """Decimal stored exactly: NUMERIC(38, 18) on PostgreSQL, text elsewhere (SQLite)."""

    impl = String(64)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(Numeric(38, MAX_FRACTION_DIGITS, asdecimal=True))
        return dialect.type_descriptor(String(64))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        checked = canonical_decimal(check_storable(value))
        if dialect.name == "postgresql":
            return checked
        return format(checked, "f")

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if isinstance(value, str) and _is_canonical_text(value):
            return Decimal(value)  # the text SQLite holds is already canonical: skip normalize
        return canonical_decimal(Decimal(str(value)) if not isinstance(value, Decimal) else value)


def _is_canonical_text(text: str) -> bool:
    """True when ``Decimal(text)`` is already what ``canonical_decimal`` would return.

    That is the case for what ``process_bind_param`` writes on SQLite ("0.5213", "450"): no
    trailing fractional zero, no exponent, an unsigned integer, within the exact context. A
    report reads millions of these; normalising each was about a third of reading a sample.
    """
    if len(text) > EXACT_CONTEXT.prec:
        return False
    if "." in text:
        return text[-1] in "123456789" and "e" not in text and "E" not in text
    return text.isascii() and text.isdigit()


metadata = MetaData()

ID = String(64)  # exchange ids, client ids, trade ids: strings, never floats

orders = Table(
    "orders",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("client_order_id", ID, nullable=False, unique=True),
    Column("exchange_order_id", ID, nullable=True),
    Column("symbol", String(32), nullable=False),
    Column("side", String(4), nullable=False),
    Column("price", ExactDecimal(), nullable=False),
    Column("qty", ExactDecimal(), nullable=False),
    Column("filled_qty", ExactDecimal(), nullable=False),
    Column("avg_price", ExactDecimal(), nullable=True),
    Column("status", String(24), nullable=False),
    Column("key_label", String(64), nullable=True),
    Column("created_ms", BigInteger, nullable=False),
    # which exchange (a registry name); NULL in rows from before several exchanges: Bitrue
    Column("exchange", String(32), nullable=True),
    Column("updated_ms", BigInteger, nullable=False),
    Index("ix_orders_status", "status"),
    Index("ix_orders_symbol", "symbol"),
)

order_events = Table(
    "order_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("client_order_id", ID, nullable=False),
    Column("event", String(32), nullable=False),
    Column("status", String(24), nullable=True),
    Column("ts_ms", BigInteger, nullable=False),
    Column("detail", Text, nullable=True),  # JSON text, secrets never go here
    Index("ix_order_events_client", "client_order_id"),
)

fills = Table(
    "fills",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("symbol", String(32), nullable=False),
    Column("trade_id", ID, nullable=False),
    Column("client_order_id", ID, nullable=True),
    Column("exchange_order_id", ID, nullable=True),
    Column("side", String(4), nullable=False),
    Column("price", ExactDecimal(), nullable=False),
    Column("qty", ExactDecimal(), nullable=False),
    Column("fee", ExactDecimal(), nullable=False),
    Column("fee_asset", String(16), nullable=True),
    Column("is_maker", Boolean, nullable=True),
    Column("ts_ms", BigInteger, nullable=False),
    # always written (the store fills in Bitrue when a record names none); nullable only so an
    # older database gains it in place (``Store.create_schema``)
    Column("exchange", String(32), nullable=True),
    # two exchanges may number their trades alike: a trade is one per (exchange, symbol, id)
    UniqueConstraint("exchange", "symbol", "trade_id", name="uq_fills_exchange_symbol_trade"),
    Index("ix_fills_ts", "ts_ms"),
)

balance_snapshots = Table(
    "balance_snapshots",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ts_ms", BigInteger, nullable=False),
    Column("key_label", String(64), nullable=True),
    Column("asset", String(16), nullable=False),
    Column("exchange", String(32), nullable=True),
    Column("free", ExactDecimal(), nullable=False),
    Column("locked", ExactDecimal(), nullable=False),
    Index("ix_balance_ts", "ts_ms"),
)

kpi_samples = Table(
    "kpi_samples",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("symbol", String(32), nullable=False),
    Column("ts_ms", BigInteger, nullable=False),
    Column("mid", ExactDecimal(), nullable=True),
    Column("best_bid", ExactDecimal(), nullable=True),
    Column("best_ask", ExactDecimal(), nullable=True),
    Column("spread_pct", ExactDecimal(), nullable=True),
    Column("our_spread_pct", ExactDecimal(), nullable=True),
    Column("bid_depth_quote", ExactDecimal(), nullable=False),
    Column("ask_depth_quote", ExactDecimal(), nullable=False),
    Column("two_sided", Boolean, nullable=False),
    Column("obligations_met", Boolean, nullable=False),
    # the whole book's depth within +-2 % (everyone, us included): what listing sites show
    Column("market_bid_depth_quote", ExactDecimal(), nullable=True),
    Column("market_ask_depth_quote", ExactDecimal(), nullable=True),
    Column("exchange", String(32), nullable=True),  # NULL: Bitrue (rows from before)
    Index("ix_kpi_symbol_ts", "symbol", "ts_ms"),
)

audit_events = Table(
    "audit_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ts_ms", BigInteger, nullable=False),
    Column("category", String(32), nullable=False),
    Column("action", String(64), nullable=False),
    Column("actor", String(64), nullable=True),
    Column("message", Text, nullable=False),
    Column("detail", Text, nullable=True),  # JSON text, secrets never go here
    Index("ix_audit_ts", "ts_ms"),
)

TABLES_BY_KIND: dict[str, Table] = {
    "orders": orders,
    "order_events": order_events,
    "fills": fills,
    "balances": balance_snapshots,
    "kpi": kpi_samples,
    "audit": audit_events,
}
