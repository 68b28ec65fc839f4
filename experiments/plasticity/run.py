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

Cost: a simulated second of the full circuit costs about 0.5 s on the shared cores the README's runs
used (106 s in 57 s), plus the analysis of the run (spectra, muscles: minutes for the long runs). The full
variant simulates about 140 s (cTBS) and 370 s (iTBS) per arm and seed, 95 s of it after the train
(the rule skips the time between probe blocks, ``plasticity.skips``). 1 Hz rTMS (``--protocols
rtms_1hz``, Chen et al. 1997) simulates its 900 s train in full, about 1000 s per arm: the rule
could skip between its pulses (its calcium is below threshold from about 0.15 s after each), but
the circuit cannot, and every pulse must reach it.

    python experiments/plasticity/run.py --protocols rtms_1hz --seeds 10 11 12 --jobs 2   # 1 Hz rTMS + sham
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Dict, List, Mapping, Optional, Sequence

import numpy as np

from circuitsim.experiments import (Point, argument_parser, configure_logging, finish, launch_options, run_points,
                                    tabulate, write_rows)

NAME = "plasticity"

FULL: Dict[str, Any] = {
    "protocols": ["ctbs_m1", "itbs_m1"],
    "seeds": [10, 11, 12, 13, 14],   # held out: tuning used 0, 1, 5
    # probes every 2.5 s from 10 s after the train: 15 in real time (10-45 s), then blocks of 4, each
    # after a skip of the rule's time (plasticity.skips) so that the block starts at 5, 10, 20, 40
    # and 60 min after the train (the sparse time course; the circuit runs 95 s after the train)
    "probes": 35, "probe_interval": 2.5, "probe_start": 10.0,   # s
    "real_probes": 15, "block": 4, "block_minutes": [5, 10, 20, 40, 60],
    "early": (30.0, 720.0),          # s after the train: the "early" ratio (0.5-12 min: the published after-effect)
    "late": (2400.0, 4000.0),        # s: the "late" ratio (40-60 min: faded?)
    "overrides": ["readout.plots=[]"],
}
QUICK: Dict[str, Any] = {
    "protocols": ["ctbs_m1"],
    "seeds": [0],
    "probes": 6, "probe_interval": 5.0, "probe_start": 40.0,
    "real_probes": 2, "block": 2, "block_minutes": [10, 60],
    "early": (30.0, 720.0),
    "late": (2400.0, 4000.0),
    # a quarter of every population (fibres per cell kept): 4x cheaper; MEPs there are not calibrated,
    # the test checks the weights and the volley
    "overrides": ["circuit.scale=0.25", "readout.plots=[]"],
}

#: what each run keeps (metrics.json keys)
MEASURES = {"mep_post_pre": "tms.mep_post_pre_ratio", "volley_post_pre": "tms.volley_post_pre_ratio",
            "mep_pre_mv": "tms.mep_amplitude_mv"}
COLUMNS = {"mep_early": "MEP 0.5-12 min / pre", "mep_late": "MEP 40-60 min / pre",
           "volley_early": "volley 0.5-12 min / pre", "volley_late": "volley 40-60 min / pre",
           "weight_early": "fibre weight change at 45 s", "weight_change": "fibre weight change at 60 min",
           "weight_max_drift": "largest fibre weight change", "mep_pre": "MEP pre (mV)",
           "cbi_pre": "CBI before", "cbi_post": "CBI after", "cbi_post_pre": "CBI after / before"}
FACTORS = ["protocol", "arm"]
ELEMENT = {"ctbs_m1": "m1.ctx_e_afferent", "itbs_m1": "m1.ctx_e_afferent", "rtms_1hz": "m1.ctx_e_afferent",
           "ctbs_cerebellum": "grc_pc", "ctbs_cerebellum_cbi": "grc_pc"}
#: protocols that are a preset with other test blocks: cerebellar cTBS with CBI measured before and
#: after the train (paired pulses, cerebellum 70 %MSO 5 ms before the m1 test pulse at 110 % RMT, as
#: the tms_cbi preset; Ugawa et al. 1995), 20 trials per condition in each block (a seed's CBI ratio
#: scatters by about +-0.3 with 10-12 pairs)
PRESET = {"ctbs_cerebellum_cbi": "ctbs_cerebellum"}
CBI_BLOCK = ["type=paired", "site=m1", "intensity=110%RMT", "++{}.conditioning={{site: cerebellum, intensity: 70%MSO}}",
             "++{}.isi=[5*ms]", "n=20", "interval=0.8*second"]
