"""OKX's key report: ``GET /api/v5/account/config`` ("Get account configuration").

Documented answer (https://www.okx.com/docs-v5/en/#trading-account-rest-api-get-account-configuration),
``data[0]``: ``perm`` (the key's permissions, comma separated: ``read_only``, ``trade``,
``withdraw``), ``ip`` (the IPs bound to the key, comma separated; ``""`` when none), ``acctLv``
(account mode: 1 Spot, 2 Futures, 3 Multi-currency margin, 4 Portfolio margin).

OKX has no futures box on the key: ``trade`` reaches every instrument the account mode allows,
so futures_disabled passes only in Spot mode. Moving funds between one's own OKX accounts is a
``trade`` right and leaves the account through ``withdraw`` only; the report names no separate
transfer permission, so transfer_disabled is unknown (check the key page, then accept it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from liquidity_bot.keys.probers.reported import PermissionReport, Reading
from liquidity_bot.keys.probers.transport import IpRefusal
from liquidity_bot.keys.verify import FAIL, PASS, UNKNOWN

ENDPOINT = "GET /api/v5/account/config"
_MODES = {"1": "Spot mode", "2": "Futures mode", "3": "Multi-currency margin", "4": "Portfolio margin"}


def read_okx(answer: Mapping[str, Any]) -> Reading:
    """Judge every check an OKX account configuration answers (the response or ``data[0]``)."""
    data = answer.get("data", answer)
    info = data[0] if isinstance(data, list) else data
    out: Reading = {}
    perm = info.get("perm")
    if isinstance(perm, str):
        perms = {p.strip() for p in perm.split(",") if p.strip()}
        out["can_read"] = (
            (PASS, f"perm={perm}") if "read_only" in perms or "trade" in perms else (FAIL, f"perm={perm}.")
        )
        out["can_trade"] = (
            (PASS, f"perm={perm}") if "trade" in perms else (FAIL, f"perm={perm}: the key may not trade.")
        )
        out["withdraw_disabled"] = (
            (FAIL, f"perm={perm}: the key may withdraw.") if "withdraw" in perms else (PASS, f"perm={perm}")
        )
    out["transfer_disabled"] = (
        UNKNOWN,
        "OKX reports no transfer permission of its own (perm names read_only, trade, withdraw): "
        "check the key page, then accept_unknown = [\"transfer_disabled\"] if it is off",
    )
    mode = str(info.get("acctLv", ""))
    if mode == "1":
        out["futures_disabled"] = (PASS, "acctLv=1 (Spot mode): the account cannot trade derivatives")
    elif mode in _MODES:
        out["futures_disabled"] = (
            FAIL,
            f"acctLv={mode} ({_MODES[mode]}): the key's trade permission reaches derivatives; switch "
            "the account (or use a sub-account) in Spot mode.",
        )
    ip = info.get("ip")
    if isinstance(ip, str):
        bound = [a for a in ip.replace(" ", ",").split(",") if a]
        out["ip_restricted"] = (
            (PASS, f"bound to {len(bound)} IP address(es)")
            if bound
            else (FAIL, 'ip="": no IP is bound to the key.')
        )
    return out


SPEC = PermissionReport(
    exchange="okx",
    ccxt_id="okx",
    call="privateGetAccountConfig",
    endpoint=ENDPOINT,
    reader=read_okx,
    ip=IpRefusal(codes=frozenset({"50110"})),  # "Your IP ... is not included in your API key's IP whitelist"
)
