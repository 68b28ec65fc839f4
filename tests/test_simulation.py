"""Real simulations of the default circuit (cpp_standalone; the build is cached between tests)."""

import numpy as np
import pytest

from circuitsim import compose, load_result, simulate
from circuitsim.spec import build_spec

pytestmark = pytest.mark.slow

SEEDS = (0, 1, 2)


@pytest.fixture(scope="module")
def healthy_runs():
    return {seed: simulate(compose([f"sim.seed={seed}", "sim.progress=false"])) for seed in SEEDS}


def test_healthy_rates_match_literature_for_three_seeds(healthy_runs, default_cfg):
    spec = build_spec(default_cfg)
    for seed, res in healthy_runs.items():
        for name, pop in spec.populations.items():
            m = res.metrics["populations"][name]
            assert pop.target_low <= m["rate_hz"] <= pop.target_high, (
                f"seed {seed}: {name} fires at {m['rate_hz']:.2f} Hz, outside "
                f"[{pop.target_low:g}, {pop.target_high:g}] Hz ({pop.target_source})")
            i, _ = res.spikes[name]
            active = np.unique(i).size / pop.n
            assert active > 0.5, f"seed {seed}: only {active:.0%} of {name} fired (silent population)"
            saturation = 1.0 / max(pop.params["t_ref"], 1e-3)
            assert m["rate_hz"] < 0.5 * saturation, f"seed {seed}: {name} saturated"


def test_runs_are_reproducible_bitwise(healthy_runs):
    again = simulate(compose(["sim.seed=1", "sim.progress=false"]))
    for name, (i, t) in healthy_runs[1].spikes.items():
        assert np.array_equal(i, again.spikes[name][0]) and np.array_equal(t, again.spikes[name][1]), name
    assert again.metrics["run"]["build_s"] < healthy_runs[0].metrics["run"]["build_s"] + 60
    differs = [n for n in healthy_runs[0].spikes
               if not np.array_equal(healthy_runs[0].spikes[n][1], healthy_runs[1].spikes[n][1])]
    assert differs, "different seeds gave identical spike trains"


def test_metrics_have_the_documented_keys(healthy_runs):
    m = healthy_runs[0].metrics
    for pop in m["populations"].values():
        assert {"rate_hz", "cv_isi"} <= set(pop)
    assert {"seed", "duration_s", "wall_s", "device"} <= set(m["run"])
    assert m["run"]["device"] == "cpp_standalone"
    # pacemaking pallidal neurons fire regularly, cortex irregularly (CV from real spikes)
    assert m["populations"]["gpi"]["cv_isi"] < m["populations"]["ctx_e"]["cv_isi"]


def test_weakening_a_pathway_changes_its_target(healthy_runs):
    weak = simulate(compose(["sim.seed=0", "sim.progress=false", "circuit.pathways.gpe_stn.weight_scale=0"]))
    base = healthy_runs[0].metrics["populations"]["stn"]["rate_hz"]
    assert weak.metrics["populations"]["stn"]["rate_hz"] > base + 2.0  # released from pallidal inhibition


def test_runtime_device_numpy_target(tmp_path):
    cfg = compose(["sim.device=runtime", "sim.codegen_target=numpy", "circuit.scale=0.25", "sim.duration=0.5s",
                   "sim.transient=100*ms"])
    res = simulate(cfg, out_dir=tmp_path / "rt")
    rates = {p: m["rate_hz"] for p, m in res.metrics["populations"].items()}
    assert res.metrics["run"]["device"] == "runtime"
    assert rates["gpi"] > 30 and rates["pc"] > 20, rates
    back = load_result(tmp_path / "rt")
    assert back.metrics["populations"]["gpi"]["rate_hz"] == pytest.approx(rates["gpi"])
    for name in ("raster.png", "rates.png", "config.yaml", "spikes.npz", "rates.npz", "metrics.json"):
        assert (tmp_path / "rt" / name).is_file(), name


def test_scale_keeps_rates(healthy_runs):
    big = simulate(compose(["sim.seed=0", "sim.progress=false", "circuit.scale=2"]))
    assert big.metrics["run"]["n_neurons"] == 2 * healthy_runs[0].metrics["run"]["n_neurons"]
    for name, m in healthy_runs[0].metrics["populations"].items():
        r1, r2 = m["rate_hz"], big.metrics["populations"][name]["rate_hz"]
        assert abs(r2 - r1) <= 0.25 * r1 + 0.3, f"{name}: {r1:.2f} Hz at scale 1, {r2:.2f} Hz at scale 2"


def test_a_run_leaves_the_environment_as_it_was(monkeypatch):
    """Brian2 sets LD_BIND_NOW=1 in the calling process to run the program; left set, it broke
    every SLURM command started later from the same process (sacctmgr could not load its plugin)."""
    import os

    from circuitsim.device import SEED_ENV

    monkeypatch.delenv("LD_BIND_NOW", raising=False)
    monkeypatch.setenv(SEED_ENV, "keep-me")
    before = dict(os.environ)
    res = simulate(compose(["sim.duration=0.5s", "sim.seed=5", "sim.progress=false", "readout.plots=[]"]))
    assert res.metrics["run"]["seed"] == 5
    assert dict(os.environ) == before
