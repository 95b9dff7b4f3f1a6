"""``liquidity-bot run`` as a real process: every stop signal cancels our orders first, and an
exit that leaves orders open says so (exit status 4 and the orders, one a line)."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path

import pytest

from liquidity_bot.commands import EXIT_LEFT_OPEN

from .conftest import admin, keyed_config, keyed_market, new_key, rest, wait_for_async
from .test_run_command import _bot, _store_key


@pytest.fixture
def home(tmp_path: Path) -> Path:
    h = tmp_path / "home"
    h.mkdir(mode=0o700)
    return h


async def _quoting(client, prefix: str) -> bool:
    orders = [o for o in await client.open_orders("XRPUSDT")
              if (o.clientOrderId or "").startswith(prefix)]
    return len({o.side for o in orders}) == 2


@pytest.mark.parametrize("sig", [signal.SIGHUP, signal.SIGQUIT])
async def test_hangup_and_quit_cancel_everything_like_sigterm(sim_quiet, home, tmp_path, sig):
    """SIGHUP (terminal closed, SSH dropped) and SIGQUIT (Ctrl-\\) once killed the process with
    every order left open (SIGQUIT with a core dump): now they stop it as SIGTERM does."""
    account, key, secret = await new_key(sim_quiet)
    _store_key(home, "good", key, secret)
    config = tmp_path / "bot.toml"
    config.write_text(keyed_config(sim_quiet.base_url, keyed_market("XRPUSDT", "good", "lbq")))
    proc = await _bot(home, config)
    async with rest(sim_quiet, key, secret) as client:
        await wait_for_async(lambda: _quoting(client, "lbq"), "the bot quotes both sides",
                             timeout=30)
        proc.send_signal(sig)
        out, err = await asyncio.wait_for(proc.communicate(), 90)
        assert proc.returncode == 0, (proc.returncode, err.decode()[-2000:])
        assert [o for o in await client.open_orders("XRPUSDT")
                if (o.clientOrderId or "").startswith("lbq")] == []
    text = out.decode()
    summary = json.loads(text[text.index("{"):])
    assert summary["stopped_by"] == sig.name
    assert summary["left_open"] == []
    assert f"{sig.name} received" in err.decode()
    ledger = await admin(sim_quiet, "GET", f"/sim/admin/ledger?account_id={account}")
    assert ledger["orders"] and all(o["status"] != "NEW" for o in ledger["orders"])
    assert not list(Path(tmp_path).glob("core*")), "no core dump"


async def test_orders_left_open_exit_non_zero_with_a_list(sim_quiet, home, tmp_path):
    """A key disabled on the exchange cannot cancel: ``run`` used to exit 0 all the same. Now
    it exits EXIT_LEFT_OPEN and names every order it left (symbol, client id, side, qty,
    price), and they are exactly the ones the exchange still holds."""
    _, key, secret = await new_key(sim_quiet)
    _store_key(home, "good", key, secret)
    config = tmp_path / "bot.toml"
    config.write_text("shutdown_timeout_s = 2\n" + keyed_config(
        sim_quiet.base_url, keyed_market("XRPUSDT", "good", "lbo")))
    proc = await _bot(home, config)
    async with rest(sim_quiet, key, secret) as client:
        await wait_for_async(lambda: _quoting(client, "lbo"), "the bot quotes both sides",
                             timeout=30)
        await admin(sim_quiet, "POST", f"/sim/admin/keys/{key}/disable")
        proc.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(proc.communicate(), 90)
        assert proc.returncode == EXIT_LEFT_OPEN, (proc.returncode, err.decode()[-3000:])
        await admin(sim_quiet, "POST", f"/sim/admin/keys/{key}/enable")
        still = [o for o in await client.open_orders("XRPUSDT")
                 if (o.clientOrderId or "").startswith("lbo")]
    assert still
    text = out.decode()
    summary = json.loads(text[text.index("{"):])
    listed = {o["client_order_id"]: o for o in summary["left_open"]}
    assert set(listed) == {o.clientOrderId for o in still}
    for o in still:
        row = listed[o.clientOrderId]
        assert (row["symbol"], row["side"], row["key"]) == ("XRPUSDT", o.side, "good")
        assert row["price"] == f"{o.price:f}" and row["qty"] == f"{o.origQty:f}"
        assert o.clientOrderId in err.decode(), "each one is printed for the operator"
    assert "cancel-all" in err.decode()
    assert secret not in text + err.decode()


async def test_a_dropped_ssh_session_cancels_everything(sim_quiet, home, tmp_path):
    """The real thing behind SIGHUP: the bot draws its live view on a terminal, the terminal
    goes away (every write then fails) and SIGHUP arrives. Our orders are cancelled and the
    exit status says all is well, though nothing can be printed any more."""
    import os
    import sys

    from .conftest import PASSPHRASE

    _, key, secret = await new_key(sim_quiet)
    _store_key(home, "good", key, secret)
    config = tmp_path / "bot.toml"
    config.write_text(keyed_config(sim_quiet.base_url, keyed_market("XRPUSDT", "good", "lbh")))
    master, slave = os.openpty()
    env = dict(os.environ, LIQUIDITY_BOT_PASSPHRASE=PASSPHRASE, LIQUIDITY_BOT_HOME=str(home),
               COLUMNS="100", TERM="xterm")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "liquidity_bot.cli", "run", "--config", str(config),
        "--canary-source", "127.0.0.2", "--dashboard-port", "0",
        stdin=slave, stdout=slave, stderr=slave, env=env)
    os.close(slave)
    drained = bytearray()

    def drain() -> None:
        try:
            drained.extend(os.read(master, 65536))
        except OSError:
            pass

    asyncio.get_running_loop().add_reader(master, drain)
    try:
        async with rest(sim_quiet, key, secret) as client:
            await wait_for_async(lambda: _quoting(client, "lbh"), "the bot quotes both sides",
                                 timeout=30)

            async def drawn() -> bool:
                return b"XRPUSDT" in drained

            await wait_for_async(drawn, "the live view drawn on the terminal", timeout=30)
            asyncio.get_running_loop().remove_reader(master)
            os.close(master)  # the terminal is gone: the bot's writes now fail
            master = -1
            proc.send_signal(signal.SIGHUP)
            code = await asyncio.wait_for(proc.wait(), 90)
            assert code == 0
            assert [o for o in await client.open_orders("XRPUSDT")
                    if (o.clientOrderId or "").startswith("lbh")] == []
    finally:
        if master >= 0:
            asyncio.get_running_loop().remove_reader(master)
            os.close(master)
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_orphans_of_a_key_refused_at_start_are_cancelled(sim_quiet, home, tmp_path):
    """Found by the chaos soak: a bot killed with -9 leaves orders; the next start's gate
    refuses that key (here: no canary address, so ip_restricted is unknown). Its orphans used
    to rest unmanaged while `run` carried on (and exited 0). Now they are cancelled (the key is
    used for nothing else) and reported."""
    import os
    import sys

    from .conftest import PASSPHRASE

    _, key, secret = await new_key(sim_quiet)
    _store_key(home, "good", key, secret)
    config = tmp_path / "bot.toml"
    config.write_text(keyed_config(sim_quiet.base_url, keyed_market("XRPUSDT", "good", "lbr")))
    proc = await _bot(home, config)
    async with rest(sim_quiet, key, secret) as client:
        await wait_for_async(lambda: _quoting(client, "lbr"), "the bot quotes both sides",
                             timeout=30)
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
        orphans = [o.clientOrderId for o in await client.open_orders("XRPUSDT")
                   if (o.clientOrderId or "").startswith("lbr")]
        assert orphans
        env = dict(os.environ, LIQUIDITY_BOT_PASSPHRASE=PASSPHRASE, LIQUIDITY_BOT_HOME=str(home))
        again = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "liquidity_bot.cli", "run", "--config", str(config),
            "--dashboard-port", "0", "--duration", "1",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env)
        out, err = await asyncio.wait_for(again.communicate(), 120)
        assert again.returncode != 0
        text = out.decode() + err.decode()
        assert "key 'good' refused" in text and "ip_restricted" in text
        for cid in orphans:
            assert f"cancelled key 'good' XRPUSDT {cid}" in text.replace("\n", " ")
        assert [o for o in await client.open_orders("XRPUSDT")
                if (o.clientOrderId or "").startswith("lbr")] == []


async def test_a_stop_signal_while_starting_still_cancels_the_orphans(sim_quiet, home, tmp_path):
    """Found by the soak: SIGTERM during start-up (the keys gate takes seconds) killed the
    process outright (exit -15), leaving an earlier run's orphans open. Now it is kept: the
    engine starts only to adopt and cancel them, and exits cleanly."""
    _, key, secret = await new_key(sim_quiet)
    _store_key(home, "good", key, secret)
    config = tmp_path / "bot.toml"
    config.write_text(keyed_config(sim_quiet.base_url, keyed_market("XRPUSDT", "good", "lbw")))
    proc = await _bot(home, config)
    async with rest(sim_quiet, key, secret) as client:
        await wait_for_async(lambda: _quoting(client, "lbw"), "the bot quotes both sides",
                             timeout=30)
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
        assert [o for o in await client.open_orders("XRPUSDT")
                if (o.clientOrderId or "").startswith("lbw")]
        again = await _bot(home, config)
        assert again.stderr is not None
        seen: list[bytes] = []
        while True:  # the keys gate is verifying (its first request is a clock sync)
            line = await asyncio.wait_for(again.stderr.readline(), 60)
            assert line, b"".join(seen).decode()[-2000:]
            seen.append(line)
            if b"clock synced" in line:
                break
        again.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(again.communicate(), 120)
        assert again.returncode == 0, (again.returncode, err.decode()[-2000:])
        assert [o for o in await client.open_orders("XRPUSDT")
                if (o.clientOrderId or "").startswith("lbw")] == []
    text = out.decode()
    summary = json.loads(text[text.index("{"):])
    assert summary["stopped_by"] == "SIGTERM" and summary["markets"]["XRPUSDT"]["orders_placed"] == 0
