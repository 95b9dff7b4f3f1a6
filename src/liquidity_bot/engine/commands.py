"""The engine's sub-commands: ``run``, ``export`` and ``demo`` (registered by ``cli.py``)."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

EXIT_ERROR = 1


def _home(ctx: typer.Context) -> Path:
    obj = ctx.obj or {}
    return Path(obj.get("home") or Path.home() / ".liquidity-bot").expanduser()


def _die(message: str, code: int = EXIT_ERROR) -> None:
    Console(stderr=True).print(f"error: {message}", markup=False)
    raise typer.Exit(code)


def run_cmd(
    ctx: typer.Context,
    config: Annotated[Path, typer.Option("--config", "-c", help="The bot's TOML config.")],
    canary_source: Annotated[
        str | None,
        typer.Option(help="Address of this machine NOT on the key's allow list (proves the "
                          "IP restriction when the gate re-verifies the key)."),
    ] = None,
    no_reverify: Annotated[
        bool, typer.Option("--no-reverify", help="Trust the last recorded verification "
                                                 "(if younger than the policy allows).")
    ] = False,
    duration: Annotated[
        float | None, typer.Option(help="Stop after this many seconds (default: until Ctrl-C).")
    ] = None,
    dashboard_port: Annotated[
        int | None, typer.Option(help="Dashboard port (default: [dashboard] port of the config; "
                                      "0 picks a free one).")
    ] = None,
    no_dashboard: Annotated[
        bool, typer.Option("--no-dashboard", help="Serve no dashboard and no /metrics.")
    ] = False,
) -> None:
    """Quote every configured market until SIGINT/SIGTERM; then cancel all of our orders."""
    from liquidity_bot.alerts import AlertDispatcher, AlertMonitor, ChannelError, build_channels
    from liquidity_bot.config import ConfigError, dashboard_token_from_env, load_config
    from liquidity_bot.engine.runner import Engine, open_sessions, summary
    from liquidity_bot.keys.audit import store_mirror
    from liquidity_bot.keys.home import InputRefused, KeysHome, read_passphrase
    from liquidity_bot.keys.policy import PolicyError
    from liquidity_bot.store import Store
    from liquidity_bot.terminal_view import view_for
    from liquidity_bot.web.dashboard import DashboardError

    home = _home(ctx)
    console = Console()
    try:
        cfg = load_config(config, home=home)
    except ConfigError as exc:
        _die(str(exc))
        return
    if not cfg.markets:
        _die(f"{config}: no [[markets]] configured; nothing to quote")
    warn_if_infeasible(cfg, config, console)
    try:  # before the passphrase: an alert channel that cannot work is said at once
        channels = build_channels(cfg.alerts.channels)
    except ChannelError as exc:
        _die(str(exc))
        return
    if dashboard_port is not None and not 0 <= dashboard_port <= 65535:
        _die("--dashboard-port: use 0 (a free port) to 65535")
    try:
        passphrase = read_passphrase(confirm=False)
    except InputRefused as exc:
        _die(str(exc))
        return

    async def main() -> dict:
        store = Store(cfg.store.url)
        store.create_schema()
        a = cfg.alerts
        dispatcher = AlertDispatcher(channels, queue_size=a.queue_size, reminder_s=a.reminder_s,
                                     clear_after_s=a.clear_after_s)
        await dispatcher.start()
        for ch in channels:
            console.print(f"alerts: {ch.name} ({ch.kind}, {ch.min_severity} and up)",
                          markup=False)
        monitor = AlertMonitor(dispatcher, a, keys_home=home)
        try:
            sessions, refused = await open_sessions(
                cfg, home=KeysHome(home, audit_mirror=store_mirror(store)), passphrase=passphrase,
                canary_source=canary_source, reverify=not no_reverify,
                report=lambda m: console.print(m, markup=False),
            )
            for label, why in refused.items():
                monitor.refused_at_start(label, why)
            if not sessions:
                monitor.stopping(None, "no key passed the keys gate", crashed=True)
                raise SystemExit(
                    "no key passed the keys gate; nothing trades:\n" + "\n".join(refused.values())
                )
            engine = Engine(sessions, all_markets=cfg.markets, store=store,
                            recv_window_ms=cfg.bitrue.recv_window,
                            kpi_interval_s=cfg.kpi_interval_s, store_kpis=no_dashboard,
                            reverify_after_s=cfg.keys.reverify_after_s,
                            rehearsal_interval_s=cfg.rehearsal_interval_ms / 1000,
                            order_target=cfg.order_target_per_minute)
            bridge = server = None
            if not no_dashboard:
                bridge, server = await start_engine_dashboard(
                    engine, cfg, home, console,
                    port=cfg.dashboard.port if dashboard_port is None else dashboard_port,
                    token=dashboard_token_from_env(),
                )
                if bridge is None:
                    engine.store_kpis = True  # no dashboard: the market loops store the KPIs
            if bridge is not None:  # the alerts read what the dashboard and /metrics read
                monitor.samplers, monitor.metrics = bridge.samplers, bridge.metrics
                dispatcher.metrics = bridge.metrics
                dispatcher.show_on(bridge.state)
            started = time.monotonic()
            try:
                with view_for(console, alerts=dispatcher) as view:
                    if bridge is not None:
                        bridge.chain(view.update)
                        bridge.chain(monitor.on_tick)
                        engine.before_flush.append(bridge.close)
                    else:
                        engine.on_tick = lambda e: (view.update(e), monitor.on_tick(e))
                    try:
                        await engine.run(duration)
                    except BaseException as exc:
                        monitor.stopping(engine, f"stopped by an error: {type(exc).__name__}",
                                         crashed=True)
                        raise
                    ran = time.monotonic() - started
                    monitor.stopping(engine, "stop signal" if duration is None or ran < duration
                                     else f"--duration {duration:g} s ended")
            finally:
                if server is not None:
                    await server.stop()
            return summary(engine)
        finally:
            await dispatcher.close(timeout_s=5.0)
            store.close()

    try:
        from liquidity_bot.engine import runtime

        result = runtime.run(main())
    except SystemExit as exc:
        _die(str(exc))
        return
    except (DashboardError, PolicyError) as exc:
        _die(str(exc))
        return
    except KeyboardInterrupt:
        _die("interrupted", 130)
        return
    import json

    console.print_json(json.dumps(result))


async def start_engine_dashboard(
    engine: Any, cfg: Any, home: Path, console: Console, *, port: int, token: str | None
) -> tuple[Any, Any]:
    """Serve the dashboard and /metrics for ``engine`` and print where; (None, None) when the
    port is taken (trading goes on without it). A non-loopback bind without a token raises
    ``DashboardError`` (the operator asked for something unsafe: say so before trading)."""
    from liquidity_bot.web.bridge import serve_engine

    try:
        bridge, server = await serve_engine(
            engine, host=cfg.dashboard.host, port=port, token=token, home=home,
            kpi_interval_s=cfg.kpi_interval_s, max_sse_clients=cfg.dashboard.max_sse_clients,
        )
    except OSError as exc:
        console.print(f"dashboard not started ({exc}); trading goes on without it. Choose "
                      "another port with --dashboard-port (0 picks a free one).", markup=False)
        return None, None
    console.print(f"dashboard: {server.url}  (metrics: {server.url}metrics)", markup=False)
    return bridge, server


def export_cmd(
    ctx: typer.Context,
    kind: Annotated[str, typer.Argument(help="orders, fills, order_events, balances, kpi or "
                                             "audit")],
    as_json: Annotated[bool, typer.Option("--json", help="JSON output (the only format).")] = True,
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="Config naming the store URL.")
    ] = None,
) -> None:
    """Print what the store holds (Decimals as exact strings)."""
    from liquidity_bot.config import ConfigError, load_config
    from liquidity_bot.store import Store

    home = _home(ctx)
    if config is not None:
        try:
            url = load_config(config, home=home).store.url
        except ConfigError as exc:
            _die(str(exc))
            return
    else:
        db = home / "liquidity-bot.db"
        if not db.exists():
            _die(f"no store at {db}: pass --config, or --home of a bot (or demo) state directory")
        url = f"sqlite:///{db}"
    store = Store(url)
    try:
        store.create_schema()
        text = store.export_json(kind)
    except ValueError as exc:
        _die(str(exc))
        return
    finally:
        store.close()
    sys.stdout.write(text + "\n")


def demo_cmd(
    ctx: typer.Context,
    duration: Annotated[float, typer.Option(help="Seconds of quoting.")] = 60.0,
    dashboard_port: Annotated[
        int, typer.Option(help="Dashboard port on 127.0.0.1 (0 picks a free one).")
    ] = 0,
) -> None:
    """Simulator + key onboarding + live quoting of XRPUSDT, all on loopback; the report and
    all state end up under the home directory."""
    from liquidity_bot.demo import DemoError, run_demo

    if not 0 <= dashboard_port <= 65535:
        _die("--dashboard-port: use 0 (a free port) to 65535")
    console = Console()
    try:
        from liquidity_bot.engine import runtime

        runtime.run(run_demo(_home(ctx), duration, console, dashboard_port=dashboard_port))
    except DemoError as exc:
        _die(str(exc))
    except KeyboardInterrupt:
        console.print("interrupted before quoting started; nothing was left open", markup=False)
        raise typer.Exit(130) from None


def warn_if_infeasible(cfg: object, path: Path, console: Console) -> None:
    """Say at start what in the config cannot meet the obligations within the budget."""
    from liquidity_bot.engine.feasibility import check

    for problem in check(cfg):  # type: ignore[arg-type]
        console.print(f"warning: {path}: {problem}", markup=False)


def register(app: typer.Typer) -> None:
    app.command("run")(run_cmd)
    app.command("export")(export_cmd)
    app.command("demo")(demo_cmd)
