"""Downstream protection value (Pais et al. 2021; csrc/qagent/dpv.h, docs/dpv.md): hand-counted
propagation trees (a corridor, a fork), values at risk and burned value, Dijkstra against the
relaxation (the CUDA algorithm run with one lane), the op contract, bad input and the
dpv_breaks baseline."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qagent._validation import InputError
from qagent.evaluation.baselines import dpv_breaks
from qagent.fire import Weather, WeatherSamples, downstream_protection_value, sample_ignitions, simulate
from qagent.fire.scenario import DEFAULT_SCENARIO
from qagent.landscape import Landscape
from test_spread import _spread_op_args, random_landscape, weather

ALGORITHMS = ("dijkstra", "relax", "dijkstra_uncached")
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def fuel_landscape(fuel: np.ndarray) -> Landscape:
    f = lambda v: np.full(fuel.shape, v, dtype=np.float32)  # noqa: E731
    return Landscape(slope=f(0), aspect=f(0), elevation=f(0), fuel_model=fuel, canopy_cover=f(0), canopy_height=f(0),
                     canopy_base_height=f(0), canopy_bulk_density=f(0))


CALM = weather(wind=0.0)


# --------------------------------------------------------------------------- hand-made trees
@pytest.mark.parametrize("stencil", [16, 32])
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_corridor_dpv_counts_the_cells_beyond(stencil, algorithm):
    """A 1-cell-wide corridor of grass between water, ignited at its west end: the tree is the
    line itself, so the k-th cell's DPV is the number of burned cells from it to the far end."""
    fuel = np.full((5, 14), 98)
    fuel[2, 1:13] = 102
    ls = fuel_landscape(fuel)
    r = simulate(ls, [2 * 14 + 1], weather(wind=10.0, upwind=90.0), 1e6, return_dpv=True, stencil=stencil,
                 algorithm=algorithm)
    assert r.burned_cells.item() == 12
    expected = np.zeros((5, 14), dtype=np.float32)
    expected[2, 1:13] = np.arange(12, 0, -1)
    np.testing.assert_array_equal(r.dpv.numpy(), expected)
    assert r.burned_value.item() == 12.0
    # a shorter fire: only the burned cells count
    t = simulate(ls, [2 * 14 + 1], weather(wind=10.0, upwind=90.0), 1e6, return_arrival=True,
                 stencil=stencil).arrival_time_min[0, 2]
    short = simulate(ls, [2 * 14 + 1], weather(wind=10.0, upwind=90.0), float(t[6]), return_dpv=True,
                     stencil=stencil, algorithm=algorithm)
    assert short.burned_cells.item() == 6
    np.testing.assert_array_equal(short.dpv[2, 1:13].numpy(), [6, 5, 4, 3, 2, 1, 0, 0, 0, 0, 0, 0])


@pytest.mark.parametrize("stencil", [16, 32])
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_fork_dpv_splits_at_the_junction(stencil, algorithm):
    """A T of 1-cell corridors ignited at the foot of its stem, no wind, no slope (circular
    fire): the stem's cells carry everything above them; at the junction (3, 5) the diagonal
    steps (42 m) beat the two straight ones (60 m), so (3, 5) ignites (2, 4), (2, 5) and (2, 6)
    and each arm of the bar counts its own cells."""
    fuel = np.full((9, 12), 98)
    fuel[2, 1:11] = 102
    fuel[3:8, 5] = 102
    ls = fuel_landscape(fuel)
    r = simulate(ls, [7 * 12 + 5], CALM, 1e6, return_dpv=True, stencil=stencil, algorithm=algorithm)
    expected = np.zeros((9, 12), dtype=np.float32)
    expected[2, 1:5] = [1, 2, 3, 4]      # west arm: the cells to its west, itself included
    expected[2, 6:11] = [5, 4, 3, 2, 1]  # east arm
    expected[2, 5] = 1                   # the top of the T: a leaf
    expected[3:8, 5] = [11, 12, 13, 14, 15]
    np.testing.assert_array_equal(r.dpv.numpy(), expected)
    assert r.burned_cells.item() == 15 and r.burned_value.item() == 15.0


