"""A run as the page draws it: compact, JSON-ready series cut from a :class:`Result`.

The page draws with a small canvas script of its own, so the server sends numbers, not
images: a raster of a few neurons per population (grouped by region), binned population rates,
LFP spectra, synchrony and coherence, EMG and envelope of the two antagonist neck muscles, and
the head angle for the animation. A reopened run folder gives its muscle time series from
``muscle.npz``; for an older folder without it the muscle readout is recomputed from the spikes
(the readout draws its noise from the run's seed, so the series are the same as in the run).
"""

from __future__ import annotations

import logging
import math
from typing import Any, Dict, List, Optional

import numpy as np

from circuitsim.io.results import Result, spec_of

logger = logging.getLogger(__name__)

#: neurons per population shown in the raster (as in plots.activity)
RASTER_ROWS = 30
#: population rates are averaged in bins of this width (s) for display
RATE_BIN_S = 0.01
#: spectra are shown up to this frequency (Hz)
SPECTRUM_MAX_HZ = 100.0
#: EMG is sent as min/max per bin of this width (s); envelope, force, head angle at this step
EMG_BIN_S = 0.0025
SERIES_STEP_S = 0.01

#: numbers in the page's summary table: (label, dotted metrics key, unit, scale)
SUMMARY = (
    ("GPi rate", "populations.gpi.rate_hz", "Hz", 1.0),
    ("GPi ISI CV", "populations.gpi.cv_isi", "", 1.0),
    ("GPi burst fraction", "populations.gpi.burst_fraction", "", 1.0),
    ("GPi synchrony (chi)", "populations.gpi.synchrony", "", 1.0),
    ("GPi 4-10 Hz power", "lfp.gpi.power_4_10hz", "rel.", 1.0),
    ("GPi beta power", "lfp.gpi.band_power.beta", "rel.", 1.0),
    ("STN beta power", "lfp.stn.band_power.beta", "rel.", 1.0),
    ("channel selectivity", "channels.selectivity", "", 1.0),
    ("co-contraction index", "muscle.co_contraction_index", "", 1.0),
    ("mean head angle", "muscle.head_angle_deg.mean", "deg", 1.0),
    ("severity score", "muscle.severity_score", "", 1.0),
)


#: measures of a stimulus (``metrics.stim.<name>.<key>``) shown when present
STIM_KEYS = (("n_pulses", ""), ("energy_uj", "uJ"), ("mean_power_uw", "uW"), ("activated_fraction", ""),
             ("locking_activated", ""), ("rmt_mso", "%MSO"))
#: TMS measures (``metrics.tms.<key>``) shown when present
TMS_KEYS = (("mep_amplitude_mv", "mV"), ("mep_latency_ms", "ms"), ("silent_period_ms", "ms"),
            ("motor_threshold", "%MSO"), ("sici_ratio", ""), ("cbi_ratio", ""))


def _stim_summary(metrics: Dict[str, Any]) -> List[Dict[str, Any]]:
    rows = []
    for name, values in (metrics.get("stim") or {}).items():
        for key, unit in STIM_KEYS:
            if isinstance(values, dict) and _finite(values.get(key)) is not None:
                rows.append({"label": f"{name}: {key.replace('_', ' ')}", "key": f"stim.{name}.{key}", "unit": unit,
                             "value": _finite(values[key])})
    tms = metrics.get("tms") if isinstance(metrics.get("tms"), dict) else {}
    for key, unit in TMS_KEYS:
        if _finite(tms.get(key)) is not None:
            rows.append({"label": f"TMS {key.replace('_', ' ')}", "key": f"tms.{key}", "unit": unit, "value": _finite(tms[key])})
    return rows


def dotted(metrics: Dict[str, Any], key: str) -> Any:
    node: Any = metrics
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _r(x: np.ndarray, digits: int) -> List[Any]:
    """Rounded floats as a JSON list (NaN/inf -> None)."""
    arr = np.round(np.asarray(x, dtype=float), digits)
    return [None if not math.isfinite(v) else float(v) for v in arr.tolist()]