#: ... with m1 as in the tms_cbi preset: the dentate's tonic drive of the I-wave fibres, whose
#: withdrawal by the cerebellar pulse is the CBI (circuitsim.stimulation.tms_drive.TONIC_DRIVE;
#: without it the circuit has no CBI), and the ICF set (tms_config.ICF_FACILITATION)
CBI_SITES = "m1"


def cbi_sites(preset: str) -> List[str]:
    """The overrides that give the preset's m1 site the tms_cbi preset's tonic drive and ICF set, at the
    RMT measured with them (tms_config.GRADED_RMT_MSO, as tms_cbi)."""
    from circuitsim.stimulation.tms_config import GRADED_RMT_MSO, ICF_FACILITATION
    from circuitsim.stimulation.tms_drive import TONIC_DRIVE

    def value(obj):
        if isinstance(obj, Mapping):
            return "{" + ", ".join(f"{k}: {value(v)}" for k, v in obj.items()) + "}"
        return str(obj)

    node = {CBI_SITES: {"facilitation": dict(ICF_FACILITATION), "tonic_drive": dict(TONIC_DRIVE)}}
    return [f"++stim.{preset}.sites={value(node)}", f"stim.{preset}.rmt={GRADED_RMT_MSO:g}%MSO"]


def cbi_block(preset: str, index: int, start: str) -> List[str]:
    """Overrides that make block ``index`` of the preset a CBI block starting at ``start``."""
    key = f"stim.{preset}.protocol.{index}"
    return [o.format(key) if o.startswith("++") else f"{key}.{o}" for o in CBI_BLOCK] + [f"{key}.start={start}"]


def skips(variant: Mapping[str, Any], t_end: float) -> List[tuple]:
    """The rule's skips [(at, by), ...] (s): after the ``real_probes`` and then after every ``block``
    probes, halfway to the next probe, so that each block starts at its ``block_minutes`` after
    the train (``t_end``: the last train pulse)."""
    out, skipped = [], 0.0
    dt, start = variant["probe_interval"], variant["probe_start"]
    for k, minutes in enumerate(variant.get("block_minutes", [])):
        first = variant["real_probes"] + k * variant["block"]       # index of the block's first probe
        at = t_end + start + (first - 0.5) * dt
        by = 60.0 * minutes - (start + first * dt) - skipped
        if by <= 0:
            raise ValueError(f"block {k} at {minutes} min comes before its probes in real time")
        out.append((round(at, 4), round(by, 4)))
        skipped += by
    return out


def protocol_overrides(preset: str, variant: Mapping[str, Any], sham: bool) -> List[str]:
    """The preset with the post block as the probes, the train at 0 %MSO for the sham, the rule's
    skips (calcium rule only) and the duration."""
    from circuitsim import compose
    from circuitsim.spec import build_spec
    from circuitsim.stimulation.plasticity_calcium import skip_violations

    name, preset = preset, PRESET.get(preset, preset)
    if name in PRESET:   # CBI before and after the train, instead of single test pulses
        ov = [f"stim={preset}", *cbi_sites(preset), *cbi_block(preset, 0, "0.5*second"),
              *cbi_block(preset, 2, "10*second")]
    else:
        ov = [f"stim={preset}", f"stim.{preset}.protocol.2.n={variant['probes']}",
              f"stim.{preset}.protocol.2.interval={variant['probe_interval']}*second",
              f"stim.{preset}.protocol.2.start={variant['probe_start']}*second"]
    if sham:
        ov.append(f"stim.{preset}.protocol.1.intensity=0%MSO")
    spec = build_spec(compose([*ov, *variant["overrides"], "sim.duration=3600*second"]))
    stim = spec.stimuli[preset]
    table = stim["pulses"]
    t = np.asarray(table["time"], float)
    last = max(t)
    if stim["plasticity"]["rule"] == "calcium" and variant.get("block_minutes") and name not in PRESET:
        t_end = float(t[np.asarray(table["role"]) == "train"].max())
        sk = skips(variant, t_end)
        # exact only where no train's calcium is still above threshold (checked on a fibre recruited by every pulse)
        bad = skip_violations(t[np.asarray(table["site"]) == "m1"], sk, stim["plasticity"]["params"])
        if bad:
            raise ValueError(f"{preset}: a skip comes while the rule's calcium is above threshold: {bad}")
        ov.append(f"+stim.{preset}.plasticity.skips=[" + ",".join(f"{{at: {a}*second, by: {b}*second}}" for a, b in sk) + "]")
    return ov + [f"sim.duration={math.ceil((last + 0.5) * 10) / 10}*second"]


