"""What tests do to an engine that production never does."""

from __future__ import annotations

from typing import Any


async def crash(engine: Any) -> None:
    """Stop without any cleanup (orders stay on the exchange, queued writes are lost): what
    ``kill -9`` does, for restart tests."""
    engine.crashed = True
    await engine.shutdown(cancel_orders=False)
