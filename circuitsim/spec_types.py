"""The validated run specification's types: what :func:`circuitsim.spec.build_spec` returns.

Frozen dataclasses in SI units (seconds, volts, siemens, amperes, hertz); the builder, the device,
the readouts and the stimulus plug-ins read these, never the config's unit strings. Re-exported
by :mod:`circuitsim.spec`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Tuple


@dataclass(frozen=True)
class Receptor:
    name: str
    tau: float   # s
    E: float     # V
    sign: str


@dataclass(frozen=True)
class Population:
    name: str
    region: str
    n_per_channel: int        # neurons per channel (or total for unchannelled)
    channelled: bool
    n_channels: int
    params: Mapping[str, float]   # SI values, keys of NEURON_PARAMS
    bg_rate: float            # Hz, after modulators
    bg_weight: float          # S
    bg_receptor: str
    target_low: float         # Hz
    target_high: float        # Hz
    target_source: str
    description: str = ""

    @property
    def n(self) -> int:
        """Total number of neurons."""
        return self.n_per_channel * (self.n_channels if self.channelled else 1)


@dataclass(frozen=True)
class Pathway:
    name: str
    source: str
    target: str
    receptor: str
    p: float                 # effective probability (p * p_scale)
    weight: float            # S, effective (after weight_scale and modulators)
    delay: float             # s
    topology: str
    ref: str = ""
    # weight factor per target channel (channel order); () = 1 everywhere (see PathwayConf.side_scale)
    channel_scale: Tuple[float, ...] = ()


@dataclass(frozen=True)
class SimSpec:
    duration: float   # s
    dt: float         # s
    seed: int
    device: str
    codegen_target: str
    threads: int
    build_dir: Optional[str]
    transient: float  # s
    progress: bool
    vectorize: bool = True    # standalone: compile so gcc vectorises the neuron loops (circuitsim.device)
    max_wall_time: Optional[float] = None   # s of wall-clock time for the simulation; None = no limit


@dataclass(frozen=True)
class MuscleSpec:
    enabled: bool
    corticospinal_population: str      # channelled population whose first cells project to the motoneurons
    corticospinal_fraction: float
    muscles: Tuple[str, ...]           # one muscle per channel, in channel order
    params: Mapping[str, Any]          # circuitsim.muscle.MuscleParams fields (SI, named by unit)


@dataclass(frozen=True)
class ReadoutSpec:
    rate_bin: float
    lfp_neurons: int
    lfp_dt: float
    spectrum_segment: float
    plots: Tuple[str, ...]
    save_spikes: bool
    coherence_pairs: Tuple[Tuple[str, str], ...]   # LFP regions
    selectivity_population: str
    muscle: MuscleSpec


@dataclass(frozen=True)
class RunSpec:
    """Everything a run needs, validated and in SI units."""

    channels: Tuple[str, ...]
    scale: float
    receptors: Mapping[str, Receptor]
    populations: Mapping[str, Population]   # in config order
    pathways: Mapping[str, Pathway]         # enabled pathways only
    sim: SimSpec
    readout: ReadoutSpec
    stimuli: Mapping[str, Any] = field(default_factory=dict)   # name -> validated SI parameters, with "kind"
    task: Optional[Mapping[str, Any]] = None                    # the task's motor command, if any

    @property
    def n_neurons(self) -> int:
        return sum(p.n for p in self.populations.values())

    def regions(self) -> Dict[str, List[str]]:
        """Region name -> its population names, in config order."""
        out: Dict[str, List[str]] = {}
        for pop in self.populations.values():
            out.setdefault(pop.region, []).append(pop.name)
        return out


@dataclass(frozen=True)
class StimulusContext:
    """What a stimulus validator may check against: the validated circuit and simulation."""

    populations: Mapping[str, Population]
    pathways: Mapping[str, Pathway]
    channels: Tuple[str, ...]
    sim: SimSpec
