"""Verify a key against the policy by probing the exchange, without side effects.

Bitrue has no endpoint that reports a key's permissions or allow list, so each is inferred from a
probe whose answer tells it apart:

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

import ipaddress
import secrets as _secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from liquidity_bot.keys.guide import fix_for, fix_for_ip_excluded
from liquidity_bot.keys.policy import CHECK_NAMES, Policy

PASS, FAIL, UNKNOWN = "pass", "fail", "unknown"


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # pass | fail | unknown
    detail: str

    def to_json(self) -> dict[str, str]:
        return {"name": self.name, "status": self.status, "detail": self.detail}


@dataclass(frozen=True)
class VerificationReport:
    label: str
    exchange: str
    verdict: str
    checked_at: str
    checks: tuple[Check, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "exchange": self.exchange,
            "verdict": self.verdict,
            "checked_at": self.checked_at,
            "checks": [c.to_json() for c in self.checks],
        }

    def check(self, name: str) -> Check:
        for c in self.checks:
            if c.name == name:
                return c
        raise KeyError(name)

    def with_status(self, status: str) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if c.status == status)

    @property
    def exit_code(self) -> int:
        return {PASS: 0, FAIL: 1, UNKNOWN: 2}[self.verdict]


def verdict_of(checks: tuple[Check, ...]) -> str:
    """fail if any check fails, else unknown if any is unknown, else pass."""
    statuses = {c.status for c in checks}
    if FAIL in statuses:
        return FAIL
    if UNKNOWN in statuses or not checks:
        return UNKNOWN
    return PASS


def trade_disabled_from(can_trade: Check, fix: str) -> Check:
    """The audit profile's check, read from the same trade probe with its outcome flipped: a
    cancel that reached the order book proves the key may trade (fail); a permission refusal
    proves it may not (pass); anything else stays unknown. ``fix`` says what to untick."""
    why = can_trade.detail.split(" Fix: ", 1)[0]
    if can_trade.status == PASS:
        return Check(
            "trade_disabled",
            FAIL,
            f"{why}: this key may trade, and an audit key must only read. Fix: {fix}",
        )
    if can_trade.status == FAIL:
        return Check("trade_disabled", PASS, f"{why}: this key cannot trade")
    return Check("trade_disabled", can_trade.status, why)


ClientFactory = Callable[..., Any]


def default_client_factory(urls: Any, api_key: str | None, secret: str | None, **kw: Any) -> Any:
    from liquidity_bot.venues.bitrue.rest import BitrueRestClient

    return BitrueRestClient(urls, api_key, secret, **kw)


def _errors() -> Any:
    from liquidity_bot.venues.bitrue import errors

    return errors


class _Probe:
    """One verification run: sends the probes in order and turns answers into checks."""

    def __init__(
        self,
        *,
        api_key: str,
        secret: str,
        urls: Any,
        policy: Policy,
        canary_source: str | None,
        symbol: str | None,
        client_factory: ClientFactory,
    ):
        self.api_key = api_key
        self.secret = secret
        self.urls = urls
        self.policy = policy
        self.canary_source = canary_source
        self.symbol = symbol
        self.factory = client_factory
        self.results: dict[str, Check] = {}
        self.halted: str | None = None  # why the remaining probes were skipped
        self.E = _errors()

    # -- helpers ------------------------------------------------------------------------------
    def _clean(self, text: str) -> str:
        """Exchange text without our secret, nor the full API key: some gateways echo request
        headers in their errors, and these details go to the vault, the audit log and screens
        (the key's short hint is enough to tell which key it was)."""
        if self.secret:
            text = text.replace(self.secret, "***")
        if self.api_key:
            hint = f"{self.api_key[:4]}…{self.api_key[-4:]}" if len(self.api_key) > 12 else "…"
            text = text.replace(self.api_key, hint)
        return text

    def _set(self, name: str, status: str, detail: str, fix: str | None = None) -> None:
        if status == FAIL:
            detail = f"{detail} Fix: {fix or fix_for(name, self.policy)}"
        self.results[name] = Check(name, status, self._clean(detail))

    def _describe(self, exc: BaseException) -> str:
        code = getattr(exc, "code", None)
        kind = type(exc).__name__
        return self._clean(f"{kind}" + (f" code {code}" if code is not None else "") + f": {exc}")

    def _halting(self, exc: BaseException) -> bool:
        """Rate limits, bans and an unreachable exchange stop the run (no more requests)."""
        E = self.E
        if isinstance(exc, E.RateLimited | E.IpBanned):
            self.halted = (
                f"not checked: the exchange rate-limited or banned this address ({self._describe(exc)}); "
                f"wait, then verify again"
            )
            return True
        if isinstance(exc, E.ExchangeUnavailable) or not isinstance(exc, E.BitrueError):
            self.halted = (
                f"not checked: the exchange did not answer usably ({self._describe(exc)}); "
                f"check --base-url and the network, then verify again"
            )
            return True
        return False

    async def _call(self, name: str, fn: Callable[[], Awaitable[Any]]) -> tuple[bool, Any]:
        """Run one probe; returns (answered, result_or_exception). Halts on limits/outages."""
        try:
            return True, await fn()
        except Exception as exc:  # noqa: BLE001 - every failure is classified below
            if self._halting(exc):
                self._set(name, UNKNOWN, self.halted or "")
            return False, exc

    # -- probes -------------------------------------------------------------------------------
    async def run(self) -> dict[str, Check]:
        async with self.factory(self.urls, self.api_key, self.secret) as client:
            await self._clock(client)
            if self.halted is None:
                await self._account(client)
            if self.halted is None and "can_trade" not in self.results:
                await self._trade(client)
            if self.halted is None and "withdraw_disabled" not in self.results:
                await self._withdraw(client)
            if self.halted is None and "futures_disabled" not in self.results:
                await self._futures(client)
        if self.halted is None and "ip_restricted" not in self.results:
            await self._canary()
        for name in CHECK_NAMES:
            if name not in self.results:
                self._set(name, UNKNOWN, self.halted or "not checked")
        return self.results

    async def _clock(self, client: Any) -> None:
        ok, res = await self._call("clock_skew", client.sync_clock)
        if not ok:
            if "clock_skew" not in self.results:
                self._set(
                    "clock_skew", UNKNOWN, f"could not read the server time ({self._describe(res)})"
                )
            return
        offset = int(client.clock_offset_ms)
        limit = self.policy.max_clock_skew_ms
        if abs(offset) <= limit:
            self._set(
                "clock_skew",
                PASS,
                f"this clock is {offset:+d} ms from the exchange's (limit {limit} ms)",
            )
        else:
            self._set(
                "clock_skew",
                FAIL,
                f"this machine's clock is {offset:+d} ms off the exchange's (limit {limit} ms).",
            )

    async def _account(self, client: Any) -> None:
        E = self.E
        ok, res = await self._call("authenticates", client.account)
        if ok:
            self._set("authenticates", PASS, "the exchange accepted the key and its signature")
            self._set("can_read", PASS, "a signed account read was answered")
            return
        if self.halted:
            return
        exc = res
        if isinstance(exc, E.IpNotAllowed):
            self._set(
                "authenticates",
                UNKNOWN,
                "the key refused this machine's address before its signature could be judged",
            )
            self._set(
                "can_read",
                FAIL,
                f"the key does not accept requests from this machine's address ({self._describe(exc)}): "
                f"its IP allow list leaves this machine out.",
                fix=fix_for_ip_excluded(self.policy),
            )
            self._set(
                "ip_restricted",
                PASS,
                "the key is restricted to an allow list (one that excludes this machine)",
            )
            self.halted = "not checked: the key refuses this machine's address (see can_read)"
            return
        if isinstance(exc, E.InvalidTimestamp):
            self._set(
                "authenticates",
                UNKNOWN,
                f"the exchange refused the request's timestamp ({self._describe(exc)}); fix the clock "
                f"and verify again",
            )
            self.halted = "not checked: signed requests are refused for their timestamp"
            return
        if isinstance(exc, E.AuthenticationError):
            self._set(
                "authenticates",
                FAIL,
                f"the exchange refused the key or its signature ({self._describe(exc)}): the key is "
                f"wrong, disabled or deleted, or the secret does not match.",
            )
            self.halted = "not checked: the key does not authenticate"
            return
        if isinstance(exc, E.PermissionDenied):
            self._set(
                "authenticates",
                PASS,
                "the exchange knows the key (it answered with a permission refusal, not an "
                "authentication error)",
            )
            self._set(
                "can_read", FAIL, f"a signed account read was refused ({self._describe(exc)})."
            )
            return
        self._set(
            "authenticates",
            UNKNOWN,
            f"unexpected answer to the account read ({self._describe(exc)})",
        )
        self._set(
            "can_read", UNKNOWN, f"unexpected answer to the account read ({self._describe(exc)})"
        )

    async def _pick_symbol(self, client: Any) -> str | None:
        if self.symbol:
            return self.symbol
        ok, res = await self._call("can_trade", client.exchange_info)
        if not ok:
            if "can_trade" not in self.results:
                self._set("can_trade", UNKNOWN, f"could not list symbols ({self._describe(res)})")
            return None
        for s in getattr(res, "symbols", []):
            if getattr(s, "status", "TRADING") == "TRADING":
                return str(s.symbol)
        self._set("can_trade", UNKNOWN, "the exchange lists no trading symbol to probe with")
        return None

    async def _trade(self, client: Any) -> None:
        E = self.E
        symbol = await self._pick_symbol(client)
        if symbol is None:
            return
        probe_id = "lbprobe" + _secrets.token_hex(12)

        async def cancel() -> Any:
            return await client.cancel_order(symbol, client_order_id=probe_id)

        ok, res = await self._call("can_trade", cancel)
        if self.halted:
            return
        if ok:
            self._set(
                "can_trade",
                UNKNOWN,
                "cancelling an order that cannot exist was answered as if it succeeded; "
                "the answer proves nothing",
            )
        elif isinstance(res, E.OrderNotFound):
            self._set(
                "can_trade",
                PASS,
                f"a cancel on {symbol} reached the order book ('order not found'); nothing was placed",
            )
        elif isinstance(res, E.IpNotAllowed):
            self._set(
                "can_trade",
                UNKNOWN,
                f"the cancel probe was refused for this address ({self._describe(res)})",
            )
        elif isinstance(res, E.PermissionDenied):
            self._set(
                "can_trade",
                FAIL,
                f"a cancel probe was refused for lack of permission ({self._describe(res)}).",
            )
        else:
            self._set(
                "can_trade",
                UNKNOWN,
                f"ambiguous answer to the cancel probe ({self._describe(res)})",
            )

    async def _withdraw(self, client: Any) -> None:
        E = self.E

        async def history() -> Any:
            # Bitrue requires a coin; USDT exists on every account.
            return await client.withdraw_history(coin="USDT")

        ok, res = await self._call("withdraw_disabled", history)
        if self.halted:
            return
        if ok:
            self._set(
                "withdraw_disabled",
                FAIL,
                "the withdraw history was readable: the key has the withdrawal permission.",
            )
        elif isinstance(res, E.PermissionDenied) and res.code == 966001:
            self._set(
                "withdraw_disabled",
                PASS,
                "withdraw-history read refused with 966001 (no privileges)",
            )
        elif isinstance(res, E.PermissionDenied) and res.code == 966000:
            self._set(
                "withdraw_disabled",
                UNKNOWN,
                "the withdraw-history read was refused with 966000 (Ip limit): Bitrue refuses "
                "withdraw endpoints for a key without an IP restriction (or from an address not on "
                "it) before looking at the Withdrawal permission, so it cannot be told; restrict the "
                "key to trusted IPs and verify again",
            )
        else:
            self._set(
                "withdraw_disabled",
                UNKNOWN,
                f"the withdraw-history read was refused in a way that does not tell ({self._describe(res)})",
            )

    async def _futures(self, client: Any) -> None:
        E = self.E
        ok, res = await self._call("futures_disabled", client.futures_account)
        if self.halted:
            return
        authenticated = self.results.get("authenticates", Check("", UNKNOWN, "")).status == PASS
        if ok:
            self._set(
                "futures_disabled",
                FAIL,
                "the futures account was readable: the key has the futures permission.",
            )
        elif isinstance(res, E.PermissionDenied) and res.code == -2015 and authenticated:
            self._set(
                "futures_disabled",
                PASS,
                "futures account read refused with -2015 (no futures permission)",
            )
        elif isinstance(res, E.PermissionDenied) and res.code == -1025:
            self._set(
                "futures_disabled",
                UNKNOWN,
                "the account has not activated futures (-1025), so the key's Futures box cannot be "
                "probed; make sure 'Futures' is unticked on the key page, then accept this check with "
                'accept_unknown = ["futures_disabled"] in policy.toml if you want to trade',
            )
        else:
            self._set(
                "futures_disabled",
                UNKNOWN,
                f"ambiguous answer to the futures account read ({self._describe(res)})",
            )

    async def _canary(self) -> None:
        E = self.E
        if not self.canary_source:
            self._set(
                "ip_restricted",
                UNKNOWN,
                "no --canary-source given: give an address of this machine that is NOT on the key's "
                "allow list (e.g. 127.0.0.2 on loopback) so the restriction can be tested",
            )
            return
        source = self.canary_source
        try:
            client_cm = self.factory(self.urls, self.api_key, self.secret, source_address=source)
        except Exception as exc:  # noqa: BLE001
            self._set(
                "ip_restricted", UNKNOWN, f"cannot send from {source} ({self._describe(exc)})"
            )
            return
        async with client_cm as canary:
            try:
                await canary.sync_clock()
                await canary.account()
            except E.IpNotAllowed:
                self._set(
                    "ip_restricted",
                    PASS,
                    f"the same read from {source} was refused: the key is IP-restricted",
                )
                return
            except E.RateLimited as exc:
                self._set(
                    "ip_restricted", UNKNOWN, f"rate-limited from {source} ({self._describe(exc)})"
                )
                return
            except Exception as exc:  # noqa: BLE001
                self._set(
                    "ip_restricted",
                    UNKNOWN,
                    f"the read from {source} failed without an IP refusal ({self._describe(exc)}); "
                    f"is {source} an address of this machine?",
                )
                return
        self._set(
            "ip_restricted",
            FAIL,
            f"the same read from {source}, which is not on the allow list, was answered: the key "
            f"is not restricted to trusted IPs.",
        )


def check_canary(source: str, policy: Policy) -> None:
    """A canary must be an IP address outside every trusted egress network of the policy."""
    try:
        address = ipaddress.ip_address(source)
    except ValueError:
        raise ValueError(
            f"--canary-source {source!r} is not an IP address; give an address of this machine "
            f"that is NOT on the key's allow list (e.g. 127.0.0.2)"
        ) from None
    for trusted in policy.trusted_egress_ips:
        if address in ipaddress.ip_network(trusted, strict=False):
            raise ValueError(
                f"--canary-source {source} is inside the trusted egress IPs ({trusted}): a canary "
                f"must be an address that is NOT on the allow list"
            )


async def probe_key(
    *,
    label: str,
    exchange: str,
    api_key: str,
    secret: str,
    urls: Any,
    policy: Policy,
    canary_source: str | None = None,
    symbol: str | None = None,
    client_factory: ClientFactory | None = None,
) -> VerificationReport:
    """Probe the exchange and judge the key against the policy (only the checks it demands)."""
    if exchange != "bitrue":
        raise ValueError(f"cannot verify keys for {exchange!r}: only bitrue is supported")
    if canary_source:
        check_canary(canary_source, policy)
    probe = _Probe(
        api_key=api_key,
        secret=secret,
        urls=urls,
        policy=policy,
        canary_source=canary_source,
        symbol=symbol,
        client_factory=client_factory or default_client_factory,
    )
    results = await probe.run()
    results["trade_disabled"] = trade_disabled_from(
        results["can_trade"], fix_for("trade_disabled", policy)
    )
    demanded = policy.demanded_checks()
    checks = tuple(results[name] for name in demanded)
    return VerificationReport(
        label=label,
        exchange=exchange,
        verdict=verdict_of(checks),
        checked_at=datetime.now(UTC).isoformat(timespec="seconds"),
        checks=checks,
    )


def report_from_json(raw: Mapping[str, Any]) -> VerificationReport:
    return VerificationReport(
        label=str(raw["label"]),
        exchange=str(raw["exchange"]),
        verdict=str(raw["verdict"]),
        checked_at=str(raw["checked_at"]),
        checks=tuple(
            Check(str(c["name"]), str(c["status"]), str(c["detail"])) for c in raw["checks"]
        ),
    )
