"""LANDFIRE GeoTIFFs in and results out: units, nodata, georeferencing, and an error naming the
file for every kind of broken input (rasters written here with rasterio)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

rasterio = pytest.importorskip("rasterio", reason="reading GeoTIFFs needs rasterio")
from affine import Affine  # noqa: E402  (installed with rasterio)

from qagent._validation import InputError  # noqa: E402
from qagent.fire import Weather, behavior  # noqa: E402
from qagent.landscape import Landscape  # noqa: E402
from qagent.landscape.landfire import load_landfire, resolve_layer_paths, save_geotiff  # noqa: E402

WORCESTER = Path(__file__).resolve().parents[1].parent / "shared/landfire/worcester_vt"
needs_worcester = pytest.mark.skipif(not WORCESTER.is_dir(),
                                     reason=f"the LANDFIRE sample {WORCESTER} is absent (it is not in the repo)")

# The Worcester files and their conversion to SI (its README).
WORCESTER_FILES = {
    "elevation": ("LC20_Elev_220.tif", 1.0), "slope": ("LC20_SlpP_220.tif", 0.01),
    "canopy_cover": ("LC22_CC_230.tif", 0.01), "canopy_height": ("LC22_CH_230.tif", 0.1),
    "canopy_base_height": ("LC22_CBH_230.tif", 0.1), "canopy_bulk_density": ("LC22_CBD_230.tif", 0.01),
}
WORCESTER_NODATA_CELLS = 108_586

# A small valid LANDFIRE set, written per test and then broken one way at a time.
TRANSFORM = Affine(30.0, 0.0, 1_833_825.0, 0.0, -30.0, 2_617_605.0)
SHAPE = (6, 7)
FILES = {"elevation": "LC20_Elev_220.tif", "slope_percent": "LC20_SlpP_220.tif", "aspect": "LC20_Asp_220.tif",
         "fuel_model": "LC22_F40_230.tif", "canopy_cover": "LC22_CC_230.tif", "canopy_height": "LC22_CH_230.tif",
         "canopy_base_height": "LC22_CBH_230.tif", "canopy_bulk_density": "LC22_CBD_230.tif"}


def raw_layers() -> dict[str, np.ndarray]:
    """Stored (LANDFIRE) values of a 6 x 7 landscape: GR2 grass, TU5 timber, NB1 urban."""
    h, w = SHAPE
    fuel = np.full(SHAPE, 165, np.int16)
    fuel[:, :2] = 102
    fuel[5, 6] = 91
    timber = fuel == 165
    return {
        "elevation": (300 + 10 * np.arange(h * w).reshape(SHAPE)).astype(np.int16),
        "slope_percent": np.tile(np.arange(w, dtype=np.int16) * 15, (h, 1)),
        "aspect": np.where(np.arange(h * w).reshape(SHAPE) % 5 == 0, -1, 180).astype(np.int16),
        "fuel_model": fuel,
        "canopy_cover": np.where(timber, 70, 0).astype(np.int16),
        "canopy_height": np.where(timber, 250, 0).astype(np.int16),   # 25 m
        "canopy_base_height": np.where(timber, 30, 0).astype(np.int16),  # 3 m
        "canopy_bulk_density": np.where(timber, 18, 0).astype(np.int16),  # 0.18 kg/m3
    }


def write_raster(path: Path, data, *, transform=TRANSFORM, crs="EPSG:5070", nodata=32767) -> Path:
    data = np.asarray(data)
    profile = {"driver": "GTiff", "height": data.shape[0], "width": data.shape[1], "count": 1,
               "dtype": data.dtype.name}
    if transform is not None:
        profile["transform"] = transform
    if crs is not None:
        profile["crs"] = crs
    if nodata is not None:
        profile["nodata"] = nodata
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data, 1)
    return path


@pytest.fixture
def folder(tmp_path) -> Path:
    for key, data in raw_layers().items():
        write_raster(tmp_path / FILES[key], data)
    return tmp_path


def expect_error(source, *fragments, **kwargs) -> str:
    with pytest.raises(InputError) as info:
        load_landfire(source, **kwargs)
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    return message


# ------------------------------------------------------------------------------ Worcester, VT
@pytest.fixture(scope="module")
def worcester() -> Landscape:
    if not WORCESTER.is_dir():
        pytest.skip(f"the LANDFIRE sample {WORCESTER} is absent (it is not in the repo)")
    return load_landfire(WORCESTER)


def read_raw(name: str) -> tuple[np.ndarray, object]:
    with rasterio.open(WORCESTER / name) as src:
        return src.read(1), src


@needs_worcester
def test_worcester_grid_and_georeferencing(worcester):
    with rasterio.open(WORCESTER / "LC22_F40_230.tif") as src:
        assert worcester.shape == src.shape == (613, 549)
        assert worcester.transform == src.transform
        assert worcester.crs == src.crs and worcester.crs.to_epsg() == 5070
    assert worcester.cell_size_m == 30.0


@needs_worcester
def test_worcester_nodata_is_the_readme_count_and_non_burnable(worcester):
    mask = worcester.nodata_mask.numpy()
    assert mask.sum() == WORCESTER_NODATA_CELLS
    raw_nodata = read_raw("LC22_CBD_230.tif")[0] == 32767
    assert np.array_equal(mask, raw_nodata)
    assert (worcester.fuel_model.numpy()[mask] == 99).all()
    for name in ("slope", "aspect", "canopy_cover", "canopy_height", "canopy_base_height", "canopy_bulk_density"):
        assert (getattr(worcester, name).numpy()[mask] == 0).all(), name
    assert not worcester.burnable_mask().numpy()[mask].any()


@needs_worcester
@pytest.mark.parametrize("field", list(WORCESTER_FILES))
def test_worcester_layers_have_the_readme_units(worcester, field):
    name, scale = WORCESTER_FILES[field]
    raw = read_raw(name)[0]
    valid = ~worcester.nodata_mask.numpy()
    got = getattr(worcester, field).numpy()
    np.testing.assert_allclose(got[valid], raw[valid] * scale, rtol=1e-6, atol=1e-6)


@needs_worcester
def test_worcester_spot_values(worcester):
    raw_cbd, raw_ch = read_raw("LC22_CBD_230.tif")[0], read_raw("LC22_CH_230.tif")[0]
    valid = raw_cbd != 32767
    row, col = np.unravel_index(np.argmax(np.where(valid, raw_cbd, -1)), raw_cbd.shape)
    assert raw_cbd[row, col] == 45  # the densest canopy of the sample: 0.45 kg/m3
    assert float(worcester.canopy_bulk_density[row, col]) == pytest.approx(raw_cbd[row, col] / 100)
    assert float(worcester.canopy_height[row, col]) == pytest.approx(raw_ch[row, col] / 10)
    assert float(worcester.slope.max()) == pytest.approx(1.09)  # README: SlpP 0-109 %
    assert float(worcester.elevation[~worcester.nodata_mask].min()) == 201.0


@needs_worcester
def test_worcester_aspect_and_fuel(worcester):
    raw_asp, raw_fuel = read_raw("LC20_Asp_220.tif")[0], read_raw("LC22_F40_230.tif")[0]
    valid = raw_fuel != 32767
    aspect = worcester.aspect.numpy()
    assert (aspect[valid & (raw_asp == -1)] == 0).all() and (raw_asp == -1).any()
    assert np.array_equal(aspect[valid & (raw_asp >= 0)], raw_asp[valid & (raw_asp >= 0)])
    assert np.array_equal(worcester.fuel_model.numpy()[valid], raw_fuel[valid])
    codes = np.unique(worcester.fuel_model.numpy()[valid])
    # The README's 29 classes count the nodata value: 24 burnable, 4 non-burnable, 32767.
    assert len(codes[codes > 100]) == 24 and len(codes[codes < 100]) == 4


@needs_worcester
def test_worcester_anderson_13_fuel():
    ls = load_landfire(WORCESTER, fuel="F13")
    raw = read_raw("LC22_F13_230.tif")[0]
    valid = ~ls.nodata_mask.numpy()
    assert np.array_equal(ls.fuel_model.numpy()[valid], raw[valid])
    assert set(np.unique(ls.fuel_model.numpy())) <= set(range(1, 14)) | set(range(91, 100))


@needs_worcester
def test_worcester_fire_behavior_end_to_end(worcester):
    weather = Weather(wind_speed_10m=25.0, upwind_direction=225.0, fuel_moisture_dead_1hr=0.06,
                      fuel_moisture_dead_10hr=0.07, fuel_moisture_dead_100hr=0.08,
                      fuel_moisture_live_herbaceous=0.6, fuel_moisture_live_woody=0.9, foliar_moisture=1.0)
    fb = behavior(worcester, weather)
    for name in ("spread_rate", "spread_direction", "fireline_intensity", "flame_length", "length_to_breadth"):
        assert bool(torch.isfinite(getattr(fb, name)).all()), name
    burnable = worcester.burnable_mask()
    assert int(burnable.sum()) > 100_000
    assert bool((fb.spread_rate[burnable] > 0).all())
    assert bool((fb.fire_type[worcester.nodata_mask] == 0).all())
    assert set(torch.unique(fb.fire_type).tolist()) >= {0, 1}


@needs_worcester
def test_worcester_by_other_names_and_by_mapping(tmp_path, worcester):
    """Product tokens match case-insensitively wherever they sit in the name."""
    renames = {"LC20_Elev_220.tif": "US_220_elev.TIF", "LC20_SlpP_220.tif": "US_220_SLPP.tif",
               "LC20_Asp_220.tif": "us-220-asp.tif", "LC22_F40_230.tif": "US_230_F40.tiff",
               "LC22_CC_230.tif": "US_230_CC.tif", "LC22_CH_230.tif": "US_230_CH.tif",
               "LC22_CBH_230.tif": "US_230_CBH.tif", "LC22_CBD_230.tif": "US_230_CBD.tif"}
    for old, new in renames.items():
        (tmp_path / new).symlink_to(WORCESTER / old)
    (tmp_path / "notes.txt").write_text("not a raster")
    renamed = load_landfire(tmp_path)
    mapped = load_landfire({key: WORCESTER / name for key, name in FILES.items()})
    for ls in (renamed, mapped):
        for name in ("slope", "aspect", "fuel_model", "canopy_bulk_density", "nodata_mask"):
            assert torch.equal(getattr(ls, name), getattr(worcester, name)), name


# ------------------------------------------------------------------------------ conversions
def test_small_set_converts_to_si(folder):
    ls = load_landfire(folder)
    raw = raw_layers()
    np.testing.assert_allclose(ls.slope.numpy(), raw["slope_percent"] / 100, rtol=1e-6)
    assert np.array_equal(ls.aspect.numpy(), np.where(raw["aspect"] == -1, 0, raw["aspect"]))
    np.testing.assert_allclose(ls.canopy_height.numpy().max(), 25.0)
    np.testing.assert_allclose(ls.canopy_base_height.numpy().max(), 3.0)
    np.testing.assert_allclose(ls.canopy_bulk_density.numpy().max(), 0.18)
    np.testing.assert_allclose(ls.canopy_cover.numpy().max(), 0.70)
    assert not ls.nodata_mask.any()


def test_slope_in_degrees_becomes_rise_over_run(folder):
    degrees = np.tile(np.array([0, 10, 30, 45, 60, 80, 84], np.int16), (SHAPE[0], 1))
    (folder / FILES["slope_percent"]).unlink()
    write_raster(folder / "LC20_SlpD_220.tif", degrees)
    ls = load_landfire(folder)
    np.testing.assert_allclose(ls.slope.numpy(), np.tan(np.radians(degrees)), rtol=1e-5)
    # An explicit layer replaces the folder's slope whatever its unit.
    ls = load_landfire(folder, layers={"slope_percent": write_raster(folder / "other.tif", degrees)})
    np.testing.assert_allclose(ls.slope.numpy(), degrees / 100, rtol=1e-6)


def test_percent_slope_wins_over_degrees_in_one_folder(folder):
    write_raster(folder / "LC20_SlpD_220.tif", np.full(SHAPE, 45, np.int16))
    ls = load_landfire(folder)
    np.testing.assert_allclose(ls.slope.numpy(), raw_layers()["slope_percent"] / 100, rtol=1e-6)


def test_nodata_in_one_layer_masks_the_cell_in_all(folder):
    raw = raw_layers()
    cc = raw["canopy_cover"].copy()
    cc[2, 4] = 32767
    write_raster(folder / FILES["canopy_cover"], cc)
    fuel = raw["fuel_model"].copy()
    fuel[0, 1] = -9999  # LANDFIRE's fill value, even where the file declares no nodata value
    write_raster(folder / FILES["fuel_model"], fuel, nodata=None)
    ls = load_landfire(folder)
    assert ls.nodata_mask.sum() == 2 and bool(ls.nodata_mask[2, 4]) and bool(ls.nodata_mask[0, 1])
    for row, col in ((2, 4), (0, 1)):
        assert int(ls.fuel_model[row, col]) == 99
        assert float(ls.canopy_bulk_density[row, col]) == 0.0 and float(ls.slope[row, col]) == 0.0
    assert float(ls.elevation[2, 4]) == raw["elevation"].min()


def test_float_rasters_with_nan_nodata(folder):
    cbd = raw_layers()["canopy_bulk_density"].astype(np.float32)
    cbd[1, 1] = np.nan
    write_raster(folder / FILES["canopy_bulk_density"], cbd, nodata=np.nan)
    ls = load_landfire(folder)
    assert bool(ls.nodata_mask[1, 1]) and int(ls.nodata_mask.sum()) == 1


@pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")
def test_ungeoreferenced_rasters_need_a_cell_size(tmp_path):
    for key, data in raw_layers().items():
        write_raster(tmp_path / FILES[key], data, transform=None, crs=None)
    expect_error(tmp_path, "LC20_Elev_220.tif", "no georeferencing", "cell_size_m")
    ls = load_landfire(tmp_path, cell_size_m=10.0)
    assert ls.cell_size_m == 10.0 and ls.transform is None and ls.crs is None


def test_cell_size_comes_from_the_grid_and_must_agree(folder):
    assert load_landfire(folder).cell_size_m == 30.0
    expect_error(folder, "cell_size_m", "25", "30", cell_size_m=25.0)


def test_geographic_crs_is_refused(tmp_path):
    for key, data in raw_layers().items():
        write_raster(tmp_path / FILES[key], data, transform=Affine(0.0003, 0, -72.6, 0, -0.0003, 44.4),
                     crs="EPSG:4326")
    expect_error(tmp_path, "LC20_Elev_220.tif", "not projected", "reproject")


# ------------------------------------------------------------------------------ broken input
def test_missing_layer_names_the_folder_and_the_product(folder):
    (folder / FILES["canopy_bulk_density"]).unlink()
    expect_error(folder, str(folder), "missing layer", "canopy_bulk_density (CBD)")


def test_missing_file_in_a_mapping_names_it(folder):
    paths = {key: folder / name for key, name in FILES.items()}
    paths["canopy_cover"] = folder / "nowhere.tif"
    expect_error(paths, "canopy_cover", "nowhere.tif", "does not exist")
    del paths["canopy_cover"]
    expect_error(paths, "missing layer", "canopy_cover")


def test_unknown_layer_key(folder):
    expect_error(folder, "unknown layer keys", "canopy_closure", layers={"canopy_closure": folder / "x.tif"})


def test_shape_mismatch_names_the_file(folder):
    write_raster(folder / FILES["canopy_cover"], np.zeros((6, 8), np.int16))
    expect_error(folder, FILES["canopy_cover"], "shape (6, 8)", "(6, 7)")


def test_transform_mismatch_names_the_file(folder):
    shifted = TRANSFORM @ Affine.translation(1, 0)  # one cell east
    write_raster(folder / FILES["canopy_height"], raw_layers()["canopy_height"], transform=shifted)
    expect_error(folder, FILES["canopy_height"], "transform", "1833855")


def test_crs_mismatch_names_the_file(folder):
    write_raster(folder / FILES["canopy_base_height"], raw_layers()["canopy_base_height"], crs="EPSG:32618")
    expect_error(folder, FILES["canopy_base_height"], "CRS", "EPSG:32618", "EPSG:5070")


def test_nan_outside_nodata_names_the_file_and_cell(folder):
    elevation = raw_layers()["elevation"].astype(np.float32)
    elevation[2, 3] = np.nan
    write_raster(folder / FILES["elevation"], elevation, nodata=None)
    expect_error(folder, FILES["elevation"], "NaN", "(2, 3)")


@pytest.mark.parametrize("key, value, words", [
    ("canopy_cover", 150, "canopy cover range [0, 100] percent"),
    ("slope_percent", 1200, "slope range [0, 1000] percent rise"),
    ("canopy_bulk_density", 450, "kg/m3 x 100"),
    ("canopy_height", -5, "m x 10"),
    ("aspect", 400, "aspect range [-1, 360] degrees"),
    ("elevation", 12000, "elevation range"),
])
def test_out_of_range_values_name_the_file_cell_and_unit(folder, key, value, words):
    data = raw_layers()[key].copy()
    data[4, 5] = value
    write_raster(folder / FILES[key], data)
    expect_error(folder, FILES[key], f"value {value}", "(4, 5)", words)


def test_degrees_file_holding_percent_gets_a_hint(folder):
    (folder / FILES["slope_percent"]).unlink()
    write_raster(folder / "LC20_SlpD_220.tif", np.full(SHAPE, 95, np.int16))
    expect_error(folder, "LC20_SlpD_220.tif", "suggest percent")


def test_unknown_fuel_codes_are_listed_with_a_location(folder):
    fuel = raw_layers()["fuel_model"].copy()
    fuel[3, 2], fuel[0, 6] = 150, 8  # 8 is Anderson's, not an F40 code
    write_raster(folder / FILES["fuel_model"], fuel)
    message = expect_error(folder, FILES["fuel_model"], "unknown fuel model codes [8, 150]", "(0, 6)", "F40")
    assert "2 cells" in message


def test_other_fuel_product_is_suggested(folder):
    expect_error(folder, "no F13", "LC22_F40_230.tif", "fuel='F40'", fuel="F13")
    expect_error(folder, "fuel", "F41", fuel="F41")


def test_two_files_for_one_product(folder):
    write_raster(folder / "LC16_CC_200.tif", raw_layers()["canopy_cover"])
    expect_error(folder, "LC16_CC_200.tif", "LC22_CC_230.tif", "several files")


@pytest.mark.parametrize("damage", ["truncated header", "truncated data", "garbage", "empty"])
def test_unreadable_file_is_wrapped_with_its_name(folder, damage):
    path = folder / FILES["canopy_cover"]
    if damage == "truncated data":  # a file large enough that its header survives: opening works, reading fails
        write_raster(path, np.ones((300, 300), np.int16))
    content = path.read_bytes()
    path.write_bytes({"truncated header": content[: len(content) // 3], "truncated data": content[: -len(content) // 3],
                      "garbage": b"II*\x00" + b"\x17" * 500, "empty": b""}[damage])
    expect_error(folder, str(path), "cannot be read")


def test_multiband_file_is_refused(folder):
    path = folder / FILES["canopy_cover"]
    with rasterio.open(path, "w", driver="GTiff", height=6, width=7, count=2, dtype="int16", transform=TRANSFORM,
                       crs="EPSG:5070") as dst:
        dst.write(np.zeros((2, *SHAPE), np.int16))
    expect_error(folder, FILES["canopy_cover"], "2 bands")


def test_bad_sources():
    expect_error(Path("/nonexistent/landfire"), "does not exist")
    expect_error(3, "source")
    with pytest.raises(InputError, match="not both"):
        resolve_layer_paths({"elevation": "x.tif"}, {"aspect": "y.tif"})


# ------------------------------------------------------------------------------ GeoTIFFs out
def reopen(path: Path):
    with rasterio.open(path) as src:
        return src.read(1), src.profile, src.read_masks(1)


@needs_worcester
def test_result_lines_up_with_the_source_grid_and_round_trips(worcester, tmp_path):
    result = worcester.canopy_bulk_density * 2.5 + worcester.slope  # any float [H, W] result
    path = save_geotiff(worcester, tmp_path / "result.tif", result)
    data, profile, mask = reopen(path)
    with rasterio.open(WORCESTER / "LC22_CBD_230.tif") as src:
        assert (profile["height"], profile["width"]) == src.shape
        assert profile["transform"] == src.transform and profile["crs"] == src.crs
    valid = ~worcester.nodata_mask.numpy()
    assert np.array_equal(data[valid], result.numpy()[valid])
    assert np.isnan(data[~valid]).all() and np.array_equal(mask != 0, valid)
    assert profile["compress"] == "deflate" and profile["dtype"] == "float32"


@needs_worcester
def test_bool_and_int_results(worcester, tmp_path):
    valid = ~worcester.nodata_mask.numpy()
    data, profile, _ = reopen(save_geotiff(worcester, tmp_path / "burnable.tif", worcester.burnable_mask()))
    assert profile["dtype"] == "uint8" and profile["nodata"] == 255
    assert np.array_equal(data[valid], worcester.burnable_mask().numpy()[valid]) and (data[~valid] == 255).all()
    data, profile, _ = reopen(save_geotiff(worcester, tmp_path / "fuel.tif", worcester.fuel_model.long(),
                                           mask_nodata=False))
    assert profile["dtype"] == "int32" and profile["nodata"] is None
    assert np.array_equal(data, worcester.fuel_model.numpy())
    data, profile, _ = reopen(save_geotiff(worcester, tmp_path / "fuel16.tif", worcester.fuel_model, dtype="int16",
                                           nodata=-1))
    assert profile["dtype"] == "int16" and (data[~valid] == -1).all()


def test_tile_result_lands_on_its_window(folder, tmp_path):
    ls = load_landfire(folder)
    from qagent.landscape.tiles import tiles

    row0, col0, tile = next(tile for tile in tiles(ls, size=3, stride=2) if tile[:2] == (2, 4))
    path = save_geotiff(tile, tmp_path / "tile.tif", tile.elevation)
    with rasterio.open(path) as src:
        x, y = src.xy(0, 0)
        assert (x, y) == ls.transform @ (col0 + 0.5, row0 + 0.5)
        assert np.array_equal(src.read(1), ls.elevation.numpy()[2:5, 4:7])


def test_band_description_and_units_are_stored(folder, tmp_path):
    ls = load_landfire(folder)
    path = save_geotiff(ls, tmp_path / "p.tif", np.full(SHAPE, 0.25), description="burn probability per fire",
                        units="fraction")
    with rasterio.open(path) as src:
        assert src.descriptions == ("burn probability per fire",) and src.units == ("fraction",)
    with rasterio.open(save_geotiff(ls, tmp_path / "q.tif", np.zeros(SHAPE))) as src:
        assert src.descriptions == (None,) and src.units in ((None,), ("",))  # none unless asked
    for bad in ("", 3, b"m"):
        with pytest.raises(InputError, match="units: expected a non-empty string"):
            save_geotiff(ls, tmp_path / "x.tif", np.zeros(SHAPE), units=bad)
        with pytest.raises(InputError, match="description: expected a non-empty string"):
            save_geotiff(ls, tmp_path / "x.tif", np.zeros(SHAPE), description=bad)


def test_save_errors(folder, tmp_path):
    ls = load_landfire(folder)
    with pytest.raises(InputError, match=r"shape \(7, 6\) does not match the landscape's grid \(6, 7\)"):
        save_geotiff(ls, tmp_path / "x.tif", np.zeros((7, 6)))
    with pytest.raises(InputError, match=r"value 0.5 at \(row, col\) \(0, 0\) is not an integer"):
        save_geotiff(ls, tmp_path / "x.tif", np.full(SHAPE, 0.5), dtype="int16")
    with pytest.raises(InputError, match="does not fit uint8"):
        save_geotiff(ls, tmp_path / "x.tif", np.full(SHAPE, 300), dtype="uint8")
    with pytest.raises(InputError, match="expected bool, integer or float"):
        save_geotiff(ls, tmp_path / "x.tif", np.full(SHAPE, "a"))
    with pytest.raises(InputError, match="cannot write"):
        save_geotiff(ls, tmp_path / "no" / "such" / "dir.tif", np.zeros(SHAPE))


@pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")
def test_ungeoreferenced_landscape_needs_consent(tmp_path):
    z = np.zeros(SHAPE)
    ls = Landscape(slope=z, aspect=z, elevation=z, fuel_model=np.full(SHAPE, 102), canopy_cover=z, canopy_height=z,
                   canopy_base_height=z, canopy_bulk_density=z)
    with pytest.raises(InputError, match="allow_ungeoreferenced"):
        save_geotiff(ls, tmp_path / "x.tif", z)
    data, profile, _ = reopen(save_geotiff(ls, tmp_path / "x.tif", z + 1.5, allow_ungeoreferenced=True))
    assert profile["crs"] is None and (data == 1.5).all()


def test_written_grid_reloads_as_a_layer(folder):
    """A result saved from a loaded landscape is a valid layer of the same grid."""
    ls = load_landfire(folder)
    path = save_geotiff(ls, folder / "my_CC.tif", (ls.canopy_cover * 100).round(), dtype="int16")
    again = load_landfire(folder, layers={"canopy_cover": path})  # the folder's two CC files do not matter
    assert torch.allclose(again.canopy_cover, ls.canopy_cover) and again.transform == ls.transform
    assert math.isclose(again.cell_size_m, 30.0)


# ====================================================================================== FlamMap .lcp
# FlamMap / FARSITE landscape files, written here with GDAL's LCP driver (CreateCopy through
# rasterio.shutil.copy, with the driver's unit creation options) from a multi-band GeoTIFF of
# stored 16-bit values, and read back by load_landfire; each unit choice must come back in SI.
import logging  # noqa: E402

import rasterio.shutil  # noqa: E402

from qagent.landscape.landfire import KG_M3_PER_LB_FT3, M_PER_FT  # noqa: E402

LCP_SHAPE = (5, 6)


def lcp_si_layers() -> dict[str, np.ndarray]:
    """A small landscape in SI units: grass on the west, TU5 timber with a crown, NB1 urban."""
    h, w = LCP_SHAPE
    fuel = np.full(LCP_SHAPE, 165)
    fuel[:, :2] = 102
    fuel[4, 5] = 91
    timber = fuel == 165
    cells = np.arange(h * w, dtype=np.float64).reshape(LCP_SHAPE)
    return {
        "elevation": 812.0 + 7.3 * cells,                                    # m
        "slope": np.tile(np.linspace(0.0, 0.9, w), (h, 1)),                  # rise/run
        "aspect": (cells * 37.0) % 360.0,                                    # degrees from north
        "fuel_model": fuel,
        "canopy_cover": np.where(timber, 0.65, 0.0),                         # fraction
        "canopy_height": np.where(timber, 21.7, 0.0),                        # m
        "canopy_base_height": np.where(timber, 2.6, 0.0),                    # m
        "canopy_bulk_density": np.where(timber, 0.17, 0.0),                  # kg/m3
    }


# Unit choices: GDAL creation option values, and the stored value of an SI value (to int16).
LCP_UNITS = {
    "metric": dict(ELEVATION_UNIT="METERS", SLOPE_UNIT="DEGREES", ASPECT_UNIT="AZIMUTH_DEGREES",
                   CANOPY_HT_UNIT="METERS_X_10", CBH_UNIT="METERS", CBD_UNIT="KG_PER_CUBIC_METER_X_100"),
    "imperial": dict(ELEVATION_UNIT="FEET", SLOPE_UNIT="PERCENT", ASPECT_UNIT="GRASS_DEGREES",
                     CANOPY_HT_UNIT="FEET", CBH_UNIT="FEET_X_10", CBD_UNIT="POUND_PER_CUBIC_FOOT_X_1000"),
}


def lcp_stored(si: dict[str, np.ndarray], units: str) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(stored int16 bands, the SI values those stored integers stand for) for a unit choice."""
    metric = units == "metric"
    elevation = si["elevation"] if metric else si["elevation"] / M_PER_FT
    slope = np.degrees(np.arctan(si["slope"])) if metric else si["slope"] * 100.0
    # GRASS degrees: counterclockwise from east, 0 flat (no cell here is flat); 360 is east.
    aspect = si["aspect"] if metric else np.where((90.0 - si["aspect"]) % 360.0 == 0, 360.0,
                                                   (90.0 - si["aspect"]) % 360.0)
    ch = si["canopy_height"] * 10.0 if metric else si["canopy_height"] / M_PER_FT
    cbh = si["canopy_base_height"] if metric else si["canopy_base_height"] / M_PER_FT * 10.0
    cbd = si["canopy_bulk_density"] * 100.0 if metric else si["canopy_bulk_density"] / KG_M3_PER_LB_FT3 * 1000.0
    stored = {"elevation": elevation, "slope": slope, "aspect": aspect, "fuel_model": si["fuel_model"],
              "canopy_cover": si["canopy_cover"] * 100.0, "canopy_height": ch, "canopy_base_height": cbh,
              "canopy_bulk_density": cbd}
    stored = {k: np.rint(v).astype(np.int16) for k, v in stored.items()}
    s = {k: v.astype(np.float64) for k, v in stored.items()}
    back = {
        "elevation": s["elevation"] if metric else s["elevation"] * M_PER_FT,
        "slope": np.tan(np.radians(s["slope"])) if metric else s["slope"] / 100.0,
        "aspect": s["aspect"] if metric else (90.0 - s["aspect"]) % 360.0,
        "fuel_model": s["fuel_model"],
        "canopy_cover": s["canopy_cover"] / 100.0,
        "canopy_height": s["canopy_height"] / 10.0 if metric else s["canopy_height"] * M_PER_FT,
        "canopy_base_height": s["canopy_base_height"] if metric else s["canopy_base_height"] / 10.0 * M_PER_FT,
        "canopy_bulk_density": (s["canopy_bulk_density"] / 100.0 if metric
                                else s["canopy_bulk_density"] / 1000.0 * KG_M3_PER_LB_FT3),
    }
    return stored, back


