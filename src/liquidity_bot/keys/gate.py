"""The trading gate: only a key that passes the policy trades.

``require_tradeable`` is what the engine calls at start. It re-verifies the key against the
exchange, refuses ``fail``, refuses ``unknown`` unless the policy accepts that very check as
unknown (recorded in the audit log), and returns a ``VerifiedKey`` that knows its age, so the
engine can tell when the verification is older than the policy allows.

Rotation lives here too because it is verification-driven: the replacement becomes active only
after it passed the same judgement.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from liquidity_bot.keys.home import KeysHome
from liquidity_bot.keys.hygiene import add_key, audit_fields, mark_used, mutate
from liquidity_bot.keys.policy import Policy, load_policy
from liquidity_bot.keys.profiles import AUDIT, policy_for_profile
from liquidity_bot.keys.vault import (
    DEFAULT_KDF,
    KdfParams,
    KeyRecord,
    RecordNotFound,
    Vault,
    Verification,
    now_iso,
)
from liquidity_bot.keys.verify import (
    FAIL,
    PASS,
    UNKNOWN,
    Check,
    ClientFactory,
    VerificationReport,
    check_canary,
    not_applicable_checks,
    probe_key,
    report_from_json,
)


class KeyRefused(Exception):
    """The key may not trade; the message lists what to fix. ``report`` is the evidence."""

    def __init__(self, message: str, report: VerificationReport | None = None):
        super().__init__(message)
        self.report = report


class KeyStale(KeyRefused):
    """The last verification is older than allowed and re-verification was not requested."""


class KeyUnverifiable(KeyRefused):
    """The running key could not be re-checked (vault, passphrase) for longer than its grace."""


# How long a running key may go on after its re-checks started failing (vault deleted or
# corrupt, wrong passphrase): long enough for an operator to restore a vault by hand, short
# enough that a key nobody can verify stops within minutes ([keys] reverify_grace_s).
DEFAULT_UNVERIFIABLE_GRACE_S = 300.0


class Secret:
    """A string that does not print itself (repr/str show ``***``); ``reveal()`` to use it."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret(***)"

    __str__ = __repr__


@dataclass(frozen=True)
class VerifiedKey:
    record_id: str
    label: str
    exchange: str
    api_key: str
    secret: Secret = field(repr=False)
    report: VerificationReport
    accepted_unknown: tuple[str, ...]
    max_age: timedelta
    # the exchange's other credentials (OKX/KuCoin passphrase, BitMart memo), never printed
    extras: dict[str, Secret] = field(default_factory=dict, repr=False)

    @property
    def verified_at(self) -> datetime:
        return datetime.fromisoformat(self.report.checked_at)

    def age(self, now: datetime | None = None) -> timedelta:
        return (now or datetime.now(UTC)) - self.verified_at

    def is_stale(self, now: datetime | None = None) -> bool:
        """True once the verification is older than the policy's ``max_verification_age_hours``,
        or dated in the future (the clock stepped back, or the record was edited): a negative
        age would otherwise never become stale."""
        age = self.age(now)
        return age > self.max_age or age < timedelta(0)


@dataclass(frozen=True)
class Judgement:
    allowed: bool
    accepted_unknown: tuple[str, ...]
    reasons: tuple[str, ...]


def parse_checked_at(text: str) -> datetime | None:
    """A verification's time, or None when it cannot be trusted as a time (unreadable or
    without a time zone: its age would be a guess)."""
    try:
        when = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return None
    return when if when.tzinfo is not None else None


def _age_problem(checked_at: str, policy: Policy, now: datetime | None) -> str | None:
    """Why a verification's time does not allow trading: unreadable, future-dated (a negative
    age would never go stale), or older than the policy allows."""
    when = parse_checked_at(checked_at)
    if when is None:
        return f"the verification time {checked_at!r} is not a readable time with a time zone"
    age = (now or datetime.now(UTC)) - when
    if age < timedelta(0):
        return (
            f"the verification is dated in the future ({checked_at}, this clock says "
            f"{(now or datetime.now(UTC)).isoformat(timespec='seconds')})"
        )
    if age > timedelta(hours=policy.max_verification_age_hours):
        return (
            f"the verification is {age.total_seconds() / 3600:.1f} h old (limit "
            f"{policy.max_verification_age_hours:g} h)"
        )
    return None


