"""KuCoin's key report: ``GET /api/v1/user/api-key`` ("Get API Key Info").

Documented answer (https://www.kucoin.com/docs-new/rest/account-info/account-funding/get-apikey-info),
``data``: ``permission`` (comma separated: ``General``, ``Spot``, ``Margin``, ``Futures``,
``InnerTransfer``, ``Transfer``, ``Earn`` ...), ``ipWhitelist`` (comma separated, masked;
absent or empty when none), ``apiVersion``, ``isMaster``. KuCoin's ``Transfer`` permission
moves funds off the account, withdrawals included
(https://www.kucoin.com/support/900006465403: "Transfer - Allows a key to transfer funds
(including deposit and withdrawal)").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from liquidity_bot.keys.probers.reported import PermissionReport, Reading
from liquidity_bot.keys.probers.transport import IpRefusal
from liquidity_bot.keys.verify import FAIL, PASS

ENDPOINT = "GET /api/v1/user/api-key"


def read_kucoin(answer: Mapping[str, Any]) -> Reading:
    """Judge every check a KuCoin key report answers (the response or its ``data``)."""
    info = answer.get("data", answer)
    out: Reading = {}
    permission = info.get("permission")
    if isinstance(permission, str):
        perms = {p.strip() for p in permission.split(",") if p.strip()}
        out["can_read"] = (
            (PASS, f"permission={permission}") if "General" in perms else (FAIL, f"permission={permission} lacks General.")
        )
        out["can_trade"] = (
            (PASS, f"permission={permission}") if "Spot" in perms else (FAIL, f"permission={permission} lacks Spot.")
        )
        out["withdraw_disabled"] = (
            (FAIL, f"permission={permission}: Transfer lets the key withdraw.")
            if "Transfer" in perms or "Withdraw" in perms
            else (PASS, f"permission={permission}")
        )
        moving = sorted(perms & {"Transfer", "InnerTransfer"})
        out["transfer_disabled"] = (
            (FAIL, f"permission has {', '.join(moving)}: the key may transfer funds.")
            if moving
            else (PASS, f"permission={permission}")
        )
        out["futures_disabled"] = (
            (FAIL, f"permission={permission}: the key may trade futures.")
            if "Futures" in perms
            else (PASS, f"permission={permission}")
        )
    whitelist = info.get("ipWhitelist")
    if whitelist is None or isinstance(whitelist, str):
        bound = [a for a in (whitelist or "").split(",") if a.strip()]
        out["ip_restricted"] = (
            (PASS, f"ipWhitelist holds {len(bound)} address(es)")
            if bound
            else (FAIL, "no ipWhitelist: the key answers any address.")
        )
    return out


SPEC = PermissionReport(
    exchange="kucoin",
    ccxt_id="kucoin",
    call="privateGetUserApiKey",
    endpoint=ENDPOINT,
    reader=read_kucoin,
    ip=IpRefusal(codes=frozenset({"400006"})),  # "Invalid request ip"
)
