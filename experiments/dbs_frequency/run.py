"""GPi DBS in the dystonic circuits: frequency sweep and amplitude x pulse-width grid.

Question: how do the clinical severity score, the co-contraction of the antagonist neck muscles
and the pallidal low-frequency (4-10 Hz; Silberstein et al. 2003, Brain 126:2597) rhythm of the
three dystonic circuits (``dystonia_bg``, ``dystonia_cerebellar``, ``dystonia_network``; task
``turn_left``) change with the frequency of pallidal DBS, from 0 Hz (stimulator off) to the
clinical maximum of 185 Hz (Kupsch et al. 2006, NEJM 355:1978), and, at 130 Hz in one circuit,
with amplitude (1-5 mA) and pulse width (clinical 60-450 us; Kupsch et al. 2006; Alterman et al.
2007, Mov Disord 22:366)?

Every point is one run of ``condition=<c> task=turn_left stim=dbs_gpi`` with
``stim.dbs_gpi.{frequency, amplitude, pulse_width}`` set (the rest as the ``dbs_gpi`` preset:
charge-balanced biphasic, from 0.2 s), for several seeds.

    python experiments/dbs_frequency/run.py --quick      # 1 circuit, 3 frequencies, 2 x 2 grid, 2 seeds
    python experiments/dbs_frequency/run.py              # 3 circuits, 8 frequencies, 3 x 3 grid, 3 seeds

Outputs in ``--out`` (default ``outputs/experiments/dbs_frequency``): ``table.md`` / ``table.csv``
(mean +- sd over seeds of every point: severity, co-contraction, relative and absolute GPi 4-10 Hz
power, GPi rate, activated fraction of the stimulated elements, energy), ``runs.csv`` (every run),
``dbs_frequency.png`` (measures against frequency per circuit; heatmaps over amplitude x pulse
width) and one run folder per point and seed under ``runs/`` (an interrupted run resumes).

Caveats: the relative 4-10 Hz power (band / 1-100 Hz power, as in metrics.json) falls during DBS
mostly because the pulse-evoked synaptic currents raise the 1-100 Hz total (most at 20-60 Hz,
whose pulse harmonics lie inside 1-100 Hz), so the table also gives the absolute band power
(:func:`absolute_band_power`); both are of the LFP proxy, which the pulses themselves drive. In
the model, GPi DBS silences the GPi cells the pulses do not fire (the activated GABAergic
afferents from striatum and GPe): under DBS the GPi rate is about frequency x the activated
fraction of somata, whatever the circuit. Pulse widths below ``sim.dt`` (0.1 ms) are refused, so
the grid starts at 100 us. Seconds-long runs model the immediate effect of DBS only; the clinical
benefit in dystonia builds over weeks to months (plasticity), which the model leaves out.
"""

from __future__ import annotations

import math
import time
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from circuitsim.experiments import (Point, argument_parser, configure_logging, launch_options, run_points,
                                    save_figure, summarise, write_rows, write_table)

NAME = "dbs_frequency"
STIM = "dbs_gpi"
#: the band of the pallidal rhythm of dystonia (Silberstein et al. 2003)
BAND_HZ = (4.0, 10.0)

#: the variant the test suite runs (about a minute on 2 free cores with a warm build cache)
QUICK: Dict[str, Any] = {
    "conditions": ["dystonia_network"],
    "frequencies_hz": [0, 130, 185],
    "amplitude_ma": 3.0,            # the dbs_gpi preset (Kupsch et al. 2006 range)
    "pulse_width_us": 210.0,        # the dbs_gpi preset
    "grid_condition": "dystonia_network",
    "grid_frequency_hz": 130,
    "grid_amplitudes_ma": [1.0, 5.0],
    "grid_pulse_widths_us": [100.0, 210.0],
    "reference": None,              # a condition run without DBS as a reference line (None: none)
    "seeds": [0, 1],
    "duration": "2*second",         # turn_left commands the turn at 1-1.8 s
}
#: the README's variant
FULL: Dict[str, Any] = {
    "conditions": ["dystonia_bg", "dystonia_cerebellar", "dystonia_network"],
    "frequencies_hz": [0, 20, 40, 60, 100, 130, 160, 185],
    "amplitude_ma": 3.0,
    "pulse_width_us": 210.0,
    "grid_condition": "dystonia_network",
    "grid_frequency_hz": 130,
    "grid_amplitudes_ma": [1.0, 3.0, 5.0],        # clinical 1-5 mA (Kupsch et al. 2006)
    "grid_pulse_widths_us": [100.0, 210.0, 450.0],  # clinical 60-450 us; >= sim.dt
    "reference": "healthy",
    "seeds": [0, 1, 2],
    "duration": "3*second",         # as the dbs_gpi preset
}

