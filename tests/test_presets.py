"""Memory presets: the original's table, honest estimates, the automatic choice (the
original user's 3.68 GiB GPU must get a preset that fits), the allocator setting and the
listing that ``qagent-train --list-presets`` prints."""

from __future__ import annotations

import logging
import os

import pytest
import torch

from qagent._validation import InputError
from qagent.agent.models import count_parameters
from qagent.agent.replay import PrioritizedReplay, replay_bytes_per_transition
from qagent.env.observation import NUM_CHANNELS
from qagent.train import presets
from qagent.train.presets import (
    PRESETS,
    Preset,
    auto_preset,
    choose_auto_preset,
    configure_cuda_allocator,
    estimate_memory_bytes,
    format_presets_table,
    get_preset,
)

GiB = 2**30
ORIGINAL_USER_FREE = int(3.68 * GiB)


def test_presets_follow_the_original_table():
    table = {name: (p.micro_batch * p.accumulation_steps, p.num_envs, p.buffer_capacity, p.model) for name, p in PRESETS.items()}
    assert table["low"] == (16, 8, 50_000, "qnet")
    assert table["medium"] == (32, 16, 75_000, "enhanced_efficient")
    assert table["high"] == (64, 32, 100_000, "enhanced")
    demo = PRESETS["demo"]
    assert demo.grid_size[0] * demo.grid_size[1] <= 32 * 32 and demo.buffer_capacity <= 10_000
    assert list(PRESETS) == ["demo", "low", "medium", "high"]  # smallest first


def test_preset_validation_and_lookup():
    with pytest.raises(InputError, match="Preset.model"):
        Preset("x", 16, 1, 8, 1000, "resnet50")
    with pytest.raises(InputError, match="Preset.micro_batch"):
        Preset("x", 0, 1, 8, 1000, "qnet")
    with pytest.raises(InputError, match="unknown name 'huge'"):
        get_preset("huge")
    with pytest.raises(TypeError):
        PRESETS["demo"].model_kwargs["hidden"] = 8  # presets are shared: read-only


@pytest.mark.parametrize("name", list(PRESETS))
def test_estimate_terms(name):
    p = PRESETS[name]
    est = estimate_memory_bytes(p)
    n = count_parameters(p.build_model(presets.DEFAULT_IN_CHANNELS))
    assert est.num_parameters == n
    assert est.weights == 8 * n and est.optimizer_state == 12 * n
    h, w = p.grid_size
    replay = PrioritizedReplay(p.buffer_capacity, p.grid_size, presets.trainer_cells_per_action())
    assert est.replay_host_bytes == int(replay.bytes_per_transition() * p.buffer_capacity)
    assert est.observations == (2 * p.effective_batch + p.num_envs) * NUM_CHANNELS * h * w * 4
    assert est.gpu_bytes == est.weights + est.optimizer_state + est.activations + est.observations + est.simulation
    print(f"{name}: GPU {est.gpu_bytes / GiB:.3f} GiB, needs {est.required_free_bytes / GiB:.2f} GiB free, "
          f"replay {est.replay_host_bytes / 2**20:.1f} MiB")


class _StopAtReplay(Exception):
    pass


def _what_the_trainer_builds(name, tmp_path, monkeypatch):
    """Run ``qagent.train.dqn.train`` with ``name``'s settings up to its replay buffer and return
    the networks its Learner built (the build_model arguments and the modules) and the replay's
    (capacity, grid, cells per action)."""
    from qagent.train import dqn, learner
    from qagent.train.config import TrainConfig

    built, replays = [], []
    real_build = learner.build_model

    def recording_build(*args, **kwargs):
        net = real_build(*args, **kwargs)
        built.append((args, kwargs, net))
        return net

    def recording_replay(*args, **kwargs):
        replays.append((args, kwargs))
        raise _StopAtReplay

    monkeypatch.setattr(learner, "build_model", recording_build)
    monkeypatch.setattr(dqn, "PrioritizedReplay", recording_replay)
    monkeypatch.setattr(dqn, "UniformReplay", recording_replay)
    cfg = TrainConfig(preset=name, device="cpu", out=str(tmp_path)).resolved()
    with torch.random.fork_rng(devices=[]), pytest.raises(_StopAtReplay):
        dqn.train(cfg, progress=False)
    assert len(built) == 2 and built[0][:2] == built[1][:2]  # the online and the target network
    (replay_args, replay_kwargs), = replays
    assert not replay_kwargs
    return built[0], replay_args


