"""Each exchange's permission reader on that exchange's documented answer (the doc page is cited
above each example), then on the variants that must fail or stay unknown.

These exchanges cannot be reached from here: the readers are tested on documented answers only
(Binance is also run end to end against the simulator's Binance dialect once it exists)."""

from __future__ import annotations

import copy

from liquidity_bot.keys.probers.binance import read_binance
from liquidity_bot.keys.probers.bingx import read_bingx
from liquidity_bot.keys.probers.bybit import read_bybit
from liquidity_bot.keys.probers.coinbase import read_coinbase
from liquidity_bot.keys.probers.kucoin import read_kucoin
from liquidity_bot.keys.probers.okx import read_okx


def statuses(reading) -> dict[str, str]:
    return {name: status for name, (status, _) in reading.items()}


# https://developers.binance.com/docs/wallet/account/api-key-permission ("Response Example")
BINANCE_DOC = {
    "ipRestrict": False,
    "createTime": 1698645219000,
    "enableReading": True,
    "enableWithdrawals": False,
    "enableInternalTransfer": False,
    "enableMargin": False,
    "enableFutures": False,
    "permitsUniversalTransfer": False,
    "enableVanillaOptions": False,
    "enableFixApiTrade": False,
    "enableFixReadOnly": True,
    "enableSpotAndMarginTrading": False,
    "enablePortfolioMarginTrading": True,
}


def test_binance_documented_answer() -> None:
    # the documented key may read but not trade spot, and is not IP-restricted
    assert statuses(read_binance(BINANCE_DOC)) == {
        "can_read": "pass",
        "can_trade": "fail",
        "withdraw_disabled": "pass",
        "futures_disabled": "pass",
        "transfer_disabled": "pass",
        "ip_restricted": "fail",
    }


def test_binance_guide_key_and_each_forbidden_box() -> None:
    guide_key = dict(BINANCE_DOC, enableSpotAndMarginTrading=True, ipRestrict=True)
    assert set(statuses(read_binance(guide_key)).values()) == {"pass"}
    for box, check in (
        ("enableWithdrawals", "withdraw_disabled"),
        ("enableFutures", "futures_disabled"),
        ("enableVanillaOptions", "futures_disabled"),
        ("enableInternalTransfer", "transfer_disabled"),
        ("permitsUniversalTransfer", "transfer_disabled"),
    ):
        got = statuses(read_binance(dict(guide_key, **{box: True})))
        assert got[check] == "fail", box
        assert [c for c, s in got.items() if s != "pass"] == [check], box
    missing = dict(guide_key)
    del missing["enableWithdrawals"]
    assert statuses(read_binance(missing))["withdraw_disabled"] == "unknown"  # never a guess


# https://bybit-exchange.github.io/docs/v5/user/apikey-info: the documented fields, shaped as the
# page's response example (retCode/result envelope, ips ["*"] when no IP is bound)
BYBIT_DOC = {
    "retCode": 0,
    "retMsg": "",
    "result": {
        "id": "13770661",
        "note": "XXXXXX",
        "apiKey": "XXXXXX",
        "readOnly": 0,
        "secret": "",
        "permissions": {
            "ContractTrade": ["Order", "Position"],
            "Spot": ["SpotTrade"],
            "Wallet": ["AccountTransfer", "SubMemberTransfer"],
            "Options": ["OptionsTrade"],
            "Derivatives": [],
            "CopyTrading": [],
            "BlockTrade": [],
            "Exchange": [],
            "NFT": [],
            "Affiliate": [],
        },
        "ips": ["*"],
        "type": 1,
        "deadlineDay": 66,
        "expiredAt": "2023-12-22T07:20:25Z",
        "createdAt": "2022-10-16T02:24:40Z",
        "uta": 0,
        "userID": 24617703,
        "isMaster": True,
        "parentUid": "0",
    },
    "retExtInfo": {},
    "time": 1697525990798,
}


def test_bybit_documented_answer() -> None:
    assert statuses(read_bybit(BYBIT_DOC)) == {
        "can_read": "pass",
        "can_trade": "pass",
        "withdraw_disabled": "pass",
        "transfer_disabled": "fail",  # AccountTransfer, SubMemberTransfer
        "futures_disabled": "fail",  # ContractTrade Order, Position; OptionsTrade
        "ip_restricted": "fail",  # ips ["*"]
    }


def test_bybit_guide_key_read_only_and_withdraw() -> None:
    guide = copy.deepcopy(BYBIT_DOC)
    perms = guide["result"]["permissions"]
    perms.update(ContractTrade=[], Options=[], Wallet=[], Derivatives=["DerivativesTrade"])
    guide["result"]["ips"] = ["203.0.113.10"]
    assert set(statuses(read_bybit(guide)).values()) == {"pass"}  # Derivatives is not a key box
    ro = copy.deepcopy(guide)
    ro["result"]["readOnly"] = 1
    assert statuses(read_bybit(ro))["can_trade"] == "fail"
    wd = copy.deepcopy(guide)
    wd["result"]["permissions"]["Wallet"] = ["Withdraw"]
    assert statuses(read_bybit(wd))["withdraw_disabled"] == "fail"


# https://www.okx.com/docs-v5/en/#trading-account-rest-api-get-account-configuration
# ("Response Example", abridged to the fields read and a few others)
OKX_DOC = {
    "code": "0",
    "data": [
        {
            "acctLv": "2",
            "acctStpMode": "cancel_maker",
            "autoLoan": False,
            "ctIsoMode": "automatic",
            "greeksType": "PA",
            "ip": "",
            "type": "0",
            "kycLv": "3",
            "label": "v5 test",
            "level": "Lv1",
            "mainUid": "44705892343619584",
            "mgnIsoMode": "automatic",
            "opAuth": "1",
            "perm": "read_only,withdraw,trade",
            "posMode": "long_short_mode",
            "uid": "44705892343619584",
        }
    ],
    "msg": "",
}


