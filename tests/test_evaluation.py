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
from qagent.env.observation import NUM_CHANNELS
from qagent.landscape import load_landfire, synthetic
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
    for method in ("random", "greedy_intensity", "burn_probability", "domirank", "agent"):
        assert int(place_breaks(method, ls, weather, n + 50, seed=0, agent=agent).sum()) == n


def test_the_agents_dpv_check_reranks_its_best_cells(checkpoint):
    """AgentPolicy.place with a second opinion: a constant score leaves the network's plan; a
    score is asked for RERANK_SCORINGS times at most, each time with the breaks placed so far
    closed; its cells come from the best-Q candidates. The agent method's second opinion is
    DPV from the placement fires: the plan is the network's checked by it, and it differs from
    agent_network's on this landscape."""
    from qagent.evaluation.methods import RERANK_SCORINGS

    agent = AgentPolicy.load(checkpoint)
    weather = DEFAULT_SCENARIO.reference_weather()
    ls = synthetic(24, 24, 3)
    budget = 3 * 12  # 12 rounds of the agent's k = 3
    alone = agent.place(ls, weather, budget)
    assert torch.equal(agent.place(ls, weather, budget, second_opinion=lambda closed: torch.zeros(ls.shape)), alone)
    asked = []

    def opinion(closed):
        asked.append(int(closed.sum()))
        return torch.rand(ls.shape, generator=torch.Generator().manual_seed(len(asked)))

    checked = agent.place(ls, weather, budget, second_opinion=opinion)
    assert int(checked.sum()) == budget and not bool((checked & ~ls.burnable_mask()).any())
    assert len(asked) <= RERANK_SCORINGS and asked[0] == 0 and asked == sorted(asked) and asked[-1] < budget
    for bad_option in ({"candidates_per_cell": 0}, {"candidates_per_cell": 2.5}, {"score_weight": -1.0},
                       {"score_weight": float("inf")}, {"score_weight": True}):
        name = next(iter(bad_option))
        with pytest.raises(InputError, match=name):
            agent.place(ls, weather, budget, second_opinion=opinion, **bad_option)
    for bad in (torch.zeros(3, 3), torch.full(ls.shape, float("nan"))):
        with pytest.raises(InputError, match="second_opinion: must give a finite score per cell"):
            agent.place(ls, weather, budget, second_opinion=lambda closed, bad=bad: bad)
    plan = place_breaks("agent", ls, weather, budget, seed=0, agent=agent, placement_ignitions=100)
    network = place_breaks("agent_network", ls, weather, budget, seed=0, agent=agent)
    assert torch.equal(network, alone) and int(plan.sum()) == budget and not torch.equal(plan, network)


