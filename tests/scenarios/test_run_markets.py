"""``liquidity-bot run`` with a symbol the exchange does not list: that market is refused with a
clear error and the key's other markets quote; with no market left, ``run`` exits non-zero."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from liquidity_bot.commands import EXIT_ERROR

from .conftest import admin, keyed_config, keyed_market, new_key
from .test_run_command import _bot, _store_key


@pytest.fixture
def home(tmp_path: Path) -> Path:
    h = tmp_path / "home"
    h.mkdir(mode=0o700)
    return h


async def test_an_unknown_symbol_idles_only_its_own_market(sim_quiet, home, tmp_path):
    """One unknown symbol used to fail the key's whole session (every market idle, exit 0)."""
    account, key, secret = await new_key(sim_quiet)
    _store_key(home, "good", key, secret)
    config = tmp_path / "bot.toml"
    config.write_text(keyed_config(sim_quiet.base_url,
                                   keyed_market("NOPEUSDT", "good", "lbz"),
                                   keyed_market("XRPUSDT", "good", "lbu")))
    proc = await _bot(home, config, "--duration", "3")
    out, err = await asyncio.wait_for(proc.communicate(), 90)
    assert proc.returncode == 0, err.decode()[-2000:]
    text = out.decode()
    summary = json.loads(text[text.index("{"):])
    assert "NOPEUSDT" in summary["markets"]["NOPEUSDT"]["failed"]
    assert "check the symbol name" in summary["markets"]["NOPEUSDT"]["failed"]
    assert summary["markets"]["XRPUSDT"]["orders_placed"] >= 2
    assert "failed" not in summary["markets"]["XRPUSDT"]
    assert "NOPEUSDT" in err.decode() and "the others go on" in err.decode()
    ledger = await admin(sim_quiet, "GET", f"/sim/admin/ledger?account_id={account}")
    assert {o["symbol"] for o in ledger["orders"]} == {"XRPUSDT"}


async def test_no_market_left_exits_non_zero(sim_quiet, home, tmp_path):
    _, key, secret = await new_key(sim_quiet)
    _store_key(home, "good", key, secret)
    config = tmp_path / "bot.toml"
    config.write_text(keyed_config(sim_quiet.base_url, keyed_market("NOPEUSDT", "good", "lbz")))
    proc = await _bot(home, config, "--duration", "2")
    out, err = await asyncio.wait_for(proc.communicate(), 90)
    assert proc.returncode == EXIT_ERROR, (proc.returncode, err.decode()[-2000:])
    assert "no market quoted" in err.decode() and "NOPEUSDT" in err.decode()
