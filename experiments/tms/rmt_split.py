"""Why a condition's resting motor threshold differs from the healthy one: the volley or the resting drive.

Runs part 1 of ``run.py`` (its recruitment protocol and run options, the target muscle) with the
spikes saved. For every test pulse with the target muscle at rest it takes that muscle's corticospinal
drive (muscle series ``<muscle>.drive``, Hz per corticospinal cell): the mean over the 50 ms before
the pulse (the motoneuron pool's resting drive) and the peak 0-15 ms after (with the volley).

Whether an MEP appears depends on the peak drive alone (the pool is the same in every condition), so
P(MEP | peak drive) is one logistic over every trial at rest. Each condition's RMT is then predicted
from its trials' peak drives, and again with each trial's resting drive replaced by the healthy mean.
The difference between the two is the resting-drive ("spinal") part of its shift from the healthy
RMT. The rest is the volley ("cortical") part: the same pulse evoking a smaller or larger descending
volley. Also reported: the rates in the 0.3 s before each pulse (the target and the posture channel's
pyramidal cells, the interneurons, the motor thalamus).

    python experiments/tms/rmt_split.py --seeds 10 11 12 13 14          # about 3 min with built programs
    python experiments/tms/rmt_split.py --seeds 0 1 5 --dense            # 11 levels near threshold, 8 trials each
    python experiments/tms/rmt_split.py --quick                          # healthy and dystonia_bg, seed 0
    python experiments/tms/rmt_split.py --seeds 10 11 12 13 14 --label local \\
        --set circuit.populations.ctx_i.channelled=true --set circuit.populations.ctx_i.n=40 ...

``--set`` adds a Hydra override to every run (README, "Dystonia through TMS": channel-local
inhibition). Outputs in ``--out``: ``split.csv`` (one row per condition) and ``runs/``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Dict, List, Mapping, Sequence

import numpy as np

from circuitsim.experiments import (Point, argument_parser, configure_logging, launch_options, load_experiment,
                                    run_points, write_rows)

RUN = load_experiment(Path(__file__).with_name("run.py"))
#: windows around a pulse (s): resting drive before it, peak drive after it, rates before it
BASE_WINDOW, PEAK_WINDOW, RATE_WINDOW = 0.05, 0.015, (0.3, 0.02)
#: the denser curve (% of the healthy RMT, trials per level) of ``--dense``
DENSE_LEVELS, DENSE_N = [0, 80, 90, 95, 100, 105, 110, 115, 120, 130, 140], 8


def pulse_trials(folder: str) -> Dict[str, Any]:
    """Every test pulse of a recruitment run in its target muscle (``run.rc_trials``) with the resting
    drive, the peak drive, and the rates before the pulses."""
    from circuitsim.io.results import load_result
    from circuitsim.io.run_spec import run_spec
    from circuitsim.stimulation.tms_measure import PulseTable

    res = load_result(folder)
    spec = run_spec(res)
    table = PulseTable.from_dict(spec.stimuli["rc"]["pulses"])
    times = table.time[table.role == "test"]
    out: Dict[str, Any] = dict(RUN.rc_trials(res))
    target = RUN.target_muscle(res.config["circuit"].get("side"))
    series = res.extra["muscle_series"]
    t, drive = np.asarray(series["time"], float), np.asarray(series[f"{target}.drive"], float)
    out["base"] = np.array([drive[(t >= x - BASE_WINDOW) & (t < x)].mean() for x in times])
    out["peak"] = np.array([drive[(t >= x) & (t < x + PEAK_WINDOW)].max() for x in times])
    windows = [(x - RATE_WINDOW[0], x - RATE_WINDOW[1]) for x in times]
    span = sum(b - a for a, b in windows)
    channel = spec.channels.index({"rotator_left": "left", "rotator_right": "right"}[target])
    rates = {}
    for pop in ("ctx_e", "ctx_i", "thal"):
        i, ts = res.spikes[pop]
        p = spec.populations[pop]
        groups = {"target": channel, "posture": 1 - channel} if p.channelled else {"all": None}
        for name, ch in groups.items():
            sel = np.ones(i.size, bool) if ch is None else (i // p.n_per_channel == ch)
            n = p.n if ch is None else p.n_per_channel
            count = sum(int(((ts[sel] >= a) & (ts[sel] < b)).sum()) for a, b in windows)
            rates[f"{pop}_{name}_hz"] = count / n / span
    out["rates"] = rates
    return out


def split(trials: Mapping[str, List[Mapping[str, Any]]], reference: str = "healthy") -> List[Dict[str, Any]]:
    """Per condition: RMT fitted and predicted from the peak drive, its volley and resting-drive parts
    against ``reference`` (%MSO), the mean resting drive and the rates (trials at rest, pulses only)."""
    from circuitsim.muscle.evoked import fit_motor_threshold

    pooled = {}
    for c, runs in trials.items():
        keep = [r["rest"] & (r["mso"] > 0) for r in runs]
        pooled[c] = {k: np.concatenate([r[k][m] for r, m in zip(runs, keep)]) for k in ("mso", "evoked", "base", "peak")}
    peak = np.concatenate([d["peak"] for d in pooled.values()])
    mep = np.concatenate([d["evoked"] for d in pooled.values()]).astype(float)
    fit = fit_motor_threshold(peak, mep)   # the peak drive (Hz) at which half of the pulses evoke an MEP
    m, s = fit["threshold"], fit["slope"]
    base_ref = float(pooled[reference]["base"].mean())

    def predicted(d, pk):
        return fit_motor_threshold(d["mso"], 1 / (1 + np.exp(-(pk - m) / s)))["threshold"]

    rows = []
    for c, d in pooled.items():
        rows.append({"condition": c, "rmt_fitted": RUN.motor_threshold(trials[c]),
                     "rmt_predicted": predicted(d, d["peak"]),
                     "rmt_healthy_rest_drive": predicted(d, d["peak"] - d["base"] + base_ref),
                     "rest_drive_hz": float(d["base"].mean()), "mep_peak_drive_hz": m, "mep_slope_hz": s,
                     "rest_fraction": float(np.mean(np.concatenate([r["rest"] for r in trials[c]]))),
                     **{k: float(np.mean([r["rates"][k] for r in trials[c]])) for k in trials[c][0]["rates"]}})
    ref = next(r for r in rows if r["condition"] == reference)
    for r in rows:
        r["rmt_vs_healthy"] = r["rmt_fitted"] / ref["rmt_fitted"]
        r["volley_part"] = r["rmt_healthy_rest_drive"] - ref["rmt_predicted"]
        r["rest_drive_part"] = r["rmt_predicted"] - r["rmt_healthy_rest_drive"]
    return rows


def main(argv: Sequence[str] | None = None) -> List[Dict[str, Any]]:
    parser = argument_parser(__doc__, default_out="tms_rmt_split_out")
    parser.add_argument("--conditions", nargs="+", default=RUN.FULL["conditions"], choices=RUN.FULL["conditions"])
    parser.add_argument("--dense", action="store_true", help=f"levels {DENSE_LEVELS} %% RMT, {DENSE_N} trials each")
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="a Hydra override for every run")
    parser.add_argument("--label", default="split", help="run folder prefix (a new one for other --set)")
    args = parser.parse_args(argv)
    if "healthy" not in args.conditions:
        parser.error("--conditions: include healthy (the reference)")
    if args.figure:
        parser.error("--figure: rmt_split.py draws no figure; its result is split.csv in --out")
    configure_logging()
    v = dict(RUN.FULL)
    if args.dense:
        v["rc_levels"], v["rc_n"] = DENSE_LEVELS, DENSE_N
    if args.quick:   # the machinery on one seed: healthy against dystonia_bg
        args.conditions = ["healthy", "dystonia_bg"]
    seeds = args.seeds if args.seeds is not None else ([0] if args.quick else RUN.FULL["seeds"])
    t0 = time.perf_counter()
    points = [Point(f"{args.label}_{c}", [f"condition={c}", *RUN.RUN, *RUN.tms_overrides("rc", RUN.rc_protocol(v)),
                                          "readout.save_spikes=true", *args.overrides], {"condition": c})
              for c in args.conditions]
    rows = run_points(points, seeds, args.out, {}, resume=args.resume, **launch_options(args))
    trials: Dict[str, List[Dict[str, Any]]] = {c: [] for c in args.conditions}
    for row in rows:
        trials[row["condition"]].append(pulse_trials(row["folder"]))
    out = split(trials)
    write_rows(out, args.out, name="split")
    for r in out:
        print(f"{r['condition']:20s} RMT {r['rmt_fitted']:.1f} %MSO ({r['rmt_vs_healthy']:.2f} of healthy), predicted "
              f"{r['rmt_predicted']:.1f}: volley part {r['volley_part']:+.1f}, resting-drive part "
              f"{r['rest_drive_part']:+.1f}; resting drive {r['rest_drive_hz']:.2f} Hz, at rest {r['rest_fraction']:.0%}; "
              + ", ".join(f"{k[:-3]} {r[k]:.1f}" for k in r if k.endswith("_hz") and k[:3] in ("ctx", "tha")))
    print(f"MEP at a peak drive of {out[0]['mep_peak_drive_hz']:.1f} Hz (slope {out[0]['mep_slope_hz']:.2f}); "
          f"{len(rows)} runs in {time.perf_counter() - t0:.0f} s; results in {args.out}")
    return out


if __name__ == "__main__":
    main()
