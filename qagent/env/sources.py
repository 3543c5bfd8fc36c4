"""Where training and evaluation landscapes come from, and the split between them.

A source holds a finite, ordered set of landscapes of one grid shape, addressed by integer id
(``landscape(id)``); environments cycle through all of them in a fresh random order each
epoch.

Held-out landscapes never seen in training:
- synthetic: training uses seeds [0, 100 000); evaluation uses seeds from 1 000 000 000 on.
- tiles of a real raster (a tile dataset or a LANDFIRE folder): tiles overlap their
  neighbours (stride < size), so a random split would leak; the split is spatial instead. The
  evaluation region is the eastern ``eval_fraction`` of the source raster's columns; training
  tiles lie entirely west of it, evaluation tiles entirely inside it, and tiles crossing the
  boundary are used by neither.

Values at risk (``values(id)``): a non-negative value per cell (structures, habitat) that
makes the objective "expected value burned" instead of "expected burned area"; None means
every cell is worth 1 (the objective of old). A TileSource takes a GeoTIFF on its LANDFIRE
folder's grid (``values=``), cut into the same tiles (tiles whose burnable cells hold no value
are left out: no fire can burn any value there). A SyntheticSource has a values mode
(``VALUE_MODES``): "ones" (every cell worth 1), "synthetic" (``synthetic_values`` of each
landscape, seeded from its seed: sparse houses), "habitat" (``synthetic_habitat``: a dense
value over most burnable cells), "mixed" (landscapes of odd seed synthetic, even seed ones:
half and half, deterministically) or "varied" (by seed modulo 3: ones, houses, habitat). A
synthetic landscape whose values all fall where fire cannot burn (zero value on every
burnable cell) is worth 1 per cell instead.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from qagent._validation import InputError
from qagent.landscape.core import Landscape

TRAIN_SEEDS = range(0, 100_000)
EVAL_SEED_START = 1_000_000_000
DEFAULT_EVAL_FRACTION = 0.2
SPLITS = ("train", "eval", "all")
VALUE_MODES = ("ones", "synthetic", "habitat", "mixed", "varied")


class LandscapeSource:
    """A finite set of landscapes of one grid shape; subclasses implement ``_load``."""

    name = "landscapes"
    # The share of the burnable cells holding value on the whole raster whose tiles these are
    # (a TileSource given values), what the default agent chooses its ensemble by; None: each
    # landscape's own values decide (qagent.evaluation.pretrained.DefaultAgent).
    valued_fraction: float | None = None

    def __init__(self, count: int, grid_shape: tuple[int, int], cache_size: int = 256):
        if count <= 0:
            raise InputError(f"{self.name}: no landscapes in this source/split")
        self.count = int(count)
        self.grid_shape = tuple(int(x) for x in grid_shape)
        self.landscape = functools.lru_cache(maxsize=cache_size)(self._load)

    def __len__(self) -> int:
        return self.count

    def _load(self, landscape_id: int) -> Landscape:  # pragma: no cover - abstract
        raise NotImplementedError

    def ignition_density(self, landscape_id: int) -> np.ndarray | None:
        """The [H, W] ignition density of landscape ``landscape_id`` (``FireScenario.draw``), or
        None: ignitions uniform over burnable cells (every source but a TileSource given one)."""
        return None

    def values(self, landscape_id: int) -> np.ndarray | None:
        """The float32 [H, W] values at risk of landscape ``landscape_id`` (finite, >= 0), or
        None: every cell is worth 1 (module docstring)."""
        return None

    @property
    def values_key(self):
        """Which values this source gives (None: none; a mode or a file name), what observation
        caches key on beside the landscape id."""
        return None

    def epoch_order(self, rng: np.random.Generator) -> np.ndarray:
        """Every id once, in a random order."""
        return rng.permutation(self.count)

    def describe(self) -> str:
        return f"{self.name}: {self.count} landscapes of {self.grid_shape[0]} x {self.grid_shape[1]} cells"


class SyntheticSource(LandscapeSource):
    """``qagent.landscape.synthetic`` landscapes; id i is seed seeds[i]."""

    def __init__(self, grid_shape: tuple[int, int], split: str = "train", count: int | None = None,
                 cache_size: int = 256, values: str = "ones"):
        _check_split(split)
        self.value_mode = check_value_mode(values)
        if split == "eval":
            self.seeds = range(EVAL_SEED_START, EVAL_SEED_START + (count or 200))
        else:
            self.seeds = TRAIN_SEEDS if count is None else TRAIN_SEEDS[:count]
        self.name = f"synthetic ({split})"
        super().__init__(len(self.seeds), grid_shape, cache_size)
        self._values = functools.lru_cache(maxsize=cache_size)(self._load_values)

    def _load(self, landscape_id: int) -> Landscape:
        from qagent.landscape.synthetic import synthetic

        return synthetic(*self.grid_shape, seed=int(self.seeds[landscape_id]))

    @property
    def values_key(self):
        return None if self.value_mode == "ones" else self.value_mode

    def value_kind(self, landscape_id: int) -> str:
        """The values landscape ``landscape_id`` is given by the values mode: "ones", "houses"
        (``synthetic_values``) or "habitat" (``synthetic_habitat``); "mixed" alternates ones and
        houses by the seed's parity, "varied" cycles ones, houses, habitat by the seed modulo 3."""
        seed = int(self.seeds[landscape_id])
        if self.value_mode == "mixed":
            return "houses" if seed % 2 == 1 else "ones"
        if self.value_mode == "varied":
            return ("ones", "houses", "habitat")[seed % 3]
        return {"ones": "ones", "synthetic": "houses", "habitat": "habitat"}[self.value_mode]

    def has_synthetic_values(self, landscape_id: int) -> bool:
        """Whether landscape ``landscape_id`` is given values other than 1 per cell."""
        return self.value_kind(landscape_id) != "ones"

    def values(self, landscape_id: int) -> np.ndarray | None:
        """None (every cell worth 1) for the landscapes whose kind is "ones", else their
        synthetic values (``value_kind``), seeded with their seed (None where they are zero on
        every burnable cell)."""
        return self._values(int(landscape_id)) if self.has_synthetic_values(landscape_id) else None

    def _load_values(self, landscape_id: int) -> np.ndarray | None:
        from qagent.landscape.synthetic import synthetic_habitat, synthetic_values

        landscape = self.landscape(landscape_id)
        make = synthetic_habitat if self.value_kind(landscape_id) == "habitat" else synthetic_values
        v = make(landscape, int(self.seeds[landscape_id])).cpu().numpy().astype(np.float32)
        return v if (v[landscape.burnable_mask().cpu().numpy()] > 0).any() else None

    def describe(self) -> str:
        text = f"{super().describe()} (seeds {self.seeds.start}..{self.seeds.stop - 1})"
        text += {"ones": "",
                 "synthetic": ", values at risk: synthetic houses",
                 "habitat": ", values at risk: synthetic habitat",
                 "mixed": ", values at risk: synthetic houses on odd seeds, 1 per cell on even seeds",
                 "varied": ", values at risk by seed modulo 3: 1 per cell, synthetic houses, synthetic habitat",
                 }[self.value_mode]
        return text


