"""Bitrue's key prober: Bitrue has no endpoint that reports a key's permissions or allow list, so
each is inferred from a probe whose answer tells it apart.

==================  =====================================  ===========================================
check               probe                                  reading
==================  =====================================  ===========================================
clock_skew          GET /api/v1/time (unsigned)            |server - local| <= policy.max_clock_skew_ms
authenticates       GET /api/v1/account (signed)           answered or permission refusal = pass;
                                                           key/signature refused = fail
can_read            GET /api/v1/account                    answered = pass; permission refusal = fail;
                                                           refused for this address = fail (IP message)
can_trade           DELETE /api/v1/order for a random      "order not found" (-2013) = pass (the key
                    client order id that cannot exist      may trade; nothing was ever placed);
                                                           permission refusal = fail
withdraw_disabled   GET /api/v1/withdraw/history           refused with 966001 = pass; answered = fail
                    (a read; withdraw/commit is never
                    called)
futures_disabled    GET /fapi/v2/account                   refused with -2015 = pass; answered = fail;
                                                           -1025 "futures not activated" = unknown
                                                           (see below)
transfer_disabled   (none)                                 not applicable: Bitrue keys cannot transfer
ip_restricted       GET /api/v1/account from               refused for that address = pass;
                    --canary-source (an address of this    answered = fail; no canary = unknown
                    machine NOT on the allow list)
==================  =====================================  ===========================================

-1025 ("user has not activated futures") says the *account* has no futures product; it says nothing
about the key's Futures box, which becomes live the day someone activates futures. So it is
``unknown``: the operator checks the key page by hand and may accept it in the policy
(``accept_unknown = ["futures_disabled"]``).

Any other or ambiguous answer (5xx, timeout, rate limit, an unexpected success) is ``unknown``,
never ``pass``. After a rate limit or ban the remaining probes are skipped (``unknown``) so that
verification never makes a limit worse. About eight requests are sent in all.
"""

from __future__ import annotations

import secrets as _secrets
from typing import Any

from liquidity_bot.keys.probers.steps import (
    canary_answered,
    judge_cancel,
    no_canary,
    refused_signed_read,
)
from liquidity_bot.keys.probers.transport import (
    AUTH,
    IP,
    NOT_FOUND,
    OTHER,
    PERMISSION,
    TIMESTAMP,
)
from liquidity_bot.keys.verify import FAIL, PASS, UNKNOWN, Check, ClientFactory, ProbeRun

_HOW_TIME = "probe: GET /api/v1/time"
_HOW_ACCOUNT = "probe: signed GET /api/v1/account"
_HOW_CANCEL = "probe: cancel of an order id that cannot exist"
_HOW_WITHDRAW = "probe: GET /api/v1/withdraw/history (a read)"
_HOW_FUTURES = "probe: GET /fapi/v2/account"
_HOW_CANARY = "probe: the account read sent from the canary source"


def default_client_factory(urls: Any, api_key: str | None, secret: str | None, **kw: Any) -> Any:
    from liquidity_bot.venues.bitrue.rest import BitrueRestClient

    return BitrueRestClient(urls, api_key, secret, **kw)


def _errors() -> Any:
    from liquidity_bot.venues.bitrue import errors

    return errors


