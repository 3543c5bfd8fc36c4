"""The trainer's validation: the episodes it measures policies on, and the policies.

Validation episodes are training landscapes (never evaluation ones) with fires fixed by
:func:`validation_seed_of`, the same in every round, in a non-autoresetting environment
(:func:`make_validation_env`). :func:`evaluate_policy` runs any ``policy(obs, valid) ->
actions`` on them; the greedy agent (:class:`GreedyPolicy`), DomiRank's one-shot ranking
(:class:`DomiRankPolicy`) and random placement (:class:`RandomPolicy`) are the three the
trainer reports. Every greedy choice goes through
``qagent.agent.policy.greedy_topk``.
"""

from __future__ import annotations

import functools

import numpy as np
import torch

from qagent.agent.policy import greedy_actions, greedy_topk, select_actions
from qagent.env.fuel_break_env import BatchedFuelBreakEnv, EnvConfig, StaticObservationCache
from qagent.fire.scenario import DEFAULT_SCENARIO
from qagent.train.config import TrainConfig


def env_config(cfg: TrainConfig) -> EnvConfig:
    """The episode settings of a training configuration."""
    return EnvConfig(cfg.budget_fraction, cfg.cells_per_step, cfg.ignitions, reward=cfg.reward)


def make_validation_env(cfg: TrainConfig, source, cache: StaticObservationCache, device) -> BatchedFuelBreakEnv:
    """The environment the trainer validates on (training landscapes; with ``validation_seed_of``,
    the same landscapes and fires every round)."""
    return BatchedFuelBreakEnv(source, min(cfg.eval_landscapes, cfg.num_envs), env_config(cfg), DEFAULT_SCENARIO,
                               device, autoreset=False, observation_cache=cache)


def validation_seed_of(cfg: TrainConfig) -> int:
    """The seed of a run's validation episodes."""
    return 10_000 + cfg.seed


def evaluate_policy(env: BatchedFuelBreakEnv, policy, episodes: int, seed: int) -> float:
    """Mean episode return (reduction of expected burned fraction, absolute or relative to the
    untreated one as the env's reward says, x100) of ``policy(obs, valid) -> actions`` over
    ``episodes`` complete episodes of a non-autoresetting env, reset with ``seed`` so that
    every call sees the same landscapes and fires."""
    returns: list[float] = []
    obs, info = env.reset(seed=seed)
    while True:
        done = np.zeros(env.num_envs, dtype=bool)
        while not done.all():
            obs, _, terminated, truncated, info = env.step(policy(obs, info["action_mask"]))
            done |= terminated | truncated
        returns.extend(env.episode_returns().tolist())
        if len(returns) >= episodes:
            return 100.0 * float(np.mean(returns[:episodes]))
        obs, info = env.reset()


class DomiRankScores:
    """DomiRank centrality (under the scenario's reference weather) of landscapes by id, as
    [N, H*W] scores on ``device`` for :func:`~qagent.agent.policy.greedy_topk`; recent
    landscapes are cached."""

    def __init__(self, source, device, cache_size: int = 256):
        from qagent.evaluation.baselines import domirank

        self.source, self.device, self.reference = source, device, DEFAULT_SCENARIO.reference_weather()
        self._domirank = domirank
        self._one = functools.lru_cache(maxsize=cache_size)(self._compute)

    def _compute(self, landscape_id: int) -> torch.Tensor:
        return self._domirank(self.source.landscape(landscape_id), self.reference).reshape(-1).to(self.device)

    def __call__(self, landscape_ids) -> torch.Tensor:
        return torch.stack([self._one(int(i)) for i in landscape_ids])


class DomiRankPolicy:
    """``policy(obs, valid)`` for :func:`evaluate_policy`: per environment of ``env``, the k
    valid cells of highest DomiRank on its landscape (one-shot ranking, as the warm start
    follows)."""

    def __init__(self, env: BatchedFuelBreakEnv, scores: DomiRankScores, k: int):
        self.env, self.scores, self.k = env, scores, k

    def __call__(self, obs, valid) -> torch.Tensor:
        return greedy_topk(self.scores(self.env.landscape_id), valid, self.k)


def domirank_policy(env: BatchedFuelBreakEnv, scores: DomiRankScores, k: int) -> DomiRankPolicy:
    return DomiRankPolicy(env, scores, k)


class RandomPolicy:
    """``policy(obs, valid)``: k random valid cells per environment, drawn from ``rng``."""

    def __init__(self, k: int, rng: np.random.Generator):
        self.k, self.rng = k, rng

    def __call__(self, obs, valid) -> np.ndarray:
        return select_actions(None, valid, self.k, 1.0, self.rng)


class GreedyPolicy:
    """``policy(obs, valid)``: the greedy agent, :func:`~qagent.agent.policy.greedy_actions`
    of ``model`` (a Q-network in eval mode, or any ``model(obs, valid [N, H, W]) -> Q``)."""

    def __init__(self, model, k: int):
        self.model, self.k = model, k

    def __call__(self, obs, valid) -> np.ndarray:
        return greedy_actions(self.model, obs, valid, self.k)
