"""Policy checkpoints (export_policy) and the default-agent locator (qagent.evaluation.pretrained)."""

from __future__ import annotations

import json

import pytest
import torch

from qagent._validation import InputError
from qagent.evaluation import pretrained
from qagent.evaluation.methods import AgentPolicy
from qagent.train.checkpoint import export_policy, load_checkpoint, save_checkpoint
from test_draws import landfire  # noqa: F401  (the LANDFIRE folder fixture)
from test_evaluation import _save_agent


def test_export_policy_keeps_the_network_and_drops_what_resumes_a_run(tmp_path):
    src = _save_agent(tmp_path / "best.pt", 3)
    state = load_checkpoint(src)
    state.update(target=state["model"], optimizer={"lr": 1.0}, replay={"obs": torch.zeros(200_000)})
    save_checkpoint(src, {k: v for k, v in state.items() if k not in ("format", "format_version")})
    out = export_policy(src, tmp_path / "policy.pt")
    slim = load_checkpoint(out)
    assert not {"target", "optimizer", "replay"} & set(slim)
    assert out.stat().st_size < src.stat().st_size / 10
    full, small = AgentPolicy.load(src), AgentPolicy.load(out)
    for a, b in zip(full.models[0].state_dict().values(), small.models[0].state_dict().values()):
        assert torch.equal(a, b)
    assert (full.cells_per_step, full.grid_size) == (small.cells_per_step, small.grid_size)


def test_default_agent_locator_names_what_is_missing(tmp_path, monkeypatch):
    monkeypatch.setattr(pretrained, "PRETRAINED_DIR", tmp_path)
    monkeypatch.setattr(pretrained, "DEFAULT_AGENT_CARD", tmp_path / "default_agent.json")
    with pytest.raises(InputError, match="missing from this installation; pass --checkpoint"):
        pretrained.default_agent_checkpoints()
    (tmp_path / "default_agent.json").write_text("{not json")
    with pytest.raises(InputError, match="cannot be read"):
        pretrained.default_agent_card()
    (tmp_path / "default_agent.json").write_text(json.dumps({"checkpoints": []}))
    with pytest.raises(InputError, match="lists no checkpoints"):
        pretrained.default_agent_card()
    (tmp_path / "default_agent.json").write_text(json.dumps({"checkpoints": ["a.pt"]}))
    with pytest.raises(InputError, match="a.pt missing"):
        pretrained.default_agent_checkpoints()
    export_policy(_save_agent(tmp_path / "run.pt", 0), tmp_path / "a.pt")
    paths = pretrained.default_agent_checkpoints()
    assert paths == [tmp_path / "a.pt"]
    assert AgentPolicy.load(paths).cells_per_step == 3


def test_eval_and_plan_use_the_default_agent_without_checkpoint(landfire, tmp_path, monkeypatch):
    """Without --checkpoint, qagent-eval (when 'agent' is among its methods) and qagent-plan load
    the checkpoints the default agent's card lists, and their reports name those files; a
    baselines-only evaluation loads no agent at all."""
    from qagent.evaluation.cli import eval_main, plan_main

    shipped = tmp_path / "pretrained"
    shipped.mkdir()
    export_policy(_save_agent(tmp_path / "run.pt", 0), shipped / "a.pt")
    (shipped / "default_agent.json").write_text(json.dumps({"checkpoints": ["a.pt"]}))
    monkeypatch.setattr(pretrained, "PRETRAINED_DIR", shipped)
    monkeypatch.setattr(pretrained, "DEFAULT_AGENT_CARD", shipped / "default_agent.json")
    assert eval_main(["--count", "1", "--ignitions", "8", "--grid-size", "16", "--figures", "0",
                      "--methods", "none", "agent", "--out", str(tmp_path / "ev")]) == 0
    meta = json.loads((tmp_path / "ev" / "summary.json").read_text())
    assert meta["checkpoint"] == [str(shipped / "a.pt")]
    folder = landfire[0]
    assert plan_main(["--landfire", str(folder), "--ignitions", "8", "--placement-ignitions", "8",
                      "--compare", "none", "--out", str(tmp_path / "plan")]) == 0
    report = json.loads((tmp_path / "plan" / "plan.json").read_text())
    assert report["agent_choice"]["ensemble"] == [str(shipped / "a.pt")]
    assert report["checkpoint"] == ([] if report["agent_choice"]["chosen"] == "dpv_rounds" else [str(shipped / "a.pt")])
    (shipped / "default_agent.json").unlink()
    assert eval_main(["--count", "1", "--ignitions", "8", "--grid-size", "16", "--figures", "0",
                      "--methods", "none", "random", "--out", str(tmp_path / "baselines")]) == 0
    assert json.loads((tmp_path / "baselines" / "summary.json").read_text())["checkpoint"] is None
    assert plan_main(["--landfire", str(folder), "--ignitions", "8", "--out", str(tmp_path / "none")]) == 2


