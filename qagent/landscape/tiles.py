"""Tiles of a landscape, and tile datasets on disk to train on.

``tiles(landscape, size, stride)`` cuts a landscape into square windows (with their origins
and georeferencing); ``write_tile_dataset`` stores them on disk (console: ``qagent-tiles``);
``TileDataset`` loads such a dataset, or the original QNetFires project's tile folders (found
by ``qagent.landscape.legacy_tiles``), and serves every tile once per epoch in a fresh random
order, as that project's raster manager did with its 500 tiles. This module imports
``core`` and ``landfire``; neither imports it.

Windows start at rows and columns 0, stride, 2 stride, ... and lie wholly inside the grid
(no padded edge tiles), as in the original project's tiler (``src/scripts/download.py``).

Dataset format (a folder; readable with numpy alone, no rasterio or GDAL)
--------------------------------------------------------------------------
- ``index.json``: ``format`` ("qagent-tile-dataset"), ``format_version`` (1),
  ``qagent_version``, ``name``, ``source`` (where the tiles came from), ``source_shape``
  [rows, cols], ``tile_size``, ``stride``, ``max_nodata_fraction``, ``cell_size_m``,
  ``transform`` (the source grid's affine coefficients [a, b, c, d, e, f] in GDAL/rasterio
  order, or null), ``crs`` (WKT, or null), ``count`` (N), ``origins`` ([row0, col0] of each
  tile in the source grid), ``layers`` (layer -> file, dtype, unit).
- One ``.npy`` array of shape [N, size, size] per layer: ``slope``, ``aspect``,
  ``elevation``, ``canopy_cover``, ``canopy_height``, ``canopy_base_height``,
  ``canopy_bulk_density`` (float32, SI units as in :class:`Landscape`), ``fuel_model``
  (int16 codes) and ``nodata_mask`` (bool).

Stacked per-layer arrays rather than a file per tile: a dataset of any size opens with a
dozen file reads, is memory-mapped (a tile is read from disk only when asked for), and loads
into RAM in one sequential read per layer. ``index.json`` is written last, so a folder without
it is an unfinished dataset.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from qagent import _cli, fuels
from qagent._validation import InputError
from qagent.landscape.core import FLOAT_LAYERS, Landscape
from qagent.landscape.landfire import load_landfire
from qagent.landscape.legacy_tiles import LAYOUT, TILE_LAYOUT_LAYERS, is_tile_layout, tile_keys

FORMAT = "qagent-tile-dataset"
FORMAT_VERSION = 1
INDEX_FILE = "index.json"
_CHUNK_TILES = 1024  # tiles gathered per write: bounds memory whatever the dataset's size
_LAYER_DTYPES = {**{name: np.float32 for name in FLOAT_LAYERS}, "fuel_model": np.int16, "nodata_mask": np.bool_}
_LAYER_UNITS = {**{name: unit for name, (_, _, unit) in FLOAT_LAYERS.items()},
                "fuel_model": f"fuel model code ({fuels.known_codes_text()})",
                "nodata_mask": "true where the source held no data (non-burnable)"}


# ---------------------------------------------------------------------------------- tiling
def _check_tiling(shape: tuple[int, int], size, stride, max_nodata_fraction) -> tuple[int, int, float]:
    for name, value in (("size", size), ("stride", stride)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise InputError(f"{name}: must be a positive integer number of cells, got {value!r}")
    if size > min(shape):
        raise InputError(f"size: {size}-cell tiles do not fit the landscape's {shape[0]} x {shape[1]} grid")
    if isinstance(max_nodata_fraction, bool) or not isinstance(max_nodata_fraction, (int, float, np.number)) \
            or not 0.0 <= max_nodata_fraction <= 1.0:
        raise InputError(f"max_nodata_fraction: must be a fraction in [0, 1], got {max_nodata_fraction!r}")
    return int(size), int(stride), float(max_nodata_fraction)


def tile_origins(landscape: Landscape, size: int = 50, stride: int = 25,
                 max_nodata_fraction: float = 0.0) -> np.ndarray:
    """[N, 2] int64 (row0, col0) of the ``size`` x ``size`` windows at multiples of ``stride``
    that lie inside the grid and have at most ``max_nodata_fraction`` nodata cells, in row-major
    order. Nodata counts come from a summed-area table (Crow 1984, "Summed-area tables for
    texture mapping", SIGGRAPH 18(3):207-212): four lookups per window."""
    if not isinstance(landscape, Landscape):
        raise InputError(f"landscape: expected a qagent.landscape.Landscape, got {type(landscape).__name__}")
    h, w = landscape.shape
    size, stride, max_nodata_fraction = _check_tiling((h, w), size, stride, max_nodata_fraction)
    rows, cols = np.meshgrid(np.arange(0, h - size + 1, stride), np.arange(0, w - size + 1, stride), indexing="ij")
    rows, cols = rows.ravel(), cols.ravel()
    if landscape.nodata_mask is not None:
        sat = np.zeros((h + 1, w + 1), dtype=np.int64)
        sat[1:, 1:] = landscape.nodata_mask.cpu().numpy().cumsum(0).cumsum(1)
        count = sat[rows + size, cols + size] - sat[rows, cols + size] - sat[rows + size, cols] + sat[rows, cols]
        keep = count <= np.floor(max_nodata_fraction * size * size + 1e-9)
        rows, cols = rows[keep], cols[keep]
    return np.stack([rows, cols], axis=1).astype(np.int64)


def window_transform(transform, row0: int, col0: int):
    """The affine transform of the window whose top-left cell is (row0, col0): the source's
    transform translated by (col0, row0) cells. Keeps the type given (affine.Affine or a
    sequence of its coefficients); None stays None."""
    if transform is None:
        return None
    a, b, c, d, e, f = (float(v) for v in tuple(transform)[:6])
    shifted = (a, b, a * col0 + b * row0 + c, d, e, d * col0 + e * row0 + f)
    try:
        from affine import Affine
    except ImportError:
        return shifted
    return Affine(*shifted) if isinstance(transform, Affine) else shifted


def _window(landscape: Landscape, row0: int, col0: int, size: int) -> Landscape:
    """A copy (not a view: editing a tile's fuel must not edit its source) of one window."""
    sl = (slice(row0, row0 + size), slice(col0, col0 + size))
    layers = {name: getattr(landscape, name)[sl].clone() for name in (*FLOAT_LAYERS, "fuel_model")}
    mask = landscape.nodata_mask[sl].clone() if landscape.nodata_mask is not None else None
    return Landscape(**layers, cell_size_m=landscape.cell_size_m, nodata_mask=mask,
                     transform=window_transform(landscape.transform, row0, col0), crs=landscape.crs,
                     device=landscape.device)


def tiles(landscape: Landscape, size: int = 50, stride: int = 25,
          max_nodata_fraction: float = 0.0) -> Iterator[tuple[int, int, Landscape]]:
    """Yield ``(row0, col0, tile)`` for the windows of :func:`tile_origins`, each tile a
    :class:`Landscape` of ``size`` x ``size`` cells with its own nodata mask and the transform
    of its window (so a result on a tile can be saved as a GeoTIFF in place). Arguments are
    checked at the call, not at the first tile."""
    origins = tile_origins(landscape, size, stride, max_nodata_fraction)

    def generate():
        for row0, col0 in origins.tolist():
            yield row0, col0, _window(landscape, row0, col0, int(size))

    return generate()


# ---------------------------------------------------------------------------------- writing
def _as_landscape(source, layers, fuel, cell_size_m) -> tuple[Landscape, str | dict[str, str]]:
    if isinstance(source, Landscape):
        if layers is not None or cell_size_m is not None:
            raise InputError("layers, cell_size_m: only apply when reading a source, not to a Landscape")
        return source, "Landscape"
    loaded = load_landfire(source, layers, fuel=fuel, cell_size_m=cell_size_m)
    described = {k: str(v) for k, v in source.items()} if isinstance(source, Mapping) else str(source)
    return loaded, described


def _prepare_out_dir(out_dir: Path, overwrite: bool) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"out_dir: {out_dir} exists and is not a folder")
    if out_dir.is_dir() and any(out_dir.iterdir()):
        ours = {INDEX_FILE, *(f"{name}.npy" for name in _LAYER_DTYPES)}
        present = {p.name for p in out_dir.iterdir()}
        if not overwrite:
            raise InputError(f"out_dir: {out_dir} is not empty; pass overwrite=True (--overwrite) to replace "
                             "a tile dataset there")
        if not (out_dir / INDEX_FILE).is_file() or present - ours:
            raise InputError(f"out_dir: {out_dir} holds files that are not a tile dataset's "
                             f"({', '.join(sorted(present - ours)[:5]) or 'no index.json'}); not overwriting it")
        (out_dir / INDEX_FILE).unlink()  # first: a half-replaced dataset must not look complete
        for name in present - {INDEX_FILE}:
            (out_dir / name).unlink()
    out_dir.mkdir(parents=True, exist_ok=True)


