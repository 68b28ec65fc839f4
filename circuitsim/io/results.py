"""The result folder of one run: layout, atomic writing and loading.

A finished folder holds::

    config.yaml     the resolved config of the run
    spikes.npz      per population: neuron index (local to the population) and spike time (s)
    rates.npz       per population: population rate (Hz) in bins of readout.rate_bin
    lfp.npz         per region: LFP proxy time series (if currents were recorded)
    muscle.npz      muscle readout time series: ``time``, ``head_angle`` and per muscle
                    ``<muscle>.{drive,force,emg,envelope}`` (if the readout ran)
    metrics.json    every measure, plus run information (seed, versions, timing)
    *.png           figures

``metrics.json`` is written last and atomically (write to a temporary name, then rename), so
a folder without it is a run that was killed or is still running, never a finished one.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Optional

import numpy as np

from circuitsim.errors import ResultError, ResultExistsError

METRICS = "metrics.json"
CONFIG = "config.yaml"
SPIKES = "spikes.npz"
RATES = "rates.npz"
LFP = "lfp.npz"
MUSCLE = "muscle.npz"
MUSCLE_SERIES = ("drive", "force", "emg", "envelope")


@dataclass
class Result:
    """One run's output. ``spikes[pop] = (i, t)`` with local neuron indices and times in s."""

    metrics: Dict[str, Any]
    config: Dict[str, Any]
    spikes: Dict[str, tuple] = field(default_factory=dict)
    rates: Dict[str, np.ndarray] = field(default_factory=dict)
    rate_dt: float = 1e-3
    lfp: Dict[str, np.ndarray] = field(default_factory=dict)
    lfp_dt: float = 1e-3
    sizes: Dict[str, int] = field(default_factory=dict)
    regions: Dict[str, list] = field(default_factory=dict)
    channels: Dict[str, np.ndarray] = field(default_factory=dict)   # pop -> channel of each neuron
    extra: Dict[str, Any] = field(default_factory=dict)             # readouts added by later stages
    folder: Optional[Path] = None

    @property
    def duration(self) -> float:
        return float(self.metrics["run"]["duration_s"])


def _atomic_write(path: Path, write) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with _suppress():
            os.unlink(tmp)
        raise


class _suppress:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return True


def _json_default(obj: Any) -> Any:
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def _clean(obj: Any) -> Any:
    """NaN and inf are not JSON; write them as null."""
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, (float, np.floating)) and not math.isfinite(float(obj)):
        return None
    return obj


def is_complete(folder: Path | str) -> bool:
    return (Path(folder) / METRICS).is_file()


