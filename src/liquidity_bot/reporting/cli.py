"""`liquidity-bot report`: the client report of a period, read from the store.

Registered by the main CLI as ``app.command("report")(report)``. The database is the one the
bot writes: ``store.url`` of the config when a config is found (``--config``, else
``{home}/bot.toml`` if it exists), otherwise ``sqlite:///{home}/liquidity-bot.db``; ``--db``
overrides both. Obligation limits come from the config; without one the report still shows
the uptime the bot measured, but no limits.
"""

from __future__ import annotations

import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from liquidity_bot.domain.market_id import market_name

_RELATIVE = re.compile(r"^(\d+)\s*([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_time(text: str, now: datetime | None = None) -> int:
    """Milliseconds since the epoch from ISO 8601 (naive means UTC), epoch ms, or ``24h`` ago."""
    value = text.strip()
    now = now or datetime.now(UTC)
    m = _RELATIVE.match(value)
    if m:
        delta = timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})
        return int((now - delta).timestamp() * 1000)
    if value.isdigit():
        return int(value)
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise typer.BadParameter(
            f"cannot read time {text!r}: use ISO 8601 (2026-11-24 or 2026-11-24T13:00Z), "
            "milliseconds since the epoch, or a duration ago such as 24h or 7d"
        ) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1000)


def _load_config(config: Path | None, home: Path) -> Any:
    from liquidity_bot.config import ConfigError, load_config

    path = config or home / "bot.toml"
    if config is None and not path.exists():
        return None
    try:
        return load_config(path, home=home)
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


def report(
    ctx: typer.Context,
    from_: Annotated[
        str | None,
        typer.Option("--from", help="Start (ISO 8601 UTC, epoch ms, or ago: 24h, 7d)."),
    ] = None,
    to: Annotated[str | None, typer.Option("--to", help="End, exclusive (same forms).")] = None,
    fmt: Annotated[str, typer.Option("--format", help="html, json or csv.")] = "html",
    out: Annotated[Path | None, typer.Option("--out", help="Write here instead of stdout.")] = None,
    symbol: Annotated[
        list[str] | None, typer.Option("--symbol", help="Only this market (repeatable).")
    ] = None,
    config: Annotated[
        Path | None, typer.Option("--config", help="Bot config (default {home}/bot.toml).")
    ] = None,
    db: Annotated[str | None, typer.Option("--db", help="Database URL (overrides config).")] = None,
) -> None:
    """Client report of spread, depth and uptime against the obligations, with PnL and activity."""
    from liquidity_bot.reporting.report import FORMATS, build_report, markouts_csv, write
    from liquidity_bot.store import Store, StoreError

    if fmt not in FORMATS:
        raise typer.BadParameter(f"use one of: {', '.join(FORMATS)}", param_hint="--format")
    obj = ctx.obj or {}
    home = Path(obj.get("home") or Path.home() / ".liquidity-bot").expanduser()
    cfg = _load_config(config, home)
    url = db or (cfg.store.url if cfg is not None else f"sqlite:///{home}/liquidity-bot.db")
    if url.startswith("sqlite:///") and db is None and cfg is None:
        path = Path(url.removeprefix("sqlite:///"))
        if not path.exists():
            typer.echo(
                f"error: no database at {path}: run the bot (or the demo) first, or pass --db URL "
                "or --home DIR",
                err=True,
            )
            raise typer.Exit(2)
    from_ms = parse_time(from_) if from_ else None
    to_ms = parse_time(to) if to else None
    if from_ms is not None and to_ms is not None and to_ms <= from_ms:
        raise typer.BadParameter("--to must be after --from", param_hint="--to")
    obligations = ({market_name(m.exchange, m.symbol): m.obligations for m in cfg.markets}
                   if cfg is not None else None)
    interval_ms = int(cfg.kpi_interval_s * 1000) if cfg is not None else None
    try:
        store = Store(url)
    except StoreError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    try:
        store.create_schema()
        rep = build_report(
            store,
            from_ms=from_ms,
            to_ms=to_ms,
            symbols=symbol or None,
            obligations=obligations,
            interval_ms=interval_ms,
        )
        # the CSV streams the samples from the store again while it is written
        if out is None:
            write(rep, fmt, sys.stdout)
            return
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(out.name + ".tmp")
        with tmp.open("w", encoding="utf-8") as fh:
            write(rep, fmt, fh)
        tmp.replace(out)
        if fmt == "csv":  # one table per file: the markouts beside the samples
            extra = out.with_name(out.stem + ".markouts.csv")
            extra_tmp = extra.with_name(extra.name + ".tmp")
            extra_tmp.write_text(markouts_csv(rep), encoding="utf-8")
            extra_tmp.replace(extra)
    finally:
        store.close()
    n = sum(r.sample_count for r in rep.symbols)
    typer.echo(
        f"wrote {fmt} report of {len(rep.symbols)} market(s), {n} samples, to {out}", err=True
    )
