"""The package version (also in pyproject.toml); a module of its own so that any layer can read it
without importing the package root, which imports the API."""

__version__ = "0.1.0"
