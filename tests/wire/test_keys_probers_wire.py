"""The transport-based probers over a real loopback connection: ccxt's client, signed requests,
the canary source bound to 127.0.0.2, and the exchange's refusals mapped onto checks.

The simulator speaks Bitrue, so the probing path of the exchanges without a permission report
(Gate, MEXC, XT, LBank) runs here through ccxt's ``bitrue`` client: the same
``ProbedKeyProber`` and ``CcxtTransport``, another ccxt id.
"""

from __future__ import annotations

import pytest

from liquidity_bot.keys.policy import DEFAULT_POLICY
from liquidity_bot.keys.probers.probed import ProbedKeyProber
from liquidity_bot.keys.probers.transport import IpRefusal
from liquidity_bot.keys.verify import probe_key

pytest.importorskip("ccxt.async_support")

CANARY = "127.0.0.2"


async def _probe(sim, key: str, secret: str, *, ip: IpRefusal | None = None, symbol=None):
    prober = ProbedKeyProber("bitrue", "bitrue", sim.base_url, ip=ip)
    report = await probe_key(
        label="L", exchange="bitrue", api_key=key, secret=secret, urls=None,
        policy=DEFAULT_POLICY, canary_source=CANARY, symbol=symbol, prober=prober,
    )
    assert secret not in str(report.to_json())
    return report, {c.name: c.status for c in report.checks}


async def test_guide_key_reads_trades_and_is_ip_restricted(sim, make_key) -> None:
    acct, key, secret = await make_key(sim, permissions=("read", "trade"), ip_allowlist=("127.0.0.1",))
    report, st = await _probe(sim, key, secret, symbol="XRPUSDT")
    assert st["authenticates"] == st["can_read"] == st["can_trade"] == "pass"
    assert st["ip_restricted"] == st["clock_skew"] == "pass"
    # what a probe cannot tell stays unknown: never a pass
    assert st["withdraw_disabled"] == st["futures_disabled"] == "unknown"
    assert report.verdict == "unknown"
    assert "XRP/USDT" in report.check("can_trade").detail
    # no side effects: the cancel probe placed nothing
    assert sim.exchange.open_orders(acct, None) == []


async def test_read_only_key_cannot_trade(sim, make_key) -> None:
    _, key, secret = await make_key(sim, permissions=("read",), ip_allowlist=("127.0.0.1",))
    report, st = await _probe(sim, key, secret)
    assert st["can_read"] == "pass" and st["can_trade"] == "fail" and report.verdict == "fail"


async def test_key_without_ip_restriction_fails_from_the_canary(sim, make_key) -> None:
    _, key, secret = await make_key(sim, permissions=("read", "trade"), ip_allowlist=())
    report, st = await _probe(sim, key, secret)
    assert st["ip_restricted"] == "fail" and "127.0.0.2" in report.check("ip_restricted").detail


async def test_key_that_excludes_this_address_fails_can_read(sim, make_key) -> None:
    _, key, secret = await make_key(sim, permissions=("read", "trade"), ip_allowlist=("10.1.2.3",))
    # Bitrue says "source IP is not allowed" with -1022; told as an IP refusal it names the fix
    report, st = await _probe(sim, key, secret, ip=IpRefusal(words=("source ip",)))
    assert st["can_read"] == "fail" and "allow list" in report.check("can_read").detail
    assert st["ip_restricted"] == "pass" and report.verdict == "fail"


async def test_wrong_secret_fails_authenticates(sim, make_key) -> None:
    _, key, secret = await make_key(sim)
    wrong = ("x" if secret[0] != "x" else "y") + secret[1:]
    report, st = await _probe(sim, key, wrong)
    assert st["authenticates"] == "fail" and report.verdict == "fail"
    assert st["can_trade"] == "unknown"  # halted: nothing more was sent