def test_values_weight_the_subtrees():
    fuel = np.full((5, 12), 98)
    fuel[2, 1:11] = 102
    ls = fuel_landscape(fuel)
    v = np.arange(60, dtype=np.float32).reshape(5, 12)  # the corridor holds 25 ... 34
    for algorithm in ALGORITHMS:
        r = simulate(ls, [2 * 12 + 1, 2 * 12 + 5], CALM, 1e6, values=v, return_dpv=True, algorithm=algorithm)
        np.testing.assert_array_equal(r.burned_value.numpy(), [295.0, 295.0])
        west = np.cumsum(v[2, 1:11][::-1])[::-1]  # fire 1, from the west end: everything east of a cell
        second = np.zeros(10, dtype=np.float32)   # fire 2, from column 5, spreads both ways
        second[4] = 295.0
        second[:4] = np.cumsum(v[2, 1:5])
        second[5:] = np.cumsum(v[2, 6:11][::-1])[::-1]
        np.testing.assert_array_equal(r.dpv[2, 1:11].numpy(), west + second)


# --------------------------------------------------------------------------- values and burned value
def test_unit_values_equal_unweighted_and_burned_value_is_a_hand_sum():
    rng = np.random.default_rng(5)
    ls = random_landscape(rng, 13, 11)
    ign = rng.integers(0, 143, 12)
    breaks = rng.random((13, 11)) < 0.1
    plain = simulate(ls, ign, weather(), 300.0, fuel_breaks=breaks, return_dpv=True, return_arrival=True)
    ones = simulate(ls, ign, weather(), 300.0, fuel_breaks=breaks, return_dpv=True, values=np.ones((13, 11)))
    assert torch.equal(plain.dpv, ones.dpv)
    assert torch.equal(plain.burned_value, plain.burned_cells.float())
    assert torch.equal(ones.burned_value, plain.burned_cells.float())
    assert torch.equal(plain.burn_count, ones.burn_count)
    # values without DPV: the burned value alone; nothing asked: neither
    v = rng.uniform(0, 10, (13, 11)).astype(np.float32)
    only = simulate(ls, ign, weather(), 300.0, fuel_breaks=breaks, values=v)
    assert only.dpv is None
    burned = torch.isfinite(plain.arrival_time_min)
    hand = (burned.double() * torch.from_numpy(v).double()).sum(dim=(1, 2)).float()
    torch.testing.assert_close(only.burned_value, hand, rtol=1e-6, atol=0)
    none = simulate(ls, ign, weather(), 300.0, fuel_breaks=breaks)
    assert none.dpv is None and none.burned_value is None


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_ignition_dpv_is_the_burned_value_and_unburned_cells_have_none(algorithm):
    rng = np.random.default_rng(11)
    ls = random_landscape(rng, 16, 15)
    breaks = rng.random((16, 15)) < 0.08
    ints = rng.integers(0, 6, (16, 15)).astype(np.float32)
    floats = rng.uniform(0, 3, (16, 15)).astype(np.float32)
    for v, exact in ((None, True), (ints, True), (floats, False)):
        for cell in rng.integers(0, 240, 6):
            r = simulate(ls, [cell], weather(wind=20.0), 400.0, fuel_breaks=breaks, values=v, return_dpv=True,
                         algorithm=algorithm)
            row, col = divmod(int(cell), 15)
            if exact:
                assert r.dpv[row, col].item() == r.burned_value.item()
            else:
                assert r.dpv[row, col].item() == pytest.approx(r.burned_value.item(), rel=1e-5)
            unburned = r.burn_count == 0
            assert bool((r.dpv[unburned] == 0).all())
            # every burned cell carries at least its own value
            own = torch.ones(16, 15) if v is None else torch.from_numpy(v)
            assert bool((r.dpv >= own * r.burn_count).all())


# --------------------------------------------------------------------------- Dijkstra == relaxation
def samples(rng: np.random.Generator, n: int) -> WeatherSamples:
    m1 = rng.uniform(0.03, 0.12, n)
    herb = rng.uniform(0.3, 1.2, n)
    return WeatherSamples(rng.uniform(0, 45, n), rng.uniform(0, 360, n), m1, m1 + 0.01, m1 + 0.02, herb, herb + 0.3,
                          rng.uniform(0.9, 1.2, n))