def json_safe(obj: Any) -> Any:
    """Plain JSON values: NumPy scalars and arrays to Python, NaN and inf to None."""
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return json_safe(obj.tolist())
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(float(obj)) else None
    return obj


def _finite(x: Any) -> Optional[float]:
    try:
        x = float(x)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def _raster(result: Result) -> List[Dict[str, Any]]:
    out = []
    for region, pops in (result.regions or {p: [p] for p in result.spikes}).items():
        for pop in pops:
            if pop not in result.spikes:
                continue
            i, t = result.spikes[pop]
            n = int(result.sizes.get(pop, int(i.max()) + 1 if len(i) else 0))
            shown = np.unique(np.linspace(0, max(n - 1, 0), min(n, RASTER_ROWS)).astype(int)) if n else np.array([], int)
            pos = np.full(max(n, 1), -1)
            pos[shown] = np.arange(shown.size)
            keep = pos[np.asarray(i, dtype=int)] >= 0 if len(i) else np.zeros(0, bool)
            channel = result.channels.get(pop)
            out.append({"pop": pop, "region": region, "n": n, "rows": int(shown.size),
                        "row_channel": ([int(c) for c in np.asarray(channel)[shown]]
                                        if channel is not None and len(channel) == n else None),
                        "t": _r(np.asarray(t)[keep], 4), "row": [int(v) for v in pos[np.asarray(i)[keep]]]})
    return out


def _rates(result: Result) -> Dict[str, Any]:
    step = max(1, int(round(RATE_BIN_S / result.rate_dt)))
    series = {}
    for pop, r in result.rates.items():
        r = np.asarray(r, dtype=float)
        n = r.size // step
        series[pop] = _r(r[: n * step].reshape(n, step).mean(axis=1), 2) if n else []
    return {"dt": step * result.rate_dt, "series": series}


def _spectra(result: Result, transient: float, segment: float) -> Dict[str, Any]:
    from circuitsim.analysis import spectra as sp

    spectra = result.spectra
    if spectra is None:
        spectra = {}
        fs = 1.0 / result.lfp_dt
        for region, x in result.lfp.items():
            if sp.after_transient(x, fs, transient).size < 8:
                continue
            try:
                spectra[region] = sp.psd_after_transient(x, fs, transient, segment)
            except ValueError as err:
                logger.warning("no spectrum of %s: %s", region, err)
    out = {}
    for region, (f, psd) in spectra.items():
        f, psd = np.asarray(f, dtype=float), np.asarray(psd, dtype=float)
        band = (f >= 1.0) & (f <= SPECTRUM_MAX_HZ)
        # normalised as metrics.json's relative band powers: the area over a band is its value there
        rel = np.nan_to_num(sp.relative_psd(f, psd, (1.0, SPECTRUM_MAX_HZ)), nan=0.0)[band]
        out[region] = {"f": _r(f[band], 2), "log10_psd": _r(np.log10(np.maximum(rel, 1e-12)), 3)}
    return out


def _min_max(x: np.ndarray, step: int) -> tuple:
    n = x.size // step
    if n == 0:
        return np.zeros(0), np.zeros(0)
    blocks = x[: n * step].reshape(n, step)
    return blocks.min(axis=1), blocks.max(axis=1)


def _muscle(result: Result) -> Optional[Dict[str, Any]]:
    """The muscle series for the page (the same :class:`~circuitsim.io.results.MuscleSeries`, live or loaded)."""
    data = result.muscle
    if data is None:
        return None
    fs = data.fs
    t0 = float(data.time[0]) if len(data.time) else 0.0
    emg_step = max(1, int(round(EMG_BIN_S * fs)))
    step = max(1, int(round(SERIES_STEP_S * fs)))
    muscles = {}
    for name in data.muscles:
        lo, hi = _min_max(np.asarray(data.emg[name], dtype=float) * 1e6, emg_step)       # uV
        muscles[name] = {"emg_min_uv": _r(lo, 1), "emg_max_uv": _r(hi, 1),
                         "envelope_uv": _r(np.asarray(data.envelope[name], dtype=float)[::step] * 1e6, 2),
                         "force_n": _r(np.asarray(data.force[name], dtype=float)[::step], 3)}
    floor = data.noise_floor_v
    return {"t0": t0, "emg_dt": emg_step / fs, "dt": step / fs, "muscles": data.muscles, "series": muscles,
            "noise_floor_uv": None if floor is None else _finite(floor * 1e6),
            "head_angle_deg": _r(np.degrees(np.asarray(data.head_angle, dtype=float))[::step], 2)}