@pytest.mark.parametrize("name", list(PRESETS))
def test_the_estimate_is_for_the_network_the_trainer_builds(name, tmp_path, monkeypatch):
    """--list-presets and --preset auto must size the run that ``qagent-train --preset NAME``
    starts: its network (model, channels, settings), grid and cells per action."""
    p = PRESETS[name]
    (args, kwargs, net), (capacity, grid, k) = _what_the_trainer_builds(name, tmp_path, monkeypatch)
    in_channels = args[1]
    est = estimate_memory_bytes(p)
    assert est.num_parameters == count_parameters(net)
    assert est.weights == 8 * count_parameters(net)
    assert count_parameters(p.build_model()) == count_parameters(net)
    assert tuple(grid) == p.grid_size and capacity == p.buffer_capacity
    h, w = grid
    assert est.observations == (2 * p.effective_batch + p.num_envs) * in_channels * h * w * 4
    assert est.replay_host_bytes == int(replay_bytes_per_transition(capacity, grid, k) * capacity)
    # activations: measured directly on the trainer's network at the preset's grid
    saved, largest = presets._measure_activations(net.train(), in_channels, h, batch=2)
    saved, largest = saved / 2, largest / 2
    expected = max(p.micro_batch * (saved + 2 * largest), p.num_envs * 3 * largest)
    assert est.activations == pytest.approx(expected, rel=0.02)


def test_estimates_grow_with_the_preset_and_the_grid():
    gpu = [estimate_memory_bytes(p).gpu_bytes for p in PRESETS.values()]
    assert gpu == sorted(gpu) and len(set(gpu)) == len(gpu)
    low = PRESETS["low"]
    small, big = estimate_memory_bytes(low, (50, 50)), estimate_memory_bytes(low, (100, 100))
    assert 3.5 < big.activations / small.activations < 4.5  # activations scale with the cells


@pytest.mark.parametrize("model, kwargs", [("qnet", ()), ("enhanced", ()), ("dueling", ())])
def test_activation_fit_predicts_a_direct_measurement(model, kwargs):
    """The a + b H W fit from 8 x 8 and 16 x 16 must predict what a forward pass at another
    size (odd, larger) actually saves."""
    _, saved, largest = presets._activation_profile(model, kwargs, NUM_CHANNELS)
    torch.manual_seed(0)
    from qagent.agent.models import build_model

    net = build_model(model, NUM_CHANNELS).train()
    measured_saved, measured_largest = presets._measure_activations(net, NUM_CHANNELS, 29, batch=3)
    cells = 29 * 29
    assert measured_saved / 3 == pytest.approx(saved[0] + saved[1] * cells, rel=0.02)
    assert measured_largest / 3 == pytest.approx(largest[0] + largest[1] * cells, rel=0.02)


def test_estimating_leaves_the_global_rng_alone():
    presets._activation_profile.cache_clear()
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    estimate_memory_bytes(PRESETS["medium"])
    torch.testing.assert_close(torch.rand(3), expected)


# ----------------------------------------------------------------------------- auto choice
def test_the_original_users_gpu_gets_a_preset_that_fits():
    chosen = choose_auto_preset(ORIGINAL_USER_FREE)
    assert chosen.name == "medium"  # what the original project recommended for this GPU
    assert estimate_memory_bytes(chosen).required_free_bytes <= ORIGINAL_USER_FREE
    assert estimate_memory_bytes(PRESETS["high"]).required_free_bytes > ORIGINAL_USER_FREE


