"""Head rotation (yaw) driven by an antagonist pair of neck rotators.

Model
-----
A single-degree-of-freedom, linear second-order system for the axial
rotation (yaw) angle ``theta`` of the head::

    I * theta'' + B * theta' + K * theta = r * (F_left - F_right)

Sign convention: **positive theta = rotation of the chin to the subject's
left** (counter-clockwise seen from above).  ``F_left`` is the force of the
lumped *left rotator* (the muscles whose contraction turns the chin to the
left, anatomically e.g. the right sternocleidomastoid together with the left
splenius capitis) and ``F_right`` that of the right rotator.  Both start at
rest (``theta = theta' = 0``).

Integration: the force difference is treated as piecewise constant over each
sample (zero-order hold) and the system is discretised exactly
(``scipy.signal.cont2discrete``, method ``"zoh"``) and run as a second-order
IIR filter.  This is unconditionally stable for any ``dt`` and exact for
step-wise inputs.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
from scipy.signal import cont2discrete, lfilter

from circuitsim.checks import as_1d_float, nonnegative_float, positive_float

__all__ = ["HeadParams", "head_angle", "steady_state_angle"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class HeadParams:
    """Mechanical parameters of the head-neck yaw model.

    Parameters
    ----------
    inertia_kg_m2 : float
        Moment of inertia of the head about the vertical (yaw) axis, kg m^2.
        Default 0.0155 kg m^2 (Beier et al. 1980: principal moments about the
        near-vertical axis 0.011-0.020 kg m^2 in 21 cadaver heads; mean radius
        of gyration 5.85 cm with a ~4.5 kg head).
    stiffness_nm_per_rad : float
        Passive rotational stiffness of the neck ``K`` in N m / rad.
        Default 1.0 (estimate: order of magnitude of passive neck stiffness in
        the neutral zone of axial rotation).
    damping_nms_per_rad : float
        Rotational viscous damping ``B`` in N m s / rad.  Default 0.2
        (estimate; gives a damping ratio ``B / (2 sqrt(K I))`` of ~0.8, i.e. a
        well-damped head).
    moment_arm_m : float
        Moment arm ``r`` of each lumped rotator about the yaw axis, in m.
        Default 0.01 m (estimate; axial-rotation moment arms of the neck
        muscles are of the order of 1 cm, cf. Vasavada et al. 1998).  With the
        default ``max_force_n`` of 100 N a maximal unopposed contraction gives
        a steady rotation of ``r F / K`` = 1 rad (57 deg).
    """

    inertia_kg_m2: float = 0.0155  # Beier et al. 1980
    stiffness_nm_per_rad: float = 1.0  # estimate
    damping_nms_per_rad: float = 0.2  # estimate
    moment_arm_m: float = 0.01  # estimate, cf. Vasavada et al. 1998

    def __post_init__(self) -> None:
        for name in ("inertia_kg_m2", "stiffness_nm_per_rad", "moment_arm_m"):
            object.__setattr__(self, name, positive_float(getattr(self, name), name))
        object.__setattr__(
            self,
            "damping_nms_per_rad",
            nonnegative_float(self.damping_nms_per_rad, "damping_nms_per_rad"),
        )

    @property
    def natural_frequency_hz(self) -> float:
        """Undamped natural frequency ``sqrt(K / I) / (2 pi)`` in Hz."""
        return math.sqrt(self.stiffness_nm_per_rad / self.inertia_kg_m2) / (2.0 * math.pi)

    @property
    def damping_ratio(self) -> float:
        """Damping ratio ``B / (2 sqrt(K I))``."""
        return self.damping_nms_per_rad / (
            2.0 * math.sqrt(self.stiffness_nm_per_rad * self.inertia_kg_m2)
        )


def steady_state_angle(force_left: float, force_right: float,
                       params: HeadParams = HeadParams()) -> float:
    """Static equilibrium angle ``r * (F_left - F_right) / K`` in radians."""
    torque = params.moment_arm_m * (float(force_left) - float(force_right))
    return torque / params.stiffness_nm_per_rad


def head_angle(
    force_left: np.ndarray,
    force_right: np.ndarray,
    dt: float,
    params: HeadParams = HeadParams(),
) -> np.ndarray:
    """Head yaw angle over time from the forces of the two rotators.

    Solves ``I theta'' + B theta' + K theta = r (F_left - F_right)`` from rest
    with an exact zero-order-hold discretisation (see module docstring).

    Parameters
    ----------
    force_left, force_right : array_like
        Forces (N) of the left and right rotators sampled every ``dt``; same
        length, finite.
    dt : float
        Sampling interval in seconds (> 0).
    params : HeadParams
        Mechanical parameters.

    Returns
    -------
    numpy.ndarray
        Angle in radians, same length as the inputs; sample ``k`` at
        ``t = k * dt``; positive = rotation to the left.
    """
    dt = positive_float(dt, "dt")
    fl = as_1d_float(force_left, "force_left", allow_empty=False)
    fr = as_1d_float(force_right, "force_right", allow_empty=False)
    if fl.shape != fr.shape:
        raise ValueError(
            f"force_left and force_right must have the same length, got {fl.size} and {fr.size}"
        )
    torque = params.moment_arm_m * (fl - fr)
    num = [1.0]
    den = [params.inertia_kg_m2, params.damping_nms_per_rad, params.stiffness_nm_per_rad]
    bd, ad, _ = cont2discrete((num, den), dt, method="zoh")
    bd = np.atleast_1d(np.squeeze(bd))
    ad = np.atleast_1d(np.squeeze(ad))
    # cont2discrete output y[k] depends on u[k-1] (strictly proper); starting at rest.
    theta = lfilter(bd, ad, torque)
    return theta
