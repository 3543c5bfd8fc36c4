"""What the agent sees: ``observation_channels(landscape, weather, fuel_breaks)``.

The observation channels run fire behaviour and burn probability on a landscape, so they live
in the env layer (above ``qagent.fire`` and ``qagent.landscape``), next to the observation cache
``StaticObservationCache`` (``qagent.env.fuel_break_env``).

A float32 tensor [C, H, W], every channel scaled to about [0, 1]:

=====  ==========================  ==================================================================
index  name                        value
=====  ==========================  ==================================================================
0      slope                       rise/run, clipped to [0, 1] (1 = 100 % = 45 degrees)
1      aspect_sin                  (1 + sin(aspect)) / 2: 1 facing east, 0 facing west
2      aspect_cos                  (1 + cos(aspect)) / 2: 1 facing north, 0 facing south
3      canopy_cover                fraction
4      canopy_base_height          m / 10, clipped to [0, 1] (low bases let surface fire crown)
5      burnable                    1 where the fuel can burn and there is no fuel break
6      head_spread_rate            log(1 + R) / log(1 + 100), R head-fire spread rate in m/min
7-10   intensity_north/east/       log(1 + I) / log(1 + 100 000), I fireline intensity (kW/m) of the
       south/west                  fire front heading north, east, south or west, crown fire included
11     burn_probability            share of the reference fires (one per 16 burnable cells, at
                                   least 64, 256 when placing; uniform ignitions, 4 h, this weather)
                                   that reach the cell with no breaks, / its 95th percentile, <= 1
12     downstream_protection       log(1 + D) / its 95th percentile, <= 1: D the value the same
                                   fires passed on through the cell per fire (DPV, Pais et al.
                                   2021), in mean burnable-cell values
13     value_at_risk               value at risk / the landscape's largest on a burnable cell, on
                                   burnable cells; with no values the burnable mask before breaks
14     fuel_break                  1 where a fuel break has been placed
=====  ==========================  ==================================================================

Channels 6-12 come from QAgent's own fire physics under the weather given; channel 13 is
scaled per landscape. Every channel but ``burnable`` and ``fuel_break`` is fixed for a
landscape, weather and values: ``static_channels`` computes them once, ``with_fuel_breaks``
adds breaks. Why these channels and scalings: docs/environment.md, "Observation".
"""

from __future__ import annotations

import math

import torch

from qagent._validation import InputError, as_tensor
from qagent.fire.behavior import behavior
from qagent.fire.spread import sample_ignitions, simulate
from qagent.fire.weather import Weather
from qagent.landscape.core import Landscape

OBSERVATION_CHANNELS = (
    "slope", "aspect_sin", "aspect_cos", "canopy_cover", "canopy_base_height", "burnable", "head_spread_rate",
    "intensity_north", "intensity_east", "intensity_south", "intensity_west", "burn_probability",
    "downstream_protection", "value_at_risk", "fuel_break",
)
NUM_CHANNELS = len(OBSERVATION_CHANNELS)
_DIRECTIONS_DEG = (0.0, 90.0, 180.0, 270.0)
_RATE_SCALE = math.log1p(100.0)          # m/min
_INTENSITY_SCALE = math.log1p(100_000.0)  # kW/m
# The reference burn probability's fires: as many per burnable cell on every landscape (one per
# 16, at least 64), so the channel looks alike on a 32 x 32 training tile and on a whole raster.
# (With a fixed 64 fires the whole Worcester raster, 222,371 burnable cells, showed a non-zero
# probability on 0.5 % of them against 47 % on its 32 x 32 tiles: the agent trained on tiles saw
# a blank channel at planning time, the largest cause found of its smaller margin there.)
_BURN_PROBABILITY_MIN_FIRES = 64
_BURNABLE_CELLS_PER_FIRE = 16
# Placement (qagent.evaluation.methods.AgentPolicy) estimates the same two channels from at least
# 256 fires: on a tile 64 fires leave them noisy, and a less noisy estimate of the same quantity
# placed better on validation (BENCHMARKS.md, "The default agent against DPV"); training keeps
# 64, which its observations are cached and replayed with.
PLACEMENT_MIN_REFERENCE_FIRES = 256


