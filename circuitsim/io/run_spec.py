"""A reopened run's typed spec: ``spec.json`` read back into the :class:`~circuitsim.spec.RunSpec`
that readouts and figures take (:func:`run_spec`), so a run folder is redrawn from what it ran,
not from its ``config.yaml`` validated again by today's code. Values as plain JSON:
:func:`circuitsim.io.results.spec_of`."""

from __future__ import annotations

import logging
from typing import Any, Mapping

from circuitsim.io.results import Result
from circuitsim.spec_types import MuscleSpec, Pathway, Population, ReadoutSpec, Receptor, RunSpec, SimSpec

logger = logging.getLogger(__name__)


def spec_from_dict(spec: Mapping[str, Any]) -> RunSpec:
    """The :class:`~circuitsim.spec.RunSpec` of a ``spec`` dict (the inverse of
    :func:`circuitsim.io.specfile.spec_to_dict`: the tuples of the typed sections restored). ``stimuli`` and ``task`` stay plain JSON, as a stimulus's
    validator returned them but with lists for tuples. Raises KeyError or TypeError for a dict that
    is not a whole spec of this version (a section missing, a field unknown)."""
    readout = dict(spec["readout"])
    muscle = dict(readout.pop("muscle"))
    muscle["muscles"] = tuple(muscle["muscles"])
    readout.update(plots=tuple(readout["plots"]), muscle=MuscleSpec(**muscle),
                   coherence_pairs=tuple(tuple(pair) for pair in readout["coherence_pairs"]))
    return RunSpec(channels=tuple(spec["channels"]), scale=spec["scale"],
                   receptors={k: Receptor(**v) for k, v in spec["receptors"].items()},
                   populations={k: Population(**v) for k, v in spec["populations"].items()},
                   pathways={k: Pathway(**{**v, "channel_scale": tuple(v["channel_scale"])})
                             for k, v in spec["pathways"].items()},
                   sim=SimSpec(**spec["sim"]), readout=ReadoutSpec(**readout),
                   stimuli=dict(spec.get("stimuli") or {}), task=spec.get("task"))


def run_spec(result: Result) -> RunSpec:
    """The run's validated :class:`~circuitsim.spec.RunSpec` (what the readouts and plots take):
    read from ``spec.json`` (:func:`spec_from_dict`) where the run has it,
    else validated again from its ``config.yaml`` (a folder from before ``spec.json``). Raises
    :class:`circuitsim.errors.ConfigError` (or the spec's own error) when neither gives one."""
    if result.spec:
        try:
            return spec_from_dict(result.spec)
        except (KeyError, TypeError) as err:   # a spec.json of another version: its config, validated
            logger.warning("%s: spec.json does not match this version's spec (%s); validating config.yaml",
                           result.folder, err)
    from circuitsim.spec import build_spec

    return build_spec(result.config)
