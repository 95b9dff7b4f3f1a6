"""`liquidity-bot sim ...`: serve the simulated exchange."""

from __future__ import annotations

import ipaddress
import logging
from pathlib import Path
from typing import Annotated

import typer

from bitrue_sim.stream_settings import StreamSettings

app = typer.Typer(help="The Bitrue-compatible simulator on loopback.", no_args_is_help=True)

log = logging.getLogger(__name__)

DIALECTS = ("bitrue", "binance")


@app.callback()
def _sim() -> None:
    """The Bitrue-compatible simulator (keeps `sim` a command group even with one command)."""


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="Loopback address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port (0 picks a free one).")] = 8080,
    seed: Annotated[int, typer.Option(help="Seed: same seed, same ids and books.")] = 0,
    admin_token: Annotated[
        str | None,
        typer.Option(help="Token for the X-Sim-Admin header; without it the admin API is off."),
    ] = None,
    scenario: Annotated[str, typer.Option(help="Synthetic market scenario name.")] = "calm",
    symbols: Annotated[
        str | None,
        typer.Option(help="Comma-separated markets the scenario animates (default: every "
                          "listed market, so any configured market has a live book)."),
    ] = None,
    faults: Annotated[
        Path | None, typer.Option(help="TOML fault profile to inject (see profiles/).")
    ] = None,
    ban_scale: Annotated[
        float, typer.Option(help="Multiplies every rate-limit window and ban (tests: 0.01).")
    ] = 1.0,
    no_rate_limits: Annotated[
        bool, typer.Option("--no-rate-limits", help="Turn rate limiting off.")
    ] = False,
    ping_interval: Annotated[
        float, typer.Option(help="Market stream: seconds between server pings.")
    ] = StreamSettings.ping_interval_s,
    pong_timeout: Annotated[
        float, typer.Option(help="Market stream: seconds without a pong before closing.")
    ] = StreamSettings.pong_timeout_s,
    depth_interval_ms: Annotated[
        int, typer.Option(help="Market stream: minimum ms between two depth pushes.")
    ] = StreamSettings.depth_min_interval_ms,
    user_idle_timeout: Annotated[
        float, typer.Option(help="User stream: seconds of client silence before closing.")
    ] = StreamSettings.user_idle_timeout_s,
    user_max_lifetime: Annotated[
        float, typer.Option(help="User stream: maximum connection lifetime in seconds.")
    ] = StreamSettings.user_max_lifetime_s,
    tls_cert: Annotated[
        Path | None, typer.Option(help="PEM certificate (chain): serve HTTPS and WSS.")
    ] = None,
    tls_key: Annotated[
        Path | None, typer.Option(help="PEM private key of --tls-cert.")
    ] = None,
    exchange: Annotated[
        str, typer.Option(help="Wire dialect to serve over the same core: bitrue or binance.")
    ] = "bitrue",
    markets: Annotated[
        int, typer.Option(help="Also list this many made-up markets, MK01USDT, MK02USDT, ... "
                               "(varied prices and ticks; base assets MK01, MK02, ...).")
    ] = 0,
) -> None:
    """Serve every REST and WebSocket path of the simulator (Bitrue's, or Binance's with
    --exchange binance) on one loopback port."""
    from aiohttp import web

    from bitrue_sim.server.app import create_app
    from bitrue_sim.server.state import SimConfig, SimState

    try:
        if not ipaddress.ip_address(host).is_loopback:
            raise typer.BadParameter("the simulator only listens on loopback (127.0.0.0/8, ::1)")
    except ValueError as exc:
        raise typer.BadParameter(f"{host!r} is not an IP address; use 127.0.0.1") from exc
    exchange = exchange.strip().lower()
    if exchange not in DIALECTS:
        raise typer.BadParameter(f"unknown exchange {exchange!r}; the simulator speaks "
                                 f"{', '.join(DIALECTS)}", param_hint="--exchange")
    if faults is not None and not faults.is_file():
        raise typer.BadParameter(f"fault profile {faults} does not exist")
    if ban_scale <= 0:
        raise typer.BadParameter("--ban-scale must be > 0")
    tls = None
    if (tls_cert is None) != (tls_key is None):
        raise typer.BadParameter("give both --tls-cert and --tls-key (or neither: plain HTTP)")
    if tls_cert is not None and tls_key is not None:
        from bitrue_sim.server.runner import TlsFilesError, server_tls_context

        try:
            tls = server_tls_context(tls_cert, tls_key)
        except TlsFilesError as exc:
            raise typer.BadParameter(str(exc)) from exc
    try:
        streams = StreamSettings(
            ping_interval_s=ping_interval,
            pong_timeout_s=pong_timeout,
            depth_min_interval_ms=depth_interval_ms,
            user_idle_timeout_s=user_idle_timeout,
            user_max_lifetime_s=user_max_lifetime,
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    from bitrue_sim.core.synthetic import MAX_SYNTHETIC, listed_markets

    if not 0 <= markets <= MAX_SYNTHETIC:
        raise typer.BadParameter(f"must be within 0..{MAX_SYNTHETIC}, got {markets}",
                                 param_hint="--markets")
    listed = tuple(m.symbol for m in listed_markets(markets))
    if symbols is None:
        chosen = listed
    else:
        chosen = tuple(s.strip().upper() for s in symbols.split(",") if s.strip())
        unknown = [s for s in chosen if s not in listed]
        if unknown or not chosen:
            raise typer.BadParameter(f"unknown market(s) {unknown or symbols!r}; the simulator "
                                     f"lists {', '.join(listed)}", param_hint="--symbols")
    config = SimConfig(
        symbols=chosen,
        host=host,
        port=port,
        seed=seed,
        admin_token=admin_token,
        ban_scale=ban_scale,
        scenario=scenario,
        faults_path=faults,
        rate_limits=not no_rate_limits,
        stream_settings=streams,
        dialect=exchange,
        synthetic_markets=markets,
    )
    state = SimState.build(config)
    application = create_app(state)
    shown = ", ".join(chosen) if len(chosen) <= 10 else \
        f"{', '.join(chosen[:5])} ... {chosen[-1]} ({len(chosen)} markets)"
    typer.echo(f"bitrue_sim ({exchange} dialect): seed {seed}, scenario {scenario} on {shown}; "
               "Ctrl+C stops it")
    # access_log=None: request lines carry signatures, which must never be logged.
    # print=typer.echo shows the real address (also when --port 0 picked one).
    web.run_app(application, host=host, port=port, access_log=None, print=typer.echo,
                ssl_context=tls)
