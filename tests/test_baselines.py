"""Fuel-break baselines: the spread network, DomiRank against the paper's formula and its
dynamics, budget exactness and validity of every method, determinism, bad input, and a run on
the real Worcester landscape."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components
import torch

from qagent._validation import InputError
from qagent.evaluation.baselines import (
    _step_crossings,
    burn_probability_breaks,
    domirank,
    domirank_breaks,
    domirank_centrality,
    greedy_intensity_breaks,
    random_breaks,
    spread_network,
)
from qagent.fire import Weather, WeatherSamples, behavior, burn_probability
from qagent.fire.scenario import DEFAULT_SCENARIO
from qagent.landscape import Landscape

WORCESTER = Path(__file__).resolve().parents[1].parent / "shared" / "landfire" / "worcester_vt"


def landscape(fuel, slope=0.0, aspect=0.0, nodata_mask=None) -> Landscape:
    fuel = np.asarray(fuel)
    f = lambda v: np.full(fuel.shape, v, dtype=np.float32)  # noqa: E731
    return Landscape(slope=f(slope), aspect=f(aspect), elevation=f(100.0), fuel_model=fuel, canopy_cover=f(0.0),
                     canopy_height=f(0.0), canopy_base_height=f(0.0), canopy_bulk_density=f(0.0),
                     nodata_mask=nodata_mask)


def weather(wind=0.0, upwind=270.0, dead_1hr=0.06) -> Weather:
    return Weather(wind_speed_10m=wind, upwind_direction=upwind, fuel_moisture_dead_1hr=dead_1hr,
                   fuel_moisture_dead_10hr=0.07, fuel_moisture_dead_100hr=0.08, fuel_moisture_live_herbaceous=0.6,
                   fuel_moisture_live_woody=0.9, foliar_moisture=1.0)


def mixed_landscape() -> tuple[Landscape, np.ndarray]:
    """8 x 9 grass and timber with water, a road, rock and nodata; returns it and its
    candidate cells (burnable, not nodata)."""
    fuel = np.full((8, 9), 102)
    fuel[:, 5:] = 165  # TU5
    fuel[2:5, 2] = 98  # water
    fuel[6, :] = 91  # road
    fuel[0, 8] = 99
    nodata = np.zeros(fuel.shape, dtype=bool)
    nodata[7, 0:3] = True
    fuel[nodata] = 99
    candidates = np.isin(fuel, [102, 165]) & ~nodata
    return landscape(fuel, nodata_mask=nodata), candidates


def corridor_landscape() -> Landscape:
    """Two grass regions separated by a wall of water (column 5) with a one-cell gap at row 3."""
    fuel = np.full((7, 11), 102)
    fuel[:, 5] = 98
    fuel[3, 5] = 102
    return landscape(fuel)


def dense_domirank(a: np.ndarray, sigma: float) -> np.ndarray:
    """The paper's steady state, Gamma* = sigma (sigma A + I)^{-1} A 1, densely."""
    return sigma * np.linalg.solve(sigma * a + np.eye(len(a)), a @ np.ones(len(a)))


# ------------------------------------------------------------------------------ the network
def test_step_crossings_follow_the_simulator():
    assert _step_crossings(0, 1) == ([], [])
    assert _step_crossings(1, 1) == ([], [((1, 0), (0, 1))])
    assert _step_crossings(-2, 1) == ([(-1, 0), (-1, 1)], [])
    assert _step_crossings(1, -2) == ([(0, -1), (1, -1)], [])


