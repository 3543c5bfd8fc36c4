"""Fire behavior and fire spread on landscapes, as compiled torch ops."""

from qagent.fire.behavior import FIRE_TYPE_NAMES, FireBehavior, behavior
from qagent.fire.weather import WEATHER_FIELDS, Weather

__all__ = ["Weather", "WEATHER_FIELDS", "FireBehavior", "behavior", "FIRE_TYPE_NAMES"]
