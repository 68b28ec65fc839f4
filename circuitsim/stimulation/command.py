"""A motor command: extra Poisson excitation to one channel of a population for a while.

Stands for the cortical command to turn the head to one side (the input the basal ganglia
select on). Parameters: ``population`` (a channelled population), ``channel`` (name),
``start``, ``stop`` (within ``sim.duration``), ``rate`` (summed Poisson input per neuron) and
``weight`` (AMPA conductance).
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any, Dict, Mapping

import numpy as np

from circuitsim.circuit.registry import BuildContext
from circuitsim.errors import ConfigError
from circuitsim.plugins import register
from circuitsim.schema import CommandConf
from circuitsim.spec import StimulusContext, check_population, check_stimulus_keys, nonneg, require
from circuitsim.units import to_si

#: the kind's config schema (defaults: population ctx_e, weight 0.5 nS) and the keys it allows
register("cortical_command").schema(CommandConf)
KEYS = tuple(f.name for f in fields(CommandConf) if f.name != "kind")


@register("cortical_command").validator
def validate_cortical_command(stim: Mapping[str, Any], path: str, ctx: StimulusContext) -> Dict[str, Any]:
    check_stimulus_keys(stim, path, KEYS)
    pop = stim.get("population", CommandConf.population)
    check_population(pop, f"{path}.population", ctx)
    require(ctx.populations[pop].channelled, f"{path}.population",
            f"{pop} is not split into channels; use a channelled population")
    channel = stim.get("channel")
    require(channel in ctx.channels, f"{path}.channel", f"unknown channel {channel!r}; known: {', '.join(ctx.channels)}")
    start = nonneg(to_si(stim.get("start"), "time", f"{path}.start"), f"{path}.start", "time")
    stop = to_si(stim.get("stop"), "time", f"{path}.stop")
    require(start < stop <= ctx.sim.duration + 1e-12, f"{path}.stop",
            f"must lie after start and within sim.duration ({ctx.sim.duration:g} s)")
    rate = nonneg(to_si(stim.get("rate"), "rate", f"{path}.rate"), f"{path}.rate", "rate")
    weight = nonneg(to_si(stim.get("weight", CommandConf.weight), "conductance", f"{path}.weight"), f"{path}.weight", "weight")
    return {"population": pop, "channel": ctx.channels.index(channel), "channel_name": channel,
            "start": start, "stop": stop, "rate": rate, "weight": weight}


@register("cortical_command").builder
def build_cortical_command(ctx: BuildContext, name: str, params: Mapping[str, Any]) -> None:
    """Fill the neuron group's command slot (``nu_cmd``, ``w_cmd``, ``t_cmd_on``, ``t_cmd_off``) of
    the commanded neurons; the circuit's background code draws the extra Poisson counts.

    Every parameter is data, not code: a sweep over the command's rate, weight, window or channel
    reuses the compiled program. One command per neuron (a second one on the same neurons is
    refused).
    """
    idx = ctx.layout.indices(params["population"], params["channel"])
    group = ctx.group
    busy = np.asarray(group.nu_cmd_[:])[idx] > 0
    if busy.any():
        path = "task.command" if name == "task" else f"stim.{name}"
        raise ConfigError(path, "another cortical command already drives these neurons; "
                                "give each cortical command its own channel or population")
    for key, value in (("nu_cmd", params["rate"]), ("w_cmd", params["weight"]),
                       ("t_cmd_on", params["start"]), ("t_cmd_off", params["stop"])):
        values = np.asarray(getattr(group, f"{key}_")[:], dtype=float).copy()
        values[idx] = value
        setattr(group, f"{key}_", values)
