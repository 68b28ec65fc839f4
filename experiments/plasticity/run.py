"""After-effects of theta burst stimulation over M1 against a sham train, and their time course.

Question: with the published protocols (Huang et al. 2005, Neuron 45:201: cTBS 600 pulses in 40 s,
iTBS 20 x 2 s trains every 10 s; 80 % AMT, here 70 % RMT) and the fitted plasticity rule of the
I-wave fibres (``rule: calcium``, circuitsim/stimulation/plasticity_calcium.py; no amplitude
multiplier), does cTBS lower and iTBS raise the MEP against a paired sham train, beyond the spread
over held-out seeds, and how does the change develop after the train?

Every protocol (the ``ctbs_m1`` and ``itbs_m1`` presets; ``ctbs_cerebellum`` on request) runs twice
per seed: ``active`` and ``sham`` (the same run with the train at 0 %MSO, so no train pulse recruits
anything; the runs are identical up to the train). Ten test pulses (120 % RMT, 0.8 s apart) come
before the train, and the preset's post block is replaced by ``probes`` test pulses every
``probe_interval`` from ``probe_start`` after the last train pulse: the time course.

    python experiments/plasticity/run.py --quick   # cTBS and sham, seed 0, circuit.scale=0.25 (the test)
    python experiments/plasticity/run.py           # cTBS, iTBS and shams, seeds 10-14 (held out), full circuit

Outputs in ``--out`` (default ``outputs/experiments/plasticity``): ``table.md`` / ``table.csv``
(per protocol and arm, mean +- sd over seeds), ``effect.md`` (active - sham per protocol, paired by
seed), ``timecourse.csv`` (every probe: time after the train, MEP / mean pre MEP, volley / mean pre
volley), ``runs.csv``, ``plasticity.png`` and the run folders under ``runs/`` (resumable).

Cost: a simulated second costs about 0.6 s on a free core; the full variant simulates about
140 s (cTBS) and 290 s (iTBS) per arm and seed. The weights stop changing about 40 s after cTBS and
at once after iTBS (the rule has no decay), so the probes cover 10-80 s after the train; the
weight course of a fibre recruited by every pulse over 10 min comes from the rule's reference
integration (the same equations), drawn in the figure.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Dict, List, Mapping, Optional, Sequence

import numpy as np

from circuitsim.experiments import (Point, argument_parser, configure_logging, launch_options, run_points,
                                    save_figure, summarise, write_rows, write_table)

NAME = "plasticity"

FULL: Dict[str, Any] = {
    "protocols": ["ctbs_m1", "itbs_m1"],
    "seeds": [10, 11, 12, 13, 14],   # held out: tuning used 0, 1, 5
    "probes": 8, "probe_interval": 10.0, "probe_start": 10.0,   # s
    "late_after": 40.0,              # s: probes from then on make the "late" ratio (weights settled)
    "overrides": ["readout.plots=[]"],
}
QUICK: Dict[str, Any] = {
    "protocols": ["ctbs_m1"],
    "seeds": [0],
    "probes": 3, "probe_interval": 15.0, "probe_start": 40.0,
    "late_after": 40.0,
    # a quarter of every population (fibres per cell kept): 4x cheaper; MEPs there are not calibrated,
    # the test checks the weights and the volley
    "overrides": ["circuit.scale=0.25", "readout.plots=[]"],
}

#: what each run keeps (metrics.json keys)
MEASURES = {"mep_post_pre": "tms.mep_post_pre_ratio", "volley_post_pre": "tms.volley_post_pre_ratio",
            "mep_pre_mv": "tms.mep_amplitude_mv"}
COLUMNS = {"mep_late": "MEP late/pre", "volley_late": "volley late/pre", "mep_post_pre": "MEP post/pre (all probes)",
           "volley_post_pre": "volley post/pre (all probes)", "weight_change": "fibre weight change",
           "mep_pre": "MEP pre (mV)"}
FACTORS = ["protocol", "arm"]
ELEMENT = {"ctbs_m1": "m1.ctx_e_afferent", "itbs_m1": "m1.ctx_e_afferent", "rtms_1hz": "m1.ctx_e_afferent",
           "ctbs_cerebellum": "grc_pc"}


def protocol_overrides(preset: str, variant: Mapping[str, Any], sham: bool) -> List[str]:
    """The preset with the post block as the probes, the train at 0 %MSO for the sham, and the duration."""
    from circuitsim import compose
    from circuitsim.spec import build_spec

    ov = [f"stim={preset}", f"stim.{preset}.protocol.2.n={variant['probes']}",
          f"stim.{preset}.protocol.2.interval={variant['probe_interval']}*second",
          f"stim.{preset}.protocol.2.start={variant['probe_start']}*second"]
    if sham:
        ov.append(f"stim.{preset}.protocol.1.intensity=0%MSO")
    spec = build_spec(compose([*ov, *variant["overrides"], "sim.duration=3600*second"]))
    last = max(spec.stimuli[preset]["pulses"]["time"])
    return ov + [f"sim.duration={math.ceil((last + 0.5) * 10) / 10}*second"]


def points(variant: Mapping[str, Any]) -> List[Point]:
    return [Point(f"{p}_{arm}", protocol_overrides(p, variant, arm == "sham"), {"protocol": p, "arm": arm})
            for p in variant["protocols"] for arm in ("active", "sham")]


def probes(folder: str, preset: str) -> Dict[str, np.ndarray]:
    """Per test pulse of a finished run: time after the last train pulse (s; negative before), the MEP
    (mean over the muscles, mV; from the stored EMG with the stimulus's own measure) and the evoked
    volley (ctx_e spikes per cell), and the run's final plastic weight change."""
    import json

    from omegaconf import OmegaConf

    from circuitsim.io.results import load_result
    from circuitsim.spec import build_spec
    from circuitsim.stimulation.tms import analyse, evoked_volley

    res = load_result(folder)
    params = build_spec(OmegaConf.create(res.config)).stimuli[preset]
    table = params["pulses"]
    t = np.asarray(table["time"], float)
    role = np.asarray(table["role"])
    test = np.flatnonzero(role == "test")
    train = np.flatnonzero(role == "train")
    t_end = float(t[train].max())
    out = {"t_after": t[test] - t_end, "block": np.asarray(table["block"])[test]}
    series = res.extra.get("muscle_series")
    if series:
        ts = np.asarray(series["time"], float)
        muscles = [k[:-4] for k in series if k.endswith(".emg")]
        readout = SimpleNamespace(muscles=muscles, emg={m: np.asarray(series[f"{m}.emg"]) for m in muscles},
                                  fs_hz=1.0 / float(ts[1] - ts[0]), time=ts)
        an = analyse(params, readout)
        out["mep_mv"] = np.mean([an["per_muscle"][m]["amplitude_v"] for m in muscles], axis=0) * 1e3
    pop = params["measure"]["volley_population"]
    out["volley"] = evoked_volley(res.spikes[pop][1], res.sizes[pop], t[test], params["measure"]["volley_window"])
    metrics = json.loads((Path(folder) / "metrics.json").read_text())
    w = metrics["stim"][preset].get("plasticity", {}).get(ELEMENT[preset], {})
    out["weight_change"] = float(w.get("relative_change", float("nan")))
    return out


def late_ratio(p: Mapping[str, np.ndarray], key: str, late_after: float) -> float:
    """Mean of the probes at least ``late_after`` s after the train over the mean before it."""
    if key not in p:
        return float("nan")
    pre = p[key][p["t_after"] < 0]
    late = p[key][p["t_after"] >= late_after]
    return float(late.mean() / pre.mean()) if pre.size and late.size and pre.mean() > 0 else float("nan")


def paired_effect(rows: Sequence[Mapping[str, Any]], column: str) -> List[Dict[str, Any]]:
    """Per protocol: active - sham of ``column``, paired by seed (mean, sd, n, and the seeds' values)."""
    out = []
    for protocol in sorted({r["protocol"] for r in rows}):
        by = {(r["arm"], r["seed"]): r[column] for r in rows if r["protocol"] == protocol}
        d = np.array([by[("active", s)] - by[("sham", s)] for (arm, s) in by
                      if arm == "active" and ("sham", s) in by and math.isfinite(by[("active", s)] - by[("sham", s)])])
        out.append({"protocol": protocol, "measure": column, "n": int(d.size),
                    "mean": float(d.mean()) if d.size else float("nan"),
                    "sd": float(d.std(ddof=1)) if d.size > 1 else float("nan"), "values": d.tolist()})
    return out


def paired_course(rows: Sequence[Mapping[str, Any]], courses: Mapping[str, Mapping[str, np.ndarray]],
                  key: str) -> List[Dict[str, Any]]:
    """Per protocol and probe after the train: active / sham of ``key`` (each normalised by its own
    mean before the train), paired by seed and probe: mean, sd over seeds and n."""
    out = []
    for protocol in sorted({r["protocol"] for r in rows}):
        by = {(r["arm"], r["seed"]): courses[r["folder"]] for r in rows if r["protocol"] == protocol}
        ratios = []
        for (arm, seed), a in by.items():
            b = by.get(("sham", seed))
            if arm != "active" or b is None or key not in a or key not in b:
                continue
            post = a["t_after"] >= 0
            ra = a[key][post] / a[key][a["t_after"] < 0].mean()
            rb = b[key][post] / b[key][b["t_after"] < 0].mean()
            ratios.append(ra / rb)
            t = a["t_after"][post]
        if not ratios:
            continue
        r = np.array(ratios)
        for k in range(r.shape[1]):
            out.append({"protocol": protocol, "measure": key, "t_after_s": round(float(t[k]), 1),
                        "mean": float(np.mean(r[:, k])), "sd": float(np.std(r[:, k], ddof=1)) if len(r) > 1 else float("nan"),
                        "n": len(r)})
    return out


def reference_course(variant: Mapping[str, Any], minutes: float = 10.0) -> Dict[str, Any]:
    """The weight of a fibre synapse recruited by every m1 pulse of each protocol (active and sham),
    from the rule's reference integration, until ``minutes`` after the train."""
    from circuitsim import compose
    from circuitsim.spec import build_spec
    from circuitsim.stimulation.plasticity_calcium import CALCIUM_DEFAULTS, reference_weight

    out = {}
    for preset in variant["protocols"]:
        if ELEMENT.get(preset) != "m1.ctx_e_afferent":
            continue
        spec = build_spec(compose([f"stim={preset}"]))
        table = spec.stimuli[preset]["pulses"]
        t = np.asarray(table["time"], float)
        role = np.asarray(table["role"])
        pre = (np.asarray(table["block"]) == 0)
        t_end = float(t[role == "train"].max())
        active = t[pre | (role == "train")]
        sham = t[pre]
        tt, w = reference_weight([active, sham], t_end + 60 * minutes, CALCIUM_DEFAULTS)
        out[preset] = {"t_after": tt[::50] - t_end, "active": w[0, ::50], "sham": w[1, ::50]}
    return out


def plot(rows: Sequence[Mapping[str, Any]], courses: Mapping[str, Mapping[str, np.ndarray]],
         reference: Mapping[str, Any], variant: Mapping[str, Any], seeds: Sequence[int]):
    from matplotlib.figure import Figure

    protocols = list(variant["protocols"])
    fig = Figure(figsize=(4.2 * (len(protocols) + 1), 7), layout="constrained")
    axes = fig.subplots(2, len(protocols) + 1, squeeze=False)
    for k, preset in enumerate(protocols):
        for row, key, label in ((0, "mep_mv", "MEP / mean pre MEP"), (1, "volley", "volley / mean pre volley")):
            ax = axes[row, k]
            for arm, colour in (("active", "C3" if "ctbs" in preset else "C2"), ("sham", "0.5")):
                ys = []
                for r in rows:
                    c = courses.get(r["folder"])
                    if r["protocol"] != preset or r["arm"] != arm or c is None or key not in c:
                        continue
                    pre = c[key][c["t_after"] < 0].mean()
                    post = c["t_after"] >= 0
                    ax.plot(c["t_after"][post], c[key][post] / pre, color=colour, alpha=0.3, lw=0.8)
                    ys.append(c[key][post] / pre)
                if ys:
                    x = courses[[r["folder"] for r in rows if r["protocol"] == preset and r["arm"] == arm][0]]["t_after"]
                    ax.plot(x[x >= 0], np.mean(ys, axis=0), color=colour, lw=2.2, marker="o", ms=3, label=arm)
            ax.axhline(1, color="k", lw=0.6)
            ax.set_xlabel("time after the train (s)")
            ax.set_title(f"{preset}: {label}", fontsize=10)
            ax.legend(fontsize=8)
    ax = axes[0, -1]
    for preset, c in reference.items():
        ax.plot(c["t_after"] / 60, c["active"], label=f"{preset}", color="C3" if "ctbs" in preset else "C2")
        ax.plot(c["t_after"] / 60, c["sham"], color="0.5", ls="--", lw=0.8)
    ax.axhline(1, color="k", lw=0.6)
    ax.set_xlabel("time after the train (min)")
    ax.set_ylabel("relative weight")
    ax.set_title("rule: a fibre recruited by every pulse\n(reference integration; sham dashed)", fontsize=10)
    ax.legend(fontsize=8)
    ax = axes[1, -1]
    for k, preset in enumerate(protocols):
        for q, arm in enumerate(("active", "sham")):
            v = [r["weight_change"] for r in rows if r["protocol"] == preset and r["arm"] == arm]
            ax.scatter(np.full(len(v), k + 0.3 * q - 0.15), v, color="0.5" if arm == "sham" else "C3", s=14)
    ax.axhline(0, color="k", lw=0.6)
    ax.set_xticks(range(len(protocols)), protocols, fontsize=8)
    ax.set_title("mean fibre weight change in the circuit\n(red: active, grey: sham)", fontsize=10)
    scale = [o for o in variant["overrides"] if o.startswith("circuit.")]
    fig.suptitle(f"TMS after-effects against sham, seeds {list(seeds)}{' (' + ', '.join(scale) + ')' if scale else ''}",
                 fontsize=11)
    return fig


def main(argv: Optional[Sequence[str]] = None) -> List[Dict[str, Any]]:
    parser = argument_parser(__doc__, default_out=f"outputs/experiments/{NAME}")
    parser.add_argument("--protocols", nargs="+", default=None, help="presets to run (default: the variant's)")
    args = parser.parse_args(argv)
    configure_logging()
    variant = dict(QUICK if args.quick else FULL)
    if args.protocols:
        variant["protocols"] = list(args.protocols)
    seeds = args.seeds or variant["seeds"]
    t0 = time.perf_counter()
    rows = run_points(points(variant), seeds, args.out, MEASURES, base=variant["overrides"], resume=args.resume,
                      **launch_options(args))
    courses, lines = {}, []
    for r in rows:
        c = probes(r["folder"], r["protocol"])
        courses[r["folder"]] = c
        r["mep_late"] = late_ratio(c, "mep_mv", variant["late_after"])
        r["volley_late"] = late_ratio(c, "volley", variant["late_after"])
        r["weight_change"] = c["weight_change"]
        r["mep_pre"] = float(c["mep_mv"][c["t_after"] < 0].mean()) if "mep_mv" in c else float("nan")
        for k in range(c["t_after"].size):
            lines.append({"protocol": r["protocol"], "arm": r["arm"], "seed": r["seed"],
                          "t_after_s": float(c["t_after"][k]),
                          "mep_mv": float(c["mep_mv"][k]) if "mep_mv" in c else float("nan"),
                          "volley_per_cell": float(c["volley"][k])})
    write_rows(rows, args.out)
    write_rows(lines, args.out, name="timecourse")
    table = summarise(rows, by=FACTORS, columns=list(COLUMNS))
    text = write_table(table, args.out, by=FACTORS, columns=COLUMNS)
    effects = [e for col in ("mep_late", "volley_late", "mep_post_pre", "weight_change") for e in paired_effect(rows, col)]
    eff = ["| protocol | measure | active - sham (mean ± sd) | n | per seed |", "|---|---|---|---|---|"]
    eff += [f"| {e['protocol']} | {e['measure']} | {e['mean']:+.3f} ± {e['sd']:.3f} | {e['n']} | "
            f"{', '.join(f'{v:+.3f}' for v in e['values'])} |" for e in effects]
    course = paired_course(rows, courses, "mep_mv") + paired_course(rows, courses, "volley")
    eff += ["", "| protocol | measure | time after the train (s) | active / sham, each over its pre mean (mean ± sd) | n |",
            "|---|---|---|---|---|"]
    eff += [f"| {c['protocol']} | {c['measure']} | {c['t_after_s']:g} | {c['mean']:.3f} ± {c['sd']:.3f} | {c['n']} |"
            for c in course]
    (Path(args.out) / "effect.md").write_text("\n".join(eff) + "\n")
    fig = plot(rows, courses, reference_course(variant), variant, seeds)
    path = save_figure(fig, args.out, NAME, also=args.figure)
    print(text + "\n" + "\n".join(eff))
    print(f"\n{len(rows)} runs in {time.perf_counter() - t0:.0f} s; tables and figure in {args.out} ({path.name})")
    return rows


if __name__ == "__main__":
    main()
