"""Every use of Brian2's *internals* by the standalone device, in one place.

:mod:`circuitsim.device` compiles a network once per structure and then runs the program with
other data. Brian2 has no public API for that, so this module reads and edits the standalone
device's private state:

* ``device.main_queue``: the queued initialisation (its shape is part of the build key), and the
  generated ``main()`` lines of a network's run, whose duration is replaced by a run-time value;
* ``device.insert_code("main", ...)``: the seed and duration read from environment variables;
* ``device.static_arrays`` and ``device._insert_func_namespace``: the data arrays the program
  loads at start-up, including the tables Brian2 adds for functions at build time;
* ``results_dir``, ``has_been_run`` and ``array_cache`` of the active device: reading a run's
  results from its own folder, and ``Group._network`` to mark objects as run;
* ``device.build(compile=False)``, ``device.code_objects`` and ``device.compile_source``: the
  generated sources are edited before ``make`` (:func:`build_program`), and the build's copy of
  Brian2's spike queue (``brianlib/spikequeue.h``) is replaced by circuitsim's
  (:mod:`circuitsim.spike_queue`, which keeps its interface); in a circuit with the population
  table, ``main.cpp``'s network schedule and the per-neuron loops are rewritten to run block by
  block (:mod:`circuitsim.blocked_step`).

All of it was written for, and tested with, Brian2 :data:`WRITTEN_FOR`.
``tests/test_brian_adapter.py`` fails with a clear message on any other version, and the first
use in a process logs one warning. Before moving circuitsim to another Brian2, check each function
here against that version's ``brian2/devices/cpp_standalone/device.py`` (the test suite's
standalone tests exercise all of them).
"""

from __future__ import annotations

import logging
import os
import re
from typing import Any, Callable, Dict, Optional

import numpy as np

import brian2
from brian2 import device
from brian2.devices.device import all_devices, get_device

from circuitsim import blocked_step, spike_queue

logger = logging.getLogger("circuitsim.device")

#: The Brian2 release this module was written for (pyproject pins the same).
WRITTEN_FOR = "2.9.0"

_WARNED = False


def version_problem(version: Optional[str] = None) -> Optional[str]:
    """None for the Brian2 this module was written for, else a sentence saying what to check."""
    version = brian2.__version__ if version is None else version
    if version == WRITTEN_FOR:
        return None
    return (f"circuitsim.brian_adapter was written for Brian2 {WRITTEN_FOR} and Brian2 {version} is installed: "
            f"it uses the standalone device's internals (main_queue, static_arrays, _insert_func_namespace, "
            f"array_cache, the generated run line of main()); check them against Brian2 {version}, then set "
            f"WRITTEN_FOR, or install brian2=={WRITTEN_FOR}")


def _check_once() -> None:
    global _WARNED
    if not _WARNED:
        _WARNED = True
        problem = version_problem()
        if problem:
            logger.warning("%s", problem)


# Brian2's generator is seeded from the environment (for stimuli that draw with rand()/randn();
# the circuit's own noise uses circuitsim.circuit.models.cs_poisson, whose seed is data).
_SEED_CODE = """
{{
    const char* _cs_seed = std::getenv("{env}");
    const unsigned long _cs_s = _cs_seed ? std::strtoul(_cs_seed, nullptr, 10) : 0UL;
    for (int _i = 0; _i < {threads}; _i++)
        brian::_random_generators[_i].seed(_cs_s + _i);
}}
"""
# The simulated duration is read from the environment, so it is not compiled in.
_DURATION_CODE = """const double _cs_duration = std::getenv("{env}") ? std::strtod(std::getenv("{env}"), nullptr) : {default!r};"""
_RUN_LINE = re.compile(r"^(\s*\w+\.run\()([^,]+)(,.*)$")


def insert_run_time_values(seed_env: str, duration_env: str, threads: int, default_duration: float) -> None:
    """Make the program seed Brian2's generators from ``$seed_env`` and define ``_cs_duration``
    from ``$duration_env`` (see :func:`patch_duration`), at the start of ``main()``."""
    _check_once()
    device.insert_code("main", _SEED_CODE.format(env=seed_env, threads=max(1, threads)))
    device.insert_code("main", _DURATION_CODE.format(env=duration_env, default=float(default_duration)))


def patch_duration(net_name: str) -> bool:
    """Make the queued ``main()`` run of ``net_name`` last ``_cs_duration``; False where the
    generated code does not have the one run line this expects."""
    for func, args in device.main_queue:
        if func != "run_network" or args[0].name != net_name:
            continue
        lines = args[1]
        hits = [k for k, line in enumerate(lines) if line.lstrip().startswith(f"{net_name}.run(")]
        if len(hits) != 1:
            return False
        m = _RUN_LINE.match(lines[hits[0]])
        if not m:
            return False
        lines[hits[0]] = f"{m.group(1)}_cs_duration{m.group(3)}"
        return True
    return False


