"""The simulator's streaming side, plugged into the REST server's app with ``install``.

``install(app, state)`` adds the market WebSocket (``/market/ws``), the user WebSocket
(``/stream?listenKey=``), fault injection (a middleware, ``GET/POST /sim/admin/faults``) and,
when ``state.config.scenario`` names one, synthetic market participants ticking on the wall
clock. The streams listen to the exchange's events (``Exchange.subscribe``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import tomllib
from dataclasses import replace
from typing import Any

from aiohttp import WSCloseCode, web

from bitrue_sim.errors import ExchangeError
from bitrue_sim.faults import (
    FaultInjector,
    FaultProfile,
    FaultProfileError,
    error_body,
    load_profile,
)
from bitrue_sim.stream_settings import StreamSettings
from bitrue_sim.ws.connection import StreamConnection
from bitrue_sim.ws.market import MarketStreams, depth_channel
from bitrue_sim.ws.user import UserStreams

__all__ = ["HUB_KEY", "StreamHub", "StreamSettings", "depth_channel", "install"]

log = logging.getLogger(__name__)

STREAM_PATHS = frozenset({"/market/ws", "/stream"})
PARTICIPANT_TICK_S = 0.1
MAX_PARTICIPANT_LAG_MS = 5_000


class StreamHub:
    """Shared state of the streaming side: settings, both stream kinds, fault hooks."""

    def __init__(self, state: Any, settings: StreamSettings | None = None) -> None:
        self.state = state
        self.settings = settings or StreamSettings()
        self.seed = int(getattr(state.config, "seed", 0) or 0)
        if _dialect(state) == "binance":
            from bitrue_sim.ws.binance import BinanceMarketStreams, BinanceUserStreams

            self.market: Any = BinanceMarketStreams(self)
            self.user: Any = BinanceUserStreams(self)
        else:
            self.market = MarketStreams(self)
            self.user = UserStreams(self)
        self.participants: Any = None
        self._tasks: list[asyncio.Task] = []

    def configure(self, **changes: Any) -> StreamSettings:
        """Replace settings fields (tests shrink intervals); returns the new settings."""
        self.settings = replace(self.settings, **changes)
        return self.settings

    def on_exchange_event(self, event: object) -> None:
        """Exchange listener: never lets a stream problem fail the exchange call."""
        try:
            self.market.on_exchange_event(event)
            self.user.on_exchange_event(event)
        except Exception:
            log.exception("stream fan-out failed for %s", type(event).__name__)

    async def apply_ws_faults(self, stream: str, conn: StreamConnection) -> bool:
        """Draw a WebSocket fault for ``conn``; True when the connection was dropped."""
        faults = self.state.faults
        if faults is None:
            return False
        action = faults.ws(stream, self.settings.fault_check_s)
        if action is None:
            return False
        kind, value = action
        if kind == "disconnect":
            if value:
                conn.abort()
            else:
                await conn.close(WSCloseCode.GOING_AWAY, "server going away (simulated)")
            return True
        conn.stall(value)
        return False

    def connections(self) -> list[StreamConnection]:
        return [*self.market.connections, *self.user.connections]

    async def close_all(self, _app: web.Application | None = None) -> None:
        for conn in self.connections():
            await conn.close(WSCloseCode.GOING_AWAY, "server shutdown")

    # ---- background work ----
    async def start_background(self, _app: web.Application) -> None:
        self._tasks.append(asyncio.create_task(self._listen_key_faults(), name="lk-faults"))
        if self.participants is not None:
            self._tasks.append(asyncio.create_task(self._run_participants(), name="participants"))

    async def stop_background(self, _app: web.Application) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()

    async def _listen_key_faults(self) -> None:
        while True:
            interval = self.settings.fault_check_s
            await asyncio.sleep(interval)
            faults = self.state.faults
            if faults is None:
                continue
            for key in sorted({c.listen_key for c in self.user.connections if c.listen_key}):
                if faults.invalidate_listen_key(interval):
                    faults.count("listen_key_invalidation")
                    self.state.listen_keys.invalidate(key)
                    self.user.close_listen_key(key)

    async def _run_participants(self) -> None:
        clock = self.state.exchange.clock
        while True:
            now = clock.now_ms()
            try:
                self.participants.skip_to(now - MAX_PARTICIPANT_LAG_MS)  # no catch-up storms
                self.participants.step(now)
            except Exception:  # keep the market alive; the failure is logged once per tick
                log.exception("synthetic participants failed to step")
            await asyncio.sleep(PARTICIPANT_TICK_S)


HUB_KEY = web.AppKey("bitrue_sim_streams", StreamHub)


def _dialect(state: Any) -> str:
    return getattr(getattr(state, "config", None), "dialect", "bitrue")


def _fault_path(state: Any, path: str) -> tuple[bool, str]:
    """(is a stream path, the Bitrue path fault profiles name) for the state's dialect."""
    if _dialect(state) == "binance":
        from bitrue_sim.server.binance.app import FAULT_PATHS, STREAM_PREFIXES

        return path.startswith(STREAM_PREFIXES), FAULT_PATHS.get(path, path)
    return path in STREAM_PATHS, path


