"""A blocked neuron step for large circuits: one population's block at a time, no gathers.

A circuit of at least ``builder.TABLE_MIN_NEURONS`` neurons (scale 38 and up) keeps the
parameters its populations share in a table (``circuitsim.circuit.models.PARAM_TABLE``), and each
of the per-neuron loops that run before the threshold (the background's draw, fix and addition,
the state update) gathers them through every neuron's row. On this machine the gathers were
the scale-60 state update's extra cost: 2.40 ns per neuron-step at scale 1, 3.83 at scale 60
(``docs/performance.md``, seventh and eighth rounds).

This module rewrites such a generated program before it is compiled. The loops of one time step
(consecutive in the network's schedule) then run block by block: every loop does the first block,
then every loop the second, and so on. A block is a run of neurons of one table row (one
population), at most :data:`BLOCK` long, so its state stays in the L2 cache between the loops.

* **Table loops** (``stateupdate`` loops over the whole group that read the table): each table
  value is read per neuron from a buffer, as a per-neuron array would be. The block function fills
  the buffer with the row's value (L1/L2 cache, refilled only when the row changes); nothing is
  gathered. The loop runs over the 64-aligned span around its block (the group's padding unit,
  ``NEURON_BLOCK``), so every neuron is computed in the same vector lane as before, with no scalar
  remainder (the scalar and vector ``exp()`` may differ in the last bit). The block function saves
  the span's neurons outside the block before the loops and restores them after.
* **Other per-neuron loops** (``run_regularly`` on a contiguous subgroup, such as the T current or
  a stimulus's input) run over the block's neurons only. Such a loop must read and write only its
  own neuron's elements of the group's arrays; this is checked in the code.
* **A summed variable whose synapses leave the group** (the LFP sums) adds the block's neurons. It
  zeroes its targets in the first block only. A target's synapses are in increasing order of
  source, so each target receives its additions in the same order.
* **An object on the same clock that shares no array with the loops after it** (the LFP sums' own
  state update) runs after the blocks.
* Anything else ends the run of loops.

The buffers are reached through pointers whose alignment gcc does not know, as Brian2's arrays
are. Without them gcc peeled scalar iterations off the loop to align the buffers, and the LFP
differed in the last bit.

The same instructions compute every neuron from the same values, so the spikes and LFP sums
are bitwise those of the table's gathers and of per-neuron parameters
(``tests/test_blocked_step.py``; ``benchmarks/bench_step.py`` at scale 60).

Without the table the program is left as generated. Blocks gained nothing measurable there:
0.99-1.06x at scale 16, and 1.05x at scale 60 with per-neuron parameters.
"""

from __future__ import annotations

import os
import re
from typing import Dict, List, Optional, Tuple

#: At most this many neurons (of one population) per block. Numerical choice: about 110 bytes per
#: neuron are touched in the blocked loops, so a block uses about 0.45 MB of the 1 MB L2 cache.
BLOCK = 4096

_LOOP = "for(int _idx=0; _idx<_N; _idx++)"
_ADD = re.compile(r"^(\s*)(\w+)\.add\(&(\w+), (_run_(\w+))\);\s*$")
_ARRAY = re.compile(r"_ptr_array_(\w+?)\[([^\]]*)\]")
_CLOCK_ARRAY = re.compile(r"clock_(t|dt|timestep)$")
_DECL = "extern int _cs_lo, _cs_hi;\n"
_HI = 2147483647

#: The blocks, found once from the group's table rows (a block never spans two rows: each
#: population's run of neurons is cut into blocks of at most BLOCK neurons).
_SEGMENTS = """static std::vector<int> _cs_seg_lo, _cs_seg_hi, _cs_seg_row;
static void _cs_segments()
{{
    const int n = {n};
    int lo = 0;
    while (lo < n)
    {{
        const int row = {rows}[lo];
        int hi = lo + 1;
        while (hi < n && hi - lo < {block} && {rows}[hi] == row)
            hi++;
        _cs_seg_lo.push_back(lo);
        _cs_seg_hi.push_back(hi);
        _cs_seg_row.push_back(row);
        lo = hi;
    }}
}}"""


def _body(text: str, name: str) -> str:
    """The text of the code object's ``_run_<name>`` function."""
    start = text.find(f"void _run_{name}()")
    return text[start:] if start >= 0 else ""


