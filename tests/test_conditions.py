"""The conditions against the healthy circuit, on real simulations (issue 15).

Seeds. The circuit and the conditions were tuned on seeds 0, 1 and 5 (``TUNING_SEEDS``); every
check here runs on seeds never used for tuning (``TEST_SEEDS``, and ten of them where a claim is
"beyond the spread of 10 seeds"). The experiments' tables and docs/validation.md use the same
held-out seeds.

Claims. Where the literature gives a value, the check is a band around it, with the source next
to it; where it gives only a direction, the check is a direction beyond the seed spread:
|mean(condition) - mean(healthy)| > max(range over seeds). Effects the model does not reproduce
are not tested here as expected failures: docs/validation.md lists them, with the numbers.
The effects come from the overrides in configs/condition/; no code knows a condition's name.
"""

from pathlib import Path

import numpy as np
import pytest

from circuitsim import compose, simulate
from circuitsim.analysis.spectra import peak_frequency, welch_psd
from circuitsim.spec import build_spec

TUNING_SEEDS = (0, 1, 5)
TEST_SEEDS = (10, 11, 12, 13, 14)
TEN_SEEDS = tuple(range(10, 20))
SUBCORTICAL = ("dystonia_bg", "dystonia_cerebellar", "dystonia_network")
DYSTONIA = SUBCORTICAL + ("dystonia_cortical",)
COMMON = ["sim.progress=false", "readout.plots=[]"]
#: cortical populations: the region named "ctx" in configs/circuit/default.yaml
CORTEX = "ctx"


def _run(condition, seed, duration="2.5s", task="rest", extra=()):
    return simulate(compose([f"condition={condition}", f"task={task}", f"sim.seed={seed}",
                             f"sim.duration={duration}", *COMMON, *extra])).metrics


def _get(metrics, key, none=np.nan):
    node = metrics
    for part in key.split("."):
        node = node[part]
    return none if node is None else float(node)


def shift(healthy, condition):
    """(difference of the means, seed spread): the spread is the larger range over seeds of the two."""
    return np.mean(condition) - np.mean(healthy), max(np.ptp(healthy), np.ptp(condition))


def assert_shift(healthy, condition, direction, what):
    """``condition`` differs from ``healthy`` in ``direction`` (+1 up, -1 down) by more than the seed spread."""
    diff, spread = shift(healthy, condition)
    assert direction * diff > spread, (f"{what}: healthy {np.round(healthy, 3)}, condition {np.round(condition, 3)}; "
                                       f"difference {diff:+.3g} does not exceed the seed spread {spread:.3g} "
                                       f"in the expected direction ({'+' if direction > 0 else '-'})")


def assert_band(values, low, high, what):
    mean = float(np.mean(values))
    assert low <= mean <= high, f"{what}: mean {mean:.3g} over seeds {np.round(values, 3)} outside [{low}, {high}]"


def test_tuning_and_test_seeds_are_disjoint():
    assert not set(TUNING_SEEDS) & (set(TEST_SEEDS) | set(TEN_SEEDS))


def test_every_condition_composes():
    for c in ("healthy", "parkinsonian") + DYSTONIA:
        cfg = compose([f"condition={c}"])
        assert cfg.condition_name == c


def test_no_code_special_cases_a_condition():
    src = Path(__file__).resolve().parents[1] / "circuitsim"
    for path in src.rglob("*.py"):
        text = path.read_text().lower()
        for name in ("dystonia_", "parkinsonian"):
            assert name not in text, f"{path} mentions {name}"


def _differences(condition):
    """(pathway names, population names) whose validated values differ from healthy."""
    healthy, other = build_spec(compose([])), build_spec(compose([f"condition={condition}"]))
    paths = {n for n in healthy.pathways if healthy.pathways[n] != other.pathways.get(n)}
    paths |= set(other.pathways) - set(healthy.pathways)
    pops = {n for n in healthy.populations if healthy.populations[n] != other.populations[n]}
    return healthy, paths, pops


@pytest.mark.parametrize("condition", SUBCORTICAL)
def test_subcortical_conditions_leave_the_cortex_alone(condition):
    """No change to a pathway that ends in the cortex, nor to a cortical population (issue 15)."""
    healthy, paths, pops = _differences(condition)
    assert paths, f"{condition} changes no pathway"
    into_cortex = {p for p in paths if healthy.populations[healthy.pathways[p].target].region == CORTEX}
    assert not into_cortex, f"{condition} changes pathways that end in the cortex: {sorted(into_cortex)}"
    cortical = {p for p in pops if healthy.populations[p].region == CORTEX}
    assert not cortical, f"{condition} changes cortical populations: {sorted(cortical)}"


