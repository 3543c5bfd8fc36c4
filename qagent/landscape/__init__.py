"""Landscapes: fuel, terrain and canopy layers on one grid, in SI units."""

from qagent.landscape.core import FLOAT_LAYERS, Landscape
from qagent.landscape.synthetic import describe, synthetic

__all__ = ["Landscape", "FLOAT_LAYERS", "synthetic", "describe"]
