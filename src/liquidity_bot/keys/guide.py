"""The onboarding guide: the exchange's key-creation steps filled in from the policy, and, per
check, the exact setting to change on the exchange's key page when that check fails."""

from __future__ import annotations

from liquidity_bot.keys.policy import Policy

SUPPORTED_EXCHANGES = ("bitrue",)

_KEY_PAGE = "Bitrue > profile (top right) > API Management"


def trusted_ips_text(policy: Policy) -> str:
    if policy.trusted_egress_ips:
        return ", ".join(policy.trusted_egress_ips)
    return "the team's trusted egress IPs (none set yet: add them to trusted_egress_ips in policy.toml)"


def fix_for(check: str, policy: Policy) -> str:
    """What to change on Bitrue's key page when ``check`` fails."""
    ips = trusted_ips_text(policy)
    return {
        "authenticates": (
            f"The exchange did not accept the key: check the API key and secret were copied "
            f"exactly, and that the key still exists and is enabled in {_KEY_PAGE}. The secret is "
            f"shown only once: if it is lost, delete the key there and create a new one."
        ),
        "can_read": f"In {_KEY_PAGE}, edit the key and tick 'Read'.",
        "can_trade": f"In {_KEY_PAGE}, edit the key and tick 'Trade'.",
        "trade_disabled": (
            f"In {_KEY_PAGE}, edit the key and untick 'Trade' (or create a new key with 'Read' "
            f"only): an audit key only reads, so a leaked one can place no order."
        ),
        "withdraw_disabled": (
            f"In {_KEY_PAGE}, edit the key and untick 'Withdrawal'. The bot never withdraws; a key "
            f"that may withdraw is a theft risk."
        ),
        "futures_disabled": f"In {_KEY_PAGE}, edit the key and untick 'Futures'.",
        "ip_restricted": (
            f"In {_KEY_PAGE}, edit the key and restrict access to trusted IPs only: {ips}."
        ),
        "clock_skew": (
            "Synchronise this machine's clock with NTP (e.g. enable chrony or systemd-timesyncd); "
            "signed requests are refused when the clock is off."
        ),
    }[check]


def fix_for_ip_excluded(policy: Policy) -> str:
    """The key is restricted, but not to the address this machine sends from."""
    if policy.trusted_egress_ips:
        ips = f"the trusted IPs are {', '.join(policy.trusted_egress_ips)}"
    else:
        ips = "policy.toml lists no trusted_egress_ips yet"
    return (
        f"In {_KEY_PAGE}, edit the key's IP allow list so that it holds this machine's egress "
        f"address ({ips}), or run the bot from an allowed address."
    )


def bitrue_guide(label: str, policy: Policy) -> str:
    """The filled-in onboarding guide for Bitrue, as Markdown."""
    ips = trusted_ips_text(policy)
    ticks = []
    if "read" in policy.required_permissions:
        ticks.append("**Read**")
    ticks.append("**Trade**")
    untick = []
    if "withdraw" in policy.forbidden_permissions:
        untick.append("**Withdrawal**")
    if "futures" in policy.forbidden_permissions:
        untick.append("**Futures**")
    lines = [
        f'# Create the Bitrue API key "{label}"',
        "",
        "1. Log in to Bitrue and open your **profile** (top right) > **API Management**.",
        f"2. Click **Create API**, enter the label **{label}**, and confirm with the Google",
        "   Authenticator and e-mail codes (Bitrue requires 2FA before it creates API keys).",
        f"3. Permissions: tick {' and '.join(ticks)}.",
    ]
    if untick:
        lines.append(f"4. Leave {' and '.join(untick)} **unticked**: the bot never needs them.")
    else:
        lines.append("4. Tick nothing else.")
    if policy.trusted_egress_ips:
        allow = f"**{ips}**"
    else:
        allow = "the addresses your liquidity provider gives you (they were not filled in here)"
    if policy.require_ip_restriction:
        lines.append(f"5. Restrict the key to trusted IPs only: {allow}. Nothing else.")
    else:
        lines.append(f"5. Restricting the key to trusted IPs is strongly advised: {allow}.")
    lines += [
        "6. Copy the **API key** and the **secret key**. Bitrue shows the secret **only once**:",
        "   paste it straight into the bot's hidden prompt; do not save it in a file, chat or e-mail.",
        f"7. The bot stores the secret encrypted and verifies the key right away; every {policy.review_interval_days} days",
        "   `liquidity-bot keys review` reminds you to review it.",
        "",
        "The bot checks: the key authenticates, may read and trade, may not withdraw or trade",
        "futures, is restricted to an IP allow list, and this machine's clock is in sync.",
    ]
    return "\n".join(lines) + "\n"


def guide_for(exchange: str, label: str, policy: Policy) -> str:
    if exchange != "bitrue":
        raise ValueError(
            f"no onboarding guide for {exchange!r}; supported: {', '.join(SUPPORTED_EXCHANGES)}"
        )
    return bitrue_guide(label, policy)
