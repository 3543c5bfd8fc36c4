"""Fuel-break baselines: DomiRank centrality, burn-probability ranking, random placement,
greedy by fire behavior.

These are the reference strategies an RL agent must beat (and DomiRank's picks are the
demonstrations that warm-start it). Each places EXACTLY ``budget_cells`` new breaks (or every
candidate cell, when there are fewer), only on burnable cells (``Landscape.burnable_mask``,
nodata excluded) that are not already breaks, deterministically. The returned mask holds the
new breaks only; the full layout is its union with ``existing_breaks``.

- ``domirank_breaks``: DomiRank centrality (Engsig et al. 2024, Nature Communications 15, 56)
  of the landscape's directed fire-spread network, A[u, v] = R_u(toward v) / d_uv (the spread
  rate from cell u toward its neighbour v over the distance along u's slope plane, 8 or 16
  neighbours, edges cut as the simulator cuts them); the steady state Gamma* = sigma
  (sigma A + I)^{-1} A 1 with sigma a fraction (default 0.5) of -1 / lambda_min((A + A^T) / 2),
  the threshold of the symmetric part (the paper's spectral threshold is ill-conditioned on
  wind-driven, non-normal networks), solved by GMRES, recomputed in ten rounds of picks.
  Rationale, derivations, measurements and limits: see docs/domirank.md.
- ``burn_probability_breaks``: the cells that simulated fires (a ``FireScenario`` or a fixed
  weather) burn most often, one-shot or re-estimated in rounds (Finney 2005; Ager, Vaillant &
  Finney 2010). It misses pinch points, which burn less often than the open ground downwind
  of them: see docs/burn_probability_ranking.md.
- ``dpv_breaks``: the cells of highest downstream protection value (Pais et al. 2021): the
  value at risk that simulated fires pass on through a cell, summed over each fire's
  propagation tree below it, one-shot or re-scored in rounds; see docs/dpv.md.
- ``greedy_intensity_breaks``: the cells of highest head-fire intensity (or spread rate).
- ``random_breaks``: uniform among the candidate cells.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
import torch

from qagent._validation import InputError, as_tensor, check_grid_shape
from qagent.fire.behavior import behavior
from qagent.fire.spread import _fires_of, burn_probability
from qagent.fire.spread import _values as _value_grid
from qagent.fire.spread import downstream_protection_value
from qagent.fire.weather import Weather
from qagent.landscape.core import Landscape

DEFAULT_SIGMA_FRACTION = 0.5
EIGEN_TOLERANCE = 1e-3  # ARPACK's relative tolerance on lambda_min of the symmetric part
SOLVE_RTOLERANCE = 1e-10  # GMRES relative residual of the steady state
TIE_DIGITS = 6  # scores equal to 6 decimals of the largest |score| are ties (solver noise)
DEFAULT_RECOMPUTE_ROUNDS = 10
GREEDY_METRICS = ("fireline_intensity", "spread_rate")

# (d_row, d_col) of the neighbours, rows growing southward: the 8 neighbours clockwise from
# north, then the 8 knight moves clockwise from NNE (the order of csrc/qagent/spread.h).
_NEIGHBOUR_OFFSETS = {
    8: ((-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1)),
    16: ((-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1),
         (-2, 1), (-1, 2), (1, 2), (2, 1), (2, -1), (1, -2), (-1, -2), (-2, -1)),
}


# ------------------------------------------------------------------------------ validation
def _check_landscape(landscape) -> None:
    if not isinstance(landscape, Landscape):
        raise InputError(f"landscape: expected a qagent.landscape.Landscape, got {type(landscape).__name__}")


def _check_weather(weather) -> None:
    if not isinstance(weather, Weather):
        raise InputError(f"weather: expected a qagent.fire.Weather, got {type(weather).__name__}")


def _check_budget(budget_cells) -> int:
    if isinstance(budget_cells, (bool, np.bool_)) or not isinstance(budget_cells, (int, np.integer)):
        raise InputError(f"budget_cells: must be a non-negative integer number of cells, got {budget_cells!r}")
    if budget_cells < 0:
        raise InputError(f"budget_cells: must be a non-negative integer number of cells, got {int(budget_cells)}")
    return int(budget_cells)


def _mask_array(name: str, mask, shape: tuple[int, int]) -> np.ndarray:
    """A bool [H, W] numpy copy of an optional mask (all False when None)."""
    if mask is None:
        return np.zeros(shape, dtype=bool)
    t = as_tensor(name, mask, dtype=torch.float64)
    check_grid_shape(name, t, shape)
    bad = (t != 0) & (t != 1)
    if bool(bad.any()):
        pos = tuple(int(i) for i in torch.nonzero(bad)[0].tolist())
        raise InputError(f"{name}: value {t[pos].item():.6g} at (row, col) {pos} is not a bool (0 or 1)")
    return t.cpu().numpy().astype(bool)


def _check_fraction(sigma_fraction) -> float:
    if isinstance(sigma_fraction, bool) or not isinstance(sigma_fraction, (int, float, np.integer, np.floating)) \
            or not 0.0 < float(sigma_fraction) < 1.0:
        raise InputError(f"sigma_fraction: must lie strictly between 0 and 1 (a fraction of the convergence "
                         f"threshold -1/lambda_min), got {sigma_fraction!r}")
    return float(sigma_fraction)


def _check_neighbours(neighbours) -> tuple[tuple[int, int], ...]:
    if isinstance(neighbours, bool) or neighbours not in _NEIGHBOUR_OFFSETS:
        raise InputError(f"neighbours: must be 8 or 16, got {neighbours!r}")
    return _NEIGHBOUR_OFFSETS[neighbours]


def _candidates(landscape: Landscape, existing: np.ndarray) -> np.ndarray:
    """Cells that may become breaks: burnable fuel, not nodata, not a break yet."""
    ok = landscape.burnable_mask().cpu().numpy()
    if landscape.nodata_mask is not None:
        ok &= ~landscape.nodata_mask.cpu().numpy()
    return ok & ~existing


def _pick(score: np.ndarray, eligible: np.ndarray, count: int) -> np.ndarray:
    """Flat indices of the ``count`` eligible cells of highest score; ties go to the lower flat
    index (row * W + col), so the choice is deterministic."""
    cells = np.flatnonzero(eligible)
    order = np.lexsort((cells, -score.reshape(-1)[cells]))
    return cells[order[:count]]


def _as_mask(flat_cells: np.ndarray, landscape: Landscape) -> torch.Tensor:
    mask = np.zeros(landscape.num_cells, dtype=bool)
    mask[flat_cells] = True
    return torch.from_numpy(mask.reshape(landscape.shape)).to(landscape.device)


# ------------------------------------------------------------------------------ the graph
def _step_crossings(d_row: int, d_col: int) -> tuple[list[tuple[int, int]], list[tuple[tuple[int, int], ...]]]:
    """The cells strictly between a cell and its neighbour at (d_row, d_col), which must all be
    open, and the corners the segment passes through, each given by the two cells beside it of
    which one must be open: the cell walk of ``step_time_min`` in csrc/qagent/spread.h
    (Amanatides & Woo 1987)."""
    n_row, n_col = abs(d_row), abs(d_col)
    s_row, s_col = (1 if d_row >= 0 else -1), (1 if d_col >= 0 else -1)
    cells, corners = [], []
    r = c = 0
    k = m = 1
    while (r, c) != (d_row, d_col):
        at_col = (2 * k - 1) * n_row if k <= n_col else math.inf
        at_row = (2 * m - 1) * n_col if m <= n_row else math.inf
        if at_col < at_row:
            c += s_col
            k += 1
        elif at_row < at_col:
            r += s_row
            m += 1
        else:
            corners.append(((r + s_row, c), (r, c + s_col)))
            r, c, k, m = r + s_row, c + s_col, k + 1, m + 1
        if (r, c) != (d_row, d_col):
            cells.append((r, c))
    return cells, corners


def _shifted(grid: np.ndarray, d_row: int, d_col: int, pad: int) -> np.ndarray:
    """grid[row + d_row, col + d_col] for every (row, col), False outside, from a copy of
    ``grid`` padded by ``pad`` >= |d| with False."""
    h, w = grid.shape[0] - 2 * pad, grid.shape[1] - 2 * pad
    return grid[pad + d_row: pad + d_row + h, pad + d_col: pad + d_col + w]


class _SpreadRates:
    """What the spread network needs from fire behavior, computed once per landscape and
    weather: the spread rate toward each neighbour and the open cells before any break."""

    def __init__(self, landscape: Landscape, weather: Weather, offsets):
        self.shape = landscape.shape
        self.offsets = offsets
        head = behavior(landscape, weather).spread_rate.cpu().numpy()
        self.open = _candidates(landscape, np.zeros(self.shape, dtype=bool)) & (head > 0)
        slope = landscape.slope.cpu().numpy().astype(np.float64)
        aspect_rad = np.radians(landscape.aspect.cpu().numpy().astype(np.float64))
        self.rate_per_m = []
        for d_row, d_col in offsets:
            azimuth = math.degrees(math.atan2(d_col, -d_row)) % 360.0
            rate_m_min = behavior(landscape, weather, azimuth=azimuth).spread_rate.cpu().numpy().astype(np.float64)
            # Distance along u's slope plane: the plane falls by `slope` per metre toward `aspect`.
            horizontal_m = landscape.cell_size_m * math.hypot(d_row, d_col)
            grade = slope * np.cos(math.radians(azimuth) - aspect_rad)
            self.rate_per_m.append(rate_m_min / (horizontal_m * np.sqrt(1.0 + grade * grade)))

    def adjacency(self, closed: np.ndarray) -> sp.csr_matrix:
        """A[u, v] = w(u -> v) over flat cell indices, for the landscape with ``closed`` cells
        (breaks) removed."""
        h, w = self.shape
        pad = max(max(abs(a), abs(b)) for a, b in self.offsets)
        is_open = np.pad(self.open & ~closed, pad)
        source = np.arange(h * w).reshape(h, w)
        rows, cols, vals = [], [], []
        for (d_row, d_col), rate in zip(self.offsets, self.rate_per_m):
            allowed = is_open[pad:pad + h, pad:pad + w] & _shifted(is_open, d_row, d_col, pad)
            cells, corners = _step_crossings(d_row, d_col)
            for a in cells:
                allowed &= _shifted(is_open, *a, pad)
            for a, b in corners:
                allowed &= _shifted(is_open, *a, pad) | _shifted(is_open, *b, pad)
            allowed &= rate > 0
            u = source[allowed]
            rows.append(u)
            cols.append(u + d_row * w + d_col)
            vals.append(rate[allowed])
        a = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(h * w, h * w))
        return a / a.max() if a.nnz else a


def spread_network(landscape: Landscape, weather: Weather, *, neighbours: int = 8, fuel_breaks=None) -> sp.csr_matrix:
    """The landscape's directed fire-spread network (docs/domirank.md): a scipy CSR
    [H*W, H*W] matrix with A[u, v] = R_u(toward v) / d_uv, normalised to a maximum of 1, over
    flat cell indices (row * W + col); cells that cannot burn and ``fuel_breaks`` have no edges."""
    _check_landscape(landscape)
    _check_weather(weather)
    offsets = _check_neighbours(neighbours)
    closed = _mask_array("fuel_breaks", fuel_breaks, landscape.shape)
    return _SpreadRates(landscape, weather, offsets).adjacency(closed)


# ------------------------------------------------------------------------------ DomiRank
def domirank_centrality(adjacency, sigma_fraction: float = DEFAULT_SIGMA_FRACTION) -> np.ndarray:
    """DomiRank Gamma* = sigma (sigma A + I)^{-1} A 1 (Engsig et al. 2024) of a weighted,
    possibly directed network, A[u, v] the weight of the edge u -> v (a scipy sparse or dense
    [N, N] matrix), with sigma = sigma_fraction * (-1 / lambda_min((A + A^T) / 2)); see
    docs/domirank.md. Returns a float64 array [N]; nodes without edges score 0."""
    fraction = _check_fraction(sigma_fraction)
    a = sp.csr_matrix(adjacency, dtype=np.float64, copy=True)
    if a.shape[0] != a.shape[1]:
        raise InputError(f"adjacency: expected a square [N, N] matrix, got shape {a.shape}")
    if a.nnz and (not np.all(np.isfinite(a.data)) or a.data.min() < 0):
        raise InputError("adjacency: edge weights must be finite and non-negative")
    a.eliminate_zeros()
    gamma = np.zeros(a.shape[0])
    # Nodes with no edge at all do not interact; solving without them is smaller and exact.
    linked = np.flatnonzero(np.diff(a.indptr) + np.bincount(a.indices, minlength=a.shape[0]))
    if len(linked) == 0:
        return gamma
    a = a[linked][:, linked]
    sigma = fraction * _sigma_threshold(a)
    system = (sp.identity(a.shape[0], format="csr") + sigma * a).tocsr()
    rhs = sigma * np.asarray(a.sum(axis=1)).ravel()
    solution, info = spla.gmres(system, rhs, rtol=SOLVE_RTOLERANCE, atol=0.0, restart=50, maxiter=1000)
    if info != 0:  # not expected: convergence is guaranteed (docs/domirank.md), only its speed is not
        raise RuntimeError(f"DomiRank: GMRES did not reach a relative residual of {SOLVE_RTOLERANCE} "
                           f"(sigma_fraction {fraction}); try a smaller sigma_fraction")
    gamma[linked] = solution
    return gamma


def _sigma_threshold(a: sp.csr_matrix) -> float:
    """-1 / lambda_min((A + A^T) / 2): the sigma below which the DomiRank dynamics contract (see
    docs/domirank.md). A has edges and no self-loops, so the symmetric part has a zero trace
    and a negative eigenvalue."""
    h = ((a + a.T) * 0.5).tocsr()
    n = h.shape[0]
    if n <= 64:  # ARPACK needs k < n; small graphs are cheaper dense
        lam_min = float(np.linalg.eigvalsh(h.toarray())[0])
    else:
        v0 = np.random.default_rng(0).random(n)  # fixed: ARPACK's default start is random
        lam_min = float(spla.eigsh(h, k=1, which="SA", v0=v0, tol=EIGEN_TOLERANCE, return_eigenvectors=False)[0])
    return -1.0 / lam_min


def domirank(landscape: Landscape, weather: Weather, *, sigma_fraction: float = DEFAULT_SIGMA_FRACTION,
             neighbours: int = 8, fuel_breaks=None) -> torch.Tensor:
    """DomiRank of every cell of the landscape's fire-spread network (docs/domirank.md),
    a float32 [H, W] tensor on the landscape's device; 0 where fire cannot burn
    (non-burnable fuel, nodata, spread rate 0) and on ``fuel_breaks`` (removed from the network).
    Higher is more dominant: a better place for a break."""
    _check_landscape(landscape)
    _check_weather(weather)
    fraction = _check_fraction(sigma_fraction)
    offsets = _check_neighbours(neighbours)
    closed = _mask_array("fuel_breaks", fuel_breaks, landscape.shape)
    gamma = domirank_centrality(_SpreadRates(landscape, weather, offsets).adjacency(closed), fraction)
    return torch.from_numpy(gamma.reshape(landscape.shape).astype(np.float32)).to(landscape.device)


def domirank_breaks(landscape: Landscape, weather: Weather, budget_cells: int, *, existing_breaks=None,
                    sigma_fraction: float = DEFAULT_SIGMA_FRACTION, neighbours: int = 8,
                    recompute_every: int | None = None) -> torch.Tensor:
    """``budget_cells`` new fuel breaks on the cells of highest DomiRank, a bool [H, W] tensor.

    An iterative attack, as in the paper: pick the ``recompute_every`` cells of highest DomiRank,
    close them, recompute DomiRank on what is left, and so on until the budget is spent
    (``recompute_every=budget_cells`` is the one-shot ranking; the default, None, is
    ceil(budget / 10): ten rounds). Cells that cannot carry fire under this weather (spread rate
    0) or have been cut off rank last. Scores that agree to ``TIE_DIGITS`` decimals of the largest
    are ties (cells in symmetric positions differ only by solver noise) and go to the lower flat
    index (row * W + col).
    """
    _check_landscape(landscape)
    _check_weather(weather)
    budget = _check_budget(budget_cells)
    fraction = _check_fraction(sigma_fraction)
    offsets = _check_neighbours(neighbours)
    existing = _mask_array("existing_breaks", existing_breaks, landscape.shape)
    if recompute_every is None:
        step = max(1, math.ceil(budget / DEFAULT_RECOMPUTE_ROUNDS))
    elif isinstance(recompute_every, (bool, np.bool_)) or not isinstance(recompute_every, (int, np.integer)) \
            or recompute_every < 1:
        raise InputError(f"recompute_every: must be a positive integer number of cells, got {recompute_every!r}")
    else:
        step = int(recompute_every)
    eligible = _candidates(landscape, existing)
    remaining = min(budget, int(eligible.sum()))
    rates = _SpreadRates(landscape, weather, offsets) if remaining else None
    closed = existing.copy()
    picked = []
    while remaining:
        adjacency = rates.adjacency(closed)
        gamma = domirank_centrality(adjacency, fraction)
        scale = max(float(np.abs(gamma).max()), np.finfo(np.float64).tiny)
        carries_fire = np.diff(adjacency.indptr) > 0  # has an edge out
        score = np.where(carries_fire, np.round(gamma / scale, TIE_DIGITS), -np.inf)
        cells = _pick(score, eligible, min(step, remaining))
        picked.append(cells)
        closed.reshape(-1)[cells] = True
        eligible.reshape(-1)[cells] = False
        remaining -= len(cells)
    return _as_mask(np.concatenate(picked) if picked else np.zeros(0, dtype=np.int64), landscape)


# ------------------------------------------------------------------------------ simple baselines
def random_breaks(landscape: Landscape, budget_cells: int, seed: int, existing_breaks=None) -> torch.Tensor:
    """``budget_cells`` breaks drawn uniformly without replacement among the candidate cells,
    a bool [H, W] tensor; the same seed gives the same breaks (numpy PCG64)."""
    _check_landscape(landscape)
    budget = _check_budget(budget_cells)
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InputError(f"seed: must be a non-negative integer, got {seed!r}")
    existing = _mask_array("existing_breaks", existing_breaks, landscape.shape)
    cells = np.flatnonzero(_candidates(landscape, existing))
    rng = np.random.default_rng(seed)
    return _as_mask(rng.choice(cells, size=min(budget, len(cells)), replace=False), landscape)


def greedy_intensity_breaks(landscape: Landscape, weather: Weather, budget_cells: int, *,
                            metric: str = "fireline_intensity", existing_breaks=None) -> torch.Tensor:
    """``budget_cells`` breaks on the cells of highest head-fire ``metric`` ("fireline_intensity",
    kW/m, or "spread_rate", m/min) under ``weather``, a bool [H, W] tensor; ties go to the lower
    flat index. The head fire is the fastest, most intense front of a cell, so its value is the
    maximum over all directions (finer than a maximum over four directional values)."""
    _check_landscape(landscape)
    _check_weather(weather)
    budget = _check_budget(budget_cells)
    if metric not in GREEDY_METRICS:
        raise InputError(f"metric: unknown {metric!r}; choose one of {list(GREEDY_METRICS)}")
    existing = _mask_array("existing_breaks", existing_breaks, landscape.shape)
    eligible = _candidates(landscape, existing)
    score = getattr(behavior(landscape, weather), metric).cpu().numpy().astype(np.float64)
    return _as_mask(_pick(score, eligible, min(budget, int(eligible.sum()))), landscape)


# ------------------------------------------------------------------------------ burn probability
def _check_count(name: str, value, minimum: int) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise InputError(f"{name}: must be an integer >= {minimum}, got {value!r}")
    return int(value)


def burn_probability_breaks(landscape: Landscape, fire, budget_cells: int, *, n_ignitions: int, seed: int,
                            values=None, duration_min=None, rounds: int = 1, existing_breaks=None,
                            ignition_density=None, **simulate_kwargs) -> torch.Tensor:
    """``budget_cells`` new breaks on the candidate cells that simulated fires burn most often,
    or with ``values`` those of highest expected value burned, a bool [H, W] tensor
    (docs/burn_probability_ranking.md).

    - ``fire``: a ``FireScenario`` (e.g. ``qagent.fire.scenario.DEFAULT_SCENARIO``), whose
      per-fire weather and duration are drawn with ``numpy.random.default_rng([seed, 1])``; or
      a ``Weather`` (or ``WeatherSamples``, one per ignition) with ``duration_min``.
    - ``n_ignitions`` fires, ignited with ``seed`` uniformly over burnable cells, or
      proportionally to ``ignition_density`` ([H, W], non-negative; ``qagent.fire.sample_ignitions``);
      burn probability is the fraction that reach a cell
      (``qagent.fire.burn_probability``), with ``existing_breaks`` in place (an ignition on a
      break burns nothing).
    - ``rounds``: 1 ranks once; R > 1 places the budget in R near-equal parts (the first
      ``budget % R`` one cell larger), re-estimating burn probability on the same fires with
      every break placed so far before each part.
    - ``values``: values at risk [H, W] (finite, >= 0); the cells rank by burn probability
      times value, each cell's own expected value burned (the risk of Finney 2005 with the
      whole value lost where fire reaches; Scott, Thompson & Calkin 2013), then by burn
      probability among cells of equal risk (the cells without value). None: every cell is
      worth 1, the ranking by burn probability.
    - Ties (equal counts of burning fires, including cells no fire reached) go to the lower
      flat index (row * W + col). ``simulate_kwargs`` go to ``qagent.fire.simulate``.

    Deterministic for a seed: the same arguments give the same breaks.
    """
    budget, n, seed, rounds, existing = _ranking_args(landscape, budget_cells, n_ignitions, seed, rounds,
                                                      existing_breaks)
    values = _value_grid(values, 1, False, landscape.shape, "cpu")  # checked even for a zero budget
    _, weather, duration = _fires_of(landscape, fire, n, seed, duration_min, ignition_density, name="fire")

    def score(closed: np.ndarray) -> torch.Tensor:
        probability = burn_probability(landscape, n, weather, duration, seed, fuel_breaks=torch.from_numpy(closed),
                                       ignition_density=ignition_density, **simulate_kwargs)
        return probability if values is None else expected_value_burned_rank_score(probability, values[0])

    return _ranked_in_rounds(landscape, existing, budget, rounds, score)


def expected_value_burned_rank_score(probability: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """float64 [H, W] score whose order (higher first) is that of burn probability x value,
    equal products in order of burn probability, equal both in order of the flat index: each
    cell's place in that order, counted from the last (so ``_pick``'s ties never arise)."""
    p = probability.double().cpu().numpy().reshape(-1)
    risk = p * values.double().cpu().numpy().reshape(-1)
    order = np.lexsort((np.arange(p.size), -p, -risk))  # the last key is the primary one
    score = np.empty(p.size, dtype=np.float64)
    score[order] = np.arange(p.size, 0, -1, dtype=np.float64)
    return torch.from_numpy(score.reshape(tuple(probability.shape)))


def _ranking_args(landscape, budget_cells, n_ignitions, seed, rounds, existing_breaks):
    """The checked arguments of the fire-based rankings (burn probability, DPV): budget, fires,
    seed, rounds and the existing breaks as a bool [H, W] array."""
    _check_landscape(landscape)
    return (_check_budget(budget_cells), _check_count("n_ignitions", n_ignitions, 1), _check_count("seed", seed, 0),
            _check_count("rounds", rounds, 1), _mask_array("existing_breaks", existing_breaks, landscape.shape))


def _ranked_in_rounds(landscape: Landscape, existing: np.ndarray, budget: int, rounds: int, score) -> torch.Tensor:
    """The budget in ``rounds`` near-equal parts (the first ``budget % rounds`` one cell larger),
    each on the candidate cells of highest ``score(closed)`` ([H, W], closed: the existing and
    the breaks placed so far), ties to the lower flat index."""
    eligible = _candidates(landscape, existing)
    budget = min(budget, int(eligible.sum()))
    parts = [budget // rounds + (1 if r < budget % rounds else 0) for r in range(rounds)]
    closed = existing.copy()
    picked = []
    for count in (c for c in parts if c > 0):
        cells = _pick(score(closed).cpu().numpy().astype(np.float64), eligible, count)
        picked.append(cells)
        closed.reshape(-1)[cells] = True
        eligible.reshape(-1)[cells] = False
    return _as_mask(np.concatenate(picked) if picked else np.zeros(0, dtype=np.int64), landscape)


# ------------------------------------------------------------------------------ downstream protection value
def dpv_breaks(landscape: Landscape, fire, budget_cells: int, *, n_ignitions: int, seed: int, values=None,
               duration_min=None, rounds: int = 1, existing_breaks=None, ignition_density=None,
               **simulate_kwargs) -> torch.Tensor:
    """``budget_cells`` new breaks on the candidate cells of highest downstream protection value
    (DPV; Pais et al. 2021, Computers & Operations Research 131, 105252), a bool [H, W] tensor
    (docs/dpv.md): the value at risk that the simulated fires passed on through a cell, summed
    over each fire's propagation tree below it (``qagent.fire.downstream_protection_value``).

    - ``fire``, ``n_ignitions``, ``seed``, ``duration_min``, ``rounds``, ``existing_breaks``: as
      in ``burn_probability_breaks``, and the same fires (``rounds=R > 1`` re-scores the same
      fires with every break placed so far before each of R near-equal parts of the budget).
    - ``values``: values at risk [H, W] (finite, >= 0); None: every cell is worth 1, and DPV
      counts the cells downstream.
    - ``ignition_density``: as in ``burn_probability_breaks`` (None: uniform over burnable cells).
    - Ties (equal DPV, including cells no fire reached) go to the lower flat index
      (row * W + col). ``simulate_kwargs`` go to ``qagent.fire.simulate``. Deterministic for a
      seed.
    """
    budget, n, seed, rounds, existing = _ranking_args(landscape, budget_cells, n_ignitions, seed, rounds,
                                                      existing_breaks)
    values = _value_grid(values, 1, False, landscape.shape, "cpu")  # checked even for a zero budget
    _, weather, duration = _fires_of(landscape, fire, n, seed, duration_min, ignition_density, name="fire")
    return _ranked_in_rounds(landscape, existing, budget, rounds, lambda closed: downstream_protection_value(
        landscape, n, weather, duration, seed, fuel_breaks=torch.from_numpy(closed),
        values=None if values is None else values[0], ignition_density=ignition_density, **simulate_kwargs))


__all__ = [
    "domirank", "domirank_breaks", "domirank_centrality", "spread_network", "random_breaks",
    "greedy_intensity_breaks", "burn_probability_breaks", "dpv_breaks", "DEFAULT_SIGMA_FRACTION", "GREEDY_METRICS",
]
