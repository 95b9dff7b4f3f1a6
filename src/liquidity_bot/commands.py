"""The bot's sub-commands: ``run``, ``export``, ``demo`` and ``cancel-all`` (registered by
``cli.py``). Command-line code: each command imports what it uses when it runs, so that
``liquidity-bot --help`` loads none of it."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import msgspec
import typer
from rich.console import Console

log = logging.getLogger(__name__)

EXIT_ERROR = 1
# ``run``: orders of ours may still rest on the exchange (a supervisor should run cancel-all)
EXIT_LEFT_OPEN = 4


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
    """Quote every configured market until SIGINT/SIGTERM/SIGHUP/SIGQUIT; then cancel all of
    our orders."""
    import signal as _signal

    from liquidity_bot.engine.runner import STOP_SIGNALS

    # From here on a stop signal is kept, not fatal (see main below): one that arrives while
    # the config is read or the keys gate verifies still gets an earlier run's orders cancelled.
    # (SIGINT keeps its KeyboardInterrupt until the engine's loop runs: Ctrl-C at the
    # passphrase prompt must still end the command.)
    early: list[str] = []
    for sig in STOP_SIGNALS:
        if sig == _signal.SIGINT:
            continue
        with contextlib.suppress(ValueError, OSError):
            _signal.signal(sig, lambda signum, _frame: early.append(_signal.Signals(signum).name))
    from liquidity_bot.alerts import AlertDispatcher, AlertMonitor, ChannelError, build_channels
    from liquidity_bot.app import address_governors, build_engine, open_sessions
    from liquidity_bot.config import dashboard_token_from_env
    from liquidity_bot.engine.runner import summary
    from liquidity_bot.keys.audit import store_mirror
    from liquidity_bot.keys.credentials import passphrase_for_service
    from liquidity_bot.keys.home import InputRefused, KeysHome
    from liquidity_bot.keys.policy import PolicyError
    from liquidity_bot.store import Store
    from liquidity_bot.terminal_view import view_for
    from liquidity_bot.web.dashboard import DashboardError

    home = _home(ctx)
    console = Console()
    cfg = _markets_config(config, home, "nothing to quote")
    warn_if_infeasible(cfg, config, console)
    try:  # before the passphrase: an alert channel that cannot work is said at once
        channels = build_channels(cfg.alerts.channels)
    except ChannelError as exc:
        _die(str(exc))
        return
    if dashboard_port is not None and not 0 <= dashboard_port <= 65535:
        _die("--dashboard-port: use 0 (a free port) to 65535")
    try:
        passphrase = passphrase_for_service()
    except InputRefused as exc:
        _die(str(exc))
        return

    async def main() -> dict:
        import asyncio

        # a stop signal during start-up (the gate takes seconds) is kept, not fatal: the engine
        # then starts only to adopt and cancel what an earlier run left, and exits
        loop = asyncio.get_running_loop()
        for sig in STOP_SIGNALS:
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, early.append, sig.name)
        # one governor per source address for the whole command: the gate's probes and the
        # refused keys' clean-up count against the same per-IP window as the trading
        governors = address_governors(cfg)
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
            # a refused key trades nothing, but orders of ours an earlier run left with it
            # must not rest unmanaged: they are cancelled (only cancelled) right away
            refused_left = await cancel_for_refused_keys(
                cfg, home, passphrase, list(refused), cfg.shutdown_timeout_s,
                report=lambda m: console.print(m, markup=False), store=store)
            if not sessions:
                monitor.stopping(None, "no key passed the keys gate", crashed=True)
                raise SystemExit(
                    "no key passed the keys gate; nothing trades:\n" + "\n".join(refused.values())
                    + "".join(f"\n{what}" for what in refused_left.get("problems", []))
                    + "".join(f"\nstill open: {line}" for line in refused_left["lines"])
                )
            engine = build_engine(cfg, sessions, store=store, store_kpis=no_dashboard)
            if early:
                log.warning("%s received while starting: cancelling our orders, then exiting",
                            early[0])
                engine.stopped_by = early[0]
                engine.stop()
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
                with terminal_safe_view(view_for(console, alerts=dispatcher)) as view:
                    update = terminal_safe(view.update)
                    if bridge is not None:
                        bridge.chain(update)
                        bridge.chain(monitor.on_tick)
                        engine.before_flush.append(bridge.close)
                    else:
                        engine.on_tick = lambda e: (update(e), monitor.on_tick(e))
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
            result = summary(engine)
            result["rate_limit_waits"] = sum(g.waits for g in governors)
            result["left_open"] += refused_left["orders"]
            if refused_left["problems"]:
                result["refused_keys_unchecked"] = refused_left["problems"]
            return result
        finally:
            await dispatcher.close(timeout_s=5.0)
            store.close()

    try:
        from liquidity_bot.engine import runtime

        result = runtime.run(main())
    except SystemExit as exc:
        # no key passed: 4 still says that orders of ours (listed) may rest on the exchange
        _die(str(exc), EXIT_LEFT_OPEN if "\nstill open: " in str(exc) else EXIT_ERROR)
        return
    except (DashboardError, PolicyError) as exc:
        _die(str(exc))
        return
    except KeyboardInterrupt:
        _die("interrupted", 130)
        return
    import json

    try:
        console.print_json(json.dumps(result))
        code = run_exit_code(result, Console(stderr=True))
    except OSError:  # the terminal is gone (SIGHUP): the exit status still tells
        with open(os.devnull, "w") as null:
            code = run_exit_code(result, Console(file=null))
    if code:
        raise typer.Exit(code)


@contextlib.contextmanager
def terminal_safe_view(view_cm: Any) -> Iterator[Any]:
    """The terminal view's context, whose closing (a last redraw) does not fail once the
    terminal is gone: the run's own outcome decides the exit status."""
    view = view_cm.__enter__()
    try:
        yield view
    finally:
        try:
            view_cm.__exit__(None, None, None)
        except OSError as exc:
            log.warning("terminal view not closed (%s)", exc)


