"""The package's layers (docs/architecture.md), kept by a test that reads every import statement.

Each module of ``circuitsim`` belongs to one layer; a module may import its own layer and the
layers below it, never one above. Imports inside functions count (they are the same dependency,
only later); imports under ``if TYPE_CHECKING:`` do not (they never run). ``analysis`` and
``muscle`` are leaf libraries: anything may use them and they import nothing else of the package
but their one input-check module, ``checks`` (a leaf too).

Why an ast-based test and not import-linter: it needs no compiled dependency (grimp) for one
contract, and it also checks what import-linter's layers contract does not: that the import
graph, with the listed exceptions removed, has no loop at all (within a layer too).

:data:`KNOWN_VIOLATIONS` lists the imports against the layers that remain; each names why. The
list only shrinks: a new forbidden import fails the test, and so does a listed one that is gone
(delete its line).
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Dict, Set, Tuple

PACKAGE = Path(__file__).resolve().parents[1] / "circuitsim"

#: bottom to top; a module's layer is its longest matching prefix (package names without "circuitsim.")
LAYERS: Tuple[Tuple[str, ...], ...] = (
    ("_version", "errors", "units", "plugins", "catalogue", "progress", "io.specfile", "io.display", "plots._layout", "plots.background",
     "diagnosis"),                                  # foundation: no simulator knowledge
    ("schema", "spec", "spec_types", "spec_memory", "spec_checks", "spec_sections"),   # config schemas, the validated RunSpec
    ("io.results", "io.result_types", "io.nwb_file"),   # the Result record (made by the device, read by all)
    ("circuit",),                                   # the network's layout, models and build context
    ("readouts", "metrics"),                        # post-run measures of a Result (stimuli's through plugins)
    ("stimulation",),                               # stimulus plug-ins (register into circuitsim.plugins)
    ("device", "brian_adapter", "build_cache", "run_folders", "spike_queue", "blocked_step"),   # running a built network (C splits device.py; the last two edit its program)
    ("io", "plots", "compare", "fit"),              # saving, collecting, figures
    ("api",),                                       # compose() and simulate()
    ("", "batch", "cli", "app", "experiments", "cohort", "cohort_batch", "docs", "listing",
     "drivers"),                                    # front ends
)
LEAVES = ("analysis", "muscle", "checks")   # checks: their one input-check module

#: (importer, imported) imports against the layers that remain, and why
KNOWN_VIOLATIONS: Dict[Tuple[str, str], str] = {
}

#: imports inside one layer that close a loop, and why (the same rule: only shrinks)
KNOWN_LOOPS: Dict[Tuple[str, str], str] = {
}


def _module_names() -> Dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _runtime_imports(tree: ast.AST):
    """Import nodes outside ``if TYPE_CHECKING:`` blocks."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            stack.extend(node.orelse)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        stack.extend(ast.iter_child_nodes(node))


def import_graph() -> Dict[str, Set[str]]:
    """Module -> the package modules it imports (names relative to ``circuitsim``; "" is the root)."""
    modules = _module_names()

    def local(name: str):
        if name != "circuitsim" and not name.startswith("circuitsim."):
            return None
        name = name[len("circuitsim."):] if name != "circuitsim" else ""
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name

    graph: Dict[str, Set[str]] = {}
    for mod, path in modules.items():
        is_pkg = path.name == "__init__.py"
        pkg = ".".join(filter(None, ["circuitsim", mod if is_pkg else mod.rpartition(".")[0]]))
        edges = set()
        for node in _runtime_imports(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                base = node.module or ""
                if node.level:
                    up = pkg.split(".")[: len(pkg.split(".")) - (node.level - 1)]
                    base = ".".join(up + ([node.module] if node.module else []))
                # `from a import b`: the module a.b when b is one, else a
                targets = [f"{base}.{a.name}" if local(f"{base}.{a.name}") == f"{base}.{a.name}"[len("circuitsim."):]
                           else base for a in node.names]
            for target in targets:
                name = local(target)
                if name is not None and name != mod:
                    edges.add(name)
        graph[mod] = edges
    return graph


def _prefix_match(mod: str, prefixes) -> int:
    """Length of the longest prefix of ``mod`` among ``prefixes`` (-1: none)."""
    best = -1
    for p in prefixes:
        if p == "" and mod == "":
            best = max(best, 0)
        elif p and (mod == p or mod.startswith(p + ".")):
            best = max(best, len(p))
    return best


def layer_of(mod: str):
    """Index in LAYERS, or "leaf" for the leaf libraries."""
    if _prefix_match(mod, LEAVES) >= 0:
        return "leaf"
    scores = [(_prefix_match(mod, layer), i) for i, layer in enumerate(LAYERS)]
    score, index = max(scores)
    assert score >= 0, f"circuitsim.{mod} is in no layer: add it to tests/test_architecture.py LAYERS"
    return index


def violations(graph) -> Dict[Tuple[str, str], str]:
    out = {}
    for mod, targets in graph.items():
        here = layer_of(mod)
        for target in targets:
            there = layer_of(target)
            if here == "leaf":
                if there != "leaf" or target.split(".")[0] not in (mod.split(".")[0], "checks"):
                    out[(mod, target)] = f"leaf library circuitsim.{mod} imports circuitsim.{target}"
            elif there != "leaf" and there > here:
                out[(mod, target)] = (f"circuitsim.{mod} ({'/'.join(LAYERS[here]) or 'root'}) imports "
                                      f"circuitsim.{target}, a higher layer ({'/'.join(LAYERS[there])})")
    return out


def _cycles(graph) -> list:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, on, stack, out, counter = {}, {}, set(), [], [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in list(graph):
        if v not in index:
            visit(v)
    return out


def test_every_module_is_in_a_layer():
    for mod in import_graph():
        layer_of(mod)


def test_no_import_goes_up_a_layer():
    found = violations(import_graph())
    new = {k: v for k, v in found.items() if k not in KNOWN_VIOLATIONS}
    assert not new, "imports against the layers (docs/architecture.md):\n" + "\n".join(sorted(new.values()))
    gone = sorted(set(KNOWN_VIOLATIONS) - set(found))
    assert not gone, f"no longer imported, delete from KNOWN_VIOLATIONS: {gone}"


def test_no_import_loop_besides_the_known_ones():
    graph = import_graph()
    known = set(KNOWN_VIOLATIONS) | set(KNOWN_LOOPS)
    loops = _cycles({m: {t for t in ts if (m, t) not in known} for m, ts in graph.items()})
    assert not loops, (f"import loops {loops}: move what both need into a lower module, import it from "
                       f"there (docs/architecture.md), or list the edge in KNOWN_LOOPS with its reason")
    gone = sorted(edge for edge in KNOWN_LOOPS if edge[1] not in graph.get(edge[0], ()))
    assert not gone, f"no longer imported, delete from KNOWN_LOOPS: {gone}"


def test_the_layer_check_catches_a_forbidden_import():
    graph = {"spec": {"stimulation.dbs"}, "stimulation.dbs": {"spec"}, "analysis.lfp": {"spec"}}
    found = violations(graph)
    assert ("spec", "stimulation.dbs") in found and ("analysis.lfp", "spec") in found
    assert ("stimulation.dbs", "spec") not in found
    assert _cycles(graph) == [["spec", "stimulation.dbs"]]


def test_the_config_layer_does_not_import_the_plug_ins():
    graph = import_graph()
    assert not {t for t in graph["spec"] if t.startswith("stimulation")}
    assert "circuit.registry" not in graph["readouts"]
