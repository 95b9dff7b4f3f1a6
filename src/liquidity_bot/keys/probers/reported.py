"""The prober for exchanges that tell a key its own permissions (Binance, Bybit, OKX, KuCoin,
BingX, Coinbase): one signed read of that report, judged by the exchange's pure permission
reader; only what the report leaves out is probed (the clock always, the IP restriction from the
canary source when the report does not hold the allow list).

=================  =========================================================================
step               what it decides
=================  =========================================================================
server time        clock_skew
the key's report   authenticates (answered = pass; refused: see ``steps.refused_signed_read``),
                   and every check the reader can judge from the answer
canary             ip_restricted, when the reader could not judge it
=================  =========================================================================
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from liquidity_bot.keys.probers.steps import (
    TransportFactory,
    check_canary,
    check_clock,
    halting,
    opened,
    refused_signed_read,
)
from liquidity_bot.keys.probers.transport import IpRefusal, transports
from liquidity_bot.keys.verify import PASS, UNKNOWN, ProbeRun

# check name -> (status, detail): what a reader concludes from an answer
Reading = dict[str, tuple[str, str]]
Reader = Callable[[Any], Reading]


@dataclass(frozen=True)
class PermissionReport:
    """Where an exchange reports a key's permissions, and how to read the answer."""

    exchange: str
    ccxt_id: str
    call: str  # ccxt's name for the endpoint
    endpoint: str  # as the exchange documents it, for reports
    reader: Reader
    ip: IpRefusal = IpRefusal()  # how the exchange says "address not allowed"
    # the exchange refuses a dead key and a wrong address with the same answer (Binance -2015)
    auth_may_be_ip: bool = False


class ReportedPermissionsProber:
    """``keys.verify.KeyProber`` for an exchange with a permission report."""

    def __init__(
        self,
        spec: PermissionReport,
        base_url: str | None = None,
        transport_factory: TransportFactory | None = None,
    ):
        self.spec = spec
        self.exchange = spec.exchange
        self.base_url = base_url
        self.make = transports(transport_factory, spec.ip)

    async def probe(self, run: ProbeRun) -> None:
        spec = self.spec
        how = f"read from {spec.endpoint}"
        async with opened(run, self.make, spec.ccxt_id, self.base_url) as t:
            if t is None:
                return
            await check_clock(run, t)
            if run.halted is None:
                ok, res = await run.call("authenticates", lambda: t.call(spec.call), halting(run), how)
                if ok:
                    self._judge(run, res, how)
                elif not run.halted:
                    refused_signed_read(
                        run,
                        res.kind,
                        res,
                        how,
                        what="read of the key's permissions",
                        auth_may_be_ip=spec.auth_may_be_ip,
                    )
        if run.halted is None and not run.has("ip_restricted"):
            await check_canary(run, self.make, spec.ccxt_id, self.base_url, (spec.call, ()))

    def _judge(self, run: ProbeRun, answer: Any, how: str) -> None:
        run.set("authenticates", PASS, "the exchange answered a signed read of the key's permissions", how=how)
        try:
            reading = self.spec.reader(answer)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            reading = {}
            note = f"the answer could not be read ({type(exc).__name__}: {exc})"
        else:
            note = "the answer does not say"
        for name, (status, detail) in reading.items():
            run.set(name, status, detail, how=how)
        for name in ("can_read", "can_trade", "withdraw_disabled", "futures_disabled", "transfer_disabled"):
            if not run.has(name):
                run.set(name, UNKNOWN, f"{self.spec.endpoint}: {note}", how=how)


def flag(answer: Mapping[str, Any], field: str) -> bool | None:
    """A boolean field of an answer; None when absent or not a boolean (never a guess)."""
    value = answer.get(field)
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    return None
