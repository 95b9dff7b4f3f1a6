"""`liquidity-bot keys ...`: intake, verification and hygiene of API keys.

Exit codes (all sub-commands): 0 pass/ok, 1 a check failed (or `review` found something to do),
2 a check is unknown, 3 usage or other error. Secrets are read from a hidden prompt or standard
input only, never from the command line.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from typer.core import TyperCommand, TyperGroup

from liquidity_bot.keys.exchanges import guide_of
from liquidity_bot.keys.guide import SUPPORTED_EXCHANGES, fix_for, guide_for
from liquidity_bot.keys.home import (
    PASSPHRASE_ENV,
    InputRefused,
    KeysHome,
    check_label,
    check_symbol,
    check_token_format,
    printable,
    read_passphrase,
    read_secret,
)
from liquidity_bot.keys.hygiene import (
    KeyConflict,
    add_key,
    list_rows,
    mark_reviewed,
    remove_key,
    review,
)
from liquidity_bot.keys.policy import Policy, PolicyError, load_policy
from liquidity_bot.keys.profiles import (
    AUDIT,
    BOT,
    audit_guide,
    check_profile,
    is_audit_policy,
    policy_for_profile,
)
from liquidity_bot.keys.vault import Vault, VaultError, WrongPassphrase, locked
from liquidity_bot.keys.verify import FAIL, PASS, UNKNOWN, VerificationReport, check_canary
from liquidity_bot.logs import redact

EXIT_PASS, EXIT_FAIL, EXIT_UNKNOWN, EXIT_ERROR = 0, 1, 2, 3
NEW_PASSPHRASE_ENV = "LIQUIDITY_BOT_NEW_PASSPHRASE"


# Click's UsageError, wherever this typer version keeps click (vendored or not).
_UsageError = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError")
_ClickException = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")


class _Command(TyperCommand):
    """Usage errors exit with 3 (2 means "unknown" for `keys verify`)."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except _UsageError as exc:
            exc.exit_code = EXIT_ERROR
            raise


class _Group(TyperGroup):
    """`liquidity-bot keys` alone shows the help; as a usage error it exits 3, like the rest."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except _UsageError as exc:
            exc.exit_code = EXIT_ERROR
            raise


app = typer.Typer(
    cls=_Group,
    help="API keys: add, verify, list, review, rotate, remove.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,  # pretty tracebacks print local variables: secrets
)

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

_SECRET_ON_ARGV = (
    "refusing {opt}: command-line arguments are visible to every user of this machine (ps, "
    "/proc/*/cmdline) and stay in shell history. Type the secret at the hidden prompt or pipe it on "
    "standard input (one line). The secret just given may be exposed: consider deleting that key on "
    "the exchange and creating a new one."
)


def _die(message: str, code: int = EXIT_ERROR) -> NoReturn:
    err.print(f"error: {message}", markup=False)
    raise typer.Exit(code)


def _home(ctx: typer.Context) -> KeysHome:
    obj = ctx.obj if isinstance(ctx.obj, dict) else None
    if obj is None and ctx.parent is not None and isinstance(ctx.parent.obj, dict):
        obj = ctx.parent.obj
    if obj and obj.get("home"):
        return KeysHome(Path(obj["home"]))
    env = os.environ.get("LIQUIDITY_BOT_HOME")
    return KeysHome(Path(env).expanduser() if env else Path.home() / ".liquidity-bot")


def _policy(home: KeysHome, path: Path | None) -> Policy:
    if path is not None and not path.exists():
        _die(f"policy file {path} does not exist")
    return load_policy(path or home.policy)


def _urls(base_url: str | None, exchange: str = "bitrue") -> Any:
    """The exchange's endpoints for its prober: ``BitrueUrls`` for Bitrue, the base URL (or
    None: production) for the others."""
    if base_url is not None:
        from liquidity_bot.config import http_url_problem

        problem = http_url_problem(base_url)
        if problem is not None:  # the same rule as the config's base_url
            _die(f"--base-url {problem}")
    if exchange != "bitrue":
        return base_url
    from liquidity_bot.venues.bitrue.urls import BitrueUrls

    if base_url is None:
        return BitrueUrls()
    try:
        return BitrueUrls.single(base_url)
    except ValueError as exc:
        _die(str(exc))


def _refuse_secret_options(secret: str | None, api_secret: str | None) -> None:
    if secret is not None:
        _die(_SECRET_ON_ARGV.format(opt="--secret"))
    if api_secret is not None:
        _die(_SECRET_ON_ARGV.format(opt="--api-secret"))


def _label_exchange(home: KeysHome, label: str, exchange: str | None) -> str:
    """The exchange of the label's active key when ``--exchange`` is not given (read from the
    vault's clear metadata: no passphrase); a label active on several exchanges must say which."""
    if exchange is not None:
        _check_exchange(exchange)
        return exchange
    if not home.vault.exists():
        return "bitrue"
    found = sorted(
        {r.exchange for r in Vault.open(home.vault).records() if r.label == label and r.status == "active"}
    )
    if len(found) > 1:
        _die(f"label {label!r} has active keys on {', '.join(found)}: add --exchange")
    return found[0] if found else "bitrue"