def test_the_agent_chooses_the_candidate_plan_that_burns_least_on_its_selection_fires(checkpoint, tmp_path,
                                                                                      monkeypatch):
    """choose_agent_plan: the candidates are the ensemble's checked plan and its variants, each
    network's checked plan and DPV in rounds (with values also the burn-probability x value
    ranking); each is scored by the mean burned cells (value
    burned, with values) of its breaks on selection fires drawn with selection_fire_seed, and
    the least wins, the first of equals; the agent method is that choice, agent_checked the
    first candidate."""
    from qagent.evaluation import methods
    from qagent.fire.spread import simulate

    other = _save_agent(tmp_path / "other.pt", 1)
    ensemble = AgentPolicy.load([checkpoint, other])
    weather = DEFAULT_SCENARIO.reference_weather()
    ls = synthetic(24, 24, 3)
    budget = 3 * 6
    r = methods.placement_request(ls, weather, budget, 5, ensemble, placement_ignitions=60)
    plans = methods.agent_candidate_plans(r)
    assert list(plans) == [*methods.ENSEMBLE_VARIANTS, "network_0", "network_1", "dpv_rounds"]
    assert plans["ensemble"][1] == ensemble.checkpoints and plans["network_1"][1] == [str(other)]
    assert plans["dpv_rounds"][1] == [] and torch.equal(plans["dpv_rounds"][0], methods._dpv_rounds(r))
    assert torch.equal(plans["ensemble"][0], place_breaks("agent_checked", ls, weather, budget, 5, ensemble,
                                                         placement_ignitions=60))
    choice = methods.choose_agent_plan(r)
    assert list(choice.selection_loss) == list(plans) and choice.selection_fires == 60
    assert choice.ensemble == ensemble.checkpoints
    assert methods.selection_fire_seed(5) not in (methods.placement_fire_seed(5), methods.bootstrap_seed(5))
    fires = DEFAULT_SCENARIO.draw(ls, 60, np.random.default_rng(methods.selection_fire_seed(5)))
    for name, (breaks, _) in plans.items():
        assert int(breaks.sum()) == budget and not bool((breaks & ~ls.burnable_mask()).any()), name
        burned = simulate(ls, fires.ignitions, fires.weather, torch.from_numpy(fires.duration_min), fuel_breaks=breaks)
        assert choice.selection_loss[name] == pytest.approx(burned.burned_cells.double().mean().item()), name
    assert choice.selection_loss[choice.chosen] == min(choice.selection_loss.values())
    assert torch.equal(choice.breaks, plans[choice.chosen][0]) and choice.checkpoints == plans[choice.chosen][1]
    assert torch.equal(place_breaks("agent", ls, weather, budget, 5, ensemble, placement_ignitions=60), choice.breaks)
    # one network: no per-network candidates
    one_network = AgentPolicy.load(checkpoint)
    single = methods.agent_candidate_plans(methods.placement_request(ls, weather, budget, 5, one_network,
                                                                     placement_ignitions=60))
    assert list(single) == [*methods.ENSEMBLE_VARIANTS, "dpv_rounds"]
    # with values the loss is the value burned; a plan that burns less wins wherever it stands,
    # and of equal plans the first
    values = np.zeros(ls.shape, np.float32)
    values[:, :12] = 3.0
    rv = methods.placement_request(ls, weather, budget, 5, ensemble, placement_ignitions=60, values=values)
    # and the risk ranking's plan (burn probability x value) is a candidate too, last
    valued = methods.agent_candidate_plans(methods.placement_request(ls, weather, budget, 5, one_network,
                                                                     placement_ignitions=60, values=values))
    assert list(valued) == [*methods.ENSEMBLE_VARIANTS, "dpv_rounds", "burn_probability"]
    assert valued["burn_probability"][1] == [] and torch.equal(valued["burn_probability"][0],
                                                               methods._burn_probability(rv))
    none = torch.zeros(ls.shape, dtype=torch.bool)
    dpv = methods._dpv(rv)
    monkeypatch.setattr(methods, "agent_candidate_plans",
                        lambda r: {"nothing": (none, []), "dpv": (dpv, []), "dpv again": (dpv, [])})
    choice = methods.choose_agent_plan(rv)
    assert choice.chosen == "dpv" and torch.equal(choice.breaks, dpv)
    burned = simulate(ls, fires.ignitions, fires.weather, torch.from_numpy(fires.duration_min), fuel_breaks=dpv,
                      values=values)
    assert choice.selection_loss["dpv"] == pytest.approx(burned.burned_value.double().mean().item())
    assert choice.selection_loss["dpv"] < choice.selection_loss["nothing"]


def test_the_registry_drives_the_command_lines_and_the_figures():
    from qagent.evaluation import figures
    from qagent.evaluation.cli import eval_parser, plan_parser
    from qagent.evaluation.methods import HEURISTICS, REGISTRY

    assert METHODS == tuple(REGISTRY) and {"burn_probability", "dpv", "dpv_rounds"} <= set(METHODS)
    assert HEURISTICS == tuple(m for m in METHODS if not REGISTRY[m].needs_agent)
    assert {"agent", "agent_network"} <= set(METHODS) - set(HEURISTICS)
    actions = {a.dest: a for a in eval_parser()._actions}
    assert tuple(actions["methods"].choices) == METHODS
    actions = {a.dest: a for a in plan_parser()._actions}
    assert tuple(actions["compare"].choices) == HEURISTICS and actions["compare"].default == list(HEURISTICS)
    assert set(figures.METHOD_LABELS) == set(METHODS)
    assert figures.method_label("burn_probability") == "burn probability"