def test_cortical_condition_changes_only_the_cortex():
    healthy, paths, pops = _differences("dystonia_cortical")
    assert paths
    outside = {p for p in paths if healthy.populations[healthy.pathways[p].target].region != CORTEX}
    assert not outside, f"dystonia_cortical changes pathways outside the cortex: {sorted(outside)}"
    assert not {p for p in pops if healthy.populations[p].region != CORTEX}


@pytest.mark.parametrize("condition", DYSTONIA)
def test_each_dystonia_is_lateralised_and_side_flips_it(condition):
    """The posture comes from an asymmetry of the circuit: a side, which `side=right` moves."""
    left, right = (build_spec(compose([f"condition={condition}", f"side={s}"])) for s in ("left", "right"))
    lateral = {n: pw.channel_scale for n, pw in left.pathways.items() if pw.channel_scale}
    assert lateral, f"{condition} has no lateralised pathway"
    for name, scale in lateral.items():
        assert right.pathways[name].channel_scale == tuple(reversed(scale))


def test_side_of_the_healthy_circuit_is_refused():
    from circuitsim.errors import ConfigError

    with pytest.raises(ConfigError, match="circuit.side"):
        build_spec(compose(["side=right"]))


# ------------------------------------------------------------------ simulations


@pytest.fixture(scope="module")
def healthy_rest():
    """Healthy at rest, 2.5 s, on ten held-out seeds."""
    return [_run("healthy", s) for s in TEN_SEEDS]


@pytest.mark.slow
def test_healthy_neck_relaxes_at_rest(healthy_rest):
    """A seated healthy person's neck rotators are silent at rest: EMG at the noise floor, no
    co-contraction (the index is undefined for two relaxed muscles), head straight (issue 15)."""
    active = []
    for m in healthy_rest:
        mus = m["muscle"]
        assert mus["severity_score"] < 0.05
        assert abs(mus["head_angle_deg"]["mean"]) < 3.0
        assert mus["co_contraction_index"] is None or mus["co_contraction_index"] < 0.2
        for muscle in ("rotator_left", "rotator_right"):
            active.append(mus[muscle]["active_fraction"])
            # N, 2 % of a rotator's maximum: single motor-unit twitches reach about 1.1 N on the
            # worst held-out seed (docs/validation.md)
            assert mus[muscle]["mean_force"] < 2.0
    # above the noise floor in the median muscle and seed at most a fifth of the time (single
    # motor-unit twitches in the healthy cortex's brief synchronous events; docs/validation.md
    # gives the fractions measured: median 16 %, and why this is looser than it was)
    assert np.median(active) <= 0.2, np.round(active, 3)


@pytest.mark.slow
def test_healthy_rates_at_rest(healthy_rest):
    """Healthy rates inside the published ranges that the circuit was calibrated to."""
    rates = {p: [m["populations"][p]["rate_hz"] for m in healthy_rest] for p in ("gpi", "gpe", "stn", "ctx_e")}
    assert_band(rates["gpi"], 70.0, 95.0, "GPi (Starr et al. 2005: 82.5 Hz, normal macaque)")
    assert_band(rates["gpe"], 55.0, 80.0, "GPe (Starr et al. 2005: 69.7 Hz)")
    assert_band(rates["stn"], 15.0, 25.0, "STN (Wichmann, Bergman & DeLong 1994)")
    assert_band(rates["ctx_e"], 2.0, 10.0, "M1 at rest (Goldberg et al. 2002: 4-5 Hz)")


@pytest.mark.slow
def test_healthy_turn_moves_the_head_and_returns():
    """A voluntary turn (task=turn_left, command 1.0-1.8 s) turns the head left; it is straight
    again once the command is over, and the neck relaxes."""
    r = simulate(compose(["task=turn_left", f"sim.seed={TEST_SEEDS[0]}", "sim.duration=3s", *COMMON]))
    readout = r.extra["muscle"]
    t, angle = readout.time, np.degrees(readout.head_angle)
    during = angle[(t > 1.2) & (t < 1.8)]
    after = angle[t > 2.6]
    assert during.max() > 10.0
    assert np.abs(after).max() < 3.0