FACTORS = ["condition", "frequency_hz", "amplitude_ma", "pulse_width_us"]
#: table columns (name -> heading)
COLUMNS = {
    "severity": "severity",
    "co_contraction": "co-contraction",
    "gpi_4_10hz_rel": "GPi 4-10 Hz (rel.)",
    "gpi_4_10hz_abs": "GPi 4-10 Hz (abs., nA²)",
    "gpi_rate_hz": "GPi rate (Hz)",
    "activated_fraction": "activated fraction",
    "energy_uj": "energy (µJ)",
}


def absolute_band_power(result, region: str = "gpi", band: Sequence[float] = BAND_HZ) -> float:
    """Absolute power (nA²) of a region's LFP proxy in ``band`` after the transient.

    The relative power of metrics.json (band / 1-100 Hz power) falls during DBS partly because
    the currents evoked by the pulses raise the 1-100 Hz total; the absolute power shows whether
    the rhythm itself changed. Welch segments as the metrics (``readout.spectrum_segment``, at
    most half the analysed time).
    """
    from circuitsim.analysis import spectra as sp

    x = result.lfp.get(region)
    if x is None:
        return float("nan")
    fs = 1.0 / result.lfp_dt
    x = np.asarray(x, dtype=float)[int(round(result.metrics["run"]["transient_s"] * fs)):]
    f, psd = sp.welch_psd(x, fs, segment_s=min(0.5, x.size / fs / 2))
    return float(sp.band_powers(f, psd, {"b": tuple(band)}, relative=False)["b"]) * 1e18


MEASURES = {
    "severity": "muscle.severity_score",
    "co_contraction": "muscle.co_contraction_index",
    "gpi_4_10hz_rel": "lfp.gpi.power_4_10hz",
    "gpi_4_10hz_abs": absolute_band_power,
    "gpi_rate_hz": "populations.gpi.rate_hz",
    "activated_fraction": f"stim.{STIM}.activated_fraction",
    "energy_uj": f"stim.{STIM}.energy_uj",
}


def _point(condition: str, frequency: float, amplitude: float, pulse_width: float) -> Point:
    label = f"{condition}_f{frequency:g}_a{amplitude:g}_pw{pulse_width:g}"
    overrides = [f"condition={condition}", f"stim.{STIM}.frequency={frequency:g}*Hz",
                 f"stim.{STIM}.amplitude={amplitude:g}*mA", f"stim.{STIM}.pulse_width={pulse_width:g}*us"]
    return Point(label, overrides, {"condition": condition, "frequency_hz": float(frequency),
                                    "amplitude_ma": float(amplitude), "pulse_width_us": float(pulse_width)})


def points(variant: Dict[str, Any]) -> List[Point]:
    """The frequency sweep of every circuit, the grid of one circuit and the reference (no repeats)."""
    a0, pw0 = variant["amplitude_ma"], variant["pulse_width_us"]
    wanted = []
    if variant.get("reference"):
        wanted.append((variant["reference"], 0, a0, pw0))
    for condition in variant["conditions"]:
        wanted += [(condition, f, a0, pw0) for f in variant["frequencies_hz"]]
    for pw in variant["grid_pulse_widths_us"]:
        for a in variant["grid_amplitudes_ma"]:
            wanted.append((variant["grid_condition"], variant["grid_frequency_hz"], a, pw))
    return [_point(*key) for key in dict.fromkeys(wanted)]


def base_overrides(variant: Dict[str, Any]) -> List[str]:
    return ["task=turn_left", f"stim={STIM}", f"sim.duration={variant['duration']}", "readout.plots=[]"]


# ----------------------------------------------------------------------------- figure


def _select(table: Sequence[Dict[str, Any]], **match: Any) -> List[Dict[str, Any]]:
    return [line for line in table if all(line[k] == v for k, v in match.items())]