def test_the_shipped_default_agent_loads_and_its_card_describes_it():
    """The installed default agent: its card says what it was trained on and how it was chosen,
    every member file is there with the checksum the card records, the members form one
    ensemble of this QAgent's observation channels, and it places a budget on a landscape."""
    import hashlib

    from qagent.env.observation import NUM_CHANNELS
    from qagent.fire.scenario import DEFAULT_SCENARIO
    from qagent.landscape.synthetic import synthetic

    card = pretrained.default_agent_card()
    assert card["trained_on"] and card["chosen_by"] and card["observation_channels"] == NUM_CHANNELS
    members = {m["file"]: m for m in card["members"]}
    for values, key in ((False, "checkpoints"), (True, "value_checkpoints")):
        paths = pretrained.default_agent_checkpoints(values=values)
        assert [p.name for p in paths] == card[key] == [m["file"] for m in card["members"] if m["ensemble"] == key]
        for path in paths:
            assert hashlib.sha256(path.read_bytes()).hexdigest() == members[path.name]["sha256"], path
            assert path.stat().st_size < 1_000_000  # policy checkpoints only
        agent = AgentPolicy.load(paths)
        assert len(agent.models) == len(paths) and agent.cells_per_step == 5
        ls = synthetic(24, 24, seed=3)
        breaks = agent.place(ls, DEFAULT_SCENARIO.reference_weather(), 10)
        assert int(breaks.sum()) == 10 and not bool((breaks & ~ls.burnable_mask()).any())
    assert set(card["checkpoints"]).isdisjoint(card["value_checkpoints"])


def _two_ensemble_card(tmp_path, monkeypatch):
    """A default agent card with area ensemble a.pt and value ensemble b.pt (untrained)."""
    for name in ("a.pt", "b.pt"):
        export_policy(_save_agent(tmp_path / f"run_{name}", 0), tmp_path / name)
    monkeypatch.setattr(pretrained, "PRETRAINED_DIR", tmp_path)
    monkeypatch.setattr(pretrained, "DEFAULT_AGENT_CARD", tmp_path / "default_agent.json")
    (tmp_path / "default_agent.json").write_text(json.dumps({"checkpoints": ["a.pt"], "value_checkpoints": ["b.pt"]}))
    return [str(tmp_path / "a.pt")], [str(tmp_path / "b.pt")]


def test_the_objective_of_each_placement_chooses_the_default_agents_ensemble(tmp_path, monkeypatch):
    """The default agent places with its value ensemble for sparse value (valued burnable cells
    at most twice the budget) and with its area ensemble without values, for every cell worth 1
    and for dense value; landscape by landscape, so a varied set of synthetic values gets each
    its own; a card without value ensemble always uses the area one."""
    import numpy as np

    from qagent.env.sources import SyntheticSource
    from qagent.evaluation.cli import _load_agent, plan_parser
    from qagent.landscape.synthetic import synthetic, synthetic_habitat, synthetic_values

    area, value = _two_ensemble_card(tmp_path, monkeypatch)
    agent = pretrained.load_default_agent()
    assert agent.checkpoints == area + value and agent.cells_per_step == 3
    ls = synthetic(40, 40, seed=3)
    burnable = ls.burnable_mask().numpy()
    budget = int(0.05 * burnable.sum())

    def chosen(values):
        return agent.policy_for(ls, budget, values).checkpoints

    assert chosen(None) == area
    assert chosen(np.ones(ls.shape, np.float32)) == area
    sparse = np.zeros(ls.shape, np.float32)
    sparse.flat[np.flatnonzero(burnable)[:2 * budget]] = 3.0  # exactly twice the budget: still sparse
    assert chosen(sparse) == value
    assert chosen(torch.from_numpy(sparse)) == value
    sparse.flat[np.flatnonzero(burnable)[2 * budget]] = 3.0
    assert chosen(sparse) == area
    assert chosen(synthetic_habitat(ls, seed=3)) == area
    assert chosen(synthetic_values(ls, seed=3)) == value
    assert pretrained.wants_value_ensemble(0.10, 0.05) and not pretrained.wants_value_ensemble(0.11, 0.05)
    # a whole raster's share, when set, decides for its tiles
    agent.valued_fraction = 0.01
    assert chosen(np.ones(ls.shape, np.float32)) == value
    agent.valued_fraction = None
    # --synthetic-values varied: ones, houses and habitat by seed, each its ensemble
    source = SyntheticSource((32, 32), split="train", count=6, values="varied")
    kinds = set()
    for lid in range(6):
        kind = source.value_kind(lid)
        kinds.add(kind)
        got = agent.policy_for(source.landscape(lid), 51, source.values(lid)).checkpoints
        assert got == (value if kind == "houses" else area), (lid, kind)
    assert kinds == {"ones", "houses", "habitat"}
    # --checkpoint is the policy as given
    given = _load_agent(plan_parser().parse_args(["--landfire", "lf", "--out", "o", "--checkpoint", area[0]]))
    assert isinstance(given, AgentPolicy) and given.checkpoints == area
    (tmp_path / "default_agent.json").write_text(json.dumps({"checkpoints": ["a.pt"]}))
    alone = pretrained.load_default_agent()
    assert alone.checkpoints == area and alone.policy_for(ls, budget, sparse).checkpoints == area