class TileSource(LandscapeSource):
    """Tiles of one real raster: a tile dataset on disk (``qagent-tiles``) or a LANDFIRE folder
    cut into tiles in memory; spatially split (module docstring)."""

    def __init__(self, path: str | Path, split: str = "train", *, tile_size: int = 50, stride: int = 25,
                 eval_fraction: float = DEFAULT_EVAL_FRACTION, cache_size: int = 1024, fuel: str = "F40",
                 ignition_density=None, values=None):
        from qagent.landscape.landfire import _check_fuel

        _check_split(split)
        fuel = _check_fuel(fuel)
        path = Path(path)
        if not path.is_dir():
            raise InputError(f"landscapes: {path} is not a folder (a tile dataset or LANDFIRE layers)")
        if (path / "index.json").exists():
            from qagent.landscape.tiles import TileDataset

            if fuel != "F40":
                raise InputError(f"fuel: {fuel} only applies to a folder of LANDFIRE GeoTIFFs; {path} is a tile "
                                 "dataset, whose fuels were chosen when it was cut (qagent-tiles --fuel)")
            if ignition_density is not None:
                raise InputError(f"ignition density: needs a folder of LANDFIRE GeoTIFFs, whose grid the density "
                                 f"shares; {path} is a tile dataset")
            if values is not None:
                raise InputError(f"values: needs a folder of LANDFIRE GeoTIFFs, whose grid the values at risk "
                                 f"share; {path} is a tile dataset")

            self._dataset = TileDataset(path)
            self._tiles = None
            size = self._dataset[0].shape
            origins = self._dataset.origins
            width = self._dataset_source_width()
        else:
            from qagent.landscape.landfire import load_landfire
            from qagent.landscape.tiles import tiles

            full = load_landfire(path, fuel=fuel)
            self._dataset = None
            self._tiles = list(tiles(full, tile_size, stride))
            if not self._tiles:
                raise InputError(f"landscapes: {path} has no {tile_size} x {tile_size} tile without nodata")
            self._density, self._density_name, self.tiles_without_ignitions = None, None, 0
            self._value_grid, self._values_name, self.tiles_without_values = None, None, 0
            if ignition_density is not None:
                self._set_density(ignition_density, full, tile_size)
            if values is not None:
                self._set_values(values, full, tile_size)
            size = (tile_size, tile_size)
            origins = [(r, c) for r, c, _ in self._tiles]
            width = full.width
        total = len(self._tiles) if self._tiles is not None else len(self._dataset)
        self.ids = _spatial_split(origins, size, width, total, split, eval_fraction)
        self.name = f"tiles of {path.name} ({split})"
        super().__init__(len(self.ids), size, cache_size)

    def _set_density(self, ignition_density, full: Landscape, size: int) -> None:
        """Keep the raster's density (a GeoTIFF path, checked against the folder's grid, or an
        array) and only the tiles where it is positive on some burnable cell: no fire can start
        on the others."""
        from qagent.fire.scenario import check_ignition_density
        from qagent.landscape.landfire import load_ignition_density

        self._density_name, self._density = _full_grid_raster(ignition_density, full, load_ignition_density,
                                                              check_ignition_density, "ignition_density")
        self.tiles_without_ignitions = self._keep_tiles_positive_on(
            self._density, size, f"{self._density_name}: zero on the burnable cells of every tile")

    def _set_values(self, values, full: Landscape, size: int) -> None:
        """Keep the raster's values at risk (a GeoTIFF path, checked against the folder's grid,
        or an array) and only the tiles where they are positive on some burnable cell."""
        from qagent.landscape.core import check_values, valued_fraction
        from qagent.landscape.landfire import load_values

        self._values_name, self._value_grid = _full_grid_raster(values, full, load_values, check_values, "values")
        self.valued_fraction = valued_fraction(self._value_grid, full)
        self.tiles_without_values = self._keep_tiles_positive_on(
            self._value_grid, size,
            f"{self._values_name}: the values at risk are zero on the burnable cells of every tile")

    def _keep_tiles_positive_on(self, raster: np.ndarray, size: int, none_left: str) -> int:
        """Keep only the tiles where the full-grid ``raster`` is positive on some burnable cell
        of the tile; returns how many were left out. InputError(``none_left``) if none is kept."""
        keep = [(r, c, t) for r, c, t in self._tiles
                if (raster[r:r + size, c:c + size][t.burnable_mask().cpu().numpy()] > 0).any()]
        if not keep:
            raise InputError(none_left)
        left_out = len(self._tiles) - len(keep)
        self._tiles = keep
        return left_out

    def _window(self, raster: np.ndarray | None, landscape_id: int) -> np.ndarray | None:
        """The window of the full-grid ``raster`` under tile ``landscape_id`` (the rows and
        columns the tile was cut from), or None without a raster (or for a tile dataset)."""
        if self._tiles is None or raster is None:
            return None
        r, c, tile = self._tiles[int(self.ids[landscape_id])]
        h, w = tile.shape
        return raster[r:r + h, c:c + w]

    @property
    def values_key(self):
        return getattr(self, "_values_name", None)

    def values(self, landscape_id: int) -> np.ndarray | None:
        """The values' window under tile ``landscape_id``, or None without values."""
        return self._window(getattr(self, "_value_grid", None), landscape_id)

    def ignition_density(self, landscape_id: int) -> np.ndarray | None:
        """The density's window under tile ``landscape_id`` (the rows and columns the tile was
        cut from), or None without a density."""
        return self._window(getattr(self, "_density", None), landscape_id)

    def describe(self) -> str:
        text = super().describe()
        if getattr(self, "_density", None) is not None:
            text += (f", ignitions proportional to {self._density_name}"
                     f" ({self.tiles_without_ignitions} tiles without ignition density left out)")
        if getattr(self, "_value_grid", None) is not None:
            text += (f", values at risk from {self._values_name}"
                     f" ({self.tiles_without_values} tiles without value left out)")
        return text

    def _dataset_source_width(self) -> int | None:
        shape = (getattr(self._dataset, "metadata", None) or {}).get("source_shape")
        return int(shape[1]) if shape else None

    def _load(self, landscape_id: int) -> Landscape:
        k = int(self.ids[landscape_id])
        return self._tiles[k][2] if self._tiles is not None else self._dataset[k]


