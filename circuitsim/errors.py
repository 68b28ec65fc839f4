"""Exceptions raised by circuitsim, each naming what is wrong and where."""


class CircuitsimError(Exception):
    """Base class of circuitsim's own errors."""


class ConfigError(CircuitsimError, ValueError):
    """A config value is invalid. ``path`` is its dotted config path."""

    def __init__(self, path: str, message: str):
        self.path = path
        self.message = message
        super().__init__(f"{path}: {message}")


class ResultError(CircuitsimError):
    """A result folder is missing, incomplete or corrupt."""


class ResultExistsError(ResultError, FileExistsError):
    """A finished result would be overwritten."""
