"""Closed-loop pallidal DBS that senses like an adaptive DBS device: stays off in health, does
not chase its own pulses in dystonia.

Question: with a biomarker that excludes the stimulus-locked components of the pallidal LFP
(template subtraction, as sensing-enabled stimulators do: Stanslaski et al. 2012, IEEE Trans
Neural Syst Rehabil Eng 20:410; Swann et al. 2018, J Neural Eng 15:046006), does a closed loop on
the pallidal 4-10 Hz rhythm of dystonia (Silberstein et al. 2003, Brain 126:2597) stay off in a
healthy circuit, stop cycling on its own switching in a dystonic one, and how does it compare
with the raw LFP, with a wearable's view of the symptom (the neck muscles' EMG envelope) and
with continuous DBS, in severity and energy? (Adaptive DBS: Little et al. 2013, Ann Neurol 74:449.)

Points (``task=turn_left``; 130 Hz, 3 mA maximum, 100 us biphasic pulses, as experiments/dbs_frequency):

- ``healthy``: closed loops on the template-cleaned LFP (on-off and dual-threshold laws);
- the dystonic circuit with the strongest pallidal 4-10 Hz rhythm (``dystonia_cortical``):
  stimulator off (0 Hz), continuous DBS, and closed loops on the raw LFP (``sensing.method=none``,
  the behaviour of the previous version) and on the template-cleaned LFP with three laws: on-off;
  on-off with the amplitude ramped over 250 ms and the biomarker smoothed over 400 ms (Little et
  al. 2013); dual threshold, ramping up above and down below its thresholds and holding between
  (Velisar et al. 2019, Brain Stimul 12:868). The EMG-envelope controller (``emg``) runs in
  its own variant (``--emg``: healthy and ``dystonia_network``, whose muscles it can tell from
  health).

Thresholds are placed between the biomarkers' values in the healthy and the dystonic circuits
without stimulation, measured on the tuning seeds 0, 1 and 5 (the numbers are beside LFP_ON and
EMG_ON).

    python experiments/closed_loop/run.py --quick     # healthy template loop, dystonic dual-threshold loop, off, continuous; seed 0
    python experiments/closed_loop/run.py             # every point; held-out seeds 10-14
    python experiments/closed_loop/run.py --long --out outputs/experiments/closed_loop_long   # dystonic loops, 5 s
    python experiments/closed_loop/run.py --settle --out outputs/experiments/closed_loop_settle   # the settling law, 7 s
    python experiments/closed_loop/run.py --emg --out outputs/experiments/closed_loop_emg   # the EMG-envelope loop, 2 s

Outputs in ``--out`` (default ``outputs/experiments/closed_loop``): ``table.md`` / ``table.csv``
(mean +- sd over seeds: severity, co-contraction, energy, fraction of control periods on, on/off
switches per second, amplitude reversals per second, mean amplitude, mean biomarker), ``runs.csv``, ``closed_loop.png`` (severity against energy;
two example traces, raw and cleaned LFP) and the run folders under ``runs/``; a closed-loop
run's folder also holds ``controller.npz`` (the trace).

Runs go to ``--jobs`` processes: the controller trace is part of each run's metrics.

Caveats: closed-loop runs need Python during the run and use the runtime device (several times
slower than the compiled continuous runs). The controller acts only once its first 500 ms window
is full, while continuous DBS starts at 0.2 s. Severity is read over the whole run after the
0.2 s transient, including the command at 1-1.8 s.
"""

from __future__ import annotations

import logging
import math
import os
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from circuitsim.experiments import (Point, argument_parser, configure_logging, finish, launch_options, run_points,
                                    tabulate)

logger = logging.getLogger(__name__)

