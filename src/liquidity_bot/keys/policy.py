"""The onboarding guide's key policy as data: what a key must and must not be allowed to do.

Defaults are the guide's (read + trade, no withdraw, no futures, no transfers, IP allow list
required, review
every 90 days, unused after 30 days, no check accepted as unknown). An operator may override them
in a TOML file (``<home>/policy.toml``; ``examples/policy.toml`` documents every field). Unknown
keys are errors that name the key and the file.

Policy is data per exchange too: a ``[keys.exchanges.<name>]`` table replaces, for that exchange
only, the fields an exchange can differ in (``EXCHANGE_FIELDS``: e.g. accepting as unknown the
checks that exchange cannot answer). ``Policy.for_exchange`` applies it; the judge and the probe
do so with the key's exchange. A profile (what a key is for: the bot's trading key, a read-only
audit key) is a policy derived from this one.
"""

from __future__ import annotations

import ipaddress
import os
import stat
import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

PERMISSIONS_REQUIRABLE = ("read", "trade")
PERMISSIONS_FORBIDDABLE = ("withdraw", "futures", "transfer")

# Check names, in the guide's order. `verify` produces exactly these.
CHECK_NAMES = (
    "authenticates",
    "can_read",
    "can_trade",
    "trade_disabled",  # the audit profile's: the same trade probe, its expected outcome flipped
    "withdraw_disabled",
    "futures_disabled",
    "transfer_disabled",
    "ip_restricted",
    "clock_skew",
)


class PolicyError(ValueError):
    """A policy file that cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class Policy:
    required_permissions: tuple[str, ...] = ("read", "trade")
    forbidden_permissions: tuple[str, ...] = ("withdraw", "futures", "transfer")
    require_ip_restriction: bool = True
    trusted_egress_ips: tuple[str, ...] = ()
    review_interval_days: int = 90
    unused_threshold_days: int = 30
    accept_unknown: tuple[str, ...] = ()
    max_clock_skew_ms: int = 1000
    max_verification_age_hours: float = 24.0
    # exchange name -> the fields it replaces, as ((field, value), ...); see ``for_exchange``
    exchange_overrides: tuple[tuple[str, tuple[tuple[str, Any], ...]], ...] = ()

    def for_exchange(self, exchange: str) -> Policy:
        """This policy as it applies to keys of ``exchange`` (its ``[keys.exchanges.X]`` table
        applied; the result holds no overrides, so applying it twice changes nothing)."""
        overrides = dict(self.exchange_overrides).get(exchange, ())
        return replace(self, exchange_overrides=(), **dict(overrides))

    def demanded_checks(self) -> tuple[str, ...]:
        """The checks this policy asks for, in the guide's order."""
        wanted = {"authenticates", "clock_skew"}
        if "read" in self.required_permissions:
            wanted.add("can_read")
        if "trade" in self.required_permissions:
            wanted.add("can_trade")
        if "trade" in self.forbidden_permissions:
            wanted.add("trade_disabled")
        if "withdraw" in self.forbidden_permissions:
            wanted.add("withdraw_disabled")
        if "futures" in self.forbidden_permissions:
            wanted.add("futures_disabled")
        if "transfer" in self.forbidden_permissions:
            wanted.add("transfer_disabled")
        if self.require_ip_restriction:
            wanted.add("ip_restricted")
        return tuple(c for c in CHECK_NAMES if c in wanted)

    def accepts_unknown(self, check: str) -> bool:
        return check in self.accept_unknown

    def verification_terms(self) -> dict[str, Any]:
        """What a verification under this policy proved, stored beside it in the vault.

        A stored pass is only as strong as the policy it was judged under: ``--no-reverify``
        compares these terms with the current policy (``is_covered_by``).
        """
        return {
            "demanded": list(self.demanded_checks()),
            "max_clock_skew_ms": self.max_clock_skew_ms,
            "trusted_egress_ips": sorted(self.trusted_egress_ips),
        }

    def is_covered_by(self, terms: Any) -> bool:
        """True when a verification made under ``terms`` proves at least what this policy asks:
        every demanded check, a skew limit no wider, and a canary outside every network this
        policy trusts (it was outside a superset of them)."""
        if not isinstance(terms, dict):
            return False
        try:
            demanded = set(terms["demanded"])
            skew = terms["max_clock_skew_ms"]
            trusted = set(terms["trusted_egress_ips"])
        except (KeyError, TypeError):
            return False
        if not isinstance(skew, int) or isinstance(skew, bool):
            return False
        return (
            set(self.demanded_checks()) <= demanded
            and skew <= self.max_clock_skew_ms
            and set(self.trusted_egress_ips) <= trusted
        )


DEFAULT_POLICY = Policy()

# what a [keys.exchanges.<name>] table may set: what differs with the exchange, not what a key is for
EXCHANGE_FIELDS = ("accept_unknown", "trusted_egress_ips", "max_clock_skew_ms")

_TUPLE_FIELDS = {
    "required_permissions",
    "forbidden_permissions",
    "trusted_egress_ips",
    "accept_unknown",
}


