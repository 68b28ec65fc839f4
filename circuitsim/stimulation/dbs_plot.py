"""The DBS figure panel: waveform, target and efferent responses around the pulses, and the
closed-loop trace."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from circuitsim.stimulation.dbs_elements import shape_from_params
from circuitsim.stimulation.dbs_measure import pulse_amplitudes

PSTH_WINDOW = (-2e-3, 8e-3)   # s around each pulse
PSTH_BIN = 0.5e-3             # s


def _psth(t_spikes: np.ndarray, onsets: np.ndarray, n_neurons: int) -> tuple:
    edges = np.arange(PSTH_WINDOW[0], PSTH_WINDOW[1] + PSTH_BIN / 2, PSTH_BIN)
    rel = (t_spikes[None, :] - onsets[:, None]).ravel() if onsets.size and t_spikes.size else np.empty(0)
    counts, _ = np.histogram(rel, bins=edges)
    rate = counts / max(1, onsets.size) / max(1, n_neurons) / PSTH_BIN
    return edges, rate



def plot_dbs(result, name: str, params: Mapping[str, Any], subfig) -> None:
    from circuitsim.stimulation.waveforms import sample_waveform

    data = result.extra.get("stim_data", {}).get(name, {})
    all_onsets = np.asarray(data.get("onsets", []))
    amps = pulse_amplitudes(params, all_onsets, data)
    onsets = all_onsets[amps > 0]           # delivered pulses
    closed = data.get("controller") is not None
    axes = subfig.subplots(1, 4 if closed else 3)
    shape = shape_from_params(params)
    subfig.suptitle(f"DBS '{name}' on {params['target']}: {params['frequency']:g} Hz, "
                    f"{params['amplitude'] * 1e3:.3g} mA, {params['pulse_width'] * 1e6:g} us "
                    f"{'biphasic' if params['biphasic'] else 'monophasic'}", fontsize=10)
    ax = axes[0]
    if onsets.size:
        shown = onsets[:3]
        t = np.linspace(shown[0] - 0.5e-3, shown[-1] + shape.duration + 1e-3, 4000)
        ax.plot((t - shown[0]) * 1e3, sample_waveform(t, shown, shape) * 1e3, lw=1)
        ax.set_xlabel("time from first pulse (ms)")
    else:
        ax.text(0.5, 0.5, "no pulses (0 Hz / off)", ha="center", va="center", transform=ax.transAxes)
    ax.set_ylabel("current (mA)")
    ax.set_title("waveform", fontsize=9)

    target = params["target"]
    ax = axes[1]
    if onsets.size and target in result.spikes:
        i, t = (np.asarray(x) for x in result.spikes[target])
        soma_thr = data.get("soma_thresholds")
        groups = [("all", np.ones(result.sizes[target], bool))]
        if soma_thr is not None:
            act = np.asarray(soma_thr) < params["amplitude"]
            groups = [("activated somata", act), ("other somata", ~act)]
        for label, mask in groups:
            if mask.any():
                edges, rate = _psth(t[mask[i]], onsets, int(mask.sum()))
                ax.step(edges[:-1] * 1e3, rate, where="post", label=f"{label} ({int(mask.sum())})")
        ax.legend(fontsize=7)
    ax.axvline(0, color="k", lw=0.5)
    ax.set_yscale("symlog", linthresh=10)
    ax.set_ylim(bottom=0)
    ax.set_xlabel("time from pulse (ms)")
    ax.set_ylabel("rate (Hz per neuron)")
    ax.set_title(f"{target} around pulses", fontsize=9)

    ax = axes[2]
    downstream = [p for p in dict.fromkeys(params["efferent_targets"]) if p != target]
    if onsets.size:
        for pop in downstream[:4]:
            if pop in result.spikes:
                edges, rate = _psth(np.asarray(result.spikes[pop][1]), onsets, result.sizes[pop])
                ax.step(edges[:-1] * 1e3, rate, where="post", label=pop)
        if downstream:
            ax.legend(fontsize=7)
    ax.axvline(0, color="k", lw=0.5)
    ax.set_xlabel("time from pulse (ms)")
    ax.set_title("efferent targets around pulses", fontsize=9)

    if closed:
        trace = data["controller"]
        ax = axes[3]
        ax.plot(trace["t"], trace["biomarker"], color="C0", lw=1)
        ax.set_xlabel("time (s)")
        ax.set_ylabel(params["controller"]["biomarker"], color="C0", fontsize=8)
        ax2 = ax.twinx()
        ax2.step(trace["t"], np.asarray(trace["level"]) * params["amplitude"] * 1e3, where="post", color="C3", lw=1)
        ax2.set_ylabel("amplitude (mA)", color="C3")
        ax.set_title(f"closed loop ({params['controller']['mode']})", fontsize=9)
