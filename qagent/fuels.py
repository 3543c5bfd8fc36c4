"""The standard fuel models, once, for every layer: the codes the compiled physics knows and
how to name them.

The table itself lives in ``csrc/qagent/fuel_models.h``; this module reads it from the
extension (``qagent._C.fuel_model_table()``), and every list of codes (known, burnable,
non-burnable, Anderson 13, Scott & Burgan 40, a LANDFIRE product's codes) and every message that
names codes derives from it. It sits below ``qagent.landscape`` and ``qagent.fire`` (it imports
only ``qagent._ext``); ``qagent.fire.fuel_models`` is the fire layer's view of it.

Numbering (Scott & Burgan 2005): Anderson's 13 models keep their codes 1-13, the 40 models are
101 and up (families GR, GS, SH, TU, TL, SB in blocks of 20), and 91-99 are non-burnable.
"""

from __future__ import annotations

import functools

import numpy as np

from qagent import _ext

TABLE_COLUMNS = (
    "code", "burnable", "dynamic", "fuel_bed_depth_ft", "moisture_of_extinction_dead", "heat_content_btu_per_lb",
    "load_dead_1hr_lb_per_ft2", "load_dead_10hr_lb_per_ft2", "load_dead_100hr_lb_per_ft2",
    "load_live_herbaceous_lb_per_ft2", "load_live_woody_lb_per_ft2",
    "sav_dead_1hr_per_ft", "sav_live_herbaceous_per_ft", "sav_live_woody_per_ft",
)

# Scott & Burgan (2005) families of the 40 models: family -> first code of its block of 20.
SCOTT_BURGAN_FAMILIES = {"GR": 100, "GS": 120, "SH": 140, "TU": 160, "TL": 180, "SB": 200}
# Anderson (1982) groups of the 13 models.
ANDERSON_GROUPS = {"grass": (1, 2, 3), "shrub": (4, 5, 6, 7), "timber": (8, 9, 10), "slash": (11, 12, 13)}
# Scott & Burgan (2005) names of the non-burnable codes LANDFIRE's F40 product uses (others: reserved).
NON_BURNABLE_NAMES = {91: "NB1 urban", 92: "NB2 snow/ice", 93: "NB3 agriculture", 98: "NB8 open water",
                      99: "NB9 bare ground"}
WATER_CODE = 98
# Anderson's codes are below the non-burnable block, Scott & Burgan's above it.
_ANDERSON_BELOW = 91
_SCOTT_BURGAN_ABOVE = 100


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


@functools.lru_cache(maxsize=None)
def non_burnable_codes() -> tuple[int, ...]:
    t = fuel_model_table()
    return tuple(sorted(int(c) for c in t[t[:, 1] <= 0, 0]))


@functools.lru_cache(maxsize=None)
def anderson_codes() -> tuple[int, ...]:
    """The burnable Anderson 13 codes (LANDFIRE F13)."""
    return tuple(c for c in burnable_codes() if c < _ANDERSON_BELOW)


@functools.lru_cache(maxsize=None)
def scott_burgan_codes() -> tuple[int, ...]:
    """The burnable Scott & Burgan 40 codes (LANDFIRE F40)."""
    return tuple(c for c in burnable_codes() if c > _SCOTT_BURGAN_ABOVE)


def family_codes(family: str) -> tuple[int, ...]:
    """The codes of a Scott & Burgan family (``"GR"``, ..., ``"SB"``)."""
    first = SCOTT_BURGAN_FAMILIES[family]
    return tuple(c for c in scott_burgan_codes() if first < c < first + 20)


def product_codes(fuel: str) -> frozenset[int]:
    """The codes a LANDFIRE fuel product holds: ``"F40"`` (Scott & Burgan 40) or ``"F13"``
    (Anderson 13), with the non-burnable codes."""
    models = {"F40": scott_burgan_codes, "F13": anderson_codes}[fuel]()
    return frozenset(models) | frozenset(non_burnable_codes())


def is_burnable_code(codes) -> np.ndarray:
    return np.isin(np.asarray(codes), np.asarray(burnable_codes()))


@functools.lru_cache(maxsize=None)
def fuel_model_names() -> dict[int, str]:
    """Code -> short name (FM1-FM13, GR1 ... SB4, NB1 ... NB9; reserved codes "NB (reserved)")."""
    names = {c: f"FM{c}" for c in anderson_codes()}
    for family, first in SCOTT_BURGAN_FAMILIES.items():
        names.update({c: f"{family}{c - first}" for c in family_codes(family)})
    names.update({c: NON_BURNABLE_NAMES.get(c, "NB (reserved)") for c in non_burnable_codes()})
    return dict(sorted(names.items()))


def format_ranges(codes) -> str:
    """Sorted codes as ranges: ``[1, 2, 3, 5, 91, 92]`` -> ``"1-3, 5, 91-92"``."""
    out, run = [], []
    for c in sorted(int(c) for c in set(codes)):
        if run and c != run[-1] + 1:
            out.append(run)
            run = []
        run.append(c)
    if run:
        out.append(run)
    return ", ".join(f"{r[0]}-{r[-1]}" if len(r) > 1 else f"{r[0]}" for r in out)


def known_codes_text() -> str:
    """What the known codes are, for messages: Anderson ..., Scott & Burgan ..., non-burnable ..."""
    return (f"Anderson {format_ranges(anderson_codes())}, Scott & Burgan {format_ranges(scott_burgan_codes())} "
            f"and non-burnable {format_ranges(non_burnable_codes())}")


def product_codes_text(fuel: str) -> str:
    """What a LANDFIRE fuel product's codes are, for messages."""
    name = {"F40": "Scott & Burgan 40", "F13": "Anderson 13"}[fuel]
    return f"{name} ({fuel}) codes are {format_ranges(product_codes(fuel))}"