@st.composite
def dpv_cases(draw, max_side=14):
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    h, w = draw(st.integers(1, max_side)), draw(st.integers(1, max_side))
    ls = random_landscape(rng, h, w, nonburnable_fraction=draw(st.sampled_from([0.0, 0.1, 0.3])))
    breaks = rng.random((h, w)) < draw(st.sampled_from([0.0, 0.1, 0.25]))
    n = draw(st.integers(1, 6))
    ign = rng.integers(0, h * w, size=n)
    duration = rng.choice([0.0, 10.0, 60.0, 300.0, 1440.0], size=n).astype(np.float32)
    per_fire = draw(st.booleans())
    wx = samples(rng, n) if per_fire else weather(wind=float(rng.uniform(0, 40)), upwind=float(rng.uniform(0, 360)))
    kind = draw(st.sampled_from(["none", "ints", "floats"]))
    values = {"none": None, "ints": rng.integers(0, 8, (h, w)).astype(np.float32),
              "floats": rng.uniform(0, 5, (h, w)).astype(np.float32)}[kind]
    stencil = draw(st.sampled_from([16, 32]))
    params = draw(st.sampled_from(["auto", "lazy", "eager"]))
    window = draw(st.sampled_from([0, 1, 3, 8]))
    return ls, breaks, wx, ign, duration, values, kind, stencil, params, window


@SETTINGS
@given(dpv_cases())
def test_relaxation_dpv_equals_dijkstra(case):
    """The same tree from both algorithms (lazy and eager parameters, per-fire weather, breaks,
    tiny relaxation windows that overflow and re-run): DPV equal exactly for integer values (float
    sums of small integers are exact), to float rounding otherwise; burned values likewise."""
    ls, breaks, wx, ign, duration, values, kind, stencil, params, window = case
    runs = [simulate(ls, ign, wx, duration, fuel_breaks=breaks, values=values, return_dpv=True, stencil=stencil,
                     algorithm=a, params=params, relax_window=window if a == "relax" else 0) for a in ALGORITHMS]
    for r in runs[1:]:
        assert torch.equal(r.burn_count, runs[0].burn_count)
        if kind == "floats":
            torch.testing.assert_close(r.dpv, runs[0].dpv, rtol=2e-6, atol=1e-5)
            torch.testing.assert_close(r.burned_value, runs[0].burned_value, rtol=1e-6, atol=0)
        else:
            assert torch.equal(r.dpv, runs[0].dpv)
            assert torch.equal(r.burned_value, runs[0].burned_value)
    # the DPV of one fire at a time sums to the batch's
    each = sum(simulate(ls, ign[i:i + 1], wx if isinstance(wx, Weather) else
                        WeatherSamples(*(getattr(wx, f)[i:i + 1] for f in wx.__dataclass_fields__)),
                        duration[i:i + 1], fuel_breaks=breaks, values=values, return_dpv=True,
                        stencil=stencil).dpv for i in range(len(ign)))
    torch.testing.assert_close(each, runs[0].dpv, rtol=1e-6, atol=1e-5)


@pytest.mark.parametrize("stencil", [16, 32])
def test_uniform_fuel_ties_resolve_alike(stencil):
    """Uniform fuel: every cell's step in one direction takes the same time, so paths that take
    the same steps in another order tie exactly (a + b == b + a in float); the lowest
    direction wins in both algorithms, so their trees and DPV are identical."""
    ls = fuel_landscape(np.full((21, 23), 102))
    for wx in (CALM, weather(wind=20.0, upwind=225.0)):
        ign = [10 * 23 + 11, 0, 21 * 23 - 1, 5 * 23 + 17]
        runs = [simulate(ls, ign, wx, 300.0, return_dpv=True, stencil=stencil, algorithm=a,
                         relax_window=5 if a == "relax" else 0) for a in ALGORITHMS]
        for r in runs[1:]:
            assert torch.equal(r.dpv, runs[0].dpv)


