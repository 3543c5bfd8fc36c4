"""Values at risk (issue 15): the GeoTIFF reader, sources' values, the environment's value
burned, the value_at_risk observation channel, qagent-eval / qagent-plan --values and the
refusal of checkpoints trained on the old channels."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch

from qagent._validation import InputError
from qagent.env.fuel_break_env import BatchedFuelBreakEnv, EnvConfig
from qagent.env.observation import NUM_CHANNELS, OBSERVATION_CHANNELS, observation_channels
from qagent.env.sources import SyntheticSource, make_source
from qagent.fire.scenario import DEFAULT_SCENARIO
from qagent.landscape import synthetic
from test_draws import _write_density, landfire  # noqa: F401  (landfire: the LANDFIRE folder fixture)
from test_evaluation import _save_agent

VALUE = OBSERVATION_CHANNELS.index("value_at_risk")


class GivenValues(SyntheticSource):
    """Synthetic landscapes with values from a function of (landscape, id)."""

    def __init__(self, shape, make, **kwargs):
        super().__init__(shape, **kwargs)
        self.make = make

    def values(self, landscape_id):
        return self.make(self.landscape(landscape_id), landscape_id)


def _ones(ls, _):
    return np.ones(ls.shape, np.float32)


# ----------------------------------------------------------------------------- the reader
def test_values_file_on_the_grid_is_read_with_nodata_worth_zero(landfire, tmp_path):
    import rasterio

    from qagent.landscape.landfire import load_landfire, load_values

    folder, _, transform = landfire
    ls = load_landfire(folder)
    data = np.arange(37 * 45, dtype=np.float32).reshape(37, 45) / 10.0
    data[3, 4] = -9999.0  # the file's nodata value
    path = tmp_path / "v.tif"
    with rasterio.open(path, "w", driver="GTiff", height=37, width=45, count=1, dtype="float32", crs="EPSG:5070",
                       transform=transform, nodata=-9999.0) as dst:
        dst.write(data, 1)
    v = load_values(path, ls)
    assert v.dtype == np.float32 and v.shape == (37, 45) and v[3, 4] == 0.0
    expected = data.copy()
    expected[3, 4] = 0.0
    np.testing.assert_array_equal(v, expected)


def test_bad_values_files_are_refused_naming_the_file_and_the_problem(landfire, tmp_path):
    from rasterio.transform import from_origin

    from qagent.landscape.landfire import load_landfire, load_values

    folder, _, transform = landfire
    ls = load_landfire(folder)
    good = np.ones((37, 45))
    cases = {
        "shape": (_write_density(tmp_path / "shape.tif", np.ones((36, 45)), transform), "36 x 45"),
        "shifted": (_write_density(tmp_path / "shifted.tif", good, from_origin(1_700_030.0, 2_600_000.0, 30.0, 30.0)),
                    "transform"),
        "crs": (_write_density(tmp_path / "crs.tif", good, transform, crs="EPSG:32610"), "CRS"),
        "nan": (_write_density(tmp_path / "nan.tif", np.where(np.eye(37, 45) > 0, np.nan, 1.0), transform),
                "NaN"),
        "negative": (_write_density(tmp_path / "negative.tif", good - 2 * np.eye(37, 45), transform), "negative"),
        "zero": (_write_density(tmp_path / "zero.tif", np.zeros((37, 45)), transform), "zero on every burnable"),
    }
    for name, (path, problem) in cases.items():
        with pytest.raises(InputError) as e:
            load_values(path, ls)
        assert str(path) in str(e.value) and problem in str(e.value), (name, str(e.value))
    with pytest.raises(InputError, match="does not exist"):
        load_values(tmp_path / "missing.tif", ls)


# ----------------------------------------------------------------------------- sources
def test_synthetic_value_modes_are_deterministic_and_mixed_is_half_and_half():
    ones = SyntheticSource((24, 24), count=8)
    assert all(ones.values(i) is None for i in range(8))
    a, b = (SyntheticSource((24, 24), count=8, values="mixed") for _ in range(2))
    for i in range(8):
        va, vb = a.values(i), b.values(i)
        assert (va is None) == (vb is None)
        if va is not None:
            np.testing.assert_array_equal(va, vb)
    assert [a.has_synthetic_values(i) for i in range(8)] == [bool(s % 2) for s in a.seeds[:8]]
    full = SyntheticSource((24, 24), count=8, values="synthetic")
    assert all(full.has_synthetic_values(i) for i in range(8))
    for i in range(1, 8, 2):  # the synthetic half of mixed is the landscape's synthetic_values
        if full.values(i) is not None:
            np.testing.assert_array_equal(full.values(i), a.values(i))
            assert (full.values(i) >= 0).all() and not (full.values(i)[~full.landscape(i).burnable_mask().numpy()]).any()
    assert "values at risk" in a.describe()
    with pytest.raises(InputError, match="synthetic values"):
        SyntheticSource((24, 24), values="houses")


def test_habitat_and_varied_value_modes():
    habitat = SyntheticSource((32, 32), count=6, values="habitat")
    varied = SyntheticSource((32, 32), count=6, values="varied")
    houses = SyntheticSource((32, 32), count=6, values="synthetic")
    assert [varied.value_kind(i) for i in range(6)] == [("ones", "houses", "habitat")[s % 3] for s in varied.seeds[:6]]
    for i in range(6):
        burnable = habitat.landscape(i).burnable_mask().numpy()
        v = habitat.values(i)
        assert v is not None and v.dtype == np.float32 and (v >= 0).all() and not v[~burnable].any()
        assert (v[burnable] > 0).mean() >= 0.5  # dense: most burnable cells hold value
        np.testing.assert_allclose(v[burnable].mean(), 1.0, rtol=1e-5)
        kind = varied.value_kind(i)
        if kind == "ones":
            assert varied.values(i) is None
        else:
            same = habitat if kind == "habitat" else houses
            if same.values(i) is not None:
                np.testing.assert_array_equal(varied.values(i), same.values(i))
    assert "habitat" in habitat.describe() and "modulo 3" in varied.describe()


def test_habitat_values_are_seeded_dense_and_refuse_bad_arguments():
    from qagent.landscape import synthetic_habitat, synthetic_values

    a, b = synthetic_habitat((48, 40), 3), synthetic_habitat((48, 40), 3)
    assert a.dtype == torch.float32 and tuple(a.shape) == (48, 40) and torch.equal(a, b)
    assert torch.equal(a, synthetic_habitat(synthetic(48, 40, 3), 3))
    assert not torch.equal(a, synthetic_habitat((48, 40), 4))
    # denser than the houses of the same landscapes, on every seed
    for seed in range(6):
        ls = synthetic(48, 48, seed)
        burnable = ls.burnable_mask()
        dense = float((synthetic_habitat(ls, seed)[burnable] > 0).float().mean())
        sparse = float((synthetic_values(ls, seed)[burnable] > 0).float().mean())
        assert dense > 0.5 and dense > 10 * sparse
    for bad in ((48, 40, 1), "x"):
        with pytest.raises(InputError, match="landscape_or_shape"):
            synthetic_habitat(bad, 0)
    with pytest.raises(InputError, match="seed"):
        synthetic_habitat((8, 8), -1)
    with pytest.raises(InputError, match="cell_size_m"):
        synthetic_habitat(synthetic(8, 8, 0), 0, cell_size_m=30.0)


def test_values_are_refused_where_they_cannot_apply(tmp_path):
    with pytest.raises(InputError, match="values: synthetic landscapes"):
        make_source("synthetic", 16, values="v.tif")
    with pytest.raises(InputError, match="only applies to synthetic"):
        make_source(str(tmp_path), 16, synthetic_values="mixed")
    from qagent.train.config import build_config

    assert build_config(None, preset="demo").synthetic_values == "mixed"  # the training default
    assert build_config(None, preset="demo", landscapes=str(tmp_path)).synthetic_values is None
    with pytest.raises(InputError, match="only applies to synthetic"):
        build_config(None, preset="demo", landscapes=str(tmp_path), synthetic_values="synthetic")
    with pytest.raises(InputError, match="values: synthetic landscapes"):
        build_config(None, preset="demo", values="v.tif")


def test_tile_source_cuts_the_values_into_its_tiles(landfire, tmp_path):
    from qagent.env.sources import TileSource

    folder, _, transform = landfire
    values = np.zeros((37, 45))
    values[:, 20:] = np.arange(37 * 25).reshape(37, 25) + 1.0
    path = _write_density(tmp_path / "v.tif", values, transform)
    source = TileSource(folder, "all", tile_size=16, stride=8, values=str(path))
    plain = TileSource(folder, "all", tile_size=16, stride=8)
    assert source.tiles_without_values > 0 and "without value left out" in source.describe()
    assert len(source) == len(plain) - source.tiles_without_values and plain.values(0) is None
    for i in range(len(source)):
        r, c, tile = source._tiles[int(source.ids[i])]
        np.testing.assert_array_equal(source.values(i), values[r:r + 16, c:c + 16].astype(np.float32))


# ----------------------------------------------------------------------------- environment
def _rollout(source, reward, steps=3, seed=1):
    env = BatchedFuelBreakEnv(source, 3, EnvConfig(reward=reward, ignitions=12), seed=seed)
    obs, info = env.reset(seed=seed)
    rng = np.random.default_rng(0)
    rewards, fractions, observations = [], [info["baseline_burned_fraction"]], [obs]
    for _ in range(steps):
        mask = info["action_mask"].numpy()
        actions = np.stack([rng.choice(np.flatnonzero(mask[i]), 5, replace=False) for i in range(3)])
        obs, r, _, _, info = env.step(actions)
        rewards.append(r)
        fractions.append(info["burned_fraction"])
        observations.append(obs)
    return np.array(rewards), np.array(fractions), torch.stack(observations)


@pytest.mark.parametrize("reward", ["relative", "absolute"])
def test_all_ones_values_give_exactly_the_rewards_of_no_values(reward):
    plain = _rollout(SyntheticSource((24, 24), count=5), reward)
    ones = _rollout(GivenValues((24, 24), _ones, count=5), reward)
    np.testing.assert_array_equal(plain[0], ones[0])
    np.testing.assert_array_equal(plain[1], ones[1])
    assert torch.equal(plain[2], ones[2])  # the value channel of all-ones is the burnable mask


def _block(ls, _):
    """Value only on the 6 burnable cells nearest the centre."""
    h, w = ls.shape
    burnable = ls.burnable_mask().numpy()
    rows, cols = np.indices(ls.shape)
    distance = np.where(burnable, np.hypot(rows - h / 2, cols - w / 2), np.inf)
    v = np.zeros(ls.shape, np.float32)
    v.reshape(-1)[np.argsort(distance, axis=None)[:6]] = 10.0
    return v


def test_breaks_on_the_valuable_cells_earn_more_than_breaks_elsewhere():
    source = GivenValues((30, 30), _block, count=1)
    v = source.values(0)
    valuable = np.flatnonzero(v.reshape(-1) > 0)
    burnable = source.landscape(0).burnable_mask().numpy().reshape(-1)
    rows, cols = np.unravel_index(np.arange(v.size), v.shape)
    far = np.flatnonzero(burnable & (np.hypot(rows - 15, cols - 15) > 12))[:6]
    gains = {}
    for values_source in (source, SyntheticSource((30, 30), count=1)):
        for name, cells in (("valuable", valuable), ("far", far)):
            env = BatchedFuelBreakEnv(values_source, 1, EnvConfig(reward="relative", ignitions=64, cells_per_step=6),
                                      seed=3)
            _, info = env.reset(seed=3)
            assert info["baseline_burned_fraction"][0] > 0  # the fires reach the valuable cells
            _, r, _, _, _ = env.step(cells.reshape(1, -1))
            gains[values_source is source, name] = float(r[0])
    # breaking every valuable cell saves all the value: the whole untreated value burned
    assert gains[True, "valuable"] == pytest.approx(1.0)
    assert gains[True, "valuable"] > gains[True, "far"]
    # in burned area the same 6 cells save far less: the value map is what made them worth it
    assert gains[False, "valuable"] < 0.5 * gains[True, "valuable"]


# ----------------------------------------------------------------------------- observation
def test_the_value_channel_is_scaled_per_landscape_and_on_burnable_cells():
    assert OBSERVATION_CHANNELS[-2:] == ("value_at_risk", "fuel_break")
    ls = synthetic(20, 20, seed=2)
    weather = DEFAULT_SCENARIO.reference_weather()
    burnable = ls.burnable_mask()
    plain = observation_channels(ls, weather)
    assert torch.equal(plain[VALUE], burnable.float())
    values = np.random.default_rng(0).uniform(0, 50, ls.shape).astype(np.float32)
    obs = observation_channels(ls, weather, values=values)
    expected = torch.from_numpy(values) * burnable / float(values[burnable.numpy()].max())
    torch.testing.assert_close(obs[VALUE], expected)
    assert float(obs[VALUE].max()) == pytest.approx(1.0) and not bool(obs[VALUE][~burnable].any())
    protection = OBSERVATION_CHANNELS.index("downstream_protection")
    other = [i for i in range(NUM_CHANNELS) if i not in (VALUE, protection)]
    assert torch.equal(obs[other], plain[other])  # values change that channel and DPV's only
    # the environment's observations carry each landscape's values, from the cache
    source = GivenValues((20, 20), lambda landscape, _: values, count=1)
    env = BatchedFuelBreakEnv(source, 1, EnvConfig(ignitions=4))
    env_obs, _ = env.reset(seed=0)
    burnable = source.landscape(0).burnable_mask()
    expected = torch.from_numpy(values) * burnable / float(values[burnable.numpy()].max())
    torch.testing.assert_close(env_obs[0, VALUE], expected, atol=1e-3, rtol=1e-3)  # a float16 cache


# ----------------------------------------------------------------------------- evaluation
def test_evaluation_with_all_ones_values_equals_no_values():
    from qagent.evaluation.evaluate import evaluate, summarize

    methods = ["none", "random", "dpv"]
    kw = dict(agent=None, budget_fraction=0.05, ignitions=16, seed=2, placement_ignitions=16)
    rows_plain, _ = evaluate(SyntheticSource((16, 16), "eval", count=3), methods, **kw)
    rows_ones, _ = evaluate(GivenValues((16, 16), _ones, split="eval", count=3), methods, **kw)
    assert [(r.method, r.burned_fraction) for r in rows_plain] == [(r.method, r.burned_fraction) for r in rows_ones]
    assert summarize(rows_plain, methods)["measure"] == "expected burned area"
    assert summarize(rows_ones, methods)["measure"] == "expected value burned"


def test_plan_with_values_reports_value_burned_and_ones_equal_no_values(landfire, tmp_path, capsys):
    from qagent.evaluation.cli import VALUE_REFRESH_ROUNDS, plan_main

    folder, ls, transform = landfire
    ckpt = _save_agent(tmp_path / "agent.pt", 0)
    ones = _write_density(tmp_path / "ones.tif", np.ones(ls.shape), transform)
    reports = {}
    for name, extra in (("plain", []), ("ones", ["--values", str(ones)])):
        out = tmp_path / name
        assert plan_main(["--checkpoint", str(ckpt), "--landfire", str(folder), "--ignitions", "30",
                          "--placement-ignitions", "20", "--compare", "none", "--out", str(out), *extra]) == 0
        reports[name] = json.loads((out / "plan.json").read_text())
    capsys.readouterr()
    assert reports["plain"]["measure"] == "expected burned area"
    assert reports["ones"]["measure"] == "expected value burned"
    assert reports["ones"]["relative_reduction"] == reports["plain"]["relative_reduction"]
    assert reports["ones"]["refresh_rounds"] == reports["plain"]["refresh_rounds"] == 0  # all ones: the area
    assert reports["ones"]["expected_value_burned_before"] == reports["ones"]["expected_burned_cells_before"]
    # value concentrated on some cells: the report is in value units
    values = np.zeros(ls.shape)
    values[10:20, 10:25] = 5.0
    path = _write_density(tmp_path / "v.tif", values, transform)
    out = tmp_path / "valued"
    assert plan_main(["--checkpoint", str(ckpt), "--landfire", str(folder), "--ignitions", "30",
                      "--placement-ignitions", "20", "--compare", "none", "dpv", "--out", str(out),
                      "--values", str(path)]) == 0
    printed = capsys.readouterr().out
    report = json.loads((out / "plan.json").read_text())
    assert report["measure"] == "expected value burned" and report["values"] == str(path)
    assert report["refresh_rounds"] == VALUE_REFRESH_ROUNDS  # the agent's channels refreshed between rounds
    assert report["total_value"] == pytest.approx(float(values[ls.burnable_mask().numpy()].sum() +
                                                        values[~ls.burnable_mask().numpy()].sum()))
    assert report["expected_value_burned_after"] <= report["expected_value_burned_before"]
    assert "expected value burned" in printed and "reductions of expected value burned" in printed
    with open(out / "comparison.csv") as f:
        rows = list(csv.DictReader(f))
    assert {r["measure"] for r in rows} == {"expected value burned"} and all(r["expected_burned_value"] for r in rows)
    assert [r["method"] for r in rows] == ["agent", "none", "dpv"]
    bad = _write_density(tmp_path / "bad.tif", -np.ones(ls.shape), transform)
    assert plan_main(["--checkpoint", str(ckpt), "--landfire", str(folder), "--ignitions", "4",
                      "--values", str(bad), "--out", str(tmp_path / "bad")]) == 2
    assert str(bad) in capsys.readouterr().err


def test_eval_with_values_on_a_landfire_folder_names_the_measure(landfire, tmp_path, capsys):
    from qagent.evaluation.cli import eval_main

    folder, ls, transform = landfire
    values = np.zeros(ls.shape)
    values[:, 10:] = 3.0
    path = _write_density(tmp_path / "v.tif", values, transform)
    out = tmp_path / "eval"
    assert eval_main(["--landscapes", str(folder), "--grid-size", "16", "--split", "all", "--count", "2",
                      "--ignitions", "12", "--placement-ignitions", "12", "--methods", "random", "dpv",
                      "--figures", "1", "--values", str(path), "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["measure"] == "expected value burned" and summary["values"] == str(path)
    assert "reductions of expected value burned" in capsys.readouterr().out
    with open(out / "per_landscape.csv") as f:
        assert {r["measure"] for r in csv.DictReader(f)} == {"expected value burned"}
    assert eval_main(["--landscapes", "synthetic", "--values", str(path), "--count", "1", "--out",
                      str(tmp_path / "x")]) == 2


# ----------------------------------------------------------------------------- checkpoints
def test_a_checkpoint_of_the_old_channels_is_refused_clearly(tmp_path):
    from qagent.agent.models import build_model
    from qagent.evaluation.methods import AgentPolicy
    from qagent.train.checkpoint import check_observation_channels, save_checkpoint

    kwargs = {"hidden": 8, "depth": 2}
    old = build_model("qnet", 13, **kwargs)
    for name, extra in (("recorded", {"in_channels": 13}), ("unrecorded", {})):
        path = tmp_path / f"{name}.pt"
        save_checkpoint(path, {"model": old.state_dict(), "model_name": "qnet", "model_kwargs": kwargs,
                               "grid_size": 16, "counters": {}, "config": {"cells_per_step": 3}, **extra})
        with pytest.raises(InputError, match="observation channel mismatch") as e:
            AgentPolicy.load(path)
        assert str(path) in str(e.value) and "13" in str(e.value)
        assert "adds downstream_protection, value_at_risk" in str(e.value)
    # what --resume checks too; a checkpoint of this version passes
    with pytest.raises(InputError, match="observation channel mismatch"):
        check_observation_channels({"in_channels": 13}, "last.pt")
    before_dpv = [c for c in OBSERVATION_CHANNELS if c != "downstream_protection"]  # 14 channels
    with pytest.raises(InputError, match="trained on 14 observation channels.*adds downstream_protection"):
        check_observation_channels({"in_channels": 14, "observation_channels": before_dpv}, "last.pt")
    check_observation_channels({"in_channels": NUM_CHANNELS, "observation_channels": list(OBSERVATION_CHANNELS)},
                               "last.pt")
    AgentPolicy.load(_save_agent(tmp_path / "new.pt", 0))


def test_train_flags_reach_the_configuration(tmp_path, capsys):
    from qagent.train.cli import main

    assert main(["--print-config", "--synthetic-values", "synthetic"]) == 0
    assert json.loads(capsys.readouterr().out)["synthetic_values"] == "synthetic"
    assert main(["--print-config", "--landscapes", str(tmp_path), "--values", "v.tif"]) == 0
    cfg = json.loads(capsys.readouterr().out)
    assert cfg["values"] == "v.tif" and cfg["synthetic_values"] is None
    assert main(["--print-config", "--values", "v.tif"]) == 2  # synthetic landscapes have no grid for it
    assert "values" in capsys.readouterr().err


def test_a_mixed_source_trains_with_the_synthetic_values_default_and_takes_the_flag():
    """landscapes 'synthetic+DIR' default to the training values mode of synthetic landscapes
    (mixed) and take --synthetic-values; a folder alone refuses a synthetic values mode. (The
    default once applied to 'synthetic' alone, so synthetic+DIR runs trained on ones.)"""
    from qagent.train.config import DEFAULT_TRAINING_SYNTHETIC_VALUES, build_config

    assert build_config(landscapes="synthetic+tiles/").synthetic_values == DEFAULT_TRAINING_SYNTHETIC_VALUES == "mixed"
    assert build_config(landscapes="synthetic+tiles/", synthetic_values="synthetic").synthetic_values == "synthetic"
    assert build_config(landscapes="synthetic+tiles/", synthetic_values="ones").synthetic_values == "ones"
    assert build_config(landscapes="tiles/").synthetic_values is None
    with pytest.raises(InputError, match="only applies to synthetic landscapes"):
        build_config(landscapes="tiles/", synthetic_values="synthetic")