def _window_rate(result, pop, t0, t1):
    _, t = result.spikes[pop]
    return float(((t >= t0) & (t < t1)).sum()) / result.sizes[pop] / (t1 - t0)


@pytest.mark.slow
def test_healthy_dentate_rises_with_a_command():
    """Dentate neurons discharge around a movement (Thach 1978, J Neurophysiol 41:654): during the
    command of task=turn_left (1.0-1.8 s) the healthy dentate fires above its rate just before it
    (0.3-1.0 s) on every held-out seed, by more than the seeds' spread at rest. Thach gives
    per-neuron changes of both signs, not a population size, so this is a direction."""
    rest, during = [], []
    for seed in TEST_SEEDS:
        r = simulate(compose(["task=turn_left", f"sim.seed={seed}", "sim.duration=2s", *COMMON]))
        rest.append(_window_rate(r, "dcn", 0.3, 1.0))
        during.append(_window_rate(r, "dcn", 1.0, 1.8))
    assert all(d > r for r, d in zip(rest, during)), (np.round(rest, 1), np.round(during, 1))
    assert_shift(rest, during, +1, "dentate rate, rest -> command")


@pytest.fixture(scope="module")
def torticollis_runs():
    """Each dystonia condition at rest, 10 s, on the held-out seeds: metrics."""
    return {c: [_run(c, s, duration="10s") for s in TEST_SEEDS] for c in DYSTONIA}


@pytest.fixture(scope="module")
def torticollis(torticollis_runs):
    """Each dystonia condition at rest, 10 s, on the held-out seeds: the head angle."""
    return {c: [_get(m, "muscle.head_angle_deg.mean") for m in runs] for c, runs in torticollis_runs.items()}


@pytest.fixture(scope="module")
def healthy_hold():
    """The control for a dystonic posture: the healthy circuit holding a voluntary turn to the
    left (the turn_left command from 0.5 s to the end of a 10 s run), held-out seeds."""
    return [_run("healthy", s, duration="10s", task="turn_left",
                 extra=["task.command.start=0.5*second", "task.command.stop=10*second"]) for s in TEST_SEEDS]


@pytest.mark.slow
@pytest.mark.parametrize("condition", DYSTONIA)
def test_torticollis_at_rest(torticollis, healthy_rest, condition):
    """The head is held turned toward the condition's side (left by default), sustained over 10 s:
    |mean yaw| >= 15 deg (issue 15) and at most 67 deg, the upper end of a 'moderate' rotation of
    the TWSTRS (Consky & Lang 1994), beyond the healthy circuit's seed spread."""
    angles = torticollis[condition]
    assert min(angles) >= 15.0, f"{condition}: mean yaw {np.round(angles, 1)} deg"
    assert max(angles) <= 67.0, f"{condition}: mean yaw {np.round(angles, 1)} deg"
    assert_shift([_get(m, "muscle.head_angle_deg.mean") for m in healthy_rest], angles, +1, "head angle")


@pytest.mark.slow
@pytest.mark.parametrize("condition", DYSTONIA)
def test_phasic_activity_rides_on_the_torticollis(torticollis_runs, healthy_hold, condition):
    """The dystonic posture is not a steady voluntary hold: phasic dystonic movements or tremor
    ride on it (cervical dystonia: a sustained posture with superimposed jerks or a 3-8 Hz tremor,
    Deuschl et al. 1998). Against the healthy circuit holding a voluntary turn of similar size
    (10 s, same seeds), at rest over 10 s either the head jerks more often
    (`muscle.head_angle_deg.jerks_per_s`) or the pulling rotator's rectified EMG carries more
    relative 3-8 Hz power (`muscle.rotator_left.tremor_power`), beyond the seed spread.
    Directions: no published value in these units."""
    assert min(_get(m, "muscle.head_angle_deg.mean") for m in healthy_hold) >= 10.0, "the control holds no turn"
    shifts = {}
    for key in ("muscle.head_angle_deg.jerks_per_s", "muscle.rotator_left.tremor_power"):
        hold = [_get(m, key) for m in healthy_hold]
        dystonic = [_get(m, key) for m in torticollis_runs[condition]]
        diff, spread = shift(hold, dystonic)
        shifts[key] = (diff > spread, np.round(hold, 3), np.round(dystonic, 3))
    assert any(ok for ok, _, _ in shifts.values()), f"{condition}: voluntary hold against dystonic rest {shifts}"


