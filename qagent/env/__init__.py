"""The fuel-break placement environment (gymnasium's single-environment API, ``FuelBreakEnv``,
and vector API, ``BatchedFuelBreakEnv``) and its landscape sources."""

from qagent.env.fuel_break_env import BatchedFuelBreakEnv, EnvConfig, FuelBreakEnv, StaticObservationCache, budget_cells
from qagent.env.sources import LandscapeSource, SyntheticSource, TileSource, make_source

__all__ = ["FuelBreakEnv", "BatchedFuelBreakEnv", "EnvConfig", "StaticObservationCache", "budget_cells",
           "LandscapeSource", "SyntheticSource", "TileSource", "make_source"]
