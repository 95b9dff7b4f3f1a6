"""Bench: whole-process start-up of the CLI commands people run most (issue 20, item 5).

Each command runs as a fresh ``python -m liquidity_bot.cli ...`` process and its wall time, from
spawn to exit, is measured ``--runs`` times; the median is printed. With ``--old-src DIR`` (the
``src`` directory of another checkout, e.g. ``main``'s) the same commands run from that tree too,
interleaved run by run with this one, so that both see the same load on a shared machine; the
ratio old/new is printed beside them. Numbers are printed, never asserted.

The commands: ``--help``; ``keys list`` on an empty home (no vault: the policy is still loaded);
``report --help`` (the command reached, nothing read); ``report --format json`` on a store that holds the schema and no rows (a real report, start to
end). ``python -X importtime -m liquidity_bot.cli --help`` shows where the import time goes.

    .venv/bin/python bench/bench_startup.py [--runs 10] [--old-src /work/main/src]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1] / "src"

COMMANDS: dict[str, list[str]] = {
    "--help": ["--help"],
    "keys list": ["keys", "list"],
    "report --help": ["report", "--help"],
    "report": ["report", "--format", "json", "--out", "{home}/report.json"],
}


def _prepare_home(home: Path, src: Path) -> None:
    """An empty store with its schema, made by the tree under test (its own schema)."""
    code = (
        "import sys; from liquidity_bot.store import Store; "
        "s = Store(sys.argv[1]); s.create_schema(); s.close()"
    )
    env = {**os.environ, "PYTHONPATH": str(src)}
    subprocess.run(
        [sys.executable, "-c", code, f"sqlite:///{home}/liquidity-bot.db"], env=env, check=True
    )


def _once(src: Path, home: Path, args: list[str]) -> float:
    env = {**os.environ, "PYTHONPATH": str(src), "LIQUIDITY_BOT_HOME": str(home)}
    argv = [sys.executable, "-m", "liquidity_bot.cli", *(a.format(home=home) for a in args)]
    t0 = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, check=False)
    elapsed = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({src}): {done.stderr.decode()[-400:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--old-src", type=Path, default=None, help="src/ of the tree to compare")
    args = parser.parse_args()
    trees = {"new": HERE} | ({"old": args.old_src.resolve()} if args.old_src else {})
    with tempfile.TemporaryDirectory() as tmp:
        homes = {}
        for name, src in trees.items():
            homes[name] = Path(tmp) / name
            homes[name].mkdir(mode=0o700)
            _prepare_home(homes[name], src)
        times: dict[tuple[str, str], list[float]] = {}
        for _ in range(args.runs):
            for label, cmd in COMMANDS.items():
                for name, src in trees.items():  # interleaved: same load for both trees
                    times.setdefault((label, name), []).append(_once(src, homes[name], cmd))
    print(f"whole-process wall time, median of {args.runs} interleaved runs (seconds)")
    header = f"{'command':<14} {'new':>7}" + (f" {'old':>7} {'old/new':>8}" if "old" in trees else "")
    print(header)
    for label in COMMANDS:
        new = statistics.median(times[(label, "new")])
        line = f"{label:<14} {new:7.3f}"
        if "old" in trees:
            old = statistics.median(times[(label, "old")])
            line += f" {old:7.3f} {old / new:7.1f}x"
        print(line)


if __name__ == "__main__":
    main()
