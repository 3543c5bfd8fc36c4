"""Reference fire-spread results from pyretechnics' Eulerian level set, for validating
qagent's minimum-travel-time spread.

    python benchmarks/make_spread_reference.py [--n 60] [--seed 0] [--size 50 50]
                                               [--out benchmarks/data/spread_reference.npz]
                                               [--timing]

Runs ``make_spread_cases(n, seed, size)`` of benchmarks/oracle.py through its
``spread_level_set`` (default settings: CFL 0.1, Behave length-to-breadth,
wind limit on, no crown length-to-breadth cap), prints each case's burned cells, duration,
fire types and wall time, and writes the file below. ``--timing`` also times the level set
on the benchmark's setting (qagent.bench: synthetic 50 x 50 landscapes, BENCH_WEATHER with
20 km/h wind, 24 h, random burnable ignitions) at CFL 0.1 and at pyretechnics' default 0.4.

File format (``numpy.savez_compressed``; read it with ``load_spread_reference`` of benchmarks/oracle.py),
N cases on one [H, W] north-up grid (row 0 = north edge):

- ``format_version`` int32 (1); ``pyretechnics_version`` str; ``settings_json`` str: the
  keyword arguments of ``spread_level_set`` used (JSON)
- ``landscape_fields`` [7] str: slope, aspect, fuel_model, canopy_cover, canopy_height,
  canopy_base_height, canopy_bulk_density; ``weather_fields`` [8] str: wind_speed_10m,
  upwind_direction, fuel_moisture_dead_1hr, _10hr, _100hr, fuel_moisture_live_herbaceous,
  fuel_moisture_live_woody, foliar_moisture
- ``names``, ``descriptions`` [N] str
- ``cell_size_m`` [N] float64 (m); ``ignition_rc`` [N, 2] int32 (row, col);
  ``duration_min`` [N] float64
- ``landscape`` [N, 7, H, W] float32, in ``landscape_fields`` order and pyretechnics' units
  (= qagent's: rise/run, degrees clockwise from north, integer fuel codes, fraction, m, m,
  kg/m3); ``weather`` [N, 8] float64, in ``weather_fields`` order (km/h at 10 m, degrees the
  wind blows from, moisture fractions); weather is uniform over the grid
- ``arrival_time_min`` [N, H, W] float32: minutes from ignition to the front reaching the
  cell, +inf where unburned within the duration
- ``fire_type`` [N, H, W] uint8: 0 unburned, 1 surface, 2 passive crown, 3 active crown, as
  pyretechnics reports it (the front's type normal to itself when it crossed the cell)
- ``wall_time_s`` [N] float64: seconds pyretechnics spent on each case

Elevation is not stored: neither model's spread uses it (slope and aspect carry the terrain).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from oracle import (
    LEVEL_SET_BUFFER_WIDTH,
    LEVEL_SET_MAX_CELLS_PER_TIMESTEP,
    make_spread_cases,
    save_spread_reference,
    spread_level_set,
)

DEFAULT_OUT = Path(__file__).resolve().parent / "data" / "spread_reference.npz"
SETTINGS = {"lw_ratio_model": "behave", "use_wind_limit": True, "crown_max_lw_ratio": 1e10,
            "max_cells_per_timestep": LEVEL_SET_MAX_CELLS_PER_TIMESTEP}


def make_reference(n: int, seed: int, size: tuple[int, int], out: Path) -> None:
    start = time.perf_counter()
    cases = make_spread_cases(n, seed, size)
    print(f"{len(cases)} cases on {size[0]} x {size[1]} cells built in {time.perf_counter() - start:.1f} s\n")
    print(f"{'case':<14} {'duration':>8} {'burned':>6} {'edge':>4} {'surface/passive/active':>22} {'wall s':>7}")
    results = []
    for case in cases:
        r = spread_level_set(case["grids"], case["cell_size_m"], case["ignition_rc"], case["duration_min"],
                             **SETTINGS)
        results.append(r)
        burned = r["burned"]
        types = np.bincount(r["fire_type"][burned], minlength=4)[1:]
        print(f"{case['name']:<14} {case['duration_min']:>8g} {int(burned.sum()):>6} {_edge_cells(burned):>4} "
              f"{'/'.join(str(int(t)) for t in types):>22} {r['wall_time_s']:>7.3f}   {case['description']}")
    walls = np.array([r["wall_time_s"] for r in results])
    print(f"\nwall time per case: min {walls.min():.4f} s, median {np.median(walls):.4f} s, mean {walls.mean():.4f} s, "
          f"90th percentile {np.percentile(walls, 90):.4f} s, max {walls.max():.4f} s, total {walls.sum():.2f} s")
    reaching = sum(_edge_cells(r["burned"]) > 0 for r in results)
    print(f"fires reaching the grid's outermost cells: {reaching} of {len(results)}")
    out.parent.mkdir(parents=True, exist_ok=True)
    save_spread_reference(out, cases, results, {**SETTINGS, "buffer_width": LEVEL_SET_BUFFER_WIDTH})
    print(f"wrote {out} ({out.stat().st_size / 2**20:.2f} MiB)")


def _edge_cells(burned: np.ndarray) -> int:
    edge = np.ones_like(burned)
    edge[1:-1, 1:-1] = False
    return int((burned & edge).sum())


def time_benchmark_setting(sims: int, seed: int) -> None:
    """Mean level-set wall time on qagent-bench's spread setting at 50 x 50."""
    from qagent.bench import BENCH_WEATHER
    from qagent.landscape import synthetic

    ls = synthetic(50, 50, seed)
    grids = {k: getattr(ls, k).cpu().numpy() for k in ("slope", "aspect", "canopy_cover", "canopy_height",
                                                        "canopy_base_height", "canopy_bulk_density")}
    grids["fuel_model"] = ls.fuel_model.cpu().numpy()
    grids.update(BENCH_WEATHER)
    burnable = np.flatnonzero(ls.burnable_mask().cpu().numpy())
    ignitions = np.random.default_rng(seed).choice(burnable, sims)
    print(f"\nbenchmark setting: synthetic 50 x 50 (seed {seed}), wind {BENCH_WEATHER['wind_speed_10m']} km/h, "
          f"1440 min, {sims} ignitions")
    for cfl in (LEVEL_SET_MAX_CELLS_PER_TIMESTEP, 0.4):
        runs = [spread_level_set(grids, ls.cell_size_m, divmod(int(c), 50), 1440.0, max_cells_per_timestep=cfl)
                for c in ignitions]
        walls = np.array([r["wall_time_s"] for r in runs])
        burned = np.array([r["burned"].sum() for r in runs])
        print(f"  CFL {cfl}: mean {walls.mean():.3f} s, median {np.median(walls):.3f} s, max {walls.max():.3f} s "
              f"per simulation; mean burned {burned.mean():.0f} cells")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=60, help="number of cases")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--size", type=int, nargs=2, default=(50, 50), metavar=("H", "W"))
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    p.add_argument("--timing", action="store_true", help="also time the level set on qagent-bench's setting")
    p.add_argument("--timing-sims", type=int, default=20)
    args = p.parse_args(argv)
    make_reference(args.n, args.seed, tuple(args.size), args.out)
    if args.timing:
        time_benchmark_setting(args.timing_sims, args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