def test_edge_weights_are_directional_rates_over_slope_distance():
    ls = landscape(np.full((3, 3), 102))
    wx = weather(wind=20.0, upwind=270.0)  # spreads east
    a = spread_network(ls, wx).toarray()
    centre, north, east, south_west = 4, 1, 5, 6
    rate = {az: behavior(ls, wx, azimuth=az).spread_rate[1, 1].item() for az in (0, 90, 225)}
    assert a.max() == pytest.approx(1.0)
    assert a[centre, east] / a[centre, north] == pytest.approx(rate[90] / rate[0], rel=1e-5)
    assert a[centre, south_west] / a[centre, north] == pytest.approx(rate[225] / rate[0] / math.sqrt(2), rel=1e-5)
    assert a[east, centre] < a[centre, east]  # backing fire is slower
    assert np.count_nonzero(a[centre]) == 8 and np.count_nonzero(a[0]) == 3 and a.diagonal().max() == 0

    # On a south-facing 50 % slope the step north climbs: 30 m * sqrt(1 + 0.5^2) along the ground.
    slope = landscape(np.full((3, 3), 102), slope=0.5, aspect=180.0)
    wx0 = weather()
    a = spread_network(slope, wx0).toarray()
    r = {az: behavior(slope, wx0, azimuth=az).spread_rate[1, 1].item() for az in (0, 90)}
    assert a[centre, north] / a[centre, east] == pytest.approx(r[0] / r[90] / math.sqrt(1.25), rel=1e-5)


def test_cells_that_cannot_burn_and_breaks_have_no_edges():
    fuel = np.full((4, 5), 102)
    fuel[0, 0] = 98
    nodata = np.zeros(fuel.shape, dtype=bool)
    nodata[3, 4] = True
    breaks = np.zeros(fuel.shape, dtype=bool)
    breaks[2, 2] = True
    a = spread_network(landscape(fuel, nodata_mask=nodata), weather(10.0), fuel_breaks=breaks)
    degree = (np.asarray((a != 0).sum(axis=0)).ravel() + np.asarray((a != 0).sum(axis=1)).ravel()).reshape(4, 5)
    assert degree[0, 0] == 0 and degree[3, 4] == 0 and degree[2, 2] == 0
    assert degree[1, 1] > 0
    # Too wet to spread (GR2's dead moisture of extinction is 15 %): no edges anywhere.
    assert spread_network(landscape(np.full((3, 3), 102)), weather(dead_1hr=0.3)).nnz == 0


def test_diagonal_steps_need_a_corner_open_and_knight_steps_both_crossed_cells():
    ls = landscape(np.full((4, 4), 102))
    wx = weather()
    flat = lambda r, c: r * 4 + c  # noqa: E731
    one = np.zeros((4, 4), dtype=bool)
    one[1, 2] = True
    a = spread_network(ls, wx, fuel_breaks=one)
    assert a[flat(1, 1), flat(2, 2)] > 0  # (2, 1) beside the corner is still open
    diagonal_line = one.copy()
    diagonal_line[2, 1] = True  # a diagonal line of breaks: fire cannot slip between
    a = spread_network(ls, wx, fuel_breaks=diagonal_line)
    assert a[flat(1, 1), flat(2, 2)] == 0 and a[flat(2, 2), flat(1, 1)] == 0

    a16 = spread_network(ls, wx, neighbours=16)
    assert a16[flat(2, 0), flat(0, 1)] > 0  # knight move (-2, +1)
    a16 = spread_network(ls, wx, neighbours=16, fuel_breaks=one)
    assert a16[flat(2, 1), flat(0, 2)] == 0  # crosses (1, 1) and (1, 2): (1, 2) is closed
    assert a16[flat(2, 0), flat(0, 1)] > 0


def test_a_break_on_the_corridor_cuts_the_network():
    ls = corridor_landscape()
    wx = weather(15.0)
    gap = np.zeros((7, 11), dtype=bool)
    gap[3, 5] = True
    burnable = ls.burnable_mask().numpy().reshape(-1)

    def regions(a):  # strongly connected groups of burnable cells
        _, label = connected_components(a, directed=True, connection="strong")
        return len(np.unique(label[burnable & ~gap.reshape(-1)]))

    assert regions(spread_network(ls, wx)) == 1  # fire runs both ways through the gap
    assert regions(spread_network(ls, wx, fuel_breaks=gap)) == 2