def after_train(t: np.ndarray, t_end: float, sk: Sequence[tuple]) -> np.ndarray:
    """Rule time after the train of run times ``t``: the run time since ``t_end`` plus the skips before."""
    return np.asarray(t, float) - t_end + np.array([sum(by for at, by in sk if at < x) for x in np.asarray(t, float)])


def points(variant: Mapping[str, Any]) -> List[Point]:
    return [Point(f"{p}_{arm}", protocol_overrides(p, variant, arm == "sham"), {"protocol": p, "arm": arm})
            for p in variant["protocols"] for arm in ("active", "sham")]


def probes(folder: str, preset: str) -> Dict[str, np.ndarray]:
    """Per test pulse of a finished run: time after the last train pulse (s; negative before), the MEP
    (mean over the muscles, mV; from the stored EMG with the stimulus's own measure) and the evoked
    volley (ctx_e spikes per cell), and the run's final plastic weight change."""
    import json

    from circuitsim.io.results import load_result
    from circuitsim.io.run_spec import run_spec
    from circuitsim.stimulation.tms import analyse, evoked_volley

    res = load_result(folder)
    name, preset = preset, PRESET.get(preset, preset)
    params = run_spec(res).stimuli[preset]   # the run's spec.json, not its config validated again
    table = params["pulses"]
    t = np.asarray(table["time"], float)
    role = np.asarray(table["role"])
    test = np.flatnonzero(role == "test")
    train = np.flatnonzero(role == "train")
    t_end = float(t[train].max())
    sk = list(params["plasticity"].get("skips") or [])
    out = {"t_after": after_train(t[test], t_end, sk), "block": np.asarray(table["block"])[test]}
    series = res.extra.get("muscle_series")
    if series:
        ts = np.asarray(series["time"], float)
        muscles = [k[:-4] for k in series if k.endswith(".emg")]
        readout = SimpleNamespace(muscles=muscles, emg={m: np.asarray(series[f"{m}.emg"]) for m in muscles},
                                  fs_hz=1.0 / float(ts[1] - ts[0]), time=ts)
        an = analyse(params, readout)
        out["mep_mv"] = np.mean([an["per_muscle"][m]["amplitude_v"] for m in muscles], axis=0) * 1e3
        if name in PRESET:
            out.update(cbi_blocks(an, table, test, muscles))
    pop = params["measure"]["volley_population"]
    out["volley"] = evoked_volley(res.spikes[pop][1], res.sizes[pop], t[test], params["measure"]["volley_window"])
    metrics = json.loads((Path(folder) / "metrics.json").read_text())
    w = metrics["stim"][preset].get("plasticity", {}).get(ELEMENT[name], {})
    out["weight_change"] = float(w.get("relative_change", float("nan")))
    tt, tw = fibre_course(res, preset, params) if params["plasticity"]["rule"] == "calcium" else (np.zeros(0), None)
    if tt.size:
        w0 = tw[0]
        before_skip = tt <= (sk[0][0] if sk else tt[-1])
        out["weight_early"] = float(tw[before_skip][-1] / w0 - 1)
        out["weight_max_drift"] = float(np.max(np.abs(tw / w0 - 1)))
        out["weight_t_after"] = after_train(tt, t_end, sk)
        out["weight_trace"] = tw / w0
    return out


