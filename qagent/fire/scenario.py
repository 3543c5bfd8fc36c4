"""Fire scenarios: the distribution of weather and burn duration that ignitions are drawn
with, like the weather streams of FSim (Finney et al. 2011) in miniature.

The default scenario describes a dry, windy summer afternoon burn period, the conditions
under which most area burns and fuel breaks matter:

- fuel moistures span Scott & Burgan's (2005, Table 3) dead scenarios D1-D3 (1-h 3-9 %,
  10-h = 1-h + 1 %, 100-h = 1-h + 2 %) and live scenarios L1-L4 (live herbaceous 30-120 %,
  fully cured to fully green; live woody = herbaceous + 30 %, 60-150 %);
- foliar moisture 90-120 % (late-summer conifer foliage; Keyes 2006, Agee et al. 2002);
- the 10-m open wind is log-normal with a median of 15 km/h (sigma 0.45, capped at 45 km/h),
  blowing from a prevailing south-west (225 degrees) with a von Mises spread (kappa 3,
  about 35 degrees), as a wind rose of fire-day afternoons;
- fires spread for one burn period of 2 to 6 hours (uniform): real fires make their runs in
  the afternoon burn period and lie down at night, so a 24-hour duration at afternoon
  weather overstates spread and burns nearly every tile from any ignition, leaving fuel
  breaks nothing to change.

On the default synthetic 50 x 50 landscapes a fire burns a median 5 % of the tile (mean 15 %,
10 % of fires over half of it), while QNetFires' settings (24 hours, no wind, live moisture
10 %; docs/history.md) burn a median 61 % (BENCHMARKS.md
"Default fire scenario", made by ``python benchmarks/scenario_stats.py``): many small fires
and a tail of large ones, which breaks can stop.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch

from qagent._validation import InputError
from qagent.fire.weather import Weather, WeatherSamples
from qagent.landscape.core import check_ignition_density


@dataclass(frozen=True)
class FireScenario:
    """Distribution of per-ignition weather and burn duration (all fields documented above)."""

    dead_1hr_moisture_range: tuple[float, float] = (0.03, 0.09)
    dead_10hr_offset: float = 0.01
    dead_100hr_offset: float = 0.02
    live_herbaceous_moisture_range: tuple[float, float] = (0.30, 1.20)
    live_woody_offset: float = 0.30
    foliar_moisture_range: tuple[float, float] = (0.90, 1.20)
    wind_speed_10m_median_km_per_h: float = 15.0
    wind_speed_10m_log_sigma: float = 0.45
    wind_speed_10m_max_km_per_h: float = 45.0
    prevailing_upwind_direction_deg: float = 225.0
    wind_direction_kappa: float = 3.0
    duration_range_min: tuple[float, float] = (120.0, 360.0)

    def __post_init__(self):
        for name in ("dead_1hr_moisture_range", "live_herbaceous_moisture_range", "foliar_moisture_range",
                     "duration_range_min"):
            lo, hi = getattr(self, name)
            if not (np.isfinite(lo) and np.isfinite(hi) and 0 <= lo <= hi):
                raise InputError(f"{name}: expected 0 <= low <= high, got ({lo}, {hi})")
        if not (self.wind_speed_10m_median_km_per_h >= 0 and self.wind_speed_10m_log_sigma >= 0
                and self.wind_speed_10m_max_km_per_h >= 0 and self.wind_direction_kappa >= 0):
            raise InputError("wind parameters must be non-negative")

    def sample(self, n: int, rng: np.random.Generator) -> tuple[WeatherSamples, np.ndarray]:
        """n weather scenarios and burn durations (minutes), deterministic for rng's state."""
        u = rng.random((6, n))
        m1 = _lerp(self.dead_1hr_moisture_range, u[0])
        herb = _lerp(self.live_herbaceous_moisture_range, u[1])
        foliar = _lerp(self.foliar_moisture_range, u[2])
        duration = _lerp(self.duration_range_min, u[3])
        wind = np.minimum(self.wind_speed_10m_max_km_per_h,
                          self.wind_speed_10m_median_km_per_h
                          * np.exp(self.wind_speed_10m_log_sigma * rng.standard_normal(n)))
        direction = (self.prevailing_upwind_direction_deg
                     + np.degrees(rng.vonmises(0.0, self.wind_direction_kappa, n)) if self.wind_direction_kappa > 0
                     else rng.uniform(0.0, 360.0, n)) % 360.0
        weather = WeatherSamples(wind, direction, m1, m1 + self.dead_10hr_offset, m1 + self.dead_100hr_offset, herb,
                                 herb + self.live_woody_offset, foliar)
        return weather, duration.astype(np.float32)

    def draw(self, landscape, n: int, rng: np.random.Generator, *, ignition_density=None,
             weather_rng: np.random.Generator | None = None) -> "Fires":
        """The project's one draw of ``n`` fires on ``landscape``: ignitions first
        (:func:`draw_ignitions`: uniform over burnable cells, or proportional to
        ``ignition_density``), then each fire's weather and duration (:meth:`sample`), from
        ``rng`` (or from ``weather_rng`` when given, as ``burn_probability_breaks`` does).
        Deterministic for the generators' states."""
        ignitions = draw_ignitions(landscape, n, rng, ignition_density=ignition_density)
        weather, duration = self.sample(int(n), rng if weather_rng is None else weather_rng)
        return Fires(ignitions, weather, duration)

    def reference_weather(self) -> Weather:
        """The scenario's typical weather (medians, prevailing wind): what agent observations
        show, since the agent places breaks before knowing a fire's weather."""
        m1 = float(np.mean(self.dead_1hr_moisture_range))
        herb = float(np.mean(self.live_herbaceous_moisture_range))
        return Weather(self.wind_speed_10m_median_km_per_h, self.prevailing_upwind_direction_deg, m1,
                       m1 + self.dead_10hr_offset, m1 + self.dead_100hr_offset, herb, herb + self.live_woody_offset,
                       float(np.mean(self.foliar_moisture_range)))

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Fires:
    """n fires: ``ignitions`` int64 [n] flat cell indices (row * W + col, CPU tensor),
    ``weather`` [n] WeatherSamples and ``duration_min`` float32 [n] minutes of spread."""

    ignitions: torch.Tensor
    weather: WeatherSamples
    duration_min: np.ndarray

    def __len__(self) -> int:
        return int(self.ignitions.shape[0])

    def __iter__(self):  # ign, weather, duration = fires
        return iter((self.ignitions, self.weather, self.duration_min))