def judge(
    report: VerificationReport, policy: Policy, *, now: datetime | None = None
) -> Judgement:
    """Judge every check the policy demands, not only those the report happens to contain.

    A demanded check that is missing (or reported twice) is not a pass, unless the exchange's
    record says it does not exist there (``not_applicable``); fail refuses; unknown
    refuses unless the policy accepts that check as unknown; any other status refuses. A report
    dated in the future or older than ``max_verification_age_hours`` refuses too.
    """
    policy = policy.for_exchange(report.exchange)
    reasons: list[str] = []
    accepted: list[str] = []
    age = _age_problem(report.checked_at, policy, now)
    if age is not None:
        reasons.append(age)
    by_name: dict[str, list[Check]] = {}
    for c in report.checks:
        by_name.setdefault(c.name, []).append(c)
    # the exchange's record, not the report, says which checks do not exist there
    inapplicable = not_applicable_checks(report.exchange)
    for name in policy.demanded_checks():
        if name in inapplicable and name not in by_name:
            continue
        found = by_name.get(name, [])
        if not found:
            reasons.append(f"{name} was not checked (the policy demands it)")
            continue
        if len(found) > 1:
            reasons.append(f"{name} is reported {len(found)} times (a report holds each once)")
            continue
        c = found[0]
        if c.status == PASS:
            continue
        if c.status == FAIL:
            reasons.append(f"{c.name} failed: {c.detail}")
        elif c.status == UNKNOWN:
            if policy.accepts_unknown(c.name):
                accepted.append(c.name)
            else:
                reasons.append(f"{c.name} is unknown (not accepted by the policy): {c.detail}")
        else:
            reasons.append(f"{c.name} has the status {c.status!r}, which is not a pass")
    return Judgement(not reasons, tuple(accepted), tuple(reasons))


async def verify_and_record(
    home: KeysHome,
    record: KeyRecord,
    secret: str,
    *,
    policy: Policy,
    urls: Any,
    canary_source: str | None = None,
    client_factory: ClientFactory | None = None,
    extras: dict[str, str] | None = None,
) -> VerificationReport:
    """Probe, then remember the results in the vault's metadata and the audit log. ``extras``
    are the exchange's other credentials (passphrase, memo), as sealed in the vault."""
    report = await probe_key(
        label=record.label,
        exchange=record.exchange,
        api_key=record.api_key,
        secret=secret,
        urls=urls,
        policy=policy,
        canary_source=canary_source,
        symbol=record.markets[0] if record.markets else None,
        client_factory=client_factory,
        extras=extras,
    )
    remembered = Verification(
        checked_at=report.checked_at,
        verdict=report.verdict,
        checks=tuple(c.to_json() for c in report.checks),
        policy=policy.for_exchange(record.exchange).verification_terms(),
    )
    mutate(home, lambda v: v.update(record.id, last_verification=remembered))
    home.audit_log().append(
        "verified",
        **audit_fields(record),
        verdict=report.verdict,
        canary_source=canary_source,
        checks=[c.to_json() for c in report.checks],
    )
    return report


async def _open_active(
    home: KeysHome, passphrase: str, label: str, exchange: str
) -> tuple[KeyRecord, str, dict[str, str]]:
    """The label's active record, its secret and its extra credentials. The KDF is memory-hard
    on purpose (tens of ms): it runs off a running engine's event loop."""

    def _open() -> tuple[KeyRecord, str, dict[str, str]]:
        vault = Vault.open(home.vault).unlock(passphrase)
        record = vault.find_active(label, exchange)
        return record, vault.reveal(record.id), vault.reveal_extras(record.id)

    return await asyncio.to_thread(_open)


def _verified_key(
    record: KeyRecord,
    secret: str,
    extras: dict[str, str],
    report: VerificationReport,
    verdict: Judgement,
    max_age: timedelta,
) -> VerifiedKey:
    return VerifiedKey(
        record_id=record.id,
        label=record.label,
        exchange=record.exchange,
        api_key=record.api_key,
        secret=Secret(secret),
        report=report,
        accepted_unknown=verdict.accepted_unknown,
        max_age=max_age,
        extras={name: Secret(value) for name, value in extras.items()},
    )


