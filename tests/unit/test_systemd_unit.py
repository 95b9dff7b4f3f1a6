"""``examples/liquidity-bot.service``: cancel-all after every stop, the passphrase from systemd
credentials under the name the commands read, a stop timeout longer than the bot's shutdown,
no core dumps; and systemd itself accepts the file."""

from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from liquidity_bot.config import BotConfig
from liquidity_bot.keys.credentials import CREDENTIAL_NAME, service_passphrase
from liquidity_bot.keys.home import InputRefused

UNIT = Path(__file__).resolve().parents[2] / "examples" / "liquidity-bot.service"


def _service() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    section = ""
    for raw in UNIT.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        out.setdefault(f"{section}.{key}", []).append(value)
    return out


def _config_of(command: str) -> str:
    args = shlex.split(command)
    return args[args.index("--config") + 1]


def test_cancel_all_runs_after_every_stop_with_the_same_config():
    unit = _service()
    [start] = unit["Service.ExecStart"]
    [post] = unit["Service.ExecStopPost"]
    assert " run " in f" {start} " and "cancel-all" in shlex.split(post)
    assert _config_of(start) == _config_of(post)
    assert shlex.split(start)[0] == shlex.split(post)[0]


def test_passphrase_from_credentials_and_no_core_dumps():
    unit = _service()
    creds = unit.get("Service.LoadCredentialEncrypted", []) + unit.get("Service.LoadCredential", [])
    assert [c.split(":", 1)[0] for c in creds] == [CREDENTIAL_NAME]
    assert not any("PASSPHRASE" in e for e in unit.get("Service.Environment", []))
    assert unit["Service.LimitCORE"] == ["0"]
    stop_s = float(unit["Service.TimeoutStopSec"][0])
    assert stop_s > BotConfig().shutdown_timeout_s + 30


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_systemd_accepts_the_unit(tmp_path):
    text = UNIT.read_text().replace("/opt/liquidity-bot/.venv/bin/liquidity-bot", "/bin/true")
    text = text.replace("User=liquidity-bot", "User=root").replace("Group=liquidity-bot",
                                                                     "Group=root")
    copy = tmp_path / "liquidity-bot.service"
    copy.write_text(text)
    done = subprocess.run(["systemd-analyze", "verify", str(copy)], capture_output=True,
                          text=True, timeout=60)
    problems = [ln for ln in (done.stdout + done.stderr).splitlines() if str(copy) in ln]
    assert problems == [], problems


def test_service_passphrase_reads_the_credential(tmp_path, monkeypatch):
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    assert service_passphrase() is None
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    assert service_passphrase() is None  # no such credential: the prompt or env decides
    (tmp_path / CREDENTIAL_NAME).write_text("correct horse battery\n")
    assert service_passphrase() == "correct horse battery"
    (tmp_path / CREDENTIAL_NAME).write_text("\n")
    with pytest.raises(InputRefused, match="empty"):
        service_passphrase()
