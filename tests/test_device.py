"""Fast tests of the device layer: the structure key, compiler flags, the CUDA option, the
counter-based random numbers and the batch's input checks (no simulation)."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess

import numpy as np
import pytest
from omegaconf import OmegaConf
from scipy import stats

from circuitsim import compose
from circuitsim.batch import _grid, simulate_batch
from circuitsim.circuit.models import (_COUNT01_CPP, _FIX_CPP, _POISSON_CPP, _UNIFORM_CPP, _numpy_cs_count01,
                                       _numpy_cs_poisson, _numpy_cs_poisson_fix, _numpy_cs_uniform)
from circuitsim.device import FINITE_MATH_FLAG, compile_flags, structure_key
from circuitsim.errors import ConfigError
from circuitsim.spec import STIMULUS_VALIDATORS, build_spec


def key(*overrides: str) -> str:
    return structure_key(build_spec(compose(list(overrides))), {})


def test_values_are_not_structure():
    base = key()
    for ov in ("sim.seed=5", "sim.duration=3s", "circuit.pathways.stn_gpe.weight_scale=1.7",
               "circuit.modulators.dopamine.level=0.4", "circuit.populations.gpe.background.rate=900*Hz"):
        assert key(ov) == base, ov
    for ov in ("sim.dt=0.05*ms", "circuit.scale=2", "sim.vectorize=false", "readout.lfp_neurons=5"):
        assert key(ov) != base, ov


def test_the_float_type_is_structure():
    """A script that sets Brian2's float type to float32 gets its own program, not a cached float64 one."""
    from brian2 import prefs

    base = key()
    saved = prefs.core.default_float_dtype
    try:
        prefs.core.default_float_dtype = np.float32
        assert key() != base
    finally:
        prefs.core.default_float_dtype = saved
    assert key() == base


def test_task_command_values_are_data():
    assert key("task=turn_left") == key("task=turn_right") == key("task=turn_left", "task.command.rate=900*Hz")
    assert key("task=turn_left") != key()


def test_stimulation_values_are_not_structure():
    dbs = key("stim=dbs_gpi")
    for ov in ("stim.dbs_gpi.frequency=60*Hz", "stim.dbs_gpi.amplitude=1.5*mA", "stim.dbs_gpi.pulse_width=450*us",
               "stim.dbs_gpi.start=0.5*second"):
        assert key("stim=dbs_gpi", ov) == dbs, ov
    assert key("stim=dbs_gpi", "stim.dbs_gpi.elements=[somata]") != dbs
    assert key("stim=dbs_stn") != key("stim=dbs_stn", "stim.dbs_stn.target=gpe")
    tms = key("stim=tms_single")
    for ov in ("sim.seed=3", "stim.tms_single.protocol.0.intensity=140%RMT", "stim.tms_single.protocol.0.start=0.6*second"):
        assert key("stim=tms_single", ov) == tms, ov
    # the number of pulses bounds the padded event arrays; the GABA-B table follows the duration
    assert key("stim=tms_single", "stim.tms_single.protocol.0.n=4") != tms
    assert key("stim=tms_single", "sim.duration=14*second") != tms


def test_vectorize_drops_the_finite_math_flag():
    fast = compile_flags(build_spec(compose([])))
    slow = compile_flags(build_spec(compose(["sim.vectorize=false"])))
    assert FINITE_MATH_FLAG not in fast and any(f.startswith("--param=vect-max-version-for-alias-checks") for f in fast)
    assert FINITE_MATH_FLAG in slow


@pytest.mark.skipif(importlib.util.find_spec("brian2cuda") is not None, reason="brian2cuda is installed")
def test_cuda_without_brian2cuda_is_a_config_error():
    with pytest.raises(ConfigError, match=r"sim.device.*brian2cuda.*circuitsim\[cuda\]"):
        build_spec(compose(["sim.device=cuda_standalone"]))


