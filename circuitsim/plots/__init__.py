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


FIGURES: Dict[str, Callable[[Result], Figure]] = {
    "raster": plot_raster,
    "rates": plot_rates,
    "spectra": plot_spectra,
    "channels": plot_channels,
    "muscle": plot_muscle_result,
    "summary": plot_summary,
}


def write_figures(folder: Path, result: Result, names: Iterable[str]) -> None:
    """Save each named figure as ``<name>.png`` in ``folder`` (atomically)."""
    import os

    for name in names:
        if name == "muscle" and "muscle" not in result.extra:
            continue  # muscle readout disabled
        fig = FIGURES[name](result)
        tmp = folder / f".{name}.tmp.png"
        fig.savefig(tmp, dpi=110)
        os.replace(tmp, folder / f"{name}.png")
