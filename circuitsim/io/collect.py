"""Gather every run of a sweep into one table: ``circuitsim-collect <sweep folder> [--metrics KEY ...]``.

A folder of runs is anything that holds run folders: what ``circuitsim -m ...`` writes
(``multirun/<date>/<time>/``, one job folder per point with ``.hydra/overrides.yaml``), a
``circuitsim.batch`` sweep, an experiment's ``runs/`` folder, or any folder under which
:func:`circuitsim.simulate` wrote runs (``simulate(cfg, out_dir=...)``). Every run folder records
what it is: Hydra's ``.hydra/overrides.yaml``, else ``overrides.yaml`` beside ``config.yaml``
(:func:`record_run`: the overrides the run was composed with where the writer knows them, else the
differences of its config from the default config, written when the run starts, so a killed run
is listed too). A folder with neither (written before this record existed) is read through the
difference of its ``config.yaml`` from today's defaults. The table has one row per run:

- ``job``, ``folder``, ``status`` (``ok``; ``failed``: its log holds an error; ``incomplete``: no
  ``metrics.json`` and no error, e.g. killed or still running; ``missing``: a point of the sweep
  that never started: listed in ``multirun.yaml`` or in the experiment's ``points.yaml`` but without
  a folder), ``error`` (the last error line of the job's log, of its ``error.log``, or of the
  scheduler's log);
- ``seed`` (``run.seed`` of metrics.json, else ``sim.seed`` of the run's config);
- one column per override of the job (``condition``, ``circuit.pathways.stn_gpe.weight_scale``, ...);
- ``loss`` for fits (``hydra/sweeper=fit``);
- one column per scalar metric (:func:`circuitsim.compare.flatten_metrics`).

In Python, ``circuitsim.collect(path)`` returns it as a pandas DataFrame. It is written as
``runs.parquet`` and ``runs.csv`` into the sweep folder, with figures of
metrics against the swept parameters (the seed is not one: its spread is shown):
``sweep_lines.png`` (one swept parameter: mean ± standard deviation over the runs of each value,
every run as a dot; more than two: one panel row per parameter, averaged over the others) and
``sweep_heatmap.png`` (two swept parameters: the mean of each metric over each pair of values).
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import math
import re
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from circuitsim.compare import flatten_metrics

logger = logging.getLogger(__name__)

PARQUET = "runs.parquet"
CSV = "runs.csv"
FIXED = ("job", "folder", "status", "error", "seed")
#: metrics drawn by default (those present in the table)
DEFAULT_METRICS = (
    "populations.gpi.rate_hz", "populations.gpe.rate_hz", "populations.stn.rate_hz",
    "populations.thal.rate_hz", "populations.gpi.cv_isi", "lfp.gpi.band_power.beta",
    "lfp.stn.band_power.beta", "muscle.co_contraction_index", "muscle.severity_score", "loss",
)
_ERROR_LINE = re.compile(r"\[ERROR\]|\b\w*(Error|Exception)\b|error:|CANCELLED|Killed|Traceback", re.IGNORECASE)
_SLURM_JOB = re.compile(r"slurm job (\S+)")


def _read_yaml(path: Path) -> Any:
    import yaml

    try:
        return yaml.safe_load(path.read_text())
    except (OSError, ValueError, yaml.YAMLError):
        return None


def _job_sort_key(folder: Path, sweep: Path) -> tuple:
    rel = folder.relative_to(sweep).parts
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in rel)


#: overrides that steer a run without being part of its config (as circuitsim.cli.CONTROL_KEYS)
CONTROL_KEYS = ("resume", "fit")
RECORD = "overrides.yaml"      #: a run folder's record of what it is (beside config.yaml)
PLAN = "points.yaml"           #: job name -> overrides of every point a driver meant to run (for 'missing')
ERROR_LOG = "error.log"        #: a failed run's error, written by circuitsim.experiments


def job_folders(sweep: Path) -> List[Path]:
    """Every run folder at or below ``sweep`` (see the module docstring), in job order."""
    from circuitsim.io.results import CONFIG, METRICS

    found = set()
    for name in (RECORD, METRICS, CONFIG, ERROR_LOG):
        for p in sweep.rglob(name):
            if ".submitit" in p.relative_to(sweep).parts:
                continue
            if p.parent.name == ".hydra":       # Hydra's own record (its config.yaml is not the run's)
                if name == RECORD:
                    found.add(p.parent.parent)
                continue
            found.add(p.parent)
    if len(found) > 1:
        found.discard(sweep)    # a folder of runs that is itself no run
    return sorted(found, key=lambda f: _job_sort_key(f, sweep) if f != sweep else ())


def _last_error(text: str) -> Optional[str]:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    hits = [ln for ln in lines if "[ERROR]" in ln]
    if not hits:
        hits = [ln for ln in lines if _ERROR_LINE.search(ln)]
    return hits[-1] if hits else None


def _read_text(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def job_error(folder: Path, sweep: Path) -> Optional[str]:
    """The last error line of the job's log; for SLURM jobs, else of the scheduler's logs of that task."""
    log = "".join(_read_text(p) for p in sorted(folder.glob("*.log")))
    if (folder / ERROR_LOG).is_file() and not _last_error(log):
        return _read_text(folder / ERROR_LOG).strip().splitlines()[-1] if _read_text(folder / ERROR_LOG).strip() else None
    err = _last_error(log)
    if err:
        return err
    ids = _SLURM_JOB.findall(log)
    if ids:
        for path in sorted((sweep / ".submitit").glob(f"{ids[-1]}/*.err")) + \
                sorted((sweep / ".submitit").glob(f"{ids[-1]}/*.out")):
            err = _last_error(_read_text(path))
            if err:
                return err
    return None


def _value(text: Any) -> Any:
    """Override value -> number where it is one, else the text."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return float(text)
    try:
        return float(str(text))
    except ValueError:
        return str(text)