@pytest.mark.slow
@pytest.mark.parametrize("condition", DYSTONIA)
def test_side_right_turns_the_head_right(condition):
    angle = _get(_run(condition, TEST_SEEDS[0], duration="10s", extra=["side=right"]), "muscle.head_angle_deg.mean")
    assert angle <= -15.0, f"{condition} side=right: mean yaw {angle:.1f} deg"


@pytest.mark.slow
def test_a_subcortical_condition_raises_co_contraction_and_severity(healthy_rest):
    """dystonia_network (basal ganglia and cerebellum, no cortical change) raises co-contraction
    and severity at rest beyond the spread of 10 held-out seeds (issue 15). A relaxed pair has no
    co-contraction index (null); it counts as 0 here."""
    network = [_run("dystonia_network", s) for s in TEN_SEEDS]
    for key in ("muscle.co_contraction_index", "muscle.severity_score"):
        assert_shift([_get(m, key, none=0.0) for m in healthy_rest], [_get(m, key, none=0.0) for m in network],
                     +1, key)


def _stn_spectrum(condition, seed, extra=()):
    """metrics and the 1-100 Hz peak frequency of the STN population rate at rest, 2.5 s."""
    r = simulate(compose([f"condition={condition}", "task=rest", f"sim.seed={seed}", "sim.duration=2.5s",
                          *COMMON, *extra]))
    rate = np.asarray(r.rates["stn"], float)[int(round(r.spec["sim"]["transient"] / r.rate_dt)):]
    return r.metrics, peak_frequency(*welch_psd(rate, 1.0 / r.rate_dt))


@pytest.fixture(scope="module")
def parkinsonian_rest():
    """The parkinsonian circuit at rest on the ten held-out seeds: metrics and STN spike-spectrum peak."""
    return [_stn_spectrum("parkinsonian", s) for s in TEN_SEEDS]


@pytest.fixture(scope="module")
def rest_runs(healthy_rest, parkinsonian_rest):
    """Every condition at rest, 2.5 s, on TEST_SEEDS (healthy and parkinsonian: their first five
    held-out runs)."""
    runs = {"healthy": healthy_rest[:len(TEST_SEEDS)],
            "parkinsonian": [m for m, _ in parkinsonian_rest[:len(TEST_SEEDS)]]}
    for c in DYSTONIA:
        runs[c] = [_run(c, s) for s in TEST_SEEDS]
    return runs


def _rates(runs, pop):
    return [m["populations"][pop]["rate_hz"] for m in runs]


@pytest.mark.slow
@pytest.mark.parametrize("condition", ("dystonia_bg", "dystonia_network"))
def test_pallidal_rate_in_dystonia(rest_runs, condition):
    """GPi at rest in the published range for dystonia: 55.3 Hz in generalised and cervical
    dystonia (Starr et al. 2005) and 71.4 Hz in cervical dystonia (Tang et al. 2007), against
    82.5 Hz in normal macaques; band 40-75 Hz, and below healthy beyond the seed spread."""
    gpi = _rates(rest_runs[condition], "gpi")
    assert_band(gpi, 40.0, 75.0, f"{condition} GPi")
    assert_shift(_rates(rest_runs["healthy"], "gpi"), gpi, -1, f"{condition} GPi")


@pytest.mark.slow
@pytest.mark.parametrize("condition", DYSTONIA)
def test_pallidal_irregularity_in_dystonia(rest_runs, condition):
    """GPi fires more irregularly in dystonia than in health (Vitek et al. 1999; Starr et al. 2005:
    irregular grouped discharges and pauses); no published ISI CV to size it, so a direction."""
    assert_shift([m["populations"]["gpi"]["cv_isi"] for m in rest_runs["healthy"]],
                 [m["populations"]["gpi"]["cv_isi"] for m in rest_runs[condition]], +1, f"{condition} GPi CV")


