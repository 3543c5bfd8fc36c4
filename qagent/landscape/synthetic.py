"""Procedural synthetic landscapes: the built-in default for training.

``synthetic(height, width, seed)`` builds a complete :class:`~qagent.landscape.Landscape`
(terrain, Scott & Burgan fuel models, canopy) from a seed alone, deterministically. Each
seed first draws a *regime* (relief, roughness, fuel-group mixture, patch scale, amounts of
water, rock, roads and agriculture) and then the maps, so seeds differ in kind, not only in
detail: flat grass prairies cut by roads, rugged timbered mountains with bare ridges, shrub
hills with lakes, closed hardwood litter that barely burns. The regime depends on the seed
alone, so one seed's landscapes at different sizes are alike in character.

Method, in short: Gaussian random fields by spectral synthesis (Saupe 1988) for terrain,
fuel patches and canopy; slope and aspect by Horn's (1981) differences; fuels ranked along a
terrain moisture index and cut by the regime's group fractions; water, rock, agriculture and
roads as non-burnable features. ``synthetic_values(landscape_or_shape, seed)`` puts houses on a
landscape (settlements along roads, a Neyman-Scott process, and scattered houses, a Poisson
process) and returns the value at risk per cell. Every equation, parameter range and source is
in docs/synthetic_landscapes.md. All random numbers come from
``numpy.random.Generator(PCG64(seed))``: the same seed and size give bit-identical arrays on a given platform.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from qagent import fuels
from qagent._validation import InputError
from qagent.landscape.core import Landscape

# Fuel groups along the open-to-closed gradient, with their Scott & Burgan (2005) codes.
_GROUP_CODES: dict[str, tuple[int, ...]] = {family: fuels.family_codes(family)
                                             for family in ("GR", "GS", "SH", "TU", "TL")}
_SLASH_CODES = fuels.family_codes("SB")
_TIMBER_GROUP = list(_GROUP_CODES).index("TU")  # group indices from here on are timber (TU, TL)

NB_URBAN, NB_AGRICULTURE, NB_WATER, NB_BARE = 91, 93, 98, 99

# Canopy ranges of the timber models: (cover lo, hi [fraction], height lo, hi [m],
# base height lo, hi [m], bulk density lo, hi [kg/m3]). Grass, grass-shrub, shrub and slash
# models carry no canopy. The ranges follow the stand types Scott & Burgan (2005,
# RMRS-GTR-153) describe for each model (e.g. TL2, TL6, TL9 broadleaf litter: tall, closed
# hardwood canopies of low bulk density; TL8 long-needle pine: open, high-based; TU4 dwarf
# conifer: short, low-based, dense), the canopy fuel ranges of western conifer stands of
# Scott & Reinhardt (2001, RMRS-RP-29) and Cruz, Alexander & Wakimoto (2003, Int. J. Wildland
# Fire 12:39-50; CBD mostly 0.05-0.3 kg/m3, CBH 0.5-8 m), and LANDFIRE's per-model
# co-variation (Reeves et al. 2009, Int. J. Wildland Fire 18:250-267; cf. the LANDFIRE 2022
# layers of Worcester, VT in ../shared/landfire).
_CANOPY: dict[int, tuple[float, float, float, float, float, float, float, float]] = {
    161: (0.30, 0.60, 8.0, 20.0, 1.0, 6.0, 0.03, 0.12),   # TU1 low load dry timber-grass-shrub
    162: (0.50, 0.85, 12.0, 25.0, 1.0, 5.0, 0.05, 0.15),  # TU2 humid timber-shrub
    163: (0.40, 0.75, 10.0, 25.0, 0.5, 4.0, 0.06, 0.18),  # TU3 humid timber-grass-shrub
    164: (0.40, 0.80, 8.0, 15.0, 0.5, 3.0, 0.10, 0.25),   # TU4 dwarf conifer with understory
    165: (0.50, 0.90, 12.0, 30.0, 0.5, 3.0, 0.10, 0.30),  # TU5 very high load dry timber-shrub
    181: (0.50, 0.90, 15.0, 30.0, 2.0, 8.0, 0.05, 0.20),  # TL1 compact conifer litter
    182: (0.60, 0.90, 15.0, 30.0, 3.0, 8.0, 0.03, 0.08),  # TL2 broadleaf litter
    183: (0.50, 0.85, 15.0, 30.0, 1.0, 6.0, 0.08, 0.20),  # TL3 moderate load conifer litter
    184: (0.40, 0.80, 15.0, 30.0, 1.0, 6.0, 0.06, 0.18),  # TL4 small downed logs
    185: (0.50, 0.85, 18.0, 35.0, 1.0, 5.0, 0.10, 0.25),  # TL5 high load conifer litter
    186: (0.60, 0.90, 15.0, 30.0, 3.0, 8.0, 0.03, 0.08),  # TL6 moderate load broadleaf litter
    187: (0.40, 0.80, 20.0, 35.0, 2.0, 8.0, 0.06, 0.18),  # TL7 large downed logs
    188: (0.30, 0.70, 15.0, 35.0, 2.0, 8.0, 0.03, 0.12),  # TL8 long-needle litter
    189: (0.60, 0.90, 15.0, 30.0, 2.0, 8.0, 0.05, 0.12),  # TL9 very high load broadleaf litter
}

# describe(): the fuel groups by code range and the non-burnable classes by code.
_DESCRIBE_GROUPS = {**{family: fuels.family_codes(family) for family in fuels.SCOTT_BURGAN_FAMILIES},
                    "anderson13": fuels.anderson_codes()}
_DESCRIBE_NONBURNABLE = {"urban": (91,), "snow": (92,), "agriculture": (93,), "water": (fuels.WATER_CODE,),
                         "bare": (99,),
                         "other": tuple(c for c in fuels.non_burnable_codes() if c not in fuels.NON_BURNABLE_NAMES)}

# Mean slope of a Gaussian surface per unit RMS slope: the gradient's two components are
# independent normals of equal variance, so its magnitude is Rayleigh, mean = sqrt(pi/4) * RMS.
_MEAN_PER_RMS_SLOPE = math.sqrt(math.pi / 4.0)


@dataclass(frozen=True)
class _Regime:
    """What one seed's landscapes are like (drawn before, and independently of, the size)."""

    mean_slope: float             # rise/run, expected over the tile
    hurst: float                  # roughness of the terrain (0.5 rough - 0.95 smooth)
    terrain_corr_m: float         # the terrain's correlation length (beyond it, relief stops growing)
    hillslope_m: float            # smoothing scale below which the terrain is smooth
    peakedness: float             # 0: symmetric hills and valleys; > 0: flat valleys, sharp peaks
    base_elevation_m: float       # the tile's lowest elevation
    tpi_window_m: float           # the neighbourhood of the topographic position index
    patch_scale_m: float          # correlation length of the fuel patches
    patch_beta: float             # spectral exponent of the fuel patches (larger: smoother edges)
    group_fractions: np.ndarray   # GR, GS, SH, TU, TL, of the burnable cells, summing to 1
    palettes: tuple[tuple[np.ndarray, np.ndarray], ...]  # per group: (codes, cumulative weights)
    terrain_coupling: float       # 0: fuels ignore terrain; 1: strongly terrain-driven
    valley_sign: float            # +1 valleys moist (forest), -1 valleys open (meadows)
    slash_fraction: float         # of the timber cells turned into slash-blowdown
    slash_code: int
    water_fraction: float
    rock_fraction: float
    agriculture_fraction: float
    road_density_km_per_km2: float
    road_turn_sd_rad: float       # heading change per road step (2 cells): straight to winding