NAME = "closed_loop"
#: on/off thresholds (see CONTROLLERS)
#: absolute GPi 4-10 Hz power (nA², controller windows, stimulation off): healthy seeds 0-1 at most
#: 0.50 (during the turn), dystonia_cortical seed 5 0.23-0.99 (0.43 or more after its first window)
LFP_ON, LFP_OFF = 0.6, 0.4
#: EMG envelope (µV, summed over both rotators): healthy seeds 0-1 at most 670 (during the turn),
#: dystonia_network seed 0 717-1050, dystonia_cortical seed 5 350-610 (no separation from healthy)
EMG_ON, EMG_OFF = 750.0, 650.0
#: the settling loop's band on the biomarker smoothed over 1.5 s (see CONTROLLERS["lfp_settle"]):
#: tuning seeds 0, 1, 5 (5 s, turn_left): healthy at most 0.07, 0.10, 0.08 nA² (raw windows up to
#: 0.47); dystonia_cortical without stimulation up to 0.62, 0.55, 0.64, under stimulation at 1.4 mA
#: to 3 mA 0.35-0.44, 0.47-0.51, 0.46-0.49 (at 0.55 seed 1 hardly switched on, at 0.4 every seed
#: ramped to full); the lower threshold lies below every on-stimulation level
SETTLE_UP, SETTLE_DOWN = 0.45, 0.2
OPEN = "dbs_gpi"          # the continuous preset's stimulus name
CLOSED = "dbs_gpi_cl"     # the closed-loop preset's stimulus name
BAND_HZ = (4.0, 10.0)     # pallidal band of dystonia (Silberstein et al. 2003)
TRACE_FILE = "controller.npz"

#: closed-loop controllers (name -> controller fields set on top of the dbs_gpi_closed_loop preset).
#: Thresholds between the biomarkers of the healthy and the dystonia_cortical circuit without
#: stimulation (see the README).
CONTROLLERS: Dict[str, Dict[str, Any]] = {
    "lfp_raw": {"mode": "on_off", "power": "absolute", "on_above": LFP_ON, "off_below": LFP_OFF,
                "sensing.method": "none"},
    "lfp_template": {"mode": "on_off", "power": "absolute", "on_above": LFP_ON, "off_below": LFP_OFF,
                     "sensing.method": "template"},
    # against chatter, as adaptive DBS devices do: the on-off law with the amplitude ramped over
    # 250 ms and the biomarker smoothed over 400 ms (Little et al. 2013, Ann Neurol 74:449) ...
    "lfp_ramp": {"mode": "on_off", "power": "absolute", "on_above": LFP_ON, "off_below": LFP_OFF,
                 "sensing.method": "template", "ramp": "250*ms", "smoothing": "400*ms"},
    # ... and the dual-threshold law (Velisar et al. 2019, Brain Stimul 12:868): ramp up above the
    # upper, down below the lower threshold, hold in between, so the loop can rest at the amplitude
    # that keeps the rhythm inside the band; 1 s from off to full (model choice: slow enough that
    # the biomarker, a 500 ms window, follows the amplitude)
    "lfp_dual": {"mode": "dual_threshold", "power": "absolute", "upper": LFP_ON, "lower": LFP_OFF,
                 "sensing.method": "template", "ramp": "1000*ms"},
    "emg": {"mode": "on_off", "biomarker": "emg_envelope", "on_above": EMG_ON, "off_below": EMG_OFF},
    # a loop that comes to rest: the dual-threshold law on a biomarker smoothed over 1.5 s (a 500 ms
    # window's 4-10 Hz power varies by +-50 % from one window to the next, as much as the on- and
    # off-DBS levels differ) with its lower threshold below what the rhythm falls to under full
    # stimulation, so that stimulation alone cannot push the biomarker out of the hold band from
    # inside, and a slow ramp (3 s from off to full) that the smoothed biomarker can follow
    "lfp_settle": {"mode": "dual_threshold", "power": "absolute", "upper": SETTLE_UP, "lower": SETTLE_DOWN,
                   "sensing.method": "template", "ramp": "3000*ms", "smoothing": "1500*ms"},
}

#: short names of the controllers in the figure
SHORT = {"lfp_raw": "LFP raw", "lfp_template": "LFP template", "lfp_ramp": "LFP template, ramp + smoothing",
         "lfp_dual": "LFP template, dual threshold", "emg": "EMG envelope",
         "lfp_settle": "LFP template, dual threshold, smoothed 1.5 s, ramp 3 s"}

