"""Figures, each a function ``(result) -> matplotlib Figure``; :func:`write_figures` saves them."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable, Dict, Iterable, Optional

from matplotlib.figure import Figure

from circuitsim.io.results import Result
from circuitsim.plots.activity import plot_raster, plot_rates
from circuitsim.plots.analysis import plot_channels, plot_spectra, plot_summary


def stored_muscle(result: Result) -> Optional[SimpleNamespace]:
    """What the muscle figure reads, from a run folder's ``muscle.npz`` and ``metrics.json`` (the
    series and the motor units' spikes the live readout had); None where the folder lacks them."""
    from circuitsim.io.results import MUSCLE_UNIT_SPIKES

    series, units = result.muscle, result.extra.get(MUSCLE_UNIT_SPIKES)
    if series is None or not units or any(m not in units for m in series.muscles):
        return None
    run = result.metrics.get("run", {})
    return SimpleNamespace(muscles=tuple(series.muscles), time=series.time, head_angle=series.head_angle,
                           force=series.force, emg=series.emg, envelope=series.envelope, unit_spikes=units,
                           metrics=result.metrics.get("muscle") or {},
                           duration=float(run["duration_s"]) - float(run.get("transient_s") or 0.0))


def _muscle_readout(result: Result) -> Any:
    return result.muscle_readout if result.muscle_readout is not None else stored_muscle(result)


def plot_muscle_result(result: Result) -> Figure:
    from circuitsim.muscle.plots import plot_muscle

    fig = plot_muscle(_muscle_readout(result))
    # fixed margins instead of its constrained layout (which measures every text in an extra draw)
    width, height = fig.get_size_inches()
    fig.set_layout_engine("none")
    # "none" leaves a placeholder engine, for which savefig still makes a measuring draw first
    fig._layout_engine = None
    fig.subplotpars.update(left=1.55 / width, right=1 - 0.15 / width, top=1 - 0.3 / height, bottom=0.5 / height,
                           hspace=0.45)
    for ax in fig.axes:   # what subplots_adjust does (it refuses a figure that had constrained layout)
        if ax.get_subplotspec() is not None:
            ax._set_position(ax.get_subplotspec().get_position(fig))
    return fig


def plot_stimuli(result: Result) -> Figure:
    """``stim.png``: one row per stimulus whose kind registered a plot (see the stimulus registry)."""
    from circuitsim.circuit.registry import STIMULUS_PLOTS

    items = [(name, p) for name, p in result.extra.get("stimuli", {}).items() if p["kind"] in STIMULUS_PLOTS]
    fig = Figure(figsize=(11, 3.2 * max(1, len(items))), layout="constrained")
    subfigs = fig.subfigures(len(items), 1, squeeze=False)[:, 0] if items else []
    for (name, params), sub in zip(items, subfigs):
        STIMULUS_PLOTS[params["kind"]](result, name, params, sub)
    return fig


def has_stimulus_plot(result: Result) -> bool:
    from circuitsim.circuit.registry import STIMULUS_PLOTS

    return any(p["kind"] in STIMULUS_PLOTS for p in result.extra.get("stimuli", {}).values())


FIGURES: Dict[str, Callable[[Result], Figure]] = {
    "raster": plot_raster,
    "rates": plot_rates,
    "spectra": plot_spectra,
    "channels": plot_channels,
    "muscle": plot_muscle_result,
    "summary": plot_summary,
    "stim": plot_stimuli,
}


#: Numerical choice: zlib level 1 writes a figure's PNG several times faster than the default 6,
#: for files about 10 % larger.
PNG_OPTIONS = {"compress_level": 1}


def write_figures(folder: Path, result: Result, names: Iterable[str]) -> None:
    """Save each named figure as ``<name>.png`` in ``folder`` (atomically).

    The figures are plain ``Figure`` objects drawn by Agg (no pyplot, no GUI backend), each once.
    After :func:`circuitsim.plots.background.enable` they are drawn by a forked child and this
    returns at once (see :mod:`circuitsim.plots.background`)."""
    from circuitsim.plots import background

    names = list(names)
    if names and background.run(lambda: _write(folder, result, names)):
        return
    _write(folder, result, names)


def _write(folder: Path, result: Result, names: Iterable[str]) -> None:
    import os

    from matplotlib.backends.backend_agg import FigureCanvasAgg

    for name in names:
        if name == "muscle" and _muscle_readout(result) is None:
            continue  # muscle readout disabled (or a folder that did not store its motor units)
        if name == "stim" and not has_stimulus_plot(result):
            continue  # no stimulus with a figure
        fig = FIGURES[name](result)
        FigureCanvasAgg(fig)
        tmp = folder / f".{name}.tmp.png"
        fig.savefig(tmp, dpi=110, format="png", pil_kwargs=PNG_OPTIONS)
        os.replace(tmp, folder / f"{name}.png")