async def require_tradeable(
    label: str,
    *,
    home: KeysHome,
    passphrase: str,
    exchange: str = "bitrue",
    policy: Policy | None = None,
    urls: Any = None,
    canary_source: str | None = None,
    reverify: bool = True,
    client_factory: ClientFactory | None = None,
    now: datetime | None = None,
) -> VerifiedKey:
    """Return the label's active key if (and only if) it may trade; raise ``KeyRefused`` if not.

    ``reverify=False`` trusts the last recorded verification, but only while it is younger than
    ``policy.max_verification_age_hours``; otherwise ``KeyStale`` says to verify again.
    """
    policy = policy or load_policy(home.policy)
    max_age = timedelta(hours=policy.max_verification_age_hours)
    audit = home.audit_log()

    record, secret, extras = await _open_active(home, passphrase, label, exchange)
    if record.profile == AUDIT:
        audit.append("gate", **audit_fields(record), outcome="refused", reason="audit key")
        raise KeyRefused(
            f"key {label!r} is an audit key (read-only, for `liquidity-bot audit`): it never "
            f"trades; give the market a key added with the bot profile"
        )
    if reverify:
        report = await verify_and_record(
            home,
            record,
            secret,
            policy=policy,
            urls=urls,
            canary_source=canary_source,
            client_factory=client_factory,
            extras=extras,
        )
    else:
        last = record.last_verification
        if last is None:
            audit.append("gate", **audit_fields(record), outcome="refused", reason="never verified")
            raise KeyStale(
                f"key {label!r} was never verified: run `liquidity-bot keys verify {label!r}`"
            )
        report = report_from_json(
            {
                "label": record.label,
                "exchange": record.exchange,
                "verdict": last.verdict,
                "checked_at": last.checked_at,
                "checks": list(last.checks),
            }
        )
        problem = _age_problem(last.checked_at, policy, now)
        if problem is not None:
            audit.append("gate", **audit_fields(record), outcome="refused", reason=problem)
            raise KeyStale(
                f"key {label!r} cannot trade on its recorded verification: {problem}; run "
                f"`liquidity-bot keys verify {label!r}` (or start without --no-reverify)",
                report,
            )
    verdict = judge(report, policy, now=now)
    if not verdict.allowed:
        audit.append(
            "gate",
            **audit_fields(record),
            outcome="refused",
            verdict=report.verdict,
            reasons=list(verdict.reasons),
        )
        raise KeyRefused(
            f"key {label!r} may not trade (verdict {report.verdict}):\n- "
            + "\n- ".join(verdict.reasons),
            report,
        )
    terms = getattr(record.last_verification, "policy", None)
    if not reverify and not policy.for_exchange(record.exchange).is_covered_by(terms):
        problem = (
            "it was verified under a different policy that does not cover the current one "
            "(fewer checks, a wider clock-skew limit or other trusted IPs)"
        )
        audit.append("gate", **audit_fields(record), outcome="refused", reason=problem)
        raise KeyStale(
            f"key {label!r} cannot trade on its recorded verification: {problem}; run "
            f"`liquidity-bot keys verify {label!r}` (or start without --no-reverify)",
            report,
        )
    audit.append(
        "gate",
        **audit_fields(record),
        outcome="accepted",
        verdict=report.verdict,
        accepted_unknown=list(verdict.accepted_unknown),
    )
    return _verified_key(record, secret, extras, report, verdict, max_age)


@dataclass(frozen=True)
class KeyRefresh:
    """What ``KeyWatch.refresh`` did: ``key`` is the key to trade with from now on."""

    key: VerifiedKey
    reverified: bool  # the exchange was probed again
    switched: bool  # the label's active key changed (a rotation): use the new credentials


