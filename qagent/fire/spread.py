"""Batched fire spread: ``qagent.fire.simulate`` and ``qagent.fire.burn_probability``.

Simulations run in the compiled ``spread`` op (minimum travel time, Finney 2002; see
``csrc/qagent/spread.h``): Dijkstra with an early stop on the CPU, parallel relaxation on
CUDA, identical burned cells. What depends only on a landscape and its weather (each cell's
fire ellipse) is computed once and shared by all its ignitions; with one weather scenario per
simulation it is computed per simulation, in chunks that respect a memory budget.

Memory: the outputs (burned cells, burn counts) are O(E * S + E * H * W); arrival times
[E, S, H, W] are materialised only with ``return_arrival=True``. Scratch per simulation in
flight: 16 bytes per cell per CPU thread, 4 bytes per cell per CUDA block; per-simulation
weather adds 24 bytes per cell per simulation of the chunk.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from qagent._validation import InputError, as_tensor, resolve_device
from qagent.oom import ChunkedRunner
from qagent.fire.behavior import _lw_model_code
from qagent.fire.weather import WEATHER_FIELDS, Weather, WeatherSamples
from qagent.landscape.core import Landscape

DEFAULT_MEMORY_BUDGET_BYTES = 512 * 2**20
ALGORITHMS = {"auto": 0, "dijkstra": 1, "relax": 2, "dijkstra_uncached": 3}
DEFAULT_STENCIL = 32


@dataclass
class SpreadResult:
    """Outcome of ``simulate``; shapes for one landscape (E landscapes add a leading E).

    - ``burned_cells``: int32 [S], cells burned by each simulation
    - ``burn_count``: int32 [H, W], how many of the S simulations burned each cell
    - ``arrival_time_min``: float32 [S, H, W] (+inf where unburned), only with
      ``return_arrival=True``, else None
    """

    burned_cells: torch.Tensor
    burn_count: torch.Tensor
    arrival_time_min: torch.Tensor | None = None


def _as_landscapes(landscape) -> tuple[list[Landscape], bool]:
    if isinstance(landscape, Landscape):
        return [landscape], False
    if isinstance(landscape, (list, tuple)) and landscape and all(isinstance(x, Landscape) for x in landscape):
        shapes = {ls.shape for ls in landscape}
        if len(shapes) > 1:
            raise InputError(f"landscape: a batch must share one grid shape, got {sorted(shapes)}")
        sizes = {ls.cell_size_m for ls in landscape}
        if len(sizes) > 1:
            raise InputError(f"landscape: a batch must share one cell size, got {sorted(sizes)} m")
        return list(landscape), True
    raise InputError("landscape: expected a Landscape or a non-empty list of Landscapes of the same shape, "
                     f"got {type(landscape).__name__}")


def _ignitions(ignitions, num_landscapes: int, batched: bool, num_cells: int, device) -> torch.Tensor:
    ign = as_tensor("ignitions", ignitions, dtype=torch.int64)
    if ign.dim() == 0:
        ign = ign.reshape(1)
    if batched:
        if ign.dim() == 1 and num_landscapes == 1:
            ign = ign.unsqueeze(0)
        if ign.dim() != 2 or ign.shape[0] != num_landscapes:
            raise InputError(f"ignitions: expected [E, S] = [{num_landscapes}, S] for {num_landscapes} landscapes, "
                             f"got shape {tuple(ign.shape)}")
    else:
        if ign.dim() != 1:
            raise InputError(f"ignitions: expected [S] flat cell indices for one landscape, got shape {tuple(ign.shape)}")
        ign = ign.unsqueeze(0)
    bad = (ign < 0) | (ign >= num_cells)
    if bool(bad.any()):
        pos = tuple(int(i) for i in torch.nonzero(bad)[0].tolist())
        where = pos if batched else pos[1:]
        raise InputError(f"ignitions: index {int(ign[pos])} at {where} is outside the grid's {num_cells} cells "
                         "(flat index row * W + col)")
    return ign.to(device)


def _durations(duration_min, shape: tuple[int, int], batched: bool, device) -> torch.Tensor:
    d = as_tensor("duration_min", duration_min, dtype=torch.float32)
    if not bool(torch.isfinite(d).all()) or bool((d < 0).any()):
        bad = d[~torch.isfinite(d) | (d < 0)].reshape(-1)[0].item()
        raise InputError(f"duration_min: must be finite and >= 0 minutes, got {bad}")
    if d.dim() == 1 and not batched:
        d = d.unsqueeze(0)
    try:
        return d.to(device).expand(shape).contiguous()
    except RuntimeError:
        raise InputError(f"duration_min: shape {tuple(d.shape)} does not broadcast to the simulations' "
                         f"{shape if batched else shape[1:]}") from None


def _fuel_breaks(fuel_breaks, num_landscapes: int, batched: bool, shape, device) -> torch.Tensor | None:
    if fuel_breaks is None:
        return None
    fb = as_tensor("fuel_breaks", fuel_breaks, dtype=torch.bool)
    if fb.dim() == 2:
        if tuple(fb.shape) != tuple(shape):
            raise InputError(f"fuel_breaks: shape {tuple(fb.shape)} does not match the landscape's {tuple(shape)}")
        fb = fb.unsqueeze(0).expand(num_landscapes, *shape)
    elif fb.dim() == 3 and batched:
        if tuple(fb.shape) != (num_landscapes, *shape):
            raise InputError(f"fuel_breaks: expected [E, H, W] = {(num_landscapes, *shape)}, got {tuple(fb.shape)}")
    else:
        raise InputError(f"fuel_breaks: expected a bool [H, W] mask{' or [E, H, W]' if batched else ''}, "
                         f"got shape {tuple(fb.shape)}")
    return fb.to(device=device, dtype=torch.uint8).contiguous()


class LandscapeStack:
    """E landscapes of one grid as the compiled ops read them: terrain [E, 6, H*W] and fuel
    [E, H*W] on one device. Slots can be replaced (``set``), as environments do on reset."""

    def __init__(self, landscapes: Sequence[Landscape], device):
        self.device = torch.device(device)
        self.shape = landscapes[0].shape
        self.cell_size_m = landscapes[0].cell_size_m
        ls = [x if x.device == self.device else x.to(self.device) for x in landscapes]
        self.terrain = torch.stack([x.terrain_tensor() for x in ls]).contiguous()
        self.fuel = torch.stack([x.fuel_model.reshape(-1) for x in ls]).contiguous()

    def __len__(self) -> int:
        return self.terrain.shape[0]

    def set(self, index: int, landscape: Landscape) -> None:
        if landscape.shape != self.shape or landscape.cell_size_m != self.cell_size_m:
            raise InputError(f"landscape: slot {index} holds {self.shape} grids of {self.cell_size_m} m, got "
                             f"{landscape.shape} of {landscape.cell_size_m} m")
        ls = landscape if landscape.device == self.device else landscape.to(self.device)
        self.terrain[index] = ls.terrain_tensor()
        self.fuel[index] = ls.fuel_model.reshape(-1)

    def spread_params(self, weather: torch.Tensor, landscape_index: torch.Tensor, *, lw_ratio_model: str = "behave",
                      use_wind_limit: bool = True, crown_max_length_to_breadth: float = 1e10) -> torch.Tensor:
        """The spread kernel's per-cell parameters [B, 6, H, W] for B weather rows
        ([B, 8, 1] uniform or [B, 8, H*W] gridded, channel order of ``Weather.as_op_tensor``),
        row b on landscape ``landscape_index[b]``. Computed once, they serve any number of
        ignitions and fuel-break layouts (:func:`run_spread`)."""
        p = torch.ops.qagent.spread_params(self.terrain, self.fuel, weather.to(self.device),
                                           landscape_index.to(self.device), _lw_model_code(lw_ratio_model),
                                           bool(use_wind_limit), float(crown_max_length_to_breadth))
        return p.reshape(p.shape[0], 6, *self.shape)


def run_spread(params: torch.Tensor, param_index: torch.Tensor, ignition: torch.Tensor, duration_min: torch.Tensor,
               *, cell_size_m: float, fuel_breaks: torch.Tensor | None = None, layout_index: torch.Tensor | None = None,
               count_index: torch.Tensor | None = None, num_count_rows: int = 1, return_arrival: bool = False,
               stencil: int = DEFAULT_STENCIL, algorithm: str = "auto"):
    """n simulations on prepared parameters (``LandscapeStack.spread_params``): simulation i
    uses params[param_index[i]], starts at flat cell ignition[i], burns duration_min[i]
    minutes, with fuel breaks fuel_breaks[layout_index[i]] (bool/uint8 [L, H, W]; no breaks
    when layout_index[i] is -1 or fuel_breaks is None), and adds its burned cells to row
    count_index[i] of the burn counts. Returns (burned_cells [n] int32, burn_count
    [num_count_rows, H, W] int32, arrival_time_min [n, H, W] or None). Indices are checked by
    the op."""
    n = ignition.shape[0]
    dev = params.device
    h, w = params.shape[2], params.shape[3]
    if fuel_breaks is None:
        blocked = torch.zeros((0, h, w), dtype=torch.uint8, device=dev)
        layout_index = torch.full((n,), -1, dtype=torch.int64, device=dev)
    else:
        blocked = fuel_breaks.to(device=dev, dtype=torch.uint8).contiguous()
        if layout_index is None:
            raise InputError("layout_index: required with fuel_breaks")
    if count_index is None:
        count_index = torch.zeros(n, dtype=torch.int64, device=dev)
    burned, counts, arrival = torch.ops.qagent.spread(
        params, blocked, ignition.to(dev, torch.int64), param_index.to(dev, torch.int64),
        layout_index.to(dev, torch.int64), count_index.to(dev, torch.int64), duration_min.to(dev, torch.float32),
        int(num_count_rows), float(cell_size_m), int(stencil), bool(return_arrival), ALGORITHMS[algorithm])
    return burned, counts, (arrival if return_arrival else None)


def simulate(
    landscape: Landscape | Sequence[Landscape],
    ignitions,
    weather: Weather | Sequence[Weather] | WeatherSamples,
    duration_min,
    fuel_breaks=None,
    return_arrival: bool = False,
    *,
    lw_ratio_model: str = "behave",
    use_wind_limit: bool = True,
    crown_max_length_to_breadth: float = 1e10,
    device=None,
    memory_budget_bytes: int = DEFAULT_MEMORY_BUDGET_BYTES,
    algorithm: str = "auto",
    stencil: int = DEFAULT_STENCIL,
) -> SpreadResult:
    """Run fire-spread simulations from point ignitions.

    - ``landscape``: one :class:`Landscape`, or a list of E landscapes of the same shape.
    - ``ignitions``: [S] (one landscape) or [E, S] flat cell indices (row * W + col). An
      ignition on a non-burnable cell or a fuel break burns nothing.
    - ``weather``: one :class:`Weather` for everything (scalars or [H, W] grids), a list of E
      Weathers (one per landscape), or :class:`WeatherSamples` of shape [S] / [E, S] (one
      scenario per simulation).
    - ``duration_min``: minutes of spread, a number or per simulation [S] / [E, S].
    - ``fuel_breaks``: optional bool [H, W] or [E, H, W]; those cells do not burn.
    - ``return_arrival``: also return arrival times [.., S, H, W] (+inf where unburned).
    - ``memory_budget_bytes``: bound on the working memory of a call (outputs aside); large
      batches are run in chunks that fit.
    - ``algorithm``: "auto" (Dijkstra on CPU, relaxation on CUDA), "dijkstra", "relax" (the
      CUDA algorithm, also runnable on CPU) or "dijkstra_uncached" (CPU Dijkstra without its
      per-thread cell cache, as used for very large grids; for tests and benchmarks).
    - ``stencil``: 16 or 32 directions of travel between cells (see csrc/qagent/spread.h).
    """
    landscapes, batched = _as_landscapes(landscape)
    dev = resolve_device(device if device is not None else landscapes[0].device)
    _lw_model_code(lw_ratio_model)  # validates the name
    if stencil not in (16, 32):
        raise InputError(f"stencil: must be 16 or 32 directions, got {stencil!r}")
    if algorithm not in ALGORITHMS:
        raise InputError(f"algorithm: unknown {algorithm!r}; choose one of {sorted(ALGORITHMS)}")
    if not (isinstance(memory_budget_bytes, (int, np.integer)) and memory_budget_bytes > 0):
        raise InputError(f"memory_budget_bytes: must be a positive integer, got {memory_budget_bytes!r}")
    e_count = len(landscapes)
    h, w = landscapes[0].shape
    n_cells = h * w
    ign = _ignitions(ignitions, e_count, batched, n_cells, dev)  # [E, S]
    s_count = ign.shape[1]
    durations = _durations(duration_min, (e_count, s_count), batched, dev)
    blocked = _fuel_breaks(fuel_breaks, e_count, batched, (h, w), dev)
    stack = LandscapeStack(landscapes, dev)
    opts = dict(lw_ratio_model=lw_ratio_model, use_wind_limit=use_wind_limit,
                crown_max_length_to_breadth=crown_max_length_to_breadth)
    landscape_of_sim = torch.arange(e_count, device=dev).repeat_interleave(s_count)

    # Per-landscape parameters, or per-simulation weather computed chunk by chunk.
    per_sim_weather = None
    if isinstance(weather, WeatherSamples):
        expected = (e_count, s_count) if batched else (s_count,)
        if weather.shape != expected:
            raise InputError(f"weather: WeatherSamples of shape {weather.shape} do not match the simulations' "
                             f"{expected}")
        per_sim_weather = weather.as_op_tensor(dev)  # [E*S, 8, 1]
        params_all = None
    else:
        if isinstance(weather, Weather):
            weathers = [weather] * e_count
        elif isinstance(weather, (list, tuple)) and all(isinstance(x, Weather) for x in weather):
            if len(weather) != e_count:
                raise InputError(f"weather: {len(weather)} Weather objects for {e_count} landscapes")
            weathers = list(weather)
        else:
            raise InputError("weather: expected a Weather, a list of one Weather per landscape, or WeatherSamples; "
                             f"got {type(weather).__name__}")
        grids = [x.as_op_tensor((h, w), dev) for x in weathers]
        k = max(g.shape[1] for g in grids)
        wt = torch.stack([g.expand(8, k) for g in grids]).contiguous()
        params_all = stack.spread_params(wt, torch.arange(e_count, device=dev), **opts)

    total = e_count * s_count
    per_sim_bytes = 24 * n_cells * (per_sim_weather is not None) + 4 * n_cells * return_arrival + 64
    chunk = max(1, min(total, memory_budget_bytes // max(1, per_sim_bytes))) if total else 1
    flat_ign = ign.reshape(-1)
    flat_dur = durations.reshape(-1)
    layout = landscape_of_sim if blocked is not None else None
    burned = torch.empty(total, dtype=torch.int32, device=dev)
    counts = torch.zeros((e_count, h, w), dtype=torch.int32, device=dev)
    arrival = torch.empty((total, h, w), dtype=torch.float32, device=dev) if return_arrival else None

    def run_chunk(start: int, stop: int) -> None:
        sl = slice(start, stop)
        if per_sim_weather is not None:
            params = stack.spread_params(per_sim_weather[sl], landscape_of_sim[sl], **opts)
            param_index = torch.arange(stop - start, device=dev)
        else:
            params = params_all
            param_index = landscape_of_sim[sl]
        b, c, a = run_spread(params, param_index, flat_ign[sl], flat_dur[sl], cell_size_m=stack.cell_size_m,
                             fuel_breaks=blocked, layout_index=None if layout is None else layout[sl],
                             count_index=landscape_of_sim[sl], num_count_rows=e_count,
                             return_arrival=return_arrival, stencil=stencil, algorithm=algorithm)
        burned[sl] = b  # outputs are written only once the chunk succeeded, so a re-run after
        counts.add_(c)  # an out-of-memory error does not count its fires twice
        if arrival is not None:
            arrival[sl] = a

    # Out of (GPU) memory in a chunk: halve the chunk and re-run it (qagent.oom).
    ChunkedRunner(chunk, name="simulate").run(run_chunk, total)
    burned = burned.reshape(e_count, s_count)
    if arrival is not None:
        arrival = arrival.reshape(e_count, s_count, h, w)
    if not batched:
        return SpreadResult(burned[0], counts[0], arrival[0] if arrival is not None else None)
    return SpreadResult(burned, counts, arrival)


def sample_ignitions(landscape: Landscape, n_ignitions: int, seed: int) -> torch.Tensor:
    """[n] flat indices drawn uniformly (with replacement) over the landscape's burnable cells,
    deterministic for a seed. Fuel breaks are not excluded, so the same seed gives the same
    ignitions with and without breaks (an ignition on a break burns nothing)."""
    if not (isinstance(n_ignitions, (int, np.integer)) and n_ignitions >= 0):
        raise InputError(f"n_ignitions: must be a non-negative integer, got {n_ignitions!r}")
    cells = torch.nonzero(landscape.burnable_mask().reshape(-1)).reshape(-1).cpu().numpy()
    if len(cells) == 0:
        raise InputError("landscape: no burnable cells to ignite")
    rng = np.random.default_rng(seed)
    return torch.from_numpy(cells[rng.integers(0, len(cells), size=int(n_ignitions))].astype(np.int64))


def burn_probability(
    landscape: Landscape,
    n_ignitions: int,
    weather: Weather | WeatherSamples,
    duration_min,
    seed: int,
    fuel_breaks=None,
    *,
    distributed: bool = False,
    **kwargs,
) -> torch.Tensor:
    """[H, W] fraction of ``n_ignitions`` fires that reach each cell; ignitions are drawn
    uniformly over burnable cells with ``seed`` (see :func:`sample_ignitions`). ``weather``
    and ``duration_min`` may be per ignition ([n] WeatherSamples / array). With
    ``distributed=True`` inside a torch.distributed process group, each rank runs its share of
    the fires and the burn counts are summed over ranks: the result equals the
    single-process one for the same seed. Extra keyword arguments go to :func:`simulate`."""
    from qagent import distributed as dist_util

    ign = sample_ignitions(landscape, n_ignitions, seed)
    part = dist_util.shard(len(ign)) if distributed else slice(None)
    if isinstance(weather, WeatherSamples):
        weather = WeatherSamples(*(getattr(weather, f)[part] for f in WEATHER_FIELDS))
    d = torch.as_tensor(duration_min, dtype=torch.float32)
    d = d[part] if d.dim() == 1 else d
    result = simulate(landscape, ign[part], weather, d, fuel_breaks=fuel_breaks, **kwargs)
    counts = result.burn_count
    if distributed:
        dist_util.all_sum(counts)
    return counts.to(torch.float32) / max(1, int(n_ignitions))


__all__ = ["simulate", "burn_probability", "sample_ignitions", "SpreadResult", "LandscapeStack", "run_spread",
           "DEFAULT_MEMORY_BUDGET_BYTES", "DEFAULT_STENCIL"]