def _render(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return "null"
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return str(value)


def _flat(cfg: Any, prefix: str = "") -> Dict[str, Any]:
    if not isinstance(cfg, dict):
        return {prefix[:-1]: cfg}
    out: Dict[str, Any] = {}
    for key, value in cfg.items():
        if isinstance(value, dict) and value:
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


_DEFAULTS: Optional[Dict[str, Any]] = None


def default_config() -> Dict[str, Any]:
    """The default config (``circuitsim.compose()``), plain and flattened; composed once per process.
    An active Hydra app (the command line) is left as it was."""
    global _DEFAULTS
    if _DEFAULTS is None:
        from hydra.core.global_hydra import GlobalHydra

        from circuitsim.schema import compose
        from circuitsim.schema import plain_config as _plain_config

        saved = GlobalHydra.instance().hydra
        try:
            _DEFAULTS = _flat(json.loads(json.dumps(_plain_config(compose()))))
        finally:
            GlobalHydra.instance().clear()
            GlobalHydra.instance().hydra = saved
    return _DEFAULTS


def config_diff(config: Any) -> List[str]:
    """The overrides that turn the default config into ``config`` (``key=value``, ``+key=value`` for a
    key the defaults lack, ``~key`` for one the config lacks); ``sim.seed`` always, first."""
    from circuitsim.schema import plain_config as _plain_config

    mine = _flat(json.loads(json.dumps(_plain_config(config))))
    base = default_config()
    out = [f"sim.seed={_render(mine.get('sim.seed'))}"] if "sim.seed" in mine else []
    for key, value in mine.items():
        if key == "sim.seed":
            continue
        if key not in base:
            out.append(f"+{key}={_render(value)}")
        elif base[key] != value:
            out.append(f"{key}={_render(value)}")
    out += [f"~{key}" for key in base if key not in mine and not any(k.startswith(key + ".") for k in mine)]
    return out


def record_run(folder: Path | str, config: Any, overrides: Optional[Sequence[str]] = None) -> Optional[Path]:
    """Record what the run in ``folder`` is (``overrides.yaml``): ``overrides`` if given, else
    :func:`config_diff` of ``config``. Nothing is written where Hydra recorded it
    (``.hydra/overrides.yaml``). Returns the file written, or None."""
    import yaml

    folder = Path(folder)
    if (folder / ".hydra" / "overrides.yaml").is_file():
        return None
    lines = [str(o) for o in overrides] if overrides is not None else config_diff(config)
    path = folder / RECORD
    tmp = folder / f".{RECORD}.tmp"
    tmp.write_text(yaml.safe_dump(lines, sort_keys=False))
    tmp.replace(path)
    return path


def _overrides(folder: Path) -> Dict[str, Any]:
    """The record of a run folder as key -> value (see the module docstring)."""
    from circuitsim.io.results import CONFIG

    record = folder / ".hydra" / "overrides.yaml"
    if not record.is_file():
        record = folder / RECORD
    if record.is_file():
        lines = _read_yaml(record) or []
    else:   # an old folder without a record: its config against today's defaults
        cfg = _read_yaml(folder / CONFIG)
        lines = config_diff(cfg) if isinstance(cfg, dict) else []
    out = {}
    for ov in lines:
        key, _, value = str(ov).partition("=")
        key = key.lstrip("+~")
        if key.startswith("hydra.") or key.startswith("hydra/") or key in CONTROL_KEYS:
            continue
        out[key] = value
    return out


def write_plan(sweep: Path | str, jobs: Dict[str, Sequence[str]]) -> Path:
    """Record every job a driver means to run (job folder name -> its overrides) in ``points.yaml``,
    so that :func:`collect` lists the jobs that never started as 'missing'. Jobs already planned
    there stay (a driver may plan a folder's runs in several calls); a job's overrides are replaced."""
    import yaml

    sweep = Path(sweep)
    sweep.mkdir(parents=True, exist_ok=True)
    plan = _read_yaml(sweep / PLAN)
    plan = dict(plan) if isinstance(plan, dict) else {}
    plan.update({str(k): [str(o) for o in v] for k, v in jobs.items()})
    tmp = sweep / f".{PLAN}.tmp"
    tmp.write_text(yaml.safe_dump(plan, sort_keys=False))
    tmp.replace(sweep / PLAN)
    return sweep / PLAN


def _planned_jobs(sweep: Path) -> List[tuple]:
    """(job, overrides) from ``points.yaml`` or ``multirun.yaml``, in job order; [] if unknown."""
    plan = _read_yaml(sweep / PLAN)
    if isinstance(plan, dict):
        return [(str(job), {k.lstrip("+~"): v for k, _, v in (str(o).partition("=") for o in ovs or [])
                            if not k.startswith("hydra")}) for job, ovs in plan.items()]
    return [(str(num), params) for num, params in enumerate(_expected_jobs(sweep))]


def _expected_jobs(sweep: Path) -> List[Dict[str, str]]:
    """The points of a basic-sweeper sweep, in job order (from multirun.yaml); [] if unknown."""
    cfg = _read_yaml(sweep / "multirun.yaml") or {}
    hydra_cfg = cfg.get("hydra") or {}
    if "BasicSweeper" not in str((hydra_cfg.get("sweeper") or {}).get("_target_", "")):
        return []
    try:
        from hydra._internal.core_plugins.basic_sweeper import BasicSweeper

        task = list((hydra_cfg.get("overrides") or {}).get("task") or [])
        batches = BasicSweeper.split_arguments(
            __import__("hydra.core.override_parser.overrides_parser", fromlist=["OverridesParser"])
            .OverridesParser.create().parse_overrides(task), None)
    except Exception:  # noqa: BLE001 - an unreadable sweep definition only loses the 'missing' rows
        return []
    jobs = []
    for batch in batches:
        for overrides in batch:
            jobs.append({k.lstrip("+~"): v for k, _, v in (o.partition("=") for o in overrides)
                         if not k.startswith("hydra")})
    return jobs


def collect_rows(sweep: Path) -> List[Dict[str, Any]]:
    """One dict per run of the sweep (see module docstring)."""
    from circuitsim.fit import read_loss
    from circuitsim.io.results import CONFIG, METRICS

    sweep = Path(sweep)
    rows = []
    for folder in job_folders(sweep):
        row: Dict[str, Any] = {"job": folder.relative_to(sweep).as_posix(), "folder": str(folder),
                               "status": "ok", "error": "", "seed": math.nan}
        params = _overrides(folder)
        metrics: Dict[str, float] = {}
        try:
            metrics = flatten_metrics(json.loads((folder / METRICS).read_text()))
        except FileNotFoundError:
            err = job_error(folder, sweep)
            row["status"], row["error"] = ("failed", err) if err else ("incomplete", "no metrics.json (killed or still running)")
        except (OSError, ValueError) as exc:
            row["status"], row["error"] = "failed", f"corrupt {METRICS}: {exc}"
        seed = metrics.get("run.seed")
        if seed is None:
            cfg = _read_yaml(folder / CONFIG) or _read_yaml(folder / ".hydra" / "config.yaml") or {}
            seed = (cfg.get("sim") or {}).get("seed", params.get("sim.seed"))
        row["seed"] = _value(seed) if seed is not None else math.nan
        row.update({k: _value(v) for k, v in params.items()})
        loss = read_loss(folder)
        if loss is not None:
            row["loss"] = loss
        row.update(metrics)
        row["_params"] = list(params)
        rows.append(row)
    present = {r["job"] for r in rows}
    planned = _planned_jobs(sweep)
    for job, params in planned:
        if job not in present:
            row = {"job": job, "folder": str(sweep / job), "status": "missing",
                   "error": "never started (no job folder)", "seed": _value(params.get("sim.seed", math.nan))}
            row.update({k: _value(v) for k, v in params.items()})
            row["_params"] = list(params)
            rows.append(row)
    order = {job: k for k, (job, _) in enumerate(planned)}
    rows.sort(key=lambda r: (0, order[r["job"]], "") if r["job"] in order else
              ((1, int(r["job"]), "") if r["job"].isdigit() else (2, 0, r["job"])))
    return rows


def _columns(rows: Sequence[Dict[str, Any]]) -> tuple[List[str], List[str], List[str]]:
    params: List[str] = []
    metrics: List[str] = []
    for r in rows:
        params += [p for p in r["_params"] if p not in params]
    for r in rows:
        metrics += [k for k in r if k not in FIXED and k != "_params" and k not in params and k not in metrics]
    if "loss" in metrics:
        metrics.remove("loss")
        metrics.insert(0, "loss")
    return list(FIXED), params, metrics


def _column_values(rows, name) -> list:
    values = [r.get(name) for r in rows]
    present = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    if present and all(isinstance(v, float) for v in present):
        return [math.nan if v is None else v for v in values]
    if name in FIXED[:4] or any(isinstance(v, str) for v in present):
        return ["" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v) for v in values]
    return [math.nan if v is None else float(v) for v in values]


