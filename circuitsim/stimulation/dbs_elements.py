"""The DBS mechanism's elements: strength-duration thresholds of the neural elements near the
electrode, the pulse train and the axonal transmission probability (see :mod:`circuitsim.stimulation.dbs`
for the account and its sources)."""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional

import numpy as np

from circuitsim.stimulation.dbs_schema import ELEMENTS  # noqa: F401  (re-exported)
from circuitsim.stimulation.waveforms import PulseShape, regular_onsets



@dataclass(frozen=True)
class Excitability:
    """Strength-duration parameters of one element type."""

    chronaxie: float   # s
    rheobase: float    # A, of the farthest element of the stimulated volume


# The defaults (excitability, local delay, impedance, axonal failure) are the schema's:
# circuitsim.stimulation.dbs_schema.DbsConf, shown by `circuitsim --cfg job stim=dbs_gpi`.


def shape_from_params(params: Mapping[str, Any]) -> PulseShape:
    return PulseShape(amplitude=params["amplitude"], pulse_width=params["pulse_width"],
                      biphasic=params["biphasic"], interphase_gap=params["interphase_gap"],
                      anodic_ratio=params["anodic_ratio"], anodic_width=params["anodic_width"])


def onsets_from_params(params: Mapping[str, Any], dt: float) -> np.ndarray:
    return regular_onsets(params["frequency"], params["start"], params["stop"], dt,
                          params["cycle_on"], params["cycle_off"])


def transmission_probability(params: Mapping[str, Any]) -> float:
    """Per-pulse transmission probability of an axon terminal (1 without axonal failure)."""
    af = params["axonal_failure"]
    if not af["enabled"] or params["frequency"] == 0:
        return 1.0
    return 1.0 / (1.0 + (params["frequency"] / af["f_half"]) ** af["exponent"])


def threshold_scale(pulse_width: float, chronaxie: float) -> float:
    """Weiss / Lapicque strength-duration factor: I_th(pw) / I_rheobase = 1 + chronaxie / pw."""
    if not (pulse_width > 0 and chronaxie > 0):
        raise ValueError("pulse width and chronaxie must be positive")
    return 1.0 + chronaxie / pulse_width


def expected_fraction(amplitude: float, pulse_width: float, chronaxie: float, rheobase: float) -> float:
    """Expected activated fraction of elements uniform in a sphere, thresholds ~ r**2 (see module doc)."""
    edge = rheobase * threshold_scale(pulse_width, chronaxie)
    return float(min(1.0, max(0.0, amplitude / edge)) ** 1.5)


def element_thresholds(n: int, pulse_width: float, chronaxie: float, rheobase: float,
                       rng: np.random.Generator) -> np.ndarray:
    """Thresholds (A) of ``n`` elements at distances drawn uniformly in the stimulated sphere."""
    u = rng.random(n)              # (r/R)**3, uniform for a uniform density in the sphere
    return rheobase * threshold_scale(pulse_width, chronaxie) * u ** (2.0 / 3.0)


def _element_rng(seed: int, name: str, element: str) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, zlib.crc32(f"dbs:{name}:{element}".encode())]))


@dataclass
class Elements:
    """The stimulated elements of one DBS stimulus, with their thresholds (A)."""

    soma_thr: Optional[np.ndarray]                # per target neuron (local index)
    efferent_thr: Optional[np.ndarray]            # per target neuron's axon (local index)
    afferent: Dict[str, tuple]                    # pathway -> (source neurons (local), thresholds)

    def thresholds(self) -> Dict[str, np.ndarray]:
        out = {}
        if self.soma_thr is not None:
            out["somata"] = self.soma_thr
        if self.efferent_thr is not None:
            out["efferent_axons"] = self.efferent_thr
        if self.afferent:
            out["afferent_axons"] = np.concatenate([thr for _, thr in self.afferent.values()])
        return out


def draw_elements(spec, layout, connections, name: str, params: Mapping[str, Any]) -> Elements:
    """Draw every selected element's threshold from the run's seed."""
    target = params["target"]
    n = spec.populations[target].n
    pw = params["pulse_width"]
    ex = params["excitability"]

    def thr(element: str, count: int) -> np.ndarray:
        e = ex[element]
        return element_thresholds(count, pw, e["chronaxie"], e["rheobase"], _element_rng(spec.sim.seed, name, element))

    soma = thr("somata", n) if "somata" in params["elements"] else None
    eff = thr("efferent_axons", n) if "efferent_axons" in params["elements"] and params["efferent_pathways"] else None
    aff = {}
    if "afferent_axons" in params["elements"]:
        for p in params["afferent_pathways"]:
            src0 = layout.slices[spec.pathways[p].source][0]
            sources = np.unique(connections[p].i) - src0
            e = ex["afferent_axons"]
            aff[p] = (sources, element_thresholds(sources.size, pw, e["chronaxie"], e["rheobase"],
                                                  _element_rng(spec.sim.seed, name, f"afferent:{p}")))
    return Elements(soma, eff, aff)
