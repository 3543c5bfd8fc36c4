"""``qagent-bench``: kernel benchmarks against pyretechnics, measured in one run.

    qagent-bench --info                 build facts (like python -m qagent info)
    qagent-bench behavior [--landfire DIR]
    qagent-bench spread [--sizes 50 128 256 512] [--pyretechnics-sims N] ...

Each benchmark prints a table and writes JSON (``--json PATH``). Ratios compare QAgent with
pyretechnics on the same landscapes, ignitions and weather, measured in the same process;
pyretechnics is single-threaded, so "per core" ratios use QAgent with one thread.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

DEFAULT_WORCESTER = Path(__file__).resolve().parents[1].parent / "shared" / "landfire" / "worcester_vt"

# The benchmark weather: a dry, windy afternoon (moistures as fractions of ovendry weight).
BENCH_WEATHER = dict(wind_speed_10m=20.0, upwind_direction=250.0, fuel_moisture_dead_1hr=0.06,
                     fuel_moisture_dead_10hr=0.08, fuel_moisture_dead_100hr=0.10,
                     fuel_moisture_live_herbaceous=0.60, fuel_moisture_live_woody=0.90, foliar_moisture=1.0)


def machine_facts() -> dict:
    from qagent._ext import build_info

    facts = {"date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "host": platform.node(),
             "cpu": _cpu_name(), "cores": os.cpu_count(), "python": platform.python_version()}
    facts.update(build_info())
    if torch.cuda.is_available():
        facts["gpu"] = torch.cuda.get_device_name(0)
    return facts


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _timed(fn, min_seconds: float = 1.0, max_reps: int = 50):
    """Median wall time of fn() over repeats filling about min_seconds (at least 3 runs)."""
    times = []
    start = time.perf_counter()
    while len(times) < 3 or (time.perf_counter() - start < min_seconds and len(times) < max_reps):
        t0 = time.perf_counter()
        out = fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def _with_threads(n: int):
    class _Ctx:
        def __enter__(self):
            self.old = torch.get_num_threads()
            torch.set_num_threads(n)  # also sets OpenMP's thread count for our ops

        def __exit__(self, *exc):
            torch.set_num_threads(self.old)

    return _Ctx()


def _print_table(rows: list[dict], columns: list[tuple[str, str]]) -> None:
    widths = [max(len(title), *(len(_fmt(r.get(key))) for r in rows)) for key, title in columns]
    print("  ".join(title.rjust(w) for (_, title), w in zip(columns, widths)))
    for r in rows:
        print("  ".join(_fmt(r.get(key)).rjust(w) for (key, _), w in zip(columns, widths)))


def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:,.3g}" if abs(v) < 1000 else f"{v:,.0f}"
    return str(v)


# ---------------------------------------------------------------------------------- behavior
def bench_behavior(landfire: Path, repeat_seconds: float) -> dict:
    """Cells per second of qagent.fire.behavior and of pyretechnics' burn_all_cells_as_head_fire
    on a real landscape, same inputs."""
    from qagent.fire import Weather, behavior
    from qagent.landscape.landfire import load_landfire
    from qagent.oracle import behavior_head_fire

    ls = load_landfire(landfire)
    weather = Weather(**BENCH_WEATHER)
    cells = ls.num_cells
    rows = []
    for threads in sorted({1, os.cpu_count() or 1}):
        with _with_threads(threads):
            t, out = _timed(lambda: behavior(ls, weather), repeat_seconds)
        rows.append({"engine": "qagent", "device": "cpu", "threads": threads, "seconds": t, "cells_per_s": cells / t})
    if torch.cuda.is_available():
        lc = ls.to("cuda")
        t, _ = _timed(lambda: behavior(lc, weather), repeat_seconds)
        rows.append({"engine": "qagent", "device": "cuda", "threads": None, "seconds": t, "cells_per_s": cells / t})
    grids = {k: v.cpu().numpy() for k, v in (("slope", ls.slope), ("aspect", ls.aspect),
                                             ("fuel_model", ls.fuel_model.float()), ("canopy_cover", ls.canopy_cover),
                                             ("canopy_height", ls.canopy_height),
                                             ("canopy_base_height", ls.canopy_base_height),
                                             ("canopy_bulk_density", ls.canopy_bulk_density))}
    grids.update({k: np.float32(v) for k, v in BENCH_WEATHER.items()})
    t0 = time.perf_counter()
    ref = behavior_head_fire(grids)
    t_ref = time.perf_counter() - t0
    rows.append({"engine": "pyretechnics", "device": "cpu", "threads": 1, "seconds": t_ref, "cells_per_s": cells / t_ref})
    ours_1 = rows[0]["cells_per_s"]
    for r in rows:
        r["vs_pyretechnics"] = r["cells_per_s"] / (cells / t_ref)
    burn = ref["fire_type"] > 0
    rel = np.abs(out.spread_rate.numpy()[burn] - ref["spread_rate"][burn]) / np.maximum(ref["spread_rate"][burn], 1e-6)
    agreement = {"fire_type_equal": float((out.fire_type.numpy() == ref["fire_type"]).mean()),
                 "spread_rate_within_0.5pct": float((rel <= 0.005).mean())}
    print(f"\nbehavior on {landfire.name}: {ls.shape[0]} x {ls.shape[1]} = {cells:,} cells")
    _print_table(rows, [("engine", "engine"), ("device", "device"), ("threads", "threads"), ("seconds", "seconds"),
                        ("cells_per_s", "cells/s"), ("vs_pyretechnics", "x pyretechnics")])
    print(f"agreement with pyretechnics: {agreement}; one-thread speed-up {ours_1 / (cells / t_ref):,.0f}x")
    return {"landscape": str(landfire), "shape": list(ls.shape), "rows": rows, "agreement": agreement}


# ---------------------------------------------------------------------------------- spread
def bench_spread(sizes: list[int], duration_min: float, sims: int, pyretechnics_sims: int,
                 pyretechnics_max_size: int, repeat_seconds: float, seed: int) -> dict:
    """Simulations per second and memory per simulation on synthetic landscapes (seeded), one
    weather, random burnable ignitions; QAgent with 1 and all threads (and CUDA when present),
    pyretechnics' level set on the smaller grids with the same inputs."""
    from qagent.fire import Weather, sample_ignitions, simulate
    from qagent.landscape import synthetic

    weather = Weather(**BENCH_WEATHER)
    results = []
    for size in sizes:
        ls = synthetic(size, size, seed)
        n = max(8, int(sims * (50 / size) ** 2)) if size > 50 else sims
        ign = sample_ignitions(ls, n, seed)
        row_common = {"grid": f"{size}x{size}", "duration_min": duration_min}
        for threads in sorted({1, os.cpu_count() or 1}):
            with _with_threads(threads):
                simulate(ls, ign[: min(n, 16)], weather, duration_min)  # warm-up
                rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                t, r = _timed(lambda: simulate(ls, ign, weather, duration_min), repeat_seconds, max_reps=5)
                rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            results.append({**row_common, "engine": "qagent", "device": "cpu", "threads": threads, "sims": n,
                            "sims_per_s": n / t, "mean_burned_fraction": float(r.burned_cells.float().mean()) / size**2,
                            "scratch_bytes_per_sim": _cpu_scratch_bytes(size * size, 32),
                            "peak_rss_growth_mib": (rss1 - rss0) / 1024})
        if torch.cuda.is_available():
            lc = ls.to("cuda")
            n_gpu = n * 50
            ign_gpu = sample_ignitions(ls, n_gpu, seed).to("cuda")
            simulate(lc, ign_gpu[:64], weather, duration_min)
            torch.cuda.reset_peak_memory_stats()
            base = torch.cuda.memory_allocated()
            t, r = _timed(lambda: simulate(lc, ign_gpu, weather, duration_min), repeat_seconds, max_reps=5)
            peak = torch.cuda.max_memory_allocated() - base
            results.append({**row_common, "engine": "qagent", "device": "cuda", "threads": None, "sims": n_gpu,
                            "sims_per_s": n_gpu / t,
                            "mean_burned_fraction": float(r.burned_cells.float().mean()) / size**2,
                            "gpu_peak_bytes_per_sim": peak / n_gpu})
        if size <= pyretechnics_max_size and pyretechnics_sims > 0:
            from qagent.oracle import spread_level_set

            grids = _oracle_grids(ls)
            times, burned = [], []
            for k in range(pyretechnics_sims):
                cell = int(ign[k])
                # pyretechnics' own default time step (0.4 cells per step): the fair speed reference
                out = spread_level_set(grids, ls.cell_size_m, divmod(cell, size), duration_min,
                                       max_cells_per_timestep=0.4)
                times.append(out["wall_time_s"])
                burned.append(int(out["burned"].sum()))
            mean_t = float(np.mean(times))
            results.append({**row_common, "engine": "pyretechnics", "device": "cpu", "threads": 1,
                            "sims": pyretechnics_sims, "sims_per_s": 1.0 / mean_t,
                            "mean_burned_fraction": float(np.mean(burned)) / size**2})
            ours = simulate(ls, ign[:pyretechnics_sims], weather, duration_min)
            results[-1]["qagent_mean_burned_fraction_same_ignitions"] = float(ours.burned_cells.float().mean()) / size**2
    by_grid: dict[str, float] = {r["grid"]: r["sims_per_s"] for r in results if r["engine"] == "pyretechnics"}
    for r in results:
        if r["grid"] in by_grid and r["engine"] == "qagent":
            per = r["sims_per_s"] / (r["threads"] or 1) if r["device"] == "cpu" else r["sims_per_s"]
            r["vs_pyretechnics" + ("_per_core" if r["device"] == "cpu" else "")] = per / by_grid[r["grid"]]
    print(f"\nspread: synthetic landscapes (seed {seed}), wind {BENCH_WEATHER['wind_speed_10m']} km/h, "
          f"{duration_min:g} min, 32-direction stencil")
    _print_table(results, [("grid", "grid"), ("engine", "engine"), ("device", "device"), ("threads", "threads"),
                           ("sims", "sims"), ("sims_per_s", "sims/s"), ("mean_burned_fraction", "burned frac"),
                           ("scratch_bytes_per_sim", "scratch B/in-flight sim"), ("gpu_peak_bytes_per_sim", "GPU B/sim"),
                           ("vs_pyretechnics_per_core", "x pyret/core"), ("vs_pyretechnics", "x pyret")])
    return {"sizes": sizes, "duration_min": duration_min, "weather": BENCH_WEATHER, "rows": results}


