"""Chaos soak: the real bot against the faulty simulator over TLS, killed many ways, audited.

Separate processes, as in production on paper: ``liquidity-bot sim serve --faults
profiles/soak.toml --tls-cert ... --tls-key ...`` (HTTPS and WSS with a throw-away CA; 5xx with
unknown outcome, latency, 429 bursts, WebSocket drops and stalls, listen-key loss, a clock skew
the key policy accepts, order-endpoint outages) and ``liquidity-bot run``, which passes the real
start-up gate (it re-verifies both keys at every start: no ``--no-reverify``). Two clients' keys
trade from the same source address (two accounts, XRPUSDT and NOVAUSDT), so their requests add
up against the per-IP limits.

The bot is stopped again and again at seeded random times, by SIGKILL (no cleanup at all),
SIGHUP, SIGTERM, or SIGTERM followed by SIGKILL while it is still cancelling; after each stop the
orders it left rest unmanaged for a while (the market may fill them) before it is started again,
as a supervisor would (a start refused by the gate because a fault made a probe inconclusive is
started again too, and counted). The last stop is a SIGTERM. Then the simulator's ledger is the
judge, counting every order on both accounts, not only ours:

- after every SIGTERM or SIGHUP the exit status is honest: never 0 while the accounts still
  have an open order (4 lists them);
- no open order on either account at the end, and every order on them carries our prefixes;
- no client order id was used twice;
- the bot's own view matches the ledger: every order of the ledger is in the store with the
  same final status, and the store holds no open order;
- every exchange fill is in the store exactly once (and the store has nothing else);
- balances reconcile exactly per account: start + fills - fees = end (Decimal);
- no IP ban and no request refused for a ban (the simulator's counters);
- the last bot exits cleanly (0).

``run_chaos`` returns the fault counts, figures and invariants; ``main`` prints them as tables
and exits non-zero when an invariant fails. ``make chaos MINUTES=30`` runs it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_FAULTS = REPO_ROOT / "profiles" / "soak.toml"
CANARY_SOURCE = "127.0.0.2"


@dataclass(frozen=True)
class Client:
    """One client of the soak: its account, key label, market and our prefix there."""

    label: str
    symbol: str
    prefix: str
    balances: dict[str, str]
    size_quote: str


CLIENTS = (
    Client("chaos-a", "XRPUSDT", "lbca", {"USDT": "10000", "XRP": "20000"}, "60"),
    Client("chaos-b", "NOVAUSDT", "lbcb", {"USDT": "5000", "NOVA": "300000"}, "40"),
)
PREFIXES = tuple(c.prefix for c in CLIENTS)

BOT_CONFIG = """\
kpi_interval_s = 1
shutdown_timeout_s = 60
[bitrue]
base_url = "{base_url}"
ca_file = "{ca_file}"
[store]
url = "sqlite:///{{home}}/liquidity-bot.db"
"""

MARKET = """
[[markets]]
symbol = "{symbol}"
key_label = "{label}"
client_id_prefix = "{prefix}"
strategy = "ladder"
[markets.ladder]
levels = 3
base_spread_pct = "0.4"
level_spacing_pct = "0.15"
level_size_quote = "{size}"
min_spread_pct = "0.1"
[markets.obligations]
max_spread_pct = "1"
min_depth_2pct_quote = "100"
[markets.risk]
max_order_notional = "250"
max_open_notional_per_side = "800"
max_base_inventory = "100000000"
daily_loss_limit = "1000"
max_fills_per_minute = 300
[markets.order_manager]
price_tolerance_pct = "0.1"
size_tolerance_pct = "30"
refresh_interval_ms = 500
order_budget_share = "0.5"
"""

# how the bot is stopped (equally likely, a seeded shuffle so a run of 4+ stops has each)
STOPS = ("SIGKILL", "SIGHUP", "SIGTERM", "SIGTERM+SIGKILL")


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
    """The simulator's admin API over loopback (aiohttp, TLS with the soak's CA)."""

    def __init__(self, base_url: str, token: str, tls: ssl.SSLContext) -> None:
        self.base_url = base_url
        self.token = token
        self.tls = tls

    def _session(self) -> Any:
        import aiohttp

        return aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=self.tls))

    async def call(self, method: str, path: str, body: object | None = None,
                   *, allow_missing: bool = False) -> Any:
        async with self._session() as session, session.request(
                method, self.base_url + path, json=body,
                headers={"X-Sim-Admin": self.token}) as resp:
            data = await resp.json(content_type=None)
            if resp.status == 404 and allow_missing:
                return None
            if resp.status != 200:
                raise ChaosError(f"simulator admin {method} {path} answered {resp.status}: {data}")
            return data

    async def post_toml(self, path: str, text: str) -> Any:
        async with self._session() as session, session.post(
                self.base_url + path, data=text.encode(),
                headers={"X-Sim-Admin": self.token, "Content-Type": "application/toml"}) as resp:
            data = await resp.json(content_type=None)
            if resp.status != 200:
                raise ChaosError(f"simulator admin POST {path} answered {resp.status}: {data}")
            return data

    async def open_orders(self, accounts: dict[str, int]) -> list[dict[str, Any]]:
        """Every open order on the clients' accounts (ours or not)."""
        out = []
        for account in accounts.values():
            ledger = await self.call("GET", f"/sim/admin/ledger?account_id={account}")
            out += [o for o in ledger["orders"] if o["status"] in ("NEW", "PARTIALLY_FILLED")]
        return out


