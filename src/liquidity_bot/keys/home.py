"""Where the keys subsystem keeps its files, and how it asks for passphrases and secrets.

Secrets and passphrases come from a hidden prompt (getpass) or, for automation, standard input /
``LIQUIDITY_BOT_PASSPHRASE``; never from the command line, where every user sees them via ``ps``.
"""

from __future__ import annotations

import getpass
import os
import re
import stat
import sys
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from liquidity_bot.logs import MIN_SECRET_LENGTH, register_secret

if TYPE_CHECKING:
    from liquidity_bot.keys.audit import AuditLog, AuditMirror

PASSPHRASE_ENV = "LIQUIDITY_BOT_PASSPHRASE"

class InputRefused(ValueError):
    """Input that must not be used (empty, mismatched, wrong shape); the message says why."""


class WeakPassphrase(InputRefused):
    """A new vault passphrase that an offline guesser would find too soon."""


MIN_PASSPHRASE_LENGTH = 12


def check_new_passphrase(passphrase: str) -> None:
    """Refuse a passphrase too weak to protect a new vault (or a changed one).

    Whoever copies the vault file can guess offline as fast as Argon2id lets them; length is what
    makes that hopeless. Existing vaults keep opening with whatever they were created with."""
    if len(passphrase) < MIN_PASSPHRASE_LENGTH:
        raise WeakPassphrase(
            f"the vault passphrase is too short ({len(passphrase)} characters): use at least "
            f"{MIN_PASSPHRASE_LENGTH}, e.g. four or more random words; nothing was stored"
        )
    if len(set(passphrase)) < 5:
        raise WeakPassphrase(
            "the vault passphrase repeats too few different characters: use four or more random "
            "words; nothing was stored"
        )


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


def secure_home(root: Path) -> list[Path]:
    """Tighten an existing state directory: the directories 0700, the files (database, reports,
    logs) 0600, so that nothing of a bot is readable by other users of the machine. Only what
    this user owns is changed, symbolic links are not followed, vault files are left to
    ``Vault.open`` (which refuses a loose one). Returns what was changed."""
    root = Path(root)
    if root.is_symlink() or not root.is_dir():
        return []
    me = os.geteuid()
    changed: list[Path] = []

    def tighten(path: Path, mode: int) -> None:
        try:
            st = path.lstat()
        except OSError:
            return
        if st.st_uid != me or not (stat.S_ISDIR(st.st_mode) or stat.S_ISREG(st.st_mode)):
            return
        if stat.S_IMODE(st.st_mode) & 0o077:
            path.chmod(stat.S_IMODE(st.st_mode) & mode)
            changed.append(path)

    tighten(root, 0o700)
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in dirnames:
            tighten(Path(dirpath) / name, 0o700)
        for name in filenames:
            if name.endswith("vault.json"):
                # a loose vault is refused by Vault.open with its own message: its secrets may
                # have been copied, and the operator must hear that rather than have it hidden
                continue
            tighten(Path(dirpath) / name, 0o600)
    return changed


def check_token_format(exchange: str, what: str, value: str) -> None:
    """Refuse a key or secret that cannot be right for ``exchange``, without echoing the value.

    The shapes are the exchange's (``keys.exchanges``: Bitrue's and Binance's keys and secrets
    are 64 letters and digits, Coinbase's secret is an EC private key in PEM, ...); an exchange
    without a known shape takes any printable text without spaces."""
    from liquidity_bot.keys.exchanges import GUIDES

    guide = GUIDES.get(exchange)
    if guide is None:
        return  # the exchange itself is refused elsewhere, with the list of known ones
    fmt = guide.key_format
    if what == "API key":
        ok, hint = fmt.key_ok(value), fmt.api_key_hint
    else:
        ok, hint = fmt.secret_ok(value), fmt.secret_hint
    if ok:
        return
    shape = "empty" if not value else f"{len(value)} characters"
    if value and not value.isalnum() and not fmt.secret_is_pem:
        shape += ", with characters other than letters and digits"
    raise InputRefused(
        f"the {what} does not look like a {guide.name} {what} ({hint}; got {shape}); "
        f"copy it again from the exchange's API Management page"
    )


def check_extras(exchange: str, extras: dict[str, str]) -> None:
    """Refuse missing, empty or unexpected extra credentials (passphrase, memo), without
    echoing them: a key stored without its passphrase could never sign a request."""
    from liquidity_bot.keys.exchanges import GUIDES

    guide = GUIDES.get(exchange)
    wanted = {e.name for e in guide.extras} if guide else set()
    unexpected = sorted(set(extras) - wanted)
    if unexpected:
        raise InputRefused(
            f"{exchange} keys take no {', '.join(unexpected)}; nothing was stored"
        )
    for name in sorted(wanted):
        value = extras.get(name, "")
        if not value.strip():
            raise InputRefused(
                f"{guide.name if guide else exchange} keys need their {name} too (chosen when the key "
                f"was created); nothing was stored"
            )
        if any(unicodedata.category(ch) in _UNPRINTABLE for ch in value):
            raise InputRefused(
                f"the {name} holds control characters: copy it again; nothing was stored"
            )
        if len(value) < MIN_SECRET_LENGTH:  # shorter values could not be masked in logs
            raise InputRefused(
                f"the {name} is {len(value)} characters long: one of at least {MIN_SECRET_LENGTH} is "
                f"needed (shorter ones cannot be kept out of logs); create the key again with a "
                f"longer {name}; nothing was stored"
            )