# ------------------------------------------------------------------------------ DomiRank
def test_domirank_matches_the_papers_formula_on_a_tiny_directed_graph():
    a = np.array([[0, 2, 0, 0, 1],
                  [1, 0, 3, 0, 0],
                  [0, 1, 0, 1, 0],
                  [0, 0, 2, 0, 1],
                  [1, 0, 0, 1, 0]], dtype=float)
    h_min = np.linalg.eigvalsh((a + a.T) / 2)[0]
    for fraction in (0.1, 0.5, 0.95):
        expected = dense_domirank(a, fraction * -1.0 / h_min)
        np.testing.assert_allclose(domirank_centrality(sp.csr_matrix(a), fraction), expected, rtol=1e-9, atol=1e-12)
    # Undirected: the threshold is the paper's -1 / lambda_min(A).
    s = a + a.T
    expected = dense_domirank(s, 0.5 * -1.0 / np.linalg.eigvalsh(s)[0])
    np.testing.assert_allclose(domirank_centrality(s, 0.5), expected, rtol=1e-9)


def test_domirank_is_the_steady_state_of_the_competition_dynamics():
    # dGamma/dt = sigma A (1 - Gamma) - Gamma (Engsig et al. 2024), by forward Euler.
    a = spread_network(landscape(np.full((5, 6), 102)), weather(12.0, 300.0)).toarray()
    fraction = 0.7
    sigma = fraction * -1.0 / np.linalg.eigvalsh((a + a.T) / 2)[0]
    gamma = np.zeros(len(a))
    for _ in range(4000):
        gamma += 0.05 * (sigma * a @ (1.0 - gamma) - gamma)
    np.testing.assert_allclose(domirank_centrality(a, fraction), gamma, rtol=1e-6, atol=1e-9)


def test_domirank_on_a_large_graph_matches_the_dense_reference():
    a = spread_network(landscape(np.full((12, 12), 102)), weather(25.0, 200.0)).toarray()  # ARPACK path
    sigma = 0.5 * -1.0 / np.linalg.eigvalsh((a + a.T) / 2)[0]
    np.testing.assert_allclose(domirank_centrality(a, 0.5), dense_domirank(a, sigma), rtol=1e-5)


def test_nodes_without_edges_score_zero():
    a = np.zeros((4, 4))
    a[0, 1] = a[1, 0] = 1.0
    gamma = domirank_centrality(a)
    assert gamma[2] == gamma[3] == 0 and gamma[0] == gamma[1] > 0
    assert np.all(domirank_centrality(np.zeros((3, 3))) == 0)


def test_domirank_stays_bounded_in_strong_wind():
    # The symmetric-part threshold keeps the steady state well conditioned however one-way the
    # network is; the spectral threshold gave |Gamma| ~ 1e11 here.
    for wind in (0.0, 30.0, 60.0):
        g = domirank(landscape(np.full((20, 20), 102)), weather(wind), sigma_fraction=0.99)
        assert g.min().item() > -0.5 and g.max().item() < 2.0


def test_upwind_cells_dominate():
    ls = landscape(np.full((12, 12), 102))
    for upwind, head_col, tail_col in ((270.0, 0, -1), (90.0, -1, 0)):  # wind from the west, then east
        g = domirank(ls, weather(25.0, upwind))
        assert g[:, head_col].mean() > g[:, tail_col].mean() + 0.1


def test_domirank_is_zero_where_fire_cannot_burn():
    ls, candidates = mixed_landscape()
    breaks = np.zeros(ls.shape, dtype=bool)
    breaks[1, 1] = True
    g = domirank(ls, weather(10.0), fuel_breaks=breaks)
    assert g.dtype == torch.float32 and tuple(g.shape) == ls.shape
    assert torch.all(g[torch.from_numpy(~candidates)] == 0) and g[1, 1] == 0
    assert torch.all(g[torch.from_numpy(candidates & ~breaks)] != 0)
    assert torch.all(domirank(landscape(np.full((3, 3), 102)), weather(dead_1hr=0.3)) == 0)