def fibre_course(res, preset: str, params: Mapping[str, Any]):
    """Mean relative weight of the plastic fibre synapses over the run (every 0.1 s): the rule's
    reference integration for each fibre's own recruitment in this run (the same equations and
    steps as the compiled rule, which tests/test_experiment_plasticity.py checks fibre by fibre;
    the compiled rule's own trace is not kept in the run folder)."""
    from circuitsim.circuit.layout import make_layout
    from circuitsim.io.run_spec import run_spec
    from circuitsim.stimulation.plasticity_calcium import reference_weight
    from circuitsim.stimulation.tms import recruitment

    spec = run_spec(res)
    key = ELEMENT[preset]
    site, element = key.split(".")
    el = recruitment(params, make_layout(spec).indices, spec.sim.seed, preset)["elements"][key]
    t = np.asarray(params["pulses"]["time"], float)
    info = params["sites"][site]["elements"][element]
    n_fibres = info["n_fibres"]
    trains = [t[el["event_pulse"][el["event_element"] == f]] + info["delay"] for f in range(n_fibres)]
    synapses = np.bincount(el["fibre_i"], minlength=n_fibres).astype(float)
    recruited = [f for f in range(n_fibres) if trains[f].size and synapses[f] > 0]
    tt, w = reference_weight([trains[f] for f in recruited], spec.sim.duration, params["plasticity"]["params"],
                             w_max=params["plasticity"]["w_max_factor"], skips=params["plasticity"].get("skips") or ())
    w = np.atleast_2d(w)[:, ::50]
    mean = (synapses[recruited] @ w + (synapses.sum() - synapses[recruited].sum())) / synapses.sum()
    return tt[::50], mean


def cbi_blocks(an: Mapping[str, Any], table: Mapping[str, Any], test: np.ndarray, muscles: Sequence[str]) -> Dict[str, float]:
    """CBI (conditioned / unconditioned MEP, trials at rest, per muscle then averaged) in the block
    before the train and in the block after it."""
    names = np.asarray(table["conditions"], dtype=object)[np.asarray(table["condition"])[test]]
    block = np.asarray(table["block"])[test]
    out = {}
    for key, b in (("cbi_pre", block.min()), ("cbi_post", block.max())):
        ratios = []
        for m in muscles:
            amp, rest = an["per_muscle"][m]["amplitude_v"], ~np.asarray(an["per_muscle"][m]["active"], bool)
            unc = amp[(block == b) & (names == "unconditioned") & rest]
            con = amp[(block == b) & (names != "unconditioned") & rest]
            if unc.size and con.size and unc.mean() > 0:
                ratios.append(con.mean() / unc.mean())
        out[key] = float(np.mean(ratios)) if ratios else float("nan")
    return out


def late_ratio(p: Mapping[str, np.ndarray], key: str, window) -> float:
    """Mean of the probes in ``window`` (s after the train: (from, to), or a number: from then on)
    over the mean before the train."""
    if key not in p:
        return float("nan")
    lo, hi = (window, np.inf) if np.ndim(window) == 0 else window
    pre = p[key][p["t_after"] < 0]
    late = p[key][(p["t_after"] >= lo) & (p["t_after"] <= hi)]
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


