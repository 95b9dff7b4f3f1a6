"""A kit for tests and benchmarks: one in-memory venue and the hooks the engine does not carry.

Production code never imports this package (a test checks it). ``FakeVenue`` keeps the venue
port's promises in memory (orders rest until cancelled, cancels of finished orders are
``CancelReject``s, look-ups of unknown orders are None) and can lose answers on purpose;
``fill_events`` reads only the fills of a venue's order stream; ``crash`` stops an engine the
way ``kill -9`` would.
"""

from liquidity_bot.testing.fake_venue import FakeVenue, fill_events
from liquidity_bot.testing.hooks import crash

__all__ = ["FakeVenue", "crash", "fill_events"]
