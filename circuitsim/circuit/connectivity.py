"""Connectivity of every pathway, drawn with NumPy from the run's master seed.

Drawing connections in NumPy (not in generated code) keeps them identical on every Brian2
device and makes the synapse count depend only on the circuit's structure, never on the seed.
"""

from __future__ import annotations

from dataclasses import dataclass
import zlib
from typing import Dict

import numpy as np

from circuitsim.circuit.layout import Layout
from circuitsim.spec import Pathway, RunSpec

_CHUNK_ELEMENTS = 4_000_000  # bound on the random matrix drawn at once (memory at large scale)


@dataclass(frozen=True)
class Connections:
    """Synapses of one pathway: presynaptic and postsynaptic neuron indices (global)."""

    i: np.ndarray
    j: np.ndarray

    @property
    def n(self) -> int:
        return int(self.i.size)


def in_degree(pathway: Pathway, n_candidates: int, scale: float) -> int:
    """Inputs per target neuron: p times the candidate count at scale 1, clipped to what exists."""
    k = int(round(pathway.p * n_candidates / scale))
    return max(0, min(k, n_candidates))


def _sample_without_replacement(rng: np.random.Generator, n_targets: int, n_candidates: int, k: int,
                                exclude: np.ndarray | None) -> np.ndarray:
    """For each of n_targets rows, k distinct column indices from range(n_candidates)."""
    out = np.empty((n_targets, k), dtype=np.int64)
    rows_per_chunk = max(1, _CHUNK_ELEMENTS // max(1, n_candidates))
    for start in range(0, n_targets, rows_per_chunk):
        stop = min(n_targets, start + rows_per_chunk)
        keys = rng.random((stop - start, n_candidates))
        if exclude is not None:  # forbid autapses: position of the target itself among candidates
            rows = np.arange(stop - start)
            cols = exclude[start:stop]
            ok = cols >= 0
            keys[rows[ok], cols[ok]] = np.inf
        out[start:stop] = np.argpartition(keys, k - 1, axis=1)[:, :k] if k < n_candidates else \
            np.tile(np.arange(n_candidates), (stop - start, 1))
    return out


def connect_pathway(pathway: Pathway, spec: RunSpec, layout: Layout, rng: np.random.Generator) -> Connections:
    """Draw the synapses of one pathway (fixed in-degree, no autapses)."""
    groups = range(len(spec.channels)) if pathway.topology == "focal" else [None]
    i_all, j_all = [], []
    for ch in groups:
        src = layout.indices(pathway.source, ch)
        tgt = layout.indices(pathway.target, ch)
        n_cand = src.size
        if pathway.source == pathway.target:
            n_cand_eff = n_cand - 1
        else:
            n_cand_eff = n_cand
        k = in_degree(pathway, n_cand_eff, spec.scale)
        if k == 0 or tgt.size == 0:
            continue
        exclude = None
        if pathway.source == pathway.target:
            exclude = np.searchsorted(src, tgt)
        cols = _sample_without_replacement(rng, tgt.size, n_cand, k, exclude)
        i_all.append(src[cols].ravel())
        j_all.append(np.repeat(tgt, k))
    if not i_all:
        return Connections(np.empty(0, np.int32), np.empty(0, np.int32))
    i, j = np.concatenate(i_all), np.concatenate(j_all)
    # Ordered by source, each source's synapses kept in the drawn (target) order: a spiking neuron's
    # synapses are then adjacent in the synapse arrays, so delivering its spike reads delays, weights
    # and targets in one sweep instead of one cache miss per synapse (large circuits). Brian2 queues a
    # spike's synapses per source in index order, so every conductance receives the same additions in
    # the same order as with the drawn order: the same spikes, bit for bit.
    order = np.argsort(i, kind="stable")
    return Connections(i[order].astype(np.int32), j[order].astype(np.int32))


def pathway_rng(seed: int, name: str) -> np.random.Generator:
    """The random stream of one pathway: derived from the master seed and the pathway's name,
    so enabling, disabling or adding another pathway leaves it unchanged."""
    return np.random.default_rng(np.random.SeedSequence([seed, zlib.crc32(name.encode())]))


def connect_all(spec: RunSpec, layout: Layout, seed: int) -> Dict[str, Connections]:
    """Synapses of every enabled pathway, in config order."""
    return {name: connect_pathway(pw, spec, layout, pathway_rng(seed, name))
            for name, pw in spec.pathways.items()}
