"""Key hygiene: add, list, review, rotate, remove, mark used; every change goes to the audit log.

Each change is one locked read-modify-write of the vault (the CLI and the engine may run at the
same time), followed by one audit line. Nothing here prints; the CLI renders the results.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from liquidity_bot.keys.home import (
    KeysHome,
    check_extras,
    check_label,
    check_symbol,
    check_token_format,
)
from liquidity_bot.keys.policy import Policy
from liquidity_bot.keys.vault import (
    DEFAULT_KDF,
    KdfParams,
    KeyRecord,
    RecordNotFound,
    Vault,
    VaultError,
    locked,
    now_iso,
)

T = TypeVar("T")


class KeyConflict(VaultError):
    """The requested change would leave two active keys for one label, or is ambiguous."""


def audit_fields(rec: KeyRecord) -> dict[str, Any]:
    """What the audit log may say about a key: never the secret, only a short API key hint."""
    return {
        "label": rec.label,
        "exchange": rec.exchange,
        "record_id": rec.id,
        "api_key_hint": rec.api_key_hint,
    }


def mutate(home: KeysHome, fn: Callable[[Vault], T], *, passphrase: str | None = None) -> T:
    """Open the vault under its lock, apply ``fn``, save atomically."""
    with locked(home.vault):
        vault = Vault.open(home.vault)
        if passphrase is not None:
            vault.unlock(passphrase)
        result = fn(vault)
        vault.save()
        return result


def add_key(
    home: KeysHome,
    *,
    passphrase: str,
    exchange: str,
    label: str,
    api_key: str,
    secret: str,
    markets: tuple[str, ...] = (),
    kdf: KdfParams = DEFAULT_KDF,
    status: str = "active",
    replaces: str | None = None,
    extras: dict[str, str] | None = None,
    profile: str = "bot",
) -> KeyRecord:
    """Seal a new key in the vault (creating the vault on first use) and audit it. ``extras``
    are the exchange's other credentials (OKX/KuCoin passphrase, BitMart memo), sealed with the
    secret; the exchange's record says which it needs.

    Everything that can be checked is checked before the vault is touched: a refused key
    leaves nothing stored."""
    check_label(label)
    for symbol in markets:
        check_symbol(symbol, exchange)
    check_token_format(exchange, "API key", api_key)
    check_token_format(exchange, "secret", secret)
    check_extras(exchange, extras or {})
    if api_key == secret:
        raise KeyConflict("the secret equals the API key: paste the secret key, not the API key")
    with locked(home.vault):
        if home.vault.exists():
            vault = Vault.open(home.vault).unlock(passphrase)
        else:
            vault = Vault.create(home.vault, passphrase, kdf=kdf)
        for rec in vault.records():
            if rec.api_key == api_key and rec.exchange == exchange:
                raise KeyConflict(f"this API key is already stored under the label {rec.label!r}")
        if status == "active":
            try:
                existing = vault.find_active(label, exchange)
            except RecordNotFound:
                existing = None
            if existing is not None:
                raise KeyConflict(
                    f"label {label!r} already has an active {exchange} key ({existing.api_key_hint}); "
                    f"use `liquidity-bot keys rotate {label!r} --api-key NEW` to replace it"
                )
        rec = vault.add(
            exchange=exchange,
            label=label,
            api_key=api_key,
            secret=secret,
            markets=markets,
            status=status,
            replaces=replaces,
            extras=extras,
            profile=profile,
        )
        vault.save()
    home.audit_log().append("added", **audit_fields(rec), status=status, profile=profile)
    return rec


def records_for(vault: Vault, label: str) -> list[KeyRecord]:
    return [r for r in vault.records() if r.label == label]


def remove_key(home: KeysHome, label: str, record_id: str | None = None) -> KeyRecord:
    """Delete one record (no passphrase needed: nothing secret is read)."""

    def _remove(vault: Vault) -> KeyRecord:
        hits = records_for(vault, label)
        if record_id is not None:
            hits = [r for r in hits if r.id == record_id]
        if not hits:
            raise RecordNotFound(
                f"no key labelled {label!r}" + (f" with id {record_id}" if record_id else "")
            )
        if len(hits) > 1:
            listing = "".join(f"\n  --id {r.id}  {r.status:<14} {r.api_key_hint}" for r in hits)
            raise KeyConflict(
                f"label {label!r} has {len(hits)} keys; choose one with --id:{listing}"
            )
        vault.remove(hits[0].id)
        return hits[0]

    rec = mutate(home, _remove)
    home.audit_log().append("removed", **audit_fields(rec), status=rec.status)
    return rec


def mark_used(home: KeysHome, label: str, exchange: str | None = None) -> KeyRecord:
    """Record that the engine traded with a label's active key (engine-internal; no passphrase)."""
    rec = mutate(
        home,
        lambda v: v.update(v.find_active(label, exchange).id, last_used_at=now_iso()),
    )
    home.audit_log().append("used", **audit_fields(rec))
    return rec


def mark_reviewed(home: KeysHome, label: str) -> KeyRecord:
    rec = mutate(home, lambda v: v.update(v.find_active(label).id, reviewed_at=now_iso()))
    return rec


def _parse(ts: str | None) -> datetime | None:
    if not ts:
        return None
    return datetime.fromisoformat(ts)


