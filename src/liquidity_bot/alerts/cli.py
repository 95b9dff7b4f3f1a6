"""``liquidity-bot alerts test --config bot.toml``: one test message to every configured channel.

Run it after adding a channel: it proves the variable is set, the address or token is accepted,
and the message arrives where someone will read it. Exit 0 when every channel took the message,
1 when one did not (the line says why, never the address), 3 on usage errors.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

app = typer.Typer(help="Alert channels: webhook, Slack, Telegram.", no_args_is_help=True)

EXIT_FAILED = 1
EXIT_USAGE = 3


@app.command("test")
def test_cmd(
    ctx: typer.Context,
    config: Annotated[Path, typer.Option("--config", "-c", help="The bot's TOML config.")],
) -> None:
    """Send one test message to each alert channel of the config and say which arrived."""
    from liquidity_bot.alerts import AlertDispatcher, ChannelError, build_channels
    from liquidity_bot.alerts.model import Alert, Kind, Notice, Severity
    from liquidity_bot.config import ConfigError, load_config
    from liquidity_bot.engine import runtime

    console = Console()
    err = Console(stderr=True)
    home = Path((ctx.obj or {}).get("home") or Path.home() / ".liquidity-bot").expanduser()
    try:
        cfg = load_config(config, home=home)
        channels = build_channels(cfg.alerts.channels)
    except (ConfigError, ChannelError) as exc:
        err.print(f"error: {exc}", markup=False)
        raise typer.Exit(EXIT_USAGE) from None
    if not channels:
        err.print(f"error: {config}: no [[alerts.channels]] configured; nothing to test",
                  markup=False)
        raise typer.Exit(EXIT_USAGE)
    dispatcher = AlertDispatcher(channels)
    notice = Notice(Alert(
        Kind.TEST, Severity.INFO, "test message from liquidity-bot: this channel works",
        "nothing: real alerts will arrive here", detail=f"config {config}",
    ), "test")

    async def main() -> dict[str, str]:
        return await dispatcher.send_now(notice)

    results = runtime.run(main())
    failed = 0
    for ch in channels:
        outcome = results.get(ch.name, "failed")
        failed += outcome != "sent"
        console.print(f"{ch.name} ({ch.kind}): {outcome}", markup=False)
    if failed:
        err.print(f"{failed} channel(s) did not take the test message; the log says why",
                  markup=False)
        raise typer.Exit(EXIT_FAILED)
