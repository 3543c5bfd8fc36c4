"""Fires that cost what they touch (issue 13): lazy spread parameters equal eager ones to the
bit, paged per-thread scratch reused across fires, grids and calls equals fresh scratch, the
relaxation's windows re-run a fire that outgrows them, per-call caches, and a 4096 x 4096
landscape within a memory bound (peak resident set of a subprocess)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qagent import _ext
from qagent.fire import Weather, WeatherSamples, simulate
from qagent.fire.spread import LandscapeStack, run_spread
from qagent.landscape import Landscape, synthetic
from test_spread import random_landscape, weather

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def samples(rng: np.random.Generator, shape) -> WeatherSamples:
    """Per-fire weather spanning the default scenario's range and beyond."""
    m1 = rng.uniform(0.03, 0.12, shape)
    herb = rng.uniform(0.3, 1.2, shape)
    return WeatherSamples(rng.uniform(0, 45, shape), rng.uniform(0, 360, shape), m1, m1 + 0.01, m1 + 0.02, herb,
                          herb + 0.3, rng.uniform(0.9, 1.2, shape))


def same(a, b) -> bool:
    return (torch.equal(a.burned_cells, b.burned_cells) and torch.equal(a.burn_count, b.burn_count)
            and (a.arrival_time_min is None or torch.equal(a.arrival_time_min, b.arrival_time_min)))


@st.composite
def lazy_cases(draw, max_side=14):
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    h, w = draw(st.integers(1, max_side)), draw(st.integers(1, max_side))
    ls = random_landscape(rng, h, w, nonburnable_fraction=draw(st.sampled_from([0.0, 0.1, 0.3])))
    breaks = rng.random((h, w)) < draw(st.sampled_from([0.0, 0.1, 0.25]))
    n = draw(st.integers(1, 5))
    ign = rng.integers(0, h * w, size=n)
    duration = rng.choice([0.0, 10.0, 60.0, 300.0, 1440.0], size=n).astype(np.float32)
    stencil = draw(st.sampled_from([16, 32]))
    algorithm = draw(st.sampled_from(["dijkstra", "relax", "dijkstra_uncached"]))
    window = draw(st.sampled_from([0, 1, 3, 8]))
    return ls, breaks, samples(rng, (n,)), ign, duration, stencil, algorithm, window


# --------------------------------------------------------------------------- lazy == eager
@SETTINGS
@given(lazy_cases())
def test_lazy_parameters_equal_eager_ones(case):
    """Per-fire weather, breaks, both stencils, every algorithm (the relaxation in windows so
    small that most fires overflow and re-run): lazy parameters give the eager results to the
    bit, and so does one weather for all fires."""
    ls, breaks, wx, ign, duration, stencil, algorithm, window = case
    kw = dict(fuel_breaks=breaks, return_arrival=True, stencil=stencil, algorithm=algorithm, relax_window=window)
    eager = simulate(ls, ign, wx, duration, params="eager", **kw)
    assert same(simulate(ls, ign, wx, duration, params="lazy", **kw), eager)
    reference = simulate(ls, ign, wx, duration, params="eager", fuel_breaks=breaks, return_arrival=True,
                         stencil=stencil, algorithm="dijkstra")
    assert same(eager, reference)  # and every algorithm agrees with Dijkstra
    one = weather(wind=float(wx.wind_speed_10m[0]), upwind=float(wx.upwind_direction[0]))
    assert same(simulate(ls, ign, one, duration, params="lazy", **kw),
                simulate(ls, ign, one, duration, params="eager", **kw))


def test_lazy_equals_eager_on_synthetic_landscapes_and_batches():
    """Larger fires (24 hours) on synthetic landscapes, E landscapes with per-fire weather and
    breaks, gridded weather: lazy = eager for Dijkstra and for the relaxation."""
    rng = np.random.default_rng(5)
    lss = [synthetic(70, 90, seed) for seed in (1, 2)]
    ign = np.stack([rng.choice(torch.nonzero(x.burnable_mask().reshape(-1)).reshape(-1).numpy(), 6) for x in lss])
    wx = samples(rng, (2, 6))
    breaks = rng.random((2, 70, 90)) < 0.03
    duration = rng.uniform(60, 1440, (2, 6)).astype(np.float32)
    eager = simulate(lss, ign, wx, duration, fuel_breaks=breaks, return_arrival=True, params="eager")
    assert int(eager.burned_cells.max()) > 500
    for algorithm, window in (("dijkstra", 0), ("relax", 0), ("relax", 5)):
        lazy = simulate(lss, ign, wx, duration, fuel_breaks=breaks, return_arrival=True, params="lazy",
                        algorithm=algorithm, relax_window=window)
        assert same(lazy, eager), (algorithm, window)
    gridded = Weather(torch.from_numpy(rng.uniform(0, 30, (70, 90))).float(), 250.0, 0.05, 0.06, 0.07, 0.6, 0.9, 1.0)
    a = simulate(lss[0], ign[0], gridded, 600.0, return_arrival=True, params="eager")
    for algorithm in ("dijkstra", "relax"):
        assert same(simulate(lss[0], ign[0], gridded, 600.0, return_arrival=True, params="lazy", algorithm=algorithm,
                             relax_window=7), a)


