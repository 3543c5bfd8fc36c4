"""Several landscape sources as one (``make_source("synthetic+DIR")``): ids, loading, the
balanced epoch order and the errors."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("rasterio", reason="the LANDFIRE folder is written with rasterio")
from rasterio.transform import from_origin  # noqa: E402

from qagent._validation import InputError  # noqa: E402
from qagent.env.sources import MixedSource, SyntheticSource, TileSource, make_source  # noqa: E402
from qagent.landscape.synthetic import synthetic  # noqa: E402
from test_evaluation import write_landfire_folder  # noqa: E402


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    path = tmp_path_factory.mktemp("mixed") / "lf"
    write_landfire_folder(path, synthetic(40, 96, seed=3), from_origin(1_700_000.0, 2_600_000.0, 30, 30), "EPSG:5070")
    return path


def test_mixture_joins_a_synthetic_and_a_tile_source(folder):
    mixed = make_source(f"synthetic+{folder}", 16, "train")
    assert isinstance(mixed, MixedSource)
    synthetic_part, tiles = mixed.sources
    assert isinstance(synthetic_part, SyntheticSource) and isinstance(tiles, TileSource)
    assert len(mixed) == len(synthetic_part) + len(tiles)
    # ids run through the synthetic seeds first, then the tiles
    assert mixed.landscape(0).fuel_model.equal(synthetic_part.landscape(0).fuel_model)
    first_tile = len(synthetic_part)
    assert mixed.landscape(first_tile).fuel_model.equal(tiles.landscape(0).fuel_model)
    assert mixed.grid_shape == (16, 16)
    assert "synthetic" in mixed.describe() and "tiles of lf" in mixed.describe()


def test_an_epoch_takes_each_source_alike_and_alternates(folder):
    mixed = make_source(f"synthetic+{folder}", 16, "train")
    tiles = len(mixed.sources[1])
    order = mixed.epoch_order(np.random.default_rng(0))
    assert len(order) == 2 * tiles
    from_tiles = order >= len(mixed.sources[0])
    assert from_tiles[1::2].all() and not from_tiles[0::2].any()
    assert len(set(order[1::2].tolist())) == tiles  # every tile once
    again = mixed.epoch_order(np.random.default_rng(0))
    assert np.array_equal(order, again)  # seeded
    assert not np.array_equal(order[0::2], mixed.epoch_order(np.random.default_rng(1))[0::2])


def test_eval_split_of_a_mixture_is_held_out_in_every_part(folder):
    mixed = make_source(f"synthetic+{folder}", 16, "eval", count=5)
    assert mixed.sources[0].seeds.start >= 1_000_000_000
    assert len(mixed.sources[0]) == 5


def test_mixture_errors_name_what_is_wrong(folder):
    with pytest.raises(InputError, match="empty part"):
        make_source("synthetic+", 16)
    with pytest.raises(InputError, match="one grid shape"):
        MixedSource([SyntheticSource((16, 16)), SyntheticSource((20, 20))])
    with pytest.raises(InputError, match="at least two"):
        MixedSource([SyntheticSource((16, 16))])
    with pytest.raises(InputError, match="not a folder"):
        make_source("synthetic+/no/such/folder", 16)
    mixed = make_source(f"synthetic+{folder}", 16)
    with pytest.raises(InputError, match="outside"):
        mixed.landscape(len(mixed))


def test_mixture_gives_each_part_its_own_values(folder):
    mixed = make_source(f"synthetic+{folder}", 16, "train", synthetic_values="synthetic")
    assert mixed.values_key == ("synthetic", None)
    first_tile = len(mixed.sources[0])
    assert mixed.values(first_tile) is None  # the folder has no values raster
    some = [mixed.values(i) for i in range(8)]
    assert any(v is not None for v in some)
    for i, v in enumerate(some):
        expected = mixed.sources[0].values(i)
        assert (v is None and expected is None) or np.array_equal(v, expected)
    assert make_source(f"synthetic+{folder}", 16, "train").values_key is None
