"""The probers' judging, over a scripted transport (the answers an exchange gives), and the
generic verify: ordering, halting, not applicable, how each check was judged. The network side
itself is tested over loopback (tests/wire/test_keys_probers_wire.py)."""

from __future__ import annotations

import ccxt
import pytest

from liquidity_bot.keys.exchanges import EXCHANGES, guide_of
from liquidity_bot.keys.gate import judge
from liquidity_bot.keys.policy import DEFAULT_POLICY, Policy
from liquidity_bot.keys.probers import PROBERS, prober_for
from liquidity_bot.keys.probers.binance import SPEC as BINANCE
from liquidity_bot.keys.probers.coinbase import SPEC as COINBASE
from liquidity_bot.keys.probers.probed import ProbedKeyProber
from liquidity_bot.keys.probers.reported import ReportedPermissionsProber
from liquidity_bot.keys.probers.transport import (
    AUTH,
    IP,
    LIMITED,
    NOT_FOUND,
    PERMISSION,
    TIMESTAMP,
    UNAVAILABLE,
    IpRefusal,
    Refusal,
    point_at,
    refusal_from_ccxt,
)
from liquidity_bot.keys.verify import Credentials, probe_key, report_from_json

KEY = "K" * 64
SECRET = "CanarySecretXyZ" + "s" * 49
GUIDE_KEY = {
    "ipRestrict": True,
    "enableReading": True,
    "enableSpotAndMarginTrading": True,
    "enableWithdrawals": False,
    "enableInternalTransfer": False,
    "permitsUniversalTransfer": False,
    "enableFutures": False,
    "enableVanillaOptions": False,
    "enableMargin": False,
}


class Scripted:
    """Answers by ccxt call name; ``<name>@canary`` answers requests from the canary source."""

    def __init__(self, answers: dict, source: str | None, log: list):
        self.answers = answers
        self.source = source
        self.log = log

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        return None

    async def call(self, name, *args, **kwargs):
        self.log.append((name, self.source))
        key = f"{name}@canary" if self.source else name
        got = self.answers.get(key, self.answers.get(name))
        if isinstance(got, BaseException):
            raise got
        return got


def scripted(answers: dict, log: list | None = None):
    log = log if log is not None else []

    def make(exchange_id, credentials, base_url, source_address=None):
        assert isinstance(credentials, Credentials) and credentials.secret == SECRET
        return Scripted(answers, source_address, log)

    return make


def now_ms() -> int:
    import time

    return int(time.time() * 1000)


async def _binance(answers: dict, *, canary: str | None = "127.0.0.2", log=None, policy=DEFAULT_POLICY):
    answers = {"fetch_time": now_ms(), **answers}
    prober = ReportedPermissionsProber(BINANCE, transport_factory=scripted(answers, log))
    return await probe_key(
        label="L", exchange="binance", api_key=KEY, secret=SECRET, urls=None, policy=policy,
        canary_source=canary, prober=prober,
    )


def st(report) -> dict[str, str]:
    return {c.name: c.status for c in report.checks}


async def test_binance_guide_key_passes_from_its_report_alone() -> None:
    log: list = []
    r = await _binance({"sapiGetAccountApiRestrictions": GUIDE_KEY}, log=log)
    assert r.verdict == "pass", r.to_json()
    assert [c.name for c in r.checks] == list(DEFAULT_POLICY.demanded_checks())
    assert r.check("withdraw_disabled").how == "read from GET /sapi/v1/account/apiRestrictions"
    assert r.check("clock_skew").how.startswith("probe:")
    # ipRestrict answered it: no canary request, two requests in all
    assert log == [("fetch_time", None), ("sapiGetAccountApiRestrictions", None)]


@pytest.mark.parametrize(
    ("box", "check"),
    [
        ("enableWithdrawals", "withdraw_disabled"),
        ("enableFutures", "futures_disabled"),
        ("enableInternalTransfer", "transfer_disabled"),
        ("permitsUniversalTransfer", "transfer_disabled"),
    ],
)
async def test_binance_each_forbidden_box_fails_its_check(box: str, check: str) -> None:
    r = await _binance({"sapiGetAccountApiRestrictions": dict(GUIDE_KEY, **{box: True})})
    assert r.verdict == "fail" and r.check(check).status == "fail"
    assert [c.name for c in r.checks if c.status != "pass"] == [check]
    fix = r.check(check).detail.split(" Fix: ", 1)[1]
    assert "Binance" in fix  # the fix names Binance's key page and box, not Bitrue's
    assert any(s in fix for s in guide_of("binance").disable[check])


