"""Exceptions raised by circuitsim, each naming what is wrong and where."""

import re
from typing import Dict, Tuple

#: folders of configs/ that are not a run's config group (they hold files that other commands
#: read), with what to do instead; kept out of ``circuitsim --help``
NOT_RUN_GROUPS = {"cohort": "a cohort is not a simulation override; run one with "
                            "python experiments/virtual_patients/run.py --cohort <name>"}


class CircuitsimError(Exception):
    """Base class of circuitsim's own errors."""


class ConfigError(CircuitsimError, ValueError):
    """A config value is invalid. ``path`` is its dotted config path."""

    def __init__(self, path: str, message: str):
        self.path = path
        self.message = message
        super().__init__(f"{path}: {message}")


def did_you_mean(key: object, known) -> str:
    """``"did you mean 'weight'?"`` for the valid name nearest to ``key`` (difflib), else the list of
    valid names; used by every "unknown key" message."""
    import difflib

    known = [str(k) for k in known]
    close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
    if close:
        return f"did you mean {close[0]!r}?"
    if known:
        return f"valid names here: {', '.join(known)}"
    return "nothing is defined here yet (select a preset first, e.g. stim=dbs_gpi)"


def unknown_key(path: str, key: object, known) -> ConfigError:
    """The error for a key that no schema knows: ``"<path>: unknown key; did you mean 'x'?"``."""
    return ConfigError(path, f"unknown key; {did_you_mean(key, known)}")


class ResultError(CircuitsimError):
    """A result folder is missing, incomplete or corrupt."""


class ResultExistsError(ResultError, FileExistsError):
    """A finished result would be overwritten."""


class ResultBusyError(ResultError):
    """Another process is writing into a run folder (one writer per folder)."""


class StorageError(CircuitsimError, OSError):
    """Writing a file failed (disk full, no permission, I/O error); names the path and what was written."""

    def __init__(self, path, what: str, err: OSError):
        self.path = str(path)
        self.what = what
        reason = err.strerror or str(err) or type(err).__name__
        CircuitsimError.__init__(self, f"could not write {what} to {path}: {reason}")
        self.errno = err.errno

    def __str__(self) -> str:
        return self.args[0]


class RunTimeoutError(CircuitsimError):
    """A run went past its wall-clock limit (``sim.max_wall_time``) and was stopped."""


def _one_line(text: str) -> str:
    """The first paragraph of a (Hydra/OmegaConf) message on one line, without its indented details."""
    lines = []
    for line in str(text).splitlines():
        if not line.strip():
            if lines:
                break
            continue
        if line.startswith((" ", "\t")) and lines:   # OmegaConf's "    full_key: ..." details
            continue
        lines.append(line.strip())
    return " ".join(lines)


#: keys a config may add to a schema node with a plus (node path -> keys); filled by the config
#: layer (:data:`circuitsim.spec.OPTIONAL_KEYS` is this mapping), read here to name them in messages
OPTIONAL_KEYS: Dict[str, Tuple[str, ...]] = {}


