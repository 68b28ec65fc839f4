"""TMS measures of the healthy and the dystonic circuits: recruitment, SICI, ICF, CBI, cerebellar cTBS.

Question: do the model's dystonia conditions (``dystonia_bg``, ``dystonia_cerebellar``,
``dystonia_network``, ``dystonia_cortical``) show the TMS signs reported in patients - less short-interval intracortical
inhibition (SICI; Ridding et al. 1995) and less cerebellar-brain inhibition (CBI; Brighina et
al. 2009) than the healthy circuit - and what does cerebellar continuous theta burst stimulation
(cTBS; tried in cervical dystonia by Koch et al. 2014) do to the MEP?

Three kinds of run per condition and seed:

1. ``rc``: single pulses over m1 at fixed intensities (``rc_levels`` in % of the healthy
   circuit's RMT, :data:`circuitsim.stimulation.tms_config.GRADED_RMT_MSO` = 65 %MSO, so the same %MSO
   for every condition; 0 % = no pulse, the control for spontaneous "MEPs"), interleaved: the MEP
   recruitment (input-output) curve and the resting motor threshold, the 50 % point of a logistic
   fit of the probability of an evoked MEP (present, onset <= ``MAX_ONSET_MS``) over the trials of
   one seed and of all seeds pooled (as ``measure_motor_threshold``).
2. ``pp``: paired pulses: SICI (m1 80 % RMT 2-3 ms before a 110 % RMT test pulse), ICF (the same
   at 10-15 ms; Kujirai et al. 1993) and CBI (cerebellum 70 %MSO 5-7 ms before; Ugawa et al.
   1995), each block with interleaved test pulses alone: conditioned / unconditioned MEP, over
   muscles and ISIs whose test MEP alone is clear (>= ``MIN_REFERENCE_MV``).
3. ``ctbs`` and ``sham``: the ``ctbs_cerebellum`` preset (600 pulses in 40 s at 70 % RMT, triplet
   STDP of grc -> pc on) with test pulses (120 % RMT) before and after, and the same run with the
   train at 0 %MSO (sham): post / pre MEP. The sham shows how far the MEP and the plastic weights
   move without the train (the plasticity rule drifts).

MEPs are measured in one muscle, the rotator that does not hold the dystonic posture (``target_muscle``:
rotator_right for the conditions' default side, left, and in the healthy circuit), as TMS studies of
dystonia record from a relaxed muscle outside the dystonic posture (Ridding et al. 1995: a hand
muscle), the cerebellar cTBS MEPs too. The paired pulses over m1 carry the ICF set of the paired-pulse
presets and the dentate's tonic drive of the I-wave fibres of the CBI preset (``PP_SITES``).

Paired pulses and cTBS use the healthy RMT (65 %MSO with the graded pool) in every condition, i.e. the same stimulator
output. Every MEP measure uses only trials with the muscle at rest (pre-stimulus mean rectified EMG
below 0.1 mV, ``measure.active_level``), as ``circuitsim.stimulation.tms`` does for its ratios. The
0 %MSO level counts "MEPs" without a pulse (spontaneous bursts after a quiet pre-stimulus window).
Why a condition's threshold differs from the healthy one (volley or resting drive):
``rmt_split.py`` beside this script.

    python experiments/tms/run.py --quick      # healthy + dystonia_network, seed 0, short cTBS (~1 min with built programs)
    python experiments/tms/run.py              # 5 conditions, held-out seeds 10-14, full-length cTBS in two
    python experiments/tms/run.py --no-ctbs    # parts 1 and 2 only (about 30 min on 2 cores)
    python experiments/tms/run.py --figure docs/figures/experiments/tms.png
    python experiments/tms/run.py --only-ctbs --seeds 10 11 12 13 14   # part 3 alone (cTBS table only)

Outputs in ``--out``: ``table.md`` / ``table.csv`` (mean ± sd over seeds per condition),
``comparison.csv`` (each literature direction, the model's values and whether they agree,
also appended to ``table.md``), ``recruitment.csv`` (MEP per intensity), ``runs.csv`` (every
run) and ``tms.png``; run folders under ``runs/``.

Caveats: MEPs are measured through the TMS presets' graded pool (``pic_gain`` 12, ``RUN``), which
the readout's default does not use, so the MEP follows the cortical volley (about 2 mV at 120 % RMT,
levelling off near 4 mV above 150 %); the muscles are relaxed at rest through the readout's default ``readout.muscle.params.pool.drive_offset_hz``
(12 Hz, above the resting corticospinal drive); the quick variant's cTBS is shortened (``time_scale`` 0.05: 30 pulses in 2 s, the
preset's documented shortening) and has no seed spread.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Dict, List, Mapping, Sequence

import numpy as np

from circuitsim.experiments import (Point, argument_parser, configure_logging, hydra_value, launch_options,
                                    run_points, save_figure, summarise, write_rows, write_table)
from circuitsim.stimulation.tms_config import GRADED_PIC_GAIN, GRADED_RMT_MSO, ICF_FACILITATION
from circuitsim.stimulation.tms_drive import TONIC_DRIVE

NAME = "tms"
DT = 1e-4   # s, sim.dt of the default config (pulse times and ISIs lie on its grid)

#: trials 0.8 s apart, as the TMS presets (every after-effect of a pulse decays within ~0.5 s)
INTERVAL = "0.8*second"
#: paired-pulse intensities: test 110 % RMT, conditioning 80 % RMT (configs/stim/tms_sici.yaml;
#: Kujirai et al. 1993), cerebellar conditioning 70 %MSO (configs/stim/tms_cbi.yaml)
TEST, COND_M1, COND_CB = "110%RMT", "80%RMT", "70%MSO"
#: LICI conditioning pulse: suprathreshold, 120 % RMT (configs/stim/tms_lici.yaml; Valls-Sole et al. 1992)
COND_LICI = "120%RMT"
#: the paired-pulse runs' sites: m1 with the ICF set, as the paired-pulse presets
#: (configs/stim/tms_sici.yaml; tms_config.ICF_FACILITATION), and the dentate's tonic drive of the I-wave
#: fibres whose withdrawal by a cerebellar pulse is the CBI, as configs/stim/tms_cbi.yaml
#: (tms_drive.TONIC_DRIVE); one run holds every block, so SICI, ICF and LICI are measured with it too
PP_SITES = {"m1": {"facilitation": dict(ICF_FACILITATION), "tonic_drive": dict(TONIC_DRIVE)}}
CTBS = "ctbs_cerebellum"
#: options of every run: no figures, no spike file (only metrics and the muscle series are read)
#: the healthy RMT (%MSO) with the graded motoneuron pool of the TMS presets (tms_config.GRADED_RMT_MSO)
RMT_MSO = GRADED_RMT_MSO
RUN = ["readout.plots=[]", "readout.save_spikes=false",
       # the graded pool of the TMS presets (configs/stim/tms_*.yaml): MEPs grow with the volley
       f"++readout.muscle.params.pool.pic_gain={GRADED_PIC_GAIN}"]
#: an MEP counts as evoked when present (tms.py: >= 50 uV and >= 2 x background) with its onset at most
#: this long after the pulse (conduction delay included). Model choice: evoked MEPs here start 8-9.5 ms
#: after the pulse; the later "MEPs" of the dystonic circuits' spontaneous bursts do not count.
MAX_ONSET_MS = 12.0
#: a paired-pulse or after-effect ratio counts only when its reference (test pulse alone, or before the
#: train) gives a clear MEP: mean >= 0.5 mV (model choice; Kujirai et al. 1993 adjust the test pulse to
#: about 1 mV); ratios over near-zero references are meaningless
MIN_REFERENCE_MV = 0.5
#: the muscle the MEPs are measured in (issue 16): the rotator that does not hold the dystonic posture,
#: i.e. the other channel's than the condition's ``circuit.side`` (every dystonia condition's default
#: side is left, so rotator_right), and rotator_right in the healthy circuit (no side), so that every
#: condition is measured in the same muscle. TMS studies of dystonia record from a muscle at rest that
#: takes no part in the dystonic posture: Ridding et al. 1995 (J Neurol Neurosurg Psychiatry 59:493)
#: measured SICI in a relaxed hand muscle (first dorsal interosseous). A muscle that holds a posture
#: is not at rest and has no resting motor threshold. The other rotator is still reported
#: (``rest_fraction_posture``).
DEFAULT_TARGET = "rotator_right"


def target_muscle(side: Any) -> str:
    """The TMS target muscle for a condition whose lateralised changes act on ``side`` (None: healthy)."""
    if side is None:
        return DEFAULT_TARGET
    return {"left": "rotator_right", "right": "rotator_left"}[str(side)]

FULL = {
    "conditions": ["healthy", "dystonia_bg", "dystonia_cerebellar", "dystonia_network", "dystonia_cortical"],
    "seeds": [10, 11, 12, 13, 14],   # test seeds: the TMS sites were tuned on seeds 0, 1 and 5
    # recruitment curve: % of RMT_MSO (fixed %MSO for every condition), n trials per level
    # 0 %: no pulse, the rate of spontaneous "MEPs"; 40-65 %: the foot of the curve, below the
    # healthy threshold
    "rc_levels": [0, 40, 50, 65, 80, 90, 100, 110, 120, 135, 150, 160],
    "rc_n": 3,
    "sici_isi_ms": [2, 3], "icf_isi_ms": [10, 15], "cbi_isi_ms": [3, 5, 7],   # Kujirai 1993; Ugawa 1995
    "lici_isi_ms": [100, 150],   # Valls-Sole et al. 1992
    "pp_n": 12,                  # trials per condition (presets: 8; 5 left SICI and ICF within the trial spread,
                                 # 10 let one seed's ratio swing with the draw of pulse jitter)
    "ctbs_conditions": ["dystonia_cerebellar", "dystonia_network"],
    "ctbs_time_scale": 1.0,      # the published 40 s train (Huang et al. 2005)
    "ctbs_n_test": 8,            # test pulses before and after (preset: 10)
}
QUICK = {
    "conditions": ["healthy", "dystonia_network"],
    "seeds": [0],
    "rc_levels": [0, 40, 60, 100, 120, 160],
    "rc_n": 3,
    "sici_isi_ms": [2], "icf_isi_ms": [10], "cbi_isi_ms": [5], "lici_isi_ms": [100],
    "pp_n": 8,                   # 4 left the healthy SICI (ratio 0.28) within 2 SE of the MEP spread
    # the machinery check runs on the circuit whose muscles are at rest (in dystonia_network the
    # rotators rarely are, so its post/pre ratio may have no test pulse to count); the full variant
    # keeps the dystonic circuits
    "ctbs_conditions": ["healthy"],
    "ctbs_time_scale": 0.05,     # the preset's documented shortening: 2 s train, 30 pulses
    "ctbs_n_test": 4,
}

#: Literature directions the model is compared with. ``reference``: a number (the ratio without
#: conditioning) or a condition; ``direction``: of the condition's value against the reference.
#: ``ctbs_effect`` = post/pre MEP ratio after cTBS minus after sham.
LITERATURE = [
    {"measure": "sici_ratio", "conditions": ["healthy"], "reference": 1.0, "direction": "lower",
     "finding": "SICI: a subthreshold conditioning pulse 1-5 ms before lowers the MEP",
     "source": "Kujirai et al. 1993, J Physiol 471:501"},
    {"measure": "icf_ratio", "conditions": ["healthy"], "reference": 1.0, "direction": "higher",
     "finding": "ICF: the same pulse 8-15 ms before raises the MEP",
     "source": "Kujirai et al. 1993; Ziemann 2004"},
    {"measure": "cbi_ratio", "conditions": ["healthy"], "reference": 1.0, "direction": "lower",
     "finding": "CBI: a cerebellar pulse 5-7 ms before lowers the MEP",
     "source": "Ugawa et al. 1995, Ann Neurol 37:703"},
    {"measure": "lici_ratio", "conditions": ["healthy"], "reference": 1.0, "direction": "lower",
     "finding": "LICI: a suprathreshold pulse 50-200 ms before lowers the MEP",
     "source": "Valls-Sole et al. 1992, Electroencephalogr Clin Neurophysiol 85:355"},
    {"measure": "sici_ratio", "conditions": ["dystonia_bg", "dystonia_cerebellar", "dystonia_network",
                                             "dystonia_cortical"],
     "reference": "healthy", "direction": "higher",
     "finding": "SICI reduced in focal dystonia (ratio closer to 1)",
     "source": "Ridding et al. 1995, J Neurol Neurosurg Psychiatry 59:493"},
    {"measure": "cbi_ratio", "conditions": ["dystonia_bg", "dystonia_cerebellar", "dystonia_network",
                                            "dystonia_cortical"],
     "reference": "healthy", "direction": "higher",
     "finding": "CBI reduced (absent) in focal dystonia",
     "source": "Brighina et al. 2009, Exp Brain Res 192:651"},
    {"measure": "ctbs_effect", "conditions": ["dystonia_cerebellar", "dystonia_network"], "reference": 0.0,
     "direction": "none",
     "finding": "cerebellar cTBS in cervical dystonia: CBI and PAS plasticity change, clinical score -15 %; "
                "no change of the single-pulse MEP reported",
     "source": "Koch et al. 2014, Brain Stimul 7:564"},
]

#: columns of the per-condition table: name -> heading
COLUMNS = {
    "rmt_mso": "RMT per seed (%MSO)",
    "rmt_pooled": "RMT, seeds pooled (%MSO)",
    "rmt_vs_healthy": "RMT / healthy RMT (pooled)",
    "rest_fraction": "rc trials at rest",
    "rest_fraction_posture": "rc trials at rest, posture-side rotator",
    "p_mep_no_pulse": "P(MEP) without pulse",
    "mep_no_pulse_mv": "EMG p-p without pulse (mV)",
    "pp_rest_fraction": "pp trials at rest",
    "mep_rmt120_mv": f"MEP at {1.2 * RMT_MSO:g} %MSO (mV)",
    "mep_max_mv": "MEP max (mV)",
    "latency_ms": "latency (ms)",
    "test_mep_mv": "test MEP, paired (mV)",
    "sici_ratio": "SICI ratio",
    "icf_ratio": "ICF ratio",
    "lici_ratio": "LICI ratio",
    "cbi_ratio": "CBI ratio",
    "cbi3_ratio": "CBI ratio at 3 ms",
    "ctbs_post_pre": "cTBS post/pre",
    "sham_post_pre": "sham post/pre",
    "ctbs_effect": "cTBS - sham",
    "ctbs_grc_pc_change": "grc→pc weight, cTBS",
    "sham_grc_pc_change": "grc→pc weight, sham",
}


# ------------------------------------------------------------------------------- protocols


def _ms(values: Sequence[float]) -> List[str]:
    return [f"{v:g}*ms" for v in values]


def rc_protocol(v: Mapping[str, Any]) -> List[Dict[str, Any]]:
    return [{"type": "single", "site": "m1", "intensity": [f"{lv:g}%RMT" for lv in v["rc_levels"]],
             "n": v["rc_n"], "interval": INTERVAL, "start": "0.5*second"}]


def pp_protocol(v: Mapping[str, Any]) -> List[Dict[str, Any]]:
    def paired(site, intensity, isis, start):
        return {"type": "paired", "site": "m1", "intensity": TEST, "conditioning": {"site": site, "intensity": intensity},
                "isi": _ms(isis), "n": v["pp_n"], "interval": INTERVAL, "start": start}
    return [paired("m1", COND_M1, v["sici_isi_ms"], "0.5*second"),
            paired("m1", COND_M1, v["icf_isi_ms"], "0.8*second"),
            paired("cerebellum", COND_CB, v["cbi_isi_ms"], "0.8*second"),
            paired("m1", COND_LICI, v["lici_isi_ms"], "0.8*second")]


def duration(blocks: Sequence[Mapping[str, Any]]) -> str:
    """sim.duration that holds the protocol, its last response window and 0.2 s (rounded up to 0.1 s)."""
    from circuitsim.stimulation.protocols import generate_pulses, validate_protocol

    table = generate_pulses(validate_protocol(list(blocks), "protocol", ("m1", "cerebellum"), DT), DT)
    return f"{math.ceil((float(table.time.max()) + 0.25) * 10) / 10:g}*second"


def tms_overrides(name: str, blocks: Sequence[Mapping[str, Any]], rmt: float | None = RMT_MSO,
                  sites: Mapping[str, Any] | None = None) -> List[str]:
    node: Dict[str, Any] = {"kind": "tms", "protocol": list(blocks)}
    if rmt is not None:
        node["rmt"] = f"{rmt:.1f}%MSO"
    if sites:
        node["sites"] = dict(sites)
    return [f"+stim.{name}={hydra_value(node)}", f"sim.duration={duration(blocks)}"]


def pp_overrides(v: Mapping[str, Any], rmt: float = RMT_MSO) -> List[str]:
    """The paired-pulse run: :func:`pp_protocol` at RMT ``rmt`` (%MSO), m1 with the ICF set (``PP_SITES``)."""
    return tms_overrides("pp", pp_protocol(v), rmt, PP_SITES)


def ctbs_overrides(v: Mapping[str, Any], rmt: float, sham: bool) -> List[str]:
    """The ctbs_cerebellum preset with RMT ``rmt`` (%MSO), fewer test pulses in quick, a shortened train
    where the variant says so, and the train at 0 %MSO for the sham."""
    n, scale = v["ctbs_n_test"], v["ctbs_time_scale"]
    # the preset's protocol (configs/stim/ctbs_cerebellum.yaml) with this variant's counts, for the duration
    blocks = [{"type": "single", "site": "m1", "intensity": "120%RMT", "n": n, "interval": INTERVAL, "start": "0.5*second"},
              {"type": "theta_burst", "site": "cerebellum", "intensity": "70%RMT", "train_duration": "40*second",
               "start": "1*second", "time_scale": scale},
              {"type": "single", "site": "m1", "intensity": "120%RMT", "n": n, "interval": INTERVAL, "start": "1*second"}]
    out = [f"stim={CTBS}", f"++stim.{CTBS}.rmt={rmt:.1f}%MSO", f"stim.{CTBS}.protocol.0.n={n}",
           f"stim.{CTBS}.protocol.2.n={n}", f"stim.{CTBS}.protocol.1.time_scale={scale}",
           f"sim.duration={duration(blocks)}"]
    if sham:
        out.append(f"stim.{CTBS}.protocol.1.intensity=0%MSO")
    return out


# ------------------------------------------------------------------------------- analysis


def _metrics(folder: str) -> Dict[str, Any]:
    return json.loads((Path(folder) / "metrics.json").read_text())


def _config(folder: str) -> Dict[str, Any]:
    from circuitsim.io.results import load_result

    return load_result(folder).config


def rc_trials(run: Any, stim: str = "rc", muscles: Sequence[str] | None = None) -> Dict[str, np.ndarray]:
    """Every test pulse of a finished run (its folder, or the folder's result already loaded with
    ``load_result``) in ``muscles`` (default: the condition's :func:`target_muscle`;
    several are pooled): intensity (%MSO), peak-to-peak MEP (mV), MEP present, muscle at rest
    (pre-stimulus mean rectified EMG below ``active_level``), measured again from the stored EMG with
    the stimulus's own measure (:func:`circuitsim.stimulation.tms.analyse`)."""
    from circuitsim.io.results import load_result
    from circuitsim.io.run_spec import run_spec
    from circuitsim.stimulation.tms import analyse

    res = load_result(run) if isinstance(run, (str, Path)) else run
    params = run_spec(res).stimuli[stim]
    series = res.extra["muscle_series"]
    t = np.asarray(series["time"], float)
    recorded = [k[:-4] for k in series if k.endswith(".emg")]
    readout = SimpleNamespace(muscles=recorded, emg={m: np.asarray(series[f"{m}.emg"]) for m in recorded},
                              fs_hz=1.0 / float(t[1] - t[0]), time=t)
    an = analyse(params, readout)
    chosen = list(muscles) if muscles is not None else [target_muscle(res.config["circuit"].get("side"))]
    per = [an["per_muscle"][m] for m in chosen]
    latency = np.concatenate([m["latency_s"] for m in per]) * 1e3
    present = np.concatenate([m["present"] for m in per])
    return {"mso": np.tile(an["mso"][an["test_index"]], len(chosen)),
            "amp_mv": np.concatenate([m["amplitude_v"] for m in per]) * 1e3,
            "present": present, "evoked": present & (np.nan_to_num(latency, nan=np.inf) <= MAX_ONSET_MS),
            "rest": ~np.concatenate([m["active"] for m in per])}


