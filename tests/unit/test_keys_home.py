"""Where keys live and how secrets are asked for: hidden prompts, stdin, the environment."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from liquidity_bot.cli import app as root_app
from liquidity_bot.keys import home as home_mod
from liquidity_bot.keys.home import PASSPHRASE_ENV, InputRefused, read_passphrase, read_secret
from liquidity_bot.keys.vault import SecretStore, Vault
from liquidity_bot.logs import redact

KEY = "H" * 64
SECRET = "HomeCanary" + "h" * 54


class FakeTty(io.StringIO):
    def isatty(self) -> bool:
        return True


class Prompts:
    """Answers for the hidden prompt, consumed in order; the prompts shown are recorded."""

    def __init__(self) -> None:
        self.answers: list[str] = []
        self.shown: list[str] = []

    def getpass(self, prompt: str) -> str:
        self.shown.append(prompt)
        return self.answers.pop(0)


@pytest.fixture
def prompts(monkeypatch: pytest.MonkeyPatch) -> Prompts:
    p = Prompts()
    monkeypatch.setattr(home_mod, "_getpass", p.getpass)
    monkeypatch.delenv(PASSPHRASE_ENV, raising=False)
    return p


def test_passphrase_from_hidden_prompt_confirmed_twice(prompts: Prompts) -> None:
    prompts.answers += ["first passphrase", "first passphrase"]
    assert read_passphrase(confirm=True, stdin=FakeTty()) == "first passphrase"
    assert prompts.shown == ["Vault passphrase: ", "Repeat the vault passphrase: "]
    assert "first passphrase" not in redact("log line with first passphrase in it")


def test_passphrase_mismatch_and_empty_are_refused(prompts: Prompts) -> None:
    prompts.answers += ["one passphrase", "another one"]
    with pytest.raises(InputRefused, match="differ"):
        read_passphrase(confirm=True, stdin=FakeTty())
    prompts.answers += [""]
    with pytest.raises(InputRefused, match="empty"):
        read_passphrase(confirm=False, stdin=FakeTty())


def test_no_terminal_and_no_env_is_refused_with_advice(prompts: Prompts, monkeypatch) -> None:
    monkeypatch.setattr(home_mod, "_has_controlling_tty", lambda: False)
    with pytest.raises(InputRefused, match=PASSPHRASE_ENV):
        read_passphrase(confirm=False, stdin=io.StringIO(""))
    assert prompts.shown == []


def test_env_passphrase_wins(monkeypatch) -> None:
    monkeypatch.setenv(PASSPHRASE_ENV, "from the environment")
    assert read_passphrase(confirm=True, stdin=io.StringIO("")) == "from the environment"


def test_secret_from_hidden_prompt_on_a_terminal_else_one_stdin_line(prompts: Prompts) -> None:
    prompts.answers += [SECRET]
    assert read_secret(stdin=FakeTty()) == SECRET
    assert prompts.shown == ["API secret (hidden): "]
    assert read_secret(stdin=io.StringIO(SECRET + "\nnext line\n")) == SECRET
    with pytest.raises(InputRefused, match="no secret"):
        read_secret(stdin=io.StringIO("\n"))
    # from now on the logging layer masks it
    assert SECRET not in redact(f"oops {SECRET}")


def test_home_from_environment_and_vault_interface(tmp_path: Path) -> None:
    env = {"LIQUIDITY_BOT_HOME": str(tmp_path / "envhome"), PASSPHRASE_ENV: "env home pass"}
    res = CliRunner().invoke(
        root_app,
        ["keys", "add", "--label", "L", "--api-key", KEY, "--no-verify"],
        input=SECRET + "\n",
        env=env,
    )
    assert res.exit_code == 0, res.output
    assert (tmp_path / "envhome" / "vault.json").exists()
    listed = CliRunner().invoke(root_app, ["keys", "list", "--json"], env=env)
    assert json.loads(listed.stdout)[0]["label"] == "L"
    # the rest of the bot sees the vault through a small interface (a server backend can follow)
    assert isinstance(Vault.open(tmp_path / "envhome" / "vault.json"), SecretStore)
