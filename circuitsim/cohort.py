"""Virtual patients: a cohort is classes of patients, each a condition plus individual variability.

A cohort is described by ``configs/cohort/<name>.yaml`` (see ``default.yaml`` for every field and
its source or model choice). :func:`draw_patients` turns it into :class:`Patient` objects; patient
``i`` is drawn from ``numpy.random.default_rng([seed, i])`` alone, so it is the same whether the
cohort has 9 or 900 patients and can be rebuilt on its own (:func:`draw_patient`).

A patient is

* a **class** (``healthy`` or a condition file's name, from the cohort config) and its condition preset;
* a **disease dose** ``d`` (0 = healthy ... 1 = the full condition; uniform in ``dose.low..high``
  for the dystonia classes, 0 for the healthy class). The condition's changes are read from
  ``configs/condition/<c>.yaml`` and scaled (:func:`dosed_changes`): a multiplier ``m``
  (``weight_scale``, ``side_scale``, a modulator's ``level``) becomes ``m**(d k)`` (``dose_scale:
  log``) or ``1 + d k (m - 1)`` (``linear``), a value with a unit goes from the healthy value
  ``h`` to ``h + d k (c - h)``, where ``k = exp(N(0, condition_change_sd))`` is the patient's
  own strength of that change; structural changes (``topology``, ``p_scale``) are applied when
  ``d >= structural_dose``;
* a **side** (cervical dystonia: the head turns to ``right`` with probability ``side_right``),
  the ``side=`` group;
* **individual variability**: every pathway's ``weight_scale`` times ``exp(N(0,
  pathway_weight_sd))`` and every population's background rate (its drive) times ``exp(N(0,
  background_rate_sd))``;
* a simulation seed (network realisation and noise), ``sim_seeds[i % len(sim_seeds)]``.

:meth:`Patient.overrides` gives the Hydra overrides of the patient (``condition=healthy`` plus
the dosed changes, so that dose 0 is exactly healthy up to the individual variability);
``measurement`` overrides (a treatment, a state) are added by the caller.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

STRUCTURAL = ("topology", "p_scale")   #: changes of the wiring, applied from structural_dose on
_QUANTITY = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*\*\s*([A-Za-z]+)\s*$")
REQUIRED = ("seed", "classes", "sim_seeds", "dose", "dose_scale", "structural_dose", "side_right",
            "variability", "duration", "task")


class CohortError(ValueError):
    """A cohort file that cannot describe a cohort (names the field and the fix)."""


@dataclass(frozen=True)
class Patient:
    index: int
    label: str                  # folder-safe: p<index>_<class>
    cls: str
    condition: str
    dose: float
    side: Optional[str]
    sim_seed: int
    settings: Tuple[Tuple[str, str], ...]   # dotted config key -> value (the drawn circuit)
    draws: Dict[str, float] = field(default_factory=dict, compare=False, hash=False)

    def overrides(self, duration: Optional[str] = None, task: str = "rest") -> List[str]:
        out = ["condition=healthy", f"condition_name={self.condition}", f"task={task}"]
        if self.side:
            out.append(f"side={self.side}")
        if duration:
            out.append(f"sim.duration={duration}")
        return out + [f"{k}={v}" for k, v in self.settings]

    def factors(self) -> Dict[str, Any]:
        return {"patient": self.index, "class": self.cls, "condition": self.condition, "dose": self.dose,
                "side": self.side or "", "sim_seed": self.sim_seed}


def cohort_path(name_or_path: str | Path) -> Path:
    """``configs/cohort/<name>.yaml`` of the package, or a path to a cohort file."""
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml"):
        return p
    from importlib.resources import files

    return Path(str(files("circuitsim.configs") / "cohort" / f"{name_or_path}.yaml"))


def load_cohort(name_or_path: str | Path) -> Dict[str, Any]:
    """The cohort file as a dict, checked (a CohortError names the field and the fix)."""
    import yaml

    path = cohort_path(name_or_path)
    if not path.is_file():
        from importlib.resources import files

        known = sorted(p.name[:-5] for p in Path(str(files("circuitsim.configs") / "cohort")).glob("*.yaml"))
        raise CohortError(f"cohort: no cohort {str(name_or_path)!r}; choose one of {', '.join(known)} or give a "
                          f"path to a .yaml file")
    cfg = yaml.safe_load(path.read_text()) or {}
    missing = [k for k in REQUIRED if k not in cfg]
    if missing:
        raise CohortError(f"cohort.{missing[0]}: missing in {path.name}; see configs/cohort/default.yaml")
    from importlib.resources import files

    conditions = sorted(p.name[:-5] for p in Path(str(files("circuitsim.configs") / "condition")).glob("*.yaml"))
    for name, spec in cfg["classes"].items():
        if not isinstance(spec, Mapping) or spec.get("condition") not in conditions:
            raise CohortError(f"cohort.classes.{name}.condition: must be one of {', '.join(conditions)}")
        if not isinstance(spec.get("n"), int) or spec["n"] < 0:
            raise CohortError(f"cohort.classes.{name}.n: must be a whole number >= 0 (got {spec.get('n')!r})")
    if cfg["dose_scale"] not in ("log", "linear"):
        raise CohortError(f"cohort.dose_scale: must be log or linear (got {cfg['dose_scale']!r})")
    lo, hi = float(cfg["dose"]["low"]), float(cfg["dose"]["high"])
    if not 0 <= lo <= hi <= 1:
        raise CohortError(f"cohort.dose: needs 0 <= low <= high <= 1 (got {lo}, {hi})")
    if not 0 <= float(cfg["side_right"]) <= 1:
        raise CohortError(f"cohort.side_right: a probability in [0, 1] (got {cfg['side_right']})")
    if not cfg["sim_seeds"]:
        raise CohortError("cohort.sim_seeds: give at least one seed")
    for key, sd in cfg["variability"].items():
        if not (isinstance(sd, (int, float)) and sd >= 0):
            raise CohortError(f"cohort.variability.{key}: a standard deviation >= 0 (got {sd!r})")
    return cfg


def _flatten(node: Any, prefix: str = "") -> Dict[str, Any]:
    if isinstance(node, Mapping):
        out: Dict[str, Any] = {}
        for k, v in node.items():
            out.update(_flatten(v, f"{prefix}{k}."))
        return out
    return {prefix[:-1]: node}


def condition_changes(condition: str) -> Dict[str, Any]:
    """The condition preset's changes to the circuit (dotted key -> value), side excluded."""
    import yaml
    from importlib.resources import files

    text = (files("circuitsim.configs") / "condition" / f"{condition}.yaml").read_text()
    flat = _flatten((yaml.safe_load(text) or {}).get("circuit") or {}, "circuit.")
    flat.pop("circuit.side", None)
    return flat