def curve(trials: Mapping[str, np.ndarray]) -> Dict[float, Dict[str, float]]:
    """Per intensity (%MSO), over the trials at rest: mean MEP (NaN without one), the fraction with an
    evoked MEP, and their number."""
    out = {}
    for x in np.unique(np.round(trials["mso"], 6)):
        sel = np.isclose(trials["mso"], x) & trials["rest"]
        out[float(x)] = {"mep_mv": float(trials["amp_mv"][sel].mean()) if sel.any() else float("nan"),
                         "p_evoked": float(trials["evoked"][sel].mean()) if sel.any() else float("nan"),
                         "n_rest": int(sel.sum())}
    return out


def motor_threshold(trials: Sequence[Mapping[str, np.ndarray]]) -> float:
    """RMT (%MSO): logistic fit of the evoked-MEP probability over the trials at rest (pooled), as
    :func:`circuitsim.stimulation.tms.measure_motor_threshold` pools seeds; NaN when it cannot be fitted
    (no trial at rest, or an MEP in every one or in none) or lies outside the tested pulse intensities."""
    from circuitsim.stimulation.tms import fit_motor_threshold

    x = np.concatenate([t["mso"][t["rest"]] for t in trials])
    y = np.concatenate([t["evoked"][t["rest"]] for t in trials])
    if not x.size or not np.any(x > 0):
        return float("nan")
    fit = fit_motor_threshold(x, y)["threshold"]
    return fit if math.isfinite(fit) and x[x > 0].min() <= fit <= x.max() else float("nan")


