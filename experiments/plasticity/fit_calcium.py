"""Fit the calcium rule's three amplitudes (A_ltp, A_ltd, A_slow) to the human after-effects.

A synapse recruited by every m1 pulse of each preset's own protocol (test pulses included) must
end the preset's run at the MEP change reported after it: cTBS 600 x0.75 and iTBS 600 x1.35
(Huang et al. 2005, Neuron 45:201), 1 Hz x 900 at 115 % RMT x0.805 (Chen et al. 1997, Neurology
48:1398). With the other parameters fixed the weight's change ``p - d`` is linear in the three
amplitudes (p grows with A_ltp, d with A_ltd and A_slow, both then decay exponentially), so three
targets fix them: one reference integration per amplitude and a 3 x 3 solve.

    python experiments/plasticity/fit_calcium.py     # prints the amplitudes (about a minute)
"""

from __future__ import annotations

import numpy as np

TARGETS = {"ctbs_m1": 0.75, "itbs_m1": 1.35, "rtms_1hz": 0.805}


def fibre_pulses(preset: str):
    """Arrival times at a fibre synapse recruited by every m1 pulse of ``preset``, and the run's duration."""
    from circuitsim import compose
    from circuitsim.spec import build_spec

    spec = build_spec(compose([f"stim={preset}"]))
    stim = spec.stimuli[preset]
    t = np.asarray(stim["pulses"]["time"], float)
    keep = np.asarray(stim["pulses"]["site"]) == "m1"
    delay = stim["sites"]["m1"]["elements"]["ctx_e_afferent"]["delay"]
    return t[keep] + delay, spec.sim.duration


def fit(params=None):
    from circuitsim.stimulation.plasticity_calcium import CALCIUM_DEFAULTS, reference_weight

    params = dict(params or CALCIUM_DEFAULTS)
    presets = list(TARGETS)
    trains, durations = zip(*(fibre_pulses(p) for p in presets))
    g = np.zeros((3, 3))
    for col, key in enumerate(("A_ltp", "A_ltd", "A_slow")):
        unit = {**params, "A_ltp": 0.0, "A_ltd": 0.0, "A_slow": 0.0, key: 1e-3}
        _, w = reference_weight(list(trains), max(durations), unit, w_max=1e9, w_min=-1e9)
        for row, d in enumerate(durations):
            g[row, col] = (w[row, int(round(d / 0.002))] - 1.0) / 1e-3
    rhs = np.array([TARGETS[p] - 1.0 for p in presets])
    a = np.linalg.solve(g, rhs)
    return {"A_ltp": float(a[0]), "A_ltd": float(a[1]), "A_slow": float(a[2])}


if __name__ == "__main__":
    print({k: f"{v:.3g}" for k, v in fit().items()})
