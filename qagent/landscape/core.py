"""The landscape: LANDFIRE-style layers on one grid, in SI units."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np
import torch

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
    - ``fuel_model``: integer fuel model codes (Anderson 13: 1-13, Scott & Burgan 40: 101-204,
      non-burnable 91-99)
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
        from qagent.fire.fuel_models import known_codes

        codes = torch.unique(fm).cpu().numpy()
        unknown = [int(c) for c in codes if int(c) not in known_codes()]
        if unknown:
            bad = torch.isin(fm, torch.tensor(unknown, dtype=fm.dtype, device=fm.device))
            pos = tuple(int(i) for i in torch.nonzero(bad)[0].tolist())
            raise InputError(
                f"fuel_model: unknown fuel model code {int(fm[pos])} at (row, col) {pos} "
                f"(unknown codes present: {unknown[:10]}{' ...' if len(unknown) > 10 else ''}); known codes are "
                "Anderson 1-13, Scott & Burgan 101-109, 121-124, 141-149, 161-165, 181-189, 201-204 and 91-99"
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
        """Cells whose fuel model can burn (not 91-99), as a bool [H, W] tensor."""
        from qagent.fire.fuel_models import burnable_codes

        return torch.isin(self.fuel_model, torch.tensor(burnable_codes(), dtype=torch.int32, device=self.device))

    # ------------------------------------------------------------------ conversions
    def to(self, device) -> "Landscape":
        """A copy on another device."""
        dev = torch.device(device)
        kw = {f.name: getattr(self, f.name) for f in fields(self)}
        for name in (*FLOAT_LAYERS, "fuel_model", "nodata_mask"):
            if kw[name] is not None:
                kw[name] = kw[name].to(dev)
        kw["device"] = dev
        return replace(self, **kw)

    def tiles(self, size: int = 50, stride: int = 25, max_nodata_fraction: float = 0.0):
        """Yield (row0, col0, tile Landscape) windows; see ``qagent.landscape.tiles.tiles``."""
        from qagent.landscape.tiles import tiles

        return tiles(self, size=size, stride=stride, max_nodata_fraction=max_nodata_fraction)

    def save_geotiff(self, path, array, **kwargs):
        """Write an [H, W] result aligned with this landscape's grid (transform, CRS) so it opens
        on top of the source layers in a GIS; see ``qagent.landscape.landfire.save_geotiff``."""
        from qagent.landscape.landfire import save_geotiff

        return save_geotiff(self, path, array, **kwargs)

    def terrain_tensor(self) -> torch.Tensor:
        """[6, H*W] float32: the channels the compiled ops read (csrc/qagent/fire_behavior_kernel.h)."""
        return torch.stack([self.slope, self.aspect, self.canopy_cover, self.canopy_height,
                            self.canopy_base_height, self.canopy_bulk_density]).reshape(6, -1).contiguous()

    def __repr__(self) -> str:
        return f"Landscape(shape={self.shape}, cell_size_m={self.cell_size_m}, device={self.device})"
