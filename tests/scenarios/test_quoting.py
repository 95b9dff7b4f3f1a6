"""Quoting against the simulator: both sides within obligations, skew after a fill, stale feed."""

from __future__ import annotations

from decimal import Decimal

from .conftest import (
    SYMBOL,
    admin,
    make_engine,
    new_key,
    our_open_orders,
    rest,
    running,
    two_sided,
    wait_for,
    wait_for_async,
)


async def test_quotes_appear_on_both_sides_within_obligations(sim_calm, store):
    _, key, secret = await new_key(sim_calm)
    engine = make_engine(sim_calm, key, secret, store=store, levels=3, spread="0.3")
    async with rest(sim_calm, key, secret) as client, running(engine):
        runner = engine.runners[0]
        await wait_for(lambda: runner.obligation.met, "obligations met from our own quotes")
        orders = await our_open_orders(client)
        bids = [o for o in orders if o.side == "BUY"]
        asks = [o for o in orders if o.side == "SELL"]
        assert bids and asks, orders
        best_bid = max(o.price for o in bids)
        best_ask = min(o.price for o in asks)
        mid = runner.book.mid
        assert mid is not None
        obligations = runner.config.obligations
        assert (best_ask - best_bid) / mid * 100 <= obligations.max_spread_pct
        bid_depth = sum(o.price * (o.origQty - o.executedQty) for o in bids
                        if o.price >= mid * Decimal("0.98"))
        ask_depth = sum(o.price * (o.origQty - o.executedQty) for o in asks
                        if o.price <= mid * Decimal("1.02"))
        assert bid_depth >= obligations.min_depth_2pct_quote
        assert ask_depth >= obligations.min_depth_2pct_quote
        # The live view shows the same facts (rendered without a terminal here).
        from rich.console import Console

        from liquidity_bot.terminal_view import PlainView, render

        console = Console(record=True, width=160, force_terminal=False)
        ours = runner.om.resting()  # read in the same event-loop step as the rendering
        console.print(render(engine))
        PlainView(console).update(engine)
        shown = console.export_text()
        assert "XRPUSDT" in shown and "obligations" in shown and "order budget" in shown
        for order in ours:
            assert f"{order.price:,.4f}" in shown
        # Every order carries our prefix and went through the store.
        stored = {o.client_order_id for o in store.orders()}
        assert {o.clientOrderId for o in orders} <= stored
    assert store.kpi_samples(SYMBOL), "obligation samples are stored"
    async with rest(sim_calm, key, secret) as client:
        assert await our_open_orders(client) == [], "shutdown cancels everything"


async def test_partial_fill_shifts_inventory_and_skews_quotes(sim_quiet, store):
    _, key, secret = await new_key(sim_quiet)
    # A tight ladder, so our bid is the best bid and a seller meets it first.
    engine = make_engine(sim_quiet, key, secret, store=store, levels=1, spread="0.06",
                         size="100")
    _, tkey, tsecret = await new_key(sim_quiet, {"XRP": "100000", "USDT": "0"}, label="taker")
    async with rest(sim_quiet, tkey, tsecret) as taker, running(engine):
        runner = engine.runners[0]
        om = runner.om
        await wait_for(lambda: two_sided(engine), "two-sided quotes")
        await wait_for(lambda: runner.last_quotes is not None, "a quote set")
        bid = next(o for o in om.resting() if o.side.value == "BUY")
        await wait_for(lambda: runner.book.best_bid[0] == bid.price,
                       "the book shows our bid as the best bid")
        before = runner.last_quotes.diagnostics
        half = (bid.qty / 2).quantize(Decimal("0.1"))
        await taker.place_order(SYMBOL, "SELL", half, bid.price, order_type="LIMIT")
        await wait_for(lambda: om.stats.fills >= 1, "our partial fill arrives")
        assert om.orders[bid.client_order_id].order.filled_qty == half
        await wait_for(lambda: len(store.fills(SYMBOL)) == 1, "the fill is stored once")
        fill = store.fills(SYMBOL)[0]
        assert fill.qty == half and fill.client_order_id == bid.client_order_id
        base_fee = fill.fee if fill.fee_asset == "XRP" else 0
        assert om.base_traded == half - base_fee  # inventory net of a fee paid in base
        # Inventory moved (balances from the user stream), so the ladder leans against it.
        await wait_for(
            lambda: runner.last_quotes is not None
            and runner.last_quotes.diagnostics.get("inventory_deviation_base", 0)
            > before["inventory_deviation_base"],
            "quotes computed with the new inventory",
        )
        after = runner.last_quotes.diagnostics
        assert after["skew_shift_pct"] < before["skew_shift_pct"]
        assert after["bid_size_factor"] < before["bid_size_factor"]
        assert after["ask_size_factor"] > before["ask_size_factor"]
        # The half-filled bid leaves the bid depth short: one top-up order goes out beside it
        # (one request, not a cancel and a replacement), and the filled one keeps its place.
        await wait_for(
            lambda: sum(o.side.value == "BUY" for o in om.resting()) >= 2,
            "the bid depth is topped up",
        )
        assert om.orders[bid.client_order_id].order.is_open
        assert om.stats.cancel_requests == 0


