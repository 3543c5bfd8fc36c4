"""The learner: the pure functions of the loss (the Double DQN target, DQfD's margin) and one
Learner update (its loss, TD errors, soft target update)."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from qagent.agent.replay import UniformReplay
from qagent.env import StaticObservationCache, SyntheticSource
from qagent.fire.scenario import DEFAULT_SCENARIO
from qagent.train.config import build_config
from qagent.train.learner import Learner, double_dqn_target, dqfd_margin


# ----------------------------------------------------------------------------- the loss
def test_double_dqn_target_values_the_online_networks_choice_with_the_target_network():
    online = torch.tensor([[1.0, 5.0, 3.0, 4.0]])
    target = torch.tensor([[10.0, 20.0, 30.0, 40.0]])
    valid = torch.tensor([[True, True, True, False]])
    reward, done = torch.tensor([0.5]), torch.tensor([0.0])
    # online top-2 of the valid cells: 1 and 2 -> the target network's mean there, 25
    assert double_dqn_target(online, target, valid, reward, done, 0.9, 2).item() == pytest.approx(0.5 + 0.9 * 25)
    assert double_dqn_target(online, target, valid, reward, torch.tensor([1.0]), 0.9, 2).item() == 0.5
    assert double_dqn_target(online, target, valid, reward, done, 0.0, 2).item() == 0.5  # gamma 0: the reward


def test_dqfd_margin_is_zero_once_the_demonstration_leads_by_the_margin():
    q_all = torch.tensor([[1.0, 1.0, 1.0, 1.0], [3.0, 3.0, 1.0, 1.0]])
    actions = torch.tensor([[0, 1], [0, 1]])
    valid = torch.ones(2, 4, dtype=torch.bool)
    q_action = q_all.gather(1, actions).mean(1)
    margin = dqfd_margin(q_all, q_action, actions, valid, 0.5, 2)
    # all equal: the best other cells score 1 + 0.5; leading by 2 > 0.5: nothing to push
    assert margin.tolist() == [pytest.approx(0.5), 0.0]


# ----------------------------------------------------------------------------- one update
def test_learner_update_is_the_huber_step_on_the_batch_with_a_soft_target_update():
    cfg = build_config(None, preset="demo", grid_size=8, cells_per_step=2, micro_batch=6, accumulation_steps=1,
                       device="cpu", steps=100, learning_starts=0, gamma=0.0, tau=0.25)
    source = SyntheticSource((8, 8))
    cache = StaticObservationCache(source, DEFAULT_SCENARIO, "cpu")
    torch.manual_seed(0)
    learner = Learner(cfg, torch.device("cpu"), cache)
    replay = UniformReplay(10, (8, 8), 2)
    rng = np.random.default_rng(0)
    for i in range(6):
        replay.add(i, np.zeros((8, 8), bool), rng.choice(64, 2, replace=False), float(rng.random()), False)
    batch = replay.sample(6, rng)
    before = copy.deepcopy(learner.model)
    target_before = copy.deepcopy(learner.target)
    obs = learner.to_device(batch).obs
    q = before.train()(obs, obs[:, 5] > 0.5).flatten(1).gather(1, torch.from_numpy(batch.action_cells).long()).mean(1)
    y = torch.from_numpy(batch.reward) * cfg.reward_scale
    loss, td = learner.update(batch)
    assert loss == pytest.approx(F.smooth_l1_loss(q, y).item(), rel=1e-5)
    torch.testing.assert_close(td, (q - y).detach())
    for p0, p, t0, t in zip(before.parameters(), learner.model.parameters(), target_before.parameters(),
                            learner.target.parameters()):
        assert not torch.equal(p0, p)  # the online network moved
        torch.testing.assert_close(t, t0 + 0.25 * (p - t0))  # and the target a quarter of the way to it
    assert learner.scheduler.last_epoch == 1
