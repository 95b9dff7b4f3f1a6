"""API keys as Bitrue's key page manages them: permissions, IP allow list, enable flag, last use.

An account owns any number of keys. The secret is generated once and handed out only by
``create``; afterwards it is used for signature checks only and never rendered (``KeyInfo``
carries no secret, ``repr`` of the internal record hides it).
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
import string
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

# "transfer", "margin" and "options" exist for dialects whose key pages have them (Binance's
# internal/universal transfer, margin and vanilla options); Bitrue ignores them.
PERMISSIONS: frozenset[str] = frozenset(
    {"read", "trade", "withdraw", "futures", "transfer", "margin", "options"}
)

# Bitrue keys and secrets are 64 alphanumeric characters (see the docs' signing example).
_ALPHABET = string.ascii_letters + string.digits
KEY_LENGTH = 64


def _random_token(length: int = KEY_LENGTH) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


@dataclass(frozen=True)
class KeyInfo:
    """What the admin API and tests may see about a key: everything but the secret."""

    api_key: str
    account_id: int
    label: str
    permissions: frozenset[str]
    ip_allowlist: tuple[str, ...]
    enabled: bool
    created_ms: int
    last_used_ms: int | None
    use_count: int

    def as_json(self) -> dict:
        return {
            "api_key": self.api_key,
            "account_id": self.account_id,
            "label": self.label,
            "permissions": sorted(self.permissions),
            "ip_allowlist": list(self.ip_allowlist),
            "enabled": self.enabled,
            "created_ms": self.created_ms,
            "last_used_ms": self.last_used_ms,
            "use_count": self.use_count,
        }


@dataclass
class _KeyRecord:
    api_key: str
    secret: str = field(repr=False)
    account_id: int
    label: str
    permissions: frozenset[str]
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]
    ip_allowlist: tuple[str, ...]
    enabled: bool = True
    created_ms: int = 0
    last_used_ms: int | None = None
    use_count: int = 0

    def info(self) -> KeyInfo:
        return KeyInfo(
            api_key=self.api_key,
            account_id=self.account_id,
            label=self.label,
            permissions=self.permissions,
            ip_allowlist=self.ip_allowlist,
            enabled=self.enabled,
            created_ms=self.created_ms,
            last_used_ms=self.last_used_ms,
            use_count=self.use_count,
        )


class InvalidKeySpec(ValueError):
    """Bad input to the key store (unknown permission, malformed IP): message says what to fix."""


class KeyStore:
    """All API keys of the simulated exchange, looked up by the key string."""

    def __init__(self, now_ms: Callable[[], int]) -> None:
        self._now_ms = now_ms
        self._keys: dict[str, _KeyRecord] = {}

    def create(
        self,
        account_id: int,
        label: str = "",
        permissions: Iterable[str] = ("read",),
        ip_allowlist: Iterable[str] = (),
        *,
        api_key: str | None = None,
        secret: str | None = None,
    ) -> tuple[str, str]:
        """Create a key; returns ``(api_key, secret)``: the only time the secret is given out.

        ``api_key``/``secret`` may be fixed (tests replaying the docs' signing example);
        otherwise both are random 64-character alphanumeric strings, as Bitrue issues them.
        """
        perms = frozenset(str(p).lower() for p in permissions)
        unknown = perms - PERMISSIONS
        if unknown:
            raise InvalidKeySpec(
                f"unknown permission(s) {sorted(unknown)}; allowed: {sorted(PERMISSIONS)}"
            )
        allow = tuple(str(a).strip() for a in ip_allowlist)
        networks = []
        for entry in allow:
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError as exc:
                raise InvalidKeySpec(
                    f"ip_allowlist entry {entry!r} is not an IP address or network"
                ) from exc
        if api_key is None:
            api_key = _random_token()
            while api_key in self._keys:  # pragma: no cover - 62**64 space
                api_key = _random_token()
        elif api_key in self._keys:
            raise InvalidKeySpec("that API key already exists")
        if secret is None:
            secret = _random_token()
        self._keys[api_key] = _KeyRecord(
            api_key=api_key,
            secret=secret,
            account_id=int(account_id),
            label=str(label),
            permissions=perms,
            networks=tuple(networks),
            ip_allowlist=allow,
            created_ms=self._now_ms(),
        )
        return api_key, secret

    def get(self, api_key: str) -> KeyInfo | None:
        rec = self._keys.get(api_key)
        return rec.info() if rec is not None else None

    def keys_of(self, account_id: int) -> list[KeyInfo]:
        return [r.info() for r in self._keys.values() if r.account_id == account_id]

    def disable(self, api_key: str) -> bool:
        rec = self._keys.get(api_key)
        if rec is None:
            return False
        rec.enabled = False
        return True

    def enable(self, api_key: str) -> bool:
        rec = self._keys.get(api_key)
        if rec is None:
            return False
        rec.enabled = True
        return True

    def delete(self, api_key: str) -> bool:
        return self._keys.pop(api_key, None) is not None

    # -- used by the server's authentication -------------------------------------------------

    def active(self, api_key: str) -> KeyInfo | None:
        """The key if it exists and is enabled; disabled and deleted keys look unknown."""
        rec = self._keys.get(api_key)
        if rec is None or not rec.enabled:
            return None
        return rec.info()

    def signature_ok(self, api_key: str, message: bytes, signature: str) -> bool:
        """Constant-time check of a lowercase-or-uppercase hex HMAC-SHA256 signature."""
        rec = self._keys.get(api_key)
        if rec is None:
            return False
        expected = hmac.new(rec.secret.encode(), message, "sha256").hexdigest()
        # bytes, not str: compare_digest refuses non-ASCII strings (a client's garbage)
        given = signature.lower().encode("utf-8", errors="replace")
        return hmac.compare_digest(expected.encode(), given)

    def ip_allowed(self, api_key: str, ip: str | None) -> bool:
        """An empty allow list means unrestricted; otherwise the source must be inside it."""
        rec = self._keys.get(api_key)
        if rec is None:
            return False
        if not rec.networks:
            return True
        if ip is None:
            return False
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return False
        return any(addr in net for net in rec.networks)

    def is_ip_restricted(self, api_key: str) -> bool:
        rec = self._keys.get(api_key)
        return rec is not None and bool(rec.networks)

    def record_use(self, api_key: str) -> None:
        rec = self._keys.get(api_key)
        if rec is not None:
            rec.last_used_ms = self._now_ms()
            rec.use_count += 1
