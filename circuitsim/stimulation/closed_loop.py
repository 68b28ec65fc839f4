"""Closed-loop (adaptive) DBS: a biomarker read every control period sets the amplitude.

Every ``period`` the controller reads a biomarker over the last ``window`` of the run and sets
the stimulation amplitude as a level in [0, 1] times the stimulus's ``amplitude`` (its maximum):

Biomarkers
    ``lfp_band_power``: relative power (band power / 1-100 Hz power, Hann-windowed
    periodogram of the window; ``power: absolute`` gives the band power in nA²) of a region's LFP
    proxy, with the stimulus-locked components removed first (``sensing``,
    :mod:`~circuitsim.stimulation.closed_loop_sensing`; default template subtraction), the Mazzoni et al. (2015) weighted sum
    of synaptic currents used by :mod:`circuitsim.metrics` (here of ``neurons`` recorded neurons
    of the region, recorded every time step and averaged over each ``sample_dt``, so that the
    harmonics of the pulse-evoked currents do not alias into the band). E.g. pallidal 4-10 Hz power in dystonia
    (Silberstein et al. 2003) or STN beta in Parkinson's disease (adaptive DBS, Little et al.
    2013, Ann Neurol 74:449).
    ``corticospinal_rate``: mean firing rate (Hz) of the corticospinal ``ctx_e`` cells (the same
    cells that drive the muscle readout, :mod:`circuitsim.readouts`) in the window: an online
    proxy of the rectified EMG envelope, which in the muscle model grows with that rate.
    ``emg_envelope``: a wearable's view, the neck muscles' EMG envelope from the readout's muscle
    model (microvolts; :mod:`~circuitsim.stimulation.closed_loop_sensing`).

Control laws (:mod:`~circuitsim.stimulation.closed_loop_laws`): ``on_off`` (hysteresis, optional
minimum on/off times), ``dual_threshold`` (ramp up above an upper, down below a lower threshold,
hold in between; Velisar et al. 2019), ``proportional`` and ``pid`` (relative error, so gains are
dimensionless whatever the biomarker's unit); every law can smooth the biomarker and ramp the
amplitude (Little et al. 2013).

The level is 0 until the first full window has been analysed. The controller needs Python
during the run (a Brian2 ``network_operation``), so a closed-loop stimulus runs on the runtime
device (its validated parameters carry ``runtime_only``).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional

import numpy as np

from circuitsim.stimulation.closed_loop_laws import (MODES, DualThresholdController, OnOffController,  # noqa: F401
                                                     PIDController, make_controller)

logger = logging.getLogger(__name__)

BIOMARKERS = ("lfp_band_power", "corticospinal_rate", "emg_envelope")
#: total range of the relative band power, as in circuitsim.metrics (Hz)
TOTAL_RANGE_HZ = (1.0, 100.0)


# --------------------------------------------------------------------------- biomarkers


def relative_band_power(x: np.ndarray, fs: float, band) -> float:
    """Relative power of ``x`` in ``band`` (band / 1-100 Hz power), one Hann-windowed periodogram."""
    from circuitsim.analysis import spectra as sp

    x = np.asarray(x, dtype=float)
    f, psd = sp.welch_psd(x, fs, segment_s=x.size / fs)
    value = sp.band_powers(f, psd, {"b": tuple(band)}, relative=True, total_range=TOTAL_RANGE_HZ)["b"]
    return float(value) if math.isfinite(value) else 0.0


def absolute_band_power(x: np.ndarray, fs: float, band) -> float:
    """Power of ``x`` (A) in ``band``, in nA² (one Hann-windowed periodogram)."""
    from circuitsim.analysis import spectra as sp

    x = np.asarray(x, dtype=float)
    f, psd = sp.welch_psd(x, fs, segment_s=x.size / fs)
    value = sp.band_powers(f, psd, {"b": tuple(band)}, relative=False)["b"] * 1e18
    return float(value) if math.isfinite(value) else 0.0


# ----------------------------------------------------------------------- validation


def validate_controller(node: Mapping[str, Any], path: str, ctx, frequency: float) -> Dict[str, Any]:
    """Check a ``controller`` node; SI values out. ``ctx`` is the spec's StimulusContext."""
    from circuitsim.spec import check_choice, check_stimulus_keys, require
    from circuitsim.units import to_si

    from circuitsim.stimulation.closed_loop_sensing import validate_sensing

    allowed = ("mode", "biomarker", "region", "band", "period", "window", "sample_dt", "neurons", "sensing", "power",
               "on_above", "off_below", "min_on", "min_off", "upper", "lower", "floor", "setpoint", "kp", "ki", "kd",
               "ramp", "smoothing")
    require(isinstance(node, Mapping), path, "a controller is a mapping (mode, biomarker, ...)")
    check_stimulus_keys(node, path, allowed)
    mode = check_choice(node.get("mode"), MODES, f"{path}.mode")
    biomarker = check_choice(node.get("biomarker", "lfp_band_power"), BIOMARKERS, f"{path}.biomarker")
    require(frequency > 0, path, "closed loop needs a stimulation frequency above 0 Hz")
    dt = ctx.sim.dt
    period = to_si(node.get("period", "100*ms"), "time", f"{path}.period")
    require(period >= dt * (1 - 1e-9), f"{path}.period", f"must be at least sim.dt ({dt * 1e3:g} ms)")
    window = to_si(node.get("window", "500*ms"), "time", f"{path}.window")
    require(window >= period * (1 - 1e-9), f"{path}.window", "must be at least the control period")
    require(window < ctx.sim.duration, f"{path}.window", f"must be shorter than sim.duration ({ctx.sim.duration:g} s)")
    out: Dict[str, Any] = {"mode": mode, "biomarker": biomarker, "period": period, "window": window}
    if biomarker == "lfp_band_power":
        regions = sorted({p.region for p in ctx.populations.values()})
        region = node.get("region", "gpi")
        require(region in regions, f"{path}.region", f"unknown region {region!r}; known: {', '.join(regions)}")
        band = node.get("band", ["4*Hz", "10*Hz"])
        require(isinstance(band, (list, tuple)) and len(band) == 2, f"{path}.band", "give [low, high], e.g. [4*Hz, 10*Hz]")
        low = to_si(band[0], "rate", f"{path}.band[0]")
        high = to_si(band[1], "rate", f"{path}.band[1]")
        sample_dt = to_si(node.get("sample_dt", "1*ms"), "time", f"{path}.sample_dt")
        require(sample_dt >= dt * (1 - 1e-9), f"{path}.sample_dt", "must be at least sim.dt")
        require(0 < low < high <= 0.5 / sample_dt, f"{path}.band",
                f"need 0 < low < high <= {0.5 / sample_dt:g} Hz (half the sampling rate 1/sample_dt)")
        require(window * low >= 2 - 1e-9, f"{path}.window",
                f"a {low:g} Hz band edge needs a window of at least 2 cycles ({2 / low:g} s)")
        neurons = node.get("neurons", 20)
        require(isinstance(neurons, int) and neurons > 0, f"{path}.neurons", "must be a positive integer")
        out.update(region=region, band=[low, high], sample_dt=sample_dt, neurons=neurons,
                   sensing=validate_sensing(node.get("sensing"), f"{path}.sensing", sample_dt),
                   power=check_choice(node.get("power", "relative"), ("relative", "absolute"), f"{path}.power"))
        dim = "dimensionless"
    elif biomarker == "emg_envelope":
        require("ctx_e" in ctx.populations and ctx.populations["ctx_e"].channelled, f"{path}.biomarker",
                "emg_envelope needs the channelled ctx_e population (the corticospinal cells)")
        require(window >= 0.05 - 1e-9, f"{path}.window", "the EMG envelope needs a window of at least 50 ms")
        dim = "dimensionless"     # microvolts, as a plain number
    else:
        require("ctx_e" in ctx.populations and ctx.populations["ctx_e"].channelled, f"{path}.biomarker",
                "corticospinal_rate needs the channelled ctx_e population")
        dim = "rate"
    if mode == "on_off":
        on, off = _thresholds(node, path, mode, biomarker, dim, ("on_above", "off_below"), " (hysteresis)")
        out.update(on_above=on, off_below=off)
        for key in ("min_on", "min_off"):
            value = to_si(node.get(key, "0*ms"), "time", f"{path}.{key}")
            require(value >= 0, f"{path}.{key}", "cannot be negative")
            out[key] = value
    elif mode == "dual_threshold":
        upper, lower = _thresholds(node, path, mode, biomarker, dim, ("upper", "lower"))
        floor = float(node.get("floor", 0.0))
        require(0 <= floor < 1, f"{path}.floor", "a level in [0, 1) of the maximum amplitude")
        require("ramp" in node, f"{path}.ramp", "the dual_threshold controller needs a ramp time (0 to full "
                                                 "amplitude), e.g. 250*ms (Little et al. 2013)")
        out.update(upper=upper, lower=lower, floor=floor)
    else:
        require("setpoint" in node, f"{path}.setpoint", "the controller needs a setpoint of the biomarker")
        setpoint = to_si(node["setpoint"], dim, f"{path}.setpoint")
        require(setpoint > 0, f"{path}.setpoint", "must be positive")
        kp = float(node.get("kp", 1.0))
        require(kp >= 0, f"{path}.kp", "cannot be negative")
        ki = to_si(node.get("ki", "0*Hz"), "rate", f"{path}.ki") if mode == "pid" else 0.0
        kd = to_si(node.get("kd", "0*ms"), "time", f"{path}.kd") if mode == "pid" else 0.0
        require(ki >= 0, f"{path}.ki", "cannot be negative")
        require(kd >= 0, f"{path}.kd", "cannot be negative")
        out.update(setpoint=setpoint, kp=kp, ki=ki, kd=kd)
    for key in ("ramp", "smoothing"):
        value = to_si(node.get(key, "0*ms"), "time", f"{path}.{key}")
        require(value >= 0, f"{path}.{key}", "cannot be negative (0: none)")
        out[key] = value
    if mode == "dual_threshold":
        require(out["ramp"] > 0, f"{path}.ramp", "must be positive: the law ramps the amplitude")
    return out


