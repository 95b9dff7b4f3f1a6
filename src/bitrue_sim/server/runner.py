"""``SimServer``: the whole simulator on a loopback port inside a test or benchmark.

    async with SimServer(port=0, seed=0) as sim:
        sim.base_url   # "http://127.0.0.1:PORT": every REST (and WebSocket) path
                       # ("https://..." and wss with ``tls=server_tls_context(cert, key)``)
        sim.exchange, sim.keys, sim.listen_keys, sim.rate_limiter, sim.app, sim.state

Pass ``exchange=Exchange(clock=ManualClock(...))`` to drive time by hand (rate-limit windows,
bans, listen-key expiry and recvWindow all follow the exchange clock). Pass
``stream_settings=StreamSettings(ping_interval_s=0.05, ...)`` for short WebSocket timings.
``synthetic_markets=50`` lists MK01USDT..MK50USDT too (``core.synthetic``); ``symbols`` names the
markets the scenario animates (default: the scenario's own).
"""

from __future__ import annotations

import ssl
from pathlib import Path

from aiohttp import web

from bitrue_sim.core.exchange import Exchange
from bitrue_sim.server.app import create_app
from bitrue_sim.server.state import SimConfig, SimState
from bitrue_sim.stream_settings import StreamSettings


class TlsFilesError(ValueError):
    """A certificate or key file that cannot be served; the message says which and why."""


def server_tls_context(cert: str | Path, key: str | Path) -> ssl.SSLContext:
    """A TLS server context from PEM files (``cert`` may hold the chain): HTTPS and WSS on the
    same port, as Bitrue serves them."""
    for what, path in (("certificate", cert), ("key", key)):
        if not Path(path).is_file():
            raise TlsFilesError(f"TLS {what} file {path} does not exist")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        ctx.load_cert_chain(str(cert), str(key))
    except (ssl.SSLError, OSError) as exc:
        raise TlsFilesError(
            f"cannot serve TLS with certificate {cert} and key {key}: {exc} (both must be PEM, "
            "and the key must match the certificate)"
        ) from None
    return ctx


class SimServer:
    """Async context manager running the simulator app on ``host:port`` (0 = a free port)."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int = 0,
        admin_token: str | None = "test-admin",
        ban_scale: float = 1.0,
        exchange: Exchange | None = None,
        scenario: str | None = None,
        faults_path: Path | None = None,
        rate_limits: bool = True,
        seed_books: bool = True,
        stream_settings: StreamSettings | None = None,
        tls: ssl.SSLContext | None = None,
        dialect: str = "bitrue",
        symbols: tuple[str, ...] | None = None,
        synthetic_markets: int = 0,
    ) -> None:
        self.tls = tls
        self.config = SimConfig(
            host=host,
            port=port,
            seed=seed,
            admin_token=admin_token,
            ban_scale=ban_scale,
            scenario=scenario,
            faults_path=Path(faults_path) if faults_path is not None else None,
            rate_limits=rate_limits,
            seed_books=seed_books,
            stream_settings=stream_settings,
            dialect=dialect,
            symbols=symbols,
            synthetic_markets=synthetic_markets,
        )
        self.state = SimState.build(self.config, exchange)
        self.app = create_app(self.state)
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    @property
    def exchange(self) -> Exchange:
        return self.state.exchange

    @property
    def keys(self):
        return self.state.keys

    @property
    def listen_keys(self):
        return self.state.listen_keys

    @property
    def rate_limiter(self):
        return self.state.rate_limiter

    @property
    def admin_token(self) -> str | None:
        return self.config.admin_token

    @property
    def base_url(self) -> str:
        if self.port is None:
            raise RuntimeError("SimServer is not running: use 'async with SimServer() as sim'")
        scheme = "https" if self.tls is not None else "http"
        return f"{scheme}://{self.config.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return "ws" + self.base_url[len("http"):]

    async def start(self) -> SimServer:
        runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self.config.host, self.config.port, ssl_context=self.tls)
        await site.start()
        self._runner = runner
        self.port = runner.addresses[0][1] if runner.addresses else self.config.port
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> SimServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
