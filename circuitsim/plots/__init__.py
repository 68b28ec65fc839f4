"""Figures, each a function ``(result) -> matplotlib Figure``; :func:`write_figures` saves them."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Dict, Iterable

from matplotlib.figure import Figure

from circuitsim.io.results import Result
from circuitsim.plots.activity import plot_raster, plot_rates
from circuitsim.plots.analysis import plot_channels, plot_spectra, plot_summary


def plot_muscle_result(result: Result) -> Figure:
    from circuitsim.muscle.plots import plot_muscle

    return plot_muscle(result.extra["muscle"])


def plot_stimuli(result: Result) -> Figure:
    """``stim.png``: one row per stimulus whose kind registered a plot (see the stimulus registry)."""
    import matplotlib.pyplot as plt

    from circuitsim.circuit.registry import STIMULUS_PLOTS

    items = [(name, p) for name, p in result.extra.get("stimuli", {}).items() if p["kind"] in STIMULUS_PLOTS]
    fig = plt.figure(figsize=(11, 3.2 * max(1, len(items))), layout="constrained")
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


def write_figures(folder: Path, result: Result, names: Iterable[str]) -> None:
    """Save each named figure as ``<name>.png`` in ``folder`` (atomically)."""
    import os

    for name in names:
        if name == "muscle" and "muscle" not in result.extra:
            continue  # muscle readout disabled
        if name == "stim" and not has_stimulus_plot(result):
            continue  # no stimulus with a figure
        fig = FIGURES[name](result)
        tmp = folder / f".{name}.tmp.png"
        fig.savefig(tmp, dpi=110)
        import matplotlib.pyplot as plt

        plt.close(fig)
        os.replace(tmp, folder / f"{name}.png")
