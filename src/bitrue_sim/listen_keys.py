"""User-stream listen keys: one active key per account, valid 60 minutes, extended by PUT.

The docs: POST on an account with an active key returns that key and extends it; PUT extends;
DELETE closes the stream and invalidates the key. Expiry follows the exchange clock, so a
``ManualClock`` can expire keys in tests. The user WebSocket learns about closed keys through
``on_invalidated`` callbacks (called with ``(listen_key, account_id, reason)``) or by asking
``validate``/``is_valid``; ``sweep()`` expires due keys and fires the callbacks (the server runs
it periodically).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from bitrue_sim.core.clock import Clock

LISTEN_KEY_TTL_MS = 60 * 60 * 1000

log = logging.getLogger(__name__)

InvalidationCallback = Callable[[str, int, str], None]


@dataclass
class _Entry:
    account_id: int
    expires_ms: int


class ListenKeyStore:
    """Active listen keys by key string; secrets never logged (only the account id is)."""

    def __init__(self, clock: Clock, ttl_ms: int = LISTEN_KEY_TTL_MS) -> None:
        self._clock = clock
        self.ttl_ms = int(ttl_ms)
        self._by_key: dict[str, _Entry] = {}
        self._by_account: dict[int, str] = {}
        self._callbacks: list[InvalidationCallback] = []

    def on_invalidated(self, callback: InvalidationCallback) -> None:
        """Register ``callback(listen_key, account_id, reason)``; reason: deleted/expired/invalidated."""
        self._callbacks.append(callback)

    def open(self, account_id: int) -> str:
        """Return the account's active key (extended) or a new one."""
        self.sweep()
        now = self._clock.now_ms()
        key = self._by_account.get(account_id)
        if key is not None:
            self._by_key[key].expires_ms = now + self.ttl_ms
            return key
        key = secrets.token_hex(32)  # 64 hex chars like the docs' example
        self._by_key[key] = _Entry(account_id, now + self.ttl_ms)
        self._by_account[account_id] = key
        return key

    def keepalive(self, key: str, account_id: int | None = None) -> bool:
        """Extend by the TTL; False when unknown, expired or owned by another account."""
        entry = self._live(key)
        if entry is None or (account_id is not None and entry.account_id != account_id):
            return False
        entry.expires_ms = self._clock.now_ms() + self.ttl_ms
        return True

    def close(self, key: str, account_id: int | None = None) -> bool:
        entry = self._live(key)
        if entry is None or (account_id is not None and entry.account_id != account_id):
            return False
        self._drop(key, "deleted")
        return True

    def invalidate(self, key: str) -> bool:
        """Fault injection: kill a key now, as if the exchange had dropped it."""
        if key not in self._by_key:
            return False
        self._drop(key, "invalidated")
        return True

    def validate(self, key: str) -> int | None:
        """The owning account id when ``key`` is live, else None."""
        entry = self._live(key)
        return entry.account_id if entry is not None else None

    def is_valid(self, key: str) -> bool:
        return self.validate(key) is not None

    def expires_ms(self, key: str) -> int | None:
        entry = self._live(key)
        return entry.expires_ms if entry is not None else None

    def active_key(self, account_id: int) -> str | None:
        key = self._by_account.get(account_id)
        return key if key is not None and self._live(key) is not None else None

    def sweep(self) -> list[str]:
        """Expire every key past its time; returns the expired keys (for tests)."""
        now = self._clock.now_ms()
        due = [k for k, e in self._by_key.items() if e.expires_ms <= now]
        for k in due:
            self._drop(k, "expired")
        return due

    def _live(self, key: str) -> _Entry | None:
        entry = self._by_key.get(key)
        if entry is None:
            return None
        if entry.expires_ms <= self._clock.now_ms():
            self._drop(key, "expired")
            return None
        return entry

    def _drop(self, key: str, reason: str) -> None:
        entry = self._by_key.pop(key, None)
        if entry is None:
            return
        if self._by_account.get(entry.account_id) == key:
            del self._by_account[entry.account_id]
        for cb in list(self._callbacks):
            try:
                cb(key, entry.account_id, reason)
            except Exception:  # a broken listener must not break the REST call
                log.exception("listen-key callback failed (account %s)", entry.account_id)