async def test_binance_no_ip_restriction_fails() -> None:
    r = await _binance({"sapiGetAccountApiRestrictions": dict(GUIDE_KEY, ipRestrict=False)})
    assert st(r)["ip_restricted"] == "fail" and r.verdict == "fail"


async def test_binance_wrong_ip_fails_can_read_with_the_ip_fix() -> None:
    refused = refusal_from_ccxt(
        ccxt.AuthenticationError(
            'binance {"code":-2015,"msg":"Invalid API-key, IP, or permissions for action, request ip: 10.9.8.7"}'
        ),
        BINANCE.ip,
    )
    assert refused.kind == IP
    log: list = []
    r = await _binance({"sapiGetAccountApiRestrictions": refused}, log=log)
    got = st(r)
    assert got["can_read"] == "fail" and "allow list" in r.check("can_read").detail
    assert got["ip_restricted"] == "pass" and got["authenticates"] == "unknown"
    assert r.verdict == "fail"
    assert len(log) == 2  # halted: no canary


async def test_binance_deleted_key_fails_authenticates_and_halts() -> None:
    refused = refusal_from_ccxt(
        ccxt.AuthenticationError('binance {"code":-2008,"msg":"Invalid Api-Key ID."}'), BINANCE.ip
    )
    assert refused.kind == AUTH and refused.code == "-2008"
    log: list = []
    r = await _binance({"sapiGetAccountApiRestrictions": refused}, log=log)
    got = st(r)
    assert got["authenticates"] == "fail" and r.verdict == "fail"
    assert {got[c] for c in DEFAULT_POLICY.demanded_checks() if c not in ("authenticates", "clock_skew")} == {"unknown"}
    assert "refused" in r.check("can_trade").detail
    # Binance answers a dead key and a wrong address alike: both causes and fixes are named
    fix = r.check("authenticates").detail.split(" Fix: ", 1)[1]
    assert "still exists" in fix and "allow list" in fix
    assert len(log) == 2


async def test_rate_limit_halts_and_nothing_is_a_pass() -> None:
    log: list = []
    r = await _binance({"sapiGetAccountApiRestrictions": Refusal(LIMITED, "429")}, log=log)
    assert r.verdict == "unknown" and "rate-limited" in r.check("can_trade").detail
    assert st(r)["authenticates"] == "unknown"
    assert len(log) == 2  # no canary after a limit


async def test_unreadable_report_is_unknown_never_pass() -> None:
    r = await _binance({"sapiGetAccountApiRestrictions": {"unexpected": 1}}, canary=None)
    assert st(r)["authenticates"] == "pass"
    assert {st(r)[c] for c in ("can_read", "can_trade", "withdraw_disabled", "ip_restricted")} == {
        "unknown"
    }
    assert r.verdict == "unknown"


async def test_clock_skew_is_judged_from_the_server_time() -> None:
    r = await _binance({"sapiGetAccountApiRestrictions": GUIDE_KEY, "fetch_time": now_ms() + 60_000})
    assert st(r)["clock_skew"] == "fail" and "NTP" in r.check("clock_skew").detail


async def test_coinbase_ip_restriction_comes_from_the_canary() -> None:
    answer = {"can_view": True, "can_trade": True, "can_transfer": False, "portfolio_type": "DEFAULT"}

    async def run(canary_answer):
        prober = ReportedPermissionsProber(
            COINBASE,
            transport_factory=scripted(
                {
                    "fetch_time": now_ms(),
                    "v3PrivateGetBrokerageKeyPermissions": answer,
                    "v3PrivateGetBrokerageKeyPermissions@canary": canary_answer,
                }
            ),
        )
        return await probe_key(
            label="L", exchange="coinbase", api_key="organizations/ab12/apiKeys/cd34", secret=SECRET,
            urls=None, policy=Policy(accept_unknown=("futures_disabled",)), canary_source="127.0.0.2",
            prober=prober,
        )

    refused = await run(Refusal(AUTH, "401 Unauthorized"))
    assert st(refused)["ip_restricted"] == "pass"
    assert "canary" in refused.check("ip_restricted").how
    assert judge(refused, Policy(accept_unknown=("futures_disabled",))).allowed
    answered = await run(answer)
    assert st(answered)["ip_restricted"] == "fail"