#: what every variant has unless it says otherwise: the dystonic circuit, the stimulator's ceiling
#: and pulse width, the stimulator off as a reference point ("off"), 2 s runs on the held-out seeds
VARIANT: Dict[str, Any] = {
    "condition": "dystonia_cortical",
    "off": True,
    "max_amplitude_ma": 3.0,
    "pulse_width_us": 100.0,
    "seeds": [10, 11, 12, 13, 14],
    "duration": "2*second",
}
#: the variant the test suite runs
QUICK: Dict[str, Any] = {**VARIANT, "healthy": ["lfp_template"], "continuous": True, "closed_loop": ["lfp_dual"],
                         "examples": ["lfp_dual"], "seeds": [0]}
#: the README's variant (held-out seeds)
FULL: Dict[str, Any] = {**VARIANT, "healthy": ["lfp_template", "lfp_dual"], "continuous": True,
                        # no EMG loop (CPU budget; see README)
                        "closed_loop": ["lfp_raw", "lfp_template", "lfp_ramp", "lfp_dual"],
                        "examples": ["lfp_template", "lfp_ramp", "lfp_dual"]}

#: does a loop settle? The dystonic loops alone, 5 s (the 2 s runs leave 1.5 s of control after the
#: first full window, too little to tell a loop that settles from a slow cycle)
LONG: Dict[str, Any] = {**VARIANT, "healthy": [], "continuous": False, "off": False,
                        "closed_loop": ["lfp_template", "lfp_ramp", "lfp_dual"],
                        "examples": ["lfp_template", "lfp_ramp", "lfp_dual"], "duration": "5*second"}

#: does the settling law come to rest? Healthy and dystonic, 7 s: the law needs about 3-4 s to
#: ramp (3 s from off to full, biomarker smoothed over 1.5 s), and its rest is judged over the last 2 s
SETTLE: Dict[str, Any] = {**VARIANT, "healthy": ["lfp_settle"], "continuous": False, "off": False,
                          "closed_loop": ["lfp_settle"], "examples": ["lfp_settle"], "duration": "7*second"}

#: the wearable's view (``--emg``): the on-off law on the summed rotator EMG envelope, healthy and the
#: dystonic circuit whose muscles it told from health on the tuning seeds (dystonia_network; see
#: EMG_ON), beside that circuit off and under continuous DBS, 2 s
EMG: Dict[str, Any] = {**VARIANT, "healthy": ["emg"], "condition": "dystonia_network", "continuous": True,
                       "closed_loop": ["emg"], "examples": ["emg"]}

FACTORS = ["condition", "kind", "setting"]
COLUMNS = {
    "severity": "severity",
    "co_contraction": "co-contraction",
    "gpi_4_10hz_abs": "GPi 4-10 Hz (abs., nA²)",
    "energy_uj": "energy (µJ)",
    "fraction_on": "fraction of periods on",
    "switches_per_s": "switches per s",
    "reversals_per_s": "amplitude reversals per s",
    "mean_amplitude_ma": "mean amplitude (mA)",
    "mean_biomarker": "mean biomarker",
    "level_late": "level, last 2 s",
    "level_sd_late": "level sd, last 2 s",
    "changes_late": "level changes per s, last 2 s",
}


def absolute_band_power(result, region: str = "gpi", band: Sequence[float] = BAND_HZ) -> float:
    """Absolute power (nA²) of a region's LFP proxy in ``band`` after the transient (see
    experiments/dbs_frequency/run.py: the relative power falls during DBS with the 1-100 Hz total)."""
    from circuitsim import metrics

    return metrics.absolute_band_power(result, region, band)