def test_tiles_of_a_values_raster_choose_by_the_whole_raster(landfire, tmp_path, monkeypatch):
    """qagent-eval on tiles of a LANDFIRE folder with --values: the default agent chooses by the
    valued share of the whole raster's burnable cells (TileSource.valued_fraction), as
    qagent-plan does on the whole raster, whose plan.json names the ensemble that placed it."""
    import numpy as np
    from rasterio.transform import from_origin

    from qagent.env.sources import make_source
    from qagent.evaluation.cli import eval_main, plan_main
    from qagent.landscape.core import valued_fraction
    from qagent.landscape.landfire import load_landfire
    from test_draws import _write_density

    area, value = _two_ensemble_card(tmp_path, monkeypatch)
    folder = landfire[0]
    whole = load_landfire(folder)
    burnable = whole.burnable_mask().numpy()
    grid = np.zeros(whole.shape, np.float32)
    grid.flat[np.flatnonzero(burnable)[::40]] = 1.0  # 2.5 % of the burnable cells: sparse at 5 %
    path = _write_density(tmp_path / "values.tif", grid, from_origin(1_700_000.0, 2_600_000.0, 30.0, 30.0))
    source = make_source(str(folder), 16, "all", values=str(path))
    assert source.valued_fraction == valued_fraction(grid, whole) == (grid[burnable] > 0).mean()
    assert make_source(str(folder), 16, "all").valued_fraction is None
    # qagent-eval hands the whole raster's share to the default agent, which places every tile by it
    seen = []
    policy_for = pretrained.DefaultAgent.policy_for

    def recording_policy_for(self, *args, **kwargs):
        seen.append(self.valued_fraction)
        return policy_for(self, *args, **kwargs)

    monkeypatch.setattr(pretrained.DefaultAgent, "policy_for", recording_policy_for)
    assert eval_main(["--landscapes", str(folder), "--grid-size", "16", "--split", "all", "--count", "2",
                      "--values", str(path), "--ignitions", "4", "--figures", "0", "--methods", "none", "agent",
                      "--out", str(tmp_path / "ev")]) == 0
    assert seen and all(f == source.valued_fraction for f in seen)
    monkeypatch.setattr(pretrained.DefaultAgent, "policy_for", policy_for)
    assert plan_main(["--landfire", str(folder), "--values", str(path), "--ignitions", "8", "--placement-ignitions",
                      "8", "--compare", "none", "--out", str(tmp_path / "plan")]) == 0
    report = json.loads((tmp_path / "plan" / "plan.json").read_text())
    assert report["agent_choice"]["ensemble"] == value and set(report["checkpoint"]) <= set(value)
    assert plan_main(["--landfire", str(folder), "--ignitions", "8", "--placement-ignitions", "8",
                      "--compare", "none", "--out", str(tmp_path / "plan_area")]) == 0
    report = json.loads((tmp_path / "plan_area" / "plan.json").read_text())
    assert report["agent_choice"]["ensemble"] == area and set(report["checkpoint"]) <= set(area)
