"""The fuel-break placement environment (gymnasium's single-environment API, ``FuelBreakEnv``,
and vector API, ``BatchedFuelBreakEnv``), its landscape sources and what the agent observes
(``observation_channels``). The env layer: above ``qagent.fire`` and ``qagent.landscape``."""

from qagent.env.fuel_break_env import BatchedFuelBreakEnv, EnvConfig, FuelBreakEnv, StaticObservationCache, budget_cells
from qagent.env.observation import NUM_CHANNELS, OBSERVATION_CHANNELS, observation_channels
from qagent.env.sources import LandscapeSource, SyntheticSource, TileSource, make_source

__all__ = ["FuelBreakEnv", "BatchedFuelBreakEnv", "EnvConfig", "StaticObservationCache", "budget_cells",
           "LandscapeSource", "SyntheticSource", "TileSource", "make_source", "observation_channels",
           "OBSERVATION_CHANNELS", "NUM_CHANNELS"]
