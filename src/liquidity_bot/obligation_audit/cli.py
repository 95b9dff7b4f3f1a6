"""`liquidity-bot audit`: the token project checks the obligations with its own read-only key.

    liquidity-bot audit --config audit.toml [--duration 3600] [--report-dir DIR]
    liquidity-bot audit report --config audit.toml --from 2026-11-01 --to 2026-12-01 --format html
    liquidity-bot audit compare --ours bot-report.json --theirs audit-report.json

The key is a vault label (``keys add --profile audit``); it is verified under the audit profile
before the first sample and refused, with the check that failed, if it could trade. Exit codes:
0 done; 1 the key was refused, the exchange stopped the audit, or (compare) an hour's uptimes
differ by more than the tolerance; 2 bad input.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from liquidity_bot.obligation_audit.config import AuditConfig

app = typer.Typer(
    help="Audit the market maker's obligations from the exchange's side (read-only key).",
    invoke_without_command=True,
    pretty_exceptions_enable=False,  # tracebacks print local variables: secrets
)

EXIT_REFUSED, EXIT_USAGE = 1, 2
REPORT_NAME = "audit-report"


def _die(message: str, code: int = EXIT_USAGE) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _home(ctx: typer.Context) -> Path:
    root = ctx.find_root()
    obj = root.obj if isinstance(root.obj, dict) else {}
    return Path(obj.get("home") or Path.home() / ".liquidity-bot").expanduser()


ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", help="Audit TOML (examples/audit.toml): markets and obligations."),
]
BotConfigOpt = Annotated[
    Path | None,
    typer.Option("--bot-config", help="Or take the markets and obligations from the bot's config."),
]
IntervalOpt = Annotated[
    float | None, typer.Option("--interval", help="Seconds between samples (default 1).")
]


def load(home: Path, config: Path | None, bot_config: Path | None, interval_s: float | None) -> AuditConfig:
    """The audit's configuration from exactly one of the two files; bad input exits 2."""
    from liquidity_bot.config import ConfigError, load_config
    from liquidity_bot.obligation_audit.config import (
        audit_config_from_bot,
        load_audit_config,
        with_interval,
    )

    if (config is None) == (bot_config is None):
        _die("give the obligations with exactly one of --config audit.toml or --bot-config bot.toml")
    try:
        if config is not None:
            cfg = load_audit_config(config, home=home)
            if interval_s is not None:
                cfg = with_interval(cfg, interval_s, source=str(config), home=home)
            return cfg
        assert bot_config is not None
        bot = load_config(bot_config, home=home)
        cfg = audit_config_from_bot(bot, home=home, source=str(bot_config))
        if interval_s is not None:
            cfg = with_interval(cfg, interval_s, source=str(bot_config), home=home)
        return cfg
    except ConfigError as exc:
        _die(str(exc))


def _obligations(cfg: AuditConfig) -> dict[str, Any]:
    return {m.symbol: m.obligations for m in cfg.markets}