def terminal_safe(update: Any) -> Any:
    """``update`` that stops drawing, instead of failing the caller, once the terminal is gone
    (a closed SSH session: SIGHUP, then EIO on every write); the engine trades on and then
    shuts down cleanly."""
    broken = False

    def safe(engine: Any) -> None:
        nonlocal broken
        if broken:
            return
        try:
            update(engine)
        except OSError as exc:
            broken = True
            log.warning("terminal view stopped (%s)", exc)

    return safe


async def cancel_for_refused_keys(cfg: Any, home: Path, passphrase: str, labels: list[str],
                                  deadline_s: float, report: Any,
                                  store: Any = None) -> dict[str, Any]:
    """Cancel the orders of ours that rest on the accounts of keys the gate refused (left by
    an earlier run): ``{"orders": [left open, as in the summary], "lines": [...], "problems":
    [keys or markets that could not be checked]}``."""
    from liquidity_bot.cancel_all import cancel_all, keys_from_vault
    from liquidity_bot.keys.vault import VaultError

    empty: dict[str, Any] = {"orders": [], "lines": [], "problems": []}
    if not labels:
        return empty
    import asyncio

    try:
        exchanges = {m.key_label: m.exchange for m in cfg.markets if m.key_label in labels}
        keys, problems = await asyncio.to_thread(keys_from_vault, home, passphrase, exchanges)
    except VaultError as exc:
        return {**empty, "problems": [f"cannot open the vault to check refused keys: {exc}"]}
    sub = msgspec.structs.replace(cfg, markets=tuple(m for m in cfg.markets
                                                     if m.key_label in labels))

    def note(o: Any) -> None:  # the store's record of each cancel request (audit, pacing)
        if store is None:
            return
        from liquidity_bot.engine.persistence import now_ms
        from liquidity_bot.store import OrderEventRecord

        store.record_order_event(OrderEventRecord(o.client_order_id, "CANCEL_REQUEST",
                                                  now_ms(), detail={"by": "refused-key clean-up"}))

    res = await cancel_all(sub, keys, deadline_s=deadline_s,
                           report=lambda m: report(f"refused key: {m}"), on_request=note)
    return {
        "orders": [{"key": o.key_label, "symbol": o.symbol, "client_order_id": o.client_order_id,
                    "side": o.side, "price": f"{o.price:f}", "qty": f"{o.qty:f}"}
                   for o in res.left],
        "lines": [o.line() for o in res.left],
        "problems": problems + res.errors,
    }