LCP_ORDER = ("elevation", "slope", "aspect", "fuel_model", "canopy_cover", "canopy_height", "canopy_base_height",
             "canopy_bulk_density")


def write_lcp(path: Path, bands: list[np.ndarray], *, prj: bool = True, **options) -> Path:
    """An .lcp from stored int16 bands (5, 7, 8 or 10 of them, in LCP order) via GDAL's CreateCopy."""
    stack = np.stack([np.asarray(b, dtype=np.int16) for b in bands])
    src = path.with_suffix(".src.tif")
    with rasterio.open(src, "w", driver="GTiff", height=stack.shape[1], width=stack.shape[2], count=len(stack),
                       dtype="int16", transform=TRANSFORM, crs="EPSG:5070") as dst:
        dst.write(stack)
    rasterio.shutil.copy(src, path, driver="LCP", **options)
    src.unlink()
    if not prj:
        path.with_suffix(".prj").unlink()
    return path


@pytest.mark.parametrize("units", list(LCP_UNITS))
def test_lcp_reads_back_in_si_for_each_unit_choice(tmp_path, units):
    si = lcp_si_layers()
    stored, back = lcp_stored(si, units)
    path = write_lcp(tmp_path / f"{units}.lcp", [stored[k] for k in LCP_ORDER], **LCP_UNITS[units])
    with rasterio.open(path) as src:  # the header really holds the units asked for
        assert src.tags(1)["ELEVATION_UNIT_NAME"] == ("Meters" if units == "metric" else "Feet")
        assert src.tags(2)["SLOPE_UNIT_NAME"] == ("Degrees" if units == "metric" else "Percent")
    ls = load_landfire(path)
    assert ls.shape == LCP_SHAPE
    for key in LCP_ORDER:
        got = getattr(ls, key).numpy().astype(np.float64)
        # exactly what the stored integers mean (float32 precision) ...
        np.testing.assert_allclose(got, back[key], rtol=2e-6, atol=1e-5, err_msg=f"{units} {key}")
    # ... and the original SI landscape to within the rounding of the stored unit
    tol = {"elevation": 0.5 * (1.0 if units == "metric" else M_PER_FT), "aspect": 0.5, "canopy_cover": 0.005,
           "canopy_height": 0.5 * (0.1 if units == "metric" else M_PER_FT),
           "canopy_base_height": 0.5 * (1.0 if units == "metric" else M_PER_FT / 10.0),
           "canopy_bulk_density": 0.5 * (0.01 if units == "metric" else KG_M3_PER_LB_FT3 / 1000.0),
           "slope": 0.02, "fuel_model": 0.0}
    for key, atol in tol.items():
        np.testing.assert_allclose(getattr(ls, key).numpy(), si[key], atol=atol + 1e-5, err_msg=f"{units} {key}")
    assert ls.nodata_mask is not None and not ls.nodata_mask.any()


