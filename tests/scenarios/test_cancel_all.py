"""``liquidity-bot cancel-all --config``: after a bot died without cancelling (Bitrue has no
cancel-on-disconnect), every order with our prefixes is cancelled for every configured key and
nothing else on the account is touched; what cannot be cancelled makes it exit non-zero."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from liquidity_bot.commands import EXIT_ERROR, EXIT_LEFT_OPEN

from .conftest import PASSPHRASE, admin, keyed_config, keyed_market, new_key, rest, wait_for_async
from .test_run_command import _bot, _store_key


@pytest.fixture
def home(tmp_path: Path) -> Path:
    h = tmp_path / "home"
    h.mkdir(mode=0o700)
    return h


async def _cancel_all(home: Path, config: Path, passphrase: str = PASSPHRASE,
                      *args: str) -> tuple[int, str, str]:
    env = dict(os.environ, LIQUIDITY_BOT_PASSPHRASE=passphrase, LIQUIDITY_BOT_HOME=str(home))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "liquidity_bot.cli", "cancel-all", "--config", str(config), *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env)
    out, err = await asyncio.wait_for(proc.communicate(), 90)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def _ours(client, symbol: str, prefix: str) -> list:
    return [o for o in await client.open_orders(symbol)
            if (o.clientOrderId or "").startswith(prefix)]


async def test_cancel_all_after_kill_minus_9_for_every_key(sim_quiet, home, tmp_path):
    _, key1, secret1 = await new_key(sim_quiet, label="one")
    _, key2, secret2 = await new_key(sim_quiet, label="two")
    _store_key(home, "one", key1, secret1)
    _store_key(home, "two", key2, secret2)
    config = tmp_path / "bot.toml"
    config.write_text(keyed_config(sim_quiet.base_url,
                                   keyed_market("XRPUSDT", "one", "lca"),
                                   keyed_market("NOVAUSDT", "two", "lcb")))
    proc = await _bot(home, config)
    async with rest(sim_quiet, key1, secret1) as c1, rest(sim_quiet, key2, secret2) as c2:

        async def both_quote() -> bool:
            return bool(await _ours(c1, "XRPUSDT", "lca")) and bool(
                await _ours(c2, "NOVAUSDT", "lcb"))

        await wait_for_async(both_quote, "both keys quote", timeout=30)
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
        # an order of the client's own (no prefix of ours) on the same account
        depth = await c1.depth("XRPUSDT", 5)
        mine = await c1.place_order("XRPUSDT", "BUY", Decimal("10"),
                                    depth.bids[-1].price, client_order_id="manual1")
        left1 = await _ours(c1, "XRPUSDT", "lca")
        left2 = await _ours(c2, "NOVAUSDT", "lcb")
        assert left1 and left2, "the kill left orders behind"

        code, out, err = await _cancel_all(home, config)
        assert code == 0, err[-2000:]
        for o in left1 + left2:
            assert o.clientOrderId in out
        assert await _ours(c1, "XRPUSDT", "lca") == []
        assert await _ours(c2, "NOVAUSDT", "lcb") == []
        assert [o.clientOrderId for o in await c1.open_orders("XRPUSDT")] == ["manual1"]
        assert "manual1" not in out
        assert mine.clientOrderId == "manual1"
        assert secret1 not in out + err and secret2 not in out + err

        # nothing left: a second run cancels nothing and still exits 0
        code, out, _ = await _cancel_all(home, config)
        assert code == 0 and "cancelled 0 orders" in out


async def test_cancel_all_exits_non_zero_when_it_cannot_cancel(sim_quiet, home, tmp_path):
    _, key, secret = await new_key(sim_quiet)
    _store_key(home, "good", key, secret)
    config = tmp_path / "bot.toml"
    config.write_text(keyed_config(sim_quiet.base_url, keyed_market("XRPUSDT", "good", "lcd")))
    proc = await _bot(home, config)
    async with rest(sim_quiet, key, secret) as client:
        await wait_for_async(lambda: _ours(client, "XRPUSDT", "lcd"), "the bot quotes",
                             timeout=30)
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
        await admin(sim_quiet, "POST", f"/sim/admin/keys/{key}/disable")
        code, _, err = await _cancel_all(home, config, PASSPHRASE, "--timeout", "2")
        assert code in (EXIT_ERROR, EXIT_LEFT_OPEN), err
        assert "'good'" in err and "XRPUSDT" in err
        await admin(sim_quiet, "POST", f"/sim/admin/keys/{key}/enable")
        assert await _ours(client, "XRPUSDT", "lcd"), "nothing was cancelled"
        code, _, err = await _cancel_all(home, config, "not the passphrase")
        assert code == EXIT_ERROR and "vault" in err
        code, _, err = await _cancel_all(home, config)
        assert code == 0, err
        assert await _ours(client, "XRPUSDT", "lcd") == []


async def test_cancel_all_takes_the_passphrase_from_systemd_credentials(sim_quiet, home,
                                                                        tmp_path):
    """As ExecStopPost= runs it: no LIQUIDITY_BOT_PASSPHRASE, the credential file instead."""
    from liquidity_bot.keys.credentials import CREDENTIAL_NAME

    _, key, secret = await new_key(sim_quiet)
    _store_key(home, "good", key, secret)
    config = tmp_path / "bot.toml"
    config.write_text(keyed_config(sim_quiet.base_url, keyed_market("XRPUSDT", "good", "lce")))
    creds = tmp_path / "creds"
    creds.mkdir(mode=0o700)
    (creds / CREDENTIAL_NAME).write_text(PASSPHRASE + "\n")
    env = {k: v for k, v in os.environ.items() if k != "LIQUIDITY_BOT_PASSPHRASE"}
    env.update(LIQUIDITY_BOT_HOME=str(home), CREDENTIALS_DIRECTORY=str(creds))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "liquidity_bot.cli", "cancel-all", "--config", str(config),
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env=env)
    out, err = await asyncio.wait_for(proc.communicate(), 90)
    assert proc.returncode == 0, err.decode()
    assert "cancelled 0 orders" in out.decode()
    assert PASSPHRASE not in (out + err).decode()
