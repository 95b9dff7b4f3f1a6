"""The single `liquidity-bot` command; each concept's sub-commands live beside that concept."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from bitrue_sim.cli import app as sim_app
from liquidity_bot.alerts.cli import app as alerts_app
from liquidity_bot.backtest.cli import backtest as backtest_command
from liquidity_bot.chaos import chaos_command
from liquidity_bot.commands import register as register_engine_commands
from liquidity_bot.keys.cli import app as keys_app
from liquidity_bot.obligation_audit.cli import app as audit_app
from liquidity_bot.reporting.cli import report as report_command
from liquidity_bot.sweep import sweep_command

app = typer.Typer(
    help="liquidity-bot: security-first market making for Bitrue.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(sim_app, name="sim")
app.add_typer(keys_app, name="keys")
app.add_typer(alerts_app, name="alerts")
app.add_typer(audit_app, name="audit")
register_engine_commands(app)
app.command("report")(report_command)
app.command("backtest")(backtest_command)
app.command("chaos")(chaos_command)
app.command("sweep")(sweep_command)


@app.callback()
def _global(
    ctx: typer.Context,
    log_format: Annotated[str, typer.Option(help="Log format: text or json.")] = "text",
    log_level: Annotated[str, typer.Option(help="Log level.")] = "INFO",
    home: Annotated[
        Path | None,
        typer.Option(envvar="LIQUIDITY_BOT_HOME", help="State directory (default ~/.liquidity-bot)."),
    ] = None,
) -> None:
    from liquidity_bot.logs import configure_logging

    if log_format not in ("text", "json"):
        raise typer.BadParameter("use 'text' or 'json'", param_hint="--log-format")
    if log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise typer.BadParameter(
            "use DEBUG, INFO, WARNING, ERROR or CRITICAL", param_hint="--log-level"
        )
    configure_logging(fmt=log_format, level=log_level.upper())
    root = (home or Path.home() / ".liquidity-bot").expanduser()
    _tighten_home(root)
    ctx.obj = {"home": root}


def _tighten_home(root: Path) -> None:
    """An existing home made loose (0755, a copied backup) holds the database, reports and audit
    log: make it private again, and say so."""
    import logging

    from liquidity_bot.keys.home import secure_home

    try:
        changed = secure_home(root)
    except OSError as exc:
        logging.getLogger(__name__).warning("could not make %s private (%s)", root, exc)
        return
    if changed:
        logging.getLogger(__name__).warning(
            "%s was readable by other users: made %d entries private (directories 0700, files "
            "0600)", root, len(changed)
        )


def main() -> None:
    # Every file the bot creates (database, reports, logs) is private from the start.
    os.umask(0o077)
    app()


if __name__ == "__main__":
    main()
