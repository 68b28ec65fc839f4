"""Analysis measures for circuitsim (pure NumPy/SciPy, no Brian2 dependency).

Spike trains are lists of 1-D arrays of spike times in seconds (one per
neuron); continuous signals are 1-D arrays sampled at ``fs`` Hz.  All
parameters are plain SI floats (s, Hz).
"""

from .channels import selectivity
from .lfp import lfp_proxy
from .spectra import (
    BANDS,
    band_powers,
    coherence_bands,
    peak_frequency,
    phase_locking_value,
    welch_psd,
)
from .spiketrains import (
    burst_fraction,
    cv_isi,
    mean_rate_hz,
    pause_fraction,
    poisson_surprise,
    poisson_surprise_bursts,
    population_rate,
    spike_count_correlation,
    synchrony_chi,
    trains_from_indices,
)

__all__ = [
    "BANDS",
    "band_powers",
    "burst_fraction",
    "coherence_bands",
    "cv_isi",
    "lfp_proxy",
    "mean_rate_hz",
    "pause_fraction",
    "peak_frequency",
    "phase_locking_value",
    "poisson_surprise",
    "poisson_surprise_bursts",
    "population_rate",
    "selectivity",
    "spike_count_correlation",
    "synchrony_chi",
    "trains_from_indices",
    "welch_psd",
]
