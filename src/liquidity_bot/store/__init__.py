"""Persistence through SQLAlchemy Core: SQLite by default, PostgreSQL by URL."""

from liquidity_bot.store.store import (
    DEFAULT_URL,
    OPEN_STATUSES,
    AuditEvent,
    BalanceSnapshot,
    FillRecord,
    KpiSample,
    KpiSpan,
    OrderEventRecord,
    OrderRecord,
    Store,
    StoreError,
)

__all__ = [
    "DEFAULT_URL",
    "OPEN_STATUSES",
    "AuditEvent",
    "BalanceSnapshot",
    "FillRecord",
    "KpiSample",
    "KpiSpan",
    "OrderEventRecord",
    "OrderRecord",
    "Store",
    "StoreError",
]
