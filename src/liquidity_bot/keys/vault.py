"""The encrypted key vault: one JSON file holding API secrets sealed under the operator's passphrase.

Why this shape (envelope encryption):
- each secret is sealed with AES-256-GCM under its *own* random data key, and the record's identity
  (vault id, record id, exchange, label, API key) is bound as associated data, so a ciphertext moved
  to another record, or a record whose identity was edited, fails to open;
- data keys are wrapped (AES-256-GCM) by a master key derived from the passphrase with Argon2id
  (memory-hard; parameters and salt live in the header so they can be raised later);
- a passphrase check value (a known plaintext sealed under the master key, bound to the header)
  tells a wrong passphrase apart from a corrupt or tampered file;
- changing the passphrase re-wraps the data keys only: the sealed secrets stay byte-identical.

Record metadata (verification results, last use, status) is stored in clear and is not
authenticated: it holds no secret, can be read without the passphrase (``keys list``), and the
trading gate re-verifies a key against the exchange instead of trusting it.

Writes are atomic (temp file in the same directory, fsync, rename, fsync directory), the file is
0600, and a vault readable or writable by group/others is refused.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import stat
import tempfile
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

from liquidity_bot.keys.home import check_new_passphrase, disable_core_dumps, printable
from liquidity_bot.logs import register_secret

FORMAT = "liquidity-bot-vault"
VERSION = 1
_CHECK_PLAINTEXT = b"liquidity-bot vault passphrase check v1"
_NONCE_BYTES = 12
_KEY_BYTES = 32


class VaultError(Exception):
    """Base class: every vault failure says what happened and what to do; none carries a secret."""


class VaultNotFound(VaultError):
    pass


class VaultExists(VaultError):
    pass


class WrongPassphrase(VaultError):
    pass


class VaultCorrupt(VaultError):
    """The file is not a readable vault (bad JSON, missing fields, unknown version)."""


class RecordTampered(VaultError):
    """A record failed authentication: its ciphertext or identity fields were altered or swapped."""


class InsecurePermissions(VaultError):
    pass


class VaultLocked(VaultError):
    pass


class RecordNotFound(VaultError):
    pass


@dataclass(frozen=True)
class KdfParams:
    """Argon2id parameters, stored in each vault's header (a vault opens with its own).

    The defaults (m=64 MiB, t=3, p=1: RFC 9106's second recommended setting with one lane) cost
    about three times the OWASP floor per guess (m=46 MiB, t=1, ~45 ms here): a vault is unlocked
    a few times a day, a stolen copy is guessed at billions of times.
    """

    memory_kib: int = 65536
    iterations: int = 3
    lanes: int = 1

    def at_least(self, other: KdfParams) -> bool:
        """True when each parameter is at least ``other``'s (so no cheaper to guess)."""
        return (
            self.memory_kib >= other.memory_kib
            and self.iterations >= other.iterations
            and self.lanes >= other.lanes
        )

    def meets_owasp_minimum(self) -> bool:
        """OWASP minimums for Argon2id: m=47104 KiB t=1, or m=19456 KiB t=2 (or anything stronger)."""
        return (self.memory_kib >= 47104 and self.iterations >= 1) or (
            self.memory_kib >= 19456 and self.iterations >= 2
        )

    def derive(self, passphrase: str, salt: bytes) -> bytes:
        kdf = Argon2id(
            salt=salt,
            length=_KEY_BYTES,
            iterations=self.iterations,
            lanes=self.lanes,
            memory_cost=self.memory_kib,
        )
        return kdf.derive(passphrase.encode("utf-8"))


DEFAULT_KDF = KdfParams()


@dataclass(frozen=True)
class Verification:
    """A verification result as remembered in the vault's metadata."""

    checked_at: str
    verdict: str
    checks: tuple[dict[str, str], ...] = ()
    # the policy's verification terms (``Policy.verification_terms``) it was judged under;
    # None for records written before they were kept: such a pass covers no policy
    policy: dict[str, Any] | None = None


@dataclass(frozen=True)
class KeyRecord:
    """One API key: identity (bound to its sealed secret) plus clear metadata."""

    id: str
    exchange: str
    label: str
    api_key: str
    created_at: str
    status: str = "active"  # active | pending_delete
    markets: tuple[str, ...] = ()
    replaced_by: str | None = None
    replaces: str | None = None
    last_used_at: str | None = None
    reviewed_at: str | None = None
    last_verification: Verification | None = None
    # what the key is for, fixed when it is added: "bot" trades, "audit" only reads (the token
    # project's own key that checks the obligations); it picks the policy it is verified under
    profile: str = "bot"

    @property
    def api_key_hint(self) -> str:
        """A short, non-secret handle for the key (first and last 4 characters) for humans."""
        k = self.api_key
        return f"{k[:4]}…{k[-4:]}" if len(k) > 12 else "…"


@runtime_checkable
class SecretStore(Protocol):
    """What the rest of the bot needs from a secret backend (file vault now, HashiCorp Vault later)."""

    def records(self) -> list[KeyRecord]: ...

    def get(self, record_id: str) -> KeyRecord: ...

    def find_active(self, label: str, exchange: str | None = None) -> KeyRecord: ...

    def add(
        self,
        *,
        exchange: str,
        label: str,
        api_key: str,
        secret: str,
        markets: tuple[str, ...] = (),
        extras: Mapping[str, str] | None = None,
    ) -> KeyRecord: ...

    def reveal(self, record_id: str) -> str: ...

    def reveal_extras(self, record_id: str) -> dict[str, str]: ...

    def update(self, record_id: str, **changes: Any) -> KeyRecord: ...

    def remove(self, record_id: str) -> None: ...


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: Any, what: str) -> bytes:
    if not isinstance(text, str):
        raise VaultCorrupt(
            f"vault field {what} is missing or not text; restore the vault from a backup"
        )
    try:
        return base64.b64decode(text, validate=True)
    except ValueError as exc:
        raise VaultCorrupt(
            f"vault field {what} is not base64; restore the vault from a backup"
        ) from exc