def _crs_wkt(crs) -> str | None:
    if crs is None:
        return None
    return crs.to_wkt() if hasattr(crs, "to_wkt") else str(crs)


def write_tile_dataset(landscape_or_source, out_dir, size: int = 50, stride: int = 25,
                       max_nodata_fraction: float = 0.0, name: str | None = None, *,
                       layers: Mapping[str, Any] | None = None, fuel: str = "F40",
                       cell_size_m: float | None = None, overwrite: bool = False) -> "TileDataset":
    """Cut a landscape (a :class:`Landscape`, or any source :func:`load_landfire` reads, with
    its ``layers``, ``fuel`` and ``cell_size_m``) into the tiles of :func:`tiles` and store them
    in ``out_dir`` in the format of the module docstring. ``name`` defaults to the source
    folder's name. An existing dataset in ``out_dir`` is replaced only with ``overwrite``;
    other files there are never deleted. Tiles are written through memory maps in chunks, so
    memory stays bounded whatever the number of tiles. Returns the :class:`TileDataset`."""
    from qagent import __version__

    landscape, source = _as_landscape(landscape_or_source, layers, fuel, cell_size_m)
    origins = tile_origins(landscape, size, stride, max_nodata_fraction)
    if name is None:
        name = Path(landscape_or_source).name if isinstance(landscape_or_source, (str, Path)) else "landscape"
    out_dir = Path(out_dir)
    _prepare_out_dir(out_dir, overwrite)

    size = int(size)
    rows, cols = origins[:, 0], origins[:, 1]
    offsets = np.arange(size)
    for layer, dtype in _LAYER_DTYPES.items():
        grid = getattr(landscape, layer)
        grid = (grid.cpu().numpy() if grid is not None else np.zeros(landscape.shape, dtype=bool)).astype(dtype)
        out = np.lib.format.open_memmap(out_dir / f"{layer}.npy", mode="w+", dtype=dtype,
                                        shape=(len(origins), size, size))
        for start in range(0, len(origins), _CHUNK_TILES):
            r, c = rows[start:start + _CHUNK_TILES], cols[start:start + _CHUNK_TILES]
            out[start:start + len(r)] = grid[(r[:, None] + offsets)[:, :, None], (c[:, None] + offsets)[:, None, :]]
        out.flush()
        del out

    transform = landscape.transform
    index = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "qagent_version": __version__,
        "name": str(name), "source": source, "source_shape": list(landscape.shape),
        "tile_size": size, "stride": int(stride), "max_nodata_fraction": float(max_nodata_fraction),
        "cell_size_m": landscape.cell_size_m,
        "transform": [float(v) for v in tuple(transform)[:6]] if transform is not None else None,
        "crs": _crs_wkt(landscape.crs), "count": len(origins), "origins": origins.tolist(),
        "layers": {layer: {"file": f"{layer}.npy", "dtype": np.dtype(dtype).name, "unit": _LAYER_UNITS[layer]}
                   for layer, dtype in _LAYER_DTYPES.items()},
    }
    (out_dir / INDEX_FILE).write_text(json.dumps(index, indent=1))
    return TileDataset(out_dir)