def _thresholds(node: Mapping[str, Any], path: str, mode: str, biomarker: str, dim: str, keys, note: str = ""):
    """A threshold law's (high, low) pair, named ``keys``, in SI: both given, low not above high."""
    from circuitsim.spec import require
    from circuitsim.units import to_si

    high_key, low_key = keys
    for key in keys:
        require(key in node, f"{path}.{key}", f"the {mode} controller needs {key} ({_EXAMPLE[biomarker]})")
    high = to_si(node[high_key], dim, f"{path}.{high_key}")
    low = to_si(node[low_key], dim, f"{path}.{low_key}")
    require(low <= high, f"{path}.{low_key}", f"must not exceed {high_key}{note}")
    return high, low


_EXAMPLE = {"lfp_band_power": "a relative power, e.g. 0.2", "corticospinal_rate": "a rate, e.g. 8*Hz",
            "emg_envelope": "an envelope in microvolts, e.g. 20"}


# ------------------------------------------------------------------------ Brian2 glue


@dataclass
class ControllerTrace:
    t: List[float] = field(default_factory=list)
    biomarker: List[float] = field(default_factory=list)
    level: List[float] = field(default_factory=list)

    def as_arrays(self) -> Dict[str, np.ndarray]:
        return {"t": np.asarray(self.t), "biomarker": np.asarray(self.biomarker), "level": np.asarray(self.level)}


