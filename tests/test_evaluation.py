"""Evaluation and planning on small cases: every method keeps the budget exactly and never
breaks a non-burnable cell; the same seed reproduces an evaluation; qagent-plan's GeoTIFFs
sit on the input grid."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from qagent._validation import InputError
from qagent.agent.models import build_model
from qagent.env.fuel_break_env import budget_cells
from qagent.env.sources import SyntheticSource
from qagent.evaluation.cli import eval_main, plan_main
from qagent.evaluation.evaluate import evaluate, summarize
from qagent.evaluation.methods import METHODS, AgentPolicy, place_breaks
from qagent.fire.scenario import DEFAULT_SCENARIO
from qagent.landscape import NUM_CHANNELS, load_landfire, synthetic
from qagent.train.checkpoint import save_checkpoint

WORCESTER = Path(__file__).resolve().parents[1].parent / "shared" / "landfire" / "worcester_vt"


def _save_agent(path: Path, seed: int, **config) -> Path:
    """An (untrained) agent checkpoint in the trainer's format, weights drawn from ``seed``."""
    torch.manual_seed(seed)
    kwargs = {"hidden": 8, "depth": 2}
    model = build_model("qnet", NUM_CHANNELS, **kwargs)
    save_checkpoint(path, {"model": model.state_dict(), "model_name": "qnet", "model_kwargs": kwargs,
                           "in_channels": NUM_CHANNELS, "grid_size": 16, "counters": {},
                           "config": {"cells_per_step": 3, **config}})
    return path


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return _save_agent(tmp_path_factory.mktemp("ckpt") / "agent.pt", 0)


def test_every_method_keeps_the_budget_and_the_burnable_cells(checkpoint):
    agent = AgentPolicy.load(checkpoint)
    weather = DEFAULT_SCENARIO.reference_weather()
    for seed in range(4):
        ls = synthetic(20, 24, seed)
        burnable = ls.burnable_mask()
        budget = budget_cells(int(burnable.sum()), 0.05, agent.cells_per_step)
        for method in METHODS:
            breaks = place_breaks(method, ls, weather, budget, seed=seed, agent=agent)
            assert breaks.shape == ls.shape and breaks.dtype == torch.bool
            assert int(breaks.sum()) == (0 if method == "none" else budget), method
            assert not bool((breaks & ~burnable).any()), method
    # a budget larger than the burnable cells breaks exactly the burnable cells
    ls = synthetic(10, 10, 1)
    n = int(ls.burnable_mask().sum())
    for method in ("random", "greedy_intensity", "domirank", "agent"):
        assert int(place_breaks(method, ls, weather, n + 50, seed=0, agent=agent).sum()) == n


def test_evaluation_is_reproducible_and_summarized(checkpoint):
    agent = AgentPolicy.load(checkpoint)
    source = SyntheticSource((16, 16), "eval", count=4)
    kw = dict(agent=agent, budget_fraction=0.05, ignitions=24, seed=3, max_landscapes=4)
    rows_a, _ = evaluate(source, list(METHODS), **kw)
    rows_b, _ = evaluate(source, list(METHODS), **kw)
    assert [(r.landscape_id, r.method, r.burned_fraction) for r in rows_a] == \
           [(r.landscape_id, r.method, r.burned_fraction) for r in rows_b]
    summary = summarize(rows_a, list(METHODS))
    assert set(summary["methods"]) == set(METHODS)
    for m in ("random", "domirank", "greedy_intensity", "agent"):
        v = summary["methods"][m]
        assert v["ci95"][0] <= v["mean_relative_reduction"] <= v["ci95"][1]
        assert 0.0 <= v["pooled_reduction"] <= 1.0  # breaks never add burned area
    assert 0.0 <= summary["methods"]["random"]["agent_win_rate"] <= 1.0


def test_eval_command_writes_tables_and_figures(checkpoint, tmp_path):
    assert eval_main(["--checkpoint", str(checkpoint), "--count", "3", "--ignitions", "16", "--figures", "1",
                      "--out", str(tmp_path)]) == 0
    for name in ("summary.csv", "summary.json", "per_landscape.csv", "landscape_0000.png"):
        assert (tmp_path / name).is_file(), name
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["landscapes"] + summary["excluded_no_fire"] == 3
    assert eval_main(["--checkpoint", str(tmp_path / "missing.pt"), "--out", str(tmp_path)]) == 2


def write_landfire_folder(folder: Path, landscape, transform, crs) -> None:
    """A synthetic landscape as LANDFIRE-style GeoTIFFs (scaled integers, product names)."""
    import rasterio

    layers = {"Elev": landscape.elevation, "SlpP": landscape.slope * 100, "Asp": landscape.aspect,
              "F40": landscape.fuel_model, "CC": landscape.canopy_cover * 100, "CH": landscape.canopy_height * 10,
              "CBH": landscape.canopy_base_height * 10, "CBD": landscape.canopy_bulk_density * 100}
    folder.mkdir()
    for product, values in layers.items():
        data = np.round(values.numpy()).astype(np.int16)
        with rasterio.open(folder / f"LC22_{product}_230.tif", "w", driver="GTiff", height=data.shape[0],
                           width=data.shape[1], count=1, dtype="int16", crs=crs, transform=transform,
                           nodata=32767) as dst:
            dst.write(data, 1)


