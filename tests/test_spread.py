"""The spread op and qagent.fire.simulate: algorithm equivalence (the CUDA relaxation run on
the CPU against Dijkstra), physical properties, batching, chunking, bad input, op contract."""

from __future__ import annotations

import resource

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qagent._validation import InputError
from qagent.fire import Weather, WeatherSamples, behavior, burn_probability, sample_ignitions, simulate
from qagent.landscape import Landscape

FUELS = np.array([101, 102, 104, 122, 142, 145, 162, 165, 183, 186, 4, 9, 91, 98, 99])


def random_landscape(rng: np.random.Generator, h: int, w: int, nonburnable_fraction: float = 0.15) -> Landscape:
    fuel = rng.choice(FUELS[:-3], size=(h, w))
    fuel[rng.random((h, w)) < nonburnable_fraction] = 98
    ch = rng.uniform(0, 30, (h, w)).astype(np.float32)
    return Landscape(
        slope=rng.uniform(0, 0.8, (h, w)), aspect=rng.uniform(0, 360, (h, w)), elevation=np.zeros((h, w)),
        fuel_model=fuel, canopy_cover=rng.uniform(0, 1, (h, w)), canopy_height=ch,
        canopy_base_height=ch * rng.uniform(0, 0.3, (h, w)).astype(np.float32),
        canopy_bulk_density=rng.uniform(0.02, 0.3, (h, w)),
    )


def uniform_landscape(h: int, w: int, fuel: int = 102, slope: float = 0.0, aspect: float = 0.0) -> Landscape:
    f = lambda v: np.full((h, w), v, dtype=np.float32)  # noqa: E731
    return Landscape(slope=f(slope), aspect=f(aspect), elevation=f(0), fuel_model=np.full((h, w), fuel),
                     canopy_cover=f(0), canopy_height=f(0), canopy_base_height=f(0), canopy_bulk_density=f(0))


def weather(wind=15.0, upwind=270.0, m1=0.06, **kw) -> Weather:
    return Weather(wind, upwind, m1, kw.get("m10", 0.07), kw.get("m100", 0.08), kw.get("herb", 0.6),
                   kw.get("woody", 0.9), kw.get("foliar", 1.0))


@st.composite
def spread_cases(draw, max_side=12):
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    h, w = draw(st.integers(1, max_side)), draw(st.integers(1, max_side))
    ls = random_landscape(rng, h, w, nonburnable_fraction=draw(st.sampled_from([0.0, 0.1, 0.3])))
    breaks = rng.random((h, w)) < draw(st.sampled_from([0.0, 0.1, 0.25]))
    wx = weather(wind=draw(st.floats(0, 50)), upwind=draw(st.floats(0, 360)), m1=draw(st.floats(0.03, 0.2)))
    ign = rng.integers(0, h * w, size=draw(st.integers(1, 4)))
    duration = draw(st.sampled_from([0.0, 10.0, 60.0, 300.0, 1440.0]))
    stencil = draw(st.sampled_from([16, 32]))
    return ls, breaks, wx, ign, duration, stencil


SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --------------------------------------------------------------------------- equivalence
@SETTINGS
@given(spread_cases())
def test_relaxation_equals_dijkstra(case):
    """The GPU algorithm (run here with one lane) and the CPU algorithms burn the same cells with
    the same arrival times, to the bit: both compute the same sums of the same step times."""
    ls, breaks, wx, ign, duration, stencil = case
    runs = [simulate(ls, ign, wx, duration, fuel_breaks=breaks, return_arrival=True, algorithm=a, stencil=stencil)
            for a in ("dijkstra", "relax", "dijkstra_uncached")]
    for r in runs[1:]:
        assert torch.equal(r.arrival_time_min, runs[0].arrival_time_min)
        assert torch.equal(r.burned_cells, runs[0].burned_cells)
        assert torch.equal(r.burn_count, runs[0].burn_count)