def _write_reports(cfg: AuditConfig, store: Any, out_dir: Path, from_ms: int, to_ms: int) -> list[Path]:
    from liquidity_bot.obligation_audit.report import write_audit
    from liquidity_bot.obligation_audit.sampler import interval_ms
    from liquidity_bot.reporting.report import FORMATS, build_report

    rep = build_report(
        store,
        from_ms=from_ms,
        to_ms=to_ms,
        symbols=[m.symbol for m in cfg.markets],
        obligations=_obligations(cfg),
        interval_ms=interval_ms(cfg),
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for fmt in FORMATS:
        path = out_dir / f"{REPORT_NAME}.{fmt}"
        tmp = path.with_name(path.name + ".tmp")
        with tmp.open("w", encoding="utf-8") as fh:
            write_audit(rep, fmt, fh, store)
        tmp.replace(path)
        written.append(path)
    return written


@app.callback()
def audit(
    ctx: typer.Context,
    config: ConfigOpt = None,
    bot_config: BotConfigOpt = None,
    key: Annotated[
        str | None, typer.Option("--key", help="Vault label of the audit key (default: the config's).")
    ] = None,
    interval: IntervalOpt = None,
    duration: Annotated[
        float | None, typer.Option("--duration", help="Seconds to run (default: until stopped).")
    ] = None,
    base_url: Annotated[
        str | None, typer.Option("--base-url", help="Point every Bitrue address at one (the simulator).")
    ] = None,
    source_address: Annotated[
        str | None, typer.Option("--source-address", help="Send from this local address (on the key's allow list).")
    ] = None,
    canary_source: Annotated[
        str | None,
        typer.Option("--canary-source", help="A local address NOT on the key's allow list, to prove the restriction."),
    ] = None,
    report_dir: Annotated[
        Path | None, typer.Option("--report-dir", help="Write the run's report here (html, json, csv).")
    ] = None,
) -> None:
    """Sample the book and the account's open orders, measure the obligations, store, report."""
    if ctx.invoked_subcommand is not None:
        return
    if config is None and bot_config is None:
        typer.echo(ctx.get_help())
        raise typer.Exit(EXIT_USAGE)
    home = _home(ctx)
    cfg = load(home, config, bot_config, interval)
    if duration is not None and duration <= 0:
        _die("--duration must be positive")
    import msgspec

    bitrue = cfg.bitrue
    if base_url is not None:
        from liquidity_bot.config import ConfigError
        from liquidity_bot.obligation_audit.config import bitrue_at

        try:
            bitrue = bitrue_at(base_url)
        except ConfigError as exc:
            _die(str(exc))
    if source_address is not None:
        bitrue = msgspec.structs.replace(bitrue, source_address=source_address)
    cfg = msgspec.structs.replace(cfg, bitrue=bitrue)
    code = asyncio.run(_run(cfg, home, key or cfg.key_label, duration, canary_source, report_dir))
    raise typer.Exit(code)


async def _run(
    cfg: AuditConfig,
    home: Path,
    label: str,
    duration: float | None,
    canary_source: str | None,
    report_dir: Path | None,
) -> int:
    from liquidity_bot.keys.gate import KeyRefused, require_audit_key
    from liquidity_bot.keys.home import InputRefused, KeysHome, read_passphrase
    from liquidity_bot.keys.probers.bitrue import default_client_factory
    from liquidity_bot.keys.vault import VaultError
    from liquidity_bot.obligation_audit.sampler import AuditStopped, ObligationAudit
    from liquidity_bot.store import Store
    from liquidity_bot.venues.bitrue.factory import urls_of
    from liquidity_bot.venues.bitrue.rest import BitrueRestClient

    keys_home = KeysHome(home)
    if not keys_home.vault.exists():
        _die(f"no vault at {keys_home.vault}: add the audit key first (liquidity-bot keys add --profile audit)")
    urls = urls_of(cfg)
    source = cfg.bitrue.source_address

    def factory(u: Any, api_key: Any, secret: Any, **kw: Any) -> Any:
        kw.setdefault("source_address", source)
        return default_client_factory(u, api_key, secret, **kw)

    try:
        passphrase = read_passphrase(confirm=False)
        vk = await require_audit_key(
            label, home=keys_home, passphrase=passphrase, urls=urls,
            canary_source=canary_source, client_factory=factory,
        )
    except KeyRefused as exc:
        typer.echo(f"refused: {exc}", err=True)
        return EXIT_REFUSED
    except (InputRefused, VaultError, ValueError) as exc:
        _die(str(exc))
    from liquidity_bot.keys.hygiene import mark_used

    mark_used(keys_home, label)  # `keys review` sees the audit key in use
    typer.echo(
        f"audit key {label!r} verified: read only, cannot trade; sampling "
        f"{', '.join(m.symbol for m in cfg.markets)} every {cfg.interval_s:g} s into {cfg.store.url}",
        err=True,
    )
    store = Store(cfg.store.url)
    store.create_schema()
    client = BitrueRestClient(
        urls, vk.api_key, vk.secret.reveal(), source_address=source,
        recv_window=cfg.bitrue.recv_window, timeout_s=cfg.bitrue.request_timeout_s,
    )
    run = ObligationAudit(cfg, client, store, urls=urls)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, run.stop)
    code = 0
    started = None
    try:
        async with client:
            await client.sync_clock()
            started = client.clock.now_ms()
            try:
                await run.run(duration)
            except AuditStopped as exc:
                typer.echo(f"stopped: {exc}", err=True)
                code = EXIT_REFUSED
            ended = client.clock.now_ms()
        typer.echo(f"audit done: {run.samples} samples", err=True)
        if report_dir is not None and started is not None:
            for path in _write_reports(cfg, store, report_dir, started, ended):
                typer.echo(f"wrote {path}", err=True)
    finally:
        store.close()
    return code