def queue_signature(jsonable: Callable[[Any], Any]) -> Dict[str, Any]:
    """What of the standalone device's queued initialisation shapes the generated program:
    the order of operations, array names, sizes and types, and constants written into code
    (through ``jsonable``); the *values* of static arrays are data and left out."""
    _check_once()
    ops = []
    for func, args in device.main_queue:
        if func in ("run_code_object", "before_run_code_object", "after_run_code_object", "run_network"):
            ops.append([func, args[0].name])
        else:
            ops.append([func, jsonable(args)])
    arrays = {name: [str(arr.dtype), int(arr.size)] for name, arr in device.static_arrays.items()}
    return {"ops": ops, "static_arrays": arrays}


def static_arrays() -> Dict[str, np.ndarray]:
    """The data arrays queued so far (name -> values), as the program reads them from ``static_arrays/``."""
    return dict(device.static_arrays)


def function_arrays() -> Dict[str, np.ndarray]:
    """Static arrays Brian2 adds at build time for functions' namespaces (e.g. TimedArray values)."""
    arrays = dict(device.static_arrays)
    for code_object in device.code_objects.values():
        for var in code_object.variables.values():
            if isinstance(var, brian2.Function):
                device._insert_func_namespace(var, code_object, arrays)
    return {k: v for k, v in arrays.items() if k not in device.static_arrays}


def mark_used(net: brian2.Network) -> None:
    """Tell Brian2 that the objects belong to a network that ran (it warns about objects that were
    never run otherwise; with a reused build, the network is not run through Brian2's Python)."""
    todo = list(net.objects)
    while todo:
        obj = todo.pop()
        if getattr(obj, "_network", 0) is None:
            obj._network = net.id
        todo.extend(getattr(obj, "contained_objects", []))


def read_results_from(results_dir: str) -> None:
    """Point Brian2's variable views at a run's own results folder (a program started outside
    Brian2), so that monitors read what that run wrote."""
    active = get_device()   # (brian2.device is a proxy: attributes must be set on the device itself)
    active.results_dir = results_dir if results_dir.endswith(os.sep) else results_dir + os.sep
    active.has_been_run = True
    for var in list(active.array_cache):
        active.array_cache[var] = None


#: The loop over a group's elements in Brian2 2.9's ``stateupdate`` template (state updates and
#: ``run_regularly`` code), which each code object of that template has once.
_ELEMENT_LOOP = "for(int _idx=0; _idx<_N; _idx++)"


def build_program(directory: str, clean: bool, independent_reads: Optional[str] = None,
                  blocked_group: Optional[str] = None) -> list:
    """Generate the queued program into ``directory`` and compile it (what
    ``device.build(compile=True, run=False)`` does), with edits in between: Brian2's spike
    queue is replaced by circuitsim's (:mod:`circuitsim.spike_queue`: the same events in the same
    order, found through each source's runs of synapses); where ``independent_reads`` is given (a
    group's name), the element loop of every ``stateupdate`` code object that reads that group's
    arrays is marked ``#pragma GCC ivdep``; and where ``blocked_group`` is given, that group's
    per-neuron loops run block by block if they read the table (:mod:`circuitsim.blocked_step`,
    which takes the mark off the loops it rewrites). Returns the names of the code objects marked.

    Why: such a loop reads a per-population table through each neuron's row (a gather), and gcc
    vectorises no loop with a gather whose arrays it cannot prove distinct from the arrays the loop
    writes (no run-time alias check exists for gathers), so the state update would fall back to
    scalar code with the scalar ``exp()``. The pragma is exact here: a ``stateupdate`` loop writes
    only its own element ``_idx`` of its group's arrays, and the table is read-only.
    """
    directory = os.path.abspath(directory)
    device.build(directory=directory, compile=False, run=False, clean=clean)
    # circuitsim's spike queue and blocked step are written for Brian2's C++ program (not, e.g.,
    # brian2cuda's, whose device derives from it)
    cpp = get_device() is all_devices.get("cpp_standalone")
    if cpp:
        spike_queue.install(directory)
    marked = []
    if independent_reads:
        pointer = f"_ptr_array_{independent_reads}_"
        for name, code_object in sorted(device.code_objects.items()):
            path = os.path.join(directory, "code_objects", f"{name}.cpp")
            if code_object.template_name != "stateupdate" or not os.path.exists(path):
                continue
            with open(path) as f:
                text = f.read()
            if pointer not in text:
                continue
            if text.count(_ELEMENT_LOOP) != 1:
                raise RuntimeError(f"{name}.cpp: Brian2's stateupdate template changed (expected one "
                                   f"'{_ELEMENT_LOOP}'; Brian2 {brian2.__version__})")
            with open(path, "w") as f:
                f.write(text.replace(_ELEMENT_LOOP, "#pragma GCC ivdep\n    " + _ELEMENT_LOOP))
            marked.append(name)
    if blocked_group and cpp:
        # the group's per-neuron loops of a step, block by block (circuitsim.blocked_step)
        groups = [getattr(co, "owner", None) for co in device.code_objects.values()]   # (a code object's group)
        group = next((g for g in groups if getattr(g, "name", None) == blocked_group), None)
        if group is not None:
            blocked_step.apply(directory, device.code_objects, blocked_group, len(group))
    from brian2.codegen.cpp_prefs import get_compiler_and_args

    compiler, _ = get_compiler_and_args()
    device.compile_source(directory, compiler, False, clean)
    return marked
