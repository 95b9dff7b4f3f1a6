"""Binance's streams over the shared core: market streams (``/ws``, ``/ws/<stream>``,
``/stream?streams=``), the listen-key user stream (``/ws/<listenKey>``) and the WebSocket API
user-data subscription (``/ws-api/v3``, ``userDataStream.subscribe.signature``), which current
ccxt uses for spot.

Wire facts (binance-spot-api-docs ``web-socket-streams.md``, ``user-data-stream.md``,
``web-socket-api.md``): text JSON frames; the server pings every 20 s and drops a client that
does not pong (aiohttp's heartbeat here); ``{"method":"SUBSCRIBE","params":[...],"id":N}`` is
answered ``{"result":null,"id":N}``; combined streams wrap each payload as
``{"stream":name,"data":payload}``.
"""

from __future__ import annotations

from aiohttp import web

from bitrue_sim.ws.binance.market import BinanceMarketStreams
from bitrue_sim.ws.binance.user import BinanceUserStreams

__all__ = ["BinanceMarketStreams", "BinanceUserStreams", "add_routes"]


def add_routes(app: web.Application, hub) -> None:
    """The stream paths. ``/ws/<name>``: a live listen key opens the user stream; a name with
    ``@`` opens that market stream; any other name (ccxt connects to ``/ws/0``, ``/ws/1``...)
    opens a raw market connection that streams what it SUBSCRIBEs to, as Binance does."""

    async def ws_named(request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if "@" in name:
            return await hub.market.handle(request, initial=name.split("/"))
        if hub.state.listen_keys.validate(name) is not None:
            return await hub.user.handle_listen_key(request, name)
        return await hub.market.handle(request)

    app.router.add_get("/ws", hub.market.handle)
    app.router.add_get("/ws/{name:.+}", ws_named)
    app.router.add_get("/stream", hub.market.handle_combined)
    app.router.add_get("/ws-api/v3", hub.user.handle_ws_api)
