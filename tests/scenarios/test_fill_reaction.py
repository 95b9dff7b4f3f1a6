"""A fill on the user stream reaches the order manager while its frame is handled (no loop turn
in between: ``Capabilities.listen_orders``), and the filled level is quoted again."""

from __future__ import annotations

from .conftest import SYMBOL, make_engine, new_key, rest, running, two_sided, wait_for


async def test_a_fill_is_applied_in_its_frame_and_the_level_is_quoted_again(sim_quiet, store):
    keys = [await new_key(sim_quiet), await new_key(sim_quiet, {"XRP": "100000", "USDT": "0"},
                                                   label="taker")]
    # one level a side, tight: our bid is the best bid and the taker's sell meets it first
    engine = make_engine(sim_quiet, *keys[0][1:], store=store, levels=1, spread="0.06",
                         size="100")
    async with rest(sim_quiet, *keys[1][1:]) as taker, running(engine):
        runner, venue = engine.runners[0], engine.sessions[0].venue
        om = runner.om
        assert venue.capabilities.listen_orders
        await wait_for(lambda: two_sided(engine), "two-sided quotes")
        bid = next(o for o in om.resting() if o.side.value == "BUY")
        await wait_for(lambda: runner.book.best_bid[0] == bid.price,
                       "the book shows our bid as the best bid")
        in_frame = [False]
        handle = venue.user.handle_text

        def handled(data):  # noqa: ANN001, ANN202
            in_frame[0] = True
            try:
                return handle(data)
            finally:
                in_frame[0] = False

        applied_in_frame: list[bool] = []
        on_fill = om.on_fill

        def applied(fill):  # noqa: ANN001, ANN202
            applied_in_frame.append(in_frame[0])
            on_fill(fill)

        venue.user.handle_text, om.on_fill = handled, applied
        await taker.place_order(SYMBOL, "SELL", bid.qty, bid.price, order_type="LIMIT")
        await wait_for(lambda: om.stats.fills >= 1, "our fill arrives")
        assert applied_in_frame and all(applied_in_frame), applied_in_frame
        assert venue.fills_from_stream >= 1 and venue.fills_from_rest == 0
        await wait_for(lambda: any(o.side.value == "BUY" and o.client_order_id
                                   != bid.client_order_id for o in om.resting()),
                       "the filled bid's level quoted again")
        await wait_for(lambda: len(store.fills(SYMBOL)) == len(applied_in_frame),
                       "each fill stored once")
