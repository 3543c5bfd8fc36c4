"""Fire behavior and fire spread on landscapes, as compiled torch ops."""

from qagent.fire.behavior import FIRE_TYPE_NAMES, FireBehavior, behavior
from qagent.fire.spread import SpreadResult, burn_probability, downstream_protection_value, sample_ignitions, simulate
from qagent.fire.weather import WEATHER_FIELDS, Weather, WeatherSamples

__all__ = [
    "Weather", "WeatherSamples", "WEATHER_FIELDS", "FireBehavior", "behavior", "FIRE_TYPE_NAMES",
    "simulate", "burn_probability", "downstream_protection_value", "sample_ignitions", "SpreadResult",
]
