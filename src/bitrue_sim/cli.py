"""`liquidity-bot sim ...`: serve the simulated exchange."""

import typer

app = typer.Typer(help="The Bitrue-compatible simulator on loopback.", no_args_is_help=True)
