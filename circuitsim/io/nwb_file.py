"""A run as an NWB file or Neo objects: the conversion of one :class:`~circuitsim.io.results.Result`.

What the files hold is described in :mod:`circuitsim.io.nwb` (the ``circuitsim-export`` command,
which also finds and loads run folders). This module sits beside the Result record (it imports
nothing above the config layer), so ``Result.to_nwb`` and ``Result.to_neo`` can call it without an
import against the layers; a stimulus's pulses come from its kind's ``pulses`` role in the plug-in
registry (:mod:`circuitsim.plugins`), not from the stimulation modules.
"""

from __future__ import annotations

import datetime as _dt
import logging
from pathlib import Path
from typing import Any, Dict, Optional

import numpy as np

from circuitsim.errors import ResultError

logger = logging.getLogger(__name__)

DEFAULT_NAME = "run.nwb"
MUSCLE_UNITS = {"drive": "Hz", "force": "N", "emg": "V", "envelope": "V"}
MUSCLE_TEXT = {"drive": "corticospinal drive (Hz per neuron)", "force": "muscle force",
               "emg": "band-passed surface EMG", "envelope": "linear envelope of the EMG, before noise-floor subtraction"}


#: The subject NWB requires (DANDI too): a simulated circuit is no animal, so it has no species and
#: an unknown sex; it exists from the start of the run (``date_of_birth`` = ``session_start_time``)
SUBJECT = {"sex": "U", "description": "no animal: a simulated spiking circuit (circuitsim); it exists from the "
           "start of the run, hence date_of_birth = session_start_time; sex unknown (U), no species"}


def _need(module: str):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise ResultError(f"NWB export needs {module.split('.')[0]}; install it with "
                          f"`pip install 'circuitsim[nwb]'`") from None


def _region_of(result: Any) -> Dict[str, str]:
    return {pop: region for region, pops in (result.regions or {}).items() for pop in pops}


def _stimuli(result: Any) -> Dict[str, Dict[str, Any]]:
    """The run's validated stimuli (SI values): in memory, else rebuilt from its config."""
    stim = result.stimuli
    if stim is not None:
        return dict(stim)
    if not result.config.get("stim"):
        return {}
    from circuitsim.spec import build_spec

    try:
        return dict(build_spec(result.config).stimuli)
    except Exception as err:  # noqa: BLE001 - an old config this version cannot read: no pulses, say so
        logger.warning("stimulus pulses not exported: the run's config does not validate here (%s)", err)
        return {}


def pulse_tables(result: Any) -> Dict[str, Dict[str, np.ndarray]]:
    """Stimulus name -> columns of its pulses (``start_time``, ``stop_time``, ...; ``_kind`` and
    ``_desc`` describe the table): each stimulus kind's ``pulses`` role of the plug-in registry
    (DBS and TMS register one; kinds without pulses are left out)."""
    from circuitsim.plugins import STIMULI

    dt = result.metrics.get("run", {}).get("dt_s") or (result.spec.get("sim") or {}).get("dt")
    if dt is None:   # a folder from before metrics kept dt_s and before spec.json: the config validated again
        from circuitsim.spec import build_spec

        dt = build_spec(result.config).sim.dt
    dt = float(dt)
    data = result.stim_data or {}
    out = {}
    for name, params in _stimuli(result).items():
        kind = STIMULI.get(params.get("kind"))
        if kind is not None and kind.pulses is not None:
            out[name] = kind.pulses(name, params, dt, data.get(name))
    return out


def _start_time(result: Any) -> _dt.datetime:
    if result.folder is not None:
        try:
            stamp = (Path(result.folder) / "metrics.json").stat().st_mtime
            return _dt.datetime.fromtimestamp(stamp, tz=_dt.timezone.utc).replace(microsecond=0)
        except OSError:
            pass
    return _dt.datetime.now(tz=_dt.timezone.utc).replace(microsecond=0)


def _identifier(result: Any) -> str:
    import hashlib
    import json

    key = json.dumps({"config": result.config, "seed": result.metrics.get("run", {}).get("seed"),
                      "folder": str(result.folder or "")}, sort_keys=True, default=str)
    return "circuitsim-" + hashlib.sha256(key.encode()).hexdigest()[:24]


