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
