"""End-to-end muscle readout: corticospinal spikes -> drive -> motor units ->
force, surface EMG, head angle and clinical metrics.

Conventions
-----------
* ``channel_spikes`` holds **exactly two** motor channels forming the
  antagonist pair of head rotators.  Dict order matters: the **first** entry is
  the *left rotator* (turns the chin to the left), the **second** the *right
  rotator*.  Head angle: positive = rotation to the left
  (:mod:`circuitsim.muscle.posture`).
* All time series are sampled at ``MuscleParams.fs_hz`` (default 2 kHz) on
  the grid ``t_k = k / fs_hz``, ``k = 0..round(duration * fs_hz) - 1``.
* Relative EMG band powers (``tremor_power`` 3-8 Hz, ``alpha_power`` 8-12 Hz,
  ``beta_power`` 15-30 Hz) are Welch powers of the **full-wave rectified**,
  band-passed EMG (mean removed) divided by its power in 1-100 Hz, i.e. they
  describe the modulation of muscle activity, not the MUAP spectrum.
* ``co_contraction_index``: Falconer & Winter (1985) index of the two linear
  envelopes after subtracting ``envelope_noise_factor`` (1.5) times the
  expected envelope of the measurement noise
  (:func:`~circuitsim.muscle.emg.noise_envelope_level`) and clipping at 0, so
  that silent muscles do not count as co-contracting.  It is taken only over
  the time in which at least one muscle is active (its envelope above that
  noise floor), and is ``None`` (``null`` in ``metrics.json``) when that time
  is shorter than ``cci_min_active_s`` (0.1 s): at rest a relaxed pair has no
  co-contraction index, rather than the index of two noise records.
* ``lfp_emg_coherence``: magnitude-squared coherence
  (``scipy.signal.coherence``, 1 s Hann segments, 50 % overlap) between the
  supplied (pallidal) LFP and the rectified EMG of the **agonist**, defined
  as the muscle with the larger mean EMG envelope (the first muscle on a
  tie); both signals are resampled (``scipy.signal.resample_poly``) to
  ``coherence_fs_hz`` (default 500 Hz).  Band values are the mean coherence
  over bins ``low <= f < high`` (theta 4-8 Hz, alpha 8-12 Hz).  NaN when no
  LFP is given.  With few segments coherence is biased upward (bias ~ 1/K for
  K independent segments), so use >= 4 s of data for meaningful values.
* ``active_fraction`` (per muscle): fraction of the time in which the
  muscle's envelope is above the noise floor (the same floor as for the
  co-contraction index).
* ``severity_score``: :func:`~circuitsim.muscle.metrics.severity_score` of the
  co-contraction index, the absolute mean head angle (deg) and the
  ``tremor_power`` of the agonist (the same muscle as for the coherence; the
  weakly active antagonist's relative spectrum is dominated by noise and
  recruitment fluctuations).  The tremor counts only when the agonist is
  active for at least ``tremor_min_active_fraction`` (0.5) of the time: a
  tremor rides on a sustained contraction, and the spectrum of a relaxed
  muscle's occasional twitches over the noise is no tremor.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Mapping, Sequence

import numpy as np
from scipy.signal import coherence, resample_poly

from circuitsim.checks import as_1d_float, as_band, as_int, float_in_range, nonnegative_float, positive_float
from .emg import EMGParams, _check_fs_for_emg, emg_envelope, noise_envelope_level, surface_emg
from .force import TwitchParams, muscle_force
from .metrics import (
    SeverityParams,
    co_contraction_index,
    emg_band_power,
    head_angle_summary,
    severity_score,
)
from .pool import PoolParams, corticospinal_drive, denervate, simulate_pool
from .posture import HeadParams, head_angle

__all__ = ["MuscleParams", "MuscleReadout", "muscle_readout"]

logger = logging.getLogger(__name__)

_SUB_PARAMS: dict[str, type] = {
    "pool": PoolParams,
    "twitch": TwitchParams,
    "emg": EMGParams,
    "head": HeadParams,
    "severity": SeverityParams,
}

_BAND_FIELDS = (
    "tremor_band_hz",
    "alpha_band_hz",
    "beta_band_hz",
    "reference_band_hz",
    "coherence_theta_hz",
    "coherence_alpha_hz",
)


@dataclass(frozen=True)
class MuscleParams:
    """All parameters of the muscle readout (plain SI floats).

    Parameters
    ----------
    pool, twitch, emg, head, severity : dataclass
        :class:`PoolParams`, :class:`TwitchParams`, :class:`EMGParams`,
        :class:`HeadParams`, :class:`SeverityParams` (see their docstrings for
        defaults and sources).
    fs_hz : float
        Sampling rate of every output time series in Hz.  Default 2000 Hz
        (>= 2 kHz is standard for surface EMG, Merletti & Parker 2004).
    drive_tau_s : float
        Time constant of the corticospinal synapse filter in seconds.
        Default 0.02 s (see :func:`corticospinal_drive`).
    angle_threshold_deg : float
        Threshold for ``head_angle_deg.frac_beyond``.  Default 5 deg.
    jerk_velocity_deg_s, jerk_min_interval_s : float
        A phasic head movement (``head_angle_deg.jerks_per_s``) is a peak of the angular speed
        above ``jerk_velocity_deg_s``, at least ``jerk_min_interval_s`` after the last.
        Defaults 30 deg/s and 0.1 s (model choices, see
        :func:`~circuitsim.muscle.metrics.head_angle_summary`).
    tremor_band_hz, alpha_band_hz, beta_band_hz : (float, float)
        Bands of the relative rectified-EMG powers.  Defaults (3, 8), (8, 12),
        (15, 30) Hz (dystonic tremor 3-8 Hz, e.g. Deuschl 1998 consensus).
    reference_band_hz : (float, float)
        Reference band of the relative powers.  Default (1, 100) Hz.
    coherence_theta_hz, coherence_alpha_hz : (float, float)
        LFP-EMG coherence bands.  Defaults (4, 8) and (8, 12) Hz (pallido-
        muscular coherence in dystonia is found at 4-12 Hz, Sharott et al.
        2008).
    coherence_fs_hz : float
        Common rate for the LFP-EMG coherence.  Default 500 Hz.
    spectral_segment_s : float
        Welch / coherence segment length in seconds.  Default 1 s.
    tremor_min_active_fraction : float
        Least ``active_fraction`` of the agonist for its tremor power to enter
        the severity score.  Default 0.5 (model choice: the muscle contracts
        most of the time, so a 3-8 Hz modulation is a tremor on a sustained
        contraction, not the rhythm of occasional twitches).
    cci_min_active_s : float
        Least time (s) in which at least one muscle is active (envelope above
        the noise floor) for the co-contraction index to be defined; below it
        the index is ``None``.  Default 0.1 s (model choice: a few envelope
        time constants, so that single noise crossings do not define an index).
    envelope_noise_factor : float
        Multiple of the expected noise-envelope level
        (:func:`~circuitsim.muscle.emg.noise_envelope_level`) subtracted from
        both envelopes before the co-contraction index.  Default 1.5 (model
        choice: the mean noise level plus a margin of about five standard
        deviations of its 6-Hz-smoothed fluctuation, so that two silent
        muscles give a CCI of 0 rather than the CCI of two noise records).
    denervated_muscles : tuple of str
        Muscles injected with botulinum toxin (``treatment=botulinum_toxin``).  Default none.
    denervated_fraction : float
        Fraction of the motor units of each injected muscle that the toxin chemodenervates: their
        spike trains reach no fibre, so they add neither force nor EMG
        (:func:`~circuitsim.muscle.pool.denervate`, units spread evenly over the recruitment
        order).  Default 0.  The M-wave amplitude and the maximal voluntary EMG of a human muscle
        fall with the log of the dose and level off at an 85-90 % decrement (Hamjian & Walker
        1994, Muscle Nerve 17:1385).
    """

    pool: PoolParams = field(default_factory=PoolParams)
    twitch: TwitchParams = field(default_factory=TwitchParams)
    emg: EMGParams = field(default_factory=EMGParams)
    head: HeadParams = field(default_factory=HeadParams)
    severity: SeverityParams = field(default_factory=SeverityParams)
    fs_hz: float = 2000.0  # Merletti & Parker 2004
    drive_tau_s: float = 0.02  # estimate, see pool.corticospinal_drive
    angle_threshold_deg: float = 5.0  # estimate
    jerk_velocity_deg_s: float = 30.0  # model choice
    jerk_min_interval_s: float = 0.1  # model choice
    tremor_band_hz: tuple[float, float] = (3.0, 8.0)  # dystonic tremor, Deuschl et al. 1998
    alpha_band_hz: tuple[float, float] = (8.0, 12.0)
    beta_band_hz: tuple[float, float] = (15.0, 30.0)
    reference_band_hz: tuple[float, float] = (1.0, 100.0)
    coherence_theta_hz: tuple[float, float] = (4.0, 8.0)  # Sharott et al. 2008
    coherence_alpha_hz: tuple[float, float] = (8.0, 12.0)  # Sharott et al. 2008
    coherence_fs_hz: float = 500.0
    spectral_segment_s: float = 1.0
    envelope_noise_factor: float = 1.5  # model choice
    cci_min_active_s: float = 0.1  # model choice
    tremor_min_active_fraction: float = 0.5  # model choice
    denervated_muscles: tuple[str, ...] = ()
    denervated_fraction: float = 0.0  # Hamjian & Walker 1994: up to 0.85-0.9

    def __post_init__(self) -> None:
        muscles = self.denervated_muscles
        if isinstance(muscles, str) or not isinstance(muscles, Sequence):
            raise ValueError(f"denervated_muscles must be a list of muscle names, got {muscles!r}")
        muscles = tuple(str(m) for m in muscles)
        for m in muscles:
            if m.endswith("_None") or not m:
                raise ValueError(f"denervated_muscles: {m!r} names no muscle: the botulinum preset injects the "
                                 "rotator of circuit.side, which is unset (healthy); choose side=left or side=right, "
                                 "or name the muscles: readout.muscle.params.denervated_muscles=[rotator_left]")
        object.__setattr__(self, "denervated_muscles", muscles)
        object.__setattr__(self, "denervated_fraction",
                           float_in_range(self.denervated_fraction, "denervated_fraction", 0.0, 1.0))
        for name, cls in _SUB_PARAMS.items():
            if not isinstance(getattr(self, name), cls):
                raise ValueError(f"{name} must be a {cls.__name__}, got {getattr(self, name)!r}")
        fs = positive_float(self.fs_hz, "fs_hz")
        object.__setattr__(self, "fs_hz", fs)
        object.__setattr__(self, "envelope_noise_factor",
                           nonnegative_float(self.envelope_noise_factor, "envelope_noise_factor"))
        object.__setattr__(self, "cci_min_active_s",
                           nonnegative_float(self.cci_min_active_s, "cci_min_active_s"))
        object.__setattr__(self, "tremor_min_active_fraction",
                           float_in_range(self.tremor_min_active_fraction, "tremor_min_active_fraction", 0.0, 1.0))
        for name in ("drive_tau_s", "coherence_fs_hz", "spectral_segment_s"):
            object.__setattr__(self, name, positive_float(getattr(self, name), name))
        object.__setattr__(self, "angle_threshold_deg",
                           nonnegative_float(self.angle_threshold_deg, "angle_threshold_deg"))
        object.__setattr__(self, "jerk_velocity_deg_s",
                           positive_float(self.jerk_velocity_deg_s, "jerk_velocity_deg_s"))
        object.__setattr__(self, "jerk_min_interval_s",
                           nonnegative_float(self.jerk_min_interval_s, "jerk_min_interval_s"))
        for name in _BAND_FIELDS:
            nyq = (self.coherence_fs_hz if name.startswith("coherence") else fs) / 2.0
            object.__setattr__(self, name, as_band(getattr(self, name), name, nyquist=nyq))
        # consistency of the sampling rate with the other stages
        if 1.0 / fs > 0.25 / max(self.pool.peak_rate_first_hz, self.pool.peak_rate_last_hz):
            raise ValueError(f"fs_hz ({fs} Hz) is too low for the motoneuron pool")
        try:
            _check_fs_for_emg(fs, self.emg)
        except ValueError as exc:
            raise ValueError(f"fs_hz: {exc}") from None

    # ------------------------------------------------------------------ #
    @classmethod
    def field_names(cls) -> dict[str, str]:
        """Map every accepted flat field name to its group (``""`` = top level)."""
        names: dict[str, str] = {}
        for group, sub in _SUB_PARAMS.items():
            for f in dataclasses.fields(sub):
                names[f.name] = group
        for f in dataclasses.fields(cls):
            if f.name not in _SUB_PARAMS:
                names[f.name] = ""
        return names

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> "MuscleParams":
        """Build parameters from plain SI values.

        Accepted forms (may be mixed):

        * flat field names, e.g. ``{"n_units": 100, "max_force_n": 80.0}``
          (field names are unique across the sub-parameter groups);
        * nested groups, e.g. ``{"pool": {"n_units": 100}, "head": {...}}``;
        * dotted names, e.g. ``{"pool.n_units": 100}``.

        Values must be plain SI numbers (bands: pairs of Hz).  Unspecified
        fields keep their defaults.

        Raises
        ------
        ValueError
            Naming any unknown field (or group), or from the validation of a
            field value.
        """
        if d is None:
            return cls()
        if not isinstance(d, Mapping):
            raise ValueError(f"MuscleParams.from_dict expects a mapping, got {type(d).__name__}")
        flat_groups = cls.field_names()
        sub_kwargs: dict[str, dict[str, Any]] = {g: {} for g in _SUB_PARAMS}
        top_kwargs: dict[str, Any] = {}
        unknown: list[str] = []

        def put(group: str, name: str, value: Any, label: str) -> None:
            if group == "":
                if name not in flat_groups or flat_groups[name] != "":
                    unknown.append(label)
                    return
                if name in _BAND_FIELDS and isinstance(value, (list, tuple)):
                    value = tuple(value)
                top_kwargs[name] = value
            else:
                valid = {f.name for f in dataclasses.fields(_SUB_PARAMS[group])}
                if name not in valid:
                    unknown.append(label)
                    return
                sub_kwargs[group][name] = value

        for key, value in d.items():
            if not isinstance(key, str):
                unknown.append(repr(key))
                continue
            if key in _SUB_PARAMS:
                if isinstance(value, _SUB_PARAMS[key]):
                    for f in dataclasses.fields(value):
                        sub_kwargs[key].setdefault(f.name, getattr(value, f.name))
                    continue
                if not isinstance(value, Mapping):
                    raise ValueError(f"{key} must be a mapping of field names to values")
                for name, v in value.items():
                    put(key, str(name), v, f"{key}.{name}")
            elif "." in key:
                group, _, name = key.partition(".")
                if group not in _SUB_PARAMS:
                    unknown.append(key)
                    continue
                put(group, name, value, key)
            elif key in flat_groups:
                put(flat_groups[key], key, value, key)
            else:
                unknown.append(key)
        if unknown:
            raise ValueError(
                "unknown MuscleParams field(s): " + ", ".join(sorted(unknown))
                + "; valid names are: " + ", ".join(sorted(flat_groups))
            )
        subs = {g: _SUB_PARAMS[g](**kw) for g, kw in sub_kwargs.items()}
        return cls(**subs, **top_kwargs)

    def to_dict(self) -> dict[str, Any]:
        """Flat dict of all fields (inverse of :meth:`from_dict`)."""
        out: dict[str, Any] = {}
        for group in _SUB_PARAMS:
            out.update(dataclasses.asdict(getattr(self, group)))
        for f in dataclasses.fields(self):
            if f.name not in _SUB_PARAMS:
                out[f.name] = getattr(self, f.name)
        return out


@dataclass
class MuscleReadout:
    """Result of :func:`muscle_readout`.

    Attributes
    ----------
    muscles : tuple of str
        ``(left_rotator, right_rotator)`` names, in the order given.
    duration : float
        Analysed duration in seconds.
    fs_hz : float
        Sampling rate (Hz) shared by ``drive``, ``force``, ``emg``,
        ``envelope`` and ``head_angle``; also listed per series in
        ``sampling_rates``.
    time : numpy.ndarray
        Sample times ``k / fs_hz`` in seconds.
    drive : dict of str -> numpy.ndarray
        Corticospinal drive per muscle, Hz per neuron.
    unit_spikes : dict of str -> list of numpy.ndarray
        Motor-unit spike times (s) per muscle, in recruitment order.
    force : dict of str -> numpy.ndarray
        Muscle force (N).
    emg : dict of str -> numpy.ndarray
        Raw band-passed surface EMG (V).
    envelope : dict of str -> numpy.ndarray
        Linear envelope of the EMG (V), before noise-floor subtraction.
    head_angle : numpy.ndarray
        Head yaw angle (rad), positive = left.
    metrics : dict
        See :func:`muscle_readout`.
    coherence_muscle : str
        Muscle whose rectified EMG was used for the LFP-EMG coherence.
    noise_floor_v : float
        Level (V) subtracted from the envelopes before the CCI
        (``envelope_noise_factor`` x expected noise envelope).
    params : MuscleParams
        Parameters used.
    """

    muscles: tuple[str, str]
    duration: float
    fs_hz: float
    time: np.ndarray
    drive: dict[str, np.ndarray]
    unit_spikes: dict[str, list[np.ndarray]]
    force: dict[str, np.ndarray]
    emg: dict[str, np.ndarray]
    envelope: dict[str, np.ndarray]
    head_angle: np.ndarray
    metrics: dict[str, Any]
    coherence_muscle: str
    noise_floor_v: float
    params: MuscleParams

    @property
    def sampling_rates(self) -> dict[str, float]:
        """Sampling rate (Hz) of every time series."""
        return {k: self.fs_hz for k in ("drive", "force", "emg", "envelope", "head_angle")}

    def __getitem__(self, key: str) -> Any:
        """Dict-style access to the attributes (``result["force"]``)."""
        if key == "sampling_rates":
            return self.sampling_rates
        if key in {f.name for f in dataclasses.fields(self)}:
            return getattr(self, key)
        raise KeyError(key)

    def keys(self) -> list[str]:
        """Names available through ``__getitem__``."""
        return [f.name for f in dataclasses.fields(self)] + ["sampling_rates"]


def _resample(x: np.ndarray, fs_in: float, fs_out: float) -> np.ndarray:
    """Anti-aliased rational resampling (``scipy.signal.resample_poly``)."""
    if math.isclose(fs_in, fs_out, rel_tol=1e-9):
        return x
    frac = Fraction(fs_out / fs_in).limit_denominator(1000)
    if frac.numerator == 0:
        raise ValueError(f"cannot resample from {fs_in} Hz to {fs_out} Hz")
    return resample_poly(x, frac.numerator, frac.denominator)


def _band_mean(f: np.ndarray, values: np.ndarray, band: tuple[float, float]) -> float:
    mask = (f >= band[0]) & (f < band[1])
    if not np.any(mask):
        logger.warning("no frequency bins in band %s Hz; returning NaN", band)
        return float("nan")
    return float(np.mean(values[mask]))


def _lfp_emg_coherence(
    lfp: np.ndarray, lfp_fs: float, emg_rect: np.ndarray, params: MuscleParams,
    duration: float,
) -> dict[str, float]:
    fs_c = params.coherence_fs_hz
    a = _resample(lfp, lfp_fs, fs_c)
    b = _resample(emg_rect, params.fs_hz, fs_c)
    n_expected = int(round(duration * fs_c))
    n = min(a.size, b.size, n_expected)
    if a.size < n_expected - 1:
        logger.warning(
            "LFP covers %.3f s of the %.3f s readout; coherence uses the overlap only",
            a.size / fs_c, duration)
    nperseg = int(min(round(params.spectral_segment_s * fs_c), n // 2))
    if nperseg < 8:
        logger.warning("too few samples (%d) for LFP-EMG coherence; returning NaN", n)
        return {"theta": float("nan"), "alpha": float("nan")}
    with np.errstate(invalid="ignore", divide="ignore"):
        f, cxy = coherence(a[:n], b[:n], fs=fs_c, nperseg=nperseg)
    return {
        "theta": _band_mean(f, cxy, params.coherence_theta_hz),
        "alpha": _band_mean(f, cxy, params.coherence_alpha_hz),
    }


def _fit(x: np.ndarray, n: int) -> np.ndarray:
    """Trim or zero-pad ``x`` to length ``n`` (guards against rounding of N)."""
    if x.size == n:
        return x
    if x.size > n:
        return x[:n]
    return np.concatenate((x, np.zeros(n - x.size)))


def _n_neurons_for(n_neurons_per_channel: Any, name: str) -> int:
    if isinstance(n_neurons_per_channel, Mapping):
        if name not in n_neurons_per_channel:
            raise ValueError(f"n_neurons_per_channel has no entry for muscle {name!r}")
        return as_int(n_neurons_per_channel[name], f"n_neurons_per_channel[{name!r}]")
    return as_int(n_neurons_per_channel, "n_neurons_per_channel")


def muscle_readout(
    channel_spikes: Mapping[str, Sequence[np.ndarray] | np.ndarray],
    n_neurons_per_channel: int | Mapping[str, int],
    duration: float,
    rng: np.random.Generator,
    params: MuscleParams = MuscleParams(),
    lfp: np.ndarray | None = None,
    lfp_fs: float | None = None,
) -> MuscleReadout:
    """Turn corticospinal spikes of an antagonist pair into EMG, force, head angle and metrics.

    Parameters
    ----------
    channel_spikes : dict of str -> list of array_like
        Exactly two entries, muscle name -> spike times (s) of that channel's
        corticospinal neurons (one array per neuron, or one flat array).  The
        **first** entry is the left rotator, the **second** the right rotator.
    n_neurons_per_channel : int or dict of str -> int
        Number of corticospinal neurons per channel (including silent ones).
    duration : float
        Analysed duration in seconds, starting at t = 0.
    rng : numpy.random.Generator
        Source of all randomness (ISI jitter, MUAP amplitudes, EMG noise).
    params : MuscleParams, optional
        Parameters (default: literature defaults).
    lfp : array_like, optional
        Pallidal LFP, 1-D, sample ``k`` at ``k / lfp_fs`` seconds.
    lfp_fs : float, optional
        Sampling rate of ``lfp`` in Hz (required when ``lfp`` is given).

    Returns
    -------
    MuscleReadout
        Time series plus ``metrics`` with exactly these keys::

            {<left>:  {mean_force, emg_rms, tremor_power, alpha_power, beta_power,
                       active_fraction},
             <right>: {...},
             co_contraction_index,
             head_angle_deg: {mean, peak, frac_beyond, jerks_per_s},
             lfp_emg_coherence: {theta, alpha},
             severity_score}

        ``mean_force`` in N, ``emg_rms`` in V, band powers relative
        (dimensionless, see module docstring), angles in degrees (``mean``
        signed, positive = left; ``peak`` = max |angle|), ``frac_beyond`` a
        fraction of time, ``jerks_per_s`` phasic head movements per second, coherences in [0, 1] (NaN without LFP), severity in
        [0, 1].
    """
    if not isinstance(channel_spikes, Mapping):
        raise ValueError("channel_spikes must be a dict muscle_name -> list of spike arrays")
    if len(channel_spikes) != 2:
        raise ValueError(
            f"channel_spikes must contain exactly two muscles (left rotator, right rotator), "
            f"got {len(channel_spikes)}: {list(channel_spikes)!r}"
        )
    if not isinstance(params, MuscleParams):
        raise ValueError(f"params must be a MuscleParams, got {type(params).__name__}")
    if rng is None or not isinstance(rng, np.random.Generator):
        raise ValueError("rng must be a numpy.random.Generator")
    duration = positive_float(duration, "duration")
    names = tuple(str(k) for k in channel_spikes)
    reserved = {"co_contraction_index", "head_angle_deg", "lfp_emg_coherence", "severity_score"}
    if reserved & set(names):
        raise ValueError(f"muscle names must not clash with metric keys, got {names!r}")
    if names[0] == names[1]:
        raise ValueError("the two muscle names must differ")
    unknown = [m for m in params.denervated_muscles if m not in names]
    if unknown:
        raise ValueError(f"denervated_muscles: {', '.join(unknown)} not among the muscles {', '.join(names)}")
    fs = params.fs_hz
    dt = 1.0 / fs
    n_samples = int(round(duration * fs))
    if n_samples < 64:
        raise ValueError(f"duration ({duration} s) is too short: need >= 64 samples at {fs} Hz")
    if lfp is not None:
        if lfp_fs is None:
            raise ValueError("lfp_fs must be given when lfp is given")
        lfp_fs = positive_float(lfp_fs, "lfp_fs")
        lfp = as_1d_float(lfp, "lfp", allow_empty=False)

    drive: dict[str, np.ndarray] = {}
    units: dict[str, list[np.ndarray]] = {}
    force: dict[str, np.ndarray] = {}
    emg: dict[str, np.ndarray] = {}
    env: dict[str, np.ndarray] = {}
    for key, name in zip(channel_spikes, names):
        n_neur = _n_neurons_for(n_neurons_per_channel, key)
        d = corticospinal_drive(channel_spikes[key], n_neur, duration, dt, params.drive_tau_s)
        d = _fit(d, n_samples)
        drive[name] = d
        # each muscle's pool and EMG draw from streams of their own (a fixed number, in order)
        pool_rng, emg_rng = rng.spawn(2)
        units[name] = simulate_pool(d, dt, params.pool, pool_rng)
        if name in params.denervated_muscles:   # botulinum toxin: these units reach no fibre
            units[name] = denervate(units[name], params.denervated_fraction)
        force[name] = _fit(muscle_force(units[name], duration, dt, params.twitch, params.pool),
                           n_samples)
        emg[name] = _fit(surface_emg(units[name], duration, fs, params.emg, emg_rng), n_samples)
        env[name] = emg_envelope(emg[name], fs, params.emg.envelope_cutoff_hz)

    left, right = names
    angle = head_angle(force[left], force[right], dt, params.head)

    metrics: dict[str, Any] = {}
    seg = params.spectral_segment_s
    for name in names:
        rect = np.abs(emg[name])
        metrics[name] = {
            "mean_force": float(np.mean(force[name])),
            "emg_rms": float(np.sqrt(np.mean(emg[name] ** 2))),
            "tremor_power": emg_band_power(rect, fs, params.tremor_band_hz,
                                           relative_to=params.reference_band_hz, segment_s=seg),
            "alpha_power": emg_band_power(rect, fs, params.alpha_band_hz,
                                          relative_to=params.reference_band_hz, segment_s=seg),
            "beta_power": emg_band_power(rect, fs, params.beta_band_hz,
                                         relative_to=params.reference_band_hz, segment_s=seg),
        }
    noise_floor = params.envelope_noise_factor * noise_envelope_level(fs, params.emg)
    env_a = np.maximum(env[left] - noise_floor, 0.0)
    env_b = np.maximum(env[right] - noise_floor, 0.0)
    metrics[left]["active_fraction"] = float(np.mean(env_a > 0.0))
    metrics[right]["active_fraction"] = float(np.mean(env_b > 0.0))
    cci = co_contraction_index(env_a, env_b, fs=fs, min_active_s=params.cci_min_active_s)
    metrics["co_contraction_index"] = cci
    ang = head_angle_summary(angle, params.angle_threshold_deg, fs_hz=fs,
                             jerk_velocity_deg_s=params.jerk_velocity_deg_s,
                             jerk_min_interval_s=params.jerk_min_interval_s)
    metrics["head_angle_deg"] = ang

    agonist = left if np.mean(env[left]) >= np.mean(env[right]) else right
    if lfp is None:
        metrics["lfp_emg_coherence"] = {"theta": float("nan"), "alpha": float("nan")}
    else:
        metrics["lfp_emg_coherence"] = _lfp_emg_coherence(
            lfp, lfp_fs, np.abs(emg[agonist]), params, duration)

    tremor = metrics[agonist]["tremor_power"]
    if metrics[agonist]["active_fraction"] < params.tremor_min_active_fraction:
        tremor = None  # a relaxed muscle has no tremor
    metrics["severity_score"] = severity_score(cci, abs(ang["mean"]), tremor, params.severity)

    logger.info(
        "muscle_readout: force %s=%.2f N %s=%.2f N, CCI=%s, mean angle=%.1f deg, severity=%.2f",
        left, metrics[left]["mean_force"], right, metrics[right]["mean_force"],
        "none (relaxed)" if cci is None else f"{cci:.2f}",
        ang["mean"], metrics["severity_score"],
    )
    return MuscleReadout(
        muscles=(left, right),
        duration=duration,
        fs_hz=fs,
        time=np.arange(n_samples) / fs,
        drive=drive,
        unit_spikes=units,
        force=force,
        emg=emg,
        envelope=env,
        head_angle=angle,
        metrics=metrics,
        coherence_muscle=agonist,
        noise_floor_v=noise_floor,
        params=params,
    )
