"""The result folder of one run: layout, atomic writing and loading.

A finished folder holds::

    config.yaml     the resolved config of the run
    spec.json       the validated spec the simulator ran, in SI units (circuitsim.io.specfile)
    spikes.npz      per population: neuron index (local to the population) and spike time (s)
    rates.npz       per population: population rate (Hz) in bins of readout.rate_bin
    lfp.npz         per region: LFP proxy time series (if currents were recorded)
    muscle.npz      muscle readout time series: ``time``, ``head_angle`` and per muscle
                    ``<muscle>.{drive,force,emg,envelope}``, and the motor units' spikes
                    ``<muscle>.unit_t`` (every unit's times in turn) and ``<muscle>.unit_n`` (their
                    counts) (if the readout ran)
    metrics.json    every measure, plus run information (seed, versions, timing)
    *.png           figures

``metrics.json`` is written last and atomically (write to a temporary name, then rename), so
a folder without it is a run that was killed or is still running, never a finished one. Every
file is written that way, with the permissions the user's umask gives (0644 under umask 022).

One writer per folder: :func:`prepare_folder` takes an exclusive lock (``flock``) on the folder,
held until :func:`finish` (or :func:`release_folder`, or the process's end); a second process
that tries to write into it is refused with :class:`~circuitsim.errors.ResultBusyError`. Each run
has a run id (``Result.run_id``), written into ``metrics.json`` (``run.run_id``), the first line
of ``config.yaml`` (a comment) and every ``.npz`` (``_run_id``); :func:`load_result` refuses a
folder whose files carry different run ids. A write that fails (disk full, I/O error) raises
:class:`~circuitsim.errors.StorageError` naming the file and what was being written, and leaves
no half-written file and no ``metrics.json`` behind.
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import math
import os
import re
import tempfile
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Optional, Tuple

import numpy as np

from circuitsim.errors import ResultBusyError, ResultError, ResultExistsError, StorageError
from circuitsim.io.result_types import MUSCLE_SERIES, ExtraView, MuscleSeries, Signal  # noqa: F401
from circuitsim.io.specfile import SPEC

METRICS = "metrics.json"
CONFIG = "config.yaml"
SPIKES = "spikes.npz"
RATES = "rates.npz"
LFP = "lfp.npz"
MUSCLE = "muscle.npz"
DATA_FILES = (CONFIG, SPEC, SPIKES, RATES, LFP, MUSCLE)
RUN_ID_KEY = "_run_id"                  # in every .npz
_CONFIG_ID = re.compile(r"^# circuitsim run_id: ([0-9a-f]+)\s*$")   # first line of config.yaml


def new_run_id() -> str:
    return uuid.uuid4().hex


@dataclass
class Result:
    """One run's output, one named field per stage (built in this order by
    ``circuitsim.api.finish_run``; see ``circuitsim.io.result_types``).

    ``spikes[pop] = (i, t)`` with local neuron indices and times in s; ``rates`` and ``lfp`` per
    population / region, sampled every ``rate_dt`` / ``lfp_dt`` s from 0 (as signals:
    :attr:`rate_signal`, :attr:`lfp_signal`); ``stimuli`` (validated, SI) and ``stim_data`` (their
    recorders); ``spectra[region] = (f, psd)``; ``muscle`` (:class:`MuscleSeries`, live and loaded)
    and ``muscle_readout`` (the full readout, live only). Fields a loaded run does not have are None.
    """

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
    spec: Dict[str, Any] = field(default_factory=dict)   # the validated spec, SI (circuitsim.io.specfile)
    folder: Optional[Path] = None
    run_id: str = field(default_factory=new_run_id)   # written into every file of the run's folder
    stimuli: Optional[Dict[str, Any]] = None          # name -> validated parameters (SI), live only
    stim_data: Optional[Dict[str, Any]] = None        # name -> what the stimulus's recorders kept, live only
    lfp_currents: Optional[Dict[str, tuple]] = None   # region -> (I_exc, I_inh) bin means, live only
    spectra: Optional[Dict[str, tuple]] = None        # region -> (f, psd) after the transient, live only
    muscle: Optional[MuscleSeries] = None             # the muscle time series, live and loaded
    muscle_readout: Any = None                        # the full muscle readout, live only
    _other: Dict[str, Any] = field(default_factory=dict, repr=False)   # other keys of ``extra``

    @property
    def extra(self) -> ExtraView:
        """The older string-keyed view of the fields above (``extra["stimuli"]`` is ``stimuli``)."""
        return ExtraView(self)

    @property
    def rate_signal(self) -> Signal:
        """The population rates as a signal (Hz per neuron, every ``rate_dt`` s from 0)."""
        return Signal(self.rates, self.rate_dt, 0.0)

    @property
    def lfp_signal(self) -> Signal:
        """The regions' LFP proxies as a signal (A, every ``lfp_dt`` s from 0)."""
        return Signal(self.lfp, self.lfp_dt, 0.0)

    @property
    def duration(self) -> float:
        return float(self.metrics["run"]["duration_s"])

    def __repr__(self) -> str:   # short: key measures, not the arrays (circuitsim.io.display)
        from circuitsim.io.display import result_repr

        return result_repr(self)

    def _repr_html_(self) -> str:   # notebooks: a table of key measures and links to the figures
        from circuitsim.io.display import result_html

        return result_html(self)

    def to_nwb(self, path: str | Path) -> Path:
        """Write the run as an NWB file (:func:`circuitsim.io.nwb.to_nwb`; needs ``circuitsim[nwb]``)."""
        from circuitsim.io.nwb_file import to_nwb

        return to_nwb(self, path)

    def to_neo(self) -> Any:
        """The run as a ``neo.Block`` of SpikeTrains (:func:`circuitsim.io.nwb.to_neo`)."""
        from circuitsim.io.nwb_file import to_neo

        return to_neo(self)


