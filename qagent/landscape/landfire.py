"""Real landscapes: LANDFIRE GeoTIFFs in (``load_landfire``), results out (``save_geotiff``).

``load_landfire`` reads a folder of LANDFIRE GeoTIFFs (products recognised by the token in each
file name: Elev, SlpP/SlpD, Asp, F40/F13, CC, CH, CBH, CBD), an explicit mapping of layer to
path, QNetFires tiles (``qagent.landscape.legacy_tiles``) or a FlamMap / FARSITE ``.lcp`` (GDAL's
LCP driver, units from its header), and converts every layer to SI. Nodata cells (GDAL masks or
LANDFIRE's fill values) become non-burnable bare ground recorded in ``Landscape.nodata_mask``.
Every problem raises ``InputError`` naming the file (and band) and what is wrong. The tables of
products, storage units and conversions, with their sources: docs/landfire_inputs.md.
rasterio is needed to read and write GeoTIFFs; without it these functions raise ``ImportError``.
"""

from __future__ import annotations

import logging
import math
import re
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from qagent import fuels
from qagent._validation import InputError
from qagent.landscape.core import FLOAT_LAYERS, Landscape, check_ignition_density, check_values
from qagent.landscape.legacy_tiles import TILE_FILE, TILE_LAYOUT_LAYERS, is_tile_layout, tile_layers

log = logging.getLogger(__name__)

# ---------------------------------------------------------------------------------- products
LANDFIRE_FILL_VALUES = (-9999, -32768, 32767)
NODATA_FUEL_MODEL = 99  # NB9 bare ground (Scott & Burgan 2005)


@dataclass(frozen=True)
class _Product:
    """One layer as LANDFIRE stores it: its physical range in the stored unit, the Landscape
    field it fills, its conversion to SI, and a hint for values out of range."""

    what: str
    unit: str
    lo: float
    hi: float
    field: str
    to_si: Callable[[np.ndarray], np.ndarray]
    hint: str = ""


# Slope rise/run of at most 10 (Landscape's range) is at most atan(10) = 84.29 degrees.
_MAX_SLOPE_DEGREES = math.degrees(math.atan(10.0))

PRODUCTS: dict[str, _Product] = {
    "elevation": _Product("elevation", "m", -500.0, 9000.0, "elevation", lambda a: a),
    "slope_percent": _Product(
        "slope", "percent rise", 0.0, 1000.0, "slope", lambda a: a * 0.01,
        "a slope layer in percent rise (SlpP) is at most 1000 % (rise/run 10)"),
    "slope_degrees": _Product(
        "slope", "degrees", 0.0, _MAX_SLOPE_DEGREES, "slope", lambda a: np.tan(np.radians(a)),
        "values this large suggest percent rise: name the file SlpP or pass it as slope_percent"),
    "aspect": _Product(
        "aspect", "degrees", -1.0, 360.0, "aspect", lambda a: np.where(a < 0.0, 0.0, a),
        "LANDFIRE aspect is 0-359 degrees clockwise from north, -1 where flat"),
    "canopy_cover": _Product(
        "canopy cover", "percent", 0.0, 100.0, "canopy_cover", lambda a: a * 0.01,
        "LANDFIRE CC is percent cover, 0-100"),
    "canopy_height": _Product(
        "canopy height", "m x 10", 0.0, 1500.0, "canopy_height", lambda a: a * 0.1,
        "LANDFIRE CH is metres x 10 (150 m at most)"),
    "canopy_base_height": _Product(
        "canopy base height", "m x 10", 0.0, 1000.0, "canopy_base_height", lambda a: a * 0.1,
        "LANDFIRE CBH is metres x 10 (100 m at most)"),
    "canopy_bulk_density": _Product(
        "canopy bulk density", "kg/m3 x 100", 0.0, 200.0, "canopy_bulk_density", lambda a: a * 0.01,
        "LANDFIRE CBD is kg/m3 x 100 (2 kg/m3 at most)"),
}

LAYER_KEYS = ("elevation", "slope_percent", "slope_degrees", "aspect", "fuel_model", "canopy_cover",
              "canopy_height", "canopy_base_height", "canopy_bulk_density")
_SLOPE_KEYS = ("slope_percent", "slope_degrees")
_REQUIRED = ("elevation", "slope", "aspect", "fuel_model", "canopy_cover", "canopy_height",
             "canopy_base_height", "canopy_bulk_density")

# File-name tokens of LANDFIRE products (lower case) -> layer key; fuel tokens -> F40/F13.
_TOKENS = {"elev": "elevation", "slpp": "slope_percent", "slpd": "slope_degrees", "asp": "aspect",
           "cc": "canopy_cover", "ch": "canopy_height", "cbh": "canopy_base_height",
           "cbd": "canopy_bulk_density", "f40": "F40", "fbfm40": "F40", "f13": "F13", "fbfm13": "F13"}
_PRODUCT_NAMES = {"elevation": "Elev", "slope_percent": "SlpP", "slope_degrees": "SlpD", "aspect": "Asp",
                  "canopy_cover": "CC", "canopy_height": "CH", "canopy_base_height": "CBH",
                  "canopy_bulk_density": "CBD"}

def _rasterio():
    try:
        import rasterio
    except ImportError as e:
        raise ImportError("reading and writing GeoTIFFs needs rasterio: pip install rasterio") from e
    return rasterio