def _chain(exc: BaseException):
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def config_error_from(exc: BaseException):
    """A one-line :class:`ConfigError` for an error raised while a config is composed or read,
    naming the field (or the file and line); None for any other error (a bug keeps its traceback).

    Handles YAML syntax errors in config files (``--config-dir`` folders included: file, line,
    column), Hydra's override and composition errors, OmegaConf's type and key errors (the key's
    full path; an unknown key with the nearest valid name), numbers too large for a float, and
    running out of memory.
    """
    chain = list(_chain(exc))
    for err in chain:
        if isinstance(err, ConfigError):
            return err
    try:
        import yaml

        for err in chain:
            if isinstance(err, yaml.MarkedYAMLError):
                mark = err.problem_mark or err.context_mark
                where = f"{mark.name}:{mark.line + 1}:{mark.column + 1}" if mark is not None else "config file"
                what = " ".join(x for x in (err.problem, f"({err.context})" if err.context else None) if x)
                return ConfigError(where, f"invalid YAML: {what or _one_line(str(err))}")
            if isinstance(err, yaml.YAMLError):
                return ConfigError("config file", f"invalid YAML: {_one_line(str(err))}")
    except ImportError:   # pragma: no cover - yaml comes with omegaconf
        pass
    for err in chain:
        if isinstance(err, MemoryError):
            return ConfigError("memory", "the run ran out of memory; use a smaller circuit.scale or a shorter "
                                         "sim.duration (the memory check is skipped with +sim.allow_large=true)")
    try:
        from omegaconf.errors import ConfigAttributeError, ConfigKeyError, OmegaConfBaseException
    except ImportError:   # pragma: no cover
        return None
    hydra_error = next((e for e in chain if type(e).__module__.startswith("hydra")), None)
    # the key of the override Hydra was applying: OmegaConf names only the last part of a key added
    # with + (e.g. 'ampax' for +circuit.receptors.ampax=0)
    applied = re.search(r"(?:Error merging override|Could not override) '?[+~]*([^=' ]+)", str(hydra_error or ""))
    for err in chain:
        full_key = getattr(err, "full_key", None)
        if full_key and applied and applied.group(1).endswith(f".{full_key}"):
            full_key = applied.group(1)
        if isinstance(err, (ConfigAttributeError, ConfigKeyError)) and full_key:
            parent_path, _, key = str(full_key).rpartition(".")
            if key in OPTIONAL_KEYS.get(parent_path, ()):
                return ConfigError(str(full_key), f"an optional key, added with a plus: +{full_key}=...")
            parent = getattr(err, "parent_node", None)
            known = list(parent.keys()) if hasattr(parent, "keys") else []
            return unknown_key(str(full_key), key, known)
        if isinstance(err, OmegaConfBaseException) and full_key:
            return ConfigError(str(full_key), _one_line(getattr(err, "msg", None) or str(err)))
    for err in chain:
        if isinstance(err, (OverflowError, ValueError)) and "full_key:" in str(err):
            key = str(err).split("full_key:", 1)[1].split()[0]
            return ConfigError(key, f"{_one_line(str(err))}; give a smaller number")
    if hydra_error is not None:
        text = str(hydra_error)
        if "Available options" in text:   # MissingConfigException: name the group and list its options
            head, _, rest = text.partition("Available options")
            options = [line.strip() for line in rest.splitlines()[1:] if line.startswith("\t")
                       and "provider=" not in line]
            group = re.search(r"Could not find '([^'/]+)/", head)
            return ConfigError(group.group(1) if group else "config",
                               f"{_one_line(head)}; available: {', '.join(options)}")
        quoted = re.search(r"'[+~]*([A-Za-z_][\w.]*)'", text)   # the key Hydra names, if any
        if quoted and quoted.group(1) in NOT_RUN_GROUPS:
            return ConfigError(quoted.group(1), NOT_RUN_GROUPS[quoted.group(1)])
        kind = "override" if "override" in type(hydra_error).__name__.lower() else "config"
        return ConfigError(quoted.group(1) if quoted else kind, _one_line(text))
    for err in chain:
        if isinstance(err, OmegaConfBaseException):
            return ConfigError("config", _one_line(str(err)))
        if isinstance(err, OverflowError):
            return ConfigError("config", f"a number is too large ({err}); give a smaller value")
    if _raised_in_hydra(exc):   # e.g. '=0' or '+=' trip an assertion in Hydra's defaults list
        return ConfigError("override", f"Hydra cannot apply these overrides ({type(exc).__name__}"
                                       f"{': ' + _one_line(str(exc)) if str(exc) else ''}); check their syntax: key=value")
    return None


def _raised_in_hydra(exc: BaseException) -> bool:
    """Whether the innermost frame of ``exc`` lies in Hydra's own composition code."""
    import os

    tb = exc.__traceback__
    if tb is None:
        return False
    while tb.tb_next is not None:
        tb = tb.tb_next
    path = tb.tb_frame.f_code.co_filename.replace(os.sep, "/")
    return "/hydra/_internal/" in path or "/hydra/core/" in path