LABEL_MAX_LENGTH = 64
# control characters (ESC starts terminal escape sequences), format characters (bidirectional
# overrides that reorder what a terminal shows), line and paragraph separators, unassigned
_UNPRINTABLE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def printable(text: str, limit: int | None = None) -> str:
    """``text`` safe for a terminal: unprintable characters shown as escapes (``\\x1b``),
    cut to ``limit`` characters. For labels stored before they were checked."""
    shown = "".join(
        (f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}")
        if unicodedata.category(ch) in _UNPRINTABLE
        else ch
        for ch in text
    )
    if limit is not None and len(shown) > limit:
        shown = shown[: limit - 1] + "…"
    return shown


def check_label(label: str) -> None:
    """Refuse a label that is empty, too long, or holds characters a terminal would act on
    (``keys list`` prints labels; the exchange's own labels are short plain text)."""
    if not label.strip():
        raise InputRefused("the key label is empty: give the key's name, e.g. --label 'Liquidity Bot'")
    if label != label.strip():
        raise InputRefused(
            f"the key label '{printable(label, 80)}' starts or ends with spaces: remove them"
        )
    if len(label) > LABEL_MAX_LENGTH:
        raise InputRefused(
            f"the key label is {len(label)} characters long; use at most {LABEL_MAX_LENGTH}"
        )
    bad = next((ch for ch in label if unicodedata.category(ch) in _UNPRINTABLE), None)
    if bad is not None:
        raise InputRefused(
            f"the key label '{printable(label)}' holds the control or formatting character "
            f"{printable(bad)}: use letters, digits, spaces and punctuation only"
        )


def check_symbol(symbol: str, exchange: str = "bitrue") -> None:
    """Refuse a market symbol that cannot be a spot symbol of ``exchange`` (Bitrue: XRPUSDT;
    elsewhere also XRP/USDT, XRP-USDT or XRP_USDT)."""
    from liquidity_bot.keys.exchanges import GUIDES

    guide = GUIDES.get(exchange) or GUIDES["bitrue"]
    if not re.fullmatch(guide.symbol_pattern, symbol):
        raise InputRefused(
            f"--market '{printable(symbol, 40)}' is not a symbol of {guide.name}: use letters and "
            f"digits, e.g. {guide.symbol_example}"
        )


_dumps_disabled = False
_PR_SET_DUMPABLE = 4


def disable_core_dumps() -> None:
    """No core file and no ptrace attach by other processes of this user from now on.

    Called wherever a passphrase or a secret enters the process: a core dump (a crash, SIGQUIT,
    an operator's gcore) would write them to disk in clear. RLIMIT_CORE 0 (soft and hard, so no
    child can raise it again) and, on Linux, PR_SET_DUMPABLE 0. Idempotent; best effort where
    the platform lacks either."""
    global _dumps_disabled
    if _dumps_disabled:
        return
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ImportError, ValueError, OSError):  # pragma: no cover - non-POSIX
        pass
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)
        except (OSError, AttributeError):  # pragma: no cover - no libc prctl
            pass
    _dumps_disabled = True


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
    disable_core_dumps()
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
    if confirm:  # a new vault: say so now, before the repeat
        check_new_passphrase(first)
        again = _getpass("Repeat the vault passphrase: ")
        if again != first:
            raise InputRefused("the two passphrases differ; nothing was changed, try again")
    register_secret(first)
    return first


def read_secret(
    prompt: str = "API secret (hidden): ",
    *,
    stdin: TextIO | None = None,
    pem: bool = False,
    what: str = "secret",
) -> str:
    """A secret (or an extra credential): a hidden prompt on a terminal, else exactly one line
    of standard input.

    ``pem`` (Coinbase's EC private key): the key as one line with ``\\n`` escapes, as the
    exchange's JSON key file holds it, or, on standard input, the PEM lines up to ``-----END``."""
    disable_core_dumps()
    stream = stdin or sys.stdin
    if stream.isatty():
        value = _getpass(prompt)
    else:
        value = stream.readline().rstrip("\r\n")
        if pem and "-----BEGIN" in value and "-----END" not in value:
            lines = [value]
            while "-----END" not in lines[-1]:
                line = stream.readline()
                if not line:
                    break
                lines.append(line.rstrip("\r\n"))
            value = "\n".join(lines)
    if pem:
        value = value.strip().strip('"').replace("\\n", "\n")
        if value and not value.endswith("\n"):
            value += "\n"
    value = value.strip() if not pem else value.lstrip()
    if not value.strip():
        raise InputRefused(f"no {what} was given (empty input)")
    register_secret(value)  # from now on, no log line can show it
    if pem:  # each line of a PEM could appear alone in a log
        for line in value.splitlines():
            if len(line) >= 16 and not line.startswith("-----"):
                register_secret(line)
    return value
