"""Chaos soak: the real bot against the faulty simulator, killed with -9 halfway, then audited.

Two separate processes, exactly as in production on paper:
``liquidity-bot sim serve --faults profiles/everything.toml`` (5xx with unknown outcome, latency,
429 bursts, WebSocket drops and stalls, listen-key loss, clock skew, endpoint outages) and
``liquidity-bot run``. The bot is onboarded like a client (account, Read+Trade key with an IP
allow list, vault, verification), quotes for half the time, is killed with SIGKILL (no cleanup
at all), is started again (it must adopt its orphans and catch up on fills), and stops cleanly
at the end. Then the simulator's ledger is the judge:

- no open order of ours is left after the shutdown;
- no client order id was used twice;
- every exchange fill is in the store exactly once (and the store has nothing else);
- balances reconcile exactly: start balances + fills - fees = end balances (Decimal);
- no IP ban and no request refused for a ban (the simulator's ``GET /sim/admin/ratelimit``
  counters; a simulator without that route falls back to the bot's own logs);
- the restarted bot exits cleanly.

``run_chaos`` returns the fault counts and the invariants; ``main`` prints them as tables and
exits non-zero when an invariant fails. ``make chaos MINUTES=5`` runs it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_FAULTS = REPO_ROOT / "profiles" / "everything.toml"
SYMBOL = "XRPUSDT"
KEY_LABEL = "chaos-mm"
CLIENT_PREFIX = "lbchaos"
CANARY_SOURCE = "127.0.0.2"
START_BALANCES = {"USDT": "10000", "XRP": "20000"}

BOT_CONFIG = """\
kpi_interval_s = 1
[bitrue]
base_url = "{base_url}"
[store]
url = "sqlite:///{{home}}/liquidity-bot.db"
[[markets]]
symbol = "{symbol}"
key_label = "{label}"
client_id_prefix = "{prefix}"
strategy = "ladder"
[markets.ladder]
levels = 3
base_spread_pct = "0.4"
level_spacing_pct = "0.15"
level_size_quote = "60"
min_spread_pct = "0.1"
[markets.obligations]
max_spread_pct = "1"
min_depth_2pct_quote = "100"
[markets.risk]
max_order_notional = "250"
max_open_notional_per_side = "800"
max_base_inventory = "100000"
daily_loss_limit = "1000"
max_fills_per_minute = 300
[markets.order_manager]
price_tolerance_pct = "0.1"
size_tolerance_pct = "30"
refresh_interval_ms = 500
"""


class ChaosError(Exception):
    """The soak could not be set up (not an invariant failure); the message says why."""


@dataclass(frozen=True)
class Invariant:
    name: str
    held: bool
    detail: str


@dataclass
class ChaosResult:
    minutes: float
    seed: int
    faults: dict[str, int] = field(default_factory=dict)
    invariants: list[Invariant] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return bool(self.invariants) and all(i.held for i in self.invariants)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "liquidity_bot.cli", *args]


class _Admin:
    """The simulator's admin API over loopback (aiohttp)."""

    def __init__(self, base_url: str, token: str) -> None:
        self.base_url = base_url
        self.token = token

    async def call(self, method: str, path: str, body: object | None = None,
                   *, allow_missing: bool = False) -> Any:
        import aiohttp

        async with aiohttp.ClientSession() as session, session.request(
            method, self.base_url + path, json=body,
            headers={"X-Sim-Admin": self.token}) as resp:
            data = await resp.json(content_type=None)
            if resp.status == 404 and allow_missing:
                return None
            if resp.status != 200:
                raise ChaosError(f"simulator admin {method} {path} answered {resp.status}: {data}")
            return data


    async def post_toml(self, path: str, text: str) -> Any:
        import aiohttp

        async with aiohttp.ClientSession() as session, session.post(
            self.base_url + path, data=text.encode(),
            headers={"X-Sim-Admin": self.token, "Content-Type": "application/toml"}) as resp:
            data = await resp.json(content_type=None)
            if resp.status != 200:
                raise ChaosError(f"simulator admin POST {path} answered {resp.status}: {data}")
            return data


async def _wait_up(base_url: str, proc: subprocess.Popen[bytes], timeout_s: float = 30) -> None:
    import aiohttp

    deadline = time.monotonic() + timeout_s
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise ChaosError(f"the simulator exited with code {proc.returncode} at start")
            try:
                async with session.get(base_url + "/api/v1/ping") as resp:
                    if resp.status == 200:
                        return
            except OSError:
                pass
            await asyncio.sleep(0.2)
    raise ChaosError(f"the simulator did not answer on {base_url} within {timeout_s:.0f} s")


