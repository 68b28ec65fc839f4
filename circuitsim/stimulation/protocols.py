"""TMS protocols as data: a list of blocks -> a table of pulse events.

A protocol is a list of *blocks*; each block is a small mapping whose ``type`` says how it
expands into pulses. Blocks follow each other: a block starts ``start`` after the last pulse of
the previous block (the first block ``start`` after t = 0). Every pulse is an event
``(time, site, intensity, role, condition, trial)``; new protocols are new data, never new code.

Block types (values with units as strings, intensities as ``"<x>%RMT"`` or ``"<x>%MSO"``):

``single``
    ``n`` test pulses ``interval`` apart at ``intensity`` over ``site``. ``intensity`` may be a
    list: the intensities then alternate trial by trial (``n`` pulses at each), as when the motor
    threshold is measured.
``paired``
    Trials ``interval`` apart. A conditioned trial is a ``conditioning`` pulse (its own ``site``
    and ``intensity``) followed ``isi`` later by the test pulse (``site``, ``intensity``);
    ``isi`` may be a list of intervals. With ``unconditioned: true`` (default) a test pulse
    alone is interleaved as its own condition, so conditioned and unconditioned MEPs come from
    the same stretch of the run. ``n`` trials per condition. SICI: conditioning 80 % RMT,
    2-3 ms; ICF: 8-15 ms (Kujirai et al. 1993); cerebellar-brain inhibition: conditioning over
    the cerebellum 5-7 ms before the motor cortex (Ugawa et al. 1995).
``train``
    rTMS: ``n_pulses`` at ``frequency`` (or ``duration`` of train), e.g. 1 Hz.
``theta_burst``
    Bursts of ``pulses_per_burst`` pulses at ``pulse_frequency``, repeated at
    ``burst_frequency`` for ``train_duration``; ``n_trains`` trains starting ``train_interval``
    apart. Huang et al. 2005 (Neuron 45:201): 3 pulses at 50 Hz repeated at 5 Hz; cTBS one
    40 s train (600 pulses), iTBS 2 s trains every 10 s, 20 times (600 pulses).

``time_scale`` (``train`` and ``theta_burst`` blocks, default 1): multiplies the train
duration (the number of bursts or pulses) and the interval between trains, keeping the pulse
and burst timing; quick runs and tests shorten a protocol this way, presets keep 1 (the
published timings).

Pulse times are put on the simulation grid (multiples of ``sim.dt``). A paired-pulse ``isi``
must be a whole number of time steps (the interval is what the measure is about), and pulses at
one site must be at least one time step apart.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Sequence, Tuple

import numpy as np

from circuitsim.errors import ConfigError
from circuitsim.units import to_si

BLOCK_TYPES = ("single", "paired", "train", "theta_burst")
INTENSITY_UNITS = ("RMT", "MSO")
ROLES = ("test", "conditioning", "train")

_INTENSITY = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*%\s*([A-Za-z]+)\s*$")

_BLOCK_KEYS = {
    "single": ("type", "site", "intensity", "n", "interval", "start"),
    "paired": ("type", "site", "intensity", "conditioning", "isi", "n", "interval", "start", "unconditioned"),
    "train": ("type", "site", "intensity", "frequency", "n_pulses", "duration", "start", "time_scale"),
    "theta_burst": ("type", "site", "intensity", "pulses_per_burst", "pulse_frequency", "burst_frequency",
                    "train_duration", "n_trains", "train_interval", "start", "time_scale"),
}


def parse_intensity(value: Any, path: str) -> Tuple[float, str]:
    """``"120%RMT"`` -> ``(120.0, "RMT")``; ``"50%MSO"`` -> ``(50.0, "MSO")``.

    ``RMT``: percent of the resting motor threshold; ``MSO``: percent of maximum stimulator
    output (the stimulator's own scale, absolute).
    """
    match = _INTENSITY.match(value) if isinstance(value, str) else None
    if not match:
        raise ConfigError(path, f"cannot read {value!r} as an intensity; write e.g. '120%RMT' (percent of the "
                                "resting motor threshold) or '50%MSO' (percent of maximum stimulator output)")
    number, unit = float(match.group(1)), match.group(2).upper()
    if unit not in INTENSITY_UNITS:
        raise ConfigError(path, f"unknown intensity unit {match.group(2)!r}; use %RMT or %MSO")
    if number < 0:
        raise ConfigError(path, f"an intensity cannot be negative (got {value!r})")
    return number, unit


def _time(value: Any, path: str, positive: bool = True) -> float:
    t = to_si(value, "time", path)
    if t < 0 or (positive and t == 0):
        raise ConfigError(path, f"must be {'positive' if positive else 'non-negative'} (got {value!r})")
    return t


def _rate(value: Any, path: str) -> float:
    f = to_si(value, "rate", path)
    if f <= 0:
        raise ConfigError(path, f"must be positive (got {value!r})")
    return f


def _count(value: Any, path: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(path, f"must be an integer >= {minimum} (got {value!r})")
    return value


def _scale(value: Any, path: str) -> float:
    try:
        s = float(value)
    except (TypeError, ValueError):
        raise ConfigError(path, f"must be a number in (0, 1] (got {value!r})") from None
    if not 0 < s <= 1:
        raise ConfigError(path, f"must lie in (0, 1]: it shortens a protocol, 1 keeps the published timing (got {s})")
    return s


def _whole_steps(t: float, dt: float, path: str, what: str) -> None:
    steps = t / dt
    if steps < 1 - 1e-9 or abs(steps - round(steps)) > 1e-6:
        raise ConfigError(path, f"{what} {t * 1e3:g} ms is not resolvable at sim.dt = {dt * 1e3:g} ms; "
                                f"use a whole number (>= 1) of time steps or a smaller sim.dt")


#: pulses of one protocol block: a bound of the pulse table, which is built in Python before the run
#: (issue 21: n = 1e8 kept validation busy for minutes); the longest preset, stim=rtms_1hz, has 900
#: and 100,000 pulses at 1 Hz are 28 hours
MAX_PULSES = 100_000


def _bounded(count: float, path: str) -> None:
    if not count <= MAX_PULSES:   # also refuses an overflow to inf
        raise ConfigError(path, f"the block would have {count:.4g} pulses, above the bound of {MAX_PULSES} "
                                "per block; use fewer pulses (or several runs)")


def _site(value: Any, path: str, sites: Sequence[str]) -> str:
    if value not in sites:
        raise ConfigError(path, f"unknown TMS site {value!r}; known sites: {', '.join(sites)} "
                                "(define more under the stimulus's 'sites')")
    return value


def validate_protocol(blocks: Any, path: str, sites: Sequence[str], dt: float) -> List[Dict[str, Any]]:
    """Check a protocol (list of blocks) and return it with SI values.

    Raises
    ------
    ConfigError
        Naming the block's config path: unknown type, site or key, negative or unreadable
        intensity, counts that are not positive integers, intervals not resolvable at ``dt``.
    """
    if isinstance(blocks, Mapping):
        blocks = [blocks]
    if not isinstance(blocks, (list, tuple)) or not blocks:
        raise ConfigError(path, "a protocol is a non-empty list of blocks, e.g. [{type: single, site: m1, "
                                "intensity: 120%RMT, n: 10, interval: 3*second}]")
    out = []
    for b, block in enumerate(blocks):
        bp = f"{path}[{b}]"
        if not isinstance(block, Mapping):
            raise ConfigError(bp, "a protocol block is a mapping with at least 'type'")
        kind = block.get("type")
        if kind not in BLOCK_TYPES:
            raise ConfigError(f"{bp}.type", f"unknown protocol block type {kind!r}; choose one of {', '.join(BLOCK_TYPES)}")
        for key in block:
            if key not in _BLOCK_KEYS[kind]:
                raise ConfigError(f"{bp}.{key}", f"unknown key for a {kind!r} block; allowed: {', '.join(_BLOCK_KEYS[kind])}")
        v: Dict[str, Any] = {"type": kind, "site": _site(block.get("site"), f"{bp}.site", sites),
                             "start": _time(block.get("start", "0*ms"), f"{bp}.start", positive=False)}
        intensity = block.get("intensity")
        if kind == "single" and isinstance(intensity, (list, tuple)):
            if not intensity:
                raise ConfigError(f"{bp}.intensity", "an empty list; give at least one intensity")
            v["intensity"] = [parse_intensity(x, f"{bp}.intensity[{k}]") for k, x in enumerate(intensity)]
        else:
            v["intensity"] = [parse_intensity(intensity, f"{bp}.intensity")]
        if kind in ("single", "paired"):
            v["n"] = _count(block.get("n", 1), f"{bp}.n")
            _bounded(v["n"] * len(v["intensity"]) * (2 if kind == "paired" else 1), f"{bp}.n")
            v["interval"] = _time(block.get("interval", "3*second"), f"{bp}.interval")
            _whole_steps(v["interval"], dt, f"{bp}.interval", "the interval")
        if kind == "paired":
            cond = block.get("conditioning")
            if not isinstance(cond, Mapping):
                raise ConfigError(f"{bp}.conditioning", "give the conditioning pulse as {site: ..., intensity: ...}")
            for key in cond:
                if key not in ("site", "intensity"):
                    raise ConfigError(f"{bp}.conditioning.{key}", "unknown key; allowed: site, intensity")
            v["conditioning_site"] = _site(cond.get("site", v["site"]), f"{bp}.conditioning.site", sites)
            v["conditioning_intensity"] = parse_intensity(cond.get("intensity"), f"{bp}.conditioning.intensity")
            isis = block.get("isi")
            isis = list(isis) if isinstance(isis, (list, tuple)) else [isis]
            if not isis:
                raise ConfigError(f"{bp}.isi", "give at least one interstimulus interval")
            v["isi"] = []
            for k, isi in enumerate(isis):
                ip = f"{bp}.isi" if len(isis) == 1 else f"{bp}.isi[{k}]"
                t = _time(isi, ip)
                _whole_steps(t, dt, ip, "the interstimulus interval")
                v["isi"].append(t)
            if max(v["isi"]) >= v["interval"]:
                raise ConfigError(f"{bp}.isi", "must be shorter than the interval between trials")
            unc = block.get("unconditioned", True)
            if not isinstance(unc, bool):
                raise ConfigError(f"{bp}.unconditioned", f"must be true or false (got {unc!r})")
            v["unconditioned"] = unc
            _bounded(v["n"] * (len(v["isi"]) + unc) * 2, f"{bp}.n")
        if kind in ("train", "theta_burst"):
            v["time_scale"] = _scale(block.get("time_scale", 1.0), f"{bp}.time_scale")
        if kind == "train":
            v["frequency"] = _rate(block.get("frequency"), f"{bp}.frequency")
            if 1.0 / v["frequency"] < dt * 1.5:
                _whole_steps(1.0 / v["frequency"], dt, f"{bp}.frequency", "the period")
            has_n, has_d = block.get("n_pulses") is not None, block.get("duration") is not None
            if has_n == has_d:
                raise ConfigError(f"{bp}.n_pulses", "give either n_pulses or duration (not both)")
            n = _count(block["n_pulses"], f"{bp}.n_pulses") if has_n else \
                _time(block["duration"], f"{bp}.duration") * v["frequency"]
            _bounded(n, f"{bp}.n_pulses" if has_n else f"{bp}.duration")
            n = int(round(n))
            v["n_pulses"] = max(1, int(round(n * v["time_scale"])))
        if kind == "theta_burst":
            v["pulses_per_burst"] = _count(block.get("pulses_per_burst", 3), f"{bp}.pulses_per_burst")
            v["pulse_frequency"] = _rate(block.get("pulse_frequency", "50*Hz"), f"{bp}.pulse_frequency")
            v["burst_frequency"] = _rate(block.get("burst_frequency", "5*Hz"), f"{bp}.burst_frequency")
            if 1.0 / v["pulse_frequency"] < dt * 1.5:
                _whole_steps(1.0 / v["pulse_frequency"], dt, f"{bp}.pulse_frequency", "the pulse period")
            if (v["pulses_per_burst"] - 1) / v["pulse_frequency"] >= 1.0 / v["burst_frequency"]:
                raise ConfigError(f"{bp}.burst_frequency", "a burst lasts longer than the burst period; "
                                                          "lower burst_frequency or pulses_per_burst")
            v["train_duration"] = _time(block.get("train_duration"), f"{bp}.train_duration")
            v["n_trains"] = _count(block.get("n_trains", 1), f"{bp}.n_trains")
            v["train_interval"] = _time(block.get("train_interval", "10*second"), f"{bp}.train_interval")
            bursts = v["train_duration"] * v["time_scale"] * v["burst_frequency"]
            _bounded(bursts * v["pulses_per_burst"], f"{bp}.train_duration")
            _bounded(bursts * v["pulses_per_burst"] * v["n_trains"], f"{bp}.n_trains")
            bursts = max(1, int(round(bursts)))
            v["bursts_per_train"] = bursts
            train_len = (bursts - 1) / v["burst_frequency"] + (v["pulses_per_burst"] - 1) / v["pulse_frequency"]
            if v["n_trains"] > 1 and v["train_interval"] * v["time_scale"] <= train_len:
                raise ConfigError(f"{bp}.train_interval", "trains overlap; the interval (onset to onset) must "
                                                         "exceed the train duration")
        out.append(v)
    return out


@dataclass
class PulseTable:
    """Every pulse of a protocol, in time order (plain arrays, SI units).

    ``intensity`` is in the unit of ``unit`` (``"RMT"`` or ``"MSO"``, percent); ``condition``
    indexes ``conditions`` (e.g. ``"single"``, ``"unconditioned"``, ``"isi_2.5ms"``);
    ``trial`` numbers the trials (a conditioning pulse shares the trial of its test pulse);
    ``block`` is the protocol block.
    """

    time: np.ndarray
    site: np.ndarray
    intensity: np.ndarray
    unit: np.ndarray
    role: np.ndarray
    condition: np.ndarray
    trial: np.ndarray
    block: np.ndarray
    conditions: List[str]

    def __len__(self) -> int:
        return int(self.time.size)

    def to_dict(self) -> Dict[str, Any]:
        return {"time": self.time.tolist(), "site": self.site.tolist(), "intensity": self.intensity.tolist(),
                "unit": self.unit.tolist(), "role": self.role.tolist(), "condition": self.condition.tolist(),
                "trial": self.trial.tolist(), "block": self.block.tolist(), "conditions": list(self.conditions)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "PulseTable":
        return cls(time=np.asarray(d["time"], float), site=np.asarray(d["site"], dtype=object),
                   intensity=np.asarray(d["intensity"], float), unit=np.asarray(d["unit"], dtype=object),
                   role=np.asarray(d["role"], dtype=object), condition=np.asarray(d["condition"], int),
                   trial=np.asarray(d["trial"], int), block=np.asarray(d["block"], int),
                   conditions=list(d["conditions"]))


def _isi_label(isi: float) -> str:
    return f"isi_{isi * 1e3:g}ms"


def generate_pulses(blocks: Sequence[Mapping[str, Any]], dt: float) -> PulseTable:
    """Expand validated blocks (:func:`validate_protocol`) into a :class:`PulseTable` on the dt grid."""
    rows: List[Tuple[float, str, float, str, str, str, int, int]] = []
    trial = 0
    t_end = 0.0   # time of the last pulse so far
    for b, v in enumerate(blocks):
        t0 = t_end + v["start"]
        site = v["site"]
        if v["type"] == "single":
            levels = v["intensity"]
            k = 0
            for _ in range(v["n"]):
                for value, unit in levels:
                    rows.append((t0 + k * v["interval"], site, value, unit, "test", "single", trial, b))
                    trial += 1
                    k += 1
        elif v["type"] == "paired":
            (tv, tu), (cv, cu) = v["intensity"][0], v["conditioning_intensity"]
            conds = (["unconditioned"] if v["unconditioned"] else []) + [_isi_label(i) for i in v["isi"]]
            isi_of = dict(zip([_isi_label(i) for i in v["isi"]], v["isi"]))
            lead = max(v["isi"])   # trial time = earliest possible conditioning pulse
            k = 0
            for _ in range(v["n"]):
                for cond in conds:
                    t_test = t0 + k * v["interval"] + lead
                    if cond != "unconditioned":
                        rows.append((t_test - isi_of[cond], v["conditioning_site"], cv, cu, "conditioning",
                                     cond, trial, b))
                    rows.append((t_test, site, tv, tu, "test", cond, trial, b))
                    trial += 1
                    k += 1
        elif v["type"] == "train":
            value, unit = v["intensity"][0]
            for k in range(v["n_pulses"]):
                rows.append((t0 + k / v["frequency"], site, value, unit, "train", "train", -1, b))
        elif v["type"] == "theta_burst":
            value, unit = v["intensity"][0]
            interval = v["train_interval"] * v["time_scale"]
            for tr in range(v["n_trains"]):
                for burst in range(v["bursts_per_train"]):
                    for p in range(v["pulses_per_burst"]):
                        t = t0 + tr * interval + burst / v["burst_frequency"] + p / v["pulse_frequency"]
                        rows.append((t, site, value, unit, "train", "theta_burst", -1, b))
        if rows:
            t_end = max(r[0] for r in rows)
    conditions: List[str] = []
    for r in rows:
        if r[5] not in conditions:
            conditions.append(r[5])
    rows.sort(key=lambda r: (r[0], r[4] != "conditioning"))
    steps = np.array([int(round(r[0] / dt)) for r in rows], dtype=np.int64)
    return PulseTable(
        time=steps * dt, site=np.array([r[1] for r in rows], dtype=object),
        intensity=np.array([r[2] for r in rows], float), unit=np.array([r[3] for r in rows], dtype=object),
        role=np.array([r[4] for r in rows], dtype=object),
        condition=np.array([conditions.index(r[5]) for r in rows], int),
        trial=np.array([r[6] for r in rows], int), block=np.array([r[7] for r in rows], int),
        conditions=conditions)


def check_spacing(table: PulseTable, dt: float, path: str) -> None:
    """Refuse two pulses at one site in the same time step (a frequency not resolvable at dt)."""
    for site in sorted(set(table.site.tolist())):
        steps = np.round(table.time[table.site == site] / dt).astype(np.int64)
        if steps.size > 1 and np.any(np.diff(np.sort(steps)) < 1):
            raise ConfigError(path, f"two pulses at site {site!r} fall in the same time step of "
                                    f"sim.dt = {dt * 1e3:g} ms; lower the frequency or sim.dt")


def protocol_span(table: PulseTable) -> float:
    """Time of the last pulse (s); 0 for an empty table."""
    return float(table.time.max()) if len(table) else 0.0


__all__ = ["BLOCK_TYPES", "PulseTable", "parse_intensity", "validate_protocol", "generate_pulses",
           "check_spacing", "protocol_span"]