def _stimuli(spec: Dict[str, Any]) -> List[Dict[str, Any]]:
    """Each stimulus's kind, target, window and frequency (SI), and a TMS protocol's pulse times,
    from the validated spec (the motor command is the stimulus named ``task``)."""
    out = []
    for name, params in (spec.get("stimuli") or {}).items():
        if not isinstance(params, dict):
            continue
        entry: Dict[str, Any] = {"name": name, "kind": params.get("kind"), "target": params.get("target")}
        for key in ("start", "stop", "frequency"):
            entry[key] = _finite(params.get(key))
        if params.get("kind") == "tms":
            times = (params.get("pulses") or {}).get("time") or []
            entry["pulses"] = _r(np.unique(np.asarray(times, dtype=float)), 4)
        out.append(entry)
    return out


def ensure_muscle(result: Result) -> None:
    """Recompute the muscle readout of a reopened run that did not store its time series."""
    if (result.muscle is not None or not result.config
            or "ctx_e" not in result.spikes):
        return
    from circuitsim.io.run_spec import run_spec
    from circuitsim.readouts import add_muscle_readout

    try:
        spec = run_spec(result)   # spec.json: what the run ran
        saved = result.metrics.get("muscle")
        add_muscle_readout(spec, result)
        if saved is not None:
            result.metrics["muscle"] = saved      # the stored values stay authoritative
    except Exception as err:  # an old or foreign folder: show the rest of the run
        logger.warning("cannot recompute the muscle readout of %s: %s", result.folder, err)


def build_view(result: Result, info: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """Everything the page draws for one run, as plain JSON-ready data.

    Parameters
    ----------
    result : Result
        A finished run (from :func:`circuitsim.api.simulate` or :func:`~circuitsim.io.results.load_result`).
    info : dict, optional
        The page's record of the run (``app.json``: form, overrides, command line).
    """
    ensure_muscle(result)
    metrics = result.metrics
    run = metrics.get("run", {})
    spec = spec_of(result)
    transient = float((spec.get("sim") or {}).get("transient", run.get("transient_s")) or 0.0)
    segment = float((spec.get("readout") or {}).get("spectrum_segment") or 0.5)
    pops = metrics.get("populations", {})
    synchrony = {p: _finite(m.get("synchrony")) for p, m in pops.items()}
    values = [v for v in synchrony.values() if v is not None]
    return json_safe({
        "info": info or {},
        "run": {k: run.get(k) for k in ("seed", "duration_s", "transient_s", "device", "wall_s", "sim_s", "build_s",
                                        "build_reused", "n_neurons", "n_synapses", "condition", "task")},
        "regions": result.regions or run.get("regions") or {},
        "raster": _raster(result),
        "rates": _rates(result),
        "mean_rates": {p: _finite(m.get("rate_hz")) for p, m in pops.items()},
        "target_rates": {p: m.get("target_rate_hz") for p, m in pops.items()},
        "spectra": _spectra(result, transient, segment),
        "synchrony": {"populations": synchrony, "mean": float(np.mean(values)) if values else None},
        "coherence": metrics.get("coherence", {}),
        "band_power": {r: m.get("band_power") for r, m in metrics.get("lfp", {}).items()},
        "muscle": _muscle(result),
        "muscle_metrics": metrics.get("muscle"),
        "stimuli": _stimuli(spec),
        "summary": [{"label": label, "key": key, "unit": unit,
                     "value": None if _finite(dotted(metrics, key)) is None else _finite(dotted(metrics, key)) * scale}
                    for label, key, unit, scale in SUMMARY] + _stim_summary(metrics),
    })
