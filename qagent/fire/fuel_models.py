"""The standard fuel models known to the compiled physics (Anderson 1982: codes 1-13;
Scott & Burgan 2005: 101-204; non-burnable 91-99). The table itself lives once, in
``csrc/qagent/fuel_models.h``; this module reads it from the extension."""

from __future__ import annotations

import functools

import numpy as np

from qagent import _ext

# Scott & Burgan (2005) names of the codes LANDFIRE's F40 product uses.
FUEL_MODEL_NAMES: dict[int, str] = {
    **{c: f"FM{c}" for c in range(1, 14)},
    91: "NB1 urban", 92: "NB2 snow/ice", 93: "NB3 agriculture", 94: "NB (reserved)", 95: "NB (reserved)",
    96: "NB (reserved)", 97: "NB (reserved)", 98: "NB8 open water", 99: "NB9 bare ground",
    **{100 + i: f"GR{i}" for i in range(1, 10)},
    **{120 + i: f"GS{i}" for i in range(1, 5)},
    **{140 + i: f"SH{i}" for i in range(1, 10)},
    **{160 + i: f"TU{i}" for i in range(1, 6)},
    **{180 + i: f"TL{i}" for i in range(1, 10)},
    **{200 + i: f"SB{i}" for i in range(1, 5)},
}

TABLE_COLUMNS = (
    "code", "burnable", "dynamic", "fuel_bed_depth_ft", "moisture_of_extinction_dead", "heat_content_btu_per_lb",
    "load_dead_1hr_lb_per_ft2", "load_dead_10hr_lb_per_ft2", "load_dead_100hr_lb_per_ft2",
    "load_live_herbaceous_lb_per_ft2", "load_live_woody_lb_per_ft2",
    "sav_dead_1hr_per_ft", "sav_live_herbaceous_per_ft", "sav_live_woody_per_ft",
)


@functools.lru_cache(maxsize=None)
def fuel_model_table() -> np.ndarray:
    """[n, 14] float64 array, columns TABLE_COLUMNS, one row per known code."""
    return np.asarray(_ext.load().fuel_model_table(), dtype=np.float64)


@functools.lru_cache(maxsize=None)
def known_codes() -> frozenset[int]:
    return frozenset(int(c) for c in fuel_model_table()[:, 0])


@functools.lru_cache(maxsize=None)
def burnable_codes() -> tuple[int, ...]:
    t = fuel_model_table()
    return tuple(int(c) for c in t[t[:, 1] > 0, 0])


def is_burnable_code(codes) -> np.ndarray:
    return np.isin(np.asarray(codes), np.asarray(burnable_codes()))
