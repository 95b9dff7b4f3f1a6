"""Issue 20's compiled experiment: the hot path's modules built with Cython, in place.

Not a build the project offers: compiled this way the production tick-to-order got slower, not
faster (bench/results.md, "the hot path compiled"). The script stays so that the experiment can
be repeated, e.g. on another CPU or with a later Cython. Each module below gets a C extension
(``.so``) beside its ``.py`` in this checkout's ``src``; Python then imports the extension
instead, so ``PYTHONPATH=src`` runs the compiled tree and ``bench/*.py --old-src`` a pure copy
beside it. ``--clean`` (also ``make clean``) removes them; tests/unit/test_compiled_build.py
fails while an extension is older than its source (Python would run the old code).

The modules are compiled as they are (Cython's pure-Python mode, no ``.pyx``), with
``annotation_typing=False`` so that no annotation becomes a C type and every decision stays the
pure tree's (Decimal and int arithmetic, exceptions, attribute look-ups). Needs
``pip install -e '.[compiled]'`` (Cython 3), a C compiler and Python's headers.

    python bench/compile_hot.py            # build the extensions in place (COMPILED_CFLAGS=-Os ...)
    python bench/compile_hot.py --force    # rebuild them all
    python bench/compile_hot.py --clean    # remove them (and the generated .c files)
    python bench/compile_hot.py --list     # the modules it compiles
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
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


def _optimisation() -> list[str]:
    """``COMPILED_CFLAGS`` (e.g. ``-Os``): extra flags after Python's own (``-O3``), for the
    experiment's code-size variants."""
    return os.environ.get("COMPILED_CFLAGS", "").split()


def clean() -> int:
    removed = 0
    for path in HOT_MODULES:
        for artefact in _artefacts(path):
            artefact.unlink()
            removed += 1
    print(f"compile_hot: removed {removed} compiled artefact(s); the pure-Python tree is in use")
    return 0


def build() -> int:
    try:
        from Cython.Build import cythonize
        from setuptools import Extension
        from setuptools.dist import Distribution
    except ImportError:
        print("compile_hot: Cython is not installed; the pure-Python tree stays in use.\n"
              "  Install it with: .venv/bin/pip install -e '.[compiled]'",
              file=sys.stderr)
        return 1
    # -w: Cython's generated C draws compiler warnings that say nothing about our code
    extensions = [Extension(_extension_name(path), [str(Path("src") / path)],
                            extra_compile_args=["-w", *_optimisation()])
                  for path in HOT_MODULES]
    os.chdir(ROOT)
    try:
        modules = cythonize(extensions, compiler_directives=DIRECTIVES, quiet=True,
                            nthreads=os.cpu_count() or 1)
        # build_ext alone (not setup(), which would read pyproject.toml's packaging config)
        dist = Distribution({"name": "liquidity-bot-compiled-experiment", "ext_modules": modules,
                             "package_dir": {"": "src"}})
        command = dist.get_command_obj("build_ext")
        command.inplace = True
        command.force = "--force" in sys.argv
        command.build_temp = "build/compiled"
        command.parallel = os.cpu_count() or 1
        command.ensure_finalized()
        command.run()
    except (SystemExit, Exception) as exc:  # a missing compiler ends in SystemExit
        clean()
        print(f"compile_hot: the build failed ({exc}); the pure-Python tree stays in use.\n"
              "  It needs a C compiler and Python's headers (e.g. apt install gcc python3-dev).",
              file=sys.stderr)
        return 1
    print(f"compile_hot: compiled {len(modules)} module(s) in place; --clean removes them")
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
