"""Functional and directed connectivity between regions, as electrophysiology would record it.

Not the synapse wiring (that is :mod:`circuitsim.circuit.connectivity`): these are measures of how
the regions' LFP proxies co-vary, computed with the maintained library ``spectral_connectivity``
(Eden-Kramer lab; multitaper spectra, coherence and nonparametric spectral Granger causality by
Wilson's spectral matrix factorisation, Dhamala, Rangarajan & Ding 2008, NeuroImage 41:354). No
estimator is written here.

Method (:func:`connectivity_bands`):

1. every region's signal after the transient is resampled to ``fs_out`` (250 Hz: the bands end at
   80 Hz) and cut into non-overlapping epochs of ``epoch_s`` (0.5 s, 2 Hz resolution as the
   run's LFP spectra); each epoch's mean is removed and the epochs are treated as trials;
2. multitaper cross-spectra (time-halfbandwidth product 2, 3 Slepian tapers) averaged over tapers
   and epochs;
3. ``coherence``: magnitude-squared coherence |S_ab|^2 / (S_aa S_bb), symmetric; ``granger``:
   pairwise spectral Granger prediction from a to b (Geweke 1982, J Am Stat Assoc 77:304), which
   is >= 0 and directed (``granger.<a>__<b>`` is a -> b);
4. each is averaged over the frequency bins of a band (:data:`circuitsim.analysis.spectra.BANDS`).

Keys (``metrics.json``, see docs/reference/metrics.md): ``connectivity.coherence.<a>__<b>.<band>``
for every unordered pair of regions (a before b in the order of the regions), and
``connectivity.granger.<a>__<b>.<band>`` for every ordered pair. The Granger estimate of short
records is biased upwards and noisy: compare it between runs of equal length, not against 0.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import sys
import threading
import types
from fractions import Fraction
from itertools import combinations, permutations
from typing import Dict, Mapping, Optional, Sequence, Tuple

import numpy as np

from .spectra import BANDS

logger = logging.getLogger(__name__)

__all__ = ["epochs", "connectivity_bands", "connectivity_matrix", "FS_OUT", "EPOCH_S", "MIN_EPOCHS"]

FS_OUT = 250.0       #: Hz, the rate the signals are resampled to (bands end at 80 Hz)
EPOCH_S = 0.5        #: s, epoch length (2 Hz resolution)
MIN_EPOCHS = 2       #: fewer epochs give no connectivity (the keys are absent)
TIME_HALFBANDWIDTH = 2.0   #: multitaper NW (3 tapers, +-4 Hz smoothing at 0.5 s)


def epochs(x: np.ndarray, fs: float, fs_out: float = FS_OUT, epoch_s: float = EPOCH_S) -> np.ndarray:
    """``x`` (time x signals) resampled to ``fs_out`` and cut into epochs: (time, epoch, signal)."""
    from scipy.signal import resample_poly

    x = np.asarray(x, dtype=float)
    if x.ndim != 2:
        raise ValueError(f"signals must be 2-D (time x signals), got shape {x.shape}")
    if abs(fs - fs_out) > 1e-9 * fs:
        frac = Fraction(fs_out / fs).limit_denominator(1000)
        x = resample_poly(x, frac.numerator, frac.denominator, axis=0)
    n = int(round(epoch_s * fs_out))
    k = x.shape[0] // n
    if k == 0:
        return np.zeros((n, 0, x.shape[1]))
    ep = x[:k * n].reshape(k, n, x.shape[1]).transpose(1, 0, 2)
    return ep - ep.mean(axis=0, keepdims=True)


_LIBRARY = "spectral_connectivity"
_LIBRARY_LOCK = threading.Lock()   # one stand-in at a time (threads)


def _library() -> tuple:
    """``(Connectivity, Multitaper)`` of ``spectral_connectivity``, imported on first use.

    The package's ``__init__`` also imports its xarray front end (``wrapper``), which brings xarray
    and pandas: about 0.5 s of a run's CPU for code this module never calls. The two estimator
    modules import neither, so they are loaded without the package's ``__init__``: a bare package
    module stands in for it while they load, and is removed afterwards, so a later ``import
    spectral_connectivity`` runs the real ``__init__`` (which finds the same submodules loaded).
    The estimators are the library's own code, unchanged.
    """
    with _LIBRARY_LOCK:
        stand_in = None
        if _LIBRARY not in sys.modules:   # else the real package is (or is being) imported: use it
            found = importlib.util.find_spec(_LIBRARY)
            if found is None or not found.submodule_search_locations:
                raise ImportError(f"{_LIBRARY} is not installed: pip install 'spectral_connectivity>=2.0,<2.1'")
            stand_in = types.ModuleType(_LIBRARY)
            stand_in.__path__ = list(found.submodule_search_locations)
            sys.modules[_LIBRARY] = stand_in
        try:
            conn_mod = importlib.import_module(f"{_LIBRARY}.connectivity")
            tr_mod = importlib.import_module(f"{_LIBRARY}.transforms")
        finally:
            if stand_in is not None and sys.modules.get(_LIBRARY) is stand_in:
                del sys.modules[_LIBRARY]
    return conn_mod.Connectivity, tr_mod.Multitaper


def _band_means(freqs: np.ndarray, values: np.ndarray, bands: Mapping[str, Tuple[float, float]]) -> Dict[str, np.ndarray]:
    out = {}
    for name, (lo, hi) in bands.items():
        mask = (freqs >= lo) & (freqs < hi)
        out[name] = values[mask].mean(axis=0) if np.any(mask) else np.full(values.shape[1:], np.nan)
    return out


def connectivity_matrix(signals: Mapping[str, np.ndarray], fs: float, epoch_s: float = EPOCH_S,
                        fs_out: float = FS_OUT) -> Optional[Tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(frequencies, coherence, granger) of the signals (name -> 1-D array, equal length).

    ``coherence[f, a, b]`` and ``granger[f, i, j]`` (the library's convention: j -> i) in the order
    of ``signals``; None
    with fewer than :data:`MIN_EPOCHS` epochs or fewer than two signals.
    """
    names = list(signals)
    if len(names) < 2:
        return None
    n = min(len(np.asarray(signals[k])) for k in names)
    x = np.column_stack([np.asarray(signals[k], dtype=float)[:n] for k in names])
    sd = x.std(axis=0)
    x = np.divide(x - x.mean(axis=0), sd, out=np.zeros_like(x), where=sd > 0)
    ep = epochs(x, fs, fs_out, epoch_s)
    if ep.shape[1] < MIN_EPOCHS:
        logger.warning("connectivity: %.2f s give %d epoch(s) of %.2f s; need %d: no connectivity measures",
                       n / fs, ep.shape[1], epoch_s, MIN_EPOCHS)
        return None
    Connectivity, Multitaper = _library()
    mt = Multitaper(ep, sampling_frequency=fs_out, time_halfbandwidth_product=TIME_HALFBANDWIDTH)
    conn = Connectivity.from_multitaper(mt)
    with np.errstate(invalid="ignore", divide="ignore"):
        coh = np.array(conn.coherence_magnitude())[0]   # (freq, a, b); one time window
        gc = np.array(conn.pairwise_spectral_granger_prediction())[0]
    silent = sd <= 0   # a silent region (no spectrum): coherence and Granger are undefined
    coh[:, silent, :] = coh[:, :, silent] = np.nan
    gc[:, silent, :] = gc[:, :, silent] = np.nan
    return np.asarray(conn.frequencies), coh, gc