def write_table(rows: Sequence[Dict[str, Any]], sweep: Path) -> Dict[str, list]:
    """Write runs.parquet and runs.csv; return the table as column -> values."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    fixed, params, metrics = _columns(rows)
    names = fixed + params + metrics
    table = {name: _column_values(rows, name) for name in names}
    pq.write_table(pa.table(table), sweep / PARQUET)
    with open(sweep / CSV, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(names)
        for k in range(len(rows)):
            writer.writerow(["" if isinstance(table[n][k], float) and math.isnan(table[n][k]) else table[n][k]
                             for n in names])
    return table


def swept_parameters(table: Dict[str, list], params: Sequence[str]) -> List[str]:
    """Parameters with more than one value, the seed left out."""
    out = []
    for p in params:
        if p in ("sim.seed", "seed"):
            continue
        values = {v for v, s in zip(table[p], table["status"]) if s == "ok"}
        if len(values) > 1:
            out.append(p)
    return out


def _levels(values: Sequence[Any]) -> list:
    uniq = sorted({v for v in values if not (isinstance(v, float) and math.isnan(v))}, key=lambda v: (str(type(v)), v))
    return uniq


def plot_sweep(table: Dict[str, list], swept: Sequence[str], metrics: Sequence[str], sweep: Path) -> List[Path]:
    """Metric-vs-parameter figures (see module docstring); returns the files written."""
    from matplotlib.figure import Figure

    ok = [k for k, s in enumerate(table["status"]) if s == "ok"]
    metrics = [m for m in metrics if m in table and any(not math.isnan(table[m][k]) for k in ok)]
    if not ok or not swept or not metrics:
        return []
    written = []
    ncol = min(3, len(metrics))
    if len(swept) != 2:
        nrow = len(swept) * math.ceil(len(metrics) / ncol)
        fig = Figure(figsize=(4.2 * ncol, 3.2 * nrow), layout="constrained")
        axes = np.atleast_1d(fig.subplots(nrow, ncol, squeeze=False)).ravel()
        for ax in axes:
            ax.set_visible(False)
        for pi, p in enumerate(swept):
            levels = _levels([table[p][k] for k in ok])
            x = np.arange(len(levels)) if any(isinstance(v, str) for v in levels) else np.array(levels, float)
            for mi, m in enumerate(metrics):
                ax = axes[pi * math.ceil(len(metrics) / ncol) * ncol + mi]
                ax.set_visible(True)
                groups = [[table[m][k] for k in ok if table[p][k] == lv and not math.isnan(table[m][k])] for lv in levels]
                mean = np.array([np.mean(g) if g else np.nan for g in groups])
                std = np.array([np.std(g) if g else np.nan for g in groups])
                ax.fill_between(x, mean - std, mean + std, alpha=0.25, color="C0", label="± s.d. over runs")
                ax.plot(x, mean, "-o", color="C0", label="mean")
                for xi, g in zip(x, groups):
                    ax.plot([xi] * len(g), g, ".", color="k", ms=3, alpha=0.6)
                if any(isinstance(v, str) for v in levels):
                    ax.set_xticks(x, [str(v) for v in levels])
                ax.set_xlabel(p, fontsize=8)
                ax.set_title(m, fontsize=9)
        fig.suptitle(f"{sweep.name}: metrics against swept parameters (dots: runs; band: ± s.d. over seeds"
                     f"{' and other parameters' if len(swept) > 1 else ''})", fontsize=10)
        fig.savefig(sweep / "sweep_lines.png", dpi=90)
        written.append(sweep / "sweep_lines.png")
    else:
        px, py = swept
        lx, ly = _levels([table[px][k] for k in ok]), _levels([table[py][k] for k in ok])
        nrow = math.ceil(len(metrics) / ncol)
        fig = Figure(figsize=(4.5 * ncol, 3.6 * nrow), layout="constrained")
        axes = np.atleast_1d(fig.subplots(nrow, ncol, squeeze=False)).ravel()
        for ax in axes[len(metrics):]:
            ax.set_visible(False)
        for ax, m in zip(axes, metrics):
            grid = np.full((len(ly), len(lx)), np.nan)
            for iy, vy in enumerate(ly):
                for ix, vx in enumerate(lx):
                    vals = [table[m][k] for k in ok if table[px][k] == vx and table[py][k] == vy
                            and not math.isnan(table[m][k])]
                    if vals:
                        grid[iy, ix] = np.mean(vals)
            im = ax.imshow(grid, origin="lower", aspect="auto", cmap="viridis")
            ax.set_xticks(range(len(lx)), [f"{v:g}" if isinstance(v, float) else str(v) for v in lx], fontsize=8)
            ax.set_yticks(range(len(ly)), [f"{v:g}" if isinstance(v, float) else str(v) for v in ly], fontsize=8)
            ax.set_xlabel(px, fontsize=8)
            ax.set_ylabel(py, fontsize=8)
            ax.set_title(m, fontsize=9)
            fig.colorbar(im, ax=ax, shrink=0.8)
        fig.suptitle(f"{sweep.name}: mean over seeds", fontsize=10)
        fig.savefig(sweep / "sweep_heatmap.png", dpi=90)
        written.append(sweep / "sweep_heatmap.png")
    return written


def _rows_or_raise(path: Path, what: str, hint: str = "") -> List[Dict[str, Any]]:
    """The run rows at or below ``path``; FileNotFoundError (one line) for no folder or no run."""
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: no such {what}")
    rows = collect_rows(path)
    if not rows:
        raise FileNotFoundError(f"{path}: no runs found (no run folder with overrides.yaml, config.yaml or "
                                f"metrics.json below it){hint}")
    return rows


def collect_frame(path: Path | str, write: bool = True, plots: bool = False,
                  metrics: Optional[Sequence[str]] = None):
    """``circuitsim.collect(path)``: one row per run at or below ``path`` (see the module docstring)
    as a pandas DataFrame; also written as ``runs.parquet`` and ``runs.csv`` into ``path`` unless
    ``write=False`` (``plots=True`` adds the sweep figures).

    Raises FileNotFoundError if ``path`` is no folder or holds no run.
    """
    import pandas as pd

    path = Path(path)
    rows = _rows_or_raise(path, "folder of runs")
    fixed, params, names = _columns(rows)
    if write:
        table = write_table(rows, path)
        if plots:
            plot_sweep(table, swept_parameters(table, params), list(metrics or DEFAULT_METRICS), path)
    else:
        table = {name: _column_values(rows, name) for name in fixed + params + names}
    frame = pd.DataFrame(table)
    frame.attrs["parameters"] = list(params)
    return frame


def collect(sweep: Path | str, metrics: Optional[Sequence[str]] = None, plots: bool = True) -> Dict[str, list]:
    """Collect a sweep folder: write the table (and figures); return the table as column -> values."""
    sweep = Path(sweep)
    rows = _rows_or_raise(sweep, "sweep folder", "; give a folder of runs, e.g. multirun/<date>/<time> "
                                                 "or an experiment's runs/")
    table = write_table(rows, sweep)
    if plots:
        _, params, _ = _columns(rows)
        plot_sweep(table, swept_parameters(table, params), list(metrics or DEFAULT_METRICS), sweep)
    return table


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="circuitsim-collect", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sweep", help="sweep folder (multirun/<date>/<time>, or hydra.sweep.dir)")
    parser.add_argument("--metrics", nargs="+", default=None,
                        help="metrics to draw against the swept parameters (default: a few key measures)")
    parser.add_argument("--no-plots", action="store_true", help="write the table only")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        table = collect(args.sweep, args.metrics, plots=not args.no_plots)
    except FileNotFoundError as err:
        print(f"circuitsim-collect: {err}", file=sys.stderr)
        return 2
    status = table["status"]
    for job, st, err in zip(table["job"], status, table["error"]):
        if st != "ok":
            logger.warning("run %s: %s - %s", job, st, err)
    counts = {s: status.count(s) for s in ("ok", "failed", "incomplete", "missing") if status.count(s)}
    logger.info("%d runs (%s); wrote %s and %s in %s", len(status),
                ", ".join(f"{n} {s}" for s, n in counts.items()), PARQUET, CSV, args.sweep)
    return 0


if __name__ == "__main__":
    sys.exit(main())
