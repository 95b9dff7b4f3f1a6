"""`liquidity-bot sweep`: a grid of parameters x scenarios x seeds, run in local processes and on
a local Dask cluster (as CI runs it), with its table, CSV and plot."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from tests.scenarios.test_inventory_control import LADDER, MARKET
from typer.testing import CliRunner

from liquidity_bot.cli import app
from liquidity_bot.sweep import GridError, apply_params, parse_grid, run_sweep, write_outputs

CONFIG = MARKET.format(strategy="ladder", block=LADDER)
GRID = """
hours = 0.05
scenarios = ["altcoin"]
seeds = [1, 2]
[ladder]
skew_strength = ["1", "3"]
"""


@pytest.fixture
def config_file(tmp_path) -> Path:
    path = tmp_path / "bot.toml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


def test_grid_expands_and_bad_grids_say_what_to_change(config_file):
    from liquidity_bot.config import load_config

    grid = parse_grid(GRID + '[avellaneda]\ninventory_half_life_s = [60, 600]\n')
    assert len(grid.parameter_sets()) == 4 and grid.seeds == (1, 2)
    changed = apply_params(load_config(config_file), {"ladder": {"skew_strength": "3"}})
    assert str(changed.markets[0].ladder.skew_strength) == "3"
    with pytest.raises(GridError, match="skew_strength"):
        apply_params(load_config(config_file), {"ladder": {"skew_strength": "99"}})
    with pytest.raises(GridError, match="unknown scenarios"):
        parse_grid('scenarios = ["moon"]')
    with pytest.raises(GridError, match="unknown keys"):
        parse_grid("sedes = [1]")


@pytest.mark.parametrize("address", [None, "local"])
def test_sweep_runs_every_point_and_writes_its_table(config_file, tmp_path, address):
    rows = run_sweep(config_file, parse_grid(GRID), jobs=2, address=address)
    assert sorted((r.params, r.seed) for r in rows) == [
        ("ladder.skew_strength=1", 1), ("ladder.skew_strength=1", 2),
        ("ladder.skew_strength=3", 1), ("ladder.skew_strength=3", 2)]
    for r in rows:
        assert 0 < r.uptime_pct <= 100 and r.busiest_minute > 0
    files = write_outputs(rows, tmp_path / "out")
    table = files["table"].read_text()
    assert "ladder.skew_strength=3" in table and "meets obligations" in table
    with files["csv"].open() as fh:
        assert len(list(csv.DictReader(fh))) == 4
    assert files["plot"].read_text().count("<circle") == 4


def test_the_command(config_file, tmp_path):
    grid = tmp_path / "grid.toml"
    grid.write_text(GRID.replace("seeds = [1, 2]", "seeds = [1]").replace('"1", "3"', '"3"'))
    result = CliRunner().invoke(app, ["sweep", "--config", str(config_file), "--grid", str(grid),
                                      "--out", str(tmp_path / "o"), "--jobs", "1"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "o" / "sweep.md").exists()
    grid.write_text("hours = -1")
    bad = CliRunner().invoke(app, ["sweep", "--config", str(config_file), "--grid", str(grid)])
    assert bad.exit_code == 2 and "hours must be a positive number" in bad.output