def reference_fire_count(burnable_cells: int, min_fires: int = _BURN_PROBABILITY_MIN_FIRES) -> int:
    """Fires behind the burn-probability and downstream-protection channels of a landscape
    with this many burnable cells: one per 16 of them, at least ``min_fires``."""
    return max(int(min_fires), -(-int(burnable_cells) // _BURNABLE_CELLS_PER_FIRE))


_BURN_PROBABILITY_DURATION_MIN = 240.0
_BURNABLE_CHANNEL = OBSERVATION_CHANNELS.index("burnable")
_REFERENCE_FIRE_CHANNELS = (OBSERVATION_CHANNELS.index("burn_probability"),
                            OBSERVATION_CHANNELS.index("downstream_protection"))


def value_channel(landscape: Landscape, values=None) -> torch.Tensor:
    """The value_at_risk channel [H, W] (the table above): ``values`` ([H, W], finite, >= 0;
    None: every cell worth 1) on burnable cells over their largest, on the landscape's device."""
    burnable = landscape.burnable_mask().to(torch.float32)
    if values is None:
        return burnable
    v = as_tensor("values", values, dtype=torch.float32, device=burnable.device)
    if tuple(v.shape) != landscape.shape:
        raise InputError(f"values: shape {tuple(v.shape)} does not match the landscape's {landscape.shape}")
    if not bool(torch.isfinite(v).all()) or bool((v < 0).any()):
        raise InputError("values: values at risk must be finite and >= 0")
    v = v * burnable
    top = v.max()
    return v / top if float(top) > 0 else v


def _reference_fire_channels(ls: Landscape, weather: Weather, burnable: torch.Tensor,
                             values: torch.Tensor | None = None, min_fires: int = _BURN_PROBABILITY_MIN_FIRES,
                             fuel_breaks: torch.Tensor | None = None):
    """The burn_probability and downstream_protection channels [H, W] from one run of the
    reference fires (``reference_fire_count`` fires, uniform burnable ignitions seeded 0, 4 h,
    this weather, ``fuel_breaks`` closed: none by default). Burn probability is the share of
    fires that reach a cell; downstream protection the value the fires passed on through it per
    fire (Pais et al. 2021, docs/dpv.md), in units of the mean value of a burnable cell, on a
    log scale. Each is scaled by its 95th percentile over the burnable cells and clipped to 1:
    the maximum of a whole raster's many fires is a rarer hot spot than a tile's and would dim
    the rest."""
    fires = reference_fire_count(int(burnable.sum()), min_fires)
    ign = sample_ignitions(ls, fires, 0)
    result = simulate(ls, ign, weather, _BURN_PROBABILITY_DURATION_MIN, fuel_breaks=fuel_breaks, values=values,
                      return_dpv=True)
    mask = burnable.to(result.burn_count.device)
    probability = result.burn_count.to(torch.float32) / fires
    dpv = result.dpv.to(torch.float32) / fires
    if values is not None:
        mean_value = float(values.to(dpv.device)[mask].mean())
        dpv = dpv / mean_value if mean_value > 0 else dpv
    protection = torch.log1p(dpv)

    def by_95th_percentile(x: torch.Tensor, floor: float) -> torch.Tensor:
        reached = x[mask]
        scale = reached.kthvalue(max(1, -(-95 * reached.numel() // 100))).values
        return x / scale.clamp(min=floor)

    return by_95th_percentile(probability, 1.0 / fires), by_95th_percentile(protection, math.log1p(1.0 / fires))


def static_channels(landscape: Landscape, weather: Weather, device=None, values=None,
                    min_reference_fires: int = _BURN_PROBABILITY_MIN_FIRES) -> torch.Tensor:
    """The channels that do not depend on fuel breaks: [NUM_CHANNELS, H, W] with the burnable
    channel for no breaks and a zero fuel-break channel; ``values`` (float [H, W], None: every
    cell worth 1) make the value_at_risk channel; the burn-probability and downstream-protection
    channels come from ``reference_fire_count(burnable cells, min_reference_fires)`` fires
    (training: 64; placement: ``PLACEMENT_MIN_REFERENCE_FIRES``)."""
    ls = landscape if device is None or landscape.device == torch.device(device) else landscape.to(device)
    aspect = torch.deg2rad(ls.aspect)
    head = behavior(ls, weather)
    burnable = ls.burnable_mask()
    channels = [
        ls.slope.clamp(0.0, 1.0),
        0.5 * (1.0 + torch.sin(aspect)),
        0.5 * (1.0 + torch.cos(aspect)),
        ls.canopy_cover,
        (ls.canopy_base_height / 10.0).clamp(0.0, 1.0),
        burnable.to(torch.float32),
        torch.log1p(head.spread_rate) / _RATE_SCALE,
    ]
    for az in _DIRECTIONS_DEG:
        channels.append(torch.log1p(behavior(ls, weather, azimuth=az).fireline_intensity) / _INTENSITY_SCALE)
    probability = torch.zeros_like(ls.slope)
    protection = torch.zeros_like(ls.slope)
    if values is not None:  # once, for the two channels that read it
        values = as_tensor("values", values, dtype=torch.float32, device=ls.slope.device)
    if bool(burnable.any()):
        probability, protection = _reference_fire_channels(ls, weather, burnable, values, min_reference_fires)
    channels.append(probability.to(ls.slope.device))
    channels.append(protection.to(ls.slope.device))
    channels.append(value_channel(ls, values))
    channels.append(torch.zeros_like(ls.slope))
    return torch.stack(channels).clamp_(0.0, 1.0).contiguous()


def refresh_reference_channels(static: torch.Tensor, landscape: Landscape, weather: Weather,
                               fuel_breaks: torch.Tensor, values=None,
                               min_reference_fires: int = _BURN_PROBABILITY_MIN_FIRES) -> torch.Tensor:
    """``static`` [NUM_CHANNELS, H, W] (from ``static_channels`` with the same arguments) with its
    burn_probability and downstream_protection channels recomputed from the same reference fires
    on the landscape with ``fuel_breaks`` (bool [H, W]) closed; a new tensor. What the agent's
    placement on a whole raster reads between rounds when it refreshes them (DPV re-simulated
    between rounds, as Pais et al. 2021 do for DPV itself; qagent-plan --refresh-rounds). The
    fires run where ``static_channels`` ran them, on the landscape's device."""
    burnable = landscape.burnable_mask()
    out = static.clone()
    if not bool(burnable.any()):
        return out
    if values is not None:
        values = as_tensor("values", values, dtype=torch.float32, device=landscape.slope.device)
    breaks = as_tensor("fuel_breaks", fuel_breaks, dtype=torch.bool, device=landscape.slope.device)
    if tuple(breaks.shape) != landscape.shape:
        raise InputError(f"fuel_breaks: shape {tuple(breaks.shape)} does not match the landscape's {landscape.shape}")
    probability, protection = _reference_fire_channels(landscape, weather, burnable, values, min_reference_fires,
                                                       breaks)
    for channel, x in zip(_REFERENCE_FIRE_CHANNELS, (probability, protection)):
        out[channel] = x.to(out.device).clamp(0.0, 1.0)
    return out


def with_fuel_breaks(static: torch.Tensor, fuel_breaks: torch.Tensor) -> torch.Tensor:
    """Observation(s) from static channels [C, H, W] (or [B, C, H, W]) and bool breaks [H, W]
    (or [B, H, W]): the burnable channel loses the breaks, the last channel shows them."""
    obs = static.clone()
    breaks = fuel_breaks.to(device=obs.device, dtype=obs.dtype)
    obs[..., _BURNABLE_CHANNEL, :, :] *= 1.0 - breaks
    obs[..., NUM_CHANNELS - 1, :, :] = breaks
    return obs


def observation_channels(landscape: Landscape, weather: Weather, fuel_breaks=None, values=None) -> torch.Tensor:
    """[NUM_CHANNELS, H, W] float32 observation of a landscape under a weather with fuel breaks
    (bool [H, W], optional) and values at risk (float [H, W], optional: None, every cell worth
    1); channel list in this module's docstring and ``OBSERVATION_CHANNELS``."""
    if not isinstance(landscape, Landscape):
        raise InputError(f"landscape: expected a Landscape, got {type(landscape).__name__}")
    static = static_channels(landscape, weather, values=values)
    if fuel_breaks is None:
        return static
    fb = as_tensor("fuel_breaks", fuel_breaks, dtype=torch.bool, device=static.device)
    if tuple(fb.shape) != landscape.shape:
        raise InputError(f"fuel_breaks: shape {tuple(fb.shape)} does not match the landscape's {landscape.shape}")
    return with_fuel_breaks(static, fb)
