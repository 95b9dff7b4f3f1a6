"""Append-only audit log of key events (``<home>/audit.jsonl``): one JSON object per line.

Events: added, verified (with results), gate (accepted/refused at engine start), used, rotated,
removed. Lines never hold secrets: only the label, exchange, record id and a short API key hint.
Each line is written with a single ``write`` on an ``O_APPEND`` descriptor and fsynced, so
concurrent writers do not interleave and a crash loses at most the line being written.

The file is the record. A running engine may also *mirror* each entry into its database
(``store_mirror``: table ``audit_events``, category ``keys``); a failing mirror never loses the
file line. As a last line of defence every line passes ``mask_registered`` (secrets registered
with the logging layer, which the keys code does for every secret it reads or reveals).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from liquidity_bot.logs import mask_registered

log = logging.getLogger(__name__)

AuditMirror = Callable[[dict[str, Any]], None]
EVENTS = frozenset(
    {"added", "verified", "gate", "used", "rotated", "removed", "passphrase_changed"}
)

# Field names that must never be written, whatever a caller passes.
_FORBIDDEN_FIELDS = frozenset({"secret", "api_secret", "signature", "listen_key", "passphrase"})


class AuditLog:
    def __init__(self, path: Path, mirror: AuditMirror | None = None):
        self.path = Path(path)
        self.mirror = mirror

    def append(self, event: str, **fields: Any) -> dict[str, Any]:
        if event not in EVENTS:
            raise ValueError(f"unknown audit event {event!r}; known: {', '.join(sorted(EVENTS))}")
        bad = _FORBIDDEN_FIELDS & set(fields)
        if bad:
            raise ValueError(f"refusing to write {', '.join(sorted(bad))} to the audit log")
        entry = {
            "ts": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "event": event,
            **fields,
        }
        text = mask_registered(json.dumps(entry, ensure_ascii=False, default=str))
        entry = json.loads(text)
        line = (text + "\n").encode("utf-8")
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)
        if self.mirror is not None:
            try:
                self.mirror(entry)
            except Exception:  # noqa: BLE001 - the file line is written; the copy is best effort
                log.warning(
                    "could not mirror key audit event %r into the database", event, exc_info=True
                )
        return entry

    def entries(self) -> Iterator[dict[str, Any]]:
        if not self.path.exists():
            return
        with self.path.open(encoding="utf-8") as fh:
            for line in fh:
                line = line.strip()
                if line:
                    yield json.loads(line)


def _summary(entry: dict[str, Any]) -> str:
    parts = [f"key {entry.get('label')!r}" if entry.get("label") else "vault", str(entry["event"])]
    for name in ("verdict", "outcome", "status"):
        if entry.get(name):
            parts.append(f"{name}={entry[name]}")
    return " ".join(parts)


def store_mirror(store: Any) -> AuditMirror:
    """A mirror writing each key audit entry to ``store`` (``liquidity_bot.store.Store``) as an
    ``AuditEvent`` with category ``keys``, action = the event, actor = the key's label."""
    from liquidity_bot.store.store import AuditEvent

    def write(entry: dict[str, Any]) -> None:
        ts = datetime.fromisoformat(entry["ts"])
        detail = {k: v for k, v in entry.items() if k not in ("ts", "event")}
        store.add_audit_event(
            AuditEvent(
                ts_ms=int(ts.timestamp() * 1000),
                category="keys",
                action=str(entry["event"]),
                message=_summary(entry),
                actor=entry.get("label"),
                detail=detail,
            )
        )

    return write