def build_nwbfile(result: Any, subject: Optional[Dict[str, Any]] = None):
    """The run as an in-memory ``pynwb.NWBFile`` (see the module docstring).

    ``subject``: fields of ``pynwb.file.Subject`` that replace the defaults (see :data:`SUBJECT`),
    e.g. ``{"species": "Homo sapiens"}`` when the circuit models a human.
    """
    import yaml

    pynwb = _need("pynwb")
    from pynwb.base import TimeSeries
    from pynwb.epoch import TimeIntervals
    from pynwb.file import Subject

    run = result.metrics.get("run", {})
    versions = run.get("versions", {})
    condition = run.get("condition") or result.config.get("condition_name") or "default"
    stim_names = sorted((result.config.get("stim") or {}))
    description = (f"circuitsim simulation of the cortex-basal ganglia-cerebellum-thalamus loops: condition "
                   f"{condition}, task {run.get('task') or 'none'}, stimuli {', '.join(stim_names) or 'none'}, "
                   f"seed {run.get('seed')}, {run.get('duration_s')} s")
    notes = yaml.safe_dump({"seed": run.get("seed"), "versions": versions, "device": run.get("device"),
                            "config": result.config}, sort_keys=False)
    nwb = pynwb.NWBFile(
        session_description=description, identifier=_identifier(result), session_start_time=_start_time(result),
        experiment_description="Spiking network model (Brian2); no animal or human was recorded.",
        notes=notes, source_script=f"circuitsim {versions.get('circuitsim', '?')} (Brian2 "
                                   f"{versions.get('brian2', '?')}, numpy {versions.get('numpy', '?')})",
        source_script_file_name="circuitsim", keywords=["simulation", "spiking network", "basal ganglia",
                                                        "cerebellum", "dystonia"],
        session_id=f"seed{run.get('seed')}", experimenter=None, lab=None, institution=None)

    start = nwb.session_start_time
    fields = {"subject_id": f"circuitsim-{condition}-seed{run.get('seed')}", "date_of_birth": start, **SUBJECT}
    nwb.subject = Subject(**{**fields, **(subject or {})})

    regions = _region_of(result)
    if result.spikes:
        nwb.units = _units_table(result, regions, float(run.get("dt_s") or 1e-4))

    circuit = nwb.create_processing_module("ecephys", "population rates and LFP proxies of the simulated circuit")
    for pop, rate in result.rates.items():
        circuit.add(TimeSeries(name=f"rate_{pop}", data=np.asarray(rate, dtype=np.float64), unit="Hz",
                               rate=1.0 / float(result.rate_dt), starting_time=0.0,
                               description=f"population rate of {pop} (Hz per neuron), bins of {result.rate_dt} s"))
    for region, lfp in result.lfp.items():
        circuit.add(TimeSeries(name=f"lfp_{region}", data=np.asarray(lfp, dtype=np.float64), unit="A",
                               rate=1.0 / float(result.lfp_dt), starting_time=0.0,
                               description=f"LFP proxy of {region}: weighted sum of the absolute synaptic "
                                           "currents of its recorded neurons (Mazzoni et al. 2015), a proxy in A, "
                                           "not a potential"))

    series = _muscle_series(result)
    if series:
        muscle = nwb.create_processing_module("behavior", "muscle readout: corticospinal drive, force, EMG, head posture")
        time = np.asarray(series["time"], dtype=np.float64)
        rate = 1.0 / float(time[1] - time[0]) if time.size > 1 else 1.0
        start = float(time[0]) if time.size else 0.0
        muscle.add(TimeSeries(name="head_angle", data=np.asarray(series["head_angle"], dtype=np.float64),
                              unit="radians", rate=rate, starting_time=start,
                              description="head yaw angle, positive = left"))
        for key, values in series.items():
            if "." not in key:
                continue
            m, kind = key.rsplit(".", 1)
            if kind not in MUSCLE_UNITS:
                continue
            muscle.add(TimeSeries(name=f"{m}_{kind}", data=np.asarray(values, dtype=np.float64),
                                  unit=MUSCLE_UNITS[kind], rate=rate, starting_time=start,
                                  description=f"{MUSCLE_TEXT[kind]} of {m}"))

    for name, cols in pulse_tables(result).items():
        table = TimeIntervals(name=f"{name}_pulses", description=cols["_desc"])
        extra = [c for c in cols if c not in ("start_time", "stop_time") and not c.startswith("_")]
        for c in extra:
            table.add_column(c, {"amplitude_A": "cathodic amplitude of the pulse (A)",
                                 "intensity": "stimulator intensity", "intensity_unit": "unit of the intensity "
                                 "(RMT or MSO, percent)", "site": "stimulated site", "role": "pulse role "
                                 "(test, conditioning, train)", "condition": "protocol condition",
                                 "trial": "trial number"}.get(c, c))
        for k in range(len(cols["start_time"])):
            table.add_interval(start_time=float(cols["start_time"][k]), stop_time=float(cols["stop_time"][k]),
                               **{c: cols[c][k].item() if hasattr(cols[c][k], "item") else cols[c][k] for c in extra})
        nwb.add_time_intervals(table)
    return nwb