async def test_probed_exchange_reads_cancels_and_leaves_the_rest_unknown() -> None:
    markets = {"XRP/USDT": {"id": "XRP_USDT", "spot": True, "active": True}}
    log: list = []
    prober = ProbedKeyProber(
        "gate",
        "gate",
        transport_factory=scripted(
            {
                "fetch_time": now_ms(),
                "fetch_balance": {"USDT": {"free": 1}},
                "fetch_balance@canary": Refusal(IP, "ip not allowed"),
                "load_markets": markets,
                "cancel_order": Refusal(NOT_FOUND, "ORDER_NOT_FOUND"),
            },
            log,
        ),
    )
    r = await probe_key(
        label="L", exchange="gate", api_key=KEY, secret=SECRET, urls=None, policy=DEFAULT_POLICY,
        canary_source="127.0.0.2", symbol="XRPUSDT", prober=prober,
    )
    got = st(r)
    assert got["authenticates"] == got["can_read"] == got["can_trade"] == got["ip_restricted"] == "pass"
    assert got["withdraw_disabled"] == got["futures_disabled"] == got["transfer_disabled"] == "unknown"
    assert r.verdict == "unknown"
    assert r.check("withdraw_disabled").how == "not probed"
    cancel = next(entry for entry in log if entry[0] == "cancel_order")
    assert cancel == ("cancel_order", None)
    # accepting what cannot be probed, after checking the key page, lets it trade
    lenient = Policy(accept_unknown=("withdraw_disabled", "futures_disabled", "transfer_disabled"))
    assert judge(r, lenient).allowed


async def test_probed_cancel_refused_for_permission_fails_can_trade() -> None:
    prober = ProbedKeyProber(
        "mexc",
        "mexc",
        transport_factory=scripted(
            {
                "fetch_time": now_ms(),
                "fetch_balance": {},
                "load_markets": {"XRP/USDT": {"id": "XRPUSDT", "spot": True}},
                "cancel_order": Refusal(AUTH, "no trade permission"),
            }
        ),
    )
    r = await probe_key(
        label="L", exchange="mexc", api_key=KEY, secret=SECRET, urls=None, policy=DEFAULT_POLICY,
        prober=prober,
    )
    assert st(r)["can_trade"] == "fail" and st(r)["ip_restricted"] == "unknown"  # no canary


async def test_not_applicable_checks_are_listed_apart_and_judged_from_the_record() -> None:
    prober = ProbedKeyProber(
        "xt",
        "xt",
        transport_factory=scripted(
            {
                "fetch_time": now_ms(),
                "fetch_balance": {},
                "load_markets": {"XRP/USDT": {"id": "xrp_usdt", "spot": True}},
                "cancel_order": Refusal(NOT_FOUND, "not found"),
                "fetch_balance@canary": Refusal(IP, "ip"),
            }
        ),
    )
    r = await probe_key(
        label="L", exchange="xt", api_key=KEY, secret=SECRET, urls=None, policy=DEFAULT_POLICY,
        canary_source="127.0.0.2", prober=prober,
    )
    assert "transfer_disabled" not in st(r)
    assert [c.name for c in r.not_applicable] == ["transfer_disabled"]
    policy = Policy(accept_unknown=("withdraw_disabled", "futures_disabled"))
    assert judge(r, policy).allowed
    # a stored report judged again: applicability comes from XT's record, not from the report
    again = report_from_json(r.to_json())
    assert judge(again, policy).allowed
    # the same checks stored for Binance (where transfers exist) are not enough
    forged = report_from_json({**r.to_json(), "exchange": "binance"})
    assert not judge(forged, policy).allowed


async def test_exchanges_without_a_client_are_unknown_everywhere() -> None:
    for exchange in ("bitmart", "coinstore", "biconomy"):
        r = await probe_key(
            label="L", exchange=exchange, api_key=KEY, secret=SECRET, urls=None,
            policy=DEFAULT_POLICY, extras={"memo": "m"} if exchange == "bitmart" else None,
        )
        assert r.verdict == "unknown" and set(st(r).values()) == {"unknown"}
        assert all("no client" in c.how for c in r.checks)


def test_every_exchange_of_the_guide_has_a_prober() -> None:
    assert set(PROBERS) == set(EXCHANGES) and len(EXCHANGES) == 14
    for exchange in EXCHANGES:
        assert prober_for(exchange).exchange == exchange
    with pytest.raises(ValueError, match="probers exist for"):
        prober_for("kraken")


