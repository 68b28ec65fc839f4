"""Shared helpers of the benchmark scripts (run them from the repository root)."""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import time
from typing import Any, Dict, Iterable, List, Sequence

import numpy as np


def machine() -> str:
    """One line about the machine and how loaded it is (the figures depend on it)."""
    load = os.getloadavg()
    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
            f"load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (1 / 5 / 15 min) at {time.strftime('%H:%M:%S')}")


def peak_rss_mb() -> Dict[str, float]:
    """Peak resident memory of this process and of its largest child so far (MB)."""
    return {"python_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
            "children_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0}


def synaptic_events(result, spec, layout, connections) -> int:
    """Spikes times the number of synapses they drive (every spike of neuron i costs out-degree(i))."""
    out_degree = np.zeros(layout.n, dtype=np.int64)
    for con in connections.values():
        out_degree += np.bincount(con.i, minlength=layout.n)
    total = 0
    for name, (i, _) in result.spikes.items():
        start, _ = layout.slices[name]
        total += int(out_degree[start + np.asarray(i, dtype=np.int64)].sum())
    return total


def run_json(args: Sequence[str], env: Dict[str, str] | None = None, timeout: float = 3600) -> Dict[str, Any]:
    """Run ``python <args>`` in a fresh process; its last stdout line is a JSON object."""
    proc = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})
    if proc.returncode:
        raise RuntimeError(f"{' '.join(args)} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def table(rows: Iterable[Dict[str, Any]], columns: List[str]) -> str:
    """A Markdown table of ``rows`` (dicts) with ``columns`` (keys, also the headers)."""
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        cells = []
        for c in columns:
            v = row.get(c, "")
            cells.append(f"{v:.3g}" if isinstance(v, float) else str(v))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def baseline_trees(tmp, rev: str, candidate: str | None = None) -> Dict[str, Dict[str, str]]:
    """Environments for the same interpreter importing circuitsim from git revision ``rev``
    (extracted under ``tmp/baseline``) and from this working tree, or from revision ``candidate``
    where given (other agents' edits in progress then stay out): {"baseline": env, "candidate": env}.

    Run the benchmark from outside the repository: from inside it Python imports the current tree
    ahead of ``PYTHONPATH``, which is checked here."""
    import tempfile
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    trees = {"candidate": dict(os.environ)}
    trees["candidate"].pop("PYTHONPATH", None)
    for name, r in (("baseline", rev), ("candidate", candidate)):
        if r is None:
            continue
        base = Path(tmp) / name
        base.mkdir()
        archive = subprocess.run(["git", "archive", r], cwd=root, check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(base)], input=archive, check=True)
        # the editable install maps circuitsim.configs to this checkout's configs/: the revision's own instead
        if (base / "configs").is_dir() and not (base / "circuitsim" / "configs").exists():
            (base / "circuitsim" / "configs").symlink_to(base / "configs", target_is_directory=True)
        trees[name] = {**os.environ, "PYTHONPATH": str(base)}
        where = subprocess.run([sys.executable, "-c", "import circuitsim, circuitsim.configs as c; "
                                "print(circuitsim.__file__, *c.__path__)"], env=trees[name],
                               cwd=tempfile.gettempdir(), capture_output=True, text=True, check=True).stdout.split()
        assert all(w.startswith(str(base)) for w in where), f"the {name} run would import {where}"   # (not this checkout's)
    return {"baseline": trees["baseline"], "candidate": trees["candidate"]}

