"""`liquidity-bot keys ...`: intake, verification and hygiene of API keys."""

import typer

app = typer.Typer(help="API keys: add, verify, list, review, rotate, remove.", no_args_is_help=True)