def run_exit_code(result: dict[str, Any], err: Console) -> int:
    """``run``'s exit status from its summary: EXIT_LEFT_OPEN when orders of ours may still be
    open (each one printed), EXIT_ERROR when no market quoted at all, else 0."""
    left = result.get("left_open") or []
    counted = sum(int(m.get("open_after_shutdown") or 0) for m in result["markets"].values())
    unchecked = (result.get("refused_keys_unchecked") or []) + (result.get("unchecked") or [])
    for what in unchecked:
        err.print(f"error: {what}", markup=False)
    if left or counted or unchecked:
        err.print(f"error: {max(counted, len(left))} orders of ours may still be open on the "
                  "exchange (Bitrue does not cancel them when the bot stops)"
                  + (", and some keys' orders could not be checked" if unchecked else "") + ":",
                  markup=False)
        for o in left:
            err.print(f"  key {o['key']!r} {o['symbol']} {o['client_order_id']} {o['side']} "
                      f"{o['qty']} @ {o['price']}", markup=False)
        err.print("Cancel them with `liquidity-bot cancel-all --config CONFIG` (or on the "
                  "exchange's page); the next `run` also adopts and manages them.", markup=False)
        return EXIT_LEFT_OPEN
    markets = result["markets"]
    if markets and all("failed" in m for m in markets.values()):
        err.print("error: no market quoted: " + "; ".join(
            f"{sym}: {m['failed']}" for sym, m in markets.items()), markup=False)
        return EXIT_ERROR
    return 0


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
    tls: Annotated[
        bool, typer.Option("--tls", help="HTTPS and WSS with a throw-away CA, as real Bitrue "
                                         "is TLS only.")
    ] = False,
    scenario: Annotated[
        str, typer.Option(help="Simulated market: altcoin (a thin altcoin pair), or a stress "
                               "test: calm, volatile, trending, flash-crash, thin.")
    ] = "altcoin",
    two_exchanges: Annotated[
        bool, typer.Option("--two-exchanges", help="Quote XRPUSDT on two simulated exchanges "
                                                   "at once: Bitrue (native) and Binance's "
                                                   "spot API (through ccxt).")
    ] = False,
) -> None:
    """Simulator + key onboarding + live quoting of XRPUSDT, all on loopback; the report and
    all state end up under the home directory."""
    from liquidity_bot.demo import DemoError, run_demo

    if not 0 <= dashboard_port <= 65535:
        _die("--dashboard-port: use 0 (a free port) to 65535")
    console = Console()
    try:
        from liquidity_bot.engine import runtime

        runtime.run(run_demo(_home(ctx), duration, console, dashboard_port=dashboard_port,
                             tls=tls, scenario=scenario, two_exchanges=two_exchanges))
    except DemoError as exc:
        _die(str(exc))
    except KeyboardInterrupt:
        console.print("interrupted before quoting started; nothing was left open", markup=False)
        raise typer.Exit(130) from None


def _markets_config(config: Path, home: Path, nothing: str) -> Any:
    """The config at ``config``, with at least one market; otherwise a clear exit."""
    from liquidity_bot.config import ConfigError, load_config

    try:
        cfg = load_config(config, home=home)
    except ConfigError as exc:
        _die(str(exc))
    if not cfg.markets:
        _die(f"{config}: no [[markets]] configured; {nothing}")
    return cfg


def warn_if_infeasible(cfg: object, path: Path, console: Console) -> None:
    """Say at start what in the config cannot meet the obligations within the budget."""
    from liquidity_bot.engine.feasibility import check

    for problem in check(cfg):  # type: ignore[arg-type]
        console.print(f"warning: {path}: {problem}", markup=False)


def cancel_all_cmd(
    ctx: typer.Context,
    config: Annotated[Path, typer.Option("--config", "-c", help="The bot's TOML config.")],
    timeout: Annotated[
        float, typer.Option(help="Seconds to keep cancelling through exchange errors.")
    ] = 30.0,
) -> None:
    """Cancel every open order with our client-id prefixes, for every key of the config.

    For operators, and as a service manager's post-stop step (Bitrue has no
    cancel-on-disconnect). Exits 0 when none of ours is left open, 4 when some are (listed),
    1 when a key or market could not be checked."""
    from liquidity_bot.cancel_all import cancel_all, keys_from_vault
    from liquidity_bot.keys.credentials import passphrase_for_service
    from liquidity_bot.keys.home import InputRefused
    from liquidity_bot.keys.vault import VaultError

    home = _home(ctx)
    if not 0 < timeout <= 3600:
        _die("--timeout: use more than 0 and at most 3600 seconds")
    cfg = _markets_config(config, home, "there is nothing of ours to cancel")
    try:
        passphrase = passphrase_for_service()
    except InputRefused as exc:
        _die(str(exc))
        return
    out, err = Console(), Console(stderr=True)
    try:
        keys, problems = keys_from_vault(home, passphrase,
                                         {m.key_label: m.exchange for m in cfg.markets})
    except VaultError as exc:
        _die(f"cannot open the vault under {home}: {exc}")
        return

    from liquidity_bot.engine import runtime

    result = runtime.run(cancel_all(
        cfg, keys, deadline_s=timeout, report=lambda m: out.print(m, markup=False)))
    del keys
    problems += result.errors
    out.print(f"cancelled {len(result.cancelled)} orders of ours", markup=False)
    for p in problems:
        err.print(f"error: {p}", markup=False)
    if result.left:
        err.print(f"error: {len(result.left)} orders of ours are still open:", markup=False)
        for o in result.left:
            err.print(f"  {o.line()}", markup=False)
        err.print("Run cancel-all again, or cancel them on the exchange's page.", markup=False)
        raise typer.Exit(EXIT_LEFT_OPEN)
    if problems:
        raise typer.Exit(EXIT_ERROR)


def register(app: typer.Typer) -> None:
    app.command("cancel-all")(cancel_all_cmd)
    app.command("run")(run_cmd)
    app.command("export")(export_cmd)
    app.command("demo")(demo_cmd)
