"""The one Python binding of the compiled ops (in the manner of pytorch/extension-cpp's
``ops.py``): a typed wrapper per op, the only code in the package that calls
``torch.ops.qagent.*``, beside the op's fake (meta) kernel, so the ops trace under
``torch.compile`` and pass ``torch.library.opcheck``; and the ops' constants (channel
counts, stencil sizes, the codes of the spread algorithms, length-to-breadth models and fire
types), read from the extension (``qagent._C.constants()``, csrc/ops.cpp) rather than
written again here.

The wrappers take the ops' own arguments (integer codes: see ``ALGORITHMS`` and
``LENGTH_TO_BREADTH_MODELS``); checking user input with friendly messages is the callers'
(``qagent.fire``), and the ops check their arguments again (csrc/op_checks.h).
"""

from __future__ import annotations

import torch
from torch import Tensor

from qagent import _ext

_C = _ext.load()
_CONSTANTS = _C.constants()

NUM_TERRAIN_CHANNELS: int = _CONSTANTS["num_terrain_channels"]
"""Channels of the ops' terrain [E, C, N]: slope, aspect, canopy cover, height, base height, bulk density."""
NUM_WEATHER_CHANNELS: int = _CONSTANTS["num_weather_channels"]
"""Channels of the ops' weather rows [B, C, K], in the order of ``qagent.fire.weather.WEATHER_FIELDS``."""
NUM_SPREAD_PARAMS: int = _CONSTANTS["num_spread_params"]
"""Per-cell spread parameters of the spread kernel, [P, C, H, W]."""
STENCIL_SIZES: tuple[int, ...] = tuple(_CONSTANTS["stencil_sizes"])
"""Directions of travel between cells that the spread op offers."""
ALGORITHMS: dict[str, int] = dict(_CONSTANTS["algorithms"])
"""Spread algorithm codes by name: auto, dijkstra, relax, dijkstra_uncached."""
LENGTH_TO_BREADTH_MODELS: dict[str, int] = dict(_CONSTANTS["length_to_breadth_models"])
"""Fire-ellipse length-to-breadth model codes by name: behave, rothermel."""
FIRE_TYPES: dict[str, int] = dict(_CONSTANTS["fire_types"])
"""Fire type codes of the fire_behavior op by name (FlamMap's coding)."""


def fire_behavior(terrain: Tensor, fuel_model: Tensor, weather: Tensor, landscape_index: Tensor, azimuth_deg: float,
                  length_to_breadth_model: int, use_wind_limit: bool, crown_max_length_to_breadth: float,
                  ) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
    """Fire behavior of every cell of E landscapes under B weather rows (schema and units:
    csrc/ops.cpp). terrain [E, NUM_TERRAIN_CHANNELS, N] float32, fuel_model [E, N] int32,
    weather [B, NUM_WEATHER_CHANNELS, K] float32 (K = 1 or N), landscape_index [B] int64;
    azimuth_deg NaN for the head fire. Returns [B, N]: fire_type (uint8), spread_rate,
    spread_direction, fireline_intensity, flame_length, length_to_breadth."""
    return torch.ops.qagent.fire_behavior.default(terrain, fuel_model, weather, landscape_index, float(azimuth_deg),
                                                  int(length_to_breadth_model), bool(use_wind_limit),
                                                  float(crown_max_length_to_breadth))


@torch.library.register_fake("qagent::fire_behavior")
def _fire_behavior_fake(terrain, fuel_model, weather, landscape_index, azimuth_deg, length_to_breadth_model,
                        use_wind_limit, crown_max_length_to_breadth):
    torch._check(terrain.dim() == 3 and terrain.shape[1] == NUM_TERRAIN_CHANNELS,
                 lambda: f"terrain must be [E, {NUM_TERRAIN_CHANNELS}, N]")
    torch._check(weather.dim() == 3 and weather.shape[1] == NUM_WEATHER_CHANNELS,
                 lambda: f"weather must be [B, {NUM_WEATHER_CHANNELS}, K]")
    rows, cells = weather.shape[0], terrain.shape[2]
    return (
        terrain.new_empty((rows, cells), dtype=torch.uint8),
        *(terrain.new_empty((rows, cells)) for _ in range(5)),
    )