def _trace(result) -> Optional[Dict[str, Any]]:
    """The controller trace of a run: from the live run's data, or from its metrics (a run that ran
    in another process, or was read back from its folder)."""
    trace = result.extra.get("stim_data", {}).get(CLOSED, {}).get("controller")
    if trace is None:
        trace = (getattr(result, "metrics", None) or {}).get("stim", {}).get(CLOSED, {}).get("controller")
        if trace is not None:
            trace = {k: np.array([np.nan if v is None else v for v in trace[k]], dtype=float)
                     for k in ("t", "biomarker", "level")}
    return trace


def store_trace(result) -> float:
    """Keep a closed-loop run's controller trace as ``controller.npz`` in its folder (for the
    figure); 1 when the folder holds a trace, NaN for open loop."""
    folder = getattr(result, "folder", None)
    if folder is None:
        return float("nan")
    path = Path(folder) / TRACE_FILE
    trace = _trace(result)
    if trace is not None:
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "wb") as fh:
            np.savez(fh, **{k: np.asarray(v, dtype=float) for k, v in trace.items()})
        os.replace(tmp, path)
    return 1.0 if path.is_file() else float("nan")


def switches_per_s(result) -> float:
    """On/off transitions of the closed-loop level per second of control (NaN for open loop)."""
    trace = _trace(result)
    if trace is None:
        folder = getattr(result, "folder", None)
        trace = load_trace(folder) if folder is not None else None
    if trace is None:
        return float("nan")
    t, on = np.asarray(trace["t"], dtype=float), np.asarray(trace["level"]) > 0
    valid = np.isfinite(np.asarray(trace["biomarker"], dtype=float))
    if valid.sum() < 2:
        return 0.0
    t, on = t[valid], on[valid]
    return float(np.count_nonzero(on[1:] != on[:-1]) / (t[-1] - t[0]))


#: the last part of a run over which a loop's rest is judged (s)
REST_S = 2.0


def _rest_trace(result):
    trace = _trace(result)
    if trace is None:
        folder = getattr(result, "folder", None)
        trace = load_trace(folder) if folder is not None else None
    if trace is None:
        return None
    t, level = np.asarray(trace["t"], float), np.asarray(trace["level"], float)
    late = t >= t[-1] - REST_S
    return t[late], level[late]


def level_sd_late(result) -> float:
    """Standard deviation of the level (fraction of the maximum) over the last REST_S of the run:
    0 for a loop at rest (NaN for open loop)."""
    tl = _rest_trace(result)
    return float(np.std(tl[1])) if tl is not None and tl[1].size else float("nan")


def level_late(result) -> float:
    """Mean level (fraction of the maximum) over the last REST_S of the run (NaN for open loop)."""
    tl = _rest_trace(result)
    return float(np.mean(tl[1])) if tl is not None and tl[1].size else float("nan")


def changes_late(result) -> float:
    """Control periods in the last REST_S at which the level changed, per second (0: at rest)."""
    tl = _rest_trace(result)
    if tl is None or tl[1].size < 2:
        return float("nan")
    return float(np.count_nonzero(np.abs(np.diff(tl[1])) > 1e-9) / (tl[0][-1] - tl[0][0]))


MEASURES = {
    "severity": "muscle.severity_score",
    "co_contraction": "muscle.co_contraction_index",
    "gpi_4_10hz_abs": absolute_band_power,
    "energy_open": f"stim.{OPEN}.energy_uj",
    "energy_closed": f"stim.{CLOSED}.energy_uj",
    "fraction_on": f"stim.{CLOSED}.fraction_time_on",
    "mean_amplitude_ma": f"stim.{CLOSED}.mean_amplitude_ma",
    "mean_biomarker": f"stim.{CLOSED}.mean_biomarker",
    "trace_stored": store_trace,
    "switches_per_s": switches_per_s,
    "reversals_per_s": f"stim.{CLOSED}.reversals_per_s",
    "level_late": level_late,
    "level_sd_late": level_sd_late,
    "changes_late": changes_late,
}


def _text(value: Any) -> str:
    return f"{value:g}" if isinstance(value, (int, float)) else str(value).replace("*", " ")


