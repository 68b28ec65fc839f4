"""experiments/closed_loop/run.py: closed-loop versus continuous GPi DBS, severity against energy.

The fast tests check the points (every controller validates as a config), the energy column and
the stored controller trace; the slow test runs the quick variant (off, continuous at 1 and 3 mA,
an on-off and a proportional controller; dystonia_network, seed 0, 2 s) and checks its output:
the table is complete and finite, no energy without pulses, more with amplitude, and less in
closed loop than continuous at the same (maximum) amplitude.
"""

import csv
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from circuitsim.experiments import load_experiment

SCRIPT = Path(__file__).resolve().parents[1] / "experiments" / "closed_loop" / "run.py"


def _load():
    return load_experiment(SCRIPT)


def test_every_point_is_a_valid_config():
    from circuitsim import compose
    from circuitsim.spec import build_spec

    mod = _load()
    pts = mod.points(mod.FULL)
    assert len({p.label for p in pts}) == len(pts)
    kinds = {p.factors["kind"] for p in pts}
    assert {"off", "continuous", "on_off", "proportional", "pid"} <= kinds
    for p in pts:
        spec = build_spec(compose([*mod.base_overrides(mod.FULL), *p.overrides]))
        closed = p.factors["kind"] not in ("off", "continuous")
        name = mod.CLOSED if closed else mod.OPEN
        assert name in spec.stimuli, p.label
        controller = spec.stimuli[name]["controller"]
        if closed:
            assert controller["mode"] == p.factors["kind"]
        else:
            assert controller is None
    with pytest.raises(ValueError, match="unknown controller"):
        mod.points({**mod.QUICK, "closed_loop": ["no_such_controller"]})


def test_energy_column_and_trace_store(tmp_path):
    mod = _load()
    rows = [{"energy_open": 5.0, "energy_closed": float("nan")}, {"energy_open": float("nan"), "energy_closed": 2.0}]
    mod.merge_energy(rows)
    assert [r["energy_uj"] for r in rows] == [5.0, 2.0] and "energy_open" not in rows[0]
    trace = {"t": [0.0, 0.1], "biomarker": [float("nan"), 0.3], "level": [0.0, 1.0]}
    fresh = SimpleNamespace(folder=tmp_path, extra={"stim_data": {mod.CLOSED: {"controller": trace}}})
    assert mod.store_trace(fresh) == 1.0
    resumed = SimpleNamespace(folder=tmp_path, extra={})
    assert mod.store_trace(resumed) == 1.0
    back = mod.load_trace(tmp_path)
    assert np.array_equal(back["level"], [0.0, 1.0]) and np.isnan(back["biomarker"][0])
    assert math.isnan(mod.store_trace(SimpleNamespace(folder=tmp_path / "open", extra={})))


@pytest.mark.slow
def test_quick_variant(tmp_path):
    mod = _load()
    q = mod.QUICK
    table = mod.main(["--quick", "--out", str(tmp_path)])
    for name in ("table.md", "table.csv", "runs.csv", "closed_loop.png"):
        assert (tmp_path / name).is_file(), name
    assert len(table) == len(mod.points(q))
    with open(tmp_path / "runs.csv", newline="") as fh:
        runs = list(csv.DictReader(fh))
    assert len(runs) == len(table) * len(q["seeds"])
    closed_kinds = ("on_off", "proportional", "pid")
    for line in table:
        for col in ("severity", "co_contraction", "gpi_4_10hz_abs", "energy_uj"):
            assert math.isfinite(line[f"{col}_mean"]), (line["setting"], col)
        for col in ("fraction_on", "mean_amplitude_ma", "mean_biomarker"):
            assert math.isfinite(line[f"{col}_mean"]) == (line["kind"] in closed_kinds), (line["setting"], col)

    def energy(kind, setting=None):
        hit = [line for line in table if line["kind"] == kind and (setting is None or line["setting"] == setting)]
        return [line["energy_uj_mean"] for line in hit]

    assert energy("off") == [0.0]
    continuous = {a: energy("continuous", f"{a:g} mA")[0] for a in q["continuous_ma"]}
    amps = sorted(continuous)
    assert all(continuous[b] > continuous[a] > 0 for a, b in zip(amps, amps[1:]))
    # closed loop at the same maximum amplitude delivers less (it is off or lower part of the time)
    assert q["max_amplitude_ma"] in continuous
    closed = [line for line in table if line["kind"] in closed_kinds]
    assert closed
    for line in closed:
        assert 0 <= line["energy_uj_mean"] < continuous[q["max_amplitude_ma"]], line["setting"]
        assert 0 <= line["fraction_on_mean"] <= 1
        assert 0 <= line["mean_amplitude_ma_mean"] <= q["max_amplitude_ma"]
    # every closed-loop run kept its controller trace: a level in [0, 1] per control period,
    # 0 until the first window is full
    for row in runs:
        trace = mod.load_trace(row["folder"])
        if row["kind"] in closed_kinds:
            assert trace is not None and trace["t"].size > 0
            assert np.all((trace["level"] >= 0) & (trace["level"] <= 1))
            assert np.all(trace["level"][np.isnan(trace["biomarker"])] == 0)
        else:
            assert trace is None
