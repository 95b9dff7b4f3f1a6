"""Parameter sweeps: backtests over strategy parameters x scenarios x seeds, in parallel.

A grid file (TOML) names the values to try; every combination of them is applied to every
market of the bot's config (each market's own strategy block), then backtested on every
scenario and seed:

    hours = 1
    scenarios = ["altcoin", "volatile"]
    seeds = [1, 2, 3]
    [ladder]                       # applied to markets with strategy = "ladder"
    skew_strength = ["1", "3"]
    base_spread_pct = ["0.4", "0.6"]
    [avellaneda]                   # ... and to those with strategy = "avellaneda"
    inventory_half_life_s = [60, 600]

Each run is one process's work (`run_point`: the engine on simulated time, its store in a
temporary file, measured with the same report the client gets): uptime of the worst market,
the busiest 60 s of order requests, PnL against holding (summed over markets) and the
volume-weighted markouts of all fills at 1, 5 and 60 s. Runs go to local processes
(`--jobs`), or to a Dask cluster (`--address tcp://...`; `distributed` is the optional extra
`[sweep]`): Dask because it runs plain Python functions on an existing cluster or a local one
with no change to them, which is all a sweep needs (see the README). `write_outputs` gives a
Markdown table, a CSV and an SVG plot of uptime against PnL, marking the parameter sets that met
the obligations on every run (uptime >= 99 % and at most 60 requests in any 60 s).
"""

from __future__ import annotations

import csv
import io
import itertools
import statistics
import tempfile
import tomllib
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import msgspec
import typer

UPTIME_TARGET = 0.99
REQUESTS_TARGET = 60
STRATEGY_BLOCKS = ("ladder", "avellaneda")
GRID_KEYS = {"hours", "scenarios", "seeds", *STRATEGY_BLOCKS}


class GridError(ValueError):
    """A grid file that cannot be run; the message says what to change."""


@dataclass(frozen=True)
class Grid:
    hours: float
    scenarios: tuple[str, ...]
    seeds: tuple[int, ...]
    params: dict[str, dict[str, tuple[Any, ...]]]
    """Per strategy block, per field: the values to try."""

    def parameter_sets(self) -> list[dict[str, dict[str, Any]]]:
        """Every combination, as {block: {field: value}}."""
        axes = [(block, name, values) for block, fields in sorted(self.params.items())
                for name, values in sorted(fields.items())]
        if not axes:
            return [{}]
        out = []
        for combo in itertools.product(*(values for _, _, values in axes)):
            chosen: dict[str, dict[str, Any]] = {}
            for (block, name, _), value in zip(axes, combo, strict=True):
                chosen.setdefault(block, {})[name] = value
            out.append(chosen)
        return out


def parse_grid(text: str, source: str = "grid") -> Grid:
    """Read a grid file's text; unknown keys, empty lists or a wrong scenario fail clearly."""
    from bitrue_sim.scenarios import SCENARIOS

    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise GridError(f"{source}: not valid TOML ({exc})") from None
    unknown = set(raw) - GRID_KEYS
    if unknown:
        raise GridError(f"{source}: unknown keys {sorted(unknown)}; use {sorted(GRID_KEYS)}")
    hours = raw.get("hours", 1)
    if not isinstance(hours, int | float) or hours <= 0:
        raise GridError(f"{source}: hours must be a positive number")
    scenarios = tuple(raw.get("scenarios", ["altcoin"]))
    bad = [s for s in scenarios if s not in SCENARIOS]
    if bad or not scenarios:
        raise GridError(f"{source}: unknown scenarios {bad}; choose from {sorted(SCENARIOS)}")
    seeds = tuple(raw.get("seeds", [1]))
    if not seeds or not all(isinstance(s, int) for s in seeds):
        raise GridError(f"{source}: seeds must be a non-empty list of integers")
    params: dict[str, dict[str, tuple[Any, ...]]] = {}
    for block in STRATEGY_BLOCKS:
        fields = raw.get(block, {})
        if not isinstance(fields, dict):
            raise GridError(f"{source}: [{block}] must be a table of lists")
        for name, values in fields.items():
            if not isinstance(values, list) or not values:
                raise GridError(f"{source}: [{block}] {name} must be a non-empty list")
            params.setdefault(block, {})[name] = tuple(values)
    return Grid(float(hours), scenarios, seeds, params)


