"""The DBS stimulus kind's config schema (``kind: dbs``): every key with its default.

The one source of the DBS model's defaults. The plug-in registers :class:`DbsConf` as its
``schema``, so Hydra's ConfigStore holds it as the option ``dbs`` of the group ``stim/schema``;
each DBS preset (``configs/stim/dbs_*.yaml``) places it at its stimulus in its defaults list, and
``circuitsim --cfg job stim=dbs_gpi`` prints every value below, filled in. A config that leaves a
key out (a plain dict, a stored run) gets the same defaults from the validator
(:func:`circuitsim.schema.with_defaults`), so the two can never disagree.

Physical values are unit strings (validated into SI by :mod:`circuitsim.stimulation.dbs_validate`);
``???`` marks a key every DBS stimulus must give.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

#: the kinds of neural element a pulse can excite (see :mod:`circuitsim.stimulation.dbs`)
ELEMENTS = ("somata", "efferent_axons", "afferent_axons")


@dataclass
class ExcitabilityConf:
    """Strength-duration parameters of one element type (Weiss / Lapicque, Ranck 1975)."""

    chronaxie: str = "???"
    rheobase: str = "???"   # of the farthest element of the stimulated volume


@dataclass
class DbsExcitabilityConf:
    """Chronaxies: large myelinated axons 30-200 us, cell bodies about 1-10 ms (Ranck 1975, Brain
    Res 98:417); DBS chronaxies measured in patients lie in the axonal range (Holsheimer et al.
    2000, Eur J Neurosci 12:4573). Rheobase of the farthest element: model choice, set so that a
    clinical GPi setting (3 mA, 210 us) activates about half of the axons and under a tenth of the
    somata (axons before somata: McIntyre et al. 2004, J Neurophysiol 91:1457)."""

    # 0.1*ms, not 100*us: the same number as the float 1e-4 (100*1e-6 is not)
    somata: ExcitabilityConf = field(default_factory=lambda: ExcitabilityConf("1*ms", "3*mA"))
    efferent_axons: ExcitabilityConf = field(default_factory=lambda: ExcitabilityConf("0.1*ms", "3*mA"))
    afferent_axons: ExcitabilityConf = field(default_factory=lambda: ExcitabilityConf("0.1*ms", "3*mA"))


@dataclass
class AxonalFailureConf:
    """Static axonal failure at high frequency: p = 1 / (1 + (f / f_half)**exponent) (model
    choice after Rosenbaum et al. 2014, Neurobiol Dis 62:86); off by default."""

    enabled: bool = False
    f_half: str = "100*Hz"
    exponent: float = 2.0


@dataclass
class SynapticDepressionConf:
    """Tsodyks-Markram depression of the DBS-driven synapses (Tsodyks & Markram 1997, PNAS
    94:719); U and tau_rec are model choices fitted to Milosevic et al. 2018 (Brain 141:177) and
    Chiken & Nambu 2013 (J Neurosci 33:2268): :mod:`circuitsim.stimulation.dbs_synapses`."""

    enabled: bool = True
    U: float = 0.5
    tau_rec: str = "150*ms"
    elements: List[str] = field(default_factory=lambda: ["afferent_axons"])


@dataclass
class DbsConf:
    """One DBS electrode (see :mod:`circuitsim.stimulation.dbs` for the mechanism)."""

    kind: str = "dbs"
    target: str = "???"             # the stimulated population
    frequency: str = "???"
    amplitude: str = "???"          # a current ('3*mA') or a voltage ('3*volt', through the impedance)
    pulse_width: str = "???"        # of the cathodic phase
    shape: str = "monophasic"       # monophasic (cathodic) | biphasic
    interphase_gap: str = "0*us"
    anodic_ratio: float = 1.0       # anodic / cathodic amplitude of a biphasic pulse
    anodic_width: Optional[str] = None   # default: the charge-balancing width
    balanced: bool = False          # refuse a pulse that is not charge-balanced
    start: str = "0*ms"
    stop: Optional[str] = None      # default: sim.duration
    cycle_on: Optional[str] = None  # cycling: both or neither
    cycle_off: Optional[str] = None
    # electrode impedance (model choice: clinical DBS impedances are of the order of 1 kOhm;
    # Butson & McIntyre 2005, Clin Neurophysiol 116:2490); converts a voltage amplitude, gives the energy
    impedance: str = "1*kohm"
    elements: List[str] = field(default_factory=lambda: list(ELEMENTS))
    excitability: DbsExcitabilityConf = field(default_factory=DbsExcitabilityConf)
    efferent_pathways: Optional[List[str]] = None   # default: every pathway from the target
    afferent_pathways: Optional[List[str]] = None   # default: every pathway into it from another population
    antidromic_efferent: bool = False
    # the fibres' antidromic invasion of their somata (Gradinaru et al. 2009, Science 324:354)
    antidromic_afferent: bool = True
    # distance of the stimulated point from soma or nearby terminals, as a conduction time (model choice)
    local_delay: str = "0.5*ms"
    axonal_failure: AxonalFailureConf = field(default_factory=AxonalFailureConf)
    synaptic_depression: SynapticDepressionConf = field(default_factory=SynapticDepressionConf)
    # closed loop (circuitsim.stimulation.closed_loop checks it); {} or null = open loop ({} by
    # default, so that `stim.<name>.controller={...}` can set it: Hydra cannot merge into a null)
    controller: Optional[Dict[str, Any]] = field(default_factory=dict)
