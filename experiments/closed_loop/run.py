"""Closed-loop versus continuous pallidal DBS in a dystonic circuit: severity against energy.

Question: does adaptive (closed-loop) GPi DBS, switched or scaled by the pallidal 4-10 Hz rhythm of
dystonia (Silberstein et al. 2003, Brain 126:2597), reach the severity of continuous DBS with less
energy delivered, in the model? Adaptive DBS is the idea of Little et al. (2013, Ann Neurol
74:449) for STN beta in Parkinson's disease; the pallidal band of dystonia is the analogous
biomarker.

Points, all in ``dystonia_network`` with ``task=turn_left`` (130 Hz, 210 us biphasic, as the
``dbs_gpi`` preset; Kupsch et al. 2006, NEJM 355:1978):

- ``off``: the stimulator at 0 Hz;
- ``continuous``: ``stim=dbs_gpi`` at a few amplitudes;
- closed loop, ``stim=dbs_gpi_closed_loop`` (maximum 3 mA; every 100 ms the relative 4-10 Hz power
  of the GPi LFP proxy over the last 500 ms sets the level, :mod:`circuitsim.stimulation.closed_loop`):
  ``on_off`` switches with hysteresis at a few threshold pairs, ``proportional`` sets the level to
  kp * (b - setpoint) / setpoint, ``pid`` adds an integral term; one more ``on_off`` controller
  reads the corticospinal rate instead (the drive of the EMG, free of pulse-evoked currents), so
  it stimulates during the commanded movement. Thresholds and gains are model choices placed
  around the biomarkers' values with and without DBS.

    python experiments/closed_loop/run.py --quick     # off, 2 continuous, 2 closed loop; seed 0
    python experiments/closed_loop/run.py             # off, 4 continuous, 7 closed loop; seeds 0-4

Outputs in ``--out`` (default ``outputs/experiments/closed_loop``): ``table.md`` / ``table.csv`` (mean +- sd over
seeds: severity, co-contraction, absolute GPi 4-10 Hz power, energy delivered, fraction of control
periods on, mean amplitude, mean biomarker), ``runs.csv``, ``closed_loop.png`` (severity and
co-contraction against energy; one closed-loop run's biomarker, amplitude and EMG) and the run
folders under ``runs/``; a closed-loop run's folder also holds ``controller.npz`` (the trace).

Caveats: closed-loop runs need Python during the run and use the runtime device (several times
slower than the compiled continuous runs). The controller acts only once its first 500 ms window
is full (from 0.5 s), while continuous DBS starts at 0.2 s, which alone saves part of the
energy. The LFP proxy contains the synaptic currents the pulses evoke in GPi: its mean shifts by
several nA when stimulation switches on or off, so (1) the relative 4-10 Hz biomarker falls while
stimulation is steady and rises after every switch, and the LFP controllers cycle on and off at
about 1-2 Hz (see the example trace), and (2) the absolute 4-10 Hz power of closed-loop runs is
dominated by this switching square wave, not by the pallidal rhythm (real adaptive DBS removes
stimulation artefacts before reading the band). Severity is read over the whole run after the
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

from circuitsim.experiments import (Point, argument_parser, configure_logging, launch_options, run_points,
                                    save_figure, summarise, write_rows, write_table)

logger = logging.getLogger(__name__)

NAME = "closed_loop"
OPEN = "dbs_gpi"          # the continuous preset's stimulus name
CLOSED = "dbs_gpi_cl"     # the closed-loop preset's stimulus name
BAND_HZ = (4.0, 10.0)     # pallidal band of dystonia (Silberstein et al. 2003)
TRACE_FILE = "controller.npz"

#: closed-loop controllers (name -> controller fields set on top of the dbs_gpi_closed_loop preset)
CONTROLLERS: Dict[str, Dict[str, Any]] = {
    "on_off_0.15": {"mode": "on_off", "on_above": 0.15, "off_below": 0.10},
    "on_off_0.20": {"mode": "on_off", "on_above": 0.20, "off_below": 0.12},   # the preset's thresholds
    "on_off_0.30": {"mode": "on_off", "on_above": 0.30, "off_below": 0.20},
    "prop_kp1": {"mode": "proportional", "setpoint": 0.15, "kp": 1.0},
    "prop_kp3": {"mode": "proportional", "setpoint": 0.15, "kp": 3.0},
    "pid": {"mode": "pid", "setpoint": 0.15, "kp": 1.0, "ki": "2*Hz", "kd": "0*ms"},
    # a biomarker free of the pulse-evoked currents: the corticospinal rate (the EMG's drive), which
    # is ~12 Hz at rest and rises above 20 Hz during the commanded turn in dystonia_network
    "cs_rate": {"mode": "on_off", "biomarker": "corticospinal_rate", "on_above": "18*Hz", "off_below": "16*Hz"},
}

#: short names of the controllers in the figure
SHORT = {"on_off_0.15": "on>0.15", "on_off_0.20": "on>0.20", "on_off_0.30": "on>0.30", "prop_kp1": "P kp1",
         "prop_kp3": "P kp3", "pid": "PID", "cs_rate": "CS rate>18 Hz"}

#: the variant the test suite runs
QUICK: Dict[str, Any] = {
    "condition": "dystonia_network",
    "continuous_ma": [1.0, 3.0],
    "closed_loop": ["on_off_0.20", "prop_kp1"],
    "max_amplitude_ma": 3.0,
    "example": "on_off_0.20",
    "seeds": [0],
    "duration": "2*second",
}
#: the README's variant
FULL: Dict[str, Any] = {
    "condition": "dystonia_network",
    "continuous_ma": [1.0, 2.0, 3.0, 4.0],
    "closed_loop": list(CONTROLLERS),
    "max_amplitude_ma": 3.0,
    "example": "on_off_0.20",
    "seeds": [0, 1, 2, 3, 4],
    "duration": "3*second",
}

FACTORS = ["kind", "setting"]
COLUMNS = {
    "severity": "severity",
    "co_contraction": "co-contraction",
    "gpi_4_10hz_abs": "GPi 4-10 Hz (abs., nA²)",
    "energy_uj": "energy (µJ)",
    "fraction_on": "fraction of periods on",
    "mean_amplitude_ma": "mean amplitude (mA)",
    "mean_biomarker": "mean biomarker",
}


def absolute_band_power(result, region: str = "gpi", band: Sequence[float] = BAND_HZ) -> float:
    """Absolute power (nA²) of a region's LFP proxy in ``band`` after the transient (see
    experiments/dbs_frequency/run.py: the relative power falls during DBS with the 1-100 Hz total)."""
    from circuitsim.analysis import spectra as sp

    x = result.lfp.get(region)
    if x is None:
        return float("nan")
    fs = 1.0 / result.lfp_dt
    x = np.asarray(x, dtype=float)[int(round(result.metrics["run"]["transient_s"] * fs)):]
    f, psd = sp.welch_psd(x, fs, segment_s=min(0.5, x.size / fs / 2))
    return float(sp.band_powers(f, psd, {"b": tuple(band)}, relative=False)["b"]) * 1e18


def store_trace(result) -> float:
    """Keep a closed-loop run's controller trace as ``controller.npz`` in its folder (the run
    folder does not store it otherwise); 1 when the folder holds a trace, NaN for open loop."""
    folder = getattr(result, "folder", None)
    if folder is None:
        return float("nan")
    path = Path(folder) / TRACE_FILE
    trace = result.extra.get("stim_data", {}).get(CLOSED, {}).get("controller")
    if trace is not None:
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "wb") as fh:
            np.savez(fh, **{k: np.asarray(v, dtype=float) for k, v in trace.items()})
        os.replace(tmp, path)
    return 1.0 if path.is_file() else float("nan")


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
}


def _text(value: Any) -> str:
    return f"{value:g}" if isinstance(value, (int, float)) else str(value).replace("*", " ")


def _setting(name: str, c: Dict[str, Any]) -> str:
    if c["mode"] == "on_off":
        prefix = "CS rate " if c.get("biomarker") == "corticospinal_rate" else ""
        return f"{prefix}on > {_text(c['on_above'])}, off < {_text(c['off_below'])}"
    text = f"setpoint {_text(c['setpoint'])}, kp {_text(c['kp'])}"
    if c["mode"] == "pid":
        text += f", ki {_text(c['ki'])}"
    return text


def points(variant: Dict[str, Any]) -> List[Point]:
    """Off, continuous at each amplitude, each closed-loop controller."""
    condition = [f"condition={variant['condition']}"]
    out = [Point("off", [*condition, f"stim={OPEN}", f"stim.{OPEN}.frequency=0*Hz"],
                 {"kind": "off", "setting": "0 Hz", "controller": ""})]
    for a in variant["continuous_ma"]:
        out.append(Point(f"continuous_{a:g}mA", [*condition, f"stim={OPEN}", f"stim.{OPEN}.amplitude={a:g}*mA"],
                         {"kind": "continuous", "setting": f"{a:g} mA", "controller": ""}))
    for name in variant["closed_loop"]:
        if name not in CONTROLLERS:
            raise ValueError(f"closed_loop: unknown controller {name!r}; choose from {', '.join(CONTROLLERS)}")
        c = CONTROLLERS[name]
        overrides = [*condition, "stim=dbs_gpi_closed_loop",
                     f"stim.{CLOSED}.amplitude={variant['max_amplitude_ma']:g}*mA"]
        overrides += [f"++stim.{CLOSED}.controller.{k}={v}" for k, v in c.items()]
        out.append(Point(f"closed_{name}", overrides,
                         {"kind": c["mode"], "setting": _setting(name, c), "controller": name}))
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

#: marker and colour of the open-loop kinds and of each controller (colour by control law)
MARKERS = {"off": ("s", "k"), "continuous": ("o", "C0"),
           "on_off_0.15": ("^", "C1"), "on_off_0.20": ("v", "C1"), "on_off_0.30": ("<", "C1"),
           "prop_kp1": ("D", "C2"), "prop_kp3": ("d", "C2"), "pid": ("*", "C3"), "cs_rate": ("P", "C4")}


def load_trace(folder: str | Path) -> Optional[Dict[str, np.ndarray]]:
    path = Path(folder) / TRACE_FILE
    if not path.is_file():
        return None
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def plot(table: Sequence[Dict[str, Any]], rows: Sequence[Dict[str, Any]], variant: Dict[str, Any],
         seeds: Sequence[int]):
    """Severity and co-contraction against energy (mean ± sd); an example closed-loop trace."""
    from matplotlib.figure import Figure

    from circuitsim.io.results import load_result

    fig = Figure(figsize=(15, 5), layout="constrained")
    left, right = fig.subfigures(1, 2, width_ratios=[2, 1.1])
    axes = left.subplots(1, 2)
    name_of = {_setting(name, c): name for name, c in CONTROLLERS.items()}

    def group(line: Dict[str, Any]) -> str:
        return line["kind"] if line["kind"] in ("off", "continuous") else name_of.get(line["setting"], "")

    for ax, (col, title) in zip(axes, [("severity", "severity score"), ("co_contraction", "co-contraction index")]):
        for key, (marker, color) in MARKERS.items():
            lines = [line for line in table if group(line) == key]
            if not lines:
                continue
            x = [line["energy_uj_mean"] for line in lines]
            y = [line[f"{col}_mean"] for line in lines]
            ax.errorbar(x, y, xerr=np.nan_to_num([line["energy_uj_sd"] for line in lines]),
                        yerr=np.nan_to_num([line[f"{col}_sd"] for line in lines]), fmt=marker, color=color,
                        ms=9 if marker == "*" else 6, capsize=3, elinewidth=0.8,
                        ls="-" if key == "continuous" else "none", label=SHORT.get(key, key))
            if key == "continuous":
                for line, xi, yi in zip(lines, x, y):
                    ax.annotate(line["setting"], (xi, yi), textcoords="offset points", xytext=(5, 3), fontsize=7,
                                color=color)
        off = [line for line in table if line["kind"] == "off"]
        if off:
            ax.axhline(off[0][f"{col}_mean"], color="k", lw=0.6, ls=":")
        ax.set_xlabel("energy delivered in the run (µJ)")
        ax.set_title(title, fontsize=10)
    axes[0].legend(fontsize=7, ncol=2, title="closed loop: P = proportional", title_fontsize=7)
    left.suptitle(f"GPi DBS in {variant['condition']}, turn_left, {str(variant['duration']).replace('*second', ' s')}, seeds {list(seeds)}: "
                  "mean ± sd", fontsize=11)

    ax_b, ax_a, ax_e = right.subplots(3, 1, sharex=True)
    example = [r for r in rows if r.get("controller") == variant["example"]]
    trace = load_trace(example[0]["folder"]) if example else None
    if trace is None:
        ax_b.text(0.5, 0.5, "no stored controller trace", ha="center", va="center", transform=ax_b.transAxes)
        return fig
    c = CONTROLLERS[variant["example"]]
    ax_b.plot(trace["t"], trace["biomarker"], "o-", ms=3, lw=1, color="C0")
    lines = [("on_above", "on above", "C3"), ("off_below", "off below", "C2")] if c["mode"] == "on_off" \
        else [("setpoint", "setpoint", "C3")]
    for key, label, color in lines:   # values as in the config: a number or "<number>*Hz"
        ax_b.axhline(float(str(c[key]).split("*")[0]), color=color, lw=0.8, ls="--", label=label)
    ax_b.legend(fontsize=7, loc="upper right")
    rate = c.get("biomarker") == "corticospinal_rate"
    ax_b.set_ylabel("corticospinal rate\n(Hz, 500 ms)" if rate else "GPi 4-10 Hz\n(rel., 500 ms)", fontsize=8)
    ax_a.step(trace["t"], trace["level"] * variant["max_amplitude_ma"], where="post", color="C3")
    ax_a.set_ylabel("amplitude (mA)", fontsize=8)
    result = load_result(example[0]["folder"])
    series = result.extra.get("muscle_series", {})
    for k, key in enumerate(sorted(k for k in series if k.endswith(".envelope"))):
        ax_e.plot(series["time"], series[key], lw=0.8, color=f"C{k + 4}", label=key.split(".")[0])
    ax_e.axvspan(1.0, 1.8, color="0.9", zorder=0, label="command (turn_left)")
    ax_e.legend(fontsize=7, loc="upper left")
    ax_e.set_ylabel("EMG envelope (a.u.)", fontsize=8)
    ax_e.set_xlabel("time (s)")
    right.suptitle(f"example: {c['mode']} ({_setting(variant['example'], c)}), seed {example[0]['seed']}",
                   fontsize=10)
    return fig


# ------------------------------------------------------------------------------- main


def main(argv: Optional[Sequence[str]] = None) -> List[Dict[str, Any]]:
    parser = argument_parser(__doc__, default_out=f"outputs/experiments/{NAME}")
    args = parser.parse_args(argv)
    configure_logging()
    variant = dict(QUICK if args.quick else FULL)
    seeds = args.seeds or variant["seeds"]
    t0 = time.perf_counter()
    launch = launch_options(args)
    if launch.get("jobs", 1) > 1 and not launch.get("launcher"):
        # store_trace needs each run's live Result (the controller trace is not in the run folder);
        # runs in worker processes hand back only their folders, so this experiment runs in-process
        logger.info("closed_loop runs its points in this process (--jobs %d ignored): the controller "
                    "traces are kept from the live results", launch["jobs"])
        launch["jobs"] = 1
    rows = run_points(points(variant), seeds, args.out, MEASURES, base=base_overrides(variant), resume=args.resume,
                      **launch)
    merge_energy(rows)
    write_rows(rows, args.out)
    table = summarise(rows, by=FACTORS, columns=list(COLUMNS))
    text = write_table(table, args.out, by=FACTORS, columns=COLUMNS)
    fig = plot(table, rows, variant, seeds)
    path = save_figure(fig, args.out, NAME, also=args.figure)
    print(text)
    print(f"\n{len(rows)} runs in {time.perf_counter() - t0:.0f} s; table and figure in {args.out} ({path.name})")
    return table


if __name__ == "__main__":
    main()