def spec_of(result: Result) -> Dict[str, Any]:
    """The run's validated spec as plain JSON (SI units; the ``spec`` of ``spec.json``).

    ``result.spec`` where the run has it; for a folder written before ``spec.json`` existed, the
    spec validated again from its ``config.yaml`` (by :func:`circuitsim.spec.build_spec`, the only
    parser of unit strings); ``{}`` when that config no longer validates. Consumers read values
    from here instead of parsing ``config.yaml`` themselves.
    """
    if result.spec:
        return result.spec
    if not result.config:
        return {}
    from circuitsim.io.specfile import spec_to_dict
    from circuitsim.spec import build_spec

    try:
        return spec_to_dict(build_spec(result.config))
    except Exception as err:   # an old or foreign folder: its consumers fall back on their defaults
        logger.warning("%s: no spec.json and its config.yaml does not validate (%s)", result.folder, err)
        return {}


def file_mode() -> int:
    """Permissions of a new file under the process's umask (0644 under umask 022)."""
    try:
        with open("/proc/self/status") as fh:   # reading it does not change it (os.umask does)
            for line in fh:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def atomic_write(path: Path, write: Callable[[Any], None], what: str = "data") -> None:
    """Write ``path`` through a temporary file in the same folder, then rename it into place.

    The file gets the umask's permissions (``tempfile.mkstemp`` makes 0600 files). An OSError
    (disk full, I/O error, no permission) becomes :class:`StorageError` naming ``path`` and
    ``what`` was written; the temporary file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), file_mode())
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as err:
        if tmp is not None:
            with _suppress():
                os.unlink(tmp)
        raise StorageError(path, what, err) from None
    except BaseException:
        if tmp is not None:
            with _suppress():
                os.unlink(tmp)
        raise


_atomic_write = atomic_write   # (old name)


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
    """The metrics of the finished run in ``folder`` if it can be resumed for ``config``, else None
    (:func:`stored_run` also says why not)."""
    return stored_run(folder, config)[0]


def stored_run(folder: Path | str, config: Dict[str, Any]) -> Tuple[Optional[Dict[str, Any]], Optional[str]]:
    """``(metrics, None)`` if the finished run in ``folder`` can stand for a run of ``config``, else
    ``(None, why not)``; ``(None, None)`` where the folder holds no finished run.

    ``config`` is a plain (resolved, JSON-compatible) config without the ``hydra`` node; this is
    how the command line and the experiments resume a run instead of recomputing it. A run resumes
    only if its stored config equals ``config`` (:data:`RUN_CONTROL_KEYS` aside) and it was made by
    the same circuitsim source (``run.versions.source``, :func:`circuitsim._version.source_digest`):
    a changed default or equation changes what a run computes without changing its composed config.
    """
    import yaml

    from circuitsim._version import source_digest

    folder = Path(folder)
    if not is_complete(folder):
        return None, None
    try:
        stored = yaml.safe_load((folder / CONFIG).read_text())
        metrics = json.loads((folder / METRICS).read_text())
    except (OSError, ValueError, yaml.YAMLError) as err:
        return None, f"its {CONFIG} or {METRICS} cannot be read ({type(err).__name__})"
    if _comparable(stored) != _comparable(config):
        return None, "it was made with another config"
    if _source_of(metrics) != source_digest():
        return None, (f"it was made by another version of the circuitsim code (source "
                      f"{_source_of(metrics) or 'not recorded'}, now {source_digest()})")
    return metrics, None


def made_by_this_code(folder: Path | str) -> bool:
    """Whether the finished run in ``folder`` records this circuitsim source (``run.versions.source``)."""
    from circuitsim._version import source_digest

    try:
        return _source_of(json.loads((Path(folder) / METRICS).read_text())) == source_digest()
    except (OSError, ValueError):
        return False


def _source_of(metrics: Any) -> Optional[str]:
    run = metrics.get("run") if isinstance(metrics, dict) else None
    versions = run.get("versions") if isinstance(run, dict) else None
    return versions.get("source") if isinstance(versions, dict) else None


#: config keys that do not change what a run computes (left out when a stored run is compared)
RUN_CONTROL_KEYS = (("sim", "max_wall_time"),)


def _comparable(config: Any) -> Any:
    plain = json.loads(json.dumps(config))
    for section, key in RUN_CONTROL_KEYS:
        if isinstance(plain, dict) and isinstance(plain.get(section), dict):
            plain[section].pop(key, None)
    return plain


_HELD: Dict[str, int] = {}     # folder -> fd of its lock, for the folders this process writes
_NO_LOCKS = {errno.ENOLCK, errno.EINVAL, errno.EOPNOTSUPP, errno.ENOTSUP, errno.ENOSYS}
_WARNED_NO_LOCKS: list = []
logger = logging.getLogger(__name__)
_HELD_LOCK = threading.Lock()


def _lock_folder(folder: Path) -> None:
    """Take the folder's writer lock (an flock on the folder itself), or refuse at once."""
    key = str(folder.resolve())
    with _HELD_LOCK:
        if key in _HELD:   # this process writes it already (callers within a process serialise)
            return
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            os.close(fd)
            if err.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise ResultBusyError(f"{folder}: another run is writing into this folder; wait for it to "
                                      f"finish or choose another output folder") from None
            if err.errno in _NO_LOCKS:   # a file system without flock: run without the guard, say so once
                if not _WARNED_NO_LOCKS:
                    _WARNED_NO_LOCKS.append(folder)
                    logger.warning("%s: this file system cannot lock folders (%s); one writer per run folder is "
                                   "not enforced here", folder, err.strerror)
                _HELD[key] = -1
                return
            raise StorageError(folder, "the writer lock of the run folder", err) from None
        _HELD[key] = fd