def test_lcp_keeps_the_grid_and_the_prj_crs(tmp_path):
    stored, _ = lcp_stored(lcp_si_layers(), "metric")
    ls = load_landfire(write_lcp(tmp_path / "a.lcp", [stored[k] for k in LCP_ORDER]))
    assert ls.transform == TRANSFORM and ls.crs.to_epsg() == 5070 and ls.cell_size_m == 30.0


def test_lcp_without_prj_takes_the_cell_size_from_the_header(tmp_path):
    stored, _ = lcp_stored(lcp_si_layers(), "metric")
    ls = load_landfire(write_lcp(tmp_path / "a.lcp", [stored[k] for k in LCP_ORDER], prj=False))
    assert ls.crs is None and ls.transform == TRANSFORM and ls.cell_size_m == 30.0
    expect_error(tmp_path / "a.lcp", "cell_size_m: 25 m differs", cell_size_m=25.0)


def test_lcp_without_crown_fuels_gets_zero_canopy_and_a_warning(tmp_path, caplog):
    stored, back = lcp_stored(lcp_si_layers(), "metric")
    path = write_lcp(tmp_path / "surface.lcp", [stored[k] for k in LCP_ORDER[:5]])
    with caplog.at_level(logging.WARNING, logger="qagent.landscape.landfire"):
        ls = load_landfire(path)
    assert any("no canopy_height, canopy_base_height, canopy_bulk_density bands" in r.getMessage()
               and "surface.lcp" in r.getMessage() for r in caplog.records)
    for key in ("canopy_height", "canopy_base_height", "canopy_bulk_density"):
        assert (getattr(ls, key) == 0).all()
    np.testing.assert_allclose(ls.canopy_cover.numpy(), back["canopy_cover"], rtol=1e-6)


