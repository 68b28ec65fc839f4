"""experiments/closed_loop/run.py: closed-loop GPi DBS with artifact-free sensing.

The fast tests check the points (every controller validates as a config), the energy column,
the switch count and the stored controller trace; the slow test runs the quick variant (a
template-sensing loop in the healthy and in a dystonic circuit, off and continuous DBS; seed 0,
2 s) and checks its output: the table is complete, the healthy loop stays off, and the closed
loop delivers less energy than continuous stimulation at the same maximum amplitude.
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
    assert {"off", "continuous", "closed loop"} <= kinds
    assert {p.factors["condition"] for p in pts} == {"healthy", mod.FULL["condition"]}
    assert not set(mod.FULL["seeds"]) & {0, 1, 5} and len(mod.FULL["seeds"]) >= 5     # held-out seeds
    sensing, modes = set(), set()
    for p in pts:
        spec = build_spec(compose([*mod.base_overrides(mod.FULL), *p.overrides]))
        closed = p.factors["kind"] == "closed loop"
        name = mod.CLOSED if closed else mod.OPEN
        assert name in spec.stimuli, p.label
        assert spec.stimuli[name]["pulse_width"] == pytest.approx(mod.FULL["pulse_width_us"] * 1e-6)
        controller = spec.stimuli[name]["controller"]
        if closed:
            assert controller["mode"] in ("on_off", "dual_threshold")
            modes.add(controller["mode"])
            sensing.add(controller.get("sensing", {}).get("method", controller["biomarker"]))
        else:
            assert controller is None
    assert sensing == {"none", "template"}
    assert modes == {"on_off", "dual_threshold"}          # the chattering law and the one that can settle
    for name in mod.CONTROLLERS:                      # every controller (the EMG one too) is a valid config
        point = mod.points({**mod.QUICK, "closed_loop": [name]})[-1]
        assert build_spec(compose([*mod.base_overrides(mod.FULL), *point.overrides])).stimuli[mod.CLOSED]["controller"]
    long = mod.points(mod.LONG)                      # the settling variant: dystonic loops only, longer runs
    assert {p.factors["kind"] for p in long} == {"closed loop"} and not set(mod.LONG["seeds"]) & {0, 1, 5}
    spec = build_spec(compose([*mod.base_overrides(mod.LONG), *long[-1].overrides]))
    assert spec.sim.duration > build_spec(compose([*mod.base_overrides(mod.FULL), *long[-1].overrides])).sim.duration
    emg = mod.points(mod.EMG)                        # the wearable's view: healthy and a dystonic loop, off, continuous
    assert {p.factors["kind"] for p in emg} == {"off", "continuous", "closed loop"} and not set(mod.EMG["seeds"]) & {0, 1, 5}
    for p in emg:
        if p.factors["kind"] == "closed loop":
            spec = build_spec(compose([*mod.base_overrides(mod.EMG), *p.overrides]))
            assert spec.stimuli[mod.CLOSED]["controller"]["biomarker"] == "emg_envelope", p.label
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
    # a run that ran in a worker process is read back from its folder: the trace is in its metrics
    other = tmp_path / "worker"
    other.mkdir()
    metrics = {"stim": {mod.CLOSED: {"controller": {"t": [0.0, 0.1, 0.2], "biomarker": [None, 0.3, 0.3],
                                                    "level": [0, 0, 1]}}}}
    assert mod.store_trace(SimpleNamespace(folder=other, extra={}, metrics=metrics)) == 1.0
    back = mod.load_trace(other)
    assert np.array_equal(back["level"], [0.0, 0.0, 1.0]) and np.isnan(back["biomarker"][0])
    assert mod.switches_per_s(SimpleNamespace(extra={}, metrics=metrics)) == pytest.approx(1 / 0.1)
    # two transitions (off -> on -> off) over 0.3 s of valid control periods
    trace = {"t": [0.0, 0.1, 0.2, 0.3, 0.4], "biomarker": [float("nan"), 1, 1, 1, 1], "level": [0, 0, 1, 0, 0]}
    assert mod.switches_per_s(SimpleNamespace(extra={"stim_data": {mod.CLOSED: {"controller": trace}}})) == \
        pytest.approx(2 / 0.3)


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
    closed_kinds = ("closed loop",)
    for line in table:
        for col in ("severity", "co_contraction", "energy_uj"):
            assert math.isfinite(line[f"{col}_mean"]), (line["setting"], col)
        for col in ("fraction_on", "switches_per_s", "reversals_per_s", "mean_biomarker"):
            assert math.isfinite(line[f"{col}_mean"]) == (line["kind"] in closed_kinds), (line["setting"], col)
    healthy = [line for line in table if line["condition"] == "healthy"]
    assert healthy and all(line["fraction_on_mean"] == 0 and line["energy_uj_mean"] == 0 for line in healthy)
    continuous = [line["energy_uj_mean"] for line in table if line["kind"] == "continuous"][0]
    assert [line["energy_uj_mean"] for line in table if line["kind"] == "off"] == [0.0]
    for line in table:
        if line["kind"] in closed_kinds:
            assert 0 <= line["energy_uj_mean"] < continuous and 0 <= line["fraction_on_mean"] <= 1
    for row in runs:
        trace = mod.load_trace(row["folder"])
        if row["kind"] in closed_kinds:
            assert trace is not None and trace["t"].size > 0
            assert np.all((trace["level"] >= 0) & (trace["level"] <= 1))
            assert np.all(trace["level"][np.isnan(trace["biomarker"])] == 0)
        else:
            assert trace is None


def _toy_loop(controller: dict, seconds: float, seed: int) -> np.ndarray:
    """The level a controller sets against a toy plant: every 100 ms a 500 ms window's 4-10 Hz power,
    the mean of 5 gamma-distributed 100 ms samples (CV 0.5 each: consecutive windows vary by about
    +-50 %, as the dystonic circuit's do) around 0.6 nA² without stimulation and 0.35 at full
    amplitude (linear in between), one period late."""
    from circuitsim.stimulation.closed_loop_laws import make_controller

    rng = np.random.default_rng(seed)
    law = make_controller(controller)
    samples, levels, level = [], [], 0.0
    for _ in range(int(seconds / controller["period"])):
        samples.append((0.6 - 0.25 * level) * rng.gamma(4.0, 0.25))
        level = law.update(float(np.mean(samples[-5:])))
        levels.append(level)
    return np.asarray(levels)


def test_the_settling_law_comes_to_rest_where_on_off_chatters():
    """Why the on-off loop cycles and what settles it, on a toy plant with the circuit's window noise:
    on-off with a 0.6/0.4 band switches several times a second on noise alone; the dual-threshold law
    on the biomarker smoothed over 1.5 s, with its lower threshold below the on-stimulation level
    and a 3 s ramp (lfp_settle), ramps up once and then holds still."""
    from circuitsim import compose
    from circuitsim.spec import build_spec

    mod = _load()

    def params(name):
        point = mod.points({**mod.QUICK, "healthy": [], "continuous": False, "closed_loop": [name]})[-1]
        return build_spec(compose([*mod.base_overrides(mod.FULL), *point.overrides])).stimuli[mod.CLOSED]["controller"]

    for seed in (0, 1, 2):
        on_off = _toy_loop(params("lfp_template"), 60.0, seed)
        settle = _toy_loop(params("lfp_settle"), 60.0, seed)
        switches = np.count_nonzero(np.diff(on_off > 0)) / 60.0
        late = settle[-300:]                                          # the last 30 s
        assert switches > 1.0, switches
        assert np.all(late > 0) and np.count_nonzero(np.diff(late)) <= 15, np.count_nonzero(np.diff(late))
        assert late.std() < 0.05
