"""TLS end to end with a throw-away CA made in the test: ``sim serve --tls-cert --tls-key``
serves HTTPS and WSS on one port; ``run`` trusts the CA through ``ca_file`` and trades over TLS
(keys gate included); without it the certificate is refused at once with a clear error, and
``demo --tls`` runs over TLS."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import ssl
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from bitrue_sim.server.runner import SimServer, server_tls_context
from liquidity_bot.venues.bitrue.rest import BitrueRestClient
from liquidity_bot.venues.bitrue.urls import BitrueUrls
from liquidity_bot.venues.tls import TlsFiles, throwaway_ca

from .conftest import BALANCES, keyed_config, keyed_market, wait_for_async
from .test_run_command import _bot, _store_key


@pytest.fixture
def home(tmp_path: Path) -> Path:
    h = tmp_path / "home"
    h.mkdir(mode=0o700)
    return h


@pytest.fixture
def tls_files(tmp_path: Path) -> TlsFiles:
    return throwaway_ca(tmp_path / "tls")


@pytest.fixture
async def tls_sim(tls_files):
    async with SimServer(seed=1, tls=server_tls_context(tls_files.cert, tls_files.key)) as sim:
        yield sim


async def _admin(base_url: str, token: str, ca: Path, method: str, path: str,
                 body: object = None) -> dict:
    ctx = ssl.create_default_context(cafile=str(ca))
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ctx)) as http:
        async with http.request(method, base_url + path, json=body,
                                headers={"X-Sim-Admin": token}) as resp:
            assert resp.status == 200, await resp.text()
            return await resp.json()


async def _new_key(base_url: str, token: str, ca: Path) -> tuple[int, str, str]:
    acct = await _admin(base_url, token, ca, "POST", "/sim/admin/accounts",
                        {"balances": BALANCES})
    made = await _admin(base_url, token, ca, "POST", "/sim/admin/keys", {
        "account_id": acct["account_id"], "label": "tls", "permissions": ["read", "trade"],
        "ip_allowlist": ["127.0.0.1"]})
    return acct["account_id"], made["api_key"], made["secret"]


def _tls_config(base_url: str, ca: Path | None, prefix: str) -> str:
    text = keyed_config(base_url, keyed_market("XRPUSDT", "good", prefix))
    if ca is not None:
        text = text.replace("[bitrue]\n", f'[bitrue]\nca_file = "{ca}"\n', 1)
    return text


async def test_run_trades_over_tls_with_ca_file(tls_sim, tls_files, home, tmp_path):
    account, key, secret = await _new_key(tls_sim.base_url, tls_sim.admin_token,
                                          tls_files.ca_cert)
    _store_key(home, "good", key, secret)
    config = tmp_path / "bot.toml"
    config.write_text(_tls_config(tls_sim.base_url, tls_files.ca_cert, "lbt"))
    proc = await _bot(home, config)
    urls = BitrueUrls.single(tls_sim.base_url, ca_file=str(tls_files.ca_cert))
    async with BitrueRestClient(urls, key, secret) as client:

        async def quoting() -> bool:
            orders = [o for o in await client.open_orders("XRPUSDT")
                      if (o.clientOrderId or "").startswith("lbt")]
            return len({o.side for o in orders}) == 2

        await wait_for_async(quoting, "the bot quotes over TLS", timeout=40)
        proc.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(proc.communicate(), 90)
        assert proc.returncode == 0, err.decode()[-3000:]
        assert not [o for o in await client.open_orders("XRPUSDT")
                    if (o.clientOrderId or "").startswith("lbt")]
    text = out.decode()
    assert "passed the gate (verdict pass)" in text
    summary = json.loads(text[text.index("{"):])
    assert summary["markets"]["XRPUSDT"]["orders_placed"] >= 2
    ledger = await _admin(tls_sim.base_url, tls_sim.admin_token, tls_files.ca_cert, "GET",
                          f"/sim/admin/ledger?account_id={account}")
    assert ledger["orders"]


async def test_run_refuses_an_untrusted_certificate_at_once(tls_sim, tls_files, home,
                                                            tmp_path):
    _, key, secret = await _new_key(tls_sim.base_url, tls_sim.admin_token, tls_files.ca_cert)
    _store_key(home, "good", key, secret)
    config = tmp_path / "bot.toml"
    config.write_text(_tls_config(tls_sim.base_url, None, "lbu"))
    started = time.monotonic()
    proc = await _bot(home, config)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode != 0
    text = out.decode() + err.decode()
    assert "certificate" in text and "ca_file" in text, text[-3000:]
    assert time.monotonic() - started < 30, "refused at once, not retried"
    assert secret not in text


async def test_sim_serve_tls_and_demo_tls(tls_files, tmp_path):
    """The ``sim serve`` command with --tls-cert/--tls-key: HTTPS and WSS on the same port."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "liquidity_bot.cli", "sim", "serve", "--port", "0",
        "--tls-cert", str(tls_files.cert), "--tls-key", str(tls_files.key),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    try:
        assert proc.stdout is not None
        url = ""
        while not url:
            line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
            assert line, "sim serve ended early"
            if "https://" in line:
                url = line[line.index("https://"):].split()[0]
        ctx = ssl.create_default_context(cafile=str(tls_files.ca_cert))
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ctx)) as http:
            async with http.get(url + "/api/v1/ping") as resp:
                assert resp.status == 200
            async with http.ws_connect(url.replace("https://", "wss://") + "/market/ws") as ws:
                await ws.send_json({"event": "sub", "params": {
                    "cb_id": "xrpusdt", "channel": "market_xrpusdt_simple_depth_step0"}})
                msg = await asyncio.wait_for(ws.receive(), 10)
                assert msg.type in (aiohttp.WSMsgType.BINARY, aiohttp.WSMsgType.TEXT)
    finally:
        proc.send_signal(signal.SIGINT)
        await asyncio.wait_for(proc.wait(), 30)

    bad = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "liquidity_bot.cli", "sim", "serve", "--port", "0",
        "--tls-cert", str(tls_files.cert), stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    _, berr = await asyncio.wait_for(bad.communicate(), 30)
    assert bad.returncode != 0 and "--tls-key" in berr.decode()

    home = tmp_path / "demo-home"
    home.mkdir(mode=0o700)
    env = dict(os.environ, LIQUIDITY_BOT_PASSPHRASE="demo passphrase",
               LIQUIDITY_BOT_HOME=str(home))
    demo = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "liquidity_bot.cli", "demo", "--tls", "--duration", "3",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env)
    out, err = await asyncio.wait_for(demo.communicate(), 120)
    assert demo.returncode == 0, (out + err).decode()[-3000:]
    text = out.decode()
    assert "simulator: https://127.0.0.1:" in text and "-> PASS" in text
    assert "Client report" in text
