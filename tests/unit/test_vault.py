"""The encrypted vault: round trip, wrong passphrase, tampering, crashes, permissions."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest

from liquidity_bot.keys.vault import (
    DEFAULT_KDF,
    InsecurePermissions,
    KdfParams,
    RecordTampered,
    SecretStore,
    Vault,
    VaultCorrupt,
    VaultExists,
    VaultLocked,
    VaultNotFound,
    WrongPassphrase,
)

FAST = KdfParams(memory_kib=64, iterations=1, lanes=1)  # tests only: keeps the suite fast
PASS = "correct horse battery staple"
SECRET_A = "A" * 20 + "secretAAAAsecretAAAAsecretAAAAsecretAAAA0000"
SECRET_B = "B" * 20 + "secretBBBBsecretBBBBsecretBBBBsecretBBBB1111"


def _vault(tmp_path: Path) -> Vault:
    v = Vault.create(tmp_path / "vault.json", PASS, kdf=FAST)
    v.add(exchange="bitrue", label="Liquidity Bot", api_key="k" * 64, secret=SECRET_A)
    v.add(exchange="bitrue", label="Other", api_key="j" * 64, secret=SECRET_B)
    v.save()
    return v


def _doc(path: Path) -> dict:
    return json.loads(path.read_text())


def _write_doc(path: Path, doc: dict) -> None:
    path.write_text(json.dumps(doc))
    os.chmod(path, 0o600)


def test_round_trip_and_file_never_holds_secret_in_clear(tmp_path: Path) -> None:
    v = _vault(tmp_path)
    raw = (tmp_path / "vault.json").read_bytes()
    assert SECRET_A.encode() not in raw and SECRET_B.encode() not in raw
    assert PASS.encode() not in raw
    opened = Vault.open(tmp_path / "vault.json")
    assert not opened.unlocked
    assert [r.label for r in opened.records()] == ["Liquidity Bot", "Other"]  # metadata readable
    with pytest.raises(VaultLocked):
        opened.reveal(opened.records()[0].id)
    opened.unlock(PASS)
    a = opened.find_active("Liquidity Bot")
    assert opened.reveal(a.id) == SECRET_A
    assert opened.reveal(opened.find_active("Other").id) == SECRET_B
    assert a.id == v.find_active("Liquidity Bot").id
    assert isinstance(opened, SecretStore)


def test_file_mode_is_0600(tmp_path: Path) -> None:
    _vault(tmp_path)
    assert stat.S_IMODE((tmp_path / "vault.json").stat().st_mode) == 0o600


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o620, 0o666])
def test_refuses_group_or_other_access(tmp_path: Path, mode: int) -> None:
    _vault(tmp_path)
    path = tmp_path / "vault.json"
    os.chmod(path, mode)
    with pytest.raises(InsecurePermissions, match=f"chmod 600 {path}"):
        Vault.open(path)


def test_wrong_passphrase_is_told_apart_and_changes_nothing(tmp_path: Path) -> None:
    _vault(tmp_path)
    path = tmp_path / "vault.json"
    before = path.read_bytes()
    with pytest.raises(WrongPassphrase, match="wrong passphrase"):
        Vault.open(path).unlock("not it")
    assert path.read_bytes() == before


def test_create_refuses_existing(tmp_path: Path) -> None:
    _vault(tmp_path)
    with pytest.raises(VaultExists):
        Vault.create(tmp_path / "vault.json", PASS, kdf=FAST)


def test_missing_vault(tmp_path: Path) -> None:
    with pytest.raises(VaultNotFound, match="keys add"):
        Vault.open(tmp_path / "vault.json")


def _flip(b64: str) -> str:
    raw = bytearray(base64.b64decode(b64))
    raw[len(raw) // 2] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


@pytest.mark.parametrize("field", ["secret", "wrapped_key"])
def test_tampered_ciphertext_detected(tmp_path: Path, field: str) -> None:
    _vault(tmp_path)
    path = tmp_path / "vault.json"
    doc = _doc(path)
    doc["records"][0][field]["ct"] = _flip(doc["records"][0][field]["ct"])
    _write_doc(path, doc)
    v = Vault.open(path).unlock(PASS)  # passphrase is right: the header is intact
    with pytest.raises(RecordTampered, match="failed authentication"):
        v.reveal(v.records()[0].id)
    assert v.reveal(v.records()[1].id) == SECRET_B  # the untouched record still opens


def test_swapped_records_detected(tmp_path: Path) -> None:
    """Moving one record's sealed secret and wrapped key to another record must not open."""
    _vault(tmp_path)
    path = tmp_path / "vault.json"
    doc = _doc(path)
    r0, r1 = doc["records"]
    for f in ("secret", "wrapped_key"):
        r0[f], r1[f] = r1[f], r0[f]
    _write_doc(path, doc)
    v = Vault.open(path).unlock(PASS)
    for rec in v.records():
        with pytest.raises(RecordTampered):
            v.reveal(rec.id)


