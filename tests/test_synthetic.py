"""Synthetic landscapes: determinism, validity, terrain derivatives, realism rules and the
variety across seeds that makes them a training set."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch

from qagent._validation import InputError
from qagent.fire import Weather, behavior
from qagent.fire.fuel_models import burnable_codes, known_codes
from qagent.landscape import FLOAT_LAYERS, Landscape
from qagent.landscape.synthetic import _box_mean, _rasterize_4connected, describe, horn_slope_aspect, synthetic

LAYERS = (*FLOAT_LAYERS, "fuel_model")
SEEDS = range(40)
SIZE = 48
TIMBER = [c for c in range(161, 166)] + [c for c in range(181, 190)]
NO_CANOPY = [c for c in burnable_codes() if c not in TIMBER]


@functools.lru_cache(maxsize=None)
def tile(seed: int, height: int = SIZE, width: int = SIZE) -> Landscape:
    return synthetic(height, width, seed)


def moderate_weather() -> Weather:
    return Weather(wind_speed_10m=20.0, upwind_direction=270.0, fuel_moisture_dead_1hr=0.06,
                   fuel_moisture_dead_10hr=0.07, fuel_moisture_dead_100hr=0.08, fuel_moisture_live_herbaceous=0.6,
                   fuel_moisture_live_woody=0.9, foliar_moisture=1.0)


# ------------------------------------------------------------------------------ determinism
def test_same_seed_gives_bit_identical_layers():
    a, b = synthetic(37, 53, 11), synthetic(37, 53, 11)
    for name in LAYERS:
        assert torch.equal(getattr(a, name), getattr(b, name)), name


def test_different_seeds_differ_in_every_layer_that_varies():
    a, b = tile(1), tile(2)
    for name in ("slope", "aspect", "elevation", "fuel_model"):
        assert not torch.equal(getattr(a, name), getattr(b, name)), name


# ------------------------------------------------------------------------------ validity
@pytest.mark.parametrize("shape", [(1, 1), (1, 50), (50, 1), (2, 3), (7, 300), (613, 549)])
def test_any_size_gives_a_valid_landscape(shape):
    ls = synthetic(*shape, seed=5)
    assert ls.shape == shape and ls.cell_size_m == 30.0
    for name in LAYERS:
        assert getattr(ls, name).shape == shape
    for name, (lo, hi, _) in FLOAT_LAYERS.items():
        t = getattr(ls, name)
        assert t.dtype == torch.float32 and bool(torch.isfinite(t).all())
        assert float(t.min()) >= lo and float(t.max()) <= hi, name


def test_single_row_or_cell_has_no_north_south_slope():
    ls = synthetic(1, 1, 3)
    assert float(ls.slope) == 0.0 and float(ls.aspect) == 0.0
    row = synthetic(1, 40, 3)  # only east-west differences: aspect is east (90) or west (270)
    steep = row.slope > 1e-6
    assert set(row.aspect[steep].round().tolist()) <= {90.0, 270.0}


def test_fuel_codes_and_canopy_fit_each_fuel_model():
    for seed in SEEDS:
        ls = tile(seed)
        fm = ls.fuel_model
        assert set(torch.unique(fm).tolist()) <= known_codes()
        assert not bool(((fm >= 1) & (fm <= 13)).any()), "synthetic landscapes use Scott & Burgan codes"
        open_fuel = torch.isin(fm, torch.tensor(NO_CANOPY + list(range(91, 100)), dtype=fm.dtype))
        for name in ("canopy_cover", "canopy_height", "canopy_base_height", "canopy_bulk_density"):
            assert not bool(getattr(ls, name)[open_fuel].any()), (seed, name)
        timber = torch.isin(fm, torch.tensor(TIMBER, dtype=fm.dtype))
        if timber.any():
            cc, ch = ls.canopy_cover[timber], ls.canopy_height[timber]
            cbh, cbd = ls.canopy_base_height[timber], ls.canopy_bulk_density[timber]
            assert 0.3 <= float(cc.min()) and float(cc.max()) <= 0.9
            assert 8.0 <= float(ch.min()) and float(ch.max()) <= 35.0
            assert 0.5 <= float(cbh.min()) and float(cbh.max()) <= 8.0 and bool((cbh < ch).all())
            assert 0.03 <= float(cbd.min()) and float(cbd.max()) <= 0.3


def test_canopy_bulk_density_rises_with_canopy_cover_within_a_model():
    """LANDFIRE-like co-variation: denser stands have more cover and more canopy fuel."""
    correlations = []
    for seed in SEEDS:
        ls = tile(seed)
        for code in TIMBER:
            m = ls.fuel_model == code
            if int(m.sum()) >= 30:
                cc, cbd = ls.canopy_cover[m].double().numpy(), ls.canopy_bulk_density[m].double().numpy()
                correlations.append(np.corrcoef(cc, cbd)[0, 1])
    assert len(correlations) >= 10 and np.median(correlations) > 0.8


def test_bad_arguments_raise_input_error_naming_the_field():
    for kwargs, field in [(dict(height=0, width=5, seed=1), "height"), (dict(height=5, width=-2, seed=1), "width"),
                          (dict(height=2.5, width=5, seed=1), "height"), (dict(height=5, width=5, seed=-1), "seed"),
                          (dict(height=5, width=5, seed=1.5), "seed"),
                          (dict(height=5, width=5, seed=1, cell_size_m=0.0), "cell_size_m"),
                          (dict(height=5, width=5, seed=1, cell_size_m=float("nan")), "cell_size_m")]:
        with pytest.raises(InputError, match=field):
            synthetic(**kwargs)


def test_cell_size_is_kept_and_sets_the_physical_scale():
    ls = synthetic(20, 20, 4, cell_size_m=10.0)
    assert ls.cell_size_m == 10.0


# ------------------------------------------------------------------------------ terrain
@pytest.mark.parametrize("rise_east, rise_south, aspect", [
    (1.0, 0.0, 270.0),   # rising to the east: the downslope direction is west
    (-1.0, 0.0, 90.0),   # rising to the west: faces east
    (0.0, -1.0, 180.0),  # rising to the north (rows grow southward): faces south
    (0.0, 1.0, 0.0),     # rising to the south: faces north
    (1.0, -1.0, 225.0),  # rising to the north-east: faces south-west
])
def test_horn_slope_and_aspect_of_tilted_planes(rise_east, rise_south, aspect):
    cell = 30.0
    rows, cols = np.mgrid[0:6, 0:7].astype(np.float64)
    elevation = 500.0 + 0.2 * cell * (rise_east * cols + rise_south * rows)  # 0.2 rise/run per axis
    slope, asp = horn_slope_aspect(elevation, cell)
    np.testing.assert_allclose(slope, 0.2 * np.hypot(rise_east, rise_south), rtol=1e-9)  # edges too
    np.testing.assert_allclose(asp, aspect, atol=1e-9)


def test_flat_ground_has_zero_slope_and_aspect():
    slope, aspect = horn_slope_aspect(np.full((4, 5), 250.0), 30.0)
    assert not slope.any() and not aspect.any()


def test_slope_and_aspect_are_derived_from_the_elevation():
    for seed in (0, 4, 9, 21):
        ls = tile(seed)
        z = ls.elevation.double().numpy()
        slope, aspect = horn_slope_aspect(z, ls.cell_size_m)
        np.testing.assert_allclose(ls.slope.numpy(), slope, rtol=1e-5, atol=1e-6)
        # independently of Horn: the neighbour the aspect points to lies lower than the opposite one
        steep = ls.slope.numpy()[1:-1, 1:-1] > 0.02
        theta = np.radians(ls.aspect.numpy()[1:-1, 1:-1])
        dr, dc = np.rint(-np.cos(theta)).astype(int), np.rint(np.sin(theta)).astype(int)  # row 0 is north
        r, c = np.mgrid[1:SIZE - 1, 1:SIZE - 1]
        downhill, uphill = z[r + dr, c + dc], z[r - dr, c - dc]
        assert steep.sum() > 100 and (downhill < uphill)[steep].mean() > 0.97, seed


def test_relief_grows_with_slope_and_spans_plains_to_mountains():
    d = [describe(tile(seed)) for seed in SEEDS]
    relief = np.array([x["relief_m"] for x in d])
    slope = np.array([x["mean_slope"] for x in d])
    assert relief.min() < 25.0 and relief.max() > 250.0  # 1.4 km tiles: flat plains to steep mountains
    assert slope.min() < 0.03 and slope.max() > 0.4
    assert np.corrcoef(np.log(relief), np.log(slope))[0, 1] > 0.8


# ------------------------------------------------------------------------------ realism and variety
def test_variety_across_seeds():
    d = [describe(tile(seed)) for seed in SEEDS]
    burnable = np.array([x["burnable_fraction"] for x in d])
    assert burnable.min() < 0.8 and burnable.max() == 1.0 and np.ptp(burnable) > 0.25
    dominant = [max(x["group_fractions"], key=x["group_fractions"].get) for x in d]
    assert len(set(dominant)) >= 4  # grass-, shrub-, timber-understory- and litter-dominated tiles
    assert sum(x["group_fractions"][dominant[i]] > 0.7 for i, x in enumerate(d)) >= 5  # near-pure tiles
    assert sum(x["group_fractions"]["SB"] > 0 for x in d) >= 2
    for feature in ("water", "urban", "bare", "agriculture"):
        amounts = [x["nonburnable_fractions"][feature] for x in d]
        assert sum(a == 0 for a in amounts) >= 5, feature  # absent on some landscapes
        assert sum(a > 0.01 for a in amounts) >= 5, feature  # present on others
    assert min(x["fuel_models"] for x in d) < max(x["fuel_models"] for x in d)


def test_timber_prefers_north_slopes():
    cells = {"north": [0, 0], "south": [0, 0]}  # [timber, all] on steep burnable cells
    for seed in SEEDS:
        ls = tile(seed)
        steep = (ls.slope > 0.15) & ls.burnable_mask()
        timber = torch.isin(ls.fuel_model, torch.tensor(TIMBER, dtype=torch.int32))
        north = steep & ((ls.aspect < 45) | (ls.aspect > 315))
        south = steep & (ls.aspect > 135) & (ls.aspect < 225)
        for key, m in (("north", north), ("south", south)):
            cells[key][0] += int((timber & m).sum())
            cells[key][1] += int(m.sum())
    share = {k: t / n for k, (t, n) in cells.items()}
    assert cells["north"][1] > 1000 and share["north"] > share["south"] + 0.05


def test_water_lies_low_and_bare_rock_high():
    water_ranks, rock_ranks = [], []
    for seed in SEEDS:
        ls = tile(seed)
        z = ls.elevation.numpy().ravel()
        rank = np.argsort(np.argsort(z)) / (z.size - 1)  # 0 lowest, 1 highest cell of the tile
        fm = ls.fuel_model.numpy().ravel()
        water_ranks += rank[fm == 98].tolist()
        rock_ranks += rank[fm == 99].tolist()
    assert len(water_ranks) > 500 and np.mean(water_ranks) < 0.3
    assert len(rock_ranks) > 200 and np.mean(rock_ranks) > 0.7


def test_box_mean_matches_brute_force_at_high_elevations():
    values = (np.random.default_rng(0).random((300, 40)) * 10.0 + 4000.0).astype(np.float32)
    got = _box_mean(values, 3)
    for r, c in [(0, 0), (150, 20), (299, 39), (5, 37)]:
        window = values[max(r - 3, 0):r + 4, max(c - 3, 0):c + 4].astype(np.float64)
        assert got[r, c] == pytest.approx(window.mean(), abs=1e-6)


def test_roads_are_four_connected():
    rows, cols = _rasterize_4connected(np.array([[0.0, 0.0], [7.3, 3.1], [2.0, 12.0], [2.0, 12.0]]))
    cells = set(zip(rows.tolist(), cols.tolist()))
    assert {(0, 0), (7, 3), (2, 12)} <= cells
    # every cell on the line touches another by an edge, and the whole line is one 4-connected piece
    seen, todo = {(0, 0)}, [(0, 0)]
    while todo:
        r, c = todo.pop()
        for n in ((r + 1, c), (r - 1, c), (r, c + 1), (r, c - 1)):
            if n in cells and n not in seen:
                seen.add(n)
                todo.append(n)
    assert seen == cells


def test_fire_behavior_on_synthetic_landscapes_varies_widely():
    """One moderate weather, 40 landscapes: head-fire rates from barely spreading wet litter to
    fast grass, so fires on them have very different sizes."""
    medians = []
    for seed in SEEDS:
        ls = tile(seed)
        fb = behavior(ls, moderate_weather())
        burnable = ls.burnable_mask()
        assert bool(torch.isfinite(fb.spread_rate).all())
        assert bool((fb.fire_type[~burnable] == 0).all()) and bool((fb.fire_type[burnable] >= 1).all())
        medians.append(float(fb.spread_rate[burnable].median()))
    medians = np.array(medians)
    assert medians.min() < 1.0 and medians.max() > 15.0 and medians.max() / medians.min() > 50.0
    assert np.ptp(np.log(medians)) > 4.0


# ------------------------------------------------------------------------------ describe
def test_describe_counts_cells_and_skips_nodata():
    f = lambda v: np.full((2, 3), v, dtype=np.float32)  # noqa: E731
    elevation = np.array([[100, 110, 120], [130, 140, 900]], dtype=np.float32)
    fuel = np.array([[101, 102, 98], [183, 91, 99]])
    ls = Landscape(slope=f(0.1), aspect=f(0.0), elevation=elevation, fuel_model=fuel, canopy_cover=f(0.5),
                   canopy_height=f(20.0), canopy_base_height=f(2.0), canopy_bulk_density=f(0.1),
                   nodata_mask=np.array([[0, 0, 0], [0, 0, 1]], dtype=bool))
    d = describe(ls)
    assert d["shape"] == (2, 3) and d["burnable_fraction"] == pytest.approx(3 / 5)
    assert d["group_fractions"]["GR"] == pytest.approx(2 / 5) and d["group_fractions"]["TL"] == pytest.approx(1 / 5)
    assert d["nonburnable_fractions"]["water"] == pytest.approx(1 / 5)
    assert d["nonburnable_fractions"]["bare"] == 0.0  # the nodata cell
    assert d["relief_m"] == pytest.approx(40.0) and d["mean_slope"] == pytest.approx(0.1)
    assert d["fuel_models"] == 5 and d["mean_canopy_cover"] == pytest.approx(0.5)
    with pytest.raises(InputError, match="landscape"):
        describe("not a landscape")


def test_describe_fractions_add_up():
    d = describe(tile(7))
    total = sum(d["group_fractions"].values()) + sum(d["nonburnable_fractions"].values())
    assert total == pytest.approx(1.0) and d["burnable_fraction"] == pytest.approx(sum(d["group_fractions"].values()))


# ------------------------------------------------------------------------------ devices
@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_device_gives_the_same_layers():
    cpu, cuda = synthetic(30, 40, 8), synthetic(30, 40, 8, device="cuda")
    assert cuda.device.type == "cuda"
    for name in LAYERS:
        assert torch.equal(getattr(cpu, name), getattr(cuda, name).cpu()), name


def test_fire_sizes_differ_widely_across_seeds():
    """The default training set must give fires of very different sizes: the spread op on 30
    synthetic landscapes under the default scenario."""
    import torch

    from qagent.fire import sample_ignitions, simulate
    from qagent.fire.scenario import DEFAULT_SCENARIO

    means = []
    for seed in range(30):
        ls = synthetic(40, 40, seed)
        weather, duration = DEFAULT_SCENARIO.sample(24, np.random.default_rng(seed))
        r = simulate(ls, sample_ignitions(ls, 24, seed), weather, torch.from_numpy(duration))
        means.append(r.burned_cells.double().mean().item() / ls.num_cells)
    means = np.array(means)
    assert means.min() < 0.05 and means.max() > 0.3, means
    assert np.quantile(means, 0.9) > 4 * np.quantile(means, 0.1)


# ------------------------------------------------------------------------------ values at risk
from qagent.landscape.synthetic import synthetic_values  # noqa: E402


def road_landscape(n: int = 300) -> Landscape:
    """n x n GR2 grass with an east-west road (NB1) along the middle row and a water column."""
    fuel = np.full((n, n), 102)
    fuel[n // 2, :] = 91
    fuel[:, n // 7] = 98
    z = np.zeros((n, n), np.float32)
    return Landscape(slope=z, aspect=z, elevation=z, fuel_model=fuel, canopy_cover=z, canopy_height=z,
                     canopy_base_height=z, canopy_bulk_density=z)


def test_values_are_deterministic_per_seed_and_vary_across_seeds():
    a, b = synthetic_values((96, 80), 7), synthetic_values((96, 80), 7)
    assert a.dtype == torch.float32 and tuple(a.shape) == (96, 80) and torch.equal(a, b)
    # a shape builds synthetic(height, width, seed) first: the same as passing that landscape
    assert torch.equal(a, synthetic_values(synthetic(96, 80, 7), 7))
    ls = road_landscape()
    maps = [synthetic_values(ls, s, normalize=False) for s in range(6)]
    assert all(not torch.equal(maps[0], m) for m in maps[1:])
    totals = [float(m.sum()) for m in maps]
    assert max(totals) > 2 * min(totals)  # seeds differ in how built-up they are, not only where


def test_values_are_non_negative_finite_and_zero_where_fire_cannot_burn():
    checked_water = checked_rock = 0
    for seed in range(16):
        ls = tile(seed, 96, 96)
        v = synthetic_values(ls, seed).numpy()
        fuel = ls.fuel_model.numpy()
        burnable = ls.burnable_mask().numpy()
        assert np.isfinite(v).all() and (v >= 0).all()
        assert (v[~burnable] == 0).all()
        checked_water += int((fuel == 98).sum())
        checked_rock += int((fuel == 99).sum())
        if v.any():  # the documented scale: mean 1 over the burnable cells
            assert v[burnable].mean() == pytest.approx(1.0, rel=1e-5)
    assert checked_water > 0 and checked_rock > 0  # the seeds above do have water and rock
    nodata = np.zeros((300, 300), dtype=bool)
    nodata[:150, :] = True
    ls = road_landscape()
    fuel = ls.fuel_model.numpy().copy()
    fuel[nodata] = 99
    z = np.zeros(fuel.shape, np.float32)
    masked = Landscape(slope=z, aspect=z, elevation=z, fuel_model=fuel, canopy_cover=z, canopy_height=z,
                       canopy_base_height=z, canopy_bulk_density=z, nodata_mask=nodata)
    assert (synthetic_values(masked, 1).numpy()[nodata] == 0).all()


def test_settlements_concentrate_near_roads():
    """Houses per cell within 3 cells of the road against those more than 30 cells away, over
    ten seeds (a seed draws 0.05-0.6 settlements per km of road, so some seeds have none)."""
    ls = road_landscape()
    distance = np.abs(np.arange(300) - 150)[:, None] * np.ones((1, 300))
    burnable = ls.burnable_mask().numpy()
    near = far = 0.0
    for seed in range(10):
        v = synthetic_values(ls, seed, normalize=False).numpy()
        near += v[(distance <= 3) & burnable].mean()
        far += v[(distance > 30) & burnable].mean()
    assert near > 3.0 * far > 0
    # on synthetic landscapes with roads, too
    from scipy import ndimage

    near = far = 0.0
    for seed in range(12):
        ls = tile(seed, 160, 160)
        roads = ls.fuel_model.numpy() == 91
        if not roads.any():
            continue
        d = ndimage.distance_transform_edt(~roads)
        v = synthetic_values(ls, seed, normalize=False).numpy()
        burnable = ls.burnable_mask().numpy()
        near += v[(d <= 3) & burnable].mean()
        far += v[(d > 15) & burnable].mean()
    assert near > 2.0 * far > 0


def test_without_roads_houses_are_scattered_only():
    fuel = np.full((200, 200), 102)
    z = np.zeros(fuel.shape, np.float32)
    ls = Landscape(slope=z, aspect=z, elevation=z, fuel_model=fuel, canopy_cover=z, canopy_height=z,
                   canopy_base_height=z, canopy_bulk_density=z)
    v = synthetic_values(ls, 3, normalize=False).numpy()
    # 36 km^2 at 0.5-8 houses per km^2: 18-288 houses, one per cell at most by far
    assert 5 <= (v > 0).sum() <= 400


def test_values_are_fast_on_a_large_grid():
    import time

    ls = road_landscape(1024)
    start = time.perf_counter()
    v = synthetic_values(ls, 0)
    assert time.perf_counter() - start < 5.0  # 0.1-0.2 s on one core (the distance transform)
    assert tuple(v.shape) == (1024, 1024)


def test_values_bad_arguments():
    ls = road_landscape(20)
    for bad, words in [((ls, -1), "seed"), ((ls, 1.5), "seed"), ((ls, True), "seed"),
                       ((np.zeros((4, 4)), 0), "landscape_or_shape"), (((4, 4, 4), 0), "landscape_or_shape"),
                       (((0, 5), 0), "height"), ((("a", 5), 0), "height")]:
        with pytest.raises(InputError, match=words):
            synthetic_values(*bad)
    with pytest.raises(InputError, match="cell_size_m"):
        synthetic_values(ls, 0, cell_size_m=30.0)
    with pytest.raises(InputError, match="normalize"):
        synthetic_values(ls, 0, normalize="yes")
