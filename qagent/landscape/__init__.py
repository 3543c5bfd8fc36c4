"""Landscapes: fuel, terrain and canopy layers on one grid, in SI units; LANDFIRE GeoTIFFs and
FlamMap .lcp files in, GeoTIFFs out; tiles and tile datasets; synthetic landscapes and values at
risk. The lowest layer above the base utilities: it imports nothing from ``qagent.fire``,
``qagent.env`` or above (what the agent observes is ``qagent.env.observation``)."""

from qagent.landscape.core import FLOAT_LAYERS, Landscape  # noqa: I001  (core first)
from qagent.landscape.landfire import load_landfire, load_values, save_geotiff
from qagent.landscape.synthetic import describe, synthetic, synthetic_habitat, synthetic_values
from qagent.landscape.tiles import TileDataset, tile_origins, tiles, write_tile_dataset

__all__ = [
    "Landscape", "FLOAT_LAYERS", "load_landfire", "load_values", "save_geotiff",
    "synthetic", "synthetic_habitat", "synthetic_values",
    "describe",
    "tiles", "tile_origins", "write_tile_dataset", "TileDataset",
]