def test_edited_identity_detected(tmp_path: Path) -> None:
    """Relabelling a record (so the bot would trade the wrong key for a label) is detected."""
    _vault(tmp_path)
    path = tmp_path / "vault.json"
    doc = _doc(path)
    doc["records"][1]["label"] = "Liquidity Bot"
    doc["records"][0]["label"] = "Other"
    _write_doc(path, doc)
    v = Vault.open(path).unlock(PASS)
    with pytest.raises(RecordTampered):
        v.verify_all()


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.pop("kdf"),
        lambda d: d.update(version=99),
        lambda d: d.update(format="something-else"),
        lambda d: d["kdf"].update(salt="***not base64***"),
        lambda d: d.update(records="nope"),
        lambda d: d["records"][0].pop("api_key"),
    ],
)
def test_corrupt_header_is_a_clear_error(tmp_path: Path, mutate) -> None:
    _vault(tmp_path)
    path = tmp_path / "vault.json"
    doc = _doc(path)
    mutate(doc)
    _write_doc(path, doc)
    with pytest.raises(VaultCorrupt, match="backup|upgrade"):
        Vault.open(path).unlock(PASS)


def test_truncated_file_is_corrupt(tmp_path: Path) -> None:
    _vault(tmp_path)
    path = tmp_path / "vault.json"
    path.write_bytes(path.read_bytes()[:50])
    with pytest.raises(VaultCorrupt):
        Vault.open(path)


def test_altered_kdf_params_read_as_wrong_passphrase_not_silently_weaker(tmp_path: Path) -> None:
    _vault(tmp_path)
    path = tmp_path / "vault.json"
    doc = _doc(path)
    doc["kdf"]["memory_kib"] = 32
    _write_doc(path, doc)
    with pytest.raises(WrongPassphrase):
        Vault.open(path).unlock(PASS)


def test_interrupted_write_leaves_old_vault_intact(tmp_path: Path) -> None:
    v = _vault(tmp_path)
    path = tmp_path / "vault.json"
    before = path.read_bytes()
    v.add(exchange="bitrue", label="Third", api_key="m" * 64, secret="third-secret-" * 5)

    class Crash(Exception):
        pass

    def crash(tmp: Path) -> None:
        assert tmp.exists() and tmp.parent == path.parent
        raise Crash

    with pytest.raises(Crash):
        v.save(_before_rename=crash)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
    reopened = Vault.open(path).unlock(PASS)
    assert [r.label for r in reopened.records()] == ["Liquidity Bot", "Other"]


def test_passphrase_change_rewraps_without_touching_sealed_secrets(tmp_path: Path) -> None:
    v = _vault(tmp_path)
    path = tmp_path / "vault.json"
    before = _doc(path)
    stronger = KdfParams(memory_kib=128, iterations=2, lanes=1)
    v.change_passphrase("a new passphrase", kdf=stronger)
    v.save()
    after = _doc(path)
    assert [r["secret"] for r in after["records"]] == [r["secret"] for r in before["records"]]
    assert [r["wrapped_key"] for r in after["records"]] != [
        r["wrapped_key"] for r in before["records"]
    ]
    assert after["kdf"]["salt"] != before["kdf"]["salt"]
    assert after["kdf"]["memory_kib"] == 128 and after["kdf"]["iterations"] == 2
    with pytest.raises(WrongPassphrase):
        Vault.open(path).unlock(PASS)
    reopened = Vault.open(path).unlock("a new passphrase")
    assert reopened.reveal(reopened.find_active("Liquidity Bot").id) == SECRET_A


def test_wrong_passphrase_cannot_change_passphrase(tmp_path: Path) -> None:
    _vault(tmp_path)
    v = Vault.open(tmp_path / "vault.json")
    with pytest.raises(VaultLocked):
        v.change_passphrase("new")


def test_metadata_update_and_remove(tmp_path: Path) -> None:
    v = _vault(tmp_path)
    rec = v.find_active("Other")
    v.update(rec.id, last_used_at="2026-01-01T00:00:00+00:00")
    with pytest.raises(Exception, match="add a new key"):
        v.update(rec.id, label="renamed")
    v.remove(v.find_active("Liquidity Bot").id)
    v.save()
    reopened = Vault.open(tmp_path / "vault.json").unlock(PASS)
    assert [r.label for r in reopened.records()] == ["Other"]
    assert reopened.records()[0].last_used_at == "2026-01-01T00:00:00+00:00"
    assert reopened.reveal(rec.id) == SECRET_B