async def _onboard(home: Path, admin: _Admin, passphrase: str) -> int:
    """Account + key as the onboarding guide says, stored in the vault and verified."""
    from liquidity_bot.keys.gate import verify_and_record
    from liquidity_bot.keys.home import KeysHome
    from liquidity_bot.keys.hygiene import add_key
    from liquidity_bot.keys.policy import load_policy
    from liquidity_bot.keys.vault import Vault
    from liquidity_bot.logs import register_secret
    from liquidity_bot.venues.bitrue.urls import BitrueUrls

    account = await admin.call("POST", "/sim/admin/accounts", {"balances": START_BALANCES})
    created = await admin.call("POST", "/sim/admin/keys", {
        "account_id": account["account_id"], "label": KEY_LABEL,
        "permissions": ["read", "trade"], "ip_allowlist": ["127.0.0.1"],
    })
    register_secret(created["secret"])
    keys_home = KeysHome(home)
    record = await asyncio.to_thread(
        add_key, keys_home, passphrase=passphrase, exchange="bitrue", label=KEY_LABEL,
        api_key=created["api_key"], secret=created["secret"], markets=(SYMBOL,))
    del created
    vault = Vault.open(keys_home.vault).unlock(passphrase)
    try:
        report = await verify_and_record(
            keys_home, record, vault.reveal(record.id), policy=load_policy(keys_home.policy),
            urls=BitrueUrls.single(admin.base_url), canary_source=CANARY_SOURCE)
    finally:
        vault.lock()
    if report.verdict != "pass":
        failed = [f"{c.name}: {c.status} ({c.detail})" for c in report.checks
                  if c.status != "pass"]
        raise ChaosError(f"the chaos key did not pass verification (verdict {report.verdict}): "
                         + "; ".join(failed))
    return int(account["account_id"])


