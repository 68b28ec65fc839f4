"""Spike trains identical to the stored references (issue 19: a refactoring keeps behaviour).

``tests/data/reference_spikes/make_references.py --check`` reruns four short runs (the default
circuit, a condition, a DBS preset, a TMS preset; 300 ms at scale 1) in a child process with the
CPU-dependent maths held to what every x86-64 CPU runs, and compares every spike (neuron and time
step) with the stored ones. A change meant to alter behaviour regenerates them
(docs/contributing.md, "Spike-train references").
"""

from __future__ import annotations

import json
import platform
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent / "data" / "reference_spikes" / "make_references.py"


@pytest.mark.slow
@pytest.mark.timeout(1800)
@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="references made on x86-64")
def test_spike_trains_are_identical_to_the_stored_references(tmp_path):
    report_file = tmp_path / "report.json"
    proc = subprocess.run([sys.executable, str(SCRIPT), "--check", "--report", str(report_file)],
                          capture_output=True, text=True)
    assert report_file.is_file(), f"the check did not run:\n{proc.stderr[-3000:]}"
    report = json.loads(report_file.read_text())
    toolchain = report["fingerprint_differs"]
    if toolchain:   # another compiler or library: still compared, but say so
        warnings.warn(f"reference spikes made with another toolchain: {toolchain}")
    differing = {case: diffs for case, diffs in report["cases"].items() if diffs}
    assert not differing, (
        f"spike trains differ from the stored references: {json.dumps(differing, indent=1)}\n"
        f"toolchain differences (stored, here): {toolchain or 'none'}; CPU: {report['cpu']}\n"
        "A change meant to alter behaviour regenerates them: python tests/data/reference_spikes/make_references.py "
        "--write (docs/contributing.md)")
    assert set(report["cases"]) == {"default", "condition", "dbs", "tms"}


def test_the_reference_build_is_portable():
    """The references' program is compiled for the generic x86-64 target, not the CPU it runs on."""
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        import make_references as refs
    finally:
        sys.path.remove(str(SCRIPT.parent))
    flags = refs.portable_flags(["-w", "-O3", "-ffast-math", "-march=native", "-std=c++11"])
    assert "-march=native" not in flags and "-march=x86-64" in flags and "-O3" in flags
    stored = json.loads((SCRIPT.parent / "fingerprint.json").read_text())
    assert "-march=native" not in stored["fingerprint"]["flags"]
    from circuitsim.schema import compose
    from circuitsim.spec import build_spec

    for case in refs.CASES:
        assert (SCRIPT.parent / f"{case}.npz").stat().st_size < 200_000, case   # compact
        assert stored["cases"][case]["overrides"] == refs.COMMON + refs.CASES[case], case
        spec = build_spec(compose(refs.COMMON + refs.CASES[case]))   # the cases still validate (fast)
        assert spec.sim.dt == stored["cases"][case]["dt"] and spec.sim.device == "cpp_standalone", case
