"""How a :class:`~circuitsim.io.results.Result` shows itself: a short ``repr`` and a notebook table.

``repr(result)`` names the run and its key measures in a few hundred characters (never the spike
arrays); ``result._repr_html_()`` is what Jupyter shows: the run, the key measures, every
population's rate against its cited healthy range, and links to the run folder's figures.
"""

from __future__ import annotations

import html
import math
import os
from typing import Any, List, Optional, Tuple

#: (label, dotted metrics.json key, format) of the measures shown first
KEY_MEASURES: Tuple[Tuple[str, str, str], ...] = (
    ("GPi rate (Hz)", "populations.gpi.rate_hz", "{:.1f}"),
    ("GPi ISI CV", "populations.gpi.cv_isi", "{:.2f}"),
    ("GPi burst fraction", "populations.gpi.burst_fraction", "{:.2f}"),
    ("GPi 4-10 Hz LFP power", "lfp.gpi.power_4_10hz", "{:.3f}"),
    ("channel selectivity", "channels.selectivity", "{:.2f}"),
    ("co-contraction index", "muscle.co_contraction_index", "{:.2f}"),
    ("severity score", "muscle.severity_score", "{:.3f}"),
)
#: the repr stays below this many characters
REPR_LIMIT = 1500


def _get(metrics: Any, dotted: str) -> Any:
    node = metrics
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _fmt(value: Any, fmt: str = "{:.3g}") -> Optional[str]:
    if value is None:
        return None
    try:
        x = float(value)
    except (TypeError, ValueError):
        return str(value)
    return "nan" if not math.isfinite(x) else fmt.format(x)


def _identity(result: Any) -> List[Tuple[str, str]]:
    run = result.metrics.get("run", {}) if isinstance(result.metrics, dict) else {}
    items = []
    if result.folder is not None:
        items.append(("folder", str(result.folder)))
    for label, key in (("condition", "condition"), ("command", "task"), ("seed", "seed")):
        if run.get(key) is not None:
            items.append((label, str(run[key])))
    if run.get("duration_s") is not None:
        items.append(("duration", f"{float(run['duration_s']):g} s"))
    if run.get("n_neurons") is not None:
        items.append(("neurons", str(run["n_neurons"])))
    stimuli = list(((result.config or {}).get("stim") or {}) if isinstance(result.config, dict) else {})
    if stimuli:
        items.append(("stim", ",".join(stimuli)))
    return items


def result_repr(result: Any) -> str:
    """``Result(condition=..., seed=..., ...; rates Hz: ...; key measures)``, under 2000 characters."""
    parts = [f"{k}={v!r}" if k == "folder" else f"{k}={v}" for k, v in _identity(result)]
    pops = (result.metrics or {}).get("populations", {}) if isinstance(result.metrics, dict) else {}
    rates = [f"{p} {_fmt(m.get('rate_hz'), '{:.1f}')}" for p, m in pops.items() if isinstance(m, dict)]
    if rates:
        parts.append("rates Hz: " + ", ".join(rates))
    measures = [f"{label} {_fmt(_get(result.metrics, key), fmt)}" for label, key, fmt in KEY_MEASURES
                if _get(result.metrics, key) is not None and not label.startswith("GPi rate")]
    if measures:
        parts.append("; ".join(measures))
    text = "Result(" + "; ".join(parts) + ")"
    return text if len(text) <= REPR_LIMIT else text[: REPR_LIMIT - 4] + "...)"


def _figures(result: Any) -> List[str]:
    if result.folder is None or not os.path.isdir(result.folder):
        return []
    return sorted(name for name in os.listdir(result.folder) if name.endswith(".png"))


def result_html(result: Any) -> str:
    """A small HTML summary for notebooks (escaped; links are relative to the working directory)."""
    esc = html.escape
    rows = "".join(f"<tr><th style='text-align:left'>{esc(k)}</th><td style='text-align:left'>{esc(v)}</td></tr>"
                   for k, v in _identity(result))
    measures = "".join(
        f"<tr><td style='text-align:left'>{esc(label)}</td><td>{esc(_fmt(_get(result.metrics, key), fmt) or '-')}"
        f"</td><td style='text-align:left'><code>{esc(key)}</code></td></tr>"
        for label, key, fmt in KEY_MEASURES)
    pops = (result.metrics or {}).get("populations", {}) if isinstance(result.metrics, dict) else {}
    pop_rows = []
    for name, m in pops.items():
        if not isinstance(m, dict):
            continue
        rate, target = m.get("rate_hz"), m.get("target_rate_hz") or [None, None]
        inside = (rate is not None and target[0] is not None and target[1] is not None
                  and target[0] <= float(rate) <= target[1])
        mark = "" if inside or target[0] is None else " style='color:#b00020'"
        cited = f"{target[0]:g}-{target[1]:g}" if target[0] is not None and target[1] is not None else "-"
        pop_rows.append(f"<tr{mark}><td style='text-align:left'><code>{esc(name)}</code></td>"
                        f"<td>{esc(_fmt(rate, '{:.1f}') or '-')}</td><td>{esc(cited)}</td>"
                        f"<td>{esc(_fmt(m.get('cv_isi'), '{:.2f}') or '-')}</td></tr>")
    figures = _figures(result)
    links = ""
    if figures:
        folder = str(result.folder)
        try:   # Jupyter serves files below the notebook's folder: link those relative to it
            relative = os.path.relpath(folder)
            folder = relative if not relative.startswith("..") else folder
        except ValueError:
            pass
        links = "<p>figures: " + ", ".join(
            f"<a href='{esc(os.path.join(folder, f), quote=True)}' target='_blank'>{esc(f)}</a>"
            for f in figures) + "</p>"
    return ("<div class='circuitsim-result'><strong>circuitsim Result</strong>"
            f"<table>{rows}</table>"
            "<table><tr><th style='text-align:left'>measure</th><th>value</th>"
            f"<th style='text-align:left'>metrics key</th></tr>{measures}</table>"
            "<details><summary>population rates (red: outside the cited healthy range)</summary>"
            "<table><tr><th style='text-align:left'>population</th><th>rate (Hz)</th><th>healthy (Hz)</th>"
            f"<th>ISI CV</th></tr>{''.join(pop_rows)}</table></details>{links}</div>")
