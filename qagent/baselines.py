"""Fuel-break baselines: DomiRank centrality, burn-probability ranking, random placement,
greedy by fire behavior.

These are the reference strategies an RL agent must beat (and DomiRank's picks are the
demonstrations that warm-start it). Each places EXACTLY ``budget_cells`` new breaks (or every
candidate cell, when there are fewer), only on burnable cells (``Landscape.burnable_mask``,
nodata excluded) that are not already breaks, deterministically. The returned mask holds the
new breaks only; the full layout is its union with ``existing_breaks``.

DomiRank
--------
Engsig, Tejedor, Moreno, Foufoula-Georgiou & Kasmi (2024), "DomiRank Centrality reveals
structural fragility of complex networks via node dominance", Nature Communications 15, 56.
Each node i holds a dominance Gamma_i that grows with its links to neighbours that are not
themselves dominant and decays at a constant rate (the paper's dynamics, with theta = 1):

    dGamma/dt = alpha A (1 - Gamma) - beta Gamma,

so a node is dominant when it reaches many nodes that cannot compete with it, ground it
"controls". With sigma = alpha / beta the steady state is

    Gamma* = sigma (sigma A + I)^{-1} A 1,

the dynamics converging iff 1 + sigma Re(lambda) > 0 for every eigenvalue lambda of A, i.e.
0 < sigma < -1 / lambda_min(A) on the paper's undirected networks; sigma is chosen as a
fraction of that threshold. Small fractions make DomiRank approach the (out-)strength ranking,
fractions near 1 make it competitive and non-local, dominated by the eigenvector of lambda_min.

Directed networks: the threshold from the symmetric part. A fire network is strongly
non-normal (in a 30 km/h wind the head fire is ~10 times faster than the backing fire, so A is
far from A^T). Below the spectral threshold -1 / Re(lambda_min(A)) the dynamics still converge,
but the steady state is ill-conditioned: along a one-way path of weight a it obeys
Gamma_k = sigma a (1 - Gamma_{k+1}), which alternates in sign and grows like (sigma a)^k once
sigma a > 1, and sigma a grows with the head/back ratio. On a uniform 20 x 20 grass grid at
0.9 of the spectral threshold we measured |Gamma| up to 7 in a 10 km/h wind, 1e5 at 30 km/h and
1e11 at 60 km/h: a sign pattern set by the parity of the distance to the downwind edge, not a
ranking. We therefore take the threshold from the symmetric (Hermitian) part H = (A + A^T) / 2:

    0 < sigma < -1 / lambda_min(H).

Below it the logarithmic 2-norm of the Jacobian -(I + sigma A), -(1 + sigma lambda_min(H)), is
negative, so the dynamics contract monotonically (no transient growth; Dahlquist 1958,
Soderlind 2006, "The logarithmic norm. History and modern theory", BIT 46:631-652; Trefethen &
Embree 2005, "Spectra and Pseudospectra", ch. 14) and ||(I + sigma A)^{-1}||_2 <= 1 / (1 - f)
at the fraction f, whatever the wind. It is the paper's threshold exactly when A is symmetric
(no wind, no slope), and smaller otherwise (the spectrum lies in the numerical range, whose real
parts span [lambda_min(H), lambda_max(H)]). With it Gamma stays within about [0, 1.2] at every wind speed
on that grid.

Numerics: lambda_min(H) by Lanczos (ARPACK ``eigsh``, ``which="SA"``, a fixed start vector so
results are reproducible, tolerance 1e-3: a Ritz value bounds lambda_min from above, so the
effective fraction exceeds f by ~1e-4 at most on our grids; dense for tiny graphs). The steady
state by restarted GMRES (Saad & Schultz 1986) to a relative residual of 1e-10: the Hermitian
part of I + sigma A is >= (1 - f) I, positive definite, which guarantees that GMRES(m) converges
for every restart length m (Elman 1982; Eisenstat, Elman & Schultz 1983, SIAM J. Numer. Anal.
20:345-357). It takes 10 to 200 iterations at fractions up to 0.9 (about 900 at 0.99 in a 30 km/h
wind) and is 5 to 30 times faster than the sparse LU of the authors' code
(github.com/mengsig/DomiRank) on 250,000 cells.

Scaling A by c and sigma by 1/c leaves Gamma* unchanged, so with sigma relative to the threshold
the ranking does not depend on the units of the edge weights; we normalise the weights to a
maximum of 1 only for conditioning.

Default fraction 0.5: over 30 synthetic 50 x 50 landscapes (``qagent.landscape.synthetic``,
10-30 km/h winds from random directions, a 5 % budget, 400 ignitions each, 8 h fires), the
fractions 0.1, 0.5, 0.9 and 0.99 left burned areas within about 1.5 % of each other (within
their standard errors); DomiRank was level with or up to 3.5 % better than greedy-by-intensity
(about two standard errors) and 12 % better than random breaks. 0.5 keeps the solve well
conditioned (20 to 30 GMRES iterations) and avoids the striped lattice mode that dominates near
the threshold.

The landscape as a network
--------------------------
Nodes are cells; a directed edge u -> v joins a cell to each of its 8 neighbours (or 16, adding
the knight moves of Finney's 2002 minimum-travel-time stencil, which ``qagent.fire.simulate``
also uses) with weight

    w(u -> v) = R_u(theta_uv) / d_uv     [1/min],

R_u(theta_uv) the spread rate of u's fire front heading toward v (``qagent.fire.behavior``
with ``azimuth``: 0 = north = row - 1, 90 = east = col + 1), d_uv the distance along u's
slope plane. w is how often per minute u's fire crosses to v, the inverse of the travel time,
so strong edges are fast fire paths. This follows the original project, which weighted u -> v by
u's directional spread (there: fireline intensity, 4 or 8 directions).

A, not its transpose: scipy's and networkx's adjacency convention (the authors' code) is
A[u, v] = w(u -> v), and the steady state then reads Gamma_u = sigma sum_v A[u, v] (1 - Gamma_v):
a cell is dominant when its fire reaches, fast, many cells that are not themselves dominant,
when the fire runs through it into ground it controls. That is where a break cuts the most
spread. With A^T dominance would mean being reached by many cells, which favours the downwind
sinks where fire arrives last. In the experiment described below, on 20 more landscapes, breaks
from A^T left 4.5 +- 1.1 % more burned area than breaks from A.

Edges follow the geometry of the simulator (csrc/qagent/spread.h, ``step_time_min``): only
between open cells (burnable fuel, not nodata, spread rate > 0, not a break), a diagonal step
needs one of the two cells beside it open, a knight step both cells it crosses. So a line of
breaks that stops the simulated fire also cuts the graph, and recomputing DomiRank after
placing breaks sees the landscape the fire would see. Cells on the grid's edge simply have
fewer neighbours (the original added compensating self-loops; the simulator lets no fire leave
the grid, so a break there protects less, which the lower score reflects).

Iterative attack: the paper also attacks networks iteratively, removing the top nodes and
recomputing DomiRank on what remains. ``domirank_breaks`` recomputes after every
``recompute_every`` picks; the default, a tenth of the budget (ten rounds), keeps that
adaptivity (after the first breaks cut the main fire paths, the next-best cells move elsewhere)
at a cost that is workable on a 613 x 549 landscape. In the experiment above one-shot, ten-round
and pick-by-pick recomputation left the same burned area within their standard errors (about
1 %).

Bottlenecks: DomiRank is a local competition, not a path measure like betweenness. A cell that
is the only passage between two grass regions (a one-cell gap in a wall of water) has six
neighbours where open grass has eight, all of them weak competitors on the regions' edges. At
the default fraction it ranks mid-field (27th of 71 burnable cells on a 7 x 11 grid, 145th of
230 on 11 x 21); only near the threshold, on small grids, does the competition lift it to the top
(first of 71 at 0.99 without wind, but 69th of 230 on 11 x 21). Finding such cells is left to
the agent.

Burn-probability ranking
------------------------
``burn_probability_breaks`` treats the cells that simulated fires burn most often. Burn
probability, the chance that a cell burns given an ignition somewhere on the landscape and the
weather of a fire season, estimated by simulating many fires, is the likelihood term of
quantitative wildfire risk analysis (Finney 2005, "The challenge of quantitative risk analysis
for wildland fire", Forest Ecology and Management 211:97-108: expected loss is burn
probability times the loss at each fire intensity), and simulated burn probability is how
landscape treatment strategies are compared and prioritised in simulation studies (Ager,
Vaillant & Finney 2010, "A comparison of landscape fuel treatment strategies to mitigate
wildland fire risk in the urban interface and preserve old forest structure", Forest Ecology
and Management 259:1556-1570). The baseline here is the plainest form of that idea: with values
at risk uniform, the cells of highest burn probability are the cells of highest risk, and they
are treated first. Fires: ignitions uniform over burnable cells
(``qagent.fire.sample_ignitions``), weather and burn period per ignition from a
``FireScenario`` (the scenario ``qagent-eval`` and ``qagent-plan`` draw from), all fixed by the
seed. The iterative variant re-estimates burn probability with the breaks placed so far after
each of ``rounds`` equal parts of the budget, on the same fires (common random numbers), so
later breaks go where fire still goes.

What it does not see: burn probability is how often fire reaches a cell, not how much fire
flows through it. Cells downwind of large, fast fuels rank high, and a pinch point that every
fire crossing between two regions passes ranks lower than the open ground beyond it: on a
15 x 31 grass landscape split by a water wall with a one-cell gap, under the default scenario
(400 fires, seed 0), the gap burns in 51.5 % of fires and 85 of the 451 burnable cells, all in
the downwind eastern region, burn more often (up to 57 %); the western region's cells burn in
at most 49 %.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
import torch

from qagent._validation import InputError, as_tensor, check_grid_shape
from qagent.fire.behavior import behavior
from qagent.fire.scenario import FireScenario
from qagent.fire.spread import burn_probability
from qagent.fire.spread import _values as _value_grid
from qagent.fire.spread import downstream_protection_value
from qagent.fire.weather import Weather, WeatherSamples
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
    """The landscape's directed fire-spread network (see the module docstring): a scipy CSR
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
    [N, N] matrix), with sigma = sigma_fraction * (-1 / lambda_min((A + A^T) / 2)); see the module
    docstring. Returns a float64 array [N]; nodes without edges score 0."""
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
    if info != 0:  # not expected: convergence is guaranteed (module docstring), only its speed is not
        raise RuntimeError(f"DomiRank: GMRES did not reach a relative residual of {SOLVE_RTOLERANCE} "
                           f"(sigma_fraction {fraction}); try a smaller sigma_fraction")
    gamma[linked] = solution
    return gamma


def _sigma_threshold(a: sp.csr_matrix) -> float:
    """-1 / lambda_min((A + A^T) / 2): the sigma below which the DomiRank dynamics contract (see
    the module docstring). A has edges and no self-loops, so the symmetric part has a zero trace
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
    """DomiRank of every cell of the landscape's fire-spread network (see the module
    docstring), a float32 [H, W] tensor on the landscape's device; 0 where fire cannot burn
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


def _fires(fire, n_ignitions: int, seed: int, duration_min) -> tuple[Weather | WeatherSamples, Any]:
    """The weather and burn duration of the ``n_ignitions`` fires (see ``burn_probability_breaks``)."""
    if isinstance(fire, FireScenario):
        if duration_min is not None:
            raise InputError("duration_min: a FireScenario draws each fire's duration; pass duration_min only "
                             "with a Weather or WeatherSamples")
        weather, duration = fire.sample(n_ignitions, np.random.default_rng([seed, 1]))
        return weather, torch.from_numpy(duration)
    if isinstance(fire, (Weather, WeatherSamples)):
        if duration_min is None:
            raise InputError(f"duration_min: needed with a {type(fire).__name__} (minutes of spread, a number or "
                             f"one per ignition)")
        if isinstance(fire, WeatherSamples) and fire.shape != (n_ignitions,):
            raise InputError(f"fire: WeatherSamples of shape {fire.shape}, expected one per ignition "
                             f"({n_ignitions},)")
        return fire, duration_min
    raise InputError("fire: expected a qagent.fire.scenario.FireScenario (e.g. DEFAULT_SCENARIO), a Weather or "
                     f"WeatherSamples, got {type(fire).__name__}")


def burn_probability_breaks(landscape: Landscape, fire, budget_cells: int, *, n_ignitions: int, seed: int,
                            duration_min=None, rounds: int = 1, existing_breaks=None,
                            **simulate_kwargs) -> torch.Tensor:
    """``budget_cells`` new breaks on the candidate cells that simulated fires burn most often,
    a bool [H, W] tensor (see "Burn-probability ranking" in the module docstring).

    - ``fire``: a ``FireScenario`` (e.g. ``qagent.fire.scenario.DEFAULT_SCENARIO``), whose
      per-fire weather and duration are drawn with ``numpy.random.default_rng([seed, 1])``; or
      a ``Weather`` (or ``WeatherSamples``, one per ignition) with ``duration_min``.
    - ``n_ignitions`` fires, ignited uniformly over burnable cells with ``seed``
      (``qagent.fire.sample_ignitions``); burn probability is the fraction that reach a cell
      (``qagent.fire.burn_probability``), with ``existing_breaks`` in place (an ignition on a
      break burns nothing).
    - ``rounds``: 1 ranks once; R > 1 places the budget in R near-equal parts (the first
      ``budget % R`` one cell larger), re-estimating burn probability on the same fires with
      every break placed so far before each part.
    - Ties (equal counts of burning fires, including cells no fire reached) go to the lower
      flat index (row * W + col). ``simulate_kwargs`` go to ``qagent.fire.simulate``.

    Deterministic for a seed: the same arguments give the same breaks.
    """
    _check_landscape(landscape)
    budget = _check_budget(budget_cells)
    n = _check_count("n_ignitions", n_ignitions, 1)
    seed = _check_count("seed", seed, 0)
    rounds = _check_count("rounds", rounds, 1)
    existing = _mask_array("existing_breaks", existing_breaks, landscape.shape)
    weather, duration = _fires(fire, n, seed, duration_min)
    eligible = _candidates(landscape, existing)
    budget = min(budget, int(eligible.sum()))
    parts = [budget // rounds + (1 if r < budget % rounds else 0) for r in range(rounds)]
    closed = existing.copy()
    picked = []
    for count in (c for c in parts if c > 0):
        p = burn_probability(landscape, n, weather, duration, seed, fuel_breaks=torch.from_numpy(closed),
                             **simulate_kwargs)
        cells = _pick(p.cpu().numpy().astype(np.float64), eligible, count)
        picked.append(cells)
        closed.reshape(-1)[cells] = True
        eligible.reshape(-1)[cells] = False
    return _as_mask(np.concatenate(picked) if picked else np.zeros(0, dtype=np.int64), landscape)


# ------------------------------------------------------------------------------ downstream protection value
def dpv_breaks(landscape: Landscape, fire, budget_cells: int, *, n_ignitions: int, seed: int, values=None,
               duration_min=None, rounds: int = 1, existing_breaks=None, **simulate_kwargs) -> torch.Tensor:
    """``budget_cells`` new breaks on the candidate cells of highest downstream protection value
    (DPV; Pais et al. 2021, Computers & Operations Research 131, 105252), a bool [H, W] tensor
    (docs/dpv.md): the value at risk that the simulated fires passed on through a cell, summed
    over each fire's propagation tree below it (``qagent.fire.downstream_protection_value``).

    - ``fire``, ``n_ignitions``, ``seed``, ``duration_min``, ``rounds``, ``existing_breaks``: as
      in ``burn_probability_breaks``, and the same fires (``rounds=R > 1`` re-scores the same
      fires with every break placed so far before each of R near-equal parts of the budget).
    - ``values``: values at risk [H, W] (finite, >= 0); None: every cell is worth 1, and DPV
      counts the cells downstream.
    - Ties (equal DPV, including cells no fire reached) go to the lower flat index
      (row * W + col). ``simulate_kwargs`` go to ``qagent.fire.simulate``. Deterministic for a
      seed.
    """
    _check_landscape(landscape)
    budget = _check_budget(budget_cells)
    n = _check_count("n_ignitions", n_ignitions, 1)
    seed = _check_count("seed", seed, 0)
    rounds = _check_count("rounds", rounds, 1)
    existing = _mask_array("existing_breaks", existing_breaks, landscape.shape)
    values = _value_grid(values, 1, False, landscape.shape, "cpu")  # checked even for a zero budget
    weather, duration = _fires(fire, n, seed, duration_min)
    eligible = _candidates(landscape, existing)
    budget = min(budget, int(eligible.sum()))
    parts = [budget // rounds + (1 if r < budget % rounds else 0) for r in range(rounds)]
    closed = existing.copy()
    picked = []
    for count in (c for c in parts if c > 0):
        dpv = downstream_protection_value(landscape, n, weather, duration, seed, fuel_breaks=torch.from_numpy(closed),
                                          values=None if values is None else values[0], **simulate_kwargs)
        cells = _pick(dpv.cpu().numpy().astype(np.float64), eligible, count)
        picked.append(cells)
        closed.reshape(-1)[cells] = True
        eligible.reshape(-1)[cells] = False
    return _as_mask(np.concatenate(picked) if picked else np.zeros(0, dtype=np.int64), landscape)


__all__ = [
    "domirank", "domirank_breaks", "domirank_centrality", "spread_network", "random_breaks",
    "greedy_intensity_breaks", "burn_probability_breaks", "dpv_breaks", "DEFAULT_SIGMA_FRACTION", "GREEDY_METRICS",
]
