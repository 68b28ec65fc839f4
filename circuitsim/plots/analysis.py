"""Spectra, channel selectivity and the one-page summary figure."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from circuitsim.io.results import Result, spec_of
from circuitsim.plots._layout import figure, thin

BAND_ORDER = ("delta", "theta", "alpha", "beta", "gamma")


def plot_spectra(result: Result) -> Figure:
    """Welch spectra of every region's LFP proxy (log scale), 4-10 Hz and beta shaded."""
    spectra = result.extra.get("spectra", {})
    fig = figure(8, 5, left=0.85, top=0.35, bottom=0.5)
    ax = fig.add_subplot()
    for region, (f, psd) in spectra.items():
        keep = (f >= 1) & (f <= 100)
        ax.semilogy(f[keep], psd[keep] / max(psd[keep].sum(), 1e-300), lw=1.2, label=region)
    ax.axvspan(4, 10, color="tab:red", alpha=0.08, label="4-10 Hz")
    ax.axvspan(13, 30, color="tab:blue", alpha=0.06, label="beta 13-30 Hz")
    ax.set_xlabel("frequency (Hz)")
    ax.set_ylabel("normalised power")
    ax.set_title("LFP proxy spectra by region (Mazzoni et al. 2015 proxy, Welch)")
    ax.legend(fontsize=8, ncol=2)
    return fig


