"""Figure of a muscle readout (matplotlib object-oriented API, no pyplot)."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from .readout import MuscleReadout

__all__ = ["plot_muscle"]

_COLOURS = ("tab:blue", "tab:red")
#: what the figure reads of a readout
_NEEDED = ("muscles", "duration", "time", "unit_spikes", "force", "emg", "envelope", "head_angle", "metrics")


def plot_muscle(
    readout_result: MuscleReadout, figsize: tuple[float, float] = (9.0, 11.0)
) -> Figure:
    """Plot motoneuron rasters, force, EMG, envelopes and head angle.

    Panels (shared time axis, seconds):

    1-2. motor-unit rasters of the left and right rotator (unit index in
         recruitment order on the y axis);
    3.   force of both muscles (N);
    4.   raw surface EMG of both muscles (mV; the right rotator is drawn
         below, offset by a fixed amount);
    5.   linear envelopes (uV);
    6.   head yaw angle (deg; positive = left).

    Parameters
    ----------
    readout_result : MuscleReadout
        Output of :func:`~circuitsim.muscle.readout.muscle_readout`, or any object with its
        attributes ``muscles``, ``duration``, ``time``, ``unit_spikes``, ``force``, ``emg``,
        ``envelope``, ``head_angle`` and ``metrics`` (a run folder's readout, as
        ``circuitsim-plot`` reads it back).
    figsize : (float, float), optional
        Figure size in inches.

    Returns
    -------
    matplotlib.figure.Figure
        A new figure, not registered with pyplot (save it with
        ``fig.savefig(...)``).
    """
    if not isinstance(readout_result, MuscleReadout) and not all(hasattr(readout_result, a) for a in _NEEDED):
        raise ValueError("readout_result must be a MuscleReadout (output of muscle_readout)")
    r = readout_result
    t = r.time
    fig = Figure(figsize=figsize, layout="constrained")
    axes = fig.subplots(6, 1, sharex=True,
                        gridspec_kw={"height_ratios": [1.4, 1.4, 1.0, 1.2, 1.0, 1.0]})
    for ax, name, col in zip(axes[:2], r.muscles, _COLOURS):
        trains = r.unit_spikes[name]
        ax.eventplot(trains, colors=col, linelengths=0.8, linewidths=0.6)
        ax.set_ylim(-1, len(trains))
        ax.set_ylabel("unit #")
        n_active = sum(1 for s in trains if len(s))
        side = "left" if name == r.muscles[0] else "right"
        ax.set_title(f"{name} ({side} rotator): {n_active}/{len(trains)} units active",
                     fontsize=9, loc="left")

    ax = axes[2]
    for name, col in zip(r.muscles, _COLOURS):
        ax.plot(t, r.force[name], color=col, lw=1.0, label=name)
    ax.set_ylabel("force (N)")
    ax.legend(loc="upper right", fontsize=8)

    ax = axes[3]
    emg_l = r.emg[r.muscles[0]] * 1e3
    emg_r = r.emg[r.muscles[1]] * 1e3
    span = max(float(np.max(np.abs(emg_l))), float(np.max(np.abs(emg_r))), 1e-6)
    ax.plot(t, emg_l, color=_COLOURS[0], lw=0.4, label=r.muscles[0])
    ax.plot(t, emg_r - 2.2 * span, color=_COLOURS[1], lw=0.4, label=r.muscles[1])
    ax.set_yticks([0.0, -2.2 * span], [r.muscles[0], r.muscles[1]])
    ax.set_ylabel(f"EMG (scale {span:.2g} mV)")

    ax = axes[4]
    for name, col in zip(r.muscles, _COLOURS):
        ax.plot(t, r.envelope[name] * 1e6, color=col, lw=1.0, label=name)
    ax.set_ylabel("envelope (uV)")
    cci = r.metrics.get("co_contraction_index")
    ax.set_title("co-contraction index " + ("- (muscles relaxed)" if cci is None else f"{cci:.2f}"),
                 fontsize=9, loc="left")

    ax = axes[5]
    ax.plot(t, np.degrees(r.head_angle), color="k", lw=1.2)
    ax.axhline(0.0, color="0.6", lw=0.6)
    ax.set_ylabel("head yaw (deg)\n+ = left")
    ax.set_xlabel("time (s)")
    sev = r.metrics.get("severity_score")
    sev = float("nan") if sev is None else sev   # (null in a folder's metrics.json)
    ax.set_title(f"severity score {sev:.2f}", fontsize=9, loc="left")
    # the whole record: a run's readout is on the run's clock (it starts after the transient)
    end = r.duration if t.size < 2 else max(r.duration, float(t[-1] + (t[1] - t[0])))
    ax.set_xlim(0.0, end)
    return fig
