"""Landscapes: fuel, terrain and canopy layers on one grid, in SI units."""

from qagent.landscape.core import FLOAT_LAYERS, Landscape

__all__ = ["Landscape", "FLOAT_LAYERS"]