def spread_params(terrain: Tensor, fuel_model: Tensor, weather: Tensor, landscape_index: Tensor,
                  length_to_breadth_model: int, use_wind_limit: bool, crown_max_length_to_breadth: float) -> Tensor:
    """The spread kernel's per-cell parameters of the head fire, [B, NUM_SPREAD_PARAMS, N]
    float32, from the inputs of :func:`fire_behavior`."""
    return torch.ops.qagent.spread_params.default(terrain, fuel_model, weather, landscape_index,
                                                  int(length_to_breadth_model), bool(use_wind_limit),
                                                  float(crown_max_length_to_breadth))


@torch.library.register_fake("qagent::spread_params")
def _spread_params_fake(terrain, fuel_model, weather, landscape_index, length_to_breadth_model, use_wind_limit,
                        crown_max_length_to_breadth):
    torch._check(terrain.dim() == 3 and terrain.shape[1] == NUM_TERRAIN_CHANNELS,
                 lambda: f"terrain must be [E, {NUM_TERRAIN_CHANNELS}, N]")
    return terrain.new_empty((weather.shape[0], NUM_SPREAD_PARAMS, terrain.shape[2]))


def spread(spread_params: Tensor, blocked: Tensor, ignition: Tensor, param_index: Tensor, layout_index: Tensor,
           count_index: Tensor, duration_min: Tensor, num_count_rows: int, cell_size_m: float, stencil_size: int,
           return_arrival: bool, algorithm: int, terrain: Tensor | None = None, fuel_model: Tensor | None = None,
           weather: Tensor | None = None, weather_landscape: Tensor | None = None, length_to_breadth_model: int = 0,
           use_wind_limit: bool = True, crown_max_length_to_breadth: float = 1e10, relax_window: int = 0,
           values: Tensor | None = None, value_index: Tensor | None = None, return_dpv: bool = False,
           ) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """Minimum-travel-time fire spread of n simulations (every argument: csrc/ops.cpp).
    Returns burned_cells [n] int32, burn_count [num_count_rows, H, W] int32,
    arrival_time_min [n or 0, H, W], burned_value [n or 0] and dpv [num_count_rows or 0, H, W]
    float32."""
    return torch.ops.qagent.spread.default(
        spread_params, blocked, ignition, param_index, layout_index, count_index, duration_min, int(num_count_rows),
        float(cell_size_m), int(stencil_size), bool(return_arrival), int(algorithm), terrain, fuel_model, weather,
        weather_landscape, int(length_to_breadth_model), bool(use_wind_limit), float(crown_max_length_to_breadth),
        int(relax_window), values, value_index, bool(return_dpv))


@torch.library.register_fake("qagent::spread")
def _spread_fake(spread_params, blocked, ignition, param_index, layout_index, count_index, duration_min,
                 num_count_rows, cell_size_m, stencil_size, return_arrival, algorithm, terrain=None, fuel_model=None,
                 weather=None, weather_landscape=None, length_to_breadth_model=0, use_wind_limit=True,
                 crown_max_length_to_breadth=1e10, relax_window=0, values=None, value_index=None, return_dpv=False):
    torch._check(spread_params.dim() == 4 and spread_params.shape[1] == NUM_SPREAD_PARAMS,
                 lambda: f"spread_params must be [P, {NUM_SPREAD_PARAMS}, H, W]")
    n = ignition.shape[0]
    h, w = spread_params.shape[2], spread_params.shape[3]
    return (
        ignition.new_empty((n,), dtype=torch.int32),
        ignition.new_empty((num_count_rows, h, w), dtype=torch.int32),
        spread_params.new_empty((n if return_arrival else 0, h, w)),
        spread_params.new_empty((n if values is not None or return_dpv else 0,)),
        spread_params.new_empty((num_count_rows if return_dpv else 0, h, w)),
    )