def test_lcp_ground_fuel_bands_are_ignored(tmp_path, caplog):
    """7 bands = ground fuels without crown fuels: bands 6 and 7 are duff and woody debris, not
    canopy height and base height, however large their values."""
    stored, back = lcp_stored(lcp_si_layers(), "metric")
    duff = np.full(LCP_SHAPE, 3000, np.int16)
    woody = np.ones(LCP_SHAPE, np.int16)
    with caplog.at_level(logging.WARNING, logger="qagent.landscape.landfire"):
        ls = load_landfire(write_lcp(tmp_path / "g.lcp", [*(stored[k] for k in LCP_ORDER[:5]), duff, woody]))
    assert (ls.canopy_height == 0).all() and caplog.records
    full = load_landfire(write_lcp(tmp_path / "f.lcp", [*(stored[k] for k in LCP_ORDER), duff, woody]))
    np.testing.assert_allclose(full.canopy_bulk_density.numpy(), back["canopy_bulk_density"], rtol=1e-6)
    np.testing.assert_allclose(full.canopy_height.numpy(), back["canopy_height"], rtol=1e-6)


def test_lcp_nodata_cells_are_non_burnable(tmp_path):
    stored, _ = lcp_stored(lcp_si_layers(), "metric")
    stored["canopy_cover"][1, 3] = -9999
    stored["elevation"][0, 0] = -9999
    ls = load_landfire(write_lcp(tmp_path / "a.lcp", [stored[k] for k in LCP_ORDER]))
    mask = ls.nodata_mask.numpy()
    assert mask.sum() == 2 and mask[1, 3] and mask[0, 0]
    assert ls.fuel_model[1, 3] == 99 and ls.canopy_cover[1, 3] == 0 and ls.elevation[0, 0] == ls.elevation[~mask].min()


