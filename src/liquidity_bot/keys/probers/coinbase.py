"""Coinbase's key report: ``GET /api/v3/brokerage/key_permissions`` (Advanced Trade, "Get API
Key Permissions").

Documented answer
(https://docs.cdp.coinbase.com/api-reference/advanced-trade-api/rest-api/data-api/get-api-key-permissions):
``can_view``, ``can_trade``, ``can_transfer`` (booleans), ``portfolio_uuid``, ``portfolio_type``
(``DEFAULT``, ``CONSUMER``, ``INTX`` ...). ``Transfer`` is what sends funds off the account, so it
decides both withdraw_disabled and transfer_disabled. The report holds no IP allow list (the
canary decides ip_restricted) and does not say whether the key reaches US derivatives, so
futures_disabled is unknown unless the portfolio is an INTX (perpetuals) one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from liquidity_bot.keys.probers.reported import PermissionReport, Reading, flag
from liquidity_bot.keys.verify import FAIL, PASS, UNKNOWN

ENDPOINT = "GET /api/v3/brokerage/key_permissions"


def read_coinbase(answer: Mapping[str, Any]) -> Reading:
    """Judge every check a Coinbase key report answers."""
    out: Reading = {}
    view, trade, transfer = (flag(answer, f) for f in ("can_view", "can_trade", "can_transfer"))
    if view is not None:
        out["can_read"] = (PASS, "can_view=true") if view else (FAIL, "can_view=false.")
    if trade is not None:
        out["can_trade"] = (PASS, "can_trade=true") if trade else (FAIL, "can_trade=false.")
    if transfer is not None:
        verdict = (FAIL, "can_transfer=true: the key may send funds off the account.") if transfer else (PASS, "can_transfer=false")
        out["withdraw_disabled"] = verdict
        out["transfer_disabled"] = verdict
    portfolio = str(answer.get("portfolio_type", ""))
    if portfolio == "INTX":
        out["futures_disabled"] = (FAIL, "portfolio_type=INTX: the key trades perpetual futures.")
    else:
        out["futures_disabled"] = (
            UNKNOWN,
            f"portfolio_type={portfolio or '?'}: Coinbase does not report whether the key reaches "
            "futures; check the portfolio, then accept_unknown = [\"futures_disabled\"]",
        )
    return out


SPEC = PermissionReport(
    exchange="coinbase",
    ccxt_id="coinbase",
    call="v3PrivateGetBrokerageKeyPermissions",
    endpoint=ENDPOINT,
    reader=read_coinbase,
)