@app.command("report")
def report_cmd(
    ctx: typer.Context,
    config: ConfigOpt = None,
    bot_config: BotConfigOpt = None,
    from_: Annotated[str | None, typer.Option("--from", help="Start (ISO 8601 UTC, epoch ms, or ago: 30d).")] = None,
    to: Annotated[str | None, typer.Option("--to", help="End, exclusive (same forms).")] = None,
    fmt: Annotated[str, typer.Option("--format", help="html, json or csv.")] = "html",
    out: Annotated[Path | None, typer.Option("--out", help="Write here instead of stdout.")] = None,
) -> None:
    """The audit report of any period from the audit's store (e.g. a month)."""
    from liquidity_bot.obligation_audit.report import write_audit
    from liquidity_bot.obligation_audit.sampler import interval_ms
    from liquidity_bot.reporting.cli import parse_time
    from liquidity_bot.reporting.report import FORMATS, build_report
    from liquidity_bot.store import Store, StoreError

    if fmt not in FORMATS:
        _die(f"--format: use one of {', '.join(FORMATS)}")
    home = _home(ctx)
    cfg = load(home, config, bot_config, None)
    from_ms = parse_time(from_) if from_ else None
    to_ms = parse_time(to) if to else None
    if from_ms is not None and to_ms is not None and to_ms <= from_ms:
        _die("--to must be after --from")
    try:
        store = Store(cfg.store.url)
    except StoreError as exc:
        _die(str(exc))
    try:
        store.create_schema()
        rep = build_report(
            store, from_ms=from_ms, to_ms=to_ms, symbols=[m.symbol for m in cfg.markets],
            obligations=_obligations(cfg), interval_ms=interval_ms(cfg),
        )
        if out is None:
            write_audit(rep, fmt, sys.stdout, store)
            return
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(out.name + ".tmp")
        with tmp.open("w", encoding="utf-8") as fh:
            write_audit(rep, fmt, fh, store)
        tmp.replace(out)
    finally:
        store.close()
    typer.echo(f"wrote {fmt} audit report to {out}", err=True)


def _read_json(path: Path, opt: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        _die(f"{opt} {path}: no such file")
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        _die(f"{opt} {path}: not a JSON report ({exc})")


@app.command("compare")
def compare_cmd(
    ours: Annotated[Path, typer.Option("--ours", help="The market maker's `report --format json`.")],
    theirs: Annotated[Path, typer.Option("--theirs", help="The audit's report (json).")],
    tolerance: Annotated[
        float, typer.Option("--tolerance-pct", help="Largest hourly uptime difference that agrees.")
    ] = 2.0,
    min_s: Annotated[
        float, typer.Option("--min-s", help="Leave out disagreements shorter than this (seconds).")
    ] = 0.0,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable comparison.")] = False,
) -> None:
    """Side by side per market and per hour; every period where they disagree, and why."""
    from decimal import Decimal

    from rich.console import Console
    from rich.table import Table

    from liquidity_bot.obligation_audit.compare import CompareError, compare_reports
    from liquidity_bot.reporting.report import fmt_dec, fmt_time

    try:
        result = compare_reports(_read_json(ours, "--ours"), _read_json(theirs, "--theirs"), min_s=min_s)
    except CompareError as exc:
        _die(str(exc))
    agrees = result.worst_difference() <= Decimal(str(tolerance))
    if as_json:
        doc = result.to_json() | {"tolerance_pct": str(tolerance), "agree": agrees}
        typer.echo(json.dumps(doc, indent=2))
        raise typer.Exit(0 if agrees else EXIT_REFUSED)
    # written to a file (e.g. for the client), the table keeps its columns whole
    console = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 140)
    table = Table(title="Uptime per market and hour: ours (the bot's report) against theirs (the audit's)")
    for col in ("market", "hour (UTC)", "covered", "uptime ours", "uptime theirs", "difference",
                "placed ours/theirs", "cancelled ours/theirs"):
        table.add_column(col)
    for h in result.hours:
        table.add_row(
            h.symbol, fmt_time(h.hour_ms, seconds=False), f"{h.span_ms // 1000} s",
            f"{fmt_dec(h.uptime_ours)} %", f"{fmt_dec(h.uptime_theirs)} %", f"{fmt_dec(h.diff)} %",
            f"{h.placed_ours}/{h.placed_theirs}", f"{h.cancelled_ours}/{h.cancelled_theirs}",
        )
    console.print(table)
    for sym in result.only_ours:
        console.print(f"{sym}: only in --ours (the audit did not watch it)", markup=False)
    for sym in result.only_theirs:
        console.print(f"{sym}: only in --theirs (the bot's report does not cover it)", markup=False)
    if not result.disagreements:
        console.print("No period longer than --min-s where the two disagree.", markup=False)
    if result.shorter_left_out:
        console.print(
            f"({result.shorter_left_out} disagreements shorter than {min_s:g} s left out: "
            f"--min-s 0 lists them)",
            markup=False,
        )
    for d in result.disagreements:
        says = "the bot's report" if d.unmet_by == "ours" else "the audit"
        console.print(
            f"- {d.symbol} {fmt_time(d.start_ms)} to {fmt_time(d.end_ms)} "
            f"({Decimal(d.end_ms - d.start_ms) / 1000} s): only {says} says not met "
            f"({', '.join(d.rules) or 'no rule recorded'}); {d.reason}",
            markup=False,
        )
    verdict = "agree" if agrees else "DISAGREE"
    console.print(
        f"worst hourly difference {fmt_dec(result.worst_difference())} % "
        f"(tolerance {tolerance:g} %): the reports {verdict}",
        markup=False,
    )
    raise typer.Exit(0 if agrees else EXIT_REFUSED)
