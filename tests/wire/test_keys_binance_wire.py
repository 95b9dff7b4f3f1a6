"""The Binance key prober against the simulator's Binance dialect over loopback: ccxt's own
``binance`` client signs ``GET /sapi/v1/account/apiRestrictions``, the reader judges the answer.

The guide's key passes; withdrawal, futures, transfer, no IP restriction, an allow list that
leaves this machine out, and a deleted key each fail the right check. (Runs once the simulator
has its Binance dialect, ``sim serve --exchange binance``.)
"""

from __future__ import annotations

from decimal import Decimal

import pytest

pytest.importorskip("ccxt.async_support")
pytest.importorskip("bitrue_sim.server.binance")

from bitrue_sim.server.runner import SimServer  # noqa: E402
from liquidity_bot.keys.gate import judge  # noqa: E402
from liquidity_bot.keys.policy import DEFAULT_POLICY  # noqa: E402
from liquidity_bot.keys.probers import prober_for  # noqa: E402
from liquidity_bot.keys.verify import probe_key  # noqa: E402

GUIDE = ("read", "trade")


@pytest.fixture
async def bsim():
    async with SimServer(dialect="binance") as server:
        yield server


def _key(sim: SimServer, permissions=GUIDE, allow=("127.0.0.1",)) -> tuple[str, str]:
    account = sim.exchange.create_account({"USDT": Decimal(1000), "XRP": Decimal(1000)})
    return sim.keys.create(account, permissions=permissions, ip_allowlist=allow)


async def _verify(sim: SimServer, key: str, secret: str):
    report = await probe_key(
        label="LB", exchange="binance", api_key=key, secret=secret, urls=None,
        policy=DEFAULT_POLICY, canary_source="127.0.0.2",
        prober=prober_for("binance", urls=sim.base_url),
    )
    assert secret not in str(report.to_json())
    return report, {c.name: c.status for c in report.checks}


async def test_the_guides_key_passes_from_api_restrictions(bsim) -> None:
    report, st = await _verify(bsim, *_key(bsim))
    assert report.verdict == "pass", report.to_json()
    assert list(st) == list(DEFAULT_POLICY.demanded_checks())
    assert report.check("transfer_disabled").how == "read from GET /sapi/v1/account/apiRestrictions"
    assert judge(report, DEFAULT_POLICY).allowed


@pytest.mark.parametrize(
    ("extra", "check"),
    [("withdraw", "withdraw_disabled"), ("futures", "futures_disabled"), ("transfer", "transfer_disabled")],
)
async def test_each_forbidden_permission_fails_its_check(bsim, extra: str, check: str) -> None:
    report, st = await _verify(bsim, *_key(bsim, permissions=(*GUIDE, extra)))
    assert st[check] == "fail" and report.verdict == "fail"
    assert [name for name, s in st.items() if s != "pass"] == [check]


async def test_no_ip_restriction_fails_ip_restricted(bsim) -> None:
    report, st = await _verify(bsim, *_key(bsim, allow=()))
    assert st["ip_restricted"] == "fail" and "ipRestrict=false" in report.check("ip_restricted").detail
    assert [name for name, s in st.items() if s != "pass"] == ["ip_restricted"]


async def test_an_allow_list_without_this_machine_is_refused(bsim) -> None:
    report, st = await _verify(bsim, *_key(bsim, allow=("10.1.2.3",)))
    # Binance (and its dialect) answers -2015 alike for a dead key and a wrong address
    assert st["authenticates"] == "fail" and report.verdict == "fail"
    fix = report.check("authenticates").detail.split(" Fix: ", 1)[1]
    assert "allow list" in fix and "Binance" in fix
    assert "pass" not in {st[c] for c in DEFAULT_POLICY.demanded_checks() if c != "clock_skew"}


async def test_a_deleted_key_fails_authenticates(bsim) -> None:
    key, secret = _key(bsim)
    bsim.keys.delete(key)
    report, st = await _verify(bsim, key, secret)
    assert st["authenticates"] == "fail" and report.verdict == "fail"
    assert st["can_trade"] == "unknown"  # nothing more was sent


async def test_a_key_allowed_only_its_own_address_passes_from_there(bsim) -> None:
    """A key whose allow list holds only the address the bot sends it from (``[exchanges.NAME]
    key_source_addresses``) fails from the default address and passes when the prober is given
    that ``KeyAddress``; the canary still goes from its own address."""
    from liquidity_bot.keys.probers.transport import KeyAddress

    key, secret = _key(bsim, allow=("127.0.0.3",))
    _, st = await _verify(bsim, key, secret)
    assert st["authenticates"] == "fail"
    report = await probe_key(
        label="LB", exchange="binance", api_key=key, secret=secret, urls=None,
        policy=DEFAULT_POLICY, canary_source="127.0.0.2",
        prober=prober_for("binance", urls=bsim.base_url,
                          client_factory=KeyAddress("127.0.0.3")),
    )
    assert report.verdict == "pass", report.to_json()
    assert report.check("ip_restricted").status == "pass"
