"""Stimuli: each kind is a build function registered in :mod:`circuitsim.circuit.registry`."""

from circuitsim.stimulation import command  # noqa: F401  (registers "cortical_command")
