"""circuitsim: spiking cortex - basal ganglia - cerebellum - thalamus loops for dystonia research."""

__version__ = "0.1.0"

from circuitsim.api import compose, simulate  # noqa: E402
from circuitsim.errors import CircuitsimError, ConfigError, ResultError  # noqa: E402
from circuitsim.io.results import Result, load_result  # noqa: E402

__all__ = ["compose", "simulate", "load_result", "Result", "ConfigError", "ResultError", "CircuitsimError",
           "__version__"]
