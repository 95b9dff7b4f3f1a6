"""The layers keep to themselves (issue 17): the exchange-neutral core imports no exchange's
adapter and no simulator, production code never imports the test kit, and the backtest gives
the engine its clock and parts instead of patching modules."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "liquidity_bot"
NEUTRAL = ("engine", "strategies", "domain", "reporting", "store")


def imports_of(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
    return found


@pytest.mark.parametrize("package", NEUTRAL)
def test_the_core_imports_no_exchange(package: str) -> None:
    bad = {f"{p.relative_to(SRC)}: {m}" for p in (SRC / package).rglob("*.py")
           for m in imports_of(p)
           if m.startswith(("liquidity_bot.venues.bitrue", "liquidity_bot.venues.ccxt",
                            "bitrue_sim"))}
    assert not bad, sorted(bad)


def test_production_code_never_imports_the_test_kit() -> None:
    bad = {str(p.relative_to(SRC)) for p in SRC.rglob("*.py")
           if "testing" not in p.relative_to(SRC).parts
           and any(m.startswith("liquidity_bot.testing") for m in imports_of(p))}
    assert not bad, sorted(bad)


def test_the_backtest_patches_no_module() -> None:
    for p in (SRC / "backtest").rglob("*.py"):
        tree = ast.parse(p.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "setattr":
                raise AssertionError(f"{p.name}:{node.lineno} sets an attribute by name")
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Attribute) and target.attr == "time":
                        raise AssertionError(f"{p.name}:{node.lineno} replaces a module's time")
