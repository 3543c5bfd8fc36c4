"""Weather for fire behavior: wind and fuel moistures."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import torch

from qagent._validation import InputError, as_tensor, check_range

# name -> (min, max, unit, hint). Upper bounds catch unit mistakes (percent for fractions).
WEATHER_FIELDS: dict[str, tuple[float | None, float | None, str, str]] = {
    "wind_speed_10m": (0.0, 400.0, "km/h", "the 10-m open wind speed in km/h"),
    "upwind_direction": (None, None, "degrees", "the direction the wind comes from, clockwise from north"),
    "fuel_moisture_dead_1hr": (0.0, 1.0, "fraction", "moistures are fractions of ovendry weight, not percent"),
    "fuel_moisture_dead_10hr": (0.0, 1.0, "fraction", "moistures are fractions of ovendry weight, not percent"),
    "fuel_moisture_dead_100hr": (0.0, 1.0, "fraction", "moistures are fractions of ovendry weight, not percent"),
    "fuel_moisture_live_herbaceous": (0.0, 5.0, "fraction", "moistures are fractions of ovendry weight, not percent"),
    "fuel_moisture_live_woody": (0.0, 5.0, "fraction", "moistures are fractions of ovendry weight, not percent"),
    "foliar_moisture": (0.0, 5.0, "fraction", "foliar moisture is a fraction (1.0 = 100 %)"),
}


@dataclass(eq=False)
class _WeatherFields:
    """The eight weather fields, in the channel order of the compiled ops (WEATHER_FIELDS)."""

    wind_speed_10m: Any
    upwind_direction: Any
    fuel_moisture_dead_1hr: Any
    fuel_moisture_dead_10hr: Any
    fuel_moisture_dead_100hr: Any
    fuel_moisture_live_herbaceous: Any
    fuel_moisture_live_woody: Any
    foliar_moisture: Any


_FIELD_NAMES = tuple(f.name for f in fields(_WeatherFields))


@dataclass(eq=False)
class Weather(_WeatherFields):
    """The weather a fire burns in.

    - ``wind_speed_10m``: km/h, the 10-m open wind
    - ``upwind_direction``: degrees clockwise from north the wind comes from
    - ``fuel_moisture_dead_1hr``, ``_10hr``, ``_100hr``, ``fuel_moisture_live_herbaceous``,
      ``fuel_moisture_live_woody``: fractions of ovendry weight
    - ``foliar_moisture``: fraction of ovendry weight (1.0 = 100 %)

    Each field is a scalar or an [H, W] grid (gridded wind or moisture). Negative or
    non-finite values raise ``InputError`` naming the field and value.
    """

    def __post_init__(self):
        for name, (lo, hi, unit, hint) in WEATHER_FIELDS.items():
            t = as_tensor(name, getattr(self, name), dtype=torch.float32)
            if t.dim() not in (0, 2):
                raise InputError(f"{name}: must be a scalar or an [H, W] grid, got shape {tuple(t.shape)}")
            check_range(name, t, lo, hi, unit, hint)
            object.__setattr__(self, name, t)
        shapes = {tuple(getattr(self, n).shape) for n in WEATHER_FIELDS} - {()}
        if len(shapes) > 1:
            raise InputError(f"weather grids have different shapes: {sorted(shapes)}")

    @property
    def grid_shape(self) -> tuple[int, int] | None:
        """(H, W) if any field is gridded, else None."""
        for n in WEATHER_FIELDS:
            s = tuple(getattr(self, n).shape)
            if s:
                return s
        return None

    def as_op_tensor(self, shape: tuple[int, int], device) -> torch.Tensor:
        """[8, K] float32 in the channel order of the compiled ops; K = 1 if every field is a
        scalar, else H*W."""
        grid = self.grid_shape
        if grid is not None and grid != tuple(shape):
            raise InputError(f"weather: grid shape {grid} does not match the landscape's {tuple(shape)}")
        k = 1 if grid is None else shape[0] * shape[1]
        cols = [getattr(self, f.name).to(device).reshape(-1).expand(k) for f in fields(self)]
        return torch.stack(cols).contiguous()


@dataclass(eq=False)
class WeatherSamples(_WeatherFields):
    """A batch of weather scenarios, one per simulation: each field is an array of the batch
    shape, [S] (one landscape) or [E, S] (E landscapes), uniform over the grid. Same fields,
    units and checks as :class:`Weather`. Cheap to build and to pass to ``simulate`` for
    thousands of simulations, like FSim's weather streams."""

    def __post_init__(self):
        shape = None
        for name, (lo, hi, unit, hint) in WEATHER_FIELDS.items():
            t = as_tensor(name, getattr(self, name), dtype=torch.float32)
            if t.dim() not in (1, 2):
                raise InputError(f"{name}: weather samples are [S] or [E, S] arrays, got shape {tuple(t.shape)}")
            if shape is not None and tuple(t.shape) != shape:
                raise InputError(f"{name}: shape {tuple(t.shape)} differs from the other fields' {shape}")
            shape = tuple(t.shape)
            check_range(name, t, lo, hi, unit, hint)
            object.__setattr__(self, name, t)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.wind_speed_10m.shape)

    def as_op_tensor(self, device) -> torch.Tensor:
        """[prod(shape), 8, 1] float32 in the channel order of the compiled ops."""
        cols = [getattr(self, name) for name in _FIELD_NAMES]
        try:  # one stack, one copy to the device
            return torch.stack(cols, dim=-1).reshape(-1, len(cols), 1).to(device)
        except RuntimeError:  # fields on different devices
            pass
        cols = [c.to(device).reshape(-1) for c in cols]
        return torch.stack(cols, dim=1).unsqueeze(-1).contiguous()

    @classmethod
    def from_weathers(cls, weathers) -> "WeatherSamples":
        """Stack scalar :class:`Weather` objects ([S] list, or [E][S] nested lists)."""
        if not weathers:
            raise InputError("weather: empty list of scenarios")
        nested = isinstance(weathers[0], (list, tuple))
        rows = weathers if nested else [weathers]
        values = {}
        for f in fields(Weather):
            try:
                values[f.name] = [[float(getattr(w, f.name)) for w in row] for row in rows]
            except (TypeError, ValueError, RuntimeError):
                raise InputError("weather: only scalar (not gridded) Weather objects can be stacked") from None
        out = {k: torch.tensor(v) for k, v in values.items()}
        return cls(**{k: (v if nested else v[0]) for k, v in out.items()})
