"""``docs/going-live.md``, command by command, against the simulator over TLS (a throw-away CA
trusted through ``SSL_CERT_FILE`` for the keys commands and ``ca_file`` in the config): each
``liquidity-bot`` command the page shows runs here (or in the test named for it) with the exit
status the page promises."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import shutil
import sys
from pathlib import Path

import pytest

from bitrue_sim.server.runner import SimServer, server_tls_context
from liquidity_bot.venues.tls import throwaway_ca

from .conftest import keyed_config, keyed_market
from .test_tls_end_to_end import _admin, _new_key

DOC = Path(__file__).resolve().parents[2] / "docs" / "going-live.md"
LABEL = "Liquidity Bot"
PASS = "going live passphrase"
# commands of the page run elsewhere: demo --tls and sim serve --tls-* in
# test_tls_end_to_end.py; keys onboard --print-guide in the keys CLI tests
ELSEWHERE = {"demo", "sim serve", "keys onboard"}


def _doc_commands() -> set[str]:
    """``liquidity-bot`` sub-commands (one or two words) in the page's sh blocks and text."""
    found = set()
    for m in re.finditer(r"liquidity-bot ((?:keys|sim) [a-z-]+|[a-z-]+)", DOC.read_text()):
        found.add(m.group(1))
    return found


async def _cli(home: Path, ca: Path, *args: str, stdin: str | None = None,
               timeout: float = 120) -> tuple[int, str, str]:
    env = dict(os.environ, LIQUIDITY_BOT_PASSPHRASE=PASS, LIQUIDITY_BOT_HOME=str(home),
               SSL_CERT_FILE=str(ca), COLUMNS="200")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "liquidity_bot.cli", *args, env=env,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(
        proc.communicate(None if stdin is None else stdin.encode()), timeout)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


@pytest.mark.timeout(600)
async def test_the_going_live_page_step_by_step(tmp_path):
    tls = throwaway_ca(tmp_path / "tls")
    ran: set[str] = set()
    async with SimServer(seed=3, tls=server_tls_context(tls.cert, tls.key)) as sim:
        base = sim.base_url
        acct, key, secret = await _new_key(base, sim.admin_token, tls.ca_cert)
        home = tmp_path / "home"
        home.mkdir(mode=0o700)
        canary = ("--canary-source", "127.0.0.2")

        # 5. onboard the client's key
        code, out, err = await _cli(home, tls.ca_cert, "keys", "add", "--label", LABEL,
                                    "--exchange", "bitrue", "--api-key", key, "--market",
                                    "XRPUSDT", *canary, "--base-url", base, stdin=secret + "\n")
        assert code == 0, out + err
        code, out, err = await _cli(home, tls.ca_cert, "keys", "verify", LABEL, *canary,
                                    "--json", "--base-url", base)
        assert code == 0, out + err
        assert json.loads(out)["verdict"] == "pass"
        code, out, err = await _cli(home, tls.ca_cert, "keys", "list")
        assert code == 0 and LABEL in out, out + err
        ran |= {"keys add", "keys verify", "keys list"}

        # 6. run and cancel-all (the config as in section 1: https and ca_file)
        config = tmp_path / "bot.toml"
        config.write_text(keyed_config(base, keyed_market("XRPUSDT", LABEL, "lgl")).replace(
            "[bitrue]\n", f'[bitrue]\nca_file = "{tls.ca_cert}"\n', 1))
        code, out, err = await _cli(home, tls.ca_cert, "run", "--config", str(config), *canary,
                                    "--duration", "3", "--dashboard-port", "0")
        assert code == 0, (out + err)[-3000:]
        summary = json.loads(out[out.index("{"):])
        assert summary["markets"]["XRPUSDT"]["orders_placed"] > 0 and summary["left_open"] == []
        code, out, err = await _cli(home, tls.ca_cert, "cancel-all", "--config", str(config))
        assert code == 0 and "cancelled 0 orders" in out, out + err
        ran |= {"run", "cancel-all"}

        # 7. backup and restore on "a new machine"
        backup = tmp_path / "backup"
        backup.mkdir()
        shutil.copy2(home / "vault.json", backup / "vault.json")
        restored = tmp_path / "restored"
        restored.mkdir(mode=0o700)
        shutil.copy2(backup / "vault.json", restored / "vault.json")
        os.chmod(restored / "vault.json", 0o600)
        code, out, err = await _cli(restored, tls.ca_cert, "keys", "list")
        assert code == 0 and LABEL in out, out + err
        code, out, err = await _cli(restored, tls.ca_cert, "keys", "verify", LABEL, *canary,
                                    "--base-url", base)
        assert code == 0, out + err

        # 8. rotation: a new key on the same account
        made = await _admin(base, sim.admin_token, tls.ca_cert, "POST", "/sim/admin/keys", {
            "account_id": acct, "label": "new", "permissions": ["read", "trade"],
            "ip_allowlist": ["127.0.0.1"]})
        code, out, err = await _cli(home, tls.ca_cert, "keys", "rotate", LABEL, "--api-key",
                                    made["api_key"], *canary, "--base-url", base,
                                    stdin=made["secret"] + "\n")
        assert code == 0, out + err
        code, out, err = await _cli(home, tls.ca_cert, "keys", "list", "--json")
        assert code == 0 and made["api_key"][:4] in out, out + err
        ran |= {"keys rotate"}
        for text in (out, err):
            assert secret not in text and made["secret"] not in text

    missing = _doc_commands() - ran - ELSEWHERE
    assert not missing, f"commands of going-live.md not exercised: {sorted(missing)}"
    # the page's own command lines parse as shell words (no broken quoting)
    for line in DOC.read_text().splitlines():
        if line.startswith("liquidity-bot "):
            shlex.split(line)
