"""Tiles, tile datasets on disk, epochs over them, the original project's tile layout, and the
``qagent-tiles`` console entry."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from qagent._validation import InputError
from qagent.landscape import FLOAT_LAYERS, Landscape
from qagent.landscape.synthetic import synthetic
from qagent.landscape.tiles import TileDataset, main, tile_origins, tiles, window_transform, write_tile_dataset

WORCESTER = Path(__file__).resolve().parents[1].parent / "shared/landfire/worcester_vt"
needs_worcester = pytest.mark.skipif(not WORCESTER.is_dir(),
                                     reason=f"the LANDFIRE sample {WORCESTER} is absent (it is not in the repo)")
LAYERS = (*FLOAT_LAYERS, "fuel_model")


def assert_same_tile(a: Landscape, b: Landscape) -> None:
    for name in LAYERS:
        assert torch.equal(getattr(a, name), getattr(b, name)), name
    assert (a.nodata_mask is None and b.nodata_mask is None) or torch.equal(a.nodata_mask, b.nodata_mask)
    assert a.transform == b.transform and a.crs == b.crs and a.cell_size_m == b.cell_size_m


def with_nodata(landscape: Landscape, mask: np.ndarray) -> Landscape:
    """The landscape with ``mask`` cells flagged nodata (and non-burnable, as the loader makes them)."""
    fuel = np.where(mask, 99, landscape.fuel_model.numpy())
    layers = {name: getattr(landscape, name) for name in FLOAT_LAYERS}
    return Landscape(**layers, fuel_model=fuel, cell_size_m=landscape.cell_size_m, nodata_mask=mask)


# ------------------------------------------------------------------------------ tiling
def test_windows_cover_the_grid_without_padding():
    ls = synthetic(73, 58, seed=3)
    origins = tile_origins(ls, size=20, stride=15)
    assert origins.tolist() == [[r, c] for r in (0, 15, 30, 45) for c in (0, 15, 30)]
    got = list(tiles(ls, size=20, stride=15))
    assert [(r, c) for r, c, _ in got] == [tuple(o) for o in origins.tolist()]
    for row0, col0, tile in got:
        assert tile.shape == (20, 20) and tile.transform is None
        assert torch.equal(tile.fuel_model, ls.fuel_model[row0:row0 + 20, col0:col0 + 20])
        assert torch.equal(tile.slope, ls.slope[row0:row0 + 20, col0:col0 + 20])


def test_nodata_fraction_filter_matches_a_direct_count():
    ls = synthetic(60, 60, seed=1)
    rng = np.random.default_rng(0)
    mask = np.zeros((60, 60), dtype=bool)
    mask[:, :7] = True  # a nodata margin, as along LANDFIRE clip edges
    mask[rng.integers(0, 60, 40), rng.integers(0, 60, 40)] = True
    ls = with_nodata(ls, mask)
    for fraction in (0.0, 0.05, 0.2, 0.5, 1.0):
        expected = [(r, c) for r in range(0, 51, 5) for c in range(0, 51, 5)
                    if mask[r:r + 10, c:c + 10].mean() <= fraction]
        assert [tuple(o) for o in tile_origins(ls, 10, 5, fraction).tolist()] == expected, fraction


def test_tiles_are_copies():
    ls = synthetic(40, 40, seed=2)
    before = ls.fuel_model.clone()
    _, _, tile = next(tiles(ls, size=10, stride=10))
    tile.fuel_model[:] = 91  # e.g. fuel breaks placed on the tile
    assert torch.equal(ls.fuel_model, before)


@pytest.mark.parametrize("kwargs, words", [
    ({"size": 41}, "do not fit"), ({"size": 0}, "size"), ({"stride": 0}, "stride"), ({"stride": 2.5}, "stride"),
    ({"max_nodata_fraction": 1.5}, "max_nodata_fraction"), ({"max_nodata_fraction": float("nan")}, "fraction"),
])
def test_bad_tiling_arguments_fail_at_the_call(kwargs, words):
    ls = synthetic(40, 30, seed=0)
    with pytest.raises(InputError, match=words):
        tiles(ls, **{"size": 10, "stride": 5, **kwargs})
    with pytest.raises(InputError, match="Landscape"):
        tile_origins(np.zeros((40, 40)))


def test_window_transform_keeps_the_type():
    affine = pytest.importorskip("affine")
    t = affine.Affine(30.0, 0.0, 1000.0, 0.0, -30.0, 5000.0)
    assert window_transform(t, 2, 3) == t @ affine.Affine.translation(3, 2)
    assert window_transform(tuple(t)[:6], 2, 3) == (30.0, 0.0, 1090.0, 0.0, -30.0, 4940.0)
    assert window_transform(None, 2, 3) is None


# ------------------------------------------------------------------------------ Worcester
@pytest.fixture(scope="module")
def worcester():
    if not WORCESTER.is_dir():
        pytest.skip(f"the LANDFIRE sample {WORCESTER} is absent (it is not in the repo)")
    from qagent.landscape.landfire import load_landfire

    return load_landfire(WORCESTER)


def raw_nodata_mask() -> np.ndarray:
    """Nodata of the raw files, read here with rasterio: a cell is nodata if any layer says so."""
    rasterio = pytest.importorskip("rasterio")
    mask = None
    for path in sorted(WORCESTER.glob("*.tif")):
        with rasterio.open(path) as src:
            layer = src.read(1) == src.nodata
        mask = layer if mask is None else mask | layer
    return mask


@needs_worcester
def test_worcester_tile_count_matches_an_independent_window_scan(worcester):
    mask = raw_nodata_mask()
    height, width = mask.shape
    for fraction in (0.0, 0.25):
        expected = []
        for row0 in range(0, height - 50 + 1, 25):
            for col0 in range(0, width - 50 + 1, 25):
                if mask[row0:row0 + 50, col0:col0 + 50].sum() <= fraction * 2500:
                    expected.append((row0, col0))
        got = [(row0, col0) for row0, col0, _ in tiles(worcester, 50, 25, max_nodata_fraction=fraction)]
        assert got == expected
    assert len([1 for _ in tiles(worcester, 50, 25)]) == 282  # of 23 x 20 = 460 windows


@needs_worcester
@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")  # rasterio's window_transform uses affine's `*`
def test_worcester_tiles_carry_their_window_georeferencing(worcester):
    rasterio = pytest.importorskip("rasterio")
    from rasterio.windows import Window

    with rasterio.open(WORCESTER / "LC22_CBD_230.tif") as src:
        for row0, col0, tile in list(tiles(worcester, 50, 25))[::40]:
            window = Window(col0, row0, 50, 50)
            assert tile.transform == src.window_transform(window) and tile.crs == src.crs
            np.testing.assert_allclose(tile.canopy_bulk_density.numpy(), src.read(1, window=window) / 100, rtol=1e-6)
            assert not tile.nodata_mask.any()


@needs_worcester
def test_worcester_dataset_round_trips_every_tile(worcester, tmp_path, monkeypatch):
    ds = write_tile_dataset(WORCESTER, tmp_path / "worcester")
    expected = list(tiles(worcester, 50, 25))
    assert len(ds) == len(expected) == 282
    assert ds.origins.tolist() == [[r, c] for r, c, _ in expected]
    for (_, _, tile), stored in zip(expected, ds):
        assert_same_tile(stored, tile)
    index = json.loads((tmp_path / "worcester" / "index.json").read_text())
    assert index["name"] == "worcester_vt" and index["source_shape"] == [613, 549]
    assert index["transform"] == list(worcester.transform)[:6] and "Albers" in index["crs"]
    from qagent import __version__

    assert index["qagent_version"] == __version__ and index["layers"]["canopy_bulk_density"]["unit"] == "kg/m3"

    # Loading needs numpy alone: neither rasterio nor affine.
    for module in ("rasterio", "rasterio.crs", "affine"):
        monkeypatch.setitem(sys.modules, module, None)
    bare = TileDataset(tmp_path / "worcester")[7]
    assert bare.transform == tuple(expected[7][2].transform)[:6] and bare.crs == worcester.crs.to_wkt()
    assert torch.equal(bare.canopy_bulk_density, expected[7][2].canopy_bulk_density)


# ------------------------------------------------------------------------------ datasets
@pytest.fixture(scope="module")
def small_dataset(tmp_path_factory) -> TileDataset:
    ls = synthetic(100, 120, seed=4)
    mask = np.zeros(ls.shape, dtype=bool)
    mask[:, -10:] = True  # the last column of tiles is half nodata
    return write_tile_dataset(with_nodata(ls, mask), tmp_path_factory.mktemp("tiles") / "ds", size=20, stride=20,
                              max_nodata_fraction=0.5, name="small")


def test_dataset_indexing_and_metadata(small_dataset):
    ds = small_dataset
    assert len(ds) == 5 * 6 and ds.metadata["name"] == "small" and ds.metadata["transform"] is None
    assert ds[-1].shape == (20, 20) and ds[3].transform is None and ds[3].crs is None
    assert bool(ds[5].nodata_mask[:, -10:].all()) and not ds[5].nodata_mask[:, :-10].any()
    assert (ds[5].fuel_model[:, -10:] == 99).all() and not ds[4].nodata_mask.any()
    assert_same_tile(ds[-1], ds[len(ds) - 1])
    with pytest.raises(IndexError):
        ds[len(ds)]
    assert len(list(ds)) == len(ds)


def test_every_epoch_serves_every_tile_once_in_a_fresh_order(small_dataset):
    ds = small_dataset
    rng = np.random.default_rng(11)
    orders = []
    for _ in range(4):
        order = [index for index, _ in ds.epoch(rng)]
        assert sorted(order) == list(range(len(ds)))
        orders.append(order)
    assert len({tuple(o) for o in orders}) == 4


def test_cycle_runs_epochs_without_end(small_dataset):
    ds = small_dataset
    n = len(ds)
    stream = ds.cycle(seed=5)
    served = [next(stream) for _ in range(3 * n)]
    epochs = [[index for index, _ in served[e * n:(e + 1) * n]] for e in range(3)]
    for order in epochs:
        assert sorted(order) == list(range(n))
    assert epochs[0] != epochs[1] != epochs[2]
    for index, tile in served[:n]:
        assert torch.equal(tile.elevation, ds[index].elevation)
    again = ds.cycle(seed=5)
    assert [next(again)[0] for _ in range(2 * n)] == epochs[0] + epochs[1]
    other = ds.cycle(seed=6)
    assert [next(other)[0] for _ in range(n)] != epochs[0]


def test_bad_seed(small_dataset):
    with pytest.raises(InputError, match="rng"):
        next(small_dataset.epoch("seed"))


def test_write_refuses_to_clobber(tmp_path):
    ls = synthetic(30, 30, seed=0)
    write_tile_dataset(ls, tmp_path / "ds", size=10, stride=10)
    with pytest.raises(InputError, match="not empty"):
        write_tile_dataset(ls, tmp_path / "ds", size=10, stride=10)
    assert len(write_tile_dataset(ls, tmp_path / "ds", size=15, stride=15, overwrite=True)) == 4
    assert TileDataset(tmp_path / "ds").metadata["tile_size"] == 15
    (tmp_path / "ds" / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="notes.txt"):
        write_tile_dataset(ls, tmp_path / "ds", size=10, stride=10, overwrite=True)
    assert (tmp_path / "ds" / "notes.txt").read_text() == "mine" and len(TileDataset(tmp_path / "ds")) == 4


def test_broken_datasets_name_the_file(tmp_path):
    write_tile_dataset(synthetic(30, 30, seed=0), tmp_path / "ds", size=10, stride=10)
    (tmp_path / "ds" / "slope.npy").write_bytes(b"\x93NUMPY broken")
    with pytest.raises(InputError, match="slope.npy"):
        TileDataset(tmp_path / "ds")
    np.save(tmp_path / "ds" / "slope.npy", np.zeros((9, 10, 11), np.float32))
    with pytest.raises(InputError, match=r"slope.npy: holds float32 \(9, 10, 11\)"):
        TileDataset(tmp_path / "ds")
    index = json.loads((tmp_path / "ds" / "index.json").read_text())
    (tmp_path / "ds" / "index.json").write_text(json.dumps({**index, "format_version": 99}))
    with pytest.raises(InputError, match="format_version 99"):
        TileDataset(tmp_path / "ds")
    del index["origins"]
    (tmp_path / "ds" / "index.json").write_text(json.dumps(index))
    with pytest.raises(InputError, match="index.json: a field is missing"):
        TileDataset(tmp_path / "ds")
    (tmp_path / "ds" / "index.json").write_text("{not json")
    with pytest.raises(InputError, match="index.json: cannot be read as JSON"):
        TileDataset(tmp_path / "ds")
    with pytest.raises(InputError, match="no such folder"):
        TileDataset(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="neither a tile dataset"):
        TileDataset(tmp_path / "empty")


# ------------------------------------------------------------------------------ rasters on disk
def write_layer(path: Path, data: np.ndarray, transform, crs="EPSG:5070") -> None:
    rasterio = pytest.importorskip("rasterio")
    with rasterio.open(path, "w", driver="GTiff", height=data.shape[0], width=data.shape[1], count=1,
                       dtype=data.dtype.name, transform=transform, crs=crs, nodata=32767) as dst:
        dst.write(data, 1)


def stored_values(ls: Landscape, window, *, slope_degrees: bool) -> dict[str, np.ndarray]:
    """A window of ``ls`` in LANDFIRE's stored units (slope in degrees as float32, or percent)."""
    def scaled(name, factor):
        return np.round(getattr(ls, name).numpy()[window] * factor).astype(np.int16)

    slope = ls.slope.numpy()[window]
    return {
        "slope": np.degrees(np.arctan(slope)).astype(np.float32) if slope_degrees else scaled("slope", 100),
        "aspect": scaled("aspect", 1), "elevation": scaled("elevation", 1),
        "fuel": ls.fuel_model.numpy()[window].astype(np.int16), "cc": scaled("canopy_cover", 100),
        "ch": scaled("canopy_height", 10), "cbh": scaled("canopy_base_height", 10),
        "cbd": scaled("canopy_bulk_density", 100),
    }


