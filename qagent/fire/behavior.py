"""Fire behavior of every cell of a landscape: ``qagent.fire.behavior``."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from qagent import _ops
from qagent._validation import InputError, resolve_device
from qagent.fire.weather import Weather
from qagent.landscape.core import Landscape

LENGTH_TO_BREADTH_MODELS = _ops.LENGTH_TO_BREADTH_MODELS  # name -> the ops' code

FIRE_TYPE_NAMES = {code: name for name, code in _ops.FIRE_TYPES.items()}


@dataclass
class FireBehavior:
    """Fire behavior per cell, [H, W] tensors.

    - ``fire_type``: uint8, FlamMap's coding: 0 unburnable fuel, 1 surface, 2 passive crown,
      3 active crown (a burnable cell too wet to spread has type 1 and spread rate 0)
    - ``spread_rate``: m/min along the slope surface (head fire, or toward the azimuth asked)
    - ``spread_direction``: degrees clockwise from north of the direction of maximum spread
    - ``fireline_intensity``: kW/m (Byram)
    - ``flame_length``: m (Byram)
    - ``length_to_breadth``: of the fire ellipse (surface or crown, whichever spreads faster)
    """

    fire_type: torch.Tensor
    spread_rate: torch.Tensor
    spread_direction: torch.Tensor
    fireline_intensity: torch.Tensor
    flame_length: torch.Tensor
    length_to_breadth: torch.Tensor

    @property
    def eccentricity(self) -> torch.Tensor:
        lb = self.length_to_breadth.clamp(min=1.0)
        return torch.sqrt(lb * lb - 1.0) / lb


def _lw_model_code(lw_ratio_model: str) -> int:
    try:
        return LENGTH_TO_BREADTH_MODELS[lw_ratio_model]
    except KeyError:
        raise InputError(
            f"lw_ratio_model: unknown model {lw_ratio_model!r}; choose one of {sorted(LENGTH_TO_BREADTH_MODELS)}"
        ) from None


def behavior(
    landscape: Landscape,
    weather: Weather,
    lw_ratio_model: str = "behave",
    device=None,
    *,
    use_wind_limit: bool = True,
    crown_max_length_to_breadth: float = 1e10,
    azimuth: float | None = None,
) -> FireBehavior:
    """Fire behavior of every cell of ``landscape`` under ``weather``.

    Surface fire after Rothermel (1972) with Albini's (1976) corrections, wind and slope
    combined as vectors, crown fire after Van Wagner (1977) and Cruz et al. (2005); see
    README "Physics". ``lw_ratio_model`` is ``"behave"`` or ``"rothermel"``. ``device``
    defaults to the landscape's. With ``azimuth`` (degrees clockwise from north) the values
    are those of the fire front heading that way rather than of the head fire.
    """
    if not isinstance(landscape, Landscape):
        raise InputError(f"landscape: expected a qagent.landscape.Landscape, got {type(landscape).__name__}")
    if not isinstance(weather, Weather):
        raise InputError(f"weather: expected a qagent.fire.Weather, got {type(weather).__name__}")
    lw = _lw_model_code(lw_ratio_model)
    if azimuth is not None and not math.isfinite(float(azimuth)):
        raise InputError(f"azimuth: must be a finite number of degrees, got {azimuth!r}")
    if not (crown_max_length_to_breadth >= 1.0):
        raise InputError(f"crown_max_length_to_breadth: must be >= 1, got {crown_max_length_to_breadth!r}")
    dev = resolve_device(device if device is not None else landscape.device)
    ls = landscape if landscape.device == dev else landscape.to(dev)
    h, w = ls.shape
    terrain = ls.terrain_tensor().unsqueeze(0)
    fuel = ls.fuel_model.reshape(1, -1).contiguous()
    wx = weather.as_op_tensor(ls.shape, dev).unsqueeze(0)
    index = torch.zeros(1, dtype=torch.int64, device=dev)
    outs = _ops.fire_behavior(
        terrain, fuel, wx, index, float("nan") if azimuth is None else float(azimuth), lw, bool(use_wind_limit),
        float(crown_max_length_to_breadth),
    )
    return FireBehavior(*(o.reshape(h, w) for o in outs))
