"""What can be chosen, with one line of description each: ``circuitsim-list``.

    circuitsim-list conditions      # configs/condition/: the hypothesis of each file
    circuitsim-list stimuli         # configs/stim/: DBS and TMS presets
    circuitsim-list tasks           # configs/task/
    circuitsim-list pathways        # circuit.pathways: source -> target, receptor, reference
    circuitsim-list populations     # circuit.populations: region, size, healthy rate
    circuitsim-list metrics         # the keys of metrics.json (docs/reference/metrics)

Everything is read from the configs and from :data:`circuitsim.catalogue.METRICS`, so a new
condition or stimulation preset shows up here without a code change. This module also provides
the config-group listing of ``circuitsim --help`` (the ``circuitsim_groups`` resolver used by
``configs/hydra/help/circuitsim.yaml``).
"""

from __future__ import annotations

import argparse
import sys
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from omegaconf import OmegaConf

#: Config-group options that are internal (the structured-config schemas of circuitsim.spec)
INTERNAL_OPTIONS = ("schema",)
#: The groups ``circuitsim --help`` lists, in this order (others found in the search path follow)
HELP_GROUPS = ("condition", "task", "stim", "circuit", "readout", "sim", "fit")

Entry = Tuple[str, str]


def first_sentence(text: str, limit: int = 110) -> str:
    """The first sentence of ``text`` (to its first '. '), cut to ``limit`` characters."""
    text = " ".join(str(text or "").split())
    for stop in (". ", "; "):
        if stop in text:
            text = text.split(stop, 1)[0] + ("." if stop == ". " else "")
            break
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."


def _catalog():
    from circuitsim.app.forms import load_catalog

    return load_catalog()


def conditions() -> List[Entry]:
    return [(c["name"], first_sentence(c["description"]) or "the healthy circuit")
            for c in _catalog().conditions]


def stimuli() -> List[Entry]:
    from circuitsim.app.forms import stim_presets

    out = []
    for kind, presets in stim_presets().items():
        for p in presets:
            out.append((p["name"], f"[{kind}] " + first_sentence(p["description"])))
    return sorted(out)


def tasks() -> List[Entry]:
    return [(t["name"], first_sentence(t["description"])) for t in _catalog().tasks]


def pathways() -> List[Entry]:
    from circuitsim.api import compose

    circuit = compose().circuit
    out = []
    for name, node in circuit.pathways.items():
        ref = str(node.get("ref", "") or "")
        out.append((name, f"{node.source} -> {node.target} ({node.receptor}, {node.topology}); {ref}"))
    return out


def populations() -> List[Entry]:
    from circuitsim.api import compose

    circuit = compose().circuit
    out = []
    for name, node in circuit.populations.items():
        tr = node.get("target_rate") or {}
        rate = f", healthy {tr.get('low')}-{tr.get('high')}".replace("*Hz", "") + " Hz" if tr else ""
        per = " per channel" if node.get("channelled") else ""
        out.append((name, f"{node.get('description', '')} [{node.region}, n={node.n}{per}{rate}]"))
    return out


def metrics() -> List[Entry]:
    from circuitsim.catalogue import METRICS

    return [(m.pattern, first_sentence(m.text, limit=140)) for m in METRICS]


LISTS: Dict[str, Callable[[], List[Entry]]] = {
    "conditions": conditions, "stimuli": stimuli, "tasks": tasks,
    "pathways": pathways, "populations": populations, "metrics": metrics,
}


def format_entries(entries: Sequence[Entry]) -> str:
    width = max((len(name) for name, _ in entries), default=0)
    return "\n".join(f"{name:<{width}}  {text}".rstrip() for name, text in entries)


# --------------------------------------------------------------------------- circuitsim --help


def group_options(loader=None) -> Dict[str, List[str]]:
    """Config groups and their options as Hydra sees them, without internal schema entries."""
    if loader is None:
        from hydra.core.global_hydra import GlobalHydra

        loader = GlobalHydra.instance().config_loader()
    from circuitsim.errors import NOT_RUN_GROUPS

    groups = [g for g in loader.list_groups("") if g != "hydra" and not g.startswith("hydra/")
              and g not in NOT_RUN_GROUPS]
    order = {g: k for k, g in enumerate(HELP_GROUPS)}
    out = {}
    for group in sorted(groups, key=lambda g: (order.get(g, len(order)), g)):
        options = [o for o in sorted(loader.get_group_options(group)) if o not in INTERNAL_OPTIONS]
        if options:
            out[group] = options
    return out


def groups_help() -> str:
    """The config-group lines of ``circuitsim --help`` (one line per group, wrapped at 100)."""
    lines = []
    for group, options in group_options().items():
        line = f"  {group + ':':<11}"
        for k, option in enumerate(options):
            piece = option + ("," if k < len(options) - 1 else "")
            if len(line) + len(piece) + 1 > 100:
                lines.append(line.rstrip())
                line = " " * 13
            line += (" " if not line.endswith(" ") else "") + piece
        lines.append(line.rstrip())
    return "\n".join(lines)


def register_resolvers() -> None:
    """Register the ``circuitsim_groups`` resolver of the help template (idempotent)."""
    OmegaConf.register_new_resolver("circuitsim_groups", groups_help, replace=True, use_cache=False)


register_resolvers()


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Console script ``circuitsim-list``."""
    parser = argparse.ArgumentParser(
        prog="circuitsim-list", description="List what circuitsim can choose from, one line each.")
    parser.add_argument("what", choices=sorted(LISTS), help="what to list")
    args = parser.parse_args(argv)
    print(format_entries(LISTS[args.what]()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