def _log_uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def _sometimes(rng: np.random.Generator, probability: float, lo: float, hi: float) -> float:
    """0 with probability 1 - p, else log-uniform in [lo, hi] (two draws either way)."""
    present = rng.random() < probability
    value = _log_uniform(rng, lo, hi)
    return value if present else 0.0


def _draw_regime(rng: np.random.Generator) -> _Regime:
    # Relief: from plains (1 % mean slope) to steep mountains (60 %), log-uniform.
    mean_slope = _log_uniform(rng, 0.01, 0.6)
    hurst = float(rng.uniform(0.5, 0.95))
    terrain_corr_m = _log_uniform(rng, 500.0, 4_000.0)
    hillslope_m = _log_uniform(rng, 40.0, 200.0)
    peakedness = float(rng.uniform(0.0, 0.5))
    base_elevation_m = float(rng.uniform(0.0, 1_500.0))
    tpi_window_m = _log_uniform(rng, 300.0, 1_500.0)
    patch_scale_m = _log_uniform(rng, 80.0, 1_000.0)
    patch_beta = float(rng.uniform(2.6, 4.0))
    # Group mixture: a sparse Dirichlet, so that one or two groups often dominate.
    group_fractions = rng.dirichlet(np.full(len(_GROUP_CODES), 0.4))
    palettes = []
    for codes in _GROUP_CODES.values():
        k = int(rng.integers(1, 4))
        chosen = np.sort(rng.choice(np.asarray(codes), size=k, replace=False))
        palettes.append((chosen, np.cumsum(rng.dirichlet(np.ones(k)))))
    terrain_coupling = float(rng.uniform(0.0, 1.0))
    valley_sign = 1.0 if rng.random() < 0.6 else -1.0
    slash_fraction = _sometimes(rng, 0.2, 0.02, 0.3)
    slash_code = int(rng.choice(np.asarray(_SLASH_CODES)))
    water_fraction = _sometimes(rng, 0.55, 0.003, 0.3)
    # Bare rock mostly in rugged terrain, agriculture mostly on gentle terrain.
    rock_fraction = _sometimes(rng, min(0.8, mean_slope / 0.4), 0.003, 0.12)
    agriculture_fraction = _sometimes(rng, 0.5 if mean_slope < 0.1 else 0.15, 0.02, 0.5)
    road_density = _sometimes(rng, 0.6, 0.2, 2.0)
    road_sinuosity = _log_uniform(rng, 0.02, 0.15)
    return _Regime(mean_slope, hurst, terrain_corr_m, hillslope_m, peakedness, base_elevation_m, tpi_window_m,
                   patch_scale_m, patch_beta, group_fractions, tuple(palettes), terrain_coupling, valley_sign,
                   slash_fraction, slash_code, water_fraction, rock_fraction, agriculture_fraction, road_density,
                   road_sinuosity)


