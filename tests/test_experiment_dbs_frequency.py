"""experiments/dbs_frequency/run.py: GPi DBS frequency sweep and the severity improvement.

The fast tests check the points, the paired improvement and the absolute band power against
closed-form answers; the slow test runs the quick variant (dystonia_bg, 0 and 130 Hz, seed 0,
2 s) and checks its output: the table is complete and finite, energy and activated fraction
follow the pulses, the stimulated synapses depress and the GPi cells the pulses do not excite
fire less than the whole GPi without stimulation.
"""

import csv
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from circuitsim.experiments import load_experiment

SCRIPT = Path(__file__).resolve().parents[1] / "experiments" / "dbs_frequency" / "run.py"


def _load():
    return load_experiment(SCRIPT)


def test_points_cover_sweep_grid_and_reference_once():
    mod = _load()
    for variant in (mod.QUICK, mod.FULL):
        pts = mod.points(variant)
        labels = [p.label for p in pts]
        assert len(labels) == len(set(labels))
        keys = {tuple(p.factors[k] for k in mod.FACTORS) for p in pts}
        a0, pw0 = variant["amplitude_ma"], variant["pulse_width_us"]
        for condition in variant["conditions"]:
            for f in variant["frequencies_hz"]:
                assert (condition, f, a0, pw0, mod.DEFAULT) in keys
        for a in variant["grid_amplitudes_ma"]:
            for pw in variant["grid_pulse_widths_us"]:
                assert (variant["grid_condition"], variant["grid_frequency_hz"], a, pw, mod.DEFAULT) in keys
        assert 0 in variant["frequencies_hz"] and max(variant["frequencies_hz"]) <= 185
    full = mod.FULL
    assert len(full["frequencies_hz"]) >= 3 and len(full["conditions"]) == 4
    assert not set(full["seeds"]) & {0, 1, 5} and len(full["seeds"]) >= 5      # held-out seeds
    n_sweep = len(full["conditions"]) * len(full["frequencies_hz"])
    n_grid = len(full["grid_amplitudes_ma"]) * len(full["grid_pulse_widths_us"])
    n_sens = len(full["sensitivity_conditions"])
    n_side = 2 * sum(len(scales) for scales in full["side_sensitivity"].values())    # off and on per scale
    # reference + sweep + grid (sharing one point) + sensitivity
    n_anti = len(full["antidromic_conditions"])
    assert len(mod.points(full)) == 1 + n_sweep + n_grid - 1 + n_sens + n_side + n_anti
    side = [p for p in mod.points(full) if f"{mod.SIDE_PATHWAY}.side_scale" in " ".join(p.overrides)]
    assert {p.factors["frequency_hz"] for p in side} == {0.0, float(full["grid_frequency_hz"])}
    assert len({p.factors["condition"] for p in side}) == n_side // 2     # a table row of its own
    # the sensitivity changes a side_scale the condition itself sets (not one it does not have)
    from circuitsim import compose

    for condition in full["side_sensitivity"]:
        own = compose([f"condition={condition}"]).circuit.pathways[mod.SIDE_PATHWAY]
        assert own.get("side_scale") not in (None, 1), condition


def test_improvement_is_paired_by_seed():
    mod = _load()
    rows = [{"condition": "c", "frequency_hz": f, "amplitude_ma": 3.0, "pulse_width_us": 100.0, "seed": s,
             "severity": sev} for f, s, sev in ((0, 1, 0.4), (0, 2, 0.2), (130, 1, 0.2), (130, 2, 0.2), (20, 1, 0.6))]
    table = {t["frequency_hz"]: t for t in mod.improvement(rows)}
    assert table[130]["improvement_pct_mean"] == pytest.approx(25.0) and table[130]["n"] == 2   # (50 + 0) / 2
    assert table[20]["improvement_pct_mean"] == pytest.approx(-50.0) and table[20]["n"] == 1
    assert 0 not in table


def test_absolute_band_power_of_a_sine():
    mod = _load()
    fs, amp = 1000.0, 2e-9                   # 2 nA at 6 Hz: power amp**2 / 2 = 2 nA^2
    t = np.arange(0, 4.2, 1 / fs)
    x = amp * np.sin(2 * np.pi * 6.0 * t)
    res = SimpleNamespace(lfp={"gpi": x}, lfp_dt=1 / fs, metrics={"run": {"transient_s": 0.2}})
    assert mod.absolute_band_power(res, "gpi", (4.0, 10.0)) == pytest.approx(2.0, rel=0.05)
    assert mod.absolute_band_power(res, "gpi", (20.0, 30.0)) < 0.01
    assert math.isnan(mod.absolute_band_power(res, "stn"))


def _rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.slow
def test_quick_variant(tmp_path):
    mod = _load()
    q = mod.QUICK
    table = mod.main(["--quick", "--out", str(tmp_path)])
    for name in ("table.md", "table.csv", "runs.csv", "dbs_frequency.png"):
        assert (tmp_path / name).is_file(), name
    assert len(table) == len(mod.points(q))
    for line in table:
        assert line["n"] == len(q["seeds"])
        for col in mod.COLUMNS:
            assert math.isfinite(line[f"{col}_mean"]), (line["condition"], line["frequency_hz"], col)
    runs = _rows(tmp_path / "runs.csv")
    assert len(runs) == len(table) * len(q["seeds"])

    by_key = {tuple(line[k] for k in mod.FACTORS): line for line in table}

    def key(match):
        return (match["condition"], *(float(match[k]) for k in mod.FACTORS[1:4]), mod.DEFAULT)

    def mean(col, **match):
        return by_key[key(match)][f"{col}_mean"]

    c, a0, pw0 = q["conditions"][0], q["amplitude_ma"], q["pulse_width_us"]
    off = dict(condition=c, frequency_hz=0, amplitude_ma=a0, pulse_width_us=pw0)
    on = dict(condition=c, frequency_hz=130, amplitude_ma=a0, pulse_width_us=pw0)
    assert mean("energy_uj", **off) == 0 and mean("energy_uj", **on) > 0
    assert mean("activated_fraction", **off) == 0 and 0 < mean("activated_fraction", **on) < 1
    # the stimulated synapses depress to the Tsodyks-Markram steady state at 130 Hz
    assert mean("release_efficacy", **on) < 0.15 and mean("release_efficacy", **off) == 1.0
    # the GPi cells the pulses do not excite are inhibited (Chiken & Nambu 2013)
    assert mean("gpi_quiet_rate_hz", **on) < 0.5 * mean("gpi_quiet_rate_hz", **off)
    assert (tmp_path / "improvement.md").is_file()
    assert (tmp_path / "decomposition.md").is_file()
    for r in runs:   # the tremor sub-score, what the severity leaves after the other two, is a sub-score
        assert -1e-9 <= float(r["sub_tremor"]) <= 1 + 1e-9 and 0 <= float(r["sub_posture"]) <= 1
        assert float(r["thal_left_hz"]) > 0 and float(r["thal_right_hz"]) > 0
