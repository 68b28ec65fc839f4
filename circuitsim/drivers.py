"""Drivers that run whole simulations to measure one property of a circuit.

They sit above the API (they call :func:`circuitsim.compose` and :func:`circuitsim.simulate`),
so the stimulus plug-ins below it only analyse a finished run (docs/architecture.md).
"""

from __future__ import annotations

from typing import Any, Dict, Sequence

from circuitsim.api import compose, simulate
from circuitsim.errors import ConfigError
from circuitsim.muscle.evoked import fit_motor_threshold


def measure_motor_threshold(overrides: Sequence[str] = (), seeds: Sequence[int] = (0, 1, 2),
                            preset: str = "tms_threshold") -> Dict[str, Any]:
    """Determine the resting motor threshold (%MSO) of a circuit: run the ``preset`` (single
    pulses over a range of intensities) once per seed, pool the trials of every muscle and fit
    the 50 % point (``circuitsim.muscle.evoked.fit_motor_threshold``).

    Parameters
    ----------
    overrides : Hydra overrides selecting the circuit (e.g. ``["condition=<name>"]``)
    seeds : one run per seed
    """
    cfgs = [compose([f"stim={preset}", f"sim.seed={seed}", *overrides]) for seed in seeds]
    if cfgs and not cfgs[0].readout.muscle.enabled:   # checked before anything is built
        raise ConfigError("readout.muscle.enabled", "the motor threshold is read from MEPs, which need the "
                          "muscle readout: leave it on (true)")
    xs, ys, per_seed = [], [], {}
    for seed, cfg in zip(seeds, cfgs):
        result = simulate(cfg)
        name = next(n for n, p in result.stimuli.items() if p["kind"] == "tms")
        an = result.extra["tms"][name]
        test = an["test_index"]
        for muscle, m in an["per_muscle"].items():
            rest = ~m["active"]
            xs += list(an["mso"][test][rest])
            ys += list(m["present"][rest])
        per_seed[seed] = result.metrics.get("tms", {}).get("motor_threshold")
    fit = fit_motor_threshold(xs, ys)
    return {"motor_threshold_mso": fit["threshold"], "slope_mso": fit["slope"], "n_trials": fit["n_trials"],
            "per_seed": per_seed}