def draw_ignitions(landscape, n: int, rng: np.random.Generator, *, ignition_density=None) -> torch.Tensor:
    """[n] int64 flat indices of burnable cells (with replacement) drawn with ``rng``: uniform
    over burnable cells by default (``rng.integers``), else with probability proportional to
    ``ignition_density`` (a non-negative [H, W] grid; cells that cannot burn get none), by
    inverting its cumulative sum at ``rng.random(n)``. Fuel breaks are not excluded (an
    ignition on a break burns nothing), so the same generator gives the same ignitions with
    and without breaks."""
    if not (isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n >= 0):
        raise InputError(f"n_ignitions: must be a non-negative integer, got {n!r}")
    burnable = landscape.burnable_mask().cpu().numpy().reshape(-1)
    cells = np.flatnonzero(burnable)
    if len(cells) == 0:
        raise InputError("landscape: no burnable cells to ignite")
    if ignition_density is None:
        return torch.from_numpy(cells[rng.integers(0, len(cells), size=int(n))].astype(np.int64))
    weight = check_ignition_density(ignition_density, landscape).reshape(-1)[cells]
    cells, weight = cells[weight > 0], weight[weight > 0]
    cdf = np.cumsum(weight)
    pick = np.searchsorted(cdf, rng.random(int(n)) * cdf[-1], side="right")
    return torch.from_numpy(cells[np.minimum(pick, len(cells) - 1)].astype(np.int64))


def _lerp(bounds: tuple[float, float], u: np.ndarray) -> np.ndarray:
    return bounds[0] + (bounds[1] - bounds[0]) * u


DEFAULT_SCENARIO = FireScenario()