def apply_params(config: Any, chosen: dict[str, dict[str, Any]]) -> Any:
    """`config` with each market's strategy block changed as `chosen` says (validated as the
    config file would be: a wrong name or value fails with the config's own message)."""
    from liquidity_bot.config import AvellanedaParams, ConfigError, LadderParams, _Loader

    kinds = {"ladder": LadderParams, "avellaneda": AvellanedaParams}
    markets = []
    for i, m in enumerate(config.markets):
        block = getattr(m, m.strategy, None)
        changes = chosen.get(m.strategy, {})
        if block is not None and changes:
            # as the file would say it: decimals as text, unset fields left out
            merged = {k: (str(v) if isinstance(v, Decimal) else v)
                      for k, v in msgspec.structs.asdict(block).items() if v is not None}
            merged.update(changes)
            try:
                block = _Loader("grid").build(merged, kinds[m.strategy],
                                              f"markets[{i}].{m.strategy}")
            except ConfigError as exc:
                raise GridError(f"[{m.strategy}] {changes}: {exc}") from None
            m = msgspec.structs.replace(m, **{m.strategy: block})
        markets.append(m)
    return msgspec.structs.replace(config, markets=tuple(markets))


def label(chosen: dict[str, dict[str, Any]]) -> str:
    parts = [f"{block}.{k}={v}" for block, fields in sorted(chosen.items())
             for k, v in sorted(fields.items())]
    return ", ".join(parts) or "as configured"


@dataclass(frozen=True)
class Point:
    """One backtest of a sweep: picklable, so it can run in any process or Dask worker."""

    config_path: str
    chosen: dict[str, dict[str, Any]]
    scenario: str
    seed: int
    hours: float


@dataclass(frozen=True)
class Row:
    params: str
    scenario: str
    seed: int
    uptime_pct: float  # the worst market's
    busiest_minute: int
    pnl_vs_hold: str  # Decimal as text, summed over markets
    markout_1s_bps: str | None
    markout_5s_bps: str | None
    markout_60s_bps: str | None
    fills: int

    @property
    def meets(self) -> bool:
        return self.uptime_pct >= UPTIME_TARGET * 100 and self.busiest_minute <= REQUESTS_TARGET


def run_point(point: Point) -> Row:
    """Backtest one point and measure it with the client report's own figures."""
    from liquidity_bot.backtest import run_backtest
    from liquidity_bot.config import load_config
    from liquidity_bot.reporting.markouts import Markouts
    from liquidity_bot.reporting.report import build_report
    from liquidity_bot.store import Store

    config = apply_params(load_config(point.config_path), point.chosen)
    with tempfile.TemporaryDirectory(prefix="lb-sweep-") as tmp:
        url = f"sqlite:///{tmp}/run.db"
        result = run_backtest(config, scenario=point.scenario, hours=point.hours,
                              seed=point.seed, store_url=url)
        store = Store(url)
        try:
            rep = build_report(store, obligations={m.symbol: m.obligations
                                                   for m in config.markets},
                               interval_ms=int(config.kpi_interval_s * 1000))
        finally:
            store.close()
    total = Markouts()
    pnl = Decimal(0)
    for r in rep.symbols:
        pnl += r.pnl.vs_hold if r.pnl.vs_hold is not None else Decimal(0)
        for key, s in r.markouts.sums.items():
            agg = total.sums.setdefault(key, type(s)())
            agg.weighted_bps += s.weighted_bps
            agg.value += s.value
            agg.fills += s.fills

    def bps(h: int) -> str | None:
        v = total.bps("ALL", h)
        return None if v is None else str(round(v, 2))

    uptimes = [m.uptime for m in result.markets if m.uptime is not None]
    return Row(
        params=label(point.chosen), scenario=point.scenario, seed=point.seed,
        uptime_pct=round(100 * min(uptimes), 3) if uptimes else 0.0,
        busiest_minute=result.max_order_requests_per_window,
        pnl_vs_hold=str(round(pnl, 2)),
        markout_1s_bps=bps(1), markout_5s_bps=bps(5), markout_60s_bps=bps(60),
        fills=sum(m.fills for m in result.markets),
    )


def points(config_path: Path, grid: Grid) -> list[Point]:
    return [Point(str(config_path), chosen, scenario, seed, grid.hours)
            for chosen in grid.parameter_sets() for scenario in grid.scenarios
            for seed in grid.seeds]


def run_local(todo: Sequence[Point], jobs: int) -> list[Row]:
    """Local processes (`jobs` at once); one process per run keeps runs independent."""
    if jobs <= 1:
        return [run_point(p) for p in todo]
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(run_point, todo))


