"""Start-up stays cheap: loading the CLI imports only what its commands' signatures need.

`liquidity-bot --help`, `keys list` and `report` used to spend 0.7 s importing the simulator,
the backtest, SQLAlchemy and aiohttp before anything ran (issue 20, item 5). Each command now
imports what it uses when it runs; these tests check the modules loaded, in a fresh interpreter,
never a time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"

# The simulator's command group is registered by its typer app: that module and the settings
# dataclass its defaults come from are all of the simulator a start-up may load.
SIM_CLI_MODULES = {"bitrue_sim", "bitrue_sim.cli", "bitrue_sim.stream_settings"}
HEAVY = ("sqlalchemy", "aiohttp", "liquidity_bot.store", "liquidity_bot.backtest.runner",
         "liquidity_bot.engine", "liquidity_bot.venues", "liquidity_bot.reporting.report",
         "cryptography.hazmat.primitives.asymmetric", "rich.markdown")


def _modules_after(code: str) -> set[str]:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    script = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                          text=True, check=True)
    return set(json.loads(done.stdout.splitlines()[-1]))


def _heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if m.startswith(HEAVY))


def test_importing_the_cli_loads_no_database_network_or_engine_code() -> None:
    modules = _modules_after("import liquidity_bot.cli")
    assert _heavy(modules) == []
    assert {m for m in modules if m.split(".")[0] == "bitrue_sim"} <= SIM_CLI_MODULES


def test_the_heavy_list_is_seen_when_it_is_imported() -> None:
    """The check above can fail: importing the report really loads SQLAlchemy."""
    modules = _modules_after("import liquidity_bot.cli, liquidity_bot.reporting.report")
    assert "sqlalchemy" in _heavy(modules)


def test_help_runs_and_lists_every_command(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(SRC), "LIQUIDITY_BOT_HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "liquidity_bot.cli", "--help"], env=env,
                          capture_output=True, text=True, check=True)
    for command in ("sim", "keys", "alerts", "audit", "report", "backtest", "chaos", "sweep",
                    "run"):
        assert command in done.stdout
