"""Opt-in: compile the hot path's modules with Cython, in place (issue 20's experiment).

The pure-Python tree stays the default and what the tests import. ``make compiled`` runs this
script: each module below gets a C extension (``.so``) beside its ``.py``, and Python then
imports the extension instead. ``make clean-compiled`` (or ``--clean``) drops them again.

The modules are compiled as they are (Cython's pure-Python mode, no ``.pyx``), with
``annotation_typing=False`` so that no annotation becomes a C type and every decision stays the
pure tree's (Decimal and int arithmetic, exceptions, attribute look-ups). A machine without
Cython or a C compiler keeps the pure tree and gets a message saying what to install.

    python setup_compiled.py            # build the extensions in place
    python setup_compiled.py --clean    # remove them (and the generated .c files)
    python setup_compiled.py --list     # the modules it compiles
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
SRC = ROOT / "src"

# The acting pass, from a depth frame to its first order's bytes (bench/pass_stages.py --calls):
# stream decode, book, runner, strategy, planner, budget, risk gate, registration, venue, REST
# encoding, signing and the lean HTTP client.
HOT_MODULES = (
    "liquidity_bot/domain/book.py",
    "liquidity_bot/domain/order.py",
    "liquidity_bot/domain/ticks.py",
    "liquidity_bot/domain/tick_filters.py",
    "liquidity_bot/engine/budget.py",
    "liquidity_bot/engine/clock.py",
    "liquidity_bot/engine/eager.py",
    "liquidity_bot/engine/market_runner.py",
    "liquidity_bot/engine/order_manager.py",
    "liquidity_bot/engine/persistence.py",
    "liquidity_bot/engine/planner.py",
    "liquidity_bot/engine/risk.py",
    "liquidity_bot/engine/runner.py",
    "liquidity_bot/reporting/kpi.py",
    "liquidity_bot/reporting/markouts.py",
    "liquidity_bot/strategies/avellaneda.py",
    "liquidity_bot/strategies/base.py",
    "liquidity_bot/strategies/estimators.py",
    "liquidity_bot/strategies/inventory.py",
    "liquidity_bot/strategies/ladder.py",
    "liquidity_bot/strategies/shaping.py",
    "liquidity_bot/venues/bitrue/clock.py",
    "liquidity_bot/venues/bitrue/market_stream.py",
    "liquidity_bot/venues/bitrue/ratelimit.py",
    "liquidity_bot/venues/bitrue/rest.py",
    "liquidity_bot/venues/bitrue/signing.py",
    "liquidity_bot/venues/bitrue/venue.py",
    "liquidity_bot/venues/bitrue/weights.py",
    "liquidity_bot/venues/common/books.py",
    "liquidity_bot/venues/common/fanout.py",
    "liquidity_bot/venues/common/orders.py",
    "liquidity_bot/venues/lean_http.py",
)

# Directives that keep Python's semantics: no annotation turns into a C type (a ``float``
# annotation would otherwise become a C double, an ``int`` or ``dict`` one an exact type check),
# functions keep their introspection (signatures, ``__defaults__``, ``inspect``), division and
# indexing stay Python's.
DIRECTIVES = {
    "language_level": 3,
    "binding": True,
    "annotation_typing": False,
    "embedsignature": False,
}


def _extension_name(path: str) -> str:
    return path.removesuffix(".py").replace("/", ".")


def _artefacts(path: str) -> list[Path]:
    stem = (SRC / path).with_suffix("")
    found = [stem.with_suffix(".c")]
    found += sorted(stem.parent.glob(stem.name + ".*.so"))
    found += sorted(stem.parent.glob(stem.name + ".*.pyd"))
    return [p for p in found if p.exists()]


def clean() -> int:
    removed = 0
    for path in HOT_MODULES:
        for artefact in _artefacts(path):
            artefact.unlink()
            removed += 1
    print(f"removed {removed} compiled artefact(s); the pure-Python tree is in use")
    return 0


def build() -> int:
    try:
        from Cython.Build import cythonize
        from setuptools import Extension
        from setuptools.dist import Distribution
    except ImportError:
        print("setup_compiled: Cython is not installed; the pure-Python tree stays in use.\n"
              "  Install it with: .venv/bin/pip install -e '.[compiled]'   (then: make compiled)",
              file=sys.stderr)
        return 1
    extensions = [Extension(_extension_name(path), [str(Path("src") / path)])
                  for path in HOT_MODULES]
    os.chdir(ROOT)
    try:
        modules = cythonize(extensions, compiler_directives=DIRECTIVES, quiet=True,
                            nthreads=os.cpu_count() or 1)
        # build_ext alone (not setup(), which would read pyproject.toml's packaging config)
        dist = Distribution({"name": "liquidity-bot-compiled", "ext_modules": modules,
                             "package_dir": {"": "src"}})
        command = dist.get_command_obj("build_ext")
        command.inplace = True
        command.build_temp = "build/compiled"
        command.parallel = os.cpu_count() or 1
        command.ensure_finalized()
        command.run()
    except (SystemExit, Exception) as exc:  # a missing compiler ends in SystemExit
        clean()
        print(f"setup_compiled: the build failed ({exc}); the pure-Python tree stays in use.\n"
              "  It needs a C compiler and Python's headers (e.g. apt install gcc python3-dev).",
              file=sys.stderr)
        return 1
    print(f"compiled {len(modules)} module(s) in place; `make clean-compiled` removes them")
    return 0


def main(argv: list[str]) -> int:
    if "--list" in argv:
        print("\n".join(HOT_MODULES))
        return 0
    if "--clean" in argv:
        return clean()
    return build()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