def paired_ratios(per_muscle: Mapping[str, Any]) -> Dict[str, float]:
    """SICI, ICF, LICI and CBI ratios of one run: the mean over muscles and ISIs of conditioned /
    unconditioned MEP (trials at rest, as in metrics.json), leaving out a muscle's block whose test MEP
    alone is below :data:`MIN_REFERENCE_MV`; ``n_<kind>``: the ratios that count. CBI averages 5-7 ms
    (Ugawa et al. 1995); ``cbi3_ratio`` is the 3-ms interval, where there should be none."""
    out: Dict[str, float] = {}
    for kind, keep in (("sici", None), ("icf", None), ("lici", None), ("cbi", lambda k: not k.endswith("_3ms")),
                       ("cbi3", lambda k: k.endswith("_3ms"))):
        prefix = "cbi_" if kind == "cbi3" else kind + "_"
        vals = [d["ratio"] for pm in per_muscle.values() for k, d in pm.get("paired", {}).items()
                if k.startswith(prefix) and (keep is None or keep(k)) and d["unconditioned_mv"] >= MIN_REFERENCE_MV]
        out[f"{kind}_ratio"] = float(np.mean(vals)) if vals else float("nan")
        out[f"n_{kind}"] = len(vals)
    return out


def compare(table: Sequence[Mapping[str, Any]], literature=LITERATURE) -> List[Dict[str, Any]]:
    """Each literature direction against the model: the condition's mean, the reference's mean, and
    ``agrees``: the sign of the difference against the stated direction, and whether the difference
    exceeds twice its standard error over seeds (model choice; with one seed it cannot)."""
    by = {line["condition"]: line for line in table}
    out = []
    for item in literature:
        for cond in item["conditions"]:
            if cond not in by:
                continue
            m, s, n = by[cond][f"{item['measure']}_mean"], by[cond][f"{item['measure']}_sd"], by[cond]["n"]
            ref = item["reference"]
            if isinstance(ref, str):
                if ref not in by:
                    continue
                r, rs, rn = by[ref][f"{item['measure']}_mean"], by[ref][f"{item['measure']}_sd"], by[ref]["n"]
                se = math.sqrt(s ** 2 / n + rs ** 2 / rn)
                ref_text = f"{ref} {r:.3g}"
            else:
                r, se, ref_text = float(ref), s / math.sqrt(n), f"{float(ref):g}"
            diff = m - r
            beyond = math.isfinite(se) and se > 0 and abs(diff) > 2 * se
            if not math.isfinite(diff):
                verdict = "not measured"
            elif item["direction"] == "none":
                verdict = "no: changed beyond 2 SE" if beyond else (
                    "yes: no change beyond 2 SE" if math.isfinite(se) else "no change? (1 seed, no spread)")
            else:
                same = (diff < 0) if item["direction"] == "lower" else (diff > 0)
                if not math.isfinite(se):
                    verdict = ("same direction" if same else "opposite") + " (1 seed, no spread)"
                elif same:
                    verdict = "yes" if beyond else "same direction, within 2 SE"
                else:
                    verdict = "no: opposite" + ("" if beyond else ", within 2 SE")
            out.append({"measure": item["measure"], "condition": cond, "model": m, "model_sd": s,
                        "reference": ref_text, "literature": f"{item['direction']} than {ref_text.split(' ')[0]}"
                        if item["direction"] != "none" else "no change",
                        "finding": item["finding"], "source": item["source"], "agrees": verdict})
    return out