async def test_stale_feed_pulls_quotes_and_fresh_feed_restores_them(sim_calm):
    _, key, secret = await new_key(sim_calm)
    engine = make_engine(sim_calm, key, secret, stale_after_s=1.0)
    async with rest(sim_calm, key, secret) as client, running(engine):
        runner = engine.runners[0]
        await wait_for(lambda: two_sided(engine), "two-sided quotes")
        # The market stream goes silent (connection open, nothing sent).
        await admin(sim_calm, "POST", "/sim/admin/faults", {
            "ws_stall": {"per_minute": 60000, "duration_s": 4, "streams": ["market"]},
        })
        await wait_for(lambda: runner.status == "pulled", "quotes pulled on stale data")
        await admin(sim_calm, "POST", "/sim/admin/faults", {})

        async def none_open() -> bool:
            return await our_open_orders(client) == []

        await wait_for_async(none_open, "no order of ours left on the exchange")
        assert runner.pulls >= 1
        await wait_for(lambda: runner.status == "quoting" and two_sided(engine),
                       "quotes back once the feed is fresh", timeout=20)


async def test_avellaneda_quotes_both_sides_with_online_estimates(sim_calm, store):
    """A market configured with ``strategy = "avellaneda"``: the runner feeds its estimator
    with books (and our own resting sizes and fills), the strategy quotes both sides within the
    obligations, using the estimator's volatility once it is warm."""
    from liquidity_bot.config import parse_config
    from liquidity_bot.engine.runner import Engine, KeySession
    from liquidity_bot.strategies.avellaneda import _pct
    from liquidity_bot.strategies.estimators import MarketEstimator
    from liquidity_bot.venues.bitrue.factory import bitrue_venue

    from .conftest import CONFIG

    text = CONFIG.format(base_url=sim_calm.base_url, levels=2, spread="0.3", size="50", ticks=2,
                         loss_limit="100000", on_loss="minimum", recv_window=5000,
                         prefix="lbav")
    ladder = text[text.index("[markets.ladder]"):text.index("[markets.obligations]")]
    text = text.replace('strategy = "ladder"', 'strategy = "avellaneda"').replace(
        ladder, '[markets.avellaneda]\norder_size_quote = "60"\nlevels = 2\ngamma = "0.1"\n'
                'vol_window_s = 30\nmax_spread_pct = "0.8"\n\n')
    cfg = parse_config(text)
    assert cfg.markets[0].strategy == "avellaneda"
    _, key, secret = await new_key(sim_calm)
    venue = bitrue_venue(cfg, key, secret, [SYMBOL])
    session = KeySession("scenario", venue, list(cfg.markets))
    engine = Engine([session], all_markets=cfg.markets, store=store, stale_after_s=60.0,
                    kpi_interval_s=0.2)
    async with rest(sim_calm, key, secret) as client, running(engine):
        runner = engine.runners[0]
        estimator = runner.estimator
        assert isinstance(estimator, MarketEstimator), "the runner built the market's estimator"
        await wait_for(lambda: runner.obligation.met, "obligations met by Avellaneda quotes")
        orders = await our_open_orders(client, prefix="lbav")
        assert {o.side for o in orders} == {"BUY", "SELL"}
        # A quicker-warming estimator of the same kind (30 samples take ~10 s in this market):
        # the runner feeds whichever it holds, and the strategy prices with its estimates.
        warm_soon = MarketEstimator(vol_window_s=30, kappa_default=1.5, min_vol_samples=5)
        runner.estimator = warm_soon
        await wait_for(lambda: warm_soon.volatility.warm, "the volatility estimate warms up")
        default_sigma = _pct(float(cfg.markets[0].avellaneda.sigma_default_pct))
        await wait_for(lambda: runner.last_quotes is not None
                       and runner.last_quotes.diagnostics["sigma_pct"] != default_sigma,
                       "a quote set priced with the estimated volatility")
        await wait_for(lambda: two_sided(engine), "still two-sided")