def stored_metrics(folder: Path | str, config: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """The metrics of the finished run in ``folder`` if its stored config equals ``config``, else None.

    ``config`` is a plain (resolved, JSON-compatible) config without the ``hydra`` node; this is
    how the command line and the experiments resume a run instead of recomputing it.
    """
    import yaml

    folder = Path(folder)
    try:
        stored = yaml.safe_load((folder / CONFIG).read_text())
        metrics = json.loads((folder / METRICS).read_text())
    except (OSError, ValueError, yaml.YAMLError):
        return None
    if json.loads(json.dumps(stored)) != json.loads(json.dumps(config)):
        return None
    return metrics


def prepare_folder(folder: Path | str, overwrite: bool = False) -> Path:
    """Create the output folder; refuse to touch a finished result unless ``overwrite``."""
    folder = Path(folder)
    if is_complete(folder) and not overwrite:
        raise ResultExistsError(f"{folder} already holds a finished run ({METRICS}); choose another output "
                                f"folder or pass overwrite=True")
    folder.mkdir(parents=True, exist_ok=True)
    if overwrite and is_complete(folder):
        os.unlink(folder / METRICS)  # the folder is incomplete until the new metrics are written
    return folder


def write_data(folder: Path, result: Result) -> None:
    """Write everything except metrics.json (see :func:`finish`)."""
    import yaml

    _atomic_write(folder / CONFIG, lambda fh: fh.write(yaml.safe_dump(result.config, sort_keys=False).encode()))
    arrays: Dict[str, np.ndarray] = {}
    for pop, (i, t) in result.spikes.items():
        arrays[f"{pop}.i"] = np.asarray(i, dtype=np.int32)
        arrays[f"{pop}.t"] = np.asarray(t, dtype=np.float64)
    for pop, ch in result.channels.items():
        arrays[f"{pop}.channel"] = np.asarray(ch, dtype=np.int32)
    arrays["_sizes"] = np.array([result.sizes[p] for p in result.spikes], dtype=np.int64)
    arrays["_names"] = np.array(list(result.spikes), dtype=str)
    if result.spikes:
        _atomic_write(folder / SPIKES, lambda fh: np.savez_compressed(fh, **arrays))
    rates = {p: r for p, r in result.rates.items()}
    rates["_dt"] = np.array(result.rate_dt)
    _atomic_write(folder / RATES, lambda fh: np.savez_compressed(fh, **rates))
    if result.lfp:
        lfp = dict(result.lfp)
        lfp["_dt"] = np.array(result.lfp_dt)
        _atomic_write(folder / LFP, lambda fh: np.savez_compressed(fh, **lfp))
    muscle = result.extra.get("muscle")
    if muscle is not None:
        series = {"time": np.asarray(muscle.time), "head_angle": np.asarray(muscle.head_angle)}
        for name in MUSCLE_SERIES:
            for m, values in getattr(muscle, name).items():
                series[f"{m}.{name}"] = np.asarray(values)
        _atomic_write(folder / MUSCLE, lambda fh: np.savez_compressed(fh, **series))


def finish(folder: Path, result: Result) -> None:
    """Write metrics.json last: from now on the folder counts as a finished run."""
    text = json.dumps(_clean(result.metrics), indent=2, default=_json_default)
    _atomic_write(folder / METRICS, lambda fh: fh.write(text.encode()))
    result.folder = folder


def load_result(folder: Path | str) -> Result:
    """Read a finished run folder back.

    Raises
    ------
    ResultError
        If the folder does not exist, the run did not finish (no metrics.json), or a file is
        corrupt. The message says which file and what to do.
    """
    import yaml

    folder = Path(folder)
    if not folder.is_dir():
        raise ResultError(f"{folder}: no such result folder")
    if not is_complete(folder):
        raise ResultError(f"{folder}: incomplete run (no {METRICS}); it was killed or is still running - "
                          f"rerun it into a new folder")
    try:
        metrics = json.loads((folder / METRICS).read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ResultError(f"{folder / METRICS}: corrupt JSON ({err}); rerun the simulation") from None
    if not isinstance(metrics, dict) or "run" not in metrics:
        raise ResultError(f"{folder / METRICS}: not a circuitsim metrics file (no 'run' section)")
    config: Dict[str, Any] = {}
    if (folder / CONFIG).is_file():
        config = yaml.safe_load((folder / CONFIG).read_text()) or {}
    result = Result(metrics=metrics, config=config, folder=folder)
    try:
        if (folder / SPIKES).is_file():
            with np.load(folder / SPIKES) as z:
                names = [str(n) for n in z["_names"]]
                for name, size in zip(names, z["_sizes"]):
                    result.spikes[name] = (z[f"{name}.i"], z[f"{name}.t"])
                    result.sizes[name] = int(size)
                    if f"{name}.channel" in z:
                        result.channels[name] = z[f"{name}.channel"]
        if (folder / RATES).is_file():
            with np.load(folder / RATES) as z:
                result.rate_dt = float(z["_dt"])
                result.rates = {k: z[k] for k in z.files if k != "_dt"}
        if (folder / LFP).is_file():
            with np.load(folder / LFP) as z:
                result.lfp_dt = float(z["_dt"])
                result.lfp = {k: z[k] for k in z.files if k != "_dt"}
        if (folder / MUSCLE).is_file():
            with np.load(folder / MUSCLE) as z:
                result.extra["muscle_series"] = {k: z[k] for k in z.files}
    except (OSError, ValueError, KeyError) as err:
        raise ResultError(f"{folder}: corrupt data file ({err}); rerun the simulation") from None
    result.regions = metrics.get("run", {}).get("regions", {})
    return result