def _arrays(text: str) -> set:
    """The arrays a code object's run function uses (clock arrays, read-only, left out)."""
    names = set()
    for m in re.finditer(r"_ptr_array_(\w+)", text):
        if not _CLOCK_ARRAY.search(m.group(1)):
            names.add(m.group(1))
    return names


def _subgroup_start(group, source_name: str) -> Optional[int]:
    """0 for the group itself, a contiguous subgroup's start, None for anything else."""
    if getattr(group, "name", None) == source_name:
        return 0
    source = getattr(group, "source", None)
    if getattr(source, "name", None) == source_name and hasattr(group, "start"):
        return int(group.start)
    return None


def classify(code_object, text: str, group_name: str) -> Optional[Tuple[str, int]]:
    """``("loop", start)`` or ``("sum", 0)`` where the object can run block by block, else None."""
    owner = getattr(code_object, "owner", None)
    body = _body(text, code_object.name)
    if not body or owner is None:
        return None
    if code_object.template_name == "stateupdate":
        start = _subgroup_start(owner, group_name)   # a code object's owner is its group
        if start is None or body.count(_LOOP) != 1:
            return None
        for m in _ARRAY.finditer(body):
            if m.group(1).startswith(group_name + "_") and m.group(2) not in ("_idx", "_sub_idx"):
                return None   # reads or writes another neuron's element
        for m in re.finditer(r"_ptr_array_(\w+?)\[[^\]]*\]\s*[+\-*/]?=(?!=)", body):
            if not m.group(1).startswith(group_name + "_"):
                return None   # writes outside its own group
        if start and "_sub_idx" not in body:
            return None
        return ("loop", start)
    if code_object.template_name == "summed_variable":
        source = getattr(owner, "source", None)   # the synapses' source group
        if getattr(source, "name", None) != group_name:
            return None
        if body.count("const int32_t _presynaptic_idx = ") != 1 or body.count("_target_idx + 0] = 0;") != 1:
            return None
        return ("sum", 0)
    return None


def _decl_type(text: str, array: str) -> str:
    """The C type of ``_ptr_array_<array>`` as the code object declares it."""
    m = re.search(rf"(\w+)\*\s+(?:__restrict\s+)?_ptr_array_{array} = ", text)
    assert m, f"no declaration of _ptr_array_{array}"
    return m.group(1)


def _edit(text: str, name: str, kind: str, start: int, group_name: str) -> Tuple[str, Dict[str, str], Dict[str, str]]:
    """The code object's text for blocks, with the table arrays it reads through the row and the
    group arrays it stores (name -> C type), both only for a table loop (else empty)."""
    head, body = text[: text.find(f"void _run_{name}()")], _body(text, name)
    # the block's bounds, read once into constants (the loop's stores could alias the globals,
    # and a bound reloaded in every iteration would stop gcc vectorising the loop)
    opening = f"void _run_{name}()\n{{\n"
    assert body.startswith(opening), f"{name}: unexpected function head"
    body = opening + "    const int _cs_a = _cs_lo, _cs_b = _cs_hi;\n" + body[len(opening):]
    row = f"const int32_t prow = _ptr_array_{group_name}_prow[_idx];"
    table: Dict[str, str] = {}
    stored: Dict[str, str] = {}
    decl = _DECL
    if kind == "loop" and start == 0 and row in body:
        # a block of one population (one table row): each table value is read per neuron, as
        # before, but from a buffer that the block step fills with the row's value (in the L1/L2
        # cache) instead of gathered from the table through each neuron's row; the loop keeps its
        # shape, so gcc computes every neuron with the same instructions. It runs over the 64-aligned
        # span around the block (the group's padding unit), so each neuron sits in the same vector
        # lane as without blocks (no scalar remainder: the scalar and vector exp() may differ in
        # the last bit); the block step restores the neurons of that span outside the block.
        for m in re.finditer(r"_ptr_array_(\w+)\[prow\]", body):
            table[m.group(1)] = _decl_type(body, m.group(1))
        body = body.replace(row, "")
        for array in table:   # (a restrict pointer per buffer, as Brian2 declares its arrays)
            body = body.replace(f"_ptr_array_{array}[prow]", f"_cs_p_{array}[_idx]")
        for m in re.finditer(rf"_ptr_array_({group_name}_\w+)\[_idx\] =", body):
            stored[m.group(1)] = _decl_type(body, m.group(1))
        body = body.replace("const int _cs_a = _cs_lo, _cs_b = _cs_hi;",
                            "const int _cs_a0 = _cs_lo & ~63, _cs_b0 = (_cs_hi + 63) & ~63;\n" + "".join(
                                f"    {t}* __restrict _cs_p_{a} = _cs_bufp_{a} - _cs_a0;\n" for a, t in table.items()))
        # (no gathers left: the loop no longer needs the ivdep mark, and without it gcc compiles
        # the loop as the per-neuron one, the same arithmetic)
        body = body.replace("#pragma GCC ivdep\n    " + _LOOP, _LOOP)
        body = body.replace(_LOOP, "for(int _idx=_cs_a0; _idx<_cs_b0; _idx++)")
        # (through a pointer, whose alignment gcc does not know: as for Brian2's arrays, it then
        # peels no scalar iterations off the loop's start to align them)
        decl += "".join(f"extern {t}* _cs_bufp_{a};\n" for a, t in table.items())
    elif kind == "loop":
        lo = f"(_cs_a > {start} ? _cs_a - {start} : 0)" if start else "_cs_a"
        hi = f"(_cs_b - {start} < _N ? _cs_b - {start} : _N)"
        body = body.replace(_LOOP, f"for(int _idx={lo}; _idx<{hi}; _idx++)")
    else:
        body = re.sub(r"(\n\s*)(\w+\[_target_idx \+ 0\] = 0;)", r"\1if (_cs_a == 0) \2", body, count=1)
        body = re.sub(r"(const int32_t _presynaptic_idx = [^;]+;)",
                      r"\1\n        if (_presynaptic_idx < _cs_a || _presynaptic_idx >= _cs_b) continue;", body, count=1)
    return head + decl + body, table, stored


