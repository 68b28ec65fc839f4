"""The memory estimate of a run, checked by :func:`circuitsim.spec.build_spec` before anything is
built (refused above the memory available unless ``+sim.allow_large=true``). Re-exported by
:mod:`circuitsim.spec`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Dict, Optional, Tuple

if TYPE_CHECKING:
    from circuitsim.spec_types import RunSpec

#: Memory estimate (see :func:`estimate_memory`), refused when above the memory available
#: (MemAvailable and the cgroup limit) unless ``+sim.allow_large=true``. Bytes per neuron: ~45
#: state variables of 8 bytes in the simulator plus the builder's copies in Python.
BYTES_PER_NEURON = 1024
#: bytes per synapse: indices drawn as int64, then int32, weight and delay in Python; indices,
#: weight, delay and spike-queue entries in the simulator
BYTES_PER_SYNAPSE = 160
#: bytes per recorded spike: index (4) and time (8) in the monitor, which grows by doubling, and
#: Python's copies when the spikes are read back and sorted by population
BYTES_PER_SPIKE = 48
#: expected rate of a population for the spike estimate: the middle of its target_rate range,
#: at most this (the default target_rate.high is 1000 Hz, i.e. unbounded)
SPIKE_RATE_CAP = 100.0   # Hz
#: bytes per recorded LFP sample (two charges, Python copies) and per population-rate bin
BYTES_PER_LFP_SAMPLE = 48
BYTES_PER_RATE_BIN = 16
#: bytes of every run whatever its size: Python, NumPy, Brian2 and the code generation
BASE_BYTES = 512 * 2**20


def _count_synapses(spec: "RunSpec") -> Tuple[int, int]:
    """(synapses, random numbers drawn to make them) of the spec's pathways, as
    circuitsim.circuit.connectivity draws them, without drawing."""
    synapses = 0
    draws = 0
    n_ch = len(spec.channels)
    for pw in spec.pathways.values():
        src, tgt = spec.populations[pw.source], spec.populations[pw.target]
        groups = n_ch if pw.topology == "focal" else 1
        n_src = src.n_per_channel if pw.topology == "focal" else src.n
        n_tgt = tgt.n_per_channel if pw.topology == "focal" else tgt.n
        cand = n_src - 1 if pw.source == pw.target else n_src
        k = max(0, min(int(round(pw.p * cand / spec.scale)), cand))
        synapses += groups * n_tgt * k
        draws += groups * n_tgt * n_src if k else 0
    return synapses, draws


def estimate_memory(spec: "RunSpec") -> Dict[str, float]:
    """Bytes a run needs, roughly: neurons, synapses and recordings (spikes, LFP, rates)."""
    n = spec.n_neurons
    synapses, _ = _count_synapses(spec)
    duration = spec.sim.duration
    spikes = sum(p.n * min(0.5 * (p.target_low + p.target_high), SPIKE_RATE_CAP) for p in spec.populations.values())
    out = {
        "base": float(BASE_BYTES),
        "neurons": float(n) * BYTES_PER_NEURON,
        "synapses": float(synapses) * BYTES_PER_SYNAPSE,
        "spikes": spikes * duration * BYTES_PER_SPIKE,
        "lfp": len(spec.populations) * duration / spec.readout.lfp_dt * BYTES_PER_LFP_SAMPLE,
        "rates": len(spec.populations) * len(spec.channels) * duration / spec.readout.rate_bin * BYTES_PER_RATE_BIN,
    }
    out["total"] = sum(out.values())
    out["n_neurons"], out["n_synapses"] = float(n), float(synapses)
    return out


def available_memory() -> Optional[int]:
    """Bytes of memory this process may still use: the smaller of /proc/meminfo's MemAvailable
    and the cgroup's limit minus its usage; None where neither can be read (no check then)."""
    values = []
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    values.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError, IndexError):
        pass
    for limit_file, usage_file in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                                   ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                                    "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
        try:
            with open(limit_file) as fh:
                limit = fh.read().strip()
            with open(usage_file) as fh:
                usage = int(fh.read().strip())
        except (OSError, ValueError):
            continue
        if limit.isdigit() and int(limit) < 2**60:
            values.append(max(0, int(limit) - usage))
    return min(values) if values else None