@pytest.mark.slow
def test_parkinsonian_pallidum(rest_runs, healthy_rest, parkinsonian_rest):
    """The parkinsonian contrast at rest, from sourced mechanisms (configs/condition/parkinsonian.yaml):
    - GPi in the published parkinsonian range: 95.2 Hz (Starr et al. 2005), 91.7 Hz (Tang et al.
      2007); band 85-110 Hz, and above healthy beyond the seed spread;
    - STN at least 1.2x healthy (MPTP monkeys 19 -> 26 Hz, x1.37: Bergman et al. 1994);
    - GPe below healthy (MPTP monkeys 76 -> 51 Hz, Filion & Tremblay 1991), at most 0.85x;
    - STN LFP beta (13-30 Hz) above healthy beyond the seed spread (Brown et al. 2001)."""
    pd = [m for m, _ in parkinsonian_rest]
    assert_band(_rates(pd, "gpi"), 85.0, 110.0, "PD GPi (Starr et al. 2005; Tang et al. 2007)")
    assert_shift(_rates(rest_runs["healthy"], "gpi"), _rates(rest_runs["parkinsonian"], "gpi"), +1, "PD GPi")
    stn_ratio = np.mean(_rates(pd, "stn")) / np.mean(_rates(healthy_rest, "stn"))
    assert stn_ratio >= 1.2, f"PD STN / healthy STN = {stn_ratio:.2f} (Bergman et al. 1994: 1.37)"
    gpe_ratio = np.mean(_rates(pd, "gpe")) / np.mean(_rates(healthy_rest, "gpe"))
    assert gpe_ratio <= 0.85, f"PD GPe / healthy GPe = {gpe_ratio:.2f} (Filion & Tremblay 1991: 0.67)"
    assert_shift([_get(m, "lfp.stn.band_power.beta") for m in rest_runs["healthy"]],
                 [_get(m, "lfp.stn.band_power.beta") for m in rest_runs["parkinsonian"]], +1, "PD STN beta")


@pytest.mark.slow
def test_parkinsonian_stn_bursts_through_its_rebound_current(healthy_rest, parkinsonian_rest):
    """The parkinsonian STN fires rebound bursts (T-type current, Bevan et al. 2002): its burst
    fraction (Poisson surprise) rises above healthy beyond the spread of ten held-out seeds (more
    burst discharge after MPTP, Bergman et al. 1994; a direction: no burst fraction to size it by),
    and its rate is near the human parkinsonian STN's 35.6 Hz (Schrock et al. 2009; band 25-45 Hz)."""
    pd = [m for m, _ in parkinsonian_rest]
    assert_shift([_get(m, "populations.stn.burst_fraction") for m in healthy_rest],
                 [_get(m, "populations.stn.burst_fraction") for m in pd], +1, "PD STN burst fraction")
    assert_band(_rates(pd, "stn"), 25.0, 45.0, "PD STN rate (Schrock et al. 2009: 35.6 Hz)")


@pytest.mark.slow
def test_parkinsonian_beta_peak_on_nine_of_ten_seeds(parkinsonian_rest):
    """A 13-30 Hz peak in STN spikes (population rate) and in the STN LFP on at least 9 of the 10
    held-out seeds (issue 15; beta in parkinsonian STN: Brown et al. 2001; Levy et al. 2002)."""
    spikes = [peak for _, peak in parkinsonian_rest]
    lfp = [_get(m, "lfp.stn.peak_hz") for m, _ in parkinsonian_rest]
    assert sum(13 <= f <= 30 for f in spikes) >= 9, f"STN spike spectrum peaks {spikes} Hz"
    assert sum(13 <= f <= 30 for f in lfp) >= 9, f"STN LFP peaks {lfp} Hz"


#: the loop that carries the parkinsonian beta: STN <-> GPe, GPe collaterals, the hyperdirect
#: input and the indirect pathway's input to GPe
BETA_LOOP = ("gpe_stn", "stn_gpe", "gpe_gpe", "ctx_e_stn", "d2_gpe")


@pytest.mark.slow
@pytest.mark.parametrize("factor", (0.8, 1.2))
@pytest.mark.parametrize("pathway", BETA_LOOP)
def test_parkinsonian_beta_survives_loop_weight_changes(pathway, factor):
    """The beta peak is not a knife-edge: +-20 % of each loop weight (held-out seed 10) keeps the
    STN spike and LFP peaks in 13-30 Hz."""
    weight = build_spec(compose([])).pathways[pathway].weight * factor
    metrics, peak = _stn_spectrum("parkinsonian", TEST_SEEDS[0],
                                       [f"circuit.pathways.{pathway}.weight={weight * 1e9:.6g}*nS"])
    lfp_peak = _get(metrics, "lfp.stn.peak_hz")
    assert 13 <= peak <= 30 and 13 <= lfp_peak <= 30, (pathway, factor, peak, lfp_peak)