def _cpu_scratch_bytes(cells: int, stencil: int) -> int:
    """Per-thread scratch of the CPU spread (csrc/cpu/spread_cpu.cpp): Dijkstra 16 B/cell plus
    the cell cache 4 * stencil + 8 B/cell."""
    return cells * (16 + 4 * stencil + 8)


def _oracle_grids(ls) -> dict:
    g = {k: getattr(ls, k).cpu().numpy() for k in ("slope", "aspect", "canopy_cover", "canopy_height",
                                                    "canopy_base_height", "canopy_bulk_density")}
    g["fuel_model"] = ls.fuel_model.cpu().numpy().astype(np.float32)
    g.update({k: np.float32(v) for k, v in BENCH_WEATHER.items()})
    return g


# ---------------------------------------------------------------------------------- CLI
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="qagent-bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--info", action="store_true", help="print the build and devices, then exit")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", type=Path, help="write the results as JSON here")
    sub = parser.add_subparsers(dest="what")
    b = sub.add_parser("behavior", parents=[common],
                       help="cells/s of fire behavior vs pyretechnics on a LANDFIRE landscape")
    b.add_argument("--landfire", type=Path, default=DEFAULT_WORCESTER, help="folder of LANDFIRE GeoTIFFs")
    b.add_argument("--repeat-seconds", type=float, default=2.0)
    s = sub.add_parser("spread", parents=[common], help="simulations/s and memory of fire spread vs pyretechnics")
    s.add_argument("--sizes", type=int, nargs="+", default=[50, 128, 256, 512])
    s.add_argument("--duration-min", type=float, default=1440.0, help="minutes of spread (default 24 h)")
    s.add_argument("--sims", type=int, default=2000, help="simulations at 50x50 (fewer on larger grids)")
    s.add_argument("--pyretechnics-sims", type=int, default=5, help="level-set runs per grid for the reference")
    s.add_argument("--pyretechnics-max-size", type=int, default=128, help="largest grid run with pyretechnics")
    s.add_argument("--repeat-seconds", type=float, default=2.0)
    s.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    facts = machine_facts()
    if args.info or args.what is None:
        for k, v in facts.items():
            print(f"{k:22s} {v}")
        return 0
    print(f"{facts['date']}  {facts['cpu']} ({facts['cores']} cores), {facts.get('gpu', 'no GPU')}, "
          f"qagent {facts['build']} build, torch {facts['torch_version']}")
    if args.what == "behavior":
        if not args.landfire.is_dir():
            print(f"qagent-bench: no LANDFIRE folder at {args.landfire} (use --landfire)", file=sys.stderr)
            return 2
        result = bench_behavior(args.landfire, args.repeat_seconds)
    else:
        result = bench_spread(args.sizes, args.duration_min, args.sims, args.pyretechnics_sims,
                              args.pyretechnics_max_size, args.repeat_seconds, args.seed)
    result = {"benchmark": args.what, "command": "qagent-bench " + " ".join(argv if argv is not None else sys.argv[1:]),
              "machine": facts, **result}
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2, default=str))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
