"""Verify a key against the policy, without side effects: the generic part.

A *prober* (one per exchange, ``keys.probers``) asks the exchange and turns each answer into
named checks; this module runs it and judges: the order of the checks is the guide's
(``policy.CHECK_NAMES``), a run halts after a rate limit or an outage (the remaining checks are
``unknown``, so verifying never makes a limit worse), a check the exchange does not have is
``not applicable`` (from the exchange's record in ``keys.exchanges``), and the verdict is
``fail`` if any demanded check fails, else ``unknown`` if any is unknown, else ``pass``.
Unknown is never a pass.

Every check says how it was judged (``Check.how``): read from the exchange's own report of the
key's permissions, inferred from a probe, or from the canary source. Details never hold the
secret, an extra credential or the full API key.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from liquidity_bot.keys.exchanges import guide_of
from liquidity_bot.keys.guide import fix_for
from liquidity_bot.keys.policy import CHECK_NAMES, Policy
from liquidity_bot.logs import MIN_SECRET_LENGTH

PASS, FAIL, UNKNOWN = "pass", "fail", "unknown"
NOT_APPLICABLE = "not_applicable"


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # pass | fail | unknown (| not_applicable, listed apart in a report)
    detail: str
    how: str = ""  # how it was judged: the endpoint read or the probe sent

    def to_json(self) -> dict[str, str]:
        out = {"name": self.name, "status": self.status, "detail": self.detail}
        if self.how:
            out["how"] = self.how
        return out


@dataclass(frozen=True)
class VerificationReport:
    label: str
    exchange: str
    verdict: str
    checked_at: str
    checks: tuple[Check, ...]
    # demanded checks that do not exist on this exchange (e.g. Bitrue keys cannot transfer)
    not_applicable: tuple[Check, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The report as stored and printed; not-applicable checks are left out (they follow
        from the exchange's record, never from a stored report)."""
        return {
            "label": self.label,
            "exchange": self.exchange,
            "verdict": self.verdict,
            "checked_at": self.checked_at,
            "checks": [c.to_json() for c in self.checks],
        }

    def check(self, name: str) -> Check:
        for c in self.checks:
            if c.name == name:
                return c
        raise KeyError(name)

    def with_status(self, status: str) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if c.status == status)

    @property
    def exit_code(self) -> int:
        return {PASS: 0, FAIL: 1, UNKNOWN: 2}[self.verdict]


def verdict_of(checks: tuple[Check, ...]) -> str:
    """fail if any check fails, else unknown if any is unknown, else pass."""
    statuses = {c.status for c in checks}
    if FAIL in statuses:
        return FAIL
    if UNKNOWN in statuses or not checks:
        return UNKNOWN
    return PASS


def not_applicable_checks(exchange: str) -> dict[str, str]:
    """Check name -> why it does not apply on ``exchange`` (from the exchange's record: a stored
    report cannot declare a check not applicable)."""
    try:
        return dict(guide_of(exchange).not_applicable)
    except ValueError:
        return {}


@dataclass(frozen=True)
class Credentials:
    """What a prober signs with. Extras are the exchange's other credentials (``passphrase``,
    ``memo``). Never printed: repr shows the key's hint only."""

    api_key: str
    secret: str = field(repr=False)
    extras: Mapping[str, str] = field(default_factory=dict, repr=False)

    def __repr__(self) -> str:
        return f"Credentials({hint_of(self.api_key)}, secret=***, extras={sorted(self.extras)})"


def hint_of(api_key: str) -> str:
    return f"{api_key[:4]}…{api_key[-4:]}" if len(api_key) > 12 else "…"


def trade_disabled_from(can_trade: Check, fix: str) -> Check:
    """The audit profile's check, read from the same trade probe with its outcome flipped: a
    cancel that reached the order book proves the key may trade (fail); a permission refusal
    proves it may not (pass); anything else stays unknown. ``fix`` says what to untick."""
    why = can_trade.detail.split(" Fix: ", 1)[0]
    if can_trade.status == PASS:
        return Check(
            "trade_disabled",
            FAIL,
            f"{why}: this key may trade, and an audit key must only read. Fix: {fix}",
        )
    if can_trade.status == FAIL:
        return Check("trade_disabled", PASS, f"{why}: this key cannot trade")
    return Check("trade_disabled", can_trade.status, why)


ClientFactory = Callable[..., Any]