_HEALTHY: Dict[str, Any] = {}


def healthy_circuit() -> Dict[str, Any]:
    """The healthy circuit's config as a plain dict (composed once per process)."""
    if not _HEALTHY:
        from omegaconf import OmegaConf

        from circuitsim import compose

        _HEALTHY.update(OmegaConf.to_container(compose(["condition=healthy"]).circuit, resolve=True))
    return _HEALTHY


def _lookup(tree: Mapping[str, Any], dotted: str) -> Any:
    node: Any = tree
    for part in dotted.split(".")[1:]:      # drop "circuit."
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def _fmt(x: float) -> str:
    return f"{x:.6g}"


def dosed_value(key: str, value: Any, healthy: Any, dose: float, strength: float, scale: str,
                structural_dose: float) -> Any:
    """One change of a condition at ``dose`` with the patient's ``strength`` k (see the module doc);
    None where the healthy value stays."""
    name = key.rsplit(".", 1)[-1]
    if dose <= 0:
        return None                     # dose 0 is the healthy circuit
    if name in STRUCTURAL or isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return value if dose >= structural_dose else None
    if isinstance(value, (int, float)):
        m, h = float(value), float(healthy) if isinstance(healthy, (int, float)) else 1.0
        ratio = m / h if h else m
        if scale == "log" and ratio > 0:
            factor = ratio ** (dose * strength)
        else:
            factor = max(0.0, 1.0 + dose * strength * (ratio - 1.0))
        return float(h * factor)
    cond, base = _QUANTITY.match(value), _QUANTITY.match(str(healthy)) if healthy is not None else None
    if cond and base and cond.group(2) == base.group(2):
        c, h = float(cond.group(1)), float(base.group(1))
        return f"{_fmt(h + dose * strength * (c - h))}*{cond.group(2)}"
    return value if dose >= structural_dose else None   # a value we cannot interpolate: as structural