def test_op_mixes_precomputed_grids_and_lazy_rows():
    """One call to the spread op whose simulations read precomputed grids (param_index < P)
    and lazy weather rows (param_index >= P) gives each what it gets alone."""
    rng = np.random.default_rng(2)
    ls = random_landscape(rng, 20, 24)
    stack = LandscapeStack([ls], "cpu")
    rows = samples(rng, (4,)).as_op_tensor("cpu")
    index = torch.zeros(4, dtype=torch.int64)
    grids = stack.spread_params(rows, index)  # P = 4 grids of the same rows
    lazy = stack.lazy_params(rows, index)
    ign = torch.from_numpy(rng.integers(0, 480, 8))
    duration = torch.full((8,), 300.0)
    mixed = torch.tensor([0, 4, 1, 5, 2, 6, 3, 7])  # grid b or lazy row b (4 + b), alternately
    as_grids = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])
    for algorithm in ("dijkstra", "relax"):
        got = run_spread(grids, mixed, ign, duration, cell_size_m=30.0, return_arrival=True, lazy=lazy,
                         algorithm=algorithm)
        want = run_spread(grids, as_grids, ign, duration, cell_size_m=30.0, return_arrival=True, algorithm=algorithm)
        only_lazy = run_spread(None, as_grids, ign, duration, cell_size_m=30.0, return_arrival=True, lazy=lazy,
                               algorithm=algorithm)
        for a, b, c in zip(got, want, only_lazy):
            assert torch.equal(a, b) and torch.equal(a, c)


# --------------------------------------------------------------------------- scratch reuse
def _scratch_workload():
    """Calls on grids of different shapes, fires from nothing to most of the grid, per-fire
    and shared weather, breaks, both algorithms."""
    rng = np.random.default_rng(11)
    calls = []
    for h, w in [(40, 40), (7, 300), (130, 90), (40, 40), (1, 1), (65, 33)]:
        ls = random_landscape(rng, h, w, nonburnable_fraction=0.05)
        n = 12
        ign = rng.integers(0, h * w, n)
        duration = rng.choice([0.0, 20.0, 200.0, 2000.0], n).astype(np.float32)
        breaks = rng.random((h, w)) < 0.04
        for wx in (samples(rng, (n,)), weather(wind=25.0)):
            for algorithm in ("dijkstra", "relax"):
                calls.append((ls, ign, wx, duration, breaks, algorithm))
    return calls


@pytest.mark.parametrize("threads", [1, 2])
def test_reused_scratch_equals_fresh_scratch(threads):
    """The per-thread page pools, kept across fires and calls of different sizes and grid
    shapes, give the same results as fresh pools for every call."""
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        calls = _scratch_workload()
        reused = [simulate(ls, ign, wx, d, fuel_breaks=b, return_arrival=True, algorithm=a)
                  for ls, ign, wx, d, b, a in calls]
        for (ls, ign, wx, d, b, a), r in zip(calls, reused):
            _ext.load().release_spread_scratch()
            fresh = simulate(ls, ign, wx, d, fuel_breaks=b, return_arrival=True, algorithm=a)
            assert same(r, fresh)
        # what threads keep between calls is capped (64 MiB of pools each, plus page tables)
        assert _ext.load().spread_scratch_bytes() < threads * 80 * 2**20
    finally:
        torch.set_num_threads(old)


def test_burn_counts_can_be_skipped():
    rng = np.random.default_rng(4)
    ls = random_landscape(rng, 30, 30)
    wx = samples(rng, (10,))
    ign = rng.integers(0, 900, 10)
    full = simulate(ls, ign, wx, 300.0)
    light = simulate(ls, ign, wx, 300.0, return_burn_count=False)
    assert light.burn_count is None and torch.equal(light.burned_cells, full.burned_cells)
    b, c, _ = run_spread(None, torch.arange(10), torch.from_numpy(ign), torch.full((10,), 300.0), cell_size_m=30.0,
                         num_count_rows=0, lazy=LandscapeStack([ls], "cpu").lazy_params(wx.as_op_tensor("cpu"),
                                                                                        torch.zeros(10, dtype=torch.int64)))
    assert c.shape == (0, 30, 30) and torch.equal(b, full.burned_cells)