def _canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode("utf-8")


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def check_permissions(path: Path) -> None:
    """Refuse a vault that group or others may read or write (it holds our secrets)."""
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise InsecurePermissions(
            f"{path} is accessible by group/others (mode {stat.S_IMODE(mode):o}); "
            f"run: chmod 600 {path}"
        )


def atomic_write(path: Path, data: bytes, *, _before_rename: Any = None) -> None:
    """Write ``data`` to ``path`` so that a crash leaves either the old or the new file, never half.

    ``_before_rename`` is a test hook that simulates a crash between fsync and rename.
    """
    directory = path.parent
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    tmp = Path(tmp_name)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if _before_rename is not None:
            _before_rename(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Serialise read-modify-write cycles on the vault between processes (CLI and engine)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    lock_path = path.with_name(path.name + ".lock")
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _record_to_json(rec: KeyRecord) -> dict[str, Any]:
    v = rec.last_verification
    return {
        "id": rec.id,
        "exchange": rec.exchange,
        "label": rec.label,
        "api_key": rec.api_key,
        "created_at": rec.created_at,
        "status": rec.status,
        "markets": list(rec.markets),
        "replaced_by": rec.replaced_by,
        "replaces": rec.replaces,
        "last_used_at": rec.last_used_at,
        "reviewed_at": rec.reviewed_at,
        "profile": rec.profile,
        "last_verification": None
        if v is None
        else {
            "checked_at": v.checked_at,
            "verdict": v.verdict,
            "checks": list(v.checks),
            "policy": v.policy,
        },
    }


def _record_from_json(raw: Mapping[str, Any]) -> KeyRecord:
    try:
        v = raw.get("last_verification")
        verification = (
            None
            if v is None
            else Verification(
                checked_at=str(v["checked_at"]),
                verdict=str(v["verdict"]),
                checks=tuple(
                    {"name": str(c["name"]), "status": str(c["status"]), "detail": str(c["detail"])}
                    | ({"how": str(c["how"])} if "how" in c else {})
                    for c in v.get("checks", [])
                ),
                policy=v.get("policy") if isinstance(v.get("policy"), dict) else None,
            )
        )
        return KeyRecord(
            id=str(raw["id"]),
            exchange=str(raw["exchange"]),
            label=str(raw["label"]),
            api_key=str(raw["api_key"]),
            created_at=str(raw["created_at"]),
            status=str(raw.get("status", "active")),
            markets=tuple(str(m) for m in raw.get("markets", [])),
            replaced_by=raw.get("replaced_by"),
            replaces=raw.get("replaces"),
            last_used_at=raw.get("last_used_at"),
            reviewed_at=raw.get("reviewed_at"),
            last_verification=verification,
            profile=str(raw.get("profile", "bot")),
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise VaultCorrupt(
            f"a vault record is malformed ({exc!r}); restore the vault from a backup"
        ) from exc


@dataclass
class _Sealed:
    wrapped_key: dict[str, str]
    secret: dict[str, str]
    # the exchange's other credentials (passphrase, memo) as one sealed JSON object; None for
    # exchanges that need none (records written before extras existed have none either)
    extras: dict[str, str] | None = None


@dataclass
class Vault:
    """The file vault. ``Vault.open`` reads metadata; ``unlock`` derives the master key.

    Mutations change the in-memory document; ``save()`` writes it atomically. Use
    ``with locked(path): v = Vault.open(path) ... v.save()`` for read-modify-write cycles.
    """

    path: Path
    vault_id: str
    kdf: KdfParams
    salt: bytes
    check: dict[str, str]
    _records: dict[str, KeyRecord] = field(default_factory=dict)
    _sealed: dict[str, _Sealed] = field(default_factory=dict)
    _master: bytes | None = field(default=None, repr=False)

    # ---- construction -------------------------------------------------------------------------
    @classmethod
    def create(cls, path: Path, passphrase: str, *, kdf: KdfParams = DEFAULT_KDF) -> Vault:
        """Create a new, empty vault file; refuses to overwrite an existing one."""
        path = Path(path)
        if path.exists():
            raise VaultExists(f"{path} already exists; open it instead of creating a new one")
        if not passphrase:
            raise VaultError("an empty passphrase is not allowed")
        check_new_passphrase(passphrase)
        disable_core_dumps()
        salt = os.urandom(16)
        vault = cls(path=path, vault_id=str(uuid.uuid4()), kdf=kdf, salt=salt, check={})
        vault._master = kdf.derive(passphrase, salt)
        vault.check = vault._seal_check()
        vault.save()
        return vault

    @classmethod
    def open(cls, path: Path) -> Vault:
        """Read a vault (metadata only; call ``unlock`` before revealing or adding secrets)."""
        path = Path(path)
        if not path.exists():
            raise VaultNotFound(f"no vault at {path}; add a key first (liquidity-bot keys add)")
        check_permissions(path)
        try:
            doc = json.loads(path.read_bytes())
        except (ValueError, UnicodeDecodeError) as exc:
            raise VaultCorrupt(f"{path} is not valid JSON; restore it from a backup") from exc
        return cls._from_doc(path, doc)

    @classmethod
    def _from_doc(cls, path: Path, doc: Any) -> Vault:
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise VaultCorrupt(f"{path} is not a liquidity-bot vault; restore it from a backup")
        if doc.get("version") != VERSION:
            raise VaultCorrupt(
                f"{path} has vault format version {doc.get('version')!r}; this program reads "
                f"version {VERSION}: upgrade liquidity-bot or restore a backup"
            )
        try:
            k = doc["kdf"]
            if k.get("name") != "argon2id":
                raise VaultCorrupt(f"{path}: unsupported KDF {k.get('name')!r}")
            kdf = KdfParams(
                memory_kib=int(k["memory_kib"]),
                iterations=int(k["iterations"]),
                lanes=int(k["lanes"]),
            )
            salt = _unb64(k["salt"], "kdf.salt")
            check = {"nonce": doc["check"]["nonce"], "ct": doc["check"]["ct"]}
            vault = cls(path=path, vault_id=str(doc["vault_id"]), kdf=kdf, salt=salt, check=check)
            for raw in doc["records"]:
                rec = _record_from_json(raw)
                if rec.id in vault._records:
                    raise VaultCorrupt(
                        f"{path}: record id {rec.id} appears twice; restore a backup"
                    )
                vault._records[rec.id] = rec
                extras = raw.get("extras")
                vault._sealed[rec.id] = _Sealed(
                    wrapped_key={
                        "nonce": raw["wrapped_key"]["nonce"],
                        "ct": raw["wrapped_key"]["ct"],
                    },
                    secret={"nonce": raw["secret"]["nonce"], "ct": raw["secret"]["ct"]},
                    extras=None
                    if extras is None
                    else {"nonce": extras["nonce"], "ct": extras["ct"]},
                )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise VaultCorrupt(
                f"{path}: vault header or record is malformed ({exc!r}); restore a backup"
            ) from exc
        return vault

    # ---- passphrase -------------------------------------------------------------------------
    def _header_aad(self) -> bytes:
        return _canonical(
            {
                "format": FORMAT,
                "version": VERSION,
                "vault_id": self.vault_id,
                "kdf": {
                    "name": "argon2id",
                    "memory_kib": self.kdf.memory_kib,
                    "iterations": self.kdf.iterations,
                    "lanes": self.kdf.lanes,
                    "salt": _b64(self.salt),
                },
            }
        )

    def _seal_check(self) -> dict[str, str]:
        assert self._master is not None
        nonce = os.urandom(_NONCE_BYTES)
        ct = AESGCM(self._master).encrypt(nonce, _CHECK_PLAINTEXT, self._header_aad())
        return {"nonce": _b64(nonce), "ct": _b64(ct)}

    @property
    def unlocked(self) -> bool:
        return self._master is not None

    def unlock(self, passphrase: str) -> Vault:
        """Derive the master key; a wrong passphrase raises ``WrongPassphrase`` and changes nothing."""
        disable_core_dumps()  # the master key and then the secrets live in this process
        master = self.kdf.derive(passphrase, self.salt)
        nonce = _unb64(self.check.get("nonce"), "check.nonce")
        ct = _unb64(self.check.get("ct"), "check.ct")
        try:
            plain = AESGCM(master).decrypt(nonce, ct, self._header_aad())
        except InvalidTag:
            raise WrongPassphrase(
                f"wrong passphrase for {self.path} (or its header was altered); try again"
            ) from None
        if plain != _CHECK_PLAINTEXT:
            raise VaultCorrupt(f"{self.path}: passphrase check value is wrong; restore a backup")
        self._master = master
        return self

    def lock(self) -> None:
        self._master = None

    def _require_master(self) -> bytes:
        if self._master is None:
            raise VaultLocked("the vault is locked; unlock it with the passphrase first")
        return self._master

    def change_passphrase(self, new_passphrase: str, *, kdf: KdfParams | None = None) -> None:
        """Re-wrap every data key under a key derived from the new passphrase (new salt, and new
        KDF parameters if given). The sealed secrets are not touched. Call ``save()`` after."""
        if not new_passphrase:
            raise VaultError("an empty passphrase is not allowed")
        old_master = self._require_master()
        check_new_passphrase(new_passphrase)
        data_keys = {rid: self._unwrap(rid, old_master) for rid in self._records}
        self.kdf = kdf or self.kdf
        self.salt = os.urandom(16)
        self._master = self.kdf.derive(new_passphrase, self.salt)
        self.check = self._seal_check()
        for rid, dk in data_keys.items():
            self._sealed[rid].wrapped_key = self._wrap(rid, dk)

    # ---- records -----------------------------------------------------------------------------
    def _record_aad(self, rec: KeyRecord, purpose: str) -> bytes:
        return _canonical(
            {
                "purpose": purpose,
                "vault_id": self.vault_id,
                "id": rec.id,
                "exchange": rec.exchange,
                "label": rec.label,
                "api_key": rec.api_key,
            }
        )

    def _wrap(self, rid: str, data_key: bytes) -> dict[str, str]:
        nonce = os.urandom(_NONCE_BYTES)
        ct = AESGCM(self._require_master()).encrypt(
            nonce, data_key, self._record_aad(self._records[rid], "wrap")
        )
        return {"nonce": _b64(nonce), "ct": _b64(ct)}

    def _unwrap(self, rid: str, master: bytes) -> bytes:
        sealed = self._sealed[rid]
        rec = self._records[rid]
        try:
            return AESGCM(master).decrypt(
                _unb64(sealed.wrapped_key.get("nonce"), "wrapped_key.nonce"),
                _unb64(sealed.wrapped_key.get("ct"), "wrapped_key.ct"),
                self._record_aad(rec, "wrap"),
            )
        except InvalidTag:
            raise RecordTampered(
                f"record {rec.label!r} ({rec.exchange}) failed authentication: its key or identity "
                f"was altered or swapped; remove it and add the key again"
            ) from None

    def records(self) -> list[KeyRecord]:
        """All records in the order they were added (file order)."""
        return list(self._records.values())

    def get(self, record_id: str) -> KeyRecord:
        try:
            return self._records[record_id]
        except KeyError:
            raise RecordNotFound(f"no key with id {record_id} in {self.path}") from None

    def find_active(self, label: str, exchange: str | None = None) -> KeyRecord:
        """The active key for a label (the one that trades); rotated-out keys are skipped."""
        hits = [
            r
            for r in self.records()
            if r.label == label
            and r.status == "active"
            and (exchange is None or r.exchange == exchange)
        ]
        if not hits:
            known = sorted({printable(r.label, 64) for r in self._records.values()})
            raise RecordNotFound(
                f"no active key labelled {label!r}"
                + (f" (known labels: {', '.join(known)})" if known else "")
            )
        return hits[-1]

    def add(
        self,
        *,
        exchange: str,
        label: str,
        api_key: str,
        secret: str,
        markets: tuple[str, ...] = (),
        status: str = "active",
        replaces: str | None = None,
        extras: Mapping[str, str] | None = None,
        profile: str = "bot",
    ) -> KeyRecord:
        """Seal a secret (and the exchange's extra credentials, if any: an API passphrase, a
        memo) under a fresh data key; the record's identity is bound as associated data."""
        self._require_master()
        register_secret(secret)  # from now on, no log line can show it
        for value in (extras or {}).values():
            register_secret(value)
        rec = KeyRecord(
            id=str(uuid.uuid4()),
            exchange=exchange,
            label=label,
            api_key=api_key,
            created_at=now_iso(),
            status=status,
            markets=tuple(markets),
            replaces=replaces,
            profile=profile,
        )
        self._records[rec.id] = rec
        data_key = AESGCM.generate_key(bit_length=256)
        nonce = os.urandom(_NONCE_BYTES)
        ct = AESGCM(data_key).encrypt(
            nonce, secret.encode("utf-8"), self._record_aad(rec, "secret")
        )
        sealed_extras = None
        if extras:
            x_nonce = os.urandom(_NONCE_BYTES)
            x_ct = AESGCM(data_key).encrypt(
                x_nonce, _canonical(dict(extras)), self._record_aad(rec, "extras")
            )
            sealed_extras = {"nonce": _b64(x_nonce), "ct": _b64(x_ct)}
        self._sealed[rec.id] = _Sealed(
            wrapped_key=self._wrap(rec.id, data_key),
            secret={"nonce": _b64(nonce), "ct": _b64(ct)},
            extras=sealed_extras,
        )
        return rec

    def _open_sealed(self, record_id: str, purpose: str, sealed: dict[str, str], what: str) -> bytes:
        """Decrypt one of a record's sealed values under its data key; ``RecordTampered`` if
        anything bound to it changed."""
        rec = self.get(record_id)
        data_key = self._unwrap(record_id, self._require_master())
        try:
            return AESGCM(data_key).decrypt(
                _unb64(sealed.get("nonce"), f"{purpose}.nonce"),
                _unb64(sealed.get("ct"), f"{purpose}.ct"),
                self._record_aad(rec, purpose),
            )
        except InvalidTag:
            raise RecordTampered(
                f"record {rec.label!r} ({rec.exchange}) failed authentication: its sealed {what} "
                f"was altered or swapped; remove it and add the key again"
            ) from None

    def reveal(self, record_id: str) -> str:
        """Open a record's secret; raises ``RecordTampered`` if anything bound to it changed."""
        self._require_master()
        self.get(record_id)
        plain = self._open_sealed(record_id, "secret", self._sealed[record_id].secret, "secret")
        secret = plain.decode("utf-8")
        register_secret(secret)  # from now on, no log line can show it
        return secret

    def reveal_extras(self, record_id: str) -> dict[str, str]:
        """Open a record's extra credentials ({} when it has none); tampering raises
        ``RecordTampered`` as for the secret."""
        self._require_master()
        rec = self.get(record_id)
        sealed = self._sealed[record_id].extras
        if sealed is None:
            return {}
        plain = self._open_sealed(record_id, "extras", sealed, "extra credentials")
        try:
            extras = json.loads(plain)
        except ValueError:
            raise VaultCorrupt(f"record {rec.label!r}: sealed extras are not JSON") from None
        if not isinstance(extras, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in extras.items()
        ):
            raise VaultCorrupt(f"record {rec.label!r}: sealed extras are malformed")
        for value in extras.values():
            register_secret(value)
        return extras

    def verify_all(self) -> None:
        """Open every record once (without keeping the secrets) to detect tampering early."""
        for rid in self._records:
            self.reveal(rid)
            self.reveal_extras(rid)

    _MUTABLE = frozenset(
        {
            "status",
            "markets",
            "replaced_by",
            "replaces",
            "last_used_at",
            "reviewed_at",
            "last_verification",
        }
    )

    def update(self, record_id: str, **changes: Any) -> KeyRecord:
        """Change clear metadata. Identity fields (bound to the secret) cannot be changed."""
        bad = set(changes) - self._MUTABLE
        if bad:
            raise VaultError(f"cannot change {', '.join(sorted(bad))}: add a new key instead")
        rec = replace(self.get(record_id), **changes)
        self._records[record_id] = rec
        return rec

    def remove(self, record_id: str) -> None:
        self.get(record_id)
        del self._records[record_id]
        del self._sealed[record_id]

    # ---- persistence -------------------------------------------------------------------------
    def to_doc(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "vault_id": self.vault_id,
            "kdf": {
                "name": "argon2id",
                "memory_kib": self.kdf.memory_kib,
                "iterations": self.kdf.iterations,
                "lanes": self.kdf.lanes,
                "salt": _b64(self.salt),
            },
            "check": dict(self.check),
            "records": [self._record_doc(rec) for rec in self.records()],
        }

    def _record_doc(self, rec: KeyRecord) -> dict[str, Any]:
        sealed = self._sealed[rec.id]
        doc = {
            **_record_to_json(rec),
            "wrapped_key": dict(sealed.wrapped_key),
            "secret": dict(sealed.secret),
        }
        if sealed.extras is not None:
            doc["extras"] = dict(sealed.extras)
        return doc

    def save(self, *, _before_rename: Any = None) -> None:
        data = json.dumps(self.to_doc(), indent=2, sort_keys=False).encode("utf-8") + b"\n"
        atomic_write(self.path, data, _before_rename=_before_rename)
