"""Binance's key report: ``GET /sapi/v1/account/apiRestrictions`` (USER_DATA, weight 1).

Documented answer (https://developers.binance.com/docs/wallet/account/api-key-permission):
``ipRestrict``, ``enableReading``, ``enableSpotAndMarginTrading``, ``enableWithdrawals``,
``enableInternalTransfer``, ``permitsUniversalTransfer``, ``enableFutures``,
``enableVanillaOptions``, ``enableMargin`` ... all booleans. Every check is judged from it; the
clock comes from the server time. Binance answers 401 -2015 "Invalid API-key, IP, or permissions
for action." for an unknown, deleted or disabled key and for an address outside the key's allow
list alike: ``authenticates`` then fails naming both causes and both fixes (when the message names
the request's IP, "... request ip: 1.2.3.4", it is told as an IP refusal: ``can_read`` fails with
the allow-list fix).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from liquidity_bot.keys.probers.reported import PermissionReport, Reading, flag
from liquidity_bot.keys.probers.transport import IpRefusal
from liquidity_bot.keys.verify import FAIL, PASS, UNKNOWN

ENDPOINT = "GET /sapi/v1/account/apiRestrictions"


def _judge_off(answer: Mapping[str, Any], fields: tuple[str, ...], what: str) -> tuple[str, str]:
    values = {f: flag(answer, f) for f in fields}
    on = [f for f, v in values.items() if v is True]
    if on:
        return FAIL, f"{', '.join(on)} is true: the key {what}."
    if any(v is None for v in values.values()):
        missing = [f for f, v in values.items() if v is None]
        return UNKNOWN, f"the answer does not hold {', '.join(missing)}"
    return PASS, f"{', '.join(f'{f}=false' for f in fields)}"


def read_binance(answer: Mapping[str, Any]) -> Reading:
    """Judge every check a Binance key report answers. Pure: the answer in, checks out."""
    out: Reading = {}
    reading = flag(answer, "enableReading")
    if reading is not None:
        out["can_read"] = (PASS, "enableReading=true") if reading else (FAIL, "enableReading=false.")
    trading = flag(answer, "enableSpotAndMarginTrading")
    if trading is not None:
        out["can_trade"] = (
            (PASS, "enableSpotAndMarginTrading=true")
            if trading
            else (FAIL, "enableSpotAndMarginTrading=false: the key may not trade spot.")
        )
    out["withdraw_disabled"] = _judge_off(answer, ("enableWithdrawals",), "may withdraw")
    out["futures_disabled"] = _judge_off(
        answer, ("enableFutures", "enableVanillaOptions"), "may trade derivatives"
    )
    out["transfer_disabled"] = _judge_off(
        answer, ("enableInternalTransfer", "permitsUniversalTransfer"), "may transfer funds"
    )
    restricted = flag(answer, "ipRestrict")
    if restricted is not None:
        out["ip_restricted"] = (
            (PASS, "ipRestrict=true: the key only answers its IP allow list")
            if restricted
            else (FAIL, "ipRestrict=false: the key answers any address.")
        )
    return out


SPEC = PermissionReport(
    exchange="binance",
    ccxt_id="binance",
    call="sapiGetAccountApiRestrictions",
    endpoint=ENDPOINT,
    reader=read_binance,
    ip=IpRefusal(words=("request ip",)),
    auth_may_be_ip=True,
)