def test_burn_probability_ranks_on_its_own_fires_never_the_evaluation_fires(monkeypatch):
    """Run seeded 0 (the default): a naive placement seed 0 * c + 0 would give
    default_rng(0), which numpy makes the same generator as the evaluation's [0, 0]."""
    from qagent.evaluation import baselines
    from qagent.evaluation.methods import evaluation_rng, placement_fire_seed, placement_seed
    from qagent.fire.spread import sample_ignitions

    def state(rng):
        return rng.bit_generator.state["state"]

    assert state(np.random.default_rng(0)) == state(evaluation_rng(0, 0))  # the pitfall
    seen = []
    real = baselines.burn_probability

    def spy(landscape, n, weather, duration, seed, *args, **kwargs):
        seen.append((landscape, n, weather, duration, seed))
        return real(landscape, n, weather, duration, seed, *args, **kwargs)

    monkeypatch.setattr(baselines, "burn_probability", spy)
    source = SyntheticSource((16, 16), "eval", count=3)
    rows, kept = evaluate(source, ["none", "burn_probability"], agent=None, budget_fraction=0.05, ignitions=40,
                          seed=0, max_landscapes=3, keep_breaks=3, placement_ignitions=37)
    assert len(seen) == 3 and {r.method for r in rows} == {"none", "burn_probability"}
    for lid, (ls, n, weather, duration, fire_seed) in enumerate(seen):
        assert n == 37  # --placement-ignitions
        assert fire_seed == placement_fire_seed(placement_seed(0, lid))
        evaluation = state(evaluation_rng(0, lid))
        # burn_probability_breaks draws ignitions from default_rng(s), weather from default_rng([s, 1])
        assert state(np.random.default_rng(fire_seed)) != evaluation
        assert state(np.random.default_rng([fire_seed, 1])) != evaluation
        assert state(np.random.default_rng(placement_seed(0, lid))) != evaluation  # random placement too
        for other in range(3):  # nor any other landscape's fires
            assert state(np.random.default_rng(fire_seed)) != state(evaluation_rng(0, other))
        ign = sample_ignitions(ls, n, fire_seed)
        assert not np.array_equal(ign.numpy(), kept[lid]["ignitions"][:n].numpy())
        assert not np.allclose(np.asarray(weather.wind_speed_10m)[:n],
                               np.asarray(kept[lid]["weather"].wind_speed_10m)[:n])
        assert not np.allclose(np.asarray(duration)[:n], kept[lid]["duration"][:n])


def test_agent_placement_refuses_bad_budgets_and_rounds(checkpoint):
    agent = AgentPolicy.load(checkpoint)
    ls, weather = synthetic(10, 10, 1), DEFAULT_SCENARIO.reference_weather()
    for bad in (-1, 2.5, True):
        with pytest.raises(InputError, match="budget_cells"):
            agent.place(ls, weather, bad)
    for bad in (0, -3, 1.5):
        with pytest.raises(InputError, match="cells_per_round"):
            agent.place(ls, weather, 6, cells_per_round=bad)
    assert int(agent.place(ls, weather, 6, cells_per_round=4).sum()) == 6


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


def test_the_agent_places_with_the_placement_reference_fires(checkpoint, monkeypatch):
    """AgentPolicy.place builds its observation with PLACEMENT_MIN_REFERENCE_FIRES reference
    fires (at least), not training's 64."""
    import qagent.evaluation.methods as methods_module
    from qagent.env.observation import PLACEMENT_MIN_REFERENCE_FIRES, static_channels

    seen = []

    def spy(*args, **kwargs):
        seen.append(kwargs.get("min_reference_fires"))
        return static_channels(*args, **kwargs)

    monkeypatch.setattr(methods_module, "static_channels", spy)
    agent = AgentPolicy.load(checkpoint)
    agent.place(synthetic(16, 16, 1), DEFAULT_SCENARIO.reference_weather(), 6)
    assert seen == [PLACEMENT_MIN_REFERENCE_FIRES] and PLACEMENT_MIN_REFERENCE_FIRES > 64


