"""``spec.json``: the validated :class:`~circuitsim.spec.RunSpec` of a run, in SI units.

``config.yaml`` keeps what the user asked for (unit strings such as ``"1.5*nS"``, scale factors,
modulator levels); ``spec.json`` keeps what the simulator ran: every value after validation,
defaults filled in, scale factors and modulators applied, in SI units (seconds, volts, siemens,
amperes, hertz). A consumer reads numbers from it instead of parsing unit strings again::

    result = load_result(folder)
    result.spec["pathways"]["gpi_thal"]["weight"]     # S, after side/weight scales and modulators
    result.spec["sim"]["transient"]                     # s

Layout: ``{"units": "SI", "run_id": ..., "spec": {...}}``, where ``spec`` mirrors the
dataclasses of :mod:`circuitsim.spec` (``populations``, ``pathways``, ``receptors``, ``sim``,
``readout``, ``stimuli``, ``task``, ``channels``, ``scale``) as plain JSON. :func:`circuitsim.io.run_spec.spec_from_dict`
turns it back into the :class:`~circuitsim.spec.RunSpec` that readouts and plots take, so a reopened
run is redrawn from what it ran, not from its config validated again.
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any, Dict

SPEC = "spec.json"


def plain(obj: Any) -> Any:
    """A JSON-safe copy of a spec value: dataclasses and mappings as dicts, tuples as lists,
    NumPy scalars and arrays as numbers and lists; non-finite floats as None."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict) or hasattr(obj, "items"):
        return {str(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [plain(v) for v in obj]
    if hasattr(obj, "tolist"):        # numpy scalar or array
        return plain(obj.tolist())
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if obj is None or isinstance(obj, (bool, int, str)):
        return obj
    return str(obj)


def spec_to_dict(spec: Any) -> Dict[str, Any]:
    """The validated spec as a JSON-safe dict (SI units)."""
    return plain(spec)


def dumps(spec: Dict[str, Any], run_id: str) -> str:
    return json.dumps({"units": "SI", "run_id": run_id, "spec": spec}, indent=1, allow_nan=False)
