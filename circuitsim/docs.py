"""Documentation generated from the config, so the README never drifts from it.

    python -m circuitsim.docs            # print the circuit tables (Markdown)
"""

from __future__ import annotations

from typing import Any

from circuitsim.spec import build_spec


def circuit_tables(cfg: Any) -> str:
    """Markdown tables of the populations and pathways of a composed config."""
    spec = build_spec(cfg)
    circuit = cfg["circuit"]
    lines = ["| population | region | neurons | per channel | target rate | source |",
             "|---|---|---|---|---|---|"]
    for name, pop in spec.populations.items():
        per = "yes" if pop.channelled else "no"
        lines.append(f"| `{name}` | {pop.region} | {pop.n} | {per} | {pop.target_low:g}–{pop.target_high:g} Hz "
                     f"| {pop.target_source} |")
    lines += ["", "| pathway | source → target | receptor | sign | p | weight | delay | topology | reference |",
              "|---|---|---|---|---|---|---|---|---|"]
    for name, pw in circuit["pathways"].items():
        sign = spec.receptors[pw["receptor"]].sign
        lines.append(f"| `{name}` | {pw['source']} → {pw['target']} | {pw['receptor']} | {sign} | {pw['p']:g} "
                     f"| {pw['weight']} | {pw['delay']} | {pw['topology']} | {pw.get('ref', '')} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    from circuitsim.api import compose

    print(circuit_tables(compose()), end="")


if __name__ == "__main__":
    main()
