"""The legacy tile layout of QNetFires, the project QAgent grew from (docs/history.md):
``<root>/<layer>/<name>_<k>_<layer>.tif`` with layer folders ``slp asp dem cc cbd cbh ch fbfm``.

The layers hold LANDFIRE products in LANDFIRE's units, slope in degrees and ``fbfm`` Scott &
Burgan codes. This module only finds the files (which folders make a root, tile k's eight
files, the tiles a root holds); ``qagent.landscape.landfire.load_landfire`` reads a tile and
``qagent.landscape.tiles.TileDataset`` serves a whole root. It imports only the base utilities.
"""

from __future__ import annotations

import re
from pathlib import Path

from qagent._validation import InputError

# Layer folder -> LANDFIRE layer key (slope in degrees).
TILE_LAYOUT_LAYERS = {"slp": "slope_degrees", "asp": "aspect", "dem": "elevation", "cc": "canopy_cover",
                      "cbd": "canopy_bulk_density", "cbh": "canopy_base_height", "ch": "canopy_height",
                      "fbfm": "fuel_model"}
LAYOUT = "<root>/<layer>/<name>_<k>_<layer>.tif"
TILE_FILE = re.compile(r"^(?P<name>.+)_(?P<k>\d+)_(?P<layer>" + "|".join(TILE_LAYOUT_LAYERS) + r")\.tif$")


def is_tile_layout(folder) -> bool:
    """Whether ``folder`` is a root of the QNetFires tile layout (it has all the layer
    folders ``slp asp dem cc cbd cbh ch fbfm``)."""
    folder = Path(folder)
    return all((folder / name).is_dir() for name in TILE_LAYOUT_LAYERS)


def tile_layers(root: Path, k: int) -> dict[str, Path]:
    """Layer key -> path of tile ``k`` of the layout root ``root``."""
    layers = {}
    for folder, key in TILE_LAYOUT_LAYERS.items():
        expected = root / folder / f"{root.name}_{k}_{folder}.tif"
        if expected.is_file():
            layers[key] = expected
            continue
        matches = sorted(root.glob(f"{folder}/*_{k}_{folder}.tif")) if (root / folder).is_dir() else []
        if len(matches) > 1:
            raise InputError(f"{root / folder}: several files for tile {k}: {', '.join(p.name for p in matches)}")
        if not matches:
            raise InputError(f"{root}: tile {k} has no {folder} layer (looked for {expected})")
        layers[key] = matches[0]
    return layers


def tile_keys(root: Path) -> list[int]:
    """The tile numbers k of a layout root, in increasing order; refuses a root where a tile
    lacks a layer."""
    found: dict[str, set[int]] = {}
    for folder in TILE_LAYOUT_LAYERS:
        found[folder] = {int(p.stem.rsplit("_", 2)[-2]) for p in (root / folder).glob(f"*_*_{folder}.tif")
                         if p.stem.rsplit("_", 2)[-2].isdigit()}
    every = set.union(*found.values())
    for folder, keys in found.items():
        if keys != every:
            k = min(every - keys)
            raise InputError(f"{root / folder}: tile {k} has no {folder} layer "
                             f"({len(every - keys)} tiles lack one)")
    return sorted(every)
