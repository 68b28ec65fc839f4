"""Control laws of closed-loop DBS: what amplitude level (in [0, 1] of the maximum) a biomarker
read every control period asks for.

``on_off``
    level 1 once the biomarker exceeds ``on_above``, 0 once it falls below ``off_below``,
    unchanged in between (hysteresis, ``off_below <= on_above``). Optional ``min_on`` /
    ``min_off``: the least time the state is held after a switch (a lockout; model choice).
``dual_threshold``
    the law of Velisar et al. 2019 (Brain Stimul 12:868, sensing-enabled stimulator in Parkinson's
    disease): above ``upper`` the amplitude ramps up, below ``lower`` it ramps down, in between
    it holds. The loop can settle at an intermediate amplitude where stimulation keeps the
    biomarker inside the band, instead of switching between off and full.
``proportional``
    level = clip(kp * e, 0, 1), with the relative error ``e = (b - setpoint) / setpoint``.
``pid``
    level = clip(kp * e + ki * integral(e dt) + kd * de/dt, 0, 1); the integral stops growing
    while the output is saturated (anti-windup by conditional integration).

Shared options (every law):

``ramp``
    the time a full-scale amplitude change takes (``0*ms``: instantaneous). The level moves to the
    law's demand by at most ``period / ramp`` per control period. Little et al. 2013 (Ann Neurol
    74:449) ramped stimulation up and down over 250 ms when the smoothed beta amplitude crossed
    its threshold; ramp rate is a safety and tolerability parameter of adaptive DBS (Petrucci et
    al. 2021, IEEE EMBS NER 959). For ``dual_threshold`` it is the ramp rate of the law itself
    and must be positive.
``smoothing``
    time constant of an exponential moving average of the biomarker before the law reads it
    (``0*ms``: none). Little et al. 2013 smoothed the rectified beta amplitude over 400 ms.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping, Optional

MODES = ("on_off", "dual_threshold", "proportional", "pid")


@dataclass
class OnOffController:
    """Hysteresis switch: on above ``on_above``, off below ``off_below``; optional minimum dwell
    times (``min_on``, ``min_off``, s) counted in control periods of ``period`` s."""

    on_above: float
    off_below: float
    state: bool = False
    min_on: float = 0.0
    min_off: float = 0.0
    period: float = 0.1
    held: float = math.inf      # time since the last switch (s)

    def __post_init__(self) -> None:
        if self.off_below > self.on_above:
            raise ValueError(f"off_below ({self.off_below}) must not exceed on_above ({self.on_above})")
        if min(self.min_on, self.min_off) < 0 or not self.period > 0:
            raise ValueError("min_on and min_off cannot be negative; period must be positive")

    def update(self, biomarker: float) -> float:
        self.held += self.period
        dwell = self.min_on if self.state else self.min_off
        if self.held >= dwell - 1e-9:
            want = True if biomarker > self.on_above else False if biomarker < self.off_below else self.state
            if want != self.state:
                self.state, self.held = want, 0.0
        return 1.0 if self.state else 0.0


@dataclass
class DualThresholdController:
    """Velisar et al. 2019: ramp up above ``upper``, down below ``lower``, hold in between.

    ``step``: the level change per control period (period / ramp time); ``floor``: the lowest
    level the ramp goes down to (0: off).
    """

    upper: float
    lower: float
    step: float
    floor: float = 0.0
    level: float = 0.0

    def __post_init__(self) -> None:
        if self.lower > self.upper:
            raise ValueError(f"lower ({self.lower}) must not exceed upper ({self.upper})")
        if not 0 < self.step <= 1:
            raise ValueError(f"step must lie in (0, 1] (got {self.step})")
        if not 0 <= self.floor < 1:
            raise ValueError(f"floor must lie in [0, 1) (got {self.floor})")
        self.level = max(self.level, self.floor)

    def update(self, biomarker: float) -> float:
        if biomarker > self.upper:
            self.level = min(1.0, self.level + self.step)
        elif biomarker < self.lower:
            self.level = max(self.floor, self.level - self.step)
        return self.level


@dataclass
class PIDController:
    """PID on the relative error ``(b - setpoint)/setpoint``, output clipped to [0, 1].

    ``ki = kd = 0`` is the proportional controller.
    """

    setpoint: float
    kp: float
    ki: float = 0.0     # 1/s
    kd: float = 0.0     # s
    period: float = 0.1  # s, time between updates
    integral: float = 0.0
    last_error: Optional[float] = None

    def __post_init__(self) -> None:
        if not self.setpoint > 0:
            raise ValueError(f"setpoint must be positive (got {self.setpoint})")
        if min(self.kp, self.ki, self.kd) < 0:
            raise ValueError("gains cannot be negative")
        if not self.period > 0:
            raise ValueError("period must be positive")

    def update(self, biomarker: float) -> float:
        e = (biomarker - self.setpoint) / self.setpoint
        de = 0.0 if self.last_error is None else (e - self.last_error) / self.period
        self.last_error = e
        trial_integral = self.integral + e * self.period
        u = self.kp * e + self.ki * trial_integral + self.kd * de
        level = min(1.0, max(0.0, u))
        # conditional integration: keep the new integral only if it does not push further into saturation
        if (u > 1.0 and e > 0) or (u < 0.0 and e < 0):
            u = self.kp * e + self.ki * self.integral + self.kd * de
            level = min(1.0, max(0.0, u))
        else:
            self.integral = trial_integral
        return level


@dataclass
class Shaped:
    """A law with the shared options: the biomarker smoothed (exponential moving average of time
    constant ``smoothing`` s), the level slewed at most ``max_step`` per period (1: no ramp)."""

    law: Any
    period: float
    smoothing: float = 0.0
    max_step: float = 1.0
    smoothed: Optional[float] = None
    level: float = 0.0

    def smooth(self, biomarker: float) -> float:
        if self.smoothing <= 0 or self.smoothed is None:
            self.smoothed = biomarker
        else:
            a = 1.0 - math.exp(-self.period / self.smoothing)
            self.smoothed += a * (biomarker - self.smoothed)
        return self.smoothed

    def update(self, biomarker: float) -> float:
        demand = self.law.update(self.smooth(biomarker))
        self.level += max(-self.max_step, min(self.max_step, demand - self.level))
        self.level = min(1.0, max(0.0, self.level))
        return self.level


def make_controller(params: Mapping[str, Any]):
    """A controller object for validated controller parameters (closed_loop.validate_controller)."""
    mode, period = params["mode"], params["period"]
    ramp = params.get("ramp", 0.0)
    step = 1.0 if ramp <= 0 else min(1.0, period / ramp)
    if mode == "on_off":
        law: Any = OnOffController(params["on_above"], params["off_below"], min_on=params.get("min_on", 0.0),
                                   min_off=params.get("min_off", 0.0), period=period)
    elif mode == "dual_threshold":
        law = DualThresholdController(params["upper"], params["lower"], step, params.get("floor", 0.0))
        step = 1.0                                   # the law is itself the ramp
    elif mode == "proportional":
        law = PIDController(params["setpoint"], params["kp"], 0.0, 0.0, period)
    else:
        law = PIDController(params["setpoint"], params["kp"], params["ki"], params["kd"], period)
    return Shaped(law, period, params.get("smoothing", 0.0), step)


def switches_per_s(t, level, valid=None) -> float:
    """On/off transitions (level crossing 0) per second of the control periods with a biomarker."""
    import numpy as np

    t, on = np.asarray(t, dtype=float), np.asarray(level, dtype=float) > 0
    if valid is not None:
        t, on = t[np.asarray(valid, bool)], on[np.asarray(valid, bool)]
    if t.size < 2 or t[-1] <= t[0]:
        return 0.0
    return float(np.count_nonzero(on[1:] != on[:-1]) / (t[-1] - t[0]))


def reversals_per_s(t, level, valid=None) -> float:
    """Changes of direction of the level (up then down or down then up) per second: how often a
    graded law hunts; 0 for a level that rises once and holds."""
    import numpy as np

    t, lv = np.asarray(t, dtype=float), np.asarray(level, dtype=float)
    if valid is not None:
        t, lv = t[np.asarray(valid, bool)], lv[np.asarray(valid, bool)]
    if t.size < 3 or t[-1] <= t[0]:
        return 0.0
    d = np.sign(np.diff(lv))
    d = d[d != 0]
    return float(np.count_nonzero(d[1:] != d[:-1]) / (t[-1] - t[0]))