def test_okx_documented_answer() -> None:
    assert statuses(read_okx(OKX_DOC)) == {
        "can_read": "pass",
        "can_trade": "pass",
        "withdraw_disabled": "fail",
        "transfer_disabled": "unknown",  # OKX reports no transfer permission of its own
        "futures_disabled": "fail",  # acctLv 2: trade reaches derivatives
        "ip_restricted": "fail",  # ip ""
    }


def test_okx_guide_key_in_spot_mode() -> None:
    guide = copy.deepcopy(OKX_DOC)
    guide["data"][0].update(perm="read_only,trade", ip="203.0.113.10,203.0.113.11", acctLv="1")
    got = statuses(read_okx(guide))
    assert got.pop("transfer_disabled") == "unknown"
    assert set(got.values()) == {"pass"}
    ro = copy.deepcopy(guide)
    ro["data"][0]["perm"] = "read_only"
    assert statuses(read_okx(ro))["can_trade"] == "fail"


# https://www.kucoin.com/docs-new/rest/account-info/account-funding/get-apikey-info
# ("Response" example: a master key with every permission, IPs masked as KuCoin shows them)
KUCOIN_DOC = {
    "code": "200000",
    "data": {
        "remark": "account1",
        "apiKey": "6705f5c311545b000157d3eb",
        "apiVersion": 3,
        "permission": "General,Futures,Spot,Earn,InnerTransfer,Transfer,Margin",
        "ipWhitelist": "203.**.154,103.**.34",
        "createdAt": 1728443843000,
        "uid": 165111215,
        "isMaster": True,
    },
}


def test_kucoin_documented_answer() -> None:
    assert statuses(read_kucoin(KUCOIN_DOC)) == {
        "can_read": "pass",
        "can_trade": "pass",
        "withdraw_disabled": "fail",  # Transfer includes withdrawals on KuCoin
        "transfer_disabled": "fail",
        "futures_disabled": "fail",
        "ip_restricted": "pass",
    }


def test_kucoin_guide_key_and_no_whitelist() -> None:
    guide = copy.deepcopy(KUCOIN_DOC)
    guide["data"]["permission"] = "General,Spot"
    assert set(statuses(read_kucoin(guide)).values()) == {"pass"}
    open_key = copy.deepcopy(guide)
    del open_key["data"]["ipWhitelist"]
    assert statuses(read_kucoin(open_key))["ip_restricted"] == "fail"


# https://bingx-api.github.io/docs/#/en-us/common/account-api.html ("Query API KEY
# permissions": permissions are codes, ipAddresses the bound IPs)
BINGX_DOC = {
    "code": 0,
    "msg": "",
    "debugMsg": "",
    "data": {"apiKey": "xxxx", "permissions": [1, 2, 3, 4], "ipAddresses": ["1.1.1.1"], "note": "test"},
}


def test_bingx_documented_answer() -> None:
    assert statuses(read_bingx(BINGX_DOC)) == {
        "can_read": "pass",
        "can_trade": "pass",
        "withdraw_disabled": "pass",
        "futures_disabled": "fail",  # 3
        "transfer_disabled": "fail",  # 4
        "ip_restricted": "pass",
    }


def test_bingx_guide_key_withdraw_and_no_ip() -> None:
    guide = copy.deepcopy(BINGX_DOC)
    guide["data"]["permissions"] = [1, 2]
    assert set(statuses(read_bingx(guide)).values()) == {"pass"}
    bad = copy.deepcopy(guide)
    bad["data"].update(permissions=[1, 2, 5, 7], ipAddresses=[])
    got = statuses(read_bingx(bad))
    assert got["withdraw_disabled"] == got["transfer_disabled"] == got["ip_restricted"] == "fail"


# https://docs.cdp.coinbase.com/api-reference/advanced-trade-api/rest-api/data-api/get-api-key-permissions
# (GetApiKeyPermissionsResponse: can_view, can_trade, can_transfer, portfolio_uuid, portfolio_type)
COINBASE_DOC = {
    "can_view": True,
    "can_trade": True,
    "can_transfer": True,
    "portfolio_uuid": "8b8c4a0e-7c1a-4b68-9b7a-2f1f3f0a1c2d",
    "portfolio_type": "DEFAULT",
}


def test_coinbase_documented_answer() -> None:
    assert statuses(read_coinbase(COINBASE_DOC)) == {
        "can_read": "pass",
        "can_trade": "pass",
        "withdraw_disabled": "fail",  # Transfer sends funds off the account
        "transfer_disabled": "fail",
        "futures_disabled": "unknown",  # not reported: never a pass
    }
    assert "ip_restricted" not in read_coinbase(COINBASE_DOC)  # the canary decides it


def test_coinbase_guide_key_and_intx() -> None:
    guide = dict(COINBASE_DOC, can_transfer=False)
    got = statuses(read_coinbase(guide))
    assert got.pop("futures_disabled") == "unknown"
    assert set(got.values()) == {"pass"}
    assert statuses(read_coinbase(dict(guide, portfolio_type="INTX")))["futures_disabled"] == "fail"
    assert statuses(read_coinbase(dict(guide, can_view=False)))["can_read"] == "fail"
