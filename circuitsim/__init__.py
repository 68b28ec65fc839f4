"""circuitsim: spiking cortex - basal ganglia - cerebellum - thalamus loops for dystonia research."""

from circuitsim._version import __version__  # noqa: E402,F401

from circuitsim.api import compose, simulate  # noqa: E402
from circuitsim.errors import CircuitsimError, ConfigError, ResultError  # noqa: E402
from circuitsim.io.results import Result, load_result  # noqa: E402


def collect(path, write: bool = True):
    """Every run at or below ``path`` as one pandas DataFrame (one row per run: status, seed, its
    parameters, every scalar metric); see :func:`circuitsim.io.collect.collect_frame`."""
    from circuitsim.io.collect import collect_frame

    return collect_frame(path, write=write)


__all__ = ["compose", "simulate", "collect", "load_result", "Result", "ConfigError", "ResultError", "CircuitsimError",
           "__version__"]