# ------------------------------------------------------------------------------ budgets
def _methods(wx):
    return {
        "domirank": lambda ls, k, ex: domirank_breaks(ls, wx, k, existing_breaks=ex),
        "domirank_oneshot": lambda ls, k, ex: domirank_breaks(ls, wx, k, existing_breaks=ex, recompute_every=max(1, k)),
        "domirank_16": lambda ls, k, ex: domirank_breaks(ls, wx, k, existing_breaks=ex, neighbours=16,
                                                         recompute_every=2),
        "random": lambda ls, k, ex: random_breaks(ls, k, seed=3, existing_breaks=ex),
        "greedy_intensity": lambda ls, k, ex: greedy_intensity_breaks(ls, wx, k, existing_breaks=ex),
        "greedy_rate": lambda ls, k, ex: greedy_intensity_breaks(ls, wx, k, metric="spread_rate", existing_breaks=ex),
        "burn_probability": lambda ls, k, ex: burn_probability_breaks(ls, DEFAULT_SCENARIO, k, n_ignitions=48, seed=2,
                                                                      existing_breaks=ex),
        "burn_probability_rounds": lambda ls, k, ex: burn_probability_breaks(ls, DEFAULT_SCENARIO, k, n_ignitions=48,
                                                                             seed=2, rounds=3, existing_breaks=ex),
    }


@pytest.mark.parametrize("method", list(_methods(None)))
def test_every_method_places_exactly_the_budget_on_valid_cells(method):
    ls, candidates = mixed_landscape()
    existing = np.zeros(ls.shape, dtype=bool)
    existing[0, 0:3] = True
    existing[4, 7] = True
    place = _methods(weather(15.0, 225.0))[method]
    free = candidates & ~existing
    for budget, existing_breaks in ((0, None), (1, None), (7, existing), (23, existing), (1000, existing),
                                    (int(candidates.sum()), None)):
        mask = place(ls, budget, existing_breaks)
        assert mask.dtype == torch.bool and tuple(mask.shape) == ls.shape
        allowed = free if existing_breaks is not None else candidates
        m = mask.numpy()
        assert m.sum() == min(budget, allowed.sum())
        assert not np.any(m & ~allowed)


def test_breaks_on_a_landscape_too_wet_to_burn_still_fill_the_budget():
    ls = landscape(np.full((4, 4), 102))
    mask = domirank_breaks(ls, weather(dead_1hr=0.3), 5)
    assert mask.reshape(-1).nonzero().reshape(-1).tolist() == [0, 1, 2, 3, 4]  # all tied: lowest indices


def test_cells_that_cannot_carry_fire_are_picked_last():
    fuel = np.full((5, 5), 102)
    fuel[:, :3] = 165  # TU5 spreads at 20 % dead moisture, GR2 (extinction 15 %) does not
    mask = domirank_breaks(landscape(fuel), weather(10.0, dead_1hr=0.2), 15, recompute_every=15)
    assert mask[:, :3].all()


# ------------------------------------------------------------------------------ determinism
def test_methods_are_deterministic():
    ls, _ = mixed_landscape()
    wx = weather(15.0, 225.0)
    for place in _methods(wx).values():
        assert torch.equal(place(ls, 9, None), place(ls, 9, None))
    assert not torch.equal(random_breaks(ls, 9, 1), random_breaks(ls, 9, 2))


def test_ties_go_to_the_lowest_flat_index():
    ls = landscape(np.full((6, 7), 102))
    mask = greedy_intensity_breaks(ls, weather(10.0), 9)
    assert mask.reshape(-1).nonzero().reshape(-1).tolist() == list(range(9))
    # No wind on a symmetric grid: each cell has up to 3 mirror images of equal DomiRank; the
    # pick must be the lowest-index one of its orbit.
    square = landscape(np.full((9, 9), 102))
    picked = domirank_breaks(square, weather(), 1).nonzero()[0].tolist()
    r, c = picked
    orbit = {(rr, cc) for rr in (r, 8 - r) for cc in (c, 8 - c)} | {(cc, rr) for rr in (r, 8 - r) for cc in (c, 8 - c)}
    assert (r, c) == min(orbit)


