"""Q-networks: shapes on any grid, gradient flow, the dueling aggregation over valid cells,
and activation checkpointing that changes memory but not results."""

from __future__ import annotations

import copy

import pytest
import torch

from qagent._validation import InputError
from qagent.agent.models import (
    MODEL_NAMES,
    ChannelAttention,
    DuelingQNet,
    EnhancedQNet,
    MultiScaleContext,
    QNet,
    SpatialAttention,
    build_model,
    count_parameters,
)

C = 10


def model(name: str, **kwargs) -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model(name, C, **kwargs)


@pytest.mark.parametrize("name", MODEL_NAMES)
@pytest.mark.parametrize("shape", [(50, 50), (37, 53), (7, 2), (1, 1)])
def test_output_is_one_q_value_per_cell(name, shape):
    net = model(name)
    obs = torch.rand(2, C, *shape)
    for train in (True, False):
        net.train(train)
        q = net(obs)
        assert q.shape == (2, *shape) and q.dtype == torch.float32
        assert torch.isfinite(q).all()


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_single_sample_on_a_1x1_grid_in_eval_mode(name):
    net = model(name).eval()
    assert net(torch.rand(1, C, 1, 1)).shape == (1, 1, 1)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_fully_convolutional_cells_see_only_their_neighbourhood_without_global_pooling(name):
    """A change far outside a cell's receptive field must not change its Q-value in models
    without global pooling; models with pooling (attention, dueling value) may change it."""
    net = model(name).eval()
    obs = torch.rand(1, C, 40, 90)
    changed = obs.clone()
    changed[..., 80:] = torch.rand(1, C, 40, 10)
    delta = (net(obs) - net(changed)).abs()[0, :, :20]
    pooled = name in ("enhanced", "dueling")
    assert (delta.max() > 0) == pooled


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_gradients_reach_every_parameter(name):
    net = model(name).train()
    obs = torch.rand(3, C, 12, 9)
    q = net(obs)
    (q * torch.randn_like(q)).sum().backward()
    for pname, p in net.named_parameters():
        assert p.grad is not None, pname
        assert torch.isfinite(p.grad).all(), pname
        assert p.grad.abs().sum() > 0, pname


def test_parameter_counts_are_modest():
    counts = {name: count_parameters(model(name)) for name in MODEL_NAMES}
    print("parameters at", C, "channels:", counts)
    assert 50_000 <= counts["qnet"] <= 150_000
    assert all(counts[n] < 1_500_000 for n in ("enhanced", "enhanced_efficient", "dueling"))
    assert counts["enhanced_efficient"] < counts["enhanced"]


def test_enhanced_efficient_is_residual_only():
    kinds = {type(m) for m in model("enhanced_efficient").modules()}
    assert not kinds & {ChannelAttention, SpatialAttention, MultiScaleContext}
    full = {type(m) for m in model("enhanced").modules()}
    assert {ChannelAttention, SpatialAttention, MultiScaleContext} <= full


def test_build_model_rejects_unknown_names_and_bad_inputs():
    with pytest.raises(InputError, match="unknown name 'transformer'"):
        build_model("transformer", C)
    with pytest.raises(InputError, match="hidden"):
        QNet(C, hidden=0)
    with pytest.raises(InputError, match="3 channels"):
        model("qnet")(torch.rand(1, 3, 5, 5))
    with pytest.raises(InputError, match=r"\[B, C, H, W\]"):
        model("qnet")(torch.rand(C, 5, 5))


