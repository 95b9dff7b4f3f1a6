"""Process and file hardening (issue 19, low items): a loose home is made private, new files are
private, the policy file must be the operator's own, core dumps are off while secrets are held."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from liquidity_bot.cli import app
from liquidity_bot.keys.policy import PolicyError, load_policy


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_loose_home_is_made_private(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "reports").mkdir(parents=True)
    home.chmod(0o755)
    (home / "reports").chmod(0o755)
    db = home / "liquidity-bot.db"
    db.write_text("rows")
    db.chmod(0o644)
    report = home / "reports" / "report.html"
    report.write_text("<html>")
    report.chmod(0o644)
    outside = tmp_path / "outside.txt"
    outside.write_text("x")
    outside.chmod(0o644)
    (home / "link").symlink_to(outside)
    res = CliRunner().invoke(app, ["--home", str(home), "keys", "list"],
                             env={"LIQUIDITY_BOT_PASSPHRASE": ""})
    assert res.exit_code == 0, res.output
    assert _mode(home) == 0o700 and _mode(home / "reports") == 0o700
    assert _mode(db) == 0o600 and _mode(report) == 0o600
    assert _mode(outside) == 0o644, "a symbolic link is not followed out of the home"


def test_files_the_bot_creates_are_private(tmp_path: Path) -> None:
    """The process-wide umask: a database or report written by any command is 0600."""
    code = (
        "import os, sys\n"
        "from liquidity_bot import cli\n"
        f"sys.argv = ['liquidity-bot', '--home', {str(tmp_path)!r}, 'keys', 'list']\n"
        "try:\n    cli.main()\nexcept SystemExit:\n    pass\n"
        "open(os.path.join(sys.argv[2], 'new.db'), 'w').close()\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, timeout=60,
                   env=dict(os.environ, LIQUIDITY_BOT_PASSPHRASE=""))
    assert _mode(tmp_path / "new.db") == 0o600


def test_a_policy_file_others_can_write_is_refused(tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text("max_clock_skew_ms = 60000\n")
    policy.chmod(0o664)
    with pytest.raises(PolicyError, match="writable by group or others.*chmod go-w"):
        load_policy(policy)
    policy.chmod(0o646)
    with pytest.raises(PolicyError, match="writable by group or others"):
        load_policy(policy)
    res = CliRunner().invoke(app, ["--home", str(tmp_path / "home"), "keys", "list",
                                   "--policy", str(policy)])
    assert res.exit_code == 3 and "writable by group or others" in res.output
    policy.chmod(0o644)
    assert load_policy(policy).max_clock_skew_ms == 60000


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user needs root")
def test_a_policy_file_of_another_user_is_refused(tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text("max_clock_skew_ms = 60000\n")
    policy.chmod(0o644)
    os.chown(policy, 4321, -1)
    with pytest.raises(PolicyError, match="owned by user id 4321"):
        load_policy(policy)


_PROBE = """
import ctypes, os, resource, sys
from pathlib import Path
print(resource.getrlimit(resource.RLIMIT_CORE), ctypes.CDLL(None).prctl(3, 0, 0, 0, 0))
{action}
print(resource.getrlimit(resource.RLIMIT_CORE), ctypes.CDLL(None).prctl(3, 0, 0, 0, 0))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl is Linux's")
@pytest.mark.parametrize("action", [
    "from liquidity_bot.keys.home import read_passphrase; read_passphrase(confirm=False)",
    "from liquidity_bot.keys.vault import Vault, KdfParams\n"
    "Vault.create(Path(sys.argv[1]) / 'v.json', 'a long passphrase', kdf=KdfParams(64))\n"
    "Vault.open(Path(sys.argv[1]) / 'v.json').unlock('a long passphrase')",
])
def test_no_core_dump_once_a_passphrase_is_held(tmp_path: Path, action: str) -> None:
    """A core file (a crash, SIGQUIT, gcore) would hold the passphrase and secrets in clear."""
    out = subprocess.run(
        [sys.executable, "-c", _PROBE.format(action=action), str(tmp_path)],
        check=True, capture_output=True, text=True, timeout=60,
        env=dict(os.environ, LIQUIDITY_BOT_PASSPHRASE="a long passphrase"),
    ).stdout.splitlines()
    assert out[0].endswith(" 1"), out  # a fresh process is dumpable (exec resets the flag)
    assert out[1] == "(0, 0) 0", out


def test_run_refuses_a_policy_file_others_can_write(tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text("accept_unknown = ['ip_restricted']\n")
    policy.chmod(0o666)
    (tmp_path / "home").mkdir(mode=0o700)
    config = tmp_path / "bot.toml"
    example = (Path(__file__).resolve().parents[2] / "examples" / "bot.toml").read_text()
    config.write_text(example.replace('# policy_path = "policy.toml"', 'policy_path = "policy.toml"'))
    res = CliRunner().invoke(app, ["--home", str(tmp_path / "home"), "run", "--config",
                                   str(config), "--no-dashboard", "--duration", "1"],
                             env={"LIQUIDITY_BOT_PASSPHRASE": "a long passphrase"})
    assert res.exit_code == 1, res.output
    assert "writable by group or others" in res.output and "Traceback" not in res.output