# ---------------------------------------------------------------------------------- reading
def _rng(rng) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or (isinstance(rng, (int, np.integer)) and not isinstance(rng, bool) and rng >= 0):
        return np.random.default_rng(rng)
    raise InputError(f"rng: expected a numpy Generator, a non-negative integer seed or None, got {rng!r}")


def _georeferencing(transform, crs_wkt):
    """The index's transform and CRS as affine.Affine and rasterio CRS where those packages are
    installed, else as a 6-tuple and the WKT string."""
    if transform is not None:
        try:
            from affine import Affine

            transform = Affine(*transform)
        except ImportError:
            transform = tuple(transform)
    crs = crs_wkt
    if crs_wkt is not None:
        try:
            from rasterio.crs import CRS

            crs = CRS.from_wkt(crs_wkt)
        except ImportError:
            pass
    return transform, crs


class TileDataset:
    """Tiles on disk: a folder written by :func:`write_tile_dataset` (or ``qagent-tiles``), or
    a root of the original project's layout ``<root>/<layer>/<name>_<k>_<layer>.tif`` (its
    tiles k in increasing order; reading those needs rasterio).

    ``len(ds)``, ``ds[i]`` (a :class:`Landscape` with its window's transform and the source's
    CRS), iteration in stored order, ``ds.epoch(rng)`` (every tile once, in a random order) and
    ``ds.cycle(seed)`` (epochs without end, a fresh order each). ``origins`` gives each tile's
    (row0, col0) in the source grid (None for the original layout, whose tiles carry only
    their own transforms); ``keys`` the original layout's tile numbers k. Tiles are read from
    memory-mapped arrays when asked for; ``device`` is where their tensors go.
    """

    def __init__(self, path, *, device=None):
        self.path = Path(path)
        self.device = device
        self.origins: np.ndarray | None = None
        self.keys: list[int] | None = None
        if (self.path / INDEX_FILE).is_file():
            self._open_dataset()
        elif self.path.is_dir() and is_tile_layout(self.path):
            self._open_tile_layout()
        elif self.path.is_dir():
            raise InputError(f"{self.path}: neither a tile dataset (no {INDEX_FILE}) nor the tile layout "
                             f"{LAYOUT} (folders {' '.join(TILE_LAYOUT_LAYERS)})")
        else:
            raise InputError(f"{self.path}: no such folder")

    def _open_dataset(self) -> None:
        index_path = self.path / INDEX_FILE
        try:
            index = json.loads(index_path.read_text())
        except (OSError, ValueError) as e:
            raise InputError(f"{index_path}: cannot be read as JSON ({e})") from None
        if not isinstance(index, dict) or index.get("format") != FORMAT:
            raise InputError(f"{index_path}: not a {FORMAT} index")
        if index.get("format_version") != FORMAT_VERSION:
            raise InputError(f"{index_path}: format_version {index.get('format_version')!r}; this qagent reads "
                             f"version {FORMAT_VERSION}")
        try:
            n, size = int(index["count"]), int(index["tile_size"])
            self.origins = np.asarray(index["origins"], dtype=np.int64).reshape(-1, 2)
            files = {layer: self.path / index["layers"][layer]["file"] for layer in _LAYER_DTYPES}
            self.name, self._cell_size_m = str(index["name"]), float(index["cell_size_m"])
            self._transform, self._crs = _georeferencing(index["transform"], index["crs"])
        except (KeyError, TypeError, ValueError) as e:
            raise InputError(f"{index_path}: a field is missing or malformed ({type(e).__name__}: {e})") from None
        if len(self.origins) != n:
            raise InputError(f"{index_path}: {len(self.origins)} origins for {n} tiles")
        self.metadata = index
        self._arrays = {}
        for layer, dtype in _LAYER_DTYPES.items():
            file = files[layer]
            try:
                array = np.load(file, mmap_mode="r", allow_pickle=False)
            except (OSError, ValueError) as e:
                raise InputError(f"{file}: cannot be read as a .npy array ({e})") from None
            if array.shape != (n, size, size) or array.dtype != dtype:
                raise InputError(f"{file}: holds {array.dtype} {array.shape}; the index says "
                                 f"{np.dtype(dtype).name} {(n, size, size)}")
            self._arrays[layer] = array

    def _open_tile_layout(self) -> None:
        self.keys = tile_keys(self.path)
        self.name = self.path.name
        self.metadata = {"name": self.name, "source": str(self.path), "count": len(self.keys),
                         "layout": LAYOUT}

    def __len__(self) -> int:
        return len(self.keys) if self.keys is not None else len(self.origins)

    def __getitem__(self, i: int) -> Landscape:
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)):
            raise TypeError(f"tile indices are integers, got {type(i).__name__}")
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"tile {i} out of range for {n} tiles")
        i = int(i) % n
        if self.keys is not None:
            return load_landfire((self.path, self.keys[i]), device=self.device)
        row0, col0 = (int(v) for v in self.origins[i])
        layers = {layer: torch.from_numpy(np.array(self._arrays[layer][i])) for layer in _LAYER_DTYPES}
        return Landscape(**layers, cell_size_m=self._cell_size_m,
                         transform=window_transform(self._transform, row0, col0), crs=self._crs, device=self.device)

    def __iter__(self) -> Iterator[Landscape]:
        return (self[i] for i in range(len(self)))

    def epoch(self, rng=None) -> Iterator[tuple[int, Landscape]]:
        """Every tile exactly once, as ``(index, tile)``, in the order of a random permutation
        drawn from ``rng`` (a numpy Generator, which advances, or an integer seed)."""
        order = _rng(rng).permutation(len(self))
        return ((int(i), self[int(i)]) for i in order)

    def cycle(self, seed=None) -> Iterator[tuple[int, Landscape]]:
        """Epochs without end: each one serves every tile once, in a fresh random order drawn
        from one ``numpy.random.default_rng(seed)`` (so a seed fixes the whole sequence)."""
        if len(self) == 0:
            raise InputError(f"{self.path}: the dataset has no tiles to cycle through")
        rng = _rng(seed)

        def generate():
            while True:
                yield from self.epoch(rng)

        return generate()

    def __repr__(self) -> str:
        return f"TileDataset({str(self.path)!r}, tiles={len(self)})"


