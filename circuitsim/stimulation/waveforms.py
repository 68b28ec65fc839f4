"""Stimulation waveforms in one place (plain NumPy, SI units): pulse trains and pulse shapes.

A pulse train is a list of onset times on the simulation's time grid; a pulse shape says
what current flows during one pulse. Both DBS (:mod:`circuitsim.stimulation.dbs`) and any other
pulsed stimulus can use them:

* :func:`regular_onsets` gives the onsets of a regular train with start/stop times and optional
  cycling (on for ``cycle_on``, off for ``cycle_off``, repeated; the train restarts at the
  beginning of each on-period, as a stimulator switched on does);
* :func:`snap_to_grid` puts any list of onset times (e.g. a TMS protocol) on the ``dt`` grid;
* :class:`PulseShape` describes a monophasic cathodic or a biphasic pulse (cathodic phase first,
  an interphase gap, then an anodic phase whose amplitude is ``anodic_ratio`` times the cathodic
  amplitude and whose width makes it charge balanced unless given); it reports the charge per
  phase, the balance and the energy per pulse into a resistive electrode impedance;
* :func:`sample_waveform` draws the current of a train on any time axis (for figures).

Conventions: a cathodic current is negative (as clinical stimulators show it); amplitudes are
given positive. Onsets are rounded to the nearest whole time step (the error is at most dt/2);
pulse widths are used exactly in charge and energy, since the network sees a pulse only
through its effect (:mod:`circuitsim.stimulation.dbs`), not through its sampled shape.

Errors are :class:`WaveformError` (a ``ValueError``) naming the offending ``field``, so a config
validator can turn it into a :class:`~circuitsim.errors.ConfigError` with the config path.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

__all__ = ["WaveformError", "PulseShape", "MIN_PERIOD_STEPS", "regular_onsets", "snap_to_grid",
           "check_train", "sample_waveform", "pulse_energy"]

#: The shortest pulse period, in time steps, that a train may have: with fewer steps between
#: pulses the network cannot resolve separate pulses (model choice).
MIN_PERIOD_STEPS = 3
#: Relative tolerance of the charge-balance check (model choice: 0.1 %).
BALANCE_RTOL = 1e-3
_EPS = 1e-9


class WaveformError(ValueError):
    """An impossible waveform; ``field`` names the parameter to change."""

    def __init__(self, field: str, message: str):
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


@dataclass(frozen=True)
class PulseShape:
    """One stimulation pulse: a cathodic phase, optionally followed by a gap and an anodic phase.

    Parameters
    ----------
    amplitude : float
        Current of the cathodic (first) phase, A, >= 0.
    pulse_width : float
        Duration of the cathodic phase, s, > 0.
    biphasic : bool
        Add a charge-recovering anodic phase.
    interphase_gap : float
        Time between the phases, s (biphasic only).
    anodic_ratio : float
        Anodic amplitude / cathodic amplitude, in (0, 1] (biphasic only). 1 = symmetric pulse;
        below 1 = a long, low "passive-recharge-like" anodic phase.
    anodic_width : float, optional
        Duration of the anodic phase, s. Default: ``pulse_width / anodic_ratio`` (balanced).
    """

    amplitude: float
    pulse_width: float
    biphasic: bool = False
    interphase_gap: float = 0.0
    anodic_ratio: float = 1.0
    anodic_width: Optional[float] = None

    def __post_init__(self) -> None:
        if not (self.amplitude >= 0 and math.isfinite(self.amplitude)):
            raise WaveformError("amplitude", f"must be a finite non-negative current (got {self.amplitude})")
        if not self.pulse_width > 0:
            raise WaveformError("pulse_width", f"must be positive (got {self.pulse_width})")
        if self.interphase_gap < 0:
            raise WaveformError("interphase_gap", f"cannot be negative (got {self.interphase_gap})")
        if not 0 < self.anodic_ratio <= 1:
            raise WaveformError("anodic_ratio", f"must lie in (0, 1] (got {self.anodic_ratio})")
        if self.anodic_width is not None and not self.anodic_width > 0:
            raise WaveformError("anodic_width", f"must be positive (got {self.anodic_width})")

    @property
    def anodic_duration(self) -> float:
        """Duration of the anodic phase, s (0 for a monophasic pulse)."""
        if not self.biphasic:
            return 0.0
        return self.anodic_width if self.anodic_width is not None else self.pulse_width / self.anodic_ratio

    @property
    def anodic_amplitude(self) -> float:
        return self.amplitude * self.anodic_ratio if self.biphasic else 0.0

    @property
    def duration(self) -> float:
        """From the start of the cathodic phase to the end of the last phase, s."""
        if not self.biphasic:
            return self.pulse_width
        return self.pulse_width + self.interphase_gap + self.anodic_duration

    @property
    def charge_per_phase(self) -> float:
        """Charge of the cathodic phase, C (the clinical "charge per phase")."""
        return self.amplitude * self.pulse_width

    @property
    def anodic_charge(self) -> float:
        return self.anodic_amplitude * self.anodic_duration

    @property
    def net_charge(self) -> float:
        """Cathodic minus anodic charge, C (0 for a balanced biphasic pulse)."""
        return self.charge_per_phase - self.anodic_charge

    def is_balanced(self) -> bool:
        return abs(self.net_charge) <= BALANCE_RTOL * max(self.charge_per_phase, 1e-30)

    def require_balanced(self) -> None:
        """Raise :class:`WaveformError` unless the pulse is charge balanced."""
        if not self.biphasic:
            raise WaveformError("shape", "a monophasic pulse is never charge balanced; use shape: biphasic "
                                         "or balanced: false")
        if not self.is_balanced():
            raise WaveformError(
                "anodic_width",
                f"the phases do not balance: cathodic {self.charge_per_phase * 1e9:.4g} nC, anodic "
                f"{self.anodic_charge * 1e9:.4g} nC; leave anodic_width out (it then follows from "
                f"pulse_width / anodic_ratio) or set balanced: false")

    def energy(self, impedance: float, amplitude: Optional[float] = None) -> float:
        """Energy of one pulse into a resistive load, J: sum over phases of I^2 * R * width.

        ``amplitude`` overrides the cathodic amplitude (the anodic phase scales with it).
        """
        a = self.amplitude if amplitude is None else amplitude
        return pulse_energy(a, self, impedance)

    def phases(self) -> list:
        """``(start, stop, current)`` of each phase relative to the onset; cathodic current negative."""
        out = [(0.0, self.pulse_width, -self.amplitude)]
        if self.biphasic:
            t0 = self.pulse_width + self.interphase_gap
            out.append((t0, t0 + self.anodic_duration, self.anodic_amplitude))
        return out


def pulse_energy(amplitude, shape: PulseShape, impedance: float):
    """Energy of pulses of cathodic ``amplitude`` (scalar or array, A) into ``impedance`` (ohm), J."""
    a = np.asarray(amplitude, dtype=float)
    e = a ** 2 * impedance * (shape.pulse_width + (shape.anodic_ratio ** 2 * shape.anodic_duration
                                                   if shape.biphasic else 0.0))
    return float(e) if e.ndim == 0 else e


def snap_to_grid(times: Sequence[float], dt: float) -> np.ndarray:
    """Round onset times to the nearest multiple of ``dt`` (s); returns sorted unique times."""
    if not dt > 0:
        raise WaveformError("dt", f"must be positive (got {dt})")
    steps = np.unique(np.round(np.asarray(times, dtype=float) / dt).astype(np.int64))
    return steps * dt


def check_train(frequency: float, shape: PulseShape, dt: float) -> None:
    """Check that a train of ``shape`` pulses at ``frequency`` can be resolved at time step ``dt``.

    Raises
    ------
    WaveformError
        For a phase shorter than ``dt``, a frequency below 0, a period shorter than
        :data:`MIN_PERIOD_STEPS` time steps, or a pulse that does not fit into one period.
    """
    if shape.pulse_width < dt * (1 - _EPS):
        raise WaveformError("pulse_width", f"{shape.pulse_width * 1e6:g} us is shorter than the time step "
                                           f"(sim.dt = {dt * 1e6:g} us); lower sim.dt (e.g. sim.dt=0.05*ms) "
                                           f"or lengthen the pulse")
    if shape.biphasic and shape.anodic_duration < dt * (1 - _EPS):
        raise WaveformError("anodic_width", f"the anodic phase ({shape.anodic_duration * 1e6:g} us) is shorter "
                                            f"than the time step (sim.dt = {dt * 1e6:g} us)")
    if frequency < 0 or not math.isfinite(frequency):
        raise WaveformError("frequency", f"must be a finite frequency >= 0 (0 Hz = stimulator off), got {frequency}")
    if frequency == 0:
        return
    period = 1.0 / frequency
    if period < MIN_PERIOD_STEPS * dt * (1 - _EPS):
        raise WaveformError("frequency", f"{frequency:g} Hz has a period of {period * 1e3:g} ms, fewer than "
                                         f"{MIN_PERIOD_STEPS} time steps (sim.dt = {dt * 1e3:g} ms): not "
                                         f"resolvable; use at most {1.0 / (MIN_PERIOD_STEPS * dt):g} Hz or a "
                                         f"smaller sim.dt")
    if shape.duration >= period - dt * _EPS:
        raise WaveformError("pulse_width", f"the pulse lasts {shape.duration * 1e3:g} ms (phases and gap), "
                                           f"not shorter than the period {period * 1e3:g} ms at {frequency:g} Hz")


def regular_onsets(frequency: float, start: float, stop: float, dt: float,
                   cycle_on: Optional[float] = None, cycle_off: Optional[float] = None) -> np.ndarray:
    """Onset times of a regular pulse train, on the ``dt`` grid, in ``[start, stop)``.

    Parameters
    ----------
    frequency : float
        Pulses per second; 0 gives no pulse (stimulator off).
    start, stop : float
        The train runs from ``start`` (first pulse) until before ``stop``, s.
    dt : float
        Time step; every onset is rounded to the nearest multiple of it.
    cycle_on, cycle_off : float, optional
        Cycling: on for ``cycle_on`` s, then off for ``cycle_off`` s, repeated from ``start``.
        The train restarts at the beginning of each on-period. Both or neither.

    Returns
    -------
    numpy.ndarray
        Strictly increasing onset times (s), each a whole multiple of ``dt``.
    """
    if frequency < 0:
        raise WaveformError("frequency", f"must be >= 0 (got {frequency})")
    if stop < start:
        raise WaveformError("stop", f"must not lie before start ({stop} < {start})")
    if (cycle_on is None) != (cycle_off is None):
        raise WaveformError("cycle_on" if cycle_on is None else "cycle_off",
                            "cycling needs both cycle_on and cycle_off")
    if frequency == 0 or stop == start:
        return np.empty(0)
    period = 1.0 / frequency
    if cycle_on is None:
        windows = [(start, stop)]
    else:
        if not cycle_on > 0:
            raise WaveformError("cycle_on", f"must be positive (got {cycle_on})")
        if cycle_off < 0:
            raise WaveformError("cycle_off", f"cannot be negative (got {cycle_off})")
        cycle = cycle_on + cycle_off
        n_cycles = int(math.ceil((stop - start) / cycle - _EPS))
        windows = [(start + k * cycle, min(stop, start + k * cycle + cycle_on)) for k in range(max(n_cycles, 0))]
    onsets = []
    for w0, w1 in windows:
        n = int(math.ceil((w1 - w0) / period - _EPS))
        t = w0 + period * np.arange(max(n, 0))
        onsets.append(t[t < w1 - dt * _EPS])
    steps = np.round(np.concatenate(onsets) / dt).astype(np.int64) if onsets else np.empty(0, np.int64)
    steps = np.unique(steps)
    steps = steps[steps * dt < stop - dt * _EPS]
    return steps * dt


def sample_waveform(t: np.ndarray, onsets: np.ndarray, shape: PulseShape,
                    amplitudes: Optional[np.ndarray] = None) -> np.ndarray:
    """Stimulation current (A, cathodic negative) at times ``t`` for pulses starting at ``onsets``.

    ``amplitudes`` (one per onset) overrides the shape's amplitude, e.g. for closed loop.
    """
    t = np.asarray(t, dtype=float)
    out = np.zeros_like(t)
    onsets = np.asarray(onsets, dtype=float)
    amps = np.full(onsets.size, shape.amplitude) if amplitudes is None else np.asarray(amplitudes, float)
    if amps.shape != onsets.shape:
        raise WaveformError("amplitudes", f"need one amplitude per onset ({amps.size} for {onsets.size})")
    # phases per unit of cathodic amplitude
    rel = [(0.0, shape.pulse_width, -1.0)]
    if shape.biphasic:
        t0 = shape.pulse_width + shape.interphase_gap
        rel.append((t0, t0 + shape.anodic_duration, shape.anodic_ratio))
    for onset, a_k in zip(onsets, amps):
        for a, b, unit in rel:
            out[(t >= onset + a) & (t < onset + b)] += unit * a_k
    return out
