"""The fire layer's view of the standard fuel models (Anderson 1982, Scott & Burgan 2005):
the compiled table and the code lists, re-exported from ``qagent.fuels`` (below both
``qagent.landscape`` and ``qagent.fire``), where they are defined once."""

from __future__ import annotations

from qagent.fuels import (TABLE_COLUMNS, anderson_codes, burnable_codes, fuel_model_names, fuel_model_table,
                          is_burnable_code, known_codes, non_burnable_codes, scott_burgan_codes)

# Scott & Burgan (2005) names of the codes LANDFIRE's F40 product uses.
FUEL_MODEL_NAMES: dict[int, str] = fuel_model_names()

__all__ = ["FUEL_MODEL_NAMES", "TABLE_COLUMNS", "fuel_model_table", "known_codes", "burnable_codes",
           "non_burnable_codes", "anderson_codes", "scott_burgan_codes", "is_burnable_code"]