def test_defaults_meet_owasp_and_really_work(tmp_path: Path) -> None:
    """One test with the production KDF parameters (Argon2id, m=46 MiB, t=1, p=1)."""
    assert DEFAULT_KDF.meets_owasp_minimum()
    assert not FAST.meets_owasp_minimum()
    assert KdfParams(memory_kib=19456, iterations=2).meets_owasp_minimum()
    v = Vault.create(tmp_path / "vault.json", PASS)
    v.add(exchange="bitrue", label="L", api_key="k" * 64, secret=SECRET_A)
    v.save()
    doc = _doc(tmp_path / "vault.json")
    assert doc["kdf"]["name"] == "argon2id"
    assert doc["kdf"]["memory_kib"] >= 47104
    reopened = Vault.open(tmp_path / "vault.json").unlock(PASS)
    assert reopened.reveal(reopened.find_active("L").id) == SECRET_A


def test_failed_write_disk_full_leaves_old_vault_intact(tmp_path: Path, monkeypatch) -> None:
    """A write that fails half way (disk full at fsync) leaves the old file and no temp file."""
    import errno

    from liquidity_bot.keys import vault as vault_mod

    v = _vault(tmp_path)
    path = tmp_path / "vault.json"
    before = path.read_bytes()
    v.add(exchange="bitrue", label="Third", api_key="m" * 64, secret="third-secret-" * 5)

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(vault_mod.os, "fsync", full)
    with pytest.raises(OSError, match="No space"):
        v.save()
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["vault.json"]
    assert [r.label for r in Vault.open(path).unlock(PASS).records()] == ["Liquidity Bot", "Other"]


def test_a_new_vault_needs_a_strong_passphrase(tmp_path: Path) -> None:
    from liquidity_bot.keys.home import WeakPassphrase

    for weak in ("short", "elevenchars", "aaaaaaaaaaaaaaaa"):
        with pytest.raises(WeakPassphrase, match="passphrase"):
            Vault.create(tmp_path / "vault.json", weak, kdf=FAST)
        assert not (tmp_path / "vault.json").exists()
    v = _vault(tmp_path)
    with pytest.raises(WeakPassphrase, match="at least 12"):
        v.change_passphrase("new")
    assert Vault.open(tmp_path / "vault.json").unlock(PASS).records()


def test_default_kdf_is_above_the_owasp_floor_and_old_vaults_still_open(tmp_path: Path) -> None:
    floor = KdfParams(memory_kib=47104, iterations=1, lanes=1)
    assert DEFAULT_KDF.at_least(floor) and DEFAULT_KDF != floor
    assert DEFAULT_KDF.memory_kib * DEFAULT_KDF.iterations >= 4 * floor.memory_kib
    # a vault made at the old floor opens: its parameters are read from its header
    old = Vault.create(tmp_path / "vault.json", PASS, kdf=floor)
    old.add(exchange="bitrue", label="L", api_key="k" * 64, secret=SECRET_A)
    old.save()
    reopened = Vault.open(tmp_path / "vault.json").unlock(PASS)
    assert reopened.kdf == floor and reopened.reveal(reopened.find_active("L").id) == SECRET_A


def test_extras_are_sealed_bound_and_tamper_evident(tmp_path: Path) -> None:
    """The exchange's extra credentials (an OKX passphrase) are sealed like the secret, bound to
    the record's identity, survive a passphrase change, and a record without extras has none."""
    import json as _json

    from liquidity_bot.keys.vault import KdfParams, RecordTampered, Vault

    fast = KdfParams(memory_kib=64, iterations=1, lanes=1)
    path = tmp_path / "vault.json"
    v = Vault.create(path, "extras passphrase 1", kdf=fast)
    rec = v.add(exchange="okx", label="LB", api_key="k" * 36, secret="s" * 32,
                extras={"passphrase": "PassphraseCanary-9"})
    plain = v.add(exchange="bitrue", label="B", api_key="b" * 64, secret="t" * 64)
    v.save()
    assert b"PassphraseCanary-9" not in path.read_bytes()
    v = Vault.open(path).unlock("extras passphrase 1")
    assert v.reveal_extras(rec.id) == {"passphrase": "PassphraseCanary-9"}
    assert v.reveal_extras(plain.id) == {}
    v.change_passphrase("extras passphrase 2", kdf=fast)
    v.save()
    assert Vault.open(path).unlock("extras passphrase 2").reveal_extras(rec.id) == {
        "passphrase": "PassphraseCanary-9"
    }
    doc = _json.loads(path.read_text())
    a, b = doc["records"]
    b["extras"] = a["extras"]  # moved to another record: fails to open
    path.write_text(_json.dumps(doc))
    path.chmod(0o600)
    moved = Vault.open(path).unlock("extras passphrase 2")
    with pytest.raises(RecordTampered, match="extra credentials"):
        moved.reveal_extras(b["id"])
