"""Command-line entry point: ``circuitsim [overrides]`` (a Hydra app).

Every config value can be overridden, e.g.::

    circuitsim sim.duration=5s sim.seed=7 circuit.scale=2
    circuitsim circuit.pathways.stn_gpe.weight_scale=1.5

Sweeps are Hydra multiruns (``circuitsim -m ...``, see the README). Two keys control a run
without being part of its config: ``+resume=false`` (or ``CIRCUITSIM_RESUME=0``) recomputes a
run whose folder already holds a finished result; by default such a run is skipped when its
stored config (seed included) equals the requested one. ``+fit=<targets>`` picks the targets of
``hydra/sweeper=fit`` (see :mod:`circuitsim.fit`).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any, List

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf, open_dict

from circuitsim import listing  # noqa: F401  (registers the resolver of `circuitsim --help`)
from circuitsim.api import simulate
from circuitsim.errors import CircuitsimError, config_error_from
from circuitsim.spec import register_configs

logger = logging.getLogger("circuitsim")

EXIT_CONFIG_ERROR = 2
RESUME_ENV = "CIRCUITSIM_RESUME"
#: top-level keys that steer the command and are not part of the run's config
CONTROL_KEYS = ("resume", "fit")


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() not in ("0", "false", "no", "off", "")
    return bool(value)


def resume_enabled(cfg: DictConfig) -> bool:
    """``+resume=...`` if given, else ``$CIRCUITSIM_RESUME``, else on."""
    if cfg.get("resume") is not None:
        return _truthy(cfg.get("resume"))
    env = os.environ.get(RESUME_ENV)
    return True if env is None else _truthy(env)


def _run_config(cfg: DictConfig) -> DictConfig:
    """The config without the control keys (what the run folder's config.yaml holds)."""
    cfg = cfg.copy()
    with open_dict(cfg):
        for key in CONTROL_KEYS:
            cfg.pop(key, None)
    return cfg


def _plain(cfg: DictConfig) -> dict:
    plain = OmegaConf.to_container(cfg, resolve=True)
    plain.pop("hydra", None)
    return json.loads(json.dumps(plain))


def _stored_run(out_dir: Path, cfg: DictConfig) -> tuple:
    """The metrics of the finished run in ``out_dir`` if it resumes for this config (same config, same
    circuitsim source), else None; and why not."""
    from circuitsim.io import results as rio

    return rio.stored_run(out_dir, _plain(cfg))


def _fit_active(hc: Any) -> bool:
    return "optuna" in str(hc.sweeper.get("_target_", "")).lower()


def _figures_in_background(hc: Any) -> None:
    """A run's figures are drawn by a forked child (circuitsim.plots.background), so that no run
    waits for its figures: in a multirun the next point starts at once and the process waits for
    the figures before it exits; a single run returns when ``metrics.json`` is written, and its
    child saves the figures a moment later (holding the folder's writer lock until then). Not in
    a Slurm job: the scheduler ends every process of a job step when its main process exits."""
    from hydra.types import RunMode

    from circuitsim.plots import background

    background.enable(detach=hc.mode != RunMode.MULTIRUN and not os.environ.get("SLURM_JOB_ID"))


def _log_background_figures() -> None:
    from circuitsim.plots import background

    if background.detached() and background.pending():
        logger.info("figures: drawn in the background by process %d; they appear in the run folder within "
                    "seconds", background.pending()[-1])


def _log_scheduler_job() -> None:
    job = os.environ.get("SLURM_JOB_ID")
    if job:
        array, task = os.environ.get("SLURM_ARRAY_JOB_ID"), os.environ.get("SLURM_ARRAY_TASK_ID")
        logger.info("slurm job %s", f"{array}_{task}" if array and task else job)


@hydra.main(config_path="pkg://circuitsim.configs", config_name="config", version_base="1.3")
def _app(cfg: DictConfig) -> float:
    hc = HydraConfig.get()
    out_dir = Path(hc.runtime.output_dir)
    fit = _fit_active(hc)
    resume = resume_enabled(cfg)
    run_cfg = _run_config(cfg)
    _log_scheduler_job()
    _figures_in_background(hc)
    try:
        if fit:
            from circuitsim import fit as fitting

            targets = fitting.targets_from_config(cfg)
            penalty = fitting.penalty_from_config(cfg)
        from circuitsim.io.results import is_complete

        metrics = None
        if is_complete(out_dir) and resume:
            metrics, why = _stored_run(out_dir, run_cfg)
            if metrics is None:
                logger.error("%s already holds a finished run that does not resume: %s; choose another "
                             "output folder, or recompute it with +resume=false (or %s=0)", out_dir, why, RESUME_ENV)
                sys.exit(EXIT_CONFIG_ERROR)
            logger.info("resume: %s already holds this run (same config, seed %s); skipped "
                        "(+resume=false or %s=0 recomputes it)", out_dir, metrics["run"].get("seed"), RESUME_ENV)
        else:
            result = simulate(run_cfg, out_dir=out_dir, overwrite=not resume)
            metrics = result.metrics
            pops = metrics["populations"]
            logger.info("mean rates (Hz): %s", ", ".join(f"{p} {m['rate_hz']:.1f}" for p, m in pops.items()))
            logger.info("run folder: %s (wall %.1f s)", out_dir, metrics["run"]["wall_s"])
            _log_background_figures()
    except CircuitsimError as err:
        logger.error("%s", err)
        sys.exit(EXIT_CONFIG_ERROR)
    except MemoryError:
        logger.error("%s", config_error_from(MemoryError()))
        sys.exit(EXIT_CONFIG_ERROR)
    except Exception as err:
        # into the job's log file too, where circuitsim-collect finds it
        logger.exception("run failed: %s: %s", type(err).__name__, err)
        raise
    if fit:
        value, terms = fitting.loss(metrics, targets, penalty)
        fitting.write_loss(out_dir, value, terms)
        logger.info("fit loss %.6g", value)
        return value
    return float(metrics["run"]["wall_s"])


EXIT_SIGINT, EXIT_SIGTERM = 130, 143   # 128 + the signal's number, as shells report them


class Stopped(BaseException):
    """SIGTERM as an exception (not an Exception: only cleanup code catches it), so that the run's
    ``finally`` blocks stop the compiled program and remove its working folder."""


def _raise_stopped(signum: int, frame: Any) -> None:
    raise Stopped(signum)


def _report_stop(name: str) -> None:
    message = f"stopped by {name}; the run folder holds no finished result"
    if logging.getLogger().handlers:
        logger.error(message)
    else:
        print(f"circuitsim: {message}", file=sys.stderr)


HYDRA_FULL_ERROR = "HYDRA_FULL_ERROR"
#: command-line flags that print the help template or the Hydra config (which holds it)
_HELP_FLAGS = ("--help", "-h", "--hydra-help", "--cfg", "-c", "--info", "-i", "--resolve")


def _groups_help_when_shown() -> str:
    """The ``circuitsim_groups`` resolver of the help template for this command: Hydra resolves
    the template while composing every run (twice: once for the mode, once for the job), and
    listing the groups reads every option's YAML file (about 0.2 s each time); only a command
    that prints the help or the Hydra config needs the list."""
    from circuitsim import listing

    if any(arg in _HELP_FLAGS or arg.split("=")[0] in _HELP_FLAGS for arg in sys.argv[1:]):
        return listing.groups_help()
    return "  (circuitsim --help lists them)"


def _skip_mode_probe(args: List[str]) -> bool:
    """Hydra composes the whole config once only to read ``hydra.mode`` (RUN or MULTIRUN), then
    again for the run (about 0.5 s each). No circuitsim config sets ``hydra.mode``, so for a
    command without ``-m``/``--multirun`` and without a ``hydra.mode`` override the probe's answer
    is known, None (a single run), and it is skipped; True where it was."""
    if any(a in ("-m", "--multirun") or a.lstrip("+~").startswith("hydra.mode") for a in args):
        return False
    from hydra._internal.hydra import Hydra

    Hydra.get_mode = lambda self, config_name, overrides: None
    return True


def _report_config_error(err: Exception) -> None:
    """One line for a bad input found before the run started (no traceback)."""
    if logging.getLogger().handlers:
        logger.error("%s", err)
    else:
        print(f"circuitsim: {err}", file=sys.stderr)


def main() -> None:
    """Console script ``circuitsim``. SIGINT (Ctrl-C) and SIGTERM stop a run cleanly: the compiled
    program is killed, one line is printed, the exit code is 130 or 143."""
    register_configs()
    OmegaConf.register_new_resolver("circuitsim_groups", _groups_help_when_shown, replace=True, use_cache=False)
    signal.signal(signal.SIGTERM, _raise_stopped)
    # let Hydra's composition errors (unknown keys, YAML syntax in a --config-dir folder, wrong types)
    # reach the handler below instead of its multi-line report (set it yourself for a full traceback)
    full_error = os.environ.get(HYDRA_FULL_ERROR) == "1"
    os.environ[HYDRA_FULL_ERROR] = "1"
    _skip_mode_probe(sys.argv[1:])
    try:
        _app()
    except Exception as err:
        converted = None if full_error else config_error_from(err)
        if converted is None:
            raise
        _report_config_error(converted)
        sys.exit(EXIT_CONFIG_ERROR)
    except KeyboardInterrupt:
        _report_stop("SIGINT")
        sys.exit(EXIT_SIGINT)
    except Stopped:
        _report_stop("SIGTERM")
        sys.exit(EXIT_SIGTERM)


if __name__ == "__main__":
    main()