class KeyWatch:
    """Keeps a running engine's key for one label honest, without restarting the engine.

    The engine calls ``await watch.refresh()`` periodically (say every minute; it is cheap: it
    reads the vault's clear metadata and touches the network only when needed):

    - the label's active key changed (``keys rotate`` ran): the new key passes the gate
      (re-verified) and is returned with ``switched=True``; the engine swaps the venue's
      credentials. This is what "rotate switches the running configuration" means: markets name
      a key *label* in the configuration, and the label's active key is what trades;
    - the verification is older than ``policy.max_verification_age_hours``: re-verified, same key;
    - otherwise nothing happens.

    It also records that the key is in use (``last_used_at``, audit ``used``) when it switches
    and then at most once a day, so ``keys review`` never calls a key that trades "unused".
    A key that no longer passes (or a label without an active key) raises ``KeyRefused``: the
    engine must stop quoting that label's markets and cancel their orders. Every decision is in
    the audit log (``verified`` and ``gate`` lines, including accepted unknowns).

    A key that can no longer be *checked* (a wrong passphrase, a deleted or corrupt vault, an
    audit log that cannot be written) must not trade forever on its last verification: such a
    failure is re-raised as is (the engine tries again later) while it is younger than
    ``unverifiable_grace_s``, measured from the first failure in a row; after that it becomes
    ``KeyUnverifiable`` (a ``KeyRefused``), and a success in between starts the count anew.
    """

    def __init__(
        self,
        key: VerifiedKey,
        *,
        home: KeysHome,
        passphrase: str,
        policy: Policy | None = None,
        urls: Any = None,
        canary_source: str | None = None,
        client_factory: ClientFactory | None = None,
        unverifiable_grace_s: float = DEFAULT_UNVERIFIABLE_GRACE_S,
    ):
        self.current = key
        self.unverifiable_grace_s = unverifiable_grace_s
        self.failing_since: datetime | None = None  # first of the re-checks failing in a row
        self._home = home
        self._passphrase = passphrase
        self._policy = policy
        self._urls = urls
        self._canary = canary_source
        self._factory = client_factory
        # the engine marks the key used at start
        self._marked_used_at: datetime | None = datetime.now(UTC)

    @classmethod
    async def start(
        cls,
        label: str,
        *,
        home: KeysHome,
        passphrase: str,
        exchange: str = "bitrue",
        policy: Policy | None = None,
        urls: Any = None,
        canary_source: str | None = None,
        client_factory: ClientFactory | None = None,
        unverifiable_grace_s: float = DEFAULT_UNVERIFIABLE_GRACE_S,
    ) -> KeyWatch:
        """Pass the gate at engine start (re-verifying) and watch the key from then on."""
        key = await require_tradeable(
            label,
            home=home,
            passphrase=passphrase,
            exchange=exchange,
            policy=policy,
            urls=urls,
            canary_source=canary_source,
            client_factory=client_factory,
        )
        return cls(
            key,
            home=home,
            passphrase=passphrase,
            policy=policy,
            urls=urls,
            canary_source=canary_source,
            client_factory=client_factory,
            unverifiable_grace_s=unverifiable_grace_s,
        )

    def _active_record_id(self) -> str:
        key = self.current
        try:
            return Vault.open(self._home.vault).find_active(key.label, key.exchange).id
        except RecordNotFound as exc:
            self._home.audit_log().append(
                "gate",
                label=key.label,
                exchange=key.exchange,
                record_id=key.record_id,
                outcome="refused",
                reason="no active key for the label any more",
            )
            raise KeyRefused(
                f"key {key.label!r} was removed from the vault while running: stop trading its "
                f"markets ({exc})"
            ) from None

    async def refresh(self, *, now: datetime | None = None, force: bool = False) -> KeyRefresh:
        """Re-verify when stale (or ``force``), switch when rotated; raise ``KeyRefused`` if the
        key may no longer trade, or once it could not be checked for ``unverifiable_grace_s``."""
        try:
            result = await self._refresh(now=now, force=force)
        except KeyRefused:
            raise
        except Exception as exc:  # noqa: BLE001 - judged below: a grace, then a refusal
            self._unverifiable(exc, now)
            raise
        self.failing_since = None
        return result

    def _unverifiable(self, exc: Exception, now: datetime | None) -> None:
        """Count one failed re-check; raise ``KeyUnverifiable`` once they outlast the grace."""
        now = now or datetime.now(UTC)
        if self.failing_since is None:
            self.failing_since = now
        failing_for = (now - self.failing_since).total_seconds()
        if failing_for <= self.unverifiable_grace_s:
            return
        key = self.current
        what = f"{type(exc).__name__}: {exc}"
        with contextlib.suppress(Exception):  # the audit log may be what fails
            self._home.audit_log().append(
                "gate",
                label=key.label,
                exchange=key.exchange,
                record_id=key.record_id,
                outcome="refused",
                reason=f"could not be re-checked for {failing_for:.0f} s ({type(exc).__name__})",
            )
        raise KeyUnverifiable(
            f"key {key.label!r} could not be re-checked for {failing_for:.0f} s (grace "
            f"{self.unverifiable_grace_s:g} s; last error {what}): it no longer trades on its "
            f"verification of {key.report.checked_at}. Fix the vault or the passphrase, verify "
            f"the key (liquidity-bot keys verify {key.label!r}) and restart the bot"
        ) from exc

    async def _refresh(self, *, now: datetime | None, force: bool) -> KeyRefresh:
        switched = self._active_record_id() != self.current.record_id
        if not (switched or force or self.current.is_stale(now)):
            self._mark_used_daily(now)
            return KeyRefresh(self.current, reverified=False, switched=False)
        key = await require_tradeable(
            self.current.label,
            home=self._home,
            passphrase=self._passphrase,
            exchange=self.current.exchange,
            policy=self._policy,
            urls=self._urls,
            canary_source=self._canary,
            client_factory=self._factory,
        )
        self.current = key
        if switched:
            self._marked_used_at = None
        self._mark_used_daily(now)
        return KeyRefresh(key, reverified=True, switched=switched)

    def _mark_used_daily(self, now: datetime | None) -> None:
        now = now or datetime.now(UTC)
        if self._marked_used_at is None or now - self._marked_used_at >= timedelta(days=1):
            mark_used(self._home, self.current.label, self.current.exchange)
            self._marked_used_at = now


