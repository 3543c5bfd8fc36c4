"""pyretechnics (PyPI) as a reference oracle for tests and benchmarks.

Not part of the installed package (nothing in qagent/ imports it or pyretechnics): it lives
beside its reference data (benchmarks/data/) and the scripts that make and use them, which
import it as ``oracle`` (a script's own folder is on ``sys.path``); the tests import it the
same way (``pythonpath = ["benchmarks"]`` in pyproject.toml's pytest settings).
pyretechnics is not a dependency of qagent: the tests install it (it pins numpy 1.26). The
helpers here translate between the two programs' conventions: our grids are north-up
(row 0 = north edge), pyretechnics' row index grows northward, so directional comparisons
flip rows. Inputs and outputs are numpy arrays in SI units.

- ``behavior_head_fire``: per-cell fire behavior (``pyretechnics.burn_cells``).
- ``spread_level_set``: fire spread from a point ignition with pyretechnics' Eulerian level
  set (``pyretechnics.eulerian_level_set``), the reference for our minimum-travel-time kernel.
- ``make_spread_cases``: a deterministic, diverse set of spread test cases;
  ``save_spread_reference`` / ``load_spread_reference``: their level-set results on disk
  (``benchmarks/make_spread_reference.py`` writes ``benchmarks/data/spread_reference.npz``).
"""

from __future__ import annotations

import time

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


# ------------------------------------------------------------------------------------------
# Fire spread: pyretechnics' Eulerian level set
# ------------------------------------------------------------------------------------------
LANDSCAPE_FIELDS = CELL_FIELDS[:7]
WEATHER_FIELDS = CELL_FIELDS[7:]
_DIRECTION_FIELDS = ("aspect", "upwind_direction")  # compass degrees: any finite value

# Level-set settings of the oracle (see spread_level_set). pyretechnics' own defaults are
# max_cells_per_timestep = 0.4 and buffer_width = 3.
LEVEL_SET_MAX_CELLS_PER_TIMESTEP = 0.1
LEVEL_SET_BUFFER_WIDTH = 3


