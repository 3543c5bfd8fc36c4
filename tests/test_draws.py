"""One way to draw fires (FireScenario.draw) and ignition density (issue 14 item 5, issue 15).

The fires every caller drew before FireScenario.draw existed were captured from the old code
(tests/data/capture_draws.py, commit 06776d5) and must come out unchanged; an ignition
density makes ignitions proportional to it, and the command lines read it from a GeoTIFF."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from qagent._validation import InputError
from qagent.fire import burn_probability, sample_ignitions
from qagent.fire.scenario import DEFAULT_SCENARIO, Fires, draw_ignitions
from qagent.landscape import synthetic
from test_evaluation import _save_agent, write_landfire_folder

DATA = Path(__file__).resolve().parent / "data"


def test_every_drawing_path_gives_the_fires_it_gave_before_the_one_draw(tmp_path):
    """env rewards and ignitions, evaluation fires and results, sample_ignitions,
    burn_probability and burn_probability_breaks for fixed seeds: bit-identical to the outputs
    captured from the code before FireScenario.draw."""
    import subprocess
    import sys

    out = tmp_path / "now.npz"
    subprocess.run([sys.executable, str(DATA / "capture_draws.py"), str(out)], check=True, capture_output=True)
    before, now = np.load(DATA / "draws_before.npz"), np.load(out)
    assert set(before) == set(now)
    for key in before:
        np.testing.assert_array_equal(now[key], before[key], err_msg=key)


def test_draw_returns_fires_and_is_the_old_ignitions_then_weather():
    ls = synthetic(20, 24, seed=3)
    fires = DEFAULT_SCENARIO.draw(ls, 30, np.random.default_rng(5))
    assert isinstance(fires, Fires) and len(fires) == 30
    assert fires.ignitions.dtype == torch.int64 and fires.ignitions.shape == (30,)
    assert fires.weather.shape == (30,) and fires.duration_min.dtype == np.float32
    rng = np.random.default_rng(5)
    cells = np.flatnonzero(ls.burnable_mask().numpy().reshape(-1))
    np.testing.assert_array_equal(fires.ignitions.numpy(), cells[rng.integers(0, len(cells), 30)])
    weather, duration = DEFAULT_SCENARIO.sample(30, rng)
    np.testing.assert_array_equal(fires.duration_min, duration)
    ign, w, d = fires  # unpacks like the old (ign, weather, duration) tuples
    assert torch.equal(ign, fires.ignitions)
    rock = dataclasses.replace(synthetic(8, 8, 0), fuel_model=torch.full((8, 8), 91))
    with pytest.raises(InputError, match="no burnable cells"):
        DEFAULT_SCENARIO.draw(rock, 3, np.random.default_rng(0))


def test_a_one_cell_density_ignites_only_there():
    ls = synthetic(20, 24, seed=3)
    cell = int(np.flatnonzero(ls.burnable_mask().numpy().reshape(-1))[17])
    density = np.zeros(ls.shape)
    density.reshape(-1)[cell] = 2.5
    ign = draw_ignitions(ls, 200, np.random.default_rng(0), ignition_density=density)
    assert (ign.numpy() == cell).all()
    fires = DEFAULT_SCENARIO.draw(ls, 50, np.random.default_rng(1), ignition_density=torch.from_numpy(density))
    assert (fires.ignitions.numpy() == cell).all()


def test_a_density_zero_on_half_the_map_never_ignites_there_and_non_burnable_cells_get_none():
    ls = synthetic(30, 30, seed=4)
    density = np.ones(ls.shape)
    density[:, :15] = 0.0
    ign = sample_ignitions(ls, 5000, 3, ignition_density=density).numpy()
    assert (ign % 30 >= 15).all()
    assert ls.burnable_mask().numpy().reshape(-1)[ign].all()  # density on non-burnable cells is ignored
    p = burn_probability(ls, 300, DEFAULT_SCENARIO.reference_weather(), 5.0, 0, ignition_density=density)
    assert p.shape == ls.shape and float(p.sum()) > 0


def test_ignitions_are_proportional_to_the_density():
    ls = synthetic(12, 12, seed=2)
    burnable = ls.burnable_mask().numpy()
    rng = np.random.default_rng(9)
    density = rng.uniform(0.0, 4.0, ls.shape) * (rng.random(ls.shape) < 0.7)
    n = 200_000
    counts = np.bincount(draw_ignitions(ls, n, np.random.default_rng(1), ignition_density=density).numpy(),
                         minlength=ls.num_cells)
    w = (density * burnable).reshape(-1)
    expected = n * w / w.sum()
    assert (counts[w == 0] == 0).all()
    pos = w > 0
    chi2 = float(((counts[pos] - expected[pos]) ** 2 / expected[pos]).sum())
    dof = int(pos.sum()) - 1
    assert chi2 < dof + 6 * np.sqrt(2 * dof), (chi2, dof)  # loose: ~4 sigma of the chi-square


def test_bad_densities_are_refused():
    ls = synthetic(10, 10, seed=1)
    rng = np.random.default_rng(0)
    for bad, match in ((np.ones((10, 11)), "shape"), (np.full((10, 10), np.nan), "NaN"),
                       (-np.ones((10, 10)), "negative"), (np.zeros((10, 10)), "zero on every burnable cell"),
                       (np.where(ls.burnable_mask().numpy(), 0.0, 1.0), "zero on every burnable cell")):
        with pytest.raises(InputError, match=match):
            draw_ignitions(ls, 5, rng, ignition_density=bad)
    with pytest.raises(InputError, match="n_ignitions"):
        draw_ignitions(ls, -1, rng)


def _write_density(path: Path, data: np.ndarray, transform, crs="EPSG:5070") -> Path:
    import rasterio

    with rasterio.open(path, "w", driver="GTiff", height=data.shape[0], width=data.shape[1], count=1,
                       dtype="float32", crs=crs, transform=transform) as dst:
        dst.write(data.astype(np.float32), 1)
    return path


@pytest.fixture
def landfire(tmp_path):
    pytest.importorskip("rasterio")
    from rasterio.transform import from_origin

    transform = from_origin(1_700_000.0, 2_600_000.0, 30.0, 30.0)
    ls = synthetic(37, 45, seed=5)
    write_landfire_folder(tmp_path / "lf", ls, transform, "EPSG:5070")
    return tmp_path / "lf", ls, transform


def test_density_files_are_checked_against_the_landfire_grid(landfire, tmp_path):
    from rasterio.transform import from_origin

    from qagent.landscape.landfire import load_ignition_density, load_landfire

    folder, _, transform = landfire
    ls = load_landfire(folder)
    ok = _write_density(tmp_path / "ok.tif", np.ones(ls.shape), transform)
    np.testing.assert_array_equal(load_ignition_density(ok, ls), np.ones(ls.shape))
    cases = {"shape.tif": (np.ones((36, 45)), transform, "36 x 45"),
             "moved.tif": (np.ones(ls.shape), from_origin(1_700_030.0, 2_600_000.0, 30.0, 30.0), "transform"),
             "nan.tif": (np.where(np.arange(ls.num_cells).reshape(ls.shape) == 7, np.nan, 1.0), transform, "NaN"),
             "negative.tif": (np.where(np.arange(ls.num_cells).reshape(ls.shape) == 7, -1.0, 1.0), transform,
                              "negative"),
             "zero.tif": (np.zeros(ls.shape), transform, "zero on every burnable cell")}
    for name, (data, t, match) in cases.items():
        path = _write_density(tmp_path / name, data, t)
        with pytest.raises(InputError, match=match) as e:
            load_ignition_density(path, ls)
        assert name in str(e.value)


def test_plan_with_a_one_cell_density_burns_only_around_that_cell(landfire, tmp_path):
    import rasterio

    from qagent.evaluation.cli import plan_main
    from qagent.landscape.landfire import load_landfire

    folder, _, transform = landfire
    ls = load_landfire(folder)
    burnable = ls.burnable_mask().numpy()
    r, c = np.argwhere(burnable)[0]
    density = np.zeros(ls.shape)
    density[r, c] = 1.0
    path = _write_density(tmp_path / "one.tif", density, transform)
    ckpt = _save_agent(tmp_path / "agent.pt", 0)
    out = tmp_path / "plan"
    assert plan_main(["--checkpoint", str(ckpt), "--landfire", str(folder), "--ignitions", "40",
                      "--placement-ignitions", "20", "--compare", "none", "--ignition-density", str(path),
                      "--out", str(out)]) == 0
    with rasterio.open(out / "burn_probability_before.tif") as src:
        p = src.read(1)
    assert p[r, c] == pytest.approx(1.0)  # every fire starts there (a burnable cell)
    # exactly the burn probability of the 40 evaluation fires all ignited at (r, c)
    from qagent.evaluation.evaluate import evaluation_fires
    from qagent.fire import simulate

    fires = evaluation_fires(ls, 40, 0, 0, ignition_density=density)
    assert (fires.ignitions.numpy() == r * ls.shape[1] + c).all()
    expected = simulate(ls, fires.ignitions, fires.weather, torch.from_numpy(fires.duration_min)).burn_count / 40
    np.testing.assert_allclose(np.nan_to_num(p), expected.numpy(), atol=1e-6)
    # burn probability is zero far from that cell: the farthest reached cell is closer than the grid's extent
    rows, cols = np.indices(ls.shape)
    distance = np.hypot(rows - r, cols - c)
    assert distance[np.nan_to_num(p) > 0].max() < distance.max() - 5 and (np.nan_to_num(p) == 0).mean() > 0.3
    assert json.loads((out / "plan.json").read_text())["ignition_density"] == str(path)
    bad = _write_density(tmp_path / "bad.tif", -density, transform)
    assert plan_main(["--checkpoint", str(ckpt), "--landfire", str(folder), "--ignitions", "4",
                      "--ignition-density", str(bad), "--out", str(tmp_path / "bad")]) == 2


def test_eval_crops_the_density_to_each_tile_and_refuses_it_for_synthetic(landfire, tmp_path, capsys):
    from qagent.env.sources import TileSource
    from qagent.evaluation.cli import eval_main

    folder, _, transform = landfire
    density = np.zeros((37, 45))
    density[:, 20:] = np.arange(37 * 25).reshape(37, 25) + 1.0
    path = _write_density(tmp_path / "d.tif", density, transform)
    source = TileSource(folder, "all", tile_size=16, stride=8, ignition_density=str(path))
    assert source.tiles_without_ignitions > 0 and "left out" in source.describe()
    for lid in range(len(source)):
        r, c, tile = source._tiles[int(source.ids[lid])]
        np.testing.assert_array_equal(source.ignition_density(lid), density[r:r + 16, c:c + 16])
        fires = DEFAULT_SCENARIO.draw(tile, 50, np.random.default_rng(lid),
                                      ignition_density=source.ignition_density(lid))
        assert (density[r:r + 16, c:c + 16].reshape(-1)[fires.ignitions.numpy()] > 0).all()
    assert eval_main(["--landscapes", str(folder), "--grid-size", "16", "--split", "all", "--count", "2",
                      "--ignitions", "8", "--methods", "none", "random", "--figures", "0",
                      "--ignition-density", str(path), "--out", str(tmp_path / "ev")]) == 0
    meta = json.loads((tmp_path / "ev" / "summary.json").read_text())
    assert meta["ignition_density"] == str(path)
    assert eval_main(["--count", "2", "--ignitions", "8", "--figures", "0", "--ignition-density", str(path),
                      "--methods", "none", "random", "--out", str(tmp_path / "syn")]) == 2
    assert "synthetic landscapes" in capsys.readouterr().err


def test_the_environment_draws_each_tile_s_fires_from_its_density(landfire, tmp_path):
    from qagent.env import BatchedFuelBreakEnv, EnvConfig
    from qagent.env.sources import TileSource
    from qagent.train.config import build_config

    folder, _, transform = landfire
    density = np.zeros((37, 45))
    density[:, :10] = 1.0
    path = _write_density(tmp_path / "west.tif", density, transform)
    source = TileSource(folder, "all", tile_size=16, stride=8, ignition_density=str(path))
    env = BatchedFuelBreakEnv(source, 3, EnvConfig(0.05, 3, 12), seed=2, autoreset=False)
    env.reset()
    ign = env._ignition.reshape(3, 12).cpu().numpy()
    for i in range(3):
        r, c, _ = source._tiles[int(source.ids[int(env.landscape_id[i])])]
        assert (c + ign[i] % 16 < 10).all()
    cfg = build_config(None, landscapes=str(folder), ignition_density=str(path))
    assert cfg.ignition_density == str(path)
    from qagent.train.cli import build_parser

    assert build_parser().parse_args(["--ignition-density", str(path)]).ignition_density == str(path)