@dataclass(frozen=True)
class RotationResult:
    new: KeyRecord
    old: KeyRecord | None
    report: VerificationReport
    switched: bool
    reasons: tuple[str, ...]


async def rotate_key(
    home: KeysHome,
    *,
    passphrase: str,
    label: str,
    new_api_key: str,
    new_secret: str,
    exchange: str = "bitrue",
    policy: Policy,
    urls: Any,
    canary_source: str | None = None,
    client_factory: ClientFactory | None = None,
    kdf: KdfParams = DEFAULT_KDF,
    new_extras: dict[str, str] | None = None,
) -> RotationResult:
    """Add the replacement as a candidate, verify it, and only if it may trade make it the active
    key for the label's markets; the old key becomes ``pending_delete`` (delete it on the exchange).
    A candidate that does not pass is removed again: nothing changes for the running label."""
    if canary_source:
        check_canary(canary_source, policy)  # before anything is stored
    vault = Vault.open(home.vault).unlock(passphrase)
    old = vault.find_active(label, exchange)
    policy = policy_for_profile(old.profile, policy)  # an audit key is replaced by an audit key
    candidate = add_key(
        home,
        passphrase=passphrase,
        exchange=exchange,
        label=label,
        api_key=new_api_key,
        secret=new_secret,
        markets=old.markets,
        kdf=kdf,
        status="candidate",
        replaces=old.id,
        extras=new_extras,
        profile=old.profile,
    )
    def _drop_candidate(reason: str) -> None:
        mutate(home, lambda v: v.remove(candidate.id))
        home.audit_log().append(
            "removed", **audit_fields(candidate), status="candidate", reason=reason
        )

    try:
        report = await verify_and_record(
            home,
            candidate,
            new_secret,
            policy=policy,
            urls=urls,
            canary_source=canary_source,
            client_factory=client_factory,
            extras=new_extras,
        )
    except BaseException:
        # verifying broke (rather than judged): no candidate record may block the next try
        with contextlib.suppress(Exception):
            _drop_candidate("rotation candidate could not be verified")
        raise
    verdict = judge(report, policy)
    if not verdict.allowed:
        _drop_candidate("rotation candidate did not pass")
        return RotationResult(candidate, old, report, False, verdict.reasons)

    def _switch(v: Vault) -> tuple[KeyRecord, KeyRecord]:
        new = v.update(candidate.id, status="active")
        retired = v.update(old.id, status="pending_delete", replaced_by=candidate.id)
        return new, retired

    new, retired = mutate(home, _switch)
    home.audit_log().append(
        "rotated",
        **audit_fields(new),
        replaced_record_id=retired.id,
        replaced_api_key_hint=retired.api_key_hint,
        at=now_iso(),
    )
    return RotationResult(new, retired, report, True, ())


async def require_audit_key(
    label: str,
    *,
    home: KeysHome,
    passphrase: str,
    exchange: str = "bitrue",
    policy: Policy | None = None,
    urls: Any = None,
    canary_source: str | None = None,
    client_factory: ClientFactory | None = None,
) -> VerifiedKey:
    """The label's active key, verified now under the audit profile (read only, proven unable
    to trade, IP-restricted); ``KeyRefused`` names every check that failed otherwise."""
    policy = policy_for_profile(AUDIT, policy or load_policy(home.policy))

    record, secret, extras = await _open_active(home, passphrase, label, exchange)
    report = await verify_and_record(
        home,
        record,
        secret,
        policy=policy,
        urls=urls,
        canary_source=canary_source,
        client_factory=client_factory,
        extras=extras,
    )
    verdict = judge(report, policy)
    outcome = "accepted" if verdict.allowed else "refused"
    home.audit_log().append(
        "gate", **audit_fields(record), purpose="audit", outcome=outcome,
        reasons=list(verdict.reasons),
    )
    if not verdict.allowed:
        raise KeyRefused(
            f"key {label!r} may not be used for the audit (verdict {report.verdict}):\n- "
            + "\n- ".join(verdict.reasons),
            report,
        )
    return _verified_key(
        record, secret, extras, report, verdict, timedelta(hours=policy.max_verification_age_hours)
    )


__all__ = [
    "KeyRefresh",
    "KeyRefused",
    "KeyWatch",
    "KeyStale",
    "KeyUnverifiable",
    "Secret",
    "VerifiedKey",
    "judge",
    "require_audit_key",
    "require_tradeable",
    "rotate_key",
    "verify_and_record",
    "PASS",
]