def _spike_columns(result: Any, regions: Dict[str, str]) -> Dict[str, Any]:
    """Every neuron of every population in order: its spike times (sorted) and identity."""
    times, counts, pops, regs, chans, index = [], [], [], [], [], []
    for pop, (i, t) in result.spikes.items():
        i, t = np.asarray(i), np.asarray(t, dtype=np.float64)
        n = int(result.sizes.get(pop, (int(i.max()) + 1) if i.size else 0))
        channels = np.asarray(result.channels.get(pop, np.full(n, -1)), dtype=np.int64)
        order = np.lexsort((t, i))
        times.append(t[order])
        counts.append(np.bincount(i, minlength=n)[:n])
        pops += [pop] * n
        regs += [regions.get(pop, "")] * n
        chans.append(channels[:n] if channels.size >= n else np.full(n, -1))
        index.append(np.arange(n))
    return {"spike_times": np.concatenate(times) if times else np.zeros(0),
            "counts": np.concatenate(counts) if counts else np.zeros(0, int),
            "population": pops, "region": regs,
            "channel": np.concatenate(chans) if chans else np.zeros(0, int),
            "neuron_index": np.concatenate(index) if index else np.zeros(0, int)}


def _units_table(result: Any, regions: Dict[str, str], dt: float):
    """The Units table, built column-wise (one row per neuron)."""
    from hdmf.common import ElementIdentifiers, VectorData, VectorIndex
    from pynwb.misc import Units

    cols = _spike_columns(result, regions)
    n = len(cols["population"])
    spike_times = VectorData(name="spike_times", description="spike times of the neuron (s, sorted)",
                             data=cols["spike_times"])
    index = VectorIndex(name="spike_times_index", data=np.cumsum(cols["counts"]).astype(np.int64),
                        target=spike_times)
    columns = [spike_times, index,
               VectorData(name="population", description="circuitsim population of the neuron",
                          data=list(cols["population"])),
               VectorData(name="region", description="brain region of the population", data=list(cols["region"])),
               VectorData(name="channel", description="action channel of the neuron (-1: the population is not "
                          "channelled)", data=cols["channel"].astype(np.int64)),
               VectorData(name="neuron_index", description="index of the neuron within its population (as in "
                          "spikes.npz)", data=cols["neuron_index"].astype(np.int64))]
    return Units(name="units", description="every neuron of the simulated circuit (silent ones too)",
                 id=ElementIdentifiers(name="id", data=np.arange(n)), columns=columns, resolution=dt)


def _muscle_series(result: Any) -> Dict[str, np.ndarray]:
    return {} if result.muscle is None else result.muscle.to_arrays()


def to_nwb(result: Any, path: str | Path, overwrite: bool = True, subject: Optional[Dict[str, Any]] = None) -> Path:
    """Write ``result`` as an NWB file at ``path``; returns the path (``subject``: see :func:`build_nwbfile`)."""
    pynwb = _need("pynwb")
    path = Path(path)
    if path.exists() and not overwrite:
        raise ResultError(f"{path} exists; choose another --out or remove it")
    path.parent.mkdir(parents=True, exist_ok=True)
    nwb = build_nwbfile(result, subject)
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    with pynwb.NWBHDF5IO(str(tmp), "w") as io:
        io.write(nwb)
    tmp.replace(path)
    return path


def to_neo(result: Any):
    """The run as a ``neo.Block`` (see the module docstring)."""
    neo = _need("neo")
    import quantities as pq

    duration = float(result.metrics.get("run", {}).get("duration_s") or 0.0)
    regions = _region_of(result)
    run = result.metrics.get("run", {})
    block = neo.Block(name="circuitsim run", description=f"condition {run.get('condition')}, seed {run.get('seed')}",
                      seed=run.get("seed"), condition=run.get("condition"))
    seg = neo.Segment(name="run")
    block.segments.append(seg)
    cols = _spike_columns(result, regions)
    bounds = np.concatenate([[0], np.cumsum(cols["counts"])])
    t_stop = max(duration, float(cols["spike_times"].max()) if cols["spike_times"].size else 0.0)
    groups: Dict[str, Any] = {}
    for k, pop in enumerate(cols["population"]):
        if pop not in groups:
            groups[pop] = neo.Group(name=pop, population=pop, region=cols["region"][k])
            block.groups.append(groups[pop])
        st = neo.SpikeTrain(cols["spike_times"][bounds[k]:bounds[k + 1]] * pq.s, t_start=0.0 * pq.s,
                            t_stop=t_stop * pq.s, name=f"{pop}[{cols['neuron_index'][k]}]", population=pop,
                            region=cols["region"][k], channel=int(cols["channel"][k]),
                            neuron_index=int(cols["neuron_index"][k]))
        seg.spiketrains.append(st)
        groups[pop].add(st)
    for pop, rate in result.rates.items():
        seg.analogsignals.append(neo.AnalogSignal(np.asarray(rate, dtype=float)[:, None] * pq.Hz,
                                                  sampling_period=float(result.rate_dt) * pq.s,
                                                  name=f"rate_{pop}", population=pop))
    return block