def test_summary_states_the_agents_advantage_in_points_and_the_placement_time():
    """agent_minus_method is the mean over landscapes of the agent's reduction minus the
    method's, computed by hand here, with a paired interval around it; placement seconds are
    the mean per landscape; the printed table shows both."""
    from qagent.evaluation.evaluate import LandscapeResult, format_table

    none = [0.10, 0.20, 0.40, 0.05]
    agent = [0.05, 0.12, 0.30, 0.04]   # reductions 0.5, 0.4, 0.25, 0.2
    dpv = [0.06, 0.15, 0.20, 0.045]    # reductions 0.4, 0.25, 0.5, 0.1
    rows = [LandscapeResult(i, m, 5, f[i], t) for m, f, t in (("none", none, 0.0), ("agent", agent, 1.0),
                                                              ("dpv", dpv, 3.0)) for i in range(4)]
    summary = summarize(rows, ["none", "agent", "dpv"], seed=1)
    v = summary["methods"]["dpv"]
    assert v["agent_minus_method"] == pytest.approx(np.mean([0.1, 0.15, -0.25, 0.1]))
    low, high = v["agent_minus_method_ci95"]
    assert low <= v["agent_minus_method"] <= high and low < 0 < high  # one landscape goes the other way
    assert v["mean_placement_s"] == 3.0 and summary["methods"]["agent"]["mean_placement_s"] == 1.0
    assert "agent_minus_method" not in summary["methods"]["agent"]
    table = format_table(summary)
    assert "+2.5 (" in table.splitlines()[2] and "3.000 s" in table.splitlines()[2]


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
    from qagent.env.observation import static_channels, with_fuel_breaks

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
                      "--ignitions", "20", "--placement-ignitions", "100", "--out", str(tmp_path)]) == 0
    from qagent.evaluation.methods import HEURISTICS

    report = json.loads((tmp_path / "plan.json").read_text())  # every heuristic runs at whole-raster scale
    assert list(report["methods"]) == ["agent", *HEURISTICS]
    assert all(v["breaks"] == report["budget_cells"] for m, v in report["methods"].items() if m != "none")
    with rasterio.open(next(WORCESTER.glob("*Elev*.tif"))) as ref, rasterio.open(tmp_path / "fuel_breaks.tif") as out:
        assert (out.height, out.width) == (ref.height, ref.width) == (613, 549)
        assert out.transform == ref.transform and out.crs == ref.crs


# ------------------------------------------------------------------ uncertainty of qagent-plan
def test_bootstrap_pairs_each_fires_before_and_after():
    from qagent.evaluation.evaluate import paired_bootstrap_reduction

    rng = np.random.default_rng(0)
    before = rng.lognormal(3.0, 1.5, 500)  # fires differ a lot in size ...
    u = paired_bootstrap_reduction(before, before * 0.6)  # ... but every one shrinks by 40 %
    assert u["relative_reduction"] == pytest.approx(0.4)
    assert u["ci95"] == pytest.approx([0.4, 0.4]) and u["warning"] is None  # unpaired: tens of points wide


def test_bootstrap_interval_and_fires_needed_follow_the_observed_variance():
    from qagent.evaluation.evaluate import paired_bootstrap_reduction

    def fires(n, seed):
        rng = np.random.default_rng(seed)
        before = rng.lognormal(3.0, 1.0, n)
        return before, before * rng.uniform(0.2, 1.0, n)  # each fire's own reduction

    b, a = fires(200, 1)
    u = paired_bootstrap_reduction(b, a, seed=0)
    assert u["fires"] == 200 and u["ci95"][0] < u["relative_reduction"] < u["ci95"][1]
    # the delta-method standard error of a ratio of means, from the observed variance
    r = 1 - a.sum() / b.sum()
    se = np.std(a - (1 - r) * b, ddof=1) / np.sqrt(len(b)) / b.mean()
    assert u["half_width"] == pytest.approx(1.96 * se, rel=0.15)
    assert u["half_width"] > 0.02
    needed = u["fires_needed"]
    assert needed == int(np.ceil(200 * (u["half_width"] / 0.02) ** 2))
    assert u["warning"] == (f"200 fires give +-{100 * u['half_width']:.1f} %; about {needed} needed for +-2 % "
                            f"(--ignitions {needed})")
    # that many fires do give about +-2 %, and no warning when the target is met
    more = paired_bootstrap_reduction(*fires(needed, 2), seed=0)
    assert more["half_width"] == pytest.approx(0.02, rel=0.15)
    bigger = paired_bootstrap_reduction(*fires(2 * needed, 3), seed=0)
    assert bigger["half_width"] < 0.02 and bigger["warning"] is None


def test_bootstrap_edge_cases():
    from qagent.evaluation.evaluate import paired_bootstrap_reduction

    u = paired_bootstrap_reduction(np.zeros(10), np.zeros(10))
    assert u["relative_reduction"] is None and u["ci95"] is None and "undefined" in u["warning"]
    u = paired_bootstrap_reduction([10.0], [5.0])
    assert u["relative_reduction"] == 0.5 and u["ci95"] is None and "1 fire cannot say" in u["warning"]
    with pytest.raises(InputError, match="the same fires"):
        paired_bootstrap_reduction(np.ones(5), np.ones(4))