class MixedSource(LandscapeSource):
    """Several sources of one grid shape as one (``make_source("synthetic+DIR")``): ids run
    through the first source, then the next; each epoch takes as many landscapes from every
    source as the smallest holds (a fresh random subset of the larger ones) and interleaves
    them, so every kind of landscape weighs alike however many each source holds."""

    def __init__(self, sources: list[LandscapeSource]):
        if len(sources) < 2:
            raise InputError("landscapes: a mixture needs at least two sources")
        shapes = {s.grid_shape for s in sources}
        if len(shapes) > 1:
            raise InputError(f"landscapes: the sources of a mixture must share one grid shape, got {sorted(shapes)}")
        self.sources = list(sources)
        self.offsets = np.cumsum([0] + [len(s) for s in sources])
        self.name = " + ".join(s.name for s in sources)
        super().__init__(int(self.offsets[-1]), sources[0].grid_shape, cache_size=1)

    def _locate(self, landscape_id: int) -> tuple[LandscapeSource, int]:
        i = int(np.searchsorted(self.offsets, int(landscape_id), side="right")) - 1
        if not 0 <= i < len(self.sources):
            raise InputError(f"landscape id {landscape_id} is outside this mixture's {self.count} landscapes")
        return self.sources[i], int(landscape_id) - int(self.offsets[i])

    def _load(self, landscape_id: int) -> Landscape:
        source, local = self._locate(landscape_id)
        return source.landscape(local)

    def ignition_density(self, landscape_id: int) -> np.ndarray | None:
        source, local = self._locate(landscape_id)
        return source.ignition_density(local)

    def values(self, landscape_id: int) -> np.ndarray | None:
        source, local = self._locate(landscape_id)
        return source.values(local)

    @property
    def values_key(self):
        keys = tuple(s.values_key for s in self.sources)
        return None if all(k is None for k in keys) else keys

    def epoch_order(self, rng: np.random.Generator) -> np.ndarray:
        per_source = min(len(s) for s in self.sources)
        picks = [self.offsets[i] + rng.permutation(len(s))[:per_source] for i, s in enumerate(self.sources)]
        return np.stack(picks, axis=1).reshape(-1)

    def describe(self) -> str:
        return " + ".join(s.describe() for s in self.sources)


