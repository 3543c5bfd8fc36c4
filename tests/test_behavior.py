"""fire_behavior: physical properties, bad input, the op contract (opcheck, torch.compile) and
CPU/CUDA agreement."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from qagent._validation import InputError
from qagent.fire import Weather, behavior
from qagent.landscape import Landscape

H, W = 4, 5


def uniform_landscape(fuel=102, slope=0.0, aspect=0.0, cc=0.0, ch=0.0, cbh=0.0, cbd=0.0, shape=(H, W), **kw):
    f = lambda v: np.full(shape, v, dtype=np.float32)  # noqa: E731
    return Landscape(slope=f(slope), aspect=f(aspect), elevation=f(100.0), fuel_model=np.full(shape, fuel),
                     canopy_cover=f(cc), canopy_height=f(ch), canopy_base_height=f(cbh), canopy_bulk_density=f(cbd), **kw)


def dry_weather(wind=10.0, upwind=270.0, **kw):
    fields = dict(wind_speed_10m=wind, upwind_direction=upwind, fuel_moisture_dead_1hr=0.06,
                  fuel_moisture_dead_10hr=0.07, fuel_moisture_dead_100hr=0.08, fuel_moisture_live_herbaceous=0.6,
                  fuel_moisture_live_woody=0.9, foliar_moisture=1.0)
    fields.update(kw)
    return Weather(**fields)


# ------------------------------------------------------------------------------ physics
def test_more_wind_and_slope_spread_faster():
    rates = [behavior(uniform_landscape(), dry_weather(wind=u)).spread_rate[0, 0].item() for u in (0, 10, 20, 40)]
    assert all(a < b for a, b in zip(rates, rates[1:]))
    slopes = [behavior(uniform_landscape(slope=s), dry_weather(wind=0)).spread_rate[0, 0].item() for s in (0, .3, .6)]
    assert all(a < b for a, b in zip(slopes, slopes[1:]))


def test_direction_follows_wind_then_slope():
    b = behavior(uniform_landscape(), dry_weather(wind=20, upwind=270))  # wind from the west
    assert b.spread_direction[0, 0].item() == pytest.approx(90.0, abs=1e-3)  # spreads east
    b = behavior(uniform_landscape(slope=0.5, aspect=180.0), dry_weather(wind=0))  # south-facing
    assert b.spread_direction[0, 0].item() == pytest.approx(0.0, abs=1e-3)  # upslope is north
    assert b.length_to_breadth[0, 0].item() > 1.0


def test_wetter_fuel_spreads_slower_and_extinction_stops_it():
    rates = [behavior(uniform_landscape(fuel=101), dry_weather(fuel_moisture_dead_1hr=m)).spread_rate[0, 0].item()
             for m in (0.03, 0.08, 0.12)]
    assert rates[0] > rates[1] > rates[2] > 0
    # GR1 has a 15 % dead moisture of extinction; fully cured herbaceous load is dead fuel
    b = behavior(uniform_landscape(fuel=101), dry_weather(fuel_moisture_dead_1hr=0.2, fuel_moisture_live_herbaceous=0.3))
    assert b.spread_rate.max().item() == 0.0 and b.fire_type.max().item() == 1


def test_nonburnable_cells_do_not_burn():
    ls = uniform_landscape(fuel=98)
    b = behavior(ls, dry_weather(wind=50))
    assert b.fire_type.max().item() == 0 and b.spread_rate.max().item() == 0.0
    assert b.fireline_intensity.max().item() == 0.0 and b.flame_length.max().item() == 0.0


def test_dynamic_curing_changes_grass_behavior():
    green = behavior(uniform_landscape(fuel=102), dry_weather(fuel_moisture_live_herbaceous=1.5)).spread_rate[0, 0]
    cured = behavior(uniform_landscape(fuel=102), dry_weather(fuel_moisture_live_herbaceous=0.3)).spread_rate[0, 0]
    assert cured > 2 * green


def test_crown_fire_types():
    canopy = dict(fuel=165, cc=0.8, ch=20.0, cbh=1.0)
    passive = behavior(uniform_landscape(cbd=0.05, **canopy), dry_weather(wind=30))
    active = behavior(uniform_landscape(cbd=0.30, **canopy), dry_weather(wind=30))
    high_base = behavior(uniform_landscape(cbd=0.30, fuel=165, cc=0.8, ch=20.0, cbh=15.0), dry_weather(wind=30))
    assert passive.fire_type[0, 0].item() == 2
    assert active.fire_type[0, 0].item() == 3
    assert high_base.fire_type[0, 0].item() == 1
    assert active.fireline_intensity[0, 0] > high_base.fireline_intensity[0, 0]
    sparse = behavior(uniform_landscape(cbd=0.30, fuel=165, cc=0.3, ch=20.0, cbh=1.0), dry_weather(wind=30))
    assert sparse.fire_type[0, 0].item() == 1  # canopy cover <= 40 %: no crown fire


def test_gridded_weather_and_length_to_breadth_models():
    wind = np.linspace(0, 40, H * W, dtype=np.float32).reshape(H, W)
    b = behavior(uniform_landscape(), dry_weather(wind=wind))
    assert torch.all(torch.diff(b.spread_rate.reshape(-1)) > 0)
    behave = behavior(uniform_landscape(), dry_weather(wind=30), lw_ratio_model="behave").length_to_breadth[0, 0]
    roth = behavior(uniform_landscape(), dry_weather(wind=30), lw_ratio_model="rothermel").length_to_breadth[0, 0]
    assert behave != roth and behave > 1 and roth > 1


def test_flank_and_back_fire_slower_than_head():
    ls, w = uniform_landscape(), dry_weather(wind=25, upwind=0.0)  # wind from the north, head toward 180
    head = behavior(ls, w).spread_rate[0, 0]
    flank = behavior(ls, w, azimuth=90.0).spread_rate[0, 0]
    back = behavior(ls, w, azimuth=0.0).spread_rate[0, 0]
    assert head > flank > back > 0
    assert behavior(ls, w, azimuth=180.0).spread_rate[0, 0].item() == pytest.approx(head.item(), rel=1e-5)


# ------------------------------------------------------------------------------ bad input
@pytest.mark.parametrize(
    "field,value,match",
    [
        ("fuel_model", 50, r"fuel_model: unknown fuel model code 50 at \(row, col\) \(1, 2\)"),
        ("slope", float("nan"), r"slope: value nan at \(row, col\) \(1, 2\) is not finite"),
        ("canopy_cover", 45.0, r"canopy_cover: value 45 .* outside \[0.0, 1.0\].*fraction, not percent"),
        ("canopy_bulk_density", -0.1, r"canopy_bulk_density: value -0.1"),
        ("aspect", 400.0, r"aspect: value 400 at \(row, col\) \(1, 2\)"),
    ],
)
def test_bad_landscape_values_name_field_value_and_cell(field, value, match):
    arrays = dict(slope=np.zeros((H, W)), aspect=np.zeros((H, W)), elevation=np.zeros((H, W)),
                  fuel_model=np.full((H, W), 102), canopy_cover=np.zeros((H, W)), canopy_height=np.zeros((H, W)),
                  canopy_base_height=np.zeros((H, W)), canopy_bulk_density=np.zeros((H, W)))
    arrays[field] = arrays[field].astype(np.float64)
    arrays[field][1, 2] = value
    with pytest.raises(InputError, match=match):
        Landscape(**arrays)


def test_bad_landscape_shapes_and_types():
    good = dict(slope=np.zeros((H, W)), aspect=np.zeros((H, W)), elevation=np.zeros((H, W)),
                fuel_model=np.full((H, W), 102), canopy_cover=np.zeros((H, W)), canopy_height=np.zeros((H, W)),
                canopy_base_height=np.zeros((H, W)), canopy_bulk_density=np.zeros((H, W)))
    with pytest.raises(InputError, match=r"aspect: shape \(4, 6\) does not match the landscape's \(4, 5\)"):
        Landscape(**{**good, "aspect": np.zeros((H, W + 1))})
    with pytest.raises(InputError, match=r"slope: expected a 2-D \[H, W\] grid, got shape \(20,\)"):
        Landscape(**{**good, "slope": np.zeros(H * W)})
    with pytest.raises(InputError, match="fuel_model: value 102.5 .* not an integer code"):
        Landscape(**{**good, "fuel_model": np.full((H, W), 102.5)})
    with pytest.raises(InputError, match="canopy_height: expected numbers"):
        Landscape(**{**good, "canopy_height": np.full((H, W), "tall")})
    with pytest.raises(InputError, match="cell_size_m"):
        Landscape(**good, cell_size_m=-30)


@pytest.mark.parametrize(
    "field,value,match",
    [
        ("fuel_moisture_dead_1hr", -0.02, r"fuel_moisture_dead_1hr: value -0.02.* outside \[0.0, 1.0\]"),
        ("fuel_moisture_dead_10hr", 8.0, r"fuel_moisture_dead_10hr: value 8 .*not percent"),
        ("wind_speed_10m", float("inf"), r"wind_speed_10m: value inf is not finite"),
        ("foliar_moisture", float("nan"), r"foliar_moisture: value nan is not finite"),
    ],
)
def test_bad_weather_names_field_and_value(field, value, match):
    with pytest.raises(InputError, match=match):
        dry_weather(**{field: value})


def test_weather_grid_must_match_landscape():
    with pytest.raises(InputError, match=r"weather: grid shape \(3, 3\) does not match the landscape's \(4, 5\)"):
        behavior(uniform_landscape(), dry_weather(wind=np.zeros((3, 3))))
    with pytest.raises(InputError, match="weather grids have different shapes"):
        dry_weather(wind=np.zeros((3, 3)), upwind=np.zeros((2, 2)))


def test_bad_arguments_and_devices():
    with pytest.raises(InputError, match="lw_ratio_model: unknown model 'anderson'"):
        behavior(uniform_landscape(), dry_weather(), lw_ratio_model="anderson")
    with pytest.raises(InputError, match="landscape: expected a qagent.landscape.Landscape"):
        behavior(np.zeros((3, 3)), dry_weather())
    with pytest.raises(InputError, match="device"):
        behavior(uniform_landscape(), dry_weather(), device="mps")
    if not torch.cuda.is_available():
        with pytest.raises(InputError, match="CUDA is not available"):
            behavior(uniform_landscape(), dry_weather(), device="cuda")


def test_op_rejects_bad_tensors_without_crashing():
    op = torch.ops.qagent.fire_behavior
    terrain = torch.zeros(1, 6, 10)
    fuel = torch.full((1, 10), 102, dtype=torch.int32)
    weather = torch.full((1, 8, 1), 0.1)
    index = torch.zeros(1, dtype=torch.int64)
    args = (float("nan"), 0, True, 1e10)
    op(terrain, fuel, weather, index, *args)  # fine
    with pytest.raises(RuntimeError, match="terrain must be"):
        op(torch.zeros(1, 5, 10), fuel, weather, index, *args)
    with pytest.raises(RuntimeError, match="fuel_model must have dtype Int"):
        op(terrain, fuel.long(), weather, index, *args)
    with pytest.raises(RuntimeError, match="landscape_index values must lie in"):
        op(terrain, fuel, weather, torch.tensor([3]), *args)
    with pytest.raises(RuntimeError, match="weather's last dimension"):
        op(terrain, fuel, torch.zeros(1, 8, 7), index, *args)
    # unknown codes reaching the op directly are treated as non-burnable, never read out of bounds
    out = op(terrain, torch.full((1, 10), 12345, dtype=torch.int32), weather, index, *args)
    assert out[0].max().item() == 0


# ------------------------------------------------------------------------------ op contract
def _op_samples(device="cpu"):
    g = torch.Generator().manual_seed(0)
    n = 37
    terrain = torch.stack([torch.rand(2, n, generator=g), torch.rand(2, n, generator=g) * 360,
                           torch.rand(2, n, generator=g), torch.rand(2, n, generator=g) * 30,
                           torch.rand(2, n, generator=g) * 5, torch.rand(2, n, generator=g) * 0.3], dim=1)
    fuel = torch.tensor([101, 102, 165, 145, 181, 4, 98], dtype=torch.int32).repeat(2, 6)[:, :n].contiguous()
    w_uniform = torch.tensor([20.0, 45.0, 0.06, 0.07, 0.08, 0.6, 0.9, 1.0]).reshape(1, 8, 1).repeat(3, 1, 1)
    w_grid = w_uniform.repeat(1, 1, n) * (1 + 0.1 * torch.rand(3, 8, n, generator=g))
    index = torch.tensor([0, 1, 1])
    to = lambda *ts: [t.to(device) for t in ts]  # noqa: E731
    return [
        (*to(terrain, fuel, w_uniform, index), float("nan"), 0, True, 1e10),
        (*to(terrain, fuel, w_grid, index), 30.0, 1, False, 5.0),
    ]


def test_opcheck_fire_behavior():
    for args in _op_samples():
        torch.library.opcheck(torch.ops.qagent.fire_behavior.default, args)


def test_fire_behavior_under_torch_compile():
    args = _op_samples()[0]

    def f(terrain, fuel, weather, index):
        ft, rate, *_ = torch.ops.qagent.fire_behavior(terrain, fuel, weather, index, *args[4:])
        return rate * 2.0

    compiled = torch.compile(f, backend="aot_eager", fullgraph=True)
    torch.testing.assert_close(compiled(*args[:4]), f(*args[:4]))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu():
    for args in _op_samples():
        cpu = torch.ops.qagent.fire_behavior(*args)
        cuda = torch.ops.qagent.fire_behavior(*[a.cuda() if isinstance(a, torch.Tensor) else a for a in args])
        assert torch.equal(cpu[0], cuda[0].cpu())
        for a, b in zip(cpu[1:], cuda[1:]):
            torch.testing.assert_close(b.cpu(), a, rtol=2e-5, atol=1e-5)
    ls = uniform_landscape(fuel=165, cc=0.8, ch=20.0, cbh=1.0, cbd=0.2)
    w = dry_weather(wind=30)
    a, b = behavior(ls, w), behavior(ls, w, device="cuda")
    torch.testing.assert_close(b.spread_rate.cpu(), a.spread_rate, rtol=2e-5, atol=1e-6)


def test_units_spot_check_against_hand_computation():
    """GR2 with no wind and no slope, fully cured: a hand evaluation of Rothermel (1972)."""
    ls = uniform_landscape(fuel=102, shape=(1, 1))
    w = Weather(0.0, 0.0, 0.06, 0.07, 0.08, 0.30, 0.90, 1.0)
    r = behavior(ls, w).spread_rate.item()
    # Independent numpy evaluation of the same equations (US units, then ft/min -> m/min).
    w_lb = np.array([0.0046, 0.0459])  # 1-h and cured herbaceous (dead)
    sav = np.array([2000.0, 1800.0])
    m = np.array([0.06, 0.06])
    a = sav * w_lb / 32.0
    f = a / a.sum()
    sigma = (f * sav).sum()
    beta = w_lb.sum() / 1.0 / 32.0
    beta_op = 3.348 * sigma ** -0.8189
    A = 133 * sigma ** -0.7913
    gmax = sigma ** 1.5 / (495 + 0.0594 * sigma ** 1.5)
    gamma = gmax * (beta / beta_op) ** A * math.exp(A * (1 - beta / beta_op))
    # both classes fall in Albini's >= 1200 1/ft bin, so g_ij = f_1h + f_herb = 1 for each
    wn = (w_lb * (1 - 0.0555)).sum()
    rm = (f * m).sum() / 0.15
    eta_m = 1 - 2.59 * rm + 5.11 * rm ** 2 - 3.52 * rm ** 3
    eta_s = 0.174 * 0.01 ** -0.19
    ir = gamma * wn * 8000 * eta_m * eta_s
    xi = math.exp((0.792 + 0.681 * sigma ** 0.5) * (beta + 0.1)) / (192 + 0.2595 * sigma)
    sink = (w_lb.sum() / 1.0) * (f * np.exp(-138 / sav) * (250 + 1116 * m)).sum()
    r0_m_min = ir * xi / sink * 0.3048
    assert r == pytest.approx(r0_m_min, rel=1e-4)
