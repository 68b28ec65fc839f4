"""Fitting parameters to targets with Hydra's Optuna sweeper (``circuitsim -m hydra/sweeper=fit ...``).

The loss of one run compares its metrics with target values that carry a tolerance::

    loss = mean over targets k of ((x_k - value_k) / tol_k) ** 2

``x_k`` is the run's metric (a dotted key of ``metrics.json``, e.g. ``populations.gpi.rate_hz``).
A target is either ``{value, tol}`` or a range ``{low, high}``, which means
``value = (low + high) / 2`` and ``tol = (high - low) / 2``: a run at the edge of every range
scores 1, one in the middle 0. A metric that is missing or NaN adds ``penalty`` (default 100)
instead of its square. The targets are ``fit.targets`` of the config (``+fit=<file>`` picks a file of
``configs/fit/``); without one they are the healthy rate ranges of the circuit
(``circuit.populations.<pop>.target_rate`` for every population, metric ``populations.<pop>.rate_hz``).

At the end of a fit, :class:`WriteBest` (a Hydra callback set by ``hydra/sweeper=fit``) writes the
best run's overrides into the sweep folder, as ``best_overrides.txt`` (one override per line:
``circuitsim $(cat best_overrides.txt)``) and as ``best/params.yaml`` (an experiment-style file:
``circuitsim --config-dir <sweep folder> +best=params``).
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

from circuitsim.compare import flatten_metrics
from circuitsim.schema import FitConf, with_defaults

logger = logging.getLogger(__name__)

LOSS_FILE = "fit_loss.json"
DEFAULT_PENALTY = FitConf.penalty   # the schema's (configs/fit/ files place it: --cfg job shows it)


def _target(name: str, spec: Mapping[str, Any]) -> Dict[str, float]:
    spec = dict(spec)
    if "value" in spec:
        value = float(spec["value"])
        tol = float(spec.get("tol", 0.0))
    elif "low" in spec and "high" in spec:
        low, high = float(spec["low"]), float(spec["high"])
        value, tol = (low + high) / 2, (high - low) / 2
    else:
        raise ValueError(f"fit.targets.{name}: give either value and tol, or low and high")
    if not tol > 0:
        raise ValueError(f"fit.targets.{name}: the tolerance must be positive (got {tol})")
    return {"value": value, "tol": tol}


def targets_from_config(cfg: Mapping[str, Any]) -> Dict[str, Dict[str, float]]:
    """The fit targets of a (plain or Omega) config: ``fit.targets``, else the healthy rate ranges."""
    from omegaconf import DictConfig, OmegaConf

    if isinstance(cfg, DictConfig):
        cfg = OmegaConf.to_container(cfg, resolve=True)
    fit = cfg.get("fit") or {}
    if fit.get("targets"):
        return {name: _target(name, spec) for name, spec in fit["targets"].items()}
    from circuitsim.spec import TargetRateConf, build_spec
    from circuitsim.units import to_si

    # the validated spec's target ranges (SI); a population left at the schema's unbounded
    # default range has no target
    unbounded = (to_si(TargetRateConf.low, "rate", ""), to_si(TargetRateConf.high, "rate", ""))
    targets = {}
    for pop in build_spec(cfg).populations.values():
        low, high = pop.target_low, pop.target_high
        if high > low and (low, high) != unbounded:
            targets[f"populations.{pop.name}.rate_hz"] = {"value": (low + high) / 2, "tol": (high - low) / 2}
    return targets


def loss(metrics: Mapping[str, Any], targets: Mapping[str, Mapping[str, float]],
         penalty: float = DEFAULT_PENALTY) -> tuple[float, Dict[str, float]]:
    """The loss (above) and each target's term."""
    flat = flatten_metrics(dict(metrics))
    terms = {}
    for name, t in targets.items():
        x = flat.get(name, math.nan)
        terms[name] = penalty if not math.isfinite(x) else ((x - t["value"]) / t["tol"]) ** 2
    return (sum(terms.values()) / len(terms) if terms else 0.0), terms


def penalty_from_config(cfg: Mapping[str, Any]) -> float:
    """The config's ``fit.penalty``; the schema's (:class:`circuitsim.schema.FitConf`) without one."""
    fit = cfg.get("fit") or {}
    return float(with_defaults(fit, FitConf)["penalty"]) if hasattr(fit, "get") else DEFAULT_PENALTY


def write_loss(folder: Path, value: float, terms: Mapping[str, float]) -> None:
    (Path(folder) / LOSS_FILE).write_text(json.dumps({"loss": value, "terms": dict(terms)}, indent=2))


def read_loss(folder: Path) -> Optional[float]:
    path = Path(folder) / LOSS_FILE
    try:
        return float(json.loads(path.read_text())["loss"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _parse_value(text: str) -> Any:
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def experiment_yaml(overrides: List[str], groups: Mapping[str, Any]) -> str:
    """An experiment-style config (``# @package _global_``) that applies ``overrides``."""
    import yaml

    defaults, values = [], {}
    for ov in overrides:
        key, _, text = ov.partition("=")
        key = key.lstrip("+~")
        if key in groups:
            defaults.append({f"override /{key}": text})
            continue
        node = values
        *parents, leaf = key.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = _parse_value(text)
    body: Dict[str, Any] = {}
    if defaults:
        body["defaults"] = defaults + ["_self_"]
    body.update(values)
    return "# @package _global_\n" + yaml.safe_dump(body, sort_keys=False)


def best_run(sweep_dir: Path) -> Optional[Path]:
    """The job folder with the lowest stored loss."""
    best, best_value = None, math.inf
    for loss_file in sorted(Path(sweep_dir).rglob(LOSS_FILE)):
        value = read_loss(loss_file.parent)
        if value is not None and value < best_value:
            best, best_value = loss_file.parent, value
    return best


def write_best(sweep_dir: Path, groups: Mapping[str, Any]) -> Optional[List[str]]:
    """Write ``best_overrides.txt`` and ``best/params.yaml`` for the best run of a fit sweep."""
    import yaml

    sweep_dir = Path(sweep_dir)
    folder = best_run(sweep_dir)
    if folder is None:
        logger.warning("fit: no run of %s has a loss; nothing written", sweep_dir)
        return None
    overrides = [ov for ov in (yaml.safe_load((folder / ".hydra" / "overrides.yaml").read_text()) or [])
                 if not ov.lstrip("+~").startswith(("hydra.", "hydra/", "resume", "fit"))]
    (sweep_dir / "best_overrides.txt").write_text("\n".join(overrides) + "\n")
    (sweep_dir / "best").mkdir(exist_ok=True)
    (sweep_dir / "best" / "params.yaml").write_text(experiment_yaml(overrides, groups))
    logger.info("fit: best run %s (loss %.4g); its overrides are in %s and %s", folder, read_loss(folder),
                sweep_dir / "best_overrides.txt", sweep_dir / "best" / "params.yaml")
    return overrides


try:
    from hydra.experimental.callback import Callback
except ImportError:  # pragma: no cover
    Callback = object  # type: ignore[misc,assignment]


class WriteBest(Callback):  # type: ignore[misc]
    """Hydra callback: after a fit sweep, write the best run's overrides (see module docstring)."""

    def on_multirun_end(self, config: Any, **kwargs: Any) -> None:
        groups = dict(config.hydra.runtime.choices)
        write_best(Path(config.hydra.sweep.dir), {k: v for k, v in groups.items() if not k.startswith("hydra/")})
