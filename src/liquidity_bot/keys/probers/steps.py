"""Probe steps every transport-based prober shares: the clock, the halting rule, and the canary.

Each step records checks in the run (``keys.verify.ProbeRun``) and says how it judged them.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

from liquidity_bot.keys.probers.transport import (
    AUTH,
    IP,
    LIMITED,
    NOT_FOUND,
    PERMISSION,
    TIMESTAMP,
    UNAVAILABLE,
    KeyTransport,
    Refusal,
    local_ms,
)
from liquidity_bot.keys.verify import FAIL, PASS, UNKNOWN, ProbeRun

TransportFactory = Callable[..., KeyTransport]


@contextlib.asynccontextmanager
async def opened(
    run: ProbeRun, make: TransportFactory, exchange_id: str, base_url: str | None
) -> AsyncIterator[KeyTransport | None]:
    """The transport, or None (the run halted, saying why) when it cannot even be opened
    (ccxt missing, an unknown ccxt id): verifying then reports unknowns, it does not crash."""
    try:
        transport = make(exchange_id, run.credentials, base_url)
        entered = await transport.__aenter__()
    except Exception as exc:  # noqa: BLE001 - reported as the reason nothing was checked
        run.halt_unusable(exc)
        yield None
        return
    try:
        yield entered
    finally:
        await transport.__aexit__(None, None, None)


def halting(run: ProbeRun) -> Callable[[BaseException], bool]:
    """Rate limits, bans and an unusable exchange stop the run (no more requests)."""

    def judge(exc: BaseException) -> bool:
        kind = getattr(exc, "kind", None)
        if kind == LIMITED:
            run.halt_limited(exc)
            return True
        if kind == UNAVAILABLE or not isinstance(exc, Refusal):
            run.halt_unusable(exc)
            return True
        return False

    return judge


async def check_clock(run: ProbeRun, t: KeyTransport) -> None:
    """clock_skew from the exchange's server time (``fetch_time``), taken at the request's
    midpoint so the round trip does not count as skew."""
    how = "probe: the exchange's server time (unsigned)"
    before = local_ms()
    ok, res = await run.call("clock_skew", lambda: t.call("fetch_time"), halting(run), how)
    after = local_ms()
    if not ok:
        if not run.has("clock_skew"):
            run.set("clock_skew", UNKNOWN, f"could not read the server time ({run.describe(res)})", how=how)
        return
    try:
        server = int(res)
    except (TypeError, ValueError):
        run.set("clock_skew", UNKNOWN, "the exchange answered no server time", how=how)
        return
    offset = server - (before + after) // 2
    limit = run.policy.max_clock_skew_ms
    if abs(offset) <= limit:
        run.set("clock_skew", PASS, f"this clock is {offset:+d} ms from the exchange's (limit {limit} ms)", how=how)
    else:
        run.set(
            "clock_skew",
            FAIL,
            f"this machine's clock is {offset:+d} ms off the exchange's (limit {limit} ms).",
            how=how,
        )


async def check_canary(
    run: ProbeRun,
    make: TransportFactory,
    exchange_id: str,
    base_url: str | None,
    request: tuple[str, tuple[Any, ...]],
) -> None:
    """ip_restricted: the same signed read, sent from the canary source (an address of this
    machine that is not on the allow list). The read was answered from here, so a refusal from
    there can only be about the address: pass; an answer: fail."""
    how = "probe: the same signed read sent from the canary source"
    if no_canary(run, how):
        return
    source = str(run.canary_source)
    name, args = request
    try:
        async with make(exchange_id, run.credentials, base_url, source_address=source) as canary:
            await canary.call(name, *args)
    except Refusal as exc:
        if exc.kind in (IP, AUTH, PERMISSION):
            run.set(
                "ip_restricted",
                PASS,
                f"the same read from {source} was refused ({run.describe(exc)}): the key is "
                "IP-restricted",
                how=how,
            )
        elif exc.kind == TIMESTAMP:
            run.set("ip_restricted", UNKNOWN, f"the read from {source} was refused for its timestamp", how=how)
        else:
            run.set(
                "ip_restricted",
                UNKNOWN,
                f"the read from {source} failed without a refusal ({run.describe(exc)}); is "
                f"{source} an address of this machine?",
                how=how,
            )
        return
    except Exception as exc:  # noqa: BLE001 - cannot bind or connect from the canary
        run.set("ip_restricted", UNKNOWN, f"cannot send from {source} ({run.describe(exc)})", how=how)
        return
    canary_answered(run, source, how)


def no_canary(run: ProbeRun, how: str) -> bool:
    """Without a canary source the IP restriction cannot be tested: unknown (returns True)."""
    if run.canary_source:
        return False
    run.set(
        "ip_restricted",
        UNKNOWN,
        "no --canary-source given: give an address of this machine that is NOT on the key's "
        "allow list (e.g. 127.0.0.2 on loopback) so the restriction can be tested",
        how=how,
    )
    return True


def canary_answered(run: ProbeRun, source: str, how: str) -> None:
    run.set(
        "ip_restricted",
        FAIL,
        f"the same read from {source}, which is not on the allow list, was answered: the key "
        f"is not restricted to trusted IPs.",
        how=how,
    )


def refused_signed_read(
    run: ProbeRun,
    kind: str,
    exc: BaseException,
    how: str,
    *,
    what: str = "read",
    auth_may_be_ip: bool = False,
) -> None:
    """Judge a refused first signed read of ``what`` (the key's authentication is decided
    here); ``kind`` is the refusal's kind (``transport``'s kinds), ``exc`` the refusal.

    ``auth_may_be_ip``: the exchange answers an unknown, deleted or disabled key and an address
    outside the allow list alike (Binance's single -2015), so an authentication refusal fails
    ``authenticates`` with both causes and both fixes named."""
    from liquidity_bot.keys.guide import fix_for, fix_for_ip_excluded

    if kind == IP:
        run.set(
            "authenticates",
            UNKNOWN,
            "the key refused this machine's address before its signature could be judged",
            how=how,
        )
        run.set(
            "can_read",
            FAIL,
            f"the key does not accept requests from this machine's address ({run.describe(exc)}): "
            f"its IP allow list leaves this machine out.",
            fix=fix_for_ip_excluded(run.policy, run.exchange),
            how=how,
        )
        run.set(
            "ip_restricted",
            PASS,
            "the key is restricted to an allow list (one that excludes this machine)",
            how=how,
        )
        run.halted = "not checked: the key refuses this machine's address (see can_read)"
    elif kind == TIMESTAMP:
        run.set(
            "authenticates",
            UNKNOWN,
            f"the exchange refused the request's timestamp ({run.describe(exc)}); fix the clock and "
            "verify again",
            how=how,
        )
        run.halted = "not checked: signed requests are refused for their timestamp"
    elif kind == AUTH and auth_may_be_ip:
        run.set(
            "authenticates",
            FAIL,
            f"the exchange refused the key ({run.describe(exc)}): it answers this way for a key that "
            "is wrong, disabled or deleted, a secret that does not match, and a key whose IP allow "
            "list leaves this machine out; it does not say which.",
            fix=f"{fix_for('authenticates', run.policy, run.exchange)} If the key exists: "
            f"{fix_for_ip_excluded(run.policy, run.exchange)}",
            how=how,
        )
        run.halted = "not checked: the key is refused (see authenticates)"
    elif kind == AUTH:
        run.set(
            "authenticates",
            FAIL,
            f"the exchange refused the key or its signature ({run.describe(exc)}): the key is wrong, "
            "disabled or deleted, or the secret does not match.",
            how=how,
        )
        run.halted = "not checked: the key does not authenticate"
    elif kind == PERMISSION:
        run.set(
            "authenticates",
            PASS,
            "the exchange knows the key (it answered with a permission refusal, not an "
            "authentication error)",
            how=how,
        )
        run.set("can_read", FAIL, f"a signed {what} was refused ({run.describe(exc)}).", how=how)
    else:
        unexpected = f"unexpected answer to the {what} ({run.describe(exc)})"
        run.set("authenticates", UNKNOWN, unexpected, how=how)
        run.set("can_read", UNKNOWN, unexpected, how=how)


def judge_cancel(
    run: ProbeRun,
    answered: bool,
    kind: str | None,
    exc: Any,
    symbol: str,
    how: str,
    *,
    auth_means_permission: bool = False,
) -> None:
    """can_trade from a cancel of an order id that cannot exist: "order not found" proves the
    key may trade (the cancel reached the order book; nothing was ever placed); a permission
    refusal proves it may not; anything else proves nothing. ``auth_means_permission``: the
    client folds permission refusals into authentication errors (ccxt does), so a key that
    just passed ``authenticates`` and is refused here lacks the permission."""
    authenticated = run.results.get("authenticates")
    if answered:
        run.set(
            "can_trade",
            UNKNOWN,
            "cancelling an order that cannot exist was answered as if it succeeded; "
            "the answer proves nothing",
            how=how,
        )
    elif kind == NOT_FOUND:
        run.set(
            "can_trade",
            PASS,
            f"a cancel on {symbol} reached the order book ('order not found'); nothing was placed",
            how=how,
        )
    elif kind == IP:
        run.set(
            "can_trade",
            UNKNOWN,
            f"the cancel probe was refused for this address ({run.describe(exc)})",
            how=how,
        )
    elif kind == PERMISSION or (
        kind == AUTH
        and auth_means_permission
        and authenticated is not None
        and authenticated.status == PASS
    ):
        run.set(
            "can_trade",
            FAIL,
            f"a cancel probe was refused for lack of permission ({run.describe(exc)}).",
            how=how,
        )
    else:
        run.set(
            "can_trade",
            UNKNOWN,
            f"ambiguous answer to the cancel probe ({run.describe(exc)})",
            how=how,
        )