def release_folder(folder: Path | str) -> None:
    """Give up the writer lock of ``folder`` (done by :func:`finish`; a no-op if not held)."""
    key = str(Path(folder).resolve())
    with _HELD_LOCK:
        fd = _HELD.pop(key, None)
    if fd is not None and fd >= 0:
        os.close(fd)   # closing the last descriptor releases the flock


def _config_run_id(path: Path) -> Optional[str]:
    try:
        with open(path, "rb") as fh:
            first = fh.readline(200).decode("utf-8", "replace")
    except OSError:
        return None
    m = _CONFIG_ID.match(first)
    return m.group(1) if m else None


def prepare_folder(folder: Path | str, overwrite: bool = False) -> Path:
    """Create the output folder and become its only writer; refuse to touch a finished result
    unless ``overwrite``.

    Raises
    ------
    ResultBusyError
        If another process is writing into the folder.
    ResultExistsError
        If the folder holds a finished run and not ``overwrite``.
    """
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise StorageError(folder, "the run folder", err) from None
    _lock_folder(folder)
    try:
        if is_complete(folder) and not overwrite:
            raise ResultExistsError(f"{folder} already holds a finished run ({METRICS}); choose another output "
                                    f"folder or pass overwrite=True")
        finished = is_complete(folder)
        if finished:
            os.unlink(folder / METRICS)  # the folder is incomplete until the new metrics are written
        # no file of an earlier run (finished, or killed before its metrics) may stay beside the new one's
        for name in DATA_FILES:
            path = folder / name
            if path.is_file() and (finished or name != CONFIG or _config_run_id(path) is not None):
                os.unlink(path)
    except OSError as err:
        release_folder(folder)
        if isinstance(err, ResultError):
            raise
        raise StorageError(folder, "the run folder (removing the previous run's files)", err) from None
    except BaseException:
        release_folder(folder)
        raise
    return folder


