"""A loopback receiver for alert messages: what the demo shows, and what the tests post to.

It accepts any POST with a JSON body on 127.0.0.1, records it, and answers the way the real
services do (Telegram's ``{"ok": true, "result": ...}``, Slack's ``ok``, a webhook's 200).
``mode="never"`` accepts the connection and the request and never answers: a dead receiver.
``fail_first=N`` answers the first N requests with 500 (retries).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web

__all__ = ["AlertReceiver", "Received"]


@dataclass(frozen=True)
class Received:
    path: str
    body: Any


@dataclass
class AlertReceiver:
    """``async with AlertReceiver() as rx: rx.url`` ... ``rx.received``."""

    mode: Literal["ok", "never"] = "ok"
    fail_first: int = 0
    host: str = "127.0.0.1"
    received: list[Received] = field(default_factory=list)
    requests: int = 0  # every request seen, answered or not
    url: str = ""
    _runner: web.AppRunner | None = None
    _hung: list[asyncio.Future[None]] = field(default_factory=list)
    _arrived: asyncio.Event | None = None

    async def __aenter__(self) -> AlertReceiver:
        app = web.Application()
        app.router.add_route("POST", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://{self.host}:{port}"
        self._arrived = asyncio.Event()
        return self

    async def __aexit__(self, *exc: object) -> None:
        for f in self._hung:
            f.cancel()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.requests += 1
        if self.mode == "never":
            hang: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._hung.append(hang)
            await hang  # until the client gives up or the receiver closes
        if self.fail_first > 0:
            self.fail_first -= 1
            return web.Response(status=500, text="try again")
        try:
            body = await request.json()
        except (ValueError, UnicodeDecodeError):
            return web.Response(status=400, text="invalid_payload")
        self.received.append(Received(request.path, body))
        if self._arrived is not None:
            self._arrived.set()
        if request.path.endswith("/sendMessage"):
            return web.json_response({"ok": True, "result": {
                "message_id": len(self.received), "chat": {"id": body.get("chat_id")},
                "text": body.get("text")}})
        if "text" in body and "alerts" not in body:
            return web.Response(text="ok")  # Slack's answer
        return web.json_response({"received": len(self.received)})

    async def wait_for(self, n: int, timeout_s: float = 10.0) -> list[Received]:
        """Until ``n`` messages arrived (TimeoutError otherwise)."""
        assert self._arrived is not None

        async def enough() -> None:
            while len(self.received) < n:
                self._arrived.clear()  # type: ignore[union-attr]
                await self._arrived.wait()  # type: ignore[union-attr]

        await asyncio.wait_for(enough(), timeout_s)
        return self.received

    def texts(self) -> list[str]:
        """Each message as text, whatever its format (webhook, Slack, Telegram)."""
        out = []
        for r in self.received:
            b = r.body
            if isinstance(b, dict) and "alerts" in b:
                out.append("\n".join(a.get("text", "") for a in b["alerts"]))
            elif isinstance(b, dict):
                out.append(str(b.get("text", "")))
            else:
                out.append(json.dumps(b))
        return out