def test_batches_chunks_and_landscape_values():
    rng = np.random.default_rng(3)
    lss = [random_landscape(rng, 9, 11) for _ in range(3)]
    ign = rng.integers(0, 99, size=(3, 7))
    breaks = rng.random((3, 9, 11)) < 0.1
    v = rng.integers(0, 5, (3, 9, 11)).astype(np.float32)
    wx = samples(rng, 21)
    wx = WeatherSamples(*(getattr(wx, f).reshape(3, 7) for f in wx.__dataclass_fields__))
    batched = simulate(lss, ign, wx, 300.0, fuel_breaks=breaks, values=v, return_dpv=True)
    assert batched.dpv.shape == (3, 9, 11) and batched.burned_value.shape == (3, 7)
    tiny = simulate(lss, ign, wx, 300.0, fuel_breaks=breaks, values=v, return_dpv=True, memory_budget_bytes=500)
    assert torch.equal(tiny.dpv, batched.dpv) and torch.equal(tiny.burned_value, batched.burned_value)
    for e in range(3):
        one = WeatherSamples(*(getattr(wx, f)[e] for f in wx.__dataclass_fields__))
        single = simulate(lss[e], ign[e], one, 300.0, fuel_breaks=breaks[e], values=v[e], return_dpv=True)
        assert torch.equal(batched.dpv[e], single.dpv)
        assert torch.equal(batched.burned_value[e], single.burned_value)
    # one [H, W] grid is shared by every landscape; without burn counts DPV still comes back
    shared = simulate(lss, ign, wx, 300.0, fuel_breaks=breaks, values=v[0], return_dpv=True,
                      return_burn_count=False)
    assert shared.burn_count is None
    single = simulate(lss[2], ign[2], WeatherSamples(*(getattr(wx, f)[2] for f in wx.__dataclass_fields__)), 300.0,
                      fuel_breaks=breaks[2], values=v[0], return_dpv=True)
    assert torch.equal(shared.dpv[2], single.dpv)


def test_downstream_protection_value_helper():
    rng = np.random.default_rng(8)
    ls = random_landscape(rng, 12, 12, nonburnable_fraction=0.05)
    v = rng.integers(0, 4, (12, 12)).astype(np.float32)
    d = downstream_protection_value(ls, 50, weather(), 200.0, seed=4, values=v)
    ign = sample_ignitions(ls, 50, seed=4)
    r = simulate(ls, ign, weather(), 200.0, values=v, return_dpv=True)
    torch.testing.assert_close(d, r.dpv / 50)
    # a FireScenario: the draws of qagent.evaluation.baselines (numpy.random.default_rng([seed, 1]))
    d = downstream_protection_value(ls, 30, DEFAULT_SCENARIO, None, seed=2)
    wx, duration = DEFAULT_SCENARIO.sample(30, np.random.default_rng([2, 1]))
    r = simulate(ls, sample_ignitions(ls, 30, seed=2), wx, duration, return_dpv=True)
    torch.testing.assert_close(d, r.dpv / 30)
    with pytest.raises(InputError, match="a FireScenario draws each fire's duration"):
        downstream_protection_value(ls, 30, DEFAULT_SCENARIO, 100.0, seed=2)
    with pytest.raises(InputError, match="duration_min: needed with a Weather"):
        downstream_protection_value(ls, 30, weather(), None, seed=2)
    with pytest.raises(InputError, match="expected a Weather, WeatherSamples or a"):
        downstream_protection_value(ls, 30, "summer", 100.0, seed=2)