@pytest.mark.parametrize("stencil", [16, 32])
def test_relaxation_equals_dijkstra_on_fires_across_scratch_pages(stencil):
    """The CPU Dijkstra reads a cell's stencil through its 32 x 32 scratch page when the whole
    stencil lies in it and through the page tables otherwise (csrc/cpu/spread_cpu.cpp): fires
    that cross many pages and reach the grid's edges, through breaks and unburnable cells, give
    the relaxation's times to the bit. The fires share a weather, so the step-time cache serves
    the later ones, and are larger than the part of a fire it serves (kMaxCachedCellsPerFire)."""
    rng = np.random.default_rng(11)
    h, w = 113, 127
    ls = random_landscape(rng, h, w, nonburnable_fraction=0.1)
    breaks = rng.random((h, w)) < 0.05
    ign = torch.tensor([0, w - 1, (h // 2) * w + w // 2, (h - 1) * w + 5, 31 * w + 32, 64 * w + 63])
    wx = weather(wind=30.0, upwind=200.0)
    runs = [simulate(ls, ign, wx, 600.0, fuel_breaks=breaks, return_arrival=True, algorithm=a, stencil=stencil)
            for a in ("dijkstra", "relax", "dijkstra_uncached")]
    assert int((runs[0].burned_cells > 4096).sum()) >= 3, runs[0].burned_cells  # more cells than the cache serves
    for r in runs[1:]:
        assert torch.equal(r.arrival_time_min, runs[0].arrival_time_min)
        assert torch.equal(r.burned_cells, runs[0].burned_cells)


def test_step_cache_dropped_mid_call_gives_the_same_fires():
    """The step-time cache is judged by its hits after 2^16 steps asked of it and dropped for
    the rest of the call when fires rarely meet (csrc/cpu/spread_cpu.cpp, step_cache_pays):
    thousands of short one-weather fires scattered over a large grid (the cache dropped) and
    crowded on a small window (kept) burn what the uncached search burns, cell for cell."""
    rng = np.random.default_rng(5)
    h, w = 384, 416
    ls = random_landscape(rng, h, w, nonburnable_fraction=0.1)
    breaks = rng.random((h, w)) < 0.03
    wx = weather(wind=15.0, upwind=120.0)
    n = 3000
    scattered = torch.from_numpy(rng.integers(0, h * w, n))
    crowded = torch.from_numpy(rng.integers(0, 24, n) * w + rng.integers(0, 24, n))
    durations = torch.from_numpy(rng.uniform(5.0, 60.0, n).astype(np.float32))
    for ign in (scattered, crowded):
        cached, direct = (simulate(ls, ign, wx, durations, fuel_breaks=breaks, algorithm=a)
                          for a in ("dijkstra", "dijkstra_uncached"))
        assert int(cached.burned_cells.sum()) > 2 ** 14  # about ten steps asked per burned cell: judged
        assert torch.equal(cached.burned_cells, direct.burned_cells)
        assert torch.equal(cached.burn_count, direct.burn_count)


# --------------------------------------------------------------------------- properties
@SETTINGS
@given(spread_cases())
def test_spread_properties(case):
    ls, breaks, wx, ign, duration, stencil = case
    kw = dict(return_arrival=True, stencil=stencil)
    free = simulate(ls, ign, wx, duration, **kw)
    broken = simulate(ls, ign, wx, duration, fuel_breaks=breaks, **kw)
    longer = simulate(ls, ign, wx, duration * 2 + 1, fuel_breaks=breaks, **kw)
    again = simulate(ls, ign, wx, duration, fuel_breaks=breaks, **kw)
    a_free, a_broken, a_longer = free.arrival_time_min, broken.arrival_time_min, longer.arrival_time_min
    burned = torch.isfinite(a_broken)
    # fuel breaks never add burned cells, and only delay arrival
    assert not bool((burned & ~torch.isfinite(a_free)).any())
    assert bool((a_broken >= a_free).all())
    assert bool((broken.burned_cells <= free.burned_cells).all())
    # burned cells are burnable, spread fire, and are not breaks
    rate = behavior(ls, wx).spread_rate
    can_burn = (rate > 0) & ~torch.from_numpy(breaks)
    assert not bool((burned & ~can_burn).any())
    # an ignition arrives at 0 if it can burn, else nothing burns
    for s, cell in enumerate(ign):
        r, c = divmod(int(cell), ls.width)
        if can_burn[r, c]:
            assert a_broken[s, r, c].item() == 0.0
        else:
            assert broken.burned_cells[s].item() == 0
    # a longer duration never burns less, and keeps the earlier arrival times
    assert bool((longer.burned_cells >= broken.burned_cells).all())
    assert torch.equal(a_longer[burned], a_broken[burned])
    # within the duration, burned counts and arrival grids agree
    assert torch.equal(broken.burned_cells, burned.sum(dim=(1, 2)).to(torch.int32))
    assert torch.equal(broken.burn_count, burned.sum(dim=0).to(torch.int32))
    assert bool((a_broken[burned] <= duration).all())
    # deterministic
    assert torch.equal(again.arrival_time_min, a_broken)


@pytest.mark.parametrize("stencil", [16, 32])
def test_no_wind_no_slope_footprint_is_symmetric(stencil):
    ls = uniform_landscape(21, 21)
    a = simulate(ls, [10 * 21 + 10], weather(wind=0.0), 500.0, return_arrival=True, stencil=stencil)
    t = a.arrival_time_min[0]
    assert 1 < a.burned_cells.item() < 21 * 21
    for sym in (torch.flip(t, [0]), torch.flip(t, [1]), t.T, torch.rot90(t)):
        torch.testing.assert_close(sym, t, rtol=1e-6, atol=0)


def test_wind_and_slope_push_the_fire():
    ls = uniform_landscape(31, 31)
    centre = 15 * 31 + 15
    t = simulate(ls, [centre], weather(wind=20.0, upwind=270.0), 80.0, return_arrival=True).arrival_time_min[0]
    burned = torch.isfinite(t)
    cols = torch.nonzero(burned)[:, 1]
    assert cols.max() - 15 > 2 * (15 - cols.min())  # downwind (east) run much longer than backing
    up = uniform_landscape(31, 31, slope=0.6, aspect=180.0)  # faces south: upslope is north
    t = simulate(up, [centre], weather(wind=0.0), 120.0, return_arrival=True).arrival_time_min[0]
    rows = torch.nonzero(torch.isfinite(t))[:, 0]
    assert 15 - rows.min() > 2 * (rows.max() - 15)


def test_elliptical_isochrones_match_the_analytic_ellipse():
    """Uniform fuel, wind: arrival times along stencil directions are exact (|x| / R(theta)),
    and the burned area at a given time is within the stencil's known deficit."""
    h = w = 61
    ls = uniform_landscape(h, w)
    wx = weather(wind=25.0, upwind=180.0)  # head toward north: a stencil direction
    fb = behavior(ls, wx)
    rate, e = fb.spread_rate[0, 0].item(), fb.eccentricity[0, 0].item()
    t = simulate(ls, [30 * w + 30], wx, 1e6, return_arrival=True).arrival_time_min[0].numpy()
    rows, cols = np.mgrid[0:h, 0:w]
    x, y = (cols - 30) * 30.0, -(rows - 30) * 30.0
    dist = np.hypot(x, y)
    exact = (dist - e * y) / (rate * (1 - e))
    np.testing.assert_allclose(t[:30, 30], exact[:30, 30], rtol=1e-5)  # head run, due north
    np.testing.assert_allclose(t[30, :], exact[30, :], rtol=1e-5)  # flanks, due east and west
    assert np.all(t >= exact * (1 - 1e-5))  # grid paths are never faster than the ellipse
    horizon = 25 * 30.0 / rate
    ratio = (t <= horizon).sum() / (exact <= horizon).sum()
    assert 0.93 < ratio <= 1.0


@pytest.mark.parametrize("diagonal", [False, True])
def test_one_cell_line_of_breaks_stops_the_fire(diagonal):
    n = 21
    ls = uniform_landscape(n, n)
    breaks = np.zeros((n, n), dtype=bool)
    if diagonal:
        breaks[np.arange(n), np.arange(n)] = True  # staircase from NW to SE corner
        ign = 3 * n + 15  # north-east of the line
        other_side = np.tril(np.ones((n, n), dtype=bool), -1)
    else:
        breaks[:, 10] = True
        ign = 10 * n + 3
        other_side = np.zeros((n, n), dtype=bool)
        other_side[:, 11:] = True
    r = simulate(ls, [ign], weather(wind=40.0, upwind=45.0 if diagonal else 270.0), 1e5, fuel_breaks=breaks,
                 return_arrival=True)
    burned = torch.isfinite(r.arrival_time_min[0]).numpy()
    assert burned.sum() > 50
    assert not burned[other_side].any()
    assert not burned[breaks].any()


def test_nonburnable_ignition_and_degenerate_grids():
    ls = uniform_landscape(5, 5)
    breaks = np.zeros((5, 5), dtype=bool)
    breaks[2, 2] = True
    r = simulate(ls, [12, 0], weather(), 100.0, fuel_breaks=breaks)
    assert r.burned_cells[0].item() == 0 and r.burned_cells[1].item() > 0
    water = uniform_landscape(4, 4, fuel=98)
    assert simulate(water, [5], weather(), 100.0).burned_cells.item() == 0
    for shape in [(1, 1), (1, 17), (23, 1)]:
        ls = uniform_landscape(*shape)
        r = simulate(ls, np.arange(ls.num_cells), weather(), 1e6, return_arrival=True)
        assert bool((r.burned_cells == ls.num_cells).all())
        assert r.arrival_time_min.shape == (ls.num_cells, *shape)


@pytest.mark.slow
def test_large_grid_1024():
    ls = uniform_landscape(1024, 1024, fuel=101)
    r = simulate(ls, [512 * 1024 + 512, 0], weather(wind=20.0), 60.0)
    assert r.burn_count.shape == (1024, 1024)
    assert 10 < r.burned_cells[0].item() < 1024 * 1024
    r2 = simulate(ls, [512 * 1024 + 512, 0], weather(wind=20.0), 60.0, algorithm="dijkstra_uncached")
    assert torch.equal(r.burn_count, r2.burn_count)


# --------------------------------------------------------------------------- batching
def test_batches_equal_separate_runs():
    rng = np.random.default_rng(7)
    lss = [random_landscape(rng, 9, 11) for _ in range(3)]
    ign = rng.integers(0, 99, size=(3, 5))
    breaks = rng.random((3, 9, 11)) < 0.1
    ws = [weather(wind=5.0 * i, upwind=90.0 * i) for i in range(3)]
    batched = simulate(lss, ign, ws, 120.0, fuel_breaks=breaks, return_arrival=True)
    assert batched.burned_cells.shape == (3, 5) and batched.burn_count.shape == (3, 9, 11)
    assert batched.arrival_time_min.shape == (3, 5, 9, 11)
    for e in range(3):
        single = simulate(lss[e], ign[e], ws[e], 120.0, fuel_breaks=breaks[e], return_arrival=True)
        assert torch.equal(batched.arrival_time_min[e], single.arrival_time_min)
        assert torch.equal(batched.burn_count[e], single.burn_count)
    # one weather per simulation
    winds = rng.uniform(0, 40, (3, 5))
    samples = WeatherSamples(winds, rng.uniform(0, 360, (3, 5)), *(np.full((3, 5), v) for v in
                                                                  (0.06, 0.07, 0.08, 0.6, 0.9, 1.0)))
    per_sim = simulate(lss, ign, samples, 120.0, fuel_breaks=breaks, return_arrival=True)
    for e in range(3):
        for s in range(5):
            one = Weather(float(samples.wind_speed_10m[e, s]), float(samples.upwind_direction[e, s]),
                          0.06, 0.07, 0.08, 0.6, 0.9, 1.0)
            r = simulate(lss[e], ign[e, s:s + 1], one, 120.0, fuel_breaks=breaks[e], return_arrival=True)
            assert torch.equal(per_sim.arrival_time_min[e, s], r.arrival_time_min[0])
    # chunking does not change results
    tiny = simulate(lss, ign, samples, 120.0, fuel_breaks=breaks, return_arrival=True, memory_budget_bytes=3000)
    assert torch.equal(tiny.arrival_time_min, per_sim.arrival_time_min)
    assert torch.equal(tiny.burn_count, per_sim.burn_count)


def test_burn_probability():
    ls = uniform_landscape(15, 15)
    p = burn_probability(ls, 200, weather(), 120.0, seed=3)
    assert p.shape == (15, 15) and float(p.min()) >= 0 and float(p.max()) <= 1
    ign = sample_ignitions(ls, 200, seed=3)
    r = simulate(ls, ign, weather(), 120.0)
    torch.testing.assert_close(p, r.burn_count.float() / 200)
    assert torch.equal(sample_ignitions(ls, 200, seed=3), ign)
    breaks = np.zeros((15, 15), dtype=bool)
    breaks[:, 7] = True
    assert float(burn_probability(ls, 200, weather(), 120.0, seed=3, fuel_breaks=breaks).sum()) < float(p.sum())


def test_memory_does_not_grow_with_the_number_of_simulations():
    """100,000 simulations at 50 x 50, one weather per simulation (the heaviest path), in a
    bounded working memory: the peak resident set grows by far less than one [S, H, W] float
    grid (1 GB) would need."""
    ls = uniform_landscape(50, 50, fuel=181)  # timber litter: modest fires, fast test
    n = 100_000
    rng = np.random.default_rng(0)
    samples = WeatherSamples(rng.uniform(0, 30, n), rng.uniform(0, 360, n), *(np.full(n, v) for v in
                                                                              (0.08, 0.09, 0.1, 0.9, 1.2, 1.0)))
    ign = rng.integers(0, 2500, n)
    simulate(ls, ign[:1000], WeatherSamples(*(getattr(samples, f)[:1000] for f in samples.__dataclass_fields__)),
             60.0, memory_budget_bytes=16 * 2**20)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB
    r = simulate(ls, ign, samples, 60.0, memory_budget_bytes=16 * 2**20)
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert r.burned_cells.shape == (n,) and int(r.burn_count.sum()) == int(r.burned_cells.sum())
    assert grown_mib < 80, f"peak memory grew by {grown_mib:.0f} MiB for {n} simulations"


# --------------------------------------------------------------------------- bad input
def test_bad_spread_input():
    ls = uniform_landscape(6, 7)
    wx = weather()
    with pytest.raises(InputError, match=r"ignitions: index 42 at \(1,\) is outside the grid's 42 cells"):
        simulate(ls, [3, 42], wx, 10.0)
    with pytest.raises(InputError, match="ignitions: index -1"):
        simulate(ls, [-1], wx, 10.0)
    with pytest.raises(InputError, match=r"ignitions: expected \[S\]"):
        simulate(ls, [[1, 2]], wx, 10.0)
    with pytest.raises(InputError, match=r"ignitions: expected \[E, S\] = \[2, S\]"):
        simulate([ls, ls], [1, 2, 3], wx, 10.0)
    with pytest.raises(InputError, match="duration_min: must be finite"):
        simulate(ls, [1], wx, float("nan"))
    with pytest.raises(InputError, match="duration_min: must be finite and >= 0"):
        simulate(ls, [1], wx, -5.0)
    with pytest.raises(InputError, match=r"fuel_breaks: shape \(6, 6\) does not match"):
        simulate(ls, [1], wx, 10.0, fuel_breaks=np.zeros((6, 6), bool))
    with pytest.raises(InputError, match="a batch must share one grid shape"):
        simulate([ls, uniform_landscape(5, 5)], [[1], [2]], wx, 10.0)
    with pytest.raises(InputError, match="weather: 1 Weather objects for 2 landscapes"):
        simulate([ls, ls], [[1], [2]], [wx], 10.0)
    samples = WeatherSamples(*(np.full(3, v) for v in (10.0, 0.0, 0.06, 0.07, 0.08, 0.6, 0.9, 1.0)))
    with pytest.raises(InputError, match=r"WeatherSamples of shape \(3,\) do not match the simulations' \(2,\)"):
        simulate(ls, [1, 2], samples, 10.0)
    with pytest.raises(InputError, match="stencil: must be 16 or 32"):
        simulate(ls, [1], wx, 10.0, stencil=8)
    with pytest.raises(InputError, match="fuel_moisture_dead_1hr: value -0.1"):
        WeatherSamples(*(np.full(3, v) for v in (10.0, 0.0, -0.1, 0.07, 0.08, 0.6, 0.9, 1.0)))


def test_spread_op_rejects_bad_tensors():
    op = torch.ops.qagent.spread
    params = torch.zeros(1, 6, 4, 4)
    ok = dict(blocked=torch.zeros(0, 4, 4, dtype=torch.uint8), ignition=torch.tensor([3]),
              param_index=torch.tensor([0]), layout_index=torch.tensor([-1]), count_index=torch.tensor([0]),
              duration_min=torch.tensor([5.0]))

    def call(**over):
        a = {**ok, **over}
        return op(over.get("params", params), a["blocked"], a["ignition"], a["param_index"], a["layout_index"],
                  a["count_index"], a["duration_min"], 1, 30.0, 32, False, 0)

    call()
    for over, msg in [
        (dict(ignition=torch.tensor([16])), "ignition values must lie in"),
        (dict(param_index=torch.tensor([1])), "param_index values must lie in"),
        (dict(layout_index=torch.tensor([0])), "layout_index values must lie in"),
        (dict(count_index=torch.tensor([1])), "count_index values must lie in"),
        (dict(duration_min=torch.tensor([float("inf")])), "duration_min must be finite"),
        (dict(duration_min=torch.tensor([1.0, 2.0])), "every per-simulation tensor needs"),
        (dict(params=torch.zeros(1, 5, 4, 4)), "spread_params must be"),
        (dict(blocked=torch.zeros(1, 4, 5, dtype=torch.uint8)), "blocked must be"),
    ]:
        with pytest.raises(RuntimeError, match=msg):
            call(**over)
    # lazy sources: weather rows [B, 8, 1] on landscapes of terrain [E, 6, H*W]
    terrain, fuel = torch.zeros(1, 6, 16), torch.full((1, 16), 102, dtype=torch.int32)
    rows, where = torch.zeros(2, 8, 1), torch.zeros(2, dtype=torch.int64)

    def lazy(param_index=torch.tensor([2]), t=terrain, f=fuel, r=rows, i=where, window=0):
        return op(params, ok["blocked"], ok["ignition"], param_index, ok["layout_index"], torch.tensor([-1]),
                  ok["duration_min"], 0, 30.0, 32, False, 0, t, f, r, i, 0, True, 1e10, window)

    lazy()
    for kw, msg in [
        (dict(param_index=torch.tensor([3])), r"param_index values must lie in \[0, 3\)"),
        (dict(i=torch.tensor([0, 1])), r"weather_landscape values must lie in \[0, 1\)"),
        (dict(t=torch.zeros(1, 6, 15)), "terrain must be"),
        (dict(f=torch.zeros(1, 16, dtype=torch.int32).repeat(2, 1)), "fuel_model must be"),
        (dict(r=torch.zeros(2, 8, 3)), "weather must be"),
        (dict(window=-1), "relax_window must be"),
    ]:
        with pytest.raises(RuntimeError, match=msg):
            lazy(**kw)


# --------------------------------------------------------------------------- op contract
def _spread_op_args(device="cpu", return_arrival=True):
    rng = np.random.default_rng(1)
    ls = random_landscape(rng, 7, 9)
    terrain = ls.terrain_tensor().unsqueeze(0)
    fuel = ls.fuel_model.reshape(1, -1)
    w = weather().as_op_tensor(ls.shape, "cpu").unsqueeze(0)
    params = torch.ops.qagent.spread_params(terrain, fuel, w, torch.zeros(1, dtype=torch.int64), 0, True, 1e10)
    params = params.reshape(1, 6, 7, 9)
    blocked = torch.from_numpy((rng.random((2, 7, 9)) < 0.1).astype(np.uint8))
    args = (params, blocked, torch.tensor([3, 30, 50]), torch.tensor([0, 0, 0]), torch.tensor([-1, 0, 1]),
            torch.tensor([0, 1, 1]), torch.tensor([60.0, 120.0, 500.0]), 2, 30.0, 32, return_arrival, 0)
    return tuple(a.to(device) if isinstance(a, torch.Tensor) else a for a in args), (terrain, fuel, w)


def test_opcheck_spread_and_spread_params():
    args, (terrain, fuel, w) = _spread_op_args()
    torch.library.opcheck(torch.ops.qagent.spread.default, args)
    torch.library.opcheck(torch.ops.qagent.spread.default, args[:-2] + (False, 2))
    # lazy weather rows (param_index >= P = 1), no burn counts, the relaxation in small windows
    rows = torch.cat([w[:, :, :1], w[:, :, :1] * 0.9])
    lazy = (terrain, fuel, rows, torch.zeros(2, dtype=torch.int64), 0, True, 1e10)
    mixed = (args[0], args[1], args[2], torch.tensor([1, 0, 2]), args[4], torch.tensor([-1, -1, -1]), args[6], 0,
             *args[8:11])
    for algorithm, window in ((0, 0), (2, 3)):
        torch.library.opcheck(torch.ops.qagent.spread.default, (*mixed, algorithm, *lazy, window))
    torch.library.opcheck(torch.ops.qagent.spread_params.default,
                          (terrain, fuel, w, torch.zeros(1, dtype=torch.int64), 0, True, 1e10))


def test_spread_under_torch_compile():
    args, _ = _spread_op_args()

    def f(params, blocked, ign):
        burned, counts, arrival, _, _ = torch.ops.qagent.spread(params, blocked, ign, *args[3:])
        return counts.sum() + burned.sum()

    compiled = torch.compile(f, backend="aot_eager", fullgraph=True)
    assert compiled(*args[:3]) == f(*args[:3])


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("side", [9, 60, 150])
def test_cuda_spread_matches_cpu(side):
    rng = np.random.default_rng(side)
    ls = random_landscape(rng, side, side)
    breaks = rng.random((side, side)) < 0.05
    ign = rng.integers(0, side * side, 64)
    wx = weather(wind=25.0)
    cpu = simulate(ls, ign, wx, 600.0, fuel_breaks=breaks, return_arrival=True)
    gpu = simulate(ls, ign, wx, 600.0, fuel_breaks=breaks, return_arrival=True, device="cuda")
    a, b = cpu.arrival_time_min, gpu.arrival_time_min.cpu()
    same = torch.isfinite(a) == torch.isfinite(b)
    assert same.float().mean().item() > 0.9999  # cells exactly at the duration may differ by rounding
    both = torch.isfinite(a) & torch.isfinite(b)
    torch.testing.assert_close(b[both], a[both], rtol=1e-4, atol=1e-3)


def test_out_of_memory_halves_simulation_chunks(monkeypatch, caplog):
    """Inject "CUDA out of memory" into the spread op for chunks over 8 simulations: simulate
    shrinks its chunks and returns the same result."""
    import logging

    import qagent.fire.spread as spread_module

    rng = np.random.default_rng(3)
    ls = random_landscape(rng, 12, 12)
    ign = rng.integers(0, 144, 40)
    expected = simulate(ls, ign, weather(), 200.0, return_arrival=True)
    original = spread_module.run_spread

    def flaky(params, param_index, ignition, *args, **kwargs):
        if ignition.shape[0] > 8:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB (injected)")
        return original(params, param_index, ignition, *args, **kwargs)

    monkeypatch.setattr(spread_module, "run_spread", flaky)
    with caplog.at_level(logging.WARNING):
        got = simulate(ls, ign, weather(), 200.0, return_arrival=True)
    assert torch.equal(got.arrival_time_min, expected.arrival_time_min)
    assert torch.equal(got.burn_count, expected.burn_count)
    assert any("retrying with chunks" in r.getMessage() for r in caplog.records)
