"""C21 canary: a full connector session with a canary secret leaves no credential anywhere.

Everything the process logs (all loggers, DEBUG, BEFORE any redaction filter) and every
exception message raised on the way is searched for the secret, every signature that was sent
and every listen key that was used.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from liquidity_bot import logs
from liquidity_bot.domain.order import Side
from liquidity_bot.venues.bitrue.errors import BitrueError
from liquidity_bot.venues.bitrue.urls import BitrueUrls
from liquidity_bot.venues.bitrue.venue import BitrueVenue

sys.path.insert(0, str(Path(__file__).parent))
from _connector_helpers import SYMBOL, TICK, best_bid_ask, client_for, wait_for  # noqa: E402


async def test_c21_canary_session_leaks_nothing(sim, make_key, caplog):
    caplog.set_level(logging.DEBUG)
    account_id, key, secret = await make_key(sim)
    _, tkey, tsecret = await make_key(sim)
    venue = BitrueVenue(
        BitrueUrls.single(sim.base_url), key, secret, [SYMBOL], poll_interval_s=0.05
    )
    venue.user.backoff.initial_s = venue.user.backoff.max_s = 0.05
    signatures: list[str] = []
    real_signer = venue.rest._signer

    class RecordingSigner:
        def sign(self, query: str, body: str = "") -> str:
            sig = real_signer.sign(query, body)
            signatures.append(sig)
            return sig

    venue.rest._signer = RecordingSigner()  # type: ignore[assignment]
    errors: list[str] = []
    listen_keys: list[str] = []
    async with venue, client_for(sim, tkey, tsecret) as taker:
        await wait_for(venue.user.connected.is_set, what="user stream")
        listen_keys.append(sim.listen_keys.active_key(account_id))
        bid, _ = await best_bid_ask(taker)
        await venue.place(SYMBOL, Side.BUY, Decimal(10), bid + TICK, "canary-1")
        await taker.place_order(SYMBOL, "SELL", Decimal(4), bid + TICK)
        await venue.cancel(SYMBOL, client_order_id="canary-1")
        reject = await venue.cancel(SYMBOL, client_order_id="canary-1")
        errors.append(repr(reject))
        assert await venue.query(SYMBOL, client_order_id="never") is None
        for call in (
            venue.rest.withdraw_history("USDT"),
            venue.rest.futures_account(),
            venue.rest.keepalive_listen_key("not-a-real-listen-key"),
        ):
            with pytest.raises(BitrueError) as exc:
                await call
            errors.extend([str(exc.value), repr(exc.value)])
        sim.listen_keys.invalidate(listen_keys[0])
        await wait_for(lambda: venue.user.keys_created >= 2, what="new key")
        await wait_for(venue.user.connected.is_set, what="reconnected")
        listen_keys.append(sim.listen_keys.active_key(account_id))
        await asyncio.sleep(0.2)  # let fallback polls and stream traffic log what they log
    async with client_for(sim, key, secret + "x") as wrong:  # a refused signature
        with pytest.raises(BitrueError) as exc:
            await wrong.account()
        errors.extend([str(exc.value), repr(exc.value), repr(wrong)])

    assert signatures and all(listen_keys)
    canaries = [secret, *signatures, *listen_keys]
    texts = (
        [r.getMessage() for r in caplog.records]
        + [str(r.args) for r in caplog.records if r.args]
        + errors
        + [repr(venue.user), repr(venue.rest)]
    )
    for text in texts:
        for canary in canaries:
            assert canary not in text
    assert len(caplog.records) > 0  # the session did log (there was something to search)
    # The listen keys and the secret are registered with the redaction layer as well.
    for value in (secret, *listen_keys):
        assert value not in logs.redact(f"x {value} y")