def run_dask(todo: Sequence[Point], address: str) -> list[Row]:
    """On an existing Dask cluster (`address`, e.g. tcp://10.0.0.5:8786), or a local one of
    two worker processes when `address` is "local" (how CI tests it)."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise GridError(
            "--address needs Dask's distributed: pip install 'liquidity-bot[sweep]'"
        ) from None
    cluster = None
    if address == "local":
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                               dashboard_address=None, host="127.0.0.1")
        client = Client(cluster)
    else:
        client = Client(address)
    try:
        futures = client.map(run_point, list(todo), pure=False)
        return list(client.gather(futures))
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


@dataclass(frozen=True)
class Summary:
    """One parameter set over all its runs."""

    params: str
    runs: int
    worst_uptime_pct: float
    busiest_minute: int
    median_pnl_vs_hold: Decimal
    median_markout_5s_bps: Decimal | None
    meets: bool


def summarise(rows: Iterable[Row]) -> list[Summary]:
    by: dict[str, list[Row]] = {}
    for r in rows:
        by.setdefault(r.params, []).append(r)
    out = []
    for params, rs in by.items():
        m5 = [Decimal(r.markout_5s_bps) for r in rs if r.markout_5s_bps is not None]
        out.append(Summary(
            params=params, runs=len(rs), worst_uptime_pct=min(r.uptime_pct for r in rs),
            busiest_minute=max(r.busiest_minute for r in rs),
            median_pnl_vs_hold=statistics.median(Decimal(r.pnl_vs_hold) for r in rs),
            median_markout_5s_bps=statistics.median(m5) if m5 else None,
            meets=all(r.meets for r in rs),
        ))
    return sorted(out, key=lambda s: (not s.meets, -s.median_pnl_vs_hold))


def markdown_table(rows: Sequence[Row], summaries: Sequence[Summary], note: str = "") -> str:
    lines = ["# Sweep", "", note, "",
             "| parameters | runs | worst uptime % | busiest 60 s | median PnL vs hold "
             "| median markout 5 s (bps) | meets obligations |",
             "|---|---|---|---|---|---|---|"]
    for s in summaries:
        lines.append(f"| {s.params} | {s.runs} | {s.worst_uptime_pct:.2f} | {s.busiest_minute} "
                     f"| {s.median_pnl_vs_hold} | {s.median_markout_5s_bps} "
                     f"| {'yes' if s.meets else 'no'} |")
    lines += ["", "## Every run", "",
              "| parameters | scenario | seed | uptime % | busiest 60 s | PnL vs hold | fills "
              "| markout 1 s | 5 s | 60 s (bps) |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r.params} | {r.scenario} | {r.seed} | {r.uptime_pct:.2f} "
                     f"| {r.busiest_minute} | {r.pnl_vs_hold} | {r.fills} | {r.markout_1s_bps} "
                     f"| {r.markout_5s_bps} | {r.markout_60s_bps} |")
    return "\n".join(lines) + "\n"


def csv_table(rows: Sequence[Row]) -> str:
    buf = io.StringIO()
    fields = list(asdict(rows[0]).keys()) + ["meets"] if rows else []
    w = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({**asdict(r), "meets": r.meets})
    return buf.getvalue()


def uptime_pnl_svg(rows: Sequence[Row], width: int = 560, height: int = 320) -> str:
    """Each run a dot: uptime (x) against PnL vs holding (y); green runs met the obligations,
    red did not; the 99 % line dashed."""
    left, right, top, bottom = 60, 20, 20, 40
    xs = [r.uptime_pct for r in rows] + [UPTIME_TARGET * 100]
    ys = [float(r.pnl_vs_hold) for r in rows] + [0.0]
    x0, x1 = min(xs) - 0.1, max(xs) + 0.1
    y0, y1 = min(ys), max(ys)
    y0, y1 = (y0 - 1, y1 + 1) if y0 == y1 else (y0 - 0.05 * (y1 - y0), y1 + 0.05 * (y1 - y0))

    def px(x: float) -> float:
        return left + (x - x0) / (x1 - x0) * (width - left - right)

    def py(y: float) -> float:
        return top + (1 - (y - y0) / (y1 - y0)) * (height - top - bottom)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
             'font-family="Helvetica,Arial,sans-serif">',
             f'<rect x="{left}" y="{top}" width="{width - left - right}" '
             f'height="{height - top - bottom}" fill="none" stroke="#ccc"/>',
             f'<line x1="{px(99):.1f}" x2="{px(99):.1f}" y1="{top}" y2="{height - bottom}" '
             'stroke="#999" stroke-dasharray="5 4"/>',
             f'<line x1="{left}" x2="{width - right}" y1="{py(0):.1f}" y2="{py(0):.1f}" '
             'stroke="#ddd"/>',
             f'<text x="{width / 2}" y="{height - 8}" text-anchor="middle" font-size="12">'
             'uptime % (worst market); dashed: 99 %</text>',
             f'<text x="14" y="{height / 2}" font-size="12" transform="rotate(-90 14 '
             f'{height / 2})" text-anchor="middle">PnL vs holding</text>',
             f'<text x="{left - 4}" y="{py(y1) + 10:.1f}" text-anchor="end" font-size="10">'
             f"{y1:.0f}</text>",
             f'<text x="{left - 4}" y="{py(y0):.1f}" text-anchor="end" font-size="10">'
             f"{y0:.0f}</text>",
             f'<text x="{left}" y="{height - bottom + 14}" font-size="10">{x0:.1f}</text>',
             f'<text x="{width - right}" y="{height - bottom + 14}" text-anchor="end" '
             f'font-size="10">{x1:.1f}</text>']
    for r in rows:
        color = "#1b9e4b" if r.meets else "#d0342c"
        parts.append(f'<circle cx="{px(r.uptime_pct):.1f}" cy="{py(float(r.pnl_vs_hold)):.1f}" '
                     f'r="4" fill="{color}" fill-opacity="0.7"><title>{r.params} / '
                     f"{r.scenario} / seed {r.seed}</title></circle>")
    parts.append("</svg>")
    return "".join(parts)


def write_outputs(rows: Sequence[Row], out_dir: Path, note: str = "") -> dict[str, Path]:
    """sweep.md, sweep.csv and sweep-uptime-pnl.svg in `out_dir`, each written whole or not
    at all (a temporary file renamed)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {
        "table": (out_dir / "sweep.md", markdown_table(rows, summarise(rows), note)),
        "csv": (out_dir / "sweep.csv", csv_table(rows)),
        "plot": (out_dir / "sweep-uptime-pnl.svg", uptime_pnl_svg(rows)),
    }
    for path, text in files.values():
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    return {k: p for k, (p, _) in files.items()}


