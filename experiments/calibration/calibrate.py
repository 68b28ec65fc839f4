"""Tune each population's constant input current (I_bias) so the healthy circuit fires at the
literature rates (targets and sources in configs/circuit/default.yaml).

A damped fixed-point iteration: I <- I + gain * C * (V_peak - V_reset) * (r_target - r), where
C * (V_peak - V_reset) is the charge per spike of a leak-free integrate-and-fire neuron, so
that gain 1 would move the rate to the target for such a neuron. All populations are updated
together, each iteration a short simulation averaged over seeds. Runs reuse one compiled
program (only values change), so each iteration costs seconds.

    python experiments/calibration/calibrate.py              # print the tuned currents
    python experiments/calibration/calibrate.py --write      # and write them into the config
"""

from __future__ import annotations

import argparse
import logging
import math
import re
from pathlib import Path

import numpy as np

from circuitsim import compose, simulate
from circuitsim.spec import build_spec

CONFIG = Path(__file__).resolve().parents[2] / "configs" / "circuit" / "default.yaml"


def target(low: float, high: float) -> float:
    """Middle of the target range (geometric for wide ranges)."""
    return math.sqrt(low * high) if low > 0 and high / low > 3 else 0.5 * (low + high)


def write_currents(currents: dict[str, float]) -> None:
    text = CONFIG.read_text()
    for pop, current in currents.items():
        block = re.search(rf"^  {pop}:\n(?:    .*\n|\s*#.*\n)*?    params: .*$", text, flags=re.M)
        if block is None:
            raise SystemExit(f"population {pop} not found in {CONFIG}")
        # replace inside this population's block only: several populations share identical params lines
        new = re.sub(r"I_bias: [-0-9.e]+\*pA", f"I_bias: {current:.0f}*pA", block.group(0))
        text = text[:block.start()] + new + text[block.end():]
    CONFIG.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=12)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--duration", default="2s")
    parser.add_argument("--gain", type=float, default=0.5)
    parser.add_argument("--tolerance", type=float, default=0.15,
                        help="stop when every mean rate is within this fraction of its target's middle")
    parser.add_argument("--write", action="store_true", help="write the tuned currents into the circuit config")
    parser.add_argument("overrides", nargs="*", help="extra config overrides")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    spec = build_spec(compose(args.overrides))
    currents = {name: pop.params["I_bias"] * 1e12 for name, pop in spec.populations.items()}
    gains = {name: args.gain for name in currents}
    last_error = {name: 0.0 for name in currents}
    for it in range(args.iterations):
        overrides = list(args.overrides) + [f"sim.duration={args.duration}", "sim.progress=false"]
        overrides += [f"circuit.populations.{p}.params.I_bias={c:.2f}*pA" for p, c in currents.items()]
        rates = {p: [] for p in currents}
        for seed in args.seeds:
            res = simulate(compose(overrides + [f"sim.seed={seed}"]))
            for p in currents:
                rates[p].append(res.metrics["populations"][p]["rate_hz"])
        inside = sum(pop.target_low <= min(rates[p]) and max(rates[p]) <= pop.target_high
                     for p, pop in spec.populations.items())
        report = [f"{p}={np.mean(rates[p]):.1f}" for p in currents]
        print(f"iteration {it}: {inside}/{len(currents)} inside  " + " ".join(report), flush=True)
        if inside == len(currents) and all(
                abs(np.mean(rates[p]) - target(pop.target_low, pop.target_high))
                < args.tolerance * target(pop.target_low, pop.target_high) for p, pop in spec.populations.items()):
            break
        for name, pop in spec.populations.items():
            r = float(np.mean(rates[name]))
            goal = target(pop.target_low, pop.target_high)
            q = pop.params["C"] * (pop.params["V_peak"] - pop.params["V_reset"]) * 1e12  # pC -> pA/Hz
            error = goal - r
            # adaptive gain: grow while the error keeps its sign, halve when it flips
            gains[name] *= 1.5 if error * last_error[name] > 0 else 0.5 if error * last_error[name] < 0 else 1.0
            gains[name] = float(np.clip(gains[name], 0.05, 20.0))
            last_error[name] = error
            currents[name] += float(np.clip(gains[name] * q * error, -100.0, 100.0))
    print("I_bias (pA): " + ", ".join(f"{p}={c:.0f}" for p, c in currents.items()))
    if args.write:
        write_currents(currents)
        print(f"written to {CONFIG}")


if __name__ == "__main__":
    main()