def plan(adds: List[Tuple[str, str]], kinds: Dict[str, Optional[Tuple[str, int]]],
         arrays: Dict[str, set], group_prefix: str) -> List[object]:
    """Regroup the network's objects (``(clock, name)`` in order) into a list of single objects
    (``(clock, name)``) and blocked runs (``("block", clock, [names])``), see the module docstring."""
    out: List[object] = []
    run: List[str] = []
    deferred: List[Tuple[str, str]] = []
    clock = None

    def flush() -> None:
        nonlocal run, deferred
        if len(run) >= 2:
            out.append(("block", clock, run))
        else:
            out.extend((clock, n) for n in run)
        out.extend(deferred)
        run, deferred = [], []

    for obj_clock, name in adds:
        if kinds.get(name) and run and obj_clock == clock and all(not (arrays[d] & arrays[name]) for _, d in deferred):
            run.append(name)
        elif kinds.get(name):
            flush()
            run, clock = [name], obj_clock
        elif run and obj_clock == clock and name in arrays and not any(a.startswith(group_prefix) for a in arrays[name]):
            deferred.append((obj_clock, name))   # touches none of the group's arrays: may run after the blocks
        else:
            flush()
            out.append((obj_clock, name))
    flush()
    return out


def _block_function(fname: str, names: List[str], reads: Dict[str, str], writes: Dict[str, str], block: int,
                    defined: set) -> str:
    """The C++ function that runs the loops ``names`` block by block (see :func:`_edit`);
    ``defined``: the buffers defined so far (each once)."""
    span = block + 128
    out = [f"static {t} _cs_save_{a}_{fname}[128];" for a, t in writes.items()]
    out += [f"static {t} _cs_buf_{a}[{span}];\n{t}* _cs_bufp_{a} = _cs_buf_{a};" for a, t in reads.items()
            if a not in defined]
    defined.update(reads)
    out += [f"static void {fname}()", "{", "    static int filled_row = -1, filled_len = 0;",
            "    if (_cs_seg_lo.empty())", "        _cs_segments();",
            "    for (size_t k = 0; k < _cs_seg_lo.size(); k++)", "    {",
            "        const int a = _cs_seg_lo[k], b = _cs_seg_hi[k], row = _cs_seg_row[k];",
            "        const int a0 = a & ~63, b0 = (b + 63) & ~63;", "        _cs_lo = a;", "        _cs_hi = b;"]
    if reads:
        out += ["        if (row != filled_row || b0 - a0 > filled_len)", "        {",
                "            for (int i = 0; i < b0 - a0; i++)", "            {"]
        out += [f"                _cs_buf_{a}[i] = brian::_array_{a}[row];" for a in reads]
        out += ["            }", "            filled_row = row;", "            filled_len = b0 - a0;", "        }"]
    for a in writes:   # the span's neurons outside the block, kept
        out += [f"        for (int i = a0; i < a; i++) _cs_save_{a}_{fname}[i - a0] = brian::_array_{a}[i];",
                f"        for (int i = b; i < b0; i++) _cs_save_{a}_{fname}[64 + i - b] = brian::_array_{a}[i];"]
    out += [f"        _run_{n}();" for n in names]
    for a in writes:
        out += [f"        for (int i = a0; i < a; i++) brian::_array_{a}[i] = _cs_save_{a}_{fname}[i - a0];",
                f"        for (int i = b; i < b0; i++) brian::_array_{a}[i] = _cs_save_{a}_{fname}[64 + i - b];"]
    out += ["    }", "    _cs_lo = 0;", f"    _cs_hi = {_HI};", "}"]
    return "\n".join(out)


