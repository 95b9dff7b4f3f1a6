"""The benchmark suite: run every bench script, parse what they print, write bench/results.md.

Each script runs as a subprocess (its own process, the way it runs by hand) within a shared
time budget (default 1200 s, so ``make bench`` stays under 20 minutes); a step that no longer
fits is skipped and says so. The table in results.md lists what was measured, our figure, the
comparison figure, their ratio (``4.2x``) and notes; the raw output of every script follows,
then the machine notes (CPU model, cores, Python, load before and after).

    .venv/bin/python bench/run_all.py [--budget-s 1200] [--hours 24] [--out bench/results.md]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent


@dataclass
class Step:
    name: str
    argv: list[str]
    estimate_s: float  # skip when less than this is left
    timeout_s: float
    output: str = ""
    seconds: float = 0.0
    status: str = "not run"
    data: dict = field(default_factory=dict)


@dataclass
class Row:
    what: str
    ours: str
    comparison: str = "-"
    ratio: str = "-"
    notes: str = ""


def ratio(a: float | None, b: float | None) -> str:
    if not a or not b:
        return "-"
    return f"{a / b:.1f}x"


def run_step(step: Step, deadline: float) -> None:
    left = deadline - time.monotonic()
    if left < step.estimate_s:
        step.status = f"skipped: {left:.0f} s left of the budget, needs about {step.estimate_s:.0f}"
        return
    started = time.monotonic()
    try:
        proc = subprocess.run([sys.executable, *step.argv], capture_output=True, text=True,
                              timeout=min(step.timeout_s, left), cwd=HERE.parent)
        step.output = proc.stdout + (("\n[stderr]\n" + proc.stderr[-2000:])
                                     if proc.returncode else "")
        step.status = "ok" if proc.returncode == 0 else f"exit code {proc.returncode}"
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        step.output = out
        step.status = f"timed out after {min(step.timeout_s, left):.0f} s"
    step.seconds = time.monotonic() - started
    print(f"[{step.name}] {step.status} in {step.seconds:.0f} s", flush=True)


def _num(text: str) -> float:
    return float(text.replace(",", ""))


def rows_latency(step: Step) -> list[Row]:
    name = "tick-to-order latency p50 / p99 (loopback)"
    if step.status != "ok":
        return [Row(name, "not measured", notes=f"bench_engine.py: {step.status}")]
    rows: list[Row] = []
    line = r"tick-to-order \(depth frame received -> order request written\): n=(\d+) " \
           r"p50=([\d.]+) ms p99=([\d.]+) ms"
    cpu = r"engine thread CPU time in between: n=\d+ p50=([\d.]+) ms p99=([\d.]+) ms"
    blocks = re.split(r"^(?=\S.*load.*:$)", step.output, flags=re.M)
    for block in blocks:
        title = block.splitlines()[0].rstrip(":") if block.strip() else ""
        wall, thread = re.search(line, block), re.search(cpu, block)
        if not (title and wall):
            continue
        note = f"{wall.group(1)} samples; depth frame received -> order request written"
        if thread:
            note += f"; engine-thread CPU in between p50 {thread.group(1)} / p99 " \
                    f"{thread.group(2)} ms"
        rows.append(Row(f"{name}, {title}", f"{wall.group(2)} ms / {wall.group(3)} ms",
                        notes=note))
    ratio_line = re.search(r"waiting / not waiting: ([\d.]+)x", step.output)
    ours = [i for i, r in enumerate(rows) if "not waiting" in r.what]
    before = [r for r in rows if "(before)" in r.what]
    if ratio_line and ours and before:
        i = ours[0]
        rows[i] = Row(rows[i].what, rows[i].ours, f"{before[0].ours} (passes waiting, before)",
                      f"{ratio_line.group(1)}x at p99", rows[i].notes)
        rows = [r for r in rows if "(before)" not in r.what]
    loops = re.search(r"tick-to-order (\w+) / (\w+): p50 ([\d.]+)x, p99 ([\d.]+)x", step.output)
    if loops:
        for i, r in enumerate(rows):
            if f"the {loops.group(1)} event loop" in r.what:
                rows[i] = Row(r.what, r.ours, r.comparison, r.ratio,
                              f"{r.notes}; {loops.group(1)} / {loops.group(2)} (the engine's "
                              f"loop, row above): p50 {loops.group(3)}x, p99 {loops.group(4)}x")
    start = re.search(r"start -> first two-sided quote acknowledged: n=(\d+) p50=([\d.]+) ms "
                      r"p99=([\d.]+) ms", step.output)
    if start:
        rows.append(Row("start -> first two-sided quote acknowledged p50 / p99",
                        f"{start.group(2)} ms / {start.group(3)} ms",
                        notes=f"{start.group(1)} starts (bench_engine.py)"))
    return rows or [Row(name, "see raw output", notes="bench_engine.py output not recognised")]


def rows_connector(step: Step) -> list[Row]:
    out = step.output
    rows: list[Row] = []
    # the first loop's medians (uvloop when installed: the loop ``liquidity-bot run`` uses)
    ours = re.search(r"^\w+\s+ours\s+place\s+([\d.]+).*?cancel\s+([\d.]+)", out, re.M)
    ccxt = re.search(r"^\w+\s+ccxt\s+place\s+([\d.]+).*?cancel\s+([\d.]+)", out, re.M)
    if ours:
        o_place, o_cancel = _num(ours.group(1)), _num(ours.group(2))
        c_place = _num(ccxt.group(1)) if ccxt else None
        c_cancel = _num(ccxt.group(2)) if ccxt else None
        note = "client CPU us per request, median of runs, first loop measured (uvloop if " \
               "installed); comparison: ccxt async bitrue, same simulator, same run; " \
               "ratio = ccxt / ours"
        rows.append(Row("client CPU per signed order (place round trip)", f"{o_place:.0f} us",
                        f"{c_place:.0f} us (ccxt)" if c_place else "ccxt not run",
                        ratio(c_place, o_place), note))
        rows.append(Row("client CPU per signed cancel round trip", f"{o_cancel:.0f} us",
                        f"{c_cancel:.0f} us (ccxt)" if c_cancel else "ccxt not run",
                        ratio(c_cancel, o_cancel), note))
    else:
        rows.append(Row("client CPU per signed order, ours vs ccxt", "not measured",
                        notes=f"bench_connector.py: {step.status}"))
    for levels in (20, 100, 1000):
        m = re.search(rf"^{levels}\s+([\d,]+)\s+([\d,]+)", out, re.M)
        if m:
            rate = _num(m.group(1))
            target = 20_000.0 if levels == 100 else None
            rows.append(Row(f"depth snapshot gunzip+decode+apply, {levels} levels/side",
                            f"{rate:,.0f} /s",
                            "20,000 /s (target)" if target else "-",
                            ratio(rate, target) if target else "-",
                            f"with reading every level as Decimal: {m.group(2)} /s"))
    return rows


def rows_quoting(step: Step, bare: Step) -> list[Row]:
    res = step.data
    if not res:
        return [Row("backtest / quoting efficiency", "not measured",
                    notes=f"bench_quoting.py: {step.status}")]
    ours, base = res["ours"], res["baseline"]
    hours = ours["hours"]
    rows = []
    m = re.search(r"wall time for 24 simulated hours: ([\d.]+) s", bare.output)
    bare_day = _num(m.group(1)) if m else None
    day = ours["wall_s"] * 24 / hours
    rows.append(Row(
        f"backtest speed: wall time for 24 simulated h of {ours['scenario']} (seed "
        f"{ours['seed']})", f"{day:.0f} s",
        f"{bare_day:.0f} s (simulator alone, both symbols)" if bare_day else "-",
        ratio(day, bare_day),
        f"whole engine (strategy, order manager, risk, 100 ms depth pushes) on virtual time, "
        f"1 market; measured {hours:g} h in {ours['wall_s']:.0f} s while the baseline ran on "
        f"the other core"))
    up_o, up_b = (ours["uptime"] or 0) * 100, (base["uptime"] or 0) * 100
    rows.append(Row(
        "quoting efficiency: obligation uptime (spread <= 1 %, >= 300 USDT within 2 % per side)",
        f"{up_o:.2f} %", f"{up_b:.2f} % (baseline)", ratio(up_o, up_b),
        f"target >= 99 %: {'met' if up_o >= 99 else 'NOT met'}; baseline = cancel/replace "
        "every 10 s, no tolerance (Hummingbot PMM style); same strategy, scenario and seed"))
    rows.append(Row(
        "quoting efficiency: order requests used (per minute, of Bitrue's 100 / 60 s)",
        f"{ours['requests_per_min']:.1f}/min ({ours['budget_share'] * 100:.0f} %)",
        f"{base['requests_per_min']:.1f}/min ({base['budget_share'] * 100:.0f} %) (baseline)",
        ratio(base["requests_per_min"], ours["requests_per_min"]),
        f"target <= 60 %: {'met' if ours['budget_share'] <= 0.6 else 'NOT met'}; ratio = "
        f"baseline / ours; max in any 60 s: ours {ours['max_per_window']}, baseline "
        f"{base['max_per_window']}; 429s: ours {ours['rate_limited']}, baseline "
        f"{base['rate_limited']}; fills ours {ours['fills']}, baseline {base['fills']}; "
        f"PnL ours {ours['pnl_quote']}, baseline {base['pnl_quote']} USDT"))
    return rows


def rows_memory(quoting: Step, raw: Step, sim_only: Step) -> list[Row]:
    sys.path.insert(0, str(HERE))
    from bench_memory import verdict

    rows = []
    res = quoting.data.get("ours") if quoting.data else None
    if not (res and res.get("rss_samples")):
        return [Row("memory over a long accelerated run", "not measured",
                    notes=f"bench_quoting.py: {quoting.status}")]
    samples = [tuple(s) for s in res["rss_samples"]]
    _mid, slope, word = verdict(samples)
    first, last = samples[0][1] / 2**20, samples[-1][1] / 2**20
    comp, rat = "-", "-"
    notes = ("RSS of the whole backtest process (engine + simulator) every 30 simulated min; "
             "the order manager drops finished orders 2 min after they finish; the simulator "
             "keeps the latest 2,000 orders and fills per symbol of our account")
    if sim_only.data:
        sim_slope = sim_only.data["slope_mb_per_h"]
        comp = f"{sim_slope:+.2f} MB/h (simulator alone, same scenario, seed and symbol)"
        notes += (f"; the other {slope - sim_slope:+.2f} MB/h is the engine and the harness "
                  "(bench_memory.py --trace splits it by package)")
    if raw.data:
        notes += (f"; without the order manager's pruning: {raw.data['slope_mb_per_h']:+.2f} MB/h over "
                  f"a {raw.data['hours']:g} h run ({raw.data['verdict']})")
    rows.append(Row(f"memory over {res['hours']:g} simulated h (RSS growth in the 2nd half)",
                    f"{first:.0f} -> {last:.0f} MB, {slope:+.2f} MB/h ({word})", comp, rat,
                    notes))
    return rows


def machine_notes(load_before: tuple[float, ...], load_after: tuple[float, ...]) -> list[str]:
    model = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return [
        f"- CPU: {model}",
        f"- cores: {os.cpu_count()}",
        f"- Python: {platform.python_version()} ({platform.python_implementation()}), "
        f"{platform.system()} {platform.release()}",
        f"- load average (1, 5, 15 min) before: {', '.join(f'{x:.2f}' for x in load_before)}; "
        f"after: {', '.join(f'{x:.2f}' for x in load_after)}",
        f"- date: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget-s", type=float, default=1200.0)
    parser.add_argument("--hours", type=float, default=24.0,
                        help="simulated hours of the quoting/backtest run")
    parser.add_argument("--out", type=Path, default=HERE / "results.md")
    args = parser.parse_args(argv)
    started = time.monotonic()
    deadline = started + args.budget_s
    load_before = os.getloadavg()
    tmp = Path(tempfile.mkdtemp(prefix="bench-"))
    quoting_json, memory_json = tmp / "quoting.json", tmp / "memory.json"
    b = str(HERE)
    quoting = Step("bench_quoting", [f"{b}/bench_quoting.py", "--hours", str(args.hours),
                                     "--json", str(quoting_json)],
                   estimate_s=60, timeout_s=args.budget_s * 0.7)
    connector = Step("bench_connector", [f"{b}/bench_connector.py", "--runs", "3"],
                     estimate_s=60, timeout_s=240)  # 2 loops x 2 clients, a process each
    bare = Step("bench_virtual_time", [f"{b}/bench_virtual_time.py", "--hours", "24"],
                estimate_s=45, timeout_s=120)
    # 300 s of production load: a pass sends orders only when the book moved past the
    # tolerance, about 20 a minute, and a p99 needs samples
    engine = Step("bench_engine", [f"{b}/bench_engine.py", "--seconds", "300",
                                   "--segment-seconds", "150", "--stress-seconds", "30",
                                   "--starts", "5"],
                  estimate_s=720, timeout_s=1000)
    memory = Step("bench_memory (no pruning)", [f"{b}/bench_memory.py", "--hours", "3",
                                                "--no-prune", "--json", str(memory_json)],
                  estimate_s=40, timeout_s=120)
    sim_memory_json = tmp / "sim_memory.json"
    sim_memory = Step("bench_memory (simulator alone)",
                      [f"{b}/bench_memory.py", "--hours", str(args.hours), "--sim-only",
                       "--sample-min", "30", "--json", str(sim_memory_json)],
                      estimate_s=20, timeout_s=90)
    extras = [Step("bench_matching", [f"{b}/bench_matching.py"], estimate_s=30, timeout_s=60),
              Step("bench_sim_rest", [f"{b}/bench_sim_rest.py"], estimate_s=20, timeout_s=60),
              Step("bench_book", [f"{b}/bench_book.py"], estimate_s=10, timeout_s=60),
              Step("bench_report", [f"{b}/bench_report.py", "--days", "1"], estimate_s=45,
                   timeout_s=120),
              Step("bench_alerts", [f"{b}/bench_alerts.py", "--seconds", "60"], estimate_s=150,
                   timeout_s=300)]
    if not (HERE / "bench_engine.py").exists():
        engine.status = "bench/bench_engine.py does not exist yet"
        steps = [quoting, connector, bare, sim_memory, memory, *extras]
    else:
        steps = [quoting, engine, connector, bare, sim_memory, memory, *extras]
    for step in steps:
        run_step(step, deadline)
    if quoting_json.exists():
        quoting.data = json.loads(quoting_json.read_text())
    if memory_json.exists():
        memory.data = json.loads(memory_json.read_text())
    if sim_memory_json.exists():
        sim_memory.data = json.loads(sim_memory_json.read_text())
    load_after = os.getloadavg()

    rows = [*rows_latency(engine), *rows_connector(connector), *rows_quoting(quoting, bare),
            *rows_memory(quoting, memory, sim_memory)]
    total = time.monotonic() - started
    lines = ["# Benchmark results", "",
             f"Written by `bench/run_all.py` (`make bench`) in {total:.0f} s. Every figure below "
             "was measured in that run on the machine described at the end; the raw output of "
             "each script follows the table.", "",
             "| what | ours | comparison | ratio | notes |", "|---|---|---|---|---|"]
    for r in rows:
        cells = [r.what, r.ours, r.comparison, r.ratio, r.notes]
        lines.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    lines += ["", "## Machine", "", *machine_notes(load_before, load_after), "",
              "## Steps", ""]
    lines += [f"- {s.name}: {s.status}" + (f" ({s.seconds:.0f} s)" if s.seconds else "")
              for s in ([engine] if engine not in steps else []) + steps]
    lines += ["", "## Raw output", ""]
    for s in steps:
        if s.output:
            lines += [f"### {s.name}", "", "```", s.output.strip(), "```", ""]
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {args.out} ({total:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
