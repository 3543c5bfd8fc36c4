"""Batched fire spread: ``qagent.fire.simulate`` and ``qagent.fire.burn_probability``.

Simulations run in the compiled ``spread`` op (minimum travel time, Finney 2002; see
``csrc/qagent/spread.h``): Dijkstra with an early stop on the CPU, parallel relaxation on
CUDA, identical burned cells. A fire costs the cells it touches, not the grid: each cell's
fire ellipse (its six spread parameters) is computed when the fire first reaches it, at most
once per simulation, from the simulation's weather row (lazy parameters, equal to the bit to
the whole-grid ``spread_params``); with one weather for many fires on a landscape the
parameters of a CPU thread's earlier fires are reused (on CUDA one grid is computed for all
blocks, ``params="auto"``).

Memory (bytes; README "Fire spread"): per landscape cell, the landscape's layers (32) and the
terrain the ops read (24 + 4 for the fuel view) are shared by every fire; outputs are
``burned_cells`` [E, S] and the burn counts, 4 per cell per landscape (skip them with
``return_burn_count=False``; on the CPU large ones are mapped from zero pages, so only the
pages fires burn become resident); arrival times [E, S, H, W] only with
``return_arrival=True``.
Scratch is per CPU thread (or CUDA block) and costs what fires touch: on the CPU, pages of
32 x 32 cells taken on first touch, 4 per touched cell for arrival times, 156 for lazy
parameters (with each cell's time for the whole step of every direction) and, for parameters
shared by consecutive fires, 140 for cached step times (the first 4,096 cells each fire
settles; at most 256 MiB per thread), plus 8 per queued arrival and 8 per burned cell; threads keep at most
64 MiB of pages between calls. Per simulation in flight: 128 (its indices and weather row).
With ``return_dpv`` (downstream protection value, docs/dpv.md): 5 per touched cell per CPU
thread, 1 per window cell per CUDA block, and the [E, H, W] output (summed in float64 during a
call).
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from qagent import _ops
from qagent._validation import SMALL_CPU_INPUT, InputError, as_tensor, resolve_device
from qagent.oom import ChunkedRunner
from qagent.fire.behavior import _lw_model_code
from qagent.fire.weather import WEATHER_FIELDS, Weather, WeatherSamples
from qagent.landscape.core import Landscape

DEFAULT_MEMORY_BUDGET_BYTES = 512 * 2**20
ALGORITHMS = _ops.ALGORITHMS  # name -> the spread op's code
DEFAULT_STENCIL = max(_ops.STENCIL_SIZES)

# Per-call constants of the op's inputs (index rows of S simulations, empty parameter grids
# and fuel-break stacks), built once per shape and device and reused by later calls: the
# compiled op only reads them and they are never returned. Bounded in count and size.
_CONSTANTS: dict = {}
_MAX_CONSTANTS = 64
_MAX_CACHED_SIMS = 1 << 16


def _constant(key: tuple, build):
    hit = _CONSTANTS.get(key)
    if hit is None:
        with torch.inference_mode(False):  # usable inside and outside inference mode
            hit = build()
        if len(_CONSTANTS) >= _MAX_CONSTANTS:
            _CONSTANTS.pop(next(iter(_CONSTANTS)))
        _CONSTANTS[key] = hit
    return hit


def _index_rows(n: int, dev: torch.device, kind: str) -> torch.Tensor:
    """int64 [n] on ``dev``: "arange" 0..n-1, "zeros", "minus" (-1 everywhere); cached for
    small n (do not modify the result)."""
    def build():
        if kind == "arange":
            return torch.arange(n, dtype=torch.int64, device=dev)
        return torch.full((n,), 0 if kind == "zeros" else -1, dtype=torch.int64, device=dev)

    if n > _MAX_CACHED_SIMS:
        return build()
    return _constant((kind, n, dev), build)


def _landscape_of_sims(e_count: int, s_count: int, dev: torch.device) -> torch.Tensor:
    """int64 [E*S]: the landscape of each simulation (E landscapes of S simulations each)."""
    if e_count == 1:
        return _index_rows(s_count, dev, "zeros")
    build = lambda: torch.arange(e_count, device=dev).repeat_interleave(s_count)  # noqa: E731
    if e_count * s_count > _MAX_CACHED_SIMS:
        return build()
    return _constant(("landscape_of", e_count, s_count, dev), build)


def _as(t: torch.Tensor, dev: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """``t`` on ``dev`` as ``dtype`` (``t`` itself when it already is)."""
    return t if t.dtype == dtype and t.device == dev else t.to(dev, dtype)


@dataclass
class SpreadResult:
    """Outcome of ``simulate``; shapes for one landscape (E landscapes add a leading E).

    - ``burned_cells``: int32 [S], cells burned by each simulation
    - ``burn_count``: int32 [H, W], how many of the S simulations burned each cell
    - ``arrival_time_min``: float32 [S, H, W] (+inf where unburned), only with
      ``return_arrival=True``, else None
    - ``burned_value``: float32 [S], the sum of ``values`` over each simulation's burned cells
      (``burned_cells`` when every cell is worth 1), with ``values`` or ``return_dpv``, else None
    - ``dpv``: float32 [H, W], the downstream protection value summed over the S simulations
      (docs/dpv.md), only with ``return_dpv=True``, else None
    """

    burned_cells: torch.Tensor
    burn_count: torch.Tensor
    arrival_time_min: torch.Tensor | None = None
    burned_value: torch.Tensor | None = None
    dpv: torch.Tensor | None = None


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
            raise InputError(
                f"ignitions: expected [S] flat cell indices for one landscape, got shape {tuple(ign.shape)}")
        ign = ign.unsqueeze(0)
    if ign.numel() and ign.is_cpu and ign.numel() <= SMALL_CPU_INPUT:
        vals = ign.reshape(-1).tolist()
        lo, hi = min(vals), max(vals)
    else:
        lo, hi = (int(x) for x in torch.aminmax(ign)) if ign.numel() else (0, 0)
    if ign.numel() and (lo < 0 or hi >= num_cells):
        bad = (ign < 0) | (ign >= num_cells)
        pos = tuple(int(i) for i in torch.nonzero(bad)[0].tolist())
        where = pos if batched else pos[1:]
        raise InputError(f"ignitions: index {int(ign[pos])} at {where} is outside the grid's {num_cells} cells "
                         "(flat index row * W + col)")
    return ign if ign.device == device else ign.to(device)


def _durations(duration_min, shape: tuple[int, int], batched: bool, device) -> torch.Tensor:
    if isinstance(duration_min, (int, float, np.integer, np.floating)) and not isinstance(duration_min, bool):
        if not (math.isfinite(duration_min) and duration_min >= 0):
            raise InputError(f"duration_min: must be finite and >= 0 minutes, got {float(duration_min)}")
        return torch.full(shape, float(duration_min), dtype=torch.float32, device=device)
    d = as_tensor("duration_min", duration_min, dtype=torch.float32)
    if d.is_cpu and d.numel() <= SMALL_CPU_INPUT:
        ok = all(math.isfinite(x) and x >= 0 for x in d.reshape(-1).tolist())
    else:
        ok = bool(torch.isfinite(d).all()) and not bool((d < 0).any())
    if not ok:
        bad = d[~torch.isfinite(d) | (d < 0)].reshape(-1)[0].item()
        raise InputError(f"duration_min: must be finite and >= 0 minutes, got {bad}")
    if d.dim() == 1 and not batched:
        d = d.unsqueeze(0)
    if tuple(d.shape) == shape and d.device == device and d.is_contiguous():
        return d
    try:
        return (d if d.device == device else d.to(device)).expand(shape).contiguous()
    except RuntimeError:
        raise InputError(f"duration_min: shape {tuple(d.shape)} does not broadcast to the simulations' "
                         f"{shape if batched else shape[1:]}") from None


def _values(values, num_landscapes: int, batched: bool, shape, device) -> torch.Tensor | None:
    """float32 [V, H, W] values at risk: V = 1 for one [H, W] grid (shared by every landscape),
    else E; finite and >= 0."""
    if values is None:
        return None
    v = as_tensor("values", values, dtype=torch.float32)
    if v.dim() == 2:
        if tuple(v.shape) != tuple(shape):
            raise InputError(f"values: shape {tuple(v.shape)} does not match the landscape's {tuple(shape)}")
        v = v.unsqueeze(0)
    elif v.dim() == 3 and batched:
        if tuple(v.shape) != (num_landscapes, *shape):
            raise InputError(f"values: expected [E, H, W] = {(num_landscapes, *shape)}, got {tuple(v.shape)}")
    else:
        raise InputError(f"values: expected a float [H, W] grid{' or [E, H, W]' if batched else ''} of values at "
                         f"risk, got shape {tuple(v.shape)}")
    bad = ~torch.isfinite(v) | (v < 0)
    if bool(bad.any()):
        pos = tuple(int(i) for i in torch.nonzero(bad)[0].tolist())
        where = f"landscape {pos[0]}, (row, col) {pos[1:]}" if batched else f"(row, col) {pos[1:]}"
        raise InputError(f"values: value {v[pos].item():.6g} at {where} must be finite and >= 0 "
                         f"({int(bad.sum())} such values)")
    return v.to(device).contiguous()


def _fuel_breaks(fuel_breaks, num_landscapes: int, batched: bool, shape, device) -> torch.Tensor | None:
    """uint8 [L, H, W] layouts: L = 1 for one [H, W] mask (shared by every landscape), else E.
    A contiguous bool mask is reinterpreted as uint8 without a copy."""
    if fuel_breaks is None:
        return None
    fb = as_tensor("fuel_breaks", fuel_breaks, dtype=torch.bool)
    if fb.dim() == 2:
        if tuple(fb.shape) != tuple(shape):
            raise InputError(f"fuel_breaks: shape {tuple(fb.shape)} does not match the landscape's {tuple(shape)}")
        fb = fb.unsqueeze(0)
    elif fb.dim() == 3 and batched:
        if tuple(fb.shape) != (num_landscapes, *shape):
            raise InputError(f"fuel_breaks: expected [E, H, W] = {(num_landscapes, *shape)}, got {tuple(fb.shape)}")
    else:
        raise InputError(f"fuel_breaks: expected a bool [H, W] mask{' or [E, H, W]' if batched else ''}, "
                         f"got shape {tuple(fb.shape)}")
    return fb.to(device).contiguous().view(torch.uint8)


class LandscapeStack:
    """E landscapes of one grid as the compiled ops read them: terrain [E, 6, H*W] and fuel
    [E, H*W] on one device. Slots can be replaced (``set``), as environments do on reset.

    ``LandscapeStack.of(landscapes, device)`` returns a cached stack (per landscape object,
    rebuilt only when a layer changes), so calls that pass the same landscapes do not restack
    them; a stack built by the constructor is the caller's own."""

    def __init__(self, landscapes: Sequence[Landscape], device, *, _share: bool = False):
        self.device = torch.device(device)
        self.shape = landscapes[0].shape
        self.cell_size_m = landscapes[0].cell_size_m
        ls = [x if x.device == self.device else x.to(self.device) for x in landscapes]
        if _share and len(ls) == 1:  # views of the landscape's own cached tensors, no copy
            self.terrain = ls[0].terrain_tensor().unsqueeze(0)
            self.fuel = ls[0].fuel_model.reshape(1, -1)
        else:
            self.terrain = torch.stack([x.terrain_tensor() for x in ls]).contiguous()
            self.fuel = torch.stack([x.fuel_model.reshape(-1) for x in ls]).contiguous()
        self._shared = _share

    @classmethod
    def of(cls, landscapes: Sequence[Landscape], device) -> "LandscapeStack":
        """The stack of these landscapes on ``device``, cached (read-only: do not ``set`` it)."""
        dev = torch.device(device)
        first = landscapes[0]
        if len(landscapes) == 1:
            return first._cached(("stack", str(dev)), lambda: cls(landscapes, dev, _share=True))
        # Several landscapes: one cached stack, held by the first landscape (so it goes with
        # it), valid while every landscape is alive and unchanged.
        hit = first._cache.get("stack_of_many")
        if (hit is not None and hit[0] == str(dev) and len(hit[1]) == len(landscapes)
                and all(r() is x and x._in_state(k) for r, k, x in zip(hit[1], hit[2], landscapes))):
            return hit[3]
        stack = cls(landscapes, dev, _share=True)
        first._cache["stack_of_many"] = (str(dev), tuple(weakref.ref(x) for x in landscapes),
                                         tuple(x._version_key() for x in landscapes), stack)
        return stack

    def __len__(self) -> int:
        return self.terrain.shape[0]

    def set(self, index: int, landscape: Landscape) -> None:
        if self._shared:
            raise InputError("landscape: a cached LandscapeStack (LandscapeStack.of) is read-only; build one "
                             "with LandscapeStack(...) to replace slots")
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
        row b on landscape ``landscape_index[b]``. Computed once for the whole grid, they serve
        any number of ignitions and fuel-break layouts (:func:`run_spread`); see
        :meth:`lazy_params` for parameters computed only where fires go."""
        p = _ops.spread_params(self.terrain, self.fuel, weather.to(self.device), landscape_index.to(self.device),
                               _lw_model_code(lw_ratio_model), use_wind_limit, crown_max_length_to_breadth)
        return p.reshape(p.shape[0], _ops.NUM_SPREAD_PARAMS, *self.shape)

    def lazy_params(self, weather: torch.Tensor, landscape_index: torch.Tensor, *, lw_ratio_model: str = "behave",
                    use_wind_limit: bool = True, crown_max_length_to_breadth: float = 1e10) -> "LazyParams":
        """The same parameters as :meth:`spread_params`, as sources the spread op evaluates
        lazily: a cell's parameters are computed when a fire first reads them, at most once
        per simulation, and equal :meth:`spread_params`' to the bit. Costs the weather rows
        (32 B each for uniform rows), not the grid. Pass as ``run_spread(..., lazy=...)``."""
        return LazyParams(self.shape, self.terrain, self.fuel, _as(weather, self.device, torch.float32).contiguous(),
                          _as(landscape_index, self.device, torch.int64).contiguous(), _lw_model_code(lw_ratio_model),
                          bool(use_wind_limit), float(crown_max_length_to_breadth))


@dataclass
class LazyParams:
    """Lazy parameter sources of the spread op (:meth:`LandscapeStack.lazy_params`): weather
    rows [B, 8, K] on landscapes ``landscape_index`` [B] of ``terrain`` / ``fuel``."""

    shape: tuple[int, int]
    terrain: torch.Tensor
    fuel: torch.Tensor
    weather: torch.Tensor
    landscape_index: torch.Tensor
    lw_code: int
    use_wind_limit: bool
    crown_max_length_to_breadth: float

    def __len__(self) -> int:
        return self.weather.shape[0]


def run_spread(params: torch.Tensor | None, param_index: torch.Tensor, ignition: torch.Tensor,
               duration_min: torch.Tensor, *, cell_size_m: float, fuel_breaks: torch.Tensor | None = None,
               layout_index: torch.Tensor | None = None, count_index: torch.Tensor | None = None,
               num_count_rows: int = 1, return_arrival: bool = False, stencil: int = DEFAULT_STENCIL,
               algorithm: str = "auto", lazy: LazyParams | None = None, relax_window: int = 0,
               values: torch.Tensor | None = None, value_index: torch.Tensor | None = None, return_dpv: bool = False):
    """n simulations on prepared parameters: simulation i reads the precomputed grid
    params[param_index[i]] (``LandscapeStack.spread_params``, [P, 6, H, W]) when
    param_index[i] < P, else the lazy source row param_index[i] - P of ``lazy``
    (``LandscapeStack.lazy_params``; ``params`` may then be None); it starts at flat cell
    ignition[i], burns duration_min[i] minutes, with fuel breaks fuel_breaks[layout_index[i]]
    (bool/uint8 [L, H, W]; no breaks when layout_index[i] is -1 or fuel_breaks is None), and
    adds its burned cells to row count_index[i] of the burn counts (-1: to none; with
    ``num_count_rows=0`` no burn counts are made). ``relax_window``: first window side of the
    relaxation's scratch (0: the default). Returns (burned_cells [n] int32, burn_count
    [num_count_rows, H, W] int32, arrival_time_min [n, H, W] or None). Indices are checked by
    the op.

    Values at risk: ``values`` float32 [V, H, W] (finite, >= 0) and ``value_index`` [n] in
    [-1, V) (-1 or None: every cell is worth 1); ``return_dpv`` adds each simulation's
    downstream protection value (docs/dpv.md) to row count_index[i] of a float32
    [num_count_rows, H, W] grid. With either, the result has two more entries: burned_value
    [n] float32 (sum of values over each simulation's burned cells) and dpv (or None)."""
    n = ignition.shape[0]
    if params is None:
        if lazy is None:
            raise InputError("params: give precomputed params, lazy sources, or both")
        dev = lazy.terrain.device
        lh, lw = lazy.shape
        params = _constant(("no_params", lh, lw, dev), lambda: torch.empty(
            (0, _ops.NUM_SPREAD_PARAMS, lh, lw), dtype=torch.float32, device=dev))
    dev = params.device
    h, w = params.shape[2], params.shape[3]
    if fuel_breaks is None:
        blocked = _constant(("no_breaks", h, w, dev), lambda: torch.zeros((0, h, w), dtype=torch.uint8, device=dev))
        layout_index = _index_rows(n, dev, "minus")
    else:
        blocked = _as(fuel_breaks, dev, torch.uint8).contiguous()
        if layout_index is None:
            raise InputError("layout_index: required with fuel_breaks")
    if count_index is None:
        count_index = _index_rows(n, dev, "zeros" if num_count_rows > 0 else "minus")
    lazy_args = {} if lazy is None else dict(
        terrain=lazy.terrain, fuel_model=lazy.fuel, weather=lazy.weather, weather_landscape=lazy.landscape_index,
        length_to_breadth_model=lazy.lw_code, use_wind_limit=lazy.use_wind_limit,
        crown_max_length_to_breadth=lazy.crown_max_length_to_breadth)
    with_values = values is not None or bool(return_dpv)
    long = torch.int64
    burned, counts, arrival, burned_value, dpv = _ops.spread(
        params, blocked, _as(ignition, dev, long), _as(param_index, dev, long), _as(layout_index, dev, long),
        _as(count_index, dev, long), _as(duration_min, dev, torch.float32), num_count_rows, cell_size_m, stencil,
        return_arrival, ALGORITHMS[algorithm], **lazy_args, relax_window=relax_window,
        values=None if values is None else _as(values, dev, torch.float32).contiguous(),
        value_index=None if value_index is None or not with_values else _as(value_index, dev, long),
        return_dpv=return_dpv)
    if with_values:
        return burned, counts, (arrival if return_arrival else None), burned_value, (dpv if return_dpv else None)
    return burned, counts, (arrival if return_arrival else None)


PARAM_MODES = ("auto", "eager", "lazy")

# Bytes per simulation in flight beyond its outputs: the per-simulation tensors (ignition,
# indices, duration: 36 B) and, with per-simulation weather, its row (32 B). Spread scratch is
# per CPU thread or CUDA block and costs the cells a fire touches (csrc/cpu/spread_cpu.cpp),
# not the grid.
_PER_SIM_BYTES = 128


def _lazy_for_shared_weather(device: torch.device, fires_per_landscape: int, cells: int) -> bool:
    """With one weather per landscape (params="auto"): on the CPU, lazy parameters, which a
    thread's fires share through its parameter pages and which were as fast or faster than one
    eager pass over the grid in every case measured, small fires or fires covering the grid
    (BENCHMARKS.md: 300 fires of about 20 cells 10.1 against 11.0 us per fire on 64 x 64 cells,
    10.4 against 38.1 on 256 x 256). On CUDA every block evaluates its own window, so one
    eager grid shared by all blocks is kept unless the fires' windows cannot cover the grid."""
    if device.type == "cpu":
        return True
    return fires_per_landscape * 64 * 64 < cells


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
    return_burn_count: bool = True,
    params: str = "auto",
    relax_window: int = 0,
    values=None,
    return_dpv: bool = False,
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
    - ``return_burn_count``: False skips the burn counts (``burn_count`` is then None), the
      one output that costs the grid.
    - ``memory_budget_bytes``: bound on the working memory of a call (outputs aside); large
      batches are run in chunks that fit.
    - ``algorithm``: "auto" (Dijkstra on CPU, relaxation on CUDA), "dijkstra", "relax" (the
      CUDA algorithm, also runnable on CPU) or "dijkstra_uncached" (CPU Dijkstra without its
      per-thread step-time cache; for tests and benchmarks).
    - ``stencil``: 16 or 32 directions of travel between cells (see csrc/qagent/spread.h).
    - ``params``: how each cell's spread parameters are obtained, with the same results to the
      bit: "lazy" (computed when a fire first reaches the cell, at most once per simulation,
      and shared by a CPU thread's fires of one weather: a fire costs the cells it touches),
      "eager" (computed for every cell first, per weather: whole grids) or "auto" (lazy,
      except on CUDA for one weather per landscape, where one eager grid serves all blocks
      unless the grid is far larger than the fires).
    - ``relax_window``: first window side of the relaxation's scratch (0: the default, 64);
      a fire that outgrows it is re-run in a larger one (for tests).
    - ``values``: optional values at risk, float [H, W] (or [E, H, W] for E landscapes), finite
      and >= 0; ``burned_value`` is then each simulation's burned value (without values, and
      with ``return_dpv``, every cell is worth 1).
    - ``return_dpv``: also return ``dpv``, the downstream protection value of every cell
      summed over the simulations of each landscape (Pais et al. 2021; docs/dpv.md): each
      fire's propagation tree gives a burned cell the value of its subtree, itself included.
      Costs 5 B per touched cell of scratch per CPU thread and O(burned cells) per fire.
    """
    landscapes, batched = _as_landscapes(landscape)
    dev = resolve_device(device if device is not None else landscapes[0].device)
    _lw_model_code(lw_ratio_model)  # validates the name
    if stencil not in _ops.STENCIL_SIZES:
        raise InputError(f"stencil: must be {' or '.join(map(str, _ops.STENCIL_SIZES))} directions, got {stencil!r}")
    if algorithm not in ALGORITHMS:
        raise InputError(f"algorithm: unknown {algorithm!r}; choose one of {sorted(ALGORITHMS)}")
    if params not in PARAM_MODES:
        raise InputError(f"params: unknown {params!r}; choose one of {list(PARAM_MODES)}")
    if not (isinstance(memory_budget_bytes, (int, np.integer)) and memory_budget_bytes > 0):
        raise InputError(f"memory_budget_bytes: must be a positive integer, got {memory_budget_bytes!r}")
    if not (isinstance(relax_window, (int, np.integer)) and 0 <= relax_window < 2**30):
        raise InputError(f"relax_window: must be 0 (default) or a positive number of cells, got {relax_window!r}")
    e_count = len(landscapes)
    h, w = landscapes[0].shape
    n_cells = h * w
    ign = _ignitions(ignitions, e_count, batched, n_cells, dev)  # [E, S]
    s_count = ign.shape[1]
    durations = _durations(duration_min, (e_count, s_count), batched, dev)
    blocked = _fuel_breaks(fuel_breaks, e_count, batched, (h, w), dev)
    value_grids = _values(values, e_count, batched, (h, w), dev)
    return_dpv = bool(return_dpv)
    with_values = value_grids is not None or return_dpv
    stack = LandscapeStack.of(landscapes, dev)
    opts = dict(lw_ratio_model=lw_ratio_model, use_wind_limit=use_wind_limit,
                crown_max_length_to_breadth=crown_max_length_to_breadth)
    landscape_of_sim = _landscape_of_sims(e_count, s_count, dev)
    total = e_count * s_count

    # Where each simulation's parameters come from: a lazy weather row (per simulation or per
    # landscape), a grid per landscape computed once, or grids per simulation computed chunk
    # by chunk (eager per-simulation weather).
    lazy = None
    params_all = None
    per_sim_weather = None
    if isinstance(weather, WeatherSamples):
        expected = (e_count, s_count) if batched else (s_count,)
        if weather.shape != expected:
            raise InputError(f"weather: WeatherSamples of shape {weather.shape} do not match the simulations' "
                             f"{expected}")
        rows = weather.as_op_tensor(dev)  # [E*S, 8, 1]
        if params == "eager":
            per_sim_weather = rows
        else:
            lazy = stack.lazy_params(rows, landscape_of_sim, **opts)
            source_of_sim = _index_rows(total, dev, "arange")
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
        wt = torch.stack([g.expand(_ops.NUM_WEATHER_CHANNELS, k) for g in grids]).contiguous()
        landscape_rows = _index_rows(e_count, dev, "arange")
        if params == "lazy" or (params == "auto" and _lazy_for_shared_weather(dev, s_count, n_cells)):
            lazy = stack.lazy_params(wt, landscape_rows, **opts)
            source_of_sim = landscape_of_sim
        else:
            params_all = stack.spread_params(wt, landscape_rows, **opts)

    per_sim_bytes = (4 * _ops.NUM_SPREAD_PARAMS * n_cells * (per_sim_weather is not None)
                     + 4 * n_cells * return_arrival + _PER_SIM_BYTES)
    chunk = max(1, min(total, memory_budget_bytes // max(1, per_sim_bytes))) if total else 1
    flat_ign = ign.reshape(-1)
    flat_dur = durations.reshape(-1)
    layout = None  # the layout of each simulation: its landscape's, or the one shared mask
    if blocked is not None:
        layout = landscape_of_sim if blocked.shape[0] > 1 else _index_rows(total, dev, "zeros")
    num_rows = e_count if (return_burn_count or return_dpv) else 0
    count_of_sim = landscape_of_sim if num_rows else _index_rows(total, dev, "minus")
    value_of_sim = None
    if value_grids is not None:
        value_of_sim = landscape_of_sim if value_grids.shape[0] > 1 else _index_rows(total, dev, "zeros")
    out: dict = {"burned": [], "counts": None, "value": [], "dpv": None}

    def run_chunk(start: int, stop: int) -> None:
        sl = slice(start, stop)
        whole = start == 0 and stop == total

        def part(t):  # the chunk's simulations (no view when the chunk is the whole call)
            return t if whole else t[sl]

        if lazy is not None:
            chunk_params, param_index = None, part(source_of_sim)
        elif per_sim_weather is not None:
            chunk_params = stack.spread_params(part(per_sim_weather), part(landscape_of_sim), **opts)
            param_index = _index_rows(stop - start, dev, "arange")
        else:
            chunk_params, param_index = params_all, part(landscape_of_sim)
        got = run_spread(chunk_params, param_index, part(flat_ign), part(flat_dur), cell_size_m=stack.cell_size_m,
                         fuel_breaks=blocked, layout_index=None if layout is None else part(layout),
                         count_index=part(count_of_sim), num_count_rows=num_rows, return_arrival=return_arrival,
                         stencil=stencil, algorithm=algorithm, lazy=lazy, relax_window=relax_window,
                         **(dict(values=value_grids, value_index=None if value_of_sim is None else part(value_of_sim),
                                 return_dpv=return_dpv) if with_values else {}))
        b, c, a = got[:3]
        # outputs are kept only once the chunk succeeded, so a re-run after an out-of-memory
        # error does not count its fires twice
        out["burned"].append(b)
        if with_values:
            out["value"].append(got[3])
            if return_dpv:
                out["dpv"] = got[4] if out["dpv"] is None else out["dpv"].add_(got[4])
        if return_burn_count:
            out["counts"] = c if out["counts"] is None else out["counts"].add_(c)
        if return_arrival:
            if whole:
                out["arrival"] = a
            else:
                if "arrival" not in out:
                    out["arrival"] = torch.empty((total, h, w), dtype=torch.float32, device=dev)
                out["arrival"][sl] = a

    # Out of (GPU) memory in a chunk: halve the chunk and re-run it (qagent.oom).
    if total:
        ChunkedRunner(chunk, name="simulate").run(run_chunk, total)
    burned = (out["burned"][0] if len(out["burned"]) == 1 else
              torch.cat(out["burned"]) if out["burned"] else torch.zeros(0, dtype=torch.int32, device=dev))
    burned = burned.reshape(e_count, s_count)
    counts = out["counts"]
    if return_burn_count and counts is None:
        counts = torch.zeros((e_count, h, w), dtype=torch.int32, device=dev)
    burned_value = dpv = None
    if with_values:
        burned_value = (torch.cat(out["value"]) if out["value"] else
                        torch.zeros(0, dtype=torch.float32, device=dev)).reshape(e_count, s_count)
    if return_dpv:
        dpv = out["dpv"] if out["dpv"] is not None else torch.zeros((e_count, h, w), dtype=torch.float32, device=dev)
    arrival = None
    if return_arrival:
        arrival = out.get("arrival")
        if arrival is None:
            arrival = torch.empty((0, h, w), dtype=torch.float32, device=dev)
        arrival = arrival.reshape(e_count, s_count, h, w)
    if not batched:
        return SpreadResult(burned[0], counts[0] if counts is not None else None,
                            arrival[0] if arrival is not None else None,
                            burned_value[0] if burned_value is not None else None, dpv[0] if dpv is not None else None)
    return SpreadResult(burned, counts, arrival, burned_value, dpv)


def sample_ignitions(landscape: Landscape, n_ignitions: int, seed: int, *, ignition_density=None) -> torch.Tensor:
    """[n] flat indices drawn (with replacement) over the landscape's burnable cells with
    ``numpy.random.default_rng(seed)``: uniform, or proportional to ``ignition_density``
    ([H, W], non-negative); see :func:`qagent.fire.scenario.draw_ignitions`, the ignitions of
    ``FireScenario.draw``. Fuel breaks are not excluded, so the same seed gives the same
    ignitions with and without breaks (an ignition on a break burns nothing)."""
    from qagent.fire.scenario import draw_ignitions

    return draw_ignitions(landscape, n_ignitions, np.random.default_rng(seed), ignition_density=ignition_density)


def burn_probability(
    landscape: Landscape,
    n_ignitions: int,
    weather: Weather | WeatherSamples,
    duration_min,
    seed: int,
    fuel_breaks=None,
    *,
    distributed: bool = False,
    ignition_density=None,
    **kwargs,
) -> torch.Tensor:
    """[H, W] fraction of ``n_ignitions`` fires that reach each cell; ignitions are drawn
    with ``seed`` uniformly over burnable cells, or proportionally to ``ignition_density``
    ([H, W], non-negative, zero where no fire may start; see :func:`sample_ignitions`). ``weather``
    and ``duration_min`` may be per ignition ([n] WeatherSamples / array). With
    ``distributed=True`` inside a torch.distributed process group, each rank runs its share of
    the fires and the burn counts are summed over ranks: the result equals the
    single-process one for the same seed. Extra keyword arguments go to :func:`simulate`."""
    from qagent import distributed as dist_util

    ign = sample_ignitions(landscape, n_ignitions, seed, ignition_density=ignition_density)
    part = dist_util.shard(len(ign)) if distributed else slice(None)
    if distributed:
        if isinstance(weather, WeatherSamples):
            weather = WeatherSamples(*(getattr(weather, f)[part] for f in WEATHER_FIELDS))
        d = torch.as_tensor(duration_min, dtype=torch.float32)
        duration_min = d[part] if d.dim() == 1 else d
        ign = ign[part]
    result = simulate(landscape, ign, weather, duration_min, fuel_breaks=fuel_breaks, **kwargs)
    counts = result.burn_count
    if distributed:
        dist_util.all_sum(counts)
    return counts.to(torch.float32).div_(max(1, int(n_ignitions)))


def _fires_of(landscape: Landscape, weather_or_scenario, n_ignitions: int, seed: int, duration_min,
              ignition_density=None, *, name: str = "weather"):
    """The ignitions, weather and durations of ``n_ignitions`` fires, drawn as every caller
    draws them (``FireScenario.draw``): ignitions with ``numpy.random.default_rng(seed)``
    (uniform over burnable cells, or by ``ignition_density``); for a ``FireScenario``
    (``duration_min`` must then be None) its weather and durations with
    ``numpy.random.default_rng([seed, 1])``; else a ``Weather`` / ``WeatherSamples`` (one per
    ignition) with ``duration_min`` (minutes, a number or one per ignition). Errors name the
    caller's argument ``name``. Also the fires of ``qagent.evaluation.baselines``."""
    from qagent.fire.scenario import FireScenario

    if isinstance(weather_or_scenario, FireScenario):
        if duration_min is not None:
            raise InputError("duration_min: a FireScenario draws each fire's duration; pass duration_min only "
                             "with a Weather or WeatherSamples")
        fires = weather_or_scenario.draw(landscape, int(n_ignitions), np.random.default_rng(seed),
                                         ignition_density=ignition_density,
                                         weather_rng=np.random.default_rng([seed, 1]))
        return fires.ignitions, fires.weather, torch.from_numpy(fires.duration_min)
    ign = sample_ignitions(landscape, n_ignitions, seed, ignition_density=ignition_density)
    if isinstance(weather_or_scenario, (Weather, WeatherSamples)):
        if duration_min is None:
            raise InputError(f"duration_min: needed with a {type(weather_or_scenario).__name__} (minutes of spread, "
                             "a number or one per ignition)")
        if isinstance(weather_or_scenario, WeatherSamples) and weather_or_scenario.shape != (n_ignitions,):
            raise InputError(f"{name}: WeatherSamples of shape {weather_or_scenario.shape}, expected one per "
                             f"ignition ({n_ignitions},)")
        return ign, weather_or_scenario, duration_min
    raise InputError(f"{name}: expected a Weather, WeatherSamples or a qagent.fire.scenario.FireScenario (e.g. "
                     f"DEFAULT_SCENARIO), got {type(weather_or_scenario).__name__}")


def downstream_protection_value(
    landscape: Landscape,
    n_ignitions: int,
    weather_or_scenario,
    duration_min,
    seed: int,
    fuel_breaks=None,
    values=None,
    *,
    ignition_density=None,
    distributed: bool = False,
    **kwargs,
) -> torch.Tensor:
    """[H, W] float32 downstream protection value per fire (Pais et al. 2021; docs/dpv.md):
    the value at risk (``values`` [H, W], finite and >= 0; None: every cell is worth 1) that
    the fires passed on through each cell, itself included, summed over ``n_ignitions`` fires
    and divided by their number (the ranking of the sum). Ignitions are drawn as in
    :func:`burn_probability` (:func:`sample_ignitions` with ``seed`` and ``ignition_density``);
    ``weather_or_scenario``
    is a ``Weather``, ``WeatherSamples`` of one per ignition (with ``duration_min``) or a
    ``FireScenario`` (``duration_min=None``; weather and durations drawn with
    ``numpy.random.default_rng([seed, 1])``, the fires of ``qagent.evaluation.baselines``). Fuel breaks
    burn nothing and have DPV 0. ``distributed=True`` splits the fires over the ranks of a
    torch.distributed group and sums. Extra keyword arguments go to :func:`simulate`."""
    from qagent import distributed as dist_util

    ign, weather, duration_min = _fires_of(landscape, weather_or_scenario, n_ignitions, seed, duration_min,
                                           ignition_density)
    if distributed:
        part = dist_util.shard(len(ign))
        if isinstance(weather, WeatherSamples):
            weather = WeatherSamples(*(getattr(weather, f)[part] for f in WEATHER_FIELDS))
        d = torch.as_tensor(duration_min, dtype=torch.float32)
        duration_min = d[part] if d.dim() == 1 else d
        ign = ign[part]
    kwargs.setdefault("return_burn_count", False)
    result = simulate(landscape, ign, weather, duration_min, fuel_breaks=fuel_breaks, values=values, return_dpv=True,
                      **kwargs)
    dpv = result.dpv
    if distributed:
        dist_util.all_sum(dpv)
    return dpv.div_(max(1, int(n_ignitions)))


__all__ = ["simulate", "burn_probability", "downstream_protection_value", "sample_ignitions", "SpreadResult",
           "LandscapeStack", "LazyParams", "run_spread",
           "DEFAULT_MEMORY_BUDGET_BYTES", "DEFAULT_STENCIL"]