ExchangeOpt = Annotated[
    str | None,
    typer.Option("--exchange", help="The key's exchange (default: the label's, read from the vault)."),
]


def _check_exchange(exchange: str) -> None:
    if exchange not in SUPPORTED_EXCHANGES:
        _die(f"unsupported exchange {exchange!r}; supported: {', '.join(SUPPORTED_EXCHANGES)}")


_STATUS_MARK = {PASS: "[green]PASS[/]", FAIL: "[red]FAIL[/]", UNKNOWN: "[yellow]UNKNOWN[/]"}


def _print_report(report: VerificationReport, policy: Policy, as_json: bool) -> None:
    from liquidity_bot.keys.gate import judge

    if as_json:
        typer.echo(json.dumps(report.to_json(), indent=2, ensure_ascii=False))
        return
    table = Table(title=f"Key {report.label!r} ({report.exchange}), checked {report.checked_at}")
    table.add_column("check", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("detail", overflow="fold")
    table.add_column("judged by", overflow="fold")
    for c in report.checks:
        detail = c.detail.split(" Fix: ", 1)[0]  # the fixes are listed below the table
        table.add_row(c.name, _STATUS_MARK.get(c.status, c.status), escape(detail), escape(c.how))
    out.print(table)
    for c in report.not_applicable:
        out.print(f"not applicable on {report.exchange}: {c.name} ({c.detail})", markup=False)
    verdict = judge(report, policy)
    use = "be used for the audit" if is_audit_policy(policy) else "trade"
    if verdict.allowed:
        meaning = f"this key may {use}"
    elif report.verdict == FAIL:
        meaning = f"this key may not {use} until the settings below are changed"
    else:
        meaning = f"this key may not {use} while these checks are unknown"
    out.print(f"verdict: {_STATUS_MARK[report.verdict]} ({meaning})")
    if verdict.accepted_unknown:
        out.print(
            f"accepted as unknown by the policy: {', '.join(verdict.accepted_unknown)}",
            markup=False,
        )


def _print_fixes(report: VerificationReport, policy: Policy) -> None:
    from liquidity_bot.keys.gate import judge

    if not judge(report, policy).reasons:
        return
    policy = policy.for_exchange(report.exchange)
    out.print("What to do:", markup=False)
    failed = [c for c in report.checks if c.status == FAIL]
    unknown = [
        c for c in report.checks if c.status == UNKNOWN and not policy.accepts_unknown(c.name)
    ]
    for c in failed:
        fix = (
            c.detail.split(" Fix: ", 1)[1]
            if " Fix: " in c.detail
            else fix_for(c.name, policy, report.exchange)
        )
        out.print(f"- {c.name}: {fix}", markup=False)
    if failed and unknown:
        # unknowns after a failure are mostly its consequence (probes skipped): name them once
        names = ", ".join(c.name for c in unknown)
        out.print(f"- then verify again: {names} could not be decided yet.", markup=False)
    else:
        for c in unknown:
            out.print(f"- {c.name} (unknown): {c.detail}", markup=False)


def _passphrase(home: KeysHome) -> str:
    try:
        return read_passphrase(confirm=not home.vault.exists())
    except InputRefused as exc:
        _die(str(exc))


def _run(coro: Any) -> Any:
    import asyncio

    return asyncio.run(coro)


def _errors_to_exit(fn: Any) -> Any:
    """Known failures become a one-line message and exit 3, never a traceback."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        # The checklist is the output; the connector's INFO lines (clock synced ...) are noise
        # here. With --log-level DEBUG everything is shown.
        venues = logging.getLogger("liquidity_bot.venues")
        before = venues.level
        if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
            venues.setLevel(logging.WARNING)
        try:
            return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort, _ClickException):
            raise
        except WrongPassphrase as exc:
            message = str(exc)
            if os.environ.get(PASSPHRASE_ENV):
                message = message.removesuffix("; try again") + f"; check {PASSPHRASE_ENV}"
            _die(message)
        except (VaultError, InputRefused, PolicyError, KeyConflict) as exc:
            _die(str(exc))
        except ValueError as exc:
            _die(str(exc))
        except Exception as exc:  # noqa: BLE001 - a bug must not exit 1 ("a check failed")
            logging.getLogger(__name__).debug("unexpected error", exc_info=True)
            _die(
                f"unexpected error ({type(exc).__name__}: {redact(str(exc))}); nothing more was "
                f"done. Run with --log-level DEBUG for the details."
            )
        finally:
            venues.setLevel(before)

    return wrapper


BaseUrl = Annotated[
    str | None,
    typer.Option(
        "--base-url", help="Point every base URL of the exchange at one address (the simulator)."
    ),
]
Canary = Annotated[
    str | None,
    typer.Option(
        "--canary-source",
        help="A local address NOT on the key's allow list (e.g. 127.0.0.2) to prove the IP restriction.",
    ),
]
Source = Annotated[
    str | None,
    typer.Option(
        "--source-address",
        help="The local address the bot sends this key's requests from (its entry in "
        "key_source_addresses, or source_address, of [bitrue] or [exchanges.NAME]): the probes "
        "go from it too, so that a key allowed only that address passes.",
    ),
]
PolicyOpt = Annotated[
    Path | None, typer.Option("--policy", help="Policy TOML (default <home>/policy.toml).")
]
SecretRefused = Annotated[
    str | None, typer.Option("--secret", hidden=True, help="Refused: never put a secret on argv.")
]
ApiSecretRefused = Annotated[
    str | None,
    typer.Option("--api-secret", hidden=True, help="Refused: never put a secret on argv."),
]
ProfileOpt = Annotated[
    str,
    typer.Option(
        "--profile",
        help="bot: the market maker's trading key (read + trade). audit: the token project's "
        "read-only key for `liquidity-bot audit` (read only; must be unable to trade).",
    ),
]


def _profile_policy(profile: str, base: Policy) -> Policy:
    try:
        return policy_for_profile(check_profile(profile), base)
    except ValueError as exc:
        _die(str(exc))


def _check_intake(
    exchange: str,
    label: str,
    api_key: str,
    market: list[str] | None,
    canary_source: str | None,
    policy: Policy,
) -> tuple[str, ...]:
    """Every check that needs neither the secret nor the exchange, before anything is asked or
    stored: a refused add or rotation leaves the vault as it was. Returns the markets."""
    check_label(label)
    check_token_format(exchange, "API key", api_key)
    markets = tuple(m.upper() for m in market or ())
    for symbol in markets:
        check_symbol(symbol, exchange)
    if canary_source is not None:
        check_canary(canary_source, policy)
    return markets


def _probe_client(exchange: str, source: str | None, canary: str | None) -> Any:
    """The probes' client factory when they must go from ``source`` (None: the default one)."""
    if source is None:
        return None
    import ipaddress

    try:
        ipaddress.ip_address(source)
    except ValueError:
        _die(f"--source-address {source!r} is not an IP address; give the address of this "
             f"machine the bot sends from (as in key_source_addresses)")
    if canary is not None and canary == source:
        _die(f"--canary-source and --source-address are both {source}: the canary must be an "
             f"address NOT on the key's allow list, the source one that is on it")
    if exchange != "bitrue":
        from liquidity_bot.keys.probers.transport import KeyAddress

        return KeyAddress(source)
    from liquidity_bot.venues.bitrue.factory import client_from

    return client_from(source)


async def _verify_new(
    home: KeysHome,
    rec: Any,
    secret: str,
    policy: Policy,
    urls: Any,
    canary: str | None,
    extras: dict[str, str] | None = None,
    client_factory: Any = None,
) -> VerificationReport:
    """Verify a key just stored; if verifying breaks (rather than judging), remove it again so
    that the operator's retry is not blocked by a half-done add."""
    from liquidity_bot.keys.gate import verify_and_record

    try:
        return await verify_and_record(
            home, rec, secret, policy=policy, urls=urls, canary_source=canary, extras=extras,
            client_factory=client_factory,
        )
    except BaseException:
        with contextlib.suppress(Exception):
            remove_key(home, rec.label, rec.id)
        raise


def _intake_secret(exchange: str) -> tuple[str, dict[str, str]]:
    """The secret, then the exchange's extra credentials (OKX/KuCoin passphrase, BitMart memo),
    each from the hidden prompt or the next line of standard input; none is echoed."""
    guide = guide_of(exchange)
    pem = guide.key_format.secret_is_pem
    err.print(
        f"{guide.name} shows the secret key only once, when the key is created: paste it now "
        "(input is hidden; or pipe it on standard input"
        + (", the PEM lines or one line with \\n escapes" if pem else "")
        + ").",
        markup=False,
    )
    secret = read_secret(pem=pem)
    check_token_format(exchange, "secret", secret)
    extras: dict[str, str] = {}
    for extra in guide.extras:
        err.print(f"{guide.name} also needs the key's {extra.name} ({extra.why}).", markup=False)
        extras[extra.name] = read_secret(extra.prompt, what=extra.name)
    return secret, extras


@app.command("add", cls=_Command)
@_errors_to_exit
def add_cmd(
    ctx: typer.Context,
    label: Annotated[str, typer.Option("--label", help="Name of the key, as on the exchange.")],
    api_key: Annotated[str, typer.Option("--api-key", help="The API key (not the secret).")],
    exchange: Annotated[str, typer.Option("--exchange")] = "bitrue",
    base_url: BaseUrl = None,
    canary_source: Canary = None,
    source_address: Source = None,
    no_verify: Annotated[
        bool, typer.Option("--no-verify", help="Store without verifying.")
    ] = False,
    market: Annotated[
        list[str] | None, typer.Option("--market", help="Symbol this key trades (repeatable).")
    ] = None,
    policy_path: PolicyOpt = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    secret: SecretRefused = None,
    api_secret: ApiSecretRefused = None,
    profile: ProfileOpt = BOT,
) -> None:
    """Store a key: the secret is read from a hidden prompt or standard input, then verified."""
    _refuse_secret_options(secret, api_secret)
    _check_exchange(exchange)
    home = _home(ctx)
    policy = _profile_policy(profile, _policy(home, policy_path))
    markets = _check_intake(exchange, label, api_key, market, canary_source, policy)
    urls = None if no_verify else _urls(base_url, exchange)
    client = _probe_client(exchange, source_address, canary_source)
    value, extras = _intake_secret(exchange)
    passphrase = _passphrase(home)
    rec = add_key(
        home,
        passphrase=passphrase,
        exchange=exchange,
        label=label,
        api_key=api_key,
        secret=value,
        markets=markets,
        extras=extras,
        profile=profile,
    )
    err.print(f"stored key {rec.api_key_hint} as {label!r} in {home.vault}", markup=False)
    if no_verify:
        err.print(
            f"not verified: run `liquidity-bot keys verify {label!r}` before trading", markup=False
        )
        return
    report = _run(_verify_new(home, rec, value, policy, urls, canary_source, extras, client))
    _print_report(report, policy, as_json)
    if report.verdict != PASS and not as_json:
        _print_fixes(report, policy)
    raise typer.Exit(report.exit_code)


@app.command("verify", cls=_Command)
@_errors_to_exit
def verify_cmd(
    ctx: typer.Context,
    label: Annotated[str, typer.Argument(help="The key's label.")],
    base_url: BaseUrl = None,
    canary_source: Canary = None,
    source_address: Source = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable result.")] = False,
    exchange: ExchangeOpt = None,
    policy_path: PolicyOpt = None,
) -> None:
    """Probe the exchange without side effects. Exit 0 pass, 1 fail, 2 unknown, 3 error."""
    from liquidity_bot.keys.gate import verify_and_record

    home = _home(ctx)
    exchange = _label_exchange(home, label, exchange)
    policy = _policy(home, policy_path)
    urls = _urls(base_url, exchange)
    client = _probe_client(exchange, source_address, canary_source)
    if not home.vault.exists():
        _die(f"no vault at {home.vault}; add a key first (liquidity-bot keys add)")
    passphrase = _passphrase(home)
    vault = Vault.open(home.vault).unlock(passphrase)
    rec = vault.find_active(label, exchange)
    secret = vault.reveal(rec.id)
    extras = vault.reveal_extras(rec.id)
    policy = _profile_policy(rec.profile, policy)  # an audit key is judged as one
    report = _run(
        verify_and_record(
            home,
            rec,
            secret,
            policy=policy,
            urls=urls,
            canary_source=canary_source,
            extras=extras,
            client_factory=client,
        )
    )
    _print_report(report, policy, as_json)
    if report.verdict != PASS and not as_json:
        _print_fixes(report, policy)
    raise typer.Exit(report.exit_code)


@app.command("onboard", cls=_Command)
@_errors_to_exit
def onboard_cmd(
    ctx: typer.Context,
    label: Annotated[
        str | None,
        typer.Option("--label", help='Default "Liquidity Bot" ("Obligation Audit" for --profile audit).'),
    ] = None,
    exchange: Annotated[str, typer.Option("--exchange")] = "bitrue",
    print_guide: Annotated[
        bool, typer.Option("--print-guide", help="Only print the filled-in guide (Markdown).")
    ] = False,
    api_key: Annotated[str | None, typer.Option("--api-key")] = None,
    base_url: BaseUrl = None,
    canary_source: Canary = None,
    source_address: Source = None,
    market: Annotated[list[str] | None, typer.Option("--market")] = None,
    policy_path: PolicyOpt = None,
    secret: SecretRefused = None,
    api_secret: ApiSecretRefused = None,
    profile: ProfileOpt = BOT,
) -> None:
    """Walk through creating the key on the exchange, store it, verify until it passes."""
    from liquidity_bot.keys.gate import judge, verify_and_record

    _refuse_secret_options(secret, api_secret)
    _check_exchange(exchange)
    home = _home(ctx)
    policy = _profile_policy(profile, _policy(home, policy_path))
    if label is None:
        label = "Obligation Audit" if profile == AUDIT else "Liquidity Bot"
    if profile == AUDIT:
        guide = audit_guide(exchange, label, policy)
    else:
        guide = guide_for(exchange, label, policy)
    if not policy.trusted_egress_ips:
        err.print(
            f"warning: the policy ({policy_path or home.policy}) lists no trusted_egress_ips, so "
            f"the guide cannot tell which IPs to allow; add them, e.g. "
            f'[keys] trusted_egress_ips = ["203.0.113.10"]',
            markup=False,
        )
    if print_guide:
        typer.echo(guide, nl=False)
        return
    urls = _urls(base_url, exchange)
    client = _probe_client(exchange, source_address, canary_source)
    check_label(label)
    if canary_source is not None:
        check_canary(canary_source, policy)
    from rich.markdown import Markdown

    out.print(Markdown(guide), soft_wrap=False)
    if api_key is None:
        api_key = typer.prompt("API key (not the secret)").strip()
    markets = _check_intake(exchange, label, api_key, market, canary_source, policy)
    value, extras = _intake_secret(exchange)
    passphrase = _passphrase(home)
    rec = add_key(
        home,
        passphrase=passphrase,
        exchange=exchange,
        label=label,
        api_key=api_key,
        secret=value,
        markets=markets,
        extras=extras,
        profile=profile,
    )
    out.print(f"stored key {rec.api_key_hint} as {label!r}", markup=False)
    while True:
        report = _run(
            verify_and_record(
                home,
                rec,
                value,
                policy=policy,
                urls=urls,
                canary_source=canary_source,
                extras=extras,
                client_factory=client,
            )
        )
        _print_report(report, policy, as_json=False)
        if judge(report, policy).allowed:
            use = "be used for the audit" if profile == AUDIT else "trade"
            out.print(f"key {label!r} may {use}.", markup=False)
            raise typer.Exit(report.exit_code)
        _print_fixes(report, policy)
        out.print(
            "Press Enter to verify again, type k then Enter to enter the API key and secret again "
            "(if they were mistyped or the key was re-created), or q then Enter to stop.",
            markup=False,
        )
        sys.stdout.flush()  # the question must be visible before we wait for the answer
        line = sys.stdin.readline()
        answer = line.strip().lower()
        if not line or answer in ("q", "quit", "stop"):
            out.print(
                f"stopped; the key is stored. Verify later with `liquidity-bot keys verify {label!r}`.",
                markup=False,
            )
            raise typer.Exit(report.exit_code)
        if answer == "k":
            new_key = typer.prompt("API key (not the secret)").strip()
            check_token_format(exchange, "API key", new_key)
            value, extras = _intake_secret(exchange)
            remove_key(home, label, rec.id)
            rec = add_key(
                home,
                passphrase=passphrase,
                exchange=exchange,
                label=label,
                api_key=new_key,
                secret=value,
                markets=rec.markets,
                extras=extras,
                profile=profile,
            )
            out.print(f"replaced the stored key with {rec.api_key_hint}", markup=False)


def _short_time(iso: str) -> str:
    """'2026-11-25T00:08:34+00:00' -> '2026-11-25 00:08' (the vault keeps UTC)."""
    return iso[:16].replace("T", " ")


@app.command("list", cls=_Command)
@_errors_to_exit
def list_cmd(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    policy_path: PolicyOpt = None,
) -> None:
    """Keys with age, last verification and verdict, last use, review date (no passphrase)."""
    home = _home(ctx)
    policy = _policy(home, policy_path)
    rows = list_rows(Vault.open(home.vault), policy) if home.vault.exists() else []
    if as_json:
        typer.echo(json.dumps([r.to_json() for r in rows], indent=2, ensure_ascii=False))
        return
    if not rows:
        out.print(f"no keys in {home.vault}", markup=False)
        return
    table = Table(title=f"Keys in {home.vault} (times UTC)")
    table.add_column("label", overflow="fold")
    table.add_column("key", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("age", no_wrap=True, justify="right")
    table.add_column("last verified", overflow="fold")
    table.add_column("last used", overflow="fold")
    table.add_column("review due", overflow="fold")
    for r in rows:
        verified = (
            f"{_short_time(r.last_verified_at)} {_STATUS_MARK.get(r.last_verdict or '', '')}"
            if r.last_verified_at
            else "never"
        )
        table.add_row(
            # a label stored before labels were checked may hold escape sequences: never raw
            escape(printable(r.label, 80))
            + ("" if r.exchange == "bitrue" else f" ({r.exchange})")
            + ("" if r.profile == BOT else escape(f" [{r.profile}]")),
            r.api_key_hint,
            r.status,
            f"{r.age_days} d",
            verified,
            _short_time(r.last_used_at) if r.last_used_at else "never",
            r.review_due + (" [red](overdue)[/]" if r.review_overdue else ""),
        )
    out.print(table)


@app.command("review", cls=_Command)
@_errors_to_exit
def review_cmd(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    ack: Annotated[
        str | None, typer.Option("--ack", help="Record that LABEL's key was reviewed today.")
    ] = None,
    policy_path: PolicyOpt = None,
) -> None:
    """Overdue reviews, unused keys, keys to delete on the exchange. Exit 1 if anything is due."""
    home = _home(ctx)
    policy = _policy(home, policy_path)
    if not home.vault.exists():
        out.print(f"no keys in {home.vault}", markup=False)
        return
    if ack is not None:
        rec = mark_reviewed(home, ack)
        out.print(f"recorded a review of {rec.label!r} ({rec.api_key_hint})", markup=False)
    findings = review(Vault.open(home.vault), policy)
    if as_json:
        typer.echo(json.dumps([f.to_json() for f in findings], indent=2, ensure_ascii=False))
    elif not findings:
        out.print(
            f"nothing to do: no key is overdue for review (every {policy.review_interval_days} "
            f"days), unused for {policy.unused_threshold_days} days or more, waiting for "
            f"deletion, or without a passing verification.",
            markup=False,
        )
    else:
        for f in findings:
            out.print(
                printable(f"- {f.label} [{f.kind}]: {f.message}") + "\n  what to do: "
                + printable(f.action),
                markup=False,
            )
    raise typer.Exit(EXIT_FAIL if findings else EXIT_PASS)


@app.command("rotate", cls=_Command)
@_errors_to_exit
def rotate_cmd(
    ctx: typer.Context,
    label: Annotated[str, typer.Argument()],
    api_key: Annotated[str, typer.Option("--api-key", help="The replacement API key.")],
    exchange: ExchangeOpt = None,
    base_url: BaseUrl = None,
    canary_source: Canary = None,
    source_address: Source = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    policy_path: PolicyOpt = None,
    secret: SecretRefused = None,
    api_secret: ApiSecretRefused = None,
) -> None:
    """Add a replacement key, verify it, make it active; the old key is marked for deletion."""
    from liquidity_bot.keys.gate import rotate_key

    _refuse_secret_options(secret, api_secret)
    home = _home(ctx)
    exchange = _label_exchange(home, label, exchange)
    policy = _policy(home, policy_path)
    urls = _urls(base_url, exchange)
    _check_intake(exchange, label, api_key, None, canary_source, policy)
    client = _probe_client(exchange, source_address, canary_source)
    if not home.vault.exists():
        _die(f"no vault at {home.vault}; add a key first (liquidity-bot keys add)")
    value, extras = _intake_secret(exchange)
    passphrase = _passphrase(home)
    result = _run(
        rotate_key(
            home,
            passphrase=passphrase,
            label=label,
            new_api_key=api_key,
            new_secret=value,
            exchange=exchange,
            policy=policy,
            urls=urls,
            canary_source=canary_source,
            new_extras=extras,
            client_factory=client,
        )
    )
    _print_report(result.report, policy, as_json)
    if not result.switched:
        if not as_json:
            _print_fixes(result.report, policy)
            err.print(
                f"the replacement did not pass: nothing was switched, {label!r} keeps its current "
                f"key, and the replacement was not stored.",
                markup=False,
            )
        raise typer.Exit(result.report.exit_code or EXIT_FAIL)
    assert result.old is not None
    err.print(
        f"{result.new.api_key_hint} is now the active key for {label!r}"
        + (f" (markets: {', '.join(result.new.markets)})" if result.new.markets else "")
        + ". Bots started from now on use it; restart a running bot to switch it now.\n"
        f"The old key {result.old.api_key_hint} is marked for deletion: DELETE IT on "
        f"{guide_of(exchange).key_page} now, then run `liquidity-bot keys remove {label!r} --id {result.old.id}`.",
        markup=False,
    )


@app.command("remove", cls=_Command)
@_errors_to_exit
def remove_cmd(
    ctx: typer.Context,
    label: Annotated[str, typer.Argument()],
    record_id: Annotated[
        str | None, typer.Option("--id", help="Which key, when a label has several.")
    ] = None,
) -> None:
    """Delete a key from the vault (delete it on the exchange too)."""
    home = _home(ctx)
    if not home.vault.exists():
        _die(f"no vault at {home.vault}")
    rec = remove_key(home, label, record_id)
    out.print(
        f"removed {rec.api_key_hint} ({label!r}) from the vault. Make sure it is deleted on the "
        f"exchange too ({guide_of(rec.exchange).key_page}).",
        markup=False,
    )


@app.command("passphrase", cls=_Command)
@_errors_to_exit
def passphrase_cmd(ctx: typer.Context) -> None:
    """Change the vault passphrase (re-wraps data keys; raises KDF cost to today's default)."""
    from liquidity_bot.keys.home import _getpass
    from liquidity_bot.keys.vault import DEFAULT_KDF

    home = _home(ctx)
    if not home.vault.exists():
        _die(f"no vault at {home.vault}")
    old = _passphrase(home)
    new = os.environ.get(NEW_PASSPHRASE_ENV)
    if not new:
        if not sys.stdin.isatty():
            _die(f"no terminal to ask the new passphrase: set {NEW_PASSPHRASE_ENV}")
        new = _getpass("New vault passphrase: ")
        if new != _getpass("Repeat the new vault passphrase: "):
            _die("the two passphrases differ; nothing was changed")
    with locked(home.vault):
        vault = Vault.open(home.vault).unlock(old)
        kdf = vault.kdf if vault.kdf.at_least(DEFAULT_KDF) else DEFAULT_KDF
        vault.change_passphrase(new, kdf=kdf)
        vault.save()
    home.audit_log().append("passphrase_changed", records=len(vault.records()))
    out.print(
        f"passphrase changed for {home.vault}; unset {PASSPHRASE_ENV} if it held the old one",
        markup=False,
    )
