"""A motor command: extra Poisson excitation to one channel of a population for a while.

Stands for the cortical command to turn the head to one side (the input the basal ganglia
select on). Parameters (validated in :mod:`circuitsim.spec`): ``population``, ``channel``
(index), ``start``, ``stop`` (s), ``rate`` (Hz, summed Poisson input per neuron) and
``weight`` (S, AMPA).
"""

from __future__ import annotations

from typing import Any, Mapping

from brian2 import Hz, second, siemens

from circuitsim.circuit.registry import BuildContext, register_stimulus


@register_stimulus("cortical_command")
def build_cortical_command(ctx: BuildContext, name: str, params: Mapping[str, Any]) -> None:
    idx = ctx.layout.indices(params["population"], params["channel"])
    target = ctx.group[int(idx[0]):int(idx[-1]) + 1]
    prefix = f"cmd_{name}"
    ctx.namespace.update({f"{prefix}_start": params["start"] * second, f"{prefix}_stop": params["stop"] * second,
                          f"{prefix}_rate": params["rate"] * Hz, f"{prefix}_weight": params["weight"] * siemens})
    target.run_regularly(
        f"g_ampa += {prefix}_weight*poisson({prefix}_rate*dt)*int(t >= {prefix}_start)*int(t < {prefix}_stop)",
        when="before_groups", name=f"{prefix}_input")
    # run_regularly on a subgroup registers the operation with the subgroup's source; it is
    # part of the group's contained objects, so nothing more to add to the network.