def _write_npz(fh: Any, arrays: Dict[str, np.ndarray], compress: bool) -> None:
    """``arrays`` as an ``.npz`` (what ``np.savez`` writes, read by ``np.load``), deflated at level 1
    where ``compress``, else stored.

    Numerical choice, measured on a default 5 s run: level 1 writes the spikes 3.4x faster than
    ``savez_compressed``'s level 6 for a file 12 % larger (615 kB vs 547 kB) and the rates 4.7x faster
    (66 kB vs 44 kB); the LFP proxies and the muscle series (noise-like doubles) shrink by only
    7 % and 15 % at any level, so they are stored, for 2 % and 1 % of the time.
    """
    import zipfile

    mode = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(fh, "w", compression=mode, compresslevel=1 if compress else None, allowZip64=True) as zf:
        for key, value in arrays.items():
            with zf.open(f"{key}.npy", "w", force_zip64=True) as out:
                np.lib.format.write_array(out, np.asanyarray(value), allow_pickle=False)


#: in ``muscle.npz``, per muscle: the motor units' spike times one unit after the other (s, on the
#: run's clock), and each unit's spike count (what ``circuitsim-plot`` needs for the muscle figure)
UNIT_TIMES, UNIT_COUNTS = "unit_t", "unit_n"
MUSCLE_UNIT_SPIKES = "muscle_unit_spikes"   # the key of ``Result.extra`` a loaded run keeps them under


def unit_spike_arrays(unit_spikes: Dict[str, list]) -> Dict[str, np.ndarray]:
    """``{muscle: [train per unit]}`` as the flat arrays ``<muscle>.unit_t`` and ``<muscle>.unit_n``."""
    out = {}
    for m, trains in unit_spikes.items():
        trains = [np.asarray(tr, dtype=np.float64).ravel() for tr in trains]
        out[f"{m}.{UNIT_TIMES}"] = np.concatenate(trains) if trains else np.zeros(0)
        out[f"{m}.{UNIT_COUNTS}"] = np.array([tr.size for tr in trains], dtype=np.int32)
    return out


def unit_spikes_from_arrays(arrays: Dict[str, np.ndarray]) -> Dict[str, list]:
    """The inverse of :func:`unit_spike_arrays` (muscles without stored units are left out)."""
    out = {}
    for key in arrays:
        if key.endswith(f".{UNIT_COUNTS}"):
            m = key[: -len(UNIT_COUNTS) - 1]
            counts = np.asarray(arrays[key], dtype=np.int64)
            times = np.asarray(arrays[f"{m}.{UNIT_TIMES}"], dtype=np.float64)
            if counts.sum() != times.size:
                raise ValueError(f"{m}: {times.size} motor-unit spike times for {counts.sum()} counted")
            out[m] = np.split(times, np.cumsum(counts)[:-1]) if counts.size else []
    return out


def write_data(folder: Path, result: Result) -> None:
    """Write everything except metrics.json (see :func:`finish`)."""
    import yaml

    header = f"# circuitsim run_id: {result.run_id}\n"
    atomic_write(folder / CONFIG, lambda fh: fh.write((header + yaml.safe_dump(result.config, sort_keys=False))
                                                      .encode()), "the run's config")
    if result.spec:
        from circuitsim.io.specfile import dumps

        text = dumps(result.spec, result.run_id)
        atomic_write(folder / SPEC, lambda fh: fh.write(text.encode()), "the run's validated spec")
    run_id = np.array(result.run_id)
    arrays: Dict[str, np.ndarray] = {}
    for pop, (i, t) in result.spikes.items():
        arrays[f"{pop}.i"] = np.asarray(i, dtype=np.int32)
        arrays[f"{pop}.t"] = np.asarray(t, dtype=np.float64)
    for pop, ch in result.channels.items():
        arrays[f"{pop}.channel"] = np.asarray(ch, dtype=np.int32)
    arrays["_sizes"] = np.array([result.sizes[p] for p in result.spikes], dtype=np.int64)
    arrays["_names"] = np.array(list(result.spikes), dtype=str)
    arrays[RUN_ID_KEY] = run_id
    if result.spikes:
        atomic_write(folder / SPIKES, lambda fh: _write_npz(fh, arrays, compress=True), "the spike times")
    rates = {p: r for p, r in result.rates.items()}
    rates["_dt"] = np.array(result.rate_dt)
    rates[RUN_ID_KEY] = run_id
    atomic_write(folder / RATES, lambda fh: _write_npz(fh, rates, compress=True), "the population rates")
    if result.lfp:
        lfp = dict(result.lfp)
        lfp["_dt"] = np.array(result.lfp_dt)
        lfp[RUN_ID_KEY] = run_id
        atomic_write(folder / LFP, lambda fh: _write_npz(fh, lfp, compress=False), "the LFP proxies")
    if result.muscle is not None:
        series = result.muscle.to_arrays()
        series.update(unit_spike_arrays(getattr(result.muscle_readout, "unit_spikes", None) or {}))
        series[RUN_ID_KEY] = run_id
        atomic_write(folder / MUSCLE, lambda fh: _write_npz(fh, series, compress=False), "the muscle time series")