def thresholds(c: Dict[str, Any]) -> tuple:
    """(upper, lower) threshold of a controller: on/off or the dual-threshold band."""
    if c["mode"] == "dual_threshold":
        return c["upper"], c["lower"]
    return c["on_above"], c["off_below"]


def _setting(name: str, c: Dict[str, Any]) -> str:
    hi, lo = thresholds(c)
    if c["mode"] == "dual_threshold":
        return f"{SHORT[name]}: up > {_text(hi)}, down < {_text(lo)}, hold between"
    return f"{SHORT[name]}: on > {_text(hi)}, off < {_text(lo)}"


def _pulse(variant: Dict[str, Any], stim: str) -> List[str]:
    return [f"stim.{stim}.pulse_width={variant['pulse_width_us']:g}*us"]


def points(variant: Dict[str, Any]) -> List[Point]:
    """Healthy closed loops; off, continuous and closed loops in the dystonic circuit."""
    out = []

    def closed(condition: str, name: str) -> Point:
        if name not in CONTROLLERS:
            raise ValueError(f"closed_loop: unknown controller {name!r}; choose from {', '.join(CONTROLLERS)}")
        c = CONTROLLERS[name]
        overrides = [f"condition={condition}", "stim=dbs_gpi_closed_loop",
                     f"stim.{CLOSED}.amplitude={variant['max_amplitude_ma']:g}*mA", *_pulse(variant, CLOSED)]
        overrides += [f"++stim.{CLOSED}.controller.{k}={v}" for k, v in c.items()]
        return Point(f"{condition}_closed_{name}", overrides,
                     {"condition": condition, "kind": "closed loop", "setting": _setting(name, c), "controller": name})

    for name in variant["healthy"]:
        out.append(closed("healthy", name))
    condition = variant["condition"]
    base = [f"condition={condition}", f"stim={OPEN}", *_pulse(variant, OPEN)]
    if variant["off"]:
        out.append(Point(f"{condition}_off", [*base, f"stim.{OPEN}.frequency=0*Hz"],
                         {"condition": condition, "kind": "off", "setting": "0 Hz", "controller": ""}))
    if variant["continuous"]:
        a = variant["max_amplitude_ma"]
        out.append(Point(f"{condition}_continuous", [*base, f"stim.{OPEN}.amplitude={a:g}*mA"],
                         {"condition": condition, "kind": "continuous", "setting": f"{a:g} mA", "controller": ""}))
    for name in variant["closed_loop"]:
        out.append(closed(condition, name))
    return out


def base_overrides(variant: Dict[str, Any]) -> List[str]:
    return ["task=turn_left", f"sim.duration={variant['duration']}", "readout.plots=[]"]


def merge_energy(rows: List[Dict[str, Any]]) -> None:
    """One ``energy_uj`` column from the open- or closed-loop stimulus of each run."""
    for row in rows:
        closed = row.pop("energy_closed")
        opened = row.pop("energy_open")
        row["energy_uj"] = closed if math.isfinite(closed) else opened


# ----------------------------------------------------------------------------- figure

#: marker and colour of the open-loop kinds and of each controller
MARKERS = {"off": ("s", "k"), "continuous": ("o", "C0"), "lfp_raw": ("v", "C1"), "lfp_template": ("^", "C2"),
           "lfp_ramp": ("<", "C4"), "lfp_dual": ("P", "C5"), "emg": ("D", "C3"), "lfp_settle": ("X", "C6")}


