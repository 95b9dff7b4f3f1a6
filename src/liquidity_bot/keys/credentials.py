"""The vault passphrase from a service manager's credentials (systemd ``LoadCredential=``).

A shell variable leaks: into ``/proc/PID/environ``, into every child, into a unit file that many
can read. systemd instead hands the service a file in ``$CREDENTIALS_DIRECTORY`` that only the
service can read, for as long as it runs (``LoadCredentialEncrypted=`` keeps it encrypted at rest
too). ``service_passphrase`` reads it when present; the commands fall back to
``LIQUIDITY_BOT_PASSPHRASE`` or the hidden prompt (``keys.home.read_passphrase``) otherwise.
"""

from __future__ import annotations

import os
from pathlib import Path

from liquidity_bot.keys.home import InputRefused, read_passphrase
from liquidity_bot.logs import register_secret

CREDENTIAL_NAME = "liquidity-bot-passphrase"
_MAX_BYTES = 4096


def service_passphrase() -> str | None:
    """The passphrase credential's content (one trailing newline dropped), or None when the
    process was not given one."""
    directory = os.environ.get("CREDENTIALS_DIRECTORY")
    if not directory:
        return None
    path = Path(directory) / CREDENTIAL_NAME
    if not path.is_file():
        return None
    try:
        raw = path.read_bytes()[: _MAX_BYTES + 1]
    except OSError as exc:
        raise InputRefused(f"cannot read the {CREDENTIAL_NAME} credential "
                           f"({exc.strerror}): check the unit's LoadCredential= line") from None
    if len(raw) > _MAX_BYTES:
        raise InputRefused(f"the {CREDENTIAL_NAME} credential is larger than {_MAX_BYTES} "
                           "bytes: it must hold the vault passphrase only")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputRefused(f"the {CREDENTIAL_NAME} credential is not UTF-8 text") from None
    if text.endswith("\n"):
        text = text[:-1]
    if text.endswith("\r"):
        text = text[:-1]
    if not text:
        raise InputRefused(f"the {CREDENTIAL_NAME} credential is empty: store the vault "
                           "passphrase in it")
    register_secret(text)
    return text


def passphrase_for_service() -> str:
    """The service credential if there is one, else the environment or the prompt."""
    return service_passphrase() or read_passphrase(confirm=False)