@pytest.mark.parametrize("key, value, options, words", [
    ("canopy_cover", 130, {}, ["band 5 (canopy cover)", "value 130", "percent"]),
    ("slope", 89, {}, ["band 2 (slope)", "value 89", "degrees"]),
    ("canopy_bulk_density", 2500, {"CBD_UNIT": "POUND_PER_CUBIC_FOOT_X_1000"},
     ["band 8 (canopy bulk density)", "value 2500", "lb/ft3 x 1000", "CBD_UNIT 4"]),
    ("elevation", 31000, {"ELEVATION_UNIT": "FEET"}, ["band 1 (elevation)", "31000", "ft"]),
    ("aspect", 400, {}, ["band 3 (aspect)", "value 400"]),
])
def test_lcp_out_of_range_values_name_the_file_band_and_unit(tmp_path, key, value, options, words):
    stored, _ = lcp_stored(lcp_si_layers(), "metric")
    stored[key][2, 4] = value
    path = write_lcp(tmp_path / "bad.lcp", [stored[k] for k in LCP_ORDER], **options)
    expect_error(path, "bad.lcp", "(row, col) (2, 4)", *words)


def test_lcp_unknown_fuel_code_names_the_band_and_cell(tmp_path):
    stored, _ = lcp_stored(lcp_si_layers(), "metric")
    stored["fuel_model"][3, 1] = 57
    path = write_lcp(tmp_path / "f.lcp", [stored[k] for k in LCP_ORDER], FUEL_MODEL_OPTION="CUSTOM_AND_NO_FILE")
    expect_error(path, "f.lcp band 4 (fuel model)", "[57]", "(3, 1)", "custom fuel models")


