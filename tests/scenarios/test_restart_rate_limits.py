"""A restarted bot counts the order requests of its previous run (found by the soak: quick
restarts added up past the per-IP order limit, got a 429 and, with requests already on the
wire, an IP ban). The previous run's requests are read back from the store and charged to this
address's governor at the time they were sent."""

from __future__ import annotations

import time

from liquidity_bot.venues.bitrue import ratelimit
from liquidity_bot.venues.bitrue.weights import ORDERS

from .conftest import make_engine, new_key, running, two_sided, wait_for


async def test_a_restart_charges_the_previous_runs_order_requests(sim_quiet, store):
    _, key, secret = await new_key(sim_quiet)
    first = make_engine(sim_quiet, key, secret, store=store)
    async with running(first):
        await wait_for(lambda: two_sided(first), "the first run quotes")
    sent = store.order_requests_since(int(time.time() * 1000) - 62_000)
    assert len(sent) >= 4, "placements and the shutdown's cancels are stored"

    first = None  # type: ignore[assignment]  # drop it, as a process exit would
    ratelimit._IP_GOVERNORS.clear()  # a new process: the address's governor starts empty
    second = make_engine(sim_quiet, key, secret, store=store)
    async with running(second):
        parent = second.sessions[0].venue.rest.governor.parent
        st = second.runners[0].om.stats
        own = st.placed + st.rejected_by_exchange + st.unknown_outcomes + st.cancel_requests
        orders = [used for name, (used, _) in parent.headroom().items()
                  if name in {p.name for p in parent.policies if p.family == ORDERS}]
        assert orders and max(orders) >= len(sent) + own
