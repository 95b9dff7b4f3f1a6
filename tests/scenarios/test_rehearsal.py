"""Rehearsals (``engine.rehearsal``) against the simulator: the whole quoting path runs, and
nothing is sent, stored, counted or changed."""

from __future__ import annotations

import dataclasses

from liquidity_bot.venues import lean_http

from .conftest import make_engine, new_key, running, two_sided, wait_for


def _state(engine) -> object:  # noqa: ANN001
    """Everything a rehearsal could touch by mistake."""
    runner = engine.runners[0]
    om, session = runner.om, engine.sessions[0]
    stats = dataclasses.asdict(om.stats)
    stats["latencies_ns"] = list(om.stats.latencies_ns)
    return (
        stats,
        runner.risk.counts(),
        runner.risk.reference_price,
        session.budget.used(),
        sorted((cid, t.order.state, t.order.price, t.order.qty, t.priority, t.critical,
                t.sent_ms) for cid, t in om.orders.items()),
        runner.last_quotes,
        runner._last_inputs,
        runner.book.updates,
        runner.book.best_bid,
        session.venue.market.books["XRPUSDT"].updates,
        session.venue.rest.last_request_mono,
        runner.status,
        runner.errors,
    )


async def test_a_rehearsal_runs_the_quoting_path_and_changes_nothing(sim_calm, store,
                                                                    monkeypatch) -> None:
    _, key, secret = await new_key(sim_calm)
    engine = make_engine(sim_calm, key, secret, store=store, levels=3, rehearsal_s=None)
    written: list[bytes] = []
    send = lean_http._Connection.send

    def spy_send(self, data, timeout_s):  # noqa: ANN001, ANN202
        written.append(data)
        return send(self, data, timeout_s)

    monkeypatch.setattr(lean_http._Connection, "send", spy_send)
    async with running(engine):
        runner = engine.runners[0]
        await wait_for(lambda: two_sided(engine) and runner.rehearsable(), "idle, quoting")
        venue = engine.sessions[0].venue
        prepared: list[tuple[object, ...]] = []
        rehearse_place = venue.rest.rehearse_place

        def spy_prepare(*args):  # noqa: ANN002, ANN202
            prepared.append(args)
            return rehearse_place(*args)

        monkeypatch.setattr(venue.rest, "rehearse_place", spy_prepare)
        submitted: list[object] = []
        submit = engine.writer.submit
        monkeypatch.setattr(engine.writer, "submit", lambda job: submitted.append(job))
        # In one go, so that nothing else runs meanwhile: any change is the rehearsals' doing.
        before, written_before = _state(engine), len(written)
        for _ in range(20):
            for _step in runner.rehearsal():
                pass
        after = _state(engine)
        monkeypatch.setattr(engine.writer, "submit", submit)
        assert len(prepared) == 20, "every rehearsal went as far as preparing an order"
        symbol, side, qty, price, client_id = prepared[0]
        assert symbol == "XRPUSDT" and qty > 0 and price > 0
        assert client_id.startswith("lbt") and client_id not in runner.om.orders
        assert len(written) == written_before, "nothing was sent"
        assert submitted == [], "nothing was handed to the store"
        assert after == before


async def test_an_engine_rehearsing_quotes_as_usual(sim_calm, store) -> None:
    _, key, secret = await new_key(sim_calm)
    engine = make_engine(sim_calm, key, secret, store=store, levels=2, rehearsal_s=0.001)
    async with running(engine):
        runner = engine.runners[0]
        await wait_for(lambda: runner.obligation.met, "obligations met")
        await wait_for(lambda: engine.rehearsals.runs >= 50, "rehearsals ran")
        assert engine.rehearsals.failures == 0
        assert runner.errors == 0
    assert engine.rehearsals._loop is None, "rehearsals stop with the engine"


async def test_no_rehearsal_while_quoting_is_off(sim_calm, store) -> None:
    _, key, secret = await new_key(sim_calm)
    engine = make_engine(sim_calm, key, secret, store=store, rehearsal_s=None)
    async with running(engine):
        runner = engine.runners[0]
        await wait_for(lambda: two_sided(engine), "quoting")
        runner.risk._kill_reason = "test: kill switch"
        assert not runner.rehearsable()
        assert list(runner.rehearsal()) == []