@dataclass(frozen=True)
class KeyRow:
    """One line of `keys list`."""

    label: str
    exchange: str
    record_id: str
    api_key_hint: str
    status: str
    markets: tuple[str, ...]
    created_at: str
    age_days: int
    last_verified_at: str | None
    last_verdict: str | None
    last_used_at: str | None
    review_due: str
    review_overdue: bool
    profile: str = "bot"  # bot: trades; audit: the token project's read-only key

    def to_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "exchange": self.exchange,
            "id": self.record_id,
            "api_key_hint": self.api_key_hint,
            "status": self.status,
            "markets": list(self.markets),
            "created_at": self.created_at,
            "age_days": self.age_days,
            "last_verified_at": self.last_verified_at,
            "last_verdict": self.last_verdict,
            "last_used_at": self.last_used_at,
            "review_due": self.review_due,
            "review_overdue": self.review_overdue,
            "profile": self.profile,
        }


def review_due(rec: KeyRecord, policy: Policy) -> datetime:
    """A key is due for review ``review_interval_days`` after creation or its last review."""
    base = _parse(rec.reviewed_at) or _parse(rec.created_at) or datetime.now(UTC)
    return base + timedelta(days=policy.review_interval_days)


def list_rows(vault: Vault, policy: Policy, now: datetime | None = None) -> list[KeyRow]:
    now = now or datetime.now(UTC)
    rows = []
    for rec in vault.records():
        created = _parse(rec.created_at) or now
        due = review_due(rec, policy)
        v = rec.last_verification
        rows.append(
            KeyRow(
                label=rec.label,
                exchange=rec.exchange,
                record_id=rec.id,
                api_key_hint=rec.api_key_hint,
                status=rec.status,
                markets=rec.markets,
                created_at=rec.created_at,
                age_days=max(0, (now - created).days),
                last_verified_at=v.checked_at if v else None,
                last_verdict=v.verdict if v else None,
                last_used_at=rec.last_used_at,
                review_due=due.date().isoformat(),
                review_overdue=rec.status == "active" and due <= now,
                profile=rec.profile,
            )
        )
    return rows


@dataclass(frozen=True)
class Finding:
    """One thing `keys review` wants a human to act on."""

    label: str
    record_id: str
    # review_overdue | unused | pending_delete | unfinished_rotation | not_verified | not_passing
    kind: str
    message: str
    action: str

    def to_json(self) -> dict[str, str]:
        return {
            "label": self.label,
            "id": self.record_id,
            "kind": self.kind,
            "message": self.message,
            "action": self.action,
        }


def review(vault: Vault, policy: Policy, now: datetime | None = None) -> list[Finding]:
    now = now or datetime.now(UTC)
    out: list[Finding] = []
    hints = {r.id: r.api_key_hint for r in vault.records()}
    for rec in vault.records():
        lbl = rec.label
        if rec.status == "pending_delete":
            out.append(
                Finding(
                    lbl,
                    rec.id,
                    "pending_delete",
                    f"key {rec.api_key_hint} was rotated out"
                    + (
                        f" (replaced by key {hints.get(rec.replaced_by, rec.replaced_by)})"
                        if rec.replaced_by
                        else ""
                    ),
                    "delete it on Bitrue > API Management, then run "
                    f"`liquidity-bot keys remove {lbl!r} --id {rec.id}`",
                )
            )
            continue
        if rec.status == "candidate":
            out.append(
                Finding(
                    lbl,
                    rec.id,
                    "unfinished_rotation",
                    f"key {rec.api_key_hint} was added as a rotation candidate but never became "
                    f"active (the rotation was interrupted)",
                    f"run `liquidity-bot keys remove {lbl!r} --id {rec.id}`, then rotate again",
                )
            )
            continue
        if rec.status != "active":
            continue
        due = review_due(rec, policy)
        if due <= now:
            out.append(
                Finding(
                    lbl,
                    rec.id,
                    "review_overdue",
                    f"review was due on {due.date().isoformat()} (every {policy.review_interval_days} days)",
                    f"check the key page on Bitrue, then rotate it (`liquidity-bot keys rotate {lbl!r} "
                    f"--api-key NEW`) or confirm it (`liquidity-bot keys review --ack {lbl!r}`)",
                )
            )
        last_used = _parse(rec.last_used_at) or _parse(rec.created_at) or now
        unused = now - last_used
        if unused >= timedelta(days=policy.unused_threshold_days):
            since = "never used" if rec.last_used_at is None else f"last used {rec.last_used_at}"
            out.append(
                Finding(
                    lbl,
                    rec.id,
                    "unused",
                    f"{since}; unused for {unused.days} days (threshold {policy.unused_threshold_days})",
                    "if nothing needs it, delete it on Bitrue > API Management and run "
                    f"`liquidity-bot keys remove {lbl!r}`",
                )
            )
        v = rec.last_verification
        if v is None:
            out.append(
                Finding(
                    lbl,
                    rec.id,
                    "not_verified",
                    "the key was never verified",
                    f"run `liquidity-bot keys verify {lbl!r}`",
                )
            )
        elif v.verdict != "pass":
            out.append(
                Finding(
                    lbl,
                    rec.id,
                    "not_passing",
                    f"last verification ({v.checked_at}) was {v.verdict}",
                    f"fix the failing checks, then run `liquidity-bot keys verify {lbl!r}`",
                )
            )
    return out


def home_of(root: Path | str) -> KeysHome:
    return KeysHome(Path(root))