# --------------------------------------------------------------------------- bad input, op contract
def test_bad_values_are_refused():
    ls = fuel_landscape(np.full((6, 7), 102))
    ok = np.ones((6, 7), dtype=np.float32)
    for bad, msg in [
        (-ok, r"values: value -1 at \(row, col\) \(0, 0\) must be finite and >= 0 \(42 such values\)"),
        (np.where(np.arange(42).reshape(6, 7) == 9, np.nan, ok), r"values: value nan at \(row, col\) \(1, 2\)"),
        (np.full((6, 7), np.inf), "must be finite and >= 0"),
        (np.ones((6, 6)), r"values: shape \(6, 6\) does not match the landscape's \(6, 7\)"),
        (np.ones((2, 6, 7)), r"values: expected a float \[H, W\] grid"),
        ("lots", "values"),
    ]:
        with pytest.raises(InputError, match=msg):
            simulate(ls, [3], CALM, 10.0, values=bad, return_dpv=True)
    with pytest.raises(InputError, match=r"values: expected \[E, H, W\] = \(2, 6, 7\)"):
        simulate([ls, ls], [[3], [4]], CALM, 10.0, values=np.ones((3, 6, 7)))
    with pytest.raises(InputError, match=r"values: value -2 at landscape 1, \(row, col\) \(0, 0\)"):
        simulate([ls, ls], [[3], [4]], CALM, 10.0, values=np.stack([ok, -2 * ok]))
    with pytest.raises(InputError, match="values: value -1"):
        dpv_breaks(ls, DEFAULT_SCENARIO, 0, n_ignitions=5, seed=0, values=-ok)


def test_spread_op_refuses_bad_values():
    args, _ = _spread_op_args(return_arrival=False)
    op = torch.ops.qagent.spread
    values = torch.ones(2, 7, 9)
    op(*args, values=values, value_index=torch.tensor([0, -1, 1]), return_dpv=True)
    for kw, msg in [
        (dict(values=-values), "values must be finite and >= 0"),
        (dict(values=values * float("nan")), "values must be finite and >= 0"),
        (dict(values=torch.ones(2, 7, 8)), r"values must be \[V, 7, 9\]"),
        (dict(values=torch.ones(7, 9)), "values must have 3 dimensions"),
        (dict(values=values.double()), "values must have dtype Float"),
        (dict(value_index=torch.tensor([0, 2, 1])), r"value_index values must lie in \[-1, 2\)"),
        (dict(value_index=torch.tensor([0, 1])), "value_index needs n = 3 entries"),
        (dict(values=None, value_index=torch.tensor([0, 0, 0])), r"value_index values must lie in \[-1, 0\)"),
    ]:
        a = dict(values=values, value_index=torch.tensor([0, -1, 1]), return_dpv=True)
        a.update(kw)
        with pytest.raises(RuntimeError, match=msg):
            op(*args, **a)


def test_opcheck_spread_with_values_and_dpv():
    args, (terrain, fuel, w) = _spread_op_args()
    values = torch.rand(2, 7, 9)
    index = torch.tensor([1, -1, 0])
    for algorithm in (0, 2):
        a = args[:-1] + (algorithm,)
        torch.library.opcheck(torch.ops.qagent.spread.default, a,
                              dict(values=values, value_index=index, return_dpv=True))
        torch.library.opcheck(torch.ops.qagent.spread.default, a, dict(values=values, value_index=index))
        torch.library.opcheck(torch.ops.qagent.spread.default, a, dict(return_dpv=True))
    # lazy weather rows and a small relaxation window
    rows = torch.cat([w[:, :, :1], w[:, :, :1] * 0.9])
    lazy = (terrain, fuel, rows, torch.zeros(2, dtype=torch.int64), 0, True, 1e10, 3)
    mixed = (args[0], args[1], args[2], torch.tensor([1, 0, 2]), *args[4:11], 2, *lazy)
    torch.library.opcheck(torch.ops.qagent.spread.default, mixed, dict(values=values, value_index=index,
                                                                       return_dpv=True))
    # without values the two extra outputs are empty and cost nothing
    burned, counts, arrival, burned_value, dpv = torch.ops.qagent.spread(*args)
    assert burned_value.shape == (0,) and dpv.shape == (0, 7, 9)


def test_spread_dpv_under_torch_compile():
    args, _ = _spread_op_args()
    values = torch.rand(2, 7, 9)

    def f(params, values):
        out = torch.ops.qagent.spread(params, *args[1:], values=values, value_index=torch.tensor([0, 1, 1]),
                                      return_dpv=True)
        return out[3].sum() + out[4].sum()

    compiled = torch.compile(f, backend="aot_eager", fullgraph=True)
    assert compiled(args[0], values) == f(args[0], values)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("side", [9, 60, 150])