def run_sweep(config_path: Path, grid: Grid, *, jobs: int = 2, address: str | None = None,
              progress: Callable[[str], None] | None = None) -> list[Row]:
    from liquidity_bot.config import load_config

    base = load_config(config_path)
    for chosen in grid.parameter_sets():  # fail before any run on a bad value
        apply_params(base, chosen)
    todo = points(config_path, grid)
    if progress is not None:
        where = f"Dask at {address}" if address else f"{jobs} local process(es)"
        progress(f"sweep: {len(todo)} backtests of {grid.hours:g} h on {where}")
    return run_dask(todo, address) if address else run_local(todo, jobs)


def sweep_command(
    config: Annotated[Path, typer.Option("--config", "-c", help="The bot's TOML config.")],
    grid: Annotated[Path, typer.Option(help="The grid: parameters, scenarios, seeds, hours.")],
    out: Annotated[Path, typer.Option(help="Directory for sweep.md, sweep.csv and the plot.")
                   ] = Path("sweep"),
    jobs: Annotated[int, typer.Option(help="Local processes at once.")] = 2,
    address: Annotated[str | None, typer.Option(
        help="Run on a Dask cluster at this address (tcp://host:8786), or 'local' for a local "
             "Dask cluster; needs the [sweep] extra.")] = None,
) -> None:
    """Backtest a grid of strategy parameters x scenarios x seeds; write a table and a plot of
    uptime against PnL marking what met the obligations."""
    from liquidity_bot.config import ConfigError, load_config

    try:
        load_config(config)
        parsed = parse_grid(grid.read_text(encoding="utf-8"), source=str(grid))
    except (ConfigError, GridError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except OSError as exc:
        typer.echo(f"error: cannot read the grid file: {exc}", err=True)
        raise typer.Exit(2) from None
    if jobs < 1:
        typer.echo("error: --jobs must be at least 1", err=True)
        raise typer.Exit(2)
    try:
        rows = run_sweep(config, parsed, jobs=jobs, address=address,
                         progress=lambda m: typer.echo(m, err=True))
    except GridError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    note = (f"{len(rows)} backtests of {parsed.hours:g} simulated h: {config.name} x "
            f"{', '.join(parsed.scenarios)} x seeds {', '.join(map(str, parsed.seeds))}.")
    files = write_outputs(rows, out, note)
    met = sum(1 for s in summarise(rows) if s.meets)
    typer.echo(f"{met} of {len(summarise(rows))} parameter sets met the obligations on every "
               f"run; wrote {', '.join(str(p) for p in files.values())}")
