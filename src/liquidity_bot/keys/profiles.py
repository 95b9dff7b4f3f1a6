"""Key profiles: what a key is for decides the policy it is verified under.

``bot`` is the onboarding guide's key: read and trade, never withdrawal or futures. ``audit`` is
the token project's own read-only key on the same account, with which it checks the market
maker's obligations from the exchange's side (``liquidity-bot audit``): its policy is the bot's
with the trade permission moved from required to forbidden. The same trade probe is sent; its
expected outcome flips (``trade_disabled`` passes only when the probe is refused for lack of
permission), so an audit key is proven unable to trade, not assumed to be.

A profile is a policy record derived from the operator's policy (trusted IPs, review intervals,
clock limit and accepted unknowns carry over), so every exchange's prober serves both.
"""

from __future__ import annotations

from dataclasses import replace

from liquidity_bot.keys.guide import _KEY_PAGE, trusted_ips_text
from liquidity_bot.keys.policy import Policy

BOT, AUDIT = "bot", "audit"
PROFILES = (BOT, AUDIT)


def check_profile(profile: str) -> str:
    if profile not in PROFILES:
        raise ValueError(
            f"unknown key profile {profile!r}; choose {BOT!r} (the market maker's trading key) or "
            f"{AUDIT!r} (the token project's read-only key for `liquidity-bot audit`)"
        )
    return profile


def policy_for_profile(profile: str, base: Policy) -> Policy:
    """The policy a key of ``profile`` is judged under, derived from the operator's ``base``.

    audit: read required; trade, withdrawal and futures forbidden; IP restriction required
    whatever the base says; ``trade_disabled`` is never accepted as unknown.
    """
    if check_profile(profile) == BOT:
        return base
    return replace(
        base,
        required_permissions=("read",),
        # trade joins whatever the base forbids (withdrawal and futures at least)
        forbidden_permissions=tuple(
            dict.fromkeys(("trade", "withdraw", "futures", *base.forbidden_permissions))
        ),
        require_ip_restriction=True,
        accept_unknown=tuple(c for c in base.accept_unknown if c != "trade_disabled"),
    )


def is_audit_policy(policy: Policy) -> bool:
    return "trade" in policy.forbidden_permissions


def audit_guide(exchange: str, label: str, policy: Policy) -> str:
    """The onboarding guide's audit variant, for the token project (Markdown)."""
    if exchange != "bitrue":
        raise ValueError(f"no audit guide for {exchange!r}; supported: bitrue")
    ips = trusted_ips_text(policy)
    allow = (
        f"**{ips}**"
        if policy.trusted_egress_ips
        else "the addresses of the machine that runs the audit (they were not filled in here)"
    )
    lines = [
        f'# Create the read-only Bitrue API key "{label}" for your own audit',
        "",
        "This key is yours, not the market maker's: keep its secret on your own machine. With it",
        "`liquidity-bot audit` reads the public order book and your account's open orders every",
        "second and measures the obligations (uptime, spread, depth within 2 %) itself.",
        "",
        f"1. Log in to Bitrue with the account the market maker trades on and open {_KEY_PAGE}.",
        f"2. Click **Create API**, enter the label **{label}**, and confirm with the Google",
        "   Authenticator and e-mail codes.",
        "3. Permissions: tick **Read** only.",
        "4. Leave **Trade**, **Withdrawal** and **Futures** **unticked**: an audit reads, and a",
        "   leaked read-only key can place no order and move no funds.",
        f"5. Restrict the key to trusted IPs only: {allow}. Nothing else.",
        "6. Copy the **API key** and the **secret key** (shown **only once**) straight into the",
        "   hidden prompt of `liquidity-bot keys add --profile audit`.",
        "",
        "The audit checks: the key authenticates and may read, may NOT trade (a cancel of an order",
        "that cannot exist must be refused for lack of permission: nothing is ever placed), may not",
        "withdraw or trade futures, is restricted to an IP allow list, and this machine's clock is",
        "in sync. A key that may trade is refused, with the check that failed.",
    ]
    return "\n".join(lines) + "\n"