class ProbeRun:
    """One verification run's state, shared by every prober: the results so far, whether the
    run halted (and why), and the cleaning of exchange text before it is kept anywhere."""

    def __init__(
        self,
        *,
        exchange: str,
        credentials: Credentials,
        policy: Policy,
        canary_source: str | None,
        symbol: str | None,
    ):
        self.exchange = exchange
        self.credentials = credentials
        self.policy = policy
        self.canary_source = canary_source
        self.symbol = symbol
        self.results: dict[str, Check] = {}
        self.halted: str | None = None  # why the remaining probes were skipped

    @property
    def api_key(self) -> str:
        return self.credentials.api_key

    @property
    def secret(self) -> str:
        return self.credentials.secret

    def clean(self, text: str) -> str:
        """Exchange text without our secret, extras, nor the full API key: some gateways echo
        request headers in their errors, and these details go to the vault, the audit log and
        screens (the key's short hint is enough to tell which key it was)."""
        for value in (self.credentials.secret, *self.credentials.extras.values()):
            if len(value) >= MIN_SECRET_LENGTH:  # shorter ones are refused at intake
                text = text.replace(value, "***")
        if self.credentials.api_key:
            text = text.replace(self.credentials.api_key, hint_of(self.credentials.api_key))
        return text

    def set(
        self, name: str, status: str, detail: str, fix: str | None = None, how: str = ""
    ) -> None:
        if status == FAIL:
            detail = f"{detail} Fix: {fix or fix_for(name, self.policy, self.exchange)}"
        self.results[name] = Check(name, status, self.clean(detail), how)

    def has(self, name: str) -> bool:
        return name in self.results

    def describe(self, exc: BaseException) -> str:
        code = getattr(exc, "code", None)
        kind = type(exc).__name__
        return self.clean(f"{kind}" + (f" code {code}" if code is not None else "") + f": {exc}")

    def halt_limited(self, exc: BaseException) -> None:
        self.halted = (
            f"not checked: the exchange rate-limited or banned this address ({self.describe(exc)}); "
            f"wait, then verify again"
        )

    def halt_unusable(self, exc: BaseException) -> None:
        self.halted = (
            f"not checked: the exchange did not answer usably ({self.describe(exc)}); "
            f"check --base-url and the network, then verify again"
        )

    async def call(
        self,
        name: str,
        fn: Callable[[], Awaitable[Any]],
        halting: Callable[[BaseException], bool],
        how: str = "",
    ) -> tuple[bool, Any]:
        """Run one probe; returns (answered, result_or_exception). ``halting`` says whether a
        failure stops the run (it records why); the check is then unknown."""
        try:
            return True, await fn()
        except Exception as exc:  # noqa: BLE001 - every failure is classified by the prober
            if halting(exc):
                self.set(name, UNKNOWN, self.halted or "", how=how)
            return False, exc


class KeyProber(Protocol):
    """What the registry maps an exchange name to (``keys.probers.prober_for``).

    ``probe`` asks the exchange, without side effects, and records checks in ``run`` (any of
    ``policy.CHECK_NAMES``); it may leave checks out (they become unknown) and must stop sending
    once ``run.halted`` is set. It never raises for an exchange's answer."""

    exchange: str

    async def probe(self, run: ProbeRun) -> None: ...


def check_canary(source: str, policy: Policy) -> None:
    """A canary must be an IP address outside every trusted egress network of the policy."""
    try:
        address = ipaddress.ip_address(source)
    except ValueError:
        raise ValueError(
            f"--canary-source {source!r} is not an IP address; give an address of this machine "
            f"that is NOT on the key's allow list (e.g. 127.0.0.2)"
        ) from None
    for trusted in policy.trusted_egress_ips:
        if address in ipaddress.ip_network(trusted, strict=False):
            raise ValueError(
                f"--canary-source {source} is inside the trusted egress IPs ({trusted}): a canary "
                f"must be an address that is NOT on the allow list"
            )


async def probe_key(
    *,
    label: str,
    exchange: str,
    api_key: str,
    secret: str,
    urls: Any,
    policy: Policy,
    canary_source: str | None = None,
    symbol: str | None = None,
    client_factory: ClientFactory | None = None,
    extras: Mapping[str, str] | None = None,
    prober: KeyProber | None = None,
) -> VerificationReport:
    """Probe the exchange and judge the key against the policy (only the checks it demands).

    ``prober`` defaults to the exchange's (``keys.probers.prober_for``), built with ``urls`` and
    ``client_factory`` (the exchange's network side; tests give a scripted one)."""
    if prober is None:
        from liquidity_bot.keys.probers import prober_for

        prober = prober_for(exchange, urls=urls, client_factory=client_factory)
    if prober.exchange != exchange:
        raise ValueError(f"the {prober.exchange} prober cannot verify a key for {exchange}")
    policy = policy.for_exchange(exchange)
    if canary_source:
        check_canary(canary_source, policy)
    run = ProbeRun(
        exchange=exchange,
        credentials=Credentials(api_key, secret, dict(extras or {})),
        policy=policy,
        canary_source=canary_source,
        symbol=symbol,
    )
    await prober.probe(run)
    inapplicable = not_applicable_checks(exchange)
    for name in CHECK_NAMES:
        if name not in run.results and name not in inapplicable:
            run.set(name, UNKNOWN, run.halted or "not checked")
    if "can_trade" in run.results:  # the audit profile's check: the trade probe, flipped
        run.results["trade_disabled"] = trade_disabled_from(
            run.results["can_trade"], fix_for("trade_disabled", policy, exchange)
        )
    demanded = policy.demanded_checks()
    checks = tuple(run.results[name] for name in demanded if name not in inapplicable)
    skipped = tuple(
        Check(name, NOT_APPLICABLE, inapplicable[name], "the exchange's key page has no such setting")
        for name in demanded
        if name in inapplicable
    )
    return VerificationReport(
        label=label,
        exchange=exchange,
        verdict=verdict_of(checks),
        checked_at=datetime.now(UTC).isoformat(timespec="seconds"),
        checks=checks,
        not_applicable=skipped,
    )


def _check_from_json(c: Mapping[str, Any]) -> Check:
    return Check(str(c["name"]), str(c["status"]), str(c["detail"]), str(c.get("how", "")))


def report_from_json(raw: Mapping[str, Any]) -> VerificationReport:
    """A stored report (``to_json``). The judge decides applicability from the exchange's
    record, never from stored text."""
    return VerificationReport(
        label=str(raw["label"]),
        exchange=str(raw["exchange"]),
        verdict=str(raw["verdict"]),
        checked_at=str(raw["checked_at"]),
        checks=tuple(_check_from_json(c) for c in raw["checks"]),
    )
