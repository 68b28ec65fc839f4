"""Action-channel selection measures."""

from __future__ import annotations

import numpy as np

from circuitsim.checks import nonnegative_float

__all__ = ["selectivity"]


def selectivity(rate_commanded, rate_other) -> float:
    """Selectivity of a commanded channel over its competitor(s).

    ``S = max(0, (a - b) / (a + b))`` with ``a = rate_commanded`` and ``b`` the
    rate of the competing channel (if several competitors are given, the
    strongest one, ``b = max(rate_other)``).  S = 1 when only the commanded
    channel is active (b = 0, a > 0), S = 0 when both are equally active, and
    S is clipped to 0 when a competitor is more active than the commanded
    channel.  This is the normalised-difference (contrast) index used for
    selection in basal-ganglia models (cf. Gurney, Prescott & Redgrave 2001,
    who score selection by the relative output of competing channels).

    Pass rates of a quantity that *increases* with selection (e.g.
    thalamic/cortical output rates, or the reduction of GPi/SNr rate from
    baseline), since basal-ganglia output selects by disinhibition.

    Parameters
    ----------
    rate_commanded : float
        Activity of the commanded channel (Hz), >= 0.
    rate_other : float or sequence of float
        Activity of the competing channel(s) (Hz), >= 0.

    Returns
    -------
    float
        Selectivity in [0, 1]; ``nan`` when ``a + b == 0`` (no channel active,
        selection undefined).

    Raises
    ------
    ValueError
        If a rate is negative, non-finite, or ``rate_other`` is empty.

    References
    ----------
    Gurney K, Prescott TJ, Redgrave P (2001) A computational model of action
    selection in the basal ganglia. I. A new functional anatomy. Biol Cybern
    84:401-410.
    """
    a = nonnegative_float(rate_commanded, "rate_commanded")
    others = np.atleast_1d(np.asarray(rate_other, dtype=object))
    if others.ndim != 1 or others.size == 0:
        raise ValueError("rate_other must be a rate or a non-empty 1-D sequence of rates")
    b = max(nonnegative_float(v, "rate_other") for v in others)
    if a + b == 0.0:
        return float("nan")
    return float(max(0.0, (a - b) / (a + b)))
