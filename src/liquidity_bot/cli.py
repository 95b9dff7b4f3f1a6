"""The single `liquidity-bot` command; each concept's sub-commands live beside that concept."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bitrue_sim.cli import app as sim_app
from liquidity_bot.alerts.cli import app as alerts_app
from liquidity_bot.backtest.cli import backtest as backtest_command
from liquidity_bot.chaos import chaos_command
from liquidity_bot.engine.commands import register as register_engine_commands
from liquidity_bot.keys.cli import app as keys_app
from liquidity_bot.reporting.cli import report as report_command

app = typer.Typer(
    help="liquidity-bot: security-first market making for Bitrue.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(sim_app, name="sim")
app.add_typer(keys_app, name="keys")
app.add_typer(alerts_app, name="alerts")
register_engine_commands(app)
app.command("report")(report_command)
app.command("backtest")(backtest_command)
app.command("chaos")(chaos_command)


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
    ctx.obj = {"home": (home or Path.home() / ".liquidity-bot").expanduser()}


def main() -> None:
    app()


if __name__ == "__main__":
    main()
