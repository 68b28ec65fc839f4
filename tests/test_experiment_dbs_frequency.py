"""experiments/dbs_frequency/run.py: GPi DBS frequency sweep and amplitude x pulse-width grid.

The fast tests check the points and the absolute band power against a closed-form answer; the
slow test runs the quick variant (dystonia_network, 0/130/185 Hz and a 2 x 2 grid at 130 Hz,
2 seeds, 2 s) and checks its output: the table is complete and finite, energy and activated
fraction follow the pulse parameters, and the effects two seeds resolve hold.
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
                assert (condition, f, a0, pw0) in keys
        for a in variant["grid_amplitudes_ma"]:
            for pw in variant["grid_pulse_widths_us"]:
                assert (variant["grid_condition"], variant["grid_frequency_hz"], a, pw) in keys
        assert 0 in variant["frequencies_hz"] and max(variant["frequencies_hz"]) <= 185
    full = mod.FULL
    assert len(full["frequencies_hz"]) >= 8
    n_sweep = len(full["conditions"]) * len(full["frequencies_hz"])
    n_grid = len(full["grid_amplitudes_ma"]) * len(full["grid_pulse_widths_us"])
    assert len(mod.points(full)) == 1 + n_sweep + n_grid - 1   # reference + sweep + grid less the shared point


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
        return (match["condition"], *(float(match[k]) for k in mod.FACTORS[1:]))

    def mean(col, **match):
        return by_key[key(match)][f"{col}_mean"]

    def per_seed(col, **match):
        vals = np.array([float(r[col]) for r in runs
                         if (r["condition"], *(float(r[k]) for k in mod.FACTORS[1:])) == key(match)])
        assert vals.size == len(q["seeds"]), match
        return vals

    c, a0, pw0 = q["grid_condition"], q["amplitude_ma"], q["pulse_width_us"]
    # energy: none when off, more pulses at higher frequency, more per pulse at higher amplitude / width
    assert mean("energy_uj", condition=c, frequency_hz=0, amplitude_ma=a0, pulse_width_us=pw0) == 0
    energies = [mean("energy_uj", condition=c, frequency_hz=f, amplitude_ma=a0, pulse_width_us=pw0)
                for f in sorted(q["frequencies_hz"])]
    assert all(b > a for a, b in zip(energies, energies[1:]))
    f_grid = q["grid_frequency_hz"]
    amps, widths = sorted(q["grid_amplitudes_ma"]), sorted(q["grid_pulse_widths_us"])
    for col in ("energy_uj", "activated_fraction"):
        for pw in widths:
            vals = [mean(col, condition=c, frequency_hz=f_grid, amplitude_ma=a, pulse_width_us=pw) for a in amps]
            assert all(b > a for a, b in zip(vals, vals[1:])), (col, pw, vals)
        for a in amps:
            vals = [mean(col, condition=c, frequency_hz=f_grid, amplitude_ma=a, pulse_width_us=pw) for pw in widths]
            assert all(b > a for a, b in zip(vals, vals[1:])), (col, a, vals)
    assert mean("activated_fraction", condition=c, frequency_hz=0, amplitude_ma=a0, pulse_width_us=pw0) == 0

    # what two seeds resolve: every seed with DBS at 130 Hz below every seed without, for the
    # absolute pallidal 4-10 Hz power, and severity at the strongest grid setting
    off = dict(condition=c, frequency_hz=0, amplitude_ma=a0, pulse_width_us=pw0)
    on = dict(condition=c, frequency_hz=f_grid, amplitude_ma=a0, pulse_width_us=pw0)
    strongest = dict(condition=c, frequency_hz=f_grid, amplitude_ma=amps[-1], pulse_width_us=widths[-1])
    assert per_seed("gpi_4_10hz_abs", **on).max() < per_seed("gpi_4_10hz_abs", **off).min()
    assert per_seed("severity", **strongest).max() < per_seed("severity", **off).min()