def build_controller(ctx, name: str, params: Mapping[str, Any], set_level: Callable[[float], None],
                     pulse_times: Optional[Callable[[], np.ndarray]] = None):
    """Add the monitors and the ``network_operation`` of a closed-loop stimulus to ``ctx``.

    ``pulse_times``: returns the onsets (s) of the pulses generated so far (delivered or not:
    the trace's levels say which were). Returns the :class:`ControllerTrace` filled during the run.
    """
    from circuitsim.stimulation.closed_loop_sensing import emg_envelope_uv, remove_stimulus_locked

    from brian2 import NetworkOperation, SpikeMonitor, StateMonitor, second

    from circuitsim.analysis.lfp import lfp_proxy
    from circuitsim.readouts import CORTICOSPINAL_POPULATION

    cp = params["controller"]
    spec = ctx.spec
    controller = make_controller(cp)
    trace = ControllerTrace()
    start = params["start"]
    window = cp["window"]
    prefix = f"dbs_{name}"

    if cp["biomarker"] == "lfp_band_power":
        rows = []
        for pop in spec.regions()[cp["region"]]:
            idx = ctx.layout.indices(pop)
            n = min(cp["neurons"], idx.size)
            rows.append(idx[np.linspace(0, idx.size - 1, n).astype(int)])
        record = np.concatenate(rows)
        # recorded every time step and averaged over each sample_dt (a boxcar anti-aliasing
        # filter: point samples of currents that jump at every pulse alias the pulse harmonics)
        mon = StateMonitor(ctx.group, ["I_exc", "I_inh"], record=record, name=f"{prefix}_biomarker")
        per_sample = max(1, int(round(cp["sample_dt"] / spec.sim.dt)))
        fs = 1.0 / (per_sample * spec.sim.dt)
        n_win = int(round(window * fs))

        def read(t: float) -> Optional[float]:
            n_have = mon.t_[:].size // per_sample
            if n_have < n_win:
                return None
            stop = n_have * per_sample
            start = stop - n_win * per_sample

            def binned(values: np.ndarray) -> np.ndarray:   # (neurons, steps) -> (samples, neurons)
                return values[:, start:stop].reshape(values.shape[0], n_win, per_sample).mean(axis=2).T

            exc = binned(np.asarray(mon.I_exc_))
            inh = binned(np.asarray(mon.I_inh_))
            lfp = lfp_proxy(exc, inh, fs)
            sensing = cp["sensing"]
            if sensing["method"] != "none" and pulse_times is not None:
                t_start = (start + np.arange(n_win) * per_sample) * spec.sim.dt
                lfp = remove_stimulus_locked(lfp, t_start, 1.0 / fs, delivered(pulse_times()),
                                             1.0 / params["frequency"],
                                             sensing["method"], sensing["blank"])
            if cp["power"] == "absolute":
                return absolute_band_power(lfp, fs, cp["band"])
            return relative_band_power(lfp, fs, cp["band"])
    elif cp["biomarker"] == "emg_envelope":
        from circuitsim.muscle import MuscleParams

        pop = spec.populations[CORTICOSPINAL_POPULATION]
        n_cs = max(1, int(round(spec.readout.muscle.corticospinal_fraction * pop.n_per_channel)))
        lo, hi = ctx.layout.slices[CORTICOSPINAL_POPULATION]
        cells = [np.flatnonzero(ctx.layout.channel[lo:hi] == c)[:n_cs] for c in range(len(spec.channels))]
        mon = SpikeMonitor(ctx.group[lo:hi], name=f"{prefix}_biomarker")
        muscle_params = MuscleParams.from_dict(dict(spec.readout.muscle.params))
        muscles = list(spec.readout.muscle.muscles)
        updates = [0]

        def read(t: float) -> Optional[float]:
            if t < window - 1e-9:
                return None
            i, ts = np.asarray(mon.i[:]), np.asarray(mon.t_[:])
            sel = ts >= t - window
            i, ts = i[sel], ts[sel] - (t - window)
            spikes = {m: [ts[i == c] for c in cells[k]] for k, m in enumerate(muscles)}
            updates[0] += 1
            return emg_envelope_uv(spikes, n_cs, window, spec.sim.seed * 100003 + updates[0], muscle_params)
    else:
        pop = spec.populations[CORTICOSPINAL_POPULATION]
        n_cs = max(1, int(round(spec.readout.muscle.corticospinal_fraction * pop.n_per_channel)))
        lo, hi = ctx.layout.slices[CORTICOSPINAL_POPULATION]
        mon = SpikeMonitor(ctx.group[lo:hi], record=False, name=f"{prefix}_biomarker")
        cells = np.concatenate([np.flatnonzero(ctx.layout.channel[lo:hi] == c)[:n_cs]
                                for c in range(len(spec.channels))])
        history: List[tuple] = []   # (t, counts of the cells)

        def read(t: float) -> Optional[float]:
            counts = np.asarray(mon.count[:])[cells].astype(float)
            history.append((t, counts))
            while history and history[0][0] < t - window - 1e-9:
                history.pop(0)
            t0, c0 = history[0]
            if t - t0 < window - 1e-9:
                return None
            return float(np.mean(counts - c0) / (t - t0))

    def delivered(onsets: np.ndarray) -> np.ndarray:
        """The pulses delivered at a level above 0 (the level set at a control time holds until the next)."""
        onsets = np.asarray(onsets, dtype=float)
        if not trace.t or onsets.size == 0:
            return onsets[:0]
        k = np.searchsorted(np.asarray(trace.t), onsets + 1e-12, side="right") - 1
        level = np.asarray(trace.level)
        return onsets[(k >= 0) & (level[np.clip(k, 0, None)] > 0)]

    def operate(t) -> None:
        now = float(t / second)
        value = read(now)
        if value is None or now < start - 1e-12 or now >= params["stop"] - 1e-12:
            level = 0.0
        else:
            level = controller.update(value)
        set_level(level)
        trace.t.append(now)
        trace.biomarker.append(np.nan if value is None else value)
        trace.level.append(level)

    op = NetworkOperation(operate, dt=cp["period"] * second, when="start", name=f"{prefix}_controller")
    ctx.objects.extend([mon, op])
    logger.info("closed-loop DBS %s: %s controller on %s every %.0f ms (window %.0f ms%s)", name, cp["mode"],
                cp["biomarker"], cp["period"] * 1e3, window * 1e3,
                f", {cp['sensing']['method']} sensing" if "sensing" in cp else "")
    return trace
