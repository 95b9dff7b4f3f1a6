"""Where the keys subsystem keeps its files, and how it asks for passphrases and secrets.

Secrets and passphrases come from a hidden prompt (getpass) or, for automation, standard input /
``LIQUIDITY_BOT_PASSPHRASE``; never from the command line, where every user sees them via ``ps``.
"""

from __future__ import annotations

import getpass
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from liquidity_bot.logs import register_secret

if TYPE_CHECKING:
    from liquidity_bot.keys.audit import AuditLog, AuditMirror

PASSPHRASE_ENV = "LIQUIDITY_BOT_PASSPHRASE"

# Bitrue API keys and secrets are 64 ASCII letters and digits; the simulator issues the same shape.
_BITRUE_TOKEN = re.compile(r"[A-Za-z0-9]{64}")


class InputRefused(ValueError):
    """Input that must not be used (empty, mismatched, wrong shape); the message says why."""


@dataclass(frozen=True)
class KeysHome:
    """The directory of the vault, the audit log and the policy (``--home`` /
    ``LIQUIDITY_BOT_HOME``). ``audit_mirror`` (optional) copies every audit entry elsewhere, e.g.
    into the engine's database (``liquidity_bot.keys.audit.store_mirror``)."""

    root: Path
    audit_mirror: AuditMirror | None = field(default=None, compare=False, repr=False)

    def audit_log(self) -> AuditLog:
        from liquidity_bot.keys.audit import AuditLog

        return AuditLog(self.audit, mirror=self.audit_mirror)

    @property
    def vault(self) -> Path:
        return self.root / "vault.json"

    @property
    def audit(self) -> Path:
        return self.root / "audit.jsonl"

    @property
    def policy(self) -> Path:
        return self.root / "policy.toml"


def check_token_format(exchange: str, what: str, value: str) -> None:
    """Refuse a key or secret that cannot be right, without echoing the value."""
    if exchange == "bitrue" and not _BITRUE_TOKEN.fullmatch(value):
        shape = "empty" if not value else f"{len(value)} characters"
        if value and not value.isalnum():
            shape += ", with characters other than letters and digits"
        raise InputRefused(
            f"the {what} does not look like a Bitrue {what} (64 letters and digits; got {shape}); "
            f"copy it again from the exchange's API Management page"
        )


def _has_controlling_tty() -> bool:
    """True when getpass can prompt on /dev/tty (e.g. the secret is piped but a human is there)."""
    try:
        with open("/dev/tty", "rb"):
            return True
    except OSError:
        return False


def _getpass(prompt: str) -> str:
    return getpass.getpass(prompt)


def read_passphrase(*, confirm: bool, stdin: TextIO | None = None) -> str:
    """The vault passphrase: ``LIQUIDITY_BOT_PASSPHRASE`` or a hidden prompt (twice if ``confirm``)."""
    env = os.environ.get(PASSPHRASE_ENV)
    if env:
        register_secret(env)
        return env
    stream = stdin or sys.stdin
    if not stream.isatty() and not _has_controlling_tty():
        raise InputRefused(
            f"no terminal to ask the vault passphrase: set {PASSPHRASE_ENV} or run interactively"
        )
    first = _getpass("Vault passphrase: ")
    if not first:
        raise InputRefused("an empty passphrase is not allowed")
    if confirm:
        again = _getpass("Repeat the vault passphrase: ")
        if again != first:
            raise InputRefused("the two passphrases differ; nothing was changed, try again")
    register_secret(first)
    return first


def read_secret(prompt: str = "API secret (hidden): ", *, stdin: TextIO | None = None) -> str:
    """The API secret: a hidden prompt on a terminal, else exactly one line of standard input."""
    stream = stdin or sys.stdin
    if stream.isatty():
        value = _getpass(prompt)
    else:
        value = stream.readline().rstrip("\r\n")
    value = value.strip()
    if not value:
        raise InputRefused("no secret was given (empty input)")
    register_secret(value)  # from now on, no log line can show it
    return value
