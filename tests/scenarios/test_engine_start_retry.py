"""Start-up through exchange faults: the engine retries a venue start, honours the wait the
exchange asks for (Retry-After) even past its own retry deadline, and gives up on time when
nothing was asked (the key's markets are then reported failed, the others go on)."""

from __future__ import annotations

import asyncio

from liquidity_bot.engine.runner import Engine, KeySession
from liquidity_bot.testing import FakeVenue
from liquidity_bot.venues.bitrue.errors import ExchangeUnavailable, RateLimited


class FlakyVenue(FakeVenue):
    """Fails ``start`` with the given errors in turn, then works (no markets, no events)."""

    name = "flaky"

    def __init__(self, errors: list[Exception]) -> None:
        super().__init__()
        self.errors = list(errors)
        self.starts: list[float] = []

    async def start(self) -> None:
        self.starts.append(asyncio.get_running_loop().time())
        if self.errors:
            raise self.errors.pop(0)


async def _start(venue: FlakyVenue, retry_s: float) -> KeySession:
    session = KeySession(label="k", venue=venue, markets=[])  # type: ignore[arg-type]
    engine = Engine([session], all_markets=[], store=None)
    engine.start_retry_s = retry_s
    try:
        await engine.start()
    finally:
        await engine.shutdown()
    return session


async def test_retry_after_is_honoured_beyond_the_retry_deadline() -> None:
    venue = FlakyVenue([RateLimited("429", policy="general", retry_after_s=0.6),
                        ExchangeUnavailable("GET /time: HTTP 503")])
    session = await _start(venue, retry_s=0.0)
    assert len(venue.starts) == 3 and not session.failed
    # waited as long as the exchange asked (not the 0.5 s of the first back-off step alone)
    assert venue.starts[1] - venue.starts[0] >= 0.55


async def test_without_an_asked_wait_the_deadline_ends_the_retries() -> None:
    venue = FlakyVenue([ExchangeUnavailable("GET /time: HTTP 503")] * 50)
    session = await _start(venue, retry_s=0.0)
    assert len(venue.starts) == 1
    assert not session.started


async def test_a_venue_that_never_started_leaves_its_orders_unchecked() -> None:
    """An outage (or a stop during the retries) ends the start: the key's account was never
    looked at, so ``run`` must not exit 0 as if none of our orders could be open; a refusal
    that retrying cannot fix is a failed market as before."""
    from rich.console import Console

    from liquidity_bot.commands import EXIT_LEFT_OPEN, run_exit_code
    from liquidity_bot.engine.runner import summary
    from liquidity_bot.venues.bitrue.errors import AuthenticationError

    for error, unchecked in ((ExchangeUnavailable("GET /time: HTTP 503"), True),
                             (AuthenticationError("key refused"), False)):
        session = KeySession(label="k", venue=FlakyVenue([error] * 50), markets=[])  # type: ignore[arg-type]
        engine = Engine([session], all_markets=[], store=None)
        engine.start_retry_s = 0.0
        try:
            await engine.start()
        finally:
            await engine.shutdown()
        assert bool(engine.unchecked) is unchecked
        result = summary(engine)
        assert ("unchecked" in result) is unchecked
        if unchecked:
            assert "key 'k'" in result["unchecked"][0]
            with open("/dev/null", "w") as null:
                assert run_exit_code(result, Console(file=null)) == EXIT_LEFT_OPEN