# ---------------------------------------------------------------------------------- fields
class _SpectralSynth:
    """Pairs of Gaussian random fields on an [H, W] grid by spectral synthesis (Saupe 1988),
    on a padded periodic grid that is cropped to [H, W]."""

    def __init__(self, rng: np.random.Generator, height: int, width: int, cell_size_m: float):
        self.rng, self.height, self.width, self.cell_size_m = rng, height, width, cell_size_m
        self.padded = (_padded_length(height), _padded_length(width))
        ky = np.fft.fftfreq(self.padded[0], d=cell_size_m)[:, None]  # cycles per m
        kx = np.fft.fftfreq(self.padded[1], d=cell_size_m)[None, :]
        self.k2 = ky * ky + kx * kx
        self.omega_y = 2.0 * np.pi * ky * cell_size_m  # radians per cell
        self.omega_x = 2.0 * np.pi * kx * cell_size_m

    def amplitude(self, corr_m: float, beta: float, smoothing_m: float = 0.0) -> np.ndarray:
        """Amplitude spectrum sqrt(P), P(k) = (k^2 + k0^2)^(-beta/2) with k in cycles/m and
        k0 = 1 / (2 pi corr_m) (the Matern convention: angular wavenumber 1/corr_m), times a
        Gaussian filter of standard deviation ``smoothing_m`` (transfer exp(-2 pi^2 s^2 k^2)),
        without a mean and normalised so that each field has unit variance (sum of P = 1)."""
        k0 = 1.0 / (2.0 * np.pi * corr_m)
        a = (self.k2 + k0 * k0) ** (-beta / 4.0) * np.exp(-2.0 * np.pi ** 2 * smoothing_m ** 2 * self.k2)
        a[0, 0] = 0.0
        total = float(np.sum(a * a))
        return a / math.sqrt(total) if total > 0.0 else a

    def pair(self, amplitude: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Two independent fields with the given amplitude spectrum, cropped to [H, W]."""
        noise = self.rng.standard_normal((2, *self.padded))
        spectrum = (noise[0] + 1j * noise[1]) * amplitude
        field = np.fft.ifft2(spectrum, norm="forward")[: self.height, : self.width]
        return np.ascontiguousarray(field.real), np.ascontiguousarray(field.imag)

    def horn_rms_slope(self, amplitude: np.ndarray) -> float:
        """Expected RMS of the Horn-gradient magnitude of a unit field with this spectrum:
        sum over k of P(k) (|Dx|^2 + |Dy|^2), with Horn's transfer function
        Dx = i sin(wx) (1 + cos wy) / (2 dx) (and symmetrically Dy)."""
        dx2 = (np.sin(self.omega_x) * (1.0 + np.cos(self.omega_y))) ** 2
        dy2 = (np.sin(self.omega_y) * (1.0 + np.cos(self.omega_x))) ** 2
        return math.sqrt(float(np.sum(amplitude * amplitude * (dx2 + dy2)))) / (2.0 * self.cell_size_m)


def _padded_length(n: int) -> int:
    """n plus a quarter (at least 8 cells) of margin, rounded up to a 2-3-5-smooth FFT length."""
    m = n + max(8, n // 4)
    while True:
        r = m
        for p in (2, 3, 5):
            while r % p == 0:
                r //= p
        if r == 1:
            return m
        m += 1


def _uniform(gaussian: np.ndarray) -> np.ndarray:
    """Standard normal values mapped to [0, 1] by the normal CDF, Phi(x) = (1 + erf(x / sqrt 2)) / 2,
    with erf from Abramowitz & Stegun (1964) eq. 7.1.26 (absolute error < 1.5e-7)."""
    x = np.abs(gaussian) / math.sqrt(2.0)
    t = 1.0 / (1.0 + 0.3275911 * x)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    erf = 1.0 - poly * np.exp(-x * x)
    return 0.5 * (1.0 + np.copysign(erf, gaussian))


def horn_slope_aspect(elevation_m: np.ndarray, cell_size_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Slope (rise/run) and aspect (degrees clockwise from north of the downslope direction,
    0 where flat) of a north-up elevation grid, by Horn's (1981) 3x3 finite differences.

    With the window a b c / d e f / g h i (row 0 north):
    dz/dx_east = ((c + 2f + i) - (a + 2d + g)) / (8 dx),
    dz/dy_north = ((a + 2b + c) - (g + 2h + i)) / (8 dx); the downslope direction is
    -grad z, so aspect = atan2(-dz/dx_east, -dz/dy_north) clockwise from north. Edges are
    padded by odd reflection (2 z_edge - z_inner), which makes the edge differences one-sided.
    """
    z = np.pad(np.asarray(elevation_m, dtype=np.float64), 1, mode="reflect", reflect_type="odd")
    if elevation_m.shape[0] == 1:  # a single row has no north-south extent to reflect
        z[0], z[2] = z[1], z[1]
    if elevation_m.shape[1] == 1:
        z[:, 0], z[:, 2] = z[:, 1], z[:, 1]
    north, mid, south = z[:-2], z[1:-1], z[2:]
    west_sum = north[:, :-2] + 2.0 * mid[:, :-2] + south[:, :-2]
    east_sum = north[:, 2:] + 2.0 * mid[:, 2:] + south[:, 2:]
    north_sum = north[:, :-2] + 2.0 * north[:, 1:-1] + north[:, 2:]
    south_sum = south[:, :-2] + 2.0 * south[:, 1:-1] + south[:, 2:]
    dz_east = (east_sum - west_sum) / (8.0 * cell_size_m)
    dz_north = (north_sum - south_sum) / (8.0 * cell_size_m)
    slope = np.hypot(dz_east, dz_north)
    aspect = np.degrees(np.arctan2(-dz_east, -dz_north)) % 360.0
    aspect[slope < 1e-9] = 0.0
    return slope, aspect


def _box_mean(values: np.ndarray, half_window: int) -> np.ndarray:
    """Mean over the (2 h + 1)^2 window around each cell (clipped at the edges), by a
    summed-area table."""
    h, w = values.shape
    sat = np.zeros((h + 1, w + 1))
    sat[1:, 1:] = values.astype(np.float64).cumsum(0).cumsum(1)
    r0 = np.clip(np.arange(h) - half_window, 0, h)
    r1 = np.clip(np.arange(h) + half_window + 1, 0, h)
    c0 = np.clip(np.arange(w) - half_window, 0, w)
    c1 = np.clip(np.arange(w) + half_window + 1, 0, w)
    total = sat[r1][:, c1] - sat[r0][:, c1] - sat[r1][:, c0] + sat[r0][:, c0]
    return total / ((r1 - r0)[:, None] * (c1 - c0)[None, :])


def _top(score: np.ndarray, fraction: float, eligible: np.ndarray | None = None) -> np.ndarray:
    """Bool mask of the round(fraction * n) eligible cells of highest score."""
    flat = score.ravel()
    idx = np.flatnonzero(eligible.ravel()) if eligible is not None else np.arange(flat.size)
    k = int(round(fraction * idx.size))
    mask = np.zeros(flat.size, dtype=bool)
    if k > 0:
        mask[idx[np.argpartition(-flat[idx], k - 1)[:k]]] = True
    return mask.reshape(score.shape)


def _cut_by_rank(score: np.ndarray, fractions: np.ndarray) -> np.ndarray:
    """Class index per cell: the lowest-scoring fractions[0] of the cells get 0, the next
    fractions[1] get 1, and so on (the thresholds are order statistics, found by partition)."""
    flat = score.ravel()
    cuts = np.rint(np.cumsum(fractions)[:-1] * flat.size).astype(np.int64)
    inside = cuts < flat.size
    thresholds = np.full(cuts.size, np.inf)
    if inside.any():
        thresholds[inside] = np.partition(flat, np.unique(cuts[inside]))[cuts[inside]]
    return np.searchsorted(thresholds, score, side="right")


def _road_mask(rng: np.random.Generator, height: int, width: int, cell_size_m: float, density_km_per_km2: float,
               turn_sd_rad: float) -> np.ndarray:
    """1-cell-wide, 4-connected roads, about ``density_km_per_km2`` km of road per km^2.

    Each road is a persistent random walk (steps of 2 cells whose heading changes by a normal
    ``turn_sd_rad`` per step), either a through road entering from a side of the tile until it
    leaves it, or a spur branching off an earlier road for an exponentially distributed length.
    """
    mask = np.zeros((height, width), dtype=bool)
    step_cells, mean_road_cells = 2.0, 0.4 * (height + width)
    road_cells = density_km_per_km2 * height * width * cell_size_m / 1000.0
    max_steps = int(2 * (height + width) / step_cells) + 2
    for _ in range(int(rng.poisson(road_cells / mean_road_cells))):
        branch = mask.any() and rng.random() < 0.5
        if branch:
            on_road = np.flatnonzero(mask)
            start = np.array(np.unravel_index(on_road[rng.integers(on_road.size)], mask.shape), dtype=np.float64)
            heading = rng.uniform(0.0, 2.0 * np.pi)
            n_steps = min(max_steps, 1 + int(rng.exponential(0.5 * mean_road_cells / step_cells)))
        else:
            side = int(rng.integers(4))  # 0 north, 1 east, 2 south, 3 west; head inward
            start = np.array(_point_on_side(rng, side, height, width))
            heading = np.radians(180.0 + 90.0 * side + rng.uniform(-60.0, 60.0))
            n_steps = max_steps
        headings = heading + np.cumsum(rng.normal(0.0, turn_sd_rad, n_steps))
        # heading clockwise from north: a step moves -cos rows (north is row 0) and +sin columns
        path = start + np.cumsum(step_cells * np.column_stack([-np.cos(headings), np.sin(headings)]), axis=0)
        outside = (path[:, 0] < 0) | (path[:, 0] > height - 1) | (path[:, 1] < 0) | (path[:, 1] > width - 1)
        path = path[: int(np.argmax(outside)) + 1] if outside.any() else path
        vertices = np.vstack([start, path])
        vertices[:, 0] = np.clip(vertices[:, 0], 0, height - 1)
        vertices[:, 1] = np.clip(vertices[:, 1], 0, width - 1)
        rows, cols = _rasterize_4connected(vertices)
        mask[rows, cols] = True
    return mask


def _point_on_side(rng: np.random.Generator, side: int, height: int, width: int) -> tuple[float, float]:
    """A point (row, col) on side 0 north, 1 east, 2 south, 3 west."""
    u = rng.random()
    return [(0.0, u * (width - 1)), (u * (height - 1), width - 1.0),
            (height - 1.0, u * (width - 1)), (u * (height - 1), 0.0)][side]


def _rasterize_4connected(vertices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cells along a polyline (row, col vertices), sampled at least 4 times per cell, with a
    corner cell added at every diagonal step so that consecutive cells share an edge."""
    a, b = vertices[:-1], vertices[1:]
    n = int(np.ceil(4.0 * np.abs(b - a).max(initial=0.0))) + 1
    t = np.linspace(0.0, 1.0, n)[None, :, None]
    cells = np.rint(a[:, None, :] + t * (b - a)[:, None, :]).reshape(-1, 2).astype(np.int64)
    keep = np.ones(len(cells), dtype=bool)
    keep[1:] = np.any(cells[1:] != cells[:-1], axis=1)
    cells = cells[keep]
    diagonal = np.all(cells[1:] != cells[:-1], axis=1)
    corners = np.column_stack([cells[1:, 0], cells[:-1, 1]])[diagonal]
    cells = np.vstack([cells, corners])
    return cells[:, 0], cells[:, 1]


# ---------------------------------------------------------------------------------- the landscape
def synthetic(height: int, width: int, seed: int, *, cell_size_m: float = 30.0, device=None) -> Landscape:
    """A procedural landscape of ``height`` x ``width`` cells of ``cell_size_m`` m, from ``seed``.

    Deterministic: the same arguments give bit-identical layers. Seeds vary relief (mean
    slope 1-60 %), roughness, fuel-group mixture, patch scale and the amounts of water,
    bare rock, roads and agriculture (each absent on many seeds); the method and its sources
    are in docs/synthetic_landscapes.md.
    """
    for name, value in (("height", height), ("width", width)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise InputError(f"{name}: must be a positive integer number of cells, got {value!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InputError(f"seed: must be a non-negative integer, got {seed!r}")
    if isinstance(cell_size_m, bool) or not isinstance(cell_size_m, (int, float, np.integer, np.floating)) \
            or not (math.isfinite(cell_size_m) and cell_size_m > 0):
        raise InputError(f"cell_size_m: must be a positive number of metres, got {cell_size_m!r}")
    height, width, cell_size_m = int(height), int(width), float(cell_size_m)
    rng = np.random.default_rng(int(seed))
    regime = _draw_regime(rng)
    synth = _SpectralSynth(rng, height, width, cell_size_m)

    # Terrain: a fractional Brownian surface, smooth below the hillslope scale (topography's
    # spectrum rolls off there: Perron, Kirchner & Dietrich 2008, J. Geophys. Res. 113:F04003),
    # shaped by f(z) = (exp(g z) - 1) / g (flat valley floors, sharp peaks), and scaled to the
    # regime's expected mean slope. A stationary Gaussian z is independent of its gradient at
    # the same point, so E|grad f(z)| = E[f'(z)] E|grad z| = exp(g^2 / 2) E|grad z|.
    terrain_amp = synth.amplitude(regime.terrain_corr_m, 2.0 * regime.hurst + 2.0, regime.hillslope_m)
    terrain, agriculture_noise = synth.pair(terrain_amp)
    g = regime.peakedness
    shaped = np.expm1(g * terrain) / g if g > 1e-6 else terrain
    mean_slope_per_m = _MEAN_PER_RMS_SLOPE * synth.horn_rms_slope(terrain_amp) * math.exp(0.5 * g * g)
    relief = shaped * (regime.mean_slope / mean_slope_per_m if mean_slope_per_m > 0.0 else 0.0)
    elevation = regime.base_elevation_m + (relief - relief.min())
    elevation = np.minimum(elevation, 8_500.0).astype(np.float32)
    slope, aspect = horn_slope_aspect(elevation, cell_size_m)

    # Topographic position (Weiss 2001): the 3x3 mean minus the mean over the TPI window.
    half_window = max(1, int(round(regime.tpi_window_m / cell_size_m / 2.0)))
    tpi_m = _box_mean(elevation, 1) - _box_mean(elevation, half_window)
    # Moisture index: north-facing (northness = cos(aspect) sin(slope angle)) and, per the
    # regime, valley (moist forests) or ridge positions; both saturate at strong terrain.
    northness = np.cos(np.radians(aspect)) * np.sin(np.arctan(slope))
    moisture = np.clip(northness / 0.2, -1.5, 1.5) + regime.valley_sign * np.clip(-tpi_m / 15.0, -1.5, 1.5)

    # Fuel groups: rank the patch field plus the terrain signal; cut the ranks by fractions.
    patch_amp = synth.amplitude(regime.patch_scale_m, regime.patch_beta)
    patch, stand_density = synth.pair(patch_amp)
    fine, stand_height = synth.pair(synth.amplitude(regime.patch_scale_m / 2.0, regime.patch_beta))
    score = patch + regime.terrain_coupling * moisture
    group = _cut_by_rank(score, regime.group_fractions)

    # Fuel models: within each group, the finer field picks from the seed's palette.
    u_fine = _uniform(fine)
    fuel = np.empty((height, width), dtype=np.int32)
    for index, (codes, cumulative) in enumerate(regime.palettes):
        in_group = group == index
        pick = np.minimum(np.searchsorted(cumulative, u_fine[in_group]), len(codes) - 1)
        fuel[in_group] = codes[pick]

    # Canopy of the timber models (see _CANOPY): cover and bulk density rise with stand
    # density, base height with canopy height (and a little with density: self-pruning).
    canopy = {name: np.zeros((height, width), dtype=np.float32) for name in ("cc", "ch", "cbh", "cbd")}
    u_density, u_height = _uniform(stand_density), _uniform(stand_height)
    for code, (cc0, cc1, ch0, ch1, cbh0, cbh1, cbd0, cbd1) in _CANOPY.items():
        m = fuel == code
        if not m.any():
            continue
        d, h = u_density[m], u_height[m]
        canopy["cc"][m] = cc0 + (cc1 - cc0) * d
        canopy["ch"][m] = ch0 + (ch1 - ch0) * h
        canopy["cbh"][m] = np.minimum(cbh0 + (cbh1 - cbh0) * (0.7 * h + 0.3 * d), 0.5 * canopy["ch"][m])
        canopy["cbd"][m] = cbd0 + (cbd1 - cbd0) * (0.8 * d + 0.2 * (1.0 - h))

    # Slash-blowdown where the timber canopy is sparsest (cut or blown down): no canopy left.
    timber = group >= _TIMBER_GROUP
    slash = _top(-u_density, regime.slash_fraction, timber)
    fuel[slash] = regime.slash_code

    # Non-burnable features, in order of precedence (later ones overwrite).
    z_std = max(float(elevation.std()), 1e-6)
    tpi_std = max(float(tpi_m.std()), 1e-6)
    elevation_z = (elevation - elevation.mean()) / z_std
    gentle = -slope / max(regime.mean_slope, 1e-3)
    fuel[_top(agriculture_noise + gentle, regime.agriculture_fraction)] = NB_AGRICULTURE
    fuel[_top(tpi_m / tpi_std + 0.5 * elevation_z + 0.5 * slope / max(regime.mean_slope, 1e-3),
              regime.rock_fraction)] = NB_BARE
    fuel[_road_mask(rng, height, width, cell_size_m, regime.road_density_km_per_km2, regime.road_turn_sd_rad)] \
        = NB_URBAN
    fuel[_top(-tpi_m / tpi_std - 0.3 * elevation_z, regime.water_fraction)] = NB_WATER

    no_canopy = ~np.isin(fuel, np.asarray(tuple(_CANOPY)))
    for layer in canopy.values():
        layer[no_canopy] = 0.0
    return Landscape(slope=slope.astype(np.float32), aspect=aspect.astype(np.float32), elevation=elevation,
                     fuel_model=fuel, canopy_cover=canopy["cc"], canopy_height=canopy["ch"],
                     canopy_base_height=canopy["cbh"], canopy_bulk_density=canopy["cbd"], cell_size_m=cell_size_m,
                     device=device)


def describe(landscape: Landscape) -> dict:
    """A summary of a landscape (cells flagged nodata excluded), for docs, tests and picking
    training sets:

    - ``burnable_fraction``: of the cells
    - ``group_fractions``: fraction of the cells in each fuel group (GR, GS, SH, TU, TL, SB
      Scott & Burgan; ``anderson13`` for codes 1-13)
    - ``nonburnable_fractions``: urban/roads (91), snow (92), agriculture (93), water (98),
      bare (99), other (94-97)
    - ``fuel_models``: number of distinct fuel model codes
    - ``relief_m``: highest minus lowest elevation; ``mean_slope``: rise/run
    - ``mean_canopy_cover``: over the burnable cells (0 if none)
    """
    if not isinstance(landscape, Landscape):
        raise InputError(f"landscape: expected a qagent.landscape.Landscape, got {type(landscape).__name__}")
    valid = torch.ones(landscape.shape, dtype=torch.bool, device=landscape.device)
    if landscape.nodata_mask is not None:
        valid &= ~landscape.nodata_mask
    n = int(valid.sum())
    fuel = landscape.fuel_model[valid].cpu().numpy()
    burnable = landscape.burnable_mask()[valid].cpu().numpy()

    def fraction(mask: np.ndarray) -> float:
        return float(mask.sum()) / n if n else 0.0

    elevation = landscape.elevation[valid]
    canopy_cover = landscape.canopy_cover[valid].cpu().numpy()
    return {
        "shape": landscape.shape,
        "cell_size_m": landscape.cell_size_m,
        "burnable_fraction": fraction(burnable),
        "group_fractions": {g: fraction(np.isin(fuel, codes)) for g, codes in _DESCRIBE_GROUPS.items()},
        "nonburnable_fractions": {c: fraction(np.isin(fuel, codes)) for c, codes in _DESCRIBE_NONBURNABLE.items()},
        "fuel_models": int(np.unique(fuel).size),
        "relief_m": float(elevation.max() - elevation.min()) if n else 0.0,
        "mean_slope": float(landscape.slope[valid].mean()) if n else 0.0,
        "mean_canopy_cover": float(canopy_cover[burnable].mean()) if burnable.any() else 0.0,
    }


# ---------------------------------------------------------------------------------- values at risk
_VALUES_STREAM = 2  # numpy seed [seed, 2]: a stream of its own, independent of synthetic()'s
_HOUSE_VALUE_LOG_SIGMA = 0.5


@dataclass(frozen=True)
class _Settlement:
    """One seed's housing pattern (docs/synthetic_landscapes.md, "Values at risk")."""

    settlements_per_road_km: float
    houses_per_settlement: float
    settlement_radius_m: float
    setback_m: float
    scattered_per_km2: float


def _draw_settlement(rng: np.random.Generator) -> _Settlement:
    return _Settlement(_log_uniform(rng, 0.05, 0.6), _log_uniform(rng, 10.0, 150.0), _log_uniform(rng, 80.0, 400.0),
                       _log_uniform(rng, 30.0, 150.0), _log_uniform(rng, 0.5, 8.0))


def _road_distance_m(roads: np.ndarray, cell_size_m: float) -> np.ndarray:
    """Euclidean distance (m) from each cell centre to the nearest road cell centre (inf without
    roads), by scipy.ndimage's exact Euclidean distance transform."""
    if not roads.any():
        return np.full(roads.shape, np.inf)
    from scipy import ndimage

    return ndimage.distance_transform_edt(~roads) * cell_size_m


def _landscape_for_values(landscape_or_shape, seed: int, cell_size_m: float | None) -> Landscape:
    """The landscape a values layer is drawn on: a Landscape as given, or ``synthetic(height,
    width, seed)`` (30 m cells unless ``cell_size_m``) for a shape; InputError for a seed that
    is not an integer >= 0 and otherwise."""
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InputError(f"seed: must be a non-negative integer, got {seed!r}")
    if isinstance(landscape_or_shape, Landscape):
        if cell_size_m is not None:
            raise InputError("cell_size_m: a Landscape has its own cell size; pass cell_size_m only with a shape")
        return landscape_or_shape
    if isinstance(landscape_or_shape, (tuple, list)) and len(landscape_or_shape) == 2:
        height, width = landscape_or_shape
        return synthetic(height, width, seed, cell_size_m=30.0 if cell_size_m is None else cell_size_m)
    got = repr(landscape_or_shape) if isinstance(landscape_or_shape, (tuple, list)) \
        else type(landscape_or_shape).__name__
    raise InputError(f"landscape_or_shape: expected a Landscape or (height, width), got {got}")


def _burnable_not_nodata(landscape: Landscape) -> np.ndarray:
    """[H, W] bool: cells fire can burn that are not nodata, where values may lie."""
    can_burn = landscape.burnable_mask().cpu().numpy()
    if landscape.nodata_mask is not None:
        can_burn &= ~landscape.nodata_mask.cpu().numpy()
    return can_burn


def _values_tensor(value: np.ndarray, can_burn: np.ndarray, device, normalize: bool = True) -> torch.Tensor:
    """``value`` zeroed where fire cannot burn and, with ``normalize``, scaled to mean 1 over
    the burnable cells (left as is when they hold none), as a float32 tensor on ``device``."""
    value[~can_burn] = 0.0
    if normalize and can_burn.any():
        mean = float(value[can_burn].mean())
        if mean > 0.0:
            value /= mean
    return torch.from_numpy(value.astype(np.float32)).to(device)


def synthetic_values(landscape_or_shape, seed: int, *, cell_size_m: float | None = None,
                     normalize: bool = True) -> torch.Tensor:
    """Value at risk per cell, a float32 [H, W] tensor >= 0 on the landscape's device: houses
    clustered in settlements along roads and scattered across the land
    (docs/synthetic_landscapes.md, "Values at risk").

    ``landscape_or_shape``: a :class:`Landscape` (roads are its NB1, 91, cells; values are zero
    where it cannot burn), or ``(height, width)``, for which ``synthetic(height, width, seed,
    cell_size_m=cell_size_m)`` (default 30 m) is built first. Deterministic per seed (houses
    come from their own random stream, ``numpy.random.default_rng([seed, 2])``), varied across
    seeds. Unit: relative value per cell, mean 1 over the burnable cells with ``normalize``
    (the default), else house-equivalents (mean value 1 per house).
    """
    if not isinstance(normalize, (bool, np.bool_)):
        raise InputError(f"normalize: must be True or False, got {normalize!r}")
    landscape = _landscape_for_values(landscape_or_shape, seed, cell_size_m)
    h, w = landscape.shape
    size = landscape.cell_size_m
    fuel = landscape.fuel_model.cpu().numpy()
    can_burn = _burnable_not_nodata(landscape)
    roads = fuel == NB_URBAN

    rng = np.random.default_rng([int(seed), _VALUES_STREAM])
    regime = _draw_settlement(rng)
    area_km2 = h * w * (size / 1000.0) ** 2

    # Settlements (Neyman-Scott / Thomas): centres on road cells, houses around them, thinned by
    # the distance to the road so that they line the roads. Positions in cells (row, col), a
    # cell's centre at its integer index.
    road_cells = np.flatnonzero(roads)
    road_km = road_cells.size * size / 1000.0
    n_settlements = int(rng.poisson(regime.settlements_per_road_km * road_km)) if road_cells.size else 0
    centres = road_cells[rng.integers(0, max(road_cells.size, 1), n_settlements)]
    centre_rc = np.column_stack(np.unravel_index(centres, (h, w))).astype(np.float64)
    centre_rc += rng.uniform(-0.5, 0.5, centre_rc.shape)
    houses = rng.poisson(regime.houses_per_settlement, n_settlements)
    offspring = np.repeat(centre_rc, houses, axis=0) + rng.normal(0.0, regime.settlement_radius_m / size,
                                                                  (int(houses.sum()), 2))
    cell_rc = np.rint(offspring).astype(np.int64)
    inside = (cell_rc[:, 0] >= 0) & (cell_rc[:, 0] < h) & (cell_rc[:, 1] >= 0) & (cell_rc[:, 1] < w)
    settled = cell_rc[inside, 0] * w + cell_rc[inside, 1]
    distance_m = _road_distance_m(roads, size).reshape(-1)[settled]
    keep_probability = np.where(distance_m > 0.0, np.exp(-np.maximum(distance_m - size, 0.0) / regime.setback_m), 0.0)
    settled = settled[rng.random(settled.size) < keep_probability]

    # Scattered houses: complete spatial randomness at the regime's density.
    scattered = rng.integers(0, h * w, int(rng.poisson(regime.scattered_per_km2 * area_km2)))

    # Value: log-normal with mean 1 per house (mu = -sigma^2 / 2), summed per cell.
    cells = np.concatenate([settled, scattered])
    value_per_house = rng.lognormal(-0.5 * _HOUSE_VALUE_LOG_SIGMA ** 2, _HOUSE_VALUE_LOG_SIGMA, cells.size)
    value = np.bincount(cells, weights=value_per_house, minlength=h * w).reshape(h, w)
    return _values_tensor(value, can_burn, landscape.device, normalize)


# ------------------------------------------------------------------------- dense habitat
_HABITAT_STREAM = 3  # numpy seed [seed, 3]: independent of synthetic()'s and the houses'


def synthetic_habitat(landscape_or_shape, seed: int, *, cell_size_m: float | None = None) -> torch.Tensor:
    """A dense value at risk per cell, a float32 [H, W] tensor >= 0 on the landscape's device:
    habitat quality that covers most of the burnable land, where ``synthetic_values`` puts
    sparse houses (docs/synthetic_landscapes.md, "Habitat values").

    A log-normal Gaussian random field (spectral synthesis, Saupe 1988; the neutral landscape
    models of Gardner, Milne, Turner & O'Neill 1987, Landscape Ecology 1:19-28), weighted up
    where the canopy is closed (forest habitat), with its lowest quantile set to zero (land of
    no habitat value), zero where fire cannot burn, scaled to mean 1 over the burnable cells.
    Per seed a regime is drawn first: correlation length 90-2,000 m (log-uniform), log-normal
    sigma 0.3-1.2 (log-uniform), canopy weight 0-3 (value x (1 + w * canopy cover)), a zero
    share of 0-40 % of the burnable cells. Deterministic per seed, from its own stream
    (``numpy.random.default_rng([seed, 3])``). Arguments as ``synthetic_values``.
    """
    landscape = _landscape_for_values(landscape_or_shape, seed, cell_size_m)
    h, w = landscape.shape
    can_burn = _burnable_not_nodata(landscape)
    canopy = np.nan_to_num(landscape.canopy_cover.cpu().numpy().astype(np.float64), nan=0.0).clip(0.0, 1.0)

    rng = np.random.default_rng([int(seed), _HABITAT_STREAM])
    corr_m = _log_uniform(rng, 90.0, 2000.0)
    sigma = _log_uniform(rng, 0.3, 1.2)
    canopy_weight = float(rng.uniform(0.0, 3.0))
    zero_share = float(rng.uniform(0.0, 0.4))
    synth = _SpectralSynth(rng, h, w, landscape.cell_size_m)
    field, _ = synth.pair(synth.amplitude(corr_m, 3.0))
    std = float(field.std())
    z = (field - field.mean()) / std if std > 0.0 else np.zeros_like(field)
    value = np.exp(sigma * z) * (1.0 + canopy_weight * canopy)
    if can_burn.any() and zero_share > 0.0:
        value[z < np.quantile(z[can_burn], zero_share)] = 0.0
    return _values_tensor(value, can_burn, landscape.device)