def comparison_markdown(rows: Sequence[Mapping[str, Any]]) -> str:
    lines = ["| measure | condition | model (mean ± sd) | reference | literature | agrees | source |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        model = f"{r['model']:.3g}" + (f" ± {r['model_sd']:.2g}" if math.isfinite(r["model_sd"]) else "")
        lines.append(f"| {r['measure']} | {r['condition']} | {model} | {r['reference']} | {r['literature']} | "
                     f"{r['agrees']} | {r['source']} |")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------ figure


def plot(rc: Sequence[Mapping[str, Any]], table: Sequence[Mapping[str, Any]], per_run: Sequence[Mapping[str, Any]],
         conditions: Sequence[str], title: str):
    from matplotlib.figure import Figure

    colours = dict(zip(FULL["conditions"], ["k", "tab:blue", "tab:orange", "tab:red", "tab:green"]))
    fig = Figure(figsize=(14, 4.2), layout="constrained")
    ax_rc, ax_pp, ax_tb = fig.subplots(1, 3, width_ratios=[1.1, 1.2, 1])
    by = {line["condition"]: line for line in table}
    # recruitment curves
    for cond in conditions:
        pts = [r for r in rc if r["condition"] == cond]
        x = np.array([r["intensity_mso"] for r in pts])
        m = np.array([r["mep_mv_mean"] for r in pts])
        s = np.nan_to_num(np.array([r["mep_mv_sd"] for r in pts]))
        c = colours.get(cond, None)
        ax_rc.errorbar(x, m, yerr=s, marker="o", ms=4, capsize=3, color=c, label=cond)
        rmt = by[cond]["rmt_pooled_mean"]
        if math.isfinite(rmt):
            ax_rc.axvline(rmt, color=c, ls=":", lw=1)
    ax_rc.set_xlabel("intensity (%MSO); dotted: each condition's fitted RMT")
    ax_rc.set_ylabel("MEP peak-to-peak (mV)")
    ax_rc.set_title("recruitment curve (mean ± sd over seeds)", fontsize=10)
    top = ax_rc.secondary_xaxis("top", functions=(lambda v: v / RMT_MSO * 100,
                                                  lambda v: v * RMT_MSO / 100))
    top.set_xlabel(f"% of the healthy RMT ({RMT_MSO:g} %MSO)", fontsize=8)
    ax_rc.legend(fontsize=8)
    # paired-pulse ratios
    kinds = [("sici_ratio", "SICI\n2-3 ms"), ("icf_ratio", "ICF\n10-15 ms"), ("lici_ratio", "LICI\n100-150 ms"),
             ("cbi3_ratio", "CBI\n3 ms"), ("cbi_ratio", "CBI\n5-7 ms")]
    width = 0.8 / max(1, len(conditions))
    for k, cond in enumerate(conditions):
        xs = np.arange(len(kinds)) + (k - (len(conditions) - 1) / 2) * width
        means = [by[cond][f"{key}_mean"] for key, _ in kinds]
        sds = [np.nan_to_num(by[cond][f"{key}_sd"]) for key, _ in kinds]
        ax_pp.bar(xs, means, width, yerr=sds, capsize=2, color=colours.get(cond), alpha=0.75, label=cond)
        for j, (key, _) in enumerate(kinds):
            vals = [r[key] for r in per_run if r["condition"] == cond and math.isfinite(r.get(key, np.nan))]
            ax_pp.plot([xs[j]] * len(vals), vals, ".", color="0.3", ms=4)
    ax_pp.axhline(1, color="0.5", lw=0.8)
    ax_pp.set_xticks(range(len(kinds)), [label for _, label in kinds])
    ax_pp.set_ylabel("conditioned / test alone")
    ax_pp.set_title(f"paired-pulse ratios, intensities in % of {RMT_MSO:g} %MSO (dots: seeds)", fontsize=10)
    ax_pp.legend(fontsize=7)
    # cTBS before/after
    tb = [c for c in conditions if math.isfinite(by[c].get("ctbs_post_pre_mean", np.nan))]
    labels, k = [], 0
    for cond in tb:
        for arm in ("sham", "ctbs"):
            runs = [r for r in per_run if r["condition"] == cond and math.isfinite(r.get(f"{arm}_pre_mv", np.nan))]
            pre = np.array([r[f"{arm}_pre_mv"] for r in runs])
            post = np.array([r[f"{arm}_post_mv"] for r in runs])
            if runs:   # no bar where no seed has a clear MEP before the train
                ax_tb.bar([k - 0.16, k + 0.16], [pre.mean(), post.mean()], 0.3,
                          color=[colours.get(cond), colours.get(cond)], alpha=[0.35, 0.8][arm == "ctbs"],
                          edgecolor="k", lw=0.5)
            for a, b in zip(pre, post):
                ax_tb.plot([k - 0.16, k + 0.16], [a, b], "o-", color="0.25", lw=0.8, ms=3)
            labels.append(f"{cond.replace('dystonia_', 'dyst. ')}\n{arm}")
            k += 1
    if not labels:
        ax_tb.text(0.5, 0.5, "not run (--no-ctbs)", ha="center", va="center", transform=ax_tb.transAxes)
    ax_tb.set_xticks(range(len(labels)), labels, fontsize=8)
    ax_tb.set_ylabel("test MEP (mV): left bar before, right after")
    ax_tb.set_title("cerebellar cTBS vs sham: test MEP before and after", fontsize=10)
    fig.suptitle(title, fontsize=10)
    return fig


def _ctbs_part(v: Mapping[str, Any], c: str, seeds: Sequence[int], runs: Dict[tuple, Dict[str, Any]], out: Path,
               args, t0: float) -> None:
    """Part 3 for condition ``c``: cerebellar cTBS and sham per seed, into ``runs[(c, seed)]``."""
    for s in seeds:
        rec = runs[(c, s)]
        for arm in ("ctbs", "sham"):
            p = Point(f"{arm}_{c}", [f"condition={c}", *RUN,
                                      *ctbs_overrides(v, RMT_MSO, sham=arm == "sham")])
            row = run_points([p], [s], out, {"post_pre_all": "tms.mep_post_pre_ratio",
                                             "w": f"stim.{CTBS}.plasticity.grc_pc.relative_change"},
                             resume=args.resume, progress=False, **launch_options(args))[0]
            # the target muscle only (target_muscle), as the recruitment curve and the paired pulses
            target = target_muscle(_config(row["folder"])["circuit"].get("side"))
            per_muscle = [pm for m, pm in _metrics(row["folder"])["tms"]["per_muscle"].items() if m == target]
            # post / pre (trials at rest), where the MEP before the train is clear
            counted = [pm for pm in per_muscle
                       if pm.get("mep_pre_mv", 0.0) >= MIN_REFERENCE_MV and pm.get("mep_post_pre_ratio") is not None]

            def over_counted(key: str) -> float:
                return float(np.mean([pm[key] for pm in counted])) if counted else float("nan")
            rec[f"{arm}_post_pre"] = over_counted("mep_post_pre_ratio")
            rec[f"{arm}_post_pre_all"] = row["post_pre_all"]
            rec[f"{arm}_pre_mv"] = over_counted("mep_pre_mv")
            rec[f"{arm}_post_mv"] = over_counted("mep_post_mv")
            rec[f"{arm}_grc_pc_change"] = row["w"]
        rec["ctbs_effect"] = rec["ctbs_post_pre"] - rec["sham_post_pre"]
        print(f"  cTBS {c} seed {s}: post/pre {rec['ctbs_post_pre']:.3f} (sham {rec['sham_post_pre']:.3f}), "
              f"grc->pc {rec['ctbs_grc_pc_change']:+.2f} (sham {rec['sham_grc_pc_change']:+.2f}) "
              f"({time.perf_counter() - t0:.0f} s)", flush=True)


def _only_ctbs(v: Mapping[str, Any], seeds: Sequence[int], out: Path, args, t0: float) -> List[Dict[str, Any]]:
    """``--only-ctbs``: part 3 alone (its conditions, the healthy RMT), a table of its columns."""
    runs = {(c, s): {"condition": c, "seed": s} for c in v["ctbs_conditions"] for s in seeds}
    for c in v["ctbs_conditions"]:
        _ctbs_part(v, c, seeds, runs, out, args, t0)
    per_run = list(runs.values())
    write_rows(per_run, out)
    cols = {k: COLUMNS[k] for k in COLUMNS if k.startswith(("ctbs", "sham"))}
    table = summarise(per_run, by=["condition"], columns=list(cols))
    print(write_table(table, out, by=["condition"], columns=cols))
    print(f"\n{len(per_run)} condition x seed combinations in {time.perf_counter() - t0:.0f} s; results in {out}")
    return per_run


# -------------------------------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> List[Dict[str, Any]]:
    parser = argument_parser(__doc__, default_out=f"{NAME}_out")
    parser.add_argument("--no-ctbs", dest="ctbs", action="store_false",
                        help="leave out the cerebellar cTBS and sham runs (part 3)")
    parser.add_argument("--only-ctbs", action="store_true",
                        help="run only the cerebellar cTBS and sham runs (part 3); table of its columns, no figure")
    parser.add_argument("--conditions", nargs="+", default=None, choices=FULL["conditions"],
                        help="only these conditions (default: the variant's; e.g. healthy with --no-ctbs)")
    args = parser.parse_args(argv)
    configure_logging()
    v = dict(QUICK if args.quick else FULL)
    if args.conditions:   # the cTBS part runs for those of its conditions that are chosen
        v["conditions"] = list(args.conditions)
        v["ctbs_conditions"] = [c for c in v["ctbs_conditions"] if c in v["conditions"]]
    seeds = args.seeds if args.seeds is not None else v["seeds"]
    out = Path(args.out)
    t0 = time.perf_counter()

    if args.only_ctbs:
        return _only_ctbs(v, seeds, out, args, t0)
    # 1. recruitment curve and the motor threshold (trials at rest only)
    rc_blocks = rc_protocol(v)
    points = [Point(f"rc_{c}", [f"condition={c}", *RUN, *tms_overrides("rc", rc_blocks)],
                    {"condition": c}) for c in v["conditions"]]
    rc_rows = run_points(points, seeds, out, {"latency_ms": "tms.mep_latency_ms", "rc_build_reused": "run.build_reused"},
                         resume=args.resume, **launch_options(args))
    runs: Dict[tuple, Dict[str, Any]] = {}
    curve_rows, trials = [], {}
    from circuitsim.io.results import load_result

    for row in rc_rows:
        res = load_result(row["folder"])   # once: both muscles' trials and the side come from it
        tr = trials[(row["condition"], row["seed"])] = rc_trials(res)
        target = target_muscle(res.config["circuit"].get("side"))
        other = [m for m in ("rotator_left", "rotator_right") if m != target]
        posture = rc_trials(res, muscles=other)
        levels = curve(tr)
        at120 = min(levels, key=lambda x: abs(x - 1.2 * RMT_MSO))
        runs[(row["condition"], row["seed"])] = {
            "condition": row["condition"], "seed": row["seed"], "rmt_mso": motor_threshold([tr]),
            "target_muscle": target, "rest_fraction": float(tr["rest"].mean()),
            "rest_fraction_posture": float(posture["rest"].mean()), "latency_ms": row["latency_ms"],
            "mep_rmt120_mv": levels[at120]["mep_mv"], "mep_max_mv": float(np.nanmax([d["mep_mv"] for d in levels.values()])),
            "p_mep_no_pulse": levels.get(0.0, {}).get("p_evoked", float("nan")),
            "mep_no_pulse_mv": levels.get(0.0, {}).get("mep_mv", float("nan")),
            "rc_build_reused": row["rc_build_reused"]}
        curve_rows += [{"condition": row["condition"], "seed": row["seed"], "intensity_mso": x, **d}
                       for x, d in levels.items()]
    # each condition's RMT from the trials of all its seeds (reported; the dystonic circuits' spontaneous
    # bursts make it unreliable, so the stimuli below use the healthy RMT, i.e. the same %MSO everywhere)
    for c in v["conditions"]:
        fit = motor_threshold([trials[(c, s)] for s in seeds])
        for s in seeds:
            runs[(c, s)]["rmt_pooled"] = fit
    healthy = runs.get(("healthy", seeds[0]), {}).get("rmt_pooled", float("nan"))
    for rec in runs.values():   # each condition's pooled RMT against the healthy one (issue: within +-10 %)
        rec["rmt_vs_healthy"] = rec["rmt_pooled"] / healthy if math.isfinite(healthy) else float("nan")

    # 2. paired pulses at the healthy circuit's RMT (RMT_MSO)
    points = [Point(f"pp_{c}", [f"condition={c}", *RUN, *pp_overrides(v)], {"condition": c})
              for c in v["conditions"]]
    # every run at once (in parallel with --jobs), then each run's ratios
    pp_rows = run_points(points, seeds, out, {"sici_ratio_all": "tms.sici_ratio", "icf_ratio_all": "tms.icf_ratio",
                                              "cbi_ratio_all": "tms.cbi_ratio", "lici_ratio_all": "tms.lici_ratio"},
                         resume=args.resume, **launch_options(args))
    for row in pp_rows:
        s = row["seed"]
        rec = runs[(row["condition"], s)]
        rec.update({k: row[k] for k in ("sici_ratio_all", "icf_ratio_all", "cbi_ratio_all", "lici_ratio_all")})
        # the target muscle only (target_muscle), as the recruitment curve
        per_muscle = {m: d for m, d in _metrics(row["folder"])["tms"]["per_muscle"].items()
                      if m == rec["target_muscle"]}
        rec.update(paired_ratios(per_muscle))
        rec["test_mep_mv"] = float(np.mean([d["unconditioned_mv"] for pm in per_muscle.values()
                                            for d in pm.get("paired", {}).values()] or [np.nan]))
        # conditioned trials at rest (the ratios use only those) of all conditioned trials
        n_isi = len(v["sici_isi_ms"]) + len(v["icf_isi_ms"]) + len(v["cbi_isi_ms"]) + len(v["lici_isi_ms"])
        rec["pp_rest_fraction"] = sum(d["n"] for pm in per_muscle.values() for d in pm.get("paired", {}).values()) / (
            n_isi * v["pp_n"] * len(per_muscle))
        for key in sorted({k for pm in per_muscle.values() for k in pm.get("paired", {})}):
            rec[f"ratio_{key}"] = float(np.mean([pm["paired"][key]["ratio"] for pm in per_muscle.values()
                                                 if key in pm.get("paired", {})]))
        print(f"  paired pulses {row['condition']} seed {s}: SICI {rec['sici_ratio']:.2f}, ICF {rec['icf_ratio']:.2f}, LICI {rec['lici_ratio']:.2f}, CBI {rec['cbi_ratio']:.2f}, test MEP "
              f"{rec['test_mep_mv']:.2f} mV, conditioned trials at rest "
              f"{rec['pp_rest_fraction']:.0%} ({time.perf_counter() - t0:.0f} s)", flush=True)

    # 3. cerebellar cTBS and sham, plasticity on
    for c in (v["ctbs_conditions"] if args.ctbs else []):
        if c not in v["conditions"]:
            raise ValueError(f"ctbs condition {c!r} must also be in the variant's conditions (the table is by condition)")
        _ctbs_part(v, c, seeds, runs, out, args, t0)

    per_run = list(runs.values())
    write_rows(per_run, out)
    write_rows(curve_rows, out, name="recruitment_runs")
    rc_table = summarise(curve_rows, by=["condition", "intensity_mso"], columns=["mep_mv", "n_rest"])
    write_rows(rc_table, out, name="recruitment")
    table = summarise(per_run, by=["condition"], columns=list(COLUMNS))
    text = write_table(table, out, by=["condition"], columns=COLUMNS)
    comp = compare(table)
    write_rows(comp, out, name="comparison")
    comp_text = comparison_markdown(comp)
    with open(out / "table.md", "a") as fh:
        fh.write("\n" + comp_text + "\n")
    fig = plot(rc_table, table, per_run, v["conditions"],
               f"TMS in healthy and dystonic circuits ({'quick' if args.quick else 'full'}: seeds {list(seeds)}, "
               f"cTBS time_scale {v['ctbs_time_scale']:g})")
    save_figure(fig, out, NAME, also=args.figure)
    print(text)
    print()
    print(comp_text)
    print(f"\n{len(per_run)} condition x seed combinations in {time.perf_counter() - t0:.0f} s; results in {out}")
    return per_run


if __name__ == "__main__":
    main()
