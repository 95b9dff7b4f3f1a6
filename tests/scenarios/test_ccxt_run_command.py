"""``liquidity-bot run`` with a market on ``connector = "ccxt"`` (ccxt's bitrue client against
the simulator, through the keys gate as any run): it quotes both sides, Ctrl-C (SIGINT)
cancels everything, and after ``kill -9`` a new run adopts what was left."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path

import pytest

from liquidity_bot.config import parse_config

from .conftest import admin, keyed_config, keyed_market, new_key, wait_for_async
from .test_run_command import _bot, _store_key

pytest.importorskip("ccxt.pro")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    h = tmp_path / "home"
    h.mkdir(mode=0o700)
    return h


def ccxt_market(symbol: str, label: str, prefix: str) -> str:
    block = keyed_market(symbol, label, prefix)
    return block.replace(f'key_label = "{label}"\n',
                         f'key_label = "{label}"\nexchange = "bitrue"\nconnector = "ccxt"\n')


def _ours(sim, account: int, prefix: str) -> list:
    return [o for o in sim.exchange.open_orders(account, "XRPUSDT")
            if o.client_order_id.startswith(prefix)]


async def test_run_through_ccxt_quotes_and_ctrl_c_cancels_everything(sim_quiet, home, tmp_path):
    account, key, secret = await new_key(sim_quiet)
    _store_key(home, "good", key, secret)
    config = tmp_path / "bot.toml"
    config.write_text(keyed_config(sim_quiet.base_url, ccxt_market("XRPUSDT", "good", "lbc")))
    assert parse_config(config.read_text()).markets[0].connector == "ccxt"
    proc = await _bot(home, config)

    async def quoting() -> bool:
        return len({o.side for o in _ours(sim_quiet, account, "lbc")}) == 2

    await wait_for_async(quoting, "the bot quotes both sides through ccxt", timeout=40)
    proc.send_signal(signal.SIGINT)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()[-2000:]
    assert _ours(sim_quiet, account, "lbc") == []
    summary = json.loads(out.decode()[out.decode().index("{"):])
    assert summary["markets"]["XRPUSDT"]["open_after_shutdown"] == 0
    assert summary["markets"]["XRPUSDT"]["orders_placed"] >= 2


async def test_run_through_ccxt_recovers_after_kill_minus_9(sim_quiet, home, tmp_path):
    account, key, secret = await new_key(sim_quiet)
    _store_key(home, "good", key, secret)
    config = tmp_path / "bot.toml"
    config.write_text(keyed_config(sim_quiet.base_url, ccxt_market("XRPUSDT", "good", "lbr")))
    proc = await _bot(home, config)

    async def quoting() -> bool:
        return len({o.side for o in _ours(sim_quiet, account, "lbr")}) == 2

    await wait_for_async(quoting, "the first run quotes", timeout=40)
    proc.send_signal(signal.SIGKILL)
    await proc.wait()
    left = {o.client_order_id for o in _ours(sim_quiet, account, "lbr")}
    assert left, "the kill left orders behind"
    again = await _bot(home, config, "--duration", "3")
    out, err = await asyncio.wait_for(again.communicate(), 90)
    assert again.returncode == 0, err.decode()[-2000:]
    assert _ours(sim_quiet, account, "lbr") == []
    ledger = await admin(sim_quiet, "GET", f"/sim/admin/ledger?account_id={account}")
    assert all(o["status"] in ("FILLED", "CANCELED") for o in ledger["orders"])
    cids = [o["clientOrderId"] for o in ledger["orders"]]
    assert len(cids) == len(set(cids)), "no client id reused"


# --- the Binance dialect through ccxt's ``binance`` client, its key verified by the Binance
# prober (``GET /sapi/v1/account/apiRestrictions``) at the base URL of [exchanges.binance] ------

@pytest.fixture
async def bsim():
    from bitrue_sim.server.runner import SimServer

    async with SimServer(port=0, seed=1, dialect="binance") as server:
        yield server


def binance_config(sim, label: str, prefix: str) -> str:
    block = keyed_market("XRPUSDT", label, prefix).replace(
        f'key_label = "{label}"\n',
        f'key_label = "{label}"\nexchange = "binance"\nconnector = "ccxt"\n')
    # [bitrue] points nowhere useful on purpose: nothing of this run may use Bitrue's endpoints
    return (keyed_config("http://127.0.0.1:9", block)
            + f'[exchanges.binance]\nbase_url = "{sim.base_url}"\n')


def _store_binance_key(home: Path, label: str, api_key: str, secret: str) -> None:
    from liquidity_bot.keys.home import KeysHome
    from liquidity_bot.keys.hygiene import add_key

    from .conftest import FAST_KDF, PASSPHRASE

    add_key(KeysHome(home), passphrase=PASSPHRASE, exchange="binance", label=label,
            api_key=api_key, secret=secret, markets=("XRPUSDT",), kdf=FAST_KDF)


async def test_run_on_binance_through_ccxt_quotes_and_ctrl_c_cancels_everything(
        bsim, home, tmp_path):
    account, key, secret = await new_key(bsim)
    _store_binance_key(home, "bn", key, secret)
    config = tmp_path / "bot.toml"
    config.write_text(binance_config(bsim, "bn", "lbn"))
    parsed = parse_config(config.read_text()).markets[0]
    assert (parsed.exchange, parsed.connector) == ("binance", "ccxt")
    proc = await _bot(home, config)

    async def quoting() -> bool:
        return len({o.side for o in _ours(bsim, account, "lbn")}) == 2

    await wait_for_async(quoting, "the bot quotes both sides on Binance", timeout=40)
    proc.send_signal(signal.SIGINT)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()[-2000:]
    assert "passed the gate" in out.decode() + err.decode()
    assert _ours(bsim, account, "lbn") == []
    summary = json.loads(out.decode()[out.decode().index("{"):])
    market = summary["markets"]["binance:XRPUSDT"]
    assert market["exchange"] == "binance"
    assert market["open_after_shutdown"] == 0 and market["orders_placed"] >= 2
    assert market["obligation_uptime"] is not None


async def test_run_on_binance_recovers_after_kill_minus_9(bsim, home, tmp_path):
    account, key, secret = await new_key(bsim)
    _store_binance_key(home, "bn", key, secret)
    config = tmp_path / "bot.toml"
    config.write_text(binance_config(bsim, "bn", "lbk"))
    proc = await _bot(home, config)

    async def quoting() -> bool:
        return len({o.side for o in _ours(bsim, account, "lbk")}) == 2

    await wait_for_async(quoting, "the first run quotes on Binance", timeout=40)
    proc.send_signal(signal.SIGKILL)
    await proc.wait()
    assert _ours(bsim, account, "lbk"), "the kill left orders behind"
    again = await _bot(home, config, "--duration", "3")
    out, err = await asyncio.wait_for(again.communicate(), 90)
    assert again.returncode == 0, err.decode()[-2000:]
    assert _ours(bsim, account, "lbk") == []
    ledger = await admin(bsim, "GET", f"/sim/admin/ledger?account_id={account}")
    assert all(o["status"] in ("FILLED", "CANCELED") for o in ledger["orders"])
    cids = [o["clientOrderId"] for o in ledger["orders"]]
    assert len(cids) == len(set(cids)), "no client id reused"


async def test_run_on_binance_refuses_a_key_that_may_withdraw(bsim, home, tmp_path):
    acct = (await admin(bsim, "POST", "/sim/admin/accounts",
                        {"balances": {"USDT": "10000", "XRP": "20000"}}))["account_id"]
    bad = await admin(bsim, "POST", "/sim/admin/keys", {
        "account_id": acct, "label": "bad", "permissions": ["read", "trade", "withdraw"],
        "ip_allowlist": ["127.0.0.1"]})
    _store_binance_key(home, "bn", bad["api_key"], bad["secret"])
    config = tmp_path / "bot.toml"
    config.write_text(binance_config(bsim, "bn", "lbw"))
    proc = await _bot(home, config, "--duration", "3")
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    text = out.decode() + err.decode()
    assert proc.returncode != 0
    assert "withdraw_disabled" in text, text[-2000:]
    assert bad["secret"] not in text
    assert _ours(bsim, acct, "lbw") == []
