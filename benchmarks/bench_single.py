"""Benchmark 1: single runs of the circuit, cpp_standalone, one thread.

Default circuit (scale 1, 2 s): wall seconds per simulated second, the cold build (empty cache),
what a run with a cached build costs besides the simulation (with where that time goes), and
peak memory. Scales 1, 4, 16 and one with >= 100 000 neurons: neurons, synapses, synaptic
events per second (spikes x the synapses they drive, over Brian2's simulation-loop time) and
peak memory. Each measurement runs in a fresh process (a first process builds the structure
with a very short run, so the measured one does no compilation).

    python benchmarks/bench_single.py                 # everything (about 5-15 min on 2 cores)
    python benchmarks/bench_single.py --scales 1 4    # fewer scales
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, peak_rss_mb, run_json, synaptic_events, table  # noqa: E402

#: scale -> simulated seconds (short for the large ones: their build and connectivity dominate)
DURATIONS = {1.0: 2.0, 4.0: 1.0, 16.0: 0.5, 60.0: 0.3}
PROFILED = {  # function name (cProfile) -> label
    "connect_all": "connectivity (NumPy)", "build_network": "Brian2 objects", "_standalone_run": "device (all)",
    "compute_metrics": "metrics", "add_muscle_readout": "muscle readout", "write_figures": "figures",
    "write_data": "writing data files",
}


def one(scale: float, duration: float, plots: str, out_dir: str | None, profile: bool) -> dict:
    """One run in this process; prints a JSON line."""
    t_import = time.perf_counter()
    from circuitsim import compose, simulate
    from circuitsim.circuit.connectivity import connect_all
    from circuitsim.circuit.layout import make_layout
    from circuitsim.spec import build_spec

    import_s = time.perf_counter() - t_import
    overrides = [f"circuit.scale={scale}", f"sim.duration={duration}s", "sim.progress=false",
                 f"readout.plots={plots}"]
    if duration < 0.25:
        overrides.append("sim.transient=0s")
    cfg = compose(overrides)
    prof = cProfile.Profile() if profile else None
    t0 = time.perf_counter()
    if prof:
        prof.enable()
    result = simulate(cfg, out_dir=out_dir)
    if prof:
        prof.disable()
    total = time.perf_counter() - t0
    run = result.metrics["run"]
    spec = build_spec(cfg)
    layout = make_layout(spec)
    events = synaptic_events(result, spec, layout, connect_all(spec, layout, spec.sim.seed))
    out = {"scale": scale, "duration_s": duration, "neurons": run["n_neurons"], "synapses": run["n_synapses"],
           "build_s": run["build_s"], "build_reused": run["build_reused"], "sim_s": run["sim_s"],
           "sim_cpu_s": run["sim_cpu_s"], "loop_s": run["sim_loop_s"], "simulate_s": total, "import_s": import_s,
           "events": events, "spikes": int(sum(t.size for _, t in result.spikes.values())),
           "program_mb": run["sim_peak_mb"], **peak_rss_mb()}
    if prof:
        stats = pstats.Stats(prof).stats
        parts = {}
        for (_, _, name), (_, _, _, cum, _) in stats.items():
            if name in PROFILED:
                parts[PROFILED[name]] = parts.get(PROFILED[name], 0.0) + cum
        out["parts"] = parts
    print(json.dumps(out))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--one", nargs=2, type=float, metavar=("SCALE", "DURATION"), help=argparse.SUPPRESS)
    parser.add_argument("--plots", default="[]", help=argparse.SUPPRESS)
    parser.add_argument("--out-dir", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--profile", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--scales", nargs="*", type=float, default=list(DURATIONS))
    parser.add_argument("--skip-cold", action="store_true", help="do not time a build from an empty cache")
    args = parser.parse_args()
    if args.one:
        one(args.one[0], args.one[1], args.plots, args.out_dir, args.profile)
        return 0

    here = [str(Path(__file__).resolve())]
    print(f"# Benchmark 1: single runs (cpp_standalone, 1 thread)\n\nmachine: {machine()}\n")
    # --- the default circuit
    if not args.skip_cold:
        with tempfile.TemporaryDirectory() as cache:
            cold = run_json(here + ["--one", "1", "0.05"], env={"CIRCUITSIM_CACHE": cache})
        print(f"cold build of the default circuit (empty cache): {cold['build_s']:.1f} s")
    else:
        run_json(here + ["--one", "1", "0.05"])
    with tempfile.TemporaryDirectory() as out:
        default = run_json(here + ["--one", "1", "2", "--plots", "[raster,rates]", "--out-dir", out, "--profile"])
    d = default
    print(f"default circuit, 2 s, cached build: simulate() {d['simulate_s']:.2f} s in all; the compiled program "
          f"{d['sim_s']:.2f} s wall ({d['sim_s'] / 2:.3f} s per simulated s), {d['sim_cpu_s'] / 2:.3f} CPU-s per "
          f"simulated s, simulation loop {d['loop_s'] / 2:.3f} s per simulated s; importing circuitsim "
          f"{d['import_s']:.1f} s; peak memory {d['python_mb']:.0f} MB (Python) + {d['program_mb']:.0f} MB (program)")
    print("where simulate() spends its time (cProfile, cumulative s; the device includes the program):")
    print(table([{"part": k, "s": v} for k, v in sorted(d["parts"].items(), key=lambda kv: -kv[1])], ["part", "s"]))
    print()
    # --- scales
    rows = []
    for scale in args.scales:
        duration = DURATIONS.get(scale, 0.5)
        warm = run_json(here + ["--one", str(scale), "0.05"])
        r = run_json(here + ["--one", str(scale), str(duration)])
        rows.append({"scale": f"{scale:g}", "neurons": r["neurons"], "synapses": r["synapses"],
                     "sim s": duration, "build s": warm["build_s"] if not warm["build_reused"] else "cached",
                     "wall s/sim s": r["sim_s"] / duration, "loop s/sim s": r["loop_s"] / duration,
                     "events/s": r["events"] / max(r["loop_s"], 1e-9),
                     "program MB": r["program_mb"], "Python MB": r["python_mb"]})
        print(f"scale {scale:g}: done", file=sys.stderr)
    print(table(rows, ["scale", "neurons", "synapses", "sim s", "build s", "wall s/sim s", "loop s/sim s",
                       "events/s", "program MB", "Python MB"]))
    big = [r for r in rows if r["neurons"] >= 100_000]
    rtf, rtf_cpu = d["sim_s"] / 2, d["sim_cpu_s"] / 2
    print(f"\ntarget <= 0.5 s per simulated s (default circuit, one core): wall {rtf:.3f} "
          f"({'met' if rtf <= 0.5 else 'NOT met'}), CPU {rtf_cpu:.3f} ({'met' if rtf_cpu <= 0.5 else 'NOT met'}); "
          "on a loaded machine the wall time includes waiting for a core")
    if big:
        mem = big[0]["program MB"] + big[0]["Python MB"]
        print(f"target 100 000+ neurons in 4 GB: {'met' if mem <= 4096 else 'NOT met'} ({big[0]['neurons']} neurons, "
              f"{mem:.0f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