def test_plan_reports_its_uncertainty_and_describes_its_geotiffs(checkpoint, tmp_path, capsys):
    rasterio = pytest.importorskip("rasterio")
    from rasterio.transform import from_origin

    write_landfire_folder(tmp_path / "lf", synthetic(37, 45, seed=5), from_origin(1_700_000.0, 2_600_000.0, 30, 30),
                          "EPSG:5070")
    out = tmp_path / "plan"
    assert plan_main(["--checkpoint", str(checkpoint), "--landfire", str(tmp_path / "lf"), "--ignitions", "30",
                      "--out", str(out)]) == 0
    printed = capsys.readouterr()
    report = json.loads((out / "plan.json").read_text())
    lo, hi = report["relative_reduction_ci95"]
    assert lo <= report["relative_reduction"] <= hi
    assert report["relative_reduction_ci95_half_width"] == pytest.approx((hi - lo) / 2)
    assert f"95 % CI {100 * lo:.1f}-{100 * hi:.1f} %" in printed.out
    # 30 fires on a small landscape are far from +-2 %: warned, with the number needed
    needed = report["uncertainty"]["fires_needed_for_target"]
    assert needed > 30 and report["warning"].startswith("30 fires give +-")
    assert f"about {needed} needed for +-2 %" in report["warning"]
    assert f"qagent-plan: warning: {report['warning']}" in printed.err
    expected = {"fuel_breaks.tif": "fuel breaks (1 = treated cell)",
                "burn_probability_before.tif": "burn probability per fire before treatment",
                "burn_probability_after.tif": "burn probability per fire after treatment"}
    for name, description in expected.items():
        with rasterio.open(out / name) as src:
            assert src.descriptions == (description,)
            assert src.units[0] and src.units[0] == report["geotiffs"][name]["units"]


def test_plan_reads_the_fuel_product_asked_for(checkpoint, tmp_path, capsys):
    import rasterio
    from rasterio.transform import from_origin

    folder = tmp_path / "lf"
    write_landfire_folder(folder, synthetic(20, 24, seed=2), from_origin(1_700_000.0, 2_600_000.0, 30, 30),
                          "EPSG:5070")
    with rasterio.open(folder / "LC22_F40_230.tif") as src:
        profile = src.profile
    with rasterio.open(folder / "LC22_F13_230.tif", "w", **profile) as dst:  # Anderson 13: all urban
        dst.write(np.full((20, 24), 91, np.int16), 1)
    assert plan_main(["--checkpoint", str(checkpoint), "--landfire", str(folder), "--ignitions", "8",
                      "--out", str(tmp_path / "a")]) == 0
    assert json.loads((tmp_path / "a" / "plan.json").read_text())["fuel"] == "F40"
    capsys.readouterr()
    assert plan_main(["--checkpoint", str(checkpoint), "--landfire", str(folder), "--fuel", "F13",
                      "--ignitions", "8", "--out", str(tmp_path / "b")]) == 2
    assert "no burnable cell" in capsys.readouterr().err


def test_eval_reads_the_fuel_product_of_a_landfire_folder(tmp_path, capsys):
    import rasterio
    from rasterio.transform import from_origin

    folder = tmp_path / "lf"
    ls = synthetic(40, 60, seed=4)
    write_landfire_folder(folder, ls, from_origin(1_700_000.0, 2_600_000.0, 30, 30), "EPSG:5070")
    with rasterio.open(folder / "LC22_F40_230.tif") as src:
        profile = src.profile
    with rasterio.open(folder / "LC22_F13_230.tif", "w", **profile) as dst:  # Anderson 13: short grass
        dst.write(np.where(ls.burnable_mask().numpy(), 1, 91).astype(np.int16), 1)
    from qagent.env.sources import make_source

    f13 = make_source(str(folder), 16, "all", fuel="F13")
    assert set(torch.unique(f13.landscape(0).fuel_model).tolist()) <= {1, 91}
    f40 = make_source(str(folder), 16, "all")
    assert torch.equal(f40.landscape(0).fuel_model, ls.fuel_model[:16, :16].int())
    argv = ["--landscapes", str(folder), "--grid-size", "16", "--split", "all", "--ignitions", "4", "--figures", "0",
            "--methods", "none", "random"]
    assert eval_main(argv + ["--fuel", "F13", "--out", str(tmp_path / "e")]) == 0
    assert json.loads((tmp_path / "e" / "summary.json").read_text())["fuel"] == "F13"
    capsys.readouterr()
    assert eval_main(["--fuel", "F13", "--count", "1", "--methods", "none", "random",
                      "--out", str(tmp_path / "s")]) == 2  # synthetic
    assert "F13 only applies to a folder of LANDFIRE GeoTIFFs" in capsys.readouterr().err


