"""The validation helpers of :mod:`circuitsim.spec`: reading a config node with the schema's
defaults, one-line errors naming the field, and the simulator's limits (bounds of the simulator
and of the machine, not of biology). Stimulus validators use the public names (``require``,
``check_choice``, ``nonneg``) through :mod:`circuitsim.spec`, which re-exports them."""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping, Tuple

from omegaconf import DictConfig, ListConfig, OmegaConf

from circuitsim.errors import ConfigError, config_error_from


def _plain(node: Any) -> Any:
    if isinstance(node, (DictConfig, ListConfig)):
        try:
            return OmegaConf.to_container(node, resolve=True)
        except Exception as err:   # an interpolation that cannot be resolved, ...: name the key
            converted = config_error_from(err)
            if converted is None:
                raise
            raise converted from None
    return node


def _get(node: Mapping[str, Any], schema: type, key: str) -> Any:
    """``node[key]``, or the schema's default for it: the ``*Conf`` dataclasses are the one source
    of defaults, for composed configs and for plain dicts that leave a key out alike."""
    if key in node:
        return node[key]
    fld = next(f for f in dataclasses.fields(schema) if f.name == key)
    if fld.default is not dataclasses.MISSING:
        return fld.default
    return fld.default_factory()


def _require(cond: bool, path: str, message: str) -> None:
    if not cond:
        raise ConfigError(path, message)


def _check_choice(value: Any, allowed: Tuple[str, ...], path: str) -> str:
    _require(value in allowed, path, f"{value!r} is not allowed; choose one of {', '.join(allowed)}")
    return value


def _nonneg(value: float, path: str, what: str = "value") -> float:
    _require(value >= 0, path, f"a {what} cannot be negative (got {value})")
    return value


# public names for the validators of stimulus kinds (circuitsim.stimulation)
require = _require
check_choice = _check_choice
nonneg = _nonneg


# ------------------------------------------------------------------------ limits
# Upper bounds that build_spec checks before anything is built (issue 21). They are bounds of
# the simulator and of the machine, not of biology; each message names the field and the fix.

#: neurons of one run (populations' n times circuit.scale, summed): Brian2 indexes neurons and
#: synapses with 32-bit integers
MAX_NEURONS = 2**31 - 1
#: time steps of one run (sim.duration / sim.dt): 2**31 - 1 steps are 59.7 hours of biological
#: time at dt = 0.1 ms (the longest preset, stim=rtms_1hz, is 918 s); step counts stay 32-bit
MAX_STEPS = 2**31 - 1
#: mean Poisson count per neuron and time step (rate * sim.dt) of the background input
#: (circuit.populations.*.background.rate, after the modulators) and of a motor command's rate.
#: The count is drawn by inversion in chunks of mean 8 (circuitsim.circuit.models), so the draw's
#: cost grows with the rate: 1e12 Hz would keep it busy for hours per step. 8 per step is 80 kHz
#: at dt = 0.1 ms; the presets use at most 2 kHz. Above it the input is a near-constant current:
#: use params.I_bias instead.
MAX_POISSON_PER_STEP = 8.0
#: effective conductance of one synapse, after weight_scale and modulators (background and
#: commands included): forward Euler keeps the membrane stable only while g * dt / C stays well
#: below 1 (C = 10-200 pF, dt = 0.1 ms: 0.1-2 uS in all); the presets' largest weight is 10 nS
#: (climbing fibres), 100 times below this bound
MAX_WEIGHT = 1e-6   # S
#: sim.threads: at most the machine's logical CPUs (os.cpu_count()); more only slow OpenMP down

#: the optional key that lets a run past the memory check (command line: +sim.allow_large=true)
ALLOW_LARGE = "allow_large"


def _allow_large(sc: Mapping[str, Any]) -> bool:
    """``+sim.allow_large=true``: run past the memory check (optional key, false when absent)."""
    value = sc.get(ALLOW_LARGE, False)
    _require(isinstance(value, bool), f"sim.{ALLOW_LARGE}", f"must be true or false (got {value!r})")
    return value
