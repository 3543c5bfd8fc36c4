"""Fire on landscapes: ``weather`` (one weather or one per fire), ``behavior`` (per-cell fire
behavior) and ``spread`` (batched minimum-travel-time spread, burn probability, downstream
protection value), as compiled torch ops; ``scenario`` (the distribution fires are drawn
from, ``DEFAULT_SCENARIO``) and ``fuel_models`` (the fuel-model table, from ``qagent.fuels``)."""

from qagent.fire.behavior import FIRE_TYPE_NAMES, FireBehavior, behavior
from qagent.fire.spread import SpreadResult, burn_probability, downstream_protection_value, sample_ignitions, simulate
from qagent.fire.weather import WEATHER_FIELDS, Weather, WeatherSamples

__all__ = [
    "Weather", "WeatherSamples", "WEATHER_FIELDS", "FireBehavior", "behavior", "FIRE_TYPE_NAMES",
    "simulate", "burn_probability", "downstream_protection_value", "sample_ignitions", "SpreadResult",
]