def spread_level_set(grids: dict, cell_size_m: float, ignition_rc: tuple[int, int], duration_min: float, *,
                     lw_ratio_model: str = "behave", use_wind_limit: bool = True, crown_max_lw_ratio: float = 1e10,
                     max_cells_per_timestep: float = LEVEL_SET_MAX_CELLS_PER_TIMESTEP) -> dict:
    """Spread a fire from one cell for ``duration_min`` minutes with pyretechnics' Eulerian
    level set (``eulerian_level_set.spread_fire_with_phi_field``, no spotting).

    ``grids`` maps every name of ``CELL_FIELDS`` to an [H, W] north-up array or a scalar
    (uniform), in pyretechnics' units (= ours): slope rise/run, aspect and upwind direction
    degrees clockwise from north, canopy cover fraction, heights m, bulk density kg/m3, wind
    km/h at 10 m, moistures fractions. ``ignition_rc`` is (row, col) in our north-up grid.
    Rows are flipped going in and coming out (pyretechnics' row index grows northward), so
    every direction (aspect, wind, ignition position, results) keeps its meaning.

    Returns [H, W] north-up arrays:

    - ``arrival_time_min`` (float64): time the front reaches the cell centre, 0 at the
      ignition, +inf where unburned within ``duration_min``
    - ``burned`` (bool): ``arrival_time_min`` is finite
    - ``fire_type`` (uint8, 0 unburned / 1 surface / 2 passive / 3 active crown),
      ``spread_rate`` (m/min), ``spread_direction`` (deg), ``fireline_intensity`` (kW/m),
      ``flame_length`` (m): pyretechnics' fire behavior of the front *normal to itself*
      when it crossed the cell (so flanks and backs report their own, slower, fire)
    - ``wall_time_s``: seconds spent in ``spread_fire_with_phi_field`` (setup excluded);
      ``stop_condition``: pyretechnics' reason for stopping

    How pyretechnics works, and the settings chosen here:

    - Method: the fire perimeter is the zero contour of phi (Osher & Sethian 1988,
      J. Comput. Phys. 79:12-49), advanced by dphi/dt = -U(grad phi) |grad phi| where U is
      the normal speed of an elliptical (Huygens) wavelet per cell, following ELMFIRE
      (Lautenberger 2013, Fire Safety J. 62:289-298): a second-order Runge-Kutta (Heun)
      step and superbee flux-limited upwind gradients (Roe 1986, Annu. Rev. Fluid Mech.
      18:337-365) on a narrow band of ``buffer_width`` = 3 cells around the front.
    - Ignition: ``SpreadState.ignite_cell`` sets phi = -1 on the one cell and leaves +1
      elsewhere, arrival time 0. The zero contour therefore starts on the cell's *edges*, not
      its centre: measured on uniform no-wind GR2 the front reaches the first neighbour at
      0.53-0.57 of dx / R and distant cells about 0.6-0.7 cell early (a minimum-travel-time
      path from the cell centre has no such head start); the offset shrinks relative to the
      fire's size as it grows.
    - "Burned": a cell burns when phi at its centre changes sign during a step (phi_old *
      phi_new < 0); its arrival time is interpolated linearly within the step,
      t0 + dt * phi_old / (phi_old - phi_new). Non-burnable cells (codes 91-99) have zero
      wavelets, so phi never changes there: a 1-cell-wide 4-connected line of them stops the
      front (the scheme's stencil is axis-aligned).
    - Time step: dt is the largest step with |U_x| dt <= C dx and |U_y| dt <= C dy over the
      narrow band (a CFL condition, Courant, Friedrichs & Lewy 1928), C =
      ``max_cells_per_timestep``. pyretechnics' default C = 0.4; we use 0.1: arrival times then
      differ from C = 0.05 by a median 0.1 % (max 2 min over 24 h), against 0.7-1 % (max 14
      min) at 0.4, for 2-3x the run time (tens of ms at 50 x 50). Spatial discretisation,
      not dt, dominates the remaining error.
    - Crown fire: each cell carries two wavelets, a surface one (Rothermel 1972, with
      ``lw_ratio_model``) and a crown one (Cruz et al. 2005 spread rate, active or passive;
      length-to-breadth 1 + 0.125 U20ft(mph), Rothermel 1991; heading downwind, not upslope).
      At each point of the front the crown wavelet is used when the *surface spread rate
      normal to the front* exceeds Van Wagner's (1977) critical rate, and then the faster of
      the two governs (dphi/dt = min of both). Crowning is thus decided per front direction:
      a head can run as crown fire while its flanks and back stay surface fires, unlike a
      model that gives each cell one ellipse of the head fire's type.
    - The ignited cell is never crossed by a front, so pyretechnics reports fire_type 0 and no
      behavior there; we fill in its head-fire behavior (``burn_cell_as_head_fire``), as
      pyretechnics itself does for an ignition with no phi gradient (spot fires).
    - An ignition on a non-burnable cell burns nothing, as in ``qagent.fire.simulate``
      (pyretechnics spreads nothing from it either but marks the cell itself burned at 0).
    - Distances are along the ground: rates and wavelets live on each cell's slope plane and
      phi's gradient is projected onto it, so on a 100 % slope a fire covers about 0.71 of
      the horizontal distance it would on the flat at the same rate.
    - Grid edge (pyretechnics 2026.10.20): the easternmost column never burns. Its narrow
      band tracker clips each row segment to [x - 3, min(x + 3, W - 1)) and so never tracks
      column W - 1; a fire that reaches it keeps a front there until the end, which also
      keeps the time step small. Compare footprints away from the edges.
    """
    require_pyretechnics()
    import pyretechnics.burn_cells as bc
    import pyretechnics.eulerian_level_set as els
    import pyretechnics.fuel_models as fm
    import pyretechnics.vector_utils as vu
    from pyretechnics.space_time_cube import SpaceTimeCube

    values, shape = _check_spread_inputs(grids, cell_size_m, ignition_rc, duration_min, lw_ratio_model,
                                         max_cells_per_timestep)
    rows, cols = shape
    row, col = int(ignition_rc[0]), int(ignition_rc[1])
    duration_min, cell_size_m = float(duration_min), float(cell_size_m)
    unburned = _empty_spread_result(shape)

    fuel = values["fuel_model"]
    ignition_fuel = int(fuel if fuel.ndim == 0 else fuel[row, col])
    if not fm.get_fuel_model(ignition_fuel)["burnable"]:
        return unburned | {"stop_condition": "ignition on a non-burnable cell"}

    # One time band spanning the whole run (inputs are constant in time); rows flipped.
    cube_shape = (1, rows, cols)
    cubes = {name: SpaceTimeCube(cube_shape, float(v) if v.ndim == 0
                                 else np.ascontiguousarray(v[::-1], dtype=np.float32).reshape(cube_shape))
             for name, v in values.items()}
    y, x = rows - 1 - row, col
    state = els.SpreadState(cube_shape).ignite_cell((y, x))
    start = time.perf_counter()
    out = els.spread_fire_with_phi_field(
        cubes, state, (duration_min, cell_size_m, cell_size_m), 0.0, duration_min,
        max_cells_per_timestep=float(max_cells_per_timestep), buffer_width=LEVEL_SET_BUFFER_WIDTH,
        use_wind_limit=bool(use_wind_limit), surface_lw_ratio_model=lw_ratio_model,
        crown_max_lw_ratio=float(crown_max_lw_ratio))
    wall_time_s = time.perf_counter() - start

    m = out["spread_state"].get_full_matrices()
    result = {k: np.array(m[k][::-1]) for k in ("fire_type", "spread_rate", "spread_direction",
                                                 "fireline_intensity", "flame_length")}
    arrival = np.asarray(m["time_of_arrival"][::-1], dtype=np.float64)
    arrival[np.isnan(arrival)] = np.inf
    head = bc.burn_cell_as_head_fire(cubes, (0, y, x), use_wind_limit=bool(use_wind_limit),
                                     surface_lw_ratio_model=lw_ratio_model,
                                     crown_max_lw_ratio=float(crown_max_lw_ratio))
    result["fire_type"][row, col] = head["fire_type"]
    result["spread_direction"][row, col] = vu.spread_direction_vector_to_angle(head["spread_direction"])
    for k in ("spread_rate", "fireline_intensity", "flame_length"):
        result[k][row, col] = head[k]
    return result | {"arrival_time_min": arrival, "burned": np.isfinite(arrival), "wall_time_s": wall_time_s,
                     "stop_condition": out["stop_condition"]}