# ---------------------------------------------------------------------------------- console
def _parse_layer(text: str) -> tuple[str, str]:
    key, sep, path = text.partition("=")
    if not sep or not key or not path:
        raise argparse.ArgumentTypeError(f"expected KEY=PATH, got {text!r}")
    return key, path


def tiles_parser() -> argparse.ArgumentParser:
    """The command line of ``qagent-tiles``."""
    parser = argparse.ArgumentParser(
        prog="qagent-tiles",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Cut a set of LANDFIRE GeoTIFFs into square tiles and store them as a tile dataset\n"
                    "that qagent.landscape.tiles.TileDataset(OUT) loads, with numpy alone, for training.",
        epilog="""\
SRC is a folder of LANDFIRE products recognised by the product token in their names
(Elev, SlpP or SlpD, Asp, F40 or F13, CC, CH, CBH, CBD; e.g. LC20_SlpP_220.tif). Layers are
converted to SI units; nodata cells become non-burnable (fuel model 99) and are masked.
Tiles are the size x size windows at multiples of stride that lie inside the grid.

OUT gets index.json (tile origins, the source's transform and CRS, units, qagent version)
and one [N, size, size] .npy array per layer (float32 SI layers, int16 fuel model codes,
bool nodata mask).

example:
  qagent-tiles ../shared/landfire/worcester_vt tiles/worcester --size 50 --stride 25
""",
    )
    parser.add_argument("src", metavar="SRC", help="folder of LANDFIRE GeoTIFFs (or one tile of the original "
                                                   "<root>/<layer>/<name>_<k>_<layer>.tif layout)")
    parser.add_argument("out", metavar="OUT", help="folder to write the tile dataset to (created; must be empty "
                                                   "unless --overwrite)")
    parser.add_argument("--size", type=_cli.positive_int, default=50, metavar="CELLS",
                        help="tile side in cells (default: 50)")
    parser.add_argument("--stride", type=_cli.positive_int, default=25, metavar="CELLS",
                        help="step between tile origins in cells; less than --size overlaps tiles (default: 25)")
    parser.add_argument("--max-nodata-fraction", type=_cli.unit_interval, default=0.0, metavar="F",
                        help="keep tiles with at most this fraction of nodata cells, in [0, 1] (default: 0, no nodata)")
    _cli.add_fuel_argument(parser)
    parser.add_argument("--layer", action="append", type=_parse_layer, default=[], metavar="KEY=PATH",
                        help="use PATH for one layer (keys: elevation, slope_percent, slope_degrees, aspect, "
                             "fuel_model, canopy_cover, canopy_height, canopy_base_height, canopy_bulk_density); "
                             "repeatable")
    parser.add_argument("--cell-size-m", type=_cli.positive_float, default=None, metavar="M",
                        help="cell side in m (> 0), only for rasters without a projected CRS")
    parser.add_argument("--name", default=None, help="dataset name stored in index.json (default: SRC's name)")
    parser.add_argument("--overwrite", action="store_true", help="replace a tile dataset already in OUT")
    return parser


def main(argv: list[str] | None = None) -> int:
    """``qagent-tiles SRC OUT``: cut LANDFIRE rasters into a tile dataset."""
    args = tiles_parser().parse_args(argv)
    start = time.perf_counter()
    try:
        ds = write_tile_dataset(args.src, args.out, size=args.size, stride=args.stride,
                                max_nodata_fraction=args.max_nodata_fraction, name=args.name,
                                layers=dict(args.layer) or None, fuel=args.fuel, cell_size_m=args.cell_size_m,
                                overwrite=args.overwrite)
    except (InputError, ImportError) as e:
        print(f"qagent-tiles: error: {e}", file=sys.stderr)
        return 2
    shape = ds.metadata["source_shape"]
    print(f"wrote {len(ds)} tiles of {args.size} x {args.size} cells (stride {args.stride}, at most "
          f"{100 * args.max_nodata_fraction:g} % nodata) from {args.src} ({shape[0]} x {shape[1]} cells) to "
          f"{args.out} in {time.perf_counter() - start:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
