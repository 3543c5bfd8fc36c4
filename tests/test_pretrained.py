"""Policy checkpoints (export_policy) and the default-agent locator (qagent.evaluation.pretrained)."""

from __future__ import annotations

import json

import pytest
import torch

from qagent._validation import InputError
from qagent.evaluation import pretrained
from qagent.evaluation.methods import AgentPolicy
from qagent.train.checkpoint import export_policy, load_checkpoint, save_checkpoint
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