def _smooth(r: np.ndarray, dt: float, sd_s: float = 0.025) -> np.ndarray:
    sd = max(1, int(round(sd_s / dt)))
    half = min(4 * sd, max(0, (r.size - 1) // 2))   # no longer than the record (see plot_rates)
    x = np.arange(-half, half + 1)
    k = np.exp(-0.5 * (x / sd) ** 2)
    return np.convolve(r, k, mode="same") / np.convolve(np.ones_like(r), k, mode="same")


def channel_rate_series(result: Result, pop: str) -> dict:
    """Per-channel population rate (Hz per neuron), binned at the result's rate bin."""
    i, t = result.spikes[pop]
    ch = result.channels[pop]
    n_bins = int(round(result.duration / result.rate_dt))
    edges = np.arange(n_bins + 1) * result.rate_dt
    out = {}
    for c in np.unique(ch[ch >= 0]):
        counts, _ = np.histogram(t[ch[i] == c], bins=edges)
        out[int(c)] = counts / (np.sum(ch == c) * result.rate_dt)
    return out


def plot_channels(result: Result) -> Figure:
    """Rates of each channel in ctx_e, GPi and thalamus, with the command window and selectivity."""
    chans = result.metrics.get("run", {}).get("channels", [])
    info = result.metrics.get("channels", {})
    pops = [p for p in ("ctx_e", "gpi", "thal") if p in result.spikes]
    fig = figure(8, 2.2 * len(pops) + 0.6, left=0.8, top=0.4, bottom=0.5, rows=len(pops), hspace=0.15)
    axes = fig.subplots(len(pops), 1, sharex=True, squeeze=False)[:, 0]
    command = (spec_of(result).get("stimuli") or {}).get("task") or {}   # the motor command, SI
    for ax, pop in zip(axes, pops):
        for c, r in channel_rate_series(result, pop).items():
            t = (np.arange(r.size) + 0.5) * result.rate_dt
            ax.plot(*thin(t, _smooth(r, result.rate_dt)), lw=1.2, label=chans[c] if c < len(chans) else str(c))
        ax.set_ylabel(f"{pop} (Hz)")
        ax.legend(fontsize=8, loc="upper left")
    if command:
        start, stop = float(command["start"]), float(command["stop"])
        for ax in axes:
            ax.axvspan(start, stop, color="0.85", zorder=0)
    sel = info.get("selectivity")
    title = f"Channel selectivity {sel:.2f} (commanded: {info.get('commanded')})" if sel is not None \
        else "Channels (no command: selectivity undefined)"
    fig.suptitle(title)
    axes[-1].set_xlabel("time (s)")
    return fig


def _as_stored(metrics: dict) -> dict:
    """The metrics as ``metrics.json`` holds them (NaN and inf as None), so that the summary of a
    live run and of its folder (``circuitsim-plot``) are drawn from the same values."""
    import json

    from circuitsim.io.results import _clean, _json_default

    return json.loads(json.dumps(_clean(metrics), default=_json_default))


def plot_summary(result: Result) -> Figure:
    """One page: pallidal rates and irregularity, LFP band powers, selectivity and muscle measures."""
    m = _as_stored(result.metrics)
    fig = figure(11, 8, left=0.7, right=0.45, top=0.75, bottom=0.65, rows=2, cols=3, hspace=1.05, wspace=0.6)
    gs = fig.add_gridspec(2, 3)
    pops = list(m["populations"])
    ax = fig.add_subplot(gs[0, 0:2])
    rates = [m["populations"][p]["rate_hz"] for p in pops]
    lows = [m["populations"][p]["target_rate_hz"][0] for p in pops]
    highs = [m["populations"][p]["target_rate_hz"][1] for p in pops]
    x = np.arange(len(pops))
    ax.bar(x, rates, color="tab:gray", label="model")
    ax.errorbar(x, [(lo + hi) / 2 for lo, hi in zip(lows, highs)], yerr=[(hi - lo) / 2 for lo, hi in zip(lows, highs)],
                fmt="none", ecolor="tab:red", capsize=3, label="healthy range (literature)")
    ax.set_xticks(x, pops, rotation=60, fontsize=8)
    ax.set_yscale("symlog", linthresh=1)
    ax.set_ylabel("rate (Hz)")
    ax.legend(fontsize=8)
    ax.set_title("Firing rates")

    ax = fig.add_subplot(gs[0, 2])
    pall = [p for p in ("gpe", "stn", "gpi", "pc", "dcn") if p in m["populations"]]
    w = 0.25
    for k, key in enumerate(("cv_isi", "burst_fraction", "pause_fraction")):
        vals = [m["populations"][p].get(key) or 0.0 for p in pall]
        ax.bar(np.arange(len(pall)) + (k - 1) * w, vals, width=w, label=key)
    ax.set_xticks(np.arange(len(pall)), pall)
    ax.legend(fontsize=7)
    ax.set_title("Irregularity, bursts, pauses")

    ax = fig.add_subplot(gs[1, 0])
    regions = [r for r in ("ctx", "str", "gpe", "stn", "gpi", "thal", "cb", "dcn") if r in m.get("lfp", {})]
    bottom = np.zeros(len(regions))
    for band in BAND_ORDER:
        vals = np.array([m["lfp"][r]["band_power"].get(band) or 0.0 for r in regions])
        ax.bar(regions, vals, bottom=bottom, label=band)
        bottom += vals
    ax.set_ylabel("relative power")
    ax.legend(fontsize=7)
    ax.set_title("LFP proxy band powers")
    ax.tick_params(axis="x", rotation=45)

    ax = fig.add_subplot(gs[1, 1])
    coh = m.get("coherence", {})
    pairs = list(coh)
    for k, band in enumerate(("theta", "alpha", "beta")):
        ax.bar(np.arange(len(pairs)) + (k - 1) * w, [coh[p].get(band) or 0.0 for p in pairs], width=w, label=band)
    ax.set_xticks(np.arange(len(pairs)), [p.replace("__", "-") for p in pairs], fontsize=8)
    ax.set_ylim(0, 1)
    ax.legend(fontsize=7)
    ax.set_title("Coherence between regions")

    ax = fig.add_subplot(gs[1, 2])
    ax.axis("off")
    lines = [f"condition: {m['run'].get('condition') or '-'}   task: {m['run'].get('task') or 'rest'}",
             f"seed {m['run']['seed']}, {m['run']['duration_s']:g} s, {m['run']['n_neurons']} neurons"]
    sel = m.get("channels", {}).get("selectivity")
    lines.append(f"channel selectivity: {sel:.2f}" if sel is not None else "channel selectivity: - (no command)")
    mus = m.get("muscle")
    if mus:
        cci = mus["co_contraction_index"]
        lines += ["co-contraction index: " + ("- (muscles relaxed)" if cci is None else f"{cci:.2f}"),
                  f"head angle mean {mus['head_angle_deg']['mean']:.1f} deg, peak {mus['head_angle_deg']['peak']:.1f} deg",
                  "severity score: " + ("-" if mus["severity_score"] is None else f"{mus['severity_score']:.2f}")]
    ax.text(0, 1, "\n".join(lines), va="top", fontsize=10, family="monospace")
    ax.set_title("Summary")
    fig.suptitle("circuitsim run summary")
    return fig
