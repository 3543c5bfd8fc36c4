"""A fixed spread workload for instruction counts, which a shared machine does not disturb:

    valgrind --tool=callgrind --toggle-collect='qagent::CpuOps::spread*omp_fn*' \\
        python benchmarks/callgrind_spread.py [--landfire DIR] [--fires 1000] [--calls 2]

counts only the spread op's parallel region. Fires: the default scenario on the whole
LANDFIRE raster (seed 0), one thread. Prints the CPU time per fire and the burned cells (the
same workload gives the same sum)."""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from qagent.fire import sample_ignitions, simulate
from qagent.fire.scenario import DEFAULT_SCENARIO
from qagent.landscape.landfire import load_landfire


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--landfire", default="../shared/landfire/worcester_vt")
    p.add_argument("--fires", type=int, default=1000)
    p.add_argument("--calls", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(1)
    ls = load_landfire(a.landfire)
    ign = sample_ignitions(ls, a.fires, 0)
    weather, duration = DEFAULT_SCENARIO.sample(a.fires, np.random.default_rng(0))
    best = float("inf")
    for _ in range(a.calls):
        t0 = time.thread_time()
        r = simulate(ls, ign, weather, duration, return_burn_count=False)
        best = min(best, time.thread_time() - t0)
    print(f"{best / a.fires * 1e6:.2f} us per fire (best of {a.calls}), burned cells {int(r.burned_cells.sum())}")


if __name__ == "__main__":
    main()
