"""Muscle readout of circuitsim: corticospinal spikes -> motor units -> EMG,
force and head posture, plus clinical-style metrics for cervical dystonia.

Everything runs post hoc in NumPy/SciPy on plain SI floats (s, Hz, N, rad, V).

Modules
-------
pool
    Fuglevand et al. (1993) motoneuron pool driven by the corticospinal drive.
force
    Fuglevand twitch model with non-linear gain, force in newtons.
emg
    Surface EMG with Hermite-Rodriguez MUAPs, band-pass and linear envelope.
posture
    Second-order head-yaw model of an antagonist pair (positive = left).
metrics
    Co-contraction index, band powers, head-angle summary, severity score.
readout
    :func:`muscle_readout`, the one-call pipeline, and :class:`MuscleParams`.
plots
    :func:`plot_muscle` (imported lazily so matplotlib is optional).
"""

from .emg import EMGParams, emg_envelope, muap, noise_envelope_level, surface_emg
from .force import TwitchParams, contraction_times, fuglevand_gain, muscle_force, twitch_peak_forces
from .metrics import (
    SeverityParams,
    co_contraction_index,
    emg_band_power,
    head_angle_summary,
    severity_score,
    severity_subscores,
)
from .pool import (
    PoolParams,
    corticospinal_drive,
    excitation_from_drive,
    firing_rates,
    full_recruitment_drive,
    max_excitation,
    peak_rates,
    recruitment_thresholds,
    simulate_pool,
)
from .posture import HeadParams, head_angle, steady_state_angle
from .readout import MuscleParams, MuscleReadout, muscle_readout

__all__ = [
    "PoolParams",
    "recruitment_thresholds",
    "peak_rates",
    "max_excitation",
    "full_recruitment_drive",
    "excitation_from_drive",
    "firing_rates",
    "corticospinal_drive",
    "simulate_pool",
    "TwitchParams",
    "twitch_peak_forces",
    "contraction_times",
    "fuglevand_gain",
    "muscle_force",
    "EMGParams",
    "muap",
    "surface_emg",
    "emg_envelope",
    "noise_envelope_level",
    "HeadParams",
    "head_angle",
    "steady_state_angle",
    "SeverityParams",
    "co_contraction_index",
    "emg_band_power",
    "head_angle_summary",
    "severity_score",
    "severity_subscores",
    "MuscleParams",
    "MuscleReadout",
    "muscle_readout",
    "plot_muscle",
]


def __getattr__(name: str):
    if name == "plot_muscle":
        from .plots import plot_muscle

        return plot_muscle
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