def test_ccxt_errors_map_onto_refusal_kinds() -> None:
    assert refusal_from_ccxt(ccxt.OrderNotFound("x")).kind == NOT_FOUND
    assert refusal_from_ccxt(ccxt.PermissionDenied("x")).kind == PERMISSION
    assert refusal_from_ccxt(ccxt.AuthenticationError("x")).kind == AUTH
    assert refusal_from_ccxt(ccxt.InvalidNonce("x")).kind == TIMESTAMP
    assert refusal_from_ccxt(ccxt.RateLimitExceeded("x")).kind == LIMITED
    assert refusal_from_ccxt(ccxt.DDoSProtection("x")).kind == LIMITED
    assert refusal_from_ccxt(ccxt.RequestTimeout("x")).kind == UNAVAILABLE
    okx_ip = IpRefusal(codes=frozenset({"50110"}))
    e = ccxt.AuthenticationError('okx {"code":"50110","msg":"Your IP 1.2.3.4 is not included"}')
    assert refusal_from_ccxt(e, okx_ip).kind == IP
    # Binance's -2015 without a request IP is not an IP refusal
    e = ccxt.AuthenticationError('binance {"code":-2015,"msg":"Invalid API-key, IP, or permissions for action."}')
    assert refusal_from_ccxt(e, BINANCE.ip).kind == AUTH


def test_point_at_keeps_paths_and_replaces_hosts() -> None:
    urls = {"sapi": "https://api.binance.com/sapi/v1", "nested": {"public": "https://x.com/api/v3"}}
    assert point_at(urls, "http://127.0.0.1:8080") == {
        "sapi": "http://127.0.0.1:8080/sapi/v1",
        "nested": {"public": "http://127.0.0.1:8080/api/v3"},
    }


async def test_credentials_and_extras_never_reach_a_detail() -> None:
    passphrase = "OkxPassphraseCanary42"
    echoed = Refusal(OTHER_KIND := "other", f"gateway echoed headers {KEY} {SECRET} {passphrase}")
    assert OTHER_KIND == "other"
    prober = ReportedPermissionsProber(
        BINANCE, transport_factory=scripted({"fetch_time": now_ms(), "sapiGetAccountApiRestrictions": echoed})
    )
    r = await probe_key(
        label="L", exchange="binance", api_key=KEY, secret=SECRET, urls=None, policy=DEFAULT_POLICY,
        extras={"passphrase": passphrase}, prober=prober,
    )
    text = str(r.to_json())
    assert SECRET not in text and passphrase not in text and KEY not in text
    assert "***" in text
    assert SECRET not in repr(Credentials(KEY, SECRET, {"passphrase": passphrase}))


async def test_okx_transfer_unknown_accepted_for_okx_only() -> None:
    from liquidity_bot.keys.policy import policy_from_mapping
    from liquidity_bot.keys.probers.okx import SPEC as OKX

    answer = {"code": "0", "data": [{"perm": "read_only,trade", "ip": "203.0.113.10", "acctLv": "1"}]}
    prober = ReportedPermissionsProber(
        OKX, transport_factory=scripted({"fetch_time": now_ms(), "privateGetAccountConfig": answer})
    )
    r = await probe_key(
        label="L", exchange="okx", api_key="8f1c2d3e-4a5b-6c7d-8e9f-0a1b2c3d4e5f", secret=SECRET,
        urls=None, policy=DEFAULT_POLICY, extras={"passphrase": "pp-canary-1"}, prober=prober,
    )
    assert [c.name for c in r.checks if c.status != "pass"] == ["transfer_disabled"]
    assert not judge(r, DEFAULT_POLICY).allowed
    policy = policy_from_mapping(
        {"keys": {"exchanges": {"okx": {"accept_unknown": ["transfer_disabled"]}}}}
    )
    verdict = judge(r, policy)
    assert verdict.allowed and verdict.accepted_unknown == ("transfer_disabled",)
    assert not judge(report_from_json({**r.to_json(), "exchange": "kucoin"}), policy).allowed


async def test_a_transport_that_cannot_open_reports_why_and_unknowns() -> None:
    def broken(exchange_id, credentials, base_url, source_address=None):
        raise Refusal(UNAVAILABLE, "ccxt is not installed: pip install 'liquidity-bot[exchanges]'")

    r = await probe_key(
        label="L", exchange="binance", api_key=KEY, secret=SECRET, urls=None, policy=DEFAULT_POLICY,
        prober=ReportedPermissionsProber(BINANCE, transport_factory=broken),
    )
    assert r.verdict == "unknown" and set(st(r).values()) == {"unknown"}
    assert "ccxt is not installed" in r.check("authenticates").detail
