"""The prober for exchanges that do not tell a key its permissions but have a ccxt client
(Gate, MEXC, XT, LBank): probe as the Bitrue prober does, through the transport.

==================  =========================================  ==================================
check               probe                                      reading
==================  =========================================  ==================================
clock_skew          the server time (unsigned)                 |server - local| <= the limit
authenticates,      a signed balance read                      answered = pass; key refused =
can_read                                                       fail; permission refusal = can_read
                                                               fail
can_trade           a cancel of a random order id that         "order not found" = pass (nothing is
                    cannot exist                               ever placed); permission refusal =
                                                               fail
withdraw_disabled,  (no probe without side effects tells)      unknown: check the key page, then
futures_disabled,                                              accept it in the policy
transfer_disabled
ip_restricted       the balance read from the canary source    refused = pass; answered = fail
==================  =========================================  ==================================
"""

from __future__ import annotations

import secrets as _secrets
from typing import Any

from liquidity_bot.keys.exchanges import guide_of
from liquidity_bot.keys.probers.steps import (
    TransportFactory,
    check_canary,
    check_clock,
    halting,
    judge_cancel,
    opened,
    refused_signed_read,
)
from liquidity_bot.keys.probers.transport import (
    IpRefusal,
    transports,
)
from liquidity_bot.keys.verify import PASS, UNKNOWN, ProbeRun

_HOW_READ = "probe: signed balance read"
_HOW_CANCEL = "probe: cancel of an order id that cannot exist"


class ProbedKeyProber:
    """``keys.verify.KeyProber`` for a ccxt exchange without a permission report."""

    def __init__(
        self,
        exchange: str,
        ccxt_id: str,
        base_url: str | None = None,
        transport_factory: TransportFactory | None = None,
        ip: IpRefusal | None = None,
    ):
        self.exchange = exchange
        self.ccxt_id = ccxt_id
        self.base_url = base_url
        self.make = transports(transport_factory, ip)

    async def probe(self, run: ProbeRun) -> None:
        async with opened(run, self.make, self.ccxt_id, self.base_url) as t:
            if t is None:
                return
            await check_clock(run, t)
            if run.halted is None:
                ok, res = await run.call(
                    "authenticates", lambda: t.call("fetch_balance"), halting(run), _HOW_READ
                )
                if ok:
                    run.set("authenticates", PASS, "the exchange accepted the key and its signature", how=_HOW_READ)
                    run.set("can_read", PASS, "a signed balance read was answered", how=_HOW_READ)
                elif not run.halted:
                    refused_signed_read(run, res.kind, res, _HOW_READ, what="balance read")
            if run.halted is None and not run.has("can_trade"):
                await self._trade(run, t)
        name = guide_of(self.exchange).name
        for check in ("withdraw_disabled", "futures_disabled", "transfer_disabled"):
            if not run.has(check):
                run.set(
                    check,
                    UNKNOWN,
                    f"{name} does not tell a key its permissions and no probe without side effects "
                    f"tells this one: check the key page, then accept_unknown = [\"{check}\"]",
                    how="not probed",
                )
        if run.halted is None and not run.has("ip_restricted"):
            await check_canary(run, self.make, self.ccxt_id, self.base_url, ("fetch_balance", ()))

    async def _symbol(self, run: ProbeRun, t: Any) -> str | None:
        how = "probe: the exchange's markets (unsigned)"
        ok, res = await run.call("can_trade", lambda: t.call("load_markets"), halting(run), how)
        if not ok:
            if not run.has("can_trade"):
                run.set("can_trade", UNKNOWN, f"could not list markets ({run.describe(res)})", how=how)
            return None
        markets = res if isinstance(res, dict) else {}
        if run.symbol:
            for unified, m in markets.items():
                if run.symbol in (unified, m.get("id"), str(m.get("id", "")).upper().replace("_", "").replace("-", "")):
                    return str(unified)
        for unified, m in markets.items():
            if m.get("spot") and m.get("active", True):
                return str(unified)
        run.set("can_trade", UNKNOWN, "the exchange lists no spot market to probe with", how=how)
        return None

    async def _trade(self, run: ProbeRun, t: Any) -> None:
        symbol = await self._symbol(run, t)
        if symbol is None:
            return
        probe_id = str(10**17 + _secrets.randbelow(9 * 10**17))  # digits: every exchange takes them
        ok, res = await run.call(
            "can_trade", lambda: t.call("cancel_order", probe_id, symbol), halting(run), _HOW_CANCEL
        )
        if run.halted:
            return
        judge_cancel(
            run, ok, None if ok else getattr(res, "kind", None), res, symbol, _HOW_CANCEL,
            auth_means_permission=True,
        )