async def _wait_up(admin: _Admin, proc: subprocess.Popen[bytes], timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    async with admin._session() as session:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise ChaosError(f"the simulator exited with code {proc.returncode} at start")
            try:
                async with session.get(admin.base_url + "/api/v1/ping") as resp:
                    if resp.status == 200:
                        return
            except OSError:
                pass
            await asyncio.sleep(0.2)
    raise ChaosError(f"the simulator did not answer on {admin.base_url} within {timeout_s:.0f} s")


async def _onboard(home: Path, admin: _Admin, passphrase: str, ca_file: str) -> dict[str, int]:
    """Each client's account + key as the onboarding guide says, in the vault, verified."""
    from liquidity_bot.app import onboard_sim_client
    from liquidity_bot.keys.home import KeysHome

    accounts: dict[str, int] = {}
    keys_home = KeysHome(home)
    for c in CLIENTS:
        account_id, report = await onboard_sim_client(
            admin.call, keys_home, passphrase=passphrase, label=c.label, balances=c.balances,
            symbols=(c.symbol,), base_url=admin.base_url, ca_file=ca_file,
            canary_source=CANARY_SOURCE)
        if report.verdict != "pass":
            failed = [f"{k.name}: {k.status} ({k.detail})" for k in report.checks
                      if k.status != "pass"]
            raise ChaosError(f"key {c.label!r} did not pass verification (verdict "
                             f"{report.verdict}): " + "; ".join(failed))
        accounts[c.label] = account_id
    return accounts


def _start_bot(home: Path, config: Path, passphrase: str, log: Path) -> subprocess.Popen[bytes]:
    """``run`` with the real start-up gate (no --no-reverify), until a signal stops it."""
    env = {**os.environ, "LIQUIDITY_BOT_PASSPHRASE": passphrase, "COLUMNS": "120"}
    out = open(log, "ab")  # noqa: SIM115 - handed to the child, closed with it
    try:
        return subprocess.Popen(
            _cli("--home", str(home), "--log-level", "INFO", "run", "--config", str(config),
                 "--canary-source", CANARY_SOURCE, "--dashboard-port", "0"),
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
    finally:
        out.close()


def _dec(value: Any) -> Decimal:
    return Decimal(str(value))


def _audit(result: ChaosResult, *, ledgers: dict[str, dict[str, Any]],
           end_balances: dict[str, dict[str, Any]], store_fills: list[Any],
           store_orders: list[Any], rate_counters: dict[str, int] | None,
           exit_code: int | None) -> None:
    """The end-of-run invariants (see the module docstring); ``ledgers`` and
    ``end_balances`` by client label."""
    from bitrue_sim.core.markets import DEFAULT_MARKETS

    specs = {m.symbol: m for m in DEFAULT_MARKETS}
    inv = result.invariants
    orders = [o for led in ledgers.values() for o in led["orders"]]
    open_left = [str(o.get("clientOrderId")) for o in orders
                 if o["status"] in ("NEW", "PARTIALLY_FILLED")]
    inv.append(Invariant("no open order on the accounts at the end (ours or not)", not open_left,
                         f"{len(open_left)} open of {len(orders)} orders"
                         + (f": {open_left[:3]}" if open_left else "")))
    foreign = [str(o.get("clientOrderId")) for o in orders
               if not str(o.get("clientOrderId") or "").startswith(PREFIXES)]
    inv.append(Invariant("every order on the accounts is ours (prefixed)", not foreign,
                         f"{len(foreign)} without our prefixes"
                         + (f": {foreign[:3]}" if foreign else "")))
    ids = Counter(str(o.get("clientOrderId")) for o in orders)
    dups = [cid for cid, n in ids.items() if n > 1]
    inv.append(Invariant("no duplicate client order ids", not dups,
                         f"{len(ids)} distinct ids, {len(dups)} used twice"))
    stored = {o.client_order_id: o for o in store_orders}
    absent = [cid for cid in ids if cid not in stored]
    differ = [cid for cid in ids if cid in stored and str(getattr(
        stored[cid].status, "value", stored[cid].status)).upper() != next(
        o["status"] for o in orders if str(o.get("clientOrderId")) == cid)]
    store_open = [o.client_order_id for o in store_orders if o.is_open]
    inv.append(Invariant(
        "the bot's own view matches the ledger (orders and final states)",
        not (absent or differ or store_open),
        f"{len(ids)} ledger orders: {len(absent)} missing from the store, {len(differ)} with "
        f"another status, {len(store_open)} open in the store"
        + (f" (e.g. {(absent or differ or store_open)[:3]})"
           if absent or differ or store_open else "")))
    exchange_fills = {(f["symbol"], str(f["tradeId"])) for led in ledgers.values()
                      for f in led["fills"]}
    stored_fills = Counter((f.symbol, str(f.trade_id)) for f in store_fills)
    twice = [k for k, n in stored_fills.items() if n > 1]
    missing = exchange_fills - set(stored_fills)
    extra = set(stored_fills) - exchange_fills
    inv.append(Invariant(
        "every exchange fill in the store exactly once", not (twice or missing or extra),
        f"{len(exchange_fills)} exchange fills; store: {len(stored_fills)} "
        f"(missing {len(missing)}, extra {len(extra)}, duplicated {len(twice)})"))
    diffs: dict[str, dict[str, str]] = {}
    for c in CLIENTS:
        expected = {a: _dec(v) for a, v in c.balances.items()}
        for f in store_fills:
            if f.symbol != c.symbol:
                continue
            spec = specs[f.symbol]
            sign = 1 if str(getattr(f.side, "value", f.side)).upper() == "BUY" else -1
            expected[spec.base_asset] = expected.get(spec.base_asset, Decimal(0)) + sign * f.qty
            expected[spec.quote_asset] = (expected.get(spec.quote_asset, Decimal(0))
                                          - sign * f.qty * f.price)
            if f.fee and f.fee_asset:
                asset = f.fee_asset.upper()
                expected[asset] = expected.get(asset, Decimal(0)) - f.fee
        actual = {a.upper(): _dec(b["free"]) + _dec(b["locked"])
                  for a, b in end_balances[c.label].items()}
        d = {a: str(actual.get(a, Decimal(0)) - expected.get(a, Decimal(0)))
             for a in sorted(set(actual) | set(expected))
             if actual.get(a, Decimal(0)) != expected.get(a, Decimal(0))}
        if d:
            diffs[c.label] = d
    inv.append(Invariant("balances reconcile exactly per account (start + fills - fees = end)",
                         not diffs, "exact for both accounts" if not diffs
                         else f"differences (actual - expected): {diffs}"))
    if rate_counters is None:
        inv.append(Invariant("no IP ban", False, "the simulator exposes no ban counters"))
    else:
        bans = rate_counters.get("bans", 0)
        refused = rate_counters.get("refused_during_ban", 0)
        limited = ", ".join(f"{k[4:]} {v}" for k, v in sorted(rate_counters.items())
                            if k.startswith("429:")) or "none"
        inv.append(Invariant("no IP ban (two keys, one address)", bans == 0,
                             f"simulator counted {bans} bans (real 429s by policy: {limited})"))
        inv.append(Invariant("no request sent during a ban", refused == 0,
                             f"simulator refused {refused} requests for a ban"))
    inv.append(Invariant("the last bot shut down cleanly", exit_code == 0,
                         f"exit code {exit_code}"))
    result.figures.update({
        "orders": len(orders), "exchange_fills": len(exchange_fills),
        "rate_counters": rate_counters,
    })


@dataclass
class _Stop:
    kind: str
    at_s: float
    exit_code: int | None
    open_after: int  # open orders on the accounts right after the process ended
    rest_s: float = 0.0  # how long they then rested with no bot running


def _quoting_since(log: Path, offset: int) -> bool:
    """Whether the bot's log shows every market quoting after ``offset``."""
    with open(log, "rb") as fh:
        fh.seek(offset)
        text = fh.read().decode("utf-8", "replace")
    return all(f"{c.symbol} quoting" in text for c in CLIENTS)


async def _stop_bot(bot: subprocess.Popen[bytes], kind: str, rng: random.Random) -> int | None:
    """Stop the bot the ``kind`` way; returns its exit code (None: killed by a signal)."""
    if kind == "SIGKILL":
        bot.send_signal(signal.SIGKILL)
        await asyncio.to_thread(bot.wait)
        return None
    bot.send_signal(signal.SIGHUP if kind == "SIGHUP" else signal.SIGTERM)
    if kind == "SIGTERM+SIGKILL":  # killed while it is still cancelling
        try:
            return await asyncio.to_thread(bot.wait, rng.uniform(0.05, 1.5))
        except subprocess.TimeoutExpired:
            bot.send_signal(signal.SIGKILL)
            await asyncio.to_thread(bot.wait)
            return None
    try:
        return await asyncio.to_thread(bot.wait, 180)
    except subprocess.TimeoutExpired:
        bot.send_signal(signal.SIGKILL)
        await asyncio.to_thread(bot.wait)
        return None


async def run_chaos(minutes: float, *, workdir: Path, seed: int = 7,
                    faults: Path = DEFAULT_FAULTS, scenario: str = "volatile",
                    say: Any = print) -> ChaosResult:
    """Run the soak for about ``minutes`` in ``workdir`` (see the module docstring)."""
    from liquidity_bot.store import Store
    from liquidity_bot.venues.tls import client_context, throwaway_ca

    if not faults.is_file():
        raise ChaosError(f"fault profile {faults} not found")
    workdir.mkdir(parents=True, exist_ok=True)
    home = workdir / "home"
    home.mkdir(mode=0o700, exist_ok=True)
    rng = random.Random(seed)
    total_s = minutes * 60
    stops_n = max(5, round(minutes * 1.2))
    kinds = [STOPS[i % len(STOPS)] for i in range(stops_n - 1)]
    rng.shuffle(kinds)
    kinds.append("SIGTERM")  # the last stop is the clean one the audit judges
    tls = throwaway_ca(workdir / "tls")
    port = _free_port()
    base_url = f"https://127.0.0.1:{port}"
    token = secrets.token_hex(16)
    passphrase = "chaos-" + secrets.token_urlsafe(12)
    result = ChaosResult(minutes=minutes, seed=seed)
    sim_log = open(workdir / "sim.log", "wb")  # noqa: SIM115
    sim = subprocess.Popen(
        _cli("sim", "serve", "--host", "127.0.0.1", "--port", str(port), "--seed", str(seed),
             "--admin-token", token, "--scenario", scenario, "--faults", str(faults),
             "--tls-cert", str(tls.cert), "--tls-key", str(tls.key)),
        stdout=sim_log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    bot: subprocess.Popen[bytes] | None = None
    stops: list[_Stop] = []
    gate_restarts = 0
    honesty: list[str] = []
    try:
        admin = _Admin(base_url, token, client_context(str(tls.ca_cert)))
        await _wait_up(admin, sim)
        # Onboarding is the client's one-off step, not part of the soak: faults are paused for
        # it, then the profile is applied again and stays on for the whole run (the bot's own
        # start-up gate re-verifies under faults at every start).
        await admin.call("POST", "/sim/admin/faults", {})
        accounts = await _onboard(home, admin, passphrase, str(tls.ca_cert))
        await admin.post_toml("/sim/admin/faults", faults.read_text(encoding="utf-8"))
        config = workdir / "bot.toml"
        config.write_text(BOT_CONFIG.format(base_url=base_url, ca_file=tls.ca_cert) + "".join(
            MARKET.format(symbol=c.symbol, label=c.label, prefix=c.prefix, size=c.size_quote)
            for c in CLIENTS), encoding="utf-8")
        log = workdir / "bot.log"
        say(f"chaos: simulator {base_url} over TLS (seed {seed}, {scenario}, faults "
            f"{faults.name}); two keys on one address; {stops_n} stops "
            f"({', '.join(kinds)}) over {minutes:g} min")
        began = time.monotonic()
        share = total_s / stops_n
        for i, kind in enumerate(kinds):
            bot = _start_bot(home, config, passphrase, log)
            up_s = rng.uniform(0.45, 0.8) * share if i < stops_n - 1 else max(
                share * 0.6, total_s - (time.monotonic() - began))
            deadline = time.monotonic() + up_s
            last = i == stops_n - 1
            mark = log.stat().st_size
            while True:
                await asyncio.sleep(0.5)
                if bot.poll() is not None:  # refused at start (a fault made a probe unsure)
                    gate_restarts += 1
                    if gate_restarts > 3 + stops_n:
                        raise ChaosError(f"the bot keeps exiting at start (code "
                                         f"{bot.returncode}); see {log}")
                    mark = log.stat().st_size
                    bot = _start_bot(home, config, passphrase, log)
                    continue
                if time.monotonic() < deadline:
                    continue
                # the last stop is judged as a clean shutdown: it goes to a bot that quotes
                if not last or _quoting_since(log, mark) or time.monotonic() > deadline + 120:
                    break
            at = time.monotonic() - began
            code = await _stop_bot(bot, kind, rng)
            left = len(await admin.open_orders(accounts))
            stops.append(_Stop(kind, at, code, left))
            if kind in ("SIGTERM", "SIGHUP") and code == 0 and left:
                honesty.append(f"{kind} at {at:.0f} s: exit {code} with {left} open orders")
            say(f"chaos: {kind} at {at:.0f} s -> exit {code}, {left} orders left open")
            if i < stops_n - 1:
                rest = rng.uniform(0.05, 0.2) * share
                await asyncio.sleep(rest)
                stops[-1].rest_s = rest if left else 0.0
        exit_code = stops[-1].exit_code
        result.invariants.append(Invariant(
            "the exit status is honest after every SIGTERM/SIGHUP (never 0 with orders open)",
            not honesty, f"{sum(s.kind in ('SIGTERM', 'SIGHUP') for s in stops)} clean stops"
            + (f"; {honesty}" if honesty else "")))
        say("chaos: auditing")
        snapshot = await admin.call("GET", "/sim/admin/faults")
        result.faults = {k: int(v) for k, v in snapshot.get("counts", {}).items()}
        ledgers = {label: await admin.call("GET", f"/sim/admin/ledger?account_id={a}")
                   for label, a in accounts.items()}
        balances = {label: (await admin.call("GET", f"/sim/admin/balances?account_id={a}"))[
            "balances"] for label, a in accounts.items()}
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
            store_orders = store.orders()
        finally:
            store.close()
        _audit(result, ledgers=ledgers, end_balances=balances, store_fills=store_fills,
               store_orders=store_orders, rate_counters=rate_counters, exit_code=exit_code)
        result.figures.update({
            "stops": [s.__dict__ for s in stops],
            "stops_by_kind": dict(Counter(s.kind for s in stops)),
            "starts_refused_by_the_gate": gate_restarts,
            "orphans_rested_s": round(sum(s.rest_s for s in stops), 1),
            "orphans_left_by_stops": sum(s.open_after for s in stops[:-1]),
        })
    finally:
        for proc in (bot, sim):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(90)
                except subprocess.TimeoutExpired:
                    proc.kill()
        sim_log.close()
    return result


def render(result: ChaosResult) -> str:
    """Plain-text tables: faults injected, invariants held."""
    lines = [f"Chaos soak: {result.minutes:g} min, seed {result.seed}, over TLS, two keys on "
             "one address, the real start-up gate", ""]
    if result.figures.get("stops"):
        lines += ["| stop | at (s) | exit | open orders after | rested unmanaged (s) |",
                  "|---|---:|---:|---:|---:|"]
        lines += [f"| {s['kind']} | {s['at_s']:.0f} | {s['exit_code']} | {s['open_after']} | "
                  f"{s['rest_s']:.1f} |" for s in result.figures["stops"]]
        lines += ["", f"starts refused by the gate and started again: "
                  f"{result.figures.get('starts_refused_by_the_gate', 0)}", ""]
    lines += ["| fault injected | count |", "|---|---:|"]
    lines += [f"| {k} | {v} |" for k, v in sorted(result.faults.items())]
    lines += ["", "| invariant | held | detail |", "|---|---|---|"]
    lines += [f"| {i.name} | {'yes' if i.held else 'NO'} | {i.detail} |"
              for i in result.invariants]
    lines += ["", "verdict: " + ("all invariants held" if result.ok else "INVARIANT FAILED")]
    return "\n".join(lines)


def chaos_command(
    minutes: float = 5.0, seed: int = 7, faults: Path = DEFAULT_FAULTS,
    workdir: Path | None = None,
) -> None:
    """Chaos soak: bot vs the faulty simulator over TLS, stopped many ways, audited."""
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
