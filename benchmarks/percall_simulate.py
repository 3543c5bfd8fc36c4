"""Per-call cost of ``qagent.fire.simulate`` for one fire (or a few) per call, against the
spread op's own time on the same fires:

    OMP_NUM_THREADS=1 python benchmarks/percall_simulate.py [--landfire DIR] [--calls 2000]
        [--batch 1] [--repeats 3] [--profile out.prof] [--save ref.pt] [--compare ref.pt]

Fires: ``DEFAULT_SCENARIO.draw`` on the whole LANDFIRE raster (seed 0), each call one fire's
ignition [batch], its WeatherSamples [batch] (built before timing) and duration (numpy
[batch]). Prints the median and best per-call wall time (``time.perf_counter``) of
``simulate`` with and without burn counts, and of the op alone (``qagent._ops.spread`` on
prepared lazy-parameter inputs). ``--save`` writes every call's outputs (burned cells, burn
counts as sparse indices, arrival times of the first 50 calls) to compare another build with
``--compare`` (``torch.equal``)."""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from qagent import _ops
from qagent.fire import simulate
from qagent.fire.scenario import DEFAULT_SCENARIO
from qagent.fire.spread import LandscapeStack
from qagent.fire.weather import WEATHER_FIELDS, WeatherSamples
from qagent.landscape.landfire import load_landfire


def _per_call(fn, calls: int) -> list[float]:
    out = []
    for i in range(calls):
        t0 = time.perf_counter()
        fn(i)
        out.append(time.perf_counter() - t0)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--landfire", default="../shared/landfire/worcester_vt")
    p.add_argument("--calls", type=int, default=2000)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--profile", default=None, help="write a cProfile of the simulate() calls here")
    p.add_argument("--save", default=None)
    p.add_argument("--compare", default=None)
    a = p.parse_args()
    torch.set_num_threads(1)
    ls = load_landfire(a.landfire)
    n, b = a.calls, a.batch
    fires = DEFAULT_SCENARIO.draw(ls, n * b, np.random.default_rng(0))
    ign = fires.ignitions
    dur = fires.duration_min
    ws = [WeatherSamples(*(getattr(fires.weather, f)[i * b:(i + 1) * b] for f in WEATHER_FIELDS)) for i in range(n)]

    def call(i, **kw):
        return simulate(ls, ign[i * b:(i + 1) * b], ws[i], dur[i * b:(i + 1) * b], **kw)

    # The op alone: lazy parameters of each call's weather rows, prepared before timing.
    stack = LandscapeStack.of([ls], "cpu")
    h, w = ls.shape
    empty_params = torch.empty((0, _ops.NUM_SPREAD_PARAMS, h, w))
    blocked = torch.zeros((0, h, w), dtype=torch.uint8)
    rows = [x.as_op_tensor("cpu") for x in ws]
    zeros = torch.zeros(b, dtype=torch.int64)
    param_index = torch.arange(b, dtype=torch.int64)
    minus = torch.full((b,), -1, dtype=torch.int64)
    durs = [torch.from_numpy(dur[i * b:(i + 1) * b].copy()) for i in range(n)]

    def op(i):
        return _ops.spread(empty_params, blocked, ign[i * b:(i + 1) * b], param_index, minus, minus, durs[i], 0,
                           ls.cell_size_m, 32, False, _ops.ALGORITHMS["auto"], stack.terrain, stack.fuel, rows[i],
                           zeros, 0, True, 1e10)

    call(0)
    op(0)
    results = {}
    for name, fn in (("simulate", lambda i: call(i)),
                     ("simulate, return_burn_count=False", lambda i: call(i, return_burn_count=False)),
                     ("op alone", op)):
        med, best = [], []
        for _ in range(a.repeats):
            t = _per_call(fn, n)
            med.append(statistics.median(t))
            best.append(min(t))
        results[name] = (min(med), min(best))
        print(f"{name:36s} median {min(med) * 1e6:8.1f} us per call (best of {a.repeats} medians: "
              f"{', '.join(f'{m * 1e6:.1f}' for m in med)}), fastest call {min(best) * 1e6:.1f} us")
    with open("/proc/loadavg") as f:
        print("load average:", f.read().strip())

    if a.profile:
        import cProfile

        prof = cProfile.Profile()
        prof.enable()
        for i in range(n):
            call(i)
        prof.disable()
        prof.dump_stats(a.profile)

    if a.save or a.compare:
        out = {"burned": [], "count_idx": [], "arrival": []}
        for i in range(n):
            r = call(i, return_arrival=i < 50)
            out["burned"].append(r.burned_cells.clone())
            out["count_idx"].append(torch.nonzero(r.burn_count.reshape(-1)).reshape(-1))
            if i < 50:
                out["arrival"].append(r.arrival_time_min.clone())
        if a.save:
            torch.save(out, a.save)
            print("saved", a.save)
        if a.compare:
            ref = torch.load(a.compare)
            same = all(torch.equal(x, y) for k in out for x, y in zip(out[k], ref[k]))
            same = same and all(len(out[k]) == len(ref[k]) for k in out)
            print("bit-identical to", a.compare, ":", same)


if __name__ == "__main__":
    main()