# --------------------------------------------------------------------------- per-call caches
def test_landscape_caches_follow_the_layers(monkeypatch):
    ls = random_landscape(np.random.default_rng(0), 6, 5)
    t = ls.terrain_tensor()
    assert ls.terrain_tensor() is t
    assert LandscapeStack.of([ls], "cpu") is LandscapeStack.of([ls], "cpu")
    other = random_landscape(np.random.default_rng(1), 6, 5)
    many = LandscapeStack.of([ls, other], "cpu")
    assert LandscapeStack.of([ls, other], "cpu") is many
    other.slope[0, 0] = 0.5  # in place: the caches see it
    assert LandscapeStack.of([ls, other], "cpu") is not many
    ls.canopy_cover = ls.canopy_cover.clone()  # replaced: rebuilt
    t2 = ls.terrain_tensor()
    assert t2 is not t and torch.equal(t2, t)
    ls.slope.mul_(0.5)
    assert ls.terrain_tensor()[0, 0] == ls.slope[0, 0]
    with pytest.raises(ValueError, match="read-only"):
        LandscapeStack.of([ls], "cpu").set(0, ls)
    # a copy on another device is not validated again
    import qagent.landscape.core as core

    def fail(*args, **kwargs):
        raise AssertionError("validated again")

    monkeypatch.setattr(core, "check_range", fail)
    copy = ls.to("cpu")
    assert copy is not ls and torch.equal(copy.terrain_tensor(), ls.terrain_tensor())
    assert ls.burnable_cells() is ls.burnable_cells()


# --------------------------------------------------------------------------- memory bound
_MEMORY_SCRIPT = textwrap.dedent("""
    import json, resource, sys
    import numpy as np, torch
    torch.set_num_threads(2)
    from qagent.fire import Weather, WeatherSamples, simulate
    from qagent.landscape import Landscape

    n = 4096
    full = lambda v: torch.full((n, n), v, dtype=torch.float32)
    fuel = torch.full((n, n), 102, dtype=torch.int32)
    fuel[:, ::61] = 98  # water lines: patchy fires
    ls = Landscape(slope=full(0.15), aspect=full(200.0), elevation=full(300.0), fuel_model=fuel,
                   canopy_cover=full(0.0), canopy_height=full(0.0), canopy_base_height=full(0.0),
                   canopy_bulk_density=full(0.0))
    ls.terrain_tensor()  # what the ops read, cached with the landscape
    rng = np.random.default_rng(0)
    k = 16
    ign = rng.integers(0, n * n, k)
    m1 = rng.uniform(0.04, 0.08, k)
    wx = WeatherSamples(rng.uniform(5, 30, k), rng.uniform(180, 270, k), m1, m1 + 0.01, m1 + 0.02,
                        np.full(k, 0.6), np.full(k, 0.9), np.full(k, 1.0))
    duration = rng.uniform(60, 360, k)
    simulate(ls, ign[:2], WeatherSamples(*(getattr(wx, f)[:2] for f in wx.__dataclass_fields__)), duration[:2])

    def rss_kib():
        for line in open("/proc/self/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1])

    try:  # restart the peak from here (Linux: clear_refs 5 resets the high-water mark)
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        reset = True
    except OSError:
        reset = False
    base = rss_kib()
    a = simulate(ls, ign, wx, duration)
    b = simulate(ls, ign, Weather(20.0, 225.0, 0.05, 0.06, 0.07, 0.6, 0.9, 1.0), duration, return_burn_count=False)
    c = simulate(ls, ign, wx, duration, algorithm="relax")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert torch.equal(a.burn_count, c.burn_count)
    print(json.dumps({"reset": reset, "base_kib": base, "peak_kib": peak,
                      "burned": [int(x) for x in a.burned_cells], "burned_one": int(b.burned_cells.sum())}))
""")


def test_4096_landscape_runs_within_a_memory_bound():
    """16 fires with per-fire weather, then with one weather, then the relaxation, on a
    4096 x 4096 landscape (16.8 M cells), two threads: the peak resident set grows by less
    than 200 MiB over the landscape's own memory, of which two burn-count outputs
    [4096, 4096] int32 are 128 MiB. Eager per-fire parameters alone would take 384 MiB per fire
    and the former per-thread scratch 256 MiB per thread."""
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    out = subprocess.run([sys.executable, "-c", _MEMORY_SCRIPT], capture_output=True, text=True, env=env, cwd=ROOT,
                         timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    r = json.loads(out.stdout.strip().splitlines()[-1])
    grown_mib = (r["peak_kib"] - r["base_kib"]) / 1024
    assert sum(r["burned"]) > 100 and r["burned_one"] > 0
    if r["reset"]:
        assert grown_mib < 200, f"peak resident memory grew by {grown_mib:.0f} MiB"