class BitrueKeyProber:
    """Probes a Bitrue key in the order of the table above (``keys.verify.KeyProber``)."""

    exchange = "bitrue"

    def __init__(self, urls: Any = None, client_factory: ClientFactory | None = None):
        if urls is None:
            from liquidity_bot.venues.bitrue.urls import BitrueUrls

            urls = BitrueUrls()
        self.urls = urls
        self.factory = client_factory or default_client_factory
        self.E = _errors()

    def _halting(self, run: ProbeRun) -> Any:
        E = self.E

        def halting(exc: BaseException) -> bool:
            """Rate limits, bans and an unreachable exchange stop the run (no more requests)."""
            if isinstance(exc, E.RateLimited | E.IpBanned):
                run.halt_limited(exc)
                return True
            if isinstance(exc, E.ExchangeUnavailable) or not isinstance(exc, E.BitrueError):
                run.halt_unusable(exc)
                return True
            return False

        return halting

    async def probe(self, run: ProbeRun) -> None:
        async with self.factory(self.urls, run.api_key, run.secret) as client:
            await self._clock(run, client)
            if run.halted is None:
                await self._account(run, client)
            if run.halted is None and not run.has("can_trade"):
                await self._trade(run, client)
            if run.halted is None and not run.has("withdraw_disabled"):
                await self._withdraw(run, client)
            if run.halted is None and not run.has("futures_disabled"):
                await self._futures(run, client)
        if run.halted is None and not run.has("ip_restricted"):
            await self._canary(run)

    async def _clock(self, run: ProbeRun, client: Any) -> None:
        ok, res = await run.call("clock_skew", client.sync_clock, self._halting(run), _HOW_TIME)
        if not ok:
            if not run.has("clock_skew"):
                run.set(
                    "clock_skew",
                    UNKNOWN,
                    f"could not read the server time ({run.describe(res)})",
                    how=_HOW_TIME,
                )
            return
        offset = int(client.clock_offset_ms)
        limit = run.policy.max_clock_skew_ms
        if abs(offset) <= limit:
            run.set(
                "clock_skew",
                PASS,
                f"this clock is {offset:+d} ms from the exchange's (limit {limit} ms)",
                how=_HOW_TIME,
            )
        else:
            run.set(
                "clock_skew",
                FAIL,
                f"this machine's clock is {offset:+d} ms off the exchange's (limit {limit} ms).",
                how=_HOW_TIME,
            )

    def _kind(self, exc: BaseException) -> str:
        """Bitrue's exception classes as the probers' refusal kinds."""
        E = self.E
        for cls, kind in (
            (E.IpNotAllowed, IP),
            (E.InvalidTimestamp, TIMESTAMP),
            (E.AuthenticationError, AUTH),
            (E.PermissionDenied, PERMISSION),
            (E.OrderNotFound, NOT_FOUND),
        ):
            if isinstance(exc, cls):
                return kind
        return OTHER

    async def _account(self, run: ProbeRun, client: Any) -> None:
        how = _HOW_ACCOUNT
        ok, res = await run.call("authenticates", client.account, self._halting(run), how)
        if ok:
            run.set("authenticates", PASS, "the exchange accepted the key and its signature", how=how)
            run.set("can_read", PASS, "a signed account read was answered", how=how)
        elif not run.halted:
            refused_signed_read(run, self._kind(res), res, how, what="account read")

    async def _pick_symbol(self, run: ProbeRun, client: Any) -> str | None:
        if run.symbol:
            return run.symbol
        how = "probe: GET /api/v1/exchangeInfo"
        ok, res = await run.call("can_trade", client.exchange_info, self._halting(run), how)
        if not ok:
            if not run.has("can_trade"):
                run.set("can_trade", UNKNOWN, f"could not list symbols ({run.describe(res)})", how=how)
            return None
        for s in getattr(res, "symbols", []):
            if getattr(s, "status", "TRADING") == "TRADING":
                return str(s.symbol)
        run.set("can_trade", UNKNOWN, "the exchange lists no trading symbol to probe with", how=how)
        return None

    async def _trade(self, run: ProbeRun, client: Any) -> None:
        how = _HOW_CANCEL
        symbol = await self._pick_symbol(run, client)
        if symbol is None:
            return
        probe_id = "lbprobe" + _secrets.token_hex(12)

        async def cancel() -> Any:
            return await client.cancel_order(symbol, client_order_id=probe_id)

        ok, res = await run.call("can_trade", cancel, self._halting(run), how)
        if run.halted:
            return
        judge_cancel(run, ok, None if ok else self._kind(res), res, symbol, how)

    async def _withdraw(self, run: ProbeRun, client: Any) -> None:
        E = self.E
        how = _HOW_WITHDRAW

        async def history() -> Any:
            # Bitrue requires a coin; USDT exists on every account.
            return await client.withdraw_history(coin="USDT")

        ok, res = await run.call("withdraw_disabled", history, self._halting(run), how)
        if run.halted:
            return
        if ok:
            run.set(
                "withdraw_disabled",
                FAIL,
                "the withdraw history was readable: the key has the withdrawal permission.",
                how=how,
            )
        elif isinstance(res, E.PermissionDenied) and res.code == 966001:
            run.set(
                "withdraw_disabled",
                PASS,
                "withdraw-history read refused with 966001 (no privileges)",
                how=how,
            )
        elif isinstance(res, E.PermissionDenied) and res.code == 966000:
            run.set(
                "withdraw_disabled",
                UNKNOWN,
                "the withdraw-history read was refused with 966000 (Ip limit): Bitrue refuses "
                "withdraw endpoints for a key without an IP restriction (or from an address not on "
                "it) before looking at the Withdrawal permission, so it cannot be told; restrict the "
                "key to trusted IPs and verify again",
                how=how,
            )
        else:
            run.set(
                "withdraw_disabled",
                UNKNOWN,
                f"the withdraw-history read was refused in a way that does not tell ({run.describe(res)})",
                how=how,
            )

    async def _futures(self, run: ProbeRun, client: Any) -> None:
        E = self.E
        how = _HOW_FUTURES
        ok, res = await run.call(
            "futures_disabled", client.futures_account, self._halting(run), how
        )
        if run.halted:
            return
        authenticated = run.results.get("authenticates", Check("", UNKNOWN, "")).status == PASS
        if ok:
            run.set(
                "futures_disabled",
                FAIL,
                "the futures account was readable: the key has the futures permission.",
                how=how,
            )
        elif isinstance(res, E.PermissionDenied) and res.code == -2015 and authenticated:
            run.set(
                "futures_disabled",
                PASS,
                "futures account read refused with -2015 (no futures permission)",
                how=how,
            )
        elif isinstance(res, E.PermissionDenied) and res.code == -1025:
            run.set(
                "futures_disabled",
                UNKNOWN,
                "the account has not activated futures (-1025), so the key's Futures box cannot be "
                "probed; make sure 'Futures' is unticked on the key page, then accept this check with "
                'accept_unknown = ["futures_disabled"] in policy.toml if you want to trade',
                how=how,
            )
        else:
            run.set(
                "futures_disabled",
                UNKNOWN,
                f"ambiguous answer to the futures account read ({run.describe(res)})",
                how=how,
            )

    async def _canary(self, run: ProbeRun) -> None:
        E = self.E
        how = _HOW_CANARY
        if no_canary(run, how):
            return
        source = str(run.canary_source)
        try:
            client_cm = self.factory(self.urls, run.api_key, run.secret, source_address=source)
        except Exception as exc:  # noqa: BLE001
            run.set(
                "ip_restricted", UNKNOWN, f"cannot send from {source} ({run.describe(exc)})", how=how
            )
            return
        async with client_cm as canary:
            try:
                await canary.sync_clock()
                await canary.account()
            except E.IpNotAllowed:
                run.set(
                    "ip_restricted",
                    PASS,
                    f"the same read from {source} was refused: the key is IP-restricted",
                    how=how,
                )
                return
            except E.RateLimited as exc:
                run.set(
                    "ip_restricted",
                    UNKNOWN,
                    f"rate-limited from {source} ({run.describe(exc)})",
                    how=how,
                )
                return
            except Exception as exc:  # noqa: BLE001
                run.set(
                    "ip_restricted",
                    UNKNOWN,
                    f"the read from {source} failed without an IP refusal ({run.describe(exc)}); "
                    f"is {source} an address of this machine?",
                    how=how,
                )
                return
        canary_answered(run, source, how)
