"""Named market scenarios: parameters of the synthetic participants, per symbol.

``calm``, ``volatile``, ``trending``, ``flash-crash`` and ``thin`` (a small-cap book with wide
spreads and gaps) are stress tests; ``altcoin`` is calibrated to a thin Bitrue altcoin pair (the
market our users quote; see docs/simulator.md). A scenario is data (frozen); ``build_market`` turns it into a running
``SyntheticMarket`` on an exchange.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any


@dataclass(frozen=True)
class FlashCrash:
    """A sudden drop of fair value followed by a slow recovery, repeating."""

    first_after_s: float = 600.0
    period_s: float = 7_200.0
    drop_fraction: float = 0.12
    fall_s: float = 30.0
    recover_s: float = 900.0
    recover_fraction: float = 0.8  # of the drop


@dataclass(frozen=True)
class Scenario:
    """How fair value moves and how makers and takers behave (rates are per second)."""

    name: str
    # fair value: log random walk
    fair_step_s: float = 1.0
    volatility: float = 0.0002  # stdev of log-return per sqrt(second)
    drift: float = 0.0  # log-return per second
    jump_rate: float = 0.0  # jumps per second
    jump_size: float = 0.0  # stdev of a jump's log-return
    crash: FlashCrash | None = None
    # makers (one account keeps a ladder on each side)
    levels: int = 10
    half_spread_bps: float = 5.0
    level_step_bps: float = 4.0
    gap_probability: float = 0.0  # a ladder slot left empty on requote
    requote_rate: float = 2.0  # slot refreshes per second
    maker_size_quote: float = 400.0  # median order value (quote units)
    maker_size_sigma: float = 0.8  # lognormal shape of sizes
    # takers
    taker_rate: float = 0.3  # arrivals per second (Poisson)
    taker_size_quote: float = 150.0
    taker_size_sigma: float = 1.0
    informed_fraction: float = 0.2  # takers who trade towards fair value
    crash_sell_rate: float = 3.0  # extra sellers per second while a crash is falling


SCENARIOS: dict[str, Scenario] = {
    "calm": Scenario("calm"),
    "volatile": Scenario(
        "volatile", volatility=0.0008, jump_rate=1 / 1800, jump_size=0.02,
        half_spread_bps=8.0, level_step_bps=6.0, requote_rate=4.0, taker_rate=1.0,
        informed_fraction=0.3,
    ),
    "trending": Scenario(
        "trending", volatility=0.0003, drift=0.000002, informed_fraction=0.35, taker_rate=0.5,
    ),
    "flash-crash": Scenario(
        "flash-crash", volatility=0.0003, crash=FlashCrash(), taker_rate=0.4,
    ),
    "thin": Scenario(
        "thin", volatility=0.0006, jump_rate=1 / 3600, jump_size=0.03, levels=5,
        half_spread_bps=80.0, level_step_bps=60.0, gap_probability=0.25, requote_rate=0.5,
        maker_size_quote=60.0, maker_size_sigma=1.2, taker_rate=0.05, taker_size_quote=40.0,
        taker_size_sigma=1.3, informed_fraction=0.25,
    ),
    # A thin Bitrue altcoin pair, the market most users quote (every number is argued in
    # docs/simulator.md, "The altcoin scenario"): about 6 % a day of volatility with a jump
    # now and then, a taker every 80 s or so of about 40 USDT, a background book 0.6 % wide with
    # 100-300 USDT levels. The other scenarios are stress tests.
    "altcoin": Scenario(
        "altcoin", volatility=0.0002, jump_rate=1 / 7200, jump_size=0.015, levels=8,
        half_spread_bps=30.0, level_step_bps=25.0, gap_probability=0.15, requote_rate=0.2,
        maker_size_quote=150.0, maker_size_sigma=0.9, taker_rate=0.012, taker_size_quote=40.0,
        taker_size_sigma=1.1, informed_fraction=0.25,
    ),
}


def scenario(name: str, **overrides: Any) -> Scenario:
    """The named scenario, optionally with fields replaced; unknown names fail clearly."""
    try:
        base = SCENARIOS[name]
    except KeyError:
        raise ValueError(
            f"unknown scenario {name!r}; choose one of: {', '.join(sorted(SCENARIOS))}"
        ) from None
    return replace(base, **overrides) if overrides else base


# Which symbols a scenario runs on by default: "thin" is the small-cap pair.
DEFAULT_SYMBOLS: dict[str, tuple[str, ...]] = {
    "thin": ("NOVAUSDT",),
}
FALLBACK_SYMBOLS: tuple[str, ...] = ("XRPUSDT", "NOVAUSDT")


def default_symbols(name: str, listed: tuple[str, ...]) -> tuple[str, ...]:
    wanted = DEFAULT_SYMBOLS.get(name, FALLBACK_SYMBOLS)
    chosen = tuple(s for s in wanted if s in listed)
    return chosen or listed[:1]


def build_market(exchange: Any, name: str, seed: int, symbols: tuple[str, ...] | None = None):
    """A ``SyntheticMarket`` of scenario ``name`` on ``exchange`` (its own accounts)."""
    from bitrue_sim.participants import SyntheticMarket

    spec = scenario(name)
    chosen = symbols or default_symbols(name, tuple(exchange.markets))
    return SyntheticMarket(exchange, spec, seed=seed, symbols=chosen)
