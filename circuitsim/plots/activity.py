"""Raster and population-rate figures, populations grouped by region."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from circuitsim.io.results import Result
from circuitsim.plots._layout import figure, thin

_MAX_ROWS = 40  # neurons shown per population in the raster


def _ordered_pops(result: Result):
    regions = result.regions or {p: [p] for p in result.spikes}
    for region, pops in regions.items():
        for pop in pops:
            yield region, pop


def plot_raster(result: Result) -> Figure:
    """Spike raster: up to 40 neurons per population, populations grouped by region."""
    fig = figure(10, 8, left=1.15, top=0.35, bottom=0.5)
    ax = fig.add_subplot()
    row, ticks, labels = 0, [], []
    colours = {}
    cmap = __import__("matplotlib").colormaps["tab10"]
    for region, pop in _ordered_pops(result):
        colour = colours.setdefault(region, cmap(len(colours) % 10))
        i, t = result.spikes[pop]
        n = result.sizes[pop]
        shown = np.unique(np.linspace(0, n - 1, min(n, _MAX_ROWS)).astype(int))
        pos = np.full(n, -1)
        pos[shown] = np.arange(shown.size)
        keep = pos[i] >= 0
        # one marker line per population (Agg stamps one cached marker: far cheaper than a scatter)
        ax.plot(t[keep], row + pos[i[keep]], ls="none", marker="|", ms=1.5 ** 0.5, mew=0.6, color=colour)
        ticks.append(row + shown.size / 2)
        labels.append(f"{pop} ({region})")
        row += shown.size + 3
    ax.set_yticks(ticks, labels, fontsize=8)
    ax.set_ylim(-2, row)
    ax.invert_yaxis()
    ax.set_xlabel("time (s)")
    ax.set_xlim(0, result.duration)
    ax.set_title("Spike raster (up to 40 neurons per population)")
    return fig


def plot_rates(result: Result, smooth_s: float = 0.02) -> Figure:
    """Population rates over time (Gaussian-smoothed), one panel per region."""
    regions = result.regions or {p: [p] for p in result.rates}
    fig = figure(10, 1.4 * len(regions) + 1, left=0.85, top=0.4, bottom=0.5, rows=len(regions), hspace=0.15)
    axes = fig.subplots(len(regions), 1, sharex=True, squeeze=False)[:, 0]
    sd = max(1, int(round(smooth_s / result.rate_dt)))
    # (a kernel longer than the record would make np.convolve's "same" output longer than it)
    half = min(4 * sd, max(0, (min(r.size for r in result.rates.values()) - 1) // 2)) if result.rates else 4 * sd
    x = np.arange(-half, half + 1)
    kernel = np.exp(-0.5 * (x / sd) ** 2)
    kernel /= kernel.sum()
    for ax, (region, pops) in zip(axes, regions.items()):
        for pop in pops:
            r = result.rates[pop]
            t = (np.arange(r.size) + 0.5) * result.rate_dt
            # divide by the kernel mass inside the record so the ends are not pulled towards zero
            smooth = np.convolve(r, kernel, mode="same") / np.convolve(np.ones_like(r), kernel, mode="same")
            ax.plot(*thin(t, smooth), lw=1, label=pop)
        ax.set_ylabel(f"{region}\n(Hz)")
        ax.legend(loc="upper right", fontsize=7, ncol=3)
    axes[-1].set_xlabel("time (s)")
    fig.suptitle(f"Population rates (smoothed, sd {smooth_s * 1e3:.0f} ms)")
    return fig
