"""What every experiment in ``experiments/<name>/run.py`` shares.

An experiment is a list of :class:`Point` (a set of config overrides and the factor values that
name it), run for several seeds; each run is an ordinary run folder under ``<out>/runs/``.
:func:`run_points` runs them in order with a progress line, *resumes*: a folder that already
holds a finished run made with the same config by the same circuitsim code is read back instead of
rerun (so an interrupted experiment continues where it stopped, and a figure can be redrawn without
simulating), and returns one row per run: the factors, the seed and the requested measures, read
from the same table ``circuitsim-collect`` makes (``<out>/runs/runs.parquet``: every run with its status and
parameters). The runs go to ``--jobs N`` local processes (default all cores) or through a Hydra
launcher as sweeps do (``--launcher local_parallel`` or ``slurm``; see docs/data.md). :func:`summarise`
turns rows into mean and standard deviation over seeds, :func:`write_table` writes them as
``table.csv`` and ``table.md``.

>>> points = [Point(f"f{f}", [f"stim.dbs_gpi.frequency={f}*Hz"], {"frequency_hz": f}) for f in (60, 130)]
>>> rows = run_points(points, seeds=[0, 1], out="out", base=["stim=dbs_gpi"],
...                   measures={"severity": "muscle.severity_score"})        # doctest: +SKIP
>>> table = summarise(rows, by=["frequency_hz"], columns=["severity"])       # doctest: +SKIP

Every experiment script has the same command line (:func:`argument_parser`): ``--quick`` (the
variant the test suite runs, a few minutes on 2 cores), ``--out`` and ``--seeds``, plus
``--figure PATH`` to also save the main figure there (the README's figures).
"""

from __future__ import annotations

import argparse
import copy
import csv
import json
import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Union

import numpy as np

from circuitsim.catalogue import unknown_measures
from circuitsim.io import results as rio

logger = logging.getLogger(__name__)

#: a measure: a dotted key of metrics.json (a metric of circuitsim.catalogue), or a function of the run's Result
Measure = Union[str, Callable[[Any], float]]

#: options every run of an experiment gets unless the experiment sets them
RUN_DEFAULTS = ("sim.progress=false",)


@dataclass
class Point:
    """One parameter point of an experiment.

    label : str
        Unique, folder-safe name of the point (the seed is added to it).
    overrides : list of str
        Hydra overrides of the point, added after the experiment's ``base`` overrides.
    factors : dict
        The values that identify the point in the table (e.g. ``{"condition": "healthy"}``).
    """

    label: str
    overrides: List[str]
    factors: Dict[str, Any] = field(default_factory=dict)


def hydra_value(obj: Any) -> str:
    """A Python value as a Hydra override value (dicts and lists in Hydra's grammar), e.g. a
    protocol block list: ``f"stim.x.protocol={hydra_value(blocks)}"``."""
    if isinstance(obj, Mapping):
        return "{" + ", ".join(f"{k}: {hydra_value(v)}" for k, v in obj.items()) + "}"
    if isinstance(obj, (list, tuple)):
        return "[" + ", ".join(hydra_value(v) for v in obj) + "]"
    return str(obj)


def lookup(metrics: Mapping[str, Any], dotted: str) -> float:
    """``metrics["a"]["b"]`` for ``"a.b"``; NaN where a key is missing or the value is null."""
    node: Any = metrics
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return float("nan")
        node = node[part]
    if node is None or isinstance(node, (dict, list, str)):
        return float("nan")
    return float(node)


class _Progress:
    def __init__(self, total: int) -> None:
        self.total, self.done, self.t0 = total, 0, time.perf_counter()

    def step(self, text: str) -> None:
        self.done += 1
        elapsed = time.perf_counter() - self.t0
        eta = elapsed / self.done * (self.total - self.done)
        logger.info("[%d/%d] %s (%.0f s, about %.0f s left)", self.done, self.total, text, elapsed, eta)


#: Hydra launchers an experiment's points can go through (``--launcher``), as for sweeps
LAUNCHERS = ("basic", "local_parallel", "slurm")
#: each run's log in its folder (with the pid of the process that ran it), when run in worker processes
JOB_LOG = "run.log"