def connectivity_bands(signals: Mapping[str, np.ndarray], fs: float, bands: Optional[Mapping] = None,
                       epoch_s: float = EPOCH_S) -> Dict[str, Dict[str, Dict[str, Optional[float]]]]:
    """``{"coherence": {"a__b": {band: value}}, "granger": {"a__b": {band: value}}}`` (see module doc).

    Values are floats, None where undefined (a silent signal); {} with too little data.
    """
    bands = dict(BANDS if bands is None else bands)
    out = connectivity_matrix(signals, fs, epoch_s)
    if out is None:
        return {}
    freqs, coh, gc = out
    names = list(signals)
    coh_b, gc_b = _band_means(freqs, coh, bands), _band_means(freqs, gc, bands)

    def num(v: float) -> Optional[float]:
        return float(v) if np.isfinite(v) else None

    idx = {name: k for k, name in enumerate(names)}
    coherence = {f"{a}__{b}": {band: num(coh_b[band][idx[a], idx[b]]) for band in bands}
                 for a, b in combinations(names, 2)}
    # the library's [i, j] is the influence j -> i (its docstring): a -> b is [b, a]
    granger = {f"{a}__{b}": {band: num(gc_b[band][idx[b], idx[a]]) for band in bands}
               for a, b in permutations(names, 2)}
    return {"coherence": coherence, "granger": granger}


def feature_names(regions: Sequence[str], bands: Optional[Sequence[str]] = None) -> list:
    """The dotted ``connectivity.*`` keys :func:`connectivity_bands` gives for these regions."""
    bands = list(BANDS if bands is None else bands)
    keys = [f"connectivity.coherence.{a}__{b}.{band}" for a, b in combinations(regions, 2) for band in bands]
    keys += [f"connectivity.granger.{a}__{b}.{band}" for a, b in permutations(regions, 2) for band in bands]
    return keys
