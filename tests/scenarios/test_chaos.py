"""The one-minute chaos soak (``make chaos MINUTES=30`` runs the long one): the real bot and
the faulty simulator as separate processes over TLS, two keys on one address, the real start-up
gate, stops by SIGKILL, SIGHUP, SIGTERM and SIGTERM+SIGKILL at seeded times with orphans left
resting, then every invariant checked against the simulator's ledger. Part of the normal suite;
it takes about 90 s."""

from __future__ import annotations

import pytest

from liquidity_bot.chaos import STOPS, render, run_chaos


@pytest.mark.timeout(300)
async def test_one_minute_chaos_soak_holds_every_invariant(tmp_path) -> None:
    result = await run_chaos(1.0, workdir=tmp_path, seed=11, say=lambda _m: None)
    table = render(result)
    assert sum(result.faults.values()) > 0, table  # faults really were injected
    assert set(result.figures["stops_by_kind"]) == set(STOPS), table
    assert result.invariants, table
    failed = [i for i in result.invariants if not i.held]
    assert not failed, table
