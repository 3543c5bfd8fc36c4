"""The landscape: LANDFIRE-style layers on one grid, in SI units (the ``Landscape`` dataclass,
its validation and the caches the compiled ops key on its layers). It imports only the base
utilities (``qagent._validation``, ``qagent.fuels``): tiling and GeoTIFF writing are free
functions of ``qagent.landscape.tiles`` and ``qagent.landscape.landfire``, which import this
module (never the reverse)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
import weakref
from typing import Any

import numpy as np
import torch

from qagent import fuels
from qagent._validation import InputError, as_tensor, check_finite, check_grid_shape, check_range

# Float layers of a Landscape, with their physical ranges and units (for validation and docs).
FLOAT_LAYERS: dict[str, tuple[float | None, float | None, str]] = {
    "slope": (0.0, 10.0, "rise/run (1.0 = 100 % = 45 degrees)"),
    "aspect": (0.0, 360.0, "degrees clockwise from north (downslope direction)"),
    "elevation": (-500.0, 9000.0, "m"),
    "canopy_cover": (0.0, 1.0, "fraction"),
    "canopy_height": (0.0, 150.0, "m"),
    "canopy_base_height": (0.0, 100.0, "m"),
    "canopy_bulk_density": (0.0, 2.0, "kg/m3"),
}

# The layers the compiled ops read (terrain_tensor, fuel): caches derived from them are keyed
# on their identity and version.
_CACHE_LAYERS = ("slope", "aspect", "canopy_cover", "canopy_height", "canopy_base_height", "canopy_bulk_density",
                 "fuel_model")

_HINTS = {
    "slope": "slope is rise/run, not percent or degrees",
    "canopy_cover": "canopy cover is a fraction, not percent",
    "canopy_bulk_density": "LANDFIRE stores CBD x 100; divide by 100",
    "canopy_height": "LANDFIRE stores CH in m x 10; divide by 10",
    "canopy_base_height": "LANDFIRE stores CBH in m x 10; divide by 10",
}


@dataclass(eq=False)
class Landscape:
    """Fuel, terrain and canopy layers on one grid, in SI units.

    Grids are [H, W] in GeoTIFF order: row 0 is the north edge, rows grow southward and
    columns eastward. Fields:

    - ``slope``: rise/run; ``aspect``: degrees clockwise from north (the downslope direction);
      ``elevation``: m
    - ``fuel_model``: integer fuel model codes, those of ``qagent.fuels.known_codes()``
      (Anderson 13, Scott & Burgan 40 and the non-burnable codes)
    - ``canopy_cover``: fraction; ``canopy_height``, ``canopy_base_height``: m;
      ``canopy_bulk_density``: kg/m3
    - ``cell_size_m``: the side of a (square) cell in m
    - ``nodata_mask``: optional bool [H, W], cells that held no data in the source (they are
      treated as non-burnable); ``transform``, ``crs``: optional georeferencing (rasterio types)

    Every field is validated on construction; a bad value raises ``InputError`` naming the
    field, the value and its (row, col).
    """

    slope: Any
    aspect: Any
    elevation: Any
    fuel_model: Any
    canopy_cover: Any
    canopy_height: Any
    canopy_base_height: Any
    canopy_bulk_density: Any
    cell_size_m: float = 30.0
    nodata_mask: Any = None
    transform: Any = field(default=None, repr=False)
    crs: Any = field(default=None, repr=False)
    device: Any = field(default=None, repr=False)

    def __post_init__(self):
        self._cache = {}
        dev = torch.device(self.device) if self.device is not None else None
        if dev is None:
            dev = next((getattr(self, n).device for n in (*FLOAT_LAYERS, "fuel_model")
                        if isinstance(getattr(self, n), torch.Tensor)), torch.device("cpu"))
        shape = None
        for name, (lo, hi, unit) in FLOAT_LAYERS.items():
            t = as_tensor(name, getattr(self, name), dtype=torch.float32, device=dev)
            check_grid_shape(name, t, shape)
            shape = tuple(t.shape)
            check_range(name, t, lo, hi, unit, _HINTS.get(name, ""))
            object.__setattr__(self, name, t)
        fm = as_tensor("fuel_model", self.fuel_model, dtype=torch.int32, device=dev)
        check_grid_shape("fuel_model", fm, shape)
        codes = torch.unique(fm).cpu().numpy()
        unknown = [int(c) for c in codes if int(c) not in fuels.known_codes()]
        if unknown:
            bad = torch.isin(fm, torch.tensor(unknown, dtype=fm.dtype, device=fm.device))
            pos = tuple(int(i) for i in torch.nonzero(bad)[0].tolist())
            raise InputError(
                f"fuel_model: unknown fuel model code {int(fm[pos])} at (row, col) {pos} "
                f"(unknown codes present: {unknown[:10]}{' ...' if len(unknown) > 10 else ''}); known codes are "
                f"{fuels.known_codes_text()}"
            )
        self.fuel_model = fm
        if not (isinstance(self.cell_size_m, (int, float, np.floating, np.integer)) and np.isfinite(self.cell_size_m)
                and self.cell_size_m > 0):
            raise InputError(f"cell_size_m: must be a positive number of metres, got {self.cell_size_m!r}")
        self.cell_size_m = float(self.cell_size_m)
        if self.nodata_mask is not None:
            m = as_tensor("nodata_mask", self.nodata_mask, dtype=torch.bool, device=dev)
            check_grid_shape("nodata_mask", m, shape)
            self.nodata_mask = m
        self.device = dev

    # ------------------------------------------------------------------ properties
    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.slope.shape)

    @property
    def height(self) -> int:
        return self.shape[0]

    @property
    def width(self) -> int:
        return self.shape[1]

    @property
    def num_cells(self) -> int:
        return self.height * self.width

    def burnable_mask(self) -> torch.Tensor:
        """Cells whose fuel model can burn (not a non-burnable code), as a bool [H, W] tensor."""
        return torch.isin(self.fuel_model, torch.tensor(fuels.burnable_codes(), dtype=torch.int32, device=self.device))

    def burnable_cells(self) -> torch.Tensor:
        """int64 [n] flat indices (row * W + col) of the burnable cells, in order; cached
        (do not modify the result)."""
        return self._cached("burnable_cells", lambda: torch.nonzero(self.burnable_mask().reshape(-1)).reshape(-1))

    # ------------------------------------------------------------------ conversions
    def to(self, device) -> "Landscape":
        """A copy on another device. The layers were validated when this landscape was built,
        so the copy is not validated again (that would cost a pass over every grid)."""
        dev = torch.device(device)
        copy = object.__new__(type(self))
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in (*FLOAT_LAYERS, "fuel_model", "nodata_mask") and value is not None:
                value = value.to(dev)
            object.__setattr__(copy, f.name, value)
        copy.device = dev
        copy._cache = {}
        return copy

    # ------------------------------------------------------------------ caches
    def _version_key(self) -> tuple:
        """The layers the ops read (weak references), their in-place versions and the cell
        size: caches derived from the layers (terrain_tensor, stacks, burnable cells) are
        rebuilt when a layer is replaced or modified in place (torch counts in-place writes in
        ``_version``)."""
        layers = tuple(getattr(self, n) for n in _CACHE_LAYERS)
        return (self.cell_size_m, tuple(weakref.ref(t) for t in layers), tuple(t._version for t in layers))

    def _in_state(self, key: tuple) -> bool:
        """Whether the layers are still those of ``key`` (from ``_version_key``), unmodified."""
        if key[0] != self.cell_size_m:
            return False
        for ref, version, name in zip(key[1], key[2], _CACHE_LAYERS):
            t = getattr(self, name)
            if ref() is not t or t._version != version:
                return False
        return True

    def _cached(self, name, build):
        """``build()`` once per state of the layers (see ``_version_key``)."""
        hit = self._cache.get(name)
        if hit is not None and self._in_state(hit[0]):
            return hit[1]
        key = self._version_key()
        value = build()
        self._cache[name] = (key, value)
        return value

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_cache"] = {}
        return state

    def terrain_tensor(self) -> torch.Tensor:
        """[6, H*W] float32: the channels the compiled ops read (csrc/qagent/fire_behavior_kernel.h).
        Cached until a layer changes (do not modify the result)."""
        return self._cached("terrain", lambda: torch.stack(
            [self.slope, self.aspect, self.canopy_cover, self.canopy_height, self.canopy_base_height,
             self.canopy_bulk_density]).flatten(1).contiguous())

    def __repr__(self) -> str:
        return f"Landscape(shape={self.shape}, cell_size_m={self.cell_size_m}, device={self.device})"


def _check_cell_grid(grid, landscape, name: str, what: str, finite_hint: str, empty_consequence: str) -> np.ndarray:
    """A per-cell grid (ignition density, values at risk) as float64 [H, W], checked: numeric,
    the landscape's grid shape, finite, non-negative, and positive on at least one burnable
    cell. Errors start with ``name`` and call the grid ``what``; ``finite_hint`` ends the NaN
    error, ``empty_consequence`` the all-zero one."""
    if isinstance(grid, torch.Tensor):
        grid = grid.detach().cpu().numpy()
    try:
        g = np.asarray(grid, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise InputError(f"{name}: expected a numeric [H, W] grid of {what} ({e})") from None
    shape = tuple(landscape.shape)
    if g.shape != shape:
        raise InputError(f"{name}: {what} of shape {g.shape}, but the landscape's grid is {shape}")

    def refuse(cells: np.ndarray, problem: str, hint: str):
        r, c = np.argwhere(cells)[0]
        raise InputError(f"{name}: {int(cells.sum())} cells of the {what} are {problem} (first at row {r}, "
                         f"column {c}); {hint}")

    finite = np.isfinite(g)
    if not finite.all():
        refuse(~finite, "NaN or infinite", finite_hint)
    if (g < 0).any():
        refuse(g < 0, f"negative (min {g.min():g})", f"{what} must be >= 0")
    burnable = landscape.burnable_mask().cpu().numpy().reshape(shape)
    if not (g[burnable] > 0).any():
        raise InputError(f"{name}: {what} zero on every burnable cell, so {empty_consequence}")
    return g


def check_ignition_density(ignition_density, landscape, name: str = "ignition_density") -> np.ndarray:
    """``ignition_density`` as float64 [H, W], checked: the landscape's grid shape, finite,
    non-negative, and positive on at least one burnable cell. ``name`` prefixes the errors
    (the CLIs pass the file's name)."""
    return _check_cell_grid(ignition_density, landscape, name, "ignition density",
                            "the density must be finite (zero where no fire may start)", "no fire can start")


def check_values(values, landscape, name: str = "values") -> np.ndarray:
    """Values at risk (a non-negative value per cell: structures, habitat; any unit) as float32
    [H, W], checked: the landscape's grid shape, finite, non-negative, and positive on at least
    one burnable cell (else nothing is at risk and no objective is defined). ``name`` prefixes
    the errors (the CLIs pass the file's name). None means every cell is worth 1 and is
    returned as None."""
    if values is None:
        return None
    return _check_cell_grid(values, landscape, name, "values at risk",
                            "values must be finite (0 where nothing is at risk, or flag them as nodata)",
                            "no fire can burn any value").astype(np.float32)


def valued_fraction(values, landscape) -> float:
    """The share of the burnable cells of ``landscape`` holding value (> 0) in a values grid
    [H, W] (numpy or torch); 0.0 on a landscape without burnable cells."""
    burnable = landscape.burnable_mask().cpu().numpy()
    grid = values.cpu().numpy() if hasattr(values, "cpu") else np.asarray(values)
    return float((grid[burnable] > 0).mean()) if burnable.any() else 0.0