def _fault_body(state: Any, status: int, code: int, msg: str) -> dict[str, Any]:
    if _dialect(state) == "binance":
        from bitrue_sim.server.binance.errors import translate

        out = translate(ExchangeError(status, code, msg))
        return {"code": out.code, "msg": out.msg}
    return {"code": code, "msg": msg}


def _admin_refusal(request: web.Request, state: Any) -> web.Response | None:
    """The REST admin API's own rule (loopback caller, ``X-Sim-Admin`` token)."""
    try:
        from bitrue_sim.server.admin import require_admin
    except ImportError:  # pragma: no cover - the REST server is part of the package
        return web.json_response({"code": 403, "msg": "The admin API is not available."},
                                 status=403)
    try:
        require_admin(request)
    except ExchangeError as exc:
        return web.json_response({"code": exc.code, "msg": exc.msg}, status=exc.http_status)
    return None


def _fault_middleware(state: Any):
    @web.middleware
    async def fault_middleware(request: web.Request, handler):
        faults = state.faults
        is_stream, path = _fault_path(state, request.path)
        if faults is None or not faults.enabled or is_stream or \
                path.startswith("/sim/admin"):
            return await handler(request)
        fault = faults.http(request.method, path)
        if fault.delay_ms:
            await asyncio.sleep(fault.delay_ms / 1000)
        if fault.reject_status is not None:
            return web.json_response(
                _fault_body(state, fault.reject_status, fault.reject_code, fault.reject_msg),
                status=fault.reject_status, headers=dict(fault.reject_headers))
        if fault.after_status is None:
            return await handler(request)
        code, msg = error_body(fault.after_status)
        try:
            await handler(request)  # the call IS executed; the client only sees a 5xx
        except Exception:  # noqa: BLE001 - whatever it answered, the client sees the 5xx
            pass
        return web.json_response(_fault_body(state, fault.after_status, code, msg),
                                 status=fault.after_status)

    return fault_middleware


def _fault_routes(state: Any) -> list[web.RouteDef]:
    async def get_faults(request: web.Request) -> web.Response:
        refusal = _admin_refusal(request, state)
        if refusal is not None:
            return refusal
        return web.json_response(state.faults.snapshot())

    async def post_faults(request: web.Request) -> web.Response:
        refusal = _admin_refusal(request, state)
        if refusal is not None:
            return refusal
        text = await request.text()
        try:
            if request.content_type in ("application/toml", "text/plain"):
                data = tomllib.loads(text)  # the same text as a --faults file
            else:
                data = json.loads(text or "{}")
            profile = FaultProfile.from_mapping(data, "POST /sim/admin/faults body")
        except (json.JSONDecodeError, tomllib.TOMLDecodeError, FaultProfileError) as exc:
            return web.json_response({"code": -1102, "msg": f"{exc}; send a JSON object (or "
                                      "TOML with Content-Type application/toml) shaped like "
                                      "a profiles/*.toml file"}, status=400)
        state.faults.apply(profile)
        state.faults.apply_clock_skew(state.exchange.clock)
        return web.json_response(state.faults.snapshot())

    return [web.get("/sim/admin/faults", get_faults), web.post("/sim/admin/faults", post_faults)]


def install(app: web.Application, state: Any, settings: StreamSettings | None = None) -> StreamHub:
    """Add streams, faults and participants to the REST server's ``app`` (before it starts)."""
    config = state.config
    if settings is None:
        settings = getattr(config, "stream_settings", None)
    hub = StreamHub(state, settings)
    seed = hub.seed
    profile = load_profile(getattr(config, "faults_path", None))
    state.faults = FaultInjector(profile, seed, state.exchange.clock.now_ms)
    state.faults.apply_clock_skew(state.exchange.clock)
    scenario = getattr(config, "scenario", None)
    if scenario:
        from bitrue_sim.scenarios import build_market

        hub.participants = build_market(state.exchange, scenario, seed,
                                        getattr(config, "symbols", None))
        # no API key can reach the participants' accounts: their account events have no reader
        for account_id in (hub.participants.maker_account, hub.participants.taker_account):
            state.exchange.set_account_events(account_id, False)
        hub.participants.step(state.exchange.clock.now_ms())  # the opening book, at once
    state.exchange.subscribe(hub.on_exchange_event)
    state.listen_keys.on_invalidated(lambda key, _account, _reason: _close_key(hub, key))
    app[HUB_KEY] = hub
    extras = getattr(state, "extras", None)
    if isinstance(extras, dict):
        extras["streams"] = hub
    if _dialect(state) == "binance":
        from bitrue_sim.ws.binance import add_routes

        add_routes(app, hub)
    else:
        app.router.add_get("/market/ws", hub.market.handle)
        app.router.add_get("/stream", hub.user.handle)
    app.router.add_routes(_fault_routes(state))
    app.middlewares.append(_fault_middleware(state))
    app.on_startup.append(hub.start_background)
    app.on_shutdown.append(hub.close_all)
    app.on_cleanup.append(hub.stop_background)
    return hub


def _close_key(hub: StreamHub, key: str) -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    hub.user.close_listen_key(key)