# ---------------------------------------------------------------------------------- finding files
def _is_tif(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in (".tif", ".tiff")


def _products_named(path: Path) -> set[str]:
    """The LANDFIRE products (layer keys, or "F40"/"F13") that tokens of the file name name."""
    return {_TOKENS[t] for t in re.split(r"[^0-9a-z]+", path.stem.lower()) if t in _TOKENS}


def _folder_layers(folder: Path, fuel: str, replaced: set[str]) -> dict[str, Path]:
    """The LANDFIRE products of a folder, by their name tokens, except the layers the caller
    ``replaced`` (layer keys; a slope key replaces both slope products, fuel_model both fuels)."""
    found: dict[str, list[Path]] = {}
    for path in sorted(p for p in folder.iterdir() if _is_tif(p)):
        tokens = _products_named(path)
        if len(tokens) > 1:
            raise InputError(f"{path}: the name matches several LANDFIRE products ({', '.join(sorted(tokens))}); "
                             "rename it or pass the layers explicitly (layers={'canopy_cover': path, ...})")
        for token in tokens:
            found.setdefault(token, []).append(path)
    skip = set(replaced)
    if not skip.isdisjoint(_SLOPE_KEYS):
        skip |= set(_SLOPE_KEYS)
    if "fuel_model" in skip:
        skip |= {"F40", "F13"}
    found = {token: paths for token, paths in found.items() if token not in skip}
    for token, paths in found.items():
        if len(paths) > 1:
            raise InputError(f"{folder}: several files name the product {_PRODUCT_NAMES.get(token, token)}: "
                             f"{', '.join(p.name for p in paths)}; keep one or pass the layers explicitly")
    layers = {key: paths[0] for key, paths in found.items() if key in PRODUCTS}
    if "slope_percent" in layers:
        layers.pop("slope_degrees", None)
    other = "F13" if fuel == "F40" else "F40"
    if fuel in found:
        layers["fuel_model"] = found[fuel][0]
    elif other in found:
        raise InputError(f"{folder}: no {fuel} fuel model GeoTIFF, but {found[other][0].name} holds {other}; "
                         f"pass fuel={other!r} to use it")
    return layers


def resolve_layer_paths(source, layers: Mapping[str, Any] | None = None, *, fuel: str = "F40") -> dict[str, Path]:
    """Layer key -> GeoTIFF path for any ``source`` that :func:`load_landfire` accepts.

    ``layers`` (layer key -> path) replaces what ``source`` provides; a slope entry replaces
    the source's slope whichever unit either is in. Raises ``InputError`` naming what is
    missing or ambiguous.
    """
    fuel = _check_fuel(fuel)
    if isinstance(source, Mapping):
        if layers is not None:
            raise InputError("layers: pass the mapping as source or as layers, not both")
        found, where = {}, "the layer mapping"
        layers = source
    elif isinstance(source, tuple):
        if len(source) != 2 or isinstance(source[1], bool) or not isinstance(source[1], (int, np.integer)):
            raise InputError(f"source: a tuple must be (root, k) of the tile layout, got {source!r}")
        root = Path(source[0])
        if not is_tile_layout(root):
            raise InputError(f"{root}: not a tile-layout root (it needs the folders {' '.join(TILE_LAYOUT_LAYERS)})")
        found, where = tile_layers(root, int(source[1])), f"{root} tile {int(source[1])}"
    elif isinstance(source, (str, Path)):
        path = Path(source)
        match = TILE_FILE.match(path.name)
        if path.is_dir():
            if is_tile_layout(path):
                raise InputError(f"{path}: this is a tile-layout root; pass (root, k) for tile k, or open "
                                 "every tile with qagent.landscape.tiles.TileDataset(root)")
            found, where = _folder_layers(path, fuel, set(layers or ())), str(path)
        elif match and path.parent.name == match["layer"] and is_tile_layout(path.parent.parent):
            found, where = tile_layers(path.parent.parent, int(match["k"])), str(path.parent.parent)
        elif path.suffix.lower() == ".lcp" and path.exists():
            raise InputError(f"{path}: a FlamMap landscape file holds every layer in one file; read it with "
                             "load_landfire(path), not as separate layer files")
        elif path.exists():
            raise InputError(f"{path}: a single file is neither a folder of LANDFIRE products nor a tile of "
                             "the layout <root>/<layer>/<name>_<k>_<layer>.tif")
        else:
            raise InputError(f"source: {path} does not exist")
    else:
        raise InputError(f"source: expected a folder, a mapping of layer to path, or (root, k), "
                         f"got {type(source).__name__}")
    found = dict(found)
    if layers is not None:
        unknown = sorted(set(layers) - set(LAYER_KEYS))
        if unknown:
            raise InputError(f"layers: unknown layer keys {unknown}; known keys are {', '.join(LAYER_KEYS)}")
        if not set(layers).isdisjoint(_SLOPE_KEYS):
            for key in _SLOPE_KEYS:
                found.pop(key, None)
        found.update({key: Path(p) for key, p in layers.items()})
    if all(key in found for key in _SLOPE_KEYS):
        raise InputError(f"{where}: give slope once, as slope_percent or slope_degrees, not both")
    missing = [name for name in _REQUIRED
               if not (any(k in found for k in _SLOPE_KEYS) if name == "slope" else name in found)]
    if missing:
        def describe(name):
            if name == "slope":
                return "slope (SlpP or SlpD)"
            if name == "fuel_model":
                return f"fuel_model ({fuel})"
            return f"{name} ({_PRODUCT_NAMES[name]})"

        raise InputError(f"{where}: missing layer{'s' if len(missing) > 1 else ''} "
                         f"{', '.join(describe(m) for m in missing)}")
    return found


def _fuel_product(path: Path) -> str | None:
    """'F40' or 'F13' when the file name says which LANDFIRE fuel product it is, else None."""
    named = _products_named(path) & {"F40", "F13"}
    return named.pop() if len(named) == 1 else None


def _check_fuel(fuel) -> str:
    if not isinstance(fuel, str) or fuel.upper() not in ("F40", "F13"):
        raise InputError(f"fuel: expected 'F40' (Scott & Burgan 40) or 'F13' (Anderson 13), got {fuel!r}")
    return fuel.upper()


# ---------------------------------------------------------------------------------- reading
@dataclass
class _Band:
    path: Path
    data: np.ndarray
    valid: np.ndarray  # bool: not nodata
    shape: tuple[int, int]
    transform: Any  # affine.Affine, or None when the file is not georeferenced
    crs: Any
    label: str | None = None  # how errors name it (default: the path), e.g. "x.lcp band 2 (slope)"

    @property
    def where(self) -> str:
        return self.label if self.label is not None else str(self.path)


def _read_raster(path: Path, key: str, read, what: str, hint: str):
    """``read(src)`` of the raster file ``path`` opened with rasterio (``key`` names the input
    in errors): a missing path, a directory, or a file GDAL cannot read as ``what`` (the error
    adds ``hint``) raises InputError; a raster without georeferencing is not warned about (its
    transform is then the identity)."""
    rasterio = _rasterio()
    from rasterio.errors import NotGeoreferencedWarning, RasterioError

    if not path.is_file():
        raise InputError(f"{key}: {path} does not exist" if not path.exists() else f"{key}: {path} is not a file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            with rasterio.open(path) as src:
                return read(src)
    except (RasterioError, OSError) as e:
        raise InputError(f"{path}: cannot be read as {what} ({e}); {hint}") from None


def _read_band(path: Path, key: str) -> _Band:
    count, data, mask, transform, crs = _read_raster(
        path, key, lambda src: (src.count, src.read(1), src.read_masks(1), src.transform, src.crs),
        "a raster", "is it a complete GeoTIFF?")
    if count != 1:
        raise InputError(f"{path}: has {count} bands; expected a single-band {key} raster")
    if transform.is_identity and crs is None:
        transform = None
    valid = (mask != 0) & ~np.isin(data, LANDFIRE_FILL_VALUES)
    return _Band(path, data, valid, data.shape, transform, crs)


def _raise_at(band: _Band, bad: np.ndarray, what: str, hint: str = "") -> None:
    pos = tuple(int(i) for i in np.argwhere(bad)[0])
    value = band.data[pos].item()
    count = int(bad.sum())
    raise InputError(f"{band.where}: value {value:.6g} at (row, col) {pos} {what} "
                     f"({count} such cell{'s' if count != 1 else ''}){'; ' + hint if hint else ''}")


def _check_values(band: _Band, key: str, fuel: str | None, product: _Product | None = None,
                  fuel_hint: str = "") -> None:
    """Refuse NaN outside the nodata mask, values outside ``product``'s range (default: the
    LANDFIRE product of ``key``) and unknown fuel model codes (``fuel_hint`` is added to that
    error)."""
    data, valid = band.data, band.valid
    if data.dtype.kind == "f":
        nan = np.isnan(data) & valid
        if nan.any():
            _raise_at(band, nan, "is NaN but not flagged as nodata", "set the file's nodata value to NaN")
        if np.isinf(data[valid]).any():
            _raise_at(band, np.isinf(data) & valid, "is infinite")
    if key == "fuel_model":
        if data.dtype.kind == "f":
            frac = valid & (data != np.round(data))
            if frac.any():
                _raise_at(band, frac, "is not an integer fuel model code")
        known = fuels.product_codes(fuel) if fuel in ("F40", "F13") else fuels.known_codes()
        codes = np.unique(data[valid])
        unknown = [int(c) for c in codes if int(c) not in known]
        if unknown:
            bad = valid & np.isin(data, unknown)
            pos = tuple(int(i) for i in np.argwhere(bad)[0])
            kind = (fuels.product_codes_text(fuel) if fuel in ("F40", "F13")
                    else f"known codes are {fuels.known_codes_text()}")
            raise InputError(f"{band.where}: unknown fuel model code{'s' if len(unknown) > 1 else ''} "
                             f"{unknown[:8]}{' ...' if len(unknown) > 8 else ''} in {int(bad.sum())} cells, "
                             f"first {int(data[pos])} at (row, col) {pos}; {kind}{fuel_hint}")
        return
    p = product if product is not None else PRODUCTS[key]
    values = data.astype(np.float64, copy=False)
    out = valid & ((values < p.lo) | (values > p.hi))
    if out.any():
        _raise_at(band, out, f"is outside the {p.what} range [{p.lo:g}, {p.hi:g}] {p.unit}", p.hint)


def _check_on_grid(band: _Band, shape, transform, crs, *, what: str, other: str, rule: str) -> None:
    """Refuse ``band`` unless it lies on the grid (shape, transform, CRS) of ``other``; errors
    name the band's file, call it ``what`` and end with ``rule``."""
    if band.shape != tuple(shape):
        raise InputError(f"{band.path}: {what} grid of {band.shape[0]} x {band.shape[1]} cells (shape {band.shape}) "
                         f"differs from {other}'s {tuple(shape)}; {rule}")
    if (band.transform is None) != (transform is None) or (
            transform is not None and not band.transform.almost_equals(transform, precision=1e-6 * abs(transform.a))):
        def coefficients(t):
            return tuple(t)[:6] if t is not None else None

        raise InputError(f"{band.path}: {what} transform {coefficients(band.transform)} differs from {other}'s "
                         f"{coefficients(transform)}; {rule} (same origin and cell size)")
    if band.crs != crs:
        raise InputError(f"{band.path}: {what} CRS {band.crs.to_string() if band.crs else None} differs from "
                         f"{other}'s {crs.to_string() if crs else None}; {rule}")


def _check_same_grid(band: _Band, ref: _Band) -> None:
    _check_on_grid(band, ref.shape, ref.transform, ref.crs, what="layer", other=ref.path.name,
                   rule="all layers must share one grid and CRS")


def _check_on_landscape_grid(band: _Band, landscape: Landscape, what: str) -> None:
    _check_on_grid(band, landscape.shape, landscape.transform, landscape.crs, what=what, other="the landscape",
                   rule="it must lie on the LANDFIRE layers' grid")


def _cell_size_m(ref: _Band, cell_size_m, header_unit_m: float | None = None) -> float:
    """Cell size in m from the grid (north-up, square cells, CRS in linear units), or as given.
    ``header_unit_m``: metres per grid unit that the file itself records (an LCP header's linear
    unit), used when there is no CRS."""
    given = None
    if cell_size_m is not None:
        if isinstance(cell_size_m, bool) or not isinstance(cell_size_m, (int, float, np.integer, np.floating)) \
                or not (math.isfinite(cell_size_m) and cell_size_m > 0):
            raise InputError(f"cell_size_m: must be a positive number of metres, got {cell_size_m!r}")
        given = float(cell_size_m)
    t = ref.transform
    if t is None:
        if given is None:
            raise InputError(f"{ref.where}: has no georeferencing (no transform); pass cell_size_m")
        return given
    if t.b != 0.0 or t.d != 0.0 or t.a <= 0.0 or t.e >= 0.0:
        raise InputError(f"{ref.where}: the grid is not north-up (transform {tuple(t)[:6]}); "
                         "warp it to a north-up grid first (gdalwarp)")
    if not math.isclose(t.a, -t.e, rel_tol=1e-6):
        raise InputError(f"{ref.where}: cells are {t.a:g} x {-t.e:g} (not square); resample to square cells")
    if ref.crs is None and header_unit_m is not None:
        unit_m = header_unit_m
    elif ref.crs is None or not ref.crs.is_projected:
        if given is None:
            raise InputError(f"{ref.where}: the CRS {ref.crs.to_string() if ref.crs else None} is not projected, "
                             "so the cell size in m is unknown; reproject (e.g. gdalwarp -t_srs EPSG:5070 -tr 30 30) "
                             "or pass cell_size_m")
        return given
    else:
        unit_m = ref.crs.linear_units_factor[1]
    size = t.a * unit_m
    if given is not None and not math.isclose(given, size, rel_tol=1e-6):
        raise InputError(f"cell_size_m: {given:g} m differs from the {size:g} m cells of {ref.where}")
    return float(size)


def load_landfire(source, layers: Mapping[str, Any] | None = None, *, fuel: str = "F40",
                  cell_size_m: float | None = None, device=None) -> Landscape:
    """Read LANDFIRE GeoTIFFs, or a FlamMap/FARSITE ``.lcp`` landscape file, into a
    :class:`Landscape` in SI units.

    ``source``: a folder of LANDFIRE products recognised by name, a mapping layer key -> path,
    a QNetFires tile as ``(root, k)`` or the path of one of its files, or the path of an
    ``.lcp`` file (names, units and conversions: docs/landfire_inputs.md). ``layers``
    (layer key -> path) replaces individual layers of ``source`` (not of an ``.lcp``).
    ``fuel`` picks ``"F40"`` or ``"F13"`` in a folder that has both (an ``.lcp``'s fuel band
    may hold either). ``cell_size_m`` is only needed for rasters without a projected CRS (and,
    for an ``.lcp``, without a linear unit in its header); when given for a projected one it
    must agree with it.

    The Landscape keeps the grid's ``transform`` (affine.Affine) and ``crs`` (rasterio CRS);
    nodata cells (any layer's) are non-burnable (fuel 99, no canopy) and flagged in
    ``nodata_mask``. Problems raise ``InputError`` naming the file (and an ``.lcp``'s band).
    """
    fuel = _check_fuel(fuel)
    if isinstance(source, (str, Path)) and Path(source).suffix.lower() == ".lcp":
        if layers is not None:
            raise InputError(f"layers: {source} is a FlamMap landscape file that holds every layer; "
                             "layers cannot replace its bands (convert the layer to the LCP's units and rebuild it)")
        return _load_lcp(Path(source), cell_size_m, device)
    paths = resolve_layer_paths(source, layers, fuel=fuel)
    order = sorted(paths, key=LAYER_KEYS.index)
    bands: dict[str, _Band] = {}
    for key in order:
        band = _read_band(paths[key], key)
        if bands:
            _check_same_grid(band, bands[order[0]])
        bands[key] = band
    for key, band in bands.items():
        _check_values(band, key, _fuel_product(band.path) if key == "fuel_model" else None)
    ref = bands[order[0]]
    size_m = _cell_size_m(ref, cell_size_m)
    return _assemble(bands, {key: PRODUCTS[key] for key in bands if key != "fuel_model"}, ref, size_m, device)


def _assemble(bands: dict[str, _Band], products: dict[str, _Product], ref: _Band, size_m: float, device,
              zero_fields: tuple[str, ...] = ()) -> Landscape:
    """The Landscape of checked bands (layer key -> band, each converted by ``products[key]``):
    nodata cells of any band become non-burnable bare ground (docs/landfire_inputs.md, "Nodata");
    ``zero_fields`` (Landscape fields no band provides) are zero."""
    nodata = np.zeros(ref.shape, dtype=bool)
    for band in bands.values():
        nodata |= ~band.valid
    grids: dict[str, np.ndarray] = {name: np.zeros(ref.shape, dtype=np.float32) for name in zero_fields}
    for key, band in bands.items():
        if key == "fuel_model":
            grids["fuel_model"] = np.where(nodata, NODATA_FUEL_MODEL, band.data).astype(np.int32)
            continue
        p = products[key]
        si = p.to_si(band.data.astype(np.float64))
        fill = 0.0
        if key == "elevation" and not nodata.all():
            fill = float(si[~nodata].min())
        grids[p.field] = np.where(nodata, fill, si).astype(np.float32)
    return Landscape(**grids, cell_size_m=size_m, nodata_mask=nodata, transform=ref.transform, crs=ref.crs,
                     device=device)


# ---------------------------------------------------------------------------------- FlamMap .lcp
# Unit conversions (docs/landfire_inputs.md, source 4): 1 ft = 0.3048 m exactly; 1 lb = 0.45359237 kg
# exactly, so 1 lb/ft3 = 0.45359237 / 0.3048^3 kg/m3 = 16.018463 kg/m3 (NIST SP 811, 2008, app. B).
M_PER_FT = 0.3048
LCP_HEADER_BYTES = 7316
KG_M3_PER_LB_FT3 = 0.45359237 / M_PER_FT ** 3


def _linear_product(what: str, unit: str, field: str, si_per_stored: float, item: str, code: int) -> _Product:
    """A layer stored as SI value / ``si_per_stored`` (e.g. feet: 0.3048 m per stored unit), with
    the Landscape's physical range of ``field`` expressed in the stored unit."""
    lo_si, hi_si, _ = FLOAT_LAYERS[field]
    return _Product(what, unit, lo_si / si_per_stored, hi_si / si_per_stored, field,
                    lambda a: a * si_per_stored, f"the header says {item} {code} ({unit}); check the LCP's units")


def _grass_degrees_to_azimuth(a: np.ndarray) -> np.ndarray:
    """GRASS aspect (degrees counterclockwise from east: 90 north, 180 west, 270 south, 360 east;
    0 where flat; GRASS GIS r.slope.aspect manual) -> degrees clockwise from north, 0 where flat."""
    return np.where(a == 0.0, 0.0, np.mod(90.0 - a, 360.0))


# GDAL's band metadata item of each LCP band -> (layer key, what, {header code: product, or the
# reason the code is refused}). Codes as GDAL's LCP driver reports them (gdal.org/drivers/raster/lcp.html).
_LCP_BANDS: dict[str, tuple[str, str, dict[int, _Product | str | None]]] = {
    "ELEVATION_UNIT": ("elevation", "elevation", {
        0: _linear_product("elevation", "m", "elevation", 1.0, "ELEVATION_UNIT", 0),
        1: _linear_product("elevation", "ft", "elevation", M_PER_FT, "ELEVATION_UNIT", 1)}),
    "SLOPE_UNIT": ("slope", "slope", {
        0: _Product("slope", "degrees", 0.0, _MAX_SLOPE_DEGREES, "slope", PRODUCTS["slope_degrees"].to_si,
                    "the header says SLOPE_UNIT 0 (degrees); values this large suggest percent rise"),
        1: _Product("slope", "percent rise", 0.0, 1000.0, "slope", PRODUCTS["slope_percent"].to_si,
                    "the header says SLOPE_UNIT 1 (percent rise), at most 1000 % (rise/run 10)")}),
    "ASPECT_UNIT": ("aspect", "aspect", {
        2: _Product("aspect", "azimuth degrees", -1.0, 360.0, "aspect", lambda a: np.where(a < 0.0, 0.0, a),
                    "the header says ASPECT_UNIT 2: degrees clockwise from north, -1 where flat"),
        1: _Product("aspect", "GRASS degrees", 0.0, 360.0, "aspect", _grass_degrees_to_azimuth,
                    "the header says ASPECT_UNIT 1: GRASS degrees counterclockwise from east, 0 where flat"),
        0: "the header says ASPECT_UNIT 0, GRASS aspect categories, which QAgent does not convert; rebuild "
           "the LCP with aspect in azimuth degrees"}),
    "FUEL_MODEL_OPTION": ("fuel_model", "fuel model", {
        0: None, 1: None,
        2: "the header says FUEL_MODEL_OPTION 2: the codes need a fuel model conversion file, which QAgent "
           "cannot apply; rebuild the LCP with standard fuel model codes",
        3: "the header says FUEL_MODEL_OPTION 3: custom fuel models and a conversion file, which QAgent "
           "cannot apply; rebuild the LCP with standard fuel model codes"}),
    "CANOPY_COV_UNIT": ("canopy_cover", "canopy cover", {
        1: _Product("canopy cover", "percent", 0.0, 100.0, "canopy_cover", lambda a: a * 0.01,
                    "the header says CANOPY_COV_UNIT 1 (percent), 0-100"),
        0: "the header says CANOPY_COV_UNIT 0, canopy cover categories, which QAgent does not convert to a "
           "cover fraction; rebuild the LCP with canopy cover in percent"}),
    **{item: (key, what, {
        1: _linear_product(what, "m", key, 1.0, item, 1),
        2: _linear_product(what, "ft", key, M_PER_FT, item, 2),
        3: _linear_product(what, "m x 10", key, 0.1, item, 3),
        4: _linear_product(what, "ft x 10", key, M_PER_FT / 10.0, item, 4)})
       for item, key, what in (("CANOPY_HT_UNIT", "canopy_height", "canopy height"),
                               ("CBH_UNIT", "canopy_base_height", "canopy base height"))},
    "CBD_UNIT": ("canopy_bulk_density", "canopy bulk density", {
        1: _linear_product("canopy bulk density", "kg/m3", "canopy_bulk_density", 1.0, "CBD_UNIT", 1),
        2: _linear_product("canopy bulk density", "lb/ft3", "canopy_bulk_density", KG_M3_PER_LB_FT3, "CBD_UNIT", 2),
        3: _linear_product("canopy bulk density", "kg/m3 x 100", "canopy_bulk_density", 0.01, "CBD_UNIT", 3),
        4: _linear_product("canopy bulk density", "lb/ft3 x 1000", "canopy_bulk_density",
                           KG_M3_PER_LB_FT3 / 1000.0, "CBD_UNIT", 4)}),
}
_LCP_SURFACE = ("elevation", "slope", "aspect", "fuel_model", "canopy_cover")
_LCP_CROWN = ("canopy_height", "canopy_base_height", "canopy_bulk_density")
_LCP_LINEAR_UNITS_M = {"meters": 1.0, "feet": M_PER_FT}  # the header's LINEAR_UNIT as GDAL names it


def _load_lcp(path: Path, cell_size_m, device) -> Landscape:
    """A FlamMap/FARSITE landscape file through GDAL's LCP driver (docs/landfire_inputs.md, source 4)."""
    driver, count, tags, band_tags, data, masks, transform, crs = _read_raster(
        path, "source",
        lambda src: (src.driver, src.count, src.tags(), [src.tags(i) for i in range(1, src.count + 1)],
                     src.read(), src.read_masks(), src.transform, src.crs),
        "a FlamMap landscape file", "is it a complete .lcp?")
    if driver != "LCP":
        raise InputError(f"{path}: GDAL reads it as {driver}, not as a FlamMap/FARSITE landscape file (LCP)")
    # The format: a 7,316-byte header, then every band as pixel-interleaved int16 (GDAL's LCP page).
    # GDAL reads past the end of a truncated file as zeros, so the size is checked here.
    expected_bytes = LCP_HEADER_BYTES + 2 * count * data.shape[1] * data.shape[2]
    if path.stat().st_size < expected_bytes:
        raise InputError(f"{path}: is truncated: {path.stat().st_size} bytes where a {data.shape[1]} x "
                         f"{data.shape[2]} landscape of {count} bands needs {expected_bytes}")
    if transform.is_identity and crs is None:
        transform = None

    bands: dict[str, _Band] = {}
    products: dict[str, _Product] = {}
    for index, item_tags in enumerate(band_tags):
        item = next((name for name in _LCP_BANDS if name in item_tags), None)
        if item is None:
            continue  # duff, coarse woody debris: not used
        key, what, units = _LCP_BANDS[item]
        label = f"{path} band {index + 1} ({what})"
        try:
            code = int(item_tags[item])
        except ValueError:
            raise InputError(f"{label}: the header's {item} is {item_tags[item]!r}, not a unit code") from None
        if code not in units:
            raise InputError(f"{label}: unknown {item} {code} in the header; GDAL's LCP codes for it are "
                             f"{sorted(units)}")
        if isinstance(units[code], str):
            raise InputError(f"{label}: {units[code]}")
        if key in bands:
            raise InputError(f"{label}: a second {what} band (the first is {bands[key].label})")
        valid = (masks[index] != 0) & ~np.isin(data[index], LANDFIRE_FILL_VALUES)
        bands[key] = _Band(path, data[index], valid, data[index].shape, transform, crs, label)
        if key == "fuel_model":
            custom = ("; the header says the file uses custom fuel models (FUEL_MODEL_OPTION 1), which QAgent "
                      "does not model") if code == 1 else ""
            _check_values(bands[key], key, None, fuel_hint=custom)
        else:
            products[key] = units[code]
            _check_values(bands[key], key, None, products[key])
    missing = [key for key in _LCP_SURFACE if key not in bands]
    if missing:
        raise InputError(f"{path}: no {', '.join(missing)} band among its {count} (GDAL's LCP driver found no "
                         f"{', '.join(i for i, (k, _, _) in _LCP_BANDS.items() if k in missing)} item); "
                         "is it a complete FlamMap landscape file?")
    no_crown = tuple(key for key in _LCP_CROWN if key not in bands)
    if no_crown:
        log.warning("%s: no %s band%s (the landscape has no crown fuels); %s set to 0, so only surface fire "
                    "is simulated", path, ", ".join(no_crown), "s" if len(no_crown) > 1 else "",
                    "they are" if len(no_crown) > 1 else "it is")
    header_unit_m = _LCP_LINEAR_UNITS_M.get(str(tags.get("LINEAR_UNIT", "")).lower())
    ref = bands["elevation"]
    size_m = _cell_size_m(ref, cell_size_m, header_unit_m)
    return _assemble(bands, products, ref, size_m, device, no_crown)


# ---------------------------------------------------------------------------------- writing
def _as_numpy(name: str, array) -> np.ndarray:
    if isinstance(array, torch.Tensor):
        array = array.detach().cpu().numpy()
    try:
        a = np.asarray(array)
    except Exception as e:  # numpy raises many kinds
        raise InputError(f"{name}: cannot be read as an array ({e})") from None
    if a.dtype.kind not in "biuf":
        raise InputError(f"{name}: expected bool, integer or float values, got dtype {a.dtype}")
    return a


def _default_dtype(a: np.ndarray) -> np.dtype:
    """GeoTIFF-friendly dtype: bool -> uint8; float16 -> float32; 64-bit ints -> 32-bit when the
    values fit (older GDAL and many GIS tools do not read 64-bit integer GeoTIFFs)."""
    if a.dtype == np.bool_:
        return np.dtype(np.uint8)
    if a.dtype == np.float16:
        return np.dtype(np.float32)
    if a.dtype.kind in "iu" and a.dtype.itemsize == 8:
        small = np.dtype(np.int32 if a.dtype.kind == "i" else np.uint32)
        info = np.iinfo(small)
        if a.size == 0 or (a.min() >= info.min and a.max() <= info.max):
            return small
    return a.dtype


def _fill_value(dtype: np.dtype) -> float | int:
    """Default nodata value: NaN for floats, the largest value for unsigned and the smallest for
    signed integers."""
    if dtype.kind == "f":
        return float("nan")
    info = np.iinfo(dtype)
    return int(info.max if dtype.kind == "u" else info.min)


def _cast(a: np.ndarray, dtype: np.dtype) -> np.ndarray:
    if dtype.kind in "iu" and a.dtype.kind == "f":
        bad = ~np.isfinite(a) | (a != np.round(a))
        if bad.any():
            pos = tuple(int(i) for i in np.argwhere(bad)[0])
            raise InputError(f"array: value {a[pos]:.6g} at (row, col) {pos} is not an integer; cannot write it as "
                             f"{dtype} (pass dtype='float32')")
    if dtype.kind in "iu" and a.size:
        info = np.iinfo(dtype)
        bad = (a < info.min) | (a > info.max)
        if bad.any():
            pos = tuple(int(i) for i in np.argwhere(bad)[0])
            raise InputError(f"array: value {a[pos]} at (row, col) {pos} does not fit {dtype} "
                             f"[{info.min}, {info.max}]")
    return a.astype(dtype)


def _affine(transform):
    from affine import Affine

    if isinstance(transform, Affine):
        return transform
    values = tuple(float(v) for v in transform)
    if len(values) not in (6, 9):
        raise InputError(f"transform: expected an affine.Affine or its 6 coefficients (a, b, c, d, e, f), "
                         f"got {transform!r}")
    return Affine(*values[:6])


def save_geotiff(landscape: Landscape, path, array, *, nodata: float | int | None = None, dtype=None,
                 mask_nodata: bool = True, allow_ungeoreferenced: bool = False, description: str | None = None,
                 units: str | None = None) -> Path:
    """Write an [H, W] result aligned with ``landscape``'s grid as a single-band GeoTIFF.

    The file gets the landscape's transform, CRS and shape, so it lies exactly on the source
    layers in QGIS or any GIS. ``array`` is a numpy array or tensor (any device) of bools,
    integers or floats; ``dtype`` overrides the stored type (default: bool -> uint8, float16
    -> float32, 64-bit integers -> 32-bit when they fit, otherwise as given). Storage is
    DEFLATE-compressed with the matching predictor (horizontal differencing for integers,
    floating-point for floats), tiled 256 x 256 on grids at least that large.

    With ``mask_nodata`` (default) the landscape's nodata cells are written as the nodata
    value, so a GIS shows them as transparent, as it does the source layers: ``nodata`` if
    given, else NaN for floats and the dtype's largest (unsigned) or smallest (signed)
    integer. A landscape without georeferencing is refused unless ``allow_ungeoreferenced``.

    ``description`` (what the band holds) and ``units`` (its unit, e.g. "m" or "fraction")
    are stored as the band's GDAL description and unit type, which QGIS and ``gdalinfo`` show
    (rasterio: ``src.descriptions``, ``src.units``). Returns the path written.
    """
    rasterio = _rasterio()
    from rasterio.errors import CRSError, NotGeoreferencedWarning, RasterioError

    if not isinstance(landscape, Landscape):
        raise InputError(f"landscape: expected a qagent.landscape.Landscape, got {type(landscape).__name__}")
    for name, text in (("description", description), ("units", units)):
        if text is not None and (not isinstance(text, str) or not text.strip()):
            raise InputError(f"{name}: expected a non-empty string, got {text!r}")
    a = _as_numpy("array", array)
    if a.shape != tuple(landscape.shape):
        raise InputError(f"array: shape {a.shape} does not match the landscape's grid {tuple(landscape.shape)}")
    transform, crs = landscape.transform, landscape.crs
    if (transform is None or crs is None) and not allow_ungeoreferenced:
        raise InputError(f"landscape: has no {'transform' if transform is None else 'CRS'}, so the GeoTIFF would not "
                         "line up with anything in a GIS; load it with load_landfire, or pass "
                         "allow_ungeoreferenced=True")
    try:
        out_dtype = np.dtype(dtype) if dtype is not None else _default_dtype(a)
    except TypeError as e:
        raise InputError(f"dtype: {dtype!r} is not a numpy dtype ({e})") from None
    if out_dtype.kind not in "iuf" or out_dtype.itemsize > 8:
        raise InputError(f"dtype: GeoTIFF stores integers and floats, not {out_dtype}")
    a = _cast(a, out_dtype)

    mask = landscape.nodata_mask.cpu().numpy() if (mask_nodata and landscape.nodata_mask is not None) else None
    if nodata is not None:
        if not isinstance(nodata, (int, float, np.integer, np.floating)) or isinstance(nodata, bool):
            raise InputError(f"nodata: expected a number, got {nodata!r}")
        if out_dtype.kind in "iu" and not (np.iinfo(out_dtype).min <= nodata <= np.iinfo(out_dtype).max
                                           and float(nodata).is_integer()):
            raise InputError(f"nodata: {nodata!r} is not a value of {out_dtype}")
    elif mask is not None and mask.any():
        nodata = _fill_value(out_dtype)
        if (a[~mask] == nodata).any():  # never true for NaN
            raise InputError(f"array: holds {nodata}, the default nodata value of {out_dtype}, at valid cells; "
                             "pass another nodata value or dtype")
    if mask is not None and nodata is not None:
        a = np.where(mask, np.asarray(nodata).astype(out_dtype), a)

    h, w = a.shape
    profile = {
        "driver": "GTiff", "height": h, "width": w, "count": 1, "dtype": out_dtype.name,
        "compress": "deflate", "predictor": 3 if out_dtype.kind == "f" else 2,
    }
    if h >= 256 and w >= 256:
        profile.update(tiled=True, blockxsize=256, blockysize=256)
    if transform is not None:
        profile["transform"] = _affine(transform)
    if crs is not None:
        try:
            profile["crs"] = rasterio.crs.CRS.from_user_input(crs)
        except CRSError as e:
            raise InputError(f"landscape: its crs {crs!r} is not a coordinate reference system ({e})") from None
    if nodata is not None:
        profile["nodata"] = nodata
    path = Path(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            with rasterio.open(path, "w", **profile) as dst:
                dst.write(a, 1)
                if description is not None:
                    dst.set_band_description(1, description)
                if units is not None:
                    dst.set_band_unit(1, units)
    except (RasterioError, OSError) as e:
        raise InputError(f"{path}: cannot write the GeoTIFF ({e})") from None
    return path


def load_ignition_density(path, landscape: Landscape) -> np.ndarray:
    """A single-band GeoTIFF of ignition density (any non-negative unit: relative weights, zero
    where no fire may start) on ``landscape``'s grid, as float64 [H, W]
    (``FireScenario.draw(ignition_density=)``). Refused, with errors naming the file: a shape,
    transform or CRS other than the landscape's, NaN, infinite, negative or nodata cells (nodata is
    allowed only where the landscape itself has none), and a density zero on every burnable
    cell."""
    path = Path(path)
    band = _read_band(path, "ignition density")
    _check_on_landscape_grid(band, landscape, "ignition density")
    d = band.data.astype(np.float64)
    outside = landscape.nodata_mask.cpu().numpy() if landscape.nodata_mask is not None else np.zeros(d.shape, bool)
    missing = ~band.valid & ~outside
    if missing.any():
        r, c = np.argwhere(missing)[0]
        raise InputError(f"{path}: {int(missing.sum())} nodata cells where the landscape has data (first at row {r}, "
                         f"column {c}); give 0 where no fire may start")
    d[outside] = 0.0
    return check_ignition_density(d, landscape, name=str(path))


def load_values(path, landscape: Landscape) -> np.ndarray:
    """A single-band GeoTIFF of values at risk (a non-negative value per cell in any unit:
    structures, habitat) on ``landscape``'s grid, as float32 [H, W] (``qagent.env`` sources,
    ``qagent-eval --values``, ``qagent-plan --values``). Nodata cells (the file's nodata value,
    its mask, or a LANDFIRE fill value) are worth 0. Refused, with errors naming the file and
    what is wrong: a shape, transform or CRS other than the landscape's, NaN (not flagged as
    nodata), infinite or negative cells, and values zero on every burnable cell."""
    path = Path(path)
    band = _read_band(path, "values")
    _check_on_landscape_grid(band, landscape, "values at risk")
    v = band.data.astype(np.float64)
    v[~band.valid] = 0.0
    checked = check_values(v, landscape, name=str(path))
    unburnable = ~landscape.burnable_mask().cpu().numpy()
    lost = float(v[unburnable].sum())
    if lost > 0:  # e.g. structures on NB1 (urban) cells: never at risk in the model
        log.warning("%s: %.1f %% of the value lies on %d cells fire cannot burn (non-burnable fuel or nodata); it is "
                    "never at risk", path, 100.0 * lost / float(v.sum()), int((unburnable & (v > 0)).sum()))
    return checked

