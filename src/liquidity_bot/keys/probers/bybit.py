"""Bybit's key report: ``GET /v5/user/query-api`` ("Get API Key Information"; any permission may
call it).

Documented answer (https://bybit-exchange.github.io/docs/v5/user/apikey-info), inside
``result``: ``readOnly`` (0 read and write, 1 read only), ``ips`` (the bound IPs; ``["*"]`` when
none), ``permissions`` by group: ``Spot: ["SpotTrade"]``, ``ContractTrade: ["Order",
"Position"]``, ``Options: ["OptionsTrade"]``, ``Derivatives: ["DerivativesTrade"]`` (given by
default to unified accounts, not a key setting), ``Wallet: ["AccountTransfer",
"SubMemberTransfer", "SubMemberTransferList", "Withdraw"]``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from liquidity_bot.keys.probers.reported import PermissionReport, Reading
from liquidity_bot.keys.probers.transport import IpRefusal
from liquidity_bot.keys.verify import FAIL, PASS, UNKNOWN

ENDPOINT = "GET /v5/user/query-api"
_TRANSFERS = ("AccountTransfer", "SubMemberTransfer", "SubMemberTransferList")


def read_bybit(answer: Mapping[str, Any]) -> Reading:
    """Judge every check a Bybit key report answers (the whole response or its ``result``)."""
    info = answer.get("result", answer)
    perms = info.get("permissions")
    out: Reading = {"can_read": (PASS, "every Bybit key may read (the report was answered)")}
    read_only = info.get("readOnly")
    if not isinstance(perms, Mapping):
        return out
    spot = list(perms.get("Spot") or [])
    if read_only in (1, "1"):
        out["can_trade"] = (FAIL, "readOnly=1: the key is read-only.")
    elif "SpotTrade" in spot:
        out["can_trade"] = (PASS, "Spot has SpotTrade")
    elif read_only in (0, "0"):
        out["can_trade"] = (FAIL, "Spot lacks SpotTrade: the key may not trade spot.")
    wallet = list(perms.get("Wallet") or [])
    out["withdraw_disabled"] = (
        (FAIL, "Wallet has Withdraw: the key may withdraw.")
        if "Withdraw" in wallet
        else (PASS, "Wallet has no Withdraw")
    )
    moving = [p for p in wallet if p in _TRANSFERS]
    out["transfer_disabled"] = (
        (FAIL, f"Wallet has {', '.join(moving)}: the key may transfer funds.")
        if moving
        else (PASS, "Wallet has no transfer permission")
    )
    derivatives = {g: list(perms.get(g) or []) for g in ("ContractTrade", "Options")}
    on = [f"{g} {', '.join(v)}" for g, v in derivatives.items() if v]
    out["futures_disabled"] = (
        (FAIL, f"{'; '.join(on)}: the key may trade derivatives.")
        if on
        else (PASS, "ContractTrade and Options are empty")
    )
    ips = info.get("ips")
    if isinstance(ips, list):
        bound = [ip for ip in ips if ip and ip != "*"]
        out["ip_restricted"] = (
            (PASS, f"bound to {len(bound)} IP address(es)")
            if bound
            else (FAIL, "no IP is bound: the key answers any address.")
        )
    else:
        out["ip_restricted"] = (UNKNOWN, "the answer holds no ips list")
    return out


SPEC = PermissionReport(
    exchange="bybit",
    ccxt_id="bybit",
    call="privateGetV5UserQueryApi",
    endpoint=ENDPOINT,
    reader=read_bybit,
    ip=IpRefusal(codes=frozenset({"10010"})),  # "Unmatched IP, please check your API key's bound IP addresses"
)