def test_counter_based_poisson_counts():
    index = np.arange(200_000)
    for mean in (0.15, 0.9, 3.0, 12.0):
        u = _numpy_cs_uniform(3, 0, index, 42)
        k = _numpy_cs_poisson(np.full(index.size, mean), u, 3, 0, index, 42)
        observed = np.bincount(k, minlength=40)[:40]
        expected = stats.poisson.pmf(np.arange(40), mean) * index.size
        keep = expected > 20
        chi2 = (((observed[keep] - expected[keep]) ** 2) / expected[keep]).sum()
        assert chi2 < stats.chi2.ppf(0.999, keep.sum() - 1), (mean, chi2)
    # a pure function of (seed, stream, index, step): same arguments, same draw; others independent
    a = _numpy_cs_uniform(3, 0, index, 42)
    assert np.array_equal(a, _numpy_cs_uniform(3, 0, index, 42))
    for other in (_numpy_cs_uniform(4, 0, index, 42), _numpy_cs_uniform(3, 1, index, 42),
                  _numpy_cs_uniform(3, 0, index, 43)):
        assert abs(np.corrcoef(a, other)[0, 1]) < 0.01
    assert 0 < a.min() and a.max() < 1 and abs(a.mean() - 0.5) < 0.005


@pytest.mark.skipif(shutil.which("g++") is None, reason="no C++ compiler")
def test_compiled_poisson_counts_equal_the_reference(tmp_path):
    """The generated code's cs_poisson (with its branch-free path for counts 0 and 1), and the
    circuit's split form of it (cs_count01 in the vectorised loop, then cs_poisson_fix), give the
    counts of the NumPy reference, for means below, at and above 1 (chunks) and zero."""
    main = _UNIFORM_CPP + _POISSON_CPP + _COUNT01_CPP + _FIX_CPP + """
#include <stdio.h>
int main() {
    double lam; long long i;
    while (scanf("%lf %lld", &lam, &i) == 2) {
        const double u = cs_uniform(7, 0, i, 11);
        printf("%d %g\\n", cs_poisson(lam, u, 7, 0, i, 11), cs_poisson_fix(cs_count01(lam, u), lam, 7, 0, i, 11));
    }
    return 0;
}
"""
    (tmp_path / "p.cpp").write_text(main)
    subprocess.run(["g++", "-O2", "-o", str(tmp_path / "p"), str(tmp_path / "p.cpp")], check=True)
    index = np.arange(40_000)
    lam = np.resize([0.0, 0.01, 0.1, 0.2, 0.5, 0.999, 1.0, 1.7, 9.5, 20.0], index.size)
    text = "".join(f"{float(m)!r} {i}\n" for m, i in zip(lam, index))
    out = subprocess.run([str(tmp_path / "p")], input=text, capture_output=True, text=True, check=True).stdout
    compiled, split = np.array(out.split(), dtype=np.float64).reshape(-1, 2).T
    u = _numpy_cs_uniform(7, 0, index, 11)
    reference = _numpy_cs_poisson(lam, u, 7, 0, index, 11)
    assert np.array_equal(compiled, reference) and np.array_equal(split, reference)
    assert np.array_equal(_numpy_cs_poisson_fix(_numpy_cs_count01(lam, u), lam, 7, 0, index, 11), reference)
    assert (compiled[lam == 0.2] >= 2).any()     # the slow path was taken too


def test_batch_refuses_stimuli_it_cannot_batch(monkeypatch):
    monkeypatch.setitem(STIMULUS_VALIDATORS, "test_pulse", lambda stim, path, ctx: {"runtime_only": ""})
    cfg = OmegaConf.to_container(compose([]), resolve=True)
    cfg["stim"] = {"pulse": {"kind": "test_pulse"}}
    with pytest.raises(ConfigError, match=r"stim.pulse.*cannot hold a 'test_pulse'"):
        simulate_batch([cfg, cfg])


def test_batch_grid_is_a_cartesian_product():
    grid = _grid(["a=1,2", "b=x", "c=3,4,5"])
    assert len(grid) == 6 and grid[0] == ["a=1", "b=x", "c=3"] and grid[-1] == ["a=2", "b=x", "c=5"]
    assert _grid(["readout.plots=[raster,rates]"]) == [["readout.plots=[raster,rates]"]]


def test_stale_run_folders_of_dead_processes_are_removed(tmp_path):
    import os
    import socket
    import subprocess

    from circuitsim.device import OWNER_FILE, remove_stale_runs

    dead = subprocess.Popen(["true"])
    dead.wait()
    owners = {"k-dead": f"{socket.gethostname()} {dead.pid}", "k-live": f"{socket.gethostname()} {os.getpid()}",
              "k-other-host": f"not-{socket.gethostname()} {dead.pid}", "k-unreadable": "garbage"}
    for name, owner in owners.items():
        (tmp_path / name / "results").mkdir(parents=True)
        (tmp_path / name / OWNER_FILE).write_text(owner)
    removed = remove_stale_runs(tmp_path)
    assert [p.name for p in removed] == ["k-dead"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k-live", "k-other-host", "k-unreadable"]
