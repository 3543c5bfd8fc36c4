"""Fake (meta) kernels of the compiled ops, so they trace under ``torch.compile`` and
``torch.library.opcheck``. Each states only output shapes and dtypes."""

from __future__ import annotations

import torch

from qagent import _ext

_ext.load()


@torch.library.register_fake("qagent::fire_behavior")
def _fire_behavior_fake(terrain, fuel_model, weather, landscape_index, azimuth_deg, length_to_breadth_model,
                        use_wind_limit, crown_max_length_to_breadth):
    torch._check(terrain.dim() == 3 and terrain.shape[1] == 6, lambda: "terrain must be [E, 6, N]")
    torch._check(weather.dim() == 3 and weather.shape[1] == 8, lambda: "weather must be [B, 8, K]")
    rows, cells = weather.shape[0], terrain.shape[2]
    return (
        terrain.new_empty((rows, cells), dtype=torch.uint8),
        *(terrain.new_empty((rows, cells)) for _ in range(5)),
    )


@torch.library.register_fake("qagent::spread_params")
def _spread_params_fake(terrain, fuel_model, weather, landscape_index, length_to_breadth_model, use_wind_limit,
                        crown_max_length_to_breadth):
    torch._check(terrain.dim() == 3 and terrain.shape[1] == 6, lambda: "terrain must be [E, 6, N]")
    return terrain.new_empty((weather.shape[0], 6, terrain.shape[2]))


@torch.library.register_fake("qagent::spread")
def _spread_fake(spread_params, blocked, ignition, param_index, layout_index, count_index, duration_min,
                 num_count_rows, cell_size_m, stencil_size, return_arrival, algorithm, terrain=None, fuel_model=None,
                 weather=None, weather_landscape=None, length_to_breadth_model=0, use_wind_limit=True,
                 crown_max_length_to_breadth=1e10, relax_window=0, values=None, value_index=None, return_dpv=False):
    torch._check(spread_params.dim() == 4 and spread_params.shape[1] == 6, lambda: "spread_params must be [P, 6, H, W]")
    n = ignition.shape[0]
    h, w = spread_params.shape[2], spread_params.shape[3]
    return (
        ignition.new_empty((n,), dtype=torch.int32),
        ignition.new_empty((num_count_rows, h, w), dtype=torch.int32),
        spread_params.new_empty((n if return_arrival else 0, h, w)),
        spread_params.new_empty((n if values is not None or return_dpv else 0,)),
        spread_params.new_empty((num_count_rows if return_dpv else 0, h, w)),
    )