def test_one_shot_picks_the_top_of_domirank_and_rounds_recompute():
    ls, candidates = mixed_landscape()
    wx = weather(15.0, 225.0)
    g = domirank(ls, wx).double().numpy()
    mask = domirank_breaks(ls, wx, 6, recompute_every=6).numpy()
    assert g[mask].min() >= g[candidates & ~mask].max()
    # Two rounds of 3 = the top 3, then the top 3 of DomiRank with those closed.
    first = domirank_breaks(ls, wx, 3, recompute_every=3)
    second = domirank_breaks(ls, wx, 3, recompute_every=3, existing_breaks=first)
    assert torch.equal(domirank_breaks(ls, wx, 6, recompute_every=3), first | second)


# ------------------------------------------------------------------------------ bad input
def test_bad_input_is_refused():
    ls, _ = mixed_landscape()
    wx = weather()
    with pytest.raises(InputError, match="budget_cells"):
        domirank_breaks(ls, wx, -1)
    with pytest.raises(InputError, match="budget_cells"):
        random_breaks(ls, 2.5, seed=0)
    with pytest.raises(InputError, match="budget_cells"):
        greedy_intensity_breaks(ls, wx, True)
    with pytest.raises(InputError, match=r"existing_breaks: shape \(3, 3\)"):
        random_breaks(ls, 2, seed=0, existing_breaks=np.zeros((3, 3), dtype=bool))
    bad_mask = np.zeros(ls.shape)
    bad_mask[2, 3] = 0.5
    with pytest.raises(InputError, match=r"existing_breaks: value 0.5 at \(row, col\) \(2, 3\)"):
        greedy_intensity_breaks(ls, wx, 2, existing_breaks=bad_mask)
    with pytest.raises(InputError, match="fuel_breaks"):
        domirank(ls, wx, fuel_breaks=np.zeros((2, 2)))
    for fraction in (0.0, 1.0, 1.5, -0.1, "0.5"):
        with pytest.raises(InputError, match="sigma_fraction"):
            domirank(ls, wx, sigma_fraction=fraction)
    with pytest.raises(InputError, match="neighbours"):
        domirank(ls, wx, neighbours=4)
    with pytest.raises(InputError, match="recompute_every"):
        domirank_breaks(ls, wx, 3, recompute_every=0)
    with pytest.raises(InputError, match="metric"):
        greedy_intensity_breaks(ls, wx, 2, metric="flame_height")
    with pytest.raises(InputError, match="seed"):
        random_breaks(ls, 2, seed=None)
    with pytest.raises(InputError, match="landscape"):
        random_breaks(np.zeros((3, 3)), 2, seed=0)
    with pytest.raises(InputError, match="weather"):
        domirank(ls, "dry")
    with pytest.raises(InputError, match="adjacency"):
        domirank_centrality(np.ones((2, 3)))
    with pytest.raises(InputError, match="adjacency"):
        domirank_centrality(-np.ones((3, 3)))


# ------------------------------------------------------------------------------ burn probability
def test_burn_probability_breaks_is_exported_with_the_other_baselines():
    import qagent.evaluation.baselines

    assert {"domirank_breaks", "greedy_intensity_breaks", "random_breaks", "burn_probability_breaks",
            "dpv_breaks"} \
        <= set(qagent.evaluation.baselines.__all__)


def scenario_fires(n: int, seed: int):
    """The fires burn_probability_breaks draws from DEFAULT_SCENARIO for (n, seed), as documented."""
    weather_samples, duration = DEFAULT_SCENARIO.sample(n, np.random.default_rng([seed, 1]))
    return weather_samples, torch.from_numpy(duration)


def top_cells(score: np.ndarray, eligible: np.ndarray, k: int) -> np.ndarray:
    """A bool mask of the k eligible cells of highest score, ties to the lower flat index."""
    cells = np.flatnonzero(eligible)
    order = sorted(cells.tolist(), key=lambda c: (-score.reshape(-1)[c], c))[:k]
    mask = np.zeros(score.size, dtype=bool)
    mask[order] = True
    return mask.reshape(score.shape)