def _full_grid_raster(raster, full: Landscape, read_file, check_array, array_name: str) -> tuple[str, np.ndarray]:
    """(name, raster) of a per-cell raster on a LANDFIRE folder's grid: a GeoTIFF path read with
    ``read_file`` (checked against ``full``'s grid) and named by its file, or an array checked
    with ``check_array`` and named ``array_name``."""
    if isinstance(raster, (str, Path)):
        return Path(raster).name, read_file(raster, full)
    return array_name, check_array(raster, full)


def check_value_mode(mode: str) -> str:
    """A synthetic source's values mode, one of ``VALUE_MODES``; InputError otherwise."""
    if mode not in VALUE_MODES:
        raise InputError(f"synthetic values: expected one of {', '.join(VALUE_MODES)}, got {mode!r}")
    return mode


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise InputError(f"split: expected one of {SPLITS}, got {split!r}")


def _spatial_split(origins, size, width, total: int, split: str, eval_fraction: float) -> np.ndarray:
    if split == "all":
        return np.arange(total)
    if origins is None or width is None:
        raise InputError("landscapes: this tile dataset records no tile origins, so it cannot be split spatially; "
                         "use split='all' or rebuild it with qagent-tiles")
    if not 0.0 < eval_fraction < 1.0:
        raise InputError(f"eval_fraction: must lie in (0, 1), got {eval_fraction}")
    boundary = int(round(width * (1.0 - eval_fraction)))
    cols = np.array([c for _, c in origins])
    keep = (cols >= boundary) if split == "eval" else (cols + size[1] <= boundary)
    return np.nonzero(keep)[0]