def test_eval_figures_title_each_method_with_its_reduction(checkpoint, tmp_path, monkeypatch):
    import csv

    from qagent.evaluation import figures

    drawn = []
    real = figures.evaluation_figure

    def spy(*args, **kwargs):
        fig = real(*args, **kwargs)
        drawn.append([ax.get_title() for ax in fig.axes])
        return fig

    monkeypatch.setattr(figures, "evaluation_figure", spy)
    assert eval_main(["--checkpoint", str(checkpoint), "--count", "1", "--ignitions", "16", "--figures", "1",
                      "--out", str(tmp_path)]) == 0
    with open(tmp_path / "per_landscape.csv") as f:
        burned = {r["method"]: float(r["expected_burned_fraction"]) for r in csv.DictReader(f)}
    import re

    (titles,) = drawn
    for method, label in (("random", "random"), ("domirank", "DomiRank"), ("greedy_intensity", "greedy intensity"),
                          ("agent", "agent")):
        title = next(t for t in titles if t.startswith(f"{label}: "))
        shown = float(re.fullmatch(rf"{label}: ([-+]\d+\.\d) % burned area", title).group(1))
        assert shown == pytest.approx(-100 * (1 - burned[method] / burned["none"]), abs=0.051), (method, title)


# ------------------------------------------------------------- qagent-plan compares before it recommends
def _small_landfire(tmp_path):
    from rasterio.transform import from_origin

    folder = tmp_path / "lf"
    write_landfire_folder(folder, synthetic(37, 45, seed=5), from_origin(1_700_000.0, 2_600_000.0, 30, 30),
                          "EPSG:5070")
    return folder


def test_plan_compares_every_heuristic_on_the_same_fires(checkpoint, tmp_path, monkeypatch):
    pytest.importorskip("rasterio")
    import csv
    import re

    from qagent.evaluation import figures
    from qagent.evaluation.methods import HEURISTICS

    drawn = []
    real = figures.comparison_figure

    def spy(*args, **kwargs):
        fig = real(*args, **kwargs)
        drawn.append([ax.get_title() for ax in fig.axes])
        return fig

    monkeypatch.setattr(figures, "comparison_figure", spy)
    out = tmp_path / "plan"
    assert plan_main(["--checkpoint", str(checkpoint), "--landfire", str(_small_landfire(tmp_path)), "--ignitions", "60",
                      "--placement-ignitions", "50", "--out", str(out)]) == 0
    report = json.loads((out / "plan.json").read_text())
    methods = report["methods"]
    assert list(methods) == ["agent", *HEURISTICS] and report["compared"] == list(HEURISTICS)
    assert report["placement_ignitions"] == 50 and "default_rng([seed, 0])" in report["seeds"]
    assert methods["agent"]["relative_reduction"] == report["relative_reduction"]
    assert methods["agent"]["ci95"] == report["relative_reduction_ci95"]
    before = report["expected_burned_cells_before"]
    assert methods["none"]["expected_burned_cells"] == before and methods["none"]["ci95"] == [0.0, 0.0]
    for name, v in methods.items():
        lo, hi = v["ci95"]
        assert lo <= v["relative_reduction"] <= hi, name
        assert v["breaks"] == (0 if name == "none" else report["budget_cells"]), name
        assert v["placement_s"] >= 0.0 and v["expected_burned_cells"] <= before, name
        if name != "agent":  # agent - method, with the paired interval of the difference
            d = v["agent_minus_method"]
            assert d == pytest.approx(report["relative_reduction"] - v["relative_reduction"])
            assert v["agent_minus_method_ci95"][0] <= d <= v["agent_minus_method_ci95"][1]
            assert v["agent_better"] == (None if d == 0 else d > 0)  # equal plans: level
            assert (name in report["agent_loses_to"]) == (d < 0)
    with open(out / "comparison.csv") as f:
        rows = {r["method"]: r for r in csv.DictReader(f)}
    assert list(rows) == list(methods)
    for name, r in rows.items():
        assert float(r["relative_reduction"]) == pytest.approx(methods[name]["relative_reduction"])
        assert [float(r["ci95_low"]), float(r["ci95_high"])] == pytest.approx(methods[name]["ci95"])
        assert float(r["placement_s"]) == pytest.approx(methods[name]["placement_s"])
    assert (out / "comparison.png").is_file() and (out / "fuel_breaks.tif").is_file()
    (titles,) = drawn
    assert titles[0] == "fuels" and len([t for t in titles if t]) == len(methods)  # "none" has no breaks to draw
    for name, v in methods.items():
        if name == "none":
            continue
        label = figures.method_label(name)
        first, second = next(t for t in titles if t.startswith(f"{label}: ")).split("\n")
        shown = float(re.fullmatch(rf"{label}: ([-+]\d+\.\d) % burned area", first).group(1))
        assert shown == pytest.approx(-100 * v["relative_reduction"], abs=0.051), name
        assert second.startswith(f"{report['budget_cells']} breaks, 95 % CI ") and "placed in" in second


