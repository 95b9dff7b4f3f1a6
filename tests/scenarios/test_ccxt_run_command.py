"""``liquidity-bot run`` with a market on ``connector = "ccxt"``, on the simulator's Bitrue API
(ccxt's ``bitrue`` client) and on its Binance dialect (ccxt's ``binance`` client), through the
keys gate as any run (each key verified by its exchange's prober): it quotes both sides, Ctrl-C
(SIGINT) cancels everything, and after ``kill -9`` a new run adopts what was left."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path

import pytest

from bitrue_sim.server.runner import SimServer
from liquidity_bot.config import parse_config
from liquidity_bot.keys.home import KeysHome
from liquidity_bot.keys.hygiene import add_key

from .conftest import (
    FAST_KDF,
    PASSPHRASE,
    admin,
    keyed_config,
    keyed_market,
    new_key,
    wait_for_async,
)
from .test_run_command import _bot

pytest.importorskip("ccxt.pro")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    h = tmp_path / "home"
    h.mkdir(mode=0o700)
    return h


def ccxt_market(symbol: str, label: str, prefix: str, exchange: str = "bitrue") -> str:
    block = keyed_market(symbol, label, prefix)
    return block.replace(f'key_label = "{label}"\n',
                         f'key_label = "{label}"\nexchange = "{exchange}"\nconnector = "ccxt"\n')


@pytest.fixture(params=["bitrue", "binance"])
async def venue_sim(request):
    """The simulator speaking ``request.param``'s API; ``exchange_id`` says which."""
    async with SimServer(port=0, seed=1, dialect=request.param) as server:
        server.exchange_id = request.param
        yield server


def config_for(sim, label: str, prefix: str) -> str:
    """Bitrue: ccxt's bitrue client at [bitrue]'s base URL. Binance: ccxt's binance client and
    the Binance key prober at [exchanges.binance]'s base URL, with [bitrue] pointing nowhere
    useful on purpose (nothing of that run may use Bitrue's endpoints)."""
    market = ccxt_market("XRPUSDT", label, prefix, sim.exchange_id)
    if sim.exchange_id == "bitrue":
        return keyed_config(sim.base_url, market)
    return (keyed_config("http://127.0.0.1:9", market)
            + f'[exchanges.{sim.exchange_id}]\nbase_url = "{sim.base_url}"\n')


def store_key(home: Path, sim, label: str, api_key: str, secret: str) -> None:
    add_key(KeysHome(home), passphrase=PASSPHRASE, exchange=sim.exchange_id, label=label,
            api_key=api_key, secret=secret, markets=("XRPUSDT",), kdf=FAST_KDF)


def market_name(sim) -> str:
    return "XRPUSDT" if sim.exchange_id == "bitrue" else f"{sim.exchange_id}:XRPUSDT"


def _ours(sim, account: int, prefix: str) -> list:
    return [o for o in sim.exchange.open_orders(account, "XRPUSDT")
            if o.client_order_id.startswith(prefix)]


async def _quoting_bot(sim, home: Path, tmp_path: Path, prefix: str, *args: str):
    """A stored key for a new account, its config, and ``run`` started; returns the account,
    the config's path and the process once both sides are quoted."""
    account, key, secret = await new_key(sim)
    store_key(home, sim, "good", key, secret)
    config = tmp_path / "bot.toml"
    config.write_text(config_for(sim, "good", prefix))
    parsed = parse_config(config.read_text()).markets[0]
    assert (parsed.exchange, parsed.connector) == (sim.exchange_id, "ccxt")
    proc = await _bot(home, config, *args)

    async def quoting() -> bool:
        return len({o.side for o in _ours(sim, account, prefix)}) == 2

    await wait_for_async(quoting, f"the bot quotes both sides on {sim.exchange_id}", timeout=40)
    return account, config, proc


async def test_run_through_ccxt_quotes_and_ctrl_c_cancels_everything(venue_sim, home, tmp_path):
    account, _, proc = await _quoting_bot(venue_sim, home, tmp_path, "lbc")
    proc.send_signal(signal.SIGINT)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()[-2000:]
    assert "passed the gate" in out.decode() + err.decode()
    assert _ours(venue_sim, account, "lbc") == []
    summary = json.loads(out.decode()[out.decode().index("{"):])
    market = summary["markets"][market_name(venue_sim)]
    assert market["exchange"] == venue_sim.exchange_id
    assert market["open_after_shutdown"] == 0
    assert market["orders_placed"] >= 2


async def test_run_through_ccxt_recovers_after_kill_minus_9(venue_sim, home, tmp_path):
    account, config, proc = await _quoting_bot(venue_sim, home, tmp_path, "lbr")
    proc.send_signal(signal.SIGKILL)
    await proc.wait()
    left = {o.client_order_id for o in _ours(venue_sim, account, "lbr")}
    assert left, "the kill left orders behind"
    again = await _bot(home, config, "--duration", "3")
    out, err = await asyncio.wait_for(again.communicate(), 90)
    assert again.returncode == 0, err.decode()[-2000:]
    assert _ours(venue_sim, account, "lbr") == []
    ledger = await admin(venue_sim, "GET", f"/sim/admin/ledger?account_id={account}")
    assert all(o["status"] in ("FILLED", "CANCELED") for o in ledger["orders"])
    cids = [o["clientOrderId"] for o in ledger["orders"]]
    assert len(cids) == len(set(cids)), "no client id reused"


@pytest.fixture
async def bsim():
    async with SimServer(port=0, seed=1, dialect="binance") as server:
        server.exchange_id = "binance"
        yield server


async def test_run_on_binance_refuses_a_key_that_may_withdraw(bsim, home, tmp_path):
    """The Binance prober reads ``apiRestrictions``: a key that may withdraw never trades."""
    acct = (await admin(bsim, "POST", "/sim/admin/accounts",
                        {"balances": {"USDT": "10000", "XRP": "20000"}}))["account_id"]
    bad = await admin(bsim, "POST", "/sim/admin/keys", {
        "account_id": acct, "label": "bad", "permissions": ["read", "trade", "withdraw"],
        "ip_allowlist": ["127.0.0.1"]})
    store_key(home, bsim, "bn", bad["api_key"], bad["secret"])
    config = tmp_path / "bot.toml"
    config.write_text(config_for(bsim, "bn", "lbw"))
    proc = await _bot(home, config, "--duration", "3")
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    text = out.decode() + err.decode()
    assert proc.returncode != 0
    assert "withdraw_disabled" in text, text[-2000:]
    assert bad["secret"] not in text
    assert _ours(bsim, acct, "lbw") == []


async def test_cancel_all_clears_a_ccxt_market_after_kill_minus_9(venue_sim, home, tmp_path):
    """``cancel-all`` (the service manager's post-stop step) reaches a ccxt market's key through
    its venue: what a killed run left is cancelled (the client's own orders are left alone by
    the same list-then-cancel loop as Bitrue's, tested in test_cancel_all)."""
    from .test_cancel_all import _cancel_all

    account, config, proc = await _quoting_bot(venue_sim, home, tmp_path, "lbk")
    proc.send_signal(signal.SIGKILL)
    await proc.wait()
    left = {o.client_order_id for o in _ours(venue_sim, account, "lbk")}
    assert left, "the kill left orders behind"
    code, out, err = await _cancel_all(home, config)
    assert code == 0, err[-2000:]
    assert _ours(venue_sim, account, "lbk") == []
    for cid in left:
        assert cid in out
    code, out, _ = await _cancel_all(home, config)
    assert code == 0 and "cancelled 0 orders" in out