def _empty_spread_result(shape: tuple[int, int]) -> dict:
    return {
        "arrival_time_min": np.full(shape, np.inf), "burned": np.zeros(shape, dtype=bool),
        "fire_type": np.zeros(shape, dtype=np.uint8), "spread_rate": np.zeros(shape, dtype=np.float32),
        "spread_direction": np.full(shape, np.nan, dtype=np.float32),
        "fireline_intensity": np.zeros(shape, dtype=np.float32), "flame_length": np.zeros(shape, dtype=np.float32),
        "wall_time_s": 0.0,
    }


def _check_spread_inputs(grids, cell_size_m, ignition_rc, duration_min, lw_ratio_model,
                         max_cells_per_timestep) -> tuple[dict[str, np.ndarray], tuple[int, int]]:
    """Validate spread_level_set's arguments; return the fields as float64 arrays and the grid
    shape. Errors name the field, the value and, for grids, its (row, col)."""
    from pyretechnics.fuel_models import list_fuel_model_numbers

    from qagent._validation import InputError, _raise_first

    if not isinstance(grids, dict):
        raise InputError(f"grids: expected a dict of the fields {CELL_FIELDS}, got {type(grids).__name__}")
    missing = [k for k in CELL_FIELDS if k not in grids]
    unknown = sorted(set(grids) - set(CELL_FIELDS))
    if missing or unknown:
        raise InputError(f"grids: missing fields {missing}, unknown fields {unknown}; expected {CELL_FIELDS}")
    values, shape, shape_of = {}, None, None
    for name in CELL_FIELDS:
        try:
            v = np.asarray(grids[name], dtype=np.float64)
        except (TypeError, ValueError) as e:
            raise InputError(f"{name}: cannot be read as numbers ({e})") from e
        if v.ndim not in (0, 2):
            raise InputError(f"{name}: expected a scalar or an [H, W] grid, got shape {v.shape}")
        if v.ndim == 2:
            if shape is None:
                shape, shape_of = v.shape, name
            elif v.shape != shape:
                raise InputError(f"{name}: shape {v.shape} differs from {shape_of}'s {shape}")
        if not np.all(np.isfinite(v)):
            _raise_first(name, ~np.isfinite(v), v, "is not finite")
        if name not in _DIRECTION_FIELDS and np.any(v < 0):
            _raise_first(name, v < 0, v, "is negative")
        values[name] = v
    if shape is None or min(shape) < 1:
        raise InputError(f"grids: at least one field must be a non-empty [H, W] grid, got shape {shape}")
    if np.any(values["canopy_cover"] > 1):
        _raise_first("canopy_cover", values["canopy_cover"] > 1, values["canopy_cover"], "is above 1 (a fraction)")
    fuel = values["fuel_model"]
    bad_fuel = ~np.isin(fuel, list_fuel_model_numbers())
    if np.any(bad_fuel):
        _raise_first("fuel_model", bad_fuel, fuel, "is not a fuel model code pyretechnics knows")
    for name, v in (("cell_size_m", cell_size_m), ("duration_min", duration_min),
                    ("max_cells_per_timestep", max_cells_per_timestep)):
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) \
                or not (np.isfinite(v) and v > 0):
            raise InputError(f"{name}: must be a positive finite number, got {v!r}")
    if lw_ratio_model not in ("behave", "rothermel"):
        raise InputError(f"lw_ratio_model: must be 'behave' or 'rothermel', got {lw_ratio_model!r}")
    try:
        row, col = (int(i) for i in ignition_rc)
        exact = tuple(ignition_rc) == (row, col)
    except (TypeError, ValueError):
        exact = False
    if not exact or not (0 <= row < shape[0] and 0 <= col < shape[1]):
        raise InputError(f"ignition_rc: expected an integer (row, col) inside the {shape} grid, got {ignition_rc!r}")
    return values, shape


# ------------------------------------------------------------------------------------------
# Spread test cases
# ------------------------------------------------------------------------------------------
# Durations (min) a case may get; the shortest ones only go to fires too fast for 30 min to
# stay inside the grid (wind-driven crown fire, grass in strong wind).
SPREAD_CASE_DURATIONS_MIN = (10, 15, 20, 30, 45, 60, 90, 120, 180, 240, 360, 480, 720, 960, 1200, 1440)
_EDGE_MARGIN_CELLS = 3  # cells kept between a case's fire and the grid's edge

_GRASS = tuple(range(101, 110))
_GRASS_SHRUB = tuple(range(121, 125))
_SHRUB = tuple(range(141, 150))
_TIMBER_UNDERSTORY = tuple(range(161, 166))
_TIMBER_LITTER = tuple(range(181, 190))
_SLASH = tuple(range(201, 205))
_ANDERSON = tuple(range(1, 14))
_CANOPY_FUELS = _TIMBER_UNDERSTORY + _TIMBER_LITTER + (8, 9, 10)
_WATER, _ROAD = 98, 91


