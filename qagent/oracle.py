"""pyretechnics (PyPI) as a reference oracle for tests and benchmarks.

pyretechnics is not a dependency of qagent: the tests install it (it pins numpy 1.26). The
helpers here translate between the two programs' conventions: our grids are north-up
(row 0 = north edge), pyretechnics' row index grows northward, so directional comparisons
flip rows. Inputs and outputs are numpy arrays in SI units.
"""

from __future__ import annotations

import numpy as np

PYRETECHNICS_VERSION = "2026.10.20"

# pyretechnics' names of the cell inputs, in our order.
CELL_FIELDS = (
    "slope", "aspect", "fuel_model", "canopy_cover", "canopy_height", "canopy_base_height", "canopy_bulk_density",
    "wind_speed_10m", "upwind_direction", "fuel_moisture_dead_1hr", "fuel_moisture_dead_10hr",
    "fuel_moisture_dead_100hr", "fuel_moisture_live_herbaceous", "fuel_moisture_live_woody", "foliar_moisture",
)


def require_pyretechnics():
    try:
        import pyretechnics  # noqa: F401
        import pyretechnics.burn_cells  # noqa: F401
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError(
            f"the pyretechnics oracle is not installed: pip install pyretechnics=={PYRETECHNICS_VERSION} ({e})"
        ) from e


def _cubes(grids: dict[str, np.ndarray], shape: tuple[int, int]):
    from pyretechnics.space_time_cube import SpaceTimeCube

    cube_shape = (1, *shape)
    out = {}
    for name in CELL_FIELDS:
        v = np.asarray(grids[name], dtype=np.float32)
        out[name] = SpaceTimeCube(cube_shape, float(v) if v.ndim == 0 else v.reshape(cube_shape))
    return out


def behavior_head_fire(grids: dict[str, np.ndarray], *, azimuth: float | None = None, lw_ratio_model: str = "behave",
                       use_wind_limit: bool = True) -> dict[str, np.ndarray]:
    """pyretechnics' burn_all_cells_as_head_fire (or _toward_azimuth) on [H, W] grids (or
    scalars for uniform inputs). Returns fire_type, spread_rate (m/min), spread_direction
    (deg), fireline_intensity (kW/m), flame_length (m), as [H, W] arrays."""
    require_pyretechnics()
    import pyretechnics.burn_cells as bc

    shape = next(np.shape(grids[n]) for n in CELL_FIELDS if np.ndim(grids[n]) == 2)
    cubes = _cubes(grids, shape)
    if azimuth is None:
        out = bc.burn_all_cells_as_head_fire(cubes, 0, use_wind_limit=use_wind_limit,
                                             surface_lw_ratio_model=lw_ratio_model)
    else:
        out = bc.burn_all_cells_toward_azimuth(cubes, float(azimuth), 0, use_wind_limit=use_wind_limit,
                                               surface_lw_ratio_model=lw_ratio_model)
    return {k: np.asarray(v) for k, v in out.items()}
