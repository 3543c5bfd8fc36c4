"""Crop every GeoTIFF of a LANDFIRE folder to a column range, keeping the georeferencing, so
that a part of a raster can be planned on as a whole landscape of its own.

The evaluation of the default agent uses it to split Worcester as the tiles are split
(``qagent.env.sources``: the eastern ``DEFAULT_EVAL_FRACTION`` = 20 % of the columns is held
out): the western part (a whole raster whose cells training tiles saw, for choosing plan
settings) and the eastern part (a whole raster no training tile touched).

    python benchmarks/crop_landfire.py --landfire ../shared/landfire/worcester_vt --part east \\
        --out runs/worcester_east
"""

from __future__ import annotations

import argparse
from pathlib import Path

from qagent.env.sources import DEFAULT_EVAL_FRACTION


def crop(folder: Path, out: Path, first_col: int, last_col: int) -> None:
    """Columns [first_col, last_col) of every .tif in ``folder`` into ``out`` (other files,
    e.g. a README, are not copied)."""
    import rasterio
    from rasterio.windows import Window, transform as window_transform

    out.mkdir(parents=True, exist_ok=False)
    for path in sorted(folder.glob("*.tif")):
        with rasterio.open(path) as src:
            window = Window(first_col, 0, last_col - first_col, src.height)
            profile = src.profile | {"width": window.width, "height": window.height,
                                     "transform": window_transform(window, src.transform)}
            profile.pop("blockxsize", None), profile.pop("blockysize", None), profile.pop("tiled", None)
            with rasterio.open(out / path.name, "w", **profile) as dst:
                dst.write(src.read(window=window))
                for band in range(1, src.count + 1):
                    dst.set_band_description(band, src.descriptions[band - 1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--landfire", required=True, metavar="DIR")
    p.add_argument("--part", required=True, choices=["west", "east"],
                   help="west: the training region's columns; east: the held-out evaluation region's")
    p.add_argument("--out", required=True, metavar="DIR")
    a = p.parse_args()
    import rasterio

    folder = Path(a.landfire)
    with rasterio.open(sorted(folder.glob("*.tif"))[0]) as src:
        width = src.width
    boundary = int(round(width * (1.0 - DEFAULT_EVAL_FRACTION)))  # as qagent.env.sources._spatial_split
    first, last = (0, boundary) if a.part == "west" else (boundary, width)
    crop(folder, Path(a.out), first, last)
    print(f"wrote {a.out}: columns {first}..{last - 1} of {width}")


if __name__ == "__main__":
    main()