@pytest.mark.parametrize("options, words", [
    ({"CANOPY_COV_UNIT": "CATEGORIES"}, ["band 5 (canopy cover)", "CANOPY_COV_UNIT 0", "percent"]),
    ({"ASPECT_UNIT": "GRASS_CATEGORIES"}, ["band 3 (aspect)", "ASPECT_UNIT 0", "GRASS aspect categories"]),
    ({"FUEL_MODEL_OPTION": "NO_CUSTOM_AND_FILE"}, ["band 4 (fuel model)", "FUEL_MODEL_OPTION 2", "conversion file"]),
])
def test_lcp_units_that_cannot_be_converted_are_refused(tmp_path, options, words):
    stored, _ = lcp_stored(lcp_si_layers(), "metric")
    expect_error(write_lcp(tmp_path / "u.lcp", [stored[k] for k in LCP_ORDER], **options), "u.lcp", *words)


def test_lcp_bad_files_and_arguments(tmp_path):
    stored, _ = lcp_stored(lcp_si_layers(), "metric")
    good = write_lcp(tmp_path / "a.lcp", [stored[k] for k in LCP_ORDER])
    expect_error(tmp_path / "missing.lcp", "missing.lcp does not exist")
    expect_error(good, "layers cannot replace", layers={"canopy_cover": tmp_path / "x.tif"})
    truncated = tmp_path / "t.lcp"
    truncated.write_bytes(good.read_bytes()[:7316 + 20])
    expect_error(truncated, "t.lcp: is truncated", "5 x 6 landscape of 8 bands needs 7796")
    header_only = tmp_path / "h.lcp"
    header_only.write_bytes(good.read_bytes()[:100])
    expect_error(header_only, "h.lcp", "cannot be read")
    tif = write_raster(tmp_path / "really_a_tif.lcp", stored["elevation"])
    expect_error(tif, "really_a_tif.lcp", "GTiff", "not as a FlamMap")
    with pytest.raises(InputError, match="holds every layer in one file"):
        resolve_layer_paths(good)


def test_lcp_loads_the_same_landscape_as_its_geotiffs(tmp_path):
    """The same stored layers as an LCP and as LANDFIRE GeoTIFFs (metric LCP units are LANDFIRE's
    except CBH in m and slope in degrees) give the same Landscape."""
    stored, _ = lcp_stored(lcp_si_layers(), "metric")
    ls = load_landfire(write_lcp(tmp_path / "a.lcp", [stored[k] for k in LCP_ORDER], CBH_UNIT="METERS_X_10"))
    folder = tmp_path / "tifs"
    folder.mkdir()
    names = {**FILES, "slope_degrees": "LC20_SlpD_220.tif"}
    for key in LCP_ORDER:
        layer = "slope_degrees" if key == "slope" else key
        write_raster(folder / names[layer], stored[key], nodata=None)
    ref = load_landfire(folder)
    for key in LCP_ORDER:
        assert torch.equal(getattr(ls, key), getattr(ref, key)), key
    assert ls.transform == ref.transform and ls.crs == ref.crs