@dataclass
class _Job:
    name: str                 # folder name under <out>/runs
    point: Point
    seed: int
    overrides: List[str]      # everything the run was composed with
    cfg: Any
    folder: Path


def run_points(points: Sequence[Point], seeds: Sequence[int], out: str | Path, measures: Mapping[str, Measure],
               base: Sequence[str] = (), resume: bool = True, progress: bool = True, jobs: int = 1,
               launcher: Optional[str] = None, launcher_overrides: Sequence[str] = ()) -> List[dict]:
    """Run every point for every seed (resuming finished runs); one row per run.

    Each run is ``circuitsim.simulate(compose(RUN_DEFAULTS + base + point.overrides + [seed]))``
    written to ``<out>/runs/<label>_seed<k>``. A row holds the point's factors, ``seed``,
    ``folder`` and one value per measure. Configs are composed and validated for every point
    before the first simulation, so a bad override fails at once.

    Where the runs go: ``jobs`` processes on this machine (1: this process, one run after
    another), or ``launcher``, a Hydra launcher as for sweeps (``local_parallel``: joblib on this
    machine with ``jobs`` workers; ``slurm``: one SLURM job per run through submitit, settings as
    ``launcher_overrides`` e.g. ``hydra.launcher.partition=gpu``; ``basic``: in this process).
    Finished runs are never resubmitted (resume). The rows come from the same collection as
    ``circuitsim-collect`` (``<out>/runs/runs.parquet`` and ``runs.csv`` list every run with its
    status); a run that failed raises RuntimeError naming it, after that table is written.
    A dotted measure must name a metric of the catalogue (:mod:`circuitsim.catalogue`), else
    ValueError before anything runs.
    """
    from circuitsim import compose

    unknown = unknown_measures(m for m in measures.values() if isinstance(m, str))
    if unknown:
        raise ValueError(f"measures {unknown}: no such metric (circuitsim.catalogue.METRICS, `circuitsim-list "
                         f"metrics`); name a key of metrics.json or give a function of the Result")
    from circuitsim.api import _plain_config
    from circuitsim.io import collect as col
    from circuitsim.spec import build_spec

    if launcher is not None and launcher not in LAUNCHERS:
        raise ValueError(f"--launcher: unknown launcher {launcher!r}; choose one of {', '.join(LAUNCHERS)}")
    if jobs < 1:
        raise ValueError(f"--jobs: needs at least 1 process; got {jobs}")
    out = Path(out)
    runs_dir = out / "runs"
    labels = [p.label for p in points]
    if len(set(labels)) != len(labels):
        raise ValueError(f"experiment points need unique labels; repeated: "
                         f"{sorted({x for x in labels if labels.count(x) > 1})}")
    todo: List[_Job] = []
    for point in points:
        # one compose per point (about 0.5 s each); each seed's config is a copy with sim.seed set,
        # which equals composing with `sim.seed=<k>` appended
        overrides = [*RUN_DEFAULTS, *base, *point.overrides]
        point_cfg = compose(overrides)
        for seed in seeds:
            cfg = copy.deepcopy(point_cfg)
            cfg.sim.seed = seed
            build_spec(cfg)  # validate every point before anything runs
            name = f"{point.label}_seed{seed}"
            todo.append(_Job(name, point, seed, [*overrides, f"sim.seed={seed}"], cfg, runs_dir / name))
    col.write_plan(runs_dir, {job.name: job.overrides for job in todo})
    bar = _Progress(len(todo)) if progress else None
    pending, stale = [], []
    for job in todo:
        stored, why = rio.stored_run(job.folder, _plain_config(job.cfg)) if resume else (None, None)
        if stored is None:
            pending.append(job)
            stale += [f"{job.name} ({why})"] if why else []
        elif bar:
            bar.step(f"{job.name} resumed")
    if stale:   # finished runs made with another config or code are run again (overwritten): say so
        logger.warning("%d finished run(s) are run again, not resumed: %s", len(stale), "; ".join(stale[:3]))
    callables = {name: m for name, m in measures.items() if callable(m)}
    computed: Dict[str, Dict[str, float]] = {}   # run -> its callable measures, from the Result in memory
    if launcher is not None and pending:
        _launch(pending, runs_dir, launcher, jobs, launcher_overrides, resume)
        if bar:
            for job in pending:
                bar.step(f"{job.name} ran ({launcher})")
    elif jobs > 1 and len(pending) > 1:
        _run_in_processes(pending, jobs, bar)
    else:
        for job in pending:
            result = _run_here(job)
            if result is not None:   # (the Result itself is not kept: hundreds of runs would fill the memory)
                computed[job.name] = {name: float(m(result)) for name, m in callables.items()}
            if bar:
                bar.step(f"{job.name} {'ran' if result is not None else 'failed'}")

    collected = col.collect_rows(runs_dir)
    col.write_table(collected, runs_dir)
    by_job = {r["job"]: r for r in collected}
    failed = [(job.name, by_job.get(job.name, {}).get("status", "missing"), by_job.get(job.name, {}).get("error", ""))
              for job in todo if by_job.get(job.name, {}).get("status") != "ok"]
    if failed:
        raise RuntimeError(f"{len(failed)} of {len(todo)} runs did not finish (first: {failed[0][0]}: {failed[0][1]}"
                           f"{', ' + str(failed[0][2]) if failed[0][2] else ''}); see {runs_dir / col.CSV}; "
                           f"rerunning the experiment runs only those")
    rows = []
    for job in todo:
        found = by_job[job.name]
        row: Dict[str, Any] = {**job.point.factors, "seed": job.seed, "folder": str(job.folder)}
        metrics = None
        if callables and job.name not in computed:
            from circuitsim.io.results import load_result

            result = load_result(job.folder)
            computed[job.name] = {name: float(m(result)) for name, m in callables.items()}
        for name, measure in measures.items():
            if callable(measure):
                row[name] = computed[job.name][name]
            elif measure in found:
                row[name] = float(found[measure])
            else:   # not a number column of the table (a flag, or absent): read it as before
                if metrics is None:
                    metrics = json.loads((job.folder / rio.METRICS).read_text())
                row[name] = lookup(metrics, measure)
        rows.append(row)
    return rows