def dosed_changes(condition: str, dose: float, strengths: Mapping[str, float], scale: str = "log",
                  structural_dose: float = 0.5) -> Dict[str, Any]:
    """The condition's changes at ``dose`` (dotted key -> value); ``strengths`` per key (default 1)."""
    healthy = healthy_circuit()
    out = {}
    for key, value in condition_changes(condition).items():
        v = dosed_value(key, value, _lookup(healthy, key), dose, strengths.get(key, 1.0), scale, structural_dose)
        if v is not None:
            out[key] = v
    return out


def draw_patient(cohort: Mapping[str, Any], index: int, dose: Optional[float] = None) -> Patient:
    """Patient ``index`` of the cohort (``dose`` overrides the drawn dose, e.g. for a dose sweep)."""
    classes = [(name, spec) for name, spec in cohort["classes"].items()]
    bounds = np.cumsum([spec["n"] for _, spec in classes])
    if not 0 <= index < bounds[-1]:
        raise CohortError(f"patient {index}: the cohort has {int(bounds[-1])} patients (0-{int(bounds[-1]) - 1})")
    cls, spec = classes[int(np.searchsorted(bounds, index, side="right"))]
    condition = spec["condition"]
    var = cohort["variability"]
    rng = np.random.default_rng([int(cohort["seed"]), index])
    # the draws in a fixed order, every one made whatever the class, so a change of one class
    # leaves the others' draws as they were
    drawn_dose = float(rng.uniform(cohort["dose"]["low"], cohort["dose"]["high"]))
    right = bool(rng.uniform() < float(cohort["side_right"]))
    healthy = healthy_circuit()
    pathways = sorted(healthy["pathways"])
    populations = sorted(healthy["populations"])
    w = np.exp(rng.normal(0.0, float(var.get("pathway_weight_sd", 0.0)), len(pathways)))
    b = np.exp(rng.normal(0.0, float(var.get("background_rate_sd", 0.0)), len(populations)))
    changes = condition_changes(condition)
    k = np.exp(rng.normal(0.0, float(var.get("condition_change_sd", 0.0)), len(changes)))
    strengths = dict(zip(sorted(changes), k))
    is_healthy = not changes and condition == "healthy"
    d = 0.0 if is_healthy else (drawn_dose if dose is None else float(dose))
    side = None if is_healthy else ("right" if right else "left")
    settings: Dict[str, Any] = dosed_changes(condition, d, strengths, cohort["dose_scale"],
                                             float(cohort["structural_dose"]))
    draws: Dict[str, float] = {}
    for name, factor in zip(pathways, w):
        key = f"circuit.pathways.{name}.weight_scale"
        base = float(settings.get(key, healthy["pathways"][name].get("weight_scale", 1.0)))
        settings[key] = base * float(factor)
        draws[f"w.{name}"] = float(factor)
    for name, factor in zip(populations, b):
        rate = _QUANTITY.match(str(healthy["populations"][name]["background"]["rate"]))
        if rate is None:
            raise CohortError(f"circuit.populations.{name}.background.rate: cannot scale {rate!r}")
        settings[f"circuit.populations.{name}.background.rate"] = f"{_fmt(float(rate.group(1)) * factor)}*{rate.group(2)}"
        draws[f"b.{name}"] = float(factor)
    for key, s in strengths.items():
        draws[f"k.{key}"] = float(s)
    text = {key: (_fmt(v) if isinstance(v, float) else str(v)) for key, v in sorted(settings.items())}
    seeds = list(cohort["sim_seeds"])
    return Patient(index=index, label=f"p{index:03d}_{cls}", cls=cls, condition=condition, dose=round(d, 6),
                   side=side, sim_seed=int(seeds[index % len(seeds)]), settings=tuple(text.items()), draws=draws)