def test_burn_probability_breaks_are_the_top_of_the_simulated_burn_probability():
    ls, candidates = mixed_landscape()
    existing = np.zeros(ls.shape, dtype=bool)
    existing[1, 1] = existing[3, 6] = True
    n, seed = 96, 5
    wx, duration = scenario_fires(n, seed)
    p = burn_probability(ls, n, wx, duration, seed, fuel_breaks=torch.from_numpy(existing)).numpy()
    assert 0 < p.max() < 1  # fires vary: a real ranking, not a tie
    mask = burn_probability_breaks(ls, DEFAULT_SCENARIO, 9, n_ignitions=n, seed=seed, existing_breaks=existing)
    assert np.array_equal(mask.numpy(), top_cells(p, candidates & ~existing, 9))


def test_burn_probability_breaks_with_values_rank_by_expected_value_burned():
    """With values the ranking is burn probability x value, equal products by burn probability,
    then by flat index (computed here by hand from the simulated burn probability); values all
    ones give the ranking without values; bad values are refused by name."""
    ls, candidates = mixed_landscape()
    n, seed = 96, 5
    wx, duration = scenario_fires(n, seed)
    p = burn_probability(ls, n, wx, duration, seed).numpy()
    rng = np.random.default_rng(0)
    values = np.where(rng.random(ls.shape) < 0.3, rng.uniform(0.5, 3.0, ls.shape), 0.0).astype(np.float32)
    risk = p.astype(np.float64) * values
    cells = np.flatnonzero(candidates)
    order = sorted(cells.tolist(), key=lambda c: (-risk.reshape(-1)[c], -p.reshape(-1)[c], c))[:9]
    expected = np.zeros(p.size, dtype=bool)
    expected[order] = True
    mask = burn_probability_breaks(ls, DEFAULT_SCENARIO, 9, n_ignitions=n, seed=seed, values=values)
    assert np.array_equal(mask.numpy(), expected.reshape(p.shape))
    assert (risk[expected.reshape(p.shape)] > 0).sum() >= 1  # the valued cells that burn come first
    assert not torch.equal(mask, burn_probability_breaks(ls, DEFAULT_SCENARIO, 9, n_ignitions=n, seed=seed))
    plain = burn_probability_breaks(ls, DEFAULT_SCENARIO, 9, n_ignitions=n, seed=seed)
    ones = burn_probability_breaks(ls, DEFAULT_SCENARIO, 9, n_ignitions=n, seed=seed, values=np.ones(ls.shape))
    assert torch.equal(ones, plain)
    bad = values.copy()
    bad[0, 0] = np.nan
    with pytest.raises(InputError, match="values"):
        burn_probability_breaks(ls, DEFAULT_SCENARIO, 9, n_ignitions=n, seed=seed, values=bad)
    with pytest.raises(InputError, match="values: shape"):
        burn_probability_breaks(ls, DEFAULT_SCENARIO, 9, n_ignitions=n, seed=seed, values=np.ones((2, 2)))


def test_burn_probability_rounds_re_estimate_with_the_breaks_placed_so_far():
    ls, candidates = mixed_landscape()
    kw = dict(n_ignitions=64, seed=3)
    # 7 cells in 2 rounds: 4, then 3 with those 4 in place (the same fires both times).
    first = burn_probability_breaks(ls, DEFAULT_SCENARIO, 4, **kw)
    second = burn_probability_breaks(ls, DEFAULT_SCENARIO, 3, existing_breaks=first, **kw)
    both = burn_probability_breaks(ls, DEFAULT_SCENARIO, 7, rounds=2, **kw)
    assert torch.equal(both, first | second)
    wx, duration = scenario_fires(64, 3)
    p2 = burn_probability(ls, 64, wx, duration, 3, fuel_breaks=first).numpy()
    assert np.array_equal(second.numpy(), top_cells(p2, candidates & ~first.numpy(), 3))
    assert torch.equal(burn_probability_breaks(ls, DEFAULT_SCENARIO, 7, rounds=1, **kw),
                       burn_probability_breaks(ls, DEFAULT_SCENARIO, 7, **kw))
    # more rounds than cells: one cell per round
    one_by_one = burn_probability_breaks(ls, DEFAULT_SCENARIO, 3, rounds=10, **kw)
    assert int(one_by_one.sum()) == 3