def plot(table: Sequence[Dict[str, Any]], variant: Dict[str, Any], seeds: Sequence[int]):
    """Top: measures against frequency per circuit (mean ± sd); bottom: amplitude x pulse-width heatmaps."""
    from matplotlib.colors import LogNorm
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12, 6.2), layout="constrained")
    top, bottom = fig.subfigures(2, 1)
    a0, pw0 = float(variant["amplitude_ma"]), float(variant["pulse_width_us"])
    curves = [("severity", "severity score", False), ("co_contraction", "co-contraction index", False),
              ("gpi_4_10hz_abs", "GPi LFP 4-10 Hz power (abs., nA²)", True),
              ("gpi_4_10hz_rel", "GPi LFP 4-10 Hz power (rel.)", False)]
    axes = top.subplots(1, len(curves))
    reference = _select(table, condition=variant["reference"]) if variant.get("reference") else []
    for ax, (col, title, log) in zip(axes, curves):
        for k, condition in enumerate(variant["conditions"]):
            lines = sorted(_select(table, condition=condition, amplitude_ma=a0, pulse_width_us=pw0),
                           key=lambda line: line["frequency_hz"])
            f = [line["frequency_hz"] for line in lines]
            m = np.array([line[f"{col}_mean"] for line in lines])
            s = np.nan_to_num(np.array([line[f"{col}_sd"] for line in lines]))
            ax.errorbar(f, m, yerr=s, marker="o", ms=4, capsize=3, color=f"C{k}", label=condition)
        for line in reference:
            ax.axhline(line[f"{col}_mean"], color="0.4", ls="--", lw=1, label=f"{line['condition']}, no DBS")
        if log:
            ax.set_yscale("log")
        ax.set_xlabel("DBS frequency (Hz; 0 = off)")
        ax.set_title(title, fontsize=10)
    axes[0].legend(fontsize=8)
    top.suptitle(f"GPi DBS frequency sweep ({a0:g} mA, {pw0:g} µs), turn_left, {_duration(variant)}, "
                 f"seeds {list(seeds)}: mean ± sd", fontsize=11)

    amps = sorted(float(a) for a in variant["grid_amplitudes_ma"])
    widths = sorted(float(w) for w in variant["grid_pulse_widths_us"])
    maps = [("severity", "severity score", "viridis", False),
            ("co_contraction", "co-contraction index", "viridis", False),
            ("gpi_4_10hz_abs", "GPi 4-10 Hz (abs., nA², log colour)", "magma", True),
            ("energy_uj", "energy (µJ)", "cividis", False)]
    axes = bottom.subplots(1, len(maps))
    grid_f = float(variant["grid_frequency_hz"])
    for ax, (col, title, cmap, log) in zip(axes, maps):
        values = np.full((len(widths), len(amps)), np.nan)
        for r, pw in enumerate(widths):
            for c, a in enumerate(amps):
                hit = _select(table, condition=variant["grid_condition"], frequency_hz=grid_f,
                              amplitude_ma=a, pulse_width_us=pw)
                if hit:
                    values[r, c] = hit[0][f"{col}_mean"]
        positive = values[np.isfinite(values) & (values > 0)]
        norm = LogNorm(positive.min(), positive.max()) if log and positive.size > 1 else None
        image = ax.imshow(values, origin="lower", aspect="auto", cmap=cmap, norm=norm)
        for r in range(len(widths)):
            for c in range(len(amps)):
                if math.isfinite(values[r, c]):   # dark text on the light end of the colour map
                    light = float(image.norm(values[r, c])) > 0.6
                    ax.text(c, r, f"{values[r, c]:.3g}", ha="center", va="center", fontsize=8,
                            color="k" if light else "w")
        ax.set_xticks(range(len(amps)), [f"{a:g}" for a in amps])
        ax.set_yticks(range(len(widths)), [f"{w:g}" for w in widths])
        ax.set_xlabel("amplitude (mA)")
        ax.set_ylabel("pulse width (µs)")
        ax.set_title(title, fontsize=10)
        bottom.colorbar(image, ax=ax, shrink=0.85)
    bottom.suptitle(f"{variant['grid_condition']} at {grid_f:g} Hz: amplitude × pulse width (mean over seeds)",
                    fontsize=11)
    return fig


def _duration(variant: Dict[str, Any]) -> str:
    return str(variant["duration"]).replace("*second", " s")


# ------------------------------------------------------------------------------- main


def main(argv: Optional[Sequence[str]] = None) -> List[Dict[str, Any]]:
    parser = argument_parser(__doc__, default_out=f"outputs/experiments/{NAME}")
    args = parser.parse_args(argv)
    configure_logging()
    variant = dict(QUICK if args.quick else FULL)
    seeds = args.seeds or variant["seeds"]
    t0 = time.perf_counter()
    rows = run_points(points(variant), seeds, args.out, MEASURES, base=base_overrides(variant), resume=args.resume,
                      **launch_options(args))
    write_rows(rows, args.out)
    table = summarise(rows, by=FACTORS, columns=list(COLUMNS))
    text = write_table(table, args.out, by=FACTORS, columns=COLUMNS)
    fig = plot(table, variant, seeds)
    path = save_figure(fig, args.out, NAME, also=args.figure)
    print(text)
    print(f"\n{len(rows)} runs in {time.perf_counter() - t0:.0f} s; table and figure in {args.out} ({path.name})")
    return table


if __name__ == "__main__":
    main()
