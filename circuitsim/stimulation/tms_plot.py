"""The figure panel of a TMS stimulus: EMG around the test pulses."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from circuitsim.plugins import register
from circuitsim.stimulation.protocols import PulseTable
from circuitsim.stimulation.tms_measure import _mean


@register("tms").plot
def plot_tms(result, name: str, params: Mapping[str, Any], subfig) -> None:
    """EMG around each test pulse (trials thin, mean thick) per muscle, with the MEP window and
    the mean latency marked; paired-pulse conditions in their own colours."""
    an = result.extra.get("tms", {}).get(name)
    readout = result.extra.get("muscle")
    muscles = list(readout.muscles) if readout is not None else []
    axes = subfig.subplots(1, max(1, len(muscles)), squeeze=False)[0]
    subfig.suptitle(f"TMS '{name}': EMG around test pulses (time from pulse, with conduction delay)")
    if an is None or readout is None:
        axes[0].text(0.5, 0.5, "no muscle readout", ha="center", va="center", transform=axes[0].transAxes)
        return
    table: PulseTable = an["table"]
    test = an["test_index"]
    meas = params["measure"]
    fs = readout.fs_hz
    t0 = float(readout.time[0])
    delay = meas["conduction_delay"]
    pre, post = 0.02, meas["window"][1] + 0.05
    n_pre, n_post = int(round(pre * fs)), int(round(post * fs))
    lag = (np.arange(-n_pre, n_post) / fs + delay) * 1e3
    colours = ["k", "tab:red", "tab:blue", "tab:green", "tab:orange", "tab:purple"]
    for ax, muscle in zip(axes, muscles):
        emg = readout.emg[muscle]
        m = an["per_muscle"][muscle]
        for c, cname in enumerate(table.conditions):
            sel = [k for k in range(test.size) if table.condition[test[k]] == c]
            traces = []
            for k in sel:
                i = int(round((table.time[test[k]] - t0) * fs))
                if i - n_pre >= 0 and i + n_post <= emg.size:
                    traces.append(emg[i - n_pre:i + n_post])
            if not traces:
                continue
            tr = np.array(traces) * 1e3
            col = colours[c % len(colours)]
            for row in tr[:20]:
                ax.plot(lag, row, color=col, lw=0.3, alpha=0.3)
            ax.plot(lag, tr.mean(axis=0), color=col, lw=1.2, label=f"{cname} (n={len(traces)})")
        ax.axvspan((meas["window"][0] + delay) * 1e3, (meas["window"][1] + delay) * 1e3, color="0.9", zorder=0)
        lat = m["latency_s"][np.isfinite(m["latency_s"])]
        if lat.size:
            ax.axvline(np.mean(lat) * 1e3, color="tab:red", ls="--", lw=0.8)
        ax.axvline(0, color="0.5", lw=0.8)
        ax.set_title(f"{muscle}: MEP {_mean(m['amplitude_v']) * 1e3:.2f} mV", fontsize=9)
        ax.set_xlabel("time from pulse (ms)")
        ax.set_ylabel("EMG (mV)")
        ax.legend(fontsize=7, loc="upper right")