@pytest.mark.parametrize("free_gib, expected", [(80, "high"), (8, "high"), (1.5, "low"), (1.1, "demo")])
def test_auto_choice_is_the_largest_fitting_preset(free_gib, expected):
    chosen = choose_auto_preset(int(free_gib * GiB))
    assert chosen.name == expected
    larger = list(PRESETS)[list(PRESETS).index(expected) + 1:]
    assert all(estimate_memory_bytes(PRESETS[n]).required_free_bytes > free_gib * GiB for n in larger)


def test_when_nothing_fits_the_smallest_preset_comes_with_a_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="qagent.train.presets"):
        assert choose_auto_preset(ORIGINAL_USER_FREE, grid_shape=(613, 549)).name == "demo"
    assert "no preset fits" in caplog.text


def test_auto_preset_on_cpu_is_demo():
    assert auto_preset("cpu").name == "demo"
    assert auto_preset(None).name == "demo"


# ----------------------------------------------------------------------------- allocator
def test_allocator_setting_is_made_only_when_the_user_did_not(monkeypatch):
    for var in presets.ALLOC_CONF_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: False)
    assert configure_cuda_allocator() is True
    assert os.environ["PYTORCH_CUDA_ALLOC_CONF"] == "expandable_segments:True"

    monkeypatch.setenv("PYTORCH_CUDA_ALLOC_CONF", "max_split_size_mb:128")
    assert configure_cuda_allocator() is False
    assert os.environ["PYTORCH_CUDA_ALLOC_CONF"] == "max_split_size_mb:128"

    monkeypatch.delenv("PYTORCH_CUDA_ALLOC_CONF")
    monkeypatch.setenv("PYTORCH_ALLOC_CONF", "expandable_segments:False")
    assert configure_cuda_allocator() is False
    assert "PYTORCH_CUDA_ALLOC_CONF" not in os.environ


def test_allocator_setting_warns_when_cuda_is_already_initialised(monkeypatch):
    for var in presets.ALLOC_CONF_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: True)
    with pytest.warns(RuntimeWarning, match="already initialised"):
        assert configure_cuda_allocator() is False
    assert "PYTORCH_CUDA_ALLOC_CONF" not in os.environ


# ----------------------------------------------------------------------------- listing
def test_presets_table_lists_every_preset_with_its_numbers():
    text = format_presets_table()
    print(text)
    lines = text.splitlines()
    assert lines[0].split()[:5] == ["preset", "batch", "envs", "buffer", "model"]
    rows = {line.split()[0]: line for line in lines[2:6]}
    assert list(rows) == ["demo", "low", "medium", "high"]
    assert "16 x 1" in rows["low"] and "50k" in rows["low"] and " qnet " in rows["low"]
    assert "32 x 1" in rows["medium"] and "75k" in rows["medium"] and "enhanced_efficient" in rows["medium"]
    assert "64 x 1" in rows["high"] and "100k" in rows["high"] and "50 x 50" in rows["high"]
    est = estimate_memory_bytes(PRESETS["high"])
    assert presets.format_bytes(est.gpu_bytes) in rows["high"]
    assert presets.format_bytes(est.required_free_bytes) in rows["high"]
    assert "auto picks" in text


def test_preset_auto_is_sized_for_the_grid_the_run_trains_on(monkeypatch):
    """--preset auto --grid-size N chooses from the estimates at N x N, not at each preset's own
    grid: on a card where 'high' fits at 50 x 50, a 256 x 256 run gets a smaller preset."""
    from qagent.train.config import build_config

    free = estimate_memory_bytes(PRESETS["high"]).required_free_bytes + GiB // 4
    seen = []

    def fake_auto(device, grid_shape=None, in_channels=presets.DEFAULT_IN_CHANNELS):
        seen.append(grid_shape)
        return choose_auto_preset(free, grid_shape, in_channels)

    monkeypatch.setattr(presets, "auto_preset", fake_auto)
    assert build_config(preset="auto", device="cpu").preset == "high"
    large = build_config(preset="auto", device="cpu", grid_size=256)
    assert seen == [None, (256, 256)] and large.preset != "high" and large.grid_size == 256