def test_plan_records_the_agents_choice_and_one_plan_skips_it(checkpoint, tmp_path):
    """qagent-plan's plan.json: ``agent_choice`` lists every candidate's loss on the selection
    fires and the chosen one has the least; with --one-plan the plan is the ensemble's checked
    plan (the agent_checked method's breaks) and ``agent_choice`` is null."""
    pytest.importorskip("rasterio")
    import rasterio

    from qagent.evaluation import methods

    folder = _small_landfire(tmp_path)
    argv = ["--checkpoint", str(checkpoint), "--landfire", str(folder), "--ignitions", "20",
            "--placement-ignitions", "30", "--compare", "none"]
    assert plan_main(argv + ["--out", str(tmp_path / "choice")]) == 0
    choice = json.loads((tmp_path / "choice" / "plan.json").read_text())["agent_choice"]
    loss = choice["candidates_mean_loss_on_selection_fires"]
    assert list(loss) == [*methods.ENSEMBLE_VARIANTS, "dpv_rounds"] and choice["selection_fires"] == 30
    assert loss[choice["chosen"]] == min(loss.values()) and choice["ensemble"] == [str(checkpoint)]
    assert plan_main(argv + ["--one-plan", "--out", str(tmp_path / "one")]) == 0
    report = json.loads((tmp_path / "one" / "plan.json").read_text())
    assert report["agent_choice"] is None and report["checkpoint"] == [str(checkpoint)]
    ls = load_landfire(folder)
    budget = report["budget_cells"]
    expected = place_breaks("agent_checked", ls, DEFAULT_SCENARIO.reference_weather(), budget,
                            methods.placement_seed(0, 0), AgentPolicy.load(checkpoint), report["cells_per_round"],
                            placement_ignitions=30)
    with rasterio.open(tmp_path / "one" / "fuel_breaks.tif") as src:
        assert np.array_equal(src.read(1) == 1, expected.numpy())


def test_plan_says_plainly_when_the_agent_loses_to_a_heuristic(checkpoint, tmp_path, monkeypatch, capsys):
    pytest.importorskip("rasterio")
    from qagent.evaluation import baselines, methods

    def useless(self, landscape, weather, budget_cells, cells_per_round=None, existing_breaks=None, **_):
        """The budget on the burnable cells of LOWEST head-fire intensity: where fire is weakest."""
        from qagent.fire.behavior import behavior

        score = -behavior(landscape, weather).fireline_intensity.double().numpy()
        eligible = landscape.burnable_mask().numpy()
        return baselines._as_mask(baselines._pick(score, eligible, budget_cells), landscape)

    monkeypatch.setattr(AgentPolicy, "place", useless)
    # the useless plan its only candidate (its choice would otherwise take DPV in rounds)
    monkeypatch.setattr(methods, "agent_candidate_plans", lambda r: {"ensemble": (methods._agent_checked(r), [])})
    out = tmp_path / "plan"
    assert plan_main(["--checkpoint", str(checkpoint), "--landfire", str(_small_landfire(tmp_path)), "--ignitions", "60",
                      "--placement-ignitions", "50", "--out", str(out)]) == 0
    printed = capsys.readouterr()
    report = json.loads((out / "plan.json").read_text())
    agent = report["relative_reduction"]
    losers = [m for m, v in report["methods"].items() if m != "agent" and v["relative_reduction"] > agent]
    assert "burn_probability" in losers and report["agent_loses_to"] == losers
    for name, v in report["methods"].items():
        message = f"the agent's plan ({100 * agent:.1f} %) is worse than {name} ({100 * v['relative_reduction']:.1f} %)"
        said = [w for w in report["warnings"] if w.startswith(message)]
        assert len(said) == (name in losers), name
        assert (f"qagent-plan: warning: {message}" in printed.err) == (name in losers), name
        if name in losers:
            assert f"agent WORSE by {100 * -v['agent_minus_method']:.1f} points" in printed.out
            assert v["agent_verdict"].startswith("WORSE")


