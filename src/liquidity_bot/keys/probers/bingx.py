"""BingX's key report: ``GET /openApi/v1/account/apiPermissions`` ("Query API KEY
permissions").

Documented answer (https://bingx-api.github.io/docs/#/en-us/common/account-api.html), ``data``:
``permissions`` as codes (1 Spot Trading, 2 Read, 3 Perpetual Futures Trading, 4 Universal
Transfer, 5 Withdraw, 7 internal transfer of sub-accounts; 6 is read as a transfer too, as some
clients name it so), ``ipAddresses`` (the bound IPs), ``apiKey``, ``note``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from liquidity_bot.keys.probers.reported import PermissionReport, Reading
from liquidity_bot.keys.verify import FAIL, PASS

ENDPOINT = "GET /openApi/v1/account/apiPermissions"
SPOT, READ, FUTURES, TRANSFER, WITHDRAW = 1, 2, 3, 4, 5
SUB_TRANSFERS = frozenset({6, 7})


def read_bingx(answer: Mapping[str, Any]) -> Reading:
    """Judge every check a BingX key report answers (the response or its ``data``)."""
    info = answer.get("data", answer)
    out: Reading = {}
    raw = info.get("permissions")
    if isinstance(raw, list):
        codes = {int(c) for c in raw if str(c).lstrip("-").isdigit()}
        shown = ",".join(str(c) for c in sorted(codes))
        out["can_read"] = (PASS, f"permissions [{shown}] hold 2 (Read)") if READ in codes else (FAIL, f"permissions [{shown}] lack 2 (Read).")
        out["can_trade"] = (
            (PASS, f"permissions [{shown}] hold 1 (Spot Trading)")
            if SPOT in codes
            else (FAIL, f"permissions [{shown}] lack 1 (Spot Trading).")
        )
        out["withdraw_disabled"] = (
            (FAIL, "permissions hold 5 (Withdraw): the key may withdraw.") if WITHDRAW in codes else (PASS, f"permissions [{shown}]")
        )
        out["futures_disabled"] = (
            (FAIL, "permissions hold 3 (Perpetual Futures Trading).") if FUTURES in codes else (PASS, f"permissions [{shown}]")
        )
        moving = sorted(codes & ({TRANSFER} | SUB_TRANSFERS))
        out["transfer_disabled"] = (
            (FAIL, f"permissions hold {', '.join(map(str, moving))} (transfers): the key may transfer funds.")
            if moving
            else (PASS, f"permissions [{shown}]")
        )
    ips = info.get("ipAddresses")
    if isinstance(ips, list):
        bound = [a for a in ips if a]
        out["ip_restricted"] = (
            (PASS, f"bound to {len(bound)} IP address(es)") if bound else (FAIL, "ipAddresses is empty: the key answers any address.")
        )
    return out


SPEC = PermissionReport(
    exchange="bingx",
    ccxt_id="bingx",
    call="accountV1PrivateGetAccountApiPermissions",
    endpoint=ENDPOINT,
    reader=read_bingx,
)
