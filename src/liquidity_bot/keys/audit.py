"""Append-only audit log of key events (``<home>/audit.jsonl``): one JSON object per line.

Events: added, verified (with results), gate (accepted/refused at engine start), used, rotated,
removed. Lines never hold secrets: only the label, exchange, record id and a short API key hint.
Each line is written with a single ``write`` on an ``O_APPEND`` descriptor and fsynced, so
concurrent writers do not interleave and a crash loses at most the line being written.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

EVENTS = frozenset({"added", "verified", "gate", "used", "rotated", "removed", "passphrase_changed"})

# Field names that must never be written, whatever a caller passes.
_FORBIDDEN_FIELDS = frozenset({"secret", "api_secret", "signature", "listen_key", "passphrase"})


class AuditLog:
    def __init__(self, path: Path):
        self.path = Path(path)

    def append(self, event: str, **fields: Any) -> dict[str, Any]:
        if event not in EVENTS:
            raise ValueError(f"unknown audit event {event!r}; known: {', '.join(sorted(EVENTS))}")
        bad = _FORBIDDEN_FIELDS & set(fields)
        if bad:
            raise ValueError(f"refusing to write {', '.join(sorted(bad))} to the audit log")
        entry = {"ts": datetime.now(UTC).isoformat(timespec="milliseconds"), "event": event, **fields}
        line = (json.dumps(entry, sort_keys=False, default=str) + "\n").encode("utf-8")
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)
        return entry

    def entries(self) -> Iterator[dict[str, Any]]:
        if not self.path.exists():
            return
        with self.path.open(encoding="utf-8") as fh:
            for line in fh:
                line = line.strip()
                if line:
                    yield json.loads(line)