def test_agent_verdict_wording():
    from qagent.evaluation.evaluate import agent_verdict

    agent = {"relative_reduction": 0.10, "ci95": [0.08, 0.12]}
    worse = {"relative_reduction": 0.20, "ci95": [0.17, 0.23], "reference_minus": -0.10,
             "reference_minus_ci95": [-0.13, -0.07]}
    v = agent_verdict(agent, worse, "burn_probability")
    assert v["agent_better"] is False and v["intervals_apart"] and v["difference_significant"]
    assert v["warning"] == ("the agent's plan (10.0 %) is worse than burn_probability (20.0 %) at reducing expected "
                            "burned area: 10.0 points less (agent - burn_probability, paired 95 % CI -13.0 to -7.0 "
                            "points); the two plans' 95 % intervals do not overlap")
    assert v["text"] == "WORSE by 10.0 points; intervals apart"
    close = {"relative_reduction": 0.11, "ci95": [0.09, 0.13], "reference_minus": -0.01,
             "reference_minus_ci95": [-0.03, 0.01]}
    v = agent_verdict(agent, close, "domirank")
    assert v["agent_better"] is False and not v["intervals_apart"] and not v["difference_significant"]
    assert "these fires cannot tell the two plans apart" in v["warning"] and "intervals overlap" in v["warning"]
    better = {"relative_reduction": 0.05, "ci95": [0.03, 0.07], "reference_minus": 0.05,
              "reference_minus_ci95": [0.03, 0.07]}
    v = agent_verdict(agent, better, "random")
    assert v["agent_better"] is True and v["warning"] is None and v["text"] == "better by 5.0 points; intervals apart"


def test_plan_compare_none_keeps_only_no_treatment(checkpoint, tmp_path):
    pytest.importorskip("rasterio")
    out = tmp_path / "plan"
    assert plan_main(["--checkpoint", str(checkpoint), "--landfire", str(_small_landfire(tmp_path)), "--ignitions", "20",
                      "--compare", "none", "--out", str(out)]) == 0
    report = json.loads((out / "plan.json").read_text())
    assert list(report["methods"]) == ["agent", "none"] and report["compared"] == ["none"]
    assert (out / "comparison.csv").read_text().count("\n") == 3


def test_agent_placement_refreshing_its_reference_channels_keeps_the_budget(checkpoint):
    agent = AgentPolicy.load(checkpoint)
    weather = DEFAULT_SCENARIO.reference_weather()
    ls = synthetic(40, 40, 3)
    burnable = ls.burnable_mask()
    budget = budget_cells(int(burnable.sum()), 0.05, agent.cells_per_step)
    once = agent.place(ls, weather, budget, cells_per_round=agent.cells_per_step)
    # more rounds than the refresh period: the channels are recomputed with the breaks so far
    every = agent.place(ls, weather, budget, cells_per_round=agent.cells_per_step, refresh_rounds=1)
    for breaks in (once, every):
        assert int(breaks.sum()) == budget and not bool((breaks & ~burnable).any())
    # the first round reads the same observation either way
    first = agent.place(ls, weather, agent.cells_per_step, cells_per_round=agent.cells_per_step, refresh_rounds=1)
    assert torch.equal(first, agent.place(ls, weather, agent.cells_per_step, cells_per_round=agent.cells_per_step))
    for bad in (0, -1, 1.5, True):
        with pytest.raises(InputError, match="refresh_rounds: must be an integer >= 1"):
            agent.place(ls, weather, budget, refresh_rounds=bad)
