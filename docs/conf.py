"""Sphinx configuration of circuitsim's documentation (``make docs``; strict build in tests/test_docs.py).

Sphinx with MyST-NB: pages are Markdown, the tutorial is a MyST notebook that is executed during the
build and rendered with its outputs, and autodoc + napoleon turn the NumPy-style docstrings into the
API reference. The config and metrics references are generated from the code at every build
(:func:`circuitsim.docs.write_generated`); a key without a description fails the build.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import circuitsim  # noqa: E402
from circuitsim.docs import write_generated  # noqa: E402

project = "circuitsim"
author = "circuitsim contributors"
copyright = "2026, circuitsim contributors (MIT licence)"
release = version = circuitsim.__version__

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
]
source_suffix = {".md": "myst-nb", ".ipynb": "myst-nb"}
exclude_patterns = ["_build", "_generated", "figures", "Thumbs.db", ".DS_Store", "**.ipynb_checkpoints"]
root_doc = "index"

# strict: every cross-reference must resolve (external types are not documented here)
nitpicky = True
nitpick_ignore_regex = [
    # type descriptions of NumPy-style docstrings ("array_like", "paths", "float, optional"...) and
    # everything outside circuitsim: only references to circuitsim itself must resolve
    (r"py:.*", r"(?!circuitsim\.).*"),
    # circuitsim internals that docstrings mention but the API reference does not document
    (r"py:.*", r"circuitsim\.(spec|device|units|circuit|io\.nwb|muscle|plots|app)(\..*)?"),
]

myst_enable_extensions = ["colon_fence", "deflist", "dollarmath"]
myst_heading_anchors = 3

# MyST-NB: execute the tutorial during the build (CIRCUITSIM_DOCS_EXECUTE=off skips it)
nb_execution_mode = os.environ.get("CIRCUITSIM_DOCS_EXECUTE", "auto")
nb_execution_timeout = 600
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_merge_streams = True

autodoc_member_order = "bysource"
autodoc_typehints = "none"
autodoc_default_options = {"members": True, "undoc-members": False, "show-inheritance": False}
napoleon_numpy_docstring = True
napoleon_google_docstring = False
napoleon_use_rtype = False

html_theme = "furo"
html_title = f"circuitsim {release}"
html_static_path: list[str] = []
suppress_warnings = ["mystnb.unknown_mime_type"]


#: pages other contributors add to docs/ (listed in the index when they exist)
OPTIONAL_PAGES = ("app", "data")


def _generate(app) -> None:
    out = HERE / "_generated"
    write_generated(out)
    pages = [name for name in OPTIONAL_PAGES if (HERE / f"{name}.md").is_file()]
    text = ("```{toctree}\n:maxdepth: 1\n:caption: More guides\n\n" + "\n".join(pages) + "\n```\n") if pages else ""
    path = out / "more_pages.md"
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def setup(app):
    app.connect("builder-inited", _generate)
