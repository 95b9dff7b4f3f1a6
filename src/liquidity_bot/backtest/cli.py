"""`liquidity-bot backtest`: the configured markets on a simulated scenario, in virtual time.

Registered by the main CLI as ``app.command("backtest")(backtest)``. The run writes its own
store (never the live one) and the same report a live run gets from ``liquidity-bot report``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def backtest(
    ctx: typer.Context,
    config: Annotated[Path, typer.Option("--config", "-c", help="The bot's TOML config.")],
    scenario: Annotated[str, typer.Option(
        help="altcoin, calm, volatile, trending, flash-crash or thin.")] = "volatile",
    hours: Annotated[float, typer.Option(help="Simulated hours.")] = 24.0,
    seed: Annotated[int, typer.Option(help="Market seed: same seed, same result.")] = 0,
    db: Annotated[str | None, typer.Option(
        "--db", help="Store URL for this run (default: a fresh SQLite file under "
                     "{home}/backtests).")] = None,
    out: Annotated[Path | None, typer.Option(
        "--out", help="Report file (default: next to the default store).")] = None,
    fmt: Annotated[str, typer.Option("--format", help="Report format: html, json or csv.")
                   ] = "html",
    latency_ms: Annotated[int, typer.Option(help="Simulated request round trip.")] = 40,
) -> None:
    """Run the configured strategies and order manager on simulated time; write the report."""
    import logging

    from rich.console import Console
    from rich.table import Table

    from bitrue_sim.scenarios import SCENARIOS
    from liquidity_bot.backtest.runner import run_backtest
    from liquidity_bot.config import ConfigError, load_config
    from liquidity_bot.reporting.report import FORMATS

    console = Console()
    obj = ctx.obj or {}
    home = Path(obj.get("home") or Path.home() / ".liquidity-bot").expanduser()
    if fmt not in FORMATS:
        raise typer.BadParameter(f"use one of: {', '.join(FORMATS)}", param_hint="--format")
    if scenario not in SCENARIOS:
        raise typer.BadParameter(f"unknown scenario; choose one of: {', '.join(SCENARIOS)}",
                                 param_hint="--scenario")
    if hours <= 0:
        raise typer.BadParameter("must be > 0", param_hint="--hours")
    try:
        cfg = load_config(config, home=home)
    except ConfigError as exc:
        console.print(f"error: {exc}", markup=False)
        raise typer.Exit(2) from None
    from liquidity_bot.commands import warn_if_infeasible

    warn_if_infeasible(cfg, config, console)
    stem = f"backtest-{scenario}-{hours:g}h-seed{seed}"
    if db is None:
        folder = home / "backtests"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{stem}.db"
        for old in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            old.unlink(missing_ok=True)  # a fresh store: the report is of this run only
        db = f"sqlite:///{path}"
        out = out or folder / f"{stem}.{fmt}"
    out = out or Path(f"{stem}.{fmt}")
    # The engine's per-order warnings would drown the summary; errors still show.
    logging.getLogger("liquidity_bot.engine").setLevel(logging.ERROR)
    console.print(f"backtest: {', '.join(m.symbol for m in cfg.markets)} on {scenario!r}, "
                  f"{hours:g} simulated h, seed {seed} ...", markup=False)
    try:
        result = run_backtest(cfg, scenario=scenario, hours=hours, seed=seed, store_url=db,
                              latency_ms=latency_ms, report_path=out, report_format=fmt)
    except ValueError as exc:
        console.print(f"error: {exc}", markup=False)
        raise typer.Exit(2) from None
    table = Table(title=f"Backtest {scenario}, {hours:g} h, seed {seed}: "
                        f"{result.wall_s:.1f} s wall")
    for col in ("market", "uptime", "placed", "cancels", "fills", "PnL (quote)", "errors"):
        table.add_column(col)
    for m in result.markets:
        up = "-" if m.uptime is None else f"{m.uptime * 100:.2f} %"
        table.add_row(m.symbol, up, str(m.orders_placed), str(m.cancel_requests), str(m.fills),
                      str(m.pnl_quote), str(m.errors))
    console.print(table)
    console.print(f"order requests: {result.order_requests} "
                  f"({result.order_requests_per_minute:.1f}/min; max "
                  f"{result.max_order_requests_per_window} in any 60 s; "
                  f"{result.rate_limited} answered 429)", markup=False)
    console.print(f"store: {db}", markup=False)
    console.print(f"report: {result.report_path}", markup=False)
