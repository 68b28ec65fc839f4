"""The pulses of a DBS or TMS stimulus as table columns: each kind's ``pulses`` plug-in role.

The NWB export (:mod:`circuitsim.io.nwb_file`) writes one interval table per stimulus from these
columns; it reaches them through the plug-in registry, so the Result record's layer imports no
stimulation module.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional

import numpy as np

from circuitsim.plugins import register
from circuitsim.stimulation import dbs
from circuitsim.stimulation.protocols import PulseTable


@register("dbs").pulses
def dbs_pulses(name: str, params: Mapping[str, Any], dt: float,
               data: Optional[Mapping[str, Any]]) -> Dict[str, Any]:
    """Every DBS pulse's start, end and cathodic amplitude (A); a closed-loop stimulus whose
    controller's amplitudes were not kept has NaN amplitudes (scheduled pulses)."""
    onsets = dbs.onsets_from_params(params, dt)
    if params.get("controller") is not None and data is None:
        amp = np.full(onsets.size, np.nan)
    else:
        amp = dbs.pulse_amplitudes(params, onsets, data or {})
    width = float(params["pulse_width"]) * (2 if params.get("biphasic") else 1) + (
        float(params.get("interphase_gap") or 0.0) if params.get("biphasic") else 0.0)
    return {"start_time": onsets, "stop_time": onsets + width, "amplitude_A": amp,
            "_kind": "dbs", "_desc": f"DBS pulses of stim.{name} in {params.get('target')} "
            f"({'scheduled; closed-loop amplitude not stored' if np.isnan(amp).any() else 'delivered'})"}


@register("tms").pulses
def tms_pulses(name: str, params: Mapping[str, Any], dt: float,
               data: Optional[Mapping[str, Any]]) -> Dict[str, Any]:
    """Every TMS pulse (one time step long): intensity and its unit, site, role, condition, trial."""
    table = PulseTable.from_dict(params["pulses"])
    return {"start_time": table.time, "stop_time": table.time + dt,
            "intensity": table.intensity, "intensity_unit": table.unit.astype(str),
            "site": table.site.astype(str), "role": table.role.astype(str),
            "condition": np.array([table.conditions[c] for c in table.condition], dtype=str),
            "trial": table.trial, "_kind": "tms", "_desc": f"TMS pulses of stim.{name} (one time step long)"}
