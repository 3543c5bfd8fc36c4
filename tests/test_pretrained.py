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
    assert json.loads((tmp_path / "plan" / "plan.json").read_text())["checkpoint"] == [str(shipped / "a.pt")]
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


def test_the_value_ensemble_serves_value_objectives(tmp_path, monkeypatch):
    """Without --checkpoint, sparse --values (qagent-plan, qagent-eval) or synthetic values
    (qagent-eval) choose the card's value_checkpoints; without values, with dense values, or on a
    card without them, checkpoints."""
    from qagent.evaluation.cli import _agent_checkpoints, eval_parser, plan_parser

    for name in ("a.pt", "b.pt"):
        export_policy(_save_agent(tmp_path / f"run_{name}", 0), tmp_path / name)
    monkeypatch.setattr(pretrained, "PRETRAINED_DIR", tmp_path)
    monkeypatch.setattr(pretrained, "DEFAULT_AGENT_CARD", tmp_path / "default_agent.json")
    (tmp_path / "default_agent.json").write_text(json.dumps({"checkpoints": ["a.pt"], "value_checkpoints": ["b.pt"]}))
    plan = ["--landfire", "lf", "--out", "o"]
    assert _agent_checkpoints(plan_parser().parse_args(plan)) == [str(tmp_path / "a.pt")]
    assert _agent_checkpoints(plan_parser().parse_args(plan + ["--values", "v.tif"])) == [str(tmp_path / "b.pt")]
    # sparse value (structures: 1.2 % of the burnable cells at a 5 % budget) the value ensemble,
    # dense value (habitat on 96 %) the area ensemble; the limit is twice the budget
    with_values = plan_parser().parse_args(plan + ["--values", "v.tif"])
    assert _agent_checkpoints(with_values, 0.012) == [str(tmp_path / "b.pt")]
    assert _agent_checkpoints(with_values, 0.96) == [str(tmp_path / "a.pt")]
    assert pretrained.wants_value_ensemble(0.10, 0.05) and not pretrained.wants_value_ensemble(0.11, 0.05)
    assert _agent_checkpoints(eval_parser().parse_args(["--synthetic-values", "synthetic"])) == [str(tmp_path / "b.pt")]
    assert _agent_checkpoints(eval_parser().parse_args(["--synthetic-values", "ones"])) == [str(tmp_path / "a.pt")]
    # synthetic habitat is dense (value on 60-100 % of the burnable cells): the area ensemble
    assert _agent_checkpoints(eval_parser().parse_args(["--synthetic-values", "habitat"])) == [str(tmp_path / "a.pt")]
    assert _agent_checkpoints(eval_parser().parse_args(["--synthetic-values", "mixed"])) == [str(tmp_path / "b.pt")]
    assert _agent_checkpoints(plan_parser().parse_args(plan + ["--checkpoint", "x.pt"])) == ["x.pt"]
    (tmp_path / "default_agent.json").write_text(json.dumps({"checkpoints": ["a.pt"]}))
    assert _agent_checkpoints(plan_parser().parse_args(plan + ["--values", "v.tif"])) == [str(tmp_path / "a.pt")]
