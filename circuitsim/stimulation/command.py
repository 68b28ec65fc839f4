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

from circuitsim.circuit.models import STREAM_COMMAND
from circuitsim.circuit.registry import BuildContext
from circuitsim.errors import ConfigError
from circuitsim.plugins import NeuronCode, register
from circuitsim.schema import CommandConf
from circuitsim.spec import StimulusContext, check_population, check_stimulus_keys, nonneg, require
from circuitsim.units import to_si

#: The command's mean count per step: zero outside ``t_cmd_on <= t < t_cmd_off`` (count 0, no draw needed).
_MEAN = "nu_cmd*dt*int(t >= t_cmd_on)*int(t < t_cmd_off)"

#: What the command adds to every neuron where a config holds one: its per-neuron slot (rate,
#: weight, window: data, so a sweep over them reuses the compiled program and a batched sweep can
#: hold commands) and its own Poisson stream, drawn and settled beside the background's and added
#: to AMPA (circuitsim.circuit.models.noise_code).
NEURON_CODE = NeuronCode(
    variables="nu_cmd : hertz\nw_cmd : siemens\nt_cmd_on : second\nt_cmd_off : second\nk_cmd : 1",
    data=("nu_cmd", "w_cmd", "t_cmd_on", "t_cmd_off"),
    draw=f"k_cmd = cs_count01({_MEAN}, cs_uniform(rng_seed, {STREAM_COMMAND}, rng_index, t_in_timesteps))",
    fix=f"k_cmd = cs_poisson_fix(k_cmd, {_MEAN}, rng_seed, {STREAM_COMMAND}, rng_index, t_in_timesteps)",
    inputs="g_ampa += w_cmd*k_cmd")


def command_structure(spec: Any, params: Mapping[str, Any]) -> Dict[str, Any]:
    """Nothing of a command shapes the generated code (all its parameters are per-neuron data)."""
    return {}


#: the kind's config schema (defaults: population ctx_e, weight 0.5 nS), neuron code and structure;
#: batchable: every parameter is data
register("cortical_command", batchable=True, schema=CommandConf, neuron=NEURON_CODE, structure=command_structure)
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
