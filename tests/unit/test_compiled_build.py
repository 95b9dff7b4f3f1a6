"""The compiled experiment (bench/compile_hot.py) cannot leave stale code behind.

Python imports a module's C extension before its ``.py``: an extension built before the
``.py`` was last changed would run the old code while the source says otherwise."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import liquidity_bot

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = Path(liquidity_bot.__file__).resolve().parent


def _compile_hot():
    spec = importlib.util.spec_from_file_location("compile_hot", ROOT / "bench" / "compile_hot.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_module_the_build_compiles_exists():
    missing = [p for p in _compile_hot().HOT_MODULES if not (ROOT / "src" / p).is_file()]
    assert missing == [], f"bench/compile_hot.py lists modules that are gone: {missing}"


def test_no_compiled_module_is_older_than_its_source():
    stale = []
    for extension in [*PACKAGE.rglob("*.so"), *PACKAGE.rglob("*.pyd")]:
        source = extension.with_name(extension.name.split(".", 1)[0] + ".py")
        if source.exists() and extension.stat().st_mtime < source.stat().st_mtime:
            stale.append(str(source.relative_to(PACKAGE.parent)))
    assert stale == [], (
        f"compiled extensions older than their source (Python would run the old code): {stale}; "
        "rebuild them (python bench/compile_hot.py) or drop them (--clean, or make clean)")