@pytest.fixture(scope="module")
def landfire_folder(tmp_path_factory) -> Path:
    """A 40 x 30 LANDFIRE folder made from a synthetic landscape."""
    affine = pytest.importorskip("affine")
    folder = tmp_path_factory.mktemp("landfire")
    names = {"slope": "LC20_SlpP_220", "aspect": "LC20_Asp_220", "elevation": "LC20_Elev_220",
             "fuel": "LC22_F40_230", "cc": "LC22_CC_230", "ch": "LC22_CH_230", "cbh": "LC22_CBH_230",
             "cbd": "LC22_CBD_230"}
    transform = affine.Affine(30.0, 0.0, 1_833_825.0, 0.0, -30.0, 2_617_605.0)
    for key, data in stored_values(synthetic(40, 30, seed=8), np.s_[:, :], slope_degrees=False).items():
        write_layer(folder / f"{names[key]}.tif", data, transform)
    return folder


def test_console_writes_a_dataset(landfire_folder, tmp_path, capsys):
    from qagent.landscape.landfire import load_landfire

    out = tmp_path / "out"
    assert main([str(landfire_folder), str(out), "--size", "10", "--stride", "5"]) == 0
    assert "wrote 35 tiles of 10 x 10 cells (stride 5" in capsys.readouterr().out
    ds = TileDataset(out)
    ls = load_landfire(landfire_folder)
    assert len(ds) == len(tile_origins(ls, 10, 5)) == 7 * 5
    assert_same_tile(ds[8], list(tiles(ls, 10, 5))[8][2])

    assert main([str(landfire_folder), str(out), "--size", "10"]) == 2
    assert "not empty" in capsys.readouterr().err
    assert main([str(landfire_folder), str(out), "--size", "20", "--stride", "10", "--overwrite",
                 "--layer", f"canopy_cover={landfire_folder / 'LC22_CC_230.tif'}"]) == 0
    assert len(TileDataset(out)) == 3 * 2
    assert main([str(tmp_path / "nowhere"), str(tmp_path / "o2")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main([str(landfire_folder), str(tmp_path / "o3"), "--size", "50"]) == 2
    assert "do not fit" in capsys.readouterr().err


def test_console_help_and_usage_errors(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for option in ("--size", "--stride", "--max-nodata-fraction", "--fuel", "--layer", "--overwrite", "SlpP"):
        assert option in text
    with pytest.raises(SystemExit) as exit_info:
        main(["src", "out", "--layer", "canopy_cover"])
    assert exit_info.value.code == 2


# ------------------------------------------------------------------------------ the original layout
@pytest.fixture
def tile_layout(tmp_path, landfire_folder):
    """The original project's layout, cut from the LANDFIRE folder: <root>/<layer>/<root>_<k>_<layer>.tif,
    k = 1..4, slope in degrees."""
    from qagent.landscape.landfire import load_landfire

    ls = load_landfire(landfire_folder)
    root = tmp_path / "cropped_raster"
    origins = {1: (0, 0), 2: (0, 10), 3: (15, 5), 4: (28, 18)}
    for k, (row0, col0) in origins.items():
        window = np.s_[row0:row0 + 12, col0:col0 + 12]
        values = stored_values(ls, window, slope_degrees=True)
        for layer, key in {"slp": "slope", "asp": "aspect", "dem": "elevation", "cc": "cc", "cbd": "cbd",
                           "cbh": "cbh", "ch": "ch", "fbfm": "fuel"}.items():
            (root / layer).mkdir(parents=True, exist_ok=True)
            write_layer(root / layer / f"{root.name}_{k}_{layer}.tif", values[key],
                        window_transform(ls.transform, row0, col0))
    return root, ls, origins


def test_tile_layout_loads_like_the_source(tile_layout):
    from qagent.landscape.landfire import load_landfire

    root, ls, origins = tile_layout
    ds = TileDataset(root)
    assert len(ds) == 4 and ds.keys == [1, 2, 3, 4] and ds.origins is None
    for i, (row0, col0) in enumerate(origins.values()):
        tile = ds[i]
        window = np.s_[row0:row0 + 12, col0:col0 + 12]
        assert tile.transform == window_transform(ls.transform, row0, col0) and tile.crs == ls.crs
        np.testing.assert_allclose(tile.slope.numpy(), ls.slope.numpy()[window], rtol=1e-5, atol=1e-6)
        for name in ("aspect", "canopy_cover", "canopy_bulk_density", "canopy_height", "fuel_model"):
            assert torch.equal(getattr(tile, name), getattr(ls, name)[window]), name
    by_key = load_landfire((root, 3))
    by_file = load_landfire(root / "cbh" / "cropped_raster_3_cbh.tif")
    assert_same_tile(by_key, ds[2])
    assert_same_tile(by_file, by_key)
    assert sorted(index for index, _ in ds.epoch(0)) == [0, 1, 2, 3]


def test_tile_layout_errors(tile_layout):
    from qagent.landscape.landfire import load_landfire

    root, _, _ = tile_layout
    with pytest.raises(InputError, match="tile-layout root"):
        load_landfire(root)
    with pytest.raises(InputError, match="tile 9 has no slp layer"):
        load_landfire((root, 9))
    (root / "cbd" / "cropped_raster_2_cbd.tif").unlink()
    with pytest.raises(InputError, match="tile 2 has no cbd layer"):
        TileDataset(root)


def test_nodata_fraction_is_respected_on_disk(tmp_path):
    ls = synthetic(40, 40, seed=3)
    mask = np.zeros((40, 40), dtype=bool)
    mask[:2, :] = True  # the top row of tiles is 10 % nodata
    ds = write_tile_dataset(with_nodata(ls, mask), tmp_path / "ds", size=20, stride=10, max_nodata_fraction=0.1)
    fractions = [float(tile.nodata_mask.float().mean()) for tile in ds]
    assert len(ds) == 9 and max(fractions) == pytest.approx(0.1)
    assert math.isclose(ds.metadata["max_nodata_fraction"], 0.1)
    strict = write_tile_dataset(with_nodata(ls, mask), tmp_path / "strict", size=20, stride=10,
                                max_nodata_fraction=0.05)
    assert strict.origins[:, 0].tolist() == [10] * 3 + [20] * 3
