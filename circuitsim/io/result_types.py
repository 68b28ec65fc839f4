"""The typed parts of a :class:`~circuitsim.io.results.Result`: signals, the muscle series, and the
compatibility view ``Result.extra``.

A run's output is built stage by stage, in this order, by :func:`circuitsim.api.finish_run`:

1. ``spikes``, ``sizes``, ``channels``, ``regions`` (the recordings, per population);
2. ``stimuli`` (the validated stimulus parameters, SI), ``stim_data`` (what their recorders
   kept) and ``lfp_currents`` (the LFP neurons' bin-mean currents);
3. ``rates`` (population rates) and ``lfp`` (the regions' LFP proxies), also as :class:`Signal`
   (``Result.rate_signal``, ``Result.lfp_signal``: values, sampling interval, start time);
4. ``spectra`` (each region's LFP power spectrum after the transient) and ``metrics``;
5. ``muscle`` (a :class:`MuscleSeries`, the same shape live and when loaded from ``muscle.npz``)
   and, live only, ``muscle_readout`` (the full readout: motor units, metrics);
6. the stimuli's measures (``metrics["stim"]``).

``Result.extra`` is a mapping view kept for code written against the older string keys
(``"stimuli"``, ``"stim_data"``, ``"lfp_currents"``, ``"spectra"``, ``"muscle"`` (the live
readout), ``"muscle_series"`` (the flat arrays of ``muscle.npz``)): each reads and writes the named
field. Any other key (a stimulus's own analysis, e.g. ``"tms"``) is kept in the view itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, Mapping, MutableMapping, Optional

import numpy as np

#: the per-muscle series of the readout, in ``muscle.npz`` as ``<muscle>.<series>``
MUSCLE_SERIES = ("drive", "force", "emg", "envelope")


@dataclass
class Signal:
    """Sampled signals that share a clock: ``values[name]`` sampled every ``dt`` s from ``start`` s."""

    values: Mapping[str, np.ndarray]
    dt: float
    start: float = 0.0

    @property
    def fs(self) -> float:
        """Sampling rate (Hz)."""
        return 1.0 / self.dt

    def time(self, name: str) -> np.ndarray:
        """The sample times (s) of ``values[name]``."""
        return self.start + self.dt * np.arange(np.asarray(self.values[name]).shape[-1])


@dataclass
class MuscleSeries:
    """The muscle readout's time series, one shape live and loaded.

    ``time`` (s, on the run's clock, from the end of the transient), ``head_angle`` (rad, positive
    = left), and per muscle the corticospinal ``drive`` (Hz per neuron), ``force`` (N), surface
    ``emg`` (V) and its ``envelope`` (V). ``noise_floor_v``: the EMG envelope's noise floor
    (live; a loaded run has it when its ``muscle.npz`` stored it).
    """

    time: np.ndarray
    head_angle: np.ndarray
    drive: Dict[str, np.ndarray] = field(default_factory=dict)
    force: Dict[str, np.ndarray] = field(default_factory=dict)
    emg: Dict[str, np.ndarray] = field(default_factory=dict)
    envelope: Dict[str, np.ndarray] = field(default_factory=dict)
    noise_floor_v: Optional[float] = None

    @property
    def muscles(self) -> list:
        return list(self.emg or self.force or self.drive)

    @property
    def fs(self) -> float:
        """Sampling rate (Hz) of the series."""
        return 1.0 / float(self.time[1] - self.time[0]) if self.time.size > 1 else 1.0

    @classmethod
    def from_readout(cls, readout: Any) -> "MuscleSeries":
        """The series of a live :class:`circuitsim.muscle.readout.ReadoutResult` (arrays shared)."""
        floor = getattr(readout, "noise_floor_v", None)
        return cls(time=np.asarray(readout.time), head_angle=np.asarray(readout.head_angle),
                   **{name: dict(getattr(readout, name)) for name in MUSCLE_SERIES},
                   noise_floor_v=None if floor is None else float(floor))

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], muscles: Optional[list] = None) -> "MuscleSeries":
        """From ``muscle.npz``'s arrays (``time``, ``head_angle``, ``<muscle>.<series>``); a
        muscle without one of the series gets zeros."""
        time = np.asarray(arrays["time"], dtype=float)
        names = [m for m in (muscles or []) if f"{m}.emg" in arrays] or \
            [k[: -len(".emg")] for k in arrays if k.endswith(".emg")]
        series = {name: {m: np.asarray(arrays.get(f"{m}.{name}", np.zeros(time.size))) for m in names}
                  for name in MUSCLE_SERIES}
        floor = arrays.get("_noise_floor_v")
        return cls(time=time, head_angle=np.asarray(arrays["head_angle"]), **series,
                   noise_floor_v=None if floor is None else float(floor))

    def to_arrays(self) -> Dict[str, np.ndarray]:
        """The flat arrays ``muscle.npz`` stores."""
        out = {"time": np.asarray(self.time), "head_angle": np.asarray(self.head_angle)}
        for name in MUSCLE_SERIES:
            for m, values in getattr(self, name).items():
                out[f"{m}.{name}"] = np.asarray(values)
        if self.noise_floor_v is not None:
            out["_noise_floor_v"] = np.array(self.noise_floor_v)
        return out


#: legacy ``extra`` key -> the Result field it stands for
_FIELDS = {"stimuli": "stimuli", "stim_data": "stim_data", "lfp_currents": "lfp_currents",
           "spectra": "spectra", "muscle": "muscle_readout"}


class ExtraView(MutableMapping):
    """``Result.extra``: the older string keys as a view onto the typed fields (module docstring)."""

    def __init__(self, result: Any) -> None:
        self._result = result

    def __getitem__(self, key: str) -> Any:
        if key in _FIELDS:
            value = getattr(self._result, _FIELDS[key])
        elif key == "muscle_series":
            value = None if self._result.muscle is None else self._result.muscle.to_arrays()
        else:
            return self._result._other[key]
        if value is None:
            raise KeyError(key)
        return value

    def __setitem__(self, key: str, value: Any) -> None:
        if key in _FIELDS:
            setattr(self._result, _FIELDS[key], value)
            if key == "muscle" and value is not None:
                self._result.muscle = MuscleSeries.from_readout(value)
        elif key == "muscle_series":
            self._result.muscle = None if value is None else MuscleSeries.from_arrays(value)
        else:
            self._result._other[key] = value

    def __delitem__(self, key: str) -> None:
        self[key]   # KeyError when absent
        if key in _FIELDS:
            setattr(self._result, _FIELDS[key], None)
        elif key == "muscle_series":
            self._result.muscle = None
        else:
            del self._result._other[key]

    def __iter__(self) -> Iterator[str]:
        keys = [k for k, f in _FIELDS.items() if getattr(self._result, f) is not None]
        if self._result.muscle is not None:
            keys.append("muscle_series")
        return iter(keys + list(self._result._other))

    def __len__(self) -> int:
        return sum(1 for _ in self)