def test_burn_probability_breaks_go_where_fires_burn_most():
    """Two patches separated by water: GR2 grass, where fires run, and TL1 compact conifer
    litter, where they creep; every break goes to the grass."""
    fuel = np.full((8, 17), 181)  # TL1
    fuel[:, :8] = 102  # GR2
    fuel[:, 8] = 98
    ls = landscape(fuel)
    mask = burn_probability_breaks(ls, DEFAULT_SCENARIO, 20, n_ignitions=200, seed=0).numpy()
    assert mask.sum() == 20 and mask[:, :8].sum() == 20


def test_burn_probability_breaks_go_downwind_in_a_steady_wind():
    """Uniform grass, a 20 km/h wind from the west, 3-hour fires: fires run east, so the cells
    that burn most often, and every break, are in the eastern half."""
    ls = landscape(np.full((10, 20), 102))
    mask = burn_probability_breaks(ls, weather(20.0, 270.0), 12, n_ignitions=200, seed=1, duration_min=180.0)
    m = mask.numpy()
    assert m.sum() == 12 and m[:, 10:].sum() == 12
    # per-ignition weather samples are taken as they are
    samples = WeatherSamples.from_weathers([weather(20.0, 270.0)] * 200)
    again = burn_probability_breaks(ls, samples, 12, n_ignitions=200, seed=1, duration_min=np.full(200, 180.0))
    assert torch.equal(again, mask)


def test_burn_probability_breaks_depend_on_the_seed():
    ls, _ = mixed_landscape()
    a = burn_probability_breaks(ls, DEFAULT_SCENARIO, 8, n_ignitions=32, seed=0)
    assert torch.equal(a, burn_probability_breaks(ls, DEFAULT_SCENARIO, 8, n_ignitions=32, seed=0))
    assert any(not torch.equal(a, burn_probability_breaks(ls, DEFAULT_SCENARIO, 8, n_ignitions=32, seed=s))
               for s in (1, 2, 3))


def test_burn_probability_breaks_refuse_bad_input():
    ls, _ = mixed_landscape()
    ok = dict(n_ignitions=16, seed=0)
    cases = [
        (dict(fire="dry"), "fire: expected"),
        (dict(duration_min=120.0), "duration_min: a FireScenario draws"),
        (dict(fire=weather()), "duration_min: needed with a Weather"),
        (dict(fire=WeatherSamples.from_weathers([weather()] * 3), duration_min=60.0),
         r"fire: WeatherSamples of shape \(3,\)"),
        (dict(fire=weather(), duration_min=-5.0), "duration_min"),
        (dict(n_ignitions=0), "n_ignitions"),
        (dict(n_ignitions=2.5), "n_ignitions"),
        (dict(n_ignitions=True), "n_ignitions"),
        (dict(seed=-1), "seed"),
        (dict(seed=None), "seed"),
        (dict(rounds=0), "rounds"),
        (dict(budget_cells=-1), "budget_cells"),
        (dict(existing_breaks=np.zeros((2, 2), dtype=bool)), r"existing_breaks: shape \(2, 2\)"),
        (dict(landscape=np.zeros((3, 3))), "landscape"),
    ]
    for change, message in cases:
        args = {"landscape": ls, "fire": DEFAULT_SCENARIO, "budget_cells": 3, **ok, **change}
        with pytest.raises(InputError, match=message):
            burn_probability_breaks(args.pop("landscape"), args.pop("fire"), args.pop("budget_cells"), **args)


# ------------------------------------------------------------------------------ real landscape
@pytest.mark.skipif(not WORCESTER.is_dir(), reason=f"needs the LANDFIRE layers of Worcester, VT at {WORCESTER}")
def test_worcester():
    from qagent.landscape import load_landfire

    ls = load_landfire(WORCESTER)
    wx = weather(20.0, 225.0)
    candidates = ls.burnable_mask().numpy() & ~ls.nodata_mask.numpy()
    g = domirank(ls, wx)
    assert torch.all(g[torch.from_numpy(~candidates)] == 0) and g.max() > 0
    mask = domirank_breaks(ls, wx, 500, recompute_every=250).numpy()
    assert mask.sum() == 500 and not np.any(mask & ~candidates)