def make_source(spec: str, grid_size: int | tuple[int, int] = 50, split: str = "train", *, fuel: str = "F40",
                **kwargs) -> LandscapeSource:
    """``"synthetic"`` (default training set) or a folder: a tile dataset or LANDFIRE layers;
    several joined by ``+`` (``"synthetic+DIR"``) make a :class:`MixedSource`. ``fuel`` ("F40"
    or "F13") picks the LANDFIRE fuel product of a folder of GeoTIFFs; other sources have their
    fuels already and refuse "F13". Values at risk: ``values`` (a GeoTIFF on a LANDFIRE
    folder's grid, or an array) for a folder, ``synthetic_values`` (a ``VALUE_MODES`` mode,
    default "ones") for synthetic landscapes."""
    from qagent.landscape.landfire import _check_fuel

    if "+" in spec and not Path(spec).exists():
        parts = spec.split("+")
        if any(not part for part in parts):
            raise InputError(f"landscapes: {spec!r} has an empty part; join sources as 'synthetic+DIR'")
        subs = []
        for part in parts:
            kw = dict(kwargs)
            if part == "synthetic":  # a density or a values raster lies on the folders' map grid
                kw.pop("ignition_density", None)
                kw.pop("values", None)
            else:
                kw.pop("synthetic_values", None)
            subs.append(make_source(part, grid_size, split, fuel="F40" if part == "synthetic" else fuel, **kw))
        return MixedSource(subs)

    shape = (grid_size, grid_size) if isinstance(grid_size, int) else tuple(grid_size)
    if spec == "synthetic":
        if _check_fuel(fuel) != "F40":
            raise InputError(f"fuel: {fuel} only applies to a folder of LANDFIRE GeoTIFFs; synthetic landscapes "
                             "carry Scott & Burgan 40 fuels")
        if kwargs.get("ignition_density") is not None:
            raise InputError("ignition density: synthetic landscapes have no map grid to align a density with; "
                             "use --landscapes with a folder of LANDFIRE GeoTIFFs on the density's grid")
        if kwargs.get("values") is not None:
            raise InputError("values: synthetic landscapes have no map grid to align values at risk with; use "
                             "--synthetic-values for synthetic values at risk, or --landscapes with a folder of "
                             "LANDFIRE GeoTIFFs on the values' grid")
        return SyntheticSource(shape, split, count=kwargs.get("count"),
                               values=kwargs.get("synthetic_values") or "ones")
    if (kwargs.get("synthetic_values") or "ones") != "ones":
        raise InputError(f"synthetic values: {kwargs['synthetic_values']!r} only applies to synthetic landscapes; "
                         f"give a folder of LANDFIRE GeoTIFFs its values at risk with --values FILE.tif")
    return TileSource(spec, split, tile_size=shape[0], stride=kwargs.get("stride", max(1, shape[0] // 2)),
                      eval_fraction=kwargs.get("eval_fraction", DEFAULT_EVAL_FRACTION), fuel=fuel,
                      ignition_density=kwargs.get("ignition_density"), values=kwargs.get("values"))
