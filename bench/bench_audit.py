"""Does the token project's audit see what the bot reports? The whole thing through the CLI.

Per seed: the simulator (``sim serve``, volatile scenario) in a child process; an account with
two keys, the market maker's (Read + Trade, allowed from 127.0.0.1) and the token project's
(Read only, allowed from 127.0.0.2), each in its own home; ``run`` quotes XRPUSDT while
``audit`` samples the exchange every second from 127.0.0.2. With ``--pause S`` the bot is
stopped (SIGTERM: it cancels its orders) for S seconds in the middle of the run and started
again, so both reports must show the breach. Then ``report --format json`` (the bot's),
``audit report`` (the audit's) over the same window and ``audit compare``.

Printed per seed: both uptimes, their difference, the samples, the orders each side counted and
the disagreements compare lists. ``--docs DIR`` writes the last seed's audit report (HTML and
JSON) and the comparison there (docs/sample-audit-report.html, ...).

    .venv/bin/python bench/bench_audit.py [--seeds 1,2,3] [--seconds 90] [--pause 20] [--docs docs]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from decimal import Decimal
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PASSPHRASE = "bench audit passphrase"
ADMIN = "bench-admin"
BOT_TOML = """
kpi_interval_s = 1
[bitrue]
base_url = "{url}"
[store]
url = "sqlite:///{{home}}/liquidity-bot.db"
[[markets]]
symbol = "XRPUSDT"
key_label = "Liquidity Bot"
client_id_prefix = "lb"
strategy = "ladder"
[markets.ladder]
levels = 3
base_spread_pct = "0.3"
level_spacing_pct = "0.1"
level_size_quote = "200"
[markets.obligations]
max_spread_pct = "1"
min_depth_2pct_quote = "300"
[markets.risk]
max_order_notional = "1000"
max_open_notional_per_side = "4000"
max_base_inventory = "100000"
daily_loss_limit = "10000"
"""
AUDIT_TOML = """
interval_s = 1.0
history_interval_s = 10.0
[bitrue]
base_url = "{url}"
source_address = "127.0.0.2"
[[markets]]
symbol = "XRPUSDT"
client_id_prefix = "lb"
[markets.obligations]
max_spread_pct = "1"
min_depth_2pct_quote = "300"
"""


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    env["LIQUIDITY_BOT_PASSPHRASE"] = PASSPHRASE
    return env


def cli(home: Path | None, *args: str, stdin: str | None = None, check: bool = True) -> str:
    argv = [sys.executable, "-m", "liquidity_bot.cli"]
    if home is not None:
        argv += ["--home", str(home)]
    done = subprocess.run(argv + list(args), input=stdin, capture_output=True, text=True,
                          env=_env(), timeout=600)
    if check and done.returncode != 0:
        raise SystemExit(f"{' '.join(args[:2])} exited {done.returncode}:\n{done.stderr[-3000:]}")
    return done.stdout


def spawn(home: Path | None, *args: str, log: Path) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "liquidity_bot.cli"]
    if home is not None:
        argv += ["--home", str(home)]
    with log.open("ab") as fh:
        return subprocess.Popen(argv + list(args), stdout=fh, stderr=subprocess.STDOUT, env=_env())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def admin(url: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    req = urllib.request.Request(url + path, data=json.dumps(body).encode(), method="POST",
                                 headers={"X-Sim-Admin": ADMIN, "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 - loopback only
        return json.loads(resp.read())


def wait_ready(url: str) -> None:
    for _ in range(200):
        try:
            with urllib.request.urlopen(url + "/api/v1/ping", timeout=1):  # noqa: S310
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("the simulator did not start")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=90)


def one_seed(seed: int, seconds: float, pause: float, work: Path) -> dict[str, Any]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    bot_home, audit_home = work / "market-maker", work / "token-project"
    sim = spawn(None, "sim", "serve", "--port", str(port), "--seed", str(seed), "--admin-token",
                ADMIN, "--scenario", "volatile", "--symbols", "XRPUSDT", log=work / "sim.log")
    try:
        wait_ready(url)
        acct = admin(url, "/sim/admin/accounts", {"balances": {"USDT": "20000", "XRP": "40000"}})
        bot_key = admin(url, "/sim/admin/keys", {
            "account_id": acct["account_id"], "label": "Liquidity Bot",
            "permissions": ["read", "trade"], "ip_allowlist": ["127.0.0.1"]})
        audit_key = admin(url, "/sim/admin/keys", {
            "account_id": acct["account_id"], "label": "Obligation Audit",
            "permissions": ["read"], "ip_allowlist": ["127.0.0.2"]})
        cli(bot_home, "keys", "add", "--label", "Liquidity Bot", "--api-key", bot_key["api_key"],
            "--base-url", url, "--canary-source", "127.0.0.2", stdin=bot_key["secret"] + "\n")
        cli(audit_home, "keys", "add", "--profile", "audit", "--label", "Obligation Audit",
            "--api-key", audit_key["api_key"], "--no-verify", stdin=audit_key["secret"] + "\n")
        (bot_home / "bot.toml").write_text(BOT_TOML.format(url=url))
        (audit_home / "audit.toml").write_text(AUDIT_TOML.format(url=url))
        run = ["run", "--config", str(bot_home / "bot.toml"), "--canary-source", "127.0.0.2",
               "--no-dashboard"]
        bot = spawn(bot_home, *run, log=work / "bot.log")
        time.sleep(6)  # the bot verifies its key and quotes
        audit = spawn(audit_home, "audit", "--config", str(audit_home / "audit.toml"),
                      "--canary-source", "127.0.0.3", "--duration", str(seconds + 12),
                      log=work / "audit.log")
        time.sleep(8)  # the audit verifies its key and samples
        start_ms = int(time.time() * 1000)
        if pause > 0:
            time.sleep((seconds - pause) / 2)
            stop(bot)
            time.sleep(pause)
            bot = spawn(bot_home, *run, "--no-reverify", log=work / "bot.log")
            time.sleep((seconds - pause) / 2)
        else:
            time.sleep(seconds)
        end_ms = int(time.time() * 1000)
        audit.wait(timeout=120)
        stop(bot)
    finally:
        stop(sim)
    window = ["--from", str(start_ms), "--to", str(end_ms)]
    ours_path, theirs_path = work / "bot-report.json", work / "audit-report.json"
    cli(bot_home, "report", "--config", str(bot_home / "bot.toml"), "--format", "json",
        "--out", str(ours_path), *window)
    for fmt in ("json", "html"):
        cli(audit_home, "audit", "report", "--config", str(audit_home / "audit.toml"),
            "--format", fmt, "--out", str(work / f"audit-report.{fmt}"), *window)
    compare = cli(None, "audit", "compare", "--ours", str(ours_path), "--theirs",
                  str(theirs_path), check=False)
    compare_json = json.loads(cli(None, "audit", "compare", "--ours", str(ours_path),
                                  "--theirs", str(theirs_path), "--min-s", "1", "--json",
                                  check=False))
    ours = json.loads(ours_path.read_text())["symbols"]["XRPUSDT"]
    theirs = json.loads(theirs_path.read_text())["symbols"]["XRPUSDT"]
    return {"ours": ours, "theirs": theirs, "compare": compare, "compare_json": compare_json}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="1,2,3")
    ap.add_argument("--seconds", type=float, default=90.0)
    ap.add_argument("--pause", type=float, default=0.0, help="Stop the bot this long midway.")
    ap.add_argument("--docs", type=Path, help="Write the last seed's audit report here.")
    args = ap.parse_args()
    print(f"{'seed':>4} {'bot %':>8} {'audit %':>8} {'diff':>6} {'samples b/a':>12} "
          f"{'placed b/a':>11} {'unseen':>6} {'disagreements':>13}")
    last: dict[str, Any] = {}
    diffs = []
    for seed in (int(s) for s in args.seeds.split(",")):
        with TemporaryDirectory(prefix="bench-audit-") as tmp:
            got = one_seed(seed, args.seconds, args.pause, Path(tmp))
            if args.docs is not None:
                last = {"dir": Path(tmp), **got}
                args.docs.mkdir(parents=True, exist_ok=True)
                for fmt in ("html", "json"):
                    text = (Path(tmp) / f"audit-report.{fmt}").read_text()
                    (args.docs / f"sample-audit-report.{fmt}").write_text(text)
                (args.docs / "sample-audit-compare.txt").write_text(got["compare"])
                bot_json = (Path(tmp) / "bot-report.json").read_text()
                (args.docs / "sample-audit-bot-report.json").write_text(bot_json)
        o, t = got["ours"], got["theirs"]
        uo, ut = Decimal(o["uptime_pct"]), Decimal(t["uptime_pct"])
        diffs.append(abs(uo - ut))
        placed_o = sum(f["placed"] for f in o["orders_per_minute"])
        placed_t = sum(f["placed"] for f in t["orders_per_minute"])
        print(f"{seed:>4} {uo:>8.2f} {ut:>8.2f} {uo - ut:>6.2f} {o['samples']:>5}/{t['samples']:<6} "
              f"{placed_o:>5}/{placed_t:<5} {t['audit']['orders_not_seen_by_samples']:>6} "
              f"{len(got['compare_json']['disagreements']):>13}", flush=True)
    print(f"largest uptime difference {max(diffs):.2f} percentage points over {len(diffs)} seeds")
    if last:
        print(last["compare"])


if __name__ == "__main__":
    main()
