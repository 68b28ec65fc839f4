"""Stimuli: each kind registers its validator, build function, measure and plot
(see :mod:`circuitsim.circuit.registry`)."""

from circuitsim.stimulation import command  # noqa: F401  (registers "cortical_command")
from circuitsim.stimulation import dbs  # noqa: F401  (registers "dbs")
from circuitsim.stimulation import tms  # noqa: F401  (registers "tms")
from circuitsim.stimulation import pulse_tables  # noqa: F401  (registers the "pulses" role of dbs and tms)