def _validate(policy: Policy, where: str) -> Policy:
    for p in policy.required_permissions:
        if p not in PERMISSIONS_REQUIRABLE:
            raise PolicyError(
                f"{where}: required_permissions has {p!r}; allowed: {', '.join(PERMISSIONS_REQUIRABLE)}"
            )
    for p in policy.forbidden_permissions:
        if p not in PERMISSIONS_FORBIDDABLE:
            raise PolicyError(
                f"{where}: forbidden_permissions has {p!r}; allowed: {', '.join(PERMISSIONS_FORBIDDABLE)}"
            )
    if "trade" not in policy.required_permissions:
        raise PolicyError(
            f"{where}: required_permissions must include 'trade' (a market maker trades)"
        )
    for ip in policy.trusted_egress_ips:
        try:
            ipaddress.ip_network(ip, strict=False)
        except ValueError:
            raise PolicyError(
                f"{where}: trusted_egress_ips has {ip!r}, not an IP address"
            ) from None
    for c in policy.accept_unknown:
        if c not in CHECK_NAMES:
            raise PolicyError(
                f"{where}: accept_unknown has {c!r}; checks are {', '.join(CHECK_NAMES)}"
            )
        if c in ("authenticates", "trade_disabled"):
            raise PolicyError(f"{where}: {c!r} can never be accepted as unknown")
    for name in ("review_interval_days", "unused_threshold_days", "max_clock_skew_ms"):
        if getattr(policy, name) <= 0:
            raise PolicyError(f"{where}: {name} must be positive")
    if policy.max_verification_age_hours <= 0:
        raise PolicyError(f"{where}: max_verification_age_hours must be positive")
    return policy


def policy_from_mapping(data: dict[str, Any], where: str = "policy") -> Policy:
    """Build a policy from a ``[keys]`` table (or a bare table); unknown keys are errors."""
    table = data
    if "keys" in data:
        extra_top = sorted(set(data) - {"keys"})
        if extra_top:
            raise PolicyError(
                f"{where}: unknown key {extra_top[0]!r}; only the [keys] table is read"
            )
        if not isinstance(data["keys"], dict):
            raise PolicyError(f"{where}: 'keys' must be a table ([keys])")
        table = data["keys"]
    known = {f.name: f for f in fields(Policy) if f.name != "exchange_overrides"}
    kwargs: dict[str, Any] = {}
    table = dict(table)
    per_exchange = table.pop("exchanges", None)
    for key, value in table.items():
        if key not in known:
            raise PolicyError(
                f"{where}: unknown key {key!r}; known keys: {', '.join(known)}, [keys.exchanges.<name>]"
            )
        kwargs[key] = _field_value(key, value, where)
    policy = _validate(Policy(**kwargs), where)
    if per_exchange is None:
        return policy
    return _validate(
        replace(policy, exchange_overrides=_exchange_overrides(per_exchange, policy, where)), where
    )


def _exchange_overrides(
    tables: Any, base: Policy, where: str
) -> tuple[tuple[str, tuple[tuple[str, Any], ...]], ...]:
    from liquidity_bot.keys.exchanges import EXCHANGES

    if not isinstance(tables, dict):
        raise PolicyError(f"{where}: 'exchanges' must be tables, e.g. [keys.exchanges.okx]")
    out = []
    for exchange, table in tables.items():
        here = f"{where} [keys.exchanges.{exchange}]"
        if exchange not in EXCHANGES:
            raise PolicyError(f"{here}: unknown exchange; known: {', '.join(EXCHANGES)}")
        if not isinstance(table, dict):
            raise PolicyError(f"{here}: must be a table")
        values = []
        for key, value in table.items():
            if key not in EXCHANGE_FIELDS:
                raise PolicyError(
                    f"{here}: {key!r} cannot differ per exchange; allowed: {', '.join(EXCHANGE_FIELDS)}"
                )
            values.append((key, _field_value(key, value, here)))
        _validate(replace(base, **dict(values)), here)
        out.append((exchange, tuple(values)))
    return tuple(out)


def _field_value(key: str, value: Any, where: str) -> Any:
    """One field's value from TOML, type-checked against the default's type."""
    default = getattr(DEFAULT_POLICY, key)
    if key in _TUPLE_FIELDS:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise PolicyError(f"{where}: {key} must be a list of strings")
        return tuple(value)
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise PolicyError(f"{where}: {key} must be true or false")
        return value
    if isinstance(default, int):
        if not isinstance(value, int) or isinstance(value, bool):
            raise PolicyError(f"{where}: {key} must be an integer")
        return value
    if isinstance(default, float):
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise PolicyError(f"{where}: {key} must be a number")
        return float(value)
    raise PolicyError(f"{where}: {key} cannot be set here")  # pragma: no cover


def check_policy_file(path: Path) -> None:
    """Refuse a policy file that someone else could have written: it decides which keys may
    trade, so it must be this user's (or root's) and writable by nobody else."""
    st = path.stat()
    if st.st_uid not in (os.geteuid(), 0):
        raise PolicyError(
            f"{path} is owned by user id {st.st_uid}, not by this user ({os.geteuid()}): it "
            f"decides which keys may trade; make it yours (chown) or use your own --policy file"
        )
    mode = stat.S_IMODE(st.st_mode)
    if mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise PolicyError(
            f"{path} is writable by group or others (mode {mode:o}): anyone who can write it "
            f"decides which keys may trade; run: chmod go-w {path}"
        )


def load_policy(path: Path | None) -> Policy:
    """Read a policy file; a missing file means the guide's defaults."""
    if path is None or not Path(path).exists():
        return DEFAULT_POLICY
    check_policy_file(Path(path))
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{path}: not valid TOML ({exc})") from None
    return policy_from_mapping(data, str(path))