def make_spread_cases(n: int = 60, seed: int = 0, size: tuple[int, int] = (50, 50)) -> list[dict]:
    """``n`` deterministic, diverse fire-spread test cases on grids of ``size`` 30-m cells.

    Each case is a dict: ``grids`` (the ``CELL_FIELDS``: [H, W] float32 arrays for the
    landscape fields, fuel_model int32, Python floats for the weather fields),
    ``cell_size_m`` (30), ``ignition_rc`` (row, col) north-up, ``duration_min``, ``name``
    and ``description``. Case i depends only on (seed, i), so a larger ``n`` extends the list.

    Cases cycle through twelve kinds (five each for n = 60):

    - uniform fuels: grass GR1-9, grass-shrub and shrub GS/SH, timber TU/TL (canopy too high
      to crown), slash SB1-4, Anderson 1-13; flat or sloped (0-30 %), winds 0-40 km/h
    - steep: uniform slopes of 40-100 % at any aspect, light wind (slope-driven spread)
    - terrain: smooth random hills (slope and aspect by Horn's method), 95th-percentile
      slope 30-100 %
    - patchy: two to four fuels of different groups in random patches
    - crown: intense fuels (TU3-5, TL9, SH5, SH7, FM4, FM10) under canopies of cover
      0.5-0.9 (or 0.25-0.9 in patches), base height 0.5-2 m, bulk density 0.05-0.3 kg/m3;
      foliar moisture 70-90 %, dead 1-h moisture 3-5 %, wind 15-40 km/h
    - lake: a pond of open water (98) in the fire's path
    - road: a straight 1-cell-wide 4-connected road (91) across the fire's path, oblique
      to the grid at some cases (a staircase the fire must not cross diagonally)
    - synthetic: ``qagent.landscape.synthetic`` landscapes (mixed fuels, terrain, roads,
      water, canopy)

    Weather is uniform: dead 1-h moisture 3-10 % (10-h and 100-h 1 and 2 points more), live
    herbaceous 30-120 %, live woody 60-150 %, foliar 70-120 %, wind from any direction. Where
    Anderson models occur the live herbaceous moisture equals the woody one: BehavePlus (and
    qagent) file the live load of models 4, 5, 7 and 10 as woody, pyretechnics as
    herbaceous, and equal moistures make the two filings agree.

    The duration and the ignition follow from a trial level-set run of the case from near
    the centre: each case draws a fill fraction f of 0.4-1, and its duration is the longest
    of ``SPREAD_CASE_DURATIONS_MIN`` (10 min to 24 h) within f times the duration at which
    the footprint, growing in proportion to time, would span the grid less a 3-cell margin;
    the ignition moves (upwind, for wind-driven fires) so that the footprint is centred, to
    the nearest cell whose head-fire rate is at least the median of the burnable cells'.
    So fast fires get minutes, slow litter fires a day, and fires fill 40-100 % of the room
    they have. The extrapolation is rough where fuels vary, so a few fires reach the edge
    (4 of the 60 of seed 0). Building 60 cases takes about 10 s.
    """
    from qagent._validation import InputError

    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise InputError(f"n: must be a positive integer, got {n!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InputError(f"seed: must be a non-negative integer, got {seed!r}")
    if len(size) != 2 or any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 16 for v in size):
        raise InputError(f"size: must be (H, W) with both at least 16 cells, got {size!r}")
    shape = (int(size[0]), int(size[1]))
    return [_make_spread_case(i, int(seed), shape) for i in range(int(n))]


_CASE_KINDS = ("grass", "shrub", "timber", "slash", "anderson", "steep", "terrain", "patchy", "crown", "lake",
               "road", "synthetic")


def _make_spread_case(i: int, seed: int, shape: tuple[int, int], cell_size_m: float = 30.0) -> dict:
    kind = _CASE_KINDS[i % len(_CASE_KINDS)]
    rng = np.random.default_rng([seed, i])
    weather = _draw_weather(rng, kind)
    landscape, what = _draw_landscape(rng, kind, i, seed, shape, cell_size_m, weather)
    if np.isin(landscape["fuel_model"], _ANDERSON).any():
        weather["fuel_moisture_live_herbaceous"] = weather["fuel_moisture_live_woody"]
    grids = {**landscape, **weather}
    duration_min, ignition_rc = _fit_duration_and_ignition(grids, cell_size_m, fill=float(rng.uniform(0.4, 1.0)))
    downwind = (weather["upwind_direction"] + 180.0) % 360.0
    description = (f"{what}; wind {weather['wind_speed_10m']:.0f} km/h toward {downwind:.0f} deg; dead 1-h "
                   f"moisture {100 * weather['fuel_moisture_dead_1hr']:.0f} %; {duration_min:g} min")
    return {"name": f"{i:02d}-{kind}", "description": description, "grids": grids, "cell_size_m": cell_size_m,
            "ignition_rc": ignition_rc, "duration_min": duration_min}


def _draw_weather(rng: np.random.Generator, kind: str) -> dict[str, float]:
    wind_range = {"grass": (0, 30), "shrub": (0, 40), "timber": (0, 40), "slash": (0, 25), "anderson": (0, 30),
                  "steep": (0, 15), "terrain": (0, 25), "patchy": (0, 30), "crown": (15, 40), "lake": (5, 30),
                  "road": (5, 30), "synthetic": (0, 30)}[kind]
    dry = kind == "crown"
    m1 = rng.uniform(0.03, 0.05) if dry else rng.uniform(0.03, 0.10)
    return {
        "wind_speed_10m": round(float(rng.uniform(*wind_range)), 1),
        "upwind_direction": round(float(rng.uniform(0.0, 360.0)), 1),
        "fuel_moisture_dead_1hr": round(m1, 3),
        "fuel_moisture_dead_10hr": round(m1 + 0.01, 3),
        "fuel_moisture_dead_100hr": round(m1 + 0.02, 3),
        "fuel_moisture_live_herbaceous": round(float(rng.uniform(0.3, 1.2)), 2),
        "fuel_moisture_live_woody": round(float(rng.uniform(0.6, 1.5)), 2),
        "foliar_moisture": round(float(rng.uniform(0.7, 0.9) if dry else rng.uniform(0.7, 1.2)), 2),
    }