def _error_note(folder: Path, err: BaseException) -> None:
    from circuitsim.io.collect import ERROR_LOG

    try:
        folder.mkdir(parents=True, exist_ok=True)
        text = " ".join(f"{type(err).__name__}: {err}".split())
        (folder / ERROR_LOG).write_text(text + "\n")
    except OSError:
        pass


def _run_here(job: _Job) -> Any:
    from circuitsim import simulate
    from circuitsim.io.collect import ERROR_LOG

    (job.folder / ERROR_LOG).unlink(missing_ok=True)
    try:
        return simulate(job.cfg, out_dir=job.folder, overwrite=True, overrides=job.overrides)
    except KeyboardInterrupt as err:
        _error_note(job.folder, err)
        raise
    except Exception as err:  # noqa: BLE001 - the run's status; the other runs go on, run_points names it
        logger.error("run %s failed: %s: %s", job.name, type(err).__name__, err)
        _error_note(job.folder, err)
        return None


def _worker(overrides: List[str], folder: str) -> tuple:
    """One run in a worker process: compose, simulate, log into ``<folder>/run.log``; (pid, error)."""
    import os

    from circuitsim import compose, simulate
    from circuitsim.io.collect import ERROR_LOG

    folder_p = Path(folder)
    folder_p.mkdir(parents=True, exist_ok=True)
    (folder_p / ERROR_LOG).unlink(missing_ok=True)
    handler = logging.FileHandler(folder_p / JOB_LOG, mode="w")
    handler.setFormatter(logging.Formatter("[%(asctime)s][%(name)s][%(levelname)s] - %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    logging.getLogger("brian2").setLevel(logging.WARNING)
    try:
        logger.info("pid %d runs %s", os.getpid(), " ".join(overrides))
        simulate(compose(overrides), out_dir=folder_p, overwrite=True, overrides=overrides)
        return os.getpid(), None
    except Exception as err:  # noqa: BLE001 - reported as the run's status, not a crash of the experiment
        logger.exception("run failed: %s: %s", type(err).__name__, err)
        _error_note(folder_p, err)
        return os.getpid(), f"{type(err).__name__}: {err}"
    finally:
        root.removeHandler(handler)
        handler.close()


def _run_in_processes(pending: Sequence[_Job], jobs: int, bar: Optional[_Progress]) -> None:
    """Run the jobs in ``jobs`` fresh processes (spawned: no state of this process is shared)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    workers = min(jobs, len(pending))
    logger.info("%d runs in %d processes", len(pending), workers)
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {pool.submit(_worker, job.overrides, str(job.folder)): job for job in pending}
        for future in as_completed(futures):
            job = futures[future]
            try:
                pid, error = future.result()
            except Exception as err:  # noqa: BLE001 - a worker that died (killed, out of memory)
                pid, error = None, f"worker died: {type(err).__name__}: {err}"
                _error_note(job.folder, RuntimeError(error))
            if bar:
                bar.step(f"{job.name} {'failed: ' + error if error else 'ran'} (process {pid})")


def _hydra_task(cfg: Any) -> float:
    """The task of one run sent through a Hydra launcher: the job folder is the run folder."""
    import os

    from hydra.core.hydra_config import HydraConfig
    from omegaconf import open_dict

    from circuitsim import simulate
    from circuitsim.api import _plain_config
    from circuitsim.io.collect import ERROR_LOG

    folder = Path(HydraConfig.get().runtime.output_dir)
    resume = bool(cfg.get("resume", True))
    run_cfg = cfg.copy()
    with open_dict(run_cfg):
        run_cfg.pop("resume", None)
    if resume and rio.stored_metrics(folder, _plain_config(run_cfg)) is not None:   # (None where no run finished)
        logger.info("resume: %s already holds this run", folder)
        return 0.0
    (folder / ERROR_LOG).unlink(missing_ok=True)
    job_id = os.environ.get("SLURM_JOB_ID")
    if job_id:   # circuitsim-collect finds the scheduler's logs of the task through this line
        array, task = os.environ.get("SLURM_ARRAY_JOB_ID"), os.environ.get("SLURM_ARRAY_TASK_ID")
        logger.info("slurm job %s", f"{array}_{task}" if array and task else job_id)
    try:
        result = simulate(run_cfg, out_dir=folder, overwrite=True)
    except Exception as err:
        logger.exception("run failed: %s: %s", type(err).__name__, err)
        _error_note(folder, err)
        raise
    return float(result.metrics["run"]["wall_s"])


def _launch(pending: Sequence[_Job], runs_dir: Path, launcher: str, jobs: int, launcher_overrides: Sequence[str],
            resume: bool) -> None:
    """Send the runs through a Hydra launcher (as ``circuitsim -m hydra/launcher=...`` does), one job per run,
    each into ``<runs_dir>/<name>`` (``hydra.sweep.subdir``)."""
    from hydra import initialize_config_module
    from hydra._internal.callbacks import Callbacks
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.plugins import Plugins
    from hydra.core.utils import JobStatus
    from hydra.types import HydraContext, RunMode

    from circuitsim.spec import register_configs

    register_configs()
    overrides = [f"hydra/launcher={launcher}", f"hydra.sweep.dir={runs_dir.resolve()}", *launcher_overrides]
    if launcher == "local_parallel":
        overrides.append(f"hydra.launcher.n_jobs={jobs}")
    saved = GlobalHydra.instance().hydra
    GlobalHydra.instance().clear()
    try:
        with initialize_config_module(config_module="circuitsim.configs", version_base="1.3"):
            hydra = GlobalHydra.instance().hydra
            cfg = hydra.compose_config("config", overrides, run_mode=RunMode.MULTIRUN, with_log_configuration=False)
            ctx = HydraContext(config_loader=hydra.config_loader, callbacks=Callbacks(cfg))
            plugin = Plugins.instance().instantiate_launcher(config=cfg, hydra_context=ctx, task_function=_hydra_task)
            batch = [[*job.overrides, f"+resume={str(resume).lower()}", f"hydra.sweep.subdir={job.name}"]
                     for job in pending]
            logger.info("%d runs through hydra/launcher=%s", len(batch), launcher)
            try:
                returns = plugin.launch(batch, initial_job_idx=0)
            except Exception as err:  # noqa: BLE001 - e.g. submitit's failed job: the table says which
                logger.error("launcher %s: %s", launcher, " ".join(str(err).split())[:500])
                returns = []
    finally:
        GlobalHydra.instance().clear()
        GlobalHydra.instance().hydra = saved
    for ret in returns or []:
        if ret.status == JobStatus.FAILED:
            logger.error("run %s failed: %s", ret.hydra_cfg.hydra.sweep.subdir if ret.hydra_cfg else "?",
                         ret._return_value)


def summarise(rows: Sequence[Mapping[str, Any]], by: Sequence[str], columns: Sequence[str]) -> List[dict]:
    """Mean and sample standard deviation over the rows (seeds) of each group of ``by`` values.

    Groups keep their first appearance's order; ``<col>_mean``, ``<col>_sd`` (NaN for one
    value) and ``n`` per group. NaN values are left out of a column's statistics.
    """
    groups: Dict[tuple, List[Mapping[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(row[k] for k in by), []).append(row)
    table = []
    for key, members in groups.items():
        line: Dict[str, Any] = dict(zip(by, key))
        line["n"] = len(members)
        for col in columns:
            vals = np.array([m.get(col, np.nan) for m in members], dtype=float)
            vals = vals[np.isfinite(vals)]
            line[f"{col}_mean"] = float(vals.mean()) if vals.size else float("nan")
            sd = float(vals.std(ddof=1)) if vals.size > 1 else float("nan")
            if vals.size > 1 and sd <= 1e-12 * float(np.abs(vals).max()):
                sd = 0.0   # equal values up to rounding
            line[f"{col}_sd"] = sd
        table.append(line)
    return table


def _cell(value: Any, digits: int = 3) -> str:
    if isinstance(value, (float, np.floating)):
        return "–" if not math.isfinite(float(value)) else f"{float(value):.{digits}g}"
    return str(value)


def markdown(table: Sequence[Mapping[str, Any]], by: Sequence[str], columns: Mapping[str, str]) -> str:
    """A Markdown table: the ``by`` factors, then ``mean ± sd`` for each column (name -> heading)."""
    head = "| " + " | ".join([*by, *columns.values(), "n"]) + " |"
    lines = [head, "|" + "---|" * (len(by) + len(columns) + 1)]
    for line in table:
        cells = [_cell(line[k]) for k in by]
        for col in columns:
            m, s = line.get(f"{col}_mean", np.nan), line.get(f"{col}_sd", np.nan)
            cells.append(_cell(m) + (f" ± {_cell(s, 2)}" if math.isfinite(s) else ""))
        cells.append(str(line.get("n", "")))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def load_experiment(script: str | Path) -> Any:
    """Import an experiment's ``run.py`` (or another script of its folder) as a module (once per
    process; e.g. for tests).

    It is registered in ``sys.modules`` before it runs, as dataclasses defined in it need, under a
    name of its folder and, for a script other than ``run.py``, its own (a script that loads its
    folder's ``run.py`` then gets that module, not itself).
    """
    import importlib.util
    import sys

    script = Path(script).resolve()
    name = f"circuitsim_experiment_{script.parent.name}" + ("" if script.stem == "run" else f"_{script.stem}")
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, script)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[name]
            raise
    return sys.modules[name]


def write_table(table: Sequence[Mapping[str, Any]], out: str | Path, by: Sequence[str],
                columns: Mapping[str, str], name: str = "table") -> str:
    """Write ``<out>/<name>.csv`` (every field) and ``<out>/<name>.md``; return the Markdown."""
    csv_path = write_rows(table, out, name)
    text = markdown(table, by, columns)
    csv_path.with_suffix(".md").write_text(text + "\n")
    return text


def write_rows(rows: Sequence[Mapping[str, Any]], out: str | Path, name: str = "runs") -> Path:
    """Every run's row (``<out>/<name>.csv``), for analyses beyond mean ± sd."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    fields: List[str] = []
    for row in rows:
        fields += [k for k in row if k not in fields]
    with open(out / f"{name}.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    return out / f"{name}.csv"


def tabulate(rows: Sequence[Mapping[str, Any]], out: str | Path, by: Sequence[str],
             columns: Mapping[str, str]) -> "tuple[List[dict], str]":
    """Every run's row (``runs.csv``), then mean ± sd per ``by`` group (``table.csv``/``.md``):
    (the table, its Markdown)."""
    write_rows(rows, out)
    table = summarise(rows, by=by, columns=list(columns))
    return table, write_table(table, out, by=by, columns=columns)


def finish(fig: Any, text: str, n_runs: int, t0: float, out: str | Path, name: str,
           also: Optional[str] = None) -> Path:
    """Save an experiment's figure (and at ``also``), print its tables and how long its ``n_runs``
    runs took since ``t0`` (``time.perf_counter``); the figure's path."""
    path = save_figure(fig, out, name, also=also)
    print(text)
    print(f"\n{n_runs} runs in {time.perf_counter() - t0:.0f} s; tables and figure in {out} ({path.name})")
    return path


def configure_logging() -> None:
    """Logging of an experiment script run from the command line: warnings from every library,
    and :func:`run_points`'s progress line (this module's logger, at INFO)."""
    logging.basicConfig(level=logging.WARNING)
    logger.setLevel(logging.INFO)


def argument_parser(doc: str, default_out: str) -> argparse.ArgumentParser:
    """The command line every experiment shares: ``--quick``, ``--out``, ``--seeds``, ``--figure``,
    ``--no-resume`` and where the runs go (``--jobs``, ``--launcher``, ``--launcher-override``; pass
    them on with :func:`launch_options`)."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="the small variant (a few minutes on 2 cores; what the test suite runs)")
    parser.add_argument("--out", default=default_out, help=f"output folder (default: {default_out})")
    parser.add_argument("--seeds", type=int, nargs="+", default=None,
                        help="seeds (default: the variant's, see --quick)")
    parser.add_argument("--figure", default=None, help="also save the main figure here (e.g. docs/figures/...)")
    parser.add_argument("--no-resume", dest="resume", action="store_false",
                        help="rerun points whose run folder already holds a finished run")
    parser.add_argument("--jobs", type=_positive_int, default=default_jobs(),
                        help=f"runs at once, each in its own process (default: all cores, {default_jobs()} here; "
                             "1 runs them one after another in this process)")
    parser.add_argument("--launcher", choices=LAUNCHERS, default=None,
                        help="send the runs through this Hydra launcher instead, as sweeps do (slurm: one SLURM job "
                             "per run; see docs/data.md)")
    parser.add_argument("--launcher-override", dest="launcher_overrides", action="append", default=[],
                        metavar="KEY=VALUE", help="a Hydra override for the launcher, e.g. "
                        "hydra.launcher.partition=debug (repeatable)")
    return parser


def default_jobs() -> int:
    """All cores this process may use."""
    import os

    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"needs a whole number of processes, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"needs at least 1 process, got {value}")
    return value


def launch_options(args: argparse.Namespace) -> Dict[str, Any]:
    """``run_points`` keywords from the shared command line (:func:`argument_parser`)."""
    return {"jobs": getattr(args, "jobs", 1), "launcher": getattr(args, "launcher", None),
            "launcher_overrides": list(getattr(args, "launcher_overrides", []) or [])}


def save_figure(fig: Any, out: str | Path, name: str, also: Optional[str] = None, dpi: int = 90,
                colours: Optional[int] = 128) -> Path:
    """Save ``fig`` as ``<out>/<name>.png`` (and at ``also`` when given); return the first path.

    ``colours``: rewrite the PNGs with a palette of that many colours (Pillow's median cut), about
    a third of the size for line and bar plots, so the README's figures stay small; None keeps
    full colour.
    """
    path = Path(out) / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    targets = [path] + ([Path(also)] if also else [])
    for target in targets:
        target.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(target, dpi=dpi)
        if colours:
            _palette_png(target, colours)
    return path


def _palette_png(path: Path, colours: int) -> None:
    from PIL import Image

    with Image.open(path) as im:
        small = im.convert("RGB").quantize(colors=colours, method=Image.Quantize.MEDIANCUT)
    small.save(path, optimize=True)