def test_an_ensemble_averages_its_members_q_values_and_keeps_the_budget(checkpoint, tmp_path):
    other = _save_agent(tmp_path / "other.pt", 1)
    one, two = AgentPolicy.load(checkpoint), AgentPolicy.load(other)
    both = AgentPolicy.load([checkpoint, other])
    assert len(both.models) == 2 and both.cells_per_step == 3
    with pytest.raises(InputError, match="none given"):
        AgentPolicy.load([])
    ls = synthetic(20, 24, 5)
    weather = DEFAULT_SCENARIO.reference_weather()
    from qagent.landscape.observation import static_channels, with_fuel_breaks

    obs = with_fuel_breaks(static_channels(ls, weather), torch.zeros(ls.shape, dtype=torch.bool)).unsqueeze(0)
    valid = ls.burnable_mask().unsqueeze(0)
    q1, q2, q12 = one.q_values(obs, valid), two.q_values(obs, valid), both.q_values(obs, valid)
    assert not torch.allclose(q1, q2)  # the members differ, so the mean is a new ranking
    torch.testing.assert_close(q12, (q1 + q2) / 2)
    burnable = ls.burnable_mask()
    budget = budget_cells(int(burnable.sum()), 0.05, 3)
    breaks = place_breaks("agent", ls, weather, budget, seed=0, agent=both)
    assert int(breaks.sum()) == budget and not bool((breaks & ~burnable).any())
    # an ensemble of one checkpoint twice places exactly what the checkpoint alone places
    twice = AgentPolicy.load([checkpoint, checkpoint])
    assert torch.equal(place_breaks("agent", ls, weather, budget, 0, twice),
                       place_breaks("agent", ls, weather, budget, 0, one))


@pytest.mark.parametrize("setting", [{"cells_per_step": 5}, {"reward": "relative"}, {"gamma": 0.0},
                                     {"reward_scale": 10.0}])
def test_an_ensemble_refuses_members_whose_q_values_differ_in_units(checkpoint, tmp_path, setting):
    other = _save_agent(tmp_path / "other.pt", 1, **setting)
    name = next(iter(setting))
    with pytest.raises(InputError, match=name):
        AgentPolicy.load([checkpoint, other])


def test_eval_command_takes_an_ensemble(checkpoint, tmp_path):
    other = _save_agent(tmp_path / "other.pt", 1)
    assert eval_main(["--checkpoint", str(checkpoint), str(other), "--count", "2", "--ignitions", "8",
                      "--figures", "0", "--methods", "none", "agent", "--out", str(tmp_path / "out")]) == 0
    meta = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert "agent" in meta["methods"] and meta["checkpoint"] == [str(checkpoint), str(other)]


def test_plan_writes_georeferenced_outputs(checkpoint, tmp_path):
    rasterio = pytest.importorskip("rasterio")
    from rasterio.transform import from_origin

    transform = from_origin(1_700_000.0, 2_600_000.0, 30.0, 30.0)
    write_landfire_folder(tmp_path / "lf", synthetic(37, 45, seed=5), transform, "EPSG:5070")
    out = tmp_path / "plan"
    assert plan_main(["--checkpoint", str(checkpoint), "--landfire", str(tmp_path / "lf"), "--budget", "0.05",
                      "--ignitions", "40", "--out", str(out)]) == 0
    source = load_landfire(tmp_path / "lf")
    report = json.loads((out / "plan.json").read_text())
    for name in ("fuel_breaks.tif", "burn_probability_before.tif", "burn_probability_after.tif"):
        with rasterio.open(out / name) as src:
            assert (src.height, src.width) == source.shape
            assert src.transform == transform and src.crs.to_epsg() == 5070
            data = src.read(1)
        if name == "fuel_breaks.tif":
            assert int((data == 1).sum()) == report["budget_cells"]
            assert not (data[~source.burnable_mask().numpy()] == 1).any()
    assert (out / "overview.png").is_file()
    assert report["expected_burned_cells_after"] <= report["expected_burned_cells_before"]


@pytest.mark.skipif(not WORCESTER.is_dir(), reason="needs ../shared/landfire/worcester_vt")
def test_plan_on_the_whole_worcester_raster(checkpoint, tmp_path):
    import rasterio

    assert plan_main(["--checkpoint", str(checkpoint), "--landfire", str(WORCESTER), "--budget", "0.01",
                      "--ignitions", "20", "--out", str(tmp_path)]) == 0
    with rasterio.open(next(WORCESTER.glob("*Elev*.tif"))) as ref, rasterio.open(tmp_path / "fuel_breaks.tif") as out:
        assert (out.height, out.width) == (ref.height, ref.width) == (613, 549)
        assert out.transform == ref.transform and out.crs == ref.crs
