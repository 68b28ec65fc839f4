"""What every experiment in ``experiments/<name>/run.py`` shares.

An experiment is a list of :class:`Point` (a set of config overrides and the factor values that
name it), run for several seeds; each run is an ordinary run folder under ``<out>/runs/``.
:func:`run_points` runs them in order with a progress line, *resumes*: a folder that already
holds a finished run made with the same config is read back instead of rerun (so an interrupted
experiment continues where it stopped, and a figure can be redrawn without simulating), and
returns one row per run: the factors, the seed and the requested measures. :func:`summarise`
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

from circuitsim.io import results as rio

logger = logging.getLogger(__name__)

#: a measure: a dotted key of metrics.json, or a function of the run's Result
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


def run_points(points: Sequence[Point], seeds: Sequence[int], out: str | Path, measures: Mapping[str, Measure],
               base: Sequence[str] = (), resume: bool = True, progress: bool = True) -> List[dict]:
    """Run every point for every seed (resuming finished runs); one row per run.

    Each run is ``circuitsim.simulate(compose(RUN_DEFAULTS + base + point.overrides + [seed]))``
    written to ``<out>/runs/<label>_seed<k>``. A row holds the point's factors, ``seed``,
    ``folder`` and one value per measure. Configs are composed and validated for every point
    before the first simulation, so a bad override fails at once.
    """
    from circuitsim import compose, simulate
    from circuitsim.api import _plain_config
    from circuitsim.io.results import load_result
    from circuitsim.spec import build_spec

    out = Path(out)
    labels = [p.label for p in points]
    if len(set(labels)) != len(labels):
        raise ValueError(f"experiment points need unique labels; repeated: "
                         f"{sorted({x for x in labels if labels.count(x) > 1})}")
    jobs = []
    for point in points:
        # one compose per point (about 0.5 s each); each seed's config is a copy with sim.seed set,
        # which equals composing with `sim.seed=<k>` appended
        point_cfg = compose([*RUN_DEFAULTS, *base, *point.overrides])
        for seed in seeds:
            cfg = copy.deepcopy(point_cfg)
            cfg.sim.seed = seed
            build_spec(cfg)  # validate every point before anything runs
            jobs.append((point, seed, cfg, out / "runs" / f"{point.label}_seed{seed}"))
    bar = _Progress(len(jobs)) if progress else None
    rows = []
    for point, seed, cfg, folder in jobs:
        metrics = rio.stored_metrics(folder, _plain_config(cfg)) if resume and rio.is_complete(folder) else None
        result = None
        if metrics is None:
            result = simulate(cfg, out_dir=folder, overwrite=True)
            metrics = result.metrics
            how = "ran"
        else:
            how = "resumed"
        row: Dict[str, Any] = {**point.factors, "seed": seed, "folder": str(folder)}
        for name, measure in measures.items():
            if callable(measure):
                if result is None:
                    result = load_result(folder)
                row[name] = float(measure(result))
            else:
                row[name] = lookup(metrics, measure)
        rows.append(row)
        if bar:
            bar.step(f"{point.label} seed {seed} {how}")
    return rows


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
    """Import an experiment's ``run.py`` as a module (once per process; e.g. for tests).

    It is registered in ``sys.modules`` before it runs, as dataclasses defined in it need.
    """
    import importlib.util
    import sys

    script = Path(script).resolve()
    name = f"circuitsim_experiment_{script.parent.name}"
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


def configure_logging() -> None:
    """Logging of an experiment script run from the command line: warnings from every library,
    and :func:`run_points`'s progress line (this module's logger, at INFO)."""
    logging.basicConfig(level=logging.WARNING)
    logger.setLevel(logging.INFO)


def argument_parser(doc: str, default_out: str) -> argparse.ArgumentParser:
    """The command line every experiment shares: ``--quick``, ``--out``, ``--seeds``, ``--figure``."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="the small variant (a few minutes on 2 cores; what the test suite runs)")
    parser.add_argument("--out", default=default_out, help=f"output folder (default: {default_out})")
    parser.add_argument("--seeds", type=int, nargs="+", default=None,
                        help="seeds (default: the variant's, see --quick)")
    parser.add_argument("--figure", default=None, help="also save the main figure here (e.g. docs/figures/...)")
    parser.add_argument("--no-resume", dest="resume", action="store_false",
                        help="rerun points whose run folder already holds a finished run")
    return parser


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