def test_cuda_dpv_matches_cpu(side):
    rng = np.random.default_rng(side)
    ls = random_landscape(rng, side, side)
    breaks = rng.random((side, side)) < 0.05
    ign = rng.integers(0, side * side, 64)
    v = rng.integers(0, 4, (side, side)).astype(np.float32)
    cpu = simulate(ls, ign, weather(wind=25.0), 600.0, fuel_breaks=breaks, values=v, return_dpv=True)
    gpu = simulate(ls, ign, weather(wind=25.0), 600.0, fuel_breaks=breaks, values=v, return_dpv=True, device="cuda")
    # cells exactly at the duration may differ by rounding (test_spread), and with them subtrees
    close = torch.isclose(gpu.dpv.cpu(), cpu.dpv, rtol=1e-4, atol=1e-3)
    assert close.float().mean().item() > 0.999
    torch.testing.assert_close(gpu.burned_value.cpu(), cpu.burned_value, rtol=1e-3, atol=1.0)


# --------------------------------------------------------------------------- dpv_breaks
def pinch_landscape() -> Landscape:
    """15 x 31 grass split by a wall of water with a one-cell gap at (7, 15): every fire that
    crosses between the halves passes the gap."""
    fuel = np.full((15, 31), 102)
    fuel[:, 15] = 98
    fuel[7, 15] = 102
    return fuel_landscape(fuel)


def test_dpv_breaks_treats_the_pinch_cell():
    ls = pinch_landscape()
    one = dpv_breaks(ls, DEFAULT_SCENARIO, 1, n_ignitions=200, seed=0).numpy()
    assert one.sum() == 1 and one[7, 15]
    # one-shot, the next cells are the gap's upstream chain; re-scored, they move elsewhere
    three = dpv_breaks(ls, DEFAULT_SCENARIO, 3, n_ignitions=200, seed=0).numpy()
    rounds = dpv_breaks(ls, DEFAULT_SCENARIO, 3, n_ignitions=200, seed=0, rounds=3).numpy()
    assert three[7, 15] and rounds[7, 15] and three.sum() == rounds.sum() == 3
    assert three[7, 14]
    assert not rounds[7, 14]
    again = dpv_breaks(ls, DEFAULT_SCENARIO, 3, n_ignitions=200, seed=0, rounds=3).numpy()
    np.testing.assert_array_equal(again, rounds)


def test_dpv_breaks_respects_budget_and_candidates():
    rng = np.random.default_rng(2)
    ls = random_landscape(rng, 12, 14, nonburnable_fraction=0.2)
    existing = np.zeros((12, 14), dtype=bool)
    existing[3, :] = True
    candidates = ls.burnable_mask().numpy() & ~existing
    for budget, rounds in ((0, 1), (7, 1), (7, 3), (10_000, 2)):
        b = dpv_breaks(ls, weather(), budget, n_ignitions=40, seed=1, duration_min=300.0, rounds=rounds,
                       existing_breaks=existing).numpy()
        assert b.sum() == min(budget, candidates.sum())
        assert not (b & ~candidates).any()
    # values steer the picks: all the value on one cell, and that cell's upstream is what matters
    v = np.zeros((12, 14), dtype=np.float32)
    v[10, 10] = 1.0
    b = dpv_breaks(ls, weather(), 3, n_ignitions=40, seed=1, duration_min=300.0, values=v).numpy()
    dpv = downstream_protection_value(ls, 40, weather(), 300.0, seed=1, values=v).numpy()
    assert (dpv[b] > 0).all() or dpv.max() == 0
    with pytest.raises(InputError, match="budget_cells"):
        dpv_breaks(ls, weather(), -1, n_ignitions=4, seed=0, duration_min=10.0)
    with pytest.raises(InputError, match="rounds"):
        dpv_breaks(ls, weather(), 2, n_ignitions=4, seed=0, duration_min=10.0, rounds=0)
    with pytest.raises(InputError, match="duration_min: needed"):
        dpv_breaks(ls, weather(), 2, n_ignitions=4, seed=0)
