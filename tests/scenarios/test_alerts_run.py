"""``liquidity-bot run`` with an alert channel: a key refused at start and the bot stopping reach
a webhook receiver on loopback, with the market, key label and what to do; the channel's secret
address appears nowhere in the bot's output."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from liquidity_bot.alerts.receiver import AlertReceiver
from liquidity_bot.keys.home import KeysHome
from liquidity_bot.keys.hygiene import add_key

from .conftest import FAST_KDF, PASSPHRASE, admin, keyed_config, keyed_market, new_key

CANARY = "RunCanaryHook-0f1e2d3c4b5a"


async def test_run_sends_alerts_to_its_channel(sim_quiet, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    _, key, secret = await new_key(sim_quiet)
    acct2 = (await admin(sim_quiet, "POST", "/sim/admin/accounts",
                         {"balances": {"USDT": "10000", "NOVA": "100000"}}))["account_id"]
    bad = await admin(sim_quiet, "POST", "/sim/admin/keys", {
        "account_id": acct2, "label": "bad", "permissions": ["read", "trade", "withdraw"],
        "ip_allowlist": ["127.0.0.1"],
    })
    for label, k, s in (("good", key, secret), ("withdrawer", bad["api_key"], bad["secret"])):
        add_key(KeysHome(home), passphrase=PASSPHRASE, exchange="bitrue", label=label,
                api_key=k, secret=s, kdf=FAST_KDF)
    config = tmp_path / "bot.toml"
    config.write_text(
        keyed_config(sim_quiet.base_url, keyed_market("XRPUSDT", "good", "lbx"),
                     keyed_market("NOVAUSDT", "withdrawer", "lbn"))
        + '[[alerts.channels]]\nname = "ops"\ntype = "webhook"\nurl_env = "LB_TEST_ALERTS"\n')
    async with AlertReceiver() as rx:
        env = dict(os.environ, LIQUIDITY_BOT_PASSPHRASE=PASSPHRASE, LIQUIDITY_BOT_HOME=str(home),
                   LB_TEST_ALERTS=f"{rx.url}/hooks/{CANARY}")
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "liquidity_bot.cli", "--log-level", "DEBUG", "run",
            "--config", str(config), "--canary-source", "127.0.0.2", "--dashboard-port", "0",
            "--duration", "2", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env=env)
        out, err = await asyncio.wait_for(proc.communicate(), 90)
    assert proc.returncode == 0, err.decode()[-2000:]
    alerts = [a for r in rx.received for a in r.body["alerts"]]
    by_kind = {a["kind"]: a for a in alerts}
    refused = by_kind["key_refused"]
    assert refused["key_label"] == "withdrawer" and refused["severity"] == "critical"
    assert "withdraw_disabled" in refused["detail"] and "keys verify" in refused["action"]
    stopping = by_kind["bot_stopping"]
    assert "--duration 2 s ended" in stopping["summary"] and "XRPUSDT" in stopping["summary"]
    assert all(r.path == f"/hooks/{CANARY}" for r in rx.received)
    assert "alerts: ops (webhook" in out.decode()
    assert CANARY not in out.decode() + err.decode()
    assert secret not in out.decode() + err.decode()
