"""Burned cells per second of large fires on one core, with and without the fire behaviour in
the figure (BENCHMARKS.md, "With the fire behaviour taken away"):

    OMP_NUM_THREADS=1 python benchmarks/large_fires_search.py [--side 1024] [--repeats 3]

The large fires of ``qagent-bench scale`` (``qagent.bench.large_fire_*``: 24 h at 30 km/h on
uniform grass, GR2, 10 % slope; one at the centre, three at cells drawn with seed 0), one
weather, the Dijkstra without its step-time cache, 32 and 16 directions. "lazy": each cell's spread parameters computed when a fire first reaches it
(fire behaviour included); "eager": the parameters precomputed for the whole grid, and the
time of a call that only computes them (one fire of zero duration) taken off, which leaves the
search alone. Best of ``--repeats`` CPU-time runs (``time.thread_time``)."""

from __future__ import annotations

import argparse
import time

import torch

from qagent.bench import large_fire_grass, large_fire_ignitions, large_fire_weather
from qagent.fire import simulate


def best_cpu_s(repeats: int, call) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.thread_time()
        call()
        best = min(best, time.thread_time() - t0)
    return best


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--side", type=int, default=1024, help="grid side in cells (default 1024)")
    p.add_argument("--repeats", type=int, default=3, help="runs of each call; the best is kept (default 3)")
    a = p.parse_args()
    torch.set_num_threads(1)
    windy = large_fire_weather()
    grass = large_fire_grass(a.side)
    ignitions = large_fire_ignitions(grass, 4, seed=0)
    for stencil in (32, 16):
        for params in ("lazy", "eager"):
            def fires(params=params, stencil=stencil):
                return simulate(grass, ignitions, windy, 1440.0, params=params, algorithm="dijkstra_uncached",
                                stencil=stencil)

            def parameters_only(params=params, stencil=stencil):
                return simulate(grass, ignitions[:1], windy, 0.0, params=params, algorithm="dijkstra_uncached",
                                stencil=stencil)

            burned = int(fires().burned_cells.sum())
            total_s = best_cpu_s(a.repeats, fires)
            overhead_s = best_cpu_s(a.repeats, parameters_only)
            print(f"stencil {stencil} {params:5s}: {burned} burned cells in {total_s:.3f} s "
                  f"({burned / total_s / 1e6:.2f} M cells/s); without a call's own cost ({overhead_s:.3f} s) "
                  f"{burned / (total_s - overhead_s) / 1e6:.2f} M cells/s")


if __name__ == "__main__":
    main()
