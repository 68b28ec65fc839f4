"""The package version (also in pyproject.toml) and a digest of the package's source; a module of
its own so that any layer can read them without importing the package root, which imports the API."""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

__version__ = "0.1.0"


@functools.lru_cache(maxsize=None)
def source_digest() -> str:
    """A short digest (16 hex digits) of every ``.py`` file of the installed ``circuitsim`` package,
    by path and content. Each run records it (``metrics.json``: ``run.versions.source``), and a
    finished run is resumed only by the same source: the version number does not change with every
    commit, while a change of any default, equation or measure can change what a run computes."""
    return tree_digest(Path(__file__).resolve().parent)


def tree_digest(root: Path) -> str:
    """The digest of the ``.py`` files under ``root`` (their paths relative to it and contents)."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()[:16]