def _start_bot(home: Path, config: Path, duration_s: float, passphrase: str,
               log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "LIQUIDITY_BOT_PASSPHRASE": passphrase, "COLUMNS": "120"}
    out = open(log, "ab")  # noqa: SIM115 - handed to the child, closed with it
    try:
        return subprocess.Popen(
            _cli("--home", str(home), "--log-level", "INFO", "run", "--config", str(config),
                 "--no-reverify", "--canary-source", CANARY_SOURCE,
                 "--duration", f"{duration_s:.1f}"),
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
    finally:
        out.close()


def _dec(value: Any) -> Decimal:
    return Decimal(str(value))


def _audit(result: ChaosResult, *, ledger: dict[str, Any], end_balances: dict[str, Any],
           store_fills: list[Any], rate_counters: dict[str, int] | None, bot_logs: str,
           exit_code: int | None) -> None:
    from bitrue_sim.core.markets import DEFAULT_MARKETS

    specs = {m.symbol: m for m in DEFAULT_MARKETS}
    inv = result.invariants
    orders = [o for o in ledger["orders"] if str(o.get("clientOrderId", "")).startswith(
        CLIENT_PREFIX)]
    open_left = [o["clientOrderId"] for o in orders if o["status"] in ("NEW", "PARTIALLY_FILLED")]
    inv.append(Invariant("no open order of ours after shutdown", not open_left,
                         f"{len(open_left)} open of {len(orders)} placed"
                         + (f": {open_left[:3]}" if open_left else "")))
    ids = Counter(o["clientOrderId"] for o in ledger["orders"])
    dups = [cid for cid, n in ids.items() if n > 1]
    inv.append(Invariant("no duplicate client order ids", not dups,
                         f"{len(ids)} distinct ids, {len(dups)} used twice"))
    exchange_fills = {(f["symbol"], str(f["tradeId"])) for f in ledger["fills"]}
    stored = Counter((f.symbol, str(f.trade_id)) for f in store_fills)
    twice = [k for k, n in stored.items() if n > 1]
    missing = exchange_fills - set(stored)
    extra = set(stored) - exchange_fills
    inv.append(Invariant(
        "every exchange fill in the store exactly once", not (twice or missing or extra),
        f"{len(exchange_fills)} exchange fills; store: {len(stored)} "
        f"(missing {len(missing)}, extra {len(extra)}, duplicated {len(twice)})"))
    expected = {a: _dec(v) for a, v in START_BALANCES.items()}
    for f in store_fills:
        spec = specs[f.symbol]
        sign = 1 if str(getattr(f.side, "value", f.side)).upper() == "BUY" else -1
        expected[spec.base_asset] = expected.get(spec.base_asset, Decimal(0)) + sign * f.qty
        expected[spec.quote_asset] = (expected.get(spec.quote_asset, Decimal(0))
                                      - sign * f.qty * f.price)
        if f.fee and f.fee_asset:
            asset = f.fee_asset.upper()
            expected[asset] = expected.get(asset, Decimal(0)) - f.fee
    actual = {a.upper(): _dec(b["free"]) + _dec(b["locked"]) for a, b in end_balances.items()}
    diffs = {a: str(actual.get(a, Decimal(0)) - expected.get(a, Decimal(0)))
             for a in sorted(set(actual) | set(expected))
             if actual.get(a, Decimal(0)) != expected.get(a, Decimal(0))}
    inv.append(Invariant("balances reconcile exactly (start + fills - fees = end)", not diffs,
                         "exact for " + ", ".join(sorted(actual)) if not diffs
                         else f"differences (actual - expected): {diffs}"))
    if rate_counters is not None:
        bans = rate_counters.get("bans", 0)
        refused = rate_counters.get("refused_during_ban", 0)
        limited = ", ".join(f"{k[4:]} {v}" for k, v in sorted(rate_counters.items())
                            if k.startswith("429:")) or "none"
        inv.append(Invariant("no IP ban", bans == 0,
                             f"simulator counted {bans} bans (real 429s by policy: {limited})"))
        inv.append(Invariant("no request sent during a ban", refused == 0,
                             f"simulator refused {refused} requests for a ban"))
    else:
        banned = [ln for ln in bot_logs.splitlines()
                  if "IpBanned" in ln or "address is banned" in ln]
        inv.append(Invariant("no IP ban (bot logs; the simulator exposes no ban counters)",
                             not banned, f"{len(banned)} log lines mention a ban"))
    inv.append(Invariant("restarted bot shut down cleanly", exit_code == 0,
                         f"exit code {exit_code}"))
    # Diagnostic: the same arithmetic over the exchange's own fills (tells a store gap from an
    # accounting error when the invariant above fails).
    ledger_expected = {a: _dec(v) for a, v in START_BALANCES.items()}
    for f in ledger["fills"]:
        spec = specs[f["symbol"]]
        sign = 1 if f["side"] == "BUY" else -1
        qty, price = _dec(f["qty"]), _dec(f["price"])
        ledger_expected[spec.base_asset] += sign * qty
        ledger_expected[spec.quote_asset] -= sign * qty * price
        fee_asset = str(f["commissionAsset"]).upper()
        ledger_expected[fee_asset] = ledger_expected.get(fee_asset, Decimal(0)) - _dec(
            f["commission"])
    result.figures["ledger_reconciles"] = all(
        actual.get(a, Decimal(0)) == ledger_expected.get(a, Decimal(0))
        for a in set(actual) | set(ledger_expected))
    result.figures.update({
        "orders_placed": len(orders), "exchange_fills": len(exchange_fills),
        "rate_counters": rate_counters,
    })


async def run_chaos(minutes: float, *, workdir: Path, seed: int = 7,
                    faults: Path = DEFAULT_FAULTS, scenario: str = "volatile",
                    say: Any = print) -> ChaosResult:
    """Run the soak for ``minutes`` (kill -9 at half time) in ``workdir`` (see module doc)."""
    from liquidity_bot.store import Store

    if not faults.is_file():
        raise ChaosError(f"fault profile {faults} not found")
    workdir.mkdir(parents=True, exist_ok=True)
    home = workdir / "home"
    home.mkdir(mode=0o700, exist_ok=True)
    total_s = minutes * 60
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    token = secrets.token_hex(16)
    passphrase = "chaos-" + secrets.token_urlsafe(12)
    result = ChaosResult(minutes=minutes, seed=seed)
    sim_log = open(workdir / "sim.log", "wb")  # noqa: SIM115
    sim = subprocess.Popen(
        _cli("sim", "serve", "--host", "127.0.0.1", "--port", str(port), "--seed", str(seed),
             "--admin-token", token, "--scenario", scenario, "--faults", str(faults)),
        stdout=sim_log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    bot: subprocess.Popen[bytes] | None = None
    try:
        await _wait_up(base_url, sim)
        admin = _Admin(base_url, token)
        # Onboarding is the client's one-off step, not part of the soak: faults are paused for
        # it (a verification probe answered by an injected fault is "unknown", not a pass),
        # then the profile is applied again and stays on for the whole run.
        await admin.call("POST", "/sim/admin/faults", {})
        account_id = await _onboard(home, admin, passphrase)
        await admin.post_toml("/sim/admin/faults", faults.read_text(encoding="utf-8"))
        config = workdir / "bot.toml"
        config.write_text(BOT_CONFIG.format(base_url=base_url, symbol=SYMBOL, label=KEY_LABEL,
                                            prefix=CLIENT_PREFIX), encoding="utf-8")
        log = workdir / "bot.log"
        say(f"chaos: simulator {base_url} (seed {seed}, {scenario}, faults {faults.name}); "
            f"bot quoting {SYMBOL} for {minutes:g} min, kill -9 at {total_s / 2:.0f} s")
        bot = _start_bot(home, config, total_s, passphrase, log)
        await asyncio.sleep(total_s / 2)
        if bot.poll() is not None:
            raise ChaosError(f"the bot exited early with code {bot.returncode}; see {log}")
        bot.send_signal(signal.SIGKILL)
        bot.wait()
        say(f"chaos: killed the bot with SIGKILL at {total_s / 2:.0f} s; restarting it")
        bot = _start_bot(home, config, total_s / 2, passphrase, log)
        try:
            exit_code: int | None = await asyncio.to_thread(bot.wait, total_s / 2 + 120)
        except subprocess.TimeoutExpired:
            bot.send_signal(signal.SIGTERM)
            exit_code = await asyncio.to_thread(bot.wait, 60)
        say(f"chaos: the restarted bot exited with code {exit_code}; auditing")
        snapshot = await admin.call("GET", "/sim/admin/faults")
        result.faults = {k: int(v) for k, v in snapshot.get("counts", {}).items()}
        ledger = await admin.call("GET", f"/sim/admin/ledger?account_id={account_id}")
        balances = await admin.call("GET", f"/sim/admin/balances?account_id={account_id}")
        counters = await admin.call("GET", "/sim/admin/ratelimit", allow_missing=True)
        rate_counters = None
        if isinstance(counters, dict):
            rate_counters = {str(k): int(v) for k, v in counters.items()
                             if isinstance(v, int)}
            rate_counters.update({f"429:{k}": int(v)
                                  for k, v in counters.get("429_by_policy", {}).items()})
        store = Store(f"sqlite:///{home}/liquidity-bot.db")
        try:
            store.create_schema()
            store_fills = store.fills()
        finally:
            store.close()
        _audit(result, ledger=ledger, end_balances=balances["balances"],
               store_fills=store_fills, rate_counters=rate_counters,
               bot_logs=log.read_text(encoding="utf-8", errors="replace"), exit_code=exit_code)
    finally:
        for proc in (bot, sim):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    proc.kill()
        sim_log.close()
    return result


def render(result: ChaosResult) -> str:
    """Plain-text tables: faults injected, invariants held."""
    lines = [f"Chaos soak: {result.minutes:g} min, seed {result.seed}, kill -9 at half time", "",
             "| fault injected | count |", "|---|---:|"]
    lines += [f"| {k} | {v} |" for k, v in sorted(result.faults.items())]
    lines += ["", "| invariant | held | detail |", "|---|---|---|"]
    lines += [f"| {i.name} | {'yes' if i.held else 'NO'} | {i.detail} |"
              for i in result.invariants]
    if "ledger_reconciles" in result.figures:
        lines += ["", "diagnostic: the exchange's own fills reconcile the balances: "
                  + ("yes" if result.figures["ledger_reconciles"] else "no")]
    lines += ["", "verdict: " + ("all invariants held" if result.ok else "INVARIANT FAILED")]
    return "\n".join(lines)


def chaos_command(
    minutes: float = 5.0, seed: int = 7, faults: Path = DEFAULT_FAULTS,
    workdir: Path | None = None,
) -> None:
    """Chaos soak: bot vs the faulty simulator, kill -9 halfway, audit against the ledger."""
    import typer

    argv = ["--minutes", str(minutes), "--seed", str(seed), "--faults", str(faults)]
    if workdir is not None:
        argv += ["--workdir", str(workdir)]
    code = main(argv)
    if code:
        raise typer.Exit(code)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Chaos soak of the bot against the simulator.")
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--faults", type=Path, default=DEFAULT_FAULTS)
    parser.add_argument("--workdir", type=Path, default=None,
                        help="where the state and logs go (default: a new temp directory)")
    parser.add_argument("--json", type=Path, default=None, help="also write the result here")
    args = parser.parse_args(argv)
    import tempfile

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="liquidity-bot-chaos-"))
    try:
        result = asyncio.run(run_chaos(args.minutes, workdir=workdir, seed=args.seed,
                                       faults=args.faults))
    except ChaosError as exc:
        print(f"error: {exc} (logs in {workdir})", file=sys.stderr)
        return 2
    print(render(result))
    print(f"\nstate and logs: {workdir}")
    if args.json is not None:
        args.json.write_text(json.dumps({
            "minutes": result.minutes, "seed": result.seed, "faults": result.faults,
            "invariants": [i.__dict__ for i in result.invariants], "ok": result.ok,
            "figures": result.figures}, indent=2, default=str), encoding="utf-8")
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
