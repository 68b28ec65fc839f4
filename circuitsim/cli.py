"""Command-line entry point: ``circuitsim [overrides]`` (a Hydra app).

Every config value can be overridden, e.g.::

    circuitsim sim.duration=5s sim.seed=7 circuit.scale=2
    circuitsim circuit.pathways.stn_gpe.weight_scale=1.5
"""

from __future__ import annotations

import logging
import sys

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from circuitsim.api import simulate
from circuitsim.errors import CircuitsimError
from circuitsim.spec import register_configs

logger = logging.getLogger("circuitsim")

EXIT_CONFIG_ERROR = 2


@hydra.main(config_path="pkg://circuitsim.configs", config_name="config", version_base="1.3")
def _app(cfg: DictConfig) -> float:
    out_dir = HydraConfig.get().runtime.output_dir
    try:
        result = simulate(cfg, out_dir=out_dir)
    except CircuitsimError as err:
        logger.error("%s", err)
        sys.exit(EXIT_CONFIG_ERROR)
    pops = result.metrics["populations"]
    logger.info("mean rates (Hz): %s", ", ".join(f"{p} {m['rate_hz']:.1f}" for p, m in pops.items()))
    logger.info("run folder: %s (wall %.1f s)", out_dir, result.metrics["run"]["wall_s"])
    return float(result.metrics["run"]["wall_s"])


def main() -> None:
    """Console script ``circuitsim``."""
    register_configs()
    _app()


if __name__ == "__main__":
    main()
