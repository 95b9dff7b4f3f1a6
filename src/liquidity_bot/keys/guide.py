"""The onboarding guide: an exchange's key-creation steps filled in from the policy, and, per
check, the exact setting to change on that exchange's key page when that check fails.

The words come from the exchange's record in ``keys.exchanges`` (one record per exchange); this
module only puts them together.
"""

from __future__ import annotations

from liquidity_bot.keys.exchanges import EXCHANGES, ExchangeGuide, guide_of
from liquidity_bot.keys.policy import Policy

SUPPORTED_EXCHANGES = EXCHANGES
_KEY_PAGE = guide_of("bitrue").key_page  # Bitrue's, for code written before the records

# which policy permission each "must not" check stands for
_FORBIDDEN_CHECK = {
    "withdraw": "withdraw_disabled",
    "futures": "futures_disabled",
    "transfer": "transfer_disabled",
}


def trusted_ips_text(policy: Policy) -> str:
    if policy.trusted_egress_ips:
        return ", ".join(policy.trusted_egress_ips)
    return "the team's trusted egress IPs (none set yet: add them to trusted_egress_ips in policy.toml)"


def _quoted(settings: tuple[str, ...]) -> str:
    return " and ".join(f"'{s}'" for s in settings)


def fix_for(check: str, policy: Policy, exchange: str = "bitrue") -> str:
    """What to change on the exchange's key page when ``check`` fails."""
    g = guide_of(exchange)
    page = g.key_page
    ips = trusted_ips_text(policy)
    settings = g.settings_for(check)
    if check == "authenticates":
        extra = "".join(f", the {e.name}" for e in g.extras)
        return (
            f"The exchange did not accept the key: check the API key{extra} and secret were copied "
            f"exactly, and that the key still exists and is enabled in {page}. The secret is "
            f"shown only once: if it is lost, delete the key there and create a new one."
        )
    if check in ("can_read", "can_trade"):
        return f"In {page}, edit the key and tick {_quoted(settings)}."
    if check == "trade_disabled":  # a read-only key (e.g. an audit key) must not trade
        trade = _quoted(g.enable.get("can_trade", ()))
        return (
            f"In {page}, edit the key and untick {trade} (or create a new key that only reads): "
            f"a key that only reads can place no order if it leaks."
        )
    if check == "withdraw_disabled":
        return (
            f"In {page}, edit the key and untick {_quoted(settings)}. The bot never withdraws; a "
            f"key that may withdraw is a theft risk."
        )
    if check in ("futures_disabled", "transfer_disabled"):
        if settings:
            return f"In {page}, edit the key and untick {_quoted(settings)}."
        return f"In {page}, make sure the key cannot {'trade futures' if check == 'futures_disabled' else 'transfer funds'}."
    if check == "ip_restricted":
        return f"In {page}, edit the key and restrict access to trusted IPs only: {ips}."
    if check == "clock_skew":
        return (
            "Synchronise this machine's clock with NTP (e.g. enable chrony or systemd-timesyncd); "
            "signed requests are refused when the clock is off."
        )
    raise KeyError(check)


def fix_for_ip_excluded(policy: Policy, exchange: str = "bitrue") -> str:
    """The key is restricted, but not to the address this machine sends from."""
    if policy.trusted_egress_ips:
        ips = f"the trusted IPs are {', '.join(policy.trusted_egress_ips)}"
    else:
        ips = "policy.toml lists no trusted_egress_ips yet"
    return (
        f"In {guide_of(exchange).key_page}, edit the key's IP allow list so that it holds this "
        f"machine's egress address ({ips}), or run the bot from an allowed address."
    )


def _bold(settings: tuple[str, ...]) -> str:
    """**A**, **B** and **C**."""
    words = [f"**{s}**" for s in settings]
    return " and ".join(words) if len(words) < 3 else ", ".join(words[:-1]) + " and " + words[-1]


def render_guide(g: ExchangeGuide, label: str, policy: Policy) -> str:
    """The filled-in onboarding guide for one exchange, as Markdown."""
    ips = trusted_ips_text(policy)
    ticks: list[str] = []
    if "read" in policy.required_permissions:
        ticks += [s for s in g.enable.get("can_read", ()) if s not in ticks]
    ticks += [s for s in g.enable.get("can_trade", ()) if s not in ticks]
    untick: list[str] = []
    for permission in policy.forbidden_permissions:
        for s in g.disable.get(_FORBIDDEN_CHECK[permission], ()):
            if s not in untick:
                untick.append(s)
    untick += [s for s in g.also_disabled if s not in untick]
    lines = [f'# Create the {g.name} API key "{label}"', ""]
    n = 0
    for step in g.create_steps:
        if step.startswith("   "):
            lines.append(step.format(label=label))
        else:
            n += 1
            lines.append(f"{n}. {step.format(label=label)}")
    n += 1
    lines.append(f"{n}. Permissions: tick {_bold(tuple(ticks))}.")
    n += 1
    if untick:
        lines.append(f"{n}. Leave {_bold(tuple(untick))} **unticked**: the bot never needs them.")
    else:
        lines.append(f"{n}. Tick nothing else.")
    if policy.trusted_egress_ips:
        allow = f"**{ips}**"
    else:
        allow = "the addresses your liquidity provider gives you (they were not filled in here)"
    n += 1
    if policy.require_ip_restriction:
        lines.append(f"{n}. Restrict the key to trusted IPs only ({g.ip_setting}): {allow}. Nothing else.")
    else:
        lines.append(f"{n}. Restricting the key to trusted IPs is strongly advised: {allow}.")
    for note in g.notes:
        n += 1
        lines.append(f"{n}. {note}")
    n += 1
    copied = ["the **API key**", "the **secret key**"] + [f"the **{e.name}**" for e in g.extras]
    lines += [
        f"{n}. Copy {', '.join(copied[:-1])} and {copied[-1]}. {g.name} shows the secret **only once**:",
        "   paste it straight into the bot's hidden prompt; do not save it in a file, chat or e-mail.",
    ]
    n += 1
    lines += [
        f"{n}. The bot stores the secret encrypted and verifies the key right away; every {policy.review_interval_days} days",
        "   `liquidity-bot keys review` reminds you to review it.",
        "",
        "The bot checks: the key authenticates, may read and trade, may not withdraw, trade",
        "futures or transfer funds, is restricted to an IP allow list, and this machine's clock is in sync.",
    ]
    if g.reports_permissions:
        lines.append(f"{g.name} tells a key its own permissions ({g.reports_permissions}): the bot reads them.")
    else:
        lines.append(
            f"{g.name} does not tell a key its own permissions: the bot probes without side effects, and "
            "what a probe cannot tell is reported as unknown (check it on the key page)."
        )
    return "\n".join(lines) + "\n"


def bitrue_guide(label: str, policy: Policy) -> str:
    """The filled-in onboarding guide for Bitrue, as Markdown."""
    return render_guide(guide_of("bitrue"), label, policy)


def guide_for(exchange: str, label: str, policy: Policy) -> str:
    if exchange not in SUPPORTED_EXCHANGES:
        raise ValueError(
            f"no onboarding guide for {exchange!r}; supported: {', '.join(SUPPORTED_EXCHANGES)}"
        )
    return render_guide(guide_of(exchange), label, policy)