def finish(folder: Path, result: Result) -> None:
    """Write metrics.json last: from now on the folder counts as a finished run; give up the
    folder's writer lock."""
    if isinstance(result.metrics.get("run"), dict):
        result.metrics["run"]["run_id"] = result.run_id
    else:
        result.metrics["run"] = {"run_id": result.run_id}
    text = json.dumps(_clean(result.metrics), indent=2, default=_json_default)
    try:
        atomic_write(folder / METRICS, lambda fh: fh.write(text.encode()), "the run's metrics")
    finally:
        release_folder(folder)
    result.folder = folder


def _check_one_run(folder: Path, metrics: Dict[str, Any], ids: Dict[str, Optional[str]]) -> None:
    """Refuse a folder whose files come from different runs (two writers, or leftovers)."""
    run = metrics.get("run")
    expected = run.get("run_id") if isinstance(run, dict) else None
    for name, run_id in ids.items():
        if run_id != expected:
            raise ResultError(f"{folder}: {name} is from another run than {METRICS} (run id "
                              f"{(run_id or 'none')[:12]} vs {(expected or 'none')[:12]}): two runs wrote into "
                              f"this folder; rerun into a new folder")


def _npz_run_id(z) -> Optional[str]:
    return str(z[RUN_ID_KEY]) if RUN_ID_KEY in z.files else None


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
    ids: Dict[str, Optional[str]] = {}
    if (folder / CONFIG).is_file():
        try:
            config = yaml.safe_load((folder / CONFIG).read_text()) or {}
        except (yaml.YAMLError, UnicodeDecodeError) as err:
            raise ResultError(f"{folder / CONFIG}: corrupt YAML ({' '.join(str(err).split())}); "
                              f"rerun the simulation") from None
        ids[CONFIG] = _config_run_id(folder / CONFIG)
    if (folder / SPEC).is_file():
        try:
            stored = json.loads((folder / SPEC).read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise ResultError(f"{folder / SPEC}: corrupt JSON ({err}); rerun the simulation") from None
        if not isinstance(stored, dict) or not isinstance(stored.get("spec"), dict):
            raise ResultError(f"{folder / SPEC}: not a circuitsim spec file (no 'spec' section); rerun the simulation")
        ids[SPEC] = stored.get("run_id")
    else:
        stored = {"spec": {}}
    run_info = metrics["run"] if isinstance(metrics["run"], dict) else {}
    result = Result(metrics=metrics, config=config, folder=folder, run_id=str(run_info.get("run_id") or ""),
                    spec=stored["spec"])
    try:
        if (folder / SPIKES).is_file():
            with np.load(folder / SPIKES) as z:
                ids[SPIKES] = _npz_run_id(z)
                names = [str(n) for n in z["_names"]]
                for name, size in zip(names, z["_sizes"]):
                    result.spikes[name] = (z[f"{name}.i"], z[f"{name}.t"])
                    result.sizes[name] = int(size)
                    if f"{name}.channel" in z:
                        result.channels[name] = z[f"{name}.channel"]
        if (folder / RATES).is_file():
            with np.load(folder / RATES) as z:
                ids[RATES] = _npz_run_id(z)
                result.rate_dt = float(z["_dt"])
                result.rates = {k: z[k] for k in z.files if k not in ("_dt", RUN_ID_KEY)}
        if (folder / LFP).is_file():
            with np.load(folder / LFP) as z:
                ids[LFP] = _npz_run_id(z)
                result.lfp_dt = float(z["_dt"])
                result.lfp = {k: z[k] for k in z.files if k not in ("_dt", RUN_ID_KEY)}
        if (folder / MUSCLE).is_file():
            with np.load(folder / MUSCLE) as z:
                ids[MUSCLE] = _npz_run_id(z)
                muscles = ((stored["spec"].get("readout") or {}).get("muscle") or {}).get("muscles")
                arrays = {k: z[k] for k in z.files if k != RUN_ID_KEY}
                result.muscle = MuscleSeries.from_arrays(arrays, muscles)
                units = unit_spikes_from_arrays(arrays)
                if units:
                    result.extra[MUSCLE_UNIT_SPIKES] = units
    except (OSError, ValueError, KeyError, EOFError) as err:
        raise ResultError(f"{folder}: corrupt data file ({' '.join(str(err).split())}); rerun the simulation") from None
    _check_one_run(folder, metrics, ids)
    result.regions = run_info.get("regions", {})
    return result