def load_trace(folder: str | Path) -> Optional[Dict[str, np.ndarray]]:
    path = Path(folder) / TRACE_FILE
    if not path.is_file():
        return None
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def plot(table: Sequence[Dict[str, Any]], rows: Sequence[Dict[str, Any]], variant: Dict[str, Any],
         seeds: Sequence[int]):
    """Severity against energy (mean ± sd) per circuit; example closed-loop traces."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(14, 2.2 + 1.9 * len(variant["examples"])), layout="constrained")
    left, right = fig.subfigures(1, 2, width_ratios=[1.2, 1.4])
    ax = left.subplots(1, 1)

    def group(line: Dict[str, Any]) -> str:
        if line["kind"] in ("off", "continuous"):
            return line["kind"]
        return next((n for n, c in CONTROLLERS.items() if _setting(n, c) == line["setting"]), "")

    for line in table:
        key = group(line)
        marker, color = MARKERS.get(key, ("o", "0.5"))
        healthy = line["condition"] == "healthy"
        ax.errorbar(line["energy_uj_mean"], line["severity_mean"], xerr=np.nan_to_num(line["energy_uj_sd"]),
                    yerr=np.nan_to_num(line["severity_sd"]), fmt=marker, color=color, mfc="none" if healthy else color,
                    ms=8, capsize=3, label=f"{line['condition']}: {SHORT.get(key, key)}")
    ax.set_xlabel("energy delivered in the run (µJ)")
    ax.set_ylabel("severity score")
    ax.legend(fontsize=7)
    ax.set_title(f"turn_left, {str(variant['duration']).replace('*second', ' s')}, seeds {list(seeds)}: mean ± sd "
                 "(open markers: healthy)", fontsize=9)

    examples = variant["examples"]
    axes = right.subplots(len(examples), 1, sharex=True, squeeze=False)[:, 0]
    for ax, name in zip(axes, examples):
        hit = [r for r in rows if r.get("controller") == name and r.get("condition") == variant["condition"]]
        trace = load_trace(hit[0]["folder"]) if hit else None
        if trace is None:
            ax.text(0.5, 0.5, "no stored controller trace", ha="center", va="center", transform=ax.transAxes)
            continue
        c = CONTROLLERS[name]
        hi, lo = thresholds(c)
        ax.plot(trace["t"], trace["biomarker"], "o-", ms=3, lw=1, color="C0")
        ax.axhline(float(hi), color="C3", lw=0.8, ls="--", label="on / up above")
        ax.axhline(float(lo), color="C2", lw=0.8, ls="--", label="off / down below")
        unit = "envelope, µV" if c.get("biomarker") == "emg_envelope" else "4-10 Hz, nA²"
        ax.set_ylabel(f"{SHORT[name]}\n({unit})", fontsize=8)
        ax2 = ax.twinx()
        ax2.step(trace["t"], trace["level"] * variant["max_amplitude_ma"], where="post", color="C3", lw=1)
        ax2.set_ylabel("amplitude (mA)", color="C3", fontsize=8)
        ax.set_title(f"{variant['condition']}, seed {hit[0]['seed']}: {_setting(name, c)}", fontsize=9)
        ax.legend(fontsize=7, loc="upper left")
    axes[-1].set_xlabel("time (s)")
    return fig


# ------------------------------------------------------------------------------- main


def main(argv: Optional[Sequence[str]] = None) -> List[Dict[str, Any]]:
    parser = argument_parser(__doc__, default_out=f"outputs/experiments/{NAME}")
    parser.add_argument("--long", action="store_true", help="the dystonic loops alone, 5 s runs (does a loop settle?)")
    parser.add_argument("--settle", action="store_true", help="the settling law (lfp_settle), healthy and dystonic, 7 s")
    parser.add_argument("--emg", action="store_true", help="the EMG-envelope loop, healthy and dystonia_network, 2 s")
    args = parser.parse_args(argv)
    configure_logging()
    variant = dict(QUICK if args.quick else LONG if args.long else SETTLE if args.settle else EMG if args.emg else FULL)
    seeds = args.seeds or variant["seeds"]
    t0 = time.perf_counter()
    launch = launch_options(args)   # the controller trace is in each run's metrics: --jobs works
    rows = run_points(points(variant), seeds, args.out, MEASURES, base=base_overrides(variant), resume=args.resume,
                      **launch)
    merge_energy(rows)
    table, text = tabulate(rows, args.out, FACTORS, COLUMNS)
    finish(plot(table, rows, variant, seeds), text, len(rows), t0, args.out, NAME, also=args.figure)
    return table


if __name__ == "__main__":
    main()
