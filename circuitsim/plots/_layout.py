"""Figures with fixed margins: no layout engine, so saving a figure draws it once.

Matplotlib's constrained layout measures every text before drawing (a full extra draw pass with
text layout) and was about half the time of a default figure. The circuit's figures have labels
of known length, so their margins are set in inches here instead.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

#: Numerical choice: points per line above which a trace is thinned for drawing (a figure is
#: about 1000 pixels wide, so 2000 points keep every pixel column's extremes within one point).
MAX_POINTS = 2000


def figure(width: float, height: float, left: float = 0.8, right: float = 0.15, top: float = 0.45,
           bottom: float = 0.5, rows: int = 1, cols: int = 1, hspace: float = 0.3, wspace: float = 0.6) -> Figure:
    """A ``Figure`` of ``width`` x ``height`` inches with fixed margins in inches, for a grid of
    ``rows`` x ``cols`` subplots separated by ``hspace`` / ``wspace`` inches."""
    inner_h, inner_w = max(height - top - bottom, 1e-3), max(width - left - right, 1e-3)
    # matplotlib's hspace is a fraction of the mean axes height: gap g, n rows -> g*n / (H - (n-1)*g)
    h = hspace * rows / max(inner_h - (rows - 1) * hspace, 1e-3)
    w = wspace * cols / max(inner_w - (cols - 1) * wspace, 1e-3)
    fig = Figure(figsize=(width, height))
    # (set after construction: Figure.__init__ resets a subplotpars argument to the rc defaults)
    fig.subplotpars.update(left=left / width, right=1 - right / width, top=1 - top / height, bottom=bottom / height,
                           hspace=h, wspace=w)
    return fig


def thin(t: np.ndarray, y: np.ndarray, max_points: int = MAX_POINTS):
    """Every k-th point of a long, smooth trace (k = len // max_points): what a figure draws."""
    step = max(1, y.size // max_points)
    return (t, y) if step == 1 else (t[::step], y[::step])