def _draw_landscape(rng: np.random.Generator, kind: str, i: int, seed: int, shape: tuple[int, int],
                    cell_size_m: float, weather: dict) -> tuple[dict[str, np.ndarray], str]:
    """The landscape fields of case i and a short description of them."""
    n_kind = i // len(_CASE_KINDS)  # how many cases of this kind came before: cycles fuels
    if kind == "synthetic":
        from qagent.landscape.synthetic import synthetic

        ls_seed = 1000 * seed + i
        ls = synthetic(shape[0], shape[1], ls_seed, cell_size_m=cell_size_m)
        grids = {k: getattr(ls, k).cpu().numpy().astype(np.float32) for k in LANDSCAPE_FIELDS if k != "fuel_model"}
        grids["fuel_model"] = ls.fuel_model.cpu().numpy().astype(np.int32)
        return grids, f"qagent synthetic landscape seed {ls_seed}"

    palette = {"grass": _GRASS, "shrub": _GRASS_SHRUB + _SHRUB, "timber": _TIMBER_UNDERSTORY + _TIMBER_LITTER,
               "slash": _SLASH, "anderson": _ANDERSON}
    if kind in palette:  # uniform fuel, cycling through the group's models
        codes = palette[kind]
        step = max(1, round(len(codes) / 5))  # five cases of a kind span its models
        fuel = codes[(n_kind * step + n_kind // 5) % len(codes)]
        slope = float(rng.choice([0.0, rng.uniform(0.05, 0.3)]))
        grids = _uniform_grids(shape, fuel, slope, float(rng.uniform(0, 360)))
        if fuel in _CANOPY_FUELS:  # a canopy too high to crown
            _set_canopy(grids, np.ones(shape, bool), rng, cover=(0.3, 0.7), base=(4.0, 8.0), density=(0.05, 0.15))
        return grids, f"uniform {_fuel_name(fuel)}, slope {100 * slope:.0f} %"
    if kind == "steep":
        fuel = int(rng.choice((102, 122, 142, 145, 162, 165, 183, 188, 5, 9)))
        slope, aspect = float(rng.uniform(0.4, 1.0)), float(rng.uniform(0, 360))
        return _uniform_grids(shape, fuel, slope, aspect), \
            f"uniform {_fuel_name(fuel)}, slope {100 * slope:.0f} % facing {aspect:.0f} deg"
    if kind == "terrain":
        from qagent.landscape.synthetic import horn_slope_aspect

        fuel = int(rng.choice((101, 102, 121, 141, 142, 161, 165, 183, 186, 189)))
        elevation = _smooth_field(rng, shape, float(rng.uniform(4.0, 10.0)))
        slope, aspect = horn_slope_aspect(elevation, cell_size_m)
        p95 = float(rng.uniform(0.3, 1.0))
        slope *= p95 / max(float(np.percentile(slope, 95)), 1e-12)
        grids = _uniform_grids(shape, fuel, 0.0, 0.0)
        grids["slope"], grids["aspect"] = slope.astype(np.float32), aspect.astype(np.float32)
        return grids, f"{_fuel_name(fuel)} on random hills, 95th-percentile slope {100 * p95:.0f} %"

    if kind == "crown":  # fuels intense enough to crown under a canopy that shelters them
        fuel = int(rng.choice((163, 164, 165, 189, 145, 147, 4, 10)))
        grids = _uniform_grids(shape, fuel, float(rng.choice([0.0, rng.uniform(0.05, 0.4)])),
                               float(rng.uniform(0, 360)))
        _set_canopy(grids, np.ones(shape, bool), rng, cover=(0.5, 0.9), base=(0.5, 2.0), density=(0.05, 0.3))
        what = (f"crown-prone {_fuel_name(fuel)}, slope {100 * grids['slope'][0, 0]:.0f} %, canopy base height "
                f"{grids['canopy_base_height'][0, 0]:.1f} m, bulk density "
                f"{grids['canopy_bulk_density'][0, 0]:.2f} kg/m3")
        if n_kind % 2:  # patchy cover: crowning only where it exceeds 0.4
            cover = 0.25 + 0.65 * (0.5 + 0.5 * np.tanh(_smooth_field(rng, shape, float(rng.uniform(2.0, 5.0)))))
            grids["canopy_cover"] = cover.astype(np.float32)
            return grids, what + ", canopy cover 0.25-0.9 in patches"
        return grids, what + f", canopy cover {grids['canopy_cover'][0, 0]:.2f}"

    # patchy, lake, road: two to four fuels in patches (lake and road: sometimes one fuel)
    k = int(rng.integers(2, 5)) if kind == "patchy" or rng.random() < 0.5 else 1
    groups = rng.choice(5, size=k, replace=False)
    group_codes = (_GRASS, _GRASS_SHRUB + _SHRUB, _TIMBER_UNDERSTORY, _TIMBER_LITTER, _SLASH)
    codes = [int(rng.choice(group_codes[g])) for g in groups]
    patches = _smooth_field(rng, shape, float(rng.uniform(2.0, 5.0)))
    cuts = np.quantile(patches, np.linspace(0, 1, k + 1)[1:-1])
    fuel = np.asarray(codes, dtype=np.int32)[np.searchsorted(cuts, patches)]
    grids = _uniform_grids(shape, codes[0], float(rng.uniform(0.0, 0.2)), float(rng.uniform(0, 360)))
    grids["fuel_model"] = fuel
    _set_canopy(grids, np.isin(fuel, _CANOPY_FUELS), rng, cover=(0.3, 0.7), base=(4.0, 8.0), density=(0.05, 0.15))
    what = f"{' / '.join(_fuel_name(c) for c in codes)} {'patches' if k > 1 else 'uniform'}"
    if kind == "patchy":
        return grids, what
    # The obstacle sits downwind of the centre, where the head fire will run into it.
    h, w = shape
    toward = np.radians(weather["upwind_direction"] + 180.0)
    d_row, d_col = -np.cos(toward), np.sin(toward)
    if kind == "lake":
        radius = float(rng.uniform(3.0, 6.0))
        centre = ((h - 1) / 2 + 0.35 * h / 2 * d_row, (w - 1) / 2 + 0.35 * w / 2 * d_col)
        rr, cc = np.mgrid[0:h, 0:w]
        lake = np.hypot(rr - centre[0], cc - centre[1]) <= radius
        grids["fuel_model"][lake] = _WATER
        _clear_canopy(grids, lake)
        return grids, f"{what} with a lake (98) of radius {radius:.1f} cells downwind"
    tilt = float(rng.uniform(-30.0, 30.0)) if rng.random() < 0.6 else 0.0
    along = toward + np.pi / 2 + np.radians(tilt)
    through = ((h - 1) / 2 + 0.3 * h / 2 * d_row, (w - 1) / 2 + 0.3 * w / 2 * d_col)
    road = _road_line(shape, through, (-np.cos(along), np.sin(along)))
    grids["fuel_model"][road] = _ROAD
    _clear_canopy(grids, road)
    return grids, f"{what} with a road (91) across the fire's path, {tilt:+.0f} deg off square to the wind"


def _fuel_name(code: int) -> str:
    groups = ((_GRASS, "GR", 100), (_GRASS_SHRUB, "GS", 120), (_SHRUB, "SH", 140), (_TIMBER_UNDERSTORY, "TU", 160),
              (_TIMBER_LITTER, "TL", 180), (_SLASH, "SB", 200))
    for codes, prefix, base in groups:
        if code in codes:
            return f"{prefix}{code - base}"
    return f"FM{code}"


def _uniform_grids(shape: tuple[int, int], fuel: int, slope: float, aspect: float) -> dict[str, np.ndarray]:
    grids = {name: np.zeros(shape, dtype=np.float32) for name in LANDSCAPE_FIELDS}
    grids["slope"][:], grids["aspect"][:] = slope, aspect
    grids["fuel_model"] = np.full(shape, fuel, dtype=np.int32)
    return grids


def _set_canopy(grids: dict, where: np.ndarray, rng: np.random.Generator, *, cover, base, density) -> None:
    """A uniform canopy (cover fraction, base height m, bulk density kg/m3 drawn from the
    ranges; height 10-25 m) on the cells ``where``."""
    height = float(rng.uniform(10.0, 25.0))
    grids["canopy_cover"][where] = rng.uniform(*cover)
    grids["canopy_height"][where] = height
    grids["canopy_base_height"][where] = min(float(rng.uniform(*base)), 0.5 * height)
    grids["canopy_bulk_density"][where] = rng.uniform(*density)


def _clear_canopy(grids: dict, where: np.ndarray) -> None:
    for name in ("canopy_cover", "canopy_height", "canopy_base_height", "canopy_bulk_density"):
        grids[name][where] = 0.0


def _smooth_field(rng: np.random.Generator, shape: tuple[int, int], scale_cells: float) -> np.ndarray:
    """White noise smoothed by a Gaussian of ``scale_cells``, standardised: a random field
    with patches about that size."""
    from scipy.ndimage import gaussian_filter

    field = gaussian_filter(rng.standard_normal(shape), scale_cells, mode="reflect")
    return (field - field.mean()) / max(float(field.std()), 1e-12)


def _road_line(shape: tuple[int, int], through: tuple[float, float], direction: tuple[float, float]) -> np.ndarray:
    """Mask of a straight 4-connected line of cells across the grid through ``through``
    (row, col) along ``direction`` (d_row, d_col): where a step would go diagonally, the cell
    beside it is added, so that nothing crosses the line between two corners."""
    h, w = shape
    reach = float(np.hypot(h, w))
    mask = np.zeros(shape, dtype=bool)
    prev = None
    for t in np.arange(-reach, reach, 0.25):
        cell = (int(round(through[0] + t * direction[0])), int(round(through[1] + t * direction[1])))
        if prev is not None and cell[0] != prev[0] and cell[1] != prev[1]:
            corner = (prev[0], cell[1])
            if 0 <= corner[0] < h and 0 <= corner[1] < w:
                mask[corner] = True
        if 0 <= cell[0] < h and 0 <= cell[1] < w:
            mask[cell] = True
        prev = cell
    return mask


def _fit_duration_and_ignition(grids: dict, cell_size_m: float, fill: float) -> tuple[float, tuple[int, int]]:
    """Duration and ignition that keep the fire inside the grid with ``fill`` of its room
    (see make_spread_cases), from a trial run of the level set.

    The trial ignition is the cell nearest the centre whose head-fire rate is at least the
    median over the burnable cells (so that it does not sit in a patch that barely burns).
    The trial runs 1 h, 4 h or 24 h, the first that reaches the margin from the edges (a
    fire at the edge keeps the level set's time step small, so fast fires are not run for a
    day); d0 is the longest candidate duration whose footprint keeps the margin, and the
    footprint's reach from the ignition toward each side (north, south, west, east) is
    assumed to grow in proportion to time beyond d0. The duration is the longest candidate
    within ``fill`` times the one that fills the room; the ignition moves so that the
    footprint is centred.
    """
    shape = np.shape(grids["fuel_model"])
    h, w = shape
    head = behavior_head_fire({k: np.asarray(v, dtype=np.float32) if np.ndim(v) else v for k, v in grids.items()})
    rate = np.where(head["fire_type"] > 0, head["spread_rate"], 0.0)
    spreading = rate > 0
    if not spreading.any():
        return float(SPREAD_CASE_DURATIONS_MIN[-1]), ((h - 1) // 2, (w - 1) // 2)
    eligible = spreading & (rate >= np.median(rate[spreading]))
    rows, cols = np.nonzero(eligible)
    k = int(np.argmin(np.hypot(rows - (h - 1) / 2, cols - (w - 1) / 2)))
    trial_rc = (int(rows[k]), int(cols[k]))
    margin = _EDGE_MARGIN_CELLS
    room = (h - 1 - 2 * margin, w - 1 - 2 * margin)  # the footprint's largest span, rows and columns

    def reach(duration: float) -> tuple[int, int, int, int]:
        r, c = np.nonzero(arrival <= duration)
        return (trial_rc[0] - r.min(), r.max() - trial_rc[0], trial_rc[1] - c.min(), c.max() - trial_rc[1])

    def clear_of_edges(duration: float) -> bool:
        r, c = np.nonzero(arrival <= duration)
        return r.min() >= margin and c.min() >= margin and r.max() < h - margin and c.max() < w - margin

    for trial_min in (60.0, 240.0, float(SPREAD_CASE_DURATIONS_MIN[-1])):
        arrival = spread_level_set(grids, cell_size_m, trial_rc, trial_min)["arrival_time_min"]
        if not clear_of_edges(trial_min):
            break
    inside = [d for d in SPREAD_CASE_DURATIONS_MIN if d <= trial_min and clear_of_edges(d)]
    d0 = float(inside[-1] if inside else SPREAD_CASE_DURATIONS_MIN[0])
    north, south, west, east = reach(d0)
    spans = (north + south, west + east)
    growth = min((room[i] / spans[i] if spans[i] else np.inf) for i in range(2))  # duration that fills the room / d0
    fitting = [d for d in SPREAD_CASE_DURATIONS_MIN if d <= fill * growth * d0]
    duration = float(fitting[-1] if fitting else SPREAD_CASE_DURATIONS_MIN[0])
    scale = duration / d0
    row = int(np.clip(round((h - 1) / 2 + scale * (north - south) / 2), margin, h - 1 - margin))
    col = int(np.clip(round((w - 1) / 2 + scale * (west - east) / 2), margin, w - 1 - margin))
    return duration, _nearest(eligible, (row, col))


def _nearest(mask: np.ndarray, rc: tuple[int, int]) -> tuple[int, int]:
    """``rc`` if ``mask`` holds there, else the nearest cell where it does (ties: row-major)."""
    if mask[rc]:
        return rc
    rows, cols = np.nonzero(mask)
    k = int(np.argmin(np.hypot(rows - rc[0], cols - rc[1])))
    return int(rows[k]), int(cols[k])


# ------------------------------------------------------------------------------------------
# Reference results on disk
# ------------------------------------------------------------------------------------------
SPREAD_REFERENCE_FORMAT = 1


def save_spread_reference(path, cases: list[dict], results: list[dict], settings: dict) -> None:
    """Write spread cases and their ``spread_level_set`` results to a compressed ``.npz``
    (format documented in benchmarks/make_spread_reference.py). All cases share one grid
    shape. ``settings``: the keyword arguments the results were computed with."""
    import json

    from qagent._validation import InputError

    if not cases or len(cases) != len(results):
        raise InputError(f"cases, results: need as many results as cases (at least one), got {len(cases)} "
                         f"cases and {len(results)} results")
    shapes = {np.shape(c["grids"]["fuel_model"]) for c in cases}
    if len(shapes) != 1:
        raise InputError(f"cases: all must share one grid shape, got {sorted(shapes)}")
    shape = shapes.pop()
    np.savez_compressed(
        path,
        format_version=np.int32(SPREAD_REFERENCE_FORMAT),
        pyretechnics_version=np.str_(_installed_pyretechnics_version()),
        settings_json=np.str_(json.dumps(settings, sort_keys=True)),
        landscape_fields=np.array(LANDSCAPE_FIELDS),
        weather_fields=np.array(WEATHER_FIELDS),
        names=np.array([c["name"] for c in cases]),
        descriptions=np.array([c["description"] for c in cases]),
        cell_size_m=np.array([c["cell_size_m"] for c in cases], dtype=np.float64),
        ignition_rc=np.array([c["ignition_rc"] for c in cases], dtype=np.int32),
        duration_min=np.array([c["duration_min"] for c in cases], dtype=np.float64),
        landscape=np.stack([np.stack([np.broadcast_to(np.asarray(c["grids"][k], dtype=np.float32), shape)
                                      for k in LANDSCAPE_FIELDS]) for c in cases]),
        weather=np.array([[float(c["grids"][k]) for k in WEATHER_FIELDS] for c in cases], dtype=np.float64),
        arrival_time_min=np.stack([r["arrival_time_min"] for r in results]).astype(np.float32),
        fire_type=np.stack([r["fire_type"] for r in results]).astype(np.uint8),
        wall_time_s=np.array([r["wall_time_s"] for r in results], dtype=np.float64),
    )


def load_spread_reference(path) -> tuple[list[dict], dict]:
    """Read a file written by ``save_spread_reference``. Returns the cases (as
    ``make_spread_cases`` gives them, each with a ``reference`` dict: ``arrival_time_min``
    float64 [H, W] with +inf where unburned, ``burned``, ``fire_type``, ``wall_time_s``) and
    the metadata (``format_version``, ``pyretechnics_version``, ``settings``)."""
    import json

    from qagent._validation import InputError

    with np.load(path) as npz:
        z = {k: npz[k] for k in npz.files}  # each access to npz decompresses again: read once
    version = int(z["format_version"])
    if version != SPREAD_REFERENCE_FORMAT:
        raise InputError(f"{path}: format_version {version}, this reader knows {SPREAD_REFERENCE_FORMAT}")
    landscape_fields = tuple(str(k) for k in z["landscape_fields"])
    weather_fields = tuple(str(k) for k in z["weather_fields"])
    cases = []
    for i, name in enumerate(z["names"]):
        grids = {k: z["landscape"][i, j] for j, k in enumerate(landscape_fields)}
        grids["fuel_model"] = grids["fuel_model"].astype(np.int32)
        grids.update({k: float(z["weather"][i, j]) for j, k in enumerate(weather_fields)})
        arrival = z["arrival_time_min"][i].astype(np.float64)
        cases.append({
            "name": str(name), "description": str(z["descriptions"][i]), "grids": grids,
            "cell_size_m": float(z["cell_size_m"][i]), "ignition_rc": tuple(int(v) for v in z["ignition_rc"][i]),
            "duration_min": float(z["duration_min"][i]),
            "reference": {"arrival_time_min": arrival, "burned": np.isfinite(arrival),
                          "fire_type": z["fire_type"][i], "wall_time_s": float(z["wall_time_s"][i])},
        })
    meta = {"format_version": version, "pyretechnics_version": str(z["pyretechnics_version"]),
            "settings": json.loads(str(z["settings_json"]))}
    return cases, meta


def _installed_pyretechnics_version() -> str:
    from importlib.metadata import version

    return version("pyretechnics")


def compare_spread(case: dict, *, stencil: int | None = None, algorithm: str = "auto") -> dict:
    """Run ``qagent.fire.simulate`` on a spread case (``make_spread_cases`` /
    ``load_spread_reference``, with its ``reference``) and compare footprints.

    Returns the Jaccard index of the burned cells and the relative burned-area error
    (ours / reference - 1). pyretechnics 2026.10.20 never burns the easternmost column (a
    narrow-band tracking bug, see ``spread_level_set``), so both footprints are compared
    without it."""
    import torch

    from qagent.fire import Weather, simulate
    from qagent.fire.spread import DEFAULT_STENCIL
    from qagent.landscape import Landscape

    g = case["grids"]
    ls = Landscape(slope=g["slope"], aspect=g["aspect"], elevation=np.zeros_like(g["slope"]),
                   fuel_model=np.asarray(g["fuel_model"]).astype(np.int32), canopy_cover=g["canopy_cover"],
                   canopy_height=g["canopy_height"], canopy_base_height=g["canopy_base_height"],
                   canopy_bulk_density=g["canopy_bulk_density"], cell_size_m=case["cell_size_m"])
    weather = Weather(*(g[k] for k in WEATHER_FIELDS))
    r, c = case["ignition_rc"]
    ours = simulate(ls, [r * ls.width + c], weather, case["duration_min"], return_arrival=True,
                    stencil=stencil or DEFAULT_STENCIL, algorithm=algorithm)
    mine = torch.isfinite(ours.arrival_time_min[0]).numpy()[:, :-1]
    ref = case["reference"]["burned"][:, :-1]
    union = (mine | ref).sum()
    return {"name": case["name"], "jaccard": float((mine & ref).sum() / union) if union else 1.0,
            "area_error": float(mine.sum() / ref.sum() - 1.0) if ref.sum() else float(mine.sum() > 0),
            "burned_cells": int(mine.sum()), "reference_burned_cells": int(ref.sum()),
            "crown_fire": bool((case["reference"]["fire_type"] >= 2).any())}