# ----------------------------------------------------------------------------- dueling
def valid_mean(q: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    mask = mask.expand(q.shape).float()
    return (q * mask).sum(dim=(1, 2)) / mask.sum(dim=(1, 2))


def test_dueling_value_is_the_mean_q_over_valid_cells():
    """Q = V + A - mean_valid(A): the mean of Q over the valid cells is V whatever the mask,
    and masks only shift Q by a constant per sample."""
    net = model("dueling").eval()
    obs = torch.rand(3, C, 11, 13)
    g = torch.Generator().manual_seed(1)
    m1 = torch.rand(3, 11, 13, generator=g) < 0.3
    m2 = torch.rand(3, 11, 13, generator=g) < 0.8
    q_all, q1, q2 = net(obs), net(obs, m1), net(obs, m2)
    value = q_all.mean(dim=(1, 2))
    torch.testing.assert_close(valid_mean(q1, m1), value, atol=1e-5, rtol=0)
    torch.testing.assert_close(valid_mean(q2, m2), value, atol=1e-5, rtol=0)
    shift = q1 - q2
    torch.testing.assert_close(shift, shift[:, :1, :1].expand_as(shift), atol=1e-5, rtol=0)
    assert shift.abs().max() > 1e-4  # the masks differ, so the means differ


def test_dueling_shared_mask_and_empty_mask():
    net = model("dueling").eval()
    obs = torch.rand(2, C, 6, 5)
    mask = torch.rand(6, 5) < 0.5
    torch.testing.assert_close(net(obs, mask), net(obs, mask.expand(2, 6, 5)))
    empty = torch.zeros(2, 6, 5, dtype=torch.bool)
    assert torch.isfinite(net(obs, empty)).all()
    with pytest.raises(InputError, match="bool"):
        net(obs, mask.float())
    with pytest.raises(InputError, match="shape"):
        net(obs, torch.ones(5, 6, dtype=torch.bool))


def test_dueling_mask_changes_q_only_through_the_mean():
    """Masking is not action masking: invalid cells keep finite Q-values."""
    net = DuelingQNet(C, hidden=16, num_blocks=1).eval()
    obs = torch.rand(1, C, 4, 4)
    mask = torch.zeros(1, 4, 4, dtype=torch.bool)
    mask[0, 0, 0] = True
    with torch.no_grad():
        q, value = net(obs, mask), net(obs).mean()
    assert torch.isfinite(q).all()
    assert float(q[0, 0, 0]) == pytest.approx(float(value), abs=1e-5)


# ----------------------------------------------------------------------------- checkpointing
def saved_bytes(net: torch.nn.Module, obs: torch.Tensor) -> int:
    storages: dict[int, int] = {}

    def pack(t):
        storages[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = net(obs)
        total = sum(storages.values())
    del out
    return total


@pytest.mark.parametrize("train", [True, False])
def test_checkpointing_gives_identical_outputs_gradients_and_batchnorm_statistics(train):
    plain = EnhancedQNet(C, hidden=16, num_blocks=2)
    ckpt = copy.deepcopy(plain)
    ckpt.checkpoint_activations = True
    obs = torch.rand(2, C, 13, 17)
    weights = torch.randn(2, 13, 17)
    for net in (plain, ckpt):
        net.train(train)
        (net(obs) * weights).sum().backward()
    for (name, p), (_, pc) in zip(plain.named_parameters(), ckpt.named_parameters()):
        torch.testing.assert_close(pc.grad, p.grad, rtol=1e-5, atol=1e-6, msg=name)
    for (name, b), (_, bc) in zip(plain.named_buffers(), ckpt.named_buffers()):
        torch.testing.assert_close(bc, b, msg=name)  # running stats updated once, not twice
    plain.eval(), ckpt.eval()
    torch.testing.assert_close(ckpt(obs), plain(obs))


def test_checkpointing_stores_fewer_activations_and_only_while_training():
    net = EnhancedQNet(C, hidden=16, num_blocks=4, checkpoint_activations=True).train()
    obs = torch.rand(2, C, 20, 20)
    with_ckpt = saved_bytes(net, obs)
    net.checkpoint_activations = False
    without = saved_bytes(net, obs)
    assert with_ckpt < 0.5 * without
    net.eval()  # in eval mode (e.g. acting with gradients on) nothing is recomputed
    eval_plain = saved_bytes(net, obs)
    net.checkpoint_activations = True
    assert saved_bytes(net, obs) == eval_plain


def test_the_parameter_counts_in_the_models_docstring_are_true():
    import re

    import qagent.agent.models as models_module
    from qagent.agent.models import MODEL_NAMES, build_model, count_parameters
    from qagent.env.observation import NUM_CHANNELS

    doc = models_module.__doc__
    assert f"the agent's {NUM_CHANNELS} observation channels" in doc
    stated = {name: int(count.replace(",", ""))
              for name, count in re.findall(r'``"(\w+)"``.*?\(([\d,]+) parameters\)', doc, flags=re.S)}
    assert set(stated) == set(MODEL_NAMES)
    assert stated == {name: count_parameters(build_model(name, NUM_CHANNELS)) for name in MODEL_NAMES}
