"""The prober for the guide's exchanges without a client yet (BitMart, Coinstore, Biconomy: not
in ccxt 4.5). It sends nothing: every check is unknown and says why, so such a key never passes
by default; trading there needs a native connector first (out of scope until asked for). Their
onboarding guide, key formats and sealed extras work as for every exchange."""

from __future__ import annotations

from liquidity_bot.keys.exchanges import guide_of
from liquidity_bot.keys.policy import CHECK_NAMES
from liquidity_bot.keys.verify import UNKNOWN, ProbeRun


class NoClientKeyProber:
    def __init__(self, exchange: str):
        self.exchange = exchange

    async def probe(self, run: ProbeRun) -> None:
        g = guide_of(self.exchange)
        for name in CHECK_NAMES:
            if name not in g.not_applicable:
                run.set(
                    name,
                    UNKNOWN,
                    f"liquidity-bot has no {g.name} client yet, so nothing was asked: check this on "
                    f"{g.key_page} by hand",
                    how="not probed (no client)",
                )