def draw_patients(cohort: Mapping[str, Any]) -> List[Patient]:
    n = sum(spec["n"] for spec in cohort["classes"].values())
    return [draw_patient(cohort, i) for i in range(n)]


def patient_table(patients: Sequence[Patient]) -> List[Dict[str, Any]]:
    """One row per patient: its factors and every drawn factor (for the cohort table)."""
    return [{**p.factors(), **p.draws} for p in patients]


def plan(patients: Sequence[Patient], measurements: Mapping[str, Any]) -> List[Tuple[Patient, str, List[str]]]:
    """(patient, measurement, extra overrides) for every patient and measurement (name -> overrides, or a
    callable ``patient -> overrides or None``; None: that patient skips it)."""
    items = []
    for p in patients:
        for name, extra in measurements.items():
            extra = extra(p) if callable(extra) else list(extra)
            if extra is not None:
                items.append((p, name, list(extra)))
    return items


#: overrides of every cohort run: no figures in the run folders (drawing them took 4.3 of a 3 s
#: run's 7.3 s; the cohort's own figures summarise it, and any run can be plotted afterwards)
COHORT_RUN = ("readout.plots=[]",)


def run_cohort(items: Sequence[Tuple[Patient, str, Sequence[str]]], out: str | Path, cohort: Mapping[str, Any],
               measures: Mapping[str, Any], batch_size: int = 0, **run_options: Any) -> List[Dict[str, Any]]:
    """Run every (patient, measurement, extra overrides) of :func:`plan`; one row per item, in order
    (:func:`circuitsim.experiments.run_points`, one call per simulation seed: resumed, local processes
    or a Hydra launcher; the runs are collected into ``<out>/runs/runs.csv``).

    ``batch_size`` > 1 (and no launcher): the items a batch can hold (no DBS or TMS stimulus) are
    first simulated ``batch_size`` at a time as one network (:mod:`circuitsim.cohort_batch`), in
    ``run_options["jobs"]`` processes, into the folders run_points would write; run_points then
    finds them finished (resume) and only reads them. A copy's spikes are bitwise identical to
    its single run's, so the cohort's table does not depend on ``batch_size``."""
    from circuitsim.experiments import Point, run_points

    by_seed: Dict[int, List[Point]] = {}
    labels = []
    for p, name, extra in items:
        point = Point(f"{p.label}_{name}", [*COHORT_RUN, *p.overrides(str(cohort["duration"]), str(cohort["task"])),
                                            *extra], {**p.factors(), "measurement": name})
        by_seed.setdefault(p.sim_seed, []).append(point)
        labels.append(f"{point.label}_seed{p.sim_seed}")
    if batch_size > 1 and run_options.get("launcher") is None:
        from circuitsim.cohort_batch import run_batched

        run_batched(by_seed, Path(out) / "runs", batch_size, jobs=int(run_options.get("jobs", 1)),
                    resume=bool(run_options.get("resume", True)))
    rows: Dict[str, Dict[str, Any]] = {}
    for seed, points in sorted(by_seed.items()):
        for row in run_points(points, [seed], out, measures, **run_options):
            rows[Path(row["folder"]).name] = row
    return [rows[label] for label in labels]


def collect_finished(items: Sequence[Tuple[Patient, str, Sequence[str]]], out: str | Path,
                     measures: Mapping[str, str]) -> List[Dict[str, Any]]:
    """The rows of the items of :func:`plan` whose runs already finished in ``<out>/runs`` (as
    :func:`run_cohort` names them), read from their ``metrics.json`` without composing or running
    anything; items not yet run are left out. For the analysis of a cohort still running."""
    import json

    from circuitsim.experiments import lookup
    from circuitsim.io import results as rio

    rows = []
    for p, name, _ in items:
        folder = Path(out) / "runs" / f"{p.label}_{name}_seed{p.sim_seed}"
        if not rio.is_complete(folder):
            continue
        metrics = json.loads((folder / rio.METRICS).read_text())
        rows.append({**p.factors(), "measurement": name, "seed": p.sim_seed, "folder": str(folder),
                     **{key: lookup(metrics, dotted) for key, dotted in measures.items()}})
    return rows