def apply(directory: str, code_objects: Dict[str, object], group_name: str, n_neurons: int) -> List[List[str]]:
    """Rewrite the generated program in ``directory`` (before compiling); returns the blocked runs."""
    main_path = os.path.join(directory, "main.cpp")
    with open(main_path) as f:
        lines = f.read().split("\n")
    hits = [(k, _ADD.match(line)) for k, line in enumerate(lines)]
    hits = [(k, m) for k, m in hits if m]
    if not hits or hits[-1][0] - hits[0][0] + 1 != len(hits):
        return []   # not one run of consecutive add() lines: leave the program as it is
    texts, kinds, arrays = {}, {}, {}
    for _, m in hits:
        name = m.group(5)
        path = os.path.join(directory, "code_objects", f"{name}.cpp")
        if name not in code_objects or not os.path.exists(path):
            continue
        with open(path) as f:
            texts[name] = f.read()
        kinds[name] = classify(code_objects[name], texts[name], group_name)
        arrays[name] = _arrays(_body(texts[name], name))
    if any("#pragma omp" in text for text in texts.values()):
        return []   # OpenMP loops (sim.threads > 1): left as Brian2 generates them
    steps = plan([(m.group(3), m.group(5)) for _, m in hits], kinds, arrays, group_name + "_")
    runs = [s[2] for s in steps if s[0] == "block"]
    if not runs:
        return []
    indent, net = hits[0][1].group(1), hits[0][1].group(2)
    if not any(f"_ptr_array_{group_name}_prow[_idx]" in texts[n] for run in runs for n in run):
        # without the population table (circuits below builder.TABLE_MIN_NEURONS) blocks gained
        # nothing measurable (scale 16: 0.99-1.06x, scale 60 per neuron: 1.05x): left as generated
        return []
    new_adds: List[str] = []
    defined: set = set()
    functions = [f"int _cs_lo = 0, _cs_hi = {_HI};",
                 _SEGMENTS.format(n=n_neurons, block=BLOCK, rows=f"brian::_array_{group_name}_prow")]
    for step in steps:
        if step[0] != "block":
            clock, name = step
            new_adds.append(f"{indent}{net}.add(&{clock}, _run_{name});")
            continue
        _, clock, names = step
        reads: Dict[str, str] = {}
        writes: Dict[str, str] = {}
        for n in names:
            text, t, w = _edit(texts[n], n, *kinds[n], group_name)
            reads.update(t)
            writes.update(w)
            with open(os.path.join(directory, "code_objects", f"{n}.cpp"), "w") as f:
                f.write(text)
        fname = f"_cs_blocked_{len(functions)}"
        functions.append(_block_function(fname, names, reads, writes, BLOCK, defined))
        new_adds.append(f"{indent}{net}.add(&{clock}, {fname});")
    first, last = hits[0][0], hits[-1][0]
    lines[first:last + 1] = new_adds
    at = next(k for k, line in enumerate(lines) if line.startswith("int main("))
    lines[at:at] = ["// circuitsim blocked neuron step (circuitsim/blocked_step.py)", *functions, ""]
    with open(main_path, "w") as f:
        f.write("\n".join(lines))
    return runs