def reference_course(variant: Mapping[str, Any], minutes: float = 60.0) -> Dict[str, Any]:
    """The weight of a fibre synapse recruited by every m1 pulse of each protocol (active and sham),
    from the rule's reference integration, until ``minutes`` after the train: the first minute
    integrated, then a skip of 59.8 s every 0.2 s (one point per minute)."""
    from circuitsim import compose
    from circuitsim.spec import build_spec
    from circuitsim.stimulation.plasticity_calcium import CALCIUM_DEFAULTS, RULE_DT, reference_weight

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
        n = int(minutes) - 1
        sk = [(t_end + 60.0 + 0.2 * (k + 1), 59.8) for k in range(n)]
        tt, w = reference_weight([t[pre | (role == "train")], t[pre]], t_end + 60.0 + 0.2 * n + 0.1,
                                 CALCIUM_DEFAULTS, skips=sk)
        after = after_train(tt, t_end, sk)
        keep = (after >= -5) & ((after <= 60.0) & (np.arange(tt.size) % 50 == 0) |
                                np.isin(np.arange(tt.size), [int(round(a / RULE_DT)) + 1 for a, _ in sk]))
        out[preset] = {"t_after": after[keep], "active": w[0, keep], "sham": w[1, keep]}
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
                    ax.plot(c["t_after"][post] / 60, c[key][post] / pre, color=colour, alpha=0.3, lw=0.8)
                    ys.append(c[key][post] / pre)
                if ys:
                    x = courses[[r["folder"] for r in rows if r["protocol"] == preset and r["arm"] == arm][0]]["t_after"]
                    ax.plot(x[x >= 0] / 60, np.mean(ys, axis=0), color=colour, lw=2.2, marker="o", ms=3, label=arm)
            ax.axhline(1, color="k", lw=0.6)
            ax.set_xscale("log")
            ax.set_xlim(0.1, 80)
            ax.set_xlabel("min after the train (skips between blocks)")
            ax.set_title(f"{preset}: {label}", fontsize=10)
            ax.legend(fontsize=8)
    ax = axes[0, -1]
    for preset, c in reference.items():
        ax.plot(c["t_after"] / 60, c["active"], label=f"{preset}", color="C3" if "ctbs" in preset else "C2")
        ax.plot(c["t_after"] / 60, c["sham"], color="0.5", ls="--", lw=0.8)
    ax.axhline(1, color="k", lw=0.6)
    ax.set_xscale("log")
    ax.set_xlim(0.1, 80)
    ax.set_xlabel("min after the train")
    ax.set_ylabel("relative weight")
    ax.set_title("rule: a fibre recruited by every pulse\n(reference integration; sham dashed)", fontsize=10)
    ax.legend(fontsize=8)
    ax = axes[1, -1]
    for preset in protocols:
        for arm, ls in (("active", "-"), ("sham", "--")):
            traces = [courses[r["folder"]] for r in rows if r["protocol"] == preset and r["arm"] == arm
                      and "weight_trace" in courses.get(r["folder"], {})]
            if traces:
                c = traces[0]
                keep = c["weight_t_after"] >= -5
                m = np.mean([tr["weight_trace"] for tr in traces], axis=0)
                ax.plot(c["weight_t_after"][keep] / 60, m[keep], ls=ls, lw=1.2 if arm == "active" else 0.8,
                        color=("C3" if "ctbs" in preset else "C2") if arm == "active" else "0.5",
                        label=f"{preset} {arm}")
    ax.axhline(1, color="k", lw=0.6)
    ax.set_xscale("log")
    ax.set_xlim(0.1, 80)
    ax.set_xlabel("min after the train")
    ax.set_title("mean fibre weight in the circuit (all fibre synapses)\n(mean over seeds; sham dashed)", fontsize=10)
    ax.legend(fontsize=7)
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
        for part in ("early", "late"):
            r[f"mep_{part}"] = late_ratio(c, "mep_mv", variant[part])
            r[f"volley_{part}"] = late_ratio(c, "volley", variant[part])
        r["weight_change"] = c["weight_change"]
        r["weight_early"] = c.get("weight_early", float("nan"))
        r["weight_max_drift"] = c.get("weight_max_drift", float("nan"))
        r["cbi_pre"], r["cbi_post"] = c.get("cbi_pre", float("nan")), c.get("cbi_post", float("nan"))
        r["cbi_post_pre"] = r["cbi_post"] / r["cbi_pre"] if r["cbi_pre"] > 0 else float("nan")
        r["mep_pre"] = float(c["mep_mv"][c["t_after"] < 0].mean()) if "mep_mv" in c else float("nan")
        for k in range(c["t_after"].size):
            lines.append({"protocol": r["protocol"], "arm": r["arm"], "seed": r["seed"],
                          "t_after_s": float(c["t_after"][k]),
                          "mep_mv": float(c["mep_mv"][k]) if "mep_mv" in c else float("nan"),
                          "volley_per_cell": float(c["volley"][k])})
    _, text = tabulate(rows, args.out, FACTORS, COLUMNS)
    write_rows(lines, args.out, name="timecourse")
    effects = [e for col in ("mep_early", "mep_late", "volley_early", "volley_late", "mep_post_pre", "weight_early",
                             "weight_change", "cbi_post", "cbi_post_pre") for e in paired_effect(rows, col)]
    eff = ["| protocol | measure | active - sham (mean ± sd) | n | per seed |", "|---|---|---|---|---|"]
    eff += [f"| {e['protocol']} | {e['measure']} | {e['mean']:+.3f} ± {e['sd']:.3f} | {e['n']} | "
            f"{', '.join(f'{v:+.3f}' for v in e['values'])} |" for e in effects]
    course = paired_course(rows, courses, "mep_mv") + paired_course(rows, courses, "volley")
    eff += ["", "| protocol | measure | time after the train (s) | active / sham, each over its pre mean (mean ± sd) | n |",
            "|---|---|---|---|---|"]
    eff += [f"| {c['protocol']} | {c['measure']} | {c['t_after_s']:g} | {c['mean']:.3f} ± {c['sd']:.3f} | {c['n']} |"
            for c in course]
    (Path(args.out) / "effect.md").write_text("\n".join(eff) + "\n")
    finish(plot(rows, courses, reference_course(variant), variant, seeds), text + "\n" + "\n".join(eff), len(rows), t0,
           args.out, NAME, also=args.figure)
    return rows


if __name__ == "__main__":
    main()
